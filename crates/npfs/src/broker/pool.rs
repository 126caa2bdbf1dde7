//! The broker connections a process keeps for requests (opens, detached creates), one per
//! concurrent caller: each saves a connect and the broker's accept per call.

use std::sync::Mutex;

use super::{BrokerConn, BrokerError};

/// The kept connections, with the process and runtime directory (`NPFS_RUNTIME_DIR`) they
/// belong to: a forked child or another directory never reuses them.
static KEPT: Mutex<Vec<(u32, Option<std::ffi::OsString>, BrokerConn)>> = Mutex::new(Vec::new());

fn kept() -> std::sync::MutexGuard<'static, Vec<(u32, Option<std::ffi::OsString>, BrokerConn)>> {
    KEPT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Run `f` on a kept connection to the broker of [`super::BrokerConfig::from_env`], or a new
/// one. The connection is kept again unless `f` failed other than with a Win32 answer.
pub(crate) fn with_kept<T>(
    f: impl FnOnce(&mut BrokerConn) -> Result<T, BrokerError>,
) -> Result<T, BrokerError> {
    let pid = crate::sys::my_pid();
    let dir = std::env::var_os("NPFS_RUNTIME_DIR");
    let found = {
        let mut v = kept();
        v.retain(|(p, _, _)| *p == pid);
        let i = v.iter().position(|(_, d, _)| *d == dir);
        i.map(|i| v.swap_remove(i).2)
    };
    let mut b = match found {
        Some(b) => b,
        None => BrokerConn::connect()?,
    };
    let r = f(&mut b);
    if matches!(r, Ok(_) | Err(BrokerError::Win32(_))) {
        kept().push((pid, dir, b));
    }
    r
}
