//! npfs only: connect latency (CreateFile → first byte received) and the rate of instance
//! create + connect cycles, both across two processes.

use std::io;
use std::time::Instant;

use npfs::consts::NMPWAIT_WAIT_FOREVER;
use npfs::{wait_named_pipe, PipeClient, Win32Error};

use crate::child::{ChildArgs, ChildProc, Parent};
use crate::measure::Effort;
use crate::placement::Placement;
use crate::stats::{percentile, Summary};
use crate::sys;
use crate::transport::npfs::{server_options, unique_name, w32};

/// Connect latency over the runs: each run's median, µs.
#[derive(Debug, Clone, Copy)]
pub struct ConnectLatency {
    /// Connects per run.
    pub per_run: usize,
    /// Each run's median.
    pub p50: Summary,
}

/// Connect latency: the child creates an instance and waits in ConnectNamedPipe, then
/// writes one byte; the parent times PipeClient::open up to that byte's arrival.
pub fn latency(place: Placement, effort: Effort, per_run: usize) -> io::Result<ConnectLatency> {
    sys::pin(&[place.parent_cpu()])?;
    let mut meds = Vec::new();
    for run in 0..=effort.runs {
        let name = unique_name("connect");
        let args = vec![
            "connect-server".to_string(),
            "--name".into(),
            name.clone(),
            "--count".into(),
            per_run.to_string(),
            "--cpu".into(),
            place.child_cpu().to_string(),
        ];
        let mut child = ChildProc::spawn(&args, Vec::new())?;
        let mut lat = Vec::with_capacity(per_run);
        for _ in 0..per_run {
            child.expect("listening")?;
            let t = Instant::now();
            let c = PipeClient::open_duplex(&name).map_err(w32("CreateFile"))?;
            let mut b = [0u8; 1];
            c.read(&mut b).map_err(w32("ReadFile"))?;
            lat.push(t.elapsed().as_secs_f64() * 1e6);
        }
        child.finish()?;
        if run > 0 {
            // run 0 is the warm-up
            meds.push(percentile(&mut lat, 0.5));
        }
    }
    Ok(ConnectLatency {
        per_run,
        p50: Summary::of(&mut meds).expect("runs >= 1"),
    })
}

/// Child of [`latency`]: the server loop.
pub fn latency_child(args: &ChildArgs) -> io::Result<()> {
    sys::pin(&[args.num("cpu")?])?;
    let name = args.get("name")?;
    let count: usize = args.num("count")?;
    let mut parent = Parent::new();
    for _ in 0..count {
        let s = server_options(false)
            .create(name)
            .map_err(w32("CreateNamedPipe"))?;
        parent.say("listening")?;
        match s.connect() {
            Ok(()) | Err(Win32Error::PIPE_CONNECTED) => {}
            Err(e) => return Err(w32("ConnectNamedPipe")(e)),
        }
        s.write(&[1]).map_err(w32("WriteFile"))?;
        // Wait for the client to close (the read fails then), so instances do not pile up.
        let mut b = [0u8; 1];
        let _ = s.read(&mut b);
    }
    let _ = parent.hear();
    Ok(())
}

/// Instance create + connect rate.
#[derive(Debug, Clone, Copy)]
pub struct CreateRate {
    /// Cycles per run.
    pub n: usize,
    /// Cycles per second.
    pub per_sec: Summary,
}

/// One run of the create + connect loop; returns cycles per second.
fn rate_run(place: Placement, n: usize) -> io::Result<f64> {
    let name = unique_name("rate");
    let opts = server_options(false);
    let mut next = opts.create(&name).map_err(w32("CreateNamedPipe"))?;
    let args = vec![
        "create-client".to_string(),
        "--name".into(),
        name.clone(),
        "--count".into(),
        n.to_string(),
        "--cpu".into(),
        place.child_cpu().to_string(),
    ];
    let mut child = ChildProc::spawn(&args, Vec::new())?;
    child.expect("ready")?;
    let t = Instant::now();
    child.send("go")?;
    for _ in 0..n {
        let s = next;
        match s.connect() {
            Ok(()) | Err(Win32Error::PIPE_CONNECTED) | Err(Win32Error::NO_DATA) => {}
            Err(e) => return Err(w32("ConnectNamedPipe")(e)),
        }
        next = opts.create(&name).map_err(w32("CreateNamedPipe"))?;
        drop(s);
    }
    let el = t.elapsed().as_secs_f64();
    child.finish()?;
    Ok(n as f64 / el)
}

/// Instance create + connect rate: the parent (server) keeps one instance listening,
/// waits in ConnectNamedPipe, creates the next instance and closes the connected one; the
/// child (client) opens and closes as fast as it can, waiting with WaitNamedPipe when busy.
pub fn create_rate(place: Placement, effort: Effort) -> io::Result<CreateRate> {
    sys::pin(&[place.parent_cpu()])?;
    let mut n = 20;
    loop {
        let r = rate_run(place, n)?;
        let t = n as f64 / r;
        if t >= effort.calib_secs {
            n = ((n as f64) * effort.secs / t) as usize;
            break;
        }
        n *= 4;
    }
    let n = n.max(10);
    rate_run(place, n)?; // warm-up
    let mut res = Vec::new();
    for _ in 0..effort.runs {
        res.push(rate_run(place, n)?);
    }
    Ok(CreateRate {
        n,
        per_sec: Summary::of(&mut res).expect("runs >= 1"),
    })
}

/// Child of [`create_rate`]: the client loop.
pub fn create_rate_child(args: &ChildArgs) -> io::Result<()> {
    sys::pin(&[args.num("cpu")?])?;
    let name = args.get("name")?;
    let count: usize = args.num("count")?;
    let mut parent = Parent::new();
    parent.say("ready")?;
    parent.wait_for("go")?;
    for _ in 0..count {
        loop {
            match PipeClient::open_duplex(name) {
                Ok(c) => {
                    drop(c);
                    break;
                }
                Err(Win32Error::PIPE_BUSY) => match wait_named_pipe(name, NMPWAIT_WAIT_FOREVER) {
                    Ok(()) | Err(Win32Error::FILE_NOT_FOUND) => {}
                    Err(e) => return Err(w32("WaitNamedPipe")(e)),
                },
                Err(Win32Error::FILE_NOT_FOUND) => std::thread::yield_now(),
                Err(e) => return Err(w32("CreateFile")(e)),
            }
        }
    }
    let _ = parent.hear();
    Ok(())
}
