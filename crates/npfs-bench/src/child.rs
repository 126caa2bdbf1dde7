//! The two-process harness: the suite re-executes itself as the other side of every
//! measurement (a hidden subcommand, [`CHILD_SUBCOMMAND`]), and talks to that child through
//! its stdin/stdout, one line per step ("ready", "go", ...). Descriptors a transport hands
//! over (socketpairs, pipes) are inherited across exec.

use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::sys;

/// The hidden subcommand that runs one child side.
pub const CHILD_SUBCOMMAND: &str = "__child";

/// How to start this program again: the executable and the arguments that lead to
/// [`crate::run_from_args`] (`npfs bench` needs `bench`; `npfs-bench` nothing).
fn reexec_command() -> io::Result<Command> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(&exe);
    let name = exe.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !name.starts_with("npfs-bench") {
        cmd.arg("bench");
    }
    cmd.arg(CHILD_SUBCOMMAND);
    Ok(cmd)
}

/// A running child side.
pub struct ChildProc {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl ChildProc {
    /// Start `__child ARGS...`; `inherit` are descriptors the child uses by number (they
    /// are closed here once it has started).
    pub fn spawn(args: &[String], inherit: Vec<OwnedFd>) -> io::Result<ChildProc> {
        for fd in &inherit {
            sys::inheritable(fd)?;
        }
        let mut cmd = reexec_command()?;
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn()?;
        drop(inherit);
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(ChildProc {
            child,
            stdin,
            stdout,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Read the child's next line; an error if it ended or said "error ...".
    pub fn line(&mut self) -> io::Result<String> {
        let mut s = String::new();
        if self.stdout.read_line(&mut s)? == 0 {
            return Err(io::Error::other("child side ended early"));
        }
        let s = s.trim_end().to_string();
        if let Some(msg) = s.strip_prefix("error ") {
            return Err(io::Error::other(format!("child side: {msg}")));
        }
        Ok(s)
    }

    /// Wait for the line `want`.
    pub fn expect(&mut self, want: &str) -> io::Result<()> {
        let got = self.line()?;
        if got == want {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "child side said {got:?}, expected {want:?}"
            )))
        }
    }

    /// Send one line to the child.
    pub fn send(&mut self, line: &str) -> io::Result<()> {
        let w = self
            .stdin
            .as_mut()
            .ok_or_else(|| io::Error::other("stdin closed"))?;
        writeln!(w, "{line}")?;
        w.flush()
    }

    /// Close the child's stdin (its signal to finish) and wait for a successful exit.
    pub fn finish(mut self) -> io::Result<()> {
        drop(self.stdin.take());
        let st = self.child.wait()?;
        if st.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!("child side failed: {st}")))
        }
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The child's side of the line protocol: stdout to the parent, stdin from it.
pub struct Parent {
    stdin: io::StdinLock<'static>,
}

impl Default for Parent {
    fn default() -> Parent {
        Parent::new()
    }
}

impl Parent {
    /// The parent connection of this child process.
    pub fn new() -> Parent {
        Parent {
            stdin: io::stdin().lock(),
        }
    }

    /// Send one line to the parent.
    pub fn say(&mut self, line: &str) -> io::Result<()> {
        let mut out = io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()
    }

    /// The parent's next line, `None` at end of input.
    pub fn hear(&mut self) -> io::Result<Option<String>> {
        let mut s = String::new();
        if self.stdin.read_line(&mut s)? == 0 {
            return Ok(None);
        }
        Ok(Some(s.trim_end().to_string()))
    }

    /// Wait for the parent's line `want`.
    pub fn wait_for(&mut self, want: &str) -> io::Result<()> {
        match self.hear()? {
            Some(s) if s == want => Ok(()),
            other => Err(io::Error::other(format!(
                "parent said {other:?}, expected {want:?}"
            ))),
        }
    }
}

/// `--key value` arguments of a child subcommand.
pub struct ChildArgs(Vec<String>);

impl ChildArgs {
    /// Wrap the arguments after the role.
    pub fn new(args: Vec<String>) -> ChildArgs {
        ChildArgs(args)
    }

    /// The value after `--key`.
    pub fn get(&self, key: &str) -> io::Result<&str> {
        let flag = format!("--{key}");
        self.0
            .iter()
            .position(|a| *a == flag)
            .and_then(|i| self.0.get(i + 1))
            .map(String::as_str)
            .ok_or_else(|| io::Error::other(format!("child: missing {flag}")))
    }

    /// The value after `--key`, parsed.
    pub fn num<T: std::str::FromStr>(&self, key: &str) -> io::Result<T> {
        self.get(key)?
            .parse()
            .map_err(|_| io::Error::other(format!("child: bad --{key}")))
    }
}
