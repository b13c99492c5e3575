//! `edge-agent run` with the admin API unreachable: every passage is kept,
//! durably, in the outbox (offline-first), with the right person and
//! direction; a full outbox is reported loudly and loses nothing.

mod common;

use std::process::Command;

use common::*;
use edge_agent::outbox::{Outbox, Pending};
use wire::events::{AnomalyKind, EventBody};

/// Runs the agent over a recording with nothing listening at the API
/// address; returns its log and what waits in its outbox.
fn run_unreachable(dir: &std::path::Path, scene: &str, extra: &str) -> (String, Vec<Pending>) {
    let f = fixture(scene);
    let cams = [Cam { id: "gate1", url: f.video.display().to_string(), fixture: &f, extra: "" }];
    let config = agent_config(dir, "http://127.0.0.1:9", "t", &cams, extra);
    let enrol = Command::new(agent_bin())
        .current_dir(repo())
        .args(["enrol-fixture", "--config"])
        .arg(&config)
        .arg(&f.dir)
        .output()
        .expect("enrol");
    assert!(enrol.status.success(), "{}", String::from_utf8_lossy(&enrol.stderr));
    let run = Command::new(agent_bin())
        .current_dir(repo())
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .args(["run", "--drain-secs", "0", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    let log = String::from_utf8_lossy(&run.stderr).into_owned();
    assert!(run.status.success(), "{log}");
    let outbox = Outbox::open(&dir.join("agent/outbox"), 1 << 30).expect("outbox");
    (log, outbox.peek(1000).expect("peek"))
}

fn waiting_passages(waiting: &[Pending]) -> Vec<(Option<String>, String)> {
    let mut got: Vec<_> = waiting
        .iter()
        .filter_map(|p| match &p.event.body {
            EventBody::Passage(ev) => Some((ev.person_id.clone(), ev.direction.as_str().to_string())),
            EventBody::Anomaly(_) => None,
        })
        .collect();
    got.sort();
    got
}

fn is_anomaly(p: &Pending, kind: AnomalyKind) -> bool {
    matches!(&p.event.body, EventBody::Anomaly(a) if a.kind == kind)
}

#[test]
fn passages_wait_in_the_outbox_while_the_admin_api_is_unreachable() {
    let dir = scratch("run-offline").expect("a scratch folder");
    let (_, waiting) = run_unreachable(&dir, "s05_watchlist_720p", "");
    let f = fixture("s05_watchlist_720p");
    // The watch-listed person (p09) passes twice: two `watchlist` alerts, and
    // they wait at the head of the outbox, ahead of the passages.
    let watchlisted = f.truth.passages.iter().filter(|t| t.person.as_deref() == Some("p09")).count();
    assert_eq!(watchlisted, 2);
    for p in &waiting[..watchlisted] {
        assert!(is_anomaly(p, AnomalyKind::Watchlist), "{:?}", p.event);
    }
    let anomalies = waiting.iter().filter(|p| matches!(p.event.body, EventBody::Anomaly(_))).count();
    assert_eq!(anomalies, watchlisted, "no other anomaly at this unrestricted gate");
    assert_eq!(waiting_passages(&waiting), truth_of(&f), "every truth passage is waiting in the outbox, once");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A full outbox: the agent says so (an `outbox_full` anomaly ahead of the
/// backlog, errors in the log) and loses nothing — refused events wait in
/// memory and go to disk past the budget at exit.
#[test]
fn a_full_outbox_is_reported_loudly_and_loses_nothing() {
    let dir = scratch("outbox-full").expect("a scratch folder");
    let (log, waiting) = run_unreachable(&dir, "s04_unknowns_720p", "[outbox]\nbudget_mb = 0.03\n");
    assert!(log.contains("the outbox is full"), "said loudly: {log}");
    assert!(log.contains("event held in memory"), "{log}");
    assert!(!log.contains("EVENT LOST"), "{log}");
    assert!(is_anomaly(&waiting[0], AnomalyKind::OutboxFull), "sent first: {:?}", waiting[0].event);
    assert_eq!(waiting.iter().filter(|p| is_anomaly(p, AnomalyKind::OutboxFull)).count(), 1, "once per episode");
    assert_eq!(waiting_passages(&waiting), truth_of(&fixture("s04_unknowns_720p")), "every passage kept");
    let _ = std::fs::remove_dir_all(&dir);
}
