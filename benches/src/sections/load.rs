//! Load: 50 simulated agents each sending 20 events/s (one batch a second,
//! as a busy gate's agent does) for a set time, while 100 guards hold the
//! live alert stream. Passes only with no failed request, every distinct
//! event stored exactly once, and every alert delivered to every guard.
//! `make soak` runs it for 5 minutes; `make test` for a few seconds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use serde::{Deserialize, Serialize};

use super::ingest::{Traffic, events_for};
use crate::measure::Latency;
use crate::procs::{BenchAdmin, Database, http, scratch, start_admin};

const SITE: &str = "bench";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadResults {
    pub agents: usize,
    pub events_per_agent_per_s: usize,
    pub guards: usize,
    pub seconds: f64,
    pub events_sent: usize,
    pub events_stored: usize,
    pub failed_requests: usize,
    pub ingest_latency_ms: Latency,
    pub alerts: usize,
    /// Alert deliveries received ÷ alerts × guards.
    pub alert_delivery: f64,
}

pub fn run(seconds: u64, agents: usize, rate: usize, guards: usize) -> Result<LoadResults> {
    let dir = scratch("load")?;
    let api = start_admin(Database::sqlite(&dir), &dir)?;
    let tokens = (0..agents).map(|k| api.add_agent(&format!("agent-{k:02}"), SITE)).collect::<Result<Vec<_>>>()?;
    let (tx, rx) = mpsc::channel::<String>();
    // One account per guard, as at a site (an account may hold only a few streams).
    for g in 0..guards {
        let guard = format!("guard-{g:03}");
        api.add_guard(&guard, SITE)?;
        let mut stream = api.alert_stream(&api.guard_cookie(&guard)?)?;
        let tx = tx.clone();
        std::thread::spawn(move || {
            while let Some((alert, _)) = stream.next_alert() {
                if alert["type"] == "alert" && tx.send(alert["id"].as_str().unwrap_or_default().to_string()).is_err() {
                    return;
                }
            }
        });
    }
    drop(tx);
    eprintln!("[load] {agents} agents × {rate} events/s for {seconds} s, {guards} guards on the alert stream");
    let face = super::ingest::thumbnail()?;
    let start = Barrier::new(agents + 1);
    let stop = AtomicBool::new(false);
    let (outcomes, elapsed) = std::thread::scope(|s| {
        let workers: Vec<_> = tokens
            .iter()
            .enumerate()
            .map(|(k, token)| {
                let (start, stop, face, api) = (&start, &stop, face.as_str(), &api);
                s.spawn(move || {
                    let client = http();
                    let agent = format!("agent-{k:02}");
                    let mut traffic = Traffic::default();
                    let (mut sent, mut failed, mut latencies, mut alerts) = (0usize, 0usize, Vec::new(), Vec::new());
                    start.wait();
                    let began = Instant::now();
                    for second in 0u32.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let events = events_for(&agent, SITE, face, rate, &mut traffic);
                        alerts.extend(
                            events
                                .iter()
                                .filter(|e| e["type"] == "anomaly")
                                .filter_map(|e| e["id"].as_str().map(str::to_string)),
                        );
                        let t = Instant::now();
                        match api.ingest(&client, token, &events) {
                            Ok(n) if n == events.len() => sent += n,
                            _ => failed += 1,
                        }
                        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                        // One batch a second, on the second.
                        if let Some(wait) = (Duration::from_secs(u64::from(second) + 1)).checked_sub(began.elapsed()) {
                            std::thread::sleep(wait);
                        }
                    }
                    (sent, failed, latencies, alerts)
                })
            })
            .collect();
        start.wait();
        let began = Instant::now();
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
        let outcomes: Vec<_> = workers.into_iter().filter_map(|w| w.join().ok()).collect();
        (outcomes, began.elapsed().as_secs_f64())
    });
    let (mut sent, mut failed, mut latencies, mut alert_ids) = (0, 0, Vec::new(), Vec::new());
    for (s, f, l, a) in outcomes {
        sent += s;
        failed += f;
        latencies.extend(l);
        alert_ids.extend(a);
    }
    // Deliveries: wait for the stragglers, then count.
    let mut received: HashMap<String, usize> = HashMap::new();
    let until = Instant::now() + Duration::from_secs(10);
    let expected = alert_ids.len() * guards;
    let mut total = 0;
    while total < expected {
        let Some(left) = until.checked_duration_since(Instant::now()) else { break };
        let Ok(id) = rx.recv_timeout(left) else { break };
        *received.entry(id).or_default() += 1;
        total += 1;
    }
    let delivered: usize = alert_ids.iter().map(|id| received.get(id).copied().unwrap_or(0).min(guards)).sum();
    let stored = api.stored_events()?;
    let results = LoadResults {
        agents,
        events_per_agent_per_s: rate,
        guards,
        seconds: elapsed,
        events_sent: sent,
        events_stored: stored,
        failed_requests: failed,
        ingest_latency_ms: Latency::of(&latencies),
        alerts: alert_ids.len(),
        alert_delivery: if expected == 0 { 1.0 } else { delivered as f64 / expected as f64 },
    };
    eprintln!(
        "[load] {} events in {:.0} s, {} stored, {} failed requests, ingest p50 {:.0} ms p99 {:.0} ms; {} alerts, {:.1} % delivered to {} guards",
        results.events_sent,
        results.seconds,
        results.events_stored,
        results.failed_requests,
        results.ingest_latency_ms.p50,
        results.ingest_latency_ms.p99,
        results.alerts,
        results.alert_delivery * 100.0,
        guards
    );
    ensure!(results.failed_requests == 0, "{} requests failed", results.failed_requests);
    ensure!(
        results.events_stored == results.events_sent,
        "{} events sent, {} stored",
        results.events_sent,
        results.events_stored
    );
    ensure!(results.alert_delivery >= 1.0, "only {:.1} % of alert deliveries arrived", results.alert_delivery * 100.0);
    Ok(results)
}
