//! The network between the edge agent and the admin API fails while a camera
//! streams: first replies are lost (the API stores a batch, the agent never
//! hears so and sends it again), then nothing gets through at all. When the
//! network returns, every event the agent stored is in the API exactly once
//! and the passages are exactly the truth's — nothing lost, nothing twice.

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use common::*;

const OPEN: u8 = 0;
/// Requests reach the API; its replies are dropped and the connection closed.
const LOSE_REPLIES: u8 = 1;
/// Connections are refused (closed at once).
const DOWN: u8 = 2;

/// A TCP proxy on 127.0.0.1 whose link can be degraded on command.
struct Proxy {
    port: u16,
    state: Arc<AtomicU8>,
}

impl Proxy {
    fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(AtomicU8::new(OPEN));
        let st = Arc::clone(&state);
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                if st.load(Ordering::SeqCst) == DOWN {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                let (c2, s2) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                std::thread::spawn(move || pump(client, server, None));
                let st = Arc::clone(&st);
                std::thread::spawn(move || pump(s2, c2, Some(st)));
            }
        });
        Proxy { port, state }
    }

    fn set(&self, state: u8) {
        self.state.store(state, Ordering::SeqCst);
    }
}

/// Copies `from` → `to`; for replies (`state` given), drops them and closes
/// the client while the link is degraded.
fn pump(mut from: TcpStream, mut to: TcpStream, state: Option<Arc<AtomicU8>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if state.as_ref().is_some_and(|s| s.load(Ordering::SeqCst) != OPEN) {
            break;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

#[test]
fn a_failing_network_loses_and_duplicates_nothing() {
    let dir = scratch("network-cut").expect("a scratch folder");
    let f = fixture("s04_unknowns_720p");
    let mut api = AdminApi::new(&dir);
    let token = api.ready_for_agent(&f.dir).expect("the admin API ready for an agent");
    let proxy = Proxy::start(api.port);
    let rtsp = RtspServer::start(0, &["--shared", "--once"], &[("gate1", &f.video)]).expect("the RTSP server starts");
    let cams = [Cam { id: "gate1", url: rtsp.urls[0].clone(), fixture: &f, extra: "" }];
    let config = agent_config(&dir, &format!("http://127.0.0.1:{}", proxy.port), &token, &cams, "");
    let mut agent = start_agent(&config, 60, "info,edge_agent::store=debug,edge_agent::sender=debug");
    let t0 = Instant::now();
    while api.events().expect("stored events").is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(30), "nothing delivered:\n{}", agent.text());
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = api.events().expect("stored events").len();
    proxy.set(LOSE_REPLIES);
    // Until a batch reaches the API whose reply is lost (the agent must send
    // it again, and the API must not store it twice), then a little longer.
    let losing = Instant::now();
    while api.events().expect("stored events").len() == before && losing.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    let stored_without_ack = api.events().expect("stored events").len() - before;
    assert!(stored_without_ack > 0, "no batch reached the API while its replies were lost:\n{}", agent.text());
    proxy.set(DOWN);
    std::thread::sleep(Duration::from_secs(5));
    proxy.set(OPEN);

    let stream_ends = Duration::from_secs_f64(f.camera.frames as f64 / f.camera.fps as f64 + 3.0);
    loop {
        let stored: HashSet<String> =
            api.events().expect("stored events").iter().filter_map(|e| e["id"].as_str().map(str::to_string)).collect();
        if t0.elapsed() > stream_ends && stored_ids(&agent).is_subset(&stored) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "events never delivered:\n{}", agent.text());
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(agent.terminate(Duration::from_secs(20)), "clean stop:\n{}", agent.text());
    let events = api.events().expect("stored events");
    let ids = agent_event_ids(&events);
    let acknowledged = assert_the_api_holds_what_was_stored(&events, &agent, &dir.join("agent"));
    // Batches whose replies were lost were sent again; each event is still
    // acknowledged, so removed from the outbox, once.
    assert_eq!(acknowledged_total(&agent), acknowledged.len(), "each event acknowledged once:\n{}", agent.text());
    assert_eq!(passages_of(&events, Some("gate1")), truth_of(&f), "exactly the truth's passages");
    let failures = agent.text().lines().filter(|l| l.contains("admin API unreachable")).count();
    assert!(failures > 0, "the agent noticed the failing network:\n{}", agent.text());
    eprintln!(
        "{} events stored once; {stored_without_ack} reached the API while its replies were lost (sent again, \
         deduplicated); {failures} failed sends retried",
        ids.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
