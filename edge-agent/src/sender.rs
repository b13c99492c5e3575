//! Drains the outbox to the admin API: batches, retry with exponential
//! backoff, deletion only after acknowledgement (see [`crate::api`] for the
//! wire contract: the API's dedup by event id makes a re-send harmless).

use std::collections::HashSet;
use std::time::Duration;

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
        let batch = match outbox.peek(batch_size) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox");
                Vec::new()
            }
        };
        if batch.is_empty() {
            if shutdown.requested() {
                return;
            }
            store.wait_for_stored(Duration::from_millis(200));
            continue;
        }
        let events: Vec<_> = batch.iter().map(|p| &p.event).collect();
        match api.post_events(&events) {
            Ok(accepted) => {
                let accepted: HashSet<&str> = accepted.iter().map(String::as_str).collect();
                let keys: Vec<Vec<u8>> =
                    batch.iter().filter(|p| accepted.contains(p.event.id.as_str())).map(|p| p.key.clone()).collect();
                if let Err(e) = outbox.ack(&keys) {
                    tracing::error!(error = %e, "acknowledged events could not be removed (they will be re-sent)");
                }
                metrics.events_delivered.inc_by(keys.len() as u64);
                store.retry_overflow();
                tracing::debug!(
                    sent = batch.len(),
                    acknowledged = keys.len(),
                    waiting = outbox.len(),
                    "batch delivered"
                );
                backoff = BACKOFF_MIN;
            }
            Err(reason) => {
                if shutdown.requested() {
                    return;
                }
                tracing::warn!(%reason, waiting = outbox.len(), retry_in_ms = backoff.as_millis() as u64, "admin API unreachable; events kept");
                shutdown.sleep(backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}
