//! The one io::Error form: both APIs give `raw_os_error()` = the Win32 code (231 for a busy
//! pipe, 2 for a missing one), `Win32IoError` reads the right kind and names the error, and a
//! failure that starts as a Linux errno (no descriptor left, a runtime directory under a
//! regular file) never shows the errno. The errno cases run in a child process (this test
//! binary in a role) so that their limits and environment stay theirs.
#![cfg(feature = "tokio")]

mod tokio_common;

use std::io::{ErrorKind, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use npfs::tokio::{ClientOptions, ServerOptions};
use npfs::{PipeClient, Win32Error, Win32IoError};
use tokio_common::*;

/// The blocking API's errors become the same io::Error as the tokio API's.
#[test]
fn blocking_busy_and_missing() {
    let missing = pipe_name("err-missing");
    let e = std::io::Error::from(PipeClient::open_duplex(&missing).err().unwrap());
    assert_eq!(e.raw_os_error(), Some(2));
    assert_eq!(e.win32_error(), Some(Win32Error::FILE_NOT_FOUND));
    assert_eq!(e.win32_kind(), ErrorKind::NotFound);

    let name = pipe_name("err-busy");
    let server = npfs::ServerOptions::new()
        .max_instances(1)
        .create(&name)
        .unwrap();
    let first = PipeClient::open_duplex(&name).unwrap();
    let e = std::io::Error::from(PipeClient::open_duplex(&name).err().unwrap());
    assert_eq!(e.raw_os_error(), Some(231));
    assert_eq!(e.win32_kind(), ErrorKind::ResourceBusy);
    assert_eq!(
        e.win32_display().to_string(),
        "All pipe instances are busy. (ERROR_PIPE_BUSY, 231)"
    );

    drop((first, server));

    // std::io::Write on a read-only client end: the Win32 code, not an errno.
    let name = pipe_name("err-readonly");
    let _server = npfs::ServerOptions::new().create(&name).unwrap();
    let reader = PipeClient::open(&name, npfs::consts::GENERIC_READ).unwrap();
    let e = Write::write(&mut &*reader, b"x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(5));
    assert_eq!(e.win32_kind(), ErrorKind::PermissionDenied);
    assert_eq!(
        e.win32_display().to_string(),
        "The caller lacks the access this needs. (ERROR_ACCESS_DENIED, 5)"
    );
}

#[tokio::test]
async fn tokio_busy_and_missing() {
    let missing = pipe_name("err-tmissing");
    let e = ClientOptions::new().open(&missing).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(2));
    assert_eq!(e.win32_kind(), ErrorKind::NotFound);
    assert_eq!(
        e.win32_display().to_string(),
        "No pipe of that name exists. (ERROR_FILE_NOT_FOUND, 2)"
    );

    let name = pipe_name("err-tbusy");
    let _server = ServerOptions::new().max_instances(1).create(&name).unwrap();
    let _first = ClientOptions::new().open(&name).unwrap();
    let e = ClientOptions::new().open(&name).unwrap_err();
    // Exactly as tokio's documentation matches it on Windows.
    assert_eq!(e.raw_os_error(), Some(npfs::tokio::ERROR_PIPE_BUSY as i32));
    assert_eq!(e.win32_error(), Some(Win32Error::PIPE_BUSY));
    assert_eq!(e.win32_kind(), ErrorKind::ResourceBusy);
    assert_eq!(
        e.win32_display().to_string(),
        "All pipe instances are busy. (ERROR_PIPE_BUSY, 231)"
    );
    // What std makes of it on its own (documented in docs/DEVIATIONS.md).
    assert!(e.to_string().contains("231"));
}

/// Run this binary's `child_main` in `role` with `env`; its `RESULT:` lines.
fn child(role: &str, env: &[(&str, &std::ffi::OsStr)]) -> Vec<String> {
    init();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_main", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, role)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Kid {
        child: Some(cmd.spawn().unwrap()),
    }
    .finish(LIMIT)
}

/// Every `name code` line names a Win32 code npfs knows, and none is the errno behind it.
fn assert_win32(lines: &[String], errnos: &[i32]) {
    assert!(!lines.is_empty(), "the child reported nothing");
    for l in lines {
        let (what, code) = l.rsplit_once(' ').expect("name code");
        let code: i32 = code.parse().unwrap_or_else(|_| panic!("{l}"));
        assert!(
            Win32Error(code as u32).name().is_some(),
            "{what}: {code} is no Win32 code npfs names"
        );
        assert!(!errnos.contains(&code), "{what}: the errno {code} leaked");
    }
}

