//! The Markdown report: figures, ratios (npfs / anchor), npfs-only figures and the targets
//! of the performance issue with their measured ratios.

use std::fmt::Write;

use super::{fmt3, size_label, Results, Row, RowData, LAT_SIZES, TPUT_SIZES};
use crate::placement::Placement;
use crate::stats::Summary;

fn cell(s: Option<Summary>) -> String {
    match s {
        Some(s) if s.min == s.max => fmt3(s.median),
        Some(s) => format!("{} ({}–{})", fmt3(s.median), fmt3(s.min), fmt3(s.max)),
        None => "-".into(),
    }
}

fn figures_line(row: &Row) -> String {
    let mut line = format!("| {} | {} |", row.placement.label(), row.label);
    if let RowData::Skipped(why) = &row.data {
        let _ = write!(
            line,
            " {why} |{}",
            " |".repeat(TPUT_SIZES.len() + LAT_SIZES.len())
        );
        return line;
    }
    for size in TPUT_SIZES {
        let _ = write!(line, " {} |", cell(row.tput(size)));
    }
    let rate = row.tput(64).map(|s| Summary {
        median: s.median * 1e6 / 64.0,
        min: s.min * 1e6 / 64.0,
        max: s.max * 1e6 / 64.0,
    });
    let _ = write!(line, " {} |", cell(rate));
    for size in LAT_SIZES {
        match row.rtt(size) {
            Some(c) if c.ranged => {
                let _ = write!(line, " {} / {} |", cell(Some(c.p50)), fmt3(c.p99.median));
            }
            Some(c) => {
                let _ = write!(line, " {} / {} |", fmt3(c.p50.median), fmt3(c.p99.median));
            }
            None => line.push_str(" - |"),
        }
    }
    line
}

/// The comparisons of the ratio table: (npfs row, anchor row, label).
pub const RATIOS: [(&str, &str, &str); 5] = [
    ("npfs-byte", "unix-stream", "npfs byte / AF_UNIX stream"),
    ("npfs-msg", "unix-seqpacket", "npfs message / SEQPACKET"),
    ("npfs-byte", "pipe", "npfs byte / pipe(2)"),
    ("npfs-byte", "wine-byte", "npfs byte / Wine byte"),
    ("npfs-msg", "wine-msg", "npfs message / Wine message"),
];

/// npfs / anchor for MB/s at `size`.
pub fn tput_ratio(r: &Results, p: Placement, a: &str, b: &str, size: usize) -> Option<f64> {
    Some(r.row(p, a)?.tput(size)?.median / r.row(p, b)?.tput(size)?.median)
}

/// npfs / anchor for the p50 round trip at `size` (below 1 is better).
pub fn rtt_ratio(r: &Results, p: Placement, a: &str, b: &str, size: usize) -> Option<f64> {
    Some(r.row(p, a)?.rtt(size)?.p50.median / r.row(p, b)?.rtt(size)?.p50.median)
}

fn ratio(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x:.2}×"))
}

fn mib(bytes: f64) -> String {
    format!("{:.2} MiB", bytes / (1024.0 * 1024.0))
}

fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

