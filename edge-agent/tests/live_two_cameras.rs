//! The whole system live, real processes on 127.0.0.1: a real RTSP server
//! streams two fixtures as two cameras, the admin API holds the gallery, the
//! edge agent syncs it, watches both cameras at once and delivers. Every
//! truth passage arrives with the right person and direction, exactly once;
//! `/healthz` and `/metrics` answer while it runs; the watch-listed person's
//! alerts are raised as they are recognised, with their face.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn every_passage_of_two_live_cameras_arrives_once_with_the_right_person() {
    let dir = scratch("live-two").expect("a scratch folder");
    let (f1, f2) = (fixture("s04_unknowns_720p"), fixture("s05_watchlist_720p"));
    let mut api = AdminApi::new(&dir);
    let token = api.ready_for_agent(&f1.dir).expect("the admin API ready for an agent");
    let rtsp = RtspServer::start(0, &["--shared", "--once"], &[("gate1", &f1.video), ("gate2", &f2.video)])
        .expect("the RTSP server starts");
    let ops_port = free_port();
    let cams = [
        Cam { id: "gate1", url: rtsp.urls[0].clone(), fixture: &f1, extra: "" },
        Cam { id: "gate2", url: rtsp.urls[1].clone(), fixture: &f2, extra: "" },
    ];
    let extra = format!("[ops]\nlisten = \"127.0.0.1:{ops_port}\"\n");
    let config = agent_config(&dir, &api.url(), &token, &cams, &extra);
    let started = Instant::now();
    let mut agent = start_agent(&config, 0, "info");

    let want = f1.truth.passages.len() + f2.truth.passages.len();
    let mut metrics_seen = String::new();
    let mut health_seen = serde_json::Value::Null;
    loop {
        let events = api.events().expect("stored events");
        if passages_of(&events, None).len() >= want {
            break;
        }
        if started.elapsed() > Duration::from_secs(8) && metrics_seen.is_empty() {
            let base = format!("http://127.0.0.1:{ops_port}");
            metrics_seen = ureq::get(&format!("{base}/metrics"))
                .call()
                .expect("metrics")
                .body_mut()
                .read_to_string()
                .expect("text");
            health_seen =
                ureq::get(&format!("{base}/healthz")).call().expect("healthz").body_mut().read_json().expect("json");
        }
        assert!(started.elapsed() < Duration::from_secs(120), "passages missing after 120 s:\n{}", agent.text());
        std::thread::sleep(Duration::from_millis(500));
    }
    // Anything counted twice would show up within the emission delay.
    std::thread::sleep(Duration::from_secs(3));
    assert!(agent.terminate(Duration::from_secs(20)), "agent stops cleanly on SIGTERM:\n{}", agent.text());

    let events = api.events().expect("stored events");
    assert_eq!(passages_of(&events, Some("gate1")), truth_of(&f1), "gate1 (s04)");
    assert_eq!(passages_of(&events, Some("gate2")), truth_of(&f2), "gate2 (s05)");
    let watchlist = anomalies_of(&events, "watchlist");
    assert_eq!(watchlist.len(), 2, "the watch-listed person passes gate2 twice");
    assert!(watchlist.iter().all(|a| a["person_id"] == "p09" && a["camera"] == "gate2"));
    // Each was raised as p09 was recognised, ahead of the line, and not again
    // at the crossing: it names the passage it announced and carries the face
    // it was raised on (an alert raised with its passage has no face of its own).
    let p09_passages: std::collections::HashSet<&str> = events
        .iter()
        .filter(|e| e["type"] == "passage" && e["camera"] == "gate2" && e["person_id"] == "p09")
        .filter_map(|e| e["id"].as_str())
        .collect();
    for a in &watchlist {
        let announced = a["passage_id"].as_str().expect("the alert names its passage");
        assert!(p09_passages.contains(announced), "{a} names a passage of p09's: {p09_passages:?}");
        let id = a["id"].as_str().expect("id");
        assert!(api.data.join("crops").join(format!("{id}.jpg")).is_file(), "the early alert's face is kept: {a}");
    }
    let ids: std::collections::HashSet<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(ids.len(), events.len(), "every event id once");

    assert!(agent.text().contains("gallery synced"), "the gallery came from the admin API");
    assert!(metrics_seen.contains("gatewatch_agent_camera_frames_total{camera=\"gate1\"}"), "{metrics_seen}");
    assert!(metrics_seen.contains("gatewatch_agent_gallery_version"), "{metrics_seen}");
    assert!(metrics_seen.contains("gatewatch_agent_outbox_backlog_events"), "{metrics_seen}");
    assert_eq!(health_seen["cameras"]["gate1"]["up"], true, "{health_seen}");
    assert_eq!(health_seen["cameras"]["gate2"]["up"], true, "{health_seen}");
    let _ = std::fs::remove_dir_all(&dir);
}