/// With no descriptor left (RLIMIT_NOFILE), the failures are Win32 codes, not EMFILE.
#[test]
fn no_descriptor_left_is_a_win32_code() {
    let name = pipe_name("err-nofile");
    let lines = child(&format!("nofile {name}"), &[]);
    assert_win32(&lines, &[libc::EMFILE, libc::ENFILE]);
    assert_eq!(lines.len(), 4, "{lines:?}");
    // The doorbell's dup: EMFILE, reported as Windows would.
    assert_eq!(lines[0], "tokio-first-io 4");
    // The rest are what the broker answers (ERROR_PIPE_BUSY: the one instance is taken) or
    // ERROR_NO_SYSTEM_RESOURCES when its descriptors cannot arrive: Win32 codes either way.
}

/// A runtime directory under a regular file (ENOTDIR on the way): the broker is unavailable,
/// which every call reports as ERROR_NO_SYSTEM_RESOURCES (1450), never as ENOTDIR.
#[test]
fn bad_runtime_dir_is_a_win32_code() {
    let exe = std::env::current_exe().unwrap();
    let bad = exe.join("runtime");
    let lines = child("badrt", &[("NPFS_RUNTIME_DIR", bad.as_os_str())]);
    assert_win32(&lines, &[libc::ENOTDIR, libc::ENOENT]);
    for l in &lines {
        assert!(l.ends_with(" 1450"), "{l}");
    }
}

fn code_of(r: std::io::Result<impl Sized>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => match e.raw_os_error() {
            Some(c) => c.to_string(),
            None => format!("none({e})"),
        },
    }
}

/// The child side: `NPFS_TOKIO_CHILD="ROLE ARGS..."`. Without it, this test does nothing.
#[test]
fn child_main() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let args: Vec<&str> = role.split(' ').collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    match args[0] {
        "nofile" => {
            let name = args[1];
            // Reach the broker and make an instance while descriptors are there.
            let server = rt
                .block_on(async { ServerOptions::new().create(name) })
                .unwrap();
            // A client whose first I/O registers its doorbell (a duplicate descriptor).
            let client = rt
                .block_on(async { ClientOptions::new().open(name) })
                .unwrap();
            // Then none is left: the soft limit at the lowest free descriptor.
            let next = std::fs::File::open("/dev/null").unwrap();
            let lowest = std::os::fd::AsRawFd::as_raw_fd(&next) as u64;
            drop(next);
            let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum;
            rustix::process::setrlimit(
                rustix::process::Resource::Nofile,
                rustix::process::Rlimit {
                    current: Some(lowest),
                    maximum: hard,
                },
            )
            .unwrap();
            // dup fails with EMFILE: ERROR_TOO_MANY_OPEN_FILES.
            let first_io = rt.block_on(async { client.try_write(b"x") });
            say(&format!("tokio-first-io {}", code_of(first_io)));
            let open = rt.block_on(async { ClientOptions::new().open(name) });
            say(&format!("tokio-open {}", code_of(open)));
            let create = rt.block_on(async { ServerOptions::new().create(name) });
            say(&format!("tokio-create {}", code_of(create)));
            let blocking = PipeClient::open_duplex(name).map_err(std::io::Error::from);
            say(&format!("blocking-open {}", code_of(blocking)));
            drop((client, server));
        }
        "badrt" => {
            let name = r"\\.\pipe\npfs-err-badrt";
            let open = rt.block_on(async { ClientOptions::new().open(name) });
            say(&format!("tokio-open {}", code_of(open)));
            let create = rt.block_on(async { ServerOptions::new().create(name) });
            say(&format!("tokio-create {}", code_of(create)));
            let wait = rt.block_on(npfs::tokio::wait_named_pipe(
                name,
                Duration::from_millis(100),
            ));
            say(&format!("tokio-wait {}", code_of(wait)));
            let blocking = PipeClient::open_duplex(name).map_err(std::io::Error::from);
            say(&format!("blocking-open {}", code_of(blocking)));
        }
        other => panic!("unknown role {other}"),
    }
}
