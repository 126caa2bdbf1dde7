//! Child process of the cross-process conformance tests (`tests/processes.rs`).
//!
//! `npfs-test-child SUBCOMMAND ARGS...`; it talks to the parent's broker through the inherited
//! `NPFS_RUNTIME_DIR`. Results are printed on stdout, one line each; the exit code is 0 on
//! success. Subcommands:
//!
//! - `client-echo NAME N`: open NAME, then N times read one message (byte read of up to 64 KiB)
//!   and write it back; print `done`.
//! - `client-msg-echo NAME N`: same in message read mode.
//! - `write-then-exit NAME N`: open NAME, write N bytes (`i % 251`), exit at once.
//! - `write-then-hold NAME N`: open NAME, write N bytes, print `wrote`, sleep until killed.
//! - `hold-and-sleep NAME`: open NAME, print `ready`, sleep until killed.
//! - `server-write-hold NAME N`: create a byte pipe NAME (1 instance), print `ready`, wait for a
//!   client, write N bytes, print `wrote`, sleep until killed.
//! - `server-echo NAME N`: create a message pipe NAME (message read mode, 1 instance), print
//!   `ready`, then N times: connect, read one message, write it back, flush, disconnect.
//! - `pids NAME`: open NAME and print `<own pid> <client_process_id> <server_process_id>`;
//!   also send that line through the pipe, then wait for the server to close.
//! - `flags-write-then-hold NAME HEXFLAGS N`: open with CreateFile flags (SQOS), write N
//!   bytes, print `wrote`, hold the handle.
//! - `inherited-server-echo`: take the server end from `$NPFS_TEST_TOKEN`, read one message,
//!   write it back upper-cased, exit.
//! - `inherited-write N`: take the client end from `$NPFS_TEST_TOKEN`, print `start`, write N
//!   bytes (this may block on quota), print `written`, sleep until killed.
//! - `call NAME TEXT`: CallNamedPipe(NAME, TEXT, 64-byte reply, wait forever); print the reply.
//! - `wait NAME MS`: WaitNamedPipe(NAME, MS); print `ok` or the error code.
//! - `open NAME`: open NAME; print `ok` or the error code.

use std::time::Duration;

use npfs::consts::*;
use npfs::{PipeClient, ServerOptions, Win32Error};

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn open_retry(name: &str) -> PipeClient {
    let start = std::time::Instant::now();
    loop {
        match PipeClient::open_duplex(name) {
            Ok(c) => return c,
            Err(e)
                if (e == Win32Error::FILE_NOT_FOUND || e == Win32Error::PIPE_BUSY)
                    && start.elapsed() < Duration::from_secs(10) =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => fail(&format!("open {name}: {e:?}")),
        }
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("npfs-test-child: {msg}");
    std::process::exit(2)
}

fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn sleep_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn code(r: Result<(), Win32Error>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => e.0.to_string(),
    }
}

