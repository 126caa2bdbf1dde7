//! The client of tokio's named-pipe documentation, on npfs: only the `use` lines differ
//! from tokio's. It retries while every instance is busy (`ERROR_PIPE_BUSY`), then sends
//! one line and prints the echo. (npfs can also wait without a sleep loop:
//! `ClientOptions::open_wait`.)
//!
//! `cargo run --example tokio_client [TEXT]`, with `tokio_server` running.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time;
// was: use tokio::net::windows::named_pipe::ClientOptions;
// was: use windows_sys::Win32::Foundation::ERROR_PIPE_BUSY;
use npfs::tokio::{ClientOptions, ERROR_PIPE_BUSY};

const PIPE_NAME: &str = r"\\.\pipe\named-pipe-idiomatic-server";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let text = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "hello, pipe".into());

    let mut client = loop {
        match ClientOptions::new().open(PIPE_NAME) {
            Ok(client) => break client,
            Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32) => (),
            Err(e) => return Err(e),
        }

        time::sleep(Duration::from_millis(50)).await;
    };

    // Use the connected client.
    client.write_all(text.as_bytes()).await?;
    let mut reply = vec![0u8; text.len()];
    client.read_exact(&mut reply).await?;
    assert_eq!(reply, text.as_bytes());
    println!("{}", String::from_utf8_lossy(&reply));
    Ok(())
}
