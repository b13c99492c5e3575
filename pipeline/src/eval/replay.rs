//! Replaying recorded video through an [`Engine`]: the engineers' measuring
//! loop, and the basis of the accuracy tests.
//!
//! Decoding runs on its own thread (GStreamer's decoder threads feed it) and
//! hands frames to the engine through a bounded queue; used frame buffers go
//! back to the decoder, so after the first few frames nothing is allocated
//! per frame. Replay drops nothing and waits for no clock: as fast as the
//! slower of decoding and recognition.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use std::sync::{Arc, RwLock};

use crate::engine::{CameraContext, Engine, EngineConfig, EngineError, REPLAY_RECOGNITION_LATENCY, RecognitionPace};
use crate::eval::evaluate::{EarlyCounts, Found, RunReport, evaluate};
use crate::eval::fixture::Fixture;
use crate::eval::stats::StageTimings;
use crate::gallery::Gallery;
use crate::tracking::passage::{Emitted, Passage, Sighting};
use crate::vision::enrol::{EnrolError, Enroller};
use crate::vision::frame::BgrImage;
use crate::vision::models::Models;
use crate::vision::runtime::Threads;
use crate::vision::source::{Pulled, SourceError, SourceOptions, SourceUrl, VideoSource};
use wire::PersonInfo;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{path}: decoding stalled (no frame for {secs} s)")]
    Stalled { path: String, secs: u64 },
    #[error(transparent)]
    Encode(#[from] crate::vision::encode::EncodeError),
    #[error(
        "{path}: decoded {decoded} frames, camera.toml states {stated}: the video is truncated or corrupt (run `make fixtures` to regenerate)"
    )]
    FrameCount { path: String, decoded: u64, stated: u64 },
    #[error("enrolment of {person} failed for every photo: {reason}")]
    Enrolment { person: String, reason: String },
}

/// Frames in flight between the decoder and the engine.
const QUEUE_DEPTH: usize = 4;
const STALL: Duration = Duration::from_secs(20);

#[derive(Debug, Default)]
pub struct ReplayRun {
    pub frames: u64,
    pub wall: Duration,
    pub passages: Vec<Passage>,
    /// Identities decided ahead of a crossing.
    pub sightings: Vec<Sighting>,
    pub timings: StageTimings,
}

type Decoded = Result<(BgrImage, Duration, f32), ReplayError>;

/// Decodes every frame of `video` on a decoder thread and hands each to
/// `consume(frame, pts, decode_ms)` on the calling thread, through a bounded
/// queue with buffer recycling. Returns the number of frames consumed.
pub fn for_each_frame<E>(
    video: &Path,
    consume: impl FnMut(&BgrImage, Duration, f32) -> Result<(), E>,
) -> Result<u64, ReplayError>
where
    ReplayError: From<E>,
{
    for_each_frame_with(video, SourceOptions::default(), consume)
}

