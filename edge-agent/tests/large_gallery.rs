//! A province-sized gallery reaches the edge, real processes on 127.0.0.1:
//! 20 000 people with 5 embeddings each (100 000 embeddings, ~130 MB of
//! JSON — once past the agent's 10 MB read limit at ~6 000) are synced in
//! pages into the agent's cache, every person and embedding of them, and the
//! agent still recognises the fixture's people among them.

mod common;

use std::process::Command;

use common::*;
use pipeline::gallery::GalleryStore;

const PEOPLE: usize = 20_000;
const PER_PERSON: usize = 5;

#[test]
fn a_gallery_of_100_000_embeddings_is_synced_whole_in_pages() {
    let dir = scratch("large-gallery").expect("a scratch folder");
    let f = fixture("s01_walk_in_720p");
    let mut api = AdminApi::on(Database::postgres("large").expect("a fresh PostgreSQL database"), &dir);
    let name = api.db.pg_name().expect("a PostgreSQL database").to_string();
    let token = api.add_agent("agent-e2e", "site-e2e").expect("an agent token");
    api.enrol_fixture(&f.dir).expect("the fixture enrolled");
    // 20 000 more people at versions after the fixture's, each with 5 copies
    // of a real embedding turned inside out (similarity −1 to its owner,
    // about −0.1 to anyone else): nobody in the scene can be taken for them.
    psql_on(
        &name,
        &format!(
            "INSERT INTO people (id, name, category, version, deleted, updated_ms, sites)
             SELECT 'bulk-' || g, 'Người ' || g, 'staff', 1000 + g, 0, 0, '' FROM generate_series(1, {PEOPLE}) g;
             INSERT INTO embeddings (id, person_id, model_id, vector, created_ms, negative)
             SELECT 'e-' || g || '-' || k, 'bulk-' || g, e.model_id, e.vector, k, 0
             FROM generate_series(1, {PEOPLE}) g, generate_series(1, {PER_PERSON}) k,
                  (SELECT model_id, (SELECT json_agg(-(x::float8)) FROM json_array_elements_text(vector::json) x)::text
                          AS vector FROM embeddings LIMIT 1) e;
             UPDATE gallery_version SET version = 1000 + {PEOPLE}"
        ),
    )
    .expect("the bulk gallery inserted");
    api.start().expect("the admin API starts");
    let cams = [Cam { id: "gate", url: f.video.display().to_string(), fixture: &f, extra: "" }];
    let config = agent_config(&dir, &api.url(), &token, &cams, "");
    let run = || {
        let out = Command::new(agent_bin())
            .current_dir(repo())
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info")
            .args(["run", "--drain-secs", "60", "--config"])
            .arg(&config)
            .output()
            .expect("agent");
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{log}");
        log
    };
    let log = run();
    let synced = log.lines().find(|l| l.contains("gallery synced")).expect("a sync");
    eprintln!("{synced}");
    assert!(!synced.contains("pages=1 "), "one page cannot hold it: {synced}");
    {
        let store = GalleryStore::open(&dir.join("agent/gallery")).expect("cache");
        let records = store.records().expect("records");
        let bulk: Vec<_> = records.iter().filter(|r| r.person.id.starts_with("bulk-")).collect();
        assert_eq!(bulk.len(), PEOPLE, "every person reached the edge");
        let embeddings: usize = bulk.iter().map(|r| r.embeddings.len()).sum();
        assert_eq!(embeddings, PEOPLE * PER_PERSON, "every embedding");
    }
    // With the cache filled (a first start syncs before recognising for a
    // few seconds only), the fixture's person is recognised among 20 000.
    let before = api.events().expect("stored events").len();
    let log = run();
    let events = api.events().expect("stored events");
    assert_eq!(passages_of(&events[before..], Some("gate")), truth_of(&f), "{log}");
    drop(api);
    let _ = std::fs::remove_dir_all(&dir);
}
