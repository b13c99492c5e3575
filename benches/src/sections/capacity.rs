//! Section 10: cameras per box. How many live cameras one edge agent on this
//! machine keeps up with, on the realistic day (a mostly empty gate with
//! bursts of passages): N cameras stream the day's first minutes over real
//! RTSP (the fixture server on loopback, one mount each), the agent as
//! shipped watches all N, and after a warm-up its own `/metrics` say how
//! many frames each camera got through and how many it dropped.
//!
//! A count is **sustained** when every camera is recognised at ≥ 97 % of
//! the stream's frame rate and at most 0.2 % of the frames sent were
//! dropped (the agent keeps only the newest frame when it falls behind, so
//! dropping is how falling behind shows). Counts are tried upwards and the
//! search stops at the first that is not sustained. The RTSP server runs on
//! the same two cores (real cameras would not); its CPU share is reported.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};

use super::day::{FIXTURE_720P, FIXTURE_1080P};
use crate::measure::cpu_seconds_of;
use crate::procs::{
    AdminApi, Camera, Database, camera_counters, free_port, rtsp_server, scratch, start_admin, start_agent,
};

const SITE: &str = "bench";
/// Seconds of the day streamed: enough for the warm-up and the measurement.
const CLIP_SECONDS: u64 = 150;
const WARM_UP: Duration = Duration::from_secs(12);
const MIN_FPS_SHARE: f64 = 0.97;
const MAX_DROPPED_SHARE: f64 = 0.002;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapacityRun {
    pub cameras: usize,
    /// The slowest camera's recognised frames per second.
    pub min_fps: f64,
    /// Frames dropped over all cameras, and frames recognised.
    pub dropped: f64,
    pub frames: f64,
    /// CPU of the agent and of the RTSP server, % of one core.
    pub agent_cpu_percent: f64,
    pub server_cpu_percent: f64,
    pub sustained: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamCapacity {
    /// "1080p@25".
    pub stream: String,
    pub fps: f64,
    pub runs: Vec<CapacityRun>,
    /// The most cameras sustained (0: not even one).
    pub sustained: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapacityResults {
    pub seconds: u64,
    pub streams: Vec<StreamCapacity>,
}

/// The day's first minutes at `fps`: a stream copy at the fixture's own
/// rate, else re-encoded (H.264, 2-s key frames, as cameras send).
fn clip(video: &Path, fps: u32, own_fps: u32, out: &Path) -> Result<PathBuf> {
    if out.is_file() {
        return Ok(out.to_path_buf());
    }
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-loglevel", "error", "-y", "-i"]).arg(video).args(["-t", &CLIP_SECONDS.to_string()]);
    if fps == own_fps {
        cmd.args(["-c", "copy"]);
    } else {
        let gop = (2 * fps).to_string();
        cmd.args(["-r", &fps.to_string(), "-c:v", "libx264", "-preset", "veryfast", "-g", &gop, "-an"]);
    }
    let status = cmd.arg(out).status().context("ffmpeg (run `make setup`)")?;
    ensure!(status.success(), "ffmpeg could not cut {}", video.display());
    Ok(out.to_path_buf())
}

/// N cameras, each its own mount of `video` on a fresh RTSP server (so every
/// run starts at the clip's beginning).
fn measure(
    api: &AdminApi,
    token: &str,
    fixture: &pipeline::eval::fixture::Fixture,
    video: &Path,
    n: usize,
    (fps, seconds): (f64, u64),
) -> Result<CapacityRun> {
    let run_dir = scratch(&format!("capacity/{}-{n}", fixture.name))?;
    let names: Vec<String> = (1..=n).map(|i| format!("gate{i}")).collect();
    let mounts: Vec<(&str, &Path)> = names.iter().map(|name| (name.as_str(), video)).collect();
    let (mut server, urls) = rtsp_server(&mounts)?;
    let server_pid = server.pid();
    let cameras: Vec<Camera> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| Camera { id: format!("gate{}", i + 1), url: url.clone(), fixture, restricted: false })
        .collect();
    let ops = free_port();
    let mut agent = start_agent(&run_dir, api, token, SITE, &cameras, Some(ops))?;
    std::thread::sleep(WARM_UP);
    let (began, before) = (Instant::now(), camera_counters(ops));
    let (agent_cpu, server_cpu) = (cpu_seconds_of(agent.pid()), cpu_seconds_of(server_pid));
    std::thread::sleep(Duration::from_secs(seconds));
    let after = camera_counters(ops);
    let wall = began.elapsed().as_secs_f64();
    let agent_cpu_percent = (cpu_seconds_of(agent.pid()) - agent_cpu) / wall * 100.0;
    let server_cpu_percent = (cpu_seconds_of(server_pid) - server_cpu) / wall * 100.0;
    agent.stop(Duration::from_secs(5));
    server.stop(Duration::from_secs(3));
    let (mut min_fps, mut frames, mut dropped) = (f64::INFINITY, 0.0, 0.0);
    for c in &cameras {
        let (f1, d1) = after.get(&c.id).copied().unwrap_or_default();
        let (f0, d0) = before.get(&c.id).copied().unwrap_or_default();
        min_fps = min_fps.min((f1 - f0) / wall);
        frames += f1 - f0;
        dropped += d1 - d0;
    }
    let sustained = min_fps >= MIN_FPS_SHARE * fps && dropped <= MAX_DROPPED_SHARE * (frames + dropped);
    eprintln!(
        "[capacity] {}: {n} cameras: slowest {min_fps:.1} fps, {dropped:.0} of {:.0} frames dropped, agent {agent_cpu_percent:.0} % CPU, RTSP server {server_cpu_percent:.0} %{}",
        fixture.name,
        frames + dropped,
        if sustained { "" } else { " — not sustained" }
    );
    Ok(CapacityRun { cameras: n, min_fps, dropped, frames, agent_cpu_percent, server_cpu_percent, sustained })
}

/// `streams`: (fixture, frame rate to stream at, camera counts to try upwards).
pub fn run(seconds: u64, streams: &[(&str, u32, &[usize])]) -> Result<CapacityResults> {
    let dir = scratch("capacity")?;
    let api = start_admin(Database::sqlite(&dir), &dir)?;
    let token = api.add_agent("bench-agent", SITE)?;
    let mut out = Vec::new();
    for &(name, fps, counts) in streams {
        let fixture = super::fixture(name)?;
        let own_fps = fixture.camera.fps.round() as u32;
        let video = clip(&fixture.video, fps, own_fps, &dir.join(format!("{name}-{fps}fps.mp4")))?;
        let stream = format!("{}p@{fps}", fixture.camera.height);
        let mut runs = Vec::new();
        for &n in counts {
            let run = measure(&api, &token, &fixture, &video, n, (fps as f64, seconds))?;
            let sustained = run.sustained;
            runs.push(run);
            if !sustained {
                break;
            }
        }
        let sustained = runs.iter().filter(|r| r.sustained).map(|r| r.cameras).max().unwrap_or(0);
        out.push(StreamCapacity { stream, fps: fps as f64, runs, sustained });
    }
    Ok(CapacityResults { seconds, streams: out })
}

/// The streams measured by `make bench`.
pub fn default_streams() -> Vec<(&'static str, u32, &'static [usize])> {
    vec![(FIXTURE_1080P, 25, &[1, 2, 3, 4, 5, 6, 7, 8]), (FIXTURE_720P, 15, &[2, 4, 6, 8, 10, 12])]
}
