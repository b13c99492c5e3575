//! Browser sessions: a random token in a `gw_session` cookie (HttpOnly,
//! SameSite=Strict, Secure over HTTPS), stored as its SHA-256; a CSRF token
//! per session that every state-changing request must echo in the
//! `X-CSRF-Token` header; failed logins rate-limited per client and username.
//!
//! The extractors make an endpoint's access rule part of its signature:
//! [`SignedIn`] (any role), [`RequireAdmin`], [`RequireSuperadmin`].

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, header};
use sqlx::Row;

use crate::AppState;
use crate::auth::{hash_token, new_token};
use crate::error::ApiError;
use crate::users::{Role, User, user_from_row};

pub const COOKIE: &str = "gw_session";
/// Sessions last a guard's shift.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// A signed-in user (any role), their session (the token's SHA-256) and its CSRF token.
pub struct SignedIn {
    pub user: User,
    pub session: String,
    pub csrf: String,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = cookie_of(&parts.headers).ok_or(ApiError::Unauthorized)?;
        let session = hash_token(&token);
        let row = sqlx::query(
            "SELECT u.id, u.username, u.role, u.sites, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_sha256 = $1 AND s.expires_ms > $2 AND u.disabled = 0",
        )
        .bind(&session)
        .bind(wire::time::now_ms())
        .fetch_optional(&state.db)
        .await?
        .ok_or(ApiError::Unauthorized)?;
        let csrf: String = row.try_get("csrf")?;
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
            if sent.is_empty() || !constant_time_eq(sent.as_bytes(), csrf.as_bytes()) {
                return Err(ApiError::Forbidden("CSRF token missing or wrong: reload the page".into()));
            }
        }
        Ok(SignedIn { user: user_from_row(&row)?, session, csrf })
    }
}

/// Whether a session (by its token's SHA-256) is still open: not signed
/// out, not expired, its user not disabled. A database error counts as
/// valid: a long-lived stream is not cut for a moment's outage.
pub async fn still_valid(state: &AppState, session: &str) -> bool {
    let found = sqlx::query(
        "SELECT 1 AS x FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_sha256 = $1 AND s.expires_ms > $2 AND u.disabled = 0",
    )
    .bind(session)
    .bind(wire::time::now_ms())
    .fetch_optional(&state.db)
    .await;
    match found {
        Ok(row) => row.is_some(),
        Err(e) => {
            tracing::warn!(error = %e, "session check failed; the stream stays open");
            true
        }
    }
}

/// Live alert streams open per user: a guard has a screen or two; more
/// is a leak or an attack (each holds a connection and a channel).
pub const MAX_STREAMS_PER_USER: usize = 8;
/// When a client over its stream cap may try again.
pub const STREAM_RETRY_SECS: u64 = 10;

/// Open live streams, by user.
#[derive(Clone, Default)]
pub struct StreamSlots {
    open: std::sync::Arc<Mutex<HashMap<String, usize>>>,
}

/// One open stream; its place is freed when it is dropped (the stream ends
/// or the client goes away).
pub struct StreamSlot {
    slots: StreamSlots,
    user: String,
}

impl StreamSlots {
    /// A place for one more stream of this user, if under the cap.
    pub fn take(&self, user: &str) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(user.to_string()).or_default();
        if *n >= MAX_STREAMS_PER_USER {
            return None;
        }
        *n += 1;
        Some(StreamSlot { slots: self.clone(), user: user.to_string() })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An admin or superadmin.
pub struct RequireAdmin(pub SignedIn);
/// A superadmin.
pub struct RequireSuperadmin(pub SignedIn);

impl FromRequestParts<AppState> for RequireAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let s = SignedIn::from_request_parts(parts, state).await?;
        if s.user.role < Role::Admin {
            return Err(ApiError::Forbidden("this needs an admin account".into()));
        }
        Ok(RequireAdmin(s))
    }
}

impl FromRequestParts<AppState> for RequireSuperadmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let s = SignedIn::from_request_parts(parts, state).await?;
        if s.user.role < Role::Superadmin {
            return Err(ApiError::Forbidden("this needs a superadmin account".into()));
        }
        Ok(RequireSuperadmin(s))
    }
}

/// Creates a session; returns (cookie token, CSRF token).
pub async fn open(state: &AppState, user: &User) -> Result<(String, String), ApiError> {
    let (token, csrf) = (new_token(), new_token());
    let now = wire::time::now_ms();
    sqlx::query("INSERT INTO sessions (id_sha256, user_id, csrf, created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5)")
        .bind(hash_token(&token))
        .bind(&user.id)
        .bind(&csrf)
        .bind(now)
        .bind(now + SESSION_LIFETIME.as_millis() as i64)
        .execute(&state.db)
        .await?;
    Ok((token, csrf))
}

pub async fn close(state: &AppState, parts_cookie: Option<String>) -> Result<(), ApiError> {
    if let Some(token) = parts_cookie {
        sqlx::query("DELETE FROM sessions WHERE id_sha256 = $1").bind(hash_token(&token)).execute(&state.db).await?;
    }
    Ok(())
}

pub fn cookie_of(headers: &axum::http::HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|cookies| {
        cookies.split(';').find_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")).map(str::to_string))
    })
}

