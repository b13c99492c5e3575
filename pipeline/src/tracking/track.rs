//! Multi-object tracking of faces, in the spirit of ByteTrack and BoT-SORT.
//!
//! **Time, not frames.** Velocities are in pixels per second, smoothing has a
//! time constant and patience is a duration, so a 10 fps and a 30 fps camera
//! follow the same person the same way.
//!
//! **Prediction.** Each track extrapolates its last detected box with a
//! constant velocity (smoothed exponentially over [`VELOCITY_TAU_S`]). While a
//! track goes undetected — a gate post, a turned head, a smeared frame — it
//! is predicted on from its last detection, and the place it may be re-found
//! in widens with the time lost, as the prediction grows less certain.
//!
//! **Association.** In rounds, as ByteTrack: confirmed tracks take confident
//! detections first, then weak ones (a face that dims or blurs keeps its
//! track); tracks not yet confirmed take what is left. Any detection left
//! over starts a track — at night or far from the camera a face may never
//! score high — but a track is confirmed only after [`CONFIRM_HITS`]
//! sightings and ends as soon as it is lost before that, so a flicker comes
//! to nothing; and a detection lying on a track just seen starts none (it is
//! that person, in a frame their track could not take it). Each round pairs
//! tracks and detections optimally ([`crate::tracking::assignment`]) on a cost that
//! mixes motion (1 − IoU of the predicted box and the detection; for a lost
//! track, the distance from its prediction within a gate that widens with
//! the time lost) with appearance (1 − similarity of a head's colour
//! histogram, [`crate::tracking::appearance`], kept per track as a running mean).
//! Two rules guard the pairings motion alone gets wrong: a track lost for a
//! while is re-found only by a face that looks like it, not by whoever walks
//! into its predicted place; and a track moving at speed never takes a face
//! behind it — people slow down to turn round, so that face is someone else
//! (one walker leaving through a doorway as another comes out of it).
//!
//! **Ending.** A track undetected for `max_lost_ms` ends; so does one whose
//! predicted centre has left the frame (a person who walked out of view is
//! gone, and keeping the track would hand it to the next person entering at
//! the same edge).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::tracking::appearance::Appearance;
use crate::tracking::assignment::{Unpaired, assign};
use crate::vision::detect::{Detection, Rect};

