//! Gate guards' alerts: `GET /api/v1/alerts` (recent, newest first, for the
//! user's sites), `GET /api/v1/alerts/stream` (Server-Sent Events: new alerts
//! and acknowledgements as they happen; browsers reconnect by themselves),
//! `POST /api/v1/alerts/{id}/ack` (with a note; audited).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::Stream;
use serde::Deserialize;
use sqlx::Row;
use tokio::sync::broadcast;
use wire::events::{Event, EventBody};

use crate::AppState;
use crate::alerts::{Alert, from_batch};
use crate::error::ApiError;
use crate::session::SignedIn;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/alerts", get(recent))
        .route("/alerts/stream", get(stream))
        .route("/alerts/{id}/ack", post(ack))
}

#[derive(Deserialize)]
struct Limit {
    #[serde(default = "fifty")]
    limit: i64,
}

fn fifty() -> i64 {
    50
}

fn parse_event(body: &str) -> Result<Event, ApiError> {
    serde_json::from_str(body).map_err(|e| ApiError::Unavailable(format!("stored event unreadable: {e}")))
}

async fn recent(
    State(state): State<AppState>,
    s: SignedIn,
    Query(q): Query<Limit>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    let limit = q.limit.clamp(1, 500);
    let rows = sqlx::query(
        "SELECT body, passage_id, has_face, person_id FROM events WHERE kind = 'anomaly' ORDER BY created_ms DESC, id LIMIT $1",
    )
    .bind(limit * 4)
    .fetch_all(&state.db)
    .await?;
    let mut alerts = alerts_of(&state, &rows, &s.user, limit as usize).await?;
    alerts.truncate(limit as usize);
    Ok(Json(alerts))
}

/// The alerts of these anomaly rows (`body`, `passage_id`, `has_face`, `person_id`) that `user` may
/// see, in the rows' order, at most `max`: each with its passage's crop
/// and similarity, the person's name and who acknowledged it.
async fn alerts_of(
    state: &AppState,
    rows: &[sqlx::any::AnyRow],
    user: &crate::users::User,
    max: usize,
) -> Result<Vec<Alert>, ApiError> {
    let mut events = Vec::new();
    let mut anomalies = 0;
    for r in rows {
        let mut e = parse_event(&r.try_get::<String, _>("body")?)?;
        if !user.sees_site(&e.site) {
            continue;
        }
        if r.try_get::<i32, _>("has_face")? != 0 {
            e.set_face_jpeg_b64(Some(String::new())); // marks "has a crop" for from_batch
        }
        // The row's person, not the body's: a correction ("not this
        // person") or an erasure clears the column.
        if let EventBody::Anomaly(a) = &mut e.body {
            a.person_id = r.try_get("person_id")?;
        }
        if let Some(pid) = r.try_get::<Option<String>, _>("passage_id")?
            && let Some(p) = sqlx::query("SELECT body, has_face FROM events WHERE id = $1 AND site = $2")
                .bind(&pid)
                .bind(&e.site)
                .fetch_optional(&state.db)
                .await?
        {
            let mut passage = parse_event(&p.try_get::<String, _>("body")?)?;
            if p.try_get::<i32, _>("has_face")? != 0 {
                passage.set_face_jpeg_b64(Some(String::new())); // marks "has a crop" for from_batch
            }
            events.push(passage);
        }
        events.push(e);
        anomalies += 1;
        if anomalies >= max {
            break;
        }
    }
    let ids = events.iter().filter_map(|e| match &e.body {
        EventBody::Anomaly(a) => a.person_id.clone(),
        EventBody::Passage(_) => None,
    });
    // Ingest accepts only people enrolled at the event's site.
    let names = crate::people::names_of(&state.db, ids, None).await?;
    let mut alerts = from_batch(&events, &names);
    for a in &mut alerts {
        if let Some(r) =
            sqlx::query("SELECT u.username, a.note FROM acks a JOIN users u ON u.id = a.user_id WHERE a.event_id = $1")
                .bind(&a.id)
                .fetch_optional(&state.db)
                .await?
        {
            a.acked_by = Some(r.try_get("username")?);
            a.ack_note = Some(r.try_get("note")?);
        }
    }
    Ok(alerts)
}

/// Most alerts replayed to a stream that reconnects (after a lag, a network
/// drop): far more than a burst at one site, and bounded.
const MAX_REPLAY: usize = 5000;
/// How far back a reconnecting stream is replayed, at most.
const REPLAY_WINDOW_MS: i64 = 3_600_000;
/// How often a live stream checks that its session is still valid (logout,
/// expiry, a disabled user or a changed password end it within this).
const SESSION_CHECK: Duration = Duration::from_secs(5);

/// Alerts after the one a reconnecting stream saw last (`Last-Event-ID`),
/// oldest first. Alerts stored in the same millisecond as it are sent again
/// too: the page ignores ids it has.
async fn replay_after(state: &AppState, user: &crate::users::User, last: &str) -> Result<Vec<Alert>, ApiError> {
    if uuid::Uuid::parse_str(last).is_err() {
        return Ok(Vec::new());
    }
    let Some(row) =
        sqlx::query("SELECT received_ms FROM events WHERE id = $1").bind(last).fetch_optional(&state.db).await?
    else {
        return Ok(Vec::new());
    };
    // At most the last hour is replayed: a reconnect after a lag or a
    // network drop needs seconds; an old id must not cost a scan of days.
    let since: i64 = row.try_get::<i64, _>("received_ms")?.max(wire::time::now_ms() - REPLAY_WINDOW_MS);
    let rows = sqlx::query(
        "SELECT body, passage_id, has_face, person_id FROM events WHERE kind = 'anomaly' AND received_ms >= $1
         ORDER BY received_ms, id LIMIT $2",
    )
    .bind(since)
    .bind(MAX_REPLAY as i64 * 4)
    .fetch_all(&state.db)
    .await?;
    alerts_of(state, &rows, user, MAX_REPLAY).await
}