/// The whole report.
pub fn render(r: &Results) -> String {
    let mut o = String::new();
    let placements: Vec<Placement> = r
        .extras
        .iter()
        .map(|e| e.placement)
        .chain(r.rows.iter().map(|x| x.placement))
        .fold(Vec::new(), |mut v, p| {
            if !v.contains(&p) {
                v.push(p);
            }
            v
        });

    o += "### Figures\n\nEach cell: median (min–max) over the timed runs. MB/s = 10^6 bytes/s of one-way \
          messages of that size; msg/s from the 64 B stream; RTT = one message out, the same \
          size back, µs: median over runs of each run's p50 (min–max) / of each run's p99.\n\n";
    o += "| placement | transport |";
    for size in TPUT_SIZES {
        let _ = write!(o, " MB/s {} |", size_label(size));
    }
    o += " msg/s 64 B |";
    for size in LAT_SIZES {
        let _ = write!(o, " RTT µs {} p50 / p99 |", size_label(size));
    }
    o += "\n|---|---|";
    o += &"---:|".repeat(TPUT_SIZES.len() + 1 + LAT_SIZES.len());
    o += "\n";
    for row in &r.rows {
        o += &figures_line(row);
        o += "\n";
    }

    o += "\n### Ratios (npfs / anchor, medians)\n\nThroughput and msg/s: above 1× means npfs \
          is faster. RTT: below 1× means npfs is faster.\n\n";
    o += "| placement | comparison |";
    for size in TPUT_SIZES {
        let _ = write!(o, " MB/s {} |", size_label(size));
    }
    for size in LAT_SIZES {
        let _ = write!(o, " RTT {} p50 |", size_label(size));
    }
    o += "\n|---|---|";
    o += &"---:|".repeat(TPUT_SIZES.len() + LAT_SIZES.len());
    o += "\n";
    for &p in &placements {
        for (a, b, label) in RATIOS {
            if r.row(p, a).is_none() || r.row(p, b).is_none_or_skipped() {
                continue;
            }
            let _ = write!(o, "| {} | {label} |", p.label());
            for size in TPUT_SIZES {
                let _ = write!(o, " {} |", ratio(tput_ratio(r, p, a, b, size)));
            }
            for size in LAT_SIZES {
                let _ = write!(o, " {} |", ratio(rtt_ratio(r, p, a, b, size)));
            }
            o += "\n";
        }
    }

    o += "\n### npfs only\n\n| placement | figure | median (min–max) |\n|---|---|---:|\n";
    for e in &r.extras {
        match &e.connect {
            Ok(c) => {
                let _ = writeln!(
                    o,
                    "| {} | connect latency, CreateFile → first byte (µs; median of {} per run) | {} |",
                    e.placement.label(),
                    c.per_run,
                    cell(Some(c.p50))
                );
            }
            Err(x) => {
                let _ = writeln!(
                    o,
                    "| {} | connect latency | failed: {x} |",
                    e.placement.label()
                );
            }
        }
        match &e.create {
            Ok(c) => {
                let _ = writeln!(
                    o,
                    "| {} | instance create + connect (per second) | {} |",
                    e.placement.label(),
                    cell(Some(c.per_sec))
                );
            }
            Err(x) => {
                let _ = writeln!(
                    o,
                    "| {} | create + connect | failed: {x} |",
                    e.placement.label()
                );
            }
        }
    }
    for pair in &r.connect_pairs {
        match pair {
            Ok(c) => {
                let side = |l: &Result<crate::cconnect::Latency, String>| match l {
                    Ok(l) => format!("{} (p99 {})", cell(Some(l.p50)), fmt3(l.p99.median)),
                    Err(x) => format!("failed: {x}"),
                };
                let per_run = c.npfs.as_ref().map_or(0, |l| l.per_run);
                let _ = writeln!(
                    o,
                    "| {} | connect through the C ABI, winconnect.c vs udsconnect.c: p50 µs, median of runs of {per_run} (npfs / AF_UNIX = ratio) | {} / {} = {} |",
                    c.placement.label(),
                    side(&c.npfs),
                    side(&c.uds),
                    ratio(c.ratio()),
                );
            }
            Err(x) => {
                let _ = writeln!(o, "| — | connect through the C ABI | skipped: {x} |");
            }
        }
    }
    match &r.idle {
        Some(Ok(m)) => {
            let _ = writeln!(
                o,
                "| unpinned | memory per idle connection ({} connections): server RSS / PSS, client RSS / PSS, broker RSS, descriptors (server + client) | {} / {}, {} / {}, {}, {:.1} |",
                m.conns,
                kib(m.server_rss),
                kib(m.server_pss),
                kib(m.client_rss),
                kib(m.client_pss),
                kib(m.broker_rss),
                m.fds
            );
        }
        Some(Err(e)) => {
            let _ = writeln!(o, "| unpinned | memory per idle connection | failed: {e} |");
        }
        None => {}
    }
    if let Some(w) = &r.waits {
        match &w.idle_cpu {
            Ok(c) => {
                let _ = writeln!(
                    o,
                    "| unpinned | idle server: CPU of {} instances blocked in ConnectNamedPipe over {:.0} s (target ≤ 20 ms in 5 s) | {:.1} ms |",
                    c.instances, c.secs, c.cpu_ms
                );
            }
            Err(e) => {
                let _ = writeln!(o, "| unpinned | idle server CPU | failed: {e} |");
            }
        }
        for p in &w.pending {
            match p {
                Ok(p) => {
                    let _ = writeln!(
                        o,
                        "| unpinned | threads of one process with {} overlapped ReadFiles pending through the C ABI (target ≤ 16) | {} |",
                        p.reads, p.threads
                    );
                }
                Err(e) => {
                    let _ = writeln!(o, "| unpinned | pending overlapped reads | {e} |");
                }
            }
        }
    }
    match &r.load {
        Some(Ok(l)) => {
            let _ = writeln!(
                o,
                "| unpinned | broker VmRSS with {} of {} pipes connected ({} server + {} client processes): before → after | {} → {}{} |",
                l.connected,
                l.wanted,
                l.procs,
                l.procs,
                mib(l.rss_before as f64),
                mib(l.rss_after as f64),
                l.error.as_ref().map_or(String::new(), |e| format!(" (stopped: {e})"))
            );
        }
        Some(Err(e)) => {
            let _ = writeln!(o, "| unpinned | broker RSS under load | failed: {e} |");
        }
        None => {}
    }
    o += "\n";
    o += &targets(r, &placements);
    o
}

