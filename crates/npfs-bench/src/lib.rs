//! The npfs benchmark suite: npfs beside its anchors — AF_UNIX stream and seqpacket
//! socketpairs, pipe(2), and Wine's named pipes — measured in one run on one machine, with
//! the methodology of `../shared/bench` (a fresh channel and child process per run, counts
//! calibrated to ~0.2 s per run, one discarded warm-up, median with min and max of the
//! timed runs), at two CPU placements (same core, cross core).
//!
//! Entry point: [`run_from_args`] (`npfs-bench ARGS` or `npfs bench ARGS`; see [`opts::USAGE`]).
//! The suite re-executes itself as the child side of each measurement with the hidden
//! subcommand [`child::CHILD_SUBCOMMAND`]; npfs figures use the library's blocking API only,
//! through a private broker started for the run.
//!
//! The benchmark is not a test: nothing here asserts a timing. `--smoke` only checks that
//! every measurement runs.

pub mod broker;
pub mod cconnect;
pub mod child;
pub mod connect;
pub mod hoststate;
pub mod measure;
pub mod memory;
pub mod opts;
pub mod placement;
pub mod report;
pub mod stats;
pub mod sys;
pub mod transport;
pub mod waits;
pub mod wine;

use std::io;

use measure::Effort;
use opts::Opts;
use placement::Placement;
use report::{NpfsExtras, Results, Row, RowData, RttCell, LAT_SIZES, TPUT_SIZES};
use transport::Kind;

/// When this process was started to be the broker — as `EXE npfsd ARGS` (what the library
/// runs once [`register_builtin_broker`] made this executable its fallback) or under the name
/// `npfsd` — run the built-in broker and return its exit status; else `None`.
pub fn run_builtin_broker_if_asked() -> Option<i32> {
    use clap::Parser;
    let mut args = std::env::args_os();
    let argv0 = args.next()?;
    let rest: Vec<std::ffi::OsString> = args.collect();
    let npfsd_args = if std::path::Path::new(&argv0).file_name() == Some("npfsd".as_ref()) {
        rest
    } else if rest
        .first()
        .is_some_and(|a| a == npfs::broker::BUILTIN_BROKER_SUBCOMMAND)
    {
        rest[1..].to_vec()
    } else {
        return None;
    };
    let cli = npfsd::cli::Cli::parse_from(std::iter::once("npfsd".into()).chain(npfsd_args));
    Some(npfsd::startup::main_with(cli.args, cli.shared))
}

/// Make this executable the broker the library starts when it finds no `npfsd` (it must
/// call [`run_builtin_broker_if_asked`] first thing in `main`).
pub fn register_builtin_broker() {
    if let Ok(me) = std::env::current_exe() {
        npfs::broker::set_fallback_broker(npfs::broker::BrokerProgram::npfs_command(me));
    }
}

/// Run the suite (or a child side) with `args`, the arguments after the program name (or
/// after `npfs bench`). Returns the process exit status: 0 when every measurement ran, 1
/// when one failed, 2 on a usage error.
pub fn run_from_args(args: Vec<String>) -> i32 {
    if args.first().map(String::as_str) == Some(child::CHILD_SUBCOMMAND) {
        return child_main(&args[1..]);
    }
    let opts = match Opts::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("npfs-bench: {e}");
            }
            eprintln!("{}", opts::USAGE);
            return if e.is_empty() { 0 } else { 2 };
        }
    };
    match run_suite(&opts, &args) {
        Ok(0) => 0,
        Ok(failures) => {
            eprintln!("npfs-bench: {failures} measurement(s) failed");
            1
        }
        Err(e) => {
            eprintln!("npfs-bench: {e}");
            1
        }
    }
}

fn child_main(args: &[String]) -> i32 {
    let role = args.first().cloned().unwrap_or_default();
    let rest = child::ChildArgs::new(args.get(1..).unwrap_or_default().to_vec());
    let res = match role.as_str() {
        "run" => measure::child_main(&rest),
        "connect-server" => connect::latency_child(&rest),
        "create-client" => connect::create_rate_child(&rest),
        "idle-server" => memory::server_child(&rest),
        "idle-client" => memory::client_child(&rest),
        "idle-instances" => waits::idle_instances_child(&rest),
        other => Err(io::Error::other(format!("unknown child role {other:?}"))),
    };
    match res {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("npfs-bench child {role}: {e}");
            1
        }
    }
}

