//! Remote pipes over SMB (crate::remote), against the loopback smbd and NPA echo listener
//! that tests/smb/client.sh starts. Runs only there (`NPFS_TEST_SMB=1`, with NPFS_SMB_USER,
//! NPFS_SMB_PASSWORD and NPFS_SMB_PORT set); elsewhere each test returns at once.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use npfs::consts::PIPE_READMODE_MESSAGE;
use npfs::{call_named_pipe, wait_named_pipe, PipeClient, Win32Error};

const MSG: &str = r"\\127.0.0.1\pipe\npfsmsg";
const BYTE: &str = r"\\127.0.0.1\pipe\npfsbyte";

fn enabled() -> bool {
    let on = std::env::var("NPFS_TEST_SMB").as_deref() == Ok("1");
    if !on {
        eprintln!("skipped: run by tests/smb/client.sh (NPFS_TEST_SMB=1)");
    }
    on
}

/// Run `f` on a thread; fail the test if it takes longer than `secs`.
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        // The thread panicked: pass its panic on, with its message.
        Err(mpsc::RecvTimeoutError::Disconnected) => match t.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the thread sent nothing but ended"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("remote pipe operation timed out"),
    }
}

#[test]
fn transact_more_data_then_read_the_rest() {
    if !enabled() {
        return;
    }
    within(30, || {
        let c = PipeClient::open_duplex(MSG).unwrap();
        assert!(c.is_remote());
        assert_eq!(c.name(), MSG);
        c.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
        let request: Vec<u8> = (0..200u8).collect();
        let mut reply = [0u8; 64];
        let r = c.transact(&request, &mut reply).unwrap();
        assert!(
            r.more_data,
            "a 200-byte reply in 64 bytes is ERROR_MORE_DATA"
        );
        assert_eq!(&reply[..r.len], &request[..64]);
        let mut rest = [0u8; 1024];
        let r2 = c.read(&mut rest).unwrap();
        assert_eq!((r2.len, r2.more_data), (136, false));
        assert_eq!(&rest[..r2.len], &request[64..]);
        // A reply that fits.
        let r = c.transact(b"ping", &mut rest).unwrap();
        assert_eq!((&rest[..r.len], r.more_data), (&b"ping"[..], false));
    });
}

#[test]
fn write_read_message_and_byte_pipes() {
    if !enabled() {
        return;
    }
    within(30, || {
        let m = PipeClient::open_duplex(MSG).unwrap();
        assert_eq!(m.write(b"one").unwrap(), 3);
        assert_eq!(m.write(b"two!").unwrap(), 4);
        let mut buf = [0u8; 100];
        // Message mode through smbd: one message per read.
        let r = m.read(&mut buf).unwrap();
        assert_eq!(&buf[..r.len], b"one");
        let r = m.read(&mut buf).unwrap();
        assert_eq!(&buf[..r.len], b"two!");
        let b = PipeClient::open_duplex(BYTE).unwrap();
        std::io::Write::write_all(&mut &*b, b"byte stream").unwrap();
        let mut got = Vec::new();
        while got.len() < 11 {
            let r = b.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..r.len]);
        }
        assert_eq!(got, b"byte stream");
        assert_eq!(b.read(&mut []).unwrap().len, 0);
        // smbd passes messages of at most 65535 bytes.
        assert_eq!(
            m.write(&vec![1u8; 65536]).unwrap_err(),
            Win32Error::INVALID_PARAMETER
        );
        // What a remote handle does not do.
        assert_eq!(b.peek(&mut buf).unwrap_err(), Win32Error::NOT_SUPPORTED);
        assert_eq!(
            b.client_process_id().unwrap_err(),
            Win32Error::NOT_SUPPORTED
        );
    });
}

