//! The Wine anchor: the Win32 benchmark `winpipe.c` (the same source as
//! `../shared/bench/winpipe.c`, embedded here) built with mingw-w64 and run under Wine, in a
//! fresh Wine prefix with its own `wineserver`. Server and client are two threads of one
//! Wine process; "same core" runs the whole tree (wineserver included) on CPU 0, "cross
//! core" pins the client thread to CPU 0 and the server thread to CPU 1 (`winpipe -a`).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::placement::Placement;
use crate::stats::Summary;
use crate::sys;

/// The benchmark source.
const WINPIPE_C: &str = include_str!("winpipe.c");

/// What to install when Wine or mingw is missing.
pub const INSTALL_HINT: &str = "apt-get install wine64 gcc-mingw-w64-x86-64";

/// One Wine row: a pipe type at one placement.
#[derive(Debug, Clone)]
pub struct WineRow {
    /// Message pipe (`-p msg`) or byte pipe.
    pub message: bool,
    /// MB/s per size, median (min–max) over the runs.
    pub tput: Vec<(usize, Summary)>,
    /// Round trip per size: median over the runs of each run's p50 and p99, µs (winpipe
    /// prints no min/max for these).
    pub rtt: Vec<(usize, f64, f64)>,
}

fn have(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
}

/// Why Wine cannot run here, if it cannot.
pub fn missing() -> Option<String> {
    let lacking: Vec<&str> = ["wine", "wineserver", "x86_64-w64-mingw32-gcc"]
        .into_iter()
        .filter(|c| !have(c))
        .collect();
    (!lacking.is_empty()).then(|| format!("{} not installed", lacking.join(", ")))
}

/// A built benchmark and a private Wine prefix.
pub struct Wine {
    work: PathBuf,
    prefix: PathBuf,
    exe: PathBuf,
    server: Option<Child>,
    /// `wine --version`.
    pub version: String,
}

