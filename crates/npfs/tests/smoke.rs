//! Smoke test of the blocking API in one process.
use npfs::consts::*;
use npfs::{PipeClient, ServerOptions, Win32Error};

#[test]
fn round_trip() {
    let dir = std::env::temp_dir().join(format!("npfs-smoke-{}", std::process::id()));
    std::env::set_var("NPFS_RUNTIME_DIR", &dir);
    let name = r"\\.\pipe\smoke";
    let server = ServerOptions::new()
        .message_type(true)
        .message_read_mode(true)
        .create(name)
        .unwrap();
    let client = PipeClient::open(name, GENERIC_READ | GENERIC_WRITE).unwrap();
    // Windows: ERROR_PIPE_CONNECTED. The broker's push of the connection to the server can
    // still be in flight when the client's open returns (docs/DEVIATIONS.md), so a connect
    // right after may see it arrive instead: both mean "connected".
    let c = server.connect();
    assert!(c == Err(Win32Error::PIPE_CONNECTED) || c == Ok(()), "{c:?}");
    assert_eq!(client.write(b"hello world").unwrap(), 11);
    let mut buf = [0u8; 4];
    let r = server.read(&mut buf).unwrap();
    assert!(r.more_data);
    let mut buf = [0u8; 32];
    let r = server.read(&mut buf).unwrap();
    assert_eq!(&buf[..r.len], b"o world");
    server.write(b"reply").unwrap();
    let r = client.read(&mut buf).unwrap();
    assert_eq!(&buf[..r.len], b"reply");
    drop(client);
    assert_eq!(server.write(b"x"), Err(Win32Error::NO_DATA));
    assert_eq!(server.read(&mut buf), Err(Win32Error::BROKEN_PIPE));
    server.disconnect().unwrap();
}