/// Time constant of the velocity smoothing, seconds.
pub const VELOCITY_TAU_S: f32 = 0.1;
/// A lost track may be re-found by a face this close to its prediction (face
/// heights), plus this much more per second lost, up to a limit...
const REFIND_RADIUS: f32 = 0.5;
const REFIND_SPREAD_PER_S: f32 = 1.5;
const REFIND_RADIUS_MAX: f32 = 2.0;
/// ...whose size is within this ratio of the track's smoothed face height.
const REFIND_SIZE_RATIO: f32 = 1.5;
/// A track seen once has no velocity yet: its second sighting may be this far
/// (face heights) plus this much per second since the first — a walker covers
/// up to about four face heights a second, a whole face per frame at 5 fps.
const FIRST_STEP_RADIUS: f32 = 0.5;
const FIRST_STEP_PER_S: f32 = 5.0;
/// No face moves faster than this (face heights per second); a velocity
/// estimate beyond it comes from two frames stamped almost together.
const MAX_SPEED: f32 = 20.0;
/// Two sightings closer in time than this give no velocity.
const MIN_VELOCITY_STEP_S: f32 = 0.005;
/// A slow track (slower than [`ESTABLISHED_SPEED`]: someone standing at a
/// turnstile, head bowed over a badge reader) may stay unseen this many times
/// `max_lost_ms`: where it was is where it still is.
const STANDING_PATIENCE: u32 = 3;
/// Time constant of the smoothed face height, seconds.
const HEIGHT_TAU_S: f32 = 0.3;
/// How long a lost track's size keeps changing in the prediction, seconds.
const SIZE_EXTRAPOLATION_S: f32 = 0.2;
/// Detections a track needs before it is confirmed; an unconfirmed track
/// (one or two sightings: a flicker, or a duplicate box) ends as soon as it
/// is lost.
const CONFIRM_HITS: u32 = 3;
/// A track unseen longer than this, or than one and a half frame intervals
/// (whichever is longer, so that a 5 fps camera is not always "lost"), is
/// lost: re-finding it needs appearance, and an unconfirmed one ends.
const LOST_AFTER_S: f32 = 0.15;
/// A track moving faster than this (face heights per second) has an
/// established motion...
const ESTABLISHED_SPEED: f32 = 0.6;
/// ...and a detection that makes less than this fraction of the predicted
/// travel reverses it (see `Track::off_course`; not more than zero: the
/// smoothed velocity lags a person slowing to turn by a frame at 10 fps)...
const MIN_PROGRESS: f32 = 0.0;
/// ...judged only over steps where the predicted travel is at least this
/// many face heights (shorter ones are within the detector's jitter).
const JUDGED_TRAVEL: f32 = 0.15;
/// What leaving a track unpaired in a frame costs, against pairs costing
/// 0..1: one good pair is better than two poor ones (see [`Unpaired`]).
const UNPAIRED_COST: f32 = 0.9;
/// A detection overlapping a track seen this recently by more than this IoU
/// starts no track of its own: it is that person (the track could not take
/// it this frame), not someone new.
const DUPLICATE_IOU: f32 = 0.5;

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerConfig {
    /// Detections at or above this score are offered to tracks first (any
    /// detection left over starts a track, confirmed after three sightings).
    pub high_score: f32,
    /// Minimum IoU between a track's predicted box and a detection.
    pub match_iou: f32,
    /// How long a track may go undetected before it ends, milliseconds.
    pub max_lost_ms: u64,
    /// Appearance similarity (0..1) a detection needs to re-find a lost track.
    pub min_appearance: f32,
    /// Weight of appearance against motion in the association cost, 0..1.
    pub appearance_weight: f32,
    /// Replaced by `max_lost_ms`: frames meant different times at different
    /// frame rates. Kept only to say so when an old configuration has it.
    #[serde(skip_serializing)]
    pub max_misses: Option<u32>,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            high_score: 0.7,
            match_iou: 0.15,
            max_lost_ms: 1500,
            min_appearance: 0.6,
            appearance_weight: 0.3,
            max_misses: None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TrackerConfigError {
    #[error(
        "max_misses (frames) is replaced by max_lost_ms (milliseconds), so that cameras at different frame rates behave alike; e.g. max_misses = 12 at 25 fps is max_lost_ms = 480"
    )]
    FramesNotTime,
    #[error("{0} must be within 0..1")]
    OutOfRange(&'static str),
}

