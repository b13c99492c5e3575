//! The durable outbox: every event is on disk before anyone tries to send it.
//!
//! Guarantee (at-least-once, exactly-once in effect with the admin API's
//! dedup by event id): [`Outbox::push`] returns only after the event is
//! flushed to disk; [`Outbox::ack`] removes events only after the admin API
//! acknowledged them. A process killed at any moment loses nothing that
//! `push` accepted; an event sent but not acknowledged is sent again.
//!
//! Order: keys are `[priority][sequence]`, so urgent events (a watch-listed
//! person) are read ahead of the backlog and, within a priority, first in
//! first out. A disk budget bounds the outbox: past it, `push` refuses with
//! [`OutboxError::Full`] — the caller must say so loudly — rather than
//! dropping anything silently.

//!
//! A failed write (the disk full, an I/O error) closes the database: sled
//! cannot be trusted after one (measured: after ENOSPC every write fails even
//! once space returns, and reading its length can spin forever). Until
//! [`Outbox::reopen`] succeeds, every call answers [`OutboxError::Unavailable`]
//! at once without touching the disk; what was flushed before is intact and
//! read back on reopening.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use wire::events::Event;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(
        "outbox database at {path} cannot be opened: {reason}. If it is corrupt, move the folder aside (its unsent events are then lost) and restart"
    )]
    Open { path: String, reason: String },
    #[error("outbox: {0}")]
    Db(#[from] sled::Error),
    #[error(
        "outbox is full ({used} bytes of a {budget}-byte budget): events cannot be kept until the admin API is reachable again"
    )]
    Full { used: u64, budget: u64 },
    #[error(
        "outbox at {path} cannot be written ({reason}); it is closed until it can be reopened: free space on its disk"
    )]
    Unavailable { path: String, reason: String },
    #[error("outbox record is unreadable: {0}")]
    Corrupt(String),
}

/// One stored event, with the key that acknowledges it.
#[derive(Debug, Clone)]
pub struct Pending {
    pub key: Vec<u8>,
    pub event: Event,
}

/// An event the admin API refused for good, set aside with the reason.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Quarantined {
    pub reason: String,
    /// Unix ms when it was set aside.
    pub at_ms: i64,
    pub event: Event,
}

#[derive(Clone)]
struct Handle {
    db: sled::Db,
    events: sled::Tree,
    /// Events the admin API refused for good: kept (never sent again unless
    /// an operator releases them) so one bad event cannot block the rest.
    quarantine: sled::Tree,
}

impl Handle {
    fn open(path: &Path) -> Result<Handle, OutboxError> {
        let open = || -> Result<Handle, sled::Error> {
            let db = sled::Config::new().path(path).open()?;
            let events = db.open_tree("events")?;
            let quarantine = db.open_tree("quarantine")?;
            Ok(Handle { db, events, quarantine })
        };
        open().map_err(|e| OutboxError::Open { path: path.display().to_string(), reason: e.to_string() })
    }
}

pub struct Outbox {
    path: PathBuf,
    budget_bytes: u64,
    /// `None` after a failed write, until reopened.
    handle: RwLock<Option<Handle>>,
    /// Why the outbox is closed.
    failure: Mutex<String>,
}

impl Outbox {
    pub fn open(path: &Path, budget_bytes: u64) -> Result<Outbox, OutboxError> {
        let handle = Handle::open(path)?;
        Ok(Outbox {
            path: path.to_path_buf(),
            budget_bytes,
            handle: RwLock::new(Some(handle)),
            failure: Mutex::new(String::new()),
        })
    }

    fn handle(&self) -> Result<Handle, OutboxError> {
        match &*self.handle.read().unwrap_or_else(|p| p.into_inner()) {
            Some(h) => Ok(h.clone()),
            None => Err(self.unavailable(self.failure.lock().unwrap_or_else(|p| p.into_inner()).clone())),
        }
    }

    fn unavailable(&self, reason: String) -> OutboxError {
        OutboxError::Unavailable { path: self.path.display().to_string(), reason }
    }

    /// Closes the database after a failed write (see the module doc).
    fn fail(&self, e: sled::Error) -> OutboxError {
        let reason = match &e {
            sled::Error::Io(io) => io.to_string(),
            other => other.to_string(),
        };
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = reason.clone();
        let closed = self.handle.write().unwrap_or_else(|p| p.into_inner()).take();
        if closed.is_some() {
            tracing::error!(path = %self.path.display(), %reason, "outbox write failed: closing it until it can be reopened");
        }
        drop(closed);
        self.unavailable(reason)
    }

