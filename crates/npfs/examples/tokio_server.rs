//! The accept loop of tokio's named-pipe documentation, on npfs: only the `use` line differs
//! from tokio's. The first instance exists before any client can look for it, and the next
//! instance is created *before* a connected one is handed to its task, so a client never
//! finds the pipe missing. Each connection is an echo service (bytes back until the client
//! closes).
//!
//! `cargo run --example tokio_server [N]` serves N clients (default: forever), then exits.

use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
// was: use tokio::net::windows::named_pipe::ServerOptions;
use npfs::tokio::ServerOptions;

const PIPE_NAME: &str = r"\\.\pipe\named-pipe-idiomatic-server";

#[tokio::main]
async fn main() -> io::Result<()> {
    let limit: Option<usize> = std::env::args().nth(1).and_then(|a| a.parse().ok());

    // The first server needs to be constructed early so that clients can be correctly
    // connected. `first_pipe_instance` makes sure no other server is up already.
    let mut server = ServerOptions::new()
        .first_pipe_instance(true)
        .create(PIPE_NAME)?;
    println!("listening");

    // Spawn the server loop.
    let server = tokio::spawn(async move {
        let mut served = 0usize;
        let mut tasks = Vec::new();
        loop {
            // Wait for a client to connect.
            server.connect().await?;
            let mut connected_client = server;

            // Construct the next server to be connected before sending the one we already
            // have off onto a task. This ensures that the server isn't closed (after it's
            // done in the task) before a new one is available.
            server = ServerOptions::new().create(PIPE_NAME)?;

            tasks.push(tokio::spawn(async move {
                // Use the connected client: echo until it closes.
                let mut buf = vec![0u8; 4096];
                loop {
                    let n = connected_client.read(&mut buf).await?;
                    if n == 0 {
                        break;
                    }
                    connected_client.write_all(&buf[..n]).await?;
                }
                Ok::<_, io::Error>(())
            }));
            served += 1;
            if limit.is_some_and(|l| served >= l) {
                break;
            }
        }
        for t in tasks {
            t.await.map_err(io::Error::other)??;
        }
        Ok::<_, io::Error>(())
    });

    server.await.map_err(io::Error::other)??;
    println!("served");
    Ok(())
}
