//! Taking access away, and changing passwords (every action audited):
//! superadmins disable or re-enable an account, end its sessions, set its
//! password, and revoke an edge agent's token; anyone signed in changes
//! their own password. Disabling, ending sessions and a new password end the
//! account's sessions — and so its live alert streams, which re-check their
//! session every few seconds; a revoked token is refused from its next request.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;

use crate::AppState;
use crate::error::ApiError;
use crate::session::{RequireSuperadmin, SignedIn};
use crate::users::{self, Revocation};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users/{username}/disable", post(disable))
        .route("/users/{username}/enable", post(enable))
        .route("/users/{username}/sessions", delete(end_sessions))
        .route("/users/{username}/password", put(reset_password))
        .route("/auth/password", post(change_own_password))
        .route("/agents", get(agents))
        .route("/agents/{id}/revoke", post(revoke_agent))
}

async fn apply(
    state: &AppState,
    actor: &users::User,
    username: &str,
    what: Revocation,
) -> Result<Json<Value>, ApiError> {
    if what == Revocation::Disable && actor.username == username {
        return Err(ApiError::Conflict("you cannot disable your own account; ask another superadmin".into()));
    }
    users::revoke(&state.db, username, what).await?;
    crate::audit::record(&state.db, &actor.username, what.audit_action(), username, "").await?;
    Ok(Json(json!({ "user": username, "done": what.audit_action() })))
}

async fn disable(
    State(state): State<AppState>,
    RequireSuperadmin(s): RequireSuperadmin,
    Path(username): Path<String>,
) -> Result<Json<Value>, ApiError> {
    apply(&state, &s.user, &username, Revocation::Disable).await
}

async fn enable(
    State(state): State<AppState>,
    RequireSuperadmin(s): RequireSuperadmin,
    Path(username): Path<String>,
) -> Result<Json<Value>, ApiError> {
    apply(&state, &s.user, &username, Revocation::Enable).await
}

async fn end_sessions(
    State(state): State<AppState>,
    RequireSuperadmin(s): RequireSuperadmin,
    Path(username): Path<String>,
) -> Result<Json<Value>, ApiError> {
    apply(&state, &s.user, &username, Revocation::EndSessions).await
}

#[derive(Deserialize)]
struct NewPassword {
    password: String,
}

async fn reset_password(
    State(state): State<AppState>,
    RequireSuperadmin(s): RequireSuperadmin,
    Path(username): Path<String>,
    Json(body): Json<NewPassword>,
) -> Result<Json<Value>, ApiError> {
    users::set_password(&state.db, &username, &body.password, None).await?;
    crate::audit::record(&state.db, &s.user.username, "password_reset", &username, "sessions ended").await?;
    Ok(Json(json!({ "user": username, "done": "password_reset" })))
}

#[derive(Deserialize)]
struct PasswordChange {
    current: String,
    new: String,
}

async fn change_own_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    s: SignedIn,
    Json(body): Json<PasswordChange>,
) -> Result<Json<Value>, ApiError> {
    // Guessing the current password from a stolen session is limited like
    // a login.
    let client = peer.ip().to_string();
    state.login_limiter.reserve(&client, &s.user.username).map_err(ApiError::TooManyAttempts)?;
    let right = users::password_is(&state.db, &s.user.id, &body.current).await;
    if matches!(right, Err(ApiError::TooMany(_))) {
        state.login_limiter.release(&client, &s.user.username);
    }
    if !right? {
        crate::audit::record(&state.db, &s.user.username, "password_change_refused", &s.user.username, "").await?;
        return Err(ApiError::Forbidden("the current password is wrong".into()));
    }
    state.login_limiter.succeeded(&client, &s.user.username);
    users::set_password(&state.db, &s.user.username, &body.new, Some(&s.session)).await?;
    crate::audit::record(&state.db, &s.user.username, "password_changed", &s.user.username, "other sessions ended")
        .await?;
    Ok(Json(json!({ "user": s.user.username, "done": "password_changed" })))
}

async fn agents(State(state): State<AppState>, _: RequireSuperadmin) -> Result<Json<Vec<Value>>, ApiError> {
    let rows = sqlx::query("SELECT id, site, created_ms, revoked_ms FROM agents ORDER BY site, id")
        .fetch_all(&state.db)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(json!({
                "id": r.try_get::<String, _>("id")?, "site": r.try_get::<String, _>("site")?,
                "created_ms": r.try_get::<i64, _>("created_ms")?,
                "revoked_ms": r.try_get::<Option<i64>, _>("revoked_ms")?,
            }))
        })
        .collect::<Result<_, ApiError>>()
        .map(Json)
}

async fn revoke_agent(
    State(state): State<AppState>,
    RequireSuperadmin(s): RequireSuperadmin,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    users::revoke_agent(&state.db, &id).await?;
    if pipeline::fleet::valid_id(&id) {
        let _ = tokio::fs::remove_dir_all(state.data_dir.join("snapshots").join(&id)).await;
    }
    crate::audit::record(&state.db, &s.user.username, "agent_revoked", &id, "").await?;
    Ok(Json(json!({ "agent": id, "done": "agent_revoked" })))
}
