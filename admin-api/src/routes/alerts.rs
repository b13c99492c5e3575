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
use pipeline::events::{Event, EventBody};
use serde::Deserialize;
use sqlx::Row;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

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
    let rows =
        sqlx::query("SELECT body, passage_id FROM events WHERE kind = 'anomaly' ORDER BY created_ms DESC, id LIMIT $1")
            .bind(q.limit.clamp(1, 500) * 4)
            .fetch_all(&state.db)
            .await?;
    let mut events = Vec::new();
    for r in rows {
        let e = parse_event(&r.try_get::<String, _>("body")?)?;
        if !s.user.sees_site(&e.site) {
            continue;
        }
        if let Some(pid) = r.try_get::<Option<String>, _>("passage_id")?
            && let Some(p) = sqlx::query("SELECT body, has_face FROM events WHERE id = $1")
                .bind(&pid)
                .fetch_optional(&state.db)
                .await?
        {
            let mut passage = parse_event(&p.try_get::<String, _>("body")?)?;
            if p.try_get::<i32, _>("has_face")? != 0
                && let EventBody::Passage(pe) = &mut passage.body
            {
                pe.face_jpeg_b64 = Some(String::new()); // marks "has a crop" for from_batch
            }
            events.push(passage);
        }
        events.push(e);
        if events.len() as i64 >= q.limit * 2 {
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
    alerts.truncate(q.limit.clamp(1, 500) as usize);
    Ok(Json(alerts))
}

async fn stream(State(state): State<AppState>, s: SignedIn) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let user = s.user;
    let alerts = BroadcastStream::new(state.alerts.subscribe()).filter_map(move |msg| {
        let alert = msg.ok()?;
        if !user.sees_site(&alert.site) {
            return None;
        }
        let data = serde_json::to_string(&alert).ok()?;
        Some(Ok(SseEvent::default().event(alert.kind_of_message.clone()).id(alert.id.clone()).data(data)))
    });
    Sse::new(alerts).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
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
    if !s.user.sees_site(&event.site) {
        return Err(ApiError::Forbidden(format!("site {:?} is not yours", event.site)));
    }
    let note: String = body.note.chars().take(500).collect();
    let done = sqlx::query(
        "INSERT INTO acks (event_id, user_id, at_ms, note) VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(&id)
    .bind(&s.user.id)
    .bind(pipeline::events::now_ms())
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
