//! Superadmin endpoints: users, retention, the audit log.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use sqlx::Row;

use crate::AppState;
use crate::error::ApiError;
use crate::session::RequireSuperadmin;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(users))
        .route("/retention", get(retention).put(set_retention))
        .route("/audit", get(audit))
}

async fn users(State(state): State<AppState>, _: RequireSuperadmin) -> Result<Json<Vec<crate::users::User>>, ApiError> {
    let rows = sqlx::query("SELECT id, username, role, sites FROM users WHERE disabled = 0 ORDER BY username")
        .fetch_all(&state.db)
        .await?;
    Ok(Json(rows.iter().map(crate::users::user_from_row).collect::<Result<_, _>>()?))
}

async fn retention(
    State(state): State<AppState>,
    _: RequireSuperadmin,
) -> Result<Json<std::collections::BTreeMap<String, i64>>, ApiError> {
    Ok(Json(crate::retention::settings(&state.db).await?))
}

async fn set_retention(
    State(state): State<AppState>,
    RequireSuperadmin(s): RequireSuperadmin,
    Json(body): Json<std::collections::BTreeMap<String, i64>>,
) -> Result<Json<std::collections::BTreeMap<String, i64>>, ApiError> {
    for (class, days) in &body {
        crate::retention::set(&state.db, class, *days).await?;
        crate::audit::record(&state.db, &s.user.username, "retention_changed", class, &days.to_string()).await?;
    }
    Ok(Json(crate::retention::settings(&state.db).await?))
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    page: u32,
}

async fn audit(
    State(state): State<AppState>,
    RequireSuperadmin(s): RequireSuperadmin,
    Query(q): Query<AuditQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rows = sqlx::query(
        "SELECT at_ms, actor, action, target, detail FROM audit
         WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR action = $2)
         ORDER BY at_ms DESC, id LIMIT 100 OFFSET $3",
    )
    .bind(q.actor.as_deref().unwrap_or(""))
    .bind(q.action.as_deref().unwrap_or(""))
    .bind(q.page as i64 * 100)
    .fetch_all(&state.db)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        out.push(serde_json::json!({
            "at_ms": r.try_get::<i64, _>("at_ms")?, "actor": r.try_get::<String, _>("actor")?,
            "action": r.try_get::<String, _>("action")?, "target": r.try_get::<String, _>("target")?,
            "detail": r.try_get::<String, _>("detail")?,
        }));
    }
    // Looking at who looked is itself looked at.
    crate::audit::record(&state.db, &s.user.username, "audit_viewed", "", &format!("page {}", q.page)).await?;
    Ok(Json(serde_json::json!({ "rows": out, "page": q.page })))
}