trait SkippedExt {
    fn is_none_or_skipped(&self) -> bool;
}

impl SkippedExt for Option<&Row> {
    fn is_none_or_skipped(&self) -> bool {
        !matches!(
            self,
            Some(Row {
                data: RowData::Measured { .. },
                ..
            })
        )
    }
}

fn verdict(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "**met**",
        Some(false) => "**not met**",
        None => "not measured",
    }
}

/// The issue's §2 targets, each with its measured ratio.
fn targets(r: &Results, placements: &[Placement]) -> String {
    let mut o = String::from("### Targets (performance issue §2), from this run\n\n");
    if r.smoke {
        o += "(--smoke run: figures are meaningless, no verdicts.)\n";
        return o;
    }
    o += "| target | placement | measured | verdict |\n|---|---|---|---|\n";
    let mut line = |t: &str, p: &str, m: String, ok: Option<bool>| {
        let _ = writeln!(o, "| {t} | {p} | {m} | {} |", verdict(ok));
    };
    for &p in placements {
        let pl = p.label();
        for size in [65536, 1 << 20] {
            let v = tput_ratio(r, p, "npfs-byte", "unix-stream", size);
            line(
                &format!(
                    "throughput {} ≥ 1.0× AF_UNIX stream (stretch ≥ 2×)",
                    size_label(size)
                ),
                pl,
                ratio(v),
                v.map(|x| x >= 1.0),
            );
        }
        let v = tput_ratio(r, p, "npfs-msg", "unix-seqpacket", 64);
        line(
            "64 B message rate, message mode ≥ 2× SEQPACKET",
            pl,
            ratio(v),
            v.map(|x| x >= 2.0),
        );
        let v = rtt_ratio(r, p, "npfs-byte", "unix-stream", 64);
        line(
            "64 B round trip ≤ 1.2× AF_UNIX stream",
            pl,
            ratio(v),
            v.map(|x| x <= 1.2),
        );
        if p == Placement::Cross {
            let us = r
                .row(p, "npfs-byte")
                .and_then(|x| x.rtt(64))
                .map(|c| c.p50.median);
            line(
                "stretch: cross-core 64 B round trip < 25 µs",
                pl,
                us.map_or("-".into(), |u| format!("{} µs", fmt3(u))),
                us.map(|u| u < 25.0),
            );
        }
        for (a, b) in [("npfs-byte", "wine-byte"), ("npfs-msg", "wine-msg")] {
            let vs: Vec<Option<f64>> = TPUT_SIZES
                .iter()
                .map(|&s| tput_ratio(r, p, a, b, s))
                .collect();
            let min = vs.iter().flatten().copied().fold(f64::INFINITY, f64::min);
            let all = vs.iter().all(Option::is_some);
            line(
                &format!("≥ 10× Wine throughput at every size ({a} / {b})"),
                pl,
                vs.iter().map(|v| ratio(*v)).collect::<Vec<_>>().join(", "),
                all.then_some(min >= 10.0),
            );
        }
        if let Some(Ok(c)) = r.connect_pairs.iter().find(|c| match c {
            Ok(c) => c.placement == p,
            Err(_) => false,
        }) {
            let v = c.ratio();
            line(
                "connect through the C ABI ≤ 6× an AF_UNIX connect (moonshot 3×)",
                pl,
                ratio(v),
                v.map(|x| x <= 6.0),
            );
        }
        if let Some(Ok(c)) = r
            .extras
            .iter()
            .find(|e| e.placement == p)
            .map(|e| &e.connect)
        {
            line(
                "connect latency ≤ 100 µs median",
                pl,
                format!("{} µs", fmt3(c.p50.median)),
                Some(c.p50.median <= 100.0),
            );
        }
    }
    match &r.load {
        Some(Ok(l)) => line(
            "10,000 connected pipes, broker < 50 MB RSS",
            "unpinned",
            format!(
                "{} of {} connected, broker VmRSS {:.1} MB{}",
                l.connected,
                l.wanted,
                l.rss_after as f64 / 1e6,
                l.error
                    .as_ref()
                    .map_or(String::new(), |e| format!("; stopped: {e}"))
            ),
            Some(l.connected >= 10_000 && l.rss_after < 50_000_000),
        ),
        Some(Err(e)) => line("10,000 connected pipes", "unpinned", e.clone(), Some(false)),
        None => {}
    }
    o
}
