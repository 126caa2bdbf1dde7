//! The conformance categories through the async API (`npfs::tokio`), in one process: modes,
//! quota and pending writes, partial messages, disconnect/close states, nowait, transact,
//! wait, cancellation by drop, readiness, the listener. Every await is bounded.
#![cfg(feature = "tokio")]

mod tokio_common;

use std::time::Duration;

use npfs::tokio::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio_common::*;

async fn pair(
    opts: &ServerOptions,
    client: &ClientOptions,
    tag: &str,
) -> (NamedPipeServer, NamedPipeClient) {
    let name = pipe_name(tag);
    let server = opts.create(&name).unwrap();
    let client = client.open(&name).unwrap();
    t(server.connect()).await.unwrap();
    (server, client)
}

fn msg_opts(out: u32, inb: u32) -> ServerOptions {
    let mut o = ServerOptions::new();
    o.pipe_mode(PipeMode::Message)
        .out_buffer_size(out)
        .in_buffer_size(inb);
    o
}

fn msg_client() -> ClientOptions {
    let mut c = ClientOptions::new();
    c.pipe_mode(PipeMode::Message);
    c
}

#[tokio::test]
async fn byte_stream_both_ways_and_end_of_stream() {
    let (mut server, mut client) =
        pair(&ServerOptions::new(), &ClientOptions::new(), "bytes").await;
    t(client.write_all(b"hello ")).await.unwrap();
    t(client.write_all(b"world")).await.unwrap();
    let mut buf = [0u8; 11];
    t(server.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"hello world");
    t(server.write_all(b"back")).await.unwrap();
    let mut buf = [0u8; 4];
    t(client.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"back");
    let info = server.info().unwrap();
    assert_eq!(info.end, PipeEnd::Server);
    assert_eq!(info.mode, PipeMode::Byte);
    assert_eq!(info.in_buffer_size, 65536);
    assert_eq!(client.info().unwrap().end, PipeEnd::Client);
    let me = std::process::id();
    assert_eq!(client.client_process_id().unwrap(), me);
    assert_eq!(server.server_process_id().unwrap(), me);
    // The client closes: the server reads end of stream, its writes fail with ERROR_NO_DATA.
    t(client.write_all(b"last")).await.unwrap();
    drop(client);
    let mut rest = Vec::new();
    t(server.read_to_end(&mut rest)).await.unwrap();
    assert_eq!(rest, b"last");
    let e = t(server.write_all(b"x")).await.unwrap_err();
    assert_eq!(code(&e), ERROR_NO_DATA);
    let e = t(server.recv_msg(&mut [0u8; 4])).await.unwrap_err();
    assert_eq!(code(&e), ERROR_BROKEN_PIPE);
}

#[tokio::test]
async fn message_mode_partial_reads_are_values() {
    let (server, client) = pair(&msg_opts(4096, 4096), &msg_client(), "partial").await;
    assert_eq!(t(client.write_msg(b"hello world")).await.unwrap(), 11);
    assert_eq!(t(client.write_msg(b"second")).await.unwrap(), 6);
    let mut small = [0u8; 4];
    let r = t(server.recv_msg(&mut small)).await.unwrap();
    assert_eq!((r.len, r.more_data), (4, true));
    assert_eq!(&small, b"hell");
    let mut buf = [0u8; 64];
    let r = t(server.recv_msg(&mut buf)).await.unwrap();
    assert_eq!((r.len, r.more_data), (7, false));
    assert_eq!(&buf[..7], b"o world");
    // The stream read returns at most one message.
    t(client.write_msg(b"third")).await.unwrap();
    let mut s = server;
    let n = t(s.read(&mut buf)).await.unwrap();
    assert_eq!(&buf[..n], b"second");
    let n = t(s.read(&mut buf)).await.unwrap();
    assert_eq!(&buf[..n], b"third");
    // Peek sees without taking.
    t(client.write_msg(b"peekme")).await.unwrap();
    let p = s.peek(&mut buf).unwrap();
    assert_eq!(
        (p.bytes_read, p.total_bytes_avail, p.bytes_left_this_message),
        (6, 6, 0)
    );
    let r = t(s.recv_msg(&mut buf)).await.unwrap();
    assert_eq!(&buf[..r.len], b"peekme");
    assert_eq!(s.info().unwrap().mode, PipeMode::Message);
}

