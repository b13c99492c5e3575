//! Section 8: peak resident memory of the edge agent as shipped, with 1, 2
//! and 4 live cameras (the fixture RTSP server on loopback), and the frames
//! each camera got through meanwhile (from the agent's own /metrics).

use std::time::{Duration, Instant};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::procs::{
    Camera, Database, camera_counters, free_port, looped, rtsp_server, scratch, start_admin, start_agent,
};

const SITE: &str = "bench";
const SCENES: [&str; 4] = ["s04_unknowns_720p", "s05_watchlist_720p", "s09_side_gate_720p", "s01_walk_in_720p"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryRun {
    pub cameras: usize,
    pub peak_rss_mb: f64,
    /// Frames recognised per second per camera (the cameras send 25).
    pub fps_per_camera: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemoryResults {
    pub seconds: u64,
    pub runs: Vec<MemoryRun>,
}

/// Frames the agent on `ops_port` has recognised, over all its cameras.
fn frames_recognised(ops_port: u16) -> f64 {
    camera_counters(ops_port).values().map(|(frames, _)| frames).sum()
}

pub fn run(seconds: u64, camera_counts: &[usize]) -> Result<MemoryResults> {
    let dir = scratch("memory")?;
    let fixtures = SCENES.iter().map(|s| super::fixture(s)).collect::<Result<Vec<_>>>()?;
    let loops = (seconds * camera_counts.len() as u64 / 6 + 2) as u32;
    let videos = fixtures
        .iter()
        .map(|f| looped(&f.video, loops, &dir.join(format!("{}.mp4", f.name))))
        .collect::<Result<Vec<_>>>()?;
    let api = start_admin(Database::sqlite(&dir), &dir)?;
    let token = api.add_agent("bench-agent", SITE)?;
    let names: Vec<String> = (1..=videos.len()).map(|i| format!("gate{i}")).collect();
    let mounts: Vec<(&str, &std::path::Path)> =
        names.iter().map(String::as_str).zip(videos.iter().map(|v| v.as_path())).collect();
    let (_server, urls) = rtsp_server(&mounts)?;
    let mut runs = Vec::new();
    for &n in camera_counts {
        let run_dir = scratch(&format!("memory/{n}"))?;
        let cameras: Vec<Camera> = fixtures
            .iter()
            .zip(&urls)
            .take(n)
            .enumerate()
            .map(|(i, (fixture, url))| Camera {
                id: format!("gate{}", i + 1),
                url: url.clone(),
                fixture,
                restricted: false,
            })
            .collect();
        let ops = free_port();
        let mut agent = start_agent(&run_dir, &api, &token, SITE, &cameras, Some(ops))?;
        let (began, before) = (Instant::now(), frames_recognised(ops));
        std::thread::sleep(Duration::from_secs(seconds));
        let frames = frames_recognised(ops) - before;
        let fps_per_camera = frames / began.elapsed().as_secs_f64() / n as f64;
        let peak_rss_mb = agent.peak_rss()? as f64 / 1e6;
        agent.stop(Duration::from_secs(5));
        eprintln!("[memory] {n} cameras: peak RSS {peak_rss_mb:.0} MB, {fps_per_camera:.1} fps per camera");
        runs.push(MemoryRun { cameras: n, peak_rss_mb, fps_per_camera });
    }
    Ok(MemoryResults { seconds, runs })
}
