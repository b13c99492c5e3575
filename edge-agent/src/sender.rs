//! Drains the outbox to the admin API: batches, retry with exponential
//! backoff, deletion only after acknowledgement.
//!
//! Wire contract: `POST {url}/api/v1/events` with `Authorization: Bearer
//! <agent token>` and a JSON array of events; the API answers 200 with
//! `{"accepted": ["<event id>", ...]}` listing the ids it has durably stored
//! (including ids it already had: dedup by id makes a re-send harmless). Only
//! those are removed from the outbox.

use std::collections::HashSet;
use std::time::Duration;

use pipeline::outbox::Outbox;
use serde::Deserialize;

use crate::config::Config;
use crate::shutdown::Shutdown;

#[derive(Deserialize)]
struct Ack {
    accepted: Vec<String>,
}

const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

pub fn run(config: &Config, outbox: &Outbox, shutdown: &Shutdown) {
    let token = match config.token() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "sender not started: events stay in the outbox");
            return;
        }
    };
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(15))).http_status_as_error(false).build(),
    );
    let url = format!("{}/api/v1/events", config.admin_api.url.trim_end_matches('/'));
    let mut backoff = BACKOFF_MIN;
    loop {
        let batch = match outbox.peek(config.admin_api.batch_size) {
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
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        let events: Vec<_> = batch.iter().map(|p| &p.event).collect();
        let outcome = agent
            .post(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .send_json(&events)
            .map_err(|e| e.to_string())
            .and_then(|mut resp| {
                let status = resp.status();
                if status.is_success() {
                    resp.body_mut().read_json::<Ack>().map_err(|e| format!("unreadable acknowledgement: {e}"))
                } else {
                    Err(format!("admin API answered {status}"))
                }
            });
        match outcome {
            Ok(ack) => {
                let accepted: HashSet<&str> = ack.accepted.iter().map(String::as_str).collect();
                let keys: Vec<Vec<u8>> =
                    batch.iter().filter(|p| accepted.contains(p.event.id.as_str())).map(|p| p.key.clone()).collect();
                if let Err(e) = outbox.ack(&keys) {
                    tracing::error!(error = %e, "acknowledged events could not be removed (they will be re-sent)");
                }
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
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}
