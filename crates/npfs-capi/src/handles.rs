//! The handle table: HANDLE values are small integers (multiples of 4 from 0x100, as on
//! Windows) naming objects of this process; pseudo-handles stand for the current process and
//! thread.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::*;
use crate::types::*;

/// Something a handle can name.
pub trait HandleObject: Any + Send + Sync {
    /// Whether waiting on it would return now; `None` if it is not waitable.
    fn signalled(&self) -> Option<bool>;
    /// A wait just returned because of it (auto-reset events reset here). Returns false if
    /// another waiter took it first.
    fn acquire(&self) -> bool {
        true
    }
    /// For downcasting to the concrete object.
    fn as_any(&self) -> &dyn Any;
    /// The handle to it is being closed (its last handle when `last`).
    fn closing(&self, _last: bool) {}
    /// CreateIoCompletionPort on this file: post completions to `port` with `key`. False if
    /// the object is not a file.
    fn associate(&self, _port: std::sync::Arc<crate::port::Port>, _key: usize) -> bool {
        false
    }
    /// The access mask the object was opened with, for objects whose handles are checked
    /// against theirs (pipe ends); `None` for the others.
    fn granted_access(&self) -> Option<DWORD> {
        None
    }
}

struct Entry {
    object: Arc<dyn HandleObject>,
    flags: DWORD,
    /// The access this handle holds when it is narrower than its object's (a DuplicateHandle
    /// copy asked for less); `None`: the object's own.
    access: Option<DWORD>,
}

struct Table {
    next: usize,
    map: HashMap<usize, Entry>,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

fn table() -> MutexGuard<'static, Option<Table>> {
    TABLE.lock().unwrap_or_else(|e| e.into_inner())
}

/// `GetCurrentProcess()`'s pseudo-handle.
pub const CURRENT_PROCESS: usize = usize::MAX; // (HANDLE)-1
/// `GetCurrentThread()`'s pseudo-handle.
pub const CURRENT_THREAD: usize = usize::MAX - 1; // (HANDLE)-2

/// Put `object` in the table and return its new handle.
pub fn insert(object: Arc<dyn HandleObject>, flags: DWORD) -> HANDLE {
    insert_with_access(object, flags, None)
}

/// Put `object` in the table with a handle holding `access` (narrower than the object's own,
/// or `None`) and return the new handle.
fn insert_with_access(
    object: Arc<dyn HandleObject>,
    flags: DWORD,
    access: Option<DWORD>,
) -> HANDLE {
    crate::inherit::init();
    let mut t = table();
    let t = t.get_or_insert_with(|| Table {
        next: 0x100,
        map: HashMap::new(),
    });
    while t.map.contains_key(&t.next) {
        t.next += 4;
    }
    let h = t.next;
    t.next += 4;
    t.map.insert(
        h,
        Entry {
            object,
            flags,
            access,
        },
    );
    h as HANDLE
}

/// Put `object` in the table under the handle value `h` (an inherited handle).
pub fn insert_at(h: HANDLE, object: Arc<dyn HandleObject>, flags: DWORD) {
    let mut t = table();
    let t = t.get_or_insert_with(|| Table {
        next: 0x100,
        map: HashMap::new(),
    });
    t.map.insert(
        h as usize,
        Entry {
            object,
            flags,
            access: None,
        },
    );
}

/// Every inheritable handle, its object and the narrower access it holds, if any.
pub fn inheritable() -> Vec<(usize, Arc<dyn HandleObject>, Option<DWORD>)> {
    let t = table();
    let Some(t) = t.as_ref() else {
        return Vec::new();
    };
    t.map
        .iter()
        .filter(|(_, e)| e.flags & HANDLE_FLAG_INHERIT != 0)
        .map(|(h, e)| (*h, e.object.clone(), e.access))
        .collect()
}

/// The access `h` holds when it is narrower than its object's (a DuplicateHandle copy that
/// asked for less); `None` when it holds the object's own, or names nothing.
#[doc(alias = "DuplicateHandle")]
pub fn narrowed_access(h: HANDLE) -> Option<DWORD> {
    table().as_ref()?.map.get(&(h as usize))?.access
}

/// The object `h` names.
pub fn get(h: HANDLE) -> Option<Arc<dyn HandleObject>> {
    crate::inherit::init();
    let h = h as usize;
    if h == CURRENT_THREAD {
        return Some(crate::thread::current_thread() as Arc<dyn HandleObject>);
    }
    table().as_ref()?.map.get(&h).map(|e| e.object.clone())
}

/// The object `h` names, as a `T`.
pub fn get_as<T: HandleObject>(h: HANDLE) -> Option<Arc<T>> {
    let o = get(h)?;
    if o.as_any().is::<T>() {
        // SAFETY-free downcast: `Arc<dyn HandleObject>` to `Arc<T>` through `Any`.
        let raw = Arc::into_raw(o) as *const T;
        // SAFETY: we checked that the object is a `T`; the pointer came from `Arc::into_raw`
        // of that same allocation, so rebuilding the Arc with the concrete type is sound.
        Some(unsafe { Arc::from_raw(raw) })
    } else {
        None
    }
}

