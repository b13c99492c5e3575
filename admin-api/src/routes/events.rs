//! Event ingest from edge agents: batched, validated, idempotent by event id,
//! acknowledging only what is durably stored.
//!
//! A batch is all-or-nothing: if any event is malformed or claims another
//! agent or site, the whole batch is refused and nothing changes. Face crops
//! are written to disk (under the data folder, by event id) before the
//! database transaction commits; the event row references them.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde::Serialize;
use sqlx::Row;
use wire::events::{Event, EventBody};

use crate::AppState;
use crate::auth::Agent;
use crate::error::ApiError;

use wire::events::{MAX_BATCH_BYTES, MAX_BATCH_EVENTS as MAX_BATCH, MAX_CROP_BYTES};

/// Largest request body: a batch the agent fills to [`MAX_BATCH_BYTES`],
/// plus one event (the agent always sends at least one).
const MAX_BODY: usize = MAX_BATCH_BYTES + 2 * MAX_CROP_BYTES;

/// How far ahead of the API's clock an agent's clock may run: later times
/// are taken as the time received (retention must not trust a box's clock
/// to keep evidence forever).
const CLOCK_AHEAD_MS: i64 = 5 * 60_000;

/// Every stored event's JSON, oldest first (`admin-api events`).
pub async fn stored_bodies(db: &sqlx::AnyPool) -> Result<Vec<String>, ApiError> {
    let rows = sqlx::query("SELECT body FROM events ORDER BY created_ms, id").fetch_all(db).await?;
    rows.iter().map(|r| Ok(r.try_get::<String, _>("body")?)).collect()
}

pub fn router() -> Router<AppState> {
    Router::new().route("/", post(ingest).layer(axum::extract::DefaultBodyLimit::max(MAX_BODY)))
}

#[derive(Serialize)]
struct Ack {
    accepted: Vec<String>,
}

fn valid_event_id(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok()
}

/// The batch's face crops as JPEG bytes, by event id; a crop that is not
/// base64 refuses the whole batch before anything is written.
pub(crate) fn decode_crops(events: &[Event]) -> Result<Vec<(String, Vec<u8>)>, ApiError> {
    let mut crops = Vec::new();
    for e in events {
        if let Some(b64) = e.face_jpeg_b64() {
            let jpeg = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| ApiError::BadRequest(format!("event {}: face crop is not base64", e.id)))?;
            if jpeg.len() > MAX_CROP_BYTES {
                return Err(ApiError::TooLarge(format!(
                    "event {}: face crop of {} KB; at most {} KB",
                    e.id,
                    jpeg.len() >> 10,
                    MAX_CROP_BYTES >> 10
                )));
            }
            // Served as image/jpeg to guards' browsers: nothing else is kept.
            if !jpeg.starts_with(&[0xFF, 0xD8, 0xFF]) {
                return Err(ApiError::BadRequest(format!("event {}: face crop is not a JPEG", e.id)));
            }
            crops.push((e.id.clone(), jpeg));
        }
    }
    Ok(crops)
}

/// Writes crops as `<event id>.jpg` (ids are checked UUIDs), on one blocking
/// thread rather than one per file.
async fn write_crops(dir: &std::path::Path, crops: Vec<(String, Vec<u8>)>) -> Result<(), ApiError> {
    if crops.is_empty() {
        return Ok(());
    }
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        crops.iter().try_for_each(|(id, jpeg)| std::fs::write(dir.join(format!("{id}.jpg")), jpeg))
    })
    .await
    .map_err(|e| ApiError::Io(std::io::Error::other(format!("writing face crops: {e}"))))??;
    Ok(())
}

