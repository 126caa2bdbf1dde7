//! The throughput plot: MB/s against message size, log–log, one polyline per transport and
//! placement, with a legend. Hand-written SVG.

use std::fmt::Write;

use super::{size_label, Results, RowData, TPUT_SIZES};
use crate::placement::Placement;

const W: f64 = 900.0;
const H: f64 = 560.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 330.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

const COLORS: [&str; 7] = [
    "#d62728", "#ff7f0e", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#7f7f7f",
];

/// One polyline: label, placement, (size, MB/s) points.
type Series = (String, Placement, Vec<(f64, f64)>);

/// The plot as an SVG document.
pub fn render(r: &Results) -> String {
    let series: Vec<Series> = r
        .rows
        .iter()
        .filter_map(|row| match &row.data {
            RowData::Measured { tput, .. } if !tput.is_empty() => Some((
                row.label.clone(),
                row.placement,
                tput.iter()
                    .filter(|(_, s)| s.median > 0.0)
                    .map(|(size, s)| (*size as f64, s.median))
                    .collect(),
            )),
            _ => None,
        })
        .collect();
    let ys = series.iter().flat_map(|s| s.2.iter().map(|p| p.1));
    let ymax = ys.clone().fold(1.0f64, f64::max);
    let ymin = ys.fold(f64::INFINITY, f64::min).min(ymax / 10.0).max(1e-3);
    let (ly0, ly1) = (ymin.log10().floor(), ymax.log10().ceil());
    let (lx0, lx1) = (
        (TPUT_SIZES[0] as f64).log10(),
        (TPUT_SIZES[TPUT_SIZES.len() - 1] as f64).log10(),
    );
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let x = |v: f64| LEFT + (v.log10() - lx0) / (lx1 - lx0) * pw;
    let y = |v: f64| TOP + ph - (v.log10() - ly0) / (ly1 - ly0) * ph;

    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(o, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        o,
        r#"<text x="{}" y="22" font-size="15" text-anchor="middle">Throughput against message size (one-way, cross-process; log–log)</text>"#,
        LEFT + pw / 2.0
    );
    // grid and axes
    let mut d = ly0;
    while d <= ly1 + 1e-9 {
        let v = 10f64.powf(d);
        let yy = y(v);
        let _ = writeln!(
            o,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            yy + 4.0,
            super::fmt3(v)
        );
        d += 1.0;
    }
    for size in TPUT_SIZES {
        let xx = x(size as f64);
        let _ = writeln!(
            o,
            r##"<line x1="{xx:.1}" y1="{TOP}" x2="{xx:.1}" y2="{:.1}" stroke="#ddd"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + ph,
            TOP + ph + 18.0,
            size_label(size)
        );
    }
    let _ = writeln!(
        o,
        r#"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#
    );
    let _ = writeln!(
        o,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">message size (bytes, log scale)</text>"#,
        LEFT + pw / 2.0,
        H - 18.0
    );
    let _ = writeln!(
        o,
        r#"<text transform="translate(22 {:.1}) rotate(-90)" text-anchor="middle">MB/s (log scale)</text>"#,
        TOP + ph / 2.0
    );
    // series and legend
    let labels: Vec<&String> = series.iter().fold(Vec::new(), |mut v, s| {
        if !v.contains(&&s.0) {
            v.push(&s.0);
        }
        v
    });
    for (i, (label, place, pts)) in series.iter().enumerate() {
        let ci = labels.iter().position(|l| *l == label).unwrap_or(0) % COLORS.len();
        let dash = if *place == Placement::Cross {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let pts_s: Vec<String> = pts
            .iter()
            .map(|(a, b)| format!("{:.1},{:.1}", x(*a), y(*b)))
            .collect();
        let _ = writeln!(
            o,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
            pts_s.join(" "),
            COLORS[ci]
        );
        for (a, b) in pts {
            let _ = writeln!(
                o,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                x(*a),
                y(*b),
                COLORS[ci]
            );
        }
        let ly = TOP + 10.0 + i as f64 * 20.0;
        let lx = LEFT + pw + 15.0;
        let _ = writeln!(
            o,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{}" stroke-width="2"{dash}/><text x="{}" y="{}">{label}, {}</text>"#,
            lx + 28.0,
            COLORS[ci],
            lx + 34.0,
            ly + 4.0,
            match place {
                Placement::Same => "same core",
                Placement::Cross => "cross core",
            }
        );
    }
    o += "</svg>\n";
    o
}
