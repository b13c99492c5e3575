//! Durability under repeated crashes: the edge agent is SIGKILLed at random
//! moments, 20 times, while a camera streams over RTSP (the admin API up).
//! Every event any of its lives logged as durably stored reaches the API
//! exactly once, and every passage the API holds is one of the truth's
//! (nothing invented, nothing counted twice). Passages whose tracks were in
//! flight at a kill are never produced; the test reports how many.

mod common;

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const KILLS: usize = 20;
const PLAYS: u32 = 4;

/// A small deterministic generator for the kill moments (the seed is printed).
struct Lcg(u64);

impl Lcg {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn twenty_sigkills_lose_no_stored_event_and_duplicate_nothing() {
    let dir = scratch("kill-loop").expect("a scratch folder");
    let f = fixture("s04_unknowns_720p");
    let video = dir.join("looped.mp4");
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-stream_loop", &(PLAYS - 1).to_string(), "-i"])
        .arg(&f.video)
        .args(["-c", "copy"])
        .arg(&video)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    let mut api = AdminApi::new(&dir);
    let token = api.add_agent("agent-e2e", "site-e2e").expect("an agent token");
    api.start().expect("the admin API starts");
    let rtsp = RtspServer::start(0, &["--shared", "--once"], &[("gate1", &video)]).expect("the RTSP server starts");
    let cams = [Cam { id: "gate1", url: rtsp.urls[0].clone(), fixture: &f, extra: "" }];
    let config = agent_config(&dir, &api.url(), &token, &cams, "");
    let log = "info,edge_agent::store=debug";
    let seed = wire::time::now_ms() as u64;
    let mut rng = Lcg(seed);
    let mut ids = HashSet::new();
    let started = Instant::now();
    for kill in 0..KILLS {
        let mut agent = start_agent(&config, 0, log);
        agent
            .wait_line("camera connected", Instant::now() - Duration::from_secs(1), Duration::from_secs(20))
            .unwrap_or_else(|| panic!("life {} did not rejoin the stream:\n{}", kill + 1, agent.text()));
        std::thread::sleep(Duration::from_secs_f64(1.0 + 2.5 * rng.next_f64()));
        agent.kill();
        ids.extend(stored_ids(&agent));
    }
    let killing = started.elapsed();
    // A last life runs to the end of the stream and delivers everything.
    let mut last = start_agent(&config, 60, log);
    let stream_ends = Duration::from_secs_f64(PLAYS as f64 * f.camera.frames as f64 / f.camera.fps as f64 + 3.0);
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let stored: HashSet<String> =
            api.events().expect("stored events").iter().filter_map(|e| e["id"].as_str().map(str::to_string)).collect();
        let mine: HashSet<String> = ids.union(&stored_ids(&last)).cloned().collect();
        if started.elapsed() > stream_ends && mine.is_subset(&stored) {
            ids = mine;
            break;
        }
        assert!(Instant::now() < until, "missing: {:?}", mine.difference(&stored).collect::<Vec<_>>());
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(last.terminate(Duration::from_secs(20)), "clean stop:\n{}", last.text());

    let events = api.events().expect("stored events");
    let stored: Vec<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    for id in &ids {
        assert!(stored.contains(&id.as_str()), "event {id} stored by the agent never arrived");
    }
    let got = passages_of(&events, Some("gate1"));
    let mut truth: Vec<_> = (0..PLAYS).flat_map(|_| truth_of(&f)).collect();
    let expected = truth.len();
    for p in &got {
        let i =
            truth.iter().position(|t| t == p).unwrap_or_else(|| panic!("{p:?} is not in the truth (or counted twice)"));
        truth.remove(i);
    }
    assert!(!got.is_empty(), "some passages were recognised between the kills");
    eprintln!(
        "{KILLS} SIGKILLs in {:.0} s (seed {seed}): {} events stored by the agent's lives, each arrived once; \
         {} of {expected} truth passages recognised (the rest were in flight at a kill)",
        killing.as_secs_f64(),
        ids.len(),
        got.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