impl TrackerConfig {
    pub fn validate(&self) -> Result<(), TrackerConfigError> {
        if self.max_misses.is_some() {
            return Err(TrackerConfigError::FramesNotTime);
        }
        for (name, v) in [
            ("high_score", self.high_score),
            ("match_iou", self.match_iou),
            ("min_appearance", self.min_appearance),
            ("appearance_weight", self.appearance_weight),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(TrackerConfigError::OutOfRange(name));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TrackId(pub u64);

/// The moment an update is for, and how long unseen counts as lost at the
/// camera's frame rate.
#[derive(Debug, Clone, Copy)]
struct Clock {
    ts: Duration,
    lost_after: f32,
}

#[derive(Debug, Clone)]
pub struct Track {
    pub id: TrackId,
    /// The box now: the detection of this frame, or the prediction while undetected.
    pub bbox: Rect,
    /// The detection matched in the current frame, if any.
    pub detection: Option<Detection>,
    /// The last detected box.
    anchor: Rect,
    /// Pixels per second: x, y, w, h.
    velocity: [f32; 4],
    /// Face height, smoothed over [`HEIGHT_TAU_S`]: a face half hidden by a
    /// post or cut by an edge shrinks its box for a frame or two, not its size.
    height: f32,
    appearance: Appearance,
    pub hits: u32,
    pub first_seen: Duration,
    pub last_seen: Duration,
    /// How long the track had been unseen before its latest sighting: a
    /// track re-found after a gap may have been re-found on someone else.
    pub gap: Duration,
}

impl Track {
    fn new(id: TrackId, det: &Detection, look: &Appearance, ts: Duration) -> Track {
        Track {
            id,
            bbox: det.bbox,
            detection: Some(*det),
            anchor: det.bbox,
            velocity: [0.0; 4],
            height: det.bbox.h,
            appearance: *look,
            hits: 1,
            first_seen: ts,
            last_seen: ts,
            gap: Duration::ZERO,
        }
    }

    /// Is the track moving slower than an established walk?
    fn slow(&self) -> bool {
        let [vx, vy] = self.centre_velocity();
        vx * vx + vy * vy < (ESTABLISHED_SPEED * self.height).powi(2)
    }

    /// Pixels per second of the box's centre.
    fn centre_velocity(&self) -> [f32; 2] {
        [self.velocity[0] + self.velocity[2] / 2.0, self.velocity[1] + self.velocity[3] / 2.0]
    }

    /// Seconds since the last detection.
    fn lost_for(&self, ts: Duration) -> f32 {
        ts.saturating_sub(self.last_seen).as_secs_f32()
    }

    /// The box extrapolated to `ts`. Its position follows the velocity for
    /// as long as the track is lost; its size only briefly, since a face cut by
    /// an edge or a post makes size changes that do not last.
    fn predicted(&self, ts: Duration) -> Rect {
        let dt = self.lost_for(ts);
        let ds = dt.min(SIZE_EXTRAPOLATION_S);
        let [_, _, vw, vh] = self.velocity;
        let (w, h) = ((self.anchor.w + vw * ds).max(1.0), (self.anchor.h + vh * ds).max(1.0));
        // Centre-based, so a size change does not move the face.
        let [cx, cy] = self.anchor.center();
        let [cvx, cvy] = self.centre_velocity();
        let (cx, cy) = (cx + cvx * dt, cy + cvy * dt);
        Rect { x: cx - w / 2.0, y: cy - h / 2.0, w, h }
    }

    /// How far `det` is from where this track should be at `ts`: 0 exactly
    /// there, 1 at the edge of the gate; `None` outside it. While the track is
    /// followed frame to frame that is the overlap (IoU) of the predicted box
    /// and the detection. Once it is lost, the prediction grows less certain
    /// with every moment hidden — a walker slows behind a post, a face emerging
    /// from behind it is half cut — so the gate becomes a distance between
    /// centres, in face heights, that widens with the time lost; and the size
    /// must agree (a face does not halve or double while hidden).
    ///
    /// A track seen only once has no velocity to predict with: its second
    /// sighting is gated by distance too, as far as a walker goes meanwhile.
    fn motion_distance(&self, det: &Detection, clock: Clock, cfg: &TrackerConfig) -> Option<f32> {
        let lost = self.lost_for(clock.ts);
        let p = self.predicted(clock.ts);
        let gate = if self.hits == 1 {
            FIRST_STEP_RADIUS + FIRST_STEP_PER_S * lost
        } else if lost <= clock.lost_after {
            let iou = p.iou(&det.bbox);
            return (iou >= cfg.match_iou).then_some(1.0 - iou);
        } else {
            (REFIND_RADIUS + REFIND_SPREAD_PER_S * lost).min(REFIND_RADIUS_MAX)
        };
        let ratio = det.bbox.h / self.height;
        if !(1.0 / REFIND_SIZE_RATIO..=REFIND_SIZE_RATIO).contains(&ratio) {
            return None;
        }
        let ([px, py], [dx, dy]) = (p.center(), det.bbox.center());
        let dist = ((dx - px).powi(2) + (dy - py).powi(2)).sqrt() / self.height;
        (dist <= gate).then_some(dist / gate)
    }

    /// Would `det` at `ts` reverse this track's established motion? People
    /// slow down to turn round; a face that is suddenly behind a track moving
    /// at full speed is someone else (one walker leaves through a doorway as
    /// another comes out of it), so the track refuses it. Judged only over a
    /// step long enough for the travel to stand out from the detector's
    /// jitter: at 25 fps and more that is after a missed frame or two, at
    /// 5 fps every frame (where a quick real turn may then start a new track —
    /// whose own crossing still counts).
    fn off_course(&self, det: &Detection, ts: Duration) -> bool {
        let [vx, vy] = self.centre_velocity();
        let speed2 = vx * vx + vy * vy;
        let dt = self.lost_for(ts);
        if self.hits < CONFIRM_HITS || self.slow() || dt <= 0.0 {
            return false;
        }
        // Over a step this short the travel is within the detector's jitter:
        // nothing can be judged.
        if speed2.sqrt() * dt < JUDGED_TRAVEL * self.height {
            return false;
        }
        let [cx, cy] = self.anchor.center();
        let [dx, dy] = det.bbox.center();
        // The fraction of the predicted travel actually made (1 = as predicted).
        let progress = ((dx - cx) * vx + (dy - cy) * vy) / (speed2 * dt);
        progress < MIN_PROGRESS
    }

    /// The association cost of `det` for this track at `clock`, if allowed.
    fn cost(&self, det: &Detection, look: &Appearance, clock: Clock, cfg: &TrackerConfig) -> Option<f32> {
        let motion = self.motion_distance(det, clock, cfg)?;
        if self.off_course(det, clock.ts) {
            return None;
        }
        let alike = self.appearance.similarity(look);
        if self.lost_for(clock.ts) > clock.lost_after && alike < cfg.min_appearance {
            return None;
        }
        let w = cfg.appearance_weight;
        Some((1.0 - w) * motion + w * (1.0 - alike))
    }

    fn absorb(&mut self, det: &Detection, look: &Appearance, ts: Duration) {
        let dt = self.lost_for(ts);
        if dt >= MIN_VELOCITY_STEP_S {
            let old = self.anchor;
            let limit = MAX_SPEED * self.height;
            let step = [
                (det.bbox.x - old.x) / dt,
                (det.bbox.y - old.y) / dt,
                (det.bbox.w - old.w) / dt,
                (det.bbox.h - old.h) / dt,
            ]
            .map(|v| v.clamp(-limit, limit));
            let alpha = if self.hits == 1 { 1.0 } else { 1.0 - (-dt / VELOCITY_TAU_S).exp() };
            for (v, s) in self.velocity.iter_mut().zip(step) {
                *v += alpha * (s - *v);
            }
        }
        self.gap = ts.saturating_sub(self.last_seen);
        self.height += (1.0 - (-dt.max(0.0) / HEIGHT_TAU_S).exp()) * (det.bbox.h - self.height);
        self.appearance.blend(look, 0.2);
        self.anchor = det.bbox;
        self.bbox = det.bbox;
        self.detection = Some(*det);
        self.hits += 1;
        self.last_seen = ts;
    }
}

/// Which tracks an association round serves.
#[derive(Clone, Copy)]
enum Confirmed {
    Yes,
    No,
}

impl Confirmed {
    fn admits(self, t: &Track) -> bool {
        (t.hits >= CONFIRM_HITS) == matches!(self, Confirmed::Yes)
    }
}

/// Which detections an association round offers.
#[derive(Clone, Copy)]
enum Confidence {
    High,
    Low,
    Any,
}

impl Confidence {
    fn admits(self, score: f32, high: f32) -> bool {
        match self {
            Confidence::High => score >= high,
            Confidence::Low => score < high,
            Confidence::Any => true,
        }
    }
}

#[derive(Debug, Default)]
pub struct Tracker {
    config: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u64,
    /// The previous update's time, and the latest intervals between updates.
    last_update: Option<Duration>,
    intervals: [f32; INTERVALS],
    interval_count: usize,
    lost_after: f32,
}

/// Frame intervals the lost threshold is the median of.
const INTERVALS: usize = 9;

impl Tracker {
    pub fn new(config: TrackerConfig) -> Tracker {
        Tracker { config, next_id: 1, lost_after: LOST_AFTER_S, ..Default::default() }
    }

    /// Live tracks after the last update.
    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// How long unseen counts as lost at this camera's frame rate, as of the
    /// last update: one and a half times the median of the latest frame
    /// intervals (a burst of frames or a stall of the stream does not move a
    /// median), and at least [`LOST_AFTER_S`].
    pub fn lost_after(&self) -> f32 {
        self.lost_after
    }

    fn note_frame(&mut self, ts: Duration) -> f32 {
        if let Some(previous) = self.last_update.replace(ts) {
            let dt = ts.saturating_sub(previous).as_secs_f32();
            self.intervals[self.interval_count % INTERVALS] = dt;
            self.interval_count += 1;
        }
        let n = self.interval_count.min(INTERVALS);
        let mut recent = self.intervals;
        let recent = &mut recent[..n];
        recent.sort_by(f32::total_cmp);
        let median = recent.get(n / 2).copied().unwrap_or(0.0);
        self.lost_after = LOST_AFTER_S.max(1.5 * median);
        self.lost_after
    }

    /// Feeds one frame's detections and their appearances (`looks[i]` is
    /// `detections[i]`'s) at stream time `ts`, in a frame `(width, height)`
    /// px; tracks that ended are moved to `finished`.
    pub fn update(
        &mut self,
        detections: &[Detection],
        looks: &[Appearance],
        ts: Duration,
        frame: (f32, f32),
        finished: &mut Vec<Track>,
    ) {
        let clock = Clock { ts, lost_after: self.note_frame(ts) };
        let look = |i: usize| looks.get(i).copied().unwrap_or_default();
        for t in &mut self.tracks {
            t.detection = None;
        }
        let mut det_used = vec![false; detections.len()];
        let mut track_used = vec![false; self.tracks.len()];
        // Confirmed tracks take confident detections, then weak ones; tracks
        // still unconfirmed take what is left (so a track lost behind a post
        // is not beaten to the face re-emerging by a fresh track on its edge).
        let rounds =
            [(Confirmed::Yes, Confidence::High), (Confirmed::Yes, Confidence::Low), (Confirmed::No, Confidence::Any)];
        for (confirmed, confidence) in rounds {
            let rows: Vec<usize> =
                (0..self.tracks.len()).filter(|&t| !track_used[t] && confirmed.admits(&self.tracks[t])).collect();
            let cols: Vec<usize> = (0..detections.len())
                .filter(|&d| !det_used[d] && confidence.admits(detections[d].score, self.config.high_score))
                .collect();
            let pairs = assign(
                rows.len(),
                cols.len(),
                |r, c| self.tracks[rows[r]].cost(&detections[cols[c]], &look(cols[c]), clock, &self.config),
                Unpaired::Costs(UNPAIRED_COST),
            );
            for (r, c) in pairs {
                let (ti, di) = (rows[r], cols[c]);
                track_used[ti] = true;
                det_used[di] = true;
                self.tracks[ti].absorb(&detections[di], &look(di), ts);
            }
        }
        let max_lost = Duration::from_millis(self.config.max_lost_ms);
        let mut i = 0;
        while i < self.tracks.len() {
            let t = &mut self.tracks[i];
            if t.detection.is_none() {
                t.bbox = t.predicted(ts);
            }
            let [cx, cy] = t.bbox.center();
            let out_of_view = t.detection.is_none() && (cx < 0.0 || cy < 0.0 || cx > frame.0 || cy > frame.1);
            let unconfirmed_and_lost = t.hits < CONFIRM_HITS && t.lost_for(ts) > clock.lost_after;
            let patience = if t.slow() { max_lost * STANDING_PATIENCE } else { max_lost };
            if out_of_view || unconfirmed_and_lost || ts.saturating_sub(t.last_seen) > patience {
                finished.push(self.tracks.swap_remove(i));
            } else {
                i += 1;
            }
        }
        for (di, d) in detections.iter().enumerate() {
            let on_a_track = || {
                self.tracks.iter().any(|t| t.lost_for(ts) <= clock.lost_after && t.bbox.iou(&d.bbox) > DUPLICATE_IOU)
            };
            if !det_used[di] && !on_a_track() {
                let id = TrackId(self.next_id);
                self.next_id += 1;
                self.tracks.push(Track::new(id, d, &look(di), ts));
            }
        }
    }

    /// Ends every live track (end of stream).
    pub fn finish_all(&mut self, finished: &mut Vec<Track>) {
        finished.append(&mut self.tracks);
    }
}

/// A track the engine is following, as other components may want to see it
/// (loitering rules, live views).
#[derive(Debug, Clone, Copy)]
pub struct LiveTrack {
    pub id: TrackId,
    pub first_seen: Duration,
    pub last_seen: Duration,
    pub crossed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32, score: f32) -> Detection {
        Detection { bbox: Rect { x, y, w: 80.0, h: 100.0 }, landmarks: [[0.0; 2]; 5], score }
    }

    const FRAME: (f32, f32) = (1280.0, 720.0);

    /// Frame `n` of a camera at `fps`.
    fn at(n: u64, fps: u64) -> Duration {
        Duration::from_micros(n * 1_000_000 / fps)
    }

    fn look(b: u8, g: u8, r: u8) -> Appearance {
        Appearance::of_pixels(&[b, g, r].repeat(16))
    }

    fn update(tr: &mut Tracker, dets: &[Detection], ts: Duration, done: &mut Vec<Track>) {
        let looks = vec![Appearance::default(); dets.len()];
        tr.update(dets, &looks, ts, FRAME, done);
    }

    #[test]
    fn a_moving_face_keeps_one_track_through_missed_detections() {
        for fps in [10, 25, 30] {
            let mut tr = Tracker::new(TrackerConfig::default());
            let mut done = Vec::new();
            // 300 px/s; undetected from 0.4 s to 0.9 s (a gate post).
            for f in 0..(2 * fps) {
                let t = at(f, fps);
                let x = 100.0 + 300.0 * t.as_secs_f32();
                let hidden = (0.4..0.9).contains(&t.as_secs_f32());
                let dets = if hidden { vec![] } else { vec![face(x, 200.0, 0.9)] };
                update(&mut tr, &dets, t, &mut done);
            }
            assert!(done.is_empty(), "{fps} fps: {done:?}");
            assert_eq!(tr.tracks().len(), 1, "{fps} fps");
            assert_eq!(tr.tracks()[0].id, TrackId(1), "{fps} fps");
        }
    }

    #[test]
    fn a_walker_crossing_the_view_at_5_fps_keeps_one_track() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut done = Vec::new();
        // 470 px/s sideways: almost a whole face (80 px wide) per frame.
        for f in 0..12u64 {
            update(&mut tr, &[face(50.0 + 94.0 * f as f32, 300.0, 0.9)], at(f, 5), &mut done);
        }
        assert!(done.is_empty(), "{done:?}");
        assert_eq!(tr.tracks().len(), 1);
        assert_eq!(tr.tracks()[0].hits, 12);
    }

    #[test]
    fn someone_standing_unseen_at_a_turnstile_keeps_their_track() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut done = Vec::new();
        // Walks up, stands a second, bows over the reader for 3 s, walks on.
        for f in 0..25u64 {
            let y = 100.0 + 8.0 * f.min(12) as f32;
            update(&mut tr, &[face(400.0, y, 0.9)], at(f, 25), &mut done);
        }
        for f in 25..100u64 {
            update(&mut tr, &[], at(f, 25), &mut done);
        }
        update(&mut tr, &[face(400.0, 198.0, 0.9)], at(100, 25), &mut done);
        assert!(done.is_empty(), "{done:?}");
        assert_eq!(tr.tracks()[0].id, TrackId(1));
        assert!(tr.tracks()[0].detection.is_some());
        // A walker unseen that long is gone.
        let mut tr = Tracker::new(TrackerConfig::default());
        for f in 0..25u64 {
            update(&mut tr, &[face(400.0, 100.0 + 8.0 * f as f32, 0.9)], at(f, 25), &mut done);
        }
        for f in 25..100u64 {
            update(&mut tr, &[], at(f, 25), &mut done);
        }
        assert_eq!(done.len(), 1);
    }

