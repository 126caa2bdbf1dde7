//! The results of one run, and how they are written: the Markdown table with ratios and
//! targets ([`table`]), raw JSON ([`json`]) and the throughput plot ([`svg`]).

pub mod json;
pub mod svg;
pub mod table;

use crate::connect::{ConnectLatency, CreateRate};
use crate::memory::{BrokerLoad, IdleMemory};
use crate::placement::Placement;
use crate::stats::Summary;

/// Throughput sizes, bytes.
pub const TPUT_SIZES: [usize; 4] = [64, 4096, 65536, 1 << 20];
/// Round-trip sizes, bytes.
pub const LAT_SIZES: [usize; 2] = [64, 4096];

/// One round-trip figure.
#[derive(Debug, Clone, Copy)]
pub struct RttCell {
    /// Message size.
    pub size: usize,
    /// Per-run p50 over the runs, µs.
    pub p50: Summary,
    /// Per-run p99 over the runs, µs.
    pub p99: Summary,
    /// `false` when only medians are known (Wine's output).
    pub ranged: bool,
}

/// What a row holds.
#[derive(Debug, Clone)]
pub enum RowData {
    /// Figures.
    Measured {
        /// MB/s per size.
        tput: Vec<(usize, Summary)>,
        /// Round trips.
        rtt: Vec<RttCell>,
    },
    /// Not measured, and why.
    Skipped(String),
}

/// One transport at one placement.
#[derive(Debug, Clone)]
pub struct Row {
    /// Where the two sides ran.
    pub placement: Placement,
    /// Short id (JSON, ratios).
    pub id: String,
    /// Name in the table.
    pub label: String,
    /// The figures.
    pub data: RowData,
}

impl Row {
    /// MB/s at `size`.
    pub fn tput(&self, size: usize) -> Option<Summary> {
        match &self.data {
            RowData::Measured { tput, .. } => tput.iter().find(|t| t.0 == size).map(|t| t.1),
            RowData::Skipped(_) => None,
        }
    }

    /// Round trip at `size`.
    pub fn rtt(&self, size: usize) -> Option<RttCell> {
        match &self.data {
            RowData::Measured { rtt, .. } => rtt.iter().find(|r| r.size == size).copied(),
            RowData::Skipped(_) => None,
        }
    }
}

/// npfs-only figures of one placement.
#[derive(Debug, Clone)]
pub struct NpfsExtras {
    /// Where the two sides ran.
    pub placement: Placement,
    /// Connect latency, or the error.
    pub connect: Result<ConnectLatency, String>,
    /// Instance create + connect rate, or the error.
    pub create: Result<CreateRate, String>,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Results {
    /// How the run was made (command, machine, commit, effort).
    pub meta: Vec<(String, String)>,
    /// Transport rows.
    pub rows: Vec<Row>,
    /// npfs-only figures per placement.
    pub extras: Vec<NpfsExtras>,
    /// Memory per idle connection.
    pub idle: Option<Result<IdleMemory, String>>,
    /// Broker RSS with many pipes.
    pub load: Option<Result<BrokerLoad, String>>,
    /// What waiting costs: idle CPU, threads for pending overlapped reads.
    pub waits: Option<Waits>,
    /// The connect pair through the C ABI (winconnect.c against udsconnect.c), per placement.
    pub connect_pairs: Vec<Result<crate::cconnect::ConnectPair, String>>,
    /// A `--smoke` run: figures are meaningless, no verdicts are given.
    pub smoke: bool,
}

/// The figures of [`crate::waits`].
#[derive(Clone, Debug)]
pub struct Waits {
    /// CPU of an idle 64-instance server.
    pub idle_cpu: Result<crate::waits::IdleCpu, String>,
    /// Threads with 1,000 (and 10,000) overlapped reads pending.
    pub pending: Vec<Result<crate::waits::PendingThreads, String>>,
}

impl Results {
    /// The row `id` at `placement`.
    pub fn row(&self, placement: Placement, id: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.placement == placement && r.id == id)
    }
}

/// `64 B`, `4 KiB`, `1 MiB`.
pub fn size_label(size: usize) -> String {
    if size >= 1 << 20 && size & ((1 << 20) - 1) == 0 {
        format!("{} MiB", size >> 20)
    } else if size >= 1024 && size & 1023 == 0 {
        format!("{} KiB", size >> 10)
    } else {
        format!("{size} B")
    }
}

/// A figure with three significant digits (no exponent).
pub fn fmt3(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}
