//! "This is not X": an admin marks a passage's match as wrong. The passage
//! becomes unknown in the log, the correction is kept (and audited), and the
//! passage's face is embedded and stored as a *negative* example of X, which
//! edges receive with X's record: a face that close is not matched to X again.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use sqlx::Row;

use crate::AppState;
use crate::error::ApiError;
use crate::session::RequireAdmin;

pub fn router() -> Router<AppState> {
    Router::new().route("/passages/{id}/not-person", post(not_person))
}

async fn not_person(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::BadRequest("not a passage id".into()));
    }
    let row = sqlx::query("SELECT site, person_id, has_face FROM events WHERE id = $1 AND kind = 'passage'")
        .bind(&id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such passage".into()))?;
    let site: String = row.try_get("site")?;
    s.user.require_site(&site)?;
    let person: String = row
        .try_get::<Option<String>, _>("person_id")?
        .ok_or_else(|| ApiError::Conflict("this passage matched nobody: there is nothing to correct".into()))?;
    // Learn from the face when there is one (the crop may have been purged).
    let mut learned = None;
    if row.try_get::<i32, _>("has_face")? != 0
        && let Ok(jpeg) = tokio::fs::read(state.crops_dir.join(format!("{id}.jpg"))).await
    {
        match state.enrol.embed(vec![("passage face".into(), jpeg)]).await {
            Ok(mut v) if !v.is_empty() => {
                let (_, embedding) = v.remove(0);
                crate::gallery::add_negative(&state.db, &person, &embedding).await?;
                learned = Some(true);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::info!(passage = %id, error = %e, "correction kept; the face could not be learned from");
                learned = Some(false);
            }
        }
    }
    sqlx::query("INSERT INTO corrections (event_id, person_id, user_id, at_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING")
        .bind(&id)
        .bind(&person)
        .bind(&s.user.id)
        .bind(wire::time::now_ms())
        .execute(&state.db)
        .await?;
    sqlx::query("UPDATE events SET person_id = NULL WHERE id = $1").bind(&id).execute(&state.db).await?;
    // An alert raised ahead of this passage named the same person from the
    // same face: it is corrected with it.
    sqlx::query("UPDATE events SET person_id = NULL WHERE passage_id = $1 AND kind = 'anomaly' AND person_id = $2")
        .bind(&id)
        .bind(&person)
        .execute(&state.db)
        .await?;
    crate::audit::record(&state.db, &s.user.username, "correction", &id, &format!("not {person}")).await?;
    Ok(Json(json!({ "passage": id, "not_person": person, "learned": learned.unwrap_or(false) })))
}
