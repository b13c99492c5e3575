//! Passages: a track crossing the camera's counting line.
//!
//! A crossing needs conviction on both sides: the track must have been at
//! least `min_travel` (normalised image units) on one side and then reach at
//! least `min_travel` on the other. A person who stands near the line, or
//! whose face centre wobbles across it, makes no passage.
//!
//! A passage is emitted `emit_delay_ms` after the crossing (so the track can
//! gather more good faces, usually its best: people walking in come closer to
//! the camera) or when the track ends, whichever is first.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::identity::Identity;
use crate::line::{CountingLine, Direction};

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PassageConfig {
    /// Distance from the line a track must reach on each side, normalised units.
    pub min_travel: f32,
    /// Wait after the crossing before deciding identity, milliseconds.
    pub emit_delay_ms: u64,
    /// Detections a track needs before its crossing counts (filters flicker).
    pub min_hits: u32,
}

impl Default for PassageConfig {
    fn default() -> Self {
        PassageConfig { min_travel: 0.03, emit_delay_ms: 1000, min_hits: 3 }
    }
}

/// One person's passage through the gate.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Passage {
    /// Unique across agents and restarts (the outbox and the admin API dedup by it).
    pub id: String,
    pub camera: String,
    pub track: u64,
    pub direction: Direction,
    pub identity: Identity,
    /// Stream time of the track's first and last detection, and of the crossing.
    #[serde(with = "secs")]
    pub first_seen: Duration,
    #[serde(with = "secs")]
    pub last_seen: Duration,
    #[serde(with = "secs")]
    pub crossed_at: Duration,
    /// Best face of the track, JPEG (absent when no face was good enough).
    #[serde(skip)]
    pub face_jpeg: Option<Vec<u8>>,
    /// Quality of that face, 0..1.
    pub face_quality: f32,
    /// Embeddings the identity decision used.
    pub samples: usize,
    /// Their normalised mean: what a 1:1 verification compares (kept on the
    /// edge only; embeddings of passers-by are never sent).
    #[serde(skip)]
    pub probe: Option<crate::embed::Embedding>,
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

/// Watches one track's positions for a confident crossing.
#[derive(Debug, Clone, Default)]
pub struct CrossingDetector {
    /// Side the track was last confidently on: `true` = inside.
    confident_inside: Option<bool>,
}

impl CrossingDetector {
    /// Feeds the track's normalised position; returns a crossing when one completes.
    pub fn observe(&mut self, line: &CountingLine, p: [f32; 2], min_travel: f32) -> Option<Direction> {
        let d = line.inwardness(p);
        if d.abs() < min_travel {
            return None;
        }
        let inside = d > 0.0;
        let previous = self.confident_inside.replace(inside);
        match previous {
            Some(false) if inside => Some(Direction::Entry),
            Some(true) if !inside => Some(Direction::Exit),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::Side;

    fn line() -> CountingLine {
        CountingLine { a: [0.0, 0.5], b: [1.0, 0.5], inside: Side::Below }
    }

    #[test]
    fn walking_through_is_one_crossing() {
        let mut c = CrossingDetector::default();
        let got: Vec<_> = (0..20).filter_map(|i| c.observe(&line(), [0.5, 0.2 + 0.03 * i as f32], 0.03)).collect();
        assert_eq!(got, vec![Direction::Entry]);
    }

    #[test]
    fn wobbling_on_the_line_is_no_crossing() {
        let mut c = CrossingDetector::default();
        for i in 0..50 {
            let y = 0.5 + if i % 2 == 0 { 0.02 } else { -0.02 };
            assert_eq!(c.observe(&line(), [0.5, y], 0.03), None);
        }
    }

    #[test]
    fn standing_on_one_side_is_no_crossing() {
        let mut c = CrossingDetector::default();
        assert!((0..30).all(|i| c.observe(&line(), [0.5, 0.1 + 0.005 * i as f32], 0.03).is_none()));
    }

    #[test]
    fn going_in_and_back_out_is_two_crossings() {
        let mut c = CrossingDetector::default();
        let path = [0.3, 0.4, 0.6, 0.7, 0.6, 0.4, 0.3];
        let got: Vec<_> = path.iter().filter_map(|y| c.observe(&line(), [0.5, *y], 0.03)).collect();
        assert_eq!(got, vec![Direction::Entry, Direction::Exit]);
    }
}