#[test]
fn call_wait_and_errors() {
    if !enabled() {
        return;
    }
    within(30, || {
        let mut reply = [0u8; 32];
        let r = call_named_pipe(MSG, b"call me", &mut reply, 1000).unwrap();
        assert_eq!(&reply[..r.len], b"call me");
        wait_named_pipe(MSG, 1000).unwrap();
        let missing = r"\\127.0.0.1\pipe\nosuchpipe";
        assert_eq!(
            PipeClient::open_duplex(missing).err(),
            Some(Win32Error::FILE_NOT_FOUND)
        );
        assert_eq!(
            wait_named_pipe(missing, 1000),
            Err(Win32Error::FILE_NOT_FOUND)
        );
        // The listener's socket path may not contain '/': smbd refuses such names.
        assert!(PipeClient::open_duplex(r"\\127.0.0.1\pipe\a/b").is_err());
    });
}

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The figures: 64 B round trip (TransactNamedPipe; WriteFile + ReadFile), 64 KiB
/// throughput (65535-byte messages written and echoed back).
#[test]
fn figures() {
    if !enabled() {
        return;
    }
    within(120, || {
        let c = PipeClient::open_duplex(MSG).unwrap();
        c.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
        let req = [7u8; 64];
        let mut buf = vec![0u8; 65536];
        for _ in 0..50 {
            c.transact(&req, &mut buf).unwrap();
        }
        let mut t = Vec::new();
        for _ in 0..2000 {
            let s = Instant::now();
            let r = c.transact(&req, &mut buf).unwrap();
            t.push(s.elapsed());
            assert_eq!(r.len, 64);
        }
        let transact = p50(t);
        let mut t = Vec::new();
        for _ in 0..1000 {
            let s = Instant::now();
            c.write(&req).unwrap();
            let r = c.read(&mut buf).unwrap();
            t.push(s.elapsed());
            assert_eq!(r.len, 64);
        }
        let write_read = p50(t);
        let big = vec![0x5Au8; 65535];
        let n = 300;
        let s = Instant::now();
        for _ in 0..n {
            c.write(&big).unwrap();
            let r = c.read(&mut buf).unwrap();
            assert_eq!(r.len, big.len());
        }
        let secs = s.elapsed().as_secs_f64();
        let mib = (2 * n * big.len()) as f64 / (1024.0 * 1024.0) / secs;
        eprintln!(
            "remote figures: 64 B TransactNamedPipe p50 {:.3} ms; 64 B WriteFile+ReadFile p50 \
             {:.3} ms; 64 KiB messages echoed: {mib:.1} MiB/s (both directions counted)",
            transact.as_secs_f64() * 1e3,
            write_read.as_secs_f64() * 1e3
        );
    });
}

/// The async API on remote names (`npfs::tokio`): open, the message operations, the stream
/// (AsyncRead / AsyncWrite), open_wait and wait_named_pipe, and what a remote handle refuses.
#[cfg(feature = "tokio")]
#[test]
fn tokio_api_on_remote_names() {
    use npfs::tokio::{wait_named_pipe as wait_async, ClientOptions, PipeMode};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if !enabled() {
        return;
    }
    within(60, || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut o = ClientOptions::new();
            o.pipe_mode(PipeMode::Message);
            let m = o.open(MSG).unwrap();
            assert!(m.as_blocking().is_remote());
            // TransactNamedPipe with a short reply buffer: ERROR_MORE_DATA, the rest by ReadFile.
            let request: Vec<u8> = (0..200u8).collect();
            let mut reply = [0u8; 64];
            let r = m.transact(&request, &mut reply).await.unwrap();
            assert!(r.more_data);
            assert_eq!(&reply[..r.len], &request[..64]);
            let mut rest = [0u8; 1024];
            let r = m.recv_msg(&mut rest).await.unwrap();
            assert_eq!((r.len, r.more_data), (136, false));
            assert_eq!(&rest[..r.len], &request[64..]);
            // WriteFile + ReadFile, one message each.
            assert_eq!(m.write_msg(b"async one").await.unwrap(), 9);
            let r = m.recv_msg(&mut rest).await.unwrap();
            assert_eq!(&rest[..r.len], b"async one");
            m.flush().await.unwrap();
            // A recv_msg dropped while its READ waits in smbd (which cannot cancel it): what
            // that READ brings is the next read's, not lost.
            let dropped = tokio::time::timeout(Duration::from_millis(200), m.recv_msg(&mut rest));
            assert!(dropped.await.is_err(), "nothing was there to read");
            assert_eq!(m.write_msg(b"late").await.unwrap(), 4);
            let r = m.recv_msg(&mut rest).await.unwrap();
            assert_eq!(&rest[..r.len], b"late");
            // What a remote handle does not do.
            let code = |e: std::io::Error| npfs::Win32IoError::win32_error(&e);
            assert_eq!(
                code(m.try_read(&mut rest).unwrap_err()),
                Some(Win32Error::NOT_SUPPORTED)
            );
            assert_eq!(
                code(m.readable().await.unwrap_err()),
                Some(Win32Error::NOT_SUPPORTED)
            );
            assert_eq!(
                code(m.peek(&mut rest).unwrap_err()),
                Some(Win32Error::NOT_SUPPORTED)
            );

            // The byte pipe as a stream.
            wait_async(BYTE, Duration::from_secs(5)).await.unwrap();
            let mut b = ClientOptions::new()
                .open_wait(BYTE, Duration::from_secs(5))
                .await
                .unwrap();
            b.write_all(b"stream of bytes").await.unwrap();
            AsyncWriteExt::flush(&mut b).await.unwrap();
            let mut got = vec![0u8; 15];
            b.read_exact(&mut got).await.unwrap();
            assert_eq!(got, b"stream of bytes");
            // A missing pipe is ERROR_FILE_NOT_FOUND, as for a local name.
            let missing = ClientOptions::new().open(r"\\127.0.0.1\pipe\nosuchpipe");
            assert_eq!(
                missing.err().map(code),
                Some(Some(Win32Error::FILE_NOT_FOUND))
            );
        });
    });
}
