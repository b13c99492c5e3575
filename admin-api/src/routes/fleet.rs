//! The fleet over HTTP.
//!
//! Agents (their token): `POST /agent/heartbeat`, `GET /agent/cameras`,
//! `PUT /agent/snapshots/{camera}`.
//! Admins (their sites; superadmins all): `GET /devices`; a camera's snapshot
//! asked for and viewed (audited like any face view); a camera added,
//! changed (`PUT`) or removed (`DELETE`) in the agent's central camera set
//! (audited; passwords in URLs never shown back).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use pipeline::fleet::{CameraSet, CameraSpec, Heartbeat, HeartbeatReply, valid_id};
use serde_json::{Value, json};
use sqlx::Row;
use wire::time::now_ms;

use crate::AppState;
use crate::auth::Agent;
use crate::error::ApiError;
use crate::fleet::{self, CameraEdit};
use crate::session::RequireAdmin;

/// A snapshot is one camera frame as JPEG: a 4K frame stays well under this.
const MAX_SNAPSHOT: usize = 8 << 20;
/// A heartbeat lists an agent's cameras: generous, and bounded.
const MAX_HEARTBEAT: usize = 1 << 20;
const MAX_CAMERAS: usize = 64;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/agent/heartbeat", post(heartbeat).layer(DefaultBodyLimit::max(MAX_HEARTBEAT)))
        .route("/agent/cameras", get(agent_cameras))
        .route("/agent/snapshots/{camera}", put(put_snapshot).layer(DefaultBodyLimit::max(MAX_SNAPSHOT)))
        .route("/devices", get(devices))
        .route("/devices/{agent}/cameras/{camera}", put(put_camera).delete(remove_camera))
        .route("/devices/{agent}/cameras/{camera}/snapshot", post(request_snapshot).get(snapshot))
}

async fn heartbeat(
    State(state): State<AppState>,
    agent: Agent,
    Json(beat): Json<Heartbeat>,
) -> Result<Json<HeartbeatReply>, ApiError> {
    if beat.cameras.len() > MAX_CAMERAS {
        return Err(ApiError::BadRequest(format!("{} cameras; at most {MAX_CAMERAS} per agent", beat.cameras.len())));
    }
    Ok(Json(fleet::record_heartbeat(&state.db, &state.alerts, &agent.id, &agent.site, &beat).await?))
}

async fn agent_cameras(State(state): State<AppState>, agent: Agent) -> Result<Json<CameraSet>, ApiError> {
    Ok(Json(fleet::camera_set(&state.db, &agent.id).await?.unwrap_or_default()))
}

async fn put_snapshot(
    State(state): State<AppState>,
    agent: Agent,
    Path(camera): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    if !valid_id(&camera) {
        return Err(ApiError::BadRequest("not a camera id".into()));
    }
    if !body.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Err(ApiError::Unprocessable("a snapshot must be a JPEG".into()));
    }
    // Only a snapshot someone asked for is kept: an agent cannot fill the
    // disk with pictures nobody wanted.
    let asked = sqlx::query(
        "SELECT requested_ms FROM snapshots WHERE agent = $1 AND camera = $2
         AND (delivered_ms IS NULL OR delivered_ms < requested_ms)",
    )
    .bind(&agent.id)
    .bind(&camera)
    .fetch_optional(&state.db)
    .await?;
    if asked.is_none() {
        return Err(ApiError::Conflict(format!("no snapshot of {camera} was asked for")));
    }
    let path = fleet::snapshot_path(&state.data_dir, &agent.id, &camera);
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    tokio::fs::write(&path, &body).await?;
    sqlx::query("UPDATE snapshots SET delivered_ms = $1 WHERE agent = $2 AND camera = $3")
        .bind(now_ms())
        .bind(&agent.id)
        .bind(&camera)
        .execute(&state.db)
        .await?;
    Ok(Json(json!({ "stored": camera })))
}

async fn devices(State(state): State<AppState>, RequireAdmin(s): RequireAdmin) -> Result<Json<Value>, ApiError> {
    let sites = (s.user.role != crate::users::Role::Superadmin).then_some(s.user.sites.as_slice());
    // The last hour of per-minute history: enough for the page's trend.
    let fleet = fleet::devices(&state.db, sites, state.edge_offline_after_ms, 3_600_000).await?;
    let sites: Vec<Value> = fleet.into_iter().map(|(site, agents)| json!({ "site": site, "agents": agents })).collect();
    Ok(Json(json!({ "offline_after_ms": state.edge_offline_after_ms, "now_ms": now_ms(), "sites": sites })))
}

