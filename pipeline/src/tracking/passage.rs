//! Passages: a track crossing the camera's counting line.
//!
//! A crossing needs conviction on both sides (hysteresis): the track must
//! have been at least `min_travel` (normalised image units) on one side and
//! then reach at least `min_travel` on the other. A person who stands near the
//! line, or whose face centre wobbles across it, makes no passage; a person
//! who crosses and comes back (a U-turn) makes two, an entry and an exit.
//! The crossing's time is when the face was on the line (interpolated between
//! the two sightings either side of it), not when it was confirmed.
//!
//! Counting does not depend on recognition: every confirmed crossing becomes
//! a passage, `unknown` when no face of it was good enough to embed — except
//! the crossing of a track with fewer than `min_hits` detections (a flicker),
//! and a second crossing by the same face at the same moment and place (one
//! face followed by two tracks; see the engine). A passage is emitted
//! `emit_delay_ms` after its crossing (so the track can gather more good
//! faces, usually its best: people walking in come closer to the camera) or
//! when the track ends, whichever is first.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::tracking::identity::Identity;
use crate::tracking::line::CountingLine;
use wire::Direction;

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

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PassageConfigError {
    #[error("min_travel must be within 0.005..0.5 of the image (a distance each side of the line), got {0}")]
    MinTravel(f32),
    #[error("emit_delay_ms must be at most 60000 (a minute), got {0}")]
    EmitDelay(u64),
    #[error("min_hits must be at least 1")]
    MinHits,
}

