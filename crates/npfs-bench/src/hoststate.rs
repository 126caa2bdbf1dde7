//! A gauge of the machine's state: how fast cache lines move between CPU 0 and CPU 1.
//!
//! On a virtual machine the host decides where the two vCPUs really run; on the project's
//! machine the cross-core copy rate of every transport (npfs, AF_UNIX, pipe(2)) changes by
//! 2–5× from one minute to the next while same-core figures stay put. The suite measures this
//! gauge at the start and at the end of a run and prints both, so that a reader can tell which
//! state the cross-core figures were taken in.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::sys;

/// Bytes of the buffer the two threads take turns writing.
const BUF_BYTES: usize = 1 << 20;
/// How long to measure.
const MEASURE: Duration = Duration::from_millis(200);

/// Cross-core cache-line transfer rate, GB/s: two threads pinned to `a` and `b` take turns
/// writing every 8-byte word of a 1 MiB buffer, so each turn moves every line of it from the
/// other CPU's cache. `None` when pinning failed (fewer CPUs).
pub fn cross_core_gbps(a: usize, b: usize) -> Option<f64> {
    let words = BUF_BYTES / 8;
    let buf: Arc<Vec<AtomicU64>> = Arc::new((0..words).map(|_| AtomicU64::new(0)).collect());
    let turn = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicU32::new(0));
    let side = |me: u32, cpu: usize| {
        let (buf, turn, stop) = (buf.clone(), turn.clone(), stop.clone());
        std::thread::spawn(move || -> Option<u64> {
            sys::pin(&[cpu]).ok()?;
            let mut passes = 0u64;
            loop {
                while turn.load(Ordering::Acquire) != me {
                    if stop.load(Ordering::Relaxed) != 0 {
                        return Some(passes);
                    }
                    std::hint::spin_loop();
                }
                for w in buf.iter() {
                    w.store(passes, Ordering::Relaxed);
                }
                passes += 1;
                turn.store(1 - me, Ordering::Release);
            }
        })
    };
    let start = Instant::now();
    let (ta, tb) = (side(0, a), side(1, b));
    std::thread::sleep(MEASURE);
    stop.store(1, Ordering::Relaxed);
    let passes = ta.join().ok()?? + tb.join().ok()??;
    let secs = start.elapsed().as_secs_f64();
    Some(passes as f64 * BUF_BYTES as f64 / secs / 1e9)
}

/// The gauge as a line for the run's header.
pub fn describe() -> String {
    match cross_core_gbps(0, 1) {
        Some(g) => format!("{g:.1} GB/s"),
        None => "n/a (one CPU)".into(),
    }
}
