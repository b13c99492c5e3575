//! Latency samples per pipeline stage, summarised as percentiles.

use serde::Serialize;

/// Latency samples of each stage, milliseconds: one per frame for the
/// per-frame stages, one per face or decision for the others (a frame with
/// no face to embed adds no zero to `embed`).
#[derive(Debug, Clone, Default)]
pub struct StageTimings {
    /// Per frame: waiting for and copying out a decoded frame.
    pub decode: Vec<f32>,
    /// Per frame: face detection on the downscaled frame.
    pub detect: Vec<f32>,
    /// Per frame: updating the tracks.
    pub track: Vec<f32>,
    /// Per face assessed for embedding: landmark refinement at full
    /// resolution, alignment and quality scoring.
    pub align: Vec<f32>,
    /// Per face embedded: the recogniser.
    pub embed: Vec<f32>,
    /// Per identity decision (a passage): gallery search and the decision.
    pub matching: Vec<f32>,
    /// Frames the motion gate spared the detector (an empty, still scene).
    pub skipped: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f32,
    pub p99: f32,
    pub mean: f32,
    /// Number of samples (frames, faces or decisions).
    pub count: usize,
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
    Percentiles { p50: percentile(samples, 50.0), p99: percentile(samples, 99.0), mean, count: samples.len() }
}

impl StageTimings {
    /// Forgets the samples, keeping the allocations (a live camera reads
    /// them into its metrics after every frame).
    pub fn clear(&mut self) {
        for v in
            [&mut self.decode, &mut self.detect, &mut self.track, &mut self.align, &mut self.embed, &mut self.matching]
        {
            v.clear();
        }
        self.skipped = 0;
    }

    pub fn append(&mut self, other: &StageTimings) {
        self.decode.extend_from_slice(&other.decode);
        self.detect.extend_from_slice(&other.detect);
        self.align.extend_from_slice(&other.align);
        self.embed.extend_from_slice(&other.embed);
        self.track.extend_from_slice(&other.track);
        self.matching.extend_from_slice(&other.matching);
        self.skipped += other.skipped;
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
