//! One event the admin API will never accept must not hold back the others.
//! Real processes on 127.0.0.1: the agent's outbox holds 1 000 good passages
//! (each with a face crop) and, among them, one whose "face crop" is not a
//! JPEG (refused for good: 400); the agent runs a
//! camera beside them. Every good event arrives, the bad one is set aside in
//! the quarantine with the API's reason, and one `event_refused` anomaly
//! says so.

mod common;

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::*;
use edge_agent::outbox::Outbox;
use wire::Direction;
use wire::events::{Event, EventBody, PassageEvent};

fn passage(person: Option<&str>, crop: &str) -> Event {
    Event::new(
        "agent-e2e",
        "site-e2e",
        "gate",
        EventBody::Passage(PassageEvent {
            direction: Direction::Entry,
            person_id: person.map(str::to_string),
            similarity: person.map(|_| 0.7),
            track: 1,
            crossed_at_ms: wire::time::now_ms(),
            face_quality: 0.8,
            verification: None,
            face_jpeg_b64: Some(crop.to_string()),
        }),
    )
}

#[test]
fn a_refused_event_is_set_aside_and_every_other_arrives() {
    let dir = scratch("poison").expect("a scratch folder");
    let f = fixture("s01_walk_in_720p");
    let mut api = AdminApi::new(&dir);
    let token = api.ready_for_agent(&f.dir).expect("the admin API ready for an agent");
    let cams = [Cam { id: "gate", url: f.video.display().to_string(), fixture: &f, extra: "" }];
    let config = agent_config(&dir, &api.url(), &token, &cams, "");

    // The backlog: 1 000 good passages with real face crops, one poison among them.
    let crop = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(f.dir.join("gallery/p01/1.jpg")).expect("a face photo"));
    let mut good = HashSet::new();
    let not_a_jpeg = base64::engine::general_purpose::STANDARD.encode(b"GIF89a this is no face crop");
    let bad = passage(None, &not_a_jpeg);
    let poison = bad.id.clone();
    {
        let outbox = Outbox::open(&dir.join("agent/outbox"), 1 << 30).expect("outbox");
        for i in 0..1000 {
            if i == 507 {
                outbox.push(&bad).expect("push");
            }
            let e = passage(None, &crop);
            outbox.push(&e).expect("push");
            good.insert(e.id.clone());
        }
    }

    let mut run = start_agent(&config, 120, "warn");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = run.child.try_wait().expect("wait") {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(180), "the agent did not drain its outbox:\n{}", run.text());
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "{}", run.text());

    let events = api.events().expect("stored events");
    let ids: HashSet<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    let missing = good.iter().filter(|id| !ids.contains(id.as_str())).count();
    assert_eq!(missing, 0, "every good event arrives");
    assert!(!ids.contains(poison.as_str()), "the poison event was stored");
    assert_eq!(passages_of(&events, Some("gate")).len(), 1000 + truth_of(&f).len(), "the camera's passages too");
    let refused = anomalies_of(&events, "event_refused");
    assert_eq!(refused.len(), 1, "one anomaly says so: {refused:?}");
    let detail = refused[0]["detail"].as_str().unwrap_or("");
    assert!(detail.contains(&poison) && detail.contains("not a JPEG"), "{detail}");

    let out = Command::new(agent_bin()).args(["quarantine", "--config"]).arg(&config).output().expect("quarantine");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["event"]["id"], poison.as_str());
    let reason = listed[0]["reason"].as_str().unwrap_or("");
    assert!(reason.contains("400") && reason.contains("not a JPEG"), "{reason}");
    let _ = std::fs::remove_dir_all(&dir);
}
