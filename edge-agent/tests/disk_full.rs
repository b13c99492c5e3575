//! The outbox's disk fills up while a camera streams, and the admin API goes
//! away for a while during it. The agent says so (an `outbox_full` anomaly
//! with the reason, a log line), holds events in memory and keeps delivering
//! them while the API answers; when space returns it reopens the outbox and
//! stores what it held; when the API returns, everything arrives. In the end
//! the passages are exactly the truth's, each once, nothing was lost, and the
//! outbox on disk opens cleanly.
//!
//! The outbox lives on a 64 MB tmpfs mounted for the test (root is needed to
//! mount it; the test machines run as root).

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// A small tmpfs, unmounted on drop.
struct SmallDisk<'a> {
    at: &'a Path,
}

impl<'a> SmallDisk<'a> {
    fn mount(at: &'a Path, size_mb: u32) -> SmallDisk<'a> {
        std::fs::create_dir_all(at).expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(at)
            .output()
            .expect("mount");
        assert!(
            out.status.success(),
            "mounting a tmpfs for the outbox needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk { at }
    }

    /// Writes a file until the disk refuses (ENOSPC); its size.
    fn fill(&self) -> u64 {
        let mut file = std::fs::File::create(self.at.join("filler")).expect("filler");
        let block = vec![0u8; 64 * 1024];
        let mut written = 0u64;
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(28), "ENOSPC expected: {e}");
                    break;
                }
            }
        }
        written
    }

    fn free(&self) {
        std::fs::remove_file(self.at.join("filler")).expect("remove filler");
    }
}

impl Drop for SmallDisk<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.at).status();
    }
}

#[test]
fn a_full_disk_loses_nothing_and_the_outbox_recovers_when_space_returns() {
    let dir = scratch("disk-full").expect("a scratch folder");
    let f = fixture("s04_unknowns_720p");
    let mut api = AdminApi::new(&dir);
    let token = api.ready_for_agent(&f.dir).expect("the admin API ready for an agent");
    let outbox_dir = dir.join("agent/outbox");
    let disk = SmallDisk::mount(&outbox_dir, 64);
    let rtsp = RtspServer::start(0, &["--shared", "--once"], &[("gate1", &f.video)]).expect("the RTSP server starts");
    let cams = [Cam { id: "gate1", url: rtsp.urls[0].clone(), fixture: &f, extra: "" }];
    let config = agent_config(&dir, &api.url(), &token, &cams, "");
    let mut agent = start_agent(&config, 60, "info");
    let t0 = Instant::now();
    agent.wait_line("camera connected", t0 - Duration::from_secs(60), Duration::from_secs(30)).expect("connected");

    // The disk fills as the first passages come (the stream's first at 0.5 s).
    let filled = disk.fill();
    let full_at = Instant::now();
    // Passages while the disk is full and the API answers: sent from memory.
    let failed = agent
        .wait_line("outbox write failed", full_at, Duration::from_secs(20))
        .unwrap_or_else(|| panic!("no write failed on a full disk:\n{}", agent.text()));
    std::thread::sleep(Duration::from_secs(2));
    // Then the API goes away too: events wait in memory.
    api.stop();
    std::thread::sleep(Duration::from_secs(5));
    // Space returns: the outbox reopens and takes the held events.
    disk.free();
    let freed = Instant::now();
    let reopened = agent
        .wait_line("outbox reopened", freed, Duration::from_secs(5))
        .unwrap_or_else(|| panic!("outbox not reopened after space returned:\n{}", agent.text()));
    std::thread::sleep(Duration::from_secs(2));
    api.start().expect("the admin API starts");

    let stream_ends = Duration::from_secs_f64(f.camera.frames as f64 / f.camera.fps as f64 + 3.0);
    let expected = truth_of(&f);
    loop {
        let events = api.events().expect("stored events");
        if t0.elapsed() > stream_ends && passages_of(&events, Some("gate1")).len() >= expected.len() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "passages missing: {:?} of {expected:?}\n{}",
            passages_of(&events, Some("gate1")),
            agent.text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(agent.terminate(Duration::from_secs(30)), "clean stop:\n{}", agent.text());
    let events = api.events().expect("stored events");
    let ids: Vec<&str> = events.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(passages_of(&events, Some("gate1")), expected, "exactly the truth's passages");
    let full = anomalies_of(&events, "outbox_full");
    assert_eq!(full.len(), 1, "one anomaly for the episode: {full:?}");
    let detail = full[0]["detail"].as_str().unwrap_or("");
    assert!(
        detail.contains("No space left on device") && detail.contains("Free space"),
        "says why and what to do: {detail}"
    );
    let log = agent.text();
    assert!(!log.contains("EVENT LOST") && !log.contains("EVENT NOT STORED"), "nothing lost:\n{log}");
    // No corruption: the outbox opens, and what is in it was delivered.
    let outbox = edge_agent::outbox::Outbox::open(&outbox_dir, 1 << 30).expect("the outbox opens after the episode");
    let left = outbox.peek(1000).expect("readable");
    let stored: HashSet<&str> = ids.iter().copied().collect();
    assert!(left.iter().all(|p| stored.contains(p.event.id.as_str())), "anything left was delivered already");
    eprintln!(
        "disk filled with {} MB; first failed write {:.1} s later; outbox reopened {:.1} s after space returned; \
         {} events delivered once, passages = truth ({})",
        filled >> 20,
        failed.duration_since(full_at).as_secs_f32(),
        reopened.duration_since(freed).as_secs_f32(),
        ids.len(),
        expected.len()
    );
    if std::env::var_os("SHOW_AGENT_LOG").is_some() {
        eprintln!("{log}");
    }
    drop(outbox);
    drop(disk);
    let _ = std::fs::remove_dir_all(&dir);
}
