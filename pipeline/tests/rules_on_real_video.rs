//! Every ANTT rule that looks at passages, fed the passages the pipeline
//! itself finds in real video: each one fires where the scene calls for it
//! and stays quiet where it does not. Loitering is checked on the tracks of
//! real video.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use pipeline::engine::{CameraContext, Engine, EngineConfig};
use pipeline::eval::fixture::Fixture;
use pipeline::eval::replay::{ReplayError, for_each_frame, replay_fixture};
use pipeline::gallery::Gallery;
use pipeline::rules::schedule::Schedule;
use pipeline::rules::{LoiterWatch, PassageFacts, Rules, RulesConfig};
use pipeline::tracking::passage::Passage;
use pipeline::vision::models::Models;
use pipeline::vision::runtime::Threads;
use wire::events::AnomalyKind;

fn models() -> Models {
    Models::in_dir(&common::repo().join("models")).expect("models installed (run `make models`)")
}

fn fixture(name: &str) -> Fixture {
    Fixture::open(&common::fixtures_root().join(name)).expect("fixture (run `make fixtures`)")
}

/// The pipeline's passages for each fixture, replayed once for all tests.
fn passages(name: &str) -> Vec<Passage> {
    static CACHE: std::sync::Mutex<Option<HashMap<String, Vec<Passage>>>> = std::sync::Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let map = cache.get_or_insert_with(HashMap::new);
    map.entry(name.to_string())
        .or_insert_with(|| {
            let (_, run) =
                replay_fixture(&models(), &fixture(name), EngineConfig::default(), Threads::default(), |_| {})
                    .expect("replay");
            run.passages
        })
        .clone()
}

/// 2026-11-23, a Monday, 09:00 in Vietnam (02:00 UTC), unix ms.
const MONDAY_9AM: i64 = 1_795_399_200_000;

/// Runs the passages of `scenes` (one after the other, 60 s apart, starting
/// at `start_ms`) through one site's rules; returns the anomaly kinds raised.
fn anomalies(config: RulesConfig, scenes: &[&str], restricted: bool, start_ms: i64) -> Vec<AnomalyKind> {
    let mut rules = Rules::new(config);
    let mut out = Vec::new();
    for (i, scene) in scenes.iter().enumerate() {
        for p in passages(scene) {
            let facts = PassageFacts {
                camera: &p.camera,
                restricted,
                direction: p.direction,
                identity: &p.identity,
                at_ms: start_ms + i as i64 * 60_000 + p.crossed_at.as_millis() as i64,
                schedule: None,
            };
            out.extend(rules.on_passage(&facts).into_iter().map(|a| a.kind));
        }
    }
    out
}

fn only(kind: AnomalyKind, found: &[AnomalyKind]) -> usize {
    found.iter().filter(|k| **k == kind).count()
}

/// Every rule off; each test turns on the one it checks.
const OFF: RulesConfig = RulesConfig {
    watchlist: false,
    tailgating_window_ms: 0,
    anti_passback: false,
    capacity: 0,
    loitering_after_ms: 0,
    schedule: None,
};

#[test]
fn watchlist_fires_on_the_watchlisted_person_only() {
    let on = RulesConfig { watchlist: true, ..OFF };
    // s05: the watch-listed person walks in and later out.
    assert_eq!(anomalies(on, &["s05_watchlist_720p"], false, MONDAY_9AM), vec![AnomalyKind::Watchlist; 2]);
    assert!(anomalies(on, &["s01_walk_in_720p", "s03_crowd_both_ways_1080p"], false, MONDAY_9AM).is_empty());
}

#[test]
fn unknown_person_fires_at_restricted_gates_only() {
    let found = anomalies(OFF, &["s04_unknowns_720p"], true, MONDAY_9AM);
    assert_eq!(only(AnomalyKind::UnknownPerson, &found), 7, "strangers pass seven times in s04");
    assert!(anomalies(OFF, &["s04_unknowns_720p"], false, MONDAY_9AM).is_empty(), "unrestricted gate");
    assert!(anomalies(OFF, &["s01_walk_in_720p"], true, MONDAY_9AM).is_empty(), "a known person");
}

