//! The async API across real processes: an async server with blocking clients in child
//! processes, a blocking server in a child with an async client, tokio's documentation
//! examples (built as `examples/`) talking to each other, and the load test — 1,000
//! concurrent clients in another process against one `PipeListener`. The children are this
//! test binary started in a role (`child_main`). Every wait is bounded.
#![cfg(feature = "tokio")]

mod tokio_common;

use std::time::{Duration, Instant};

use npfs::consts::*;
use npfs::tokio::*;
use tokio_common::*;

/// The message a client sends: recognisable, of varying length.
fn payload(client: usize, k: usize) -> Vec<u8> {
    let mut v = format!("client {client} message {k};").into_bytes();
    let extra = (client * 7 + k * 131) % 1500;
    v.extend((0..extra).map(|i| (i % 251) as u8));
    v
}

fn blocking_open_retry(name: &str) -> npfs::PipeClient {
    let start = Instant::now();
    loop {
        match npfs::PipeClient::open_duplex(name) {
            Ok(c) => return c,
            Err(e) if e == npfs::Win32Error::PIPE_BUSY => {
                let _ = npfs::wait_named_pipe(name, 1000);
            }
            Err(e)
                if e == npfs::Win32Error::FILE_NOT_FOUND
                    && start.elapsed() < Duration::from_secs(10) =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("open {name}: {e:?}"),
        }
    }
}

/// The child side: `NPFS_TOKIO_CHILD="ROLE ARGS..."`. Without it, this test does nothing.
#[test]
fn child_main() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let args: Vec<String> = role.split(' ').map(str::to_owned).collect();
    let num = |i: usize| -> usize { args[i].parse().expect("number") };
    match args[0].as_str() {
        // Blocking API: open, then N times write a message and check its echo.
        "blocking-echo-client" => {
            let (name, id, n) = (&args[1], num(2), num(3));
            let c = blocking_open_retry(name);
            c.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
            let mut buf = vec![0u8; 4096];
            for k in 0..n {
                let m = payload(id, k);
                assert_eq!(c.write(&m).unwrap(), m.len());
                let r = c.read(&mut buf).unwrap();
                assert!(!r.more_data);
                assert_eq!(&buf[..r.len], &m[..], "echo {k}");
            }
            say("ok");
        }
        // Blocking API: a one-instance message server that serves N clients in turn, one
        // message each, echoed upper-cased.
        "blocking-echo-server" => {
            let (name, n) = (&args[1], num(2));
            let s = npfs::ServerOptions::from_raw(
                PIPE_ACCESS_DUPLEX,
                PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE,
                1,
                4096,
                4096,
                0,
            )
            .create(name)
            .unwrap();
            say("ready");
            let mut buf = vec![0u8; 4096];
            for _ in 0..n {
                match s.connect() {
                    Ok(()) => {}
                    Err(e) if e == npfs::Win32Error::PIPE_CONNECTED => {}
                    Err(e) => panic!("connect: {e:?}"),
                }
                let r = s.read(&mut buf).unwrap();
                let up = buf[..r.len].to_ascii_uppercase();
                s.write(&up).unwrap();
                s.flush().unwrap();
                s.disconnect().unwrap();
            }
            say("ok");
        }
        // The async load: COUNT concurrent clients, MSGS messages each, every echo checked.
        "load-clients" => {
            let (name, count, msgs) = (args[1].clone(), num(2), num(3));
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            let (ok, busy) = rt.block_on(async move {
                let busy = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
                let mut tasks = Vec::with_capacity(count);
                for i in 0..count {
                    let name = name.clone();
                    let busy = busy.clone();
                    tasks.push(tokio::spawn(async move {
                        let mut o = ClientOptions::new();
                        o.pipe_mode(PipeMode::Message);
                        let c = match o.open(&name) {
                            Ok(c) => c,
                            Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32) => {
                                busy.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                o.open_wait(&name, Duration::from_secs(30)).await.unwrap()
                            }
                            Err(e) => panic!("open: {e}"),
                        };
                        let mut buf = vec![0u8; 4096];
                        for k in 0..msgs {
                            let m = payload(i, k);
                            c.write_msg(&m).await.unwrap();
                            let r = c.recv_msg(&mut buf).await.unwrap();
                            assert!(!r.more_data);
                            assert_eq!(&buf[..r.len], &m[..], "client {i} echo {k}");
                        }
                    }));
                }
                let mut ok = 0;
                for t in tasks {
                    t.await.unwrap();
                    ok += 1;
                }
                (ok, busy.load(std::sync::atomic::Ordering::Relaxed))
            });
            say(&format!("ok {ok} busy {busy} rss {}", peak_rss_kib()));
        }
        // Blocking API on an inherited client end (TOKEN): a 10000-byte write that cannot
        // complete (nobody reads), cancelled after MS milliseconds; its bytes leave the pipe.
        "inherited-timed-write" => {
            // SAFETY: the parent made this token for this child and its descriptors came
            // across exec; nothing else here owns them.
            let c = unsafe { npfs::PipeClient::from_inherited(&args[1]) }.unwrap();
            let r = c.write_timeout(&[7u8; 10_000], Duration::from_millis(num(2) as u64));
            assert_eq!(r, Err(npfs::Win32Error::OPERATION_ABORTED));
            say("aborted");
            // Alive (its exit would wake the parent too) until the parent's server says so.
            let mut b = [0u8; 16];
            let r = c.read(&mut b).unwrap();
            say(&String::from_utf8_lossy(&b[..r.len]));
        }
        other => panic!("unknown role {other}"),
    }
}

