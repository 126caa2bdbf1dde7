//! A program of someone else's, in its own cargo project, using npfs the way tokio's Windows
//! named pipes are used: `downstream server NAME` answers one client in upper case,
//! `downstream client NAME TEXT` sends TEXT and prints the answer.

use std::time::Duration;

use npfs::tokio::{ClientOptions, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (role, name) = match (args.get(1), args.get(2)) {
        (Some(r), Some(n)) => (r.as_str(), format!(r"\\.\pipe\{n}")),
        _ => {
            eprintln!("usage: downstream server NAME | downstream client NAME TEXT");
            std::process::exit(2);
        }
    };
    match role {
        "server" => {
            let mut server = ServerOptions::new()
                .first_pipe_instance(true)
                .create(&name)?;
            println!("listening on {name}");
            server.connect().await?;
            let mut buf = vec![0u8; 256];
            let n = server.read(&mut buf).await?;
            let answer = buf[..n].to_ascii_uppercase();
            server.write_all(&answer).await?;
            server.flush().await?;
            // Keep the instance until the client has read the answer and closed its end.
            let _ = tokio::time::timeout(Duration::from_secs(10), server.read(&mut buf)).await;
            Ok(())
        }
        "client" => {
            let text = args.get(3).cloned().unwrap_or_default();
            let mut client = loop {
                match ClientOptions::new().open(&name) {
                    Ok(c) => break c,
                    // ERROR_FILE_NOT_FOUND: the server has not created the pipe yet.
                    Err(e) if e.raw_os_error() == Some(2) => {
                        tokio::time::sleep(Duration::from_millis(20)).await
                    }
                    Err(e) => return Err(e),
                }
            };
            client.write_all(text.as_bytes()).await?;
            let mut buf = vec![0u8; 256];
            let n = client.read(&mut buf).await?;
            println!("answer: {}", String::from_utf8_lossy(&buf[..n]));
            Ok(())
        }
        _ => {
            eprintln!("unknown role {role}");
            std::process::exit(2);
        }
    }
}