    /// Whether the outbox is open (no failed write since it was last opened).
    pub fn is_available(&self) -> bool {
        self.handle.read().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Reopens the outbox after a failed write; `Ok(true)` when it is open
    /// (again). Fails while the disk still has no room for sled to start.
    pub fn reopen(&self) -> Result<bool, OutboxError> {
        let mut slot = self.handle.write().unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            return Ok(true);
        }
        let handle =
            Handle::open(&self.path).map_err(|e| self.unavailable(format!("still cannot be reopened: {e}")))?;
        tracing::info!(path = %self.path.display(), waiting = handle.events.len(), "outbox reopened");
        *slot = Some(handle);
        Ok(true)
    }

    /// Bytes the outbox occupies on disk (0 while it is closed).
    pub fn disk_bytes(&self) -> u64 {
        self.handle().ok().and_then(|h| h.db.size_on_disk().ok()).unwrap_or(0)
    }

    /// Stores an event durably. Errors instead of dropping when over budget.
    pub fn push(&self, event: &Event) -> Result<(), OutboxError> {
        let used = self.disk_bytes();
        if used > self.budget_bytes {
            return Err(OutboxError::Full { used, budget: self.budget_bytes });
        }
        self.insert(event)
    }

    fn insert(&self, event: &Event) -> Result<(), OutboxError> {
        let bytes = serde_json::to_vec(event).map_err(|e| OutboxError::Corrupt(e.to_string()))?;
        let h = self.handle()?;
        let write = || -> Result<(), sled::Error> {
            let mut key = Vec::with_capacity(9);
            key.push(event.priority() as u8);
            key.extend_from_slice(&h.db.generate_id()?.to_be_bytes());
            h.events.insert(key, bytes)?;
            h.db.flush()?;
            Ok(())
        };
        write().map_err(|e| self.fail(e))
    }

    /// Stores an event even past the budget: only for the one anomaly that
    /// reports the outbox is full (a few hundred bytes, once per episode).
    pub fn push_over_budget(&self, event: &Event) -> Result<(), OutboxError> {
        self.insert(event)
    }

    /// Up to `max` events, most urgent first, oldest first within a priority.
    pub fn peek(&self, max: usize) -> Result<Vec<Pending>, OutboxError> {
        let h = self.handle()?;
        h.events
            .iter()
            .take(max)
            .map(|kv| {
                let (k, v) = kv?;
                let event = serde_json::from_slice(&v).map_err(|e| OutboxError::Corrupt(e.to_string()))?;
                Ok(Pending { key: k.to_vec(), event })
            })
            .collect()
    }

    /// Removes acknowledged events; durable on return.
    pub fn ack(&self, keys: &[Vec<u8>]) -> Result<(), OutboxError> {
        let h = self.handle()?;
        let mut batch = sled::Batch::default();
        for k in keys {
            batch.remove(k.as_slice());
        }
        let write = || -> Result<(), sled::Error> {
            h.events.apply_batch(batch)?;
            h.db.flush()?;
            Ok(())
        };
        write().map_err(|e| self.fail(e))
    }

    /// Sets a stored event aside (it leaves the sending queue), with why the
    /// admin API refused it; durable on return. Setting aside twice (a
    /// crash between the two writes) keeps one copy.
    pub fn quarantine(&self, key: &[u8], event: &Event, reason: &str) -> Result<(), OutboxError> {
        let record = Quarantined { reason: reason.to_string(), at_ms: wire::time::now_ms(), event: event.clone() };
        let bytes = serde_json::to_vec(&record).map_err(|e| OutboxError::Corrupt(e.to_string()))?;
        let h = self.handle()?;
        let write = || -> Result<(), sled::Error> {
            h.quarantine.insert(key, bytes)?;
            h.events.remove(key)?;
            h.db.flush()?;
            Ok(())
        };
        write().map_err(|e| self.fail(e))
    }