/// The agent, if it is at one of the admin's sites (else 404, as for none).
async fn agent_of_admin(state: &AppState, user: &crate::users::User, agent: &str) -> Result<String, ApiError> {
    let none = || ApiError::NotFound(format!("no agent {agent:?} at your sites"));
    if !valid_id(agent) {
        return Err(none());
    }
    let row = sqlx::query("SELECT site FROM agents WHERE id = $1").bind(agent).fetch_optional(&state.db).await?;
    let site: String = row.ok_or_else(none)?.try_get("site")?;
    if !user.sees_site(&site) {
        return Err(none());
    }
    Ok(site)
}

async fn put_camera(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Path((agent, camera)): Path<(String, String)>,
    Json(spec): Json<CameraSpec>,
) -> Result<Json<CameraSet>, ApiError> {
    agent_of_admin(&state, &s.user, &agent).await?;
    if spec.id != camera {
        return Err(ApiError::BadRequest(format!(
            "the body's id {:?} is not the camera {camera:?} of the path",
            spec.id
        )));
    }
    let detail = format!(
        "gate {}, line ({:.2},{:.2})→({:.2},{:.2}) inside {:?}, mode {:?}, restricted {}, url {}",
        spec.gate,
        spec.line.a[0],
        spec.line.a[1],
        spec.line.b[0],
        spec.line.b[1],
        spec.line.inside,
        spec.mode,
        spec.restricted,
        spec.redacted_url()
    );
    let set = fleet::edit_cameras(&state.db, &agent, CameraEdit::Put(spec), &s.user.username).await?;
    crate::audit::record(
        &state.db,
        &s.user.username,
        "camera_config_changed",
        &format!("{agent}/{camera}"),
        &format!("version {}: {detail}", set.version),
    )
    .await?;
    Ok(Json(redacted(set)))
}

async fn remove_camera(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Path((agent, camera)): Path<(String, String)>,
) -> Result<Json<CameraSet>, ApiError> {
    agent_of_admin(&state, &s.user, &agent).await?;
    let set = fleet::edit_cameras(&state.db, &agent, CameraEdit::Remove(camera.clone()), &s.user.username).await?;
    crate::audit::record(
        &state.db,
        &s.user.username,
        "camera_config_changed",
        &format!("{agent}/{camera}"),
        &format!("version {}: removed", set.version),
    )
    .await?;
    Ok(Json(redacted(set)))
}

fn redacted(mut set: CameraSet) -> CameraSet {
    set.cameras = set.cameras.iter().map(CameraSpec::redacted).collect();
    set
}

async fn request_snapshot(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Path((agent, camera)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    agent_of_admin(&state, &s.user, &agent).await?;
    if !valid_id(&camera) {
        return Err(ApiError::BadRequest("not a camera id".into()));
    }
    let now = now_ms();
    sqlx::query(
        "INSERT INTO snapshots (agent, camera, requested_ms, delivered_ms) VALUES ($1, $2, $3, NULL)
         ON CONFLICT (agent, camera) DO UPDATE SET requested_ms = $3, delivered_ms = NULL",
    )
    .bind(&agent)
    .bind(&camera)
    .bind(now)
    .execute(&state.db)
    .await?;
    // The previous picture is gone: only the one taken after this request is shown.
    let _ = tokio::fs::remove_file(fleet::snapshot_path(&state.data_dir, &agent, &camera)).await;
    crate::audit::record(&state.db, &s.user.username, "snapshot_requested", &format!("{agent}/{camera}"), "").await?;
    Ok(Json(json!({ "requested_ms": now })))
}

/// The snapshot taken after the latest request; 404 until it arrives.
async fn snapshot(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Path((agent, camera)): Path<(String, String)>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    agent_of_admin(&state, &s.user, &agent).await?;
    let not_yet = || {
        ApiError::NotFound(format!(
            "no snapshot of {camera} yet: ask for one, it arrives with the agent's next heartbeat"
        ))
    };
    let row = sqlx::query("SELECT requested_ms, delivered_ms FROM snapshots WHERE agent = $1 AND camera = $2")
        .bind(&agent)
        .bind(&camera)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(not_yet)?;
    let (requested, delivered): (i64, Option<i64>) = (row.try_get("requested_ms")?, row.try_get("delivered_ms")?);
    if delivered.is_none_or(|d| d < requested) {
        return Err(not_yet());
    }
    let bytes = tokio::fs::read(fleet::snapshot_path(&state.data_dir, &agent, &camera)).await.map_err(|_| not_yet())?;
    crate::audit::record(&state.db, &s.user.username, "snapshot_viewed", &format!("{agent}/{camera}"), "").await?;
    Ok(crate::routes::people::jpeg(bytes))
}
