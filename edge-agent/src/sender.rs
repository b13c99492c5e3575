//! Drains the outbox to the admin API: batches, retry with exponential
//! backoff, deletion only after acknowledgement (see [`crate::api`] for the
//! wire contract: the API's dedup by event id makes a re-send harmless).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use pipeline::events::Event;
use pipeline::outbox::Pending;

use crate::api::ApiClient;
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
        match api.post_events(&batch.events()) {
            Ok(accepted) => {
                let accepted: HashSet<&str> = accepted.iter().map(String::as_str).collect();
                let delivered = match &batch {
                    Batch::Stored(pending) => {
                        let keys: Vec<Vec<u8>> = pending
                            .iter()
                            .filter(|p| accepted.contains(p.event.id.as_str()))
                            .map(|p| p.key.clone())
                            .collect();
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
                store.retry_overflow();
                tracing::debug!(
                    sent = batch.len(),
                    acknowledged = delivered,
                    waiting = outbox.len(),
                    "batch delivered"
                );
                backoff = BACKOFF_MIN;
            }
            Err(reason) => {
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
        return Batch::Held(store.held_batch(batch_size));
    }
    match store.outbox.peek(batch_size) {
        Ok(b) => Batch::Stored(b),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the outbox");
            Batch::Stored(Vec::new())
        }
    }
}