#[test]
fn tailgating_fires_when_a_stranger_follows_a_resident_in() {
    let on = RulesConfig { tailgating_window_ms: 2000, ..OFF };
    // s03: p08 enters and a stranger follows within a second.
    assert_eq!(anomalies(on, &["s03_crowd_both_ways_1080p"], false, MONDAY_9AM), vec![AnomalyKind::Tailgating]);
    // s09: two residents enter one after the other — both authorised.
    assert!(anomalies(on, &["s09_side_gate_720p"], false, MONDAY_9AM).is_empty());
}

#[test]
fn anti_passback_fires_on_a_second_entry_without_an_exit() {
    let on = RulesConfig { anti_passback: true, ..OFF };
    assert_eq!(
        anomalies(on, &["s01_walk_in_720p", "s01_walk_in_720p"], false, MONDAY_9AM),
        vec![AnomalyKind::AntiPassback]
    );
    // s05 twice: the same person walks in, out, in and out again — fine.
    assert!(anomalies(on, &["s05_watchlist_720p", "s05_watchlist_720p"], false, MONDAY_9AM).is_empty());
}

#[test]
fn over_capacity_fires_only_above_the_limit() {
    // s04 never has more than two people inside at once.
    assert!(anomalies(RulesConfig { capacity: 2, ..OFF }, &["s04_unknowns_720p"], false, MONDAY_9AM).is_empty());
    let found = anomalies(RulesConfig { capacity: 1, ..OFF }, &["s04_unknowns_720p"], false, MONDAY_9AM);
    assert_eq!(found, vec![AnomalyKind::OverCapacity; 2]);
}

#[test]
fn after_hours_fires_for_entries_outside_opening_hours() {
    let office: Schedule = toml::from_str::<toml::Value>("open = \"07:30\"\nclose = \"17:00\"")
        .expect("toml")
        .try_into()
        .expect("schedule");
    let on = RulesConfig { schedule: Some(office), ..OFF };
    assert!(anomalies(on, &["s04_unknowns_720p"], false, MONDAY_9AM).is_empty());
    let at_night = anomalies(on, &["s04_unknowns_720p"], false, MONDAY_9AM + 12 * 3_600_000);
    assert_eq!(at_night, vec![AnomalyKind::AfterHours; 5], "five entries in s04; exits are not flagged");
}

/// Loiterers reported while the engine follows the tracks of a scene.
fn loiterers(name: &str, after: Duration) -> usize {
    let fixture = fixture(name);
    let models = models();
    let camera = CameraContext { id: name.into(), line: fixture.camera.line };
    let gallery = Arc::new(RwLock::new(Arc::new(Gallery::new(&models.recogniser.model_id()))));
    let mut engine =
        Engine::new(&models, camera, EngineConfig::default(), gallery, Threads::default()).expect("engine");
    let mut watch = LoiterWatch::new(after);
    let (mut found, mut out) = (0, pipeline::tracking::passage::Emitted::default());
    for_each_frame(&fixture.video, |frame, ts, _| {
        engine.process(frame, ts, &mut out)?;
        found += watch.observe(&engine.live_tracks()).len();
        Ok::<_, ReplayError>(())
    })
    .expect("replay");
    found
}

#[test]
fn loitering_fires_for_people_who_stay_in_view_without_crossing() {
    // s11: people talking to the camera for 14 s, never crossing.
    assert!(loiterers("s11_talking_heads_720p", Duration::from_secs(5)) >= 1);
    // s04: nine people walk through in 22 s; nobody lingers 5 s without crossing.
    assert_eq!(loiterers("s04_unknowns_720p", Duration::from_secs(5)), 0);
}
