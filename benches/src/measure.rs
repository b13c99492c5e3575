//! Medians and spreads of repeated measurements.

use serde::{Deserialize, Serialize};

/// A figure measured several times: its median and the range of the runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: Vec<f64>,
}

impl Summary {
    pub fn of(runs: Vec<f64>) -> Summary {
        let mut sorted = runs.clone();
        sorted.sort_by(f64::total_cmp);
        let median = match sorted.len() {
            0 => 0.0,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        Summary {
            median,
            min: sorted.first().copied().unwrap_or(0.0),
            max: sorted.last().copied().unwrap_or(0.0),
            runs,
        }
    }

    /// "123.4 (118.0–125.1)" with `digits` decimals.
    pub fn show(&self, digits: usize) -> String {
        format!("{:.digits$} ({:.digits$}–{:.digits$})", self.median, self.min, self.max)
    }
}

/// Latency samples summarised as percentiles (nearest rank).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Latency {
    pub count: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    pub fn of(samples: &[f64]) -> Latency {
        let mut v = samples.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| -> f64 {
            if v.is_empty() {
                return 0.0;
            }
            let r = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
            v[r.min(v.len()) - 1]
        };
        Latency { count: v.len(), p50: rank(50.0), p99: rank(99.0), max: v.last().copied().unwrap_or(0.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        let s = Summary::of(vec![3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Summary::of(vec![4.0, 1.0, 2.0, 3.0]).median, 2.5);
        assert_eq!(s.runs, vec![3.0, 1.0, 2.0], "runs keep their order");
    }

    #[test]
    fn latency_percentiles() {
        let v: Vec<f64> = (1..=200).map(f64::from).collect();
        let l = Latency::of(&v);
        assert_eq!((l.count, l.p50, l.p99, l.max), (200, 100.0, 198.0, 200.0));
        assert_eq!(Latency::of(&[]).count, 0);
    }
}
