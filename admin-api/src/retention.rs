//! Retention: personal data is kept only as long as it is needed, per data
//! class, and purged automatically (hourly, and by `admin-api purge`).
//!
//! | class | default | what goes |
//! |---|---|---|
//! | `unknown_face_crops` | 7 days | face crops of passers-by who matched nobody |
//! | `known_face_crops` | 30 days | face crops of enrolled people |
//! | `passages` | 365 days | passage and anomaly records (the visitor log, statistics) |
//! | `expired_visitors` | 1 day | visitors past their validity: person, photos, embeddings |
//! | `audit` | 1095 days | the audit log (never less: [`AUDIT_FLOOR_DAYS`]) |
//!
//! Superadmins change them (`PUT /api/v1/retention`); every purge that
//! removes something is itself audited.

use std::collections::BTreeMap;
use std::path::Path;

use sqlx::{AnyPool, Row};

use crate::error::ApiError;

pub const CLASSES: &[(&str, i64)] =
    &[("unknown_face_crops", 7), ("known_face_crops", 30), ("passages", 365), ("expired_visitors", 1), ("audit", 1095)];

/// The audit log is kept at least three years, whatever a superadmin sets:
/// otherwise one could set a day and erase the trail of what they did.
pub const AUDIT_FLOOR_DAYS: i64 = 1095;

pub async fn settings(db: &AnyPool) -> Result<BTreeMap<String, i64>, ApiError> {
    let mut out: BTreeMap<String, i64> = CLASSES.iter().map(|(c, d)| (c.to_string(), *d)).collect();
    for r in sqlx::query("SELECT class, days FROM retention").fetch_all(db).await? {
        out.insert(r.try_get("class")?, r.try_get("days")?);
    }
    Ok(out)
}

pub async fn set(db: &AnyPool, class: &str, days: i64) -> Result<(), ApiError> {
    if !CLASSES.iter().any(|(c, _)| *c == class) {
        return Err(ApiError::BadRequest(format!(
            "unknown data class {class:?}: one of {}",
            CLASSES.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
        )));
    }
    if !(1..=3650).contains(&days) {
        return Err(ApiError::BadRequest("days: 1–3650".into()));
    }
    if class == "audit" && days < AUDIT_FLOOR_DAYS {
        return Err(ApiError::BadRequest(format!(
            "audit: at least {AUDIT_FLOOR_DAYS} days (3 years); the audit log is evidence of who looked at personal data"
        )));
    }
    sqlx::query("INSERT INTO retention (class, days) VALUES ($1, $2) ON CONFLICT (class) DO UPDATE SET days = $2")
        .bind(class)
        .bind(days)
        .execute(db)
        .await?;
    Ok(())
}

/// What one purge removed, per class.
pub type Purged = BTreeMap<&'static str, u64>;

const DAY_MS: i64 = 86_400_000;

/// Removes everything past its retention as of `now_ms`.
pub async fn purge(db: &AnyPool, data: &Path, crops: &Path, now_ms: i64) -> Result<Purged, ApiError> {
    let days = settings(db).await?;
    let cutoff = |class: &str| now_ms - days.get(class).copied().unwrap_or(365) * DAY_MS;
    let mut purged = Purged::new();
    // Face crops, by whether the passer-by was known.
    for (class, known) in [("unknown_face_crops", false), ("known_face_crops", true)] {
        let sql = format!(
            "SELECT id FROM events WHERE has_face = 1 AND at_ms < $1 AND person_id IS {} NULL",
            if known { "NOT" } else { "" }
        );
        let rows = sqlx::query(&sql).bind(cutoff(class)).fetch_all(db).await?;
        for r in &rows {
            let id: String = r.try_get("id")?;
            let _ = tokio::fs::remove_file(crops.join(format!("{id}.jpg"))).await;
            sqlx::query("UPDATE events SET has_face = 0 WHERE id = $1").bind(&id).execute(db).await?;
        }
        purged.insert(class, rows.len() as u64);
    }
    // Passages and anomalies.
    let old =
        sqlx::query("SELECT id, has_face FROM events WHERE at_ms < $1").bind(cutoff("passages")).fetch_all(db).await?;
    for r in &old {
        if r.try_get::<i32, _>("has_face")? != 0 {
            let id: String = r.try_get("id")?;
            let _ = tokio::fs::remove_file(crops.join(format!("{id}.jpg"))).await;
        }
    }
    let n =
        sqlx::query("DELETE FROM events WHERE at_ms < $1").bind(cutoff("passages")).execute(db).await?.rows_affected();
    purged.insert("passages", n);
    // Visitors past their validity.
    let expired_before = (cutoff("expired_visitors")) / 1000;
    let people =
        sqlx::query("SELECT id FROM people WHERE deleted = 0 AND valid_until IS NOT NULL AND valid_until < $1")
            .bind(expired_before)
            .fetch_all(db)
            .await?;
    for p in &people {
        let id: String = p.try_get("id")?;
        crate::people::delete(db, data, &id).await?;
    }
    purged.insert("expired_visitors", people.len() as u64);
    // The oldest audit rows, by their place in the chain (never younger
    // than the floor, whatever the setting says); the chain's new start is
    // recorded so `verify-audit` can tell retention from tampering.
    let audit_cutoff = cutoff("audit").min(now_ms - AUDIT_FLOOR_DAYS * DAY_MS);
    let through: Option<i64> = sqlx::query("SELECT MAX(seq) AS s FROM audit WHERE at_ms < $1")
        .bind(audit_cutoff)
        .fetch_one(db)
        .await?
        .try_get("s")?;
    let mut n = sqlx::query("DELETE FROM audit WHERE seq IS NULL AND at_ms < $1")
        .bind(audit_cutoff)
        .execute(db)
        .await?
        .rows_affected();
    if let Some(through) = through {
        n += sqlx::query("DELETE FROM audit WHERE seq <= $1").bind(through).execute(db).await?.rows_affected();
        crate::audit::record(db, "retention", "audit_purged", &through.to_string(), "the chain starts after this row")
            .await?;
    }
    purged.insert("audit", n);
    if purged.values().any(|n| *n > 0) {
        let detail = serde_json::to_string(&purged).unwrap_or_default();
        crate::audit::record(db, "retention", "purge", "", &detail).await?;
        tracing::info!(%detail, "retention purge");
    }
    Ok(purged)
}

/// Purges every hour in the background.
pub fn spawn_hourly(db: AnyPool, data: std::path::PathBuf, crops: std::path::PathBuf) {
    tokio::spawn(async move {
        loop {
            if let Err(e) = purge(&db, &data, &crops, wire::time::now_ms()).await {
                tracing::error!(error = %e, "retention purge failed; retrying in an hour");
            }
            match crate::audit::head(&db).await {
                Ok((seq, sha256)) => tracing::info!(seq, %sha256, "audit log head"),
                Err(e) => tracing::error!(error = %e, "cannot read the audit log's head"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    });
}