fn sse_of(alert: &Alert) -> Option<SseEvent> {
    let data = serde_json::to_string(alert).ok()?;
    let message = SseEvent::default().event(alert.kind_of_message.clone()).data(data);
    // Only a new alert moves the client's `Last-Event-ID`: an acknowledgement
    // of yesterday's alert must not make a reconnect replay from yesterday.
    Some(if alert.kind_of_message == "alert" { message.id(alert.id.clone()) } else { message })
}

/// One guard's live stream: what was missed first (on a reconnect), then
/// alerts as they are published.
struct LiveStream {
    state: AppState,
    user: crate::users::User,
    session: String,
    missed: std::collections::VecDeque<Alert>,
    live: broadcast::Receiver<Alert>,
    next_check: tokio::time::Instant,
    ended: bool,
    _slot: crate::session::StreamSlot,
}

impl LiveStream {
    /// The next message, or `None` when the stream ends.
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if self.ended {
                return None;
            }
            if let Some(a) = self.missed.pop_front() {
                match sse_of(&a) {
                    Some(m) => return Some(m),
                    None => continue,
                }
            }
            tokio::select! {
                msg = self.live.recv() => match msg {
                    Ok(alert) if self.user.sees_site(&alert.site) => {
                        if let Some(m) = sse_of(&alert) {
                            return Some(m);
                        }
                    }
                    Ok(_) => {}
                    // Too slow to keep up: say so and end. The browser
                    // reconnects with the last id it saw (`Last-Event-ID`)
                    // and is sent everything after it, from the database.
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(user = %self.user.username, missed, "alert stream lagged; the client will catch up on reconnect");
                        self.ended = true;
                        return Some(SseEvent::default().event("lagged").data(missed.to_string()));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = tokio::time::sleep_until(self.next_check) => {
                    self.next_check = tokio::time::Instant::now() + SESSION_CHECK;
                    if !crate::session::still_valid(&self.state, &self.session).await {
                        self.ended = true;
                        return Some(SseEvent::default().event("signed_out").data("the session ended: sign in again"));
                    }
                }
            }
        }
    }
}

async fn stream(
    State(state): State<AppState>,
    s: SignedIn,
    headers: axum::http::HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let slot = state.streams.take(&s.user.id).ok_or_else(|| {
        ApiError::TooMany(format!(
            "{} live alert streams are open for this user already: close a tab or screen (try again in {} s)",
            crate::session::MAX_STREAMS_PER_USER,
            crate::session::STREAM_RETRY_SECS
        ))
    })?;
    // Subscribe before reading what was missed: an alert published between
    // the two is then sent twice (the page ignores the repeat), never lost.
    let live = state.alerts.subscribe();
    let missed = match headers.get("last-event-id").and_then(|v| v.to_str().ok()) {
        Some(last) => replay_after(&state, &s.user, last).await?,
        None => Vec::new(),
    };
    let session = s.session.clone();
    let stream = LiveStream {
        state,
        user: s.user,
        session,
        missed: missed.into(),
        live,
        next_check: tokio::time::Instant::now() + SESSION_CHECK,
        ended: false,
        _slot: slot,
    };
    let messages = futures_util::stream::unfold(stream, |mut st| async move {
        let m = st.next().await?;
        Some((Ok(m.retry(Duration::from_secs(1))), st))
    });
    Ok(Sse::new(messages).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[derive(Deserialize)]
struct Ack {
    #[serde(default)]
    note: String,
}

async fn ack(
    State(state): State<AppState>,
    s: SignedIn,
    Path(id): Path<String>,
    Json(body): Json<Ack>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::BadRequest("not an alert id".into()));
    }
    let row = sqlx::query("SELECT body FROM events WHERE id = $1 AND kind = 'anomaly'")
        .bind(&id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such alert".into()))?;
    let event = parse_event(&row.try_get::<String, _>("body")?)?;
    s.user.require_site(&event.site)?;
    let note: String = body.note.chars().take(500).collect();
    let done = sqlx::query(
        "INSERT INTO acks (event_id, user_id, at_ms, note) VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(&id)
    .bind(&s.user.id)
    .bind(wire::time::now_ms())
    .bind(&note)
    .execute(&state.db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::Conflict("this alert was already acknowledged".into()));
    }
    crate::audit::record(&state.db, &s.user.username, "acknowledgement", &id, &note).await?;
    let mut alert = from_batch(std::slice::from_ref(&event), &Default::default()).remove(0);
    alert.kind_of_message = "ack".into();
    alert.acked_by = Some(s.user.username.clone());
    alert.ack_note = Some(note);
    state.alerts.publish(&state.db, vec![alert]).await;
    Ok(Json(serde_json::json!({ "acknowledged": id })))
}
