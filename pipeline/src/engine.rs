//! One camera's recognition engine: frames in, passages out.
//!
//! Per frame: detect faces on the (downscaled) frame → update tracks → for
//! tracks due an embedding, refine landmarks at full resolution, score quality
//! and embed the good faces → watch each track for a confident line crossing →
//! emit the passage with the track's identity (decided from its best faces) a
//! moment after the crossing, or when the track ends.
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

use crate::detect::{DetectError, Detection, Detector, DetectorConfig};
use crate::embed::Embedder;
use crate::embed_worker::{EmbedWorker, Embedded};
use crate::encode::{EncodeError, EncoderConfig, FaceEncoder, copy_region};
use crate::frame::BgrImage;
use crate::gallery::{Gallery, SharedGallery};
use crate::identity::{self, FaceSamples, Identity, IdentityConfig};
use crate::line::{CountingLine, Direction};
use crate::models::Models;
use crate::passage::{CrossingDetector, Passage, PassageConfig};
use crate::runtime::Threads;
use crate::stats::StageTimings;
use crate::track::{Track, TrackId, Tracker, TrackerConfig};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
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

#[derive(Default)]
struct TrackState {
    crossing: CrossingDetector,
    pending: Option<(Direction, Duration)>,
    crossings: u32,
    samples: FaceSamples,
    /// Qualities of this track's faces still with the recogniser.
    in_flight: Vec<f32>,
    embeds: u32,
    last_attempt: Option<u64>,
    best_quality: f32,
    best_face: BgrImage,
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
    recognition: Recognition,
    tracker: Tracker,
    gallery: SharedGallery,
    states: HashMap<TrackId, TrackState>,
    detections: Vec<Detection>,
    finished: Vec<Track>,
    frame_index: u64,
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
        Ok(Engine {
            detector: Detector::new(&models.detector, config.detector, threads)?,
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
            finished: Vec::new(),
            frame_index: 0,
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
        self.tracker.update(&self.detections, ts, (frame.width() as f32, frame.height() as f32), &mut self.finished);
        let t2 = Instant::now();
        self.timings.detect.push(ms(t1 - t0));
        self.timings.track.push(ms(t2 - t1));

        let (w, h) = (frame.width() as f32, frame.height() as f32);
        let gallery = self.gallery();
        let emit_delay = Duration::from_millis(self.config.passage.emit_delay_ms);
        for ti in 0..self.tracker.tracks().len() {
            let track = &self.tracker.tracks()[ti];
            let Some(det) = track.detection else { continue };
            let (id, hits) = (track.id, track.hits);
            let state = self.states.entry(id).or_default();
            // Crossing.
            let [cx, cy] = det.bbox.center();
            if let Some(dir) =
                state.crossing.observe(&self.camera.line, [cx / w, cy / h], self.config.passage.min_travel)
                && hits >= self.config.passage.min_hits
            {
                state.pending = Some((dir, ts));
                state.crossings += 1;
            }
            Self::maybe_embed(
                &mut self.recognition,
                &self.config,
                state,
                (id, &det),
                frame,
                self.frame_index,
                &mut self.timings,
            )?;
            // Emission after the delay, once the track's faces are all embedded.
            if state.pending.is_some_and(|(_, crossed_at)| ts.saturating_sub(crossed_at) >= emit_delay) {
                self.settle(Settle::Track(id))?;
                if let Some(state) = self.states.get_mut(&id)
                    && let Some(crossing) = state.pending.take()
                {
                    let track = &self.tracker.tracks()[ti];
                    out.push(Self::passage(
                        &self.camera,
                        &self.config,
                        &gallery,
                        track,
                        state,
                        crossing,
                        &mut self.timings,
                    ));
                }
            }
        }
        let finished = std::mem::take(&mut self.finished);
        self.finish_tracks(finished, &gallery, out)?;
        self.frame_index += 1;
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
            let Some(state) = self.states.get_mut(&e.track) else { continue };
            if let Some(i) = state.in_flight.iter().position(|q| *q == e.quality) {
                state.in_flight.swap_remove(i);
            }
            match e.embedding {
                Ok(embedding) => state.samples.offer(e.quality, embedding, max),
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
            if self.states.get(&track.id).is_some_and(|s| s.pending.is_some()) {
                self.settle(Settle::Track(track.id))?;
            }
            if let Some(mut state) = self.states.remove(&track.id)
                && let Some((dir, crossed_at)) = state.pending.take()
            {
                out.push(Self::passage(
                    &self.camera,
                    &self.config,
                    gallery,
                    &track,
                    &mut state,
                    (dir, crossed_at),
                    &mut self.timings,
                ));
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
        frame_index: u64,
        timings: &mut StageTimings,
    ) -> Result<(), EngineError> {
        let id_cfg = &config.identity;
        let due = state.last_attempt.is_none_or(|f| frame_index >= f + id_cfg.embed_every_frames as u64);
        // Once its passage is out, a track's identity is settled: embedding it
        // further would only spend the CPU the next person needs.
        let settled = state.crossings > 0 && state.pending.is_none();
        if !due
            || settled
            || state.embeds >= id_cfg.max_embeds_per_track
            || det.bbox.h < config.encoder.quality.min_face_px
        {
            return Ok(());
        }
        state.last_attempt = Some(frame_index);
        let detector_px = det.bbox.h * config.detector.input_size as f32 / frame.width().max(frame.height()) as f32;
        let started = Instant::now();
        let assessed = rec.encoder.assess(frame, det, detector_px)?;
        timings.align.push(ms(started.elapsed()));
        let Some(face) = assessed else { return Ok(()) };
        let q = face.quality;
        if !q.acceptable(&config.encoder.quality)
            || !state.samples.wants_counting(&state.in_flight, q.score, id_cfg.max_samples)
        {
            return Ok(());
        }
        rec.worker.submit(id, q.score, rec.encoder.last_aligned()?).map_err(EncodeError::from)?;
        state.in_flight.push(q.score);
        state.embeds += 1;
        if q.score > state.best_quality {
            state.best_quality = q.score;
            copy_region(frame, &face.detection.bbox, 1.5, &mut state.best_face);
        }
        Ok(())
    }

    fn passage(
        camera: &CameraContext,
        config: &EngineConfig,
        gallery: &Gallery,
        track: &Track,
        state: &mut TrackState,
        (direction, crossed_at): (Direction, Duration),
        timings: &mut StageTimings,
    ) -> Passage {
        let started = Instant::now();
        let identity: Identity = identity::decide(&state.samples, gallery, &config.identity);
        timings.matching.push(ms(started.elapsed()));
        let face_jpeg = (state.best_quality > 0.0).then(|| thumbnail_jpeg(&state.best_face)).flatten();
        tracing::debug!(
            camera = %camera.id,
            track = track.id.0,
            direction = direction.as_str(),
            first = track.first_seen.as_secs_f32(),
            last = track.last_seen.as_secs_f32(),
            crossed = crossed_at.as_secs_f32(),
            person = identity.person_id().unwrap_or("unknown"),
            "passage"
        );
        Passage {
            id: uuid::Uuid::new_v4().to_string(),
            camera: camera.id.clone(),
            track: track.id.0,
            direction,
            identity,
            first_seen: track.first_seen,
            last_seen: track.last_seen,
            crossed_at,
            face_jpeg,
            face_quality: state.best_quality,
            samples: state.samples.len(),
            probe: state.samples.mean(),
        }
    }
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
