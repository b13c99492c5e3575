//! Edge agent → admin API, real processes on 127.0.0.1: the admin API is down
//! while the agent recognises passages, comes up later, and every passage
//! arrives exactly once; a re-sent batch is stored once.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pipeline::fixture::Fixture;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The admin-api binary, next to this test's executable's profile folder.
fn admin_api_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    let bin = exe.parent().and_then(|d| d.parent()).expect("profile dir").join("admin-api");
    assert!(bin.is_file(), "{} missing: run `cargo build --release --workspace`", bin.display());
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn admin(db: &str, args: &[&str]) -> String {
    let out = Command::new(admin_api_bin()).args(["--db", db]).args(args).output().expect("admin-api");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write_config(dir: &Path, port: u16, token: &str, fixture: &Fixture) -> PathBuf {
    let l = fixture.camera.line;
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\nid = \"agent-d\"\nsite = \"site-d\"\ndata_dir = \"{}\"\n\
             [admin_api]\nurl = \"http://127.0.0.1:{port}\"\ntoken = \"{token}\"\n\
             [[camera]]\nid = \"gate\"\ngate = \"g\"\nurl = \"{}\"\n\
             line = {{ a = [{}, {}], b = [{}, {}], inside = \"{}\" }}\n",
            dir.join("agent").display(),
            fixture.video.display(),
            l.a[0],
            l.a[1],
            l.b[0],
            l.b[1],
            format!("{:?}", l.inside).to_lowercase(),
        ),
    )
    .expect("config");
    config
}

#[test]
fn passages_recognised_while_the_api_is_down_arrive_exactly_once_when_it_returns() {
    let dir = std::env::temp_dir().join(format!("gatewatch-delivery-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp");
    let db = format!("sqlite:{}", dir.join("admin.db").display());
    let token = admin(&db, &["add-agent", "--id", "agent-d", "--site", "site-d"]).trim().to_string();
    let fixture_dir = repo().join("fixtures/s04_unknowns_720p");
    let fixture = Fixture::open(&fixture_dir).expect("fixture (run `make fixtures`)");
    let port = free_port();
    let config = write_config(&dir, port, &token, &fixture);
    // The admin API holds the gallery (its next sync must not take the
    // people away); the agent's cache was filled before the API went down.
    admin(&db, &["enrol-fixture", fixture_dir.to_str().expect("utf8 path")]);
    let agent = env!("CARGO_BIN_EXE_edge-agent");
    let enrol =
        Command::new(agent).args(["enrol-fixture", "--config"]).arg(&config).arg(&fixture_dir).output().expect("enrol");
    assert!(enrol.status.success(), "{}", String::from_utf8_lossy(&enrol.stderr));

    // The agent starts while nothing listens on the API port.
    let mut run = Command::new(agent)
        .env("RUST_LOG", "warn")
        .args(["run", "--drain-secs", "90", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("agent");
    std::thread::sleep(Duration::from_secs(8));
    assert!(run.try_wait().expect("wait").is_none(), "the agent keeps running while the API is down");
    let _api = Killed(
        Command::new(admin_api_bin())
            .args(["--db", &db, "serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(dir.join("admin"))
            .stderr(Stdio::null())
            .spawn()
            .expect("api"),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(s) = run.try_wait().expect("wait") {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "agent did not finish delivering");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success());

    let all: Vec<serde_json::Value> =
        admin(&db, &["events"]).lines().map(|l| serde_json::from_str(l).expect("event json")).collect();
    let stored: Vec<&serde_json::Value> = all.iter().filter(|e| e["type"] == "passage").collect();
    // Strangers at an unrestricted gate, entries seconds apart: no rule fires.
    assert_eq!(all.len(), stored.len(), "no anomaly expected in this scene: {all:?}");
    let mut got: Vec<(Option<String>, String)> = stored
        .iter()
        .map(|e| (e["person_id"].as_str().map(str::to_string), e["direction"].as_str().unwrap_or("").to_string()))
        .collect();
    let mut want: Vec<(Option<String>, String)> =
        fixture.truth.passages.iter().map(|t| (t.person.clone(), t.direction.as_str().to_string())).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "every passage arrived once, with the right person and direction");
    let crops = std::fs::read_dir(dir.join("admin/crops")).expect("crops").count();
    assert_eq!(crops, stored.len(), "each passage's face crop is on disk");

    // Re-sending an already stored event is acknowledged and changes nothing.
    let first = serde_json::to_string(&vec![&stored[0]]).expect("json");
    let ack: serde_json::Value = ureq::post(&format!("http://127.0.0.1:{port}/api/v1/events"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(first)
        .expect("post")
        .body_mut()
        .read_json()
        .expect("ack");
    assert_eq!(ack["accepted"][0], stored[0]["id"]);
    assert_eq!(admin(&db, &["events"]).lines().count(), all.len(), "no duplicate");
    let _ = std::fs::remove_dir_all(&dir);
}