/// The `Set-Cookie` value for a session token (`None`: clear it).
pub fn set_cookie(token: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match token {
        Some(t) => {
            format!("{COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}", SESSION_LIFETIME.as_secs())
        }
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// Failed logins, counted per (client address, username) — at most
/// [`MAX_FAILURES`] within [`WINDOW`] — and per client address over every
/// username — at most [`MAX_FAILURES_PER_CLIENT`], so one password sprayed
/// over many usernames is limited too. An attempt is *reserved* (counted as
/// a failure) before its password is checked and given back only when it
/// succeeds, so concurrent guesses cannot all pass the check at once.
#[derive(Default)]
pub struct LoginLimiter {
    pairs: Mutex<HashMap<(String, String), VecDeque<Instant>>>,
    clients: Mutex<HashMap<String, VecDeque<Instant>>>,
}

pub const MAX_FAILURES: usize = 5;
pub const MAX_FAILURES_PER_CLIENT: usize = 30;
pub const WINDOW: Duration = Duration::from_secs(300);
/// Entries kept before old ones are swept (bounds the maps' memory).
const MAX_ENTRIES: usize = 100_000;

/// Drops times older than the window; `Err(seconds to wait)` when `limit` remain.
fn over(q: &mut VecDeque<Instant>, limit: usize) -> Result<(), u64> {
    while q.front().is_some_and(|t| t.elapsed() > WINDOW) {
        q.pop_front();
    }
    match q.front() {
        Some(oldest) if q.len() >= limit => Err((WINDOW.saturating_sub(oldest.elapsed())).as_secs() + 1),
        _ => Ok(()),
    }
}

fn sweep<K: Eq + std::hash::Hash>(map: &mut HashMap<K, VecDeque<Instant>>) {
    if map.len() > MAX_ENTRIES {
        map.retain(|_, q| q.back().is_some_and(|t| t.elapsed() < WINDOW));
    }
}

impl LoginLimiter {
    /// Reserves one attempt of this client at this username, or
    /// `Err(seconds to wait)` when either limit is reached.
    pub fn reserve(&self, client: &str, username: &str) -> Result<(), u64> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let mut pairs = self.pairs.lock().unwrap_or_else(|p| p.into_inner());
        sweep(&mut clients);
        sweep(&mut pairs);
        let per_client = clients.entry(client.to_string()).or_default();
        over(per_client, MAX_FAILURES_PER_CLIENT)?;
        let pair = pairs.entry((client.to_string(), username.to_lowercase())).or_default();
        over(pair, MAX_FAILURES)?;
        per_client.push_back(Instant::now());
        pair.push_back(Instant::now());
        Ok(())
    }

    /// The reserved attempt was never checked (the server was too busy): it
    /// is given back, so that load alone locks nobody out.
    pub fn release(&self, client: &str, username: &str) {
        if let Some(q) =
            self.pairs.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&(client.to_string(), username.to_lowercase()))
        {
            q.pop_back();
        }
        if let Some(q) = self.clients.lock().unwrap_or_else(|p| p.into_inner()).get_mut(client) {
            q.pop_back();
        }
    }

    /// The reserved attempt succeeded: the pair's failures are forgiven and
    /// the reservation given back.
    pub fn succeeded(&self, client: &str, username: &str) {
        self.pairs.lock().unwrap_or_else(|p| p.into_inner()).remove(&(client.to_string(), username.to_lowercase()));
        if let Some(q) = self.clients.lock().unwrap_or_else(|p| p.into_inner()).get_mut(client) {
            q.pop_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_attempts_lock_the_pair_out_and_success_resets() {
        let l = LoginLimiter::default();
        for _ in 0..MAX_FAILURES {
            assert!(l.reserve("1.2.3.4", "Admin").is_ok());
        }
        assert!(l.reserve("1.2.3.4", "admin").is_err(), "case-insensitive username; reserved before checking");
        assert!(l.reserve("5.6.7.8", "admin").is_ok(), "another client");
        l.succeeded("1.2.3.4", "admin");
        assert!(l.reserve("1.2.3.4", "admin").is_ok());
    }

    #[test]
    fn one_client_spraying_many_usernames_is_limited() {
        let l = LoginLimiter::default();
        for i in 0..MAX_FAILURES_PER_CLIENT {
            assert!(l.reserve("1.2.3.4", &format!("user{i}")).is_ok());
        }
        assert!(l.reserve("1.2.3.4", "yet-another").is_err());
        assert!(l.reserve("5.6.7.8", "yet-another").is_ok());
    }

    #[test]
    fn streams_are_capped_per_user_and_freed_when_dropped() {
        let slots = StreamSlots::default();
        let held: Vec<StreamSlot> =
            (0..MAX_STREAMS_PER_USER).map(|_| slots.take("g1").expect("under the cap")).collect();
        assert!(slots.take("g1").is_none(), "one too many");
        assert!(slots.take("g2").is_some(), "another user");
        drop(held);
        assert!(slots.take("g1").is_some(), "freed");
    }

    #[test]
    fn session_cookie_flags() {
        let c = set_cookie(Some("abc"), true);
        for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(c.contains(flag), "{c}");
        }
        assert!(!set_cookie(Some("abc"), false).contains("Secure"));
    }
}
