//! One camera's recognition engine: frames in, passages out.
//!
//! Per frame: detect faces on the (downscaled) frame → describe each head's
//! appearance → update tracks → for tracks due an embedding, refine landmarks
//! at full resolution, score quality and embed the good faces → watch each
//! track for confident line crossings and turns ([`crate::tracking::journey`]) → emit
//! each crossing as a passage a moment after it (or when the track ends),
//! named from the best faces of the leg it was made on. Every crossing is a
//! passage whether or not a face was ever good enough to name — counting does
//! not wait for recognition — except a flicker's (a track of fewer than
//! `min_hits` sightings) and a second one by the same face at the same moment
//! and place (one face followed twice).
//!
//! The engine runs on its caller's thread; concurrency lives around it:
//! decoding in GStreamer's threads behind a bounded frame queue (see
//! [`crate::eval::replay`]), and the recogniser on its own thread behind a bounded
//! crop queue ([`crate::vision::embed_worker`]), so that embedding one face does not
//! hold up the next frames' detection. A track's identity is decided only
//! once all of its faces are embedded. Buffers are reused between frames.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::eval::stats::StageTimings;
use crate::gallery::{Gallery, SharedGallery};
use crate::tracking::appearance::{Appearance, Describer};
use crate::tracking::identity::{self, Identity, IdentityConfig};
use crate::tracking::journey::{Due, Journey, Promise};
use crate::tracking::line::CountingLine;
use crate::tracking::passage::{Crossing, Emitted, Passage, PassageConfig, PassageConfigError, Sighting};
use crate::tracking::track::{LiveTrack, Track, TrackId, Tracker, TrackerConfig, TrackerConfigError};
use crate::vision::detect::{DetectError, Detection, Detector, DetectorConfig};
use crate::vision::embed::Embedder;
use crate::vision::embed_worker::{EmbedWorker, Embedded};
use crate::vision::encode::{EncodeError, EncoderConfig, FaceEncoder, copy_region};
use crate::vision::frame::BgrImage;
use crate::vision::models::{Models, Sessions};
use crate::vision::motion::{MotionConfig, MotionConfigError, MotionGate, Verdict};
use crate::vision::runtime::Threads;

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
    #[error("passage: {0}")]
    Passage(#[from] PassageConfigError),
    #[error(transparent)]
    Motion(#[from] MotionConfigError),
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
    pub motion: MotionConfig,
}

impl EngineConfig {
    /// Checks every part; the message names the part and what is wrong.
    pub fn validate(&self) -> Result<(), EngineError> {
        self.detector.validate()?;
        self.tracker.validate()?;
        self.identity.validate().map_err(EngineError::Identity)?;
        self.passage.validate()?;
        self.motion.validate()?;
        Ok(())
    }
}

/// What the engine knows about the camera it watches.
#[derive(Debug, Clone)]
pub struct CameraContext {
    pub id: String,
    pub line: CountingLine,
}

/// The passages of the last few seconds, to refuse a second one by the same
/// face: one person cannot cross twice at the same place in the same moment,
/// so two tracks that did (one face followed twice, say while a smeared
/// frame shifted its box) count once. Checked when a passage is emitted, the
/// better-established track first.
#[derive(Default)]
struct RecentCrossings(Vec<(TrackId, Crossing)>);

impl RecentCrossings {
    /// How close in time and along the line two crossings are the same one.
    const SAME_TIME: Duration = Duration::from_millis(300);
    const SAME_PLACE: f32 = 0.03;
    const KEEP: Duration = Duration::from_secs(3);

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

/// A track the engine emits for: one it follows, or one that has ended.
#[derive(Debug, Clone, Copy)]
enum Who {
    Live(usize),
    Ended(usize),
}

/// Stream time that never runs backwards. A camera whose clock steps back (a
/// reconnection, a damaged or spliced recording) would otherwise freeze the
/// tracker's patience and every passage's delay until it caught up: time
/// goes on from where it was, a frame later.
#[derive(Default)]
struct StreamClock {
    offset: Duration,
    last: Option<Duration>,
}

impl StreamClock {
    const STEP: Duration = Duration::from_millis(1);

    fn tick(&mut self, ts: Duration) -> Duration {
        let mut t = ts + self.offset;
        if let Some(last) = self.last
            && t <= last
        {
            self.offset += last - t + Self::STEP;
            t = last + Self::STEP;
        }
        self.last = Some(t);
        t
    }
}

/// From a detected face to an embedding: alignment and quality inline, the
/// recogniser on its worker thread.
struct Recognition {
    encoder: FaceEncoder,
    worker: EmbedWorker,
    embedded: Vec<Embedded>,
}

/// When the recogniser's answers reach the tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecognitionPace {
    /// As soon as each is finished: live, where stream time is wall time.
    #[default]
    AsFinished,
    /// On the first frame at least a fixed stream time after its face was
    /// seen, waiting for the recogniser if it is later: replay. Replay runs
    /// as fast as it decodes, so stream time outruns wall time, and answers
    /// filed as they finish would land later in the stream the faster the
    /// machine decodes (on a busy one, seconds later): what is decided ahead
    /// of a crossing would depend on the machine. At a fixed latency it is
    /// the same everywhere.
    FixedLatency(Duration),
}

/// The latency replay gives the recogniser: a face (≈25 ms) behind a few
/// queued ones, as a camera's recogniser that keeps up answers live.
pub const REPLAY_RECOGNITION_LATENCY: Duration = Duration::from_millis(100);

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
    pace: RecognitionPace,
    detector: Detector,
    motion: MotionGate,
    describer: Describer,
    recognition: Recognition,
    tracker: Tracker,
    gallery: SharedGallery,
    journeys: HashMap<TrackId, Journey>,
    /// Tracks that ended with crossings still to emit (when they fall due).
    ended: Vec<Track>,
    clock: StreamClock,
    detections: Vec<Detection>,
    looks: Vec<Appearance>,
    recent: RecentCrossings,
    finished: Vec<Track>,
    /// Per-stage latencies of every processed frame.
    pub timings: StageTimings,
}

