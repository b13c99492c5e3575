//! Section 3: the reference a user would pick instead — OpenCV's own face
//! pipeline in Python (`benches/reference/opencv_pipeline.py`) — on the
//! same fixtures, with the same models, thresholds and thread count, on the
//! same CPUs (`taskset` with this process's own CPU list).
//!
//! Two schedules: the naive one embeds every face of every frame; the
//! per-track one follows faces with an IoU tracker and embeds at most as many
//! per track as gatewatch does — so the report can tell "faster because it
//! does less" from "faster at the same work".

use std::collections::BTreeSet;
use std::process::Command;

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};

use crate::measure::{Summary, allowed_cpus};
use crate::procs::repo;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReferenceRun {
    pub label: String,
    pub fixture: String,
    /// `every-face` or `per-track`.
    #[serde(default)]
    pub schedule: String,
    pub fps: Summary,
    /// CPU time (user + system, every thread of the process) per frame, ms.
    #[serde(default)]
    pub cpu_ms: Summary,
    pub faces_per_run: u64,
    #[serde(default)]
    pub embedded_per_run: u64,
    pub identities: BTreeSet<String>,
    pub opencv: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReferenceResults {
    pub runs: usize,
    /// The CPUs every contender ran on (`taskset -c`).
    #[serde(default)]
    pub cpus: String,
    pub resolutions: Vec<ReferenceRun>,
}

#[derive(Deserialize)]
struct Output {
    frames: u64,
    fps: f64,
    cpu_seconds: f64,
    faces: u64,
    faces_embedded: u64,
    identities: BTreeSet<String>,
    opencv: String,
}

fn once(fixture: &pipeline::eval::fixture::Fixture, schedule: &str, cpus: &str) -> Result<Output> {
    let python = repo().join(".venv/bin/python");
    ensure!(python.is_file(), "{} is missing: run `make setup`", python.display());
    let identity = pipeline::tracking::identity::IdentityConfig::default();
    let detector = pipeline::vision::detect::DetectorConfig::default();
    let out = Command::new("taskset")
        .current_dir(repo())
        .args(["-c", cpus])
        .arg(&python)
        .arg("benches/reference/opencv_pipeline.py")
        .args(["--schedule", schedule])
        // gatewatch's cap per leg of a track (a walk through the gate is one
        // leg; only a turn opens a second), and a track lives on unseen for
        // the tracker's max_lost_ms. The report shows both sides' counts of
        // faces embedded, so the schedules can be seen to match.
        .args(["--max-samples", &identity.max_embeds_per_track.to_string()])
        .args(["--track-lost", &lost_frames(fixture).to_string()])
        .arg("--video")
        .arg(&fixture.video)
        .arg("--gallery")
        .arg(fixture.dir.join("gallery"))
        .args(["--input-size", &detector.input_size.to_string()])
        .args(["--score-threshold", &detector.score_threshold.to_string()])
        .args(["--nms", &detector.nms_iou.to_string()])
        .args(["--top-k", &detector.top_k.to_string()])
        .args(["--threshold", &identity.threshold.to_string()])
        .args(["--margin", &identity.margin.to_string()])
        .args(["--threads", &crate::ORT_THREADS.to_string()])
        .output()
        .context("running the OpenCV reference")?;
    ensure!(out.status.success(), "the OpenCV reference failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or("");
    let parsed: Output = serde_json::from_str(last).with_context(|| format!("reference output: {last}"))?;
    ensure!(
        parsed.frames == fixture.camera.frames,
        "the reference decoded {} frames of {}, camera.toml states {}",
        parsed.frames,
        fixture.name,
        fixture.camera.frames
    );
    Ok(parsed)
}

/// The tracker's `max_lost_ms` in frames of this fixture.
fn lost_frames(fixture: &pipeline::eval::fixture::Fixture) -> u64 {
    let lost_ms = pipeline::tracking::track::TrackerConfig::default().max_lost_ms as f32;
    (lost_ms / 1000.0 * fixture.camera.fps).round().max(1.0) as u64
}

pub const SCHEDULES: [&str; 2] = ["every-face", "per-track"];

pub fn run(runs: usize) -> Result<ReferenceResults> {
    let cpus = allowed_cpus();
    let mut resolutions = Vec::new();
    for (label, name) in [("720p", super::FIXTURE_720P), ("1080p", super::FIXTURE_1080P)] {
        let fixture = super::fixture(name)?;
        for schedule in SCHEDULES {
            let (mut fps, mut cpu) = (Vec::new(), Vec::new());
            let mut last = None;
            for run in 0..runs {
                let o = once(&fixture, schedule, &cpus)?;
                let cpu_ms = o.cpu_seconds * 1000.0 / o.frames.max(1) as f64;
                eprintln!(
                    "[reference] {label} {schedule} run {}: OpenCV {:.1} fps, {cpu_ms:.1} CPU ms/frame, {} faces, {} embedded",
                    run + 1,
                    o.fps,
                    o.faces,
                    o.faces_embedded
                );
                fps.push(o.fps);
                cpu.push(cpu_ms);
                last = Some(o);
            }
            let last = last.context("no runs")?;
            resolutions.push(ReferenceRun {
                label: label.into(),
                fixture: name.into(),
                schedule: schedule.into(),
                fps: Summary::of(fps),
                cpu_ms: Summary::of(cpu),
                faces_per_run: last.faces,
                embedded_per_run: last.faces_embedded,
                identities: last.identities,
                opencv: last.opencv,
            });
        }
    }
    Ok(ReferenceResults { runs, cpus, resolutions })
}
