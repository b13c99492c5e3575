//! Section 6: live alert latency, from the moment a frame enters the edge
//! agent to the moment the alert it raised reaches a guard's SSE stream.
//!
//! Real processes on loopback: the fixture RTSP server streaming recorded
//! gates as live cameras, the admin API, the edge agent as shipped, and a
//! signed-in guard's `GET /api/v1/alerts/stream`. The gates are restricted
//! and only the watch-list scene's gallery is enrolled (p09 on the watch
//! list), so strangers raise `unknown_person` and p09 raises `watchlist` as
//! soon as recognised. The agent stamps each alert with the time the frame
//! it was raised on arrived (`created_ms`; for an alert raised ahead of the
//! crossing, the frame from which the face was recognisable); the guard's
//! clock is the same machine's.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde::{Deserialize, Serialize};

use crate::measure::Latency;
use crate::procs::{BenchAdmin, Camera, Database, looped, rtsp_server, scratch, start_admin, start_agent};

const SITE: &str = "bench";
const SCENES: [&str; 3] = ["s04_unknowns_720p", "s09_side_gate_720p", "s05_watchlist_720p"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveResults {
    pub cameras: usize,
    pub seconds: u64,
    pub latency_ms: Latency,
    /// The engine's wait after a crossing for a better face before deciding
    /// (stream time, before the frame that raises the alert), ms.
    pub emit_delay_ms: u64,
    /// `watchlist` alerts alone: from the frame that made the person
    /// recognisable to the guard's stream.
    #[serde(default)]
    pub watchlist_ms: Option<Latency>,
    /// Of those, raised ahead of the crossing (with their own face).
    #[serde(default)]
    pub watchlist_early: usize,
}

pub fn run(seconds: u64) -> Result<LiveResults> {
    let dir = scratch("live")?;
    let fixtures = SCENES.iter().map(|s| super::fixture(s)).collect::<Result<Vec<_>>>()?;
    let videos = fixtures
        .iter()
        .map(|f| looped(&f.video, (seconds / 10 + 2) as u32, &dir.join(format!("{}.mp4", f.name))))
        .collect::<Result<Vec<_>>>()?;
    let api = start_admin(Database::sqlite(&dir), &dir)?;
    let watchlist_scene = fixtures.iter().find(|f| f.name == "s05_watchlist_720p").context("watch-list scene")?;
    api.enrol_fixture(&watchlist_scene.dir)?;
    api.add_guard("guard", SITE)?;
    let token = api.add_agent("bench-agent", SITE)?;
    let cookie = api.guard_cookie("guard")?;
    let mut stream = api.alert_stream(&cookie)?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        while let Some((alert, arrived_ms)) = stream.next_alert() {
            if alert["type"] == "alert" && tx.send((alert, arrived_ms)).is_err() {
                return;
            }
        }
    });
    let mounts: Vec<(String, &std::path::Path)> =
        videos.iter().enumerate().map(|(i, v)| (format!("gate{}", i + 1), v.as_path())).collect();
    let mount_refs: Vec<(&str, &std::path::Path)> = mounts.iter().map(|(n, p)| (n.as_str(), *p)).collect();
    let (_server, urls) = rtsp_server(&mount_refs)?;
    let cameras: Vec<Camera> = fixtures
        .iter()
        .zip(urls)
        .enumerate()
        .map(|(i, (fixture, url))| Camera { id: format!("gate{}", i + 1), url, fixture, restricted: true })
        .collect();
    eprintln!("[live] {} cameras for {seconds} s", cameras.len());
    let mut agent = start_agent(&dir, &api, &token, SITE, &cameras, None)?;
    let until = Instant::now() + Duration::from_secs(seconds);
    let (mut latencies, mut watchlist, mut watchlist_early) = (Vec::new(), Vec::new(), 0);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        if let Ok((alert, arrived_ms)) = rx.recv_timeout(left)
            && let Some(created) = alert["created_ms"].as_i64()
        {
            let ms = (arrived_ms - created) as f64;
            latencies.push(ms);
            if alert["kind"] == "watchlist" {
                watchlist.push(ms);
                watchlist_early += usize::from(alert["face_event"] == alert["id"]);
            }
        }
    }
    agent.stop(Duration::from_secs(5));
    ensure!(!latencies.is_empty(), "no alert reached the guard in {seconds} s");
    let latency_ms = Latency::of(&latencies);
    eprintln!("[live] {} alerts: p50 {:.0} ms, p99 {:.0} ms", latency_ms.count, latency_ms.p50, latency_ms.p99);
    let watchlist_ms = (!watchlist.is_empty()).then(|| Latency::of(&watchlist));
    if let Some(w) = &watchlist_ms {
        eprintln!("[live] {} watch-list alerts ({watchlist_early} ahead of the line): p99 {:.0} ms", w.count, w.p99);
    }
    Ok(LiveResults {
        cameras: cameras.len(),
        seconds,
        latency_ms,
        emit_delay_ms: pipeline::tracking::passage::PassageConfig::default().emit_delay_ms,
        watchlist_ms,
        watchlist_early,
    })
}
