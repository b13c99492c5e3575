//! `edge-agent run` with the admin API unreachable: every passage is kept,
//! durably, in the outbox (offline-first), with the right person and direction.

use std::path::PathBuf;
use std::process::Command;

use pipeline::events::{AnomalyKind, EventBody};
use pipeline::fixture::Fixture;
use pipeline::outbox::Outbox;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn passages_wait_in_the_outbox_while_the_admin_api_is_unreachable() {
    let dir = std::env::temp_dir().join(format!("gatewatch-run-offline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp");
    let fixture_dir = repo().join("fixtures/s05_watchlist_720p");
    let fixture = Fixture::open(&fixture_dir).expect("fixture (run `make fixtures`)");
    let line = fixture.camera.line;
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\nid = \"agent-t\"\nsite = \"site-t\"\ndata_dir = \"{data}\"\n\
             [admin_api]\nurl = \"http://127.0.0.1:9\"\ntoken = \"t\"\n\
             [[camera]]\nid = \"gate2\"\ngate = \"g\"\nurl = \"{video}\"\n\
             line = {{ a = [{}, {}], b = [{}, {}], inside = \"{}\" }}\n",
            line.a[0],
            line.a[1],
            line.b[0],
            line.b[1],
            format!("{:?}", line.inside).to_lowercase(),
            data = dir.join("data").display(),
            video = fixture.video.display(),
        ),
    )
    .expect("config");
    let agent = env!("CARGO_BIN_EXE_edge-agent");
    let enrol = Command::new(agent)
        .current_dir(repo())
        .args(["enrol-fixture", "--config"])
        .arg(&config)
        .arg(&fixture_dir)
        .output()
        .expect("enrol");
    assert!(enrol.status.success(), "{}", String::from_utf8_lossy(&enrol.stderr));
    let run = Command::new(agent)
        .current_dir(repo())
        .env("RUST_LOG", "warn")
        .args(["run", "--drain-secs", "0", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));

    let outbox = Outbox::open(&dir.join("data/outbox"), 1 << 30).expect("outbox");
    let waiting = outbox.peek(1000).expect("peek");
    let mut got: Vec<(Option<String>, String)> = waiting
        .iter()
        .filter_map(|p| match &p.event.body {
            EventBody::Passage(ev) => Some((ev.person_id.clone(), ev.direction.as_str().to_string())),
            EventBody::Anomaly(_) => None,
        })
        .collect();
    // The watch-listed person (p09) passes twice: two `watchlist` alerts, and
    // they wait at the head of the outbox, ahead of the passages.
    let watchlisted = fixture.truth.passages.iter().filter(|t| t.person.as_deref() == Some("p09")).count();
    assert_eq!(watchlisted, 2);
    for p in &waiting[..watchlisted] {
        assert!(
            matches!(&p.event.body, EventBody::Anomaly(a) if a.kind == AnomalyKind::Watchlist && a.person_id.as_deref() == Some("p09")),
            "{:?}",
            p.event
        );
    }
    let anomalies = waiting.iter().filter(|p| matches!(p.event.body, EventBody::Anomaly(_))).count();
    assert_eq!(anomalies, watchlisted, "no other anomaly at this unrestricted gate");
    let mut want: Vec<(Option<String>, String)> =
        fixture.truth.passages.iter().map(|t| (t.person.clone(), t.direction.as_str().to_string())).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "every truth passage is waiting in the outbox, once");
    drop(outbox);
    let _ = std::fs::remove_dir_all(&dir);
}
