//! Raw results as JSON (written by hand: a handful of shapes, no dependency).

use std::fmt::Write;

use super::{Results, RowData};
use crate::stats::Summary;

fn s(v: &str) -> String {
    let mut out = String::from("\"");
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn n(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

fn sum(v: &Summary) -> String {
    format!(
        "{{\"median\":{},\"min\":{},\"max\":{}}}",
        n(v.median),
        n(v.min),
        n(v.max)
    )
}

fn err(e: &str) -> String {
    format!("{{\"error\":{}}}", s(e))
}

/// The whole run as one JSON document.
pub fn render(r: &Results) -> String {
    let mut o = String::from("{\n\"meta\":{");
    let meta: Vec<String> = r
        .meta
        .iter()
        .map(|(k, v)| format!("{}:{}", s(k), s(v)))
        .collect();
    o += &meta.join(",");
    o += "},\n\"rows\":[\n";
    let rows: Vec<String> = r
        .rows
        .iter()
        .map(|row| {
            let body = match &row.data {
                RowData::Skipped(why) => format!("\"skipped\":{}", s(why)),
                RowData::Measured { tput, rtt } => {
                    let t: Vec<String> = tput
                        .iter()
                        .map(|(size, m)| format!("{{\"size\":{size},\"mbps\":{}}}", sum(m)))
                        .collect();
                    let l: Vec<String> = rtt
                        .iter()
                        .map(|c| {
                            format!(
                                "{{\"size\":{},\"p50_us\":{},\"p99_us\":{},\"ranged\":{}}}",
                                c.size,
                                sum(&c.p50),
                                sum(&c.p99),
                                c.ranged
                            )
                        })
                        .collect();
                    format!(
                        "\"throughput\":[{}],\"round_trip\":[{}]",
                        t.join(","),
                        l.join(",")
                    )
                }
            };
            format!(
                "{{\"placement\":{},\"transport\":{},\"label\":{},{body}}}",
                s(row.placement.id()),
                s(&row.id),
                s(&row.label)
            )
        })
        .collect();
    o += &rows.join(",\n");
    o += "\n],\n\"npfs\":[\n";
    let ex: Vec<String> = r
        .extras
        .iter()
        .map(|e| {
            let c = match &e.connect {
                Ok(c) => format!(
                    "{{\"per_run\":{},\"median_us\":{}}}",
                    c.per_run,
                    sum(&c.p50)
                ),
                Err(x) => err(x),
            };
            let k = match &e.create {
                Ok(k) => format!("{{\"n\":{},\"per_sec\":{}}}", k.n, sum(&k.per_sec)),
                Err(x) => err(x),
            };
            format!(
                "{{\"placement\":{},\"connect_latency\":{c},\"create_connect_rate\":{k}}}",
                s(e.placement.id())
            )
        })
        .collect();
    o += &ex.join(",\n");
    o += "\n],\n\"idle_memory\":";
    o += &match &r.idle {
        None => "null".into(),
        Some(Err(e)) => err(e),
        Some(Ok(m)) => format!(
            "{{\"conns\":{},\"server_rss\":{},\"server_pss\":{},\"client_rss\":{},\"client_pss\":{},\"broker_rss\":{},\"fds\":{}}}",
            m.conns,
            n(m.server_rss),
            n(m.server_pss),
            n(m.client_rss),
            n(m.client_pss),
            n(m.broker_rss),
            n(m.fds)
        ),
    };
    o += ",\n\"connect_pairs\":[";
    let pairs: Vec<String> = r
        .connect_pairs
        .iter()
        .map(|p| match p {
            Err(e) => err(e),
            Ok(c) => {
                let side = |l: &Result<crate::cconnect::Latency, String>| match l {
                    Err(e) => err(e),
                    Ok(l) => format!(
                        "{{\"per_run\":{},\"p50_us\":{},\"p99_us\":{}}}",
                        l.per_run,
                        sum(&l.p50),
                        sum(&l.p99)
                    ),
                };
                format!(
                    "{{\"placement\":{},\"npfs_cabi\":{},\"af_unix\":{},\"ratio\":{}}}",
                    s(c.placement.id()),
                    side(&c.npfs),
                    side(&c.uds),
                    c.ratio().map_or("null".into(), |x| format!("{x}"))
                )
            }
        })
        .collect();
    o += &pairs.join(",");
    o += "]";
    o += ",\n\"waits\":";
    o += &match &r.waits {
        None => "null".into(),
        Some(w) => {
            let idle = match &w.idle_cpu {
                Err(e) => err(e),
                Ok(c) => format!(
                    "{{\"instances\":{},\"secs\":{},\"cpu_ms\":{}}}",
                    c.instances, c.secs, c.cpu_ms
                ),
            };
            let pending: Vec<String> = w
                .pending
                .iter()
                .map(|p| match p {
                    Err(e) => err(e),
                    Ok(p) => format!("{{\"reads\":{},\"threads\":{}}}", p.reads, p.threads),
                })
                .collect();
            format!(
                "{{\"idle_cpu\":{idle},\"pending_reads\":[{}]}}",
                pending.join(",")
            )
        }
    };
    o += ",\n\"broker_load\":";
    o += &match &r.load {
        None => "null".into(),
        Some(Err(e)) => err(e),
        Some(Ok(l)) => format!(
            "{{\"wanted\":{},\"connected\":{},\"procs\":{},\"rss_before\":{},\"rss_after\":{},\"broker_fds\":{},\"error\":{}}}",
            l.wanted,
            l.connected,
            l.procs,
            l.rss_before,
            l.rss_after,
            l.broker_fds,
            l.error.as_deref().map_or("null".into(), s)
        ),
    };
    o += "\n}\n";
    o
}
