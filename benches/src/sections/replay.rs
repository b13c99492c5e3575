//! Sections 1, 2 and 4: the pipeline's replay FPS (1, 2 and 4 streams at
//! once), its two limits measured in the same run (decode-only and
//! detect-only), and per-stage latency.
//!
//! Everything runs in this process, as the edge agent runs its cameras: one
//! engine per stream on its own thread, each with its own decoder. Runs are
//! interleaved (decode, detect, pipeline, decode, ...) so that machine noise
//! falls on all of them alike.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier, RwLock};
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use pipeline::engine::{CameraContext, Engine, EngineConfig};
use pipeline::eval::evaluate::{Found, StageSummary, score};
use pipeline::eval::fixture::Fixture;
use pipeline::eval::replay::{ReplayError, ReplayRun, enrol_fixture, for_each_frame_with, run_video_with};
use pipeline::eval::stats::StageTimings;
use pipeline::gallery::{Gallery, SharedGallery};
use pipeline::vision::detect::{Detector, DetectorConfig};
use pipeline::vision::enrol::Enroller;
use pipeline::vision::frame::BgrImage;
use pipeline::vision::models::Models;
use pipeline::vision::source::SourceOptions;
use serde::{Deserialize, Serialize};

use crate::measure::{Summary, process_cpu_seconds};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamsResult {
    pub streams: usize,
    /// Frames of all streams ÷ wall time until the last stream finished.
    pub aggregate_fps: Summary,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageLatency {
    pub stage: String,
    /// What one sample is: a frame, a face or a decision.
    pub per: String,
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resolution {
    pub label: String,
    pub fixture: String,
    pub frames: u64,
    pub decode_only_fps: Summary,
    pub detect_only_fps: Summary,
    pub pipeline_fps: Summary,
    /// CPU time (user + system, every thread of the process) per frame, ms.
    #[serde(default)]
    pub decode_only_cpu_ms: Summary,
    #[serde(default)]
    pub detect_only_cpu_ms: Summary,
    #[serde(default)]
    pub pipeline_cpu_ms: Summary,
    /// Frames of one pipeline run the motion gate spared the detector.
    #[serde(default)]
    pub frames_skipped: u64,
    /// Faces of one pipeline run given to the recogniser.
    #[serde(default)]
    pub faces_embedded: u64,
    pub streams: Vec<StreamsResult>,
    pub stages: Vec<StageLatency>,
    /// Passages expected / found / matched to the truth, in the first run.
    pub passages: [usize; 3],
    /// People our pipeline named in the first run; and those in the truth.
    pub identities: BTreeSet<String>,
    pub truth_identities: BTreeSet<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplayResults {
    pub runs: usize,
    pub resolutions: Vec<Resolution>,
}

pub(crate) fn source_options() -> SourceOptions {
    SourceOptions { decoder_threads: Some(crate::DECODER_THREADS), ..Default::default() }
}

fn fps(frames: u64, secs: f64) -> f64 {
    if secs > 0.0 { frames as f64 / secs } else { 0.0 }
}

/// Decode-only: the pipeline's own source (GStreamer to appsink as I420,
/// converted to full-size BGR) with the same decoder threads, nothing done
/// with the frames.
/// Returns FPS and CPU ms per frame.
pub(crate) fn decode_only(fixture: &Fixture) -> Result<(f64, f64)> {
    let (started, cpu) = (Instant::now(), process_cpu_seconds());
    let frames = for_each_frame_with(&fixture.video, source_options(), |_, _, _| Ok::<(), ReplayError>(()))?;
    Ok((fps(frames, started.elapsed().as_secs_f64()), cpu_ms_per_frame(cpu, frames)))
}

pub(crate) fn cpu_ms_per_frame(cpu_before: f64, frames: u64) -> f64 {
    (process_cpu_seconds() - cpu_before) * 1000.0 / frames.max(1) as f64
}

/// Every frame of the fixture, decoded (a 1080p fixture of 400 frames takes 2.5 GB).
fn predecode(fixture: &Fixture) -> Result<Vec<BgrImage>> {
    let mut frames = Vec::new();
    for_each_frame_with(&fixture.video, source_options(), |f, _, _| {
        frames.push(f.clone());
        Ok::<(), ReplayError>(())
    })?;
    Ok(frames)
}

/// Detect-only: the frame detector (resize to its input, ONNX Runtime,
/// box decoding) on frames already decoded, nothing else.
/// Returns FPS and CPU ms per frame.
fn detect_only(detector: &mut Detector, frames: &[BgrImage]) -> Result<(f64, f64)> {
    let mut found = Vec::new();
    let (started, cpu) = (Instant::now(), process_cpu_seconds());
    for f in frames {
        detector.detect_into(f, &mut found)?;
    }
    Ok((fps(frames.len() as u64, started.elapsed().as_secs_f64()), cpu_ms_per_frame(cpu, frames.len() as u64)))
}

fn engine(models: &Models, fixture: &Fixture, gallery: &SharedGallery) -> Result<Engine> {
    let camera = CameraContext { id: fixture.name.clone(), line: fixture.camera.line };
    Ok(Engine::new(models, camera, EngineConfig::default(), Arc::clone(gallery), crate::threads())?)
}

/// `streams` engines over the same video at once, started together.
/// Returns the aggregate FPS, each stream's run, and the process's CPU
/// seconds from the start to the end of the streams (models loaded before).
fn pipeline_streams(
    models: &Models,
    fixture: &Fixture,
    gallery: &SharedGallery,
    streams: usize,
) -> Result<(f64, Vec<ReplayRun>, f64)> {
    let mut engines = (0..streams).map(|_| engine(models, fixture, gallery)).collect::<Result<Vec<_>>>()?;
    let cpu = process_cpu_seconds();
    let start = Barrier::new(streams + 1);
    let runs = std::thread::scope(|s| {
        let workers: Vec<_> = engines
            .iter_mut()
            .map(|e| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    run_video_with(e, &fixture.video, source_options(), |_| {})
                })
            })
            .collect();
        start.wait();
        let began = Instant::now();
        let runs: Vec<Result<ReplayRun, ReplayError>> =
            workers.into_iter().map(|w| w.join().unwrap_or_else(|_| Err(panicked()))).collect();
        (runs, began.elapsed())
    });
    let cpu = process_cpu_seconds() - cpu;
    let (runs, wall) = runs;
    let runs = runs.into_iter().collect::<Result<Vec<_>, _>>()?;
    let frames: u64 = runs.iter().map(|r| r.frames).sum();
    Ok((fps(frames, wall.as_secs_f64()), runs, cpu))
}

