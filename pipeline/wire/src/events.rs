//! Events an edge agent reports to the admin API: passages and anomalies.
//!
//! Every event carries a unique id (UUID v4) made when it is created, before
//! it is written to the outbox; the admin API stores each id once, so a batch
//! re-sent after a lost acknowledgement is counted once.

use serde::{Deserialize, Serialize};

use crate::Direction;
use crate::time::now_ms;

/// Most events in one `POST /api/v1/events` batch.
pub const MAX_BATCH_EVENTS: usize = 1000;
/// Most bytes of one batch's JSON: the agent fills batches up to it, the
/// admin API's ingest accepts bodies up to it (with room for one event more,
/// since the agent always sends at least one).
pub const MAX_BATCH_BYTES: usize = 24 << 20;
/// Largest face crop (JPEG bytes) an event may carry; the engine's 192-px
/// thumbnails are 5–20 KB.
pub const MAX_CROP_BYTES: usize = 256 << 10;

/// Kinds of anomaly (ANTT rules), in the admin API's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    UnknownPerson,
    Watchlist,
    AfterHours,
    Tailgating,
    Loitering,
    AntiPassback,
    OverCapacity,
    CameraOffline,
    CameraTampered,
    OutboxFull,
    VerificationFailed,
    /// The admin API refused an event for good (4xx): it was set aside in
    /// the agent's outbox quarantine, with the reason, so later events flow.
    EventRefused,
    /// Raised by the admin API, never by an agent: an agent stopped sending
    /// heartbeats (power, network, or the agent itself is down).
    EdgeOffline,
    /// Raised by the admin API: an agent that was offline reports again.
    EdgeOnline,
}

impl AnomalyKind {
    /// Kinds only the admin API raises (an agent claiming one is refused).
    pub fn raised_centrally(self) -> bool {
        matches!(self, AnomalyKind::EdgeOffline | AnomalyKind::EdgeOnline)
    }
}

impl AnomalyKind {
    /// Delivery priority: lower is sent first. A watch-listed person jumps
    /// the backlog; bookkeeping anomalies wait behind passages.
    pub fn priority(self) -> Priority {
        match self {
            AnomalyKind::Watchlist => Priority::Urgent,
            AnomalyKind::UnknownPerson
            | AnomalyKind::Tailgating
            | AnomalyKind::AntiPassback
            | AnomalyKind::VerificationFailed
            | AnomalyKind::CameraTampered
            | AnomalyKind::OutboxFull
            | AnomalyKind::EventRefused
            | AnomalyKind::EdgeOffline => Priority::High,
            _ => Priority::Normal,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Urgent = 0,
    High = 1,
    Normal = 2,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassageEvent {
    pub direction: Direction,
    /// Enrolled person, or `None` for someone unknown.
    pub person_id: Option<String>,
    pub similarity: Option<f32>,
    pub track: u64,
    /// Unix milliseconds of the crossing.
    pub crossed_at_ms: i64,
    pub face_quality: f32,
    /// Verification mode: the 1:1 check against the expected person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// JPEG of the best face, base64 (absent when no face was good enough).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_jpeg_b64: Option<String>,
}

/// Outcome of a 1:1 verification at a camera in `verify` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationOutcome {
    /// The passer-by is the expected person.
    Verified,
    /// The passer-by is not the expected person (or showed no usable face).
    Failed,
    /// Nobody was expected at this camera (or the expected person is not enrolled).
    NoExpectation,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    pub expected_person: Option<String>,
    pub outcome: VerificationOutcome,
    /// Cosine similarity to the expected person, when there was one to compare.
    pub similarity: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyEvent {
    pub kind: AnomalyKind,
    /// Human-readable detail, in the guard's terms.
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
    /// The passage this anomaly is about, if any (one announced ahead of its
    /// crossing may never come: the person turned back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passage_id: Option<String>,
    /// The face that raised it, JPEG in base64, when it was raised before
    /// its passage (which carries the face otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_jpeg_b64: Option<String>,
    /// How close that face is to the person named, when it was raised
    /// before its passage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f32>,
}

impl AnomalyEvent {
    /// An anomaly about no one in particular.
    pub fn new(kind: AnomalyKind, detail: String) -> AnomalyEvent {
        AnomalyEvent { kind, detail, person_id: None, passage_id: None, face_jpeg_b64: None, similarity: None }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EventBody {
    Passage(PassageEvent),
    Anomaly(AnomalyEvent),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub agent: String,
    pub site: String,
    pub camera: String,
    /// Unix milliseconds when the agent created the event; for an event a
    /// video frame produced, when that frame entered the agent.
    pub created_ms: i64,
    #[serde(flatten)]
    pub body: EventBody,
}

impl Event {
    /// The face crop the event carries (base64 JPEG): a passage's best face,
    /// or the face that raised an alert ahead of its passage.
    pub fn face_jpeg_b64(&self) -> Option<&str> {
        match &self.body {
            EventBody::Passage(p) => p.face_jpeg_b64.as_deref(),
            EventBody::Anomaly(a) => a.face_jpeg_b64.as_deref(),
        }
    }

    /// Sets or clears the face crop.
    pub fn set_face_jpeg_b64(&mut self, face: Option<String>) {
        match &mut self.body {
            EventBody::Passage(p) => p.face_jpeg_b64 = face,
            EventBody::Anomaly(a) => a.face_jpeg_b64 = face,
        }
    }

    pub fn new(agent: &str, site: &str, camera: &str, body: EventBody) -> Event {
        Event::with_id(uuid::Uuid::new_v4().to_string(), agent, site, camera, body)
    }

    /// An event with an id made earlier (a passage's own id).
    pub fn with_id(id: String, agent: &str, site: &str, camera: &str, body: EventBody) -> Event {
        Event {
            id,
            agent: agent.to_string(),
            site: site.to_string(),
            camera: camera.to_string(),
            created_ms: now_ms(),
            body,
        }
    }

    pub fn priority(&self) -> Priority {
        match &self.body {
            EventBody::Passage(_) => Priority::Normal,
            EventBody::Anomaly(a) => a.kind.priority(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_a_type_tag_and_unique_ids() {
        let body = EventBody::Anomaly(AnomalyEvent {
            kind: AnomalyKind::Watchlist,
            detail: "watch-listed person at gate 1".into(),
            person_id: Some("p09".into()),
            passage_id: None,
            face_jpeg_b64: None,
            similarity: None,
        });
        let a = Event::new("agent-1", "site-a", "gate1", body.clone());
        let b = Event::new("agent-1", "site-a", "gate1", body);
        assert_ne!(a.id, b.id);
        let json = serde_json::to_value(&a).expect("json");
        assert_eq!(json["type"], "anomaly");
        assert_eq!(json["kind"], "watchlist");
        let back: Event = serde_json::from_value(json).expect("round trip");
        assert_eq!(back, a);
        assert_eq!(a.priority(), Priority::Urgent);
    }
}
