//! The `npfs` command, run as a real binary: every test has its own runtime directory (its
//! own broker), passed to every process it starts; every wait is bounded.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const NPFS: &str = env!("CARGO_BIN_EXE_npfs");
/// Limit of any one wait in these tests.
const LIMIT: Duration = Duration::from_secs(30);

/// A test's runtime directory; kills what it started on drop.
struct Env {
    dir: tempfile::TempDir,
    servers: Vec<Child>,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
            servers: Vec::new(),
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(NPFS);
        c.env("NPFS_RUNTIME_DIR", self.dir.path())
            .env("NPFS_IDLE_EXIT_MS", "2000")
            .stdin(Stdio::null());
        c
    }

    /// Run `npfs ARGS` to completion (bounded), with `input` on stdin.
    fn run(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .cmd()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn npfs");
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = wait_output(child, LIMIT);
        feeder.join().unwrap();
        out
    }

    /// Run `npfs ARGS` to completion (bounded), with `input` on stdin and a stdout whose
    /// reader is gone before the command starts (as after `| head -c 0`).
    fn run_closed_stdout(&self, args: &[&str], input: &[u8]) -> Output {
        let (reader, writer) = rustix::pipe::pipe().expect("pipe");
        drop(reader);
        let mut child = self
            .cmd()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn npfs");
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let mut err = child.stderr.take().unwrap();
        let r_err = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = err.read_to_end(&mut v);
            v
        });
        let status = wait_status(&mut child, LIMIT);
        feeder.join().unwrap();
        Output {
            status,
            stdout: Vec::new(),
            stderr: r_err.join().unwrap(),
        }
    }

    /// Start `npfs serve ARGS` and wait until its pipe has a listening instance.
    fn serve(&mut self, name: &str, args: &[&str]) -> usize {
        let child = self
            .cmd()
            .arg("serve")
            .arg(name)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn npfs serve");
        self.servers.push(child);
        let deadline = Instant::now() + LIMIT;
        loop {
            let out = self.run(&["wait", name, "--timeout", "500"], b"");
            if out.status.success() {
                return self.servers.len() - 1;
            }
            assert!(Instant::now() < deadline, "{name} never listened");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM the server; its exit status and stderr.
    fn stop(&mut self, i: usize) -> (Option<i32>, String) {
        let child = &mut self.servers[i];
        // SAFETY: kill(2) on our own, unreaped child.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < deadline, "serve did not stop");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        (status.code(), err)
    }

    fn list_json(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["list", "--json"], b"");
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .expect("list --json is JSON")
            .as_array()
            .expect("an array")
            .clone()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for c in &mut self.servers {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Wait (bounded) for a child; kill it and fail when it overruns `limit`.
fn wait_status(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("npfs did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Wait (bounded) for a child that has piped stdout/stderr, reading both meanwhile.
fn wait_output(mut child: Child, limit: Duration) -> Output {
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let r_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let r_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("npfs did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        status,
        stdout: r_out.join().unwrap(),
        stderr: r_err.join().unwrap(),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn unique(tag: &str) -> String {
    format!("npfs-cli-test-{tag}-{}", std::process::id())
}

#[test]
fn list_and_info_show_live_pipes() {
    let mut env = Env::new();
    let m = unique("list-m");
    let b = unique("list-b");
    env.serve(&m, &["--message", "--instances", "3", "--echo"]);
    env.serve(
        &b,
        &[
            "--instances",
            "2",
            "--inbound",
            "--reject-remote",
            "--",
            "cat",
        ],
    );
    // Hold a connection to the message pipe, so one instance is CONNECTED.
    let mut holder = env
        .cmd()
        .args(["connect", &m, "--message", "--ei"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut hin = holder.stdin.take().unwrap();
    hin.write_all(b"ping\n").unwrap();
    let mut line = [0u8; 5];
    holder
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut line)
        .unwrap();
    assert_eq!(&line, b"ping\n");

    let pipes = env.list_json();
    let full_m = format!(r"\\.\pipe\{m}");
    let full_b = format!(r"\\.\pipe\{b}");
    let pm = pipes
        .iter()
        .find(|p| p["name"] == full_m.as_str())
        .expect("message pipe listed");
    assert_eq!(pm["type"], "message");
    assert_eq!(pm["direction"], "duplex");
    assert_eq!(pm["instances"], 3);
    assert_eq!(pm["max_instances"], 3);
    assert_eq!(pm["connected"], 1);
    assert_eq!(pm["listening"], 2);
    assert_eq!(pm["remote_clients"], true);
    let pb = pipes
        .iter()
        .find(|p| p["name"] == full_b.as_str())
        .expect("byte pipe listed");
    assert_eq!(pb["type"], "byte");
    assert_eq!(pb["direction"], "inbound");
    assert_eq!(pb["instances"], 2);
    assert_eq!(pb["remote_clients"], false);

    // The table: aligned columns, one line per pipe.
    let out = env.run(&["list"], b"");
    assert!(out.status.success());
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("NAME"), "{table}");
    let col = lines[0].find("INSTANCES").unwrap();
    let row = lines.iter().find(|l| l.contains(&full_m)).unwrap();
    assert_eq!(&row[col..col + 3], "3/3", "{table}");
    assert!(
        row.contains("message") && row.contains("accepted"),
        "{table}"
    );
    let row = lines.iter().find(|l| l.contains(&full_b)).unwrap();
    assert!(
        row.contains("inbound") && row.contains("rejected"),
        "{table}"
    );

    // info: GetNamedPipeInfo and the instances, with the client's pid.
    let out = env.run(&["info", &m, "--json"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let states = info["instance_states"].as_array().unwrap();
    assert_eq!(states.len(), 3);
    let connected: Vec<_> = states
        .iter()
        .filter(|i| i["state"] == "CONNECTED")
        .collect();
    assert_eq!(connected.len(), 1);
    assert_eq!(connected[0]["client_pid"], holder.id());
    assert_eq!(connected[0]["server_pid"], env.servers[0].id());
    assert!(states
        .iter()
        .filter(|i| i["state"] == "LISTENING")
        .all(|i| i["client_pid"].is_null()));
    let out = env.run(&["info", &m], b"");
    let t = text(&out.stdout);
    assert!(t.contains("PIPE_SERVER_END | PIPE_TYPE_MESSAGE"), "{t}");
    assert!(t.contains("CONNECTED") && t.contains("LISTENING"), "{t}");
    assert!(t.contains(&holder.id().to_string()), "{t}");

    drop(hin);
    assert!(wait_output_no_stderr(holder).success());
}

#[test]
fn serve_command_and_connect() {
    let mut env = Env::new();
    let up = unique("upper");
    let cat = unique("cat");
    env.serve(&up, &["--message", "--", "tr", "a-z", "A-Z"]);
    env.serve(&cat, &["--", "cat"]);
    // -s: the zero-length message closes tr's stdin, tr prints and exits, the session ends.
    let out = env.run(
        &["connect", &up, "--message", "-s"],
        b"hello\nnamed pipes\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "HELLO\nNAMED PIPES\n");
    // Byte pipe through cat: streamed back; ends when stdin ends (--ei) after the echo.
    let mut c = env
        .cmd()
        .args(["connect", &cat, "--ei"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = c.stdin.take().unwrap();
    w.write_all(b"through cat\n").unwrap();
    let mut got = [0u8; 12];
    c.stdout.as_mut().unwrap().read_exact(&mut got).unwrap();
    assert_eq!(&got, b"through cat\n");
    drop(w);
    c.stderr = None;
    assert!(wait_output_no_stderr(c).success());
}

fn wait_output_no_stderr(mut child: Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "npfs did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn echo_messages_and_bytes() {
    let mut env = Env::new();
    let m = unique("echo-m");
    env.serve(&m, &["--message", "--echo"]);
    let out = env.run(&["connect", &m, "--message", "-s"], b"one\ntwo three\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "one\ntwo three\n");
    // A long message goes through whole (the server reads it in pieces: more data).
    let long = "x".repeat(200_000) + "\n";
    let out = env.run(&["connect", &m, "--message", "-s"], long.as_bytes());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), long);
    // Byte traffic, echoed as it comes; the session ends when stdin does (--ei), once
    // everything came back.
    let b = unique("echo-b2");
    env.serve(&b, &["--echo"]);
    let mut c = env
        .cmd()
        .args(["connect", &b, "--ei"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = c.stdin.take().unwrap();
    let mut r = c.stdout.take().unwrap();
    for chunk in [&b"abc"[..], b"\x00\xff\n", b"last"] {
        w.write_all(chunk).unwrap();
        let mut got = vec![0u8; chunk.len()];
        r.read_exact(&mut got).unwrap();
        assert_eq!(got, chunk);
    }
    drop(w);
    assert!(wait_output_no_stderr(c).success());
}

/// FNV-1a, 64 bits.
fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[test]
fn ten_mib_through_connect() {
    let mut env = Env::new();
    let b = unique("echo-b");
    env.serve(&b, &["--echo"]);
    const LEN: usize = 10 << 20;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let data: Vec<u8> = (0..LEN)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let sum = fnv(&data);
    let mut c = env
        .cmd()
        .args(["connect", &b, "--ei"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = c.stdin.take().unwrap();
    let mut r = c.stdout.take().unwrap();
    let writer = std::thread::spawn(move || {
        w.write_all(&data).unwrap();
        w // keep stdin open until everything came back
    });
    let reader = std::thread::spawn(move || {
        let mut got = vec![0u8; LEN];
        r.read_exact(&mut got).map(|()| got)
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !reader.is_finished() {
        assert!(
            Instant::now() < deadline,
            "10 MiB did not come back in time"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = reader.join().unwrap().expect("10 MiB back");
    assert_eq!(got.len(), LEN);
    assert_eq!(fnv(&got), sum, "checksum of the echoed stream");
    drop(writer.join().unwrap());
    assert!(wait_output_no_stderr(c).success());
}

#[test]
fn call_prints_reply_and_reports_cut_short() {
    let mut env = Env::new();
    let m = unique("call");
    env.serve(&m, &["--message", "--echo"]);
    let out = env.run(&["call", &m, "hello there"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello there\n");
    let out = env.run(&["call", &m, "hello there", "--reply-size", "5"], b"");
    assert_eq!(out.status.code(), Some(6));
    assert_eq!(text(&out.stdout), "hello\n");
    assert!(
        text(&out.stderr).contains("ERROR_MORE_DATA (234)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn wait_with_and_without_timeout() {
    let mut env = Env::new();
    let p = unique("wait");
    // No such pipe: at once, status 3.
    let out = env.run(&["wait", &p], b"");
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("ERROR_FILE_NOT_FOUND (2)"));
    env.serve(&p, &["--instances", "1", "--echo"]);
    // Listening: at once, with the default and with an explicit time-out.
    assert_eq!(env.run(&["wait", &p], b"").status.code(), Some(0));
    assert_eq!(
        env.run(&["wait", &p, "--timeout", "forever"], b"")
            .status
            .code(),
        Some(0)
    );
    // The only instance busy: times out, status 5.
    let mut holder = env
        .cmd()
        .args(["connect", &p, "--ei"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut hin = holder.stdin.take().unwrap();
    hin.write_all(b"x").unwrap();
    let mut one = [0u8; 1];
    holder
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut one)
        .unwrap();
    let started = Instant::now();
    let out = env.run(&["wait", &p, "--timeout", "300"], b"");
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(text(&out.stderr).contains("ERROR_SEM_TIMEOUT (121)"));
    // Busy: connect says so, status 4, and suggests --wait.
    let out = env.run(&["connect", &p], b"");
    assert_eq!(out.status.code(), Some(4));
    assert!(
        text(&out.stderr).contains(&format!(
            r"ERROR_PIPE_BUSY (231): all instances of \\.\pipe\{p} are busy; try --wait"
        )),
        "{}",
        text(&out.stderr)
    );
    // A wait that outlives the holder succeeds.
    let waiter = env
        .cmd()
        .args(["wait", &p, "--timeout", "20000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    drop(hin);
    assert!(wait_output_no_stderr(holder).success());
    assert!(wait_output(waiter, LIMIT).status.success());
}

#[test]
fn connect_poll_waits_for_the_pipe() {
    let mut env = Env::new();
    let p = unique("poll");
    let c = env
        .cmd()
        .args(["connect", &p, "--message", "-p", "-s", "--wait", "20000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    env.serve(&p, &["--message", "--echo"]);
    let mut c = c;
    c.stdin.take().unwrap().write_all(b"late\n").unwrap();
    let out = wait_output(c, LIMIT);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "late\n");
}

#[test]
fn bad_input() {
    let env = Env::new();
    // Unknown pipe.
    for args in [
        vec!["connect", "no-such-pipe"],
        vec!["info", "no-such-pipe"],
        vec!["call", "no-such-pipe", "x"],
    ] {
        let out = env.run(&args, b"");
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        assert!(
            text(&out.stderr)
                .contains(r"ERROR_FILE_NOT_FOUND (2): no pipe named \\.\pipe\no-such-pipe exists"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // Malformed names.
    // (A remote name is malformed for the commands that serve or inspect local pipes; call,
    // connect and wait reach it over SMB: tests/smb/client.sh.)
    for args in [
        ["wait", r"\\.\pipe\"],
        ["wait", r"\\.\notpipe\x"],
        ["info", r"\\server\pipe\x"],
    ] {
        let (name, out) = (args[1], env.run(&args, b""));
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(
            text(&out.stderr).contains("ERROR_INVALID_NAME (123)"),
            "{name}: {}",
            text(&out.stderr)
        );
    }
    // Bad flags and values.
    for args in [
        vec!["serve", "x", "--bogus", "--echo"],
        vec!["serve", "x"],
        vec!["serve", "x", "--echo", "--", "cat"],
        vec!["serve", "x", "--inbound", "--outbound", "--echo"],
        vec!["serve", "x", "--instances", "0", "--echo"],
        vec!["wait", "x", "--timeout", "soon"],
        vec!["connect"],
        vec!["frobnicate"],
    ] {
        let out = env.run(&args, b"");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    // A malformed descriptor: ERROR_INVALID_PARAMETER, named.
    let out = env.run(&["serve", "x", "--sddl", "D:(Q;;GA;;;WD)", "--echo"], b"");
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("ERROR_INVALID_PARAMETER (87)"),
        "{}",
        text(&out.stderr)
    );
    // --echo needs a duplex pipe.
    let out = env.run(&["serve", "x", "--inbound", "--echo"], b"");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sigterm_stops_serve_cleanly() {
    let mut env = Env::new();
    let p = unique("term");
    let i = env.serve(&p, &["--instances", "2", "--", "cat"]);
    // A session in progress, too.
    let mut c = env
        .cmd()
        .args(["connect", &p])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = c.stdin.take().unwrap();
    w.write_all(b"hi").unwrap();
    let mut got = [0u8; 2];
    c.stdout.as_mut().unwrap().read_exact(&mut got).unwrap();
    let (code, err) = env.stop(i);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("stopped"), "{err}");
    let full = format!(r"\\.\pipe\{p}");
    assert!(env.list_json().iter().all(|x| x["name"] != full.as_str()));
    assert_eq!(env.run(&["wait", &p], b"").status.code(), Some(3));
    // The client sees the end of the pipe; its stdin ending ends the session.
    drop(w);
    assert!(wait_output_no_stderr(c).success());
}

#[test]
fn help_has_examples_and_exit_codes() {
    let env = Env::new();
    let out = env.run(&["--help"], b"");
    assert!(out.status.success());
    let t = text(&out.stdout);
    assert!(
        t.contains("Exit status:") && t.contains("ERROR_PIPE_BUSY"),
        "{t}"
    );
    for sub in [
        "list",
        "info",
        "serve",
        "connect",
        "call",
        "wait",
        "daemon",
        "demo",
        "completions",
        "man",
    ] {
        let out = env.run(&[sub, "--help"], b"");
        assert!(out.status.success(), "{sub}");
        let t = text(&out.stdout);
        assert!(t.contains("Example"), "{sub} --help has no example:\n{t}");
    }
    let out = env.run(&["completions", "bash"], b"");
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("npfs"));
}

#[test]
fn man_page_is_up_to_date() {
    let env = Env::new();
    let out = env.run(&["man"], b"");
    assert!(out.status.success());
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("npfs.1");
    let on_disk = std::fs::read(&committed).expect("npfs.1 is committed");
    assert!(
        on_disk == out.stdout,
        "crates/npfs-cli/npfs.1 is out of date: run `cargo run -p npfs-cli --bin npfs -- man > crates/npfs-cli/npfs.1`"
    );
    assert!(text(&out.stdout).contains(".SH \"NPFS SERVE\""));
}

#[test]
fn closed_stdout_ends_quietly() {
    let mut env = Env::new();
    let m = unique("closed-m");
    let b = unique("closed-b");
    env.serve(&m, &["--message", "--echo"]);
    env.serve(&b, &["--echo"]);
    let cases: Vec<(Vec<&str>, &[u8])> = vec![
        (vec!["completions", "bash"], b""),
        (vec!["completions", "zsh"], b""),
        (vec!["man"], b""),
        (vec!["list"], b""),
        (vec!["list", "--json"], b""),
        (vec!["info", &m], b""),
        (vec!["info", &m, "--json"], b""),
        (vec!["call", &m, "hello"], b""),
        (vec!["connect", &b], b"some bytes\n"),
        (vec!["connect", "--message", "-s", &m], b"a\nb\n"),
        (vec!["--help"], b""),
        (vec!["serve", "--help"], b""),
        (vec!["demo", "--clients", "1"], b""),
    ];
    for (args, input) in cases {
        let out = env.run_closed_stdout(&args, input);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?} printed to stderr: {err}");
    }
}

#[test]
fn serve_commands_get_the_default_sigpipe() {
    // npfs itself ignores SIGPIPE (as Rust programs do); the commands it runs must not.
    let mut env = Env::new();
    let p = unique("sigpipe");
    env.serve(&p, &["--", "sh", "-c", "grep '^SigIgn:' /proc/$$/status"]);
    let out = env.run(&["connect", &p], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    let mask = line
        .trim()
        .strip_prefix("SigIgn:")
        .map(str::trim)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or_else(|| panic!("no SigIgn line: {line:?}"));
    assert_eq!(
        mask & (1 << (libc::SIGPIPE - 1)),
        0,
        "SIGPIPE ignored in CMD: {line}"
    );
}

#[test]
fn usage_lines_and_man_page_say_what_the_parser_takes() {
    let env = Env::new();
    let out = env.run(&["serve", "--help"], b"");
    let t = text(&out.stdout);
    assert!(
        t.contains("Usage: npfs serve [OPTIONS] <NAME> (--echo | -- <CMD> [ARGS]...)"),
        "{t}"
    );
    // Both forms of that line parse: a bad --instances is the only error left.
    for args in [
        vec!["serve", "x", "--instances", "0", "--echo"],
        vec!["serve", "x", "--instances", "0", "--", "cat", "-u"],
    ] {
        let out = env.run(&args, b"");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("--instances"), "{args:?}: {err}");
    }
    // One page: no npfs-list(1)-style references, no SEE ALSO to pages that do not exist.
    let man = text(&env.run(&["man"], b"").stdout);
    assert!(
        !man.contains("npfs\\-list(1)") && !man.contains("(1)"),
        "{man}"
    );
    assert!(!man.contains("SEE ALSO"), "{man}");
    assert!(man.contains("\\fBnpfs serve\\fR"), "{man}");
    assert!(
        man.contains(".B npfs serve [OPTIONS] <NAME> (\\-\\-echo | \\-\\- <CMD> [ARGS]...)"),
        "{man}"
    );
}

/// Whether `child` is still running.
fn running(child: &mut Child) -> bool {
    child.try_wait().unwrap().is_none()
}

#[test]
fn wait_and_call_p_wait_for_the_pipe_to_exist() {
    let mut env = Env::new();
    let p = unique("appear");
    let m = unique("appear-m");
    // Never there: each -p form times out (status 5) and says the pipe did not appear.
    for args in [
        vec!["wait", "-p", &p, "--timeout", "300"],
        vec!["call", "-p", &m, "x", "--timeout", "300"],
        vec!["connect", "-p", "--wait", "300", &p],
    ] {
        let started = Instant::now();
        let out = env.run(&args, b"");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "{args:?}: {err}");
        assert!(started.elapsed() >= Duration::from_millis(250), "{args:?}");
        assert!(
            err.contains("ERROR_SEM_TIMEOUT (121)") && err.contains("appeared before the time-out"),
            "{args:?}: {err}"
        );
    }
    // Without -p, WaitNamedPipe's rule: at once, status 3.
    let out = env.run(&["wait", &p, "--timeout", "20000"], b"");
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("-p waits"),
        "{}",
        text(&out.stderr)
    );

    // Started before the servers: they wait, then succeed.
    let spawn = |args: &[&str]| {
        env.cmd()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut waiter = spawn(&["wait", "-p", &p, "--timeout", "20000"]);
    let mut caller = spawn(&["call", "-p", &m, "hello", "--timeout", "forever"]);
    let mut forever = spawn(&["wait", "-p", &p, "--timeout", "forever"]);
    std::thread::sleep(Duration::from_millis(400));
    assert!(running(&mut waiter) && running(&mut caller) && running(&mut forever));
    env.serve(&p, &["--echo"]);
    env.serve(&m, &["--message", "--echo"]);
    let out = wait_output(waiter, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = wait_output(forever, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = wait_output(caller, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\n");
}

#[test]
fn call_p_right_after_starting_serve() {
    // `npfs serve X --echo & npfs call -p X hi`, a few times: the call never races the
    // server's creation of the pipe.
    let mut env = Env::new();
    for round in 0..5 {
        let name = unique(&format!("race{round}"));
        let server = env
            .cmd()
            .args(["serve", &name, "--message", "--echo"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        env.servers.push(server);
        let out = env.run(&["call", "-p", &name, "hi", "--timeout", "20000"], b"");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "hi\n");
        let out = env.run(&["wait", "-p", &name, "--timeout", "20000"], b"");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
}

/// Start `npfs serve NAME ARGS --ready-fd 3` with descriptor 3 on a pipe (through sh, which
/// sets it up); returns what was read from that pipe up to its end.
fn serve_ready_fd(env: &mut Env, name: &str, args: &[&str]) -> Vec<u8> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"exec "$@" --ready-fd 3 3>&1 >/dev/null 2>/dev/null"#)
        .arg("sh")
        .arg(NPFS)
        .arg("serve")
        .arg(name)
        .args(args)
        .env("NPFS_RUNTIME_DIR", env.dir.path())
        .env("NPFS_IDLE_EXIT_MS", "2000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let mut out = child.stdout.take().unwrap();
    env.servers.push(child);
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + LIMIT;
    while !reader.is_finished() {
        assert!(Instant::now() < deadline, "--ready-fd was never closed");
        std::thread::sleep(Duration::from_millis(10));
    }
    reader.join().unwrap()
}

#[test]
fn serve_tells_ready_fd() {
    let mut env = Env::new();
    let p = unique("ready");
    let got = serve_ready_fd(&mut env, &p, &["--instances", "3", "--echo"]);
    assert_eq!(got, b"READY\n");
    // Ready means: the pipe exists and every instance listens, right now.
    let full = format!(r"\\.\pipe\{p}");
    let pipes = env.list_json();
    let pipe = pipes
        .iter()
        .find(|x| x["name"] == full.as_str())
        .expect("the pipe exists once READY");
    assert_eq!(pipe["instances"], 3);
    assert_eq!(pipe["listening"], 3);
    assert_eq!(env.run(&["wait", &p], b"").status.code(), Some(0));
    // A descriptor that is not open: refused before anything is created.
    let q = unique("ready-bad");
    let out = env.run(&["serve", &q, "--echo", "--ready-fd", "9"], b"");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--ready-fd 9: descriptor 9 is not open"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(env.run(&["wait", &q], b"").status.code(), Some(3));
    // Descriptor 1: READY on stdout, which is then /dev/null (the reader sees the end).
    let r = unique("ready-stdout");
    let mut child = env
        .cmd()
        .args(["serve", &r, "--echo", "--ready-fd", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    env.servers.push(child);
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + LIMIT;
    while !reader.is_finished() {
        assert!(Instant::now() < deadline, "--ready-fd 1 was never closed");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(reader.join().unwrap(), b"READY\n");
    assert_eq!(
        env.run(&["call", &r, "x"], b"").status.code(),
        Some(1),
        "a byte pipe"
    );
    assert_eq!(
        env.run(&["connect", &r], b"still serving").stdout,
        b"still serving"
    );
    // A server that fails closes it without READY.
    let got = serve_ready_fd(&mut env, &p, &["--instances", "3", "--echo"]);
    assert_eq!(got, b"", "a second server of a full pipe is not ready");
}

#[test]
fn serve_notifies_notify_socket() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let mut env = Env::new();
    let recv = |sock: &UnixDatagram| {
        sock.set_read_timeout(Some(LIMIT)).unwrap();
        let mut buf = [0u8; 256];
        let n = sock.recv(&mut buf).expect("a notification in time");
        text(&buf[..n])
    };
    // A socket path.
    let path = env.dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    let p = unique("notify");
    let server = env
        .cmd()
        .args(["serve", &p, "--instances", "2", "--"])
        .args([
            "sh",
            "-c",
            r#"echo "NOTIFY_SOCKET=${NOTIFY_SOCKET:-unset}""#,
        ])
        .env("NOTIFY_SOCKET", &path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    env.servers.push(server);
    assert_eq!(recv(&sock), "READY=1");
    let full = format!(r"\\.\pipe\{p}");
    let pipes = env.list_json();
    let pipe = pipes.iter().find(|x| x["name"] == full.as_str()).unwrap();
    assert_eq!(pipe["listening"], 2);
    // The commands it runs are not the service.
    let out = env.run(&["connect", &p], b"");
    assert_eq!(text(&out.stdout), "NOTIFY_SOCKET=unset\n");
    let (code, err) = env.stop(0);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(recv(&sock), "STOPPING=1");

    // An abstract socket: @NAME.
    let name = format!("npfs-cli-test-notify-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let sock = UnixDatagram::bind_addr(&addr).unwrap();
    let q = unique("notify-abstract");
    let server = env
        .cmd()
        .args(["serve", &q, "--echo"])
        .env("NOTIFY_SOCKET", format!("@{name}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    env.servers.push(server);
    assert_eq!(recv(&sock), "READY=1");
    assert_eq!(env.run(&["wait", &q], b"").status.code(), Some(0));
}

#[test]
fn connect_on_a_byte_pipe_ends_after_the_grace_time() {
    let mut env = Env::new();
    let b = unique("grace-echo");
    env.serve(&b, &["--echo"]);
    // `printf 'x\n' | npfs connect BYTEPIPE` ends by itself, with the echo.
    let out = env.run(&["connect", &b], b"x\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "x\n");
    // A server that answers after 200 ms, and keeps its end open: the answer comes
    // through, with --ei and without; the session ends long before the server would.
    let late = unique("grace-late");
    env.serve(
        &late,
        &["--", "sh", "-c", "sleep 0.2; echo answer; sleep 30"],
    );
    for args in [vec!["connect", &late, "--ei"], vec!["connect", &late]] {
        let started = Instant::now();
        let out = env.run(&args, b"q");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout), "answer\n", "{args:?}");
        assert!(started.elapsed() < Duration::from_secs(15), "{args:?}");
    }
    // -t: a server quiet for longer than the grace time is not waited for ...
    let slow = unique("grace-slow");
    env.serve(&slow, &["--", "sh", "-c", "sleep 4; echo late"]);
    let started = Instant::now();
    let out = env.run(&["connect", &slow, "-t", "0.1"], b"q");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "-t 0.1 waited for the server"
    );
    // ... unless the grace time is long enough, or forever (the server's end).
    let once = unique("grace-once");
    env.serve(&once, &["--", "sh", "-c", "sleep 1; echo done"]);
    for grace in ["forever", "20"] {
        let out = env.run(&["connect", &once, "--grace", grace], b"q");
        assert_eq!(out.status.code(), Some(0), "{grace}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "done\n", "-t {grace}");
    }
    // Message mode: --ei ends the session after the grace time too, with every echo.
    let m = unique("grace-m");
    env.serve(&m, &["--message", "--echo"]);
    let out = env.run(&["connect", &m, "--message", "--ei"], b"a\nb\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "a\nb\n");
    // Bad grace times.
    for t in ["-1", "soon", "1e9"] {
        let out = env.run(&["connect", &b, "-t", t], b"");
        assert_eq!(out.status.code(), Some(2), "-t {t}");
    }
}

#[test]
fn fifty_million_bytes_through_connect_and_it_ends_by_itself() {
    let mut env = Env::new();
    let b = unique("echo-50m");
    env.serve(&b, &["--echo"]);
    const LEN: usize = 50_000_000;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let data: Vec<u8> = (0..LEN)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    let data = std::sync::Arc::new(data);
    let sum = fnv(&data);
    // --ei used to end at stdin's end and drop the tail of the echo.
    for extra in [&[][..], &["--ei"][..]] {
        let mut c = env
            .cmd()
            .args(["connect", &b])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut w = c.stdin.take().unwrap();
        let input = data.clone();
        // stdin ends as soon as everything was written: nothing keeps the session open.
        let writer = std::thread::spawn(move || w.write_all(&input).is_ok());
        let out = wait_output(c, Duration::from_secs(120));
        assert!(
            writer.join().unwrap(),
            "{extra:?}: stdin was not taken whole"
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{extra:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(out.stdout.len(), LEN, "{extra:?}: every byte came back");
        assert_eq!(
            fnv(&out.stdout),
            sum,
            "{extra:?}: checksum of the echoed stream"
        );
    }
}

/// Feed `connect ARGS` 150 MB and SIGKILL the server once 4 MB went in; the output of
/// connect.
fn kill_server_mid_transfer(extra: &[&str]) -> Output {
    let mut env = Env::new();
    let p = unique("sink");
    let i = env.serve(&p, &["--", "sh", "-c", "cat > /dev/null"]);
    let mut c = env
        .cmd()
        .args(["connect", &p])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = c.stdin.take().unwrap();
    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = written.clone();
    let writer = std::thread::spawn(move || {
        let chunk = vec![0x5au8; 64 * 1024];
        for _ in 0..(150_000_000 / chunk.len()) {
            if w.write_all(&chunk).is_err() {
                return;
            }
            count.fetch_add(chunk.len(), std::sync::atomic::Ordering::SeqCst);
        }
    });
    let deadline = Instant::now() + LIMIT;
    while written.load(std::sync::atomic::Ordering::SeqCst) < 4 << 20 {
        assert!(Instant::now() < deadline, "connect took no input");
        std::thread::sleep(Duration::from_millis(1));
    }
    let server = &mut env.servers[i];
    server.kill().unwrap();
    server.wait().unwrap();
    let out = wait_output(c, LIMIT);
    writer.join().unwrap();
    assert!(
        written.load(std::sync::atomic::Ordering::SeqCst) < 150_000_000,
        "everything went through before the kill: the test proves nothing"
    );
    out
}

#[test]
fn connect_says_when_the_server_went_away_before_stdin_was_sent() {
    let out = kill_server_mid_transfer(&[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("before all of stdin was sent (") && err.contains(" bytes sent)"),
        "{err}"
    );
    assert!(err.starts_with("npfs: ERROR_"), "{err}");
    // --ep asked for the session to end with the pipe.
    let out = kill_server_mid_transfer(&["--ep"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