impl Engine {
    /// An engine with sessions of its own (one camera: replay, tests).
    pub fn new(
        models: &Models,
        camera: CameraContext,
        config: EngineConfig,
        gallery: SharedGallery,
        threads: Threads,
    ) -> Result<Engine, EngineError> {
        let sessions = Sessions::load(models, threads).map_err(DetectError::from)?;
        Engine::with_sessions(&sessions, camera, config, gallery)
    }

    /// An engine taking turns on an agent's shared sessions.
    pub fn with_sessions(
        sessions: &Sessions,
        camera: CameraContext,
        config: EngineConfig,
        gallery: SharedGallery,
    ) -> Result<Engine, EngineError> {
        config.validate()?;
        Ok(Engine {
            detector: Detector::with_session(Arc::clone(&sessions.detector), config.detector)?,
            motion: MotionGate::new(config.motion),
            describer: Describer::default(),
            recognition: Recognition {
                encoder: FaceEncoder::new(sessions, config.encoder)?,
                worker: EmbedWorker::new(Embedder::with_session(Arc::clone(&sessions.recogniser)))
                    .map_err(EncodeError::from)?,
                embedded: Vec::new(),
            },
            tracker: Tracker::new(config.tracker),
            camera,
            config,
            pace: RecognitionPace::default(),
            gallery,
            journeys: HashMap::new(),
            ended: Vec::new(),
            clock: StreamClock::default(),
            detections: Vec::new(),
            looks: Vec::new(),
            recent: RecentCrossings::default(),
            finished: Vec::new(),
            timings: StageTimings::default(),
        })
    }

    /// Sets when the recogniser's answers reach the tracks; returns the pace it replaces.
    pub fn pace_recognition(&mut self, pace: RecognitionPace) -> RecognitionPace {
        std::mem::replace(&mut self.pace, pace)
    }

