//! Edge agents authenticate with per-agent tokens, stored as SHA-256 hashes
//! (the tokens are 256-bit random values, so a fast hash is enough; user
//! passwords get argon2). The [`Agent`] extractor makes an endpoint that needs
//! an agent impossible to call without one.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::AppState;
use crate::error::ApiError;

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// An authenticated edge agent.
pub struct Agent {
    pub id: String,
    pub site: String,
}

impl FromRequestParts<AppState> for Agent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts.headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        let token = header.and_then(|h| h.strip_prefix("Bearer ")).ok_or(ApiError::Unauthorized)?;
        // A revoked token is refused at once: nothing is cached.
        let row = sqlx::query("SELECT id, site FROM agents WHERE token_sha256 = $1 AND revoked_ms IS NULL")
            .bind(hash_token(token.trim()))
            .fetch_optional(&state.db)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Agent { id: row.try_get("id")?, site: row.try_get("site")? })
    }
}
