//! Throughput and ping-pong round trip of the native transports, with the anchors'
//! methodology: every run is a fresh channel and a fresh child process; the message count is
//! calibrated so that a run lasts about the target time; one warm-up run is discarded, then
//! each of the timed runs gives one result, summarised as median, min and max. The transports
//! of one figure take their timed runs in turns.
//!
//! - throughput: the child sends `n` messages of `size` bytes (one write each), the parent
//!   receives them (one read per message, exact-length loops for byte streams); MB/s is
//!   `n × size / 10^6 / elapsed`, timed from "go" to the last byte received;
//! - round trip: the parent sends `size` bytes and the child echoes them; each round trip
//!   is timed, and each run gives its p50 and p99.

use std::io;
use std::time::Instant;

use crate::child::{ChildArgs, ChildProc, Parent};
use crate::placement::Placement;
use crate::stats::{percentile, Summary};
use crate::sys;
use crate::transport::{self, Kind};

/// Most round trips recorded per run.
const MAX_LAT_SAMPLES: usize = 400_000;

/// How long and how often to measure.
#[derive(Debug, Clone, Copy)]
pub struct Effort {
    /// Timed runs per figure.
    pub runs: usize,
    /// Target seconds per timed run.
    pub secs: f64,
    /// Calibration stops once a run takes this long (seconds).
    pub calib_secs: f64,
}

/// Throughput of one size.
#[derive(Debug, Clone, Copy)]
pub struct Tput {
    /// Message size in bytes.
    pub size: usize,
    /// Messages per run.
    pub n: usize,
    /// MB/s (10^6 bytes per second) over the runs.
    pub mbps: Summary,
}

/// Round trip of one size.
#[derive(Debug, Clone, Copy)]
pub struct Rtt {
    /// Message size in bytes.
    pub size: usize,
    /// Round trips per run.
    pub n: usize,
    /// Each run's median round trip, µs.
    pub p50: Summary,
    /// Each run's 99th percentile, µs.
    pub p99: Summary,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Tput,
    Lat,
}

impl Mode {
    fn id(self) -> &'static str {
        match self {
            Mode::Tput => "tput",
            Mode::Lat => "lat",
        }
    }
}

/// One run: returns the elapsed seconds and (round-trip mode) the round trips in seconds.
fn one_run(
    kind: Kind,
    place: Placement,
    mode: Mode,
    size: usize,
    n: usize,
    warm: usize,
) -> io::Result<(f64, Vec<f64>)> {
    let prep = transport::prepare(kind, size)?;
    let mut args = vec![
        "run".to_string(),
        "--kind".into(),
        kind.id().into(),
        "--mode".into(),
        mode.id().into(),
        "--size".into(),
        size.to_string(),
        "--count".into(),
        (n + warm).to_string(),
        "--cpu".into(),
        place.child_cpu().to_string(),
    ];
    args.extend(prep.child_args);
    let mut ep = prep.endpoint;
    let mut child = ChildProc::spawn(&args, prep.inherit)?;
    child.expect("ready")?;
    ep.peer_ready()?;
    let mut buf = vec![0x5au8; size];
    let mut lat = Vec::new();
    let t0 = Instant::now();
    child.send("go")?;
    match mode {
        Mode::Tput => {
            for _ in 0..n {
                ep.recv(&mut buf)?;
            }
        }
        Mode::Lat => {
            lat.reserve(n);
            for i in 0..n + warm {
                let a = Instant::now();
                ep.send(&buf)?;
                ep.recv(&mut buf)?;
                if i >= warm {
                    lat.push(a.elapsed().as_secs_f64());
                }
            }
        }
    }
    let el = t0.elapsed().as_secs_f64();
    child.finish()?;
    drop(ep);
    Ok((el, lat))
}

/// Grow the count until a run lasts `calib_secs`, then scale it to the target.
fn calibrate(
    kind: Kind,
    place: Placement,
    mode: Mode,
    size: usize,
    effort: Effort,
) -> io::Result<usize> {
    let mut n = match mode {
        Mode::Tput => ((1usize << 20) / size).max(16),
        Mode::Lat => 200,
    };
    loop {
        let (t, _) = one_run(
            kind,
            place,
            mode,
            size,
            n,
            if mode == Mode::Lat { 10 } else { 0 },
        )?;
        if t >= effort.calib_secs || n >= 50_000_000 {
            n = ((n as f64) * effort.secs / t.max(1e-9)) as usize;
            break;
        }
        n *= if t < effort.calib_secs / 10.0 { 10 } else { 4 };
    }
    let n = n.max(16);
    Ok(if mode == Mode::Lat {
        n.min(MAX_LAT_SAMPLES)
    } else {
        n
    })
}

