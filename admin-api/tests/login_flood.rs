//! A login flood does not take the gate down, real binary on 127.0.0.1:
//! 500 wrong logins at once (many usernames, one client) while an agent
//! ingests and a guard watches alerts. Ingest and alerts keep their latency,
//! the server's memory stays bounded, and signed-in users are untouched.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// Peak resident memory of a process, MB (`VmHWM`).
/// The admin API's peak resident memory so far, MB.
fn peak_mb(server: &Server) -> f64 {
    server.proc.peak_rss().expect("VmHWM") as f64 / (1024.0 * 1024.0)
}

/// Median and worst time for an anomaly to be ingested and reach the guard's stream.
fn alert_latencies(server: &Server, token: &str, sse: &mut Sse, n: usize) -> (Duration, Duration) {
    let mut took = Vec::new();
    for _ in 0..n {
        let a = anomaly("agent-1", "s1", "gate1", "watchlist", None, None);
        let start = Instant::now();
        assert_eq!(ingest(server, token, std::slice::from_ref(&a)).0, 200);
        loop {
            let (event, id) = sse.next(Duration::from_secs(10)).expect("the alert reaches the guard");
            if event == "alert" && a["id"] == id.as_str() {
                break;
            }
        }
        took.push(start.elapsed());
        std::thread::sleep(Duration::from_millis(50));
    }
    took.sort();
    (took[took.len() / 2], took[took.len() - 1])
}

#[test]
fn five_hundred_parallel_wrong_logins_leave_ingest_and_alerts_answering() {
    let db = Db::new(Backend::Sqlite, "login-flood");
    db.user("guard1", "guard", "s1");
    db.user("admin1", "admin", "s1");
    let token = db.agent("agent-1", "s1");
    let server = Server::start(&db);
    let guard = Browser::login(&server, "guard1");
    let mut sse = Sse::open(&server, &guard, None).expect("stream");
    let (base_p50, base_max) = alert_latencies(&server, &token, &mut sse, 10);
    let base_peak = peak_mb(&server);

    let url = format!("{}/api/v1/auth/login", server.url());
    let flood: Vec<_> = (0..500)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                http()
                    .post(&url)
                    .send_json(json!({"username": format!("user{}", i % 100), "password": format!("guess-{i}-xxxxxx")}))
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .collect();
    let (flood_p50, flood_max) = alert_latencies(&server, &token, &mut sse, 10);
    let statuses: Vec<u16> = flood.into_iter().map(|t| t.join().expect("thread")).collect();
    let peak = peak_mb(&server);
    eprintln!(
        "alert latency before: p50 {base_p50:?} max {base_max:?}; during the flood: p50 {flood_p50:?} max {flood_max:?}; \
         peak RSS before {base_peak:.0} MB, after {peak:.0} MB; answers 401 {} / 429 {}",
        statuses.iter().filter(|s| **s == 401).count(),
        statuses.iter().filter(|s| **s == 429).count()
    );
    // 0: the client's connection failed (500 at once from one machine);
    // every answer that came is a refusal.
    assert!(statuses.iter().all(|s| [0, 401, 429].contains(s)), "every wrong login refused: {statuses:?}");
    assert!(statuses.iter().filter(|s| **s == 0).count() <= 25, "the server stopped answering: {statuses:?}");
    assert!(statuses.iter().filter(|s| **s == 401).count() <= 30, "the per-client limit let more guesses through");
    assert!(flood_max < Duration::from_secs(1), "an alert took {flood_max:?} during the flood");
    assert!(peak < base_peak + 100.0, "peak RSS {peak:.0} MB (before the flood {base_peak:.0} MB)");
    // The flooding address waits, even with a right password (its attempts
    // are reserved before they are checked); signed-in users are untouched.
    assert_eq!(guard.get("/api/v1/auth/me").0, 200);
}
