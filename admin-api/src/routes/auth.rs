//! Signing in and out: `POST /api/v1/auth/login`, `POST /api/v1/auth/logout`,
//! `GET /api/v1/auth/me`; superadmins create accounts with `POST /api/v1/users`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::error::ApiError;
use crate::session::{self, RequireSuperadmin, SignedIn};
use crate::users::{self, Role};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login).layer(axum::extract::DefaultBodyLimit::max(4096)))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
        .route("/users", post(create_user))
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

/// HTTPS as seen by the client (directly, or through a proxy that says so).
fn over_https(state: &AppState, headers: &HeaderMap) -> bool {
    state.tls || headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https")
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<Login>,
) -> Result<impl IntoResponse, ApiError> {
    let client = peer.ip().to_string();
    // A name no account can have is refused before it costs anything or
    // reaches the limiter's memory and the audit log.
    if !users::valid_username(&body.username) || body.password.len() > 1024 {
        return Err(ApiError::Unauthorized);
    }
    state.login_limiter.reserve(&client, &body.username).map_err(ApiError::TooManyAttempts)?;
    let checked = users::authenticate(&state.db, &body.username, &body.password).await;
    if matches!(checked, Err(ApiError::TooMany(_))) {
        state.login_limiter.release(&client, &body.username);
    }
    let Some(user) = checked? else {
        crate::audit::record(&state.db, &body.username, "login_failed", "", &client).await?;
        return Err(ApiError::Unauthorized);
    };
    state.login_limiter.succeeded(&client, &body.username);
    let (token, csrf) = session::open(&state, &user).await?;
    crate::audit::record(&state.db, &user.username, "login", "", &client).await?;
    let cookie = session::set_cookie(Some(&token), over_https(&state, &headers));
    Ok(([(header::SET_COOKIE, cookie)], Json(json!({ "user": user, "csrf": csrf }))))
}

async fn logout(State(state): State<AppState>, s: SignedIn, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    session::close(&state, session::cookie_of(&headers)).await?;
    crate::audit::record(&state.db, &s.user.username, "logout", "", "").await?;
    let cookie = session::set_cookie(None, over_https(&state, &headers));
    Ok(([(header::SET_COOKIE, cookie)], Json(json!({ "ok": true }))))
}

/// The signed-in user, the session's CSRF token, and the sites' time zone
/// (the web UI shows and reads dates in it).
async fn me(State(state): State<AppState>, s: SignedIn) -> Json<serde_json::Value> {
    Json(json!({ "user": s.user, "csrf": s.csrf, "time_zone": state.local_time.name() }))
}

#[derive(Deserialize)]
struct NewUser {
    username: String,
    password: String,
    role: Role,
    #[serde(default)]
    sites: Vec<String>,
}

async fn create_user(
    State(state): State<AppState>,
    RequireSuperadmin(s): RequireSuperadmin,
    Json(body): Json<NewUser>,
) -> Result<Json<users::User>, ApiError> {
    let user = users::create(&state.db, &body.username, &body.password, body.role, &body.sites).await?;
    crate::audit::record(&state.db, &s.user.username, "user_created", &user.username, body.role.as_str()).await?;
    Ok(Json(user))
}