    /// Every event set aside, oldest first within a priority.
    pub fn quarantined(&self) -> Result<Vec<Quarantined>, OutboxError> {
        let h = self.handle()?;
        h.quarantine
            .iter()
            .map(|kv| {
                let (_, v) = kv?;
                serde_json::from_slice(&v).map_err(|e| OutboxError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// Puts every event set aside back in the sending queue (once the cause
    /// is fixed at the admin API); returns how many.
    pub fn release_quarantine(&self) -> Result<usize, OutboxError> {
        let h = self.handle()?;
        let mut released = 0;
        for kv in h.quarantine.iter() {
            let (k, v) = kv?;
            let record: Quarantined = serde_json::from_slice(&v).map_err(|e| OutboxError::Corrupt(e.to_string()))?;
            let bytes = serde_json::to_vec(&record.event).map_err(|e| OutboxError::Corrupt(e.to_string()))?;
            let write = || -> Result<(), sled::Error> {
                h.events.insert(&k, bytes)?;
                h.quarantine.remove(&k)?;
                Ok(())
            };
            write().map_err(|e| self.fail(e))?;
            released += 1;
        }
        h.db.flush().map_err(|e| self.fail(e))?;
        Ok(released)
    }

    /// Events waiting (0 while the outbox is closed).
    pub fn len(&self) -> usize {
        self.handle().map(|h| h.events.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.handle().map(|h| h.events.is_empty()).unwrap_or(true)
    }

    /// Creation time (unix ms) of the oldest waiting event.
    /// Within a priority events are first in, first out, so the oldest is
    /// the first of one of the priorities: three reads, whatever the backlog.
    pub fn oldest_ms(&self) -> Option<i64> {
        let h = self.handle().ok()?;
        (0u8..=2)
            .filter_map(|p| h.events.scan_prefix([p]).next())
            .filter_map(|kv| kv.ok())
            .filter_map(|(_, v)| serde_json::from_slice::<Event>(&v).ok())
            .map(|e| e.created_ms)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::Direction;
    use wire::events::{AnomalyEvent, AnomalyKind, EventBody, PassageEvent};

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("gatewatch-outbox-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn passage(track: u64) -> Event {
        Event::new(
            "a",
            "s",
            "c",
            EventBody::Passage(PassageEvent {
                direction: Direction::Entry,
                person_id: None,
                similarity: None,
                track,
                crossed_at_ms: 0,
                face_quality: 0.5,
                verification: None,
                face_jpeg_b64: None,
            }),
        )
    }

    fn anomaly(kind: AnomalyKind) -> Event {
        Event::new("a", "s", "c", EventBody::Anomaly(AnomalyEvent::new(kind, String::new())))
    }

    #[test]
    fn events_survive_reopening_until_acknowledged() {
        let dir = tmp("reopen");
        let ids: Vec<String>;
        {
            let ob = Outbox::open(&dir, 1 << 30).expect("open");
            let evs: Vec<Event> = (0..5).map(passage).collect();
            ids = evs.iter().map(|e| e.id.clone()).collect();
            for e in &evs {
                ob.push(e).expect("push");
            }
            let first = ob.peek(2).expect("peek");
            ob.ack(&first.iter().map(|p| p.key.clone()).collect::<Vec<_>>()).expect("ack");
        }
        let ob = Outbox::open(&dir, 1 << 30).expect("reopen");
        let left: Vec<String> = ob.peek(100).expect("peek").into_iter().map(|p| p.event.id).collect();
        assert_eq!(left, ids[2..].to_vec(), "unacknowledged events remain, in order");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_watchlist_alert_jumps_the_backlog() {
        let dir = tmp("priority");
        let ob = Outbox::open(&dir, 1 << 30).expect("open");
        for t in 0..10 {
            ob.push(&passage(t)).expect("push");
        }
        ob.push(&anomaly(AnomalyKind::CameraOffline)).expect("push");
        ob.push(&anomaly(AnomalyKind::Watchlist)).expect("push");
        let first = ob.peek(1).expect("peek");
        assert!(matches!(&first[0].event.body, EventBody::Anomaly(a) if a.kind == AnomalyKind::Watchlist));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn over_budget_is_refused_loudly_not_dropped() {
        let dir = tmp("budget");
        let ob = Outbox::open(&dir, 1).expect("open");
        let mut refused = false;
        for t in 0..200 {
            if let Err(e) = ob.push(&passage(t)) {
                assert!(matches!(e, OutboxError::Full { .. }), "{e}");
                assert!(e.to_string().contains("budget"));
                refused = true;
                break;
            }
        }
        assert!(refused, "a 1-byte budget must be exceeded");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_quarantined_event_leaves_the_queue_keeps_its_reason_and_can_be_released() {
        let dir = tmp("quarantine");
        let evs: Vec<Event> = (0..3).map(passage).collect();
        {
            let ob = Outbox::open(&dir, 1 << 30).expect("open");
            for e in &evs {
                ob.push(e).expect("push");
            }
            let pending = ob.peek(3).expect("peek");
            ob.quarantine(&pending[1].key, &pending[1].event, "403: not enrolled here").expect("quarantine");
            let left: Vec<String> = ob.peek(10).expect("peek").into_iter().map(|p| p.event.id).collect();
            assert_eq!(left, vec![evs[0].id.clone(), evs[2].id.clone()]);
        }
        let ob = Outbox::open(&dir, 1 << 30).expect("reopen");
        let q = ob.quarantined().expect("list");
        assert_eq!(
            (q.len(), q[0].event.id.as_str(), q[0].reason.as_str()),
            (1, evs[1].id.as_str(), "403: not enrolled here")
        );
        assert_eq!(ob.release_quarantine().expect("release"), 1);
        let order: Vec<String> = ob.peek(10).expect("peek").into_iter().map(|p| p.event.id).collect();
        assert_eq!(order, evs.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), "back in its place");
        assert!(ob.quarantined().expect("list").is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
