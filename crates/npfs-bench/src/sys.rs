//! The few system facilities the suite needs: CPU pinning, the descriptor limit, descriptor
//! inheritance across exec, and memory figures from `/proc`.

use std::io;
use std::os::fd::{AsFd, OwnedFd};

use rustix::io::{fcntl_getfd, fcntl_setfd, FdFlags};
use rustix::process::{getrlimit, setrlimit, Resource};
use rustix::thread::{sched_setaffinity, CpuSet};

/// Pin the calling thread (and the threads it starts later) to `cpus`; empty means every
/// CPU of the machine (unpinned).
pub fn pin(cpus: &[usize]) -> io::Result<()> {
    let mut set = CpuSet::new();
    if cpus.is_empty() {
        // Every CPU (not `num_cpus()`, which only counts those of the current affinity: after
        // a pin to CPU 0 it would keep the process there). The kernel ignores absent ones.
        for c in 0..CpuSet::MAX_CPU {
            set.set(c);
        }
    } else {
        for &c in cpus {
            set.set(c);
        }
    }
    sched_setaffinity(None, &set)?;
    Ok(())
}

/// The number of online CPUs.
pub fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Raise the soft `RLIMIT_NOFILE` to the hard limit; returns the new soft limit.
pub fn raise_nofile() -> u64 {
    let lim = getrlimit(Resource::Nofile);
    let mut new = lim;
    new.current = lim.maximum;
    let _ = setrlimit(Resource::Nofile, new);
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Let `fd` survive exec (clear `FD_CLOEXEC`), for the child about to be started.
pub fn inheritable(fd: &OwnedFd) -> io::Result<()> {
    let flags = fcntl_getfd(fd.as_fd())? - FdFlags::CLOEXEC;
    fcntl_setfd(fd.as_fd(), flags)?;
    Ok(())
}

/// Resident and proportional set size of a process, in bytes (`/proc/PID/smaps_rollup`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Mem {
    /// `Rss`: resident pages, shared ones counted in full.
    pub rss: u64,
    /// `Pss`: resident pages, each shared page divided by the number of processes mapping it.
    pub pss: u64,
}

impl std::ops::Sub for Mem {
    type Output = (i64, i64);
    fn sub(self, base: Mem) -> (i64, i64) {
        (
            self.rss as i64 - base.rss as i64,
            self.pss as i64 - base.pss as i64,
        )
    }
}

/// RSS and PSS of process `pid`.
pub fn mem_of(pid: u32) -> io::Result<Mem> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    Ok(Mem {
        rss: kb_field(&text, "Rss:").unwrap_or(0) * 1024,
        pss: kb_field(&text, "Pss:").unwrap_or(0) * 1024,
    })
}

/// `VmRSS` of process `pid` (`/proc/PID/status`), in bytes.
pub fn vm_rss(pid: u32) -> io::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    kb_field(&text, "VmRSS:")
        .map(|kb| kb * 1024)
        .ok_or_else(|| io::Error::other("no VmRSS"))
}

/// The number of open descriptors of process `pid`.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory() {
        let m = mem_of(std::process::id()).unwrap();
        assert!(m.rss > 0 && m.pss > 0);
        assert!(vm_rss(std::process::id()).unwrap() > 0);
        assert_eq!(kb_field("Rss:   12 kB\nPss: 3 kB", "Pss:"), Some(3));
    }
}