/// One figure's runs for several transports, taken in turns: after each transport's
/// calibration and warm-up, timed run `i` of every transport comes before run `i + 1` of any,
/// so that a change in the machine's state during the figure (a host moving a vCPU) falls on
/// all of them alike and their ratios stay fair. A transport that fails drops out with its
/// error; the others go on.
fn interleaved(
    kinds: &[Kind],
    place: Placement,
    mode: Mode,
    size: usize,
    effort: Effort,
    mut record: impl FnMut(usize, usize, f64, Vec<f64>),
) -> Vec<io::Result<usize>> {
    if let Err(e) = sys::pin(&[place.parent_cpu()]) {
        return kinds
            .iter()
            .map(|_| Err(io::Error::other(e.to_string())))
            .collect();
    }
    let warm_of = |n: usize| if mode == Mode::Lat { n / 20 + 10 } else { 0 };
    let mut counts: Vec<io::Result<usize>> = kinds
        .iter()
        .map(|&k| {
            let n = calibrate(k, place, mode, size, effort)?;
            one_run(k, place, mode, size, n, warm_of(n))?; // warm-up, discarded
            Ok(n)
        })
        .collect();
    for _ in 0..effort.runs {
        for (i, &k) in kinds.iter().enumerate() {
            let Ok(n) = counts[i] else { continue };
            match one_run(k, place, mode, size, n, warm_of(n)) {
                Ok((t, lat)) => record(i, n, t, lat),
                Err(e) => counts[i] = Err(e),
            }
        }
    }
    counts
}

/// Throughput of each of `kinds` at `size`, measured in turns (see [`interleaved`]).
pub fn throughput(
    kinds: &[Kind],
    place: Placement,
    size: usize,
    effort: Effort,
) -> Vec<io::Result<Tput>> {
    let mut res: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    let counts = interleaved(kinds, place, Mode::Tput, size, effort, |i, n, t, _| {
        res[i].push(n as f64 * size as f64 / t / 1e6);
    });
    counts
        .into_iter()
        .zip(res.iter_mut())
        .map(|(n, r)| {
            let n = n?;
            Ok(Tput {
                size,
                n,
                mbps: Summary::of(r).ok_or_else(|| io::Error::other("no timed run"))?,
            })
        })
        .collect()
}

/// Ping-pong round trip of each of `kinds` at `size`, measured in turns (see
/// [`interleaved`]).
pub fn round_trip(
    kinds: &[Kind],
    place: Placement,
    size: usize,
    effort: Effort,
) -> Vec<io::Result<Rtt>> {
    let mut p50: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    let mut p99: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    let counts = interleaved(kinds, place, Mode::Lat, size, effort, |i, _, _, mut lat| {
        p50[i].push(percentile(&mut lat, 0.50) * 1e6);
        p99[i].push(percentile(&mut lat, 0.99) * 1e6);
    });
    counts
        .into_iter()
        .zip(p50.iter_mut().zip(p99.iter_mut()))
        .map(|(n, (a, b))| {
            let n = n?;
            let none = || io::Error::other("no timed run");
            Ok(Rtt {
                size,
                n,
                p50: Summary::of(a).ok_or_else(none)?,
                p99: Summary::of(b).ok_or_else(none)?,
            })
        })
        .collect()
}

/// The child side of one run (`__child run ...`).
pub fn child_main(args: &ChildArgs) -> io::Result<()> {
    let kind = Kind::from_id(args.get("kind")?).ok_or_else(|| io::Error::other("bad --kind"))?;
    let size: usize = args.num("size")?;
    let count: usize = args.num("count")?;
    sys::pin(&[args.num("cpu")?])?;
    let mut ep = transport::open(kind, args)?;
    let mut parent = Parent::new();
    parent.say("ready")?;
    parent.wait_for("go")?;
    let mut buf = vec![0x5au8; size];
    match args.get("mode")? {
        "tput" => {
            for _ in 0..count {
                ep.send(&buf)?;
            }
        }
        _ => {
            for _ in 0..count {
                ep.recv(&mut buf)?;
                ep.send(&buf)?;
            }
        }
    }
    // Keep the channel open until the parent has everything (finish() closes our stdin).
    let _ = parent.hear();
    Ok(())
}
