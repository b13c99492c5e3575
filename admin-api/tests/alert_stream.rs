//! The guards' live alert stream, real binary on 127.0.0.1, read by a raw
//! Server-Sent-Events client that behaves as a browser's `EventSource`
//! (reconnects with `Last-Event-ID`): a client that stalls through a burst
//! loses no watch-list alert; signing out ends the stream; streams per user
//! are capped.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn send(b: &Browser, path: &str) -> u16 {
    b.post_json(path, json!({})).0
}

#[test]
fn a_guard_who_stalls_through_a_burst_still_sees_every_watchlist_alert() {
    let db = Db::new(Backend::Sqlite, "alert-stream-stall");
    db.user("guard1", "guard", "s1");
    let token = db.agent("agent-1", "s1");
    let server = Server::start(&db);
    let guard = Browser::login(&server, "guard1");
    let mut sse = Sse::open(&server, &guard, None).expect("stream");

    // 2 000 alerts in two batches while the client reads nothing; one in ten
    // a watch-list alert. Details of 10 KB make the burst far larger than
    // what the sockets' buffers can hold, so the server must fall behind.
    let detail = "x".repeat(10_000);
    let mut watchlist = HashSet::new();
    for batch in 0..2 {
        let events: Vec<Value> = (0..1000)
            .map(|i| {
                let kind = if i % 10 == 3 { "watchlist" } else { "unknown_person" };
                let mut a = anomaly("agent-1", "s1", "gate1", kind, None, None);
                a["detail"] = Value::String(format!("{batch}/{i} {detail}"));
                if kind == "watchlist" {
                    watchlist.insert(a["id"].as_str().expect("id").to_string());
                }
                a
            })
            .collect();
        let (s, body) = ingest(&server, &token, &events);
        assert_eq!(s, 200, "{body}");
    }
    std::thread::sleep(Duration::from_secs(30));

    // Catch up: read what the stream delivers, reconnecting as a browser does.
    let mut seen: HashSet<String> = HashSet::new();
    let mut lagged = false;
    let mut last = String::new();
    let until = Instant::now() + Duration::from_secs(60);
    while !watchlist.iter().all(|id| seen.contains(id)) && Instant::now() < until {
        while let Some((event, id)) = sse.next(Duration::from_secs(5)) {
            if event == "lagged" {
                lagged = true;
            } else if event == "alert" {
                seen.insert(id.clone());
                last = id;
            }
            if watchlist.iter().all(|id| seen.contains(id)) {
                break;
            }
        }
        if watchlist.iter().all(|id| seen.contains(id)) {
            break;
        }
        sse = Sse::open(&server, &guard, Some(&last).filter(|l| !l.is_empty()).map(String::as_str)).expect("reconnect");
    }
    assert!(lagged, "the burst did not make the stream fall behind: the test proves nothing");
    let missing = watchlist.iter().filter(|id| !seen.contains(*id)).count();
    assert_eq!(missing, 0, "watch-list alerts lost to a stalled client (of {})", watchlist.len());
}

#[test]
fn signing_out_ends_the_stream_and_streams_per_user_are_capped() {
    let db = Db::new(Backend::Sqlite, "alert-stream-session");
    db.user("guard1", "guard", "s1");
    let server = Server::start(&db);
    let guard = Browser::login(&server, "guard1");
    let other = Browser::login(&server, "guard1");

    let mut sse = Sse::open(&server, &guard, None).expect("stream");
    let signed_out = Instant::now();
    assert_eq!(send(&guard, "/api/v1/auth/logout"), 200);
    let mut ended_with = None;
    while let Some((event, _)) = sse.next(Duration::from_secs(15)) {
        ended_with = Some(event);
    }
    let took = signed_out.elapsed();
    assert_eq!(ended_with.as_deref(), Some("signed_out"), "the stream outlived its session");
    assert!(took < Duration::from_secs(12), "ended {took:?} after signing out");

    let open: Vec<Sse> = (0..8).map(|_| Sse::open(&server, &other, None).expect("under the cap")).collect();
    let refused = Sse::open(&server, &other, None).err().expect("a ninth stream");
    assert!(refused.contains("429"), "{refused}");
    drop(open);
    std::thread::sleep(Duration::from_millis(300));
    assert!(Sse::open(&server, &other, None).is_ok(), "closed streams free their places");
}
