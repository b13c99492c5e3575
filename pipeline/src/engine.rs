//! One camera's recognition engine: frames in, passages out.
//!
//! Per frame: detect faces on the (downscaled) frame → describe each head's
//! appearance → update tracks → for tracks due an embedding, refine landmarks
//! at full resolution, score quality and embed the good faces → watch each
//! track for confident line crossings → emit each crossing as a passage with
//! the track's identity (decided from its best faces) a moment after it, or
//! when the track ends. Every crossing is a passage, whether or not a face
//! was ever good enough to name: counting does not wait for recognition.
//!
//! The engine runs on its caller's thread; concurrency lives around it:
//! decoding in GStreamer's threads behind a bounded frame queue (see
//! [`crate::replay`]), and the recogniser on its own thread behind a bounded
//! crop queue ([`crate::embed_worker`]), so that embedding one face does not
//! hold up the next frames' detection. A track's identity is decided only
//! once all of its faces are embedded. Buffers are reused between frames.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::appearance::{Appearance, Describer};
use crate::detect::{DetectError, Detection, Detector, DetectorConfig};
use crate::embed::Embedder;
use crate::embed_worker::{EmbedWorker, Embedded};
use crate::encode::{EncodeError, EncoderConfig, FaceEncoder, copy_region};
use crate::frame::BgrImage;
use crate::gallery::{Gallery, SharedGallery};
use crate::identity::{self, FaceSamples, Identity, IdentityConfig};
use crate::line::CountingLine;
use crate::models::Models;
use crate::passage::{Crossing, CrossingDetector, Passage, PassageConfig, TurnDetector};
use crate::runtime::Threads;
use crate::stats::StageTimings;
use crate::track::{Track, TrackId, Tracker, TrackerConfig, TrackerConfigError};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("tracker: {0}")]
    Tracker(#[from] TrackerConfigError),
    #[error("identity: {0}")]
    Identity(String),
}

/// Every tunable of recognition, with defaults that work for the fixtures.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    pub detector: DetectorConfig,
    pub tracker: TrackerConfig,
    pub encoder: EncoderConfig,
    pub identity: IdentityConfig,
    pub passage: PassageConfig,
}

impl EngineConfig {
    /// Checks every part; the message names the part and what is wrong.
    pub fn validate(&self) -> Result<(), EngineError> {
        self.detector.validate()?;
        self.tracker.validate()?;
        self.identity.validate().map_err(EngineError::Identity)?;
        Ok(())
    }
}

/// What the engine knows about the camera it watches.
#[derive(Debug, Clone)]
pub struct CameraContext {
    pub id: String,
    pub line: CountingLine,
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

/// How far (normalised, across the line) a track must come back from the
/// furthest it went to have turned (see [`TurnDetector`]).
const TURN: f32 = 0.05;

/// What the engine keeps per track.
#[derive(Default)]
struct TrackState {
    crossing: CrossingDetector,
    turns: TurnDetector,
    /// The track's stretches between turns, the current one last (never empty
    /// once the track has been seen).
    legs: Vec<Leg>,
    /// Confirmed crossings not yet emitted, oldest first, with their leg.
    pending: Vec<(Crossing, usize)>,
    crossings: u32,
}

/// One stretch of a track between turns, and the faces seen in it.
#[derive(Default)]
struct Leg {
    samples: FaceSamples,
    /// Qualities of this leg's faces still with the recogniser.
    in_flight: Vec<f32>,
    embeds: u32,
    last_attempt: Option<Duration>,
    /// A passage of this leg is out.
    emitted: bool,
    best_quality: f32,
    best_face: BgrImage,
}

impl TrackState {
    fn leg(&mut self) -> (usize, &mut Leg) {
        if self.legs.is_empty() {
            self.legs.push(Leg::default());
        }
        let k = self.legs.len() - 1;
        (k, &mut self.legs[k])
    }

