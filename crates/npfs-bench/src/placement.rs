//! Where the two sides of a measurement run: each process pins itself with
//! `sched_setaffinity`.

/// A CPU placement of the parent and child sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Both sides on CPU 0: pure software cost, no cross-CPU wake-ups.
    Same,
    /// Parent on CPU 0, child on CPU 1.
    Cross,
}

impl Placement {
    /// Short name (`--placements`, JSON).
    pub fn id(self) -> &'static str {
        match self {
            Placement::Same => "same",
            Placement::Cross => "cross",
        }
    }

    /// Name in the table, with the CPUs.
    pub fn label(self) -> &'static str {
        match self {
            Placement::Same => "same core (CPU 0 + CPU 0)",
            Placement::Cross => "cross core (CPU 0 / CPU 1)",
        }
    }

    /// The parent's CPU.
    pub fn parent_cpu(self) -> usize {
        0
    }

    /// The child's CPU.
    pub fn child_cpu(self) -> usize {
        match self {
            Placement::Same => 0,
            Placement::Cross => 1,
        }
    }

    /// The placement named `id`.
    pub fn from_id(id: &str) -> Option<Placement> {
        match id {
            "same" => Some(Placement::Same),
            "cross" => Some(Placement::Cross),
            _ => None,
        }
    }
}