fn effort(o: &Opts) -> Effort {
    if o.smoke {
        Effort {
            runs: 1,
            secs: 0.003,
            calib_secs: 0.001,
        }
    } else if o.quick {
        Effort {
            runs: 3,
            secs: 0.1,
            calib_secs: 0.02,
        }
    } else {
        Effort {
            runs: 5,
            secs: 0.2,
            calib_secs: 0.02,
        }
    }
}

/// Everything about the machine and the run that a reader needs to reproduce it.
fn meta(o: &Opts, args: &[String], e: Effort) -> Vec<(String, String)> {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let git = |a: &[&str]| {
        std::process::Command::new("git")
            .args(a)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown".into())
    };
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]);
    vec![
        ("command".into(), format!("npfs-bench {}", args.join(" "))),
        (
            "commit".into(),
            format!(
                "{}{}",
                git(&["rev-parse", "--short", "HEAD"]),
                if dirty.is_empty() || dirty == "unknown" {
                    ""
                } else {
                    " (with uncommitted changes)"
                }
            ),
        ),
        ("cpu".into(), cpu),
        ("cpus".into(), sys::num_cpus().to_string()),
        (
            "kernel".into(),
            std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        ),
        (
            "effort".into(),
            format!(
                "{} timed runs of ~{} s per figure after one warm-up{}",
                e.runs,
                e.secs,
                if o.smoke {
                    " (smoke: figures meaningless)"
                } else {
                    ""
                }
            ),
        ),
    ]
}

fn progress(what: &str) {
    eprintln!("npfs-bench: {what}");
}

/// Measure one harness transport at one placement.
/// Append each transport's new figure to its row (`cell` makes it); the first error of a
/// transport replaces its row.
fn merge<T, C>(
    rows: &mut [io::Result<Vec<C>>],
    figures: Vec<io::Result<T>>,
    cell: impl Fn(T) -> C,
) {
    for (row, r) in rows.iter_mut().zip(figures) {
        match (row.as_mut(), r) {
            (Ok(v), Ok(t)) => v.push(cell(t)),
            (Ok(_), Err(err)) => *row = Err(err),
            (Err(_), _) => {}
        }
    }
}

/// The rows of every native transport at `place`, each figure measured for all of them in
/// turns (see [`measure::throughput`]); a transport that fails gets a skipped row saying why.
fn measure_rows(place: Placement, e: Effort) -> Vec<io::Result<RowData>> {
    let kinds = Kind::ALL;
    let mut tput: Vec<io::Result<Vec<(usize, stats::Summary)>>> =
        kinds.iter().map(|_| Ok(Vec::new())).collect();
    let mut rtt: Vec<io::Result<Vec<RttCell>>> = kinds.iter().map(|_| Ok(Vec::new())).collect();
    for size in TPUT_SIZES {
        progress(&format!(
            "{} throughput {size} (every transport)",
            place.id()
        ));
        let figures = measure::throughput(&kinds, place, size, e);
        merge(&mut tput, figures, |t| (size, t.mbps));
    }
    for size in LAT_SIZES {
        progress(&format!(
            "{} round trip {size} (every transport)",
            place.id()
        ));
        let figures = measure::round_trip(&kinds, place, size, e);
        merge(&mut rtt, figures, |r| RttCell {
            size,
            p50: r.p50,
            p99: r.p99,
            ranged: true,
        });
    }
    tput.into_iter()
        .zip(rtt)
        .map(|(t, r)| Ok(RowData::Measured { tput: t?, rtt: r? }))
        .collect()
}

/// The host-state gauge as a header line of the run (only when it measures across cores).
fn gauge_meta(o: &Opts, results: &mut Results, when: &str) {
    if o.placements.contains(&Placement::Cross) {
        results.meta.push((
            format!("cross-core cache transfer at {when}"),
            hoststate::describe(),
        ));
    }
}

