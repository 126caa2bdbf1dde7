//! `npfs`: the command-line face of npfs — see, serve, connect to, call and wait on named
//! pipes from the shell, with the conventions of Windows' pipelist, socat and npiperelay.
//!
//! - `npfs list`, `npfs info`: what the broker knows about pipes and their instances;
//! - `npfs serve`: a multi-instance server running a command per connection, or echoing;
//! - `npfs connect`: stdin/stdout bridged to a pipe; `npfs call`: CallNamedPipe;
//!   `npfs wait`: WaitNamedPipe;
//! - `npfs demo`: a server process and several client processes exchanging message and byte
//!   traffic through named pipes and the auto-started broker;
//! - `npfs daemon`: run the broker (`npfsd`);
//! - `npfs bench`: the benchmark suite (`npfs_bench::run_from_args`);
//! - `npfs completions`, `npfs man`: shell completions and the man page, from the same
//!   definitions as `--help`.
//!
//! This binary carries the broker too: run as `npfs npfsd ARGS` (hidden; what the library
//! starts when it finds no `npfsd` executable, as after `cargo install` or `cargo run -p
//! npfs-cli`), or under the name `npfsd`, it *is* the broker.

mod appear;
mod broker;
mod connect;
mod demo;
mod exit;
mod inspect;
mod man;
mod names;
mod out;
mod ready;
mod remote;
mod serve;
mod simple;

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

use crate::names::{parse_client_pipe_name, parse_pipe_name};
use crate::simple::{parse_timeout, Timeout};

