//! ImpersonateNamedPipeClient / RevertToSelf across real users (issue 4 §4, §6): the server
//! (root) takes the identity of a client that another Unix user runs, for file access, in the
//! calling thread only. Runs as root (as CI does); skipped otherwise.

mod common;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::sync::Arc;
use std::time::Duration;

use common::*;

const USER: &str = "npfs-test-a";

/// uid and gid of the test user, creating it when missing (as root).
fn test_user() -> Option<(u32, u32)> {
    if rustix::process::geteuid().as_raw() != 0 {
        eprintln!("skipped: impersonation tests need root");
        return None;
    }
    shared_broker();
    let id = |flag: &str| -> Option<u32> {
        let out = std::process::Command::new("id")
            .args([flag, USER])
            .output()
            .ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    if id("-u").is_none() {
        let _ = std::process::Command::new("useradd")
            .args(["-M", "-s", "/usr/sbin/nologin", USER])
            .status();
    }
    Some((id("-u")?, id("-g")?))
}

/// A broker other users can reach: this binary's runtime directory opened up (0755) and a
/// `npfsd --shared` started in it before anything else uses npfs.
fn shared_broker() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dir = runtime_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let exe = std::env::current_exe().unwrap();
        let npfsd = exe.parent().and_then(|d| d.parent()).unwrap().join("npfsd");
        let st = std::process::Command::new(npfsd)
            .arg("--shared")
            .arg("--runtime-dir")
            .arg(&dir)
            .status()
            .unwrap();
        assert!(st.success(), "npfsd --shared");
    });
}

/// A root-only file (mode 0600).
fn secret() -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("npfs-secret-{}-{}", std::process::id(), rand_tag()));
    std::fs::write(&p, b"root only").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn rand_tag() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn spawn_as(uid: u32, gid: u32, args: &[&str]) -> (ChildGuard, LineReader) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_npfs-test-child"));
    cmd.args(args).uid(uid).gid(gid);
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped());
    spawn_piped(cmd)
}

// api.md §2.13: "Calling it before the server has read anything fails with
// ERROR_CANNOT_IMPERSONATE"; "The calling thread takes on the security context" of the client;
// RevertToSelf ends it. issue 4 §6: "impersonation changes the thread's file access and
// RevertToSelf restores it".
#[test]
fn impersonation_changes_the_threads_file_access() {
    let Some((uid, gid)) = test_user() else {
        return;
    };
    let name = pipe_name("imp");
    // Everyone may connect (the default DACL would give the other user read only).
    let s = Arc::new(
        opts(true, true, 1, 4096, 4096)
            .sddl("D:(A;;GA;;;SY)(A;;0x12019b;;;WD)")
            .create(&name)
            .unwrap(),
    );
    let (child, out) = spawn_as(uid, gid, &["write-then-hold", &name, "5"]);
    out.expect("wrote");
    settle(&s);
    assert_eq!(s.impersonate_client(), Err(Win32Error::CANNOT_IMPERSONATE));
    assert_eq!(read_n(&s, 16).0.len(), 5);
    let file = secret();
    assert!(std::fs::read(&file).is_ok(), "root reads its own file");
    // A thread that exists before the impersonation (threads created while impersonating
    // inherit the identity on Linux: docs/DEVIATIONS.md).
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let f2 = file.clone();
    let other = std::thread::spawn(move || {
        wait.recv().unwrap();
        std::fs::read(&f2).is_ok()
    });
    s.impersonate_client().unwrap();
    assert_eq!(
        rustix::process::geteuid().as_raw(),
        uid,
        "the thread's euid is the client's"
    );
    let denied = std::fs::read(&file).expect_err("the client may not read root's file");
    assert_eq!(denied.kind(), std::io::ErrorKind::PermissionDenied);
    // Other threads keep the server's identity.
    go.send(()).unwrap();
    assert!(other.join().unwrap(), "another thread still reads as root");
    npfs::revert_to_self().unwrap();
    assert_eq!(rustix::process::geteuid().as_raw(), 0);
    assert!(std::fs::read(&file).is_ok(), "RevertToSelf restores access");
    assert_eq!(s.client_user_name().unwrap(), USER);
    // conformance §3 test_ImpersonateNamedPipeClient: "After client thread exits (client
    // handle closed), ImpersonateNamedPipeClient still returns TRUE (impersonation context
    // remains from last message)".
    drop(child);
    eventually(
        Duration::from_secs(10),
        "the server sees the client gone",
        || s.state() == PipeState::Closing,
    );
    assert_eq!(s.impersonate_client(), Ok(()));
    assert_eq!(rustix::process::geteuid().as_raw(), uid);
    npfs::revert_to_self().unwrap();
    assert_eq!(rustix::process::geteuid().as_raw(), 0);
    let _ = std::fs::remove_file(&file);
}

// api.md §2.4 / §6.3: with SQOS Identification the server may learn the client's identity but
// not act as it: npfs lends it as nobody, who cannot read the client's files either.
#[test]
fn identification_level_does_not_lend_the_identity() {
    let Some((uid, gid)) = test_user() else {
        return;
    };
    let name = pipe_name("impid");
    let s = Arc::new(
        opts(true, true, 1, 4096, 4096)
            .sddl("D:(A;;GA;;;SY)(A;;0x12019b;;;WD)")
            .create(&name)
            .unwrap(),
    );
    // SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION.
    let (_child, out) = spawn_as(uid, gid, &["flags-write-then-hold", &name, "0x110000", "3"]);
    out.expect("wrote");
    settle(&s);
    assert_eq!(read_n(&s, 16).0.len(), 3);
    s.impersonate_client().unwrap();
    assert_eq!(rustix::process::geteuid().as_raw(), 65534);
    npfs::revert_to_self().unwrap();
    assert_eq!(rustix::process::geteuid().as_raw(), 0);
}
