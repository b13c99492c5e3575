//! Where every event goes first: the durable outbox.
//!
//! When the outbox is past its disk budget (the admin API unreachable for
//! days), events are not dropped silently: the first refusal raises an
//! `outbox_full` anomaly (stored past the budget — it is tiny — and sent
//! ahead of the backlog), every refusal is logged and counted, and refused
//! events wait in a bounded memory queue that is retried as the sender frees
//! space. Only when that queue is full too is an event lost — loudly.
//!
//! When the outbox cannot write at all (its disk full, an I/O error), the
//! same memory queue holds events, an `outbox_full` anomaly saying why is
//! queued first, the sender delivers held events straight from memory while
//! the admin API answers, and the outbox is reopened (at most once a second)
//! as soon as the disk has room; held events then go to disk in order.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::outbox::{Outbox, OutboxError};
use wire::events::{AnomalyEvent, AnomalyKind, Event, EventBody};

use crate::metrics::{KindLabel, Metrics};

/// Events held in memory while the outbox is full.
const OVERFLOW_LIMIT: usize = 10_000;

/// Least time between two attempts to reopen an outbox that failed.
const REOPEN_EVERY: Duration = Duration::from_secs(1);

pub struct EventStore {
    pub outbox: Outbox,
    metrics: Arc<Metrics>,
    agent: String,
    site: String,
    overflow: Mutex<VecDeque<Event>>,
    full: AtomicBool,
    /// Set while the outbox cannot write (its disk full); with the last
    /// attempt to reopen it.
    failed: AtomicBool,
    last_reopen: Mutex<Option<Instant>>,
    /// Set when an event is stored, so that the sender wakes at once instead
    /// of at its next poll (an alert's latency would otherwise include it).
    stored: (Mutex<bool>, Condvar),
}

impl EventStore {
    pub fn new(outbox: Outbox, metrics: Arc<Metrics>, agent: &str, site: &str) -> EventStore {
        EventStore {
            outbox,
            metrics,
            agent: agent.to_string(),
            site: site.to_string(),
            overflow: Mutex::new(VecDeque::new()),
            full: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            last_reopen: Mutex::new(None),
            stored: (Mutex::new(false), Condvar::new()),
        }
    }

    pub fn agent(&self) -> &str {
        &self.agent
    }

    pub fn site(&self) -> &str {
        &self.site
    }

    fn overflow(&self) -> std::sync::MutexGuard<'_, VecDeque<Event>> {
        self.overflow.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits up to `limit` for an event to be stored since the last call.
    pub fn wait_for_stored(&self, limit: Duration) {
        let (flag, wake) = &self.stored;
        let guard = flag.lock().unwrap_or_else(|p| p.into_inner());
        let (mut guard, _) =
            wake.wait_timeout_while(guard, limit, |stored| !*stored).unwrap_or_else(|p| p.into_inner());
        *guard = false;
    }

    fn signal_stored(&self) {
        let (flag, wake) = &self.stored;
        *flag.lock().unwrap_or_else(|p| p.into_inner()) = true;
        wake.notify_all();
    }

    /// Stores an event durably (or, with the outbox full, as described in the module doc).
    pub fn store(&self, event: Event) {
        self.store_quietly(event);
        self.signal_stored();
    }

    fn store_quietly(&self, event: Event) {
        if let EventBody::Anomaly(a) = &event.body {
            let kind = serde_json::to_value(a.kind).ok().and_then(|v| v.as_str().map(str::to_string));
            self.metrics.anomalies.get_or_create(&KindLabel { kind: kind.unwrap_or_default() }).inc();
        }
        // Keep order: while older events wait in memory, newer ones queue behind them.
        if !self.overflow().is_empty() {
            self.hold(event);
            self.retry_overflow();
            return;
        }
        match self.outbox.push(&event) {
            Ok(()) => tracing::debug!(event = %event.id, "event stored in the outbox"),
            Err(OutboxError::Full { used, budget }) => {
                self.report_full(used, budget);
                self.hold(event);
            }
            Err(e) => {
                self.report_failed(&e.to_string());
                self.hold(event);
            }
        }
    }

    fn hold(&self, event: Event) {
        self.metrics.outbox_refused.inc();
        let mut q = self.overflow();
        if q.len() >= OVERFLOW_LIMIT {
            self.metrics.events_lost.inc();
            tracing::error!(event = %event.id, held = q.len(),
                "EVENT LOST: outbox full and {OVERFLOW_LIMIT} events already held in memory; restore the link to the admin API or raise outbox.budget_mb");
            return;
        }
        tracing::error!(event = %event.id, held = q.len() + 1, "outbox full or failing: event held in memory until it can be stored");
        q.push_back(event);
    }

