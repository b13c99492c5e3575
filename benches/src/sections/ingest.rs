//! Section 7: the admin API's sustained ingest from 20 concurrent simulated
//! edge agents (SQLite and PostgreSQL), and live-alert fan-out to 100
//! signed-in guards.
//!
//! Each simulated agent posts batches as the real one does (100 events per
//! batch, passages with a real face thumbnail, one anomaly in twenty) and
//! re-sends every fifth batch, as an agent does when an acknowledgement is
//! lost: throughput counts each event once, and the stored count must equal
//! the distinct events sent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use base64::Engine as _;
use pipeline::vision::frame::BgrImage;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use wire::Direction;
use wire::events::{AnomalyEvent, AnomalyKind, Event, EventBody, PassageEvent};

use crate::measure::Latency;
use crate::procs::{AdminApi, BenchAdmin, Database, http, now_ms, scratch, start_admin};

const SITE: &str = "bench";
const AGENTS: usize = 20;
const BATCH: usize = 100;
const GUARDS: usize = 100;
const FAN_OUT_ALERTS: usize = 50;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestRun {
    pub database: String,
    pub agents: usize,
    pub batch: usize,
    pub seconds: f64,
    pub distinct_events: usize,
    pub events_per_s: f64,
    pub batch_latency_ms: Latency,
    /// POSTs the API refused (503) and the agent sent again.
    pub refused_and_resent: usize,
    /// Every distinct event stored exactly once.
    pub stored_matches: bool,
    pub fan_out: FanOut,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FanOut {
    pub guards: usize,
    pub alerts: usize,
    /// Deliveries received ÷ guards × alerts.
    pub delivered: f64,
    /// From just before the agent's POST to the guard's SSE read, ms.
    pub latency_ms: Latency,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IngestResults {
    pub runs: Vec<IngestRun>,
}

/// A real face thumbnail, as the agent sends with a passage (192 px JPEG).
pub(crate) fn thumbnail() -> Result<String> {
    let photo = super::fixture(super::FIXTURE_720P)?.people.first().and_then(|p| p.photos.first().cloned());
    let image = BgrImage::open(&photo.context("no gallery photo")?)?;
    let side = 192.min(image.width()).min(image.height());
    let (x0, y0) = ((image.width() - side) / 2, (image.height() - side) / 3);
    let mut crop = Vec::with_capacity(side * side * 3);
    for y in y0..y0 + side {
        let row = (y * image.width() + x0) * 3;
        crop.extend_from_slice(&image.data()[row..row + side * 3]);
    }
    let jpeg = BgrImage::from_raw(side, side, crop).context("thumbnail")?.to_jpeg(85)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(jpeg))
}

/// What a simulated agent has sent so far.
#[derive(Default)]
pub(crate) struct Traffic {
    seq: u64,
}

/// `n` events as an agent sends them: passages (two in three of a known
/// person) with a face thumbnail, and one anomaly in twenty.
pub(crate) fn events_for(agent: &str, site: &str, face: &str, n: usize, traffic: &mut Traffic) -> Vec<Value> {
    (0..n)
        .map(|_| {
            traffic.seq += 1;
            let seq = traffic.seq;
            let body = if seq % 20 == 19 {
                EventBody::Anomaly(AnomalyEvent {
                    kind: AnomalyKind::UnknownPerson,
                    detail: "unknown person at a restricted gate".into(),
                    person_id: None,
                    passage_id: None,
                    face_jpeg_b64: None,
                    similarity: None,
                })
            } else {
                EventBody::Passage(PassageEvent {
                    direction: if seq.is_multiple_of(2) { Direction::Entry } else { Direction::Exit },
                    person_id: (!seq.is_multiple_of(3)).then(|| format!("p{:03}", seq % 500)),
                    similarity: Some(0.7),
                    track: seq,
                    crossed_at_ms: now_ms(),
                    face_quality: 0.8,
                    verification: None,
                    face_jpeg_b64: Some(face.to_string()),
                })
            };
            serde_json::to_value(Event::new(agent, site, "gate1", body)).unwrap_or(Value::Null)
        })
        .collect()
}

/// Posts a batch as the edge agent does: a refusal (the API busy or its
/// database away) is counted and the batch sent again after a pause.
fn send_as_agent(
    api: &AdminApi,
    client: &ureq::Agent,
    token: &str,
    events: &[Value],
    refused: &mut usize,
) -> Result<usize> {
    let mut attempts = 1;
    loop {
        match api.ingest(client, token, events) {
            Ok(n) => return Ok(n),
            Err(e) if attempts < 5 => {
                *refused += 1;
                attempts += 1;
                eprintln!("[ingest] refused ({e:#}); sending again");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => return Err(e),
        }
    }
}

/// 20 agents posting for `seconds`; (distinct events acknowledged, elapsed,
/// POST latencies, refused POSTs that were sent again).
fn sustained(api: &AdminApi, tokens: &[String], face: &str, seconds: u64) -> Result<(usize, f64, Vec<f64>, usize)> {
    let start = Barrier::new(tokens.len() + 1);
    let stop = AtomicBool::new(false);
    let (results, elapsed) = std::thread::scope(|s| {
        let workers: Vec<_> = tokens
            .iter()
            .enumerate()
            .map(|(k, token)| {
                let (start, stop) = (&start, &stop);
                s.spawn(move || -> Result<(usize, Vec<f64>, usize)> {
                    let client = http();
                    let agent = format!("agent-{k:02}");
                    let (mut traffic, mut distinct, mut latencies) = (Traffic::default(), 0usize, Vec::new());
                    let mut refused = 0usize;
                    start.wait();
                    for n in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let events = events_for(&agent, SITE, face, BATCH, &mut traffic);
                        let sent = Instant::now();
                        let acked = send_as_agent(api, &client, token, &events, &mut refused)?;
                        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                        ensure!(acked == events.len(), "{acked} of {} acknowledged", events.len());
                        distinct += events.len();
                        if n % 5 == 4 {
                            // The acknowledgement "was lost": the agent sends the batch again.
                            send_as_agent(api, &client, token, &events, &mut refused)?;
                        }
                    }
                    Ok((distinct, latencies, refused))
                })
            })
            .collect();
        start.wait();
        let began = Instant::now();
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
        let results: Vec<Result<(usize, Vec<f64>, usize)>> =
            workers.into_iter().map(|w| w.join().unwrap_or_else(|_| Err(anyhow::anyhow!("panicked")))).collect();
        (results, began.elapsed().as_secs_f64())
    });
    let (mut distinct, mut latencies, mut refused) = (0, Vec::new(), 0);
    for r in results {
        let (d, l, f) = r?;
        distinct += d;
        latencies.extend(l);
        refused += f;
    }
    Ok((distinct, elapsed, latencies, refused))
}

/// 100 guards on the alert stream; `FAN_OUT_ALERTS` alerts posted one by one.
fn fan_out(api: &AdminApi, token: &str) -> Result<FanOut> {
    let (tx, rx) = mpsc::channel::<(String, i64)>();
    // One account per guard, as at a site (an account may hold only a few streams).
    for g in 0..GUARDS {
        let guard = format!("guard-{g:03}");
        api.add_guard(&guard, SITE)?;
        let cookie = api.guard_cookie(&guard)?;
        let mut stream = api.alert_stream(&cookie)?;
        let tx = tx.clone();
        std::thread::spawn(move || {
            while let Some((alert, arrived_ms)) = stream.next_alert() {
                let id = alert["id"].as_str().unwrap_or_default().to_string();
                if tx.send((id, arrived_ms)).is_err() {
                    return;
                }
            }
        });
    }
    drop(tx);
    std::thread::sleep(Duration::from_millis(500));
    let client = http();
    let mut sent = std::collections::HashMap::new();
    for _ in 0..FAN_OUT_ALERTS {
        let event = Event::new(
            "agent-00",
            SITE,
            "gate1",
            EventBody::Anomaly(AnomalyEvent {
                kind: AnomalyKind::Watchlist,
                detail: "watch-listed person at gate1".into(),
                person_id: None,
                passage_id: None,
                face_jpeg_b64: None,
                similarity: None,
            }),
        );
        sent.insert(event.id.clone(), event.created_ms);
        api.ingest(&client, token, &[serde_json::to_value(&event)?])?;
        std::thread::sleep(Duration::from_millis(40));
    }
    let (mut latencies, expected) = (Vec::new(), GUARDS * FAN_OUT_ALERTS);
    let until = Instant::now() + Duration::from_secs(5);
    while latencies.len() < expected {
        let Some(left) = until.checked_duration_since(Instant::now()) else { break };
        let Ok((id, arrived)) = rx.recv_timeout(left) else { break };
        if let Some(created) = sent.get(&id) {
            latencies.push((arrived - created) as f64);
        }
    }
    Ok(FanOut {
        guards: GUARDS,
        alerts: FAN_OUT_ALERTS,
        delivered: latencies.len() as f64 / expected as f64,
        latency_ms: Latency::of(&latencies),
    })
}

fn one(db: Database, seconds: u64, face: &str) -> Result<IngestRun> {
    let label = db.label().to_string();
    let dir = scratch(&format!("ingest-{}", label.to_lowercase()))?;
    let api = start_admin(db, &dir)?;
    let tokens = (0..AGENTS).map(|k| api.add_agent(&format!("agent-{k:02}"), SITE)).collect::<Result<Vec<_>>>()?;
    eprintln!("[ingest] {label}: {AGENTS} agents for {seconds} s");
    let (distinct, elapsed, latencies, refused) = sustained(&api, &tokens, face, seconds)?;
    let stored = api.stored_events()?;
    let events_per_s = distinct as f64 / elapsed;
    eprintln!("[ingest] {label}: {distinct} events in {elapsed:.1} s = {events_per_s:.0}/s; {stored} stored");
    let fan_out = fan_out(&api, &tokens[0])?;
    eprintln!(
        "[ingest] {label}: fan-out to {GUARDS} guards: {:.3} delivered, p50 {:.0} ms, p99 {:.0} ms",
        fan_out.delivered, fan_out.latency_ms.p50, fan_out.latency_ms.p99
    );
    Ok(IngestRun {
        database: label,
        agents: AGENTS,
        batch: BATCH,
        seconds: elapsed,
        distinct_events: distinct,
        events_per_s,
        batch_latency_ms: Latency::of(&latencies),
        refused_and_resent: refused,
        stored_matches: stored == distinct,
        fan_out,
    })
}

pub fn run(seconds: u64) -> Result<IngestResults> {
    let face = thumbnail()?;
    let sqlite_dir = scratch("ingest-db")?;
    let runs =
        vec![one(Database::sqlite(&sqlite_dir), seconds, &face)?, one(Database::postgres("ingest")?, seconds, &face)?];
    Ok(IngestResults { runs })
}
