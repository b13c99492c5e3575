//! A camera that goes away and comes back, real processes on 127.0.0.1: the
//! RTSP server is killed, a `camera_offline` anomaly reaches the admin API
//! while it is down, and after the server returns the agent is receiving
//! frames again within 5 s.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn a_killed_camera_raises_camera_offline_and_reconnects_within_five_seconds() {
    let dir = scratch("reconnect");
    let f = fixture("s04_unknowns_720p");
    let mut api = AdminApi::new(&dir);
    let token = api.cli(&["add-agent", "--id", "agent-e2e", "--site", "site-e2e"]).trim().to_string();
    api.start();
    let port = free_port();
    let mut rtsp = RtspServer::start(port, &[], &[("gate1", &f.video)]);
    let cams = [Cam { id: "gate1", url: rtsp.urls[0].clone(), fixture: &f, extra: "" }];
    let config = agent_config(&dir, &api.url(), &token, &cams, "[health]\noffline_after_ms = 2000\n");
    let agent = start_agent(&config, 0, "info");
    agent
        .wait_line("camera connected", Instant::now() - Duration::from_secs(60), Duration::from_secs(30))
        .unwrap_or_else(|| panic!("never connected:\n{}", agent.text()));
    // A camera delivering frames stays quiet (longer than offline_after_ms).
    std::thread::sleep(Duration::from_secs(3));
    assert!(anomalies_of(&api.events(), "camera_offline").is_empty(), "no camera_offline while it streams");

    rtsp.proc.kill();
    let killed = Instant::now();
    let t = Instant::now();
    while anomalies_of(&api.events(), "camera_offline").is_empty() {
        assert!(t.elapsed() < Duration::from_secs(20), "no camera_offline anomaly:\n{}", agent.text());
        std::thread::sleep(Duration::from_millis(200));
    }
    let offline_after = killed.elapsed();
    rtsp = RtspServer::start(port, &[], &[("gate1", &f.video)]);
    let back = Instant::now();
    let reconnected = agent
        .wait_line("camera connected", back, Duration::from_secs(15))
        .unwrap_or_else(|| panic!("did not reconnect:\n{}", agent.text()));
    let took = reconnected.duration_since(back);
    eprintln!(
        "camera_offline raised {:.1} s after the kill; reconnected {:.2} s after the server returned",
        offline_after.as_secs_f32(),
        took.as_secs_f32()
    );
    assert!(took <= Duration::from_secs(5), "reconnected {took:?} after the server returned");
    let offline = anomalies_of(&api.events(), "camera_offline");
    assert_eq!(offline.len(), 1, "one anomaly per outage: {offline:?}");
    assert_eq!(offline[0]["camera"], "gate1");
    drop(rtsp);
    let _ = std::fs::remove_dir_all(&dir);
}