impl PassageConfig {
    pub fn validate(&self) -> Result<(), PassageConfigError> {
        if !(0.005..=0.5).contains(&self.min_travel) {
            return Err(PassageConfigError::MinTravel(self.min_travel));
        }
        if self.emit_delay_ms > 60_000 {
            return Err(PassageConfigError::EmitDelay(self.emit_delay_ms));
        }
        if self.min_hits == 0 {
            return Err(PassageConfigError::MinHits);
        }
        Ok(())
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
    /// Where along the line the face crossed, 0..1 from the line's `a` to `b`.
    #[serde(default)]
    pub cross_pos: f32,
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
    /// A [`Sighting`] announced this passage (same id, same identity).
    #[serde(default)]
    pub sighted_early: bool,
    /// Their normalised mean: what a 1:1 verification compares (kept on the
    /// edge only; embeddings of passers-by are never sent).
    #[serde(skip)]
    pub probe: Option<wire::Embedding>,
}

/// A track's identity decided before its crossing (see
/// [`crate::tracking::identity::IdentityConfig::decide_early_after`]): what an early
/// alert is made of. The track's next passage with the same identity takes
/// `passage_id`, so the alert and the passage are one story.
#[derive(Debug, Clone)]
pub struct Sighting {
    pub passage_id: String,
    pub camera: String,
    pub track: u64,
    pub identity: Identity,
    /// Stream time of the first face the decision used.
    pub first_face_at: Duration,
    /// Stream time of the last face the decision used: the frame from which
    /// the person was recognisable (the faces before it did not suffice).
    pub last_face_at: Duration,
    /// Stream time of the frame the decision was made at.
    pub decided_at: Duration,
    /// The best face so far, JPEG.
    pub face_jpeg: Option<Vec<u8>>,
    pub face_quality: f32,
    pub samples: usize,
}

/// What the engine emits: passages, and identities decided ahead of them.
#[derive(Debug, Default)]
pub struct Emitted {
    pub passages: Vec<Passage>,
    pub sightings: Vec<Sighting>,
}

impl Emitted {
    pub fn is_empty(&self) -> bool {
        self.passages.is_empty() && self.sightings.is_empty()
    }
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

/// A confirmed crossing of the line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crossing {
    pub direction: Direction,
    /// When the face was on the line.
    pub at: Duration,
    /// Where along the line, 0..1 from `a` to `b`.
    pub pos: f32,
}

/// Watches one track's positions for confident crossings.
#[derive(Debug, Clone, Default)]
pub struct CrossingDetector {
    /// Side the track was last confidently on: `true` = inside.
    confident_inside: Option<bool>,
    /// The previous sighting: signed distance from the line, time, position.
    last: Option<(f32, Duration, [f32; 2])>,
    /// When and where the track was last on the line.
    on_line: Option<(Duration, [f32; 2])>,
}

impl CrossingDetector {
    /// Feeds the track's normalised position at stream time `ts`; returns a
    /// crossing when one is confirmed.
    pub fn observe(&mut self, line: &CountingLine, p: [f32; 2], ts: Duration, min_travel: f32) -> Option<Crossing> {
        let d = line.inwardness(p);
        if let Some((before, then, q)) = self.last
            && (before < 0.0) != (d < 0.0)
        {
            // Linear interpolation between the sightings either side.
            let f = if before == d { 0.0 } else { before / (before - d) };
            let at = then + ts.saturating_sub(then).mul_f32(f.clamp(0.0, 1.0));
            let pos = [q[0] + (p[0] - q[0]) * f, q[1] + (p[1] - q[1]) * f];
            self.on_line = Some((at, pos));
        }
        self.last = Some((d, ts, p));
        if d.abs() < min_travel {
            return None;
        }
        let inside = d > 0.0;
        let previous = self.confident_inside.replace(inside);
        let direction = match previous {
            Some(false) if inside => Direction::Entry,
            Some(true) if !inside => Direction::Exit,
            _ => return None,
        };
        let (at, pos) = self.on_line.unwrap_or((ts, p));
        Some(Crossing { direction, at, pos: line.along(pos) })
    }
}

/// Splits a track into legs at its turns: a track that moved `turn` (normalised
/// units, across the line) one way and then `turn` back has turned. A U-turn
/// is one; so is a track that passed, where one person left and another came
/// in, from the first to the second — which is why the faces of each leg are
/// kept apart (see [`crate::tracking::identity::leg_evidence`]).
#[derive(Debug, Clone, Default)]
pub struct TurnDetector {
    /// Where the current leg started (signed distance from the line).
    start: Option<f32>,
    /// Heading across the line: +1 inwards, −1 outwards, 0 not yet known.
    heading: f32,
    /// The furthest the current leg got along its heading, and when.
    peak: f32,
    peak_at: Duration,
}

impl TurnDetector {
    /// Feeds the track's signed distance from the line (see
    /// [`CountingLine::inwardness`]) at stream time `ts`; when this sighting
    /// shows the track has turned, returns when it turned (the moment it was
    /// furthest along its old heading).
    pub fn observe(&mut self, d: f32, ts: Duration, turn: f32) -> Option<Duration> {
        let Some(start) = self.start else {
            self.start = Some(d);
            (self.peak, self.peak_at) = (d, ts);
            return None;
        };
        if self.heading == 0.0 {
            if (d - start).abs() >= turn {
                self.heading = (d - start).signum();
                (self.peak, self.peak_at) = (d, ts);
            }
            return None;
        }
        if (d - self.peak) * self.heading > 0.0 {
            (self.peak, self.peak_at) = (d, ts);
            return None;
        }
        if (self.peak - d) * self.heading >= turn {
            let turned_at = self.peak_at;
            self.heading = -self.heading;
            self.start = Some(self.peak);
            (self.peak, self.peak_at) = (d, ts);
            return Some(turned_at);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::line::Side;

    fn line() -> CountingLine {
        CountingLine { a: [0.0, 0.5], b: [1.0, 0.5], inside: Side::Below }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn walk(c: &mut CrossingDetector, ys: &[f32], step_ms: u64) -> Vec<Crossing> {
        ys.iter().enumerate().filter_map(|(i, y)| c.observe(&line(), [0.4, *y], ms(i as u64 * step_ms), 0.03)).collect()
    }

    #[test]
    fn a_travel_that_is_no_distance_is_refused() {
        let nan = PassageConfig { min_travel: f32::NAN, ..Default::default() };
        assert!(matches!(nan.validate(), Err(PassageConfigError::MinTravel(_))));
        assert!(PassageConfig { min_travel: 0.0, ..Default::default() }.validate().is_err());
        assert_eq!(PassageConfig { min_hits: 0, ..Default::default() }.validate(), Err(PassageConfigError::MinHits));
        assert!(PassageConfig::default().validate().is_ok());
    }

    #[test]
    fn walking_through_is_one_crossing_timed_at_the_line() {
        let mut c = CrossingDetector::default();
        let ys: Vec<f32> = (0..20).map(|i| 0.2 + 0.03 * i as f32).collect();
        let got = walk(&mut c, &ys, 100);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].direction, Direction::Entry);
        // y = 0.5 at i = 10: t = 1.0 s, although confirmed at 0.53 (t = 1.1 s).
        assert!((got[0].at.as_secs_f32() - 1.0).abs() < 0.01, "{:?}", got[0].at);
        assert!((got[0].pos - 0.4).abs() < 1e-6);
    }

    #[test]
    fn a_face_hidden_at_the_line_is_timed_between_its_sightings() {
        let mut c = CrossingDetector::default();
        // Seen at 0.4 (t=0), 0.45 (t=0.1), then hidden; seen again at 0.6 (t=0.7).
        assert!(c.observe(&line(), [0.5, 0.40], ms(0), 0.03).is_none());
        assert!(c.observe(&line(), [0.5, 0.45], ms(100), 0.03).is_none());
        let x = c.observe(&line(), [0.5, 0.60], ms(700), 0.03).expect("crossed");
        // 0.45 → 0.6 passes 0.5 a third of the way: t = 0.1 + 0.6 / 3 = 0.3 s.
        assert!((x.at.as_secs_f32() - 0.3).abs() < 0.01, "{:?}", x.at);
    }

    #[test]
    fn wobbling_on_the_line_is_no_crossing() {
        let mut c = CrossingDetector::default();
        let ys: Vec<f32> = (0..50).map(|i| 0.5 + if i % 2 == 0 { 0.02 } else { -0.02 }).collect();
        assert!(walk(&mut c, &ys, 40).is_empty());
    }

    #[test]
    fn standing_on_one_side_is_no_crossing() {
        let mut c = CrossingDetector::default();
        let ys: Vec<f32> = (0..30).map(|i| 0.1 + 0.005 * i as f32).collect();
        assert!(walk(&mut c, &ys, 40).is_empty());
    }

    #[test]
    fn walking_up_to_the_line_and_back_is_no_crossing() {
        let mut c = CrossingDetector::default();
        let ys = [0.3, 0.4, 0.48, 0.51, 0.52, 0.5, 0.45, 0.35, 0.25];
        assert!(walk(&mut c, &ys, 100).is_empty());
    }

    #[test]
    fn a_track_that_turns_starts_a_new_leg() {
        let mut t = TurnDetector::default();
        let path = [-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.18, 0.14, 0.1, 0.0, -0.1, -0.08, -0.12, -0.2];
        let turns: Vec<(usize, Duration)> = path
            .iter()
            .enumerate()
            .filter_map(|(i, d)| t.observe(*d, ms(100 * i as u64), 0.05).map(|at| (i, at)))
            .collect();
        // Known once it was 0.05 back from its furthest (0.2, at 0.5 s): at 0.14.
        assert_eq!(turns, vec![(7, ms(500))]);
    }

    #[test]
    fn jitter_and_a_straight_walk_are_one_leg() {
        let mut t = TurnDetector::default();
        assert!((0..40).all(|i| {
            let d = -0.3 + 0.02 * i as f32 + if i % 2 == 0 { 0.02 } else { -0.02 };
            t.observe(d, ms(40 * i), 0.05).is_none()
        }));
    }

    #[test]
    fn going_in_and_back_out_is_two_crossings() {
        let mut c = CrossingDetector::default();
        let got: Vec<Direction> =
            walk(&mut c, &[0.3, 0.4, 0.6, 0.7, 0.6, 0.4, 0.3], 100).into_iter().map(|x| x.direction).collect();
        assert_eq!(got, vec![Direction::Entry, Direction::Exit]);
    }
}
