//! Section 3: the reference a user would pick instead — OpenCV's own face
//! pipeline in Python (`benches/reference/opencv_pipeline.py`) — on the
//! same fixtures, with the same models, thresholds and thread count.

use std::collections::BTreeSet;
use std::process::Command;

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};

use crate::measure::Summary;
use crate::procs::repo;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReferenceRun {
    pub label: String,
    pub fixture: String,
    pub fps: Summary,
    pub faces_per_run: u64,
    pub identities: BTreeSet<String>,
    pub opencv: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReferenceResults {
    pub runs: usize,
    pub resolutions: Vec<ReferenceRun>,
}

#[derive(Deserialize)]
struct Output {
    frames: u64,
    fps: f64,
    faces: u64,
    identities: BTreeSet<String>,
    opencv: String,
}

fn once(fixture: &pipeline::fixture::Fixture) -> Result<Output> {
    let python = repo().join(".venv/bin/python");
    ensure!(python.is_file(), "{} is missing: run `make setup`", python.display());
    let identity = pipeline::identity::IdentityConfig::default();
    let detector = pipeline::detect::DetectorConfig::default();
    let out = Command::new(&python)
        .current_dir(repo())
        .arg("benches/reference/opencv_pipeline.py")
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

pub fn run(runs: usize) -> Result<ReferenceResults> {
    let mut resolutions = Vec::new();
    for (label, name) in [("720p", super::FIXTURE_720P), ("1080p", super::FIXTURE_1080P)] {
        let fixture = super::fixture(name)?;
        let mut fps = Vec::new();
        let mut last = None;
        for run in 0..runs {
            let o = once(&fixture)?;
            eprintln!("[reference] {label} run {}: OpenCV {:.1} fps, {} faces", run + 1, o.fps, o.faces);
            fps.push(o.fps);
            last = Some(o);
        }
        let last = last.context("no runs")?;
        resolutions.push(ReferenceRun {
            label: label.into(),
            fixture: name.into(),
            fps: Summary::of(fps),
            faces_per_run: last.faces,
            identities: last.identities,
            opencv: last.opencv,
        });
    }
    Ok(ReferenceResults { runs, resolutions })
}
