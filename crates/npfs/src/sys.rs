//! Thin wrappers over the system calls the data path needs: futexes on shared memory, process
//! liveness, and hang-up polls of connection sockets.

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};
use rustix::thread::futex;

/// Wait while `word` holds `expected`, at most `timeout` (None: forever). Spurious returns are
/// fine: callers re-check their condition.
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|d| rustix::time::Timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: d.subsec_nanos().into(),
    });
    // Shared (not PRIVATE): the word lives in memory mapped by several processes.
    let _ = futex::wait(word, futex::Flags::empty(), expected, ts.as_ref());
}

/// Wake every waiter on `word`.
pub(crate) fn futex_wake_all(word: &AtomicU32) {
    let _ = futex::wake(word, futex::Flags::empty(), i32::MAX as u32);
}

/// Wake one waiter on `word`.
pub(crate) fn futex_wake_one(word: &AtomicU32) {
    let _ = futex::wake(word, futex::Flags::empty(), 1);
}

/// Whether process `pid` still exists.
pub(crate) fn pid_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    let Some(p) = rustix::process::Pid::from_raw(pid as i32) else {
        return false;
    };
    match rustix::process::test_kill_process(p) {
        // A zombie (killed, not yet reaped by its parent) has let go of everything.
        Ok(()) => !is_zombie(pid),
        Err(e) => e != rustix::io::Errno::SRCH,
    }
}

/// Whether `pid` is a zombie, from `/proc/PID/stat` (the state follows the `)` of the name).
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rfind(')')
                .map(|i| s[i + 1..].trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

static PID: AtomicU32 = AtomicU32::new(0);

/// This process's id, cached (and refreshed in a forked child).
pub(crate) fn my_pid() -> u32 {
    let p = PID.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    let p = rustix::process::getpid().as_raw_nonzero().get() as u32;
    PID.store(p, Ordering::Relaxed);
    static ATFORK: std::sync::Once = std::sync::Once::new();
    ATFORK.call_once(|| {
        extern "C" fn child() {
            PID.store(0, Ordering::Relaxed);
        }
        // SAFETY: registering a fork handler that only stores to an atomic.
        unsafe {
            libc::pthread_atfork(None, None, Some(child));
        }
    });
    p
}

/// ProcessIdToSessionId: the Unix session id of process `pid`, which npfs reports as the
/// Windows session id (GetNamedPipeClient/ServerSessionId report this process's). A session
/// led from outside this PID namespace (as in a container) reads as 0 — the id Windows gives
/// services — rather than as an error. `ERROR_INVALID_PARAMETER` for pid 0 (Windows' idle
/// process, which getsid would take for "this process") and for a process that does not exist.
pub fn process_session_id(pid: u32) -> Result<u32, npfs_core::Win32Error> {
    let raw = match i32::try_from(pid) {
        Ok(p) if p > 0 => p,
        _ => return Err(npfs_core::Win32Error::INVALID_PARAMETER),
    };
    // rustix's getsid asserts a nonzero id, which a container breaks; libc reports it as is.
    // SAFETY: getsid takes no pointers.
    let sid = unsafe { libc::getsid(raw) };
    u32::try_from(sid).map_err(|_| npfs_core::Win32Error::INVALID_PARAMETER)
}

/// This process's session id ([`process_session_id`] of [`my_pid`]).
pub(crate) fn session_id() -> u32 {
    process_session_id(my_pid()).unwrap_or(0)
}

/// True when the peer of this socket has gone (its last descriptor closed).
pub(crate) fn socket_hung_up(sock: &impl AsFd) -> bool {
    let mut fds = [PollFd::new(sock, PollFlags::RDHUP)];
    let zero = rustix::time::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match rustix::event::poll(&mut fds, Some(&zero)) {
        Ok(n) if n > 0 => {
            let r = fds[0].revents();
            r.intersects(PollFlags::HUP | PollFlags::RDHUP | PollFlags::ERR | PollFlags::NVAL)
        }
        _ => false,
    }
}

/// True when descriptor `fd` of this process is an eventfd (what the kernel names it in
/// /proc/self/fd), so that writing a counter to it cannot land in a file or socket.
pub(crate) fn is_eventfd(fd: std::os::fd::RawFd) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .is_ok_and(|t| t.as_os_str() == "anon_inode:[eventfd]")
}

/// The longest a waiter spins before it sleeps, in ns: 0 on a machine with one CPU online (the
/// peer could not run meanwhile), else 50 µs, or `NPFS_SPIN_US` when set. The count is of the
/// machine's CPUs, not of this process's affinity: a process pinned to one CPU still talks to
/// peers on the others, and a spin that fails (a peer on the same CPU) shrinks its own budget.
pub(crate) fn spin_max_ns() -> u64 {
    static MAX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        if let Some(us) = std::env::var("NPFS_SPIN_US")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            return us * 1000;
        }
        // SAFETY: sysconf takes no pointers.
        let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        if cpus > 1 {
            50_000
        } else {
            0
        }
    })
}

/// Milliseconds on a monotonic clock (from an arbitrary start).
pub(crate) fn monotonic_ms() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1000 + t.tv_nsec as u64 / 1_000_000
}

/// The file of the loaded object (executable or shared library) that holds this code, as the
/// dynamic loader names it: how `libnpfs.so` finds the install it belongs to.
pub(crate) fn object_path_of_this_library() -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    let here = object_path_of_this_library as *const libc::c_void;
    // SAFETY: dladdr only reads the loader's tables for an address inside a loaded object
    // (this function's own code) and fills `info`, which is large enough for a Dl_info.
    let found = unsafe { libc::dladdr(here, info.as_mut_ptr()) };
    if found == 0 {
        return None;
    }
    // SAFETY: dladdr returned nonzero, so it initialised `info`.
    let info = unsafe { info.assume_init() };
    if info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated string owned by the loader, valid while the
    // object stays loaded (it holds this code, so it is loaded now); it is copied at once.
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(name.to_bytes()));
    // The main program's name may be relative (argv[0]); only an absolute path is trusted.
    path.is_absolute()
        .then(|| path.canonicalize().unwrap_or_else(|_| path.to_path_buf()))
}