// docs/ARCHITECTURE.md (the end's bell): a change made by another process holding the same
// end wakes an async waiter, with no timer. The child's pending write is ahead of ours in the
// queue, so ours cannot complete (the reader's quota is 4096 and nobody reads); the child's
// write is cancelled in the child — a change no doorbell announces here — and ours completes
// while the child lives on (its exit would wake us through the watcher), with only its byte
// left in the pipe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_by_another_holder_of_the_same_end_wakes_an_async_waiter() {
    let name = pipe_name("shared-end");
    let mut o = ServerOptions::new();
    o.in_buffer_size(4096).out_buffer_size(4096);
    let server = o.create(&name).unwrap();
    let client = ClientOptions::new().open(&name).unwrap();
    t(server.connect()).await.unwrap();
    let token = client.as_blocking().inherit_token().unwrap();
    let kid = Kid::spawn(&format!("inherited-timed-write {token} 4000"));
    let srv = server.as_blocking_server();
    let start = Instant::now();
    while srv.available() < 10_000 {
        assert!(start.elapsed() < LIMIT, "the child's write never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut ours = std::pin::pin!(client.write_msg(b"x"));
    assert!(
        futures_poll_once(ours.as_mut()).await.is_none(),
        "our write completed while the child's was ahead of it"
    );
    // Both are queued: the child's (its 4 s are not up) and ours behind it.
    assert_eq!(srv.available(), 10_001);
    assert_eq!(t(ours).await.unwrap(), 1);
    assert_eq!(srv.available(), 1);
    let mut b = [0u8; 16];
    let r = t(server.recv_msg(&mut b)).await.unwrap();
    assert_eq!(&b[..r.len], b"x");
    t(server.write_msg(b"done")).await.unwrap();
    let lines = tokio::task::spawn_blocking(move || kid.finish(LIMIT))
        .await
        .unwrap();
    assert_eq!(lines, ["aborted", "done"]);
}

/// Poll `f` once: its output if it was ready.
async fn futures_poll_once<F: std::future::Future + Unpin>(mut f: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_server_with_blocking_clients_in_other_processes() {
    let name = pipe_name("async-srv");
    let mut o = ServerOptions::new();
    o.pipe_mode(PipeMode::Message);
    let mut listener = PipeListener::bind(&name, &o, 2).unwrap();
    let kids: Vec<Kid> = (0..3)
        .map(|i| Kid::spawn(&format!("blocking-echo-client {name} {i} 50")))
        .collect();
    let mut served = Vec::new();
    for _ in 0..3 {
        let s = t(listener.accept()).await.unwrap();
        served.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut n = 0;
            loop {
                match s.recv_msg(&mut buf).await {
                    Ok(r) => {
                        s.write_msg(&buf[..r.len]).await.unwrap();
                        n += 1;
                    }
                    Err(e) if code(&e) == ERROR_BROKEN_PIPE => return n,
                    Err(e) => panic!("server: {e}"),
                }
            }
        }));
    }
    for k in kids {
        let lines = tokio::task::spawn_blocking(move || k.finish(LIMIT))
            .await
            .unwrap();
        assert_eq!(lines, ["ok"]);
    }
    for s in served {
        assert_eq!(t(s).await.unwrap(), 50);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_server_in_another_process_with_async_clients() {
    let name = pipe_name("blocking-srv");
    let kid = Kid::spawn(&format!("blocking-echo-server {name} 3"));
    for i in 0..3 {
        // The server may not exist yet (NotFound) or be busy with the previous client.
        let c = t(async {
            loop {
                let mut o = ClientOptions::new();
                o.pipe_mode(PipeMode::Message);
                match o.open_wait(&name, LIMIT).await {
                    Ok(c) => break c,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    Err(e) => panic!("open: {e}"),
                }
            }
        })
        .await;
        let mut reply = [0u8; 64];
        let msg = format!("hello {i}");
        let r = t(c.transact(msg.as_bytes(), &mut reply)).await.unwrap();
        assert_eq!(&reply[..r.len], msg.to_uppercase().as_bytes());
        // The server flushes, then disconnects: our next read sees the disconnection.
        let e = t(c.recv_msg(&mut reply)).await.unwrap_err();
        assert_eq!(code(&e), ERROR_PIPE_NOT_CONNECTED);
    }
    let lines = tokio::task::spawn_blocking(move || kid.finish(LIMIT))
        .await
        .unwrap();
    assert_eq!(lines, ["ready", "ok"]);
}

/// tokio's documentation examples, built as `examples/tokio_server.rs` and
/// `examples/tokio_client.rs`, with only their `use` lines changed.
#[test]
fn tokio_doc_examples_run() {
    init();
    let dir = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(|d| d.parent())
        .map(|d| d.join("examples"))
        .unwrap();
    let server_exe = dir.join("tokio_server");
    let client_exe = dir.join("tokio_client");
    if !(server_exe.exists() && client_exe.exists()) {
        // `cargo test` (whole package or workspace) builds the examples; a run filtered to
        // this test target alone does not.
        eprintln!("examples not built in {dir:?}: run `cargo test -p npfs` to include them");
        return;
    }
    let mut server = KidCmd::spawn(std::process::Command::new(&server_exe).arg("4"));
    let mut clients: Vec<KidCmd> = (0..4)
        .map(|i| {
            // The first client may find no pipe yet: retry that (the example handles busy).
            KidCmd::spawn(std::process::Command::new("sh").arg("-c").arg(format!(
                "for i in $(seq 100); do {} 'text {i}' && exit 0; sleep 0.05; done; exit 1",
                client_exe.display()
            )))
        })
        .collect();
    for c in clients.iter_mut() {
        let out = c.finish(LIMIT);
        assert!(out.contains("text "), "client said {out:?}");
    }
    let out = server.finish(LIMIT);
    assert!(out.contains("served"), "server said {out:?}");
}

/// A child command, killed if the test fails.
struct KidCmd(Option<std::process::Child>);

impl KidCmd {
    fn spawn(cmd: &mut std::process::Command) -> KidCmd {
        KidCmd(Some(
            cmd.stdout(std::process::Stdio::piped())
                .spawn()
                .expect("spawn"),
        ))
    }

    fn finish(&mut self, limit: Duration) -> String {
        let mut child = self.0.take().expect("child");
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!("child did not finish within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "child failed: {:?}", out.status);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for KidCmd {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// 1,000 concurrent clients in another process against one listener: every message
/// delivered intact and in order, memory bounded. Prints the figures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_1000_clients_in_another_process() {
    const CLIENTS: usize = 1000;
    const MSGS: usize = 20;
    let name = pipe_name("load");
    let mut o = ServerOptions::new();
    o.pipe_mode(PipeMode::Message)
        .in_buffer_size(4096)
        .out_buffer_size(4096);
    let mut listener = PipeListener::bind(&name, &o, 64).unwrap();
    let start = Instant::now();
    let kid = Kid::spawn(&format!("load-clients {name} {CLIENTS} {MSGS}"));
    let accept = tokio::spawn(async move {
        let mut served = Vec::with_capacity(CLIENTS);
        for _ in 0..CLIENTS {
            let s = listener.accept().await.unwrap();
            served.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut n = 0usize;
                loop {
                    match s.recv_msg(&mut buf).await {
                        Ok(r) => {
                            assert!(!r.more_data);
                            s.write_msg(&buf[..r.len]).await.unwrap();
                            n += 1;
                        }
                        Err(e) if code(&e) == ERROR_BROKEN_PIPE => return n,
                        Err(e) => panic!("server: {e}"),
                    }
                }
            }));
        }
        let mut total = 0;
        for s in served {
            total += s.await.unwrap();
        }
        total
    });
    let total = tokio::time::timeout(Duration::from_secs(120), accept)
        .await
        .expect("load test within 120 s")
        .unwrap();
    let lines = tokio::task::spawn_blocking(move || kid.finish(Duration::from_secs(60)))
        .await
        .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(total, CLIENTS * MSGS);
    let line = lines.first().expect("child result");
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!(f[0], "ok");
    assert_eq!(f[1].parse::<usize>().unwrap(), CLIENTS);
    let child_rss: u64 = f[5].parse().unwrap();
    let server_rss = peak_rss_kib();
    eprintln!(
        "load: {CLIENTS} clients x {MSGS} messages in {elapsed:?}; busy opens {}; peak RSS \
         server process {server_rss} KiB, client process {child_rss} KiB",
        f[3]
    );
    // Bounded: well under a megabyte per connection on either side.
    assert!(server_rss < 512 * 1024, "server peak RSS {server_rss} KiB");
    assert!(child_rss < 512 * 1024, "client peak RSS {child_rss} KiB");
}