/// A token names one agent at one site, so an event may name only what that
/// site may. A passage id must be a UUID of a passage of the same site (in
/// this batch, stored before, or still to come): anything else is refused.
/// A person must be enrolled at the site (or everywhere, or deleted since):
/// a stolen gate-box token must not put another site's person — their name
/// and CCCD — into this site's log. Such a person id is *dropped*, not the
/// event: an edge that was offline while the person moved to another site
/// still delivers its passages, counted as unknown; the drop is logged.
async fn check_references(state: &AppState, agent: &Agent, events: &mut [Event]) -> Result<(), ApiError> {
    let mut allowed: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    let passages_here: std::collections::HashSet<String> =
        events.iter().filter(|e| matches!(e.body, EventBody::Passage(_))).map(|e| e.id.clone()).collect();
    for (i, e) in events.iter_mut().enumerate() {
        let event_id = e.id.clone();
        let (person, passage) = match &mut e.body {
            EventBody::Passage(p) => (&mut p.person_id, None),
            EventBody::Anomaly(a) => (&mut a.person_id, a.passage_id.clone()),
        };
        if let Some(id) = person.clone() {
            let ok = match allowed.get(&id) {
                Some(ok) => *ok,
                None => {
                    let ok = crate::people::may_be_named_at(&state.db, &id, &agent.site).await?;
                    allowed.insert(id.clone(), ok);
                    ok
                }
            };
            if !ok {
                tracing::warn!(agent = %agent.id, site = %agent.site, event = %event_id,
                    person = %id.chars().take(64).collect::<String>(),
                    "an event names a person not enrolled at the agent's site; stored without the name");
                *person = None;
            }
        }
        if let Some(passage) = passage {
            // An anomaly travels ahead of its passage (higher priority), so
            // the passage may not have arrived yet; an id already stored
            // must be a passage of this site.
            let known = uuid::Uuid::parse_str(&passage).is_ok()
                && (passages_here.contains(&passage)
                    || sqlx::query("SELECT site, kind FROM events WHERE id = $1")
                        .bind(&passage)
                        .fetch_optional(&state.db)
                        .await?
                        .map(|r| -> Result<bool, sqlx::Error> {
                            Ok(r.try_get::<String, _>("site")? == agent.site
                                && r.try_get::<String, _>("kind")? == "passage")
                        })
                        .transpose()?
                        .unwrap_or(true));
            if !known {
                return Err(ApiError::Forbidden(format!(
                    "event {i} ({event_id}) refers to {:?}, which is not a passage of site {:?}",
                    passage.chars().take(64).collect::<String>(),
                    agent.site
                )));
            }
        }
    }
    Ok(())
}

/// Which of these event ids are stored already (one query per batch).
async fn already_stored(state: &AppState, ids: &[&str]) -> Result<std::collections::HashSet<String>, ApiError> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!("SELECT id FROM events WHERE id IN ({})", placeholders.join(", "));
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(&state.db).await?;
    rows.iter().map(|r| r.try_get::<String, _>("id").map_err(ApiError::from)).collect()
}

/// What a batch must be before anything of it is looked up or written: not
/// too many events, each with a UUID id, each claiming the token's own agent
/// and site, none of the kinds only the admin API raises.
pub(crate) fn check_batch(agent: &Agent, events: &[Event]) -> Result<(), ApiError> {
    if events.len() > MAX_BATCH {
        return Err(ApiError::BadRequest(format!("batch of {} events; at most {MAX_BATCH}", events.len())));
    }
    for (i, e) in events.iter().enumerate() {
        if !valid_event_id(&e.id) {
            return Err(ApiError::BadRequest(format!("event {i}: id {:?} is not a UUID", e.id)));
        }
        if e.agent != agent.id || e.site != agent.site {
            return Err(ApiError::Forbidden(format!(
                "event {i} claims agent {:?} at site {:?}; this token belongs to agent {:?} at site {:?}",
                e.agent, e.site, agent.id, agent.site
            )));
        }
        if let EventBody::Anomaly(a) = &e.body
            && a.kind.raised_centrally()
        {
            return Err(ApiError::BadRequest(format!("event {i}: {:?} is raised by the admin API only", a.kind)));
        }
    }
    Ok(())
}

