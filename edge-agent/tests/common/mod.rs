//! Real processes on 127.0.0.1 for the edge agent's end-to-end tests: the
//! admin API, the fixture RTSP server and the agent, each started from the
//! binaries `cargo build --workspace` made, each killed when dropped.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipeline::eval::fixture::Fixture;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A workspace binary next to this test's executable's profile folder.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    let bin = exe.parent().and_then(|d| d.parent()).expect("profile dir").join(name);
    assert!(bin.is_file(), "{} missing: run `cargo build --release --workspace`", bin.display());
    bin
}

pub fn agent_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_edge-agent"))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

pub fn fixture(name: &str) -> Fixture {
    Fixture::open(&repo().join("fixtures").join(name)).expect("fixture (run `make fixtures`)")
}

/// A fresh scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gatewatch-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp");
    dir
}

/// A child process whose stderr lines are collected (with arrival times);
/// SIGKILLed when dropped.
pub struct Proc {
    pub child: Child,
    pub lines: Arc<Mutex<Vec<(Instant, String)>>>,
    /// Output streams read to their end (the process closed them).
    streams_ended: Arc<std::sync::atomic::AtomicUsize>,
    streams: usize,
}

impl Proc {
    pub fn spawn(mut cmd: Command) -> Proc {
        cmd.env("NO_COLOR", "1").stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn");
        let lines: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
        let streams_ended: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let mut streams = 0;
        for stream in [
            child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let sink = Arc::clone(&lines);
            let ended = Arc::clone(&streams_ended);
            streams += 1;
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    sink.lock().expect("lines").push((Instant::now(), line));
                }
                ended.fetch_add(1, std::sync::atomic::Ordering::Release);
            });
        }
        Proc { child, lines, streams_ended, streams }
    }

    /// Waits until a line containing `needle` has arrived after `after`; its arrival time.
    pub fn wait_line(&self, needle: &str, after: Instant, limit: Duration) -> Option<Instant> {
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Some((t, _)) =
                self.lines.lock().expect("lines").iter().find(|(t, l)| *t >= after && l.contains(needle))
            {
                return Some(*t);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn text(&self) -> String {
        self.lines.lock().expect("lines").iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join("\n")
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait (at most `limit`) for a clean exit.
    pub fn terminate(&mut self, limit: Duration) -> bool {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let until = Instant::now() + limit;
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Its last lines may still be in the pipe: read them all, so
                // what a test parses from the log after a stop is complete.
                while self.streams_ended.load(std::sync::atomic::Ordering::Acquire) < self.streams
                    && Instant::now() < until
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The admin API: one database, served on a port of its own.
pub struct AdminApi {
    pub db: String,
    pub data: PathBuf,
    pub port: u16,
    pub server: Option<Proc>,
}

impl AdminApi {
    pub fn new(dir: &Path) -> AdminApi {
        AdminApi {
            db: format!("sqlite:{}", dir.join("admin.db").display()),
            data: dir.join("admin"),
            port: free_port(),
            server: None,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs an admin-api command against the database; its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out =
            Command::new(workspace_bin("admin-api")).args(["--db", &self.db]).args(args).output().expect("admin-api");
        assert!(out.status.success(), "admin-api {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Enrols a fixture's gallery, photos kept in this API's data folder.
    pub fn enrol_fixture(&self, fixture: &Path) -> String {
        let (dir, data) = (fixture.to_str().expect("utf8"), self.data.to_str().expect("utf8"));
        self.cli(&["enrol-fixture", dir, "--data", data])
    }

    pub fn start(&mut self) {
        let mut cmd = Command::new(workspace_bin("admin-api"));
        cmd.args(["--db", &self.db, "serve", "--listen", &format!("127.0.0.1:{}", self.port), "--data"])
            .arg(&self.data);
        let p = Proc::spawn(cmd);
        p.wait_line("admin API listening", Instant::now() - Duration::from_secs(1), Duration::from_secs(20))
            .expect("admin API started");
        self.server = Some(p);
    }

    pub fn stop(&mut self) {
        self.server = None;
    }

    /// Every stored event, as JSON.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.cli(&["events"]).lines().map(|l| serde_json::from_str(l).expect("event json")).collect()
    }
}

/// The fixture RTSP server serving NAME=VIDEO mounts.
pub struct RtspServer {
    pub proc: Proc,
    pub urls: Vec<String>,
}

impl RtspServer {
    pub fn start(port: u16, flags: &[&str], mounts: &[(&str, &Path)]) -> RtspServer {
        let mut cmd = Command::new(workspace_bin("fixture-rtsp-server"));
        cmd.arg("--port").arg(port.to_string()).args(flags);
        for (name, path) in mounts {
            cmd.arg(format!("{name}={}", path.display()));
        }
        let proc = Proc::spawn(cmd);
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let urls: Vec<String> = proc
                .lines
                .lock()
                .expect("lines")
                .iter()
                .filter(|(_, l)| l.starts_with("rtsp://"))
                .map(|(_, l)| l.clone())
                .collect();
            if urls.len() == mounts.len() {
                return RtspServer { proc, urls };
            }
            assert!(Instant::now() < until, "RTSP server did not start: {}", proc.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One camera of an agent configuration.
pub struct Cam<'a> {
    pub id: &'a str,
    pub url: String,
    pub fixture: &'a Fixture,
    /// Extra TOML lines for this camera (mode, restricted, ...).
    pub extra: &'a str,
}

/// Writes an agent configuration; `extra` is appended (more sections).
pub fn agent_config(dir: &Path, api_url: &str, token: &str, cams: &[Cam], extra: &str) -> PathBuf {
    let mut text = format!(
        "[agent]\nid = \"agent-e2e\"\nsite = \"site-e2e\"\ndata_dir = \"{}\"\n\
         [admin_api]\nurl = \"{api_url}\"\ntoken = \"{token}\"\nbatch_size = 20\n",
        dir.join("agent").display()
    );
    for c in cams {
        let l = c.fixture.camera.line;
        text += &format!(
            "[[camera]]\nid = \"{}\"\ngate = \"{}\"\nurl = \"{}\"\n\
             line = {{ a = [{}, {}], b = [{}, {}], inside = \"{}\" }}\n{}\n",
            c.id,
            c.id,
            c.url,
            l.a[0],
            l.a[1],
            l.b[0],
            l.b[1],
            format!("{:?}", l.inside).to_lowercase(),
            c.extra
        );
    }
    if !extra.contains("[ops]") {
        text += "[ops]\nlisten = \"\"\n";
    }
    text += extra;
    let path = dir.join("agent.toml");
    std::fs::write(&path, text).expect("config");
    path
}

/// `edge-agent run` with this configuration.
pub fn start_agent(config: &Path, drain_secs: u64, log: &str) -> Proc {
    let mut cmd = Command::new(agent_bin());
    cmd.current_dir(repo())
        .env("RUST_LOG", log)
        .args(["run", "--drain-secs", &drain_secs.to_string(), "--config"])
        .arg(config);
    Proc::spawn(cmd)
}

/// (person, direction) of passage events, sorted — the multiset to compare with the truth.
pub fn passages_of(events: &[serde_json::Value], camera: Option<&str>) -> Vec<(Option<String>, String)> {
    let mut v: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "passage" && camera.is_none_or(|c| e["camera"] == c))
        .map(|e| (e["person_id"].as_str().map(str::to_string), e["direction"].as_str().unwrap_or("").to_string()))
        .collect();
    v.sort();
    v
}

pub fn truth_of(f: &Fixture) -> Vec<(Option<String>, String)> {
    let mut v: Vec<_> = f.truth.passages.iter().map(|t| (t.person.clone(), t.direction.as_str().to_string())).collect();
    v.sort();
    v
}

pub fn anomalies_of(events: &[serde_json::Value], kind: &str) -> Vec<serde_json::Value> {
    events.iter().filter(|e| e["type"] == "anomaly" && e["kind"] == kind).cloned().collect()
}

/// Ids of the events an agent run logged as durably stored (needs
/// `edge_agent::store=debug` in its log filter).
pub fn stored_ids(agent: &Proc) -> std::collections::HashSet<String> {
    logged_values(agent, "event stored in the outbox", "event").into_iter().collect()
}

/// The value of `field=` in each of a process's log lines with `message`.
fn logged_values(agent: &Proc, message: &str, field: &str) -> Vec<String> {
    let key = format!("{field}=");
    agent
        .text()
        .lines()
        .filter(|l| l.contains(message))
        .filter_map(|l| l.split(key.as_str()).nth(1)?.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Ids of the events in the admin API that an agent sent (not the ones the
/// API raises itself about an agent's silence).
pub fn agent_event_ids(events: &[serde_json::Value]) -> std::collections::HashSet<String> {
    events
        .iter()
        .filter(|e| !matches!(e["kind"].as_str(), Some("edge_offline" | "edge_online")))
        .filter_map(|e| e["id"].as_str().map(str::to_string))
        .collect()
}

/// Ids of the events still in a stopped agent's outbox (`DATA_DIR/outbox`):
/// stored, never acknowledged — on SIGTERM the agent stops at once and keeps
/// them for its next start.
pub fn left_in_outbox(data_dir: &Path) -> std::collections::HashSet<String> {
    let outbox = edge_agent::outbox::Outbox::open(&data_dir.join("outbox"), 1 << 30).expect("the outbox opens");
    outbox.peek(usize::MAX).expect("the outbox reads").into_iter().map(|p| p.event.id).collect()
}

/// After a stopped agent's run: every event in the API from the agent was
/// logged as stored, and every stored event not left in its outbox arrived.
/// Returns the ids that were acknowledged (stored, and no longer in the outbox).
pub fn assert_the_api_holds_what_was_stored(
    events: &[serde_json::Value],
    agent: &Proc,
    data_dir: &Path,
) -> std::collections::HashSet<String> {
    let ids = agent_event_ids(events);
    let stored = stored_ids(agent);
    let left = left_in_outbox(data_dir);
    let acknowledged: std::collections::HashSet<String> = stored.difference(&left).cloned().collect();
    let never_stored: Vec<_> = ids.difference(&stored).collect();
    let missing: Vec<_> = acknowledged.difference(&ids).collect();
    assert!(
        !stored.is_empty() && never_stored.is_empty() && missing.is_empty(),
        "{} events stored, {} left in the outbox: in the API but never stored {never_stored:?}, \
         acknowledged but not in the API {missing:?}:\n{}",
        stored.len(),
        left.len(),
        agent.text()
    );
    acknowledged
}

/// How many events the agent's sender says the admin API acknowledged (and so
/// were removed from the outbox), over all its passes (needs
/// `edge_agent::sender=debug` in its log filter).
pub fn acknowledged_total(agent: &Proc) -> usize {
    logged_values(agent, "batch sent", "acknowledged").iter().filter_map(|n| n.parse::<usize>().ok()).sum()
}

/// Waits until the admin API holds exactly the events the agent logged as
/// stored — none missing, none the agent never stored — and returns how many.
/// Fails if the agent logged no stored event at all (its log filter needs
/// `edge_agent::store=debug`): an empty set would prove nothing.
pub fn every_stored_event_arrives_once(api: &AdminApi, agent: &Proc, limit: Duration) -> usize {
    let start = Instant::now();
    loop {
        let arrived = agent_event_ids(&api.events());
        let stored = stored_ids(agent);
        if !stored.is_empty() && arrived == stored {
            return stored.len();
        }
        if start.elapsed() > limit {
            let missing: Vec<_> = stored.difference(&arrived).collect();
            let extra: Vec<_> = arrived.difference(&stored).collect();
            panic!(
                "the admin API should hold exactly the {} events the agent stored; missing {missing:?}, \
                 never stored {extra:?}:\n{}",
                stored.len(),
                agent.text()
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Runs one SQL statement as the test role; `Err` carries PostgreSQL's words.
pub fn psql_on(db: &str, sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .env("PGPASSWORD", "gatewatch")
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "gatewatch", "-d", db, "-c", sql])
        .output()
        .map_err(|e| format!("psql (run `scripts/setup.sh postgres`): {e}"))?;
    if out.status.success() { Ok(()) } else { Err(format!("{sql}: {}", String::from_utf8_lossy(&out.stderr).trim())) }
}

/// A fresh, empty PostgreSQL database for one test.
pub fn fresh_database(name: &str) {
    drop_database(name);
    psql_on("gatewatch", &format!("CREATE DATABASE {name}")).unwrap_or_else(|e| panic!("{e}"));
}

/// Drops a test database once its last client has gone. A plain DROP, not
/// `WITH (FORCE)`: FORCE must be allowed to terminate every backend in the
/// database, autovacuum's worker included, which the (non-superuser) test role
/// is not — a plain DROP cancels autovacuum itself. A killed client's backend
/// takes a moment to notice, hence the retries. Cleanup never fails a test.
pub fn drop_database(name: &str) {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        match psql_on("gatewatch", &format!("DROP DATABASE IF EXISTS {name}")) {
            Ok(()) => return,
            Err(e) if Instant::now() >= until => {
                eprintln!("test database {name} left behind: {e}");
                return;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}
