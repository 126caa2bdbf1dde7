//! A fixed number of 64-byte messages through one transport, written and read by one thread
//! (never blocking), for instruction counts under callgrind: `callgrind.sh` runs it with two
//! counts and divides the difference, so set-up costs cancel out.
//!
//! `ops_loop npfs-byte|npfs-msg|unix-stream|unix-seqpacket N`
use std::os::unix::net::UnixStream;

const SIZE: usize = 64;

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_default();
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let data = [0x5au8; SIZE];
    let mut buf = [0u8; SIZE];
    match kind.as_str() {
        "npfs-byte" | "npfs-msg" => {
            let message = kind == "npfs-msg";
            let name = format!(r"\\.\pipe\ops-loop-{}", std::process::id());
            let server = npfs_bench::transport::npfs::server_options(message)
                .create(&name)
                .expect("CreateNamedPipe");
            let client = npfs::PipeClient::open_duplex(&name).expect("CreateFile");
            for _ in 0..n {
                client.write(&data).expect("WriteFile");
                let got = server.read(&mut buf).expect("ReadFile");
                assert_eq!(got.len, SIZE);
            }
        }
        "unix-stream" => {
            use std::io::{Read, Write};
            let (mut a, mut b) = UnixStream::pair().expect("socketpair");
            for _ in 0..n {
                a.write_all(&data).expect("write");
                b.read_exact(&mut buf).expect("read");
            }
        }
        "unix-seqpacket" => {
            use rustix::net::{recv, send, socketpair, AddressFamily, RecvFlags, SendFlags};
            use rustix::net::{SocketFlags, SocketType};
            let (a, b) = socketpair(
                AddressFamily::UNIX,
                SocketType::SEQPACKET,
                SocketFlags::CLOEXEC,
                None,
            )
            .expect("socketpair");
            for _ in 0..n {
                send(&a, &data, SendFlags::empty()).expect("send");
                let (got, _) = recv(&b, &mut buf, RecvFlags::empty()).expect("recv");
                assert_eq!(got, SIZE);
            }
        }
        other => {
            eprintln!("usage: ops_loop npfs-byte|npfs-msg|unix-stream|unix-seqpacket N ({other}?)");
            std::process::exit(2);
        }
    }
}