/// [`for_each_frame`] with chosen decoding options (decoder threads, size).
pub fn for_each_frame_with<E>(
    video: &Path,
    options: SourceOptions,
    mut consume: impl FnMut(&BgrImage, Duration, f32) -> Result<(), E>,
) -> Result<u64, ReplayError>
where
    ReplayError: From<E>,
{
    let url = SourceUrl::File(video.to_path_buf());
    let mut source = VideoSource::open(&url, options)?;
    let (frames_tx, frames_rx) = mpsc::sync_channel::<Decoded>(QUEUE_DEPTH);
    let (recycle_tx, recycle_rx) = mpsc::channel::<BgrImage>();
    let path = video.display().to_string();
    let decoder = std::thread::Builder::new()
        .name("replay-decode".into())
        .spawn(move || {
            loop {
                let mut buf = recycle_rx.try_recv().unwrap_or_default();
                let t = Instant::now();
                let msg = match source.pull(&mut buf, STALL) {
                    Ok(Pulled::Frame { pts }) => Ok((buf, pts, t.elapsed().as_secs_f32() * 1000.0)),
                    Ok(Pulled::Eos) => return,
                    Ok(Pulled::Timeout) => Err(ReplayError::Stalled { path: path.clone(), secs: STALL.as_secs() }),
                    Err(e) => Err(ReplayError::Source(e)),
                };
                let stop = msg.is_err();
                if frames_tx.send(msg).is_err() || stop {
                    return;
                }
            }
        })
        .map_err(|e| SourceError::Gst(format!("cannot start decoder thread: {e}")))?;
    let mut frames = 0u64;
    let mut result = Ok(());
    for msg in frames_rx.iter() {
        match msg.and_then(|(frame, pts, decode_ms)| {
            consume(&frame, pts, decode_ms)?;
            let _ = recycle_tx.send(frame);
            Ok(())
        }) {
            Ok(()) => frames += 1,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    // Dropping the receiver unblocks the decoder if we stopped early.
    drop(frames_rx);
    let _ = decoder.join();
    result.map(|()| frames)
}

/// Runs `engine` over every frame of `video`, its recogniser answering at
/// [`REPLAY_RECOGNITION_LATENCY`] (see [`RecognitionPace::FixedLatency`]).
/// `progress` is called after each frame.
pub fn run_video(engine: &mut Engine, video: &Path, progress: impl FnMut(u64)) -> Result<ReplayRun, ReplayError> {
    run_video_with(engine, video, SourceOptions::default(), progress)
}

/// [`run_video`] with chosen decoding options.
pub fn run_video_with(
    engine: &mut Engine,
    video: &Path,
    options: SourceOptions,
    mut progress: impl FnMut(u64),
) -> Result<ReplayRun, ReplayError> {
    let started = Instant::now();
    let mut run = ReplayRun::default();
    let pace = engine.pace_recognition(RecognitionPace::FixedLatency(REPLAY_RECOGNITION_LATENCY));
    let before = std::mem::take(&mut engine.timings);
    let mut out = Emitted::default();
    let outcome = for_each_frame_with(video, options, |frame, pts, decode_ms| {
        engine.timings.decode.push(decode_ms);
        engine.process(frame, pts, &mut out)?;
        run.frames += 1;
        progress(run.frames);
        Ok::<(), EngineError>(())
    });
    let timings = std::mem::replace(&mut engine.timings, before);
    let flushed = outcome.map(|_| engine.flush(&mut out));
    engine.pace_recognition(pace);
    flushed?;
    (run.passages, run.sightings) = (out.passages, out.sightings);
    run.wall = started.elapsed();
    run.timings = timings;
    Ok(run)
}

/// Enrols a fixture's gallery (every photo of every person) into a fresh gallery.
/// Photos that fail are logged and skipped; a person with no usable photo is an error.
pub fn enrol_fixture(enroller: &mut Enroller, fixture: &Fixture, model_id: &str) -> Result<Gallery, ReplayError> {
    let mut gallery = Gallery::new(model_id);
    for person in &fixture.people {
        let mut vectors = Vec::new();
        let mut last_error = String::new();
        for photo in &person.photos {
            let outcome = BgrImage::open(photo)
                .map_err(|e| e.to_string())
                .and_then(|img| enroller.embed_photo(&img).map_err(|e: EnrolError| e.to_string()));
            match outcome {
                Ok(v) => vectors.push(v),
                Err(e) => {
                    tracing::warn!(photo = %photo.display(), error = %e, "enrolment photo skipped");
                    last_error = e;
                }
            }
        }
        if vectors.is_empty() {
            return Err(ReplayError::Enrolment { person: person.id.clone(), reason: last_error });
        }
        let info = PersonInfo {
            id: person.id.clone(),
            name: person.spec.name.clone(),
            category: person.spec.category,
            cccd: person.spec.cccd.clone(),
            valid_until: None,
            valid_from: None,
        };
        gallery.add(info, &vectors);
    }
    Ok(gallery)
}

/// Replays one fixture end to end: enrol its gallery, run its video, score
/// the passages against its truth.
pub fn replay_fixture(
    models: &Models,
    fixture: &Fixture,
    config: EngineConfig,
    threads: Threads,
    progress: impl FnMut(u64),
) -> Result<(RunReport, ReplayRun), ReplayError> {
    let mut enroller = Enroller::new(models, threads)?;
    let gallery = enrol_fixture(&mut enroller, fixture, &models.recogniser.model_id())?;
    drop(enroller);
    let camera = CameraContext { id: fixture.name.clone(), line: fixture.camera.line };
    let mut engine = Engine::new(models, camera, config, Arc::new(RwLock::new(Arc::new(gallery))), threads)?;
    let options = SourceOptions { decoder_threads: threads.decoder, ..Default::default() };
    let run = run_video_with(&mut engine, &fixture.video, options, progress)?;
    if run.frames != fixture.camera.frames {
        return Err(ReplayError::FrameCount {
            path: fixture.video.display().to_string(),
            decoded: run.frames,
            stated: fixture.camera.frames,
        });
    }
    let found: Vec<Found> = run.passages.iter().map(Found::from).collect();
    let evaluation = evaluate(&fixture.truth, &found);
    let early = EarlyCounts::of(&run.passages, &run.sightings, &evaluation.found);
    let mut report = RunReport::new(&fixture.name, run.frames, run.wall.as_secs_f64(), &run.timings, evaluation.scores)
        .with_listing(evaluation);
    report.early = early;
    Ok((report, run))
}
