//! Live alerts for gate guards: every anomaly an agent reports, pushed to the
//! browsers of the guards of its site within a second of ingest.
//!
//! One process: a `tokio::sync::broadcast` channel. Several processes on one
//! PostgreSQL: ingest publishes with `pg_notify` after the commit and every
//! process (the publisher included) relays what it hears on `LISTEN` to its
//! own channel — so a guard connected to either process sees every alert,
//! once.

use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use tokio::sync::broadcast;
use wire::events::{Event, EventBody, Priority};

const CHANNEL: &str = "gatewatch_alerts";

/// What a guard's screen shows for one alert.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alert {
    /// `alert` for a new one, `ack` when someone acknowledged it.
    #[serde(rename = "type")]
    pub kind_of_message: String,
    pub id: String,
    pub site: String,
    /// The edge agent that raised it (or, for `edge_offline`, the one it is about).
    #[serde(default)]
    pub agent: String,
    pub camera: String,
    pub kind: String,
    pub priority: Priority,
    pub detail: String,
    pub person_id: Option<String>,
    pub person_name: Option<String>,
    /// The passage this alert is about: its face crop and similarity.
    pub passage_id: Option<String>,
    pub similarity: Option<f32>,
    pub has_face: bool,
    /// The event whose face crop to show: the alert's own when it was raised
    /// ahead of its passage, else the passage's.
    #[serde(default)]
    pub face_event: Option<String>,
    pub created_ms: i64,
    #[serde(default)]
    pub acked_by: Option<String>,
    #[serde(default)]
    pub ack_note: Option<String>,
}

#[derive(Clone)]
pub struct AlertHub {
    tx: broadcast::Sender<Alert>,
    /// Set when alerts also travel through PostgreSQL NOTIFY, to the other
    /// admin-api processes on the same database.
    postgres: bool,
    /// This process, so that it skips its own notifications: its own guards
    /// get its alerts directly, even while its LISTEN connection is being
    /// re-established after a database restart.
    origin: String,
}

/// A NOTIFY payload: the alert and the process that raised it.
#[derive(Serialize, Deserialize)]
struct Notice {
    origin: String,
    alert: Alert,
}

impl AlertHub {
    pub fn new(postgres: bool) -> AlertHub {
        AlertHub { tx: broadcast::channel(1024).0, postgres, origin: uuid::Uuid::new_v4().to_string() }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Alert> {
        self.tx.subscribe()
    }

    /// Publishes alerts (after their events are committed).
    pub async fn publish(&self, db: &AnyPool, alerts: Vec<Alert>) {
        for a in alerts {
            if self.postgres {
                let notice = Notice { origin: self.origin.clone(), alert: a.clone() };
                let payload = serde_json::to_string(&notice).unwrap_or_default();
                if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(db).await {
                    tracing::error!(error = %e, "alert not published to the other admin-api processes");
                }
            }
            let _ = self.tx.send(a);
        }
    }

    /// PostgreSQL: relays NOTIFY payloads to this process's subscribers,
    /// reconnecting when the database connection drops.
    pub fn listen(&self, url: String) {
        let tx = self.tx.clone();
        let origin = self.origin.clone();
        tokio::spawn(async move {
            loop {
                match sqlx::postgres::PgListener::connect(&url).await {
                    Ok(mut listener) => {
                        if let Err(e) = listener.listen(CHANNEL).await {
                            tracing::error!(error = %e, "cannot LISTEN for alerts");
                        } else {
                            tracing::info!("listening for alerts from every admin-api process");
                            while let Ok(n) = listener.recv().await {
                                match serde_json::from_str::<Notice>(n.payload()) {
                                    Ok(notice) if notice.origin == origin => {}
                                    Ok(notice) => {
                                        let _ = tx.send(notice.alert);
                                    }
                                    Err(e) => tracing::warn!(error = %e, "unreadable alert notification"),
                                }
                            }
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "cannot connect to PostgreSQL for alerts; retrying"),
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
    }
}

/// The alerts a batch of ingested events raises, with each anomaly's passage
/// (crop, similarity) when it is in the same batch.
pub fn from_batch(events: &[Event], names: &std::collections::HashMap<String, String>) -> Vec<Alert> {
    let passages: std::collections::HashMap<&str, &Event> =
        events.iter().filter(|e| matches!(e.body, EventBody::Passage(_))).map(|e| (e.id.as_str(), e)).collect();
    events
        .iter()
        .filter_map(|e| {
            let EventBody::Anomaly(a) = &e.body else { return None };
            let passage = a.passage_id.as_deref().and_then(|id| passages.get(id));
            let passage_similarity = match passage.map(|p| &p.body) {
                Some(EventBody::Passage(p)) => p.similarity,
                _ => None,
            };
            let face_event = if a.face_jpeg_b64.is_some() {
                Some(e.id.clone())
            } else {
                passage.filter(|p| p.face_jpeg_b64().is_some()).map(|p| p.id.clone())
            };
            Some(Alert {
                kind_of_message: "alert".into(),
                id: e.id.clone(),
                site: e.site.clone(),
                agent: e.agent.clone(),
                camera: e.camera.clone(),
                kind: serde_json::to_value(a.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                priority: a.kind.priority(),
                detail: a.detail.clone(),
                person_name: a.person_id.as_ref().and_then(|p| names.get(p).cloned()),
                person_id: a.person_id.clone(),
                passage_id: a.passage_id.clone(),
                similarity: a.similarity.or(passage_similarity),
                has_face: face_event.is_some(),
                face_event,
                created_ms: e.created_ms,
                acked_by: None,
                ack_note: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use wire::Direction;
    use wire::events::{AnomalyEvent, AnomalyKind, PassageEvent};

    use super::*;

    fn passage(face: bool) -> Event {
        Event::new(
            "a",
            "s",
            "gate",
            EventBody::Passage(PassageEvent {
                direction: Direction::Entry,
                person_id: Some("p09".into()),
                similarity: Some(0.8),
                track: 1,
                crossed_at_ms: 0,
                face_quality: 0.7,
                verification: None,
                face_jpeg_b64: face.then(|| "x".into()),
            }),
        )
    }

    fn watchlist(passage: &Event, face: bool) -> Event {
        let mut a = AnomalyEvent::new(AnomalyKind::Watchlist, "p09".into());
        a.person_id = Some("p09".into());
        a.passage_id = Some(passage.id.clone());
        a.face_jpeg_b64 = face.then(|| "x".into());
        a.similarity = face.then_some(0.7);
        Event::new("a", "s", "gate", EventBody::Anomaly(a))
    }

    #[test]
    fn an_alert_shows_its_own_face_when_raised_ahead_of_its_passage_else_the_passages() {
        let names = std::collections::HashMap::new();
        // Raised ahead: its own face and similarity, the passage not yet here.
        let p = passage(true);
        let early = watchlist(&p, true);
        let a = &from_batch(std::slice::from_ref(&early), &names)[0];
        assert_eq!(a.face_event.as_deref(), Some(early.id.as_str()));
        assert!(a.has_face);
        assert_eq!(a.similarity, Some(0.7));
        // Raised with its passage: the passage's face and similarity.
        let late = watchlist(&p, false);
        let a = &from_batch(&[p.clone(), late.clone()], &names)[0];
        assert_eq!(a.face_event.as_deref(), Some(p.id.as_str()));
        assert_eq!(a.similarity, Some(0.8));
        // No face anywhere: none shown.
        let bare = passage(false);
        let a = &from_batch(&[bare.clone(), watchlist(&bare, false)], &names)[0];
        assert_eq!(a.face_event, None);
        assert!(!a.has_face);
    }
}