    /// The first failed write of an episode: one anomaly saying why, queued
    /// first (the outbox cannot take it).
    fn report_failed(&self, reason: &str) {
        if self.failed.swap(true, Ordering::Relaxed) {
            return;
        }
        let detail = format!(
            "the outbox cannot write to disk ({reason}); events are held in memory (at most {OVERFLOW_LIMIT}) and sent from there while the admin API answers. Free space on the disk of the agent's data_dir"
        );
        let anomaly = self.outbox_full_anomaly(detail);
        self.overflow().push_front(anomaly);
    }

    /// The `outbox_full` anomaly of an episode, logged and counted.
    fn outbox_full_anomaly(&self, detail: String) -> Event {
        tracing::error!("{detail}");
        self.metrics.anomalies.get_or_create(&KindLabel { kind: "outbox_full".into() }).inc();
        Event::new(
            &self.agent,
            &self.site,
            "",
            EventBody::Anomaly(AnomalyEvent {
                kind: AnomalyKind::OutboxFull,
                detail,
                person_id: None,
                passage_id: None,
                face_jpeg_b64: None,
                similarity: None,
            }),
        )
    }

    /// Reopens a failed outbox, at most once per [`REOPEN_EVERY`].
    fn try_reopen(&self) -> bool {
        if self.outbox.is_available() {
            return true;
        }
        {
            let mut last = self.last_reopen.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < REOPEN_EVERY) {
                return false;
            }
            *last = Some(Instant::now());
        }
        match self.outbox.reopen() {
            Ok(_) => true,
            Err(e) => {
                tracing::debug!(error = %e, "outbox not reopened yet");
                false
            }
        }
    }

    /// Up to `max` held events, oldest first: what the sender delivers
    /// straight from memory while the outbox cannot write.
    pub fn held_batch(&self, max: usize) -> Vec<Event> {
        self.overflow().iter().take(max).cloned().collect()
    }

    /// Drops held events the admin API acknowledged.
    pub fn forget_held(&self, accepted: &std::collections::HashSet<&str>) {
        self.overflow().retain(|e| !accepted.contains(e.id.as_str()));
    }

    fn report_full(&self, used: u64, budget: u64) {
        if self.full.swap(true, Ordering::Relaxed) {
            return;
        }
        let detail = format!(
            "the outbox is full ({} MB of {} MB) because the admin API has not acknowledged events for a long time; new events are held in memory (at most {OVERFLOW_LIMIT})",
            used >> 20,
            budget >> 20
        );
        let anomaly = self.outbox_full_anomaly(detail);
        if let Err(e) = self.outbox.push_over_budget(&anomaly) {
            tracing::error!(error = %e, "the outbox_full anomaly could not be stored");
        }
    }

    /// Moves held events into the outbox while it has room (the sender calls
    /// this after each acknowledged batch).
    pub fn retry_overflow(&self) {
        if !self.try_reopen() {
            return;
        }
        let mut q = self.overflow();
        while let Some(event) = q.front() {
            match self.outbox.push(event) {
                Ok(()) => {
                    tracing::debug!(event = %event.id, "event stored in the outbox");
                    q.pop_front();
                }
                Err(OutboxError::Full { .. }) => return,
                Err(e) => {
                    tracing::error!(error = %e, "outbox failed while storing held events");
                    return;
                }
            }
        }
        let was_full = self.full.swap(false, Ordering::Relaxed);
        if self.failed.swap(false, Ordering::Relaxed) | was_full {
            tracing::info!("outbox has room again; every held event is stored");
        }
    }

    /// At exit, held events go to disk past the budget: the budget protects
    /// the disk from an unbounded backlog; a bounded few thousand events are
    /// worth more than the margin.
    pub fn persist_held_at_exit(&self) {
        if self.held() == 0 {
            return;
        }
        self.try_reopen_now();
        let mut q = self.overflow();
        tracing::error!(held = q.len(), "outbox full at exit: storing held events past the disk budget");
        while let Some(event) = q.pop_front() {
            if let Err(e) = self.outbox.push_over_budget(&event) {
                self.metrics.events_lost.inc();
                tracing::error!(error = %e, event = %event.id, "EVENT LOST at exit");
            }
        }
    }

    fn try_reopen_now(&self) {
        if let Err(e) = self.outbox.reopen() {
            tracing::error!(error = %e, "outbox could not be reopened at exit");
        }
    }

    /// Events held in memory (not yet durable).
    pub fn held(&self) -> usize {
        self.overflow().len()
    }

    /// Refreshes the outbox gauges.
    pub fn observe(&self) {
        self.metrics.outbox_backlog.set((self.outbox.len() + self.held()) as i64);
        self.metrics.outbox_bytes.set(self.outbox.disk_bytes() as i64);
        let age = self.outbox.oldest_ms().map(|t| (wire::time::now_ms() - t).max(0) as f64 / 1000.0);
        self.metrics.outbox_oldest_age_seconds.set(age.unwrap_or(0.0));
    }
}