fn wine_rows(place: Placement, rows: &[wine::WineRow]) -> Vec<Row> {
    rows.iter()
        .map(|w| Row {
            placement: place,
            id: if w.message { "wine-msg" } else { "wine-byte" }.into(),
            label: if w.message {
                "Wine named pipe, message"
            } else {
                "Wine named pipe, byte"
            }
            .into(),
            data: RowData::Measured {
                tput: w.tput.clone(),
                rtt: w
                    .rtt
                    .iter()
                    .map(|&(size, p50, p99)| {
                        let one = |v| stats::Summary {
                            median: v,
                            min: v,
                            max: v,
                        };
                        RttCell {
                            size,
                            p50: one(p50),
                            p99: one(p99),
                            ranged: false,
                        }
                    })
                    .collect(),
            },
        })
        .collect()
}

/// The rows of winpipe.c built against libnpfs (the C ABI), or one skipped row saying why.
fn cabi_rows(place: Placement, e: &measure::Effort, failures: &mut usize) -> Vec<Row> {
    let skipped = |why: String| {
        vec![Row {
            placement: place,
            id: "npfs-cabi".into(),
            label: "npfs through the C ABI (winpipe.c)".into(),
            data: RowData::Skipped(why),
        }]
    };
    let native = match wine::Native::setup(&broker_side_dir("cabi")) {
        Ok(n) => n,
        Err(err) => return skipped(format!("skipped: {err}")),
    };
    progress(&format!("{} npfs through the C ABI", place.id()));
    match native.run(place, e.runs, e.secs, &TPUT_SIZES, &LAT_SIZES) {
        Ok(rows) => wine_rows(place, &rows)
            .into_iter()
            .map(|mut r| {
                let message = r.id == "wine-msg";
                r.id = if message {
                    "npfs-cabi-msg"
                } else {
                    "npfs-cabi-byte"
                }
                .into();
                r.label = if message {
                    "npfs through the C ABI (winpipe.c), message"
                } else {
                    "npfs through the C ABI (winpipe.c), byte"
                }
                .into();
                r
            })
            .collect(),
        Err(err) => {
            *failures += 1;
            skipped(format!("failed: {err}"))
        }
    }
}

fn skipped_wine(place: Placement, why: &str) -> Vec<Row> {
    [
        ("wine-byte", "Wine named pipe, byte"),
        ("wine-msg", "Wine named pipe, message"),
    ]
    .into_iter()
    .map(|(id, label)| Row {
        placement: place,
        id: id.into(),
        label: label.into(),
        data: RowData::Skipped(why.into()),
    })
    .collect()
}

