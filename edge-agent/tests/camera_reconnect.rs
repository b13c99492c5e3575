//! A camera that goes away and comes back, real processes on 127.0.0.1: the
//! RTSP server is killed, a `camera_offline` anomaly reaches the admin API
//! while it is down, and after the server returns the agent is receiving
//! frames again within 5 s. The server frozen with SIGSTOP: the same anomaly,
//! and frames again as soon as the server sends them. After each, every event
//! the agent stored is in the admin API exactly once.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn a_killed_camera_raises_camera_offline_and_reconnects_within_five_seconds() {
    let dir = scratch("reconnect").expect("a scratch folder");
    let f = fixture("s04_unknowns_720p");
    let mut api = AdminApi::new(&dir);
    let token = api.add_agent("agent-e2e", "site-e2e").expect("an agent token");
    api.start().expect("the admin API starts");
    let port = free_port();
    let mut rtsp = RtspServer::start(port, &[], &[("gate1", &f.video)]).expect("the RTSP server starts");
    let cams = [Cam { id: "gate1", url: rtsp.urls[0].clone(), fixture: &f, extra: "" }];
    let config = agent_config(&dir, &api.url(), &token, &cams, "[health]\noffline_after_ms = 2000\n");
    let agent = start_agent(&config, 0, "info,edge_agent::store=debug");
    agent
        .wait_line("camera connected", Instant::now() - Duration::from_secs(60), Duration::from_secs(30))
        .unwrap_or_else(|| panic!("never connected:\n{}", agent.text()));
    // A camera delivering frames stays quiet (longer than offline_after_ms).
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        anomalies_of(&api.events().expect("stored events"), "camera_offline").is_empty(),
        "no camera_offline while it streams"
    );

    rtsp.proc.kill();
    let killed = Instant::now();
    let t = Instant::now();
    while anomalies_of(&api.events().expect("stored events"), "camera_offline").is_empty() {
        assert!(t.elapsed() < Duration::from_secs(20), "no camera_offline anomaly:\n{}", agent.text());
        std::thread::sleep(Duration::from_millis(200));
    }
    let offline_after = killed.elapsed();
    rtsp = RtspServer::start(port, &[], &[("gate1", &f.video)]).expect("the RTSP server starts");
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
    let offline = anomalies_of(&api.events().expect("stored events"), "camera_offline");
    assert_eq!(offline.len(), 1, "one anomaly per outage: {offline:?}");
    assert_eq!(offline[0]["camera"], "gate1");
    let n = every_stored_event_arrives_once(&api, &agent, Duration::from_secs(30));
    eprintln!("{n} events, each stored once");
    drop(rtsp);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh client that stays connected: how long after now the server sends
/// it a decodable frame (the server's own recovery, to measure the agent's
/// against).
fn first_frame_for_a_fresh_client(url: &str, within: Duration) -> Option<Duration> {
    use pipeline::vision::frame::BgrImage;
    use pipeline::vision::source::{Pulled, SourceOptions, SourceUrl, VideoSource};
    let start = Instant::now();
    let url = SourceUrl::parse(url).expect("url");
    let mut source = VideoSource::open(&url, SourceOptions::default()).ok()?;
    let mut frame = BgrImage::default();
    while start.elapsed() < within {
        if let Ok(Pulled::Frame { .. }) = source.pull(&mut frame, Duration::from_millis(200)) {
            return Some(start.elapsed());
        }
    }
    None
}

#[test]
fn a_frozen_camera_raises_camera_offline_and_recovers_when_it_resumes() {
    let dir = scratch("frozen").expect("a scratch folder");
    let f = fixture("s04_unknowns_720p");
    // Long enough that the stream cannot end during the test (22 s × 5).
    let video = dir.join("looped.mp4");
    let copied = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-stream_loop", "4", "-i"])
        .arg(&f.video)
        .args(["-c", "copy"])
        .arg(&video)
        .status()
        .expect("ffmpeg");
    assert!(copied.success(), "looped copy of the fixture");
    let mut api = AdminApi::new(&dir);
    let token = api.add_agent("agent-e2e", "site-e2e").expect("an agent token");
    api.start().expect("the admin API starts");
    let rtsp = RtspServer::start(0, &["--shared"], &[("gate1", &video)]).expect("the RTSP server starts");
    let cams = [Cam { id: "gate1", url: rtsp.urls[0].clone(), fixture: &f, extra: "" }];
    let config = agent_config(&dir, &api.url(), &token, &cams, "[health]\noffline_after_ms = 2000\n");
    let agent = start_agent(&config, 0, "info,pipeline=debug,edge_agent::store=debug");
    agent
        .wait_line("camera connected", Instant::now() - Duration::from_secs(60), Duration::from_secs(30))
        .unwrap_or_else(|| panic!("never connected:\n{}", agent.text()));
    std::thread::sleep(Duration::from_secs(2));
    // SIGSTOP: the server keeps its sockets open and sends nothing — a hung
    // camera, not a vanished one.
    let pid = rtsp.proc.child.id().to_string();
    let signal =
        |s: &str| assert!(std::process::Command::new("kill").args([s, &pid]).status().expect("kill").success());
    signal("-STOP");
    let frozen = Instant::now();
    while anomalies_of(&api.events().expect("stored events"), "camera_offline").is_empty() {
        assert!(frozen.elapsed() < Duration::from_secs(20), "no camera_offline for a frozen camera:\n{}", agent.text());
        std::thread::sleep(Duration::from_millis(200));
    }
    let noticed = frozen.elapsed();
    signal("-CONT");
    let resumed = Instant::now();
    // A file served in real time falls behind its clock while frozen, and
    // gst-rtsp-server can take several seconds after SIGCONT before it sends
    // anything again (measured: 0–7 s). The agent is judged against the
    // server: a fresh client connected at SIGCONT shows when frames are
    // available again.
    let server_back = first_frame_for_a_fresh_client(&rtsp.urls[0], Duration::from_secs(40))
        .unwrap_or_else(|| panic!("the server sent no frame within 40 s of SIGCONT:\n{}", rtsp.proc.text()));
    let back = agent
        .wait_line("camera connected", resumed, Duration::from_secs(40))
        .unwrap_or_else(|| panic!("did not recover after SIGCONT:\n{}", agent.text()))
        .duration_since(resumed);
    eprintln!(
        "frozen camera reported offline {:.1} s after SIGSTOP; after SIGCONT: server sending again at {:.2} s, agent receiving at {:.2} s",
        noticed.as_secs_f32(),
        server_back.as_secs_f32(),
        back.as_secs_f32()
    );
    // Once frames are there, the agent has them within one watchdog period
    // (3 s) plus its longest backoff (2 s) plus a connection.
    assert!(
        back <= server_back + Duration::from_secs(7),
        "agent back {back:?} after SIGCONT, server already at {server_back:?}:\n{}",
        agent.text()
    );
    assert_eq!(
        anomalies_of(&api.events().expect("stored events"), "camera_offline").len(),
        1,
        "one anomaly per outage"
    );
    let n = every_stored_event_arrives_once(&api, &agent, Duration::from_secs(30));
    eprintln!("{n} events, each stored once");
    drop(rtsp);
    let _ = std::fs::remove_dir_all(&dir);
}