    /// Once a leg's passage is out and nothing of it is pending, who walked it
    /// is settled: embedding it further would only spend the CPU the next
    /// person needs. (A turn starts a new leg, and new faces are wanted.)
    fn settled(&self, k: usize) -> bool {
        self.legs.get(k).is_some_and(|l| l.emitted) && !self.pending.iter().any(|(_, leg)| *leg == k)
    }
}

/// The crossings of the last few seconds, to refuse a second one by the same
/// face: one person cannot cross twice at the same place in the same moment,
/// so two tracks that did (one face followed twice, say while a smeared
/// frame shifted its box) count once.
#[derive(Default)]
struct RecentCrossings(Vec<(TrackId, Crossing)>);

impl RecentCrossings {
    /// How close in time and along the line two crossings are the same one.
    const SAME_TIME: Duration = Duration::from_millis(300);
    const SAME_PLACE: f32 = 0.03;
    const KEEP: Duration = Duration::from_secs(2);

    fn is_duplicate(&self, track: TrackId, c: &Crossing) -> bool {
        self.0.iter().any(|(t, o)| {
            *t != track
                && o.direction == c.direction
                && o.at.abs_diff(c.at) <= Self::SAME_TIME
                && (o.pos - c.pos).abs() <= Self::SAME_PLACE
        })
    }

    fn record(&mut self, track: TrackId, c: Crossing) {
        self.0.retain(|(_, o)| c.at.saturating_sub(o.at) <= Self::KEEP);
        self.0.push((track, c));
    }
}

/// From a detected face to an embedding: alignment and quality inline, the
/// recogniser on its worker thread.
struct Recognition {
    encoder: FaceEncoder,
    worker: EmbedWorker,
    embedded: Vec<Embedded>,
}

/// How long [`Engine::settle`] waits for the recogniser.
#[derive(Clone, Copy)]
enum Settle {
    /// Only what is finished.
    Ready,
    /// Until this track's faces are all embedded.
    Track(TrackId),
    /// Until every face is.
    All,
}

pub struct Engine {
    camera: CameraContext,
    config: EngineConfig,
    detector: Detector,
    describer: Describer,
    recognition: Recognition,
    tracker: Tracker,
    gallery: SharedGallery,
    states: HashMap<TrackId, TrackState>,
    detections: Vec<Detection>,
    looks: Vec<Appearance>,
    recent: RecentCrossings,
    finished: Vec<Track>,
    /// Per-stage latencies of every processed frame.
    pub timings: StageTimings,
}

impl Engine {
    pub fn new(
        models: &Models,
        camera: CameraContext,
        config: EngineConfig,
        gallery: SharedGallery,
        threads: Threads,
    ) -> Result<Engine, EngineError> {
        config.validate()?;
        Ok(Engine {
            detector: Detector::new(&models.detector, config.detector, threads)?,
            describer: Describer::default(),
            recognition: Recognition {
                encoder: FaceEncoder::new(models, config.encoder, threads)?,
                worker: EmbedWorker::new(Embedder::new(&models.recogniser, threads).map_err(EncodeError::from)?)
                    .map_err(EncodeError::from)?,
                embedded: Vec::new(),
            },
            tracker: Tracker::new(config.tracker),
            camera,
            config,
            gallery,
            states: HashMap::new(),
            detections: Vec::new(),
            looks: Vec::new(),
            recent: RecentCrossings::default(),
            finished: Vec::new(),
            timings: StageTimings::default(),
        })
    }

    pub fn camera(&self) -> &CameraContext {
        &self.camera
    }

