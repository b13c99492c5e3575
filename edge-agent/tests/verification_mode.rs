//! Verification mode (exam and driving-test centres), real processes on
//! 127.0.0.1: the admin API says who is expected at a `verify` camera; the
//! passage is `verified` when that person walks through and
//! `verification_failed` (with an alert) when someone else does — a 1:1
//! check that names nobody else.

mod common;

use std::process::Command;

use common::*;

fn run_agent(config: &std::path::Path) {
    let out = Command::new(agent_bin())
        .current_dir(repo())
        .env("RUST_LOG", "warn")
        .args(["run", "--drain-secs", "30", "--config"])
        .arg(config)
        .output()
        .expect("agent");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_expected_person_is_verified_and_anyone_else_fails() {
    let dir = scratch("verify").expect("a scratch folder");
    let f = fixture("s01_walk_in_720p"); // p01 walks in
    let mut api = AdminApi::new(&dir);
    let token = api.ready_for_agent(&f.dir).expect("the admin API ready for an agent");
    let cams = [Cam { id: "exam1", url: f.video.display().to_string(), fixture: &f, extra: "mode = \"verify\"" }];
    let config = agent_config(&dir, &api.url(), &token, &cams, "");

    api.cli(&["expect", "--site", "site-e2e", "--camera", "exam1", "--person", "p01"]).expect("admin-api");
    run_agent(&config);
    let events = api.events().expect("stored events");
    let passages: Vec<_> = events.iter().filter(|e| e["type"] == "passage").collect();
    assert_eq!(passages.len(), 1, "{events:?}");
    assert_eq!(passages[0]["verification"]["outcome"], "verified", "{:?}", passages[0]);
    assert_eq!(passages[0]["verification"]["expected_person"], "p01");
    assert_eq!(passages[0]["person_id"], "p01");
    assert!(anomalies_of(&events, "verification_failed").is_empty());

    // Someone else is expected: the same person now fails, and is not named.
    api.cli(&["expect", "--site", "site-e2e", "--camera", "exam1", "--person", "p02"]).expect("admin-api");
    run_agent(&config);
    let events = api.events().expect("stored events");
    let last =
        events.iter().filter(|e| e["type"] == "passage").max_by_key(|e| e["created_ms"].as_i64()).expect("passage");
    assert_eq!(last["verification"]["outcome"], "failed", "{last:?}");
    assert_eq!(last["verification"]["expected_person"], "p02");
    assert!(last["person_id"].is_null(), "a failed 1:1 check names nobody: {last:?}");
    let failed = anomalies_of(&events, "verification_failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["passage_id"], last["id"]);
    assert_eq!(failed[0]["person_id"], "p02");

    // Nobody expected: the passage says so rather than guessing.
    api.cli(&["expect", "--site", "site-e2e", "--camera", "exam1"]).expect("admin-api");
    run_agent(&config);
    let events = api.events().expect("stored events");
    let last =
        events.iter().filter(|e| e["type"] == "passage").max_by_key(|e| e["created_ms"].as_i64()).expect("passage");
    assert_eq!(last["verification"]["outcome"], "no_expectation", "{last:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
