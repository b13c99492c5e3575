//! Section 9: a realistic day. Ten generated minutes of one gate (empty most
//! of the time, a burst of passages about once a minute, light drifting,
//! sensor noise; `fixtures/generate.py --bench`) replayed at 720p and 1080p:
//! how close the pipeline comes to the decoder's own speed when the motion
//! gate spares the detector the empty frames, what a frame costs in CPU, and
//! that no passage is lost for it. At 720p the same replay runs once more
//! with the gate off, so the gate's saving is measured, not assumed.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use anyhow::Result;
use pipeline::engine::{CameraContext, Engine, EngineConfig};
use pipeline::eval::evaluate::{Found, score};
use pipeline::eval::replay::{enrol_fixture, run_video_with};
use pipeline::gallery::SharedGallery;
use pipeline::vision::enrol::Enroller;
use pipeline::vision::models::Models;
use pipeline::vision::motion::MotionConfig;
use serde::{Deserialize, Serialize};

use super::replay::{cpu_ms_per_frame, decode_only, source_options};
use crate::measure::process_cpu_seconds;

pub const FIXTURE_720P: &str = "bench_day_720p";
pub const FIXTURE_1080P: &str = "bench_day_1080p";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DayRun {
    /// "on" or "off": the motion gate.
    pub motion_gate: String,
    pub fps: f64,
    pub cpu_ms: f64,
    pub frames_skipped: u64,
    /// Passages expected / found / matched to the truth.
    pub passages: [usize; 3],
    pub identity_accuracy: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DayResolution {
    pub label: String,
    pub fixture: String,
    pub frames: u64,
    pub seconds_of_video: f64,
    pub decode_only_fps: f64,
    pub decode_only_cpu_ms: f64,
    pub runs: Vec<DayRun>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DayResults {
    pub resolutions: Vec<DayResolution>,
}

fn replay(
    models: &Models,
    fixture: &pipeline::eval::fixture::Fixture,
    gallery: &SharedGallery,
    gate: bool,
) -> Result<DayRun> {
    let camera = CameraContext { id: fixture.name.clone(), line: fixture.camera.line };
    let config =
        EngineConfig { motion: MotionConfig { enabled: gate, ..MotionConfig::default() }, ..EngineConfig::default() };
    let mut engine = Engine::new(models, camera, config, Arc::clone(gallery), crate::threads())?;
    let (started, cpu) = (Instant::now(), process_cpu_seconds());
    let run = run_video_with(&mut engine, &fixture.video, source_options(), |_| {})?;
    let wall = started.elapsed().as_secs_f64();
    let cpu_ms = cpu_ms_per_frame(cpu, run.frames);
    let found: Vec<Found> = run.passages.iter().map(Found::from).collect();
    let scores = score(&fixture.truth, &found);
    let out = DayRun {
        motion_gate: if gate { "on" } else { "off" }.into(),
        fps: run.frames as f64 / wall.max(1e-9),
        cpu_ms,
        frames_skipped: run.timings.skipped,
        passages: [scores.passages.expected, scores.passages.found, scores.passages.matched],
        identity_accuracy: scores.identity.accuracy,
    };
    eprintln!(
        "[day] {}: gate {}: {:.1} fps, {:.2} CPU ms/frame, {} of {} frames skipped, passages {:?}",
        fixture.name, out.motion_gate, out.fps, out.cpu_ms, out.frames_skipped, run.frames, out.passages
    );
    Ok(out)
}

fn measure(models: &Models, label: &str, name: &str, with_gate_off: bool) -> Result<DayResolution> {
    let fixture = super::fixture(name)?;
    let mut enroller = Enroller::new(models, crate::threads())?;
    let gallery = enrol_fixture(&mut enroller, &fixture, &models.recogniser.model_id())?;
    drop(enroller);
    let gallery: SharedGallery = Arc::new(RwLock::new(Arc::new(gallery)));
    let (decode_fps, decode_cpu) = decode_only(&fixture)?;
    eprintln!("[day] {name}: decode-only {decode_fps:.1} fps, {decode_cpu:.2} CPU ms/frame");
    let mut runs = vec![replay(models, &fixture, &gallery, true)?];
    if with_gate_off {
        runs.push(replay(models, &fixture, &gallery, false)?);
    }
    Ok(DayResolution {
        label: label.into(),
        fixture: name.into(),
        frames: fixture.camera.frames,
        seconds_of_video: fixture.camera.frames as f64 / f64::from(fixture.camera.fps.max(1.0)),
        decode_only_fps: decode_fps,
        decode_only_cpu_ms: decode_cpu,
        runs,
    })
}

pub fn run() -> Result<DayResults> {
    let models = Models::locate()?;
    Ok(DayResults {
        resolutions: vec![
            measure(&models, "720p", FIXTURE_720P, true)?,
            measure(&models, "1080p", FIXTURE_1080P, false)?,
        ],
    })
}