fn run_suite(o: &Opts, args: &[String]) -> io::Result<usize> {
    let e = effort(o);
    if o.placements.contains(&Placement::Cross) && sys::num_cpus() < 2 {
        return Err(io::Error::other(
            "cross placement needs 2 CPUs (use --placements same)",
        ));
    }
    sys::raise_nofile();
    let broker = broker::PrivateBroker::start()?;
    progress(&format!(
        "private broker in {}",
        broker.runtime_dir().display()
    ));
    let mut failures = 0;
    let mut results = Results {
        meta: meta(o, args, e),
        rows: Vec::new(),
        extras: Vec::new(),
        idle: None,
        load: None,
        waits: None,
        connect_pairs: Vec::new(),
        smoke: o.smoke,
    };

    gauge_meta(o, &mut results, "start");

    // Wine: built once, run per placement.
    let mut wine = None;
    let wine_skip = if o.smoke {
        Some("skipped in --smoke".to_string())
    } else if o.no_wine {
        Some("skipped (--no-wine)".to_string())
    } else if let Some(why) = wine::missing() {
        Some(format!(
            "skipped: {why}; install with `{}`",
            wine::INSTALL_HINT
        ))
    } else {
        progress("building winpipe.exe and a Wine prefix (wineboot -i)");
        match wine::Wine::setup(&broker_side_dir("wine")) {
            Ok(w) => {
                results.meta.push(("wine".into(), w.version.clone()));
                wine = Some(w);
                None
            }
            Err(err) => {
                failures += 1;
                Some(format!("failed to set up: {err}"))
            }
        }
    };

    let mut connect_programs: Option<Result<cconnect::Programs, String>> = None;
    for &place in &o.placements {
        for (kind, data) in Kind::ALL.into_iter().zip(measure_rows(place, e)) {
            let data = data.unwrap_or_else(|err| {
                failures += 1;
                progress(&format!("FAILED {} {}: {err}", place.id(), kind.id()));
                RowData::Skipped(format!("failed: {err}"))
            });
            results.rows.push(Row {
                placement: place,
                id: kind.id().into(),
                label: kind.label().into(),
                data,
            });
            if kind == Kind::NpfsMsg {
                results.rows.extend(cabi_rows(place, &e, &mut failures));
            }
        }
        match (&mut wine, &wine_skip) {
            (Some(w), _) => {
                progress(&format!("{} Wine", place.id()));
                let secs = e.secs;
                match w.run(place, e.runs, secs, &TPUT_SIZES, &LAT_SIZES) {
                    Ok(rows) => results.rows.extend(wine_rows(place, &rows)),
                    Err(err) => {
                        failures += 1;
                        results
                            .rows
                            .extend(skipped_wine(place, &format!("failed: {err}")));
                    }
                }
            }
            (None, why) => results
                .rows
                .extend(skipped_wine(place, why.as_deref().unwrap_or("skipped"))),
        }

        progress(&format!(
            "{} npfs connect latency and create rate",
            place.id()
        ));
        let per_run = if o.smoke { 5 } else { 200 };
        let connect = connect::latency(place, e, per_run).map_err(|x| x.to_string());
        let create = connect::create_rate(place, e).map_err(|x| x.to_string());
        failures += usize::from(connect.is_err()) + usize::from(create.is_err());
        results.extras.push(NpfsExtras {
            placement: place,
            connect,
            create,
        });

        progress(&format!(
            "{} connect through the C ABI (winconnect.c) and AF_UNIX (udsconnect.c)",
            place.id()
        ));
        let programs = connect_programs.get_or_insert_with(|| {
            cconnect::Programs::build(&broker_side_dir("connect")).map_err(|x| x.to_string())
        });
        let pair = match programs {
            Ok(p) => {
                let pair = p.run(place, e.runs, if o.smoke { 20 } else { 500 });
                failures += usize::from(pair.npfs.is_err()) + usize::from(pair.uds.is_err());
                Ok(pair)
            }
            // Without a release build of the C ABI there is nothing to measure (said in the
            // report); any other failure counts.
            Err(x) => {
                if !x.contains("no target/release") {
                    failures += 1;
                }
                Err(x.clone())
            }
        };
        results.connect_pairs.push(pair);
    }
    drop(wine);

    progress("npfs memory per idle connection");
    let idle =
        memory::idle(if o.smoke { 10 } else { 1000 }, || broker.pid()).map_err(|x| x.to_string());
    failures += usize::from(idle.is_err());
    results.idle = Some(idle);
    progress(&format!("npfs broker RSS with {} connected pipes", o.pipes));
    let procs = if o.pipes >= 2000 { 5 } else { 2 };
    let load = memory::broker_load(o.pipes, procs, || broker.pid()).map_err(|x| x.to_string());
    failures += usize::from(load.is_err());
    results.load = Some(load);

    progress("npfs idle server CPU and pending overlapped reads");
    let secs = if o.smoke { 1.0 } else { 5.0 };
    let idle_cpu = waits::idle_cpu(64, secs).map_err(|x| x.to_string());
    failures += usize::from(idle_cpu.is_err());
    let mut pending = Vec::new();
    for pipes in if o.smoke { vec![100] } else { vec![100, 1000] } {
        let r = waits::pending_threads(&broker_side_dir("pending"), pipes);
        // Without a release build of the C ABI there is nothing to measure (said in the
        // report); any other failure counts.
        if matches!(&r, Err(e) if !e.to_string().contains("no target/release")) {
            failures += 1;
        }
        pending.push(r.map_err(|x| x.to_string()));
    }
    results.waits = Some(report::Waits { idle_cpu, pending });

    gauge_meta(o, &mut results, "end");

    let table = report::table::render(&results);
    let mut header = String::new();
    for (k, v) in &results.meta {
        header += &format!("- {k}: {v}\n");
    }
    println!("{header}\n{table}");
    if let Some(p) = &o.markdown {
        std::fs::write(p, format!("{header}\n{table}"))?;
    }
    if let Some(p) = &o.json {
        std::fs::write(p, report::json::render(&results))?;
    }
    if let Some(p) = &o.svg {
        std::fs::write(p, report::svg::render(&results))?;
    }
    drop(broker);
    Ok(failures)
}

/// A scratch directory for this run (removed by its owner).
fn broker_side_dir(what: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("npfs-bench-{what}.{}", std::process::id()))
}