    pub fn camera(&self) -> &CameraContext {
        &self.camera
    }

    /// Stream time of the last frame processed, as the engine counts it
    /// (a camera clock that stepped back goes on from where it was): what
    /// a [`Sighting`]'s times are in.
    pub fn stream_time(&self) -> Duration {
        self.clock.last.unwrap_or_default()
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
                crossed: self.journeys.get(&t.id).is_some_and(|j| j.crossings > 0),
            })
            .collect()
    }

    /// Processes one frame at stream time `ts`; passages that became due,
    /// and identities decided ahead of a crossing, are appended to `out`.
    pub fn process(&mut self, frame: &BgrImage, ts: Duration, out: &mut Emitted) -> Result<(), EngineError> {
        let ts = self.clock.tick(ts);
        self.settle(Settle::Ready, &mut out.sightings);
        let t0 = Instant::now();
        let tracking = !self.tracker.tracks().is_empty();
        let skipped = self.motion.judge(frame, ts.as_millis() as u64, tracking) == Verdict::Skip;
        if skipped {
            // Nobody followed and nothing moved: no face can have appeared.
            // The frame goes on with no detections (the tracker measures the
            // camera's frame rate from its updates; with no track an empty
            // update costs nothing, and ended tracks' crossings fall due).
            self.timings.skipped += 1;
            self.detections.clear();
        } else {
            self.detector.detect_into(frame, &mut self.detections)?;
        }
        let t1 = Instant::now();
        self.looks.clear();
        for d in &self.detections {
            self.looks.push(self.describer.describe(frame, &d.bbox));
        }
        let (w, h) = (frame.width() as f32, frame.height() as f32);
        self.tracker.update(&self.detections, &self.looks, ts, (w, h), &mut self.finished);
        let t2 = Instant::now();
        if !skipped {
            self.timings.detect.push(ms(t1 - t0));
            self.timings.track.push(ms(t2 - t1));
        }

        let gap = Duration::from_secs_f32(self.tracker.lost_after());
        for ti in 0..self.tracker.tracks().len() {
            let track = &self.tracker.tracks()[ti];
            tracing::trace!(
                t = ts.as_secs_f32(),
                track = track.id.0,
                x = track.bbox.center()[0],
                y = track.bbox.center()[1],
                h = track.bbox.h,
                score = track.detection.map(|d| d.score),
                "track"
            );
            let journey = self.journeys.entry(track.id).or_default();
            let Some(det) = track.detection else { continue };
            let [cx, cy] = det.bbox.center();
            let refound = track.gap > gap;
            journey.observe(&self.camera.line, [cx / w, cy / h], ts, refound, self.config.passage.min_travel);
            let rec = &mut self.recognition;
            let embedding =
                Self::maybe_embed(rec, &self.config, journey, (track.id, &det), frame, ts, &mut self.timings);
            if let Err(e) = embedding {
                // The face goes unnamed; its track and passages go on.
                tracing::error!(camera = %self.camera.id, track = track.id.0, error = %e, "a face could not be prepared for recognition");
            }
        }
        let finished = std::mem::take(&mut self.finished);
        self.park(finished);
        self.emit_due(Some(ts), out);
        Ok(())
    }

    /// Decides the identity of a track ahead of its crossing, once its
    /// current leg holds `decide_early_after` faces (an unknown face only
    /// once the leg's embeddings are spent, more faces might still name it,
    /// and only while it is outside, coming in: a stranger walking out or
    /// past is not one approaching). One per leg, none for a flicker (a
    /// track of fewer than `min_hits` sightings, perhaps a second track on
    /// one face) and none once a passage of the leg is out (it spoke already).
    fn sight_early(&mut self, id: TrackId, gallery: &Gallery, out: &mut Vec<Sighting>) {
        let cfg = &self.config.identity;
        if cfg.decide_early_after == 0 {
            return;
        }
        let hits = self.tracker.tracks().iter().find(|t| t.id == id).map_or(0, |t| t.hits);
        if hits < self.config.passage.min_hits {
            return;
        }
        let Some(journey) = self.journeys.get_mut(&id) else { return };
        // An unknown face is decided early only while coming in: outside,
        // with no crossing waiting to be emitted (one who just walked out
        // is outside too).
        let coming_in = journey.inwardness < 0.0 && !journey.has_pending();
        let Some((k, leg)) = journey.current() else { return };
        let faces = leg.samples.len();
        let spent = leg.embeds >= cfg.max_embeds_per_track && leg.in_flight.is_empty();
        if leg.emitted || faces == 0 || (faces < cfg.decide_early_after && !spent) {
            return;
        }
        if journey.promises.iter().any(|p| p.leg == k) {
            return;
        }
        let Some((_, leg)) = journey.current() else { return };
        let identity = identity::decide(&leg.samples, gallery, cfg);
        if matches!(identity, Identity::Unknown { .. }) && !(spent && coming_in) {
            return;
        }
        let passage_id = uuid::Uuid::new_v4().to_string();
        let sighting = Sighting {
            passage_id: passage_id.clone(),
            camera: self.camera.id.clone(),
            track: id.0,
            first_face_at: leg.samples.first_seen().unwrap_or_default(),
            last_face_at: leg.samples.last_seen().unwrap_or_default(),
            decided_at: self.clock.last.unwrap_or_default(),
            face_jpeg: (leg.best_quality > 0.0).then(|| thumbnail_jpeg(&leg.best_face)).flatten(),
            face_quality: leg.best_quality,
            samples: faces,
            identity,
        };
        let person = sighting.identity.person_id().map(str::to_string);
        tracing::debug!(camera = %self.camera.id, track = id.0, person = person.as_deref().unwrap_or("unknown"),
            faces, "identity decided ahead of the crossing");
        journey.promises.push(Promise { passage_id, person, leg: k });
        out.push(sighting);
    }

    /// Tracks that ended: those with crossings still pending wait in
    /// `ended` for them to fall due; the others are forgotten. The vector's
    /// allocation goes back to `self.finished` for the next frame.
    fn park(&mut self, mut finished: Vec<Track>) {
        for track in finished.drain(..) {
            if self.journeys.get(&track.id).is_some_and(Journey::has_pending) {
                self.ended.push(track);
            } else {
                self.journeys.remove(&track.id);
            }
        }
        if self.finished.capacity() < finished.capacity() {
            self.finished = finished;
        }
    }

    /// Emits the passages due at `now` (all that are pending, with `None`),
    /// of live and ended tracks alike, the best-established track's first:
    /// of two tracks that followed one face, the one followed longer speaks
    /// for it (see [`RecentCrossings`]).
    fn emit_due(&mut self, now: Option<Duration>, out: &mut Emitted) {
        let delay = Duration::from_millis(self.config.passage.emit_delay_ms);
        let is_due = |j: &Journey| match now {
            Some(now) => j.due(now, delay).is_some(),
            None => j.has_pending(),
        };
        let mut due: Vec<(u32, Who)> = Vec::new();
        for (i, t) in self.tracker.tracks().iter().enumerate() {
            if self.journeys.get(&t.id).is_some_and(is_due) {
                due.push((t.hits, Who::Live(i)));
            }
        }
        for (i, t) in self.ended.iter().enumerate() {
            if self.journeys.get(&t.id).is_some_and(is_due) {
                due.push((t.hits, Who::Ended(i)));
            }
        }
        if due.is_empty() {
            return;
        }
        due.sort_by_key(|(hits, _)| std::cmp::Reverse(*hits));
        let gallery = self.gallery();
        for (_, who) in due {
            let Some(id) = self.track(who).map(|t| t.id) else { continue };
            self.settle(Settle::Track(id), &mut out.sightings);
            while self.journeys.get(&id).is_some_and(is_due) {
                self.emit_oldest(who, &gallery, &mut out.passages);
            }
        }
        let journeys = &mut self.journeys;
        self.ended.retain(|t| {
            let pending = journeys.get(&t.id).is_some_and(Journey::has_pending);
            if !pending {
                journeys.remove(&t.id);
            }
            pending
        });
    }

    fn track(&self, who: Who) -> Option<&Track> {
        match who {
            Who::Live(i) => self.tracker.tracks().get(i),
            Who::Ended(i) => self.ended.get(i),
        }
    }

    /// Takes in the recogniser's finished embeddings (waiting as `wait` says)
    /// and files each with its track (which may decide its identity early,
    /// into `sightings`). A face the recogniser failed on is logged and left
    /// out: the passage is counted all the same.
    fn settle(&mut self, wait: Settle, sightings: &mut Vec<Sighting>) {
        // At a fixed latency, answers for faces seen since the cutoff wait
        // in `rec.embedded` for a later frame (unless their track is the one
        // being decided, or the stream ends).
        let cutoff = match self.pace {
            RecognitionPace::AsFinished => None,
            RecognitionPace::FixedLatency(latency) => Some(self.stream_time().saturating_sub(latency)),
        };
        let rec = &mut self.recognition;
        match (wait, cutoff) {
            (Settle::Ready, None) => rec.worker.collect(&mut rec.embedded),
            (Settle::Ready, Some(cutoff)) => rec.worker.wait_seen_by(cutoff, &mut rec.embedded),
            (Settle::Track(id), _) => rec.worker.wait(Some(id), &mut rec.embedded),
            (Settle::All, _) => rec.worker.wait(None, &mut rec.embedded),
        }
        let due = |e: &Embedded| match (wait, cutoff) {
            (Settle::All, _) | (_, None) => true,
            (Settle::Track(id), Some(cutoff)) => e.track == id || e.seen_at <= cutoff,
            (Settle::Ready, Some(cutoff)) => e.seen_at <= cutoff,
        };
        let max = self.config.identity.max_samples;
        let mut filed: Vec<TrackId> = Vec::new();
        for e in rec.embedded.extract_if(.., |e| due(e)) {
            self.timings.embed.push(e.ms);
            let embedding = match e.embedding {
                Ok(embedding) => Some(embedding),
                Err(err) => {
                    tracing::error!(camera = %self.camera.id, track = e.track.0, error = %err, "a face could not be embedded");
                    None
                }
            };
            if let Some(journey) = self.journeys.get_mut(&e.track) {
                journey.embedded(e.seen_at, e.quality, embedding, max);
                if !filed.contains(&e.track) {
                    filed.push(e.track);
                }
            }
        }
        if filed.is_empty() {
            return;
        }
        let gallery = self.gallery();
        for id in filed {
            self.sight_early(id, &gallery, sightings);
        }
    }

    /// End of stream: every track ends now and every pending crossing is emitted.
    pub fn flush(&mut self, out: &mut Emitted) {
        self.settle(Settle::All, &mut out.sightings);
        let mut finished = std::mem::take(&mut self.finished);
        self.tracker.finish_all(&mut finished);
        self.park(finished);
        self.emit_due(None, out);
    }

    fn maybe_embed(
        rec: &mut Recognition,
        config: &EngineConfig,
        journey: &mut Journey,
        (id, det): (TrackId, &Detection),
        frame: &BgrImage,
        ts: Duration,
        timings: &mut StageTimings,
    ) -> Result<(), EngineError> {
        let id_cfg = &config.identity;
        let Some((k, _)) = journey.current() else { return Ok(()) };
        let settled = journey.settled(k);
        // Per leg, and over the whole track twice that: someone swaying on the
        // line makes legs, not an unbounded number of embeddings.
        let spent = journey.embeds >= id_cfg.max_embeds_per_track.saturating_mul(2);
        let Some((_, leg)) = journey.current() else { return Ok(()) };
        let due = leg.last_attempt.is_none_or(|t| ts >= t + Duration::from_millis(id_cfg.embed_every_ms));
        if !due
            || settled
            || spent
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
            || !leg.samples.wants_counting(leg.in_flight.iter().map(|(q, _)| *q), q.score, id_cfg.max_samples)
        {
            return Ok(());
        }
        rec.worker.submit((id, ts), q.score, rec.encoder.last_aligned()?).map_err(EncodeError::from)?;
        leg.in_flight.push((q.score, ts));
        leg.embeds += 1;
        if q.score > leg.best_quality {
            leg.best_quality = q.score;
            leg.best_seen_at = ts;
            copy_region(frame, &face.detection.bbox, 1.5, &mut leg.best_face);
        }
        journey.embeds += 1;
        Ok(())
    }

    /// Emits the oldest pending crossing of a track (live or ended) as a passage, unless the track is too short-lived to
    /// be a person (`min_hits`: a flicker of detections) or another track has
    /// just emitted the same crossing (see [`RecentCrossings`]). Who crossed
    /// is decided from the faces of the crossing's leg and of the legs that
    /// agree with it ([`identity::leg_evidence`]).
    fn emit_oldest(&mut self, who: Who, gallery: &Gallery, out: &mut Vec<Passage>) {
        let track = match who {
            Who::Live(i) => self.tracker.tracks().get(i),
            Who::Ended(i) => self.ended.get(i),
        };
        let Some(track) = track else { return };
        let Some(journey) = self.journeys.get_mut(&track.id) else { return };
        let Some(Due { crossing, leg, faces: samples, best_face: face }) = journey.take_oldest() else { return };
        if track.hits < self.config.passage.min_hits {
            tracing::debug!(camera = %self.camera.id, track = track.id.0, hits = track.hits, "crossing of a flicker dropped");
            return;
        }
        if self.recent.is_duplicate(track.id, &crossing) {
            tracing::debug!(camera = %self.camera.id, track = track.id.0, "a second track crossed with the same face");
            return;
        }
        self.recent.record(track.id, crossing);
        let started = Instant::now();
        let identity: Identity = identity::decide(&samples, gallery, &self.config.identity);
        self.timings.matching.push(ms(started.elapsed()));
        let face_jpeg = face.and_then(|(_, img)| thumbnail_jpeg(img));
        let face_quality = face.map_or(0.0, |(q, _)| q);
        // The passage an early sighting announced keeps its id, if it is
        // the same person (or, for an unknown, still unknown on that leg).
        let promised = journey.take_promise(identity.person_id(), leg);
        let sighted_early = promised.is_some();
        let id = promised.map_or_else(|| uuid::Uuid::new_v4().to_string(), |p| p.passage_id);
        tracing::debug!(
            camera = %self.camera.id,
            track = track.id.0,
            direction = crossing.direction.as_str(),
            first = track.first_seen.as_secs_f32(),
            last = track.last_seen.as_secs_f32(),
            crossed = crossing.at.as_secs_f32(),
            person = identity.person_id().unwrap_or("unknown"),
            "passage"
        );
        out.push(Passage {
            id,
            camera: self.camera.id.clone(),
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
            sighted_early,
        });
    }
}

