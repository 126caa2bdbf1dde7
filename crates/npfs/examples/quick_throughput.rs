//! A rough, single-run throughput and round-trip check (two threads, one process). The real
//! benchmark suite, cross-process and side by side with raw sockets and Wine, is the
//! performance issue's; this only gives a first figure.
use npfs::{PipeClient, ServerOptions};
use std::time::Instant;

fn main() -> Result<(), npfs::Win32Error> {
    let name = format!(r"\\.\pipe\quick-{}", std::process::id());
    for size in [64usize, 4096, 65536, 1 << 20] {
        let server = ServerOptions::new()
            .in_buffer_size(1 << 20)
            .out_buffer_size(1 << 20)
            .create(&name)?;
        let client = PipeClient::open_duplex(&name)?;
        let total: usize = 256 << 20;
        let n = (total / size).max(1);
        let t = Instant::now();
        let reader = std::thread::spawn(move || {
            let mut buf = vec![0u8; size];
            let mut got = 0;
            while got < n * size {
                got += server.read(&mut buf).unwrap().len;
            }
            server
        });
        let data = vec![7u8; size];
        for _ in 0..n {
            client.write(&data)?;
        }
        let server = reader.join().unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{size:>8} B writes: {:>8.0} MB/s, {:>10.0} msg/s",
            (n * size) as f64 / secs / 1e6,
            n as f64 / secs
        );
        drop(client);
        drop(server);
    }
    let server = ServerOptions::new().create(&name)?;
    let client = PipeClient::open_duplex(&name)?;
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok(r) = server.read(&mut buf) {
            if server.write(&buf[..r.len]).is_err() {
                break;
            }
        }
    });
    let mut buf = [0u8; 64];
    let mut lat = Vec::new();
    for _ in 0..20000 {
        let t = Instant::now();
        client.write(&[1u8; 64])?;
        client.read(&mut buf)?;
        lat.push(t.elapsed().as_nanos() as u64);
    }
    lat.sort_unstable();
    println!(
        "64 B round trip: p50 {:.1} us, p99 {:.1} us",
        lat[lat.len() / 2] as f64 / 1e3,
        lat[lat.len() * 99 / 100] as f64 / 1e3
    );
    drop(client);
    let _ = echo.join();
    Ok(())
}