async fn ingest(
    State(state): State<AppState>,
    agent: Agent,
    Json(mut events): Json<Vec<Event>>,
) -> Result<Json<Ack>, ApiError> {
    check_batch(&agent, &events)?;
    check_references(&state, &agent, &mut events).await?;
    let received_ms = wire::time::now_ms();
    // Face crops go to disk before this batch's turn at the database: writing
    // ≈ 100 files takes time the single SQLite writer should not wait for. A
    // re-sent batch rewrites the same bytes under the same names.
    let mut crops = decode_crops(&events)?;
    let with_face: std::collections::HashSet<String> = crops.iter().map(|(id, _)| id.clone()).collect();
    // A crop is evidence: one already stored is never replaced (an agent
    // that knows an event id must not swap its face).
    let ids: Vec<&str> = crops.iter().map(|(id, _)| id.as_str()).collect();
    let stored = already_stored(&state, &ids).await?;
    crops.retain(|(id, _)| !stored.contains(id));
    write_crops(&state.crops_dir, crops).await?;
    // SQLite has one writer: batches take turns here, in order, instead of
    // polling for its lock (which under 20 agents ran past the busy timeout).
    let _turn = match &state.sqlite_writer {
        Some(writer) => Some(writer.lock().await),
        None => None,
    };
    let mut tx = state.db.begin().await?;
    let mut inserted = Vec::new();
    for e in &events {
        if store_event(&mut tx, e, with_face.contains(&e.id), received_ms).await? {
            inserted.push(e.clone());
        }
    }
    tx.commit().await?;
    // Alerts for what is new (a re-sent batch alerts nobody twice).
    if inserted.iter().any(|e| matches!(e.body, EventBody::Anomaly(_))) {
        let names = crate::people::names_of(
            &state.db,
            inserted.iter().filter_map(|e| match &e.body {
                EventBody::Anomaly(a) => a.person_id.clone(),
                EventBody::Passage(_) => None,
            }),
            Some(&agent.site),
        )
        .await?;
        state.alerts.publish(&state.db, crate::alerts::from_batch(&inserted, &names)).await;
    }
    Ok(Json(Ack { accepted: events.into_iter().map(|e| e.id).collect() }))
}

/// Stores one event once (a known id changes nothing); true when it is new.
/// Face crops are not kept in the row (they are files); times ahead of the
/// API's clock are clamped to it.
pub async fn store_event(
    conn: &mut sqlx::AnyConnection,
    e: &Event,
    has_face: bool,
    received_ms: i64,
) -> Result<bool, ApiError> {
    let (kind, person, direction, anomaly, at_ms, passage_id) = match &e.body {
        EventBody::Passage(p) => {
            ("passage", p.person_id.clone(), Some(p.direction.as_str()), None, p.crossed_at_ms, None)
        }
        EventBody::Anomaly(a) => {
            let kind = serde_json::to_value(a.kind).ok().and_then(|v| v.as_str().map(str::to_string));
            ("anomaly", a.person_id.clone(), None, kind, e.created_ms, a.passage_id.clone())
        }
    };
    let at_ms = at_ms.min(received_ms + CLOCK_AHEAD_MS);
    let created_ms = e.created_ms.min(received_ms + CLOCK_AHEAD_MS);
    let mut stored = e.clone();
    stored.set_face_jpeg_b64(None);
    let body = serde_json::to_string(&stored).map_err(|err| ApiError::BadRequest(err.to_string()))?;
    let done = sqlx::query(
        "INSERT INTO events (id, agent, site, camera, kind, created_ms, received_ms, person_id, direction, anomaly,
             has_face, body, at_ms, passage_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&e.id)
    .bind(&e.agent)
    .bind(&e.site)
    .bind(&e.camera)
    .bind(kind)
    .bind(created_ms)
    .bind(received_ms)
    .bind(person)
    .bind(direction)
    .bind(anomaly)
    .bind(i32::from(has_face))
    .bind(body)
    .bind(at_ms)
    .bind(passage_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
