//! The gallery travels from the admin API to the edge by version, real
//! processes on 127.0.0.1: a fresh edge gets it whole; a deletion reaches
//! it as a delta; a visitor whose enrolment expires is dropped on time even
//! with the admin API unreachable. The edge holds embeddings and metadata
//! only.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use edge_agent::outbox::Outbox;
use pipeline::gallery::GalleryStore;
use wire::events::EventBody;

/// Runs the agent over the recording until it is done and delivered.
fn run_agent(config: &Path) -> String {
    run_agent_draining(config, 30)
}

/// The agent with the admin API unreachable: it exits once the recording is
/// done, events staying in the outbox.
fn run_agent_offline(config: &Path) -> String {
    run_agent_draining(config, 0)
}

fn run_agent_draining(config: &Path, drain_secs: u64) -> String {
    let out = Command::new(agent_bin())
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .args(["run", "--drain-secs", &drain_secs.to_string(), "--config"])
        .arg(config)
        .output()
        .expect("agent");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{log}");
    log
}

fn last_passage_person(api: &AdminApi) -> Option<String> {
    let events = api.events().expect("stored events");
    let last = events.iter().filter(|e| e["type"] == "passage").max_by_key(|e| e["created_ms"].as_i64());
    last.expect("a passage")["person_id"].as_str().map(str::to_string)
}

fn cached_ids(dir: &Path) -> Vec<String> {
    let store = GalleryStore::open(&dir.join("agent/gallery")).expect("cache");
    store.records().expect("records").into_iter().map(|r| r.person.id).collect()
}

#[test]
fn full_sync_then_deletion_then_expiry_while_offline() {
    let dir = scratch("gallery-sync").expect("a scratch folder");
    let f = fixture("s01_walk_in_720p");
    let mut api = AdminApi::new(&dir);
    let token = api.ready_for_agent(&f.dir).expect("the admin API ready for an agent");
    let cams = [Cam { id: "gate1", url: f.video.display().to_string(), fixture: &f, extra: "" }];
    let config = agent_config(&dir, &api.url(), &token, &cams, "[sync]\ninterval_s = 1\n");

    // 1. A fresh edge: the full gallery, then the person is recognised.
    let log = run_agent(&config);
    assert!(log.contains("full=true"), "{log}");
    assert_eq!(last_passage_person(&api).as_deref(), Some("p01"));
    assert!(cached_ids(&dir).contains(&"p01".to_string()));
    {
        let store = GalleryStore::open(&dir.join("agent/gallery")).expect("cache");
        let records = store.records().expect("records");
        assert_eq!(records.len(), f.people.len());
        // What the edge holds: embeddings with the model that made them, and
        // who the person is — no photo (the record type has no place for one).
        let json = serde_json::to_value(&records[0]).expect("json");
        let keys: Vec<&str> = json.as_object().expect("object").keys().map(String::as_str).collect();
        assert_eq!(keys, vec!["embeddings", "person", "version"]);
        assert!(records.iter().all(|r| !r.embeddings.is_empty() && r.embeddings[0].model_id.starts_with("sface")));
    }

    // 2. Deleted on request: the next sync is a delta that removes them.
    api.cli(&["remove-person", "p01"]).expect("admin-api");
    let log = run_agent(&config);
    assert!(log.contains("full=false") && log.contains("removed=1"), "{log}");
    assert_eq!(last_passage_person(&api), None, "no longer recognised");
    assert!(!cached_ids(&dir).contains(&"p01".to_string()));

    // 3. Re-enrolled as a visitor for 12 s; synced; then the API goes away.
    let photos: Vec<String> = std::fs::read_dir(f.dir.join("gallery/p01"))
        .expect("photos")
        .filter_map(|e| e.ok().map(|e| e.path().display().to_string()))
        .collect();
    let enrolled = Instant::now();
    let mut args = vec!["enrol", "--id", "p01", "--name", "Khách", "--category", "visitor", "--valid-for-secs", "12"];
    args.extend(photos.iter().map(String::as_str));
    api.cli(&args).expect("admin-api");
    run_agent(&config);
    assert_eq!(last_passage_person(&api).as_deref(), Some("p01"), "the visitor is recognised while valid");
    api.stop();
    std::thread::sleep(Duration::from_secs(13).saturating_sub(enrolled.elapsed()));
    let before = api.events().expect("stored events").len();
    let log = run_agent_offline(&config);
    assert!(log.contains("expired enrolments removed"), "{log}");
    assert!(!cached_ids(&dir).contains(&"p01".to_string()), "expired: gone from the edge");
    assert_eq!(api.events().expect("stored events").len(), before, "the API was down");
    let outbox = Outbox::open(&dir.join("agent/outbox"), 1 << 30).expect("outbox");
    let waiting = outbox.peek(100).expect("peek");
    let persons: Vec<Option<String>> = waiting
        .iter()
        .filter_map(|p| match &p.event.body {
            EventBody::Passage(pe) => Some(pe.person_id.clone()),
            EventBody::Anomaly(_) => None,
        })
        .collect();
    assert_eq!(persons, vec![None], "the expired visitor is not recognised, even offline");
    drop(outbox);
    let _ = std::fs::remove_dir_all(&dir);
}
