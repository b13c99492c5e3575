//! Durability, real processes on 127.0.0.1: while a live camera streams, the
//! admin API goes down, the edge agent is killed with SIGKILL mid-stream and
//! restarted (it rejoins the live stream, as it would a real camera), and the
//! API comes back. Every event the agent stored arrives exactly once, and
//! nothing is counted twice against the truth.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn events_survive_an_api_outage_and_a_sigkill_exactly_once() {
    let dir = scratch("kill-outage").expect("a scratch folder");
    let f = fixture("s04_unknowns_720p");
    let mut api = AdminApi::new(&dir);
    let token = api.ready_for_agent(&f.dir).expect("the admin API ready for an agent");
    let rtsp = RtspServer::start(0, &["--shared", "--once"], &[("gate1", &f.video)]).expect("the RTSP server starts");
    let cams = [Cam { id: "gate1", url: rtsp.urls[0].clone(), fixture: &f, extra: "" }];
    let config = agent_config(&dir, &api.url(), &token, &cams, "");
    let log = "info,edge_agent::store=debug";
    let mut first = start_agent(&config, 0, log);

    // Some passages delivered, then the API goes away.
    let t0 = Instant::now();
    while api.events().expect("stored events").is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(30), "nothing delivered:\n{}", first.text());
        std::thread::sleep(Duration::from_millis(200));
    }
    api.stop();
    let delivered_before_outage = api.events().expect("stored events").len();
    // Passages keep being recognised into the outbox; then SIGKILL mid-stream.
    let outage = Instant::now();
    while stored_ids(&first).len() < delivered_before_outage + 3 {
        assert!(outage.elapsed() < Duration::from_secs(30), "no passage while the API is down:\n{}", first.text());
        std::thread::sleep(Duration::from_millis(100));
    }
    first.kill();
    let mut ids = stored_ids(&first);
    let mut second = start_agent(&config, 60, log);
    second.wait_line("camera connected", Instant::now(), Duration::from_secs(20)).expect("rejoined the live stream");
    std::thread::sleep(Duration::from_secs(2));
    api.start().expect("the admin API starts");

    // The stream ends (the mount switches off); the agent delivers everything.
    let t1 = Instant::now();
    loop {
        let stored: HashSet<String> =
            api.events().expect("stored events").iter().filter_map(|e| e["id"].as_str().map(str::to_string)).collect();
        ids.extend(stored_ids(&second));
        if f.camera.frames as f64 / f.camera.fps as f64 + 3.0 < t0.elapsed().as_secs_f64() && ids.is_subset(&stored) {
            break;
        }
        assert!(
            t1.elapsed() < Duration::from_secs(90),
            "missing events: {:?}",
            ids.difference(&stored).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(second.terminate(Duration::from_secs(20)), "clean stop:\n{}", second.text());

    let events = api.events().expect("stored events");
    let stored: Vec<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    for id in &ids {
        assert!(stored.contains(&id.as_str()), "event {id} stored by the agent never arrived");
    }
    // Against the truth: nothing counted twice; at most the passages whose
    // tracks were in flight at the kill (≈2 s of video) are missing.
    let got = passages_of(&events, Some("gate1"));
    let mut truth = truth_of(&f);
    for p in &got {
        let i =
            truth.iter().position(|t| t == p).unwrap_or_else(|| panic!("{p:?} is not in the truth (or counted twice)"));
        truth.remove(i);
    }
    assert!(truth.len() <= 2, "{} truth passages missing: {truth:?}", truth.len());
    eprintln!(
        "stored by the agent: {} events ({} before the kill), all arrived once; {} delivered before the outage; \
         truth passages {} of {}",
        ids.len(),
        stored_ids(&first).len(),
        delivered_before_outage,
        got.len(),
        got.len() + truth.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
