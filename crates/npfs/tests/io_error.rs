//! The one `io::Error` form of both Rust APIs: real failures (a missing pipe, every instance
//! busy, a read after the other end closed, ...) through the blocking API turned into an
//! `io::Error` and through `npfs::tokio`, checked by `kind()`, Display, `Win32ErrorExt` and
//! `raw_os_error()`; errors that carry a real errno are never taken for Win32 codes.
#![cfg(feature = "tokio")]

mod tokio_common;

use std::io::{self, ErrorKind, Write};
use std::time::Duration;

use npfs::tokio::{ClientOptions, ServerOptions, ERROR_PIPE_BUSY};
use npfs::{PipeClient, Win32Error, Win32ErrorExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_common::*;

/// `e` is the Win32 error `w`, with `kind` and the Display `text`.
#[track_caller]
fn check(e: &io::Error, w: Win32Error, kind: ErrorKind, text: &str) {
    assert_eq!(e.kind(), kind, "{e:?}");
    assert_eq!(e.to_string(), text);
    assert_eq!(e.win32_error(), Some(w), "{e:?}");
    assert_eq!(npfs::tokio::win32_error(e), Some(w));
    assert_eq!(e.raw_win32_error(), Some(w.0 as i32));
    // On Linux raw_os_error() is an errno: a Win32 code is never put there.
    assert_eq!(e.raw_os_error(), None);
}

/// The blocking API's error as its callers get it with `?` in an `io::Result` function.
#[track_caller]
fn blocking<T>(r: npfs::Result<T>) -> io::Error {
    fn via_question_mark<T>(r: npfs::Result<T>) -> io::Result<T> {
        Ok(r?)
    }
    via_question_mark(r).err().expect("the call failed")
}

const NOT_FOUND: &str = "ERROR_FILE_NOT_FOUND (2): no pipe of that name exists";
const BUSY: &str = "ERROR_PIPE_BUSY (231): all pipe instances are busy";
const BROKEN: &str = "ERROR_BROKEN_PIPE (109): the other end of the pipe was closed";
const NO_DATA: &str =
    "ERROR_NO_DATA (232): the pipe is being closed (or has no data in nowait mode)";

#[tokio::test]
async fn missing_pipe() {
    let name = pipe_name("io-missing");
    let (w, k) = (Win32Error::FILE_NOT_FOUND, ErrorKind::NotFound);
    check(&blocking(PipeClient::open_duplex(&name)), w, k, NOT_FOUND);
    check(
        &ClientOptions::new().open(&name).unwrap_err(),
        w,
        k,
        NOT_FOUND,
    );
    let e = t(npfs::tokio::wait_named_pipe(&name, Duration::from_secs(5)))
        .await
        .unwrap_err();
    check(&e, w, k, NOT_FOUND);
}

#[tokio::test]
async fn every_instance_busy() {
    let name = pipe_name("io-busy");
    let _server = ServerOptions::new().max_instances(1).create(&name).unwrap();
    let _client = ClientOptions::new().open(&name).unwrap();
    let (w, k) = (Win32Error::PIPE_BUSY, ErrorKind::WouldBlock);
    check(&blocking(PipeClient::open_duplex(&name)), w, k, BUSY);
    let e = ClientOptions::new().open(&name).unwrap_err();
    check(&e, w, k, BUSY);
    // The retry of tokio's documentation, ported: raw_os_error() became raw_win32_error().
    let busy = matches!(ClientOptions::new().open(&name),
        Err(e) if e.raw_win32_error() == Some(ERROR_PIPE_BUSY as i32));
    assert!(busy);
    // A second instance beyond the limit: ERROR_PIPE_BUSY at create, in both APIs.
    check(&ServerOptions::new().create(&name).unwrap_err(), w, k, BUSY);
    check(
        &blocking(npfs::ServerOptions::new().create(&name)),
        w,
        k,
        BUSY,
    );
    // WaitNamedPipe on the busy pipe times out: ERROR_SEM_TIMEOUT, TimedOut.
    let text = "ERROR_SEM_TIMEOUT (121): the wait timed out";
    let (w, k) = (Win32Error::SEM_TIMEOUT, ErrorKind::TimedOut);
    check(&blocking(npfs::wait_named_pipe(&name, 20)), w, k, text);
    let e = t(npfs::tokio::wait_named_pipe(
        &name,
        Duration::from_millis(20),
    ))
    .await
    .unwrap_err();
    check(&e, w, k, text);
}

#[tokio::test]
async fn other_end_closed() {
    // Blocking (an anonymous pipe: read end, write end): a read after the writer closed, a
    // write after the reader closed, as calls and through std::io::Write.
    let (reader, writer) = npfs::create_pipe(4096).unwrap();
    drop(writer);
    let mut buf = [0u8; 8];
    let broken = (Win32Error::BROKEN_PIPE, ErrorKind::BrokenPipe);
    check(&blocking(reader.read(&mut buf)), broken.0, broken.1, BROKEN);
    let (reader, writer) = npfs::create_pipe(4096).unwrap();
    drop(reader);
    let no_data = (Win32Error::NO_DATA, ErrorKind::BrokenPipe);
    check(
        &blocking(npfs::PipeHandle::write(&writer, b"x")),
        no_data.0,
        no_data.1,
        NO_DATA,
    );
    let e = Write::write(&mut &*writer, b"x").unwrap_err();
    check(&e, no_data.0, no_data.1, NO_DATA);

    // npfs::tokio: the same errors, in the same form.
    let name = pipe_name("io-closed");
    let mut server = ServerOptions::new().create(&name).unwrap();
    let client = ClientOptions::new().open(&name).unwrap();
    t(server.connect()).await.unwrap();
    drop(client);
    let e = t(server.recv_msg(&mut buf)).await.unwrap_err();
    check(&e, broken.0, broken.1, BROKEN);
    // A stream read reports end of stream instead, as tokio's on Windows.
    assert_eq!(t(server.read(&mut buf)).await.unwrap(), 0);
    let e = t(server.write_all(b"x")).await.unwrap_err();
    check(&e, no_data.0, no_data.1, NO_DATA);
}

#[tokio::test]
async fn more_kinds() {
    // first_pipe_instance on an existing pipe: ERROR_ACCESS_DENIED, PermissionDenied.
    let name = pipe_name("io-first");
    let _first = ServerOptions::new().create(&name).unwrap();
    let text = "ERROR_ACCESS_DENIED (5): access is denied";
    let (w, k) = (Win32Error::ACCESS_DENIED, ErrorKind::PermissionDenied);
    let e = ServerOptions::new()
        .first_pipe_instance(true)
        .create(&name)
        .unwrap_err();
    check(&e, w, k, text);
    let e = blocking(
        npfs::ServerOptions::new()
            .first_pipe_instance(true)
            .create(&name),
    );
    check(&e, w, k, text);

    // The server disconnected: ERROR_PIPE_NOT_CONNECTED, NotConnected.
    let name = pipe_name("io-disc");
    let server = ServerOptions::new().create(&name).unwrap();
    let client = ClientOptions::new().open(&name).unwrap();
    t(server.connect()).await.unwrap();
    server.disconnect().unwrap();
    let text = "ERROR_PIPE_NOT_CONNECTED (233): no process is on the other end of the pipe";
    let (w, k) = (Win32Error::PIPE_NOT_CONNECTED, ErrorKind::NotConnected);
    check(&client.try_write(b"x").unwrap_err(), w, k, text);
    check(&blocking(client.as_blocking().write(b"x")), w, k, text);
    check(&server.disconnect().unwrap_err(), w, k, text);

    // Not a pipe name: ERROR_INVALID_NAME, InvalidInput (read as an errno, 123 would be
    // "No medium found").
    let text = "ERROR_INVALID_NAME (123): the pipe name is not valid";
    let (w, k) = (Win32Error::INVALID_NAME, ErrorKind::InvalidInput);
    let bad = r"\\.\nopipe\x";
    check(&ClientOptions::new().open(bad).unwrap_err(), w, k, text);
    check(&ServerOptions::new().create(bad).unwrap_err(), w, k, text);
    check(&blocking(PipeClient::open_duplex(bad)), w, k, text);
}

#[tokio::test]
async fn errnos_are_not_win32_codes() {
    // A system call failing inside tokio: a regular file cannot join the reactor (EPERM, 1,
    // which is also ERROR_INVALID_FUNCTION's number).
    let path = std::env::temp_dir().join(format!("npfs-io-error-{}", std::process::id()));
    let file = std::fs::File::create(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    // SAFETY: `file` stays open for as long as the AsyncFd (which is never made) would live.
    let r = unsafe { tokio::io::unix::AsyncFd::register(file) };
    let Err(e) = r.map_err(io::Error::from) else {
        panic!("a regular file is not pollable");
    };
    assert_eq!(e.raw_os_error(), Some(libc::EPERM));
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert_eq!(e.win32_error(), None);
    assert_eq!(npfs::tokio::win32_error(&e), None);
    assert_eq!(e.raw_win32_error(), None);
    // ENOENT is 2, as ERROR_FILE_NOT_FOUND is: still an errno.
    let e = std::fs::File::open("/nonexistent/npfs-io-error").unwrap_err();
    assert_eq!((e.raw_os_error(), e.win32_error()), (Some(2), None));
    // Raw numbers are errnos whatever their value, also wrapped in another io::Error.
    for n in [2, 109, 231, 232, 233] {
        assert_eq!(io::Error::from_raw_os_error(n).win32_error(), None);
        let wrapped = io::Error::other(io::Error::from_raw_os_error(n));
        assert_eq!(wrapped.win32_error(), None);
    }
    // The WouldBlock of a try_read is a plain kind, not a Win32 error.
    let name = pipe_name("io-try");
    let server = ServerOptions::new().create(&name).unwrap();
    let client = ClientOptions::new().open(&name).unwrap();
    t(server.connect()).await.unwrap();
    let e = client.try_read(&mut [0u8; 4]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    assert_eq!(e.win32_error(), None);
    // A Win32 error wrapped in another io::Error is still found.
    let e = ClientOptions::new().open(pipe_name("io-gone")).unwrap_err();
    let wrapped = io::Error::new(ErrorKind::NotFound, e);
    assert_eq!(wrapped.win32_error(), Some(Win32Error::FILE_NOT_FOUND));
}
