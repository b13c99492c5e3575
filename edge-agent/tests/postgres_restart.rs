//! PostgreSQL restarts under the admin API while a camera streams and a guard
//! watches live alerts. The API answers 503 meanwhile, the agent keeps its
//! events and retries; afterwards every stored event is in the database
//! exactly once, the passages are exactly the truth's, and alerts raised after
//! the restart still reach the guard (the API's NOTIFY listener reconnects).

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const PG_VERSION: &str = "15";

fn cluster(action: &str) {
    let mut args = vec![PG_VERSION, "main", action];
    if action == "stop" {
        args.extend(["-m", "fast"]);
    }
    let out = Command::new("pg_ctlcluster").args(&args).output().expect("pg_ctlcluster (PostgreSQL from `make setup`)");
    assert!(out.status.success(), "pg_ctlcluster {action}: {}", String::from_utf8_lossy(&out.stderr));
}

fn pg_ready() -> bool {
    Command::new("pg_isready").args(["-q", "-h", "127.0.0.1", "-p", "5432"]).status().is_ok_and(|s| s.success())
}

#[test]
fn a_postgresql_restart_loses_nothing_and_alerts_resume() {
    let dir = scratch("pg-restart").expect("a scratch folder");
    let f = fixture("s04_unknowns_720p");
    let mut api = AdminApi::on(Database::postgres("pg_restart").expect("a fresh PostgreSQL database"), &dir);
    let token = api.add_agent("agent-e2e", "site-e2e").expect("an agent token");
    api.enrol_fixture(&f.dir).expect("the fixture enrolled");
    api.create_user("guard1", "guard", "site-e2e", "guard1-password-123").expect("create-user");
    api.start().expect("the admin API starts");

    // A guard on the live alert stream.
    let http = ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).build());
    let login = http
        .post(&format!("{}/api/v1/auth/login", api.url()))
        .send_json(serde_json::json!({"username": "guard1", "password": "guard1-password-123"}))
        .expect("login");
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_string();
    let stream =
        http.get(&format!("{}/api/v1/alerts/stream", api.url())).header("Cookie", &cookie).call().expect("stream");
    let seen: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let sink = Arc::clone(&seen);
    std::thread::spawn(move || {
        for line in BufReader::new(stream.into_body().into_reader()).lines().map_while(Result::ok) {
            if let Some(data) = line.strip_prefix("data:")
                && let Ok(v) = serde_json::from_str::<serde_json::Value>(data.trim())
                && let Some(id) = v["id"].as_str()
            {
                sink.lock().expect("seen").push((Instant::now(), id.to_string()));
            }
        }
    });

    let rtsp = RtspServer::start(0, &["--shared", "--once"], &[("gate1", &f.video)]).expect("the RTSP server starts");
    let cams = [Cam { id: "gate1", url: rtsp.urls[0].clone(), fixture: &f, extra: "restricted = true" }];
    let config = agent_config(&dir, &api.url(), &token, &cams, "");
    let mut agent = start_agent(&config, 60, "info,edge_agent::store=debug");
    let t0 = Instant::now();
    while api.events().expect("stored events").is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(30), "nothing delivered:\n{}", agent.text());
        std::thread::sleep(Duration::from_millis(100));
    }
    cluster("stop");
    std::thread::sleep(Duration::from_secs(4));
    let health = http.get(&format!("{}/api/v1/alerts", api.url())).header("Cookie", &cookie).call().expect("get");
    let status_while_down = health.status().as_u16();
    cluster("start");
    let back = Instant::now();
    while !pg_ready() {
        assert!(back.elapsed() < Duration::from_secs(30), "PostgreSQL did not come back");
        std::thread::sleep(Duration::from_millis(100));
    }
    let restarted = Instant::now();

    let stream_ends = Duration::from_secs_f64(f.camera.frames as f64 / f.camera.fps as f64 + 3.0);
    loop {
        let stored: HashSet<String> =
            api.events().expect("stored events").iter().filter_map(|e| e["id"].as_str().map(str::to_string)).collect();
        if t0.elapsed() > stream_ends && stored_ids(&agent).is_subset(&stored) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "events never delivered:\n{}", agent.text());
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(agent.terminate(Duration::from_secs(20)), "clean stop:\n{}", agent.text());
    std::thread::sleep(Duration::from_secs(1));

    let events = api.events().expect("stored events");
    let ids = agent_event_ids(&events);
    assert_the_api_holds_what_was_stored(&events, &agent, &dir.join("agent"));
    assert_eq!(passages_of(&events, Some("gate1")), truth_of(&f), "exactly the truth's passages");
    assert_eq!(status_while_down, 503, "the API says it is unavailable while its database is");
    let alert_ids: HashSet<String> =
        anomalies_of(&events, "unknown_person").iter().filter_map(|a| a["id"].as_str().map(str::to_string)).collect();
    let seen = seen.lock().expect("seen").clone();
    let after_restart: Vec<&String> = seen.iter().filter(|(t, _)| *t > restarted).map(|(_, id)| id).collect();
    assert!(
        after_restart.iter().any(|id| alert_ids.contains(*id)),
        "an alert stored after the restart reached the guard: seen {} alerts, {} after the restart; {} stored; API log:\n{}",
        seen.len(),
        after_restart.len(),
        alert_ids.len(),
        api.server.as_ref().map(|p| p.text()).unwrap_or_default()
    );
    eprintln!(
        "PostgreSQL down 4 s: API answered {status_while_down}; {} events stored once, passages = truth; \
         {} alerts, {} reached the guard after the restart",
        ids.len(),
        alert_ids.len(),
        after_restart.len()
    );
    api.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