#[tokio::test]
async fn read_mode_byte_on_message_pipe() {
    let mut o = msg_opts(4096, 4096);
    o.read_mode(PipeMode::Byte);
    let (server, client) = pair(&o, &ClientOptions::new(), "readmode").await;
    t(client.write_msg(b"ab")).await.unwrap();
    t(client.write_msg(b"cd")).await.unwrap();
    let mut buf = [0u8; 8];
    let r = t(server.recv_msg(&mut buf)).await.unwrap();
    assert_eq!(&buf[..r.len], b"abcd");
    // Message read mode on a byte pipe is refused, as on Windows.
    let mut bad = ServerOptions::new();
    bad.read_mode(PipeMode::Message);
    let e = bad.create(pipe_name("badmode")).unwrap_err();
    assert_eq!(code(&e), 87);
}

#[tokio::test]
async fn quota_pending_write_completes_when_read() {
    let (server, client) = pair(&msg_opts(16, 16), &msg_client(), "quota").await;
    let data = [7u8; 32];
    let w = server.write_msg(&data);
    tokio::pin!(w);
    assert!(
        tokio::time::timeout(PENDING, &mut w).await.is_err(),
        "write must pend"
    );
    let mut buf = [0u8; 16];
    let r = t(client.recv_msg(&mut buf)).await.unwrap();
    assert_eq!((r.len, r.more_data), (16, true));
    // 16 unread bytes now fit the quota of 16: the write completes.
    assert_eq!(t(&mut w).await.unwrap(), 32);
    let r = t(client.recv_msg(&mut buf)).await.unwrap();
    assert_eq!((r.len, r.more_data), (16, false));
}

#[tokio::test]
async fn dropping_a_pending_write_removes_its_data() {
    let (server, client) = pair(&msg_opts(16, 16), &msg_client(), "cancelw").await;
    assert_eq!(t(server.write_msg(b"kept")).await.unwrap(), 4);
    assert_pending(server.write_msg(&[1u8; 40]), "write above quota").await;
    // The cancelled write's unread bytes left the pipe; the completed one stays.
    let mut buf = [0u8; 64];
    let p = client.peek(&mut buf).unwrap();
    assert_eq!(p.total_bytes_avail, 4);
    let r = t(client.recv_msg(&mut buf)).await.unwrap();
    assert_eq!(&buf[..r.len], b"kept");
    let e = client.try_read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
}

#[tokio::test]
async fn dropping_a_pending_read_consumes_nothing() {
    let (server, client) = pair(&msg_opts(4096, 4096), &msg_client(), "cancelr").await;
    let mut buf = [0u8; 64];
    assert_pending(client.recv_msg(&mut buf), "read of an empty pipe").await;
    assert_pending(client.recv_msg(&mut buf), "second read").await;
    t(server.write_msg(b"abc")).await.unwrap();
    let r = t(client.recv_msg(&mut buf)).await.unwrap();
    assert_eq!(&buf[..r.len], b"abc");
    // A stream read dropped while waiting leaves nothing registered either.
    let mut c = client;
    assert_pending(c.read(&mut buf), "stream read").await;
    t(server.write_msg(b"def")).await.unwrap();
    let r = t(c.recv_msg(&mut buf)).await.unwrap();
    assert_eq!(&buf[..r.len], b"def");
}