fn echo(name: &str, n: usize, message_mode: bool) {
    let c = open_retry(name);
    if message_mode {
        c.set_handle_mode(PIPE_READMODE_MESSAGE)
            .unwrap_or_else(|e| fail(&format!("set mode: {e:?}")));
    }
    let mut buf = vec![0u8; 65536];
    for _ in 0..n {
        let r = c
            .read(&mut buf)
            .unwrap_or_else(|e| fail(&format!("read: {e:?}")));
        c.write(&buf[..r.len])
            .unwrap_or_else(|e| fail(&format!("write: {e:?}")));
    }
    c.flush().unwrap_or_else(|e| fail(&format!("flush: {e:?}")));
    say("done");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> &str {
        args.get(i)
            .map(String::as_str)
            .unwrap_or_else(|| fail("missing argument"))
    };
    let num = |i: usize| -> usize { arg(i).parse().unwrap_or_else(|_| fail("bad number")) };
    match arg(0) {
        "client-echo" => echo(arg(1), num(2), false),
        "client-msg-echo" => echo(arg(1), num(2), true),
        "write-then-exit" => {
            let c = open_retry(arg(1));
            c.write(&pattern(num(2)))
                .unwrap_or_else(|e| fail(&format!("write: {e:?}")));
        }
        "flags-write-then-hold" => {
            // Open with CreateFile's dwFlagsAndAttributes (SQOS bits), write N bytes, hold.
            let flags = u32::from_str_radix(arg(2).trim_start_matches("0x"), 16).unwrap_or(0);
            let c = npfs::PipeClient::open_with_flags(arg(1), GENERIC_READ | GENERIC_WRITE, flags)
                .unwrap_or_else(|e| fail(&format!("open: {e:?}")));
            c.write(&pattern(num(3)))
                .unwrap_or_else(|e| fail(&format!("write: {e:?}")));
            say("wrote");
            let _keep = c;
            sleep_forever();
        }
        "write-then-hold" => {
            let c = open_retry(arg(1));
            c.write(&pattern(num(2)))
                .unwrap_or_else(|e| fail(&format!("write: {e:?}")));
            say("wrote");
            let _keep = c;
            sleep_forever();
        }
        "hold-and-sleep" => {
            let c = open_retry(arg(1));
            say("ready");
            let _keep = c;
            sleep_forever();
        }
        "server-write-hold" => {
            let s = ServerOptions::from_raw(PIPE_ACCESS_DUPLEX, 0, 1, 4096, 4096, 0)
                .create(arg(1))
                .unwrap_or_else(|e| fail(&format!("create: {e:?}")));
            say("ready");
            match s.connect() {
                Ok(()) => {}
                Err(e) if e == Win32Error::PIPE_CONNECTED => {}
                Err(e) => fail(&format!("connect: {e:?}")),
            }
            s.write(&pattern(num(2)))
                .unwrap_or_else(|e| fail(&format!("write: {e:?}")));
            say("wrote");
            let _keep = s;
            sleep_forever();
        }
        "server-echo" => {
            let s = ServerOptions::from_raw(
                PIPE_ACCESS_DUPLEX,
                PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE,
                1,
                4096,
                4096,
                0,
            )
            .create(arg(1))
            .unwrap_or_else(|e| fail(&format!("create: {e:?}")));
            say("ready");
            let mut buf = vec![0u8; 65536];
            for _ in 0..num(2) {
                match s.connect() {
                    Ok(()) => {}
                    Err(e) if e == Win32Error::PIPE_CONNECTED => {}
                    Err(e) => fail(&format!("connect: {e:?}")),
                }
                let r = s
                    .read(&mut buf)
                    .unwrap_or_else(|e| fail(&format!("read: {e:?}")));
                s.write(&buf[..r.len])
                    .unwrap_or_else(|e| fail(&format!("write: {e:?}")));
                // The reader may already have closed (CallNamedPipe closes after its reply).
                let _ = s.flush();
                s.disconnect()
                    .unwrap_or_else(|e| fail(&format!("disconnect: {e:?}")));
            }
            say("done");
        }
        "pids" => {
            let c = open_retry(arg(1));
            let line = format!(
                "{} {} {}",
                std::process::id(),
                c.client_process_id()
                    .unwrap_or_else(|e| fail(&format!("client pid: {e:?}"))),
                c.server_process_id()
                    .unwrap_or_else(|e| fail(&format!("server pid: {e:?}")))
            );
            say(&line);
            c.write(line.as_bytes())
                .unwrap_or_else(|e| fail(&format!("write: {e:?}")));
            let mut b = [0u8; 1];
            let _ = c.read(&mut b);
        }
        "inherited-write" => {
            let token = std::env::var("NPFS_TEST_TOKEN").unwrap_or_else(|_| fail("no token"));
            // SAFETY: the parent test made this token for this child and passed the
            // descriptors it names across exec; nothing else here owns them.
            let c = unsafe { PipeClient::from_inherited(&token) }
                .unwrap_or_else(|e| fail(&format!("from_inherited: {e:?}")));
            say("start");
            c.write(&pattern(num(1)))
                .unwrap_or_else(|e| fail(&format!("write: {e:?}")));
            say("written");
            let _keep = c;
            sleep_forever();
        }
        "inherited-server-echo" => {
            let token = std::env::var("NPFS_TEST_TOKEN").unwrap_or_else(|_| fail("no token"));
            // SAFETY: as above.
            let h = unsafe { npfs::PipeHandle::from_inherited(&token) }
                .unwrap_or_else(|e| fail(&format!("from_inherited: {e:?}")));
            say("start");
            let mut b = [0u8; 64];
            let r = h
                .read(&mut b)
                .unwrap_or_else(|e| fail(&format!("read: {e:?}")));
            let reply = b[..r.len].to_ascii_uppercase();
            h.write(&reply)
                .unwrap_or_else(|e| fail(&format!("write: {e:?}")));
            say("echoed");
        }
        "call" => {
            let mut reply = [0u8; 64];
            match npfs::call_named_pipe(arg(1), arg(2).as_bytes(), &mut reply, NMPWAIT_WAIT_FOREVER)
            {
                Ok(r) => say(&String::from_utf8_lossy(&reply[..r.len])),
                Err(e) => say(&format!("error {}", e.0)),
            }
        }
        "wait" => say(&code(npfs::wait_named_pipe(arg(1), num(2) as u32))),
        "open" => say(&code(PipeClient::open_duplex(arg(1)).map(drop))),
        other => fail(&format!("unknown subcommand {other}")),
    }
}
