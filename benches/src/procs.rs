//! The real binaries under measurement, from the test kit (`testkit`), and
//! what only the bench does with them: looped videos, guards on the alert
//! stream, ingest as an agent, per-camera frame counters.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, ensure};
use serde_json::Value;

pub use testkit::admin::AdminApi;
pub use testkit::postgres::Database;
pub use testkit::rtsp::looped;
pub use testkit::{Proc, free_port, http, repo};

pub fn now_ms() -> i64 {
    wire::time::now_ms()
}

/// A fresh working folder under `target/bench/` (kept after the run, beside
/// the results, to look into).
pub fn scratch(name: &str) -> Result<PathBuf> {
    testkit::fresh_folder(&repo().join("target/bench").join(name))
}

/// The fixture RTSP server (`--shared`: live cameras) serving `name=video` mounts.
pub fn rtsp_server(mounts: &[(&str, &Path)]) -> Result<(Proc, Vec<String>)> {
    let server = testkit::rtsp::RtspServer::start(free_port(), &["--shared"], mounts)?;
    Ok((server.proc, server.urls))
}

pub const GUARD_PASSWORD: &str = "bench-guard-password";

/// An admin API on `db`, data in `dir`, served.
pub fn start_admin(db: Database, dir: &Path) -> Result<AdminApi> {
    let mut api = AdminApi::on(db, dir);
    api.start()?;
    Ok(api)
}

/// What the bench asks of an admin API beyond the test kit's.
pub trait BenchAdmin {
    fn add_guard(&self, username: &str, site: &str) -> Result<()>;
    /// Signs a guard in; the session cookie.
    fn guard_cookie(&self, username: &str) -> Result<String>;
    /// Opens the live alert stream as a signed-in guard.
    fn alert_stream(&self, cookie: &str) -> Result<AlertStream>;
    /// Posts a batch of events as an edge agent; the number acknowledged.
    fn ingest(&self, agent: &ureq::Agent, token: &str, events: &[Value]) -> Result<usize>;
    /// Number of events stored.
    fn stored_events(&self) -> Result<usize>;
}

impl BenchAdmin for AdminApi {
    fn add_guard(&self, username: &str, site: &str) -> Result<()> {
        self.create_user(username, "guard", site, GUARD_PASSWORD)
    }

    fn guard_cookie(&self, username: &str) -> Result<String> {
        Ok(self.login(username, GUARD_PASSWORD)?.cookie)
    }

    fn alert_stream(&self, cookie: &str) -> Result<AlertStream> {
        let r = http()
            .get(&format!("{}/api/v1/alerts/stream", self.url()))
            .header("Cookie", cookie)
            .config()
            .timeout_global(None)
            .build()
            .call()?;
        ensure!(r.status() == 200, "alert stream answered {}", r.status());
        Ok(AlertStream { reader: BufReader::new(Box::new(r.into_body().into_reader())) })
    }

    fn ingest(&self, agent: &ureq::Agent, token: &str, events: &[Value]) -> Result<usize> {
        let mut r = agent
            .post(&format!("{}/api/v1/events", self.url()))
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(events)?;
        let status = r.status();
        let body: Value = r.body_mut().read_json().unwrap_or(Value::Null);
        ensure!(status == 200, "ingest answered {status}: {body}");
        Ok(body["accepted"].as_array().map_or(0, Vec::len))
    }

    fn stored_events(&self) -> Result<usize> {
        Ok(self.cli(&["events"])?.lines().filter(|l| !l.trim().is_empty()).count())
    }
}

/// Server-sent alerts as a guard's browser receives them.
pub struct AlertStream {
    reader: BufReader<Box<dyn Read + Send>>,
}

impl AlertStream {
    /// The next alert's JSON and the wall-clock millisecond it arrived;
    /// `None` when the stream closed.
    pub fn next_alert(&mut self) -> Option<(Value, i64)> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if let Some(data) = line.strip_prefix("data:") {
                let at = now_ms();
                if let Ok(v) = serde_json::from_str::<Value>(data.trim()) {
                    return Some((v, at));
                }
            }
        }
    }
}

/// One camera of an edge agent's configuration.
pub struct Camera<'a> {
    pub id: String,
    pub url: String,
    pub fixture: &'a pipeline::eval::fixture::Fixture,
    pub restricted: bool,
}

/// Per camera of a running agent: (frames recognised, frames dropped), from
/// its `/metrics` on `ops_port` (empty when it does not answer).
pub fn camera_counters(ops_port: u16) -> std::collections::HashMap<String, (f64, f64)> {
    let page = testkit::metrics::fetch(&format!("http://127.0.0.1:{ops_port}/metrics"));
    let frames = testkit::metrics::by_label(&page, "gatewatch_agent_camera_frames_total", "camera");
    let dropped = testkit::metrics::by_label(&page, "gatewatch_agent_camera_dropped_frames_total", "camera");
    let cameras: std::collections::BTreeSet<&String> = frames.keys().chain(dropped.keys()).collect();
    cameras
        .into_iter()
        .map(|c| (c.clone(), (frames.get(c).copied().unwrap_or(0.0), dropped.get(c).copied().unwrap_or(0.0))))
        .collect()
}

/// Writes an agent configuration (site `site`, ops endpoint on `ops_port`
/// if given) and starts `edge-agent run` with it.
pub fn start_agent(
    dir: &Path,
    api: &AdminApi,
    token: &str,
    site: &str,
    cameras: &[Camera],
    ops_port: Option<u16>,
) -> Result<Proc> {
    let data_dir = dir.join("agent-data");
    let api_url = api.url();
    let agent = testkit::agent::Agent {
        id: "bench-agent",
        site,
        data_dir: &data_dir,
        api_url: &api_url,
        token,
        ops_port,
        batch_size: None,
    };
    let cameras: Vec<_> = cameras
        .iter()
        .map(|c| {
            let l = c.fixture.camera.line;
            testkit::agent::Camera {
                id: c.id.clone(),
                url: c.url.clone(),
                line: (l.a, l.b, format!("{:?}", l.inside).to_lowercase()),
                extra: format!("restricted = {}", c.restricted),
            }
        })
        .collect();
    let config = testkit::agent::write_config(dir, &agent, &cameras, "")?;
    let mut agent = testkit::agent::start(&config, 2, "info")?;
    agent.wait_for("camera connected", Duration::from_secs(30))?;
    Ok(agent)
}