#[tokio::test]
async fn waiting_reads_are_served_before_stream_reads() {
    let (server, client) = pair(&msg_opts(4096, 4096), &msg_client(), "fifo").await;
    let client = std::sync::Arc::new(client);
    let c2 = client.clone();
    let waiting = tokio::spawn(async move {
        let mut buf = [0u8; 16];
        let r = c2.recv_msg(&mut buf).await.unwrap();
        buf[..r.len].to_vec()
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    t(server.write_msg(b"one")).await.unwrap();
    assert_eq!(t(waiting).await.unwrap(), b"one");
    let e = client.try_read(&mut [0u8; 8]).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
}

#[tokio::test]
async fn stream_writes_give_backpressure() {
    let mut o = ServerOptions::new();
    o.in_buffer_size(16).out_buffer_size(16);
    let (server, client) = pair(&o, &ClientOptions::new(), "backpressure").await;
    assert_eq!(client.try_write(&[1u8; 10]).unwrap(), 10);
    // Room for 6 more: writable, but a write of 10 would exceed the quota.
    t(client.writable()).await.unwrap();
    assert_eq!(client.try_write(&[1u8; 6]).unwrap(), 6);
    let e = client.try_write(&[2u8; 10]).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    let mut c = client;
    assert_pending(c.write(&[2u8; 10]), "write beyond the quota").await;
    assert_pending(c.writable(), "writable at the quota").await;
    let mut buf = [0u8; 10];
    assert_eq!(server.try_read(&mut buf).unwrap(), 10);
    t(c.writable()).await.unwrap();
    assert_eq!(t(c.write(&[2u8; 10])).await.unwrap(), 10);
    // Nothing of the cancelled stream write went in.
    assert_eq!(server.peek(&mut [0u8; 32]).unwrap().total_bytes_avail, 16);
}

#[tokio::test]
async fn a_message_above_the_quota_goes_in_and_flush_waits_for_it() {
    let (server, client) = pair(&msg_opts(16, 16), &msg_client(), "bigmsg").await;
    let mut c = client;
    let big: Vec<u8> = (0..100u8).collect();
    assert_eq!(t(c.write(&big)).await.unwrap(), 100);
    assert_pending(
        AsyncWriteExt::flush(&mut c),
        "stream flush of a pending write",
    )
    .await;
    assert_pending(c.write(b"next"), "the next stream write").await;
    let mut buf = [0u8; 128];
    let r = t(server.recv_msg(&mut buf)).await.unwrap();
    assert_eq!(&buf[..r.len], &big[..]);
    t(AsyncWriteExt::flush(&mut c)).await.unwrap();
    t(c.write_all(b"next")).await.unwrap();
    let r = t(server.recv_msg(&mut buf)).await.unwrap();
    assert_eq!(&buf[..r.len], b"next");
}

#[tokio::test]
async fn flush_waits_for_the_reader() {
    let (server, client) = pair(&ServerOptions::new(), &ClientOptions::new(), "flush").await;
    t(server.flush()).await.unwrap();
    t(server.write_msg(b"12345")).await.unwrap();
    assert_pending(server.flush(), "flush with unread data").await;
    let server = std::sync::Arc::new(server);
    let s2 = server.clone();
    let f = tokio::spawn(async move { s2.flush().await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut buf = [0u8; 5];
    let mut c = client;
    t(c.read_exact(&mut buf)).await.unwrap();
    t(f).await.unwrap().unwrap();
    // The reader closes with data unread: a waiting flush fails with ERROR_BROKEN_PIPE.
    t(server.write_msg(b"xy")).await.unwrap();
    let s3 = server.clone();
    let f = tokio::spawn(async move { s3.flush().await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(c);
    let e = t(f).await.unwrap().unwrap_err();
    assert_eq!(code(&e), ERROR_BROKEN_PIPE);
}

#[tokio::test]
async fn connect_before_and_after_the_client() {
    let name = pipe_name("connect");
    let server = ServerOptions::new().create(&name).unwrap();
    assert_pending(server.connect(), "connect without a client").await;
    let server = std::sync::Arc::new(server);
    let s2 = server.clone();
    let c = tokio::spawn(async move { s2.connect().await });
    tokio::time::sleep(Duration::from_millis(30)).await;
    let client = ClientOptions::new().open(&name).unwrap();
    t(c).await.unwrap().unwrap();
    // Connected already: connect succeeds again at once (ERROR_PIPE_CONNECTED on Windows).
    t(server.connect()).await.unwrap();
    // A client that came and left: ERROR_NO_DATA.
    drop(client);
    let e = t(server.connect()).await.unwrap_err();
    assert_eq!(code(&e), ERROR_NO_DATA);
    // Disconnect, listen again, and a new client gets in.
    server.disconnect().unwrap();
    let e = server.disconnect().unwrap_err();
    assert_eq!(code(&e), ERROR_PIPE_NOT_CONNECTED);
    let s3 = server.clone();
    let c = tokio::spawn(async move { s3.connect().await });
    let mut client = t(ClientOptions::new().open_wait(&name, Duration::from_secs(5)))
        .await
        .unwrap();
    t(c).await.unwrap().unwrap();
    t(client.write_all(b"again")).await.unwrap();
    let mut buf = [0u8; 5];
    let n = t(server.recv_msg(&mut buf)).await.unwrap();
    assert_eq!(&buf[..n.len], b"again");
}

#[tokio::test]
async fn disconnect_detaches_the_client() {
    let (server, client) = pair(&msg_opts(4096, 4096), &msg_client(), "disc").await;
    t(client.write_msg(b"lost")).await.unwrap();
    let c = std::sync::Arc::new(client);
    let c2 = c.clone();
    let reader = tokio::spawn(async move { c2.recv_msg(&mut [0u8; 8]).await });
    tokio::time::sleep(Duration::from_millis(30)).await;
    server.disconnect().unwrap();
    let e = t(reader).await.unwrap().unwrap_err();
    assert_eq!(code(&e), ERROR_PIPE_NOT_CONNECTED);
    let e = t(c.write_msg(b"x")).await.unwrap_err();
    assert_eq!(code(&e), ERROR_PIPE_NOT_CONNECTED);
    let e = c.try_read(&mut [0u8; 4]).unwrap_err();
    assert_eq!(code(&e), ERROR_PIPE_NOT_CONNECTED);
    let e = c.info().unwrap_err();
    assert_eq!(code(&e), ERROR_PIPE_NOT_CONNECTED);
    // The server's data path reports the state too.
    let e = t(server.recv_msg(&mut [0u8; 4])).await.unwrap_err();
    assert_eq!(code(&e), ERROR_PIPE_NOT_CONNECTED);
    // Ready reports the state change (a read would fail at once).
    let ready = t(c.ready(Interest::READABLE)).await.unwrap();
    assert!(ready.is_readable());
}

#[tokio::test]
async fn listening_server_errors_and_nowait() {
    let name = pipe_name("nowait");
    let mut o = ServerOptions::new();
    o.nowait(true).pipe_mode(PipeMode::Message);
    let server = o.create(&name).unwrap();
    let e = t(server.connect()).await.unwrap_err();
    assert_eq!(code(&e), ERROR_PIPE_LISTENING);
    let e = t(server.recv_msg(&mut [0u8; 4])).await.unwrap_err();
    assert_eq!(code(&e), ERROR_PIPE_LISTENING);
    let client = msg_client().open(&name).unwrap();
    t(server.connect()).await.unwrap();
    // Nowait read of an empty pipe: ERROR_NO_DATA at once.
    let e = t(server.recv_msg(&mut [0u8; 4])).await.unwrap_err();
    assert_eq!(code(&e), ERROR_NO_DATA);
    t(client.write_msg(b"hi")).await.unwrap();
    let mut buf = [0u8; 4];
    let r = t(server.recv_msg(&mut buf)).await.unwrap();
    assert_eq!(&buf[..r.len], b"hi");
}

#[tokio::test]
async fn nowait_write_takes_what_fits() {
    let mut o = msg_opts(8, 8);
    o.nowait(true);
    let (server, client) = pair(&o, &msg_client(), "nowaitw").await;
    assert_eq!(t(server.write_msg(b"12345")).await.unwrap(), 5);
    // A message that does not fit is not written at all in nowait mode.
    assert_eq!(t(server.write_msg(b"6789")).await.unwrap(), 0);
    let mut buf = [0u8; 8];
    let r = t(client.recv_msg(&mut buf)).await.unwrap();
    assert_eq!(&buf[..r.len], b"12345");
}

#[tokio::test]
async fn transact_round_trip_and_refusals() {
    let (server, client) = pair(&msg_opts(4096, 4096), &msg_client(), "transact").await;
    let server = std::sync::Arc::new(server);
    let s2 = server.clone();
    let echo = tokio::spawn(async move {
        let mut buf = [0u8; 64];
        let r = s2.recv_msg(&mut buf).await.unwrap();
        let mut reply = b"re:".to_vec();
        reply.extend_from_slice(&buf[..r.len]);
        s2.write_msg(&reply).await.unwrap();
    });
    let mut reply = [0u8; 64];
    let r = t(client.transact(b"question", &mut reply)).await.unwrap();
    assert_eq!(&reply[..r.len], b"re:question");
    t(echo).await.unwrap();
    // A reply longer than the buffer: more_data, the rest stays.
    let s3 = server.clone();
    let echo = tokio::spawn(async move {
        let mut buf = [0u8; 64];
        s3.recv_msg(&mut buf).await.unwrap();
        s3.write_msg(b"a long reply").await.unwrap();
    });
    let mut small = [0u8; 4];
    let r = t(client.transact(b"q", &mut small)).await.unwrap();
    assert_eq!((r.len, r.more_data), (4, true));
    t(echo).await.unwrap();
    // Unread data: ERROR_PIPE_BUSY.
    let e = t(client.transact(b"q", &mut small)).await.unwrap_err();
    assert_eq!(code(&e), ERROR_PIPE_BUSY);
    let mut rest = [0u8; 16];
    t(client.recv_msg(&mut rest)).await.unwrap();
    // Dropping a transaction waiting for its reply leaves the request written.
    assert_pending(
        client.transact(b"kept", &mut small),
        "transaction without reply",
    )
    .await;
    let mut buf = [0u8; 8];
    let r = t(server.recv_msg(&mut buf)).await.unwrap();
    assert_eq!(&buf[..r.len], b"kept");
    // A byte-mode handle: ERROR_BAD_PIPE.
    let (_s, byte_client) = pair(
        &ServerOptions::new(),
        &ClientOptions::new(),
        "transact-byte",
    )
    .await;
    let e = t(byte_client.transact(b"q", &mut small)).await.unwrap_err();
    assert_eq!(code(&e), ERROR_BAD_PIPE);
}

#[tokio::test]
async fn wait_named_pipe_and_open_wait() {
    let missing = pipe_name("missing");
    let e = t(wait_named_pipe(&missing, Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(code(&e), ERROR_FILE_NOT_FOUND);
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    let e = ClientOptions::new().open(&missing).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);

    let name = pipe_name("wait");
    let mut o = ServerOptions::new();
    o.max_instances(2);
    let s1 = o.create(&name).unwrap();
    t(wait_named_pipe(&name, Duration::from_secs(1)))
        .await
        .unwrap();
    let _c1 = ClientOptions::new().open(&name).unwrap();
    t(s1.connect()).await.unwrap();
    let e = ClientOptions::new().open(&name).unwrap_err();
    assert_eq!(code(&e), ERROR_PIPE_BUSY);
    let start = std::time::Instant::now();
    let e = t(wait_named_pipe(&name, Duration::from_millis(200)))
        .await
        .unwrap_err();
    assert_eq!(code(&e), ERROR_SEM_TIMEOUT);
    assert!(start.elapsed() >= Duration::from_millis(150));
    let e = t(ClientOptions::new().open_wait(&name, Duration::from_millis(100)))
        .await
        .unwrap_err();
    assert_eq!(code(&e), ERROR_SEM_TIMEOUT);
    // A waiting open gets the instance created while it waits.
    let n2 = name.clone();
    let waiter = tokio::spawn(async move {
        ClientOptions::new()
            .open_wait(&n2, Duration::from_secs(5))
            .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let s2 = o.create(&name).unwrap();
    let mut c2 = t(waiter).await.unwrap().unwrap();
    t(s2.connect()).await.unwrap();
    t(c2.write_all(b"w")).await.unwrap();
    let mut b = [0u8; 1];
    t(s2.recv_msg(&mut b)).await.unwrap();
    // Too many instances: ERROR_PIPE_BUSY at create.
    let e = o.create(&name).unwrap_err();
    assert_eq!(code(&e), ERROR_PIPE_BUSY);
    // first_pipe_instance on an existing pipe: ERROR_ACCESS_DENIED.
    let other = pipe_name("first");
    let _first = ServerOptions::new().create(&other).unwrap();
    let e = ServerOptions::new()
        .first_pipe_instance(true)
        .create(&other)
        .unwrap_err();
    assert_eq!(code(&e), ERROR_ACCESS_DENIED);
}

#[tokio::test]
async fn directions_and_access() {
    let name = pipe_name("inbound");
    let mut o = ServerOptions::new();
    o.access_outbound(false);
    let server = o.create(&name).unwrap();
    // An inbound pipe: the client must not ask to read.
    let e = ClientOptions::new().open(&name).unwrap_err();
    assert_eq!(code(&e), ERROR_ACCESS_DENIED);
    let mut c = t(async { ClientOptions::new().read(false).open(&name) })
        .await
        .unwrap();
    t(server.connect()).await.unwrap();
    t(c.write_all(b"in")).await.unwrap();
    let mut buf = [0u8; 2];
    let mut s = server;
    t(s.read_exact(&mut buf)).await.unwrap();
    assert_eq!(&buf, b"in");
}

#[tokio::test]
async fn readiness() {
    let (server, client) = pair(&ServerOptions::new(), &ClientOptions::new(), "ready").await;
    let r = t(client.ready(Interest::WRITABLE)).await.unwrap();
    assert!(r.is_writable());
    assert_pending(client.readable(), "readable with nothing there").await;
    let c = std::sync::Arc::new(client);
    let c2 = c.clone();
    let w = tokio::spawn(async move { c2.readable().await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    server.try_write(b"x").unwrap();
    t(w).await.unwrap().unwrap();
    let mut b = [0u8; 4];
    assert_eq!(c.try_read(&mut b).unwrap(), 1);
    let mut bufs = [
        std::io::IoSliceMut::new(&mut [][..]),
        std::io::IoSliceMut::new(&mut b),
    ];
    assert_eq!(
        c.try_read_vectored(&mut bufs).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    let n = server
        .try_write_vectored(&[std::io::IoSlice::new(b"ab"), std::io::IoSlice::new(b"cd")])
        .unwrap();
    assert_eq!(n, 4);
    assert_eq!(c.try_read_vectored(&mut bufs).unwrap(), 4);
    // A listening server's readiness waits for the client first.
    let name = pipe_name("ready-listen");
    let s = std::sync::Arc::new(ServerOptions::new().create(&name).unwrap());
    let s2 = s.clone();
    let r = tokio::spawn(async move { s2.writable().await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let _c = ClientOptions::new().open(&name).unwrap();
    t(r).await.unwrap().unwrap();
}

#[tokio::test]
async fn listener_absorbs_a_burst_without_busy() {
    let name = pipe_name("listener");
    let mut o = ServerOptions::new();
    o.pipe_mode(PipeMode::Message);
    let mut listener = PipeListener::bind(&name, &o, 8).unwrap();
    let mut clients = Vec::new();
    for i in 0..8u8 {
        let c = msg_client()
            .open(&name)
            .expect("an idle instance for every client of the burst");
        t(c.write_msg(&[i])).await.unwrap();
        clients.push(c);
    }
    let mut seen = Vec::new();
    for _ in 0..8 {
        let s = t(listener.accept()).await.unwrap();
        let mut b = [0u8; 4];
        let r = t(s.recv_msg(&mut b)).await.unwrap();
        seen.push(b[..r.len][0]);
        t(s.write_msg(b"ok")).await.unwrap();
        tokio::spawn(async move {
            let _keep = s;
            tokio::time::sleep(Duration::from_millis(200)).await;
        });
    }
    seen.sort();
    assert_eq!(seen, (0..8).collect::<Vec<u8>>());
    for c in &clients {
        let mut b = [0u8; 4];
        let r = t(c.recv_msg(&mut b)).await.unwrap();
        assert_eq!(&b[..r.len], b"ok");
    }
    // Replacements are listening: more clients still get in.
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..8 {
        clients.push(msg_client().open(&name).unwrap());
    }
    for _ in 0..8 {
        t(listener.accept()).await.unwrap();
    }
}

#[test]
#[should_panic(expected = "cannot specify more than 254 instances")]
fn max_instances_above_254_panics() {
    ServerOptions::new().max_instances(255);
}

#[tokio::test(flavor = "current_thread")]
async fn works_on_a_current_thread_runtime() {
    let (server, client) = pair(&msg_opts(16, 16), &msg_client(), "current").await;
    let server = std::sync::Arc::new(server);
    let s2 = server.clone();
    let reader = tokio::spawn(async move {
        let mut all = Vec::new();
        let mut buf = [0u8; 64];
        for _ in 0..50 {
            let r = s2.recv_msg(&mut buf).await.unwrap();
            all.push(buf[..r.len].to_vec());
        }
        all
    });
    for i in 0..50u32 {
        t(client.write_msg(format!("message {i} {}", "x".repeat(i as usize % 20)).as_bytes()))
            .await
            .unwrap();
    }
    let all = t(reader).await.unwrap();
    for (i, m) in all.iter().enumerate() {
        assert_eq!(m, format!("message {i} {}", "x".repeat(i % 20)).as_bytes());
    }
}

#[tokio::test]
async fn blocking_handles_convert_into_async_ones() {
    use npfs::consts::*;
    let name = pipe_name("from-raw");
    let raw = npfs::ServerOptions::from_raw(
        PIPE_ACCESS_DUPLEX,
        PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE,
        1,
        512,
        512,
        0,
    )
    .create(&name)
    .unwrap();
    let server = NamedPipeServer::from(raw);
    let client = npfs::PipeClient::open_duplex(&name).unwrap();
    client.set_handle_mode(PIPE_READMODE_MESSAGE).unwrap();
    let client = NamedPipeClient::from(client);
    t(server.connect()).await.unwrap();
    t(client.write_msg(b"converted")).await.unwrap();
    let mut buf = [0u8; 4];
    let r = t(server.recv_msg(&mut buf)).await.unwrap();
    assert_eq!((r.len, r.more_data), (4, true));
    assert_eq!(server.info().unwrap().in_buffer_size, 512);
}

// spec/api.md "Rights needed per API", through the async API: a write-only client cannot
// read (try_read, AsyncRead, recv_msg), a read-only one cannot write; ERROR_ACCESS_DENIED.
#[tokio::test]
async fn handles_check_access() {
    let name = pipe_name("tokio-access");
    let server = ServerOptions::new().create(&name).unwrap();
    let mut w = ClientOptions::new().read(false).open(&name).unwrap();
    t(server.connect()).await.unwrap();
    let denied = |e: std::io::Error| e.win32_error();
    let mut buf = [0u8; 4];
    assert_eq!(
        w.try_read(&mut buf).map_err(denied).err(),
        Some(Some(npfs::Win32Error::ACCESS_DENIED))
    );
    assert_eq!(
        t(w.read(&mut buf)).await.map_err(denied).err(),
        Some(Some(npfs::Win32Error::ACCESS_DENIED))
    );
    assert_eq!(t(w.write_all(b"ok")).await.ok(), Some(()));
    let name2 = pipe_name("tokio-access-ro");
    let _server2 = ServerOptions::new().create(&name2).unwrap();
    let r = ClientOptions::new().write(false).open(&name2).unwrap();
    assert_eq!(
        r.try_write(b"x").map_err(denied).err(),
        Some(Some(npfs::Win32Error::ACCESS_DENIED))
    );
}

// conformance §3 test_overlapped_transport: "Close server while client has pending write:
// client's write and flush fail ERROR_BROKEN_PIPE (109)"; a waiting client read too.
#[tokio::test]
async fn server_close_fails_client_pending_write_flush_and_read() {
    let mut o = ServerOptions::new();
    o.out_buffer_size(5000).in_buffer_size(6000);
    let (server, client) = pair(&o, &ClientOptions::new(), "srv-close").await;
    let client = std::sync::Arc::new(client);
    let c2 = client.clone();
    let w = tokio::spawn(async move { c2.write_msg(&[7u8; 8000]).await });
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(!w.is_finished(), "the 8000-byte write waits for the reader");
    let c3 = client.clone();
    let f = tokio::spawn(async move { c3.flush().await });
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(!f.is_finished(), "the flush waits for the reader");
    drop(server);
    assert_eq!(code(&t(w).await.unwrap().unwrap_err()), ERROR_BROKEN_PIPE);
    assert_eq!(code(&t(f).await.unwrap().unwrap_err()), ERROR_BROKEN_PIPE);

    let (server, client) = pair(&ServerOptions::new(), &ClientOptions::new(), "srv-close-r").await;
    let client = std::sync::Arc::new(client);
    let c2 = client.clone();
    let r = tokio::spawn(async move { c2.recv_msg(&mut [0u8; 16]).await });
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(!r.is_finished(), "the read waits for data");
    drop(server);
    assert_eq!(code(&t(r).await.unwrap().unwrap_err()), ERROR_BROKEN_PIPE);
}
