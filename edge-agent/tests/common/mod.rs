//! The edge agent's end-to-end tests: real processes from `testkit` (admin
//! API, fixture RTSP server, agent), and what only these tests need: a
//! fixture's cameras in an agent's configuration, its truth, and the checks
//! that every event the agent stored reached the admin API once.
#![allow(dead_code, unused_imports)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pipeline::eval::fixture::Fixture;

pub use testkit::admin::AdminApi;
pub use testkit::agent::{acknowledged_total, agent_event_ids, anomalies_of, passages_of, stored_ids};
pub use testkit::postgres::{Database, drop_database, fresh_database, psql_on};
pub use testkit::rtsp::RtspServer;
pub use testkit::{Proc, free_port, repo, scratch, workspace_bin};

/// The agent binary cargo built for these tests.
pub fn agent_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_edge-agent"))
}

pub fn fixture(name: &str) -> Fixture {
    Fixture::open(&repo().join("fixtures").join(name)).expect("fixture (run `make fixtures`)")
}

/// One camera of an agent configuration, on a fixture's counting line.
pub struct Cam<'a> {
    pub id: &'a str,
    pub url: String,
    pub fixture: &'a Fixture,
    /// Extra TOML lines for this camera (mode, restricted, ...).
    pub extra: &'a str,
}

/// A fixture camera as the test kit writes it.
pub fn camera(id: &str, url: &str, fixture: &Fixture, extra: &str) -> testkit::agent::Camera {
    let l = fixture.camera.line;
    testkit::agent::Camera {
        id: id.to_string(),
        url: url.to_string(),
        line: (l.a, l.b, format!("{:?}", l.inside).to_lowercase()),
        extra: extra.to_string(),
    }
}

/// Writes `DIR/agent.toml` for agent `agent-e2e` of `site-e2e` (data in
/// `DIR/agent`, no ops endpoint unless `extra` has an `[ops]`).
pub fn agent_config(dir: &Path, api_url: &str, token: &str, cams: &[Cam], extra: &str) -> PathBuf {
    let data_dir = dir.join("agent");
    let agent = testkit::agent::Agent {
        id: "agent-e2e",
        site: "site-e2e",
        data_dir: &data_dir,
        api_url,
        token,
        ops_port: None,
        batch_size: Some(20),
    };
    let cameras: Vec<_> = cams.iter().map(|c| camera(c.id, &c.url, c.fixture, c.extra)).collect();
    testkit::agent::write_config(dir, &agent, &cameras, extra).expect("agent configuration written")
}

/// `edge-agent run` with this configuration.
pub fn start_agent(config: &Path, drain_secs: u64, log: &str) -> Proc {
    testkit::agent::start(config, drain_secs, log).expect("edge-agent starts")
}

pub fn truth_of(f: &Fixture) -> Vec<(Option<String>, String)> {
    let mut v: Vec<_> = f.truth.passages.iter().map(|t| (t.person.clone(), t.direction.as_str().to_string())).collect();
    v.sort();
    v
}

/// Ids of the events still in a stopped agent's outbox (`DATA_DIR/outbox`):
/// stored, never acknowledged — on SIGTERM the agent stops at once and keeps
/// them for its next start.
pub fn left_in_outbox(data_dir: &Path) -> HashSet<String> {
    let outbox = edge_agent::outbox::Outbox::open(&data_dir.join("outbox"), 1 << 30).expect("the outbox opens");
    outbox.peek(usize::MAX).expect("the outbox reads").into_iter().map(|p| p.event.id).collect()
}

/// After a stopped agent's run: every event in the API from the agent was
/// logged as stored, and every stored event not left in its outbox arrived.
/// Returns the ids that were acknowledged (stored, and no longer in the outbox).
pub fn assert_the_api_holds_what_was_stored(
    events: &[serde_json::Value],
    agent: &Proc,
    data_dir: &Path,
) -> HashSet<String> {
    let ids = agent_event_ids(events);
    let stored = stored_ids(agent);
    let left = left_in_outbox(data_dir);
    let acknowledged: HashSet<String> = stored.difference(&left).cloned().collect();
    let never_stored: Vec<_> = ids.difference(&stored).collect();
    let missing: Vec<_> = acknowledged.difference(&ids).collect();
    assert!(
        !stored.is_empty() && never_stored.is_empty() && missing.is_empty(),
        "{} events stored, {} left in the outbox: in the API but never stored {never_stored:?}, \
         acknowledged but not in the API {missing:?}:\n{}",
        stored.len(),
        left.len(),
        agent.text()
    );
    acknowledged
}

/// Waits until the admin API holds exactly the events the agent logged as
/// stored — none missing, none the agent never stored — and returns how many.
/// Fails if the agent logged no stored event at all (its log filter needs
/// `edge_agent::store=debug`): an empty set would prove nothing.
pub fn every_stored_event_arrives_once(api: &AdminApi, agent: &Proc, limit: Duration) -> usize {
    let start = Instant::now();
    loop {
        let arrived = agent_event_ids(&api.events().expect("events"));
        let stored = stored_ids(agent);
        if !stored.is_empty() && arrived == stored {
            return stored.len();
        }
        if start.elapsed() > limit {
            let missing: Vec<_> = stored.difference(&arrived).collect();
            let extra: Vec<_> = arrived.difference(&stored).collect();
            panic!(
                "the admin API should hold exactly the {} events the agent stored; missing {missing:?}, \
                 never stored {extra:?}:\n{}",
                stored.len(),
                agent.text()
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}
