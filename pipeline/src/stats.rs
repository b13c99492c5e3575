//! Latency samples per pipeline stage, summarised as percentiles.

use serde::Serialize;

/// Milliseconds per frame spent in each stage.
#[derive(Debug, Clone, Default)]
pub struct StageTimings {
    pub decode: Vec<f32>,
    pub detect: Vec<f32>,
    pub embed: Vec<f32>,
    pub track: Vec<f32>,
    pub matching: Vec<f32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f32,
    pub p99: f32,
    /// Mean: multiplied by the frame count it gives the stage's total time.
    pub mean: f32,
}

/// Nearest-rank percentile of unsorted samples (0 when empty).
pub fn percentile(samples: &[f32], p: f32) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut v = samples.to_vec();
    v.sort_by(f32::total_cmp);
    let rank = ((p / 100.0) * v.len() as f32).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

pub fn percentiles(samples: &[f32]) -> Percentiles {
    let mean = if samples.is_empty() { 0.0 } else { samples.iter().sum::<f32>() / samples.len() as f32 };
    Percentiles { p50: percentile(samples, 50.0), p99: percentile(samples, 99.0), mean }
}

impl StageTimings {
    /// Forgets the samples, keeping the allocations (a live camera reads
    /// them into its metrics after every frame).
    pub fn clear(&mut self) {
        for v in [&mut self.decode, &mut self.detect, &mut self.embed, &mut self.track, &mut self.matching] {
            v.clear();
        }
    }

    pub fn append(&mut self, other: &StageTimings) {
        self.decode.extend_from_slice(&other.decode);
        self.detect.extend_from_slice(&other.detect);
        self.embed.extend_from_slice(&other.embed);
        self.track.extend_from_slice(&other.track);
        self.matching.extend_from_slice(&other.matching);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f32> = (1..=100).map(|x| x as f32).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
    }
}