    fn gallery(&self) -> Arc<Gallery> {
        match self.gallery.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Tracks currently followed.
    pub fn live_tracks(&self) -> Vec<LiveTrack> {
        self.tracker
            .tracks()
            .iter()
            .map(|t| LiveTrack {
                id: t.id,
                first_seen: t.first_seen,
                last_seen: t.last_seen,
                crossed: self.states.get(&t.id).is_some_and(|s| s.crossings > 0),
            })
            .collect()
    }

    /// Processes one frame at stream time `ts`; passages that became due are appended to `out`.
    pub fn process(&mut self, frame: &BgrImage, ts: Duration, out: &mut Vec<Passage>) -> Result<(), EngineError> {
        self.settle(Settle::Ready)?;
        let t0 = Instant::now();
        self.detector.detect_into(frame, &mut self.detections)?;
        let t1 = Instant::now();
        self.looks.clear();
        for d in &self.detections {
            self.looks.push(self.describer.describe(frame, &d.bbox));
        }
        let (w, h) = (frame.width() as f32, frame.height() as f32);
        self.tracker.update(&self.detections, &self.looks, ts, (w, h), &mut self.finished);
        let t2 = Instant::now();
        self.timings.detect.push(ms(t1 - t0));
        self.timings.track.push(ms(t2 - t1));

        let gallery = self.gallery();
        let emit_delay = Duration::from_millis(self.config.passage.emit_delay_ms);
        for ti in 0..self.tracker.tracks().len() {
            let track = &self.tracker.tracks()[ti];
            let id = track.id;
            tracing::trace!(
                t = ts.as_secs_f32(),
                track = id.0,
                x = track.bbox.center()[0],
                y = track.bbox.center()[1],
                h = track.bbox.h,
                score = track.detection.map(|d| d.score),
                "track"
            );
            let state = self.states.entry(id).or_default();
            if let Some(det) = track.detection {
                let [cx, cy] = det.bbox.center();
                let p = [cx / w, cy / h];
                let min_travel = self.config.passage.min_travel;
                if state.turns.observe(self.camera.line.inwardness(p), TURN) {
                    state.legs.push(Leg::default());
                }
                if let Some(crossing) = state.crossing.observe(&self.camera.line, p, ts, min_travel) {
                    if self.recent.is_duplicate(id, &crossing) {
                        tracing::debug!(camera = %self.camera.id, track = id.0, "a second track crossed with the same face");
                    } else {
                        self.recent.record(id, crossing);
                        let (k, _) = state.leg();
                        state.pending.push((crossing, k));
                        state.crossings += 1;
                    }
                }
                Self::maybe_embed(
                    &mut self.recognition,
                    &self.config,
                    state,
                    (id, &det),
                    frame,
                    ts,
                    &mut self.timings,
                )?;
            }
            // Emission after the delay, once the track's faces are all embedded.
            let due =
                |state: &TrackState| state.pending.first().is_some_and(|(c, _)| ts.saturating_sub(c.at) >= emit_delay);
            if due(state) {
                self.settle(Settle::Track(id))?;
                let track = &self.tracker.tracks()[ti];
                if let Some(state) = self.states.get_mut(&id) {
                    while due(state) {
                        let (crossing, leg) = state.pending.remove(0);
                        Self::emit(
                            &self.camera,
                            &self.config,
                            &gallery,
                            track,
                            state,
                            (crossing, leg),
                            &mut self.timings,
                            out,
                        );
                    }
                }
            }
        }
        let finished = std::mem::take(&mut self.finished);
        self.finish_tracks(finished, &gallery, out)?;
        Ok(())
    }

    /// Takes in the recogniser's finished embeddings (waiting as `wait` says)
    /// and gives each to its track.
    fn settle(&mut self, wait: Settle) -> Result<(), EngineError> {
        let rec = &mut self.recognition;
        match wait {
            Settle::Ready => rec.worker.collect(&mut rec.embedded),
            Settle::Track(id) => rec.worker.wait(Some(id), &mut rec.embedded),
            Settle::All => rec.worker.wait(None, &mut rec.embedded),
        }
        let max = self.config.identity.max_samples;
        let mut failed = None;
        for e in rec.embedded.drain(..) {
            self.timings.embed.push(e.ms);
            let Some(leg) = self.states.get_mut(&e.track).and_then(|s| s.legs.get_mut(e.leg as usize)) else {
                continue;
            };
            if let Some(i) = leg.in_flight.iter().position(|q| *q == e.quality) {
                leg.in_flight.swap_remove(i);
            }
            match e.embedding {
                Ok(embedding) => leg.samples.offer(e.quality, embedding, max),
                Err(err) => failed = Some(err),
            }
        }
        match failed {
            Some(err) => Err(EngineError::Encode(EncodeError::Embed(err))),
            None => Ok(()),
        }
    }

    /// End of stream: every live track ends now.
    pub fn flush(&mut self, out: &mut Vec<Passage>) {
        if let Err(e) = self.settle(Settle::All) {
            tracing::error!(camera = %self.camera.id, error = %e, "a face could not be embedded");
        }
        let gallery = self.gallery();
        let mut finished = Vec::new();
        self.tracker.finish_all(&mut finished);
        if let Err(e) = self.finish_tracks(finished, &gallery, out) {
            tracing::error!(camera = %self.camera.id, error = %e, "a face could not be embedded");
        }
    }

    /// Tracks that ended: emit what is pending, forget the rest. The vector's
    /// allocation goes back to `self.finished` for the next frame.
    fn finish_tracks(
        &mut self,
        mut finished: Vec<Track>,
        gallery: &Gallery,
        out: &mut Vec<Passage>,
    ) -> Result<(), EngineError> {
        for track in finished.drain(..) {
            if self.states.get(&track.id).is_some_and(|s| !s.pending.is_empty()) {
                self.settle(Settle::Track(track.id))?;
            }
            if let Some(mut state) = self.states.remove(&track.id) {
                for pending in std::mem::take(&mut state.pending) {
                    Self::emit(
                        &self.camera,
                        &self.config,
                        gallery,
                        &track,
                        &mut state,
                        pending,
                        &mut self.timings,
                        out,
                    );
                }
            }
        }
        if self.finished.capacity() < finished.capacity() {
            self.finished = finished;
        }
        Ok(())
    }

    fn maybe_embed(
        rec: &mut Recognition,
        config: &EngineConfig,
        state: &mut TrackState,
        (id, det): (TrackId, &Detection),
        frame: &BgrImage,
        ts: Duration,
        timings: &mut StageTimings,
    ) -> Result<(), EngineError> {
        let id_cfg = &config.identity;
        let (k, _) = state.leg();
        let settled = state.settled(k);
        let leg = &mut state.legs[k];
        let due = leg.last_attempt.is_none_or(|t| ts >= t + Duration::from_millis(id_cfg.embed_every_ms));
        if !due
            || settled
            || leg.embeds >= id_cfg.max_embeds_per_track
            || det.bbox.h < config.encoder.quality.min_face_px
            || cut_by_the_edge(&det.bbox, frame)
        {
            return Ok(());
        }
        leg.last_attempt = Some(ts);
        let detector_px = det.bbox.h * config.detector.input_size as f32 / frame.width().max(frame.height()) as f32;
        let started = Instant::now();
        let assessed = rec.encoder.assess(frame, det, detector_px)?;
        timings.align.push(ms(started.elapsed()));
        let Some(face) = assessed else { return Ok(()) };
        let q = face.quality;
        if !q.acceptable(&config.encoder.quality)
            || !leg.samples.wants_counting(&leg.in_flight, q.score, id_cfg.max_samples)
        {
            return Ok(());
        }
        rec.worker.submit((id, k as u32), q.score, rec.encoder.last_aligned()?).map_err(EncodeError::from)?;
        leg.in_flight.push(q.score);
        leg.embeds += 1;
        if q.score > leg.best_quality {
            leg.best_quality = q.score;
            copy_region(frame, &face.detection.bbox, 1.5, &mut leg.best_face);
        }
        Ok(())
    }

    /// Emits one crossing of `track` as a passage — unless the track is too
    /// short-lived to be a person (`min_hits`): a flicker of detections. Who
    /// crossed is decided from the faces of the crossing's leg and of the legs
    /// that agree with it ([`identity::leg_evidence`]).
    #[allow(clippy::too_many_arguments)]
    fn emit(
        camera: &CameraContext,
        config: &EngineConfig,
        gallery: &Gallery,
        track: &Track,
        state: &mut TrackState,
        (crossing, k): (Crossing, usize),
        timings: &mut StageTimings,
        out: &mut Vec<Passage>,
    ) {
        if track.hits < config.passage.min_hits {
            tracing::debug!(camera = %camera.id, track = track.id.0, hits = track.hits, "crossing of a flicker dropped");
            return;
        }
        let samples = identity::leg_evidence(&state.legs.iter().map(|l| l.samples.clone()).collect::<Vec<_>>(), k);
        let started = Instant::now();
        let identity: Identity = identity::decide(&samples, gallery, &config.identity);
        timings.matching.push(ms(started.elapsed()));
        // The thumbnail: this leg's best face, else the best of any leg.
        let face = state
            .legs
            .get(k)
            .filter(|l| l.best_quality > 0.0)
            .or_else(|| state.legs.iter().max_by(|a, b| a.best_quality.total_cmp(&b.best_quality)))
            .filter(|l| l.best_quality > 0.0);
        let face_jpeg = face.and_then(|l| thumbnail_jpeg(&l.best_face));
        let face_quality = face.map_or(0.0, |l| l.best_quality);
        if let Some(leg) = state.legs.get_mut(k) {
            leg.emitted = true;
        }
        tracing::debug!(
            camera = %camera.id,
            track = track.id.0,
            leg = k,
            direction = crossing.direction.as_str(),
            first = track.first_seen.as_secs_f32(),
            last = track.last_seen.as_secs_f32(),
            crossed = crossing.at.as_secs_f32(),
            person = identity.person_id().unwrap_or("unknown"),
            "passage"
        );
        out.push(Passage {
            id: uuid::Uuid::new_v4().to_string(),
            camera: camera.id.clone(),
            track: track.id.0,
            direction: crossing.direction,
            identity,
            cross_pos: crossing.pos,
            first_seen: track.first_seen,
            last_seen: track.last_seen,
            crossed_at: crossing.at,
            face_jpeg,
            face_quality,
            samples: samples.len(),
            probe: samples.mean(),
        });
    }
}

/// Is this face box cut by the frame's edge? Such a face is half a face: its
/// embedding names no one reliably, and where people walk out of view as
/// others walk in it may be the one leaving.
fn cut_by_the_edge(face: &crate::detect::Rect, frame: &BgrImage) -> bool {
    face.x < 0.0 || face.y < 0.0 || face.x + face.w > frame.width() as f32 || face.y + face.h > frame.height() as f32
}

/// Largest side of the face thumbnail sent with a passage, px.
const THUMBNAIL_SIDE: usize = 192;

fn thumbnail_jpeg(face: &BgrImage) -> Option<Vec<u8>> {
    use opencv::core::{Mat, Size};
    use opencv::imgproc;
    use opencv::prelude::*;
    let src = face.as_mat().ok()?;
    let side = face.width().max(face.height());
    if side <= THUMBNAIL_SIDE {
        return face.to_jpeg(85).ok();
    }
    let s = THUMBNAIL_SIDE as f64 / side as f64;
    let size = Size::new((face.width() as f64 * s).round() as i32, (face.height() as f64 * s).round() as i32);
    let mut dst = Mat::default();
    imgproc::resize(&src, &mut dst, size, 0.0, 0.0, imgproc::INTER_AREA).ok()?;
    let bytes = dst.data_bytes().ok()?.to_vec();
    BgrImage::from_raw(size.width as usize, size.height as usize, bytes)?.to_jpeg(85).ok()
}

fn ms(d: Duration) -> f32 {
    d.as_secs_f32() * 1000.0
}
