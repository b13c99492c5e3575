//! Medians and spreads of repeated measurements.

use serde::{Deserialize, Serialize};

/// A figure measured several times: its median and the range of the runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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

/// User + system CPU time of this whole process so far (every thread), in
/// seconds, from `/proc/self/stat` (clock ticks of 1/100 s, Linux's fixed
/// USER_HZ). A run's CPU time is the difference around it.
pub fn process_cpu_seconds() -> f64 {
    cpu_seconds_in("/proc/self/stat")
}

/// [`process_cpu_seconds`] of another process.
pub fn cpu_seconds_of(pid: u32) -> f64 {
    cpu_seconds_in(&format!("/proc/{pid}/stat"))
}

fn cpu_seconds_in(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The CPUs this process may run on, as `taskset -c` takes them ("0-1").
pub fn allowed_cpus() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Cpus_allowed_list:").map(|v| v.trim().to_string())))
        .unwrap_or_else(|| "0".into())
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

    #[test]
    fn cpu_time_grows_with_work_and_cpus_are_listed() {
        let before = process_cpu_seconds();
        let mut x = 0u64;
        let until = std::time::Instant::now() + std::time::Duration::from_millis(300);
        while std::time::Instant::now() < until {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let spent = process_cpu_seconds() - before;
        assert!(spent >= 0.1, "300 ms of spinning counted as {spent} s of CPU");
        assert!(allowed_cpus().chars().next().is_some_and(|c| c.is_ascii_digit()));
    }
}