/// Is this face box cut by the frame's edge? Such a face is half a face: its
/// embedding names no one reliably, and where people walk out of view as
/// others walk in it may be the one leaving.
fn cut_by_the_edge(face: &crate::vision::detect::Rect, frame: &BgrImage) -> bool {
    face.x < 0.0 || face.y < 0.0 || face.x + face.w > frame.width() as f32 || face.y + face.h > frame.height() as f32
}

/// Largest side of the face thumbnail sent with a passage, px.
const THUMBNAIL_SIDE: usize = 192;

/// The passage's face thumbnail; a face that cannot be encoded is logged, and
/// the passage goes without a crop rather than not at all.
fn thumbnail_jpeg(face: &BgrImage) -> Option<Vec<u8>> {
    match encode_thumbnail(face) {
        Ok(jpeg) => Some(jpeg),
        Err(reason) => {
            tracing::warn!(%reason, width = face.width(), height = face.height(), "face thumbnail not encoded; the event goes without a crop");
            None
        }
    }
}

fn encode_thumbnail(face: &BgrImage) -> Result<Vec<u8>, String> {
    use opencv::core::{Mat, Size};
    use opencv::imgproc;
    use opencv::prelude::*;
    let src = face.as_mat().map_err(|e| e.to_string())?;
    let side = face.width().max(face.height());
    if side <= THUMBNAIL_SIDE {
        return face.to_jpeg(85).map_err(|e| e.to_string());
    }
    let s = THUMBNAIL_SIDE as f64 / side as f64;
    let size = Size::new((face.width() as f64 * s).round() as i32, (face.height() as f64 * s).round() as i32);
    let mut dst = Mat::default();
    imgproc::resize(&src, &mut dst, size, 0.0, 0.0, imgproc::INTER_AREA).map_err(|e| format!("resize: {e}"))?;
    let bytes = dst.data_bytes().map_err(|e| format!("resized face: {e}"))?.to_vec();
    BgrImage::from_raw(size.width as usize, size.height as usize, bytes)
        .ok_or_else(|| "resized face has an unexpected size".to_string())?
        .to_jpeg(85)
        .map_err(|e| e.to_string())
}

