//! Child processes: CreateProcessA / CreateProcessW on posix_spawn, the process and thread
//! handles they return (waitable, GetExitCodeProcess, GetProcessId), and
//! GetModuleFileNameA / GetModuleFileNameW for the program's own path.
//!
//! What is supported:
//! - The program: `lpApplicationName` if given (a relative path is taken from the current
//!   directory; no extension is added); otherwise the first token of `lpCommandLine`: a token
//!   with a `/` is a path, any other name is looked for in the directory of the calling
//!   program's executable and then in `PATH` (Windows also searches the current and system
//!   directories; Linux programs have no `.exe` to add).
//! - The child's `argv`: `lpCommandLine` split by the Microsoft C runtime's rules (as the
//!   child's CRT would split it on Windows): white space separates arguments outside double
//!   quotes; `2n` backslashes before a `"` give `n` backslashes and the quote opens or closes
//!   a quoted part; `2n + 1` give `n` and a literal `"`; other backslashes are literal; `""`
//!   inside a quoted part is a literal `"`. The first token (the program name) only drops its
//!   quotes. Without a command line, `argv` is `lpApplicationName` split the same way.
//! - The environment: the calling process's, or `lpEnvironment` (`NAME=value` strings, each
//!   NUL-terminated, then an empty one; UTF-16 with `CREATE_UNICODE_ENVIRONMENT`, else bytes).
//!   Any `NPFS_HANDLES` entry in it is dropped, and with `bInheritHandles` one made at this
//!   moment for the inheritable pipe handles is added ([`crate::inherit`]).
//! - `lpCurrentDirectory` (must be a directory: `ERROR_DIRECTORY` otherwise).
//! - Creation flags: `CREATE_UNICODE_ENVIRONMENT`; `CREATE_NEW_PROCESS_GROUP` starts a new
//!   process group; the priority classes, console and window flags (`CREATE_NEW_CONSOLE`,
//!   `CREATE_NO_WINDOW`, `DETACHED_PROCESS`), `CREATE_DEFAULT_ERROR_MODE`,
//!   `CREATE_BREAKAWAY_FROM_JOB`, `CREATE_PRESERVE_CODE_AUTHZ_LEVEL` and
//!   `INHERIT_PARENT_AFFINITY` are accepted and have no effect. Any other flag
//!   (`CREATE_SUSPENDED`, `DEBUG_PROCESS`, `EXTENDED_STARTUPINFO_PRESENT`, ...) fails with
//!   `ERROR_NOT_SUPPORTED`.
//! - `STARTUPINFO`: only `dwFlags` is read; `STARTF_USESTDHANDLES` fails with
//!   `ERROR_NOT_SUPPORTED` (a pipe handle of libnpfs is not a descriptor a child can read as
//!   its stdin); the child shares the caller's stdin, stdout and stderr. The window members
//!   are ignored.
//! - The child starts with an empty signal mask and `SIGPIPE` at its default action.
//!
//! The process handle is signalled when the child exits; GetExitCodeProcess gives
//! `STILL_ACTIVE` (259) until then, then its exit status (`128 + N` when signal `N` ended it).
//! The thread handle stands for the child's main thread, signalled at the same time. A
//! watcher thread of libnpfs waits for the child's exit (waitid, no polling); the exited
//! child is reaped when its last handle closes, so its process id is not reused while a
//! handle names it, as on Windows. If the application reaps the child itself (waitpid(-1),
//! `SIGCHLD` ignored), the handle is still signalled when it exits, with the exit code
//! 0xFFFFFFFF.

