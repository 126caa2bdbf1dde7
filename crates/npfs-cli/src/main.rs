//! `npfs`: the command-line face of npfs.
//!
//! - `npfs demo`: a server process and several client processes exchanging message and byte
//!   traffic through named pipes and the auto-started broker;
//! - `npfs daemon`: run the broker (`npfsd`).
//!
//! Started under the name `npfsd` (through a symbolic link), this binary *is* the broker: the
//! demo uses that when no `npfsd` executable has been built, as after
//! `cargo run -p npfs-cli`, which builds this package's binary only.

mod broker;
mod demo;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `npfs <COMMAND>`
#[derive(Debug, Parser)]
#[command(
    name = "npfs",
    version,
    about = "Windows named pipes on Linux: demo and broker launcher"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a server and several client processes over named pipes; exits 0 when every
    /// exchange checked out.
    Demo {
        /// Number of client processes.
        #[arg(long, default_value_t = demo::DEFAULT_CLIENTS,
              value_parser = clap::value_parser!(u32).range(1..=32))]
        clients: u32,
    },
    /// Run the broker, `npfsd` (found like the library finds it: $NPFS_BROKER, next to this
    /// executable, its parent directory, $PATH; else the broker built into `npfs`).
    Daemon {
        /// Stay in the foreground and log to stderr.
        #[arg(long)]
        foreground: bool,
        /// Runtime directory (default: $NPFS_RUNTIME_DIR, else $XDG_RUNTIME_DIR/npfs, else
        /// /tmp/npfs-<uid>).
        #[arg(long)]
        runtime_dir: Option<PathBuf>,
    },
    /// One client process of the demo (started by `npfs demo`).
    #[command(hide = true)]
    DemoClient {
        /// The message pipe's name (the byte pipe's is this plus `-bytes`).
        name: String,
        /// The client's number.
        id: u32,
    },
}

fn main() {
    if broker::invoked_as_broker() {
        std::process::exit(broker::run_builtin_from_args());
    }
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Demo { clients } => demo::run_server(clients),
        Command::DemoClient { name, id } => demo::run_client(&name, id),
        Command::Daemon {
            foreground,
            runtime_dir,
        } => broker::daemon(foreground, runtime_dir),
    };
    std::process::exit(code);
}
