//! Edge-facing gallery sync and verification expectations (agent token).
//!
//! `GET /api/v1/gallery?since=N` → a [`wire::sync::GalleryDelta`];
//! `GET /api/v1/expectations` → who each verification camera of the agent's
//! site expects.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use wire::sync::{Expectations, GalleryDelta};

use crate::AppState;
use crate::auth::Agent;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/gallery", get(gallery)).route("/expectations", get(expectations))
}

#[derive(Deserialize)]
struct Since {
    #[serde(default)]
    since: i64,
}

async fn gallery(
    State(state): State<AppState>,
    agent: Agent,
    Query(q): Query<Since>,
) -> Result<Json<GalleryDelta>, ApiError> {
    let delta = crate::gallery::delta_since(&state.db, q.since, &agent.site).await?;
    tracing::debug!(agent = %agent.id, since = q.since, version = delta.version, people = delta.people.len(),
        removed = delta.removed.len(), full = delta.full, "gallery sync");
    Ok(Json(delta))
}

async fn expectations(State(state): State<AppState>, agent: Agent) -> Result<Json<Expectations>, ApiError> {
    Ok(Json(crate::gallery::expectations(&state.db, &agent.site).await?))
}

/// Verification mode, admin side: `PUT /api/v1/expectations/{site}/{camera}`
/// with `{"person_id": "…"}` (or `null` to clear) sets who a camera expects.
pub fn admin_router() -> Router<AppState> {
    Router::new().route("/expectations/{site}/{camera}", axum::routing::put(set_expectation))
}

#[derive(Deserialize)]
struct Expectation {
    person_id: Option<String>,
}

async fn set_expectation(
    State(state): State<AppState>,
    crate::session::RequireAdmin(s): crate::session::RequireAdmin,
    axum::extract::Path((site, camera)): axum::extract::Path<(String, String)>,
    Json(body): Json<Expectation>,
) -> Result<Json<serde_json::Value>, ApiError> {
    s.user.require_site(&site)?;
    if let Some(p) = &body.person_id
        && crate::people::names_of(&state.db, std::iter::once(p.clone()), Some(&site)).await?.is_empty()
    {
        return Err(ApiError::NotFound(format!("no person {p:?} is enrolled at site {site:?}")));
    }
    crate::gallery::set_expectation(&state.db, &site, &camera, body.person_id.as_deref()).await?;
    let target = format!("{site}/{camera}");
    crate::audit::record(
        &state.db,
        &s.user.username,
        "expectation",
        &target,
        body.person_id.as_deref().unwrap_or("cleared"),
    )
    .await?;
    Ok(Json(serde_json::json!({ "site": site, "camera": camera, "person_id": body.person_id })))
}