use std::any::Any;
use std::ffi::{c_char, CStr, CString, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use crate::error::*;
use crate::handles::{self, HandleObject, CURRENT_PROCESS};
use crate::types::*;

/// `CREATE_NEW_PROCESS_GROUP`.
const CREATE_NEW_PROCESS_GROUP: DWORD = 0x200;
/// `CREATE_UNICODE_ENVIRONMENT`.
const CREATE_UNICODE_ENVIRONMENT: DWORD = 0x400;
/// The creation flags accepted without effect: `DETACHED_PROCESS`, `CREATE_NEW_CONSOLE`,
/// the six priority classes, `INHERIT_PARENT_AFFINITY`, `CREATE_BREAKAWAY_FROM_JOB`,
/// `CREATE_PRESERVE_CODE_AUTHZ_LEVEL`, `CREATE_DEFAULT_ERROR_MODE`, `CREATE_NO_WINDOW`.
const IGNORED_FLAGS: DWORD = 0x8
    | 0x10
    | 0x20
    | 0x40
    | 0x80
    | 0x100
    | 0x4000
    | 0x8000
    | 0x1_0000
    | 0x100_0000
    | 0x200_0000
    | 0x400_0000
    | 0x800_0000;
/// `STARTF_USESTDHANDLES`.
const STARTF_USESTDHANDLES: DWORD = 0x100;

/// `ERROR_FILE_NOT_FOUND`.
const ERROR_FILE_NOT_FOUND: DWORD = 2;
/// `ERROR_ACCESS_DENIED`.
const ERROR_ACCESS_DENIED: DWORD = 5;
/// `ERROR_SHARING_VIOLATION`.
const ERROR_SHARING_VIOLATION: DWORD = 32;
/// `ERROR_NOT_SUPPORTED`.
const ERROR_NOT_SUPPORTED: DWORD = 50;
/// `ERROR_INSUFFICIENT_BUFFER`.
const ERROR_INSUFFICIENT_BUFFER: DWORD = 122;
/// `ERROR_MOD_NOT_FOUND`.
const ERROR_MOD_NOT_FOUND: DWORD = 126;
/// `ERROR_BAD_EXE_FORMAT`.
const ERROR_BAD_EXE_FORMAT: DWORD = 193;
/// `ERROR_FILENAME_EXCED_RANGE`.
const ERROR_FILENAME_EXCED_RANGE: DWORD = 206;
/// `ERROR_DIRECTORY`.
const ERROR_DIRECTORY: DWORD = 267;

/// A child process started by CreateProcess.
pub struct Child {
    pid: u32,
    /// The exit code, once `exited`.
    code: AtomicU32,
    exited: AtomicBool,
    /// The exited child is a zombie that only we may reap (false when someone else reaped it:
    /// its pid may then name another process already).
    zombie: AtomicBool,
    /// A watcher thread waits for the exit (false only if it could not be started).
    watched: AtomicBool,
}

impl Child {
    fn finish(&self, code: DWORD) {
        self.code.store(code, Ordering::SeqCst);
        if !self.exited.swap(true, Ordering::SeqCst) && !self.watched.load(Ordering::SeqCst) {
            crate::signal::unwatched_child_gone();
        }
        crate::signal::notify();
    }

    /// Wait for the child's exit without reaping it. `nohang`: only look.
    fn wait_exit(&self, nohang: bool) -> Option<DWORD> {
        loop {
            let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::zeroed();
            let flags = libc::WEXITED | libc::WNOWAIT | if nohang { libc::WNOHANG } else { 0 };
            // SAFETY: waitid on our own child's pid, writing only the siginfo buffer we pass.
            let rc = unsafe { libc::waitid(libc::P_PID, self.pid, info.as_mut_ptr(), flags) };
            if rc == 0 {
                // SAFETY: waitid succeeded; with WNOHANG and no exit yet it left the buffer
                // zeroed (si_pid 0), which we check before reading the status.
                let info = unsafe { info.assume_init() };
                // SAFETY: the fields of a SIGCHLD siginfo, which waitid filled.
                let (pid, status) = unsafe { (info.si_pid(), info.si_status()) };
                if pid == 0 {
                    return None;
                }
                self.zombie.store(true, Ordering::SeqCst);
                return Some(match info.si_code {
                    libc::CLD_EXITED => status as DWORD,
                    _ => 128 + status as DWORD,
                });
            }
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                // Reaped by someone else (waitpid(-1), SIGCHLD ignored): it has ended, and its
                // status is gone.
                _ => return Some(u32::MAX),
            }
        }
    }

    /// The exit code, or None while the child runs.
    fn exit_code(&self) -> Option<DWORD> {
        if self.exited.load(Ordering::SeqCst) {
            return Some(self.code.load(Ordering::SeqCst));
        }
        if !self.watched.load(Ordering::SeqCst) {
            // No watcher thread: look now (waits re-check every 100 ms).
            if let Some(code) = self.wait_exit(true) {
                self.finish(code);
                return Some(code);
            }
        }
        None
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.exited.load(Ordering::SeqCst) && !self.watched.load(Ordering::SeqCst) {
            crate::signal::unwatched_child_gone();
        }
        // The last reference: reap the child that exited (the watcher left it a zombie so that
        // its pid stayed reserved while handles named it).
        if self.zombie.load(Ordering::SeqCst) {
            let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::zeroed();
            // SAFETY: reaping our own exited child; writes only the buffer we pass.
            unsafe {
                libc::waitid(
                    libc::P_PID,
                    self.pid,
                    info.as_mut_ptr(),
                    libc::WEXITED | libc::WNOHANG,
                )
            };
        }
    }
}