fn panicked() -> ReplayError {
    ReplayError::Source(pipeline::vision::source::SourceError::Gst("a replay thread panicked".into()))
}

fn stages(t: &StageTimings) -> Vec<StageLatency> {
    let s = StageSummary::from(t);
    [
        ("decode", "frame", s.decode),
        ("detect", "frame", s.detect),
        ("track", "frame", s.track),
        ("align", "face", s.align),
        ("embed", "face", s.embed),
        ("match", "passage", s.matching),
    ]
    .into_iter()
    .map(|(stage, per, p)| StageLatency {
        stage: stage.into(),
        per: per.into(),
        count: p.count,
        p50_ms: p.p50 as f64,
        p99_ms: p.p99 as f64,
    })
    .collect()
}

fn measure(models: &Models, label: &str, name: &str, runs: usize, stream_counts: &[usize]) -> Result<Resolution> {
    let fixture = super::fixture(name)?;
    eprintln!("[replay] {label}: {name}, {} frames, {runs} runs", fixture.camera.frames);
    let mut enroller = Enroller::new(models, crate::threads())?;
    let gallery: Gallery = enrol_fixture(&mut enroller, &fixture, &models.recogniser.model_id())?;
    drop(enroller);
    let gallery: SharedGallery = Arc::new(RwLock::new(Arc::new(gallery)));
    let frames = predecode(&fixture)?;
    let mut detector = Detector::new(&models.detector, DetectorConfig::default(), crate::threads())?;
    let (mut decode, mut detect, mut single) = (Vec::new(), Vec::new(), Vec::new());
    let (mut decode_cpu, mut detect_cpu, mut single_cpu) = (Vec::new(), Vec::new(), Vec::new());
    let mut multi: Vec<Vec<f64>> = vec![Vec::new(); stream_counts.len()];
    let mut timings = StageTimings::default();
    let mut first: Option<ReplayRun> = None;
    for run in 0..runs {
        let (fps, cpu) = decode_only(&fixture)?;
        decode.push(fps);
        decode_cpu.push(cpu);
        let (fps, cpu) = detect_only(&mut detector, &frames)?;
        detect.push(fps);
        detect_cpu.push(cpu);
        let (one, mut out, cpu) = pipeline_streams(models, &fixture, &gallery, 1)?;
        single.push(one);
        let r = out.pop().ok_or_else(|| anyhow!("no replay result"))?;
        single_cpu.push(cpu * 1000.0 / r.frames.max(1) as f64);
        timings.append(&r.timings);
        first.get_or_insert(r);
        for (k, &n) in stream_counts.iter().enumerate() {
            multi[k].push(pipeline_streams(models, &fixture, &gallery, n)?.0);
        }
        eprintln!(
            "[replay] {label} run {}: decode {:.0} fps, detect {:.0} fps, pipeline {:.0} fps ({:.1} CPU ms/frame){}",
            run + 1,
            decode[run],
            detect[run],
            single[run],
            single_cpu[run],
            stream_counts
                .iter()
                .zip(&multi)
                .map(|(n, v)| format!(", {n} streams {:.0} fps", v[run]))
                .collect::<String>()
        );
    }
    let first = first.context("no runs")?;
    let found: Vec<Found> = first.passages.iter().map(Found::from).collect();
    let scores = score(&fixture.truth, &found);
    Ok(Resolution {
        label: label.into(),
        fixture: name.into(),
        frames: first.frames,
        decode_only_fps: Summary::of(decode),
        detect_only_fps: Summary::of(detect),
        pipeline_fps: Summary::of(single),
        decode_only_cpu_ms: Summary::of(decode_cpu),
        detect_only_cpu_ms: Summary::of(detect_cpu),
        pipeline_cpu_ms: Summary::of(single_cpu),
        frames_skipped: first.timings.skipped,
        faces_embedded: first.timings.embed.len() as u64,
        streams: stream_counts
            .iter()
            .zip(multi)
            .map(|(&streams, v)| StreamsResult { streams, aggregate_fps: Summary::of(v) })
            .collect(),
        stages: stages(&timings),
        passages: [scores.passages.expected, scores.passages.found, scores.passages.matched],
        identities: first.passages.iter().filter_map(|p| p.identity.person_id().map(str::to_string)).collect(),
        truth_identities: fixture.truth.passages.iter().filter_map(|p| p.person.clone()).collect(),
    })
}

/// `stream_counts`: the concurrent streams measured on 720p, the gate
/// cameras' usual resolution (at 1080p the machine is already saturated by one).
pub fn run(runs: usize, stream_counts: &[usize]) -> Result<ReplayResults> {
    let models = Models::locate()?;
    let resolutions = vec![
        measure(&models, "720p", super::FIXTURE_720P, runs, stream_counts)?,
        measure(&models, "1080p", super::FIXTURE_1080P, runs, &[])?,
    ];
    Ok(ReplayResults { runs, resolutions })
}
