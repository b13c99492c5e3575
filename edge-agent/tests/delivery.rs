//! Edge agent → admin API, real processes on 127.0.0.1: the admin API is down
//! while the agent recognises passages, comes up later, and every passage
//! arrives exactly once; a re-sent batch is stored once.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn passages_recognised_while_the_api_is_down_arrive_exactly_once_when_it_returns() {
    let dir = scratch("delivery").expect("a scratch folder");
    let f = fixture("s04_unknowns_720p");
    let mut api = AdminApi::new(&dir);
    let token = api.add_agent("agent-e2e", "site-e2e").expect("an agent token");
    // The admin API holds the gallery (its next sync must not take the
    // people away); the agent's cache was filled before the API went down.
    api.enrol_fixture(&f.dir).expect("the fixture enrolled");
    let cams = [Cam { id: "gate", url: f.video.display().to_string(), fixture: &f, extra: "" }];
    let config = agent_config(&dir, &api.url(), &token, &cams, "");
    let enrol =
        Command::new(agent_bin()).args(["enrol-fixture", "--config"]).arg(&config).arg(&f.dir).output().expect("enrol");
    assert!(enrol.status.success(), "{}", String::from_utf8_lossy(&enrol.stderr));

    // The agent starts while nothing listens on the API port.
    let mut run = start_agent(&config, 90, "warn");
    std::thread::sleep(Duration::from_secs(8));
    assert!(run.child.try_wait().expect("wait").is_none(), "the agent keeps running while the API is down");
    api.start().expect("the admin API starts");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = run.child.try_wait().expect("wait") {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "agent did not finish delivering");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "{}", run.text());

    let all = api.events().expect("stored events");
    let stored: Vec<&serde_json::Value> = all.iter().filter(|e| e["type"] == "passage").collect();
    // Strangers at an unrestricted gate, entries seconds apart: no rule fires.
    assert_eq!(all.len(), stored.len(), "no anomaly expected in this scene: {all:?}");
    assert_eq!(
        passages_of(&all, None),
        truth_of(&f),
        "every passage arrived once, with the right person and direction"
    );
    let crops = std::fs::read_dir(api.data.join("crops")).expect("crops").count();
    assert_eq!(crops, stored.len(), "each passage's face crop is on disk");

    // Re-sending an already stored event is acknowledged and changes nothing.
    let first = serde_json::to_string(&vec![&stored[0]]).expect("json");
    let ack: serde_json::Value = ureq::post(&format!("{}/api/v1/events", api.url()))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .send(first)
        .expect("post")
        .body_mut()
        .read_json()
        .expect("ack");
    assert_eq!(ack["accepted"][0], stored[0]["id"]);
    assert_eq!(api.events().expect("stored events").len(), all.len(), "no duplicate");
    let _ = std::fs::remove_dir_all(&dir);
}
