//! The audit log: who did what, when — every view of a face, export,
//! enrolment, deletion, acknowledgement and login. Rows are only ever
//! inserted (no code path updates or deletes them except retention of the
//! audit class itself, which superadmins configure).

use sqlx::AnyPool;

/// Records an action; a failure to audit fails the action (callers use `?`).
pub async fn record(db: &AnyPool, actor: &str, action: &str, target: &str, detail: &str) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit (id, at_ms, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(pipeline::events::now_ms())
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(detail)
        .execute(db)
        .await?;
    Ok(())
}