fn close(h: HANDLE) -> Result<(), DWORD> {
    let h = h as usize;
    let object = {
        let mut t = table();
        let t = t.as_mut().ok_or(ERROR_INVALID_HANDLE)?;
        match t.map.get(&h) {
            None => return Err(ERROR_INVALID_HANDLE),
            Some(e) if e.flags & HANDLE_FLAG_PROTECT_FROM_CLOSE != 0 => {
                return Err(ERROR_INVALID_HANDLE)
            }
            Some(_) => {}
        }
        t.map.remove(&h).map(|e| e.object)
    };
    if let Some(o) = object {
        // The last handle: no other table entry names the same object (operations in
        // flight hold references of their own, which do not count).
        let last = !table()
            .as_ref()
            .is_some_and(|t| t.map.values().any(|e| Arc::ptr_eq(&e.object, &o)));
        o.closing(last);
    }
    Ok(())
}

/// CloseHandle.
#[no_mangle]
pub extern "C" fn CloseHandle(h: HANDLE) -> BOOL {
    guard(FALSE, || {
        crate::inherit::init();
        if h as usize == CURRENT_PROCESS || h as usize == CURRENT_THREAD {
            return TRUE;
        }
        match close(h) {
            Ok(()) => TRUE,
            Err(e) => fail(e),
        }
    })
}

/// GetCurrentProcess.
#[no_mangle]
pub extern "C" fn GetCurrentProcess() -> HANDLE {
    CURRENT_PROCESS as HANDLE
}

/// GetCurrentThread.
#[no_mangle]
pub extern "C" fn GetCurrentThread() -> HANDLE {
    CURRENT_THREAD as HANDLE
}

/// GetHandleInformation.
#[no_mangle]
pub unsafe extern "C" fn GetHandleInformation(h: HANDLE, flags: *mut DWORD) -> BOOL {
    guard(FALSE, || {
        crate::inherit::init();
        let t = table();
        let Some(e) = t.as_ref().and_then(|t| t.map.get(&(h as usize))) else {
            return fail(ERROR_INVALID_HANDLE);
        };
        if flags.is_null() {
            return fail(998); // ERROR_NOACCESS
        }
        // SAFETY: the caller passes a valid DWORD pointer (checked non-null).
        unsafe { *flags = e.flags };
        TRUE
    })
}

/// SetHandleInformation.
#[no_mangle]
pub extern "C" fn SetHandleInformation(h: HANDLE, mask: DWORD, flags: DWORD) -> BOOL {
    guard(FALSE, || {
        crate::inherit::init();
        let mut t = table();
        let Some(e) = t.as_mut().and_then(|t| t.map.get_mut(&(h as usize))) else {
            return fail(ERROR_INVALID_HANDLE);
        };
        let mask = mask & (HANDLE_FLAG_INHERIT | HANDLE_FLAG_PROTECT_FROM_CLOSE);
        e.flags = (e.flags & !mask) | (flags & mask);
        TRUE
    })
}

/// The `HANDLE_FLAG_*` flags of `h`.
pub fn flags_of(h: HANDLE) -> Option<DWORD> {
    table().as_ref()?.map.get(&(h as usize)).map(|e| e.flags)
}

/// DuplicateHandle, within this process: a new handle to the same object (the same file
/// object for a pipe end: its pending I/O, completion port and modes are shared). With
/// `DUPLICATE_SAME_ACCESS` the new handle holds the source's access; without it, a pipe
/// handle holds `dwDesiredAccess` (GENERIC_* mapped as for files), never more than the source
/// holds: asked for `GENERIC_READ` only, it cannot WriteFile (`ERROR_ACCESS_DENIED`).
#[no_mangle]
pub unsafe extern "C" fn DuplicateHandle(
    source_process: HANDLE,
    source: HANDLE,
    target_process: HANDLE,
    target: *mut HANDLE,
    desired_access: DWORD,
    inherit: BOOL,
    options: DWORD,
) -> BOOL {
    guard(FALSE, || {
        if source_process as usize != CURRENT_PROCESS || target_process as usize != CURRENT_PROCESS
        {
            return fail(ERROR_INVALID_PARAMETER);
        }
        let Some(o) = get(source) else {
            return fail(ERROR_INVALID_HANDLE);
        };
        let source_access = narrowed_access(source);
        let access = if options & DUPLICATE_SAME_ACCESS != 0 {
            source_access
        } else {
            o.granted_access().and_then(|full| {
                let held = source_access.unwrap_or(full);
                let asked = npfs_core::config::map_generic_access(desired_access) & held;
                (asked != full).then_some(asked)
            })
        };
        let flags = if inherit != 0 { HANDLE_FLAG_INHERIT } else { 0 };
        let h = insert_with_access(o, flags, access);
        if !target.is_null() {
            // SAFETY: the caller passes a valid HANDLE pointer (checked non-null).
            unsafe { *target = h };
        }
        if options & DUPLICATE_CLOSE_SOURCE != 0 {
            let _ = close(source);
        }
        TRUE
    })
}