fn ms(d: Duration) -> f32 {
    d.as_secs_f32() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thumbnail_is_a_jpeg_no_larger_than_its_side_and_an_empty_face_says_why() {
        let big = BgrImage::new(400, 300);
        let jpeg = encode_thumbnail(&big).expect("a 400x300 face encodes");
        let decoded = image::load_from_memory(&jpeg).expect("a JPEG");
        assert_eq!((decoded.width(), decoded.height()), (192, 144));
        let small = encode_thumbnail(&BgrImage::new(100, 80)).expect("a small face encodes");
        assert_eq!(image::load_from_memory(&small).map(|i| (i.width(), i.height())).ok(), Some((100, 80)));
        assert!(encode_thumbnail(&BgrImage::new(0, 0)).is_err_and(|reason| !reason.is_empty()));
        assert_eq!(thumbnail_jpeg(&BgrImage::new(0, 0)), None);
    }

    #[test]
    fn stream_time_goes_on_when_a_camera_clock_steps_back() {
        let mut c = StreamClock::default();
        let ms = Duration::from_millis;
        assert_eq!(c.tick(ms(1000)), ms(1000));
        assert_eq!(c.tick(ms(1040)), ms(1040));
        // The camera restarts its clock at zero: time goes on a step later...
        assert_eq!(c.tick(ms(0)), ms(1041));
        // ...and then at the camera's own pace.
        assert_eq!(c.tick(ms(40)), ms(1081));
        assert_eq!(c.tick(ms(40)), ms(1082), "a repeated stamp still moves on");
    }

    #[test]
    fn the_same_face_crossing_twice_at_once_is_one_crossing() {
        let mut r = RecentCrossings::default();
        let c = |at: u64, pos: f32| Crossing { direction: wire::Direction::Entry, at: Duration::from_millis(at), pos };
        r.record(TrackId(1), c(1000, 0.40));
        assert!(r.is_duplicate(TrackId(2), &c(1100, 0.41)), "another track, same moment and place");
        assert!(!r.is_duplicate(TrackId(2), &c(1100, 0.50)), "side by side is two people");
        assert!(!r.is_duplicate(TrackId(2), &c(1600, 0.40)), "one close behind the other is two people");
        assert!(!r.is_duplicate(TrackId(1), &c(1100, 0.40)), "a track's own second crossing is its own");
    }
}
