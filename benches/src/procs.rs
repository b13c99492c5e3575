//! The real binaries under measurement: starting them, talking to them,
//! reading their memory. Every failure says what to run to fix it.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

pub fn repo() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(Path::to_path_buf).unwrap_or(here)
}

/// A workspace binary built by `make build` (release).
pub fn binary(name: &str) -> Result<PathBuf> {
    let path = repo().join("target/release").join(name);
    ensure!(path.is_file(), "{} is missing: run `make build` first", path.display());
    Ok(path)
}

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A fresh working folder under `target/bench/`.
pub fn scratch(name: &str) -> Result<PathBuf> {
    let dir = repo().join("target/bench").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

pub fn now_ms() -> i64 {
    wire::time::now_ms()
}

/// A running child process whose output is collected line by line.
pub struct Running {
    name: String,
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
}

impl Running {
    pub fn start(name: &str, mut cmd: Command) -> Result<Running> {
        cmd.env("NO_COLOR", "1").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        let output: Arc<Mutex<Vec<String>>> = Arc::default();
        let streams: [Option<Box<dyn Read + Send>>; 2] = [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        ];
        for stream in streams.into_iter().flatten() {
            let sink = Arc::clone(&output);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                }
            });
        }
        Ok(Running { name: name.to_string(), child, output })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn lines(&self) -> Vec<String> {
        self.output.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits for an output line containing `needle`; fails with the output
    /// so far if the process exits or `limit` passes first.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> Result<String> {
        let until = Instant::now() + limit;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return Ok(line);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!("{} exited ({status}) before printing {needle:?}:\n{}", self.name, self.tail());
            }
            if Instant::now() >= until {
                bail!("{} did not print {needle:?} within {limit:?}:\n{}", self.name, self.tail());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn tail(&self) -> String {
        let lines = self.lines();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Peak resident memory so far (`VmHWM`), bytes.
    pub fn peak_rss(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .with_context(|| format!("no VmHWM in /proc/{}/status", self.pid()))?;
        Ok(kb * 1024)
    }

    /// SIGTERM, then SIGKILL if still running after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let until = Instant::now() + grace;
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fixture RTSP server (`--shared`: live cameras) serving `name=video` mounts.
pub fn rtsp_server(mounts: &[(&str, &Path)]) -> Result<(Running, Vec<String>)> {
    let mut cmd = Command::new(binary("fixture-rtsp-server")?);
    cmd.args(["--port", &free_port()?.to_string(), "--shared"]);
    for (name, video) in mounts {
        cmd.arg(format!("{name}={}", video.display()));
    }
    let mut server = Running::start("fixture-rtsp-server", cmd)?;
    server.wait_for("rtsp://", Duration::from_secs(10))?;
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let urls: Vec<String> = server.lines().into_iter().filter(|l| l.starts_with("rtsp://")).collect();
        if urls.len() == mounts.len() {
            return Ok((server, urls));
        }
        ensure!(Instant::now() < until, "the RTSP server announced {} of {} mounts", urls.len(), mounts.len());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `video` repeated `times` over (stream copy, no re-encoding): a camera that
/// keeps streaming for the length of a measurement.
pub fn looped(video: &Path, times: u32, out: &Path) -> Result<PathBuf> {
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-stream_loop", &times.to_string(), "-i"])
        .arg(video)
        .args(["-c", "copy"])
        .arg(out)
        .status()
        .context("ffmpeg (run `make setup`)")?;
    ensure!(status.success(), "ffmpeg could not loop {}", video.display());
    Ok(out.to_path_buf())
}

/// A database for the admin API: a SQLite file, or a PostgreSQL database
/// made for the measurement and dropped after it.
pub enum Database {
    Sqlite { url: String },
    Postgres { url: String, name: String },
}

const PG_ROLE: &str = "postgres://gatewatch:gatewatch@127.0.0.1:5432";

fn psql(sql: &str) -> Result<()> {
    let out = Command::new("psql")
        .env("PGPASSWORD", "gatewatch")
        .args(["-q", "-h", "127.0.0.1", "-U", "gatewatch", "-d", "gatewatch", "-c", sql])
        .output()
        .context("psql (run `make setup`)")?;
    ensure!(
        out.status.success(),
        "PostgreSQL refused `{sql}`: {} (run `scripts/setup.sh postgres`)",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// A plain DROP, retried while killed clients' backends wind down:
/// `WITH (FORCE)` would have to terminate autovacuum's worker too, which the
/// non-superuser role may not.
fn drop_database(name: &str) -> Result<()> {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        match psql(&format!("DROP DATABASE IF EXISTS {name}")) {
            Err(_) if Instant::now() < until => std::thread::sleep(Duration::from_millis(250)),
            done => return done,
        }
    }
}

impl Database {
    pub fn sqlite(dir: &Path) -> Database {
        Database::Sqlite { url: format!("sqlite:{}", dir.join("admin.db").display()) }
    }

    pub fn postgres(tag: &str) -> Result<Database> {
        let name = format!("gw_bench_{tag}_{}", std::process::id());
        drop_database(&name)?;
        psql(&format!("CREATE DATABASE {name}"))?;
        Ok(Database::Postgres { url: format!("{PG_ROLE}/{name}"), name })
    }

    pub fn url(&self) -> &str {
        match self {
            Database::Sqlite { url } | Database::Postgres { url, .. } => url,
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Database::Sqlite { .. } => "SQLite",
            Database::Postgres { .. } => "PostgreSQL",
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres { name, .. } = self {
            let _ = drop_database(name);
        }
    }
}

pub fn http() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(30))).build(),
    )
}

/// A running admin API and the command line beside it.
pub struct AdminApi {
    pub db: Database,
    pub url: String,
    pub server: Running,
}

pub const GUARD_PASSWORD: &str = "bench-guard-password";

impl AdminApi {
    pub fn start(db: Database, dir: &Path) -> Result<AdminApi> {
        let port = free_port()?;
        let mut cmd = Command::new(binary("admin-api")?);
        cmd.current_dir(repo())
            .args(["--db", db.url(), "serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(dir.join("admin-data"));
        let mut server = Running::start("admin-api", cmd)?;
        server.wait_for("admin API listening", Duration::from_secs(30))?;
        Ok(AdminApi { db, url: format!("http://127.0.0.1:{port}"), server })
    }

    pub fn cli(&self, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
        let mut cmd = Command::new(binary("admin-api")?);
        cmd.current_dir(repo()).args(["--db", self.db.url()]).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().context("admin-api")?;
        ensure!(out.status.success(), "admin-api {args:?}: {}", String::from_utf8_lossy(&out.stderr).trim());
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Enrols a fixture's gallery (the photos kept in `dir`'s admin data).
    pub fn enrol_fixture(&self, fixture: &Path, dir: &Path) -> Result<()> {
        let data = dir.join("admin-data");
        let (fixture, data) = (fixture.to_str().context("utf-8 path")?, data.to_str().context("utf-8 path")?);
        self.cli(&["enrol-fixture", fixture, "--data", data], &[])?;
        Ok(())
    }

    /// An edge agent's bearer token for `site`.
    pub fn add_agent(&self, id: &str, site: &str) -> Result<String> {
        Ok(self.cli(&["add-agent", "--id", id, "--site", site], &[])?.trim().to_string())
    }

    pub fn add_guard(&self, username: &str, site: &str) -> Result<()> {
        self.cli(
            &["create-user", "--username", username, "--role", "guard", "--sites", site],
            &[("GATEWATCH_PASSWORD", GUARD_PASSWORD)],
        )?;
        Ok(())
    }

    /// Signs in; the session cookie.
    pub fn login(&self, username: &str) -> Result<String> {
        let mut r = http()
            .post(&format!("{}/api/v1/auth/login", self.url))
            .send_json(json!({"username": username, "password": GUARD_PASSWORD}))?;
        ensure!(r.status() == 200, "login {username}: {}", r.body_mut().read_to_string().unwrap_or_default());
        r.headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|c| c.split(';').next())
            .map(str::to_string)
            .context("no session cookie")
    }

    /// Opens the live alert stream as a signed-in guard.
    pub fn alert_stream(&self, cookie: &str) -> Result<AlertStream> {
        let r = http()
            .get(&format!("{}/api/v1/alerts/stream", self.url))
            .header("Cookie", cookie)
            .config()
            .timeout_global(None)
            .build()
            .call()?;
        ensure!(r.status() == 200, "alert stream answered {}", r.status());
        Ok(AlertStream { reader: BufReader::new(Box::new(r.into_body().into_reader())) })
    }

    /// Posts a batch of events as an edge agent; the number acknowledged.
    pub fn ingest(&self, agent: &ureq::Agent, token: &str, events: &[Value]) -> Result<usize> {
        let mut r = agent
            .post(&format!("{}/api/v1/events", self.url))
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(events)?;
        let status = r.status();
        let body: Value = r.body_mut().read_json().unwrap_or(Value::Null);
        ensure!(status == 200, "ingest answered {status}: {body}");
        Ok(body["accepted"].as_array().map_or(0, Vec::len))
    }

    /// Number of events stored.
    pub fn stored_events(&self) -> Result<usize> {
        Ok(self.cli(&["events"], &[])?.lines().filter(|l| !l.trim().is_empty()).count())
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
    let text = http()
        .get(&format!("http://127.0.0.1:{ops_port}/metrics"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .unwrap_or_default();
    let mut out: std::collections::HashMap<String, (f64, f64)> = std::collections::HashMap::new();
    for line in text.lines() {
        let (name, rest) = line.split_once('{').unwrap_or(("", ""));
        let Some((labels, value)) = rest.split_once("} ") else { continue };
        let Some(camera) = labels.strip_prefix("camera=\"").and_then(|l| l.split('"').next()) else { continue };
        let Ok(v) = value.trim().parse::<f64>() else { continue };
        let entry = out.entry(camera.to_string()).or_default();
        match name {
            "gatewatch_agent_camera_frames_total" => entry.0 = v,
            "gatewatch_agent_camera_dropped_frames_total" => entry.1 = v,
            _ => {}
        }
    }
    out
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
) -> Result<Running> {
    let mut text = format!(
        "[agent]\nid = \"bench-agent\"\nsite = \"{site}\"\ndata_dir = \"{}\"\n\n\
         [admin_api]\nurl = \"{}\"\ntoken = \"{token}\"\n\n[ops]\nlisten = \"{}\"\n",
        dir.join("agent-data").display(),
        api.url,
        ops_port.map(|p| format!("127.0.0.1:{p}")).unwrap_or_default()
    );
    for c in cameras {
        let l = c.fixture.camera.line;
        text += &format!(
            "\n[[camera]]\nid = \"{}\"\ngate = \"{}\"\nurl = \"{}\"\nrestricted = {}\n\
             line = {{ a = [{}, {}], b = [{}, {}], inside = \"{}\" }}\n",
            c.id,
            c.id,
            c.url,
            c.restricted,
            l.a[0],
            l.a[1],
            l.b[0],
            l.b[1],
            format!("{:?}", l.inside).to_lowercase(),
        );
    }
    let config = dir.join("agent.toml");
    std::fs::write(&config, text)?;
    let mut cmd = Command::new(binary("edge-agent")?);
    cmd.current_dir(repo()).env("RUST_LOG", "info").args(["run", "--drain-secs", "2", "--config"]).arg(&config);
    let mut agent = Running::start("edge-agent", cmd)?;
    agent.wait_for("camera connected", Duration::from_secs(30))?;
    Ok(agent)
}
