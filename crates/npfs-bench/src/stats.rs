//! Medians, percentiles and the min/median/max summary every figure is reported as.

/// Median, minimum and maximum of several runs' results.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Median of the runs (mean of the two middle ones for an even count).
    pub median: f64,
    /// Smallest run result.
    pub min: f64,
    /// Largest run result.
    pub max: f64,
}

impl Summary {
    /// Summarise `v` (which it sorts); `None` when empty.
    pub fn of(v: &mut [f64]) -> Option<Summary> {
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(Summary {
            median: median_sorted(v),
            min: v[0],
            max: v[v.len() - 1],
        })
    }
}

fn median_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Nearest-rank percentile (`p` in 0..=1) of `v`, which it sorts; 0 when empty. The same rule
/// as the anchors' `stats.h`.
pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let k = ((p * n as f64) + 0.999_999_999) as usize;
    v[k.clamp(1, n) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_and_percentiles() {
        let s = Summary::of(&mut [3.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 10.0));
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut v, 0.5), 50.0);
        assert_eq!(percentile(&mut v, 0.99), 99.0);
        assert!(Summary::of(&mut []).is_none());
    }
}