/// Run `cmd` with a time limit; stdout goes to `out` (if given).
pub(crate) fn run_limited(
    cmd: &mut Command,
    limit: Duration,
    out: Option<&Path>,
) -> io::Result<()> {
    cmd.stdin(Stdio::null());
    match out {
        Some(p) => {
            let f = std::fs::File::create(p)?;
            cmd.stderr(f.try_clone()?).stdout(f)
        }
        None => cmd.stdout(Stdio::null()).stderr(Stdio::null()),
    };
    let mut child = cmd.spawn()?;
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait()? {
            return if st.success() {
                Ok(())
            } else {
                Err(io::Error::other(format!("{cmd:?}: {st}")))
            };
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!("{cmd:?}: timed out")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Wine {
    /// Build winpipe.exe under `work` and create a Wine prefix there (`wineboot -i`, which
    /// takes a while the first time).
    pub fn setup(work: &Path) -> io::Result<Wine> {
        std::fs::create_dir_all(work)?;
        let src = work.join("winpipe.c");
        std::fs::write(&src, WINPIPE_C)?;
        let exe = work.join("winpipe.exe");
        run_limited(
            Command::new("x86_64-w64-mingw32-gcc")
                .args(["-O2", "-Wall", "-o"])
                .arg(&exe)
                .arg(&src),
            Duration::from_secs(120),
            None,
        )?;
        let prefix = work.join("prefix");
        std::fs::create_dir_all(&prefix)?;
        let version_file = work.join("version.txt");
        let mut w = Wine {
            work: work.to_path_buf(),
            prefix,
            exe,
            server: None,
            version: String::new(),
        };
        run_limited(
            w.cmd("wine").arg("--version"),
            Duration::from_secs(60),
            Some(&version_file),
        )?;
        w.version = std::fs::read_to_string(&version_file)?.trim().to_string();
        w.start_server()?;
        run_limited(w.cmd("wineboot").arg("-i"), Duration::from_secs(300), None)?;
        w.stop_server();
        Ok(w)
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        c
    }

    fn start_server(&mut self) -> io::Result<()> {
        let child = self
            .cmd("wineserver")
            .args(["-f", "-p"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.server = Some(child);
        Ok(())
    }

    fn stop_server(&mut self) {
        let Some(mut child) = self.server.take() else {
            return;
        };
        let _ = run_limited(
            self.cmd("wineserver").arg("-k"),
            Duration::from_secs(20),
            None,
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if matches!(child.try_wait(), Ok(None)) {
            let _ = child.kill();
        }
        let _ = child.wait();
        self.sweep();
    }

    /// End any process left over from *our* prefix (matched by its WINEPREFIX), by pid.
    fn sweep(&self) {
        let want = format!("WINEPREFIX={}", self.prefix.display());
        let me = std::process::id();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return;
        };
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if pid as u32 == me {
                continue;
            }
            let Ok(env) = std::fs::read(e.path().join("environ")) else {
                continue;
            };
            if env.split(|b| *b == 0).any(|v| v == want.as_bytes()) {
                if let Some(p) = rustix::process::Pid::from_raw(pid) {
                    let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                }
            }
        }
    }

    /// Both pipe types at one placement.
    pub fn run(
        &mut self,
        place: Placement,
        runs: usize,
        secs: f64,
        sizes: &[usize],
        lat_sizes: &[usize],
    ) -> io::Result<Vec<WineRow>> {
        pin_for(place)?;
        self.start_server()?;
        let res = self.run_both(place, runs, secs, sizes, lat_sizes);
        self.stop_server();
        res
    }

    fn run_both(
        &mut self,
        place: Placement,
        runs: usize,
        secs: f64,
        sizes: &[usize],
        lat_sizes: &[usize],
    ) -> io::Result<Vec<WineRow>> {
        run_limited(&mut self.cmd("wineboot"), Duration::from_secs(300), None)?;
        let out = self.work.join("winpipe.out");
        run_winpipe(
            || {
                let mut cmd = self.cmd("wine");
                cmd.arg(&self.exe);
                cmd
            },
            &out,
            place,
            &Params {
                runs,
                secs,
                sizes,
                lat_sizes,
            },
        )
    }
}

/// The same winpipe.c built natively against libnpfs (`include/windows.h`, `-lnpfs`): the
/// row "npfs through the C ABI". Needs `target/release/libnpfs.so` (`cargo build --release`).
pub struct Native {
    exe: PathBuf,
}

impl Native {
    /// Build winpipe under `work` with gcc against the repository's `include/` and
    /// `target/release/libnpfs.so`.
    pub fn setup(work: &Path) -> io::Result<Native> {
        std::fs::create_dir_all(work)?;
        let src = work.join("winpipe.c");
        std::fs::write(&src, WINPIPE_C)?;
        let exe = work.join("winpipe-npfs");
        build_against_libnpfs(&src, &exe, work)?;
        Ok(Native { exe })
    }

    /// Both pipe types at one placement (the broker and runtime directory come from this
    /// process's environment, which the suite points at its private broker).
    pub fn run(
        &self,
        place: Placement,
        runs: usize,
        secs: f64,
        sizes: &[usize],
        lat_sizes: &[usize],
    ) -> io::Result<Vec<WineRow>> {
        pin_for(place)?;
        run_winpipe(
            || Command::new(&self.exe),
            &self.exe.with_extension("out"),
            place,
            &Params {
                runs,
                secs,
                sizes,
                lat_sizes,
            },
        )
    }
}

/// Build the C program `src` into `exe` with gcc against the repository's `include/` and
/// `target/release/libnpfs.so`, linked under its SONAME through a link in `work` (which the
/// program finds by rpath).
pub fn build_against_libnpfs(src: &Path, exe: &Path, work: &Path) -> io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let lib = root.join("target/release");
    if !lib.join("libnpfs.so").is_file() {
        return Err(io::Error::other(
            "no target/release/libnpfs.so (build it with: cargo build --release -p npfs-capi)",
        ));
    }
    std::fs::create_dir_all(work)?;
    // The library's SONAME is libnpfs.so.0 (the installed name): link it under that name.
    let so_link = work.join("libnpfs.so.0");
    let _ = std::fs::remove_file(&so_link);
    std::os::unix::fs::symlink(lib.join("libnpfs.so"), &so_link)?;
    run_limited(
        Command::new("gcc")
            .args(["-std=gnu11", "-O2", "-I"])
            .arg(root.join("include").join("npfs"))
            .arg("-o")
            .arg(exe)
            .arg(src)
            .arg("-L")
            .arg(&lib)
            .arg(format!("-Wl,-rpath,{}", work.display()))
            .args(["-lnpfs", "-lpthread"]),
        Duration::from_secs(120),
        None,
    )?;
    Ok(())
}

/// What one winpipe run measures.
struct Params<'a> {
    runs: usize,
    secs: f64,
    sizes: &'a [usize],
    lat_sizes: &'a [usize],
}

/// Pin this process (children inherit it) for `place`: all on CPU 0 for "same", free for
/// "cross".
pub(crate) fn pin_for(place: Placement) -> io::Result<()> {
    match place {
        Placement::Same => sys::pin(&[0]),
        Placement::Cross => sys::pin(&[]),
    }
}

/// Run winpipe (`program()` is the command up to its first flag) once per pipe type, its
/// output captured in `out`, and parse the rows.
fn run_winpipe(
    program: impl Fn() -> Command,
    out: &Path,
    place: Placement,
    p: &Params,
) -> io::Result<Vec<WineRow>> {
    let list = |v: &[usize]| {
        v.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut rows = Vec::new();
    for message in [false, true] {
        let kind = if message { "msg" } else { "byte" };
        let mut cmd = program();
        cmd.args(["-p", kind])
            .args(["-R", &p.runs.to_string(), "-T", &p.secs.to_string()])
            .args(["-s", &list(p.sizes), "-l", &list(p.lat_sizes)]);
        if place == Placement::Cross {
            cmd.arg("-a");
        }
        if let Err(e) = run_limited(&mut cmd, Duration::from_secs(900), Some(out)) {
            let text = std::fs::read_to_string(out).unwrap_or_default();
            let why = text
                .lines()
                .rev()
                .find(|l| !l.starts_with("RESULT"))
                .unwrap_or("");
            return Err(io::Error::other(format!(
                "winpipe -p {kind} failed: {why} ({e})"
            )));
        }
        rows.push(parse(&std::fs::read_to_string(out)?, message));
    }
    Ok(rows)
}

impl Drop for Wine {
    fn drop(&mut self) {
        self.stop_server();
        // Debian's Wine names its server socket folder in $WINEPREFIX/wineserver.
        if let Ok(sd) = std::fs::read_to_string(self.prefix.join("wineserver")) {
            let sd = sd.trim();
            if sd.starts_with("wine-") && sd.len() == 11 && !sd.contains('/') {
                let _ = std::fs::remove_dir_all(std::env::temp_dir().join(sd));
            }
        }
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

/// Parse winpipe's `RESULT key=value ...` lines.
fn parse(text: &str, message: bool) -> WineRow {
    let mut row = WineRow {
        message,
        tput: Vec::new(),
        rtt: Vec::new(),
    };
    for line in text.lines().filter_map(|l| l.strip_prefix("RESULT ")) {
        let kv: HashMap<&str, &str> = line
            .split_whitespace()
            .filter_map(|t| t.split_once('='))
            .collect();
        let num = |k: &str| {
            kv.get(k)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        let size = num("size") as usize;
        match kv.get("mode").copied() {
            Some("tput") => row.tput.push((
                size,
                Summary {
                    median: num("mbps"),
                    min: num("min"),
                    max: num("max"),
                },
            )),
            Some("lat") => row.rtt.push((size, num("p50_us"), num("p99_us"))),
            _ => {}
        }
    }
    row
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_winpipe_output() {
        let r = super::parse(
            "RESULT bench=wine-msg mode=tput size=64 n=5 runs=5 mbps=3.1 min=2.9 max=3.3 pin=0 bufsize=65536\n\
             RESULT bench=wine-msg mode=lat size=64 n=5 runs=5 p50_us=68.40 p99_us=126.00 pin=0 bufsize=65536\n",
            true,
        );
        assert_eq!(r.tput[0].0, 64);
        assert_eq!(r.tput[0].1.max, 3.3);
        assert_eq!(r.rtt[0], (64, 68.4, 126.0));
    }
}