/// A process handle (CreateProcess's `hProcess`).
pub struct ProcessObj(Arc<Child>);

/// The handle of a child's main thread (CreateProcess's `hThread`).
pub struct MainThreadObj(Arc<Child>);

impl HandleObject for ProcessObj {
    fn signalled(&self) -> Option<bool> {
        Some(self.0.exit_code().is_some())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl HandleObject for MainThreadObj {
    fn signalled(&self) -> Option<bool> {
        Some(self.0.exit_code().is_some())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// GetExitCodeThread of a child's main thread: its process's exit code, `STILL_ACTIVE` while
/// it runs. None if `h` is not such a handle.
pub fn main_thread_exit_code(h: HANDLE) -> Option<DWORD> {
    let t = handles::get_as::<MainThreadObj>(h)?;
    Some(t.0.exit_code().unwrap_or(STILL_ACTIVE))
}

/// Split a command line by the Microsoft C runtime's rules (see the module documentation).
pub fn split_command_line(cmd: &[u8]) -> Vec<Vec<u8>> {
    let mut args = Vec::new();
    let n = cmd.len();
    let at = |i: usize| cmd.get(i).copied().unwrap_or(0);
    let mut i = 0;
    // The program name: quotes toggle and are dropped, nothing is escaped.
    let mut arg = Vec::new();
    let mut quoted = false;
    while i < n && at(i) != 0 {
        let c = at(i);
        if c == b'"' {
            quoted = !quoted;
        } else if !quoted && (c == b' ' || c == b'\t') {
            break;
        } else {
            arg.push(c);
        }
        i += 1;
    }
    args.push(arg);
    quoted = false;
    loop {
        while at(i) == b' ' || at(i) == b'\t' {
            i += 1;
        }
        if i >= n || at(i) == 0 {
            break;
        }
        let mut arg = Vec::new();
        loop {
            let mut copy = true;
            let mut slashes = 0;
            while at(i) == b'\\' {
                i += 1;
                slashes += 1;
            }
            if at(i) == b'"' {
                if slashes % 2 == 0 {
                    if quoted && at(i + 1) == b'"' {
                        i += 1; // `""` inside quotes: a literal quote
                    } else {
                        copy = false;
                        quoted = !quoted;
                    }
                }
                slashes /= 2;
            }
            arg.extend(std::iter::repeat_n(b'\\', slashes));
            let c = at(i);
            if i >= n || c == 0 || (!quoted && (c == b' ' || c == b'\t')) {
                break;
            }
            if copy {
                arg.push(c);
            }
            i += 1;
        }
        args.push(arg);
    }
    if args.len() == 1 && args[0].is_empty() && cmd.iter().all(|&c| c == b' ' || c == b'\t') {
        args.clear();
    }
    args
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    std::env::current_dir()
        .map(|d| d.join(p))
        .unwrap_or_else(|_| p.to_path_buf())
}

fn executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The program to run: `app`, or `name` (the command line's first token) as a path or looked
/// up in the caller's executable directory, then `PATH`.
fn find_program(app: Option<&[u8]>, name: &[u8]) -> Result<PathBuf, DWORD> {
    if let Some(app) = app {
        return Ok(absolute(Path::new(std::ffi::OsStr::from_bytes(app))));
    }
    if name.is_empty() {
        return Err(ERROR_INVALID_PARAMETER);
    }
    let name = Path::new(std::ffi::OsStr::from_bytes(name));
    if name.as_os_str().as_bytes().contains(&b'/') {
        return Ok(absolute(name));
    }
    let own_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    own_dir
        .into_iter()
        .chain(std::env::split_paths(&path).filter(|d| !d.as_os_str().is_empty()))
        .map(|d| absolute(&d.join(name)))
        .find(|p| executable(p))
        .ok_or(ERROR_FILE_NOT_FOUND)
}

/// The strings of an environment block, up to the empty one.
unsafe fn block_entries<T: Copy + Default + PartialEq>(p: *const T) -> Vec<Vec<T>> {
    let zero = T::default();
    let mut out = Vec::new();
    let mut q = p;
    loop {
        let mut s = Vec::new();
        // SAFETY: the caller's block is a sequence of NUL-terminated strings ending with an
        // empty one (the API contract); we read up to that end.
        unsafe {
            while *q != zero {
                s.push(*q);
                q = q.add(1);
            }
            q = q.add(1);
        }
        if s.is_empty() {
            return out;
        }
        out.push(s);
    }
}

fn is_handles_entry(e: &[u8]) -> bool {
    e.strip_prefix(crate::inherit::ENV.as_bytes())
        .is_some_and(|rest| rest.first() == Some(&b'='))
}

/// CreateProcess's reading of an errno from exec or fork; the rest is npfs-core's one errno
/// table.
fn errno_to_win32(e: i32) -> DWORD {
    match e {
        libc::EISDIR => ERROR_ACCESS_DENIED,
        libc::ENOEXEC | libc::ELIBBAD => ERROR_BAD_EXE_FORMAT,
        libc::ETXTBSY => ERROR_SHARING_VIOLATION,
        libc::E2BIG | libc::ENAMETOOLONG => ERROR_FILENAME_EXCED_RANGE,
        // fork's EAGAIN: no memory (or no process slot) for the child.
        libc::ENOMEM | libc::EAGAIN => ERROR_NOT_ENOUGH_MEMORY,
        _ => npfs_core::Win32Error::from_errno(e).0,
    }
}

/// What CreateProcessA and CreateProcessW agree on, their strings decoded.
struct Request {
    app: Option<Vec<u8>>,
    cmd: Option<Vec<u8>>,
    env: Option<Vec<Vec<u8>>>,
    dir: Option<Vec<u8>>,
    inherit: bool,
    flags: DWORD,
    process_inherit: bool,
    thread_inherit: bool,
}

fn to_cstrings(v: Vec<Vec<u8>>) -> Result<Vec<CString>, DWORD> {
    v.into_iter()
        .map(|s| CString::new(s).map_err(|_| ERROR_INVALID_PARAMETER))
        .collect()
}

/// posix_spawn `path` with `argv` and `envp`, in `dir`, handing it `fds` at their numbers.
fn spawn(
    path: &CStr,
    argv: &[CString],
    envp: &[CString],
    dir: Option<&CStr>,
    fds: &[std::os::fd::RawFd],
    new_group: bool,
) -> Result<u32, DWORD> {
    let mut argv_p: Vec<*mut c_char> = argv.iter().map(|s| s.as_ptr().cast_mut()).collect();
    argv_p.push(std::ptr::null_mut());
    let mut envp_p: Vec<*mut c_char> = envp.iter().map(|s| s.as_ptr().cast_mut()).collect();
    envp_p.push(std::ptr::null_mut());
    let mut pid: libc::pid_t = 0;
    // SAFETY: the posix_spawn calls below get objects initialised by their *_init functions
    // (destroyed before returning), NUL-terminated strings and NULL-terminated arrays that
    // outlive the call, and descriptor numbers that are open (the caller holds the
    // handing-over lock). posix_spawn starts the child with vfork semantics, safe in a
    // threaded process.
    let rc = unsafe {
        let mut fa = std::mem::MaybeUninit::<libc::posix_spawn_file_actions_t>::zeroed();
        let mut at = std::mem::MaybeUninit::<libc::posix_spawnattr_t>::zeroed();
        if libc::posix_spawn_file_actions_init(fa.as_mut_ptr()) != 0 {
            return Err(ERROR_NOT_ENOUGH_MEMORY);
        }
        if libc::posix_spawnattr_init(at.as_mut_ptr()) != 0 {
            libc::posix_spawn_file_actions_destroy(fa.as_mut_ptr());
            return Err(ERROR_NOT_ENOUGH_MEMORY);
        }
        let mut rc = 0;
        for &fd in fds {
            // dup2 of a descriptor onto itself clears its close-on-exec flag in the child only.
            rc |= libc::posix_spawn_file_actions_adddup2(fa.as_mut_ptr(), fd, fd);
        }
        if let Some(dir) = dir {
            rc |= libc::posix_spawn_file_actions_addchdir_np(fa.as_mut_ptr(), dir.as_ptr());
        }
        let mut mask = std::mem::MaybeUninit::<libc::sigset_t>::zeroed();
        libc::sigemptyset(mask.as_mut_ptr());
        rc |= libc::posix_spawnattr_setsigmask(at.as_mut_ptr(), mask.as_ptr());
        let mut dfl = std::mem::MaybeUninit::<libc::sigset_t>::zeroed();
        libc::sigemptyset(dfl.as_mut_ptr());
        libc::sigaddset(dfl.as_mut_ptr(), libc::SIGPIPE);
        rc |= libc::posix_spawnattr_setsigdefault(at.as_mut_ptr(), dfl.as_ptr());
        let mut sflags = libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
        if new_group {
            sflags |= libc::POSIX_SPAWN_SETPGROUP;
            rc |= libc::posix_spawnattr_setpgroup(at.as_mut_ptr(), 0);
        }
        rc |= libc::posix_spawnattr_setflags(at.as_mut_ptr(), sflags as libc::c_short);
        if rc == 0 {
            rc = libc::posix_spawn(
                &mut pid,
                path.as_ptr(),
                fa.as_ptr(),
                at.as_ptr(),
                argv_p.as_ptr(),
                envp_p.as_ptr(),
            );
        } else {
            rc = libc::ENOMEM;
        }
        libc::posix_spawn_file_actions_destroy(fa.as_mut_ptr());
        libc::posix_spawnattr_destroy(at.as_mut_ptr());
        rc
    };
    if rc != 0 {
        return Err(errno_to_win32(rc));
    }
    Ok(pid as u32)
}

fn create_process(r: Request, info: *mut PROCESS_INFORMATION) -> BOOL {
    crate::inherit::init();
    let unsupported =
        r.flags & !(IGNORED_FLAGS | CREATE_NEW_PROCESS_GROUP | CREATE_UNICODE_ENVIRONMENT);
    if unsupported != 0 {
        return fail(ERROR_NOT_SUPPORTED);
    }
    let Some(line) = r.cmd.clone().or_else(|| r.app.clone()) else {
        return fail(ERROR_INVALID_PARAMETER);
    };
    let mut args = split_command_line(&line);
    let first = args.first().cloned().unwrap_or_default();
    let path = match find_program(r.app.as_deref(), &first) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if args.is_empty() {
        args.push(r.app.clone().unwrap_or_default());
    }
    let dir = match &r.dir {
        None => None,
        Some(d) => {
            let d = PathBuf::from(OsString::from_vec(d.clone()));
            if !std::fs::metadata(&d).is_ok_and(|m| m.is_dir()) {
                return fail(ERROR_DIRECTORY);
            }
            match CString::new(d.into_os_string().into_vec()) {
                Ok(c) => Some(c),
                Err(_) => return fail(ERROR_DIRECTORY),
            }
        }
    };
    let Ok(cpath) = CString::new(path.into_os_string().into_vec()) else {
        return fail(ERROR_FILE_NOT_FOUND);
    };
    let argv = match to_cstrings(args) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let base: Vec<Vec<u8>> = match r.env {
        Some(block) => block,
        None => std::env::vars_os()
            .map(|(k, v)| {
                let mut e = k.into_vec();
                e.push(b'=');
                e.extend(v.into_vec());
                e
            })
            .collect(),
    };
    let mut envp = match to_cstrings(base.into_iter().filter(|e| !is_handles_entry(e)).collect()) {
        Ok(e) => e,
        Err(e) => return fail(e),
    };

    // From here to the child's start, the inheritable ends' descriptors stay what their
    // entry says.
    let held = crate::inherit::handing_over();
    let mut fds = Vec::new();
    if r.inherit {
        let inh = crate::inherit::prepare(true);
        envp.extend(inh.entry);
        fds = inh.fds;
    }
    let spawned = spawn(
        &cpath,
        &argv,
        &envp,
        dir.as_deref(),
        &fds,
        r.flags & CREATE_NEW_PROCESS_GROUP != 0,
    );
    drop(held);
    let pid = match spawned {
        Ok(pid) => pid,
        Err(e) => return fail(e),
    };

    let child = Arc::new(Child {
        pid,
        code: AtomicU32::new(STILL_ACTIVE),
        exited: AtomicBool::new(false),
        zombie: AtomicBool::new(false),
        watched: AtomicBool::new(true),
    });
    let for_watcher = child.clone();
    let started = std::thread::Builder::new()
        .name(format!("npfs-child-{pid}"))
        .stack_size(64 * 1024)
        .spawn(move || {
            let code = for_watcher.wait_exit(false).unwrap_or(u32::MAX);
            for_watcher.finish(code);
        });
    if started.is_err() {
        // No thread: the handle looks at the child whenever a wait re-checks it.
        child.watched.store(false, Ordering::SeqCst);
        crate::signal::unwatched_child_added();
    }
    let flag = |inherit: bool| if inherit { HANDLE_FLAG_INHERIT } else { 0 };
    let hp = handles::insert(Arc::new(ProcessObj(child.clone())), flag(r.process_inherit));
    let ht = handles::insert(Arc::new(MainThreadObj(child)), flag(r.thread_inherit));
    // SAFETY: the caller's PROCESS_INFORMATION (checked non-null by the callers).
    unsafe {
        info.write(PROCESS_INFORMATION {
            hProcess: hp,
            hThread: ht,
            dwProcessId: pid,
            dwThreadId: pid,
        });
    }
    TRUE
}

unsafe fn bytes(p: *const u8) -> Option<Vec<u8>> {
    // SAFETY: NULL or a NUL-terminated string (the API contract).
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p.cast()) }.to_bytes().to_vec())
}

unsafe fn wide(p: *const u16) -> Result<Option<Vec<u8>>, DWORD> {
    if p.is_null() {
        return Ok(None);
    }
    let mut n = 0;
    // SAFETY: a NUL-terminated UTF-16 string (the API contract).
    let units = unsafe {
        while *p.add(n) != 0 {
            n += 1;
        }
        std::slice::from_raw_parts(p, n)
    };
    String::from_utf16(units)
        .map(|s| Some(s.into_bytes()))
        .map_err(|_| ERROR_INVALID_PARAMETER)
}

unsafe fn inherit_of(sa: *const SECURITY_ATTRIBUTES) -> bool {
    // SAFETY: NULL or the caller's SECURITY_ATTRIBUTES.
    !sa.is_null() && unsafe { (*sa).bInheritHandle } != 0
}

/// The environment block: bytes, or UTF-16 with `CREATE_UNICODE_ENVIRONMENT`.
unsafe fn env_block(
    p: *const std::ffi::c_void,
    flags: DWORD,
) -> Result<Option<Vec<Vec<u8>>>, DWORD> {
    if p.is_null() {
        return Ok(None);
    }
    if flags & CREATE_UNICODE_ENVIRONMENT != 0 {
        // SAFETY: the caller's UTF-16 block (CREATE_UNICODE_ENVIRONMENT).
        unsafe { block_entries(p.cast::<u16>()) }
            .into_iter()
            .map(|e| {
                String::from_utf16(&e)
                    .map(String::into_bytes)
                    .map_err(|_| ERROR_INVALID_PARAMETER)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    } else {
        // SAFETY: the caller's byte block.
        Ok(Some(unsafe { block_entries(p.cast::<u8>()) }))
    }
}

/// Check the pointers both forms require and read `STARTUPINFO.dwFlags`.
unsafe fn check_startup(
    si: *const STARTUPINFOA,
    info: *mut PROCESS_INFORMATION,
) -> Result<(), DWORD> {
    if si.is_null() || info.is_null() {
        return Err(ERROR_NOACCESS);
    }
    // SAFETY: the caller's STARTUPINFOA or STARTUPINFOW (same layout up to the strings'
    // type, which we do not read).
    let flags = unsafe { (*si).dwFlags };
    if flags & STARTF_USESTDHANDLES != 0 {
        return Err(ERROR_NOT_SUPPORTED);
    }
    Ok(())
}

/// CreateProcessA: start a program (see the module documentation for what is supported).
/// With `bInheritHandles`, the child gets every inheritable pipe handle at the same value.
///
/// # Safety
/// Strings are NULL or NUL-terminated, `lpEnvironment` NULL or an environment block,
/// `lpStartupInfo` and `lpProcessInformation` valid pointers.
#[doc(alias = "CreateProcess")]
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn CreateProcessA(
    application: *const u8,
    command_line: *mut u8,
    process_attributes: *const SECURITY_ATTRIBUTES,
    thread_attributes: *const SECURITY_ATTRIBUTES,
    inherit_handles: BOOL,
    flags: DWORD,
    environment: *const std::ffi::c_void,
    current_directory: *const u8,
    startup_info: *const STARTUPINFOA,
    process_information: *mut PROCESS_INFORMATION,
) -> BOOL {
    guard(FALSE, || {
        // SAFETY: the caller's arguments, per the API contract above.
        unsafe {
            if let Err(e) = check_startup(startup_info, process_information) {
                return fail(e);
            }
            let env = match env_block(environment, flags) {
                Ok(e) => e,
                Err(e) => return fail(e),
            };
            create_process(
                Request {
                    app: bytes(application),
                    cmd: bytes(command_line),
                    env,
                    dir: bytes(current_directory),
                    inherit: inherit_handles != 0,
                    flags,
                    process_inherit: inherit_of(process_attributes),
                    thread_inherit: inherit_of(thread_attributes),
                },
                process_information,
            )
        }
    })
}

/// CreateProcessW: [`CreateProcessA`] with UTF-16 strings (the environment block is UTF-16
/// only with `CREATE_UNICODE_ENVIRONMENT`, as on Windows).
///
/// # Safety
/// As for [`CreateProcessA`]; `lpStartupInfo` is a STARTUPINFOW.
#[doc(alias = "CreateProcess")]
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn CreateProcessW(
    application: *const u16,
    command_line: *mut u16,
    process_attributes: *const SECURITY_ATTRIBUTES,
    thread_attributes: *const SECURITY_ATTRIBUTES,
    inherit_handles: BOOL,
    flags: DWORD,
    environment: *const std::ffi::c_void,
    current_directory: *const u16,
    startup_info: *const STARTUPINFOA,
    process_information: *mut PROCESS_INFORMATION,
) -> BOOL {
    guard(FALSE, || {
        // SAFETY: the caller's arguments, per the API contract above.
        unsafe {
            if let Err(e) = check_startup(startup_info, process_information) {
                return fail(e);
            }
            let strings = (|| {
                Ok::<_, DWORD>((
                    wide(application)?,
                    wide(command_line)?,
                    wide(current_directory)?,
                    env_block(environment, flags)?,
                ))
            })();
            let (app, cmd, dir, env) = match strings {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            create_process(
                Request {
                    app,
                    cmd,
                    env,
                    dir,
                    inherit: inherit_handles != 0,
                    flags,
                    process_inherit: inherit_of(process_attributes),
                    thread_inherit: inherit_of(thread_attributes),
                },
                process_information,
            )
        }
    })
}

/// GetExitCodeProcess: the child's exit code, `STILL_ACTIVE` (259) while it runs (and for
/// `GetCurrentProcess()`).
///
/// # Safety
/// `code` is NULL or a writable DWORD.
#[no_mangle]
pub unsafe extern "C" fn GetExitCodeProcess(h: HANDLE, code: *mut DWORD) -> BOOL {
    guard(FALSE, || {
        let c = if h as usize == CURRENT_PROCESS {
            STILL_ACTIVE
        } else {
            match handles::get_as::<ProcessObj>(h) {
                Some(p) => p.0.exit_code().unwrap_or(STILL_ACTIVE),
                None => return fail(ERROR_INVALID_HANDLE),
            }
        };
        if code.is_null() {
            return fail(ERROR_NOACCESS);
        }
        // SAFETY: the caller's DWORD (checked non-null).
        unsafe { *code = c };
        TRUE
    })
}

/// GetProcessId: the process id a process handle names (the calling process's for
/// `GetCurrentProcess()`); 0 with `ERROR_INVALID_HANDLE` for anything else.
#[no_mangle]
pub extern "C" fn GetProcessId(h: HANDLE) -> DWORD {
    guard(0, || {
        if h as usize == CURRENT_PROCESS {
            return crate::misc::GetCurrentProcessId();
        }
        match handles::get_as::<ProcessObj>(h) {
            Some(p) => p.0.pid,
            None => {
                set_last_error(ERROR_INVALID_HANDLE);
                0
            }
        }
    })
}

/// The program's own path (`/proc/self/exe`) as GetModuleFileName copies it: the length
/// without the NUL, or, when it does not fit, `size` with the copy truncated (and
/// NUL-terminated) and `ERROR_INSUFFICIENT_BUFFER`.
unsafe fn module_file_name<T: Copy + Default>(
    module: HANDLE,
    buf: *mut T,
    size: DWORD,
    name: Vec<T>,
) -> DWORD {
    if !module.is_null() {
        set_last_error(ERROR_MOD_NOT_FOUND);
        return 0;
    }
    if size == 0 || buf.is_null() {
        set_last_error(ERROR_INSUFFICIENT_BUFFER);
        return 0;
    }
    let size = size as usize;
    let n = name.len().min(size - 1);
    // SAFETY: `buf` has room for `size` units (the API contract) and n < size.
    unsafe {
        std::ptr::copy_nonoverlapping(name.as_ptr(), buf, n);
        *buf.add(n) = T::default();
    }
    if name.len() >= size {
        set_last_error(ERROR_INSUFFICIENT_BUFFER);
        return size as DWORD;
    }
    n as DWORD
}

fn own_path() -> Vec<u8> {
    std::env::current_exe()
        .map(|p| p.into_os_string().into_vec())
        .unwrap_or_default()
}

/// GetModuleFileNameA: the program's own path for `hModule` NULL (other modules:
/// `ERROR_MOD_NOT_FOUND`).
///
/// # Safety
/// `buf` has room for `size` bytes.
#[no_mangle]
pub unsafe extern "C" fn GetModuleFileNameA(module: HANDLE, buf: *mut u8, size: DWORD) -> DWORD {
    // SAFETY: forwarded contract.
    guard(0, || unsafe {
        module_file_name(module, buf, size, own_path())
    })
}

/// GetModuleFileNameW: [`GetModuleFileNameA`] in UTF-16.
///
/// # Safety
/// `buf` has room for `size` UTF-16 units.
#[no_mangle]
pub unsafe extern "C" fn GetModuleFileNameW(module: HANDLE, buf: *mut u16, size: DWORD) -> DWORD {
    let name: Vec<u16> = String::from_utf8_lossy(&own_path())
        .encode_utf16()
        .collect();
    // SAFETY: forwarded contract.
    guard(0, || unsafe { module_file_name(module, buf, size, name) })
}

/// GetExitCodeThread (also of a child's main thread, CreateProcess's `hThread`).
#[no_mangle]
pub unsafe extern "C" fn GetExitCodeThread(h: HANDLE, code: *mut DWORD) -> BOOL {
    guard(FALSE, || {
        let c = match handles::get_as::<crate::thread::ThreadObj>(h) {
            Some(t) => t.exit_code.load(Ordering::SeqCst),
            None => match main_thread_exit_code(h) {
                Some(c) => c,
                None => return fail(ERROR_INVALID_HANDLE),
            },
        };
        if code.is_null() {
            return fail(998);
        }
        // SAFETY: the caller's DWORD out-pointer (checked non-null).
        unsafe { *code = c };
        TRUE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        split_command_line(s.as_bytes())
            .into_iter()
            .map(|a| String::from_utf8(a).unwrap())
            .collect()
    }

    #[test]
    fn command_lines_split_as_the_crt_splits_them() {
        assert_eq!(split(r#"prog a b"#), ["prog", "a", "b"]);
        assert_eq!(split(r#""C:\a b\p.exe" x"#), [r"C:\a b\p.exe", "x"]);
        assert_eq!(split(r#"p\\"x" y"#), [r"p\\x", "y"]); // the program name: no escapes
        assert_eq!(split(r#"p "a b"  c	d"#), ["p", "a b", "c", "d"]);
        assert_eq!(split(r#"p a\\\"b"#), ["p", r#"a\"b"#]);
        assert_eq!(split(r#"p a\\\\"b c""#), ["p", r"a\\b c"]);
        assert_eq!(
            split(r#"p a\b \\server\share"#),
            ["p", r"a\b", r"\\server\share"]
        );
        assert_eq!(split(r#"p "" x"#), ["p", "", "x"]);
        assert_eq!(split(r#"p "x""y""#), ["p", r#"x"y"#]);
        assert_eq!(split(r#"p \"x\""#), ["p", r#""x""#]);
        assert_eq!(split("p "), ["p"]);
        assert!(split("").is_empty());
        assert!(split("  ").is_empty());
    }

    #[test]
    fn handles_entries_are_recognised_by_name() {
        assert!(is_handles_entry(b"NPFS_HANDLES=1=2"));
        assert!(is_handles_entry(b"NPFS_HANDLES="));
        assert!(!is_handles_entry(b"NPFS_HANDLESX=1"));
        assert!(!is_handles_entry(b"PATH=/bin"));
    }

    #[test]
    fn programs_are_found_on_path() {
        assert_eq!(
            find_program(None, b"sh").ok().map(|p| executable(&p)),
            Some(true)
        );
        assert_eq!(
            find_program(None, b"no-such-program-npfs"),
            Err(ERROR_FILE_NOT_FOUND)
        );
        assert_eq!(
            find_program(Some(b"/bin/sh"), b"whatever"),
            Ok(PathBuf::from("/bin/sh"))
        );
    }
}
