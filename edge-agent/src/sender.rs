//! Drains the outbox to the admin API: batches, retry with exponential
//! backoff, deletion only after acknowledgement (see [`crate::api`] for the
//! wire contract: the API's dedup by event id makes a re-send harmless).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::outbox::Pending;
use wire::events::{AnomalyEvent, AnomalyKind, Event, EventBody, MAX_BATCH_BYTES};

use crate::api::{ApiClient, SendError};
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::store::EventStore;

const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

pub fn run(api: &ApiClient, batch_size: usize, store: &EventStore, metrics: &Metrics, shutdown: &Shutdown) {
    let outbox = &store.outbox;
    let mut backoff = BACKOFF_MIN;
    loop {
        store.observe();
        if store.held() > 0 {
            // Held events go to disk as soon as there is room (and a failed
            // outbox is reopened first).
            store.retry_overflow();
        }
        let batch = next_batch(store, batch_size);
        if batch.is_empty() {
            if shutdown.requested() {
                return;
            }
            store.wait_for_stored(Duration::from_millis(200));
            continue;
        }
        let mut outcome = Outcome::default();
        deliver(api, &batch.events(), 0, &mut outcome);
        let accepted: HashSet<&str> = outcome.accepted.iter().map(String::as_str).collect();
        let delivered = match &batch {
            Batch::Stored(pending) => {
                let keys: Vec<Vec<u8>> =
                    pending.iter().filter(|p| accepted.contains(p.event.id.as_str())).map(|p| p.key.clone()).collect();
                if let Err(e) = outbox.ack(&keys) {
                    tracing::error!(error = %e, "acknowledged events could not be removed (they will be re-sent)");
                }
                keys.len()
            }
            Batch::Held(events) => {
                store.forget_held(&accepted);
                events.iter().filter(|e| accepted.contains(e.id.as_str())).count()
            }
        };
        metrics.events_delivered.inc_by(delivered as u64);
        // One line per pass, retried or not: the tests add `acknowledged` up to
        // show each stored event is acknowledged (so removed from the outbox,
        // or from memory when it was held there) exactly once.
        tracing::debug!(sent = batch.len(), acknowledged = delivered, waiting = outbox.len(), "batch sent");
        if !outcome.refused.is_empty() {
            set_aside(&batch, &outcome.refused, store, metrics);
        }
        match outcome.retry {
            None => {
                store.retry_overflow();
                backoff = BACKOFF_MIN;
            }
            Some(reason) => {
                if shutdown.requested() {
                    return;
                }
                tracing::warn!(%reason, waiting = outbox.len() + store.held(), retry_in_ms = backoff.as_millis() as u64, "admin API unreachable; events kept");
                wait_out(backoff, store, shutdown);
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// What became of a batch: the ids acknowledged, the events refused for
/// good (index in the batch, the API's reason), and why the rest must wait.
#[derive(Default)]
struct Outcome {
    accepted: Vec<String>,
    refused: Vec<(usize, String)>,
    retry: Option<String>,
}

/// Sends `events` (at `offset` in the batch). A batch the API refuses for
/// good is split in halves until each refused event is alone: one bad event
/// costs about 2·log2(batch) requests, and every other event is delivered.
/// Halves go in order, so a passage still precedes what refers to it.
fn deliver(api: &ApiClient, events: &[&Event], offset: usize, out: &mut Outcome) {
    if out.retry.is_some() || events.is_empty() {
        return;
    }
    match api.post_events(events) {
        Ok(accepted) => out.accepted.extend(accepted),
        Err(SendError::Retry(reason)) => out.retry = Some(reason),
        Err(SendError::Refused(reason)) if events.len() == 1 => out.refused.push((offset, reason)),
        Err(SendError::Refused(_)) => {
            let mid = events.len() / 2;
            deliver(api, &events[..mid], offset, out);
            deliver(api, &events[mid..], offset + mid, out);
        }
    }
}

/// Sets refused events aside in the outbox's quarantine (kept, with the
/// reason, for an operator: `edge-agent quarantine`), counts them, and
/// raises one `event_refused` anomaly for them — unless what was refused is
/// such an anomaly itself (an API that refuses everything from this agent
/// must not start a loop).
fn set_aside(batch: &Batch, refused: &[(usize, String)], store: &EventStore, metrics: &Metrics) {
    let mut kinds = Vec::new();
    for (i, reason) in refused {
        let event = match batch {
            Batch::Stored(pending) => {
                let Some(p) = pending.get(*i) else { continue };
                if let Err(e) = store.outbox.quarantine(&p.key, &p.event, reason) {
                    tracing::error!(error = %e, event = %p.event.id, "a refused event could not be set aside; it will be sent again");
                    continue;
                }
                p.event.clone()
            }
            Batch::Held(events) => {
                let Some(event) = events.get(*i) else { continue };
                // The outbox cannot write: the event is logged whole, so nothing is lost.
                let json = serde_json::to_string(event).unwrap_or_default();
                tracing::error!(event = %event.id, %reason, %json, "EVENT REFUSED by the admin API while the outbox cannot write; it is kept only in this log line");
                store.forget_held(&std::iter::once(event.id.as_str()).collect());
                event.clone()
            }
        };
        metrics.events_quarantined.inc();
        tracing::error!(event = %event.id, %reason, "event refused by the admin API for good; set aside in the outbox's quarantine");
        if !matches!(&event.body, EventBody::Anomaly(a) if a.kind == AnomalyKind::EventRefused) {
            kinds.push((event.id.clone(), reason.clone()));
        }
    }
    let Some((first_id, first_reason)) = kinds.first() else { return };
    let detail = format!(
        "the admin API refused {} event(s) for good; they are kept aside on the agent (`edge-agent quarantine --config …` lists them, `--release` sends them again once the cause is fixed). First: event {first_id}: {}",
        kinds.len(),
        first_reason.chars().take(300).collect::<String>()
    );
    store.store(Event::new(
        store.agent(),
        store.site(),
        "",
        EventBody::Anomaly(AnomalyEvent::new(AnomalyKind::EventRefused, detail)),
    ));
}

/// Sleeps out the API backoff; meanwhile, events held in memory (the outbox
/// full or closed) are offered to the outbox every second, so they reach the
/// disk as soon as it has room rather than after a backoff of up to 30 s.
fn wait_out(backoff: Duration, store: &EventStore, shutdown: &Shutdown) {
    let until = Instant::now() + backoff;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() || shutdown.requested() {
            return;
        }
        shutdown.sleep(left.min(Duration::from_secs(1)));
        if store.held() > 0 {
            store.retry_overflow();
        }
    }
}

/// What the sender sends next: from the outbox, or — while the outbox
/// cannot write — the events held in memory.
enum Batch {
    Stored(Vec<Pending>),
    Held(Vec<Event>),
}

impl Batch {
    fn events(&self) -> Vec<&Event> {
        match self {
            Batch::Stored(p) => p.iter().map(|p| &p.event).collect(),
            Batch::Held(e) => e.iter().collect(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Batch::Stored(p) => p.len(),
            Batch::Held(e) => e.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn next_batch(store: &EventStore, batch_size: usize) -> Batch {
    if !store.outbox.is_available() {
        let mut held = store.held_batch(batch_size);
        held.truncate(within_bytes(held.iter()));
        return Batch::Held(held);
    }
    match store.outbox.peek(batch_size) {
        Ok(mut b) => {
            b.truncate(within_bytes(b.iter().map(|p| &p.event)));
            Batch::Stored(b)
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read the outbox");
            Batch::Stored(Vec::new())
        }
    }
}

/// How many of these events fit one request of at most [`MAX_BATCH_BYTES`]
/// (at least one: an event too large alone is refused by the API and set aside).
fn within_bytes<'a>(events: impl Iterator<Item = &'a Event>) -> usize {
    let mut bytes = 2; // `[` and `]`
    let mut n = 0;
    for e in events {
        let size = serde_json::to_vec(e).map(|v| v.len()).unwrap_or(0) + 1;
        if n > 0 && bytes + size > MAX_BATCH_BYTES {
            break;
        }
        bytes += size;
        n += 1;
    }
    n
}