    #[test]
    fn two_faces_passing_close_in_opposite_directions_keep_their_tracks() {
        for fps in [10, 25] {
            let mut tr = Tracker::new(TrackerConfig::default());
            let mut done = Vec::new();
            let mut ids_at_start = Vec::new();
            for f in 0..(fps * 12 / 5) {
                let s = at(f, fps).as_secs_f32();
                let a = face(50.0 + 375.0 * s, 200.0, 0.9);
                let b = face(950.0 - 375.0 * s, 290.0, 0.9);
                update(&mut tr, &[a, b], at(f, fps), &mut done);
                if f == 1 {
                    ids_at_start = tr.tracks().iter().map(|t| (t.id, t.bbox.y)).collect();
                }
            }
            assert_eq!(tr.tracks().len(), 2, "{fps} fps: no track was lost or created");
            for t in tr.tracks() {
                let start_y = ids_at_start.iter().find(|(id, _)| *id == t.id).expect("same ids").1;
                assert_eq!(start_y, t.bbox.y, "{fps} fps: each track stays on its own person");
            }
        }
    }

    #[test]
    fn a_detection_against_the_tracks_motion_that_looks_different_starts_a_new_track() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut done = Vec::new();
        let walker = look(120, 150, 210);
        for f in 0..10u64 {
            tr.update(&[face(600.0 - 20.0 * f as f32, 300.0, 0.9)], &[walker], at(f, 25), FRAME, &mut done);
        }
        // Next frame the only face is 25 px to the right of the last position,
        // overlapping the predicted box — and it looks nothing like the walker.
        tr.update(&[face(445.0, 300.0, 0.9)], &[look(200, 100, 40)], at(10, 25), FRAME, &mut done);
        assert_eq!(tr.tracks().len(), 2);
        assert!(tr.tracks()[0].detection.is_none(), "the original track missed");
    }

    #[test]
    fn a_person_turning_round_keeps_their_track() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut done = Vec::new();
        let walker = look(120, 150, 210);
        // Down the image and back up, slowing to turn as people do (up to
        // 420 px/s), at 10 fps.
        for f in 0..30u64 {
            let s = at(f, 10).as_secs_f32();
            let y = 100.0 + 400.0 * (1.0 - (std::f32::consts::PI * s / 1.5).cos()) / 2.0;
            tr.update(&[face(400.0, y, 0.9)], &[walker], at(f, 10), FRAME, &mut done);
        }
        assert!(done.is_empty());
        assert_eq!(tr.tracks().len(), 1);
        assert_eq!(tr.tracks()[0].hits, 30);
    }

    #[test]
    fn a_face_that_reverses_at_full_speed_in_one_frame_is_someone_else() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut done = Vec::new();
        // Down at 250 px/s, then the only face is back where the track was a
        // frame earlier: the walker went on out of sight, someone else is there.
        for f in 0..15u64 {
            update(&mut tr, &[face(400.0, 100.0 + 25.0 * f as f32, 0.9)], at(f, 10), &mut done);
        }
        update(&mut tr, &[face(400.0, 100.0 + 25.0 * 13.0, 0.9)], at(15, 10), &mut done);
        assert_eq!(tr.tracks().len(), 2);
        assert!(tr.tracks()[0].detection.is_none());
    }

    #[test]
    fn a_lost_track_is_refound_only_by_a_face_that_looks_like_it() {
        let (a, b) = (look(120, 150, 210), look(30, 30, 30));
        for (reappears, same) in [(a, true), (b, false)] {
            let mut tr = Tracker::new(TrackerConfig::default());
            let mut done = Vec::new();
            for f in 0..10u64 {
                tr.update(&[face(100.0 + 10.0 * f as f32, 300.0, 0.9)], &[a], at(f, 25), FRAME, &mut done);
            }
            // Hidden for 0.6 s, then a face where the track was heading.
            let f = 25;
            tr.update(&[face(100.0 + 10.0 * f as f32, 300.0, 0.9)], &[reappears], at(f, 25), FRAME, &mut done);
            let refound = tr.tracks().iter().any(|t| t.id == TrackId(1) && t.detection.is_some());
            assert_eq!(refound, same);
        }
    }

    #[test]
    fn a_flicker_starts_a_track_that_ends_as_soon_as_it_is_lost() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut done = Vec::new();
        update(&mut tr, &[face(100.0, 100.0, 0.5)], at(0, 25), &mut done);
        update(&mut tr, &[face(104.0, 100.0, 0.5)], at(1, 25), &mut done);
        assert_eq!(tr.tracks().len(), 1, "weak detections start a track");
        for f in 2..7 {
            update(&mut tr, &[], at(f, 25), &mut done);
        }
        assert_eq!(done.len(), 1, "unconfirmed and lost for more than {LOST_AFTER_S} s: ended");
        assert_eq!(done[0].hits, 2);
    }

    #[test]
    fn a_lost_track_takes_back_its_face_from_a_track_begun_on_its_edge() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut done = Vec::new();
        // 250 px/s for 0.4 s, then hidden; a half face shows at the post's edge...
        for f in 0..10u64 {
            update(&mut tr, &[face(100.0 + 10.0 * f as f32, 300.0, 0.9)], at(f, 25), &mut done);
        }
        let half =
            Detection { bbox: Rect { x: 255.0, y: 320.0, w: 40.0, h: 60.0 }, landmarks: [[0.0; 2]; 5], score: 0.62 };
        update(&mut tr, &[half], at(15, 25), &mut done);
        assert_eq!(tr.tracks().len(), 2, "too small to be the lost face: a tentative track on the edge");
        // ...and next frame the whole face, where the lost track predicts it.
        update(&mut tr, &[face(250.0, 300.0, 0.9)], at(16, 25), &mut done);
        let first = tr.tracks().iter().find(|t| t.id == TrackId(1)).expect("the first track lives");
        assert!(first.detection.is_some(), "the lost track took its face back");
    }

    #[test]
    fn a_detection_lying_on_a_track_just_seen_starts_no_track() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut done = Vec::new();
        for f in 0..10u64 {
            update(&mut tr, &[face(100.0 + 20.0 * f as f32, 300.0, 0.9)], at(f, 25), &mut done);
        }
        // 4 px behind the last sighting at 500 px/s: the track refuses it, but
        // it lies on the track's predicted box — that face, not a new person.
        update(&mut tr, &[face(276.0, 300.0, 0.9)], at(10, 25), &mut done);
        assert_eq!(tr.tracks().len(), 1);
        assert!(tr.tracks()[0].detection.is_none());
    }

    #[test]
    fn a_face_that_walked_out_of_view_does_not_hand_its_track_to_the_next() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut done = Vec::new();
        // Walks left out of the frame...
        for f in 0..12u64 {
            update(&mut tr, &[face(200.0 - 30.0 * f as f32, 300.0, 0.9)], at(f, 25), &mut done);
        }
        for f in 12..16u64 {
            update(&mut tr, &[], at(f, 25), &mut done);
        }
        // ...and someone else appears at the same edge.
        update(&mut tr, &[face(-30.0, 300.0, 0.9)], at(16, 25), &mut done);
        assert_eq!(done.len(), 1, "the first track ended");
        assert_eq!(tr.tracks().len(), 1);
        assert_ne!(tr.tracks()[0].id, done[0].id);
    }

    #[test]
    fn a_track_ends_after_max_lost_whatever_the_frame_rate() {
        for fps in [10, 30] {
            let mut tr = Tracker::new(TrackerConfig { max_lost_ms: 500, ..Default::default() });
            let mut done = Vec::new();
            // Walking at 300 px/s (someone standing still is given longer).
            for f in 0..3 {
                update(&mut tr, &[face(200.0 + 300.0 * at(f, fps).as_secs_f32(), 200.0, 0.9)], at(f, fps), &mut done);
            }
            let seen = at(2, fps).as_secs_f32();
            let mut ended_at = None;
            for f in 3..2 * fps {
                update(&mut tr, &[], at(f, fps), &mut done);
                if ended_at.is_none() && !done.is_empty() {
                    ended_at = Some(at(f, fps).as_secs_f32());
                }
            }
            let t = ended_at.expect("ended") - seen;
            assert!((0.5..=0.6).contains(&t), "{fps} fps: ended {t} s after it was last seen");
        }
    }

    #[test]
    fn lost_means_one_and_a_half_frames_at_the_camera_s_rate_whatever_the_bursts() {
        let mut tr = Tracker::new(TrackerConfig::default());
        let mut done = Vec::new();
        // 5 fps, with one burst (two frames 5 ms apart) and one 3 s stall.
        let mut t = 0u64;
        for step in [200, 200, 5, 195, 200, 3000, 200, 200, 200, 200] {
            t += step;
            update(&mut tr, &[], Duration::from_millis(t), &mut done);
        }
        assert!((tr.lost_after() - 0.3).abs() < 1e-6, "{}", tr.lost_after());
        let mut tr = Tracker::new(TrackerConfig::default());
        for f in 0..10 {
            update(&mut tr, &[], at(f, 30), &mut done);
        }
        assert!((tr.lost_after() - LOST_AFTER_S).abs() < 1e-6, "at 30 fps the floor: {}", tr.lost_after());
    }

    #[test]
    fn frames_in_an_old_configuration_are_refused_with_the_replacement() {
        let old: TrackerConfig = toml::from_str("max_misses = 12").expect("parses");
        let e = old.validate().expect_err("frames");
        assert!(e.to_string().contains("max_lost_ms"), "{e}");
        assert!(TrackerConfig::default().validate().is_ok());
    }
}