/// `npfs <COMMAND>`
#[derive(Debug, Parser)]
#[command(
    name = "npfs",
    version,
    about = "Windows named pipes on Linux: list, inspect, serve, connect to, call and wait on pipes",
    long_about = "Windows named pipes on Linux: list, inspect, serve, connect to, call and wait \
                  on pipes.\n\nA pipe name is NAME or \\\\.\\pipe\\NAME. Pipes are shared by \
                  the processes that use the same runtime directory ($NPFS_RUNTIME_DIR); the \
                  broker (npfsd) is started on first use.",
    after_help = exit::TABLE
)]
pub struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// List every pipe: instances in use / max, type, direction, listening and connected
    /// instances, owner, remote clients.
    #[command(after_help = "Examples:\n  npfs list\n  npfs list --json | jq '.[].name'")]
    List {
        /// Print JSON (an array of objects) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a pipe: GetNamedPipeInfo and the state of each instance.
    #[command(after_help = "Example:\n  npfs info myservice\n\n\
                            Exit status 3 when there is no such pipe.")]
    Info {
        /// The pipe: NAME or \\.\pipe\NAME.
        #[arg(value_parser = parse_pipe_name)]
        name: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Serve a pipe: run CMD for every connection with its stdin and stdout bound to the pipe
    /// (like inetd or socat EXEC), or echo.
    #[command(
        group(clap::ArgGroup::new("action").required(true).args(["echo", "command"])),
        // clap's own line puts the action group before NAME; this is what the parser takes.
        override_usage = "npfs serve [OPTIONS] <NAME> (--echo | -- <CMD> [ARGS]...)",
        after_help = "Examples:\n  npfs serve upper -- tr a-z A-Z\n  \
                      npfs serve --message --instances 8 chat --echo\n  \
                      npfs serve --inbound logsink -- sh -c 'cat >> /tmp/log'\n\n\
                      Each instance serves one client at a time; --instances N are kept \
                      ready. In --message mode each message is one line for CMD, and each line \
                      CMD writes is one message. A zero-length message (npfs connect -s) \
                      closes CMD's stdin. CMD sees $NPFS_PIPE_NAME, $NPFS_CLIENT_PID and $NPFS_CLIENT_COMPUTER (a remote client's address, else empty). \
                      SIGINT or SIGTERM stops the server cleanly (exit status 0).\n\n\
                      Readiness: once the pipe exists and every instance listens, --ready-fd \
                      gets \"READY\\n\" and is closed (end-of-file without it: serve failed), \
                      and when $NOTIFY_SOCKET is set (systemd Type=notify), READY=1 is sent \
                      to it as sd_notify does (STOPPING=1 when a signal stops the server); \
                      CMD does not see $NOTIFY_SOCKET.\n\n\
                      Start, wait until ready, call:\n  \
                      mkfifo ready.fifo\n  \
                      npfs serve chat --message --echo --ready-fd 3 3>ready.fifo &\n  \
                      read -r _ < ready.fifo && npfs call chat hi"
    )]
    Serve {
        /// The pipe: NAME or \\.\pipe\NAME.
        #[arg(value_parser = parse_pipe_name)]
        name: String,
        /// A message pipe (PIPE_TYPE_MESSAGE, PIPE_READMODE_MESSAGE).
        #[arg(long)]
        message: bool,
        /// Instances to keep serving or ready (nMaxInstances).
        #[arg(long, default_value_t = 4, value_name = "N",
              value_parser = clap::value_parser!(u32).range(1..=254))]
        instances: u32,
        /// Clients only write, the server only reads (PIPE_ACCESS_INBOUND).
        #[arg(long, conflicts_with = "outbound")]
        inbound: bool,
        /// The server only writes, clients only read (PIPE_ACCESS_OUTBOUND).
        #[arg(long)]
        outbound: bool,
        /// nInBufferSize: the quota of the client-to-server direction, in bytes.
        #[arg(long, default_value_t = 65536, value_name = "N")]
        in_buffer: u32,
        /// nOutBufferSize: the quota of the server-to-client direction, in bytes.
        #[arg(long, default_value_t = 65536, value_name = "N")]
        out_buffer: u32,
        /// nDefaultTimeOut, in ms: what WaitNamedPipe waits by default (0 = 50 ms).
        #[arg(long, default_value_t = 0, value_name = "MS")]
        timeout: u32,
        /// Refuse remote clients (PIPE_REJECT_REMOTE_CLIENTS; shown by `npfs list`).
        #[arg(long)]
        reject_remote: bool,
        /// The pipe's security descriptor, as SDDL (e.g. `D:(A;;GA;;;SY)(A;;GA;;;OW)(A;;0x12019b;;;AU)`).
        #[arg(long, value_name = "SDDL")]
        sddl: Option<String>,
        /// Echo what each client sends.
        #[arg(long)]
        echo: bool,
        /// Once the pipe exists and every instance listens, write "READY\n" to file
        /// descriptor FD and close it. FD must be open when npfs starts (checked with
        /// fcntl F_GETFD; else status 2); 0, 1, 2 are pointed to /dev/null instead of closed.
        #[arg(long, value_name = "FD", value_parser = clap::value_parser!(u32).range(0..=i32::MAX as i64))]
        ready_fd: Option<u32>,
        /// The command to run for each connection, after `--`.
        #[arg(last = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Bridge stdin and stdout to a pipe, like socat or npiperelay.
    #[command(after_help = "Examples:\n  npfs connect upper\n  \
                            printf 'GET\\n' | npfs connect bytes-service\n  \
                            printf 'a\\nb\\n' | npfs connect --message -s chat\n  \
                            npfs connect -p --wait 5000 -t forever feed < /dev/null\n  \
                            socat EXEC:'npfs connect -p --ep -s agent' UNIX-LISTEN:/tmp/agent.sock\n\n\
                            The session ends when stdin has ended and then the server closed \
                            or disconnected, or the pipe was quiet for the grace time (-t, \
                            0.5 s; in --message mode only with --ei or -t, else the server's \
                            end is waited for, as -s can ask it to); every byte that arrived \
                            is written out first. --ep ends it when the server closes or \
                            disconnects, even if stdin has more. A closed stdout ends it at \
                            once (status 0). In --message mode each line is one message and \
                            each message is printed as a line.\n\n\
                            Exit status 1 when the server went away before all of stdin was \
                            sent (ERROR_NO_DATA, ERROR_BROKEN_PIPE or ERROR_PIPE_NOT_CONNECTED; \
                            the message says how many bytes were sent), unless --ep; 3, 4, 5 as for a missing pipe, a busy \
                            one, a time-out.")]
    Connect {
        /// The pipe: NAME, \\.\pipe\NAME or a remote \\HOST\pipe\NAME (over SMB).
        #[arg(value_parser = parse_client_pipe_name)]
        name: String,
        /// Message read mode: lines are messages.
        #[arg(long)]
        message: bool,
        /// When every instance is busy, wait for one (WaitNamedPipe): ms, `default` (the
        /// pipe's nDefaultTimeOut) or `forever`. With -p it bounds the wait for the pipe too.
        #[arg(long, value_parser = parse_timeout, value_name = "MS")]
        wait: Option<Timeout>,
        /// Wait until the pipe exists, then for a free instance, within --wait (without
        /// --wait: forever).
        #[arg(short = 'p')]
        poll: bool,
        /// Send a zero-length message when stdin ends.
        #[arg(short = 's')]
        send_zero: bool,
        /// Grace time: after stdin's end, end the session once the pipe has been quiet this
        /// long: seconds (e.g. 0.5, 2) or `forever` (wait for the server's end) [default:
        /// 0.5, in --message mode without --ei: forever].
        #[arg(short = 't', long = "grace", value_parser = connect::parse_grace,
              value_name = "SECONDS")]
        grace: Option<connect::Grace>,
        /// End the session when the server closes or disconnects, even if stdin has more.
        #[arg(long = "ep")]
        exit_on_pipe_eof: bool,
        /// After stdin's end, end the session once the pipe has been quiet for the grace time
        /// (-t), in --message mode too (in byte mode that is the default).
        #[arg(long = "ei")]
        exit_on_stdin_eof: bool,
    },
    /// Send one message and print the reply (CallNamedPipe).
    #[command(after_help = "Examples:\n  npfs call chat hello\n  \
                            npfs call chat hello --timeout 5000 --reply-size 16\n  \
                            npfs serve chat --message --echo & npfs call -p chat hi --timeout 10000\n\n\
                            Without -p a missing pipe fails at once (status 3). With -p the \
                            call waits until the pipe exists, then for a free instance, all \
                            within --timeout (`default`, `forever`: no limit on the wait for \
                            the pipe to exist; after it, `default` is the pipe's \
                            nDefaultTimeOut). Exit status 5 when the time-out passes, 6 \
                            (ERROR_MORE_DATA) when the reply was longer than --reply-size: \
                            what fit is printed, the rest is lost.")]
    Call {
        /// The pipe (a message pipe): NAME, \\.\pipe\NAME or a remote \\HOST\pipe\NAME.
        #[arg(value_parser = parse_client_pipe_name)]
        name: String,
        /// The message.
        message: String,
        /// How long to wait (for a free instance; with -p, for the pipe to exist too): ms,
        /// `default` (the pipe's nDefaultTimeOut) or `forever`.
        #[arg(long, default_value = "default", value_parser = parse_timeout, value_name = "MS")]
        timeout: Timeout,
        /// Wait until the pipe exists (within --timeout), then call.
        #[arg(short = 'p')]
        poll: bool,
        /// The reply buffer, in bytes.
        #[arg(long, default_value_t = 65536, value_name = "N",
              value_parser = clap::value_parser!(u32).range(1..=(1 << 24)))]
        reply_size: u32,
    },
    /// Wait until an instance of the pipe listens (WaitNamedPipe); the exit status tells.
    #[command(
        after_help = "Examples:\n  npfs wait chat --timeout 2000 && npfs call chat hi\n  \
                            npfs serve chat --echo & npfs wait -p chat --timeout 10000 && npfs call chat hi\n\n\
                            Exit status 0: an instance is listening; 3: no such pipe (at once, \
                            as WaitNamedPipe does; -p waits for it instead); 5: timed out. \
                            With -p the wait for the pipe to exist and the wait for a \
                            listening instance share --timeout (`default`, `forever`: no \
                            limit on the first; after it, `default` is the pipe's \
                            nDefaultTimeOut)."
    )]
    Wait {
        /// The pipe: NAME, \\.\pipe\NAME or a remote \\HOST\pipe\NAME (over SMB).
        #[arg(value_parser = parse_client_pipe_name)]
        name: String,
        /// ms, `default` (the pipe's nDefaultTimeOut) or `forever`.
        #[arg(long, default_value = "default", value_parser = parse_timeout, value_name = "MS")]
        timeout: Timeout,
        /// Wait until the pipe exists (within --timeout), then until an instance listens.
        #[arg(short = 'p')]
        poll: bool,
    },
    /// Run a server and several client processes over named pipes; exits 0 when every
    /// exchange checked out.
    #[command(after_help = "Example:\n  npfs demo --clients 8")]
    Demo {
        /// Number of client processes.
        #[arg(long, default_value_t = demo::DEFAULT_CLIENTS,
              value_parser = clap::value_parser!(u32).range(1..=32))]
        clients: u32,
    },
    /// Run the broker, `npfsd` (found like the library finds it: $NPFS_BROKER, next to this
    /// executable, its parent directory, $PATH; else the broker built into `npfs`).
    #[command(after_help = "Example:\n  RUST_LOG=debug npfs daemon --foreground")]
    Daemon {
        /// Stay in the foreground and log to stderr.
        #[arg(long)]
        foreground: bool,
        /// The machine-wide broker shared between users (root; under /run/npfs).
        #[arg(long)]
        system: bool,
        /// Runtime directory (default: $NPFS_RUNTIME_DIR, else $XDG_RUNTIME_DIR/npfs, else
        /// /tmp/npfs-<uid>).
        #[arg(long)]
        runtime_dir: Option<PathBuf>,
        /// With --system: serve remote clients through Samba's smbd, listening in its socket
        /// directory DIR (`<ncalrpc dir>/np`; Debian: /run/samba/ncalrpc/np). Default:
        /// $NPFS_SAMBA_NP_DIR.
        #[arg(long, value_name = "DIR")]
        samba_np_dir: Option<PathBuf>,
    },
    /// Run the benchmark suite (npfs beside AF_UNIX, pipe(2) and Wine); every argument after
    /// `bench` goes to it (`npfs bench --help` for its options).
    #[command(
        disable_help_flag = true,
        after_help = "Examples:\n  npfs bench\n  npfs bench --help"
    )]
    Bench {
        /// The benchmark suite's arguments.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "ARGS"
        )]
        args: Vec<String>,
    },
    /// Print shell completions.
    #[command(
        after_help = "Example:\n  npfs completions bash > ~/.local/share/bash-completion/completions/npfs"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    #[command(after_help = "Example:\n  npfs man | man -l -")]
    Man,
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
    if let Some(args) = broker::broker_invocation() {
        std::process::exit(broker::run_builtin(args));
    }
    broker::register_builtin();
    let cli = Cli::parse();
    let code = match cli.command {
        Cmd::Demo { clients } => demo::run_server(clients),
        Cmd::DemoClient { name, id } => demo::run_client(&name, id),
        Cmd::Daemon {
            foreground,
            system,
            runtime_dir,
            samba_np_dir,
        } => broker::daemon(foreground, system, runtime_dir, samba_np_dir),
        Cmd::Completions { shell } => {
            // Into memory first: clap_complete panics when its writer fails.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "npfs", &mut script);
            out::print(script)
        }
        Cmd::Man => man::print(),
        Cmd::Bench { args } => npfs_bench::run_from_args(args),
        Cmd::List { json } => inspect::list(json),
        Cmd::Info { name, json } => inspect::info(&name, json),
        Cmd::Serve {
            name,
            message,
            instances,
            inbound,
            outbound,
            in_buffer,
            out_buffer,
            timeout,
            reject_remote,
            sddl,
            echo,
            command,
            ready_fd,
        } => serve::run(serve::ServeArgs {
            sddl,
            name,
            message,
            instances,
            inbound,
            outbound,
            in_buffer,
            out_buffer,
            timeout,
            reject_remote,
            echo,
            command,
            ready_fd,
        }),
        Cmd::Connect {
            name,
            message,
            wait,
            poll,
            send_zero,
            grace,
            exit_on_pipe_eof,
            exit_on_stdin_eof,
        } => connect::run(connect::ConnectArgs {
            name,
            message,
            wait,
            poll,
            send_zero,
            exit_on_pipe_eof,
            exit_on_stdin_eof,
            grace,
        }),
        Cmd::Call {
            name,
            message,
            timeout,
            reply_size,
            poll,
        } => simple::call(&name, &message, timeout, reply_size as usize, poll),
        Cmd::Wait {
            name,
            timeout,
            poll,
        } => simple::wait(&name, timeout, poll),
    };
    std::process::exit(code);
}
