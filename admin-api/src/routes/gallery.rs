//! Edge-facing gallery sync and verification expectations (agent token).
//!
//! `GET /api/v1/gallery?since=N` → a [`pipeline::gallery_sync::GalleryDelta`];
//! `GET /api/v1/expectations` → who each verification camera of the agent's
//! site expects.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use pipeline::gallery_sync::{Expectations, GalleryDelta};
use serde::Deserialize;

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
