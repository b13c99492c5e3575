//! Multi-object tracking of faces, in the spirit of ByteTrack.
//!
//! Each track predicts its box with a constant-velocity model (velocity
//! smoothed exponentially). Detections are associated in two rounds:
//! confident detections first, then the remaining weak ones — which only ever
//! extend existing tracks, never start new ones — so a face that dims or blurs
//! for a frame keeps its track without weak false positives spawning tracks.
//! Association is greedy on IoU between predicted box and detection, best pair
//! first, and never against a track's established motion (a detection behind
//! a fast-moving track is someone else walking the other way, not the same
//! person turning round within one frame). A track survives `max_misses` frames without a detection (occlusion,
//! a missed detection) before it is finished — unless its predicted centre has
//! left the frame: a person who walked out of view is gone, and keeping the
//! track alive would hand it to the next person entering at the same edge.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::detect::{Detection, Rect};

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerConfig {
    /// Detections at or above this score may start tracks and are matched first.
    pub high_score: f32,
    /// Minimum IoU between a track's predicted box and a detection.
    pub match_iou: f32,
    /// Frames a track may go undetected before it is finished.
    pub max_misses: u32,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig { high_score: 0.7, match_iou: 0.15, max_misses: 12 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TrackId(pub u64);

#[derive(Debug, Clone)]
pub struct Track {
    pub id: TrackId,
    /// Last matched box (or the prediction while missed).
    pub bbox: Rect,
    /// The detection matched in the current frame, if any.
    pub detection: Option<Detection>,
    velocity: [f32; 4],
    pub hits: u32,
    pub misses: u32,
    pub first_seen: Duration,
    pub last_seen: Duration,
}

impl Track {
    fn predicted(&self) -> Rect {
        let [dx, dy, dw, dh] = self.velocity;
        Rect {
            x: self.bbox.x + dx,
            y: self.bbox.y + dy,
            w: (self.bbox.w + dw).max(1.0),
            h: (self.bbox.h + dh).max(1.0),
        }
    }

    /// Would moving to `det` reverse this track's established motion?
    fn reverses(&self, det: &Detection) -> bool {
        let [vx, vy] = [self.velocity[0] + self.velocity[2] / 2.0, self.velocity[1] + self.velocity[3] / 2.0];
        let speed = (vx * vx + vy * vy).sqrt();
        if self.hits < 3 || speed < 3.0 {
            return false;
        }
        let [cx, cy] = self.bbox.center();
        let [dx, dy] = det.bbox.center();
        let (mx, my) = (dx - cx, dy - cy);
        let dist = (mx * mx + my * my).sqrt();
        dist > speed && (mx * vx + my * vy) < -0.5 * dist * speed
    }

    fn absorb(&mut self, det: &Detection, ts: Duration) {
        let gap = (self.misses + 1) as f32;
        let old = self.bbox;
        let step = [
            (det.bbox.x - old.x) / gap,
            (det.bbox.y - old.y) / gap,
            (det.bbox.w - old.w) / gap,
            (det.bbox.h - old.h) / gap,
        ];
        let alpha = if self.hits == 1 { 1.0 } else { 0.5 };
        for (v, s) in self.velocity.iter_mut().zip(step) {
            *v = (1.0 - alpha) * *v + alpha * s;
        }
        self.bbox = det.bbox;
        self.detection = Some(*det);
        self.hits += 1;
        self.misses = 0;
        self.last_seen = ts;
    }
}

#[derive(Debug, Default)]
pub struct Tracker {
    config: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u64,
    pairs: Vec<(f32, usize, usize)>,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Tracker {
        Tracker { config, next_id: 1, ..Default::default() }
    }

    /// Live tracks after the last update.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Feeds one frame's detections (frame of `width`×`height` px); tracks
    /// that ended are moved to `finished`.
    pub fn update(&mut self, detections: &[Detection], ts: Duration, frame: (f32, f32), finished: &mut Vec<Track>) {
        for t in &mut self.tracks {
            t.detection = None;
        }
        let mut det_used = vec![false; detections.len()];
        let mut track_used = vec![false; self.tracks.len()];
        for round in [true, false] {
            self.pairs.clear();
            for (ti, t) in self.tracks.iter().enumerate() {
                if track_used[ti] {
                    continue;
                }
                let pred = t.predicted();
                for (di, d) in detections.iter().enumerate() {
                    if det_used[di] || (d.score >= self.config.high_score) != round {
                        continue;
                    }
                    let iou = pred.iou(&d.bbox);
                    if iou >= self.config.match_iou && !t.reverses(d) {
                        self.pairs.push((iou, ti, di));
                    }
                }
            }
            self.pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
            for &(_, ti, di) in &self.pairs {
                if !track_used[ti] && !det_used[di] {
                    track_used[ti] = true;
                    det_used[di] = true;
                    self.tracks[ti].absorb(&detections[di], ts);
                }
            }
        }
        for (ti, t) in self.tracks.iter_mut().enumerate() {
            if !track_used[ti] {
                t.bbox = t.predicted();
                t.misses += 1;
            }
        }
        let max_misses = self.config.max_misses;
        let out_of_view = |t: &Track| {
            let [cx, cy] = t.bbox.center();
            t.misses > 0 && (cx < 0.0 || cy < 0.0 || cx > frame.0 || cy > frame.1)
        };
        let mut i = 0;
        while i < self.tracks.len() {
            if self.tracks[i].misses > max_misses || out_of_view(&self.tracks[i]) {
                finished.push(self.tracks.swap_remove(i));
            } else {
                i += 1;
            }
        }
        for (di, d) in detections.iter().enumerate() {
            if !det_used[di] && d.score >= self.config.high_score {
                let id = TrackId(self.next_id);
                self.next_id += 1;
                self.tracks.push(Track {
                    id,
                    bbox: d.bbox,
                    detection: Some(*d),
                    velocity: [0.0; 4],
                    hits: 1,
                    misses: 0,
                    first_seen: ts,
                    last_seen: ts,
                });
            }
        }
    }

    /// Ends every live track (end of stream).
    pub fn finish_all(&mut self, finished: &mut Vec<Track>) {
        finished.append(&mut self.tracks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32, score: f32) -> Detection {
        Detection { bbox: Rect { x, y, w: 80.0, h: 100.0 }, landmarks: [[0.0; 2]; 5], score }
    }

    const FRAME: (f32, f32) = (1280.0, 720.0);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n * 40)
    }

    #[test]
    fn a_moving_face_keeps_one_track_through_missed_detections() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut done = Vec::new();
        for f in 0..40u64 {
            let dets = if (10..15).contains(&f) { vec![] } else { vec![face(100.0 + 12.0 * f as f32, 200.0, 0.9)] };
            tr.update(&dets, ms(f), FRAME, &mut done);
        }
        assert!(done.is_empty());
        assert_eq!(tr.tracks().len(), 1);
        assert_eq!(tr.tracks()[0].id, TrackId(1));
        assert_eq!(tr.tracks()[0].hits, 35);
    }

    #[test]
    fn two_faces_passing_close_in_opposite_directions_keep_their_tracks() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut done = Vec::new();
        let mut ids_at_start = Vec::new();
        for f in 0..60u64 {
            let a = face(50.0 + 15.0 * f as f32, 200.0, 0.9);
            let b = face(950.0 - 15.0 * f as f32, 290.0, 0.9);
            tr.update(&[a, b], ms(f), FRAME, &mut done);
            if f == 1 {
                ids_at_start = tr.tracks().iter().map(|t| (t.id, t.bbox.y)).collect();
            }
        }
        assert_eq!(tr.tracks().len(), 2, "no track was lost or created");
        for t in tr.tracks() {
            let start_y = ids_at_start.iter().find(|(id, _)| *id == t.id).expect("same ids").1;
            assert_eq!(start_y, t.bbox.y, "each track stays on its own person");
        }
    }

    #[test]
    fn a_detection_against_the_tracks_motion_starts_a_new_track() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut done = Vec::new();
        for f in 0..10u64 {
            tr.update(&[face(600.0 - 20.0 * f as f32, 300.0, 0.9)], ms(f), FRAME, &mut done);
        }
        // Next frame the only face is 25 px to the right of the last position:
        // someone walking the other way, overlapping the track's predicted box.
        tr.update(&[face(445.0, 300.0, 0.9)], ms(10), FRAME, &mut done);
        assert_eq!(tr.tracks().len(), 2);
        assert_eq!(tr.tracks()[0].misses, 1, "the original track missed");
    }

    #[test]
    fn weak_detections_extend_tracks_but_never_start_them() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut done = Vec::new();
        tr.update(&[face(100.0, 100.0, 0.5)], ms(0), FRAME, &mut done);
        assert!(tr.tracks().is_empty());
        tr.update(&[face(100.0, 100.0, 0.9)], ms(1), FRAME, &mut done);
        tr.update(&[face(105.0, 100.0, 0.5)], ms(2), FRAME, &mut done);
        assert_eq!(tr.tracks()[0].hits, 2);
    }

    #[test]
    fn a_face_that_walked_out_of_view_does_not_hand_its_track_to_the_next() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut done = Vec::new();
        // Walks left out of the frame...
        for f in 0..12u64 {
            tr.update(&[face(200.0 - 30.0 * f as f32, 300.0, 0.9)], ms(f), FRAME, &mut done);
        }
        for f in 12..16u64 {
            tr.update(&[], ms(f), FRAME, &mut done);
        }
        // ...and someone else appears at the same edge.
        tr.update(&[face(-30.0, 300.0, 0.9)], ms(16), FRAME, &mut done);
        assert_eq!(done.len(), 1, "the first track ended");
        assert_eq!(tr.tracks().len(), 1);
        assert_ne!(tr.tracks()[0].id, done[0].id);
    }

    #[test]
    fn a_track_ends_after_max_misses() {
        let mut tr = Tracker::new(TrackerConfig { max_misses: 3, ..Default::default() });
        let mut done = Vec::new();
        tr.update(&[face(200.0, 200.0, 0.9)], ms(0), FRAME, &mut done);
        for f in 1..=4 {
            tr.update(&[], ms(f), FRAME, &mut done);
        }
        assert_eq!(done.len(), 1);
        assert!(tr.tracks().is_empty());
    }
}
