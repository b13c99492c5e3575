//! The admin API's database: SQLite by default (one file, WAL), PostgreSQL
//! for sites that outgrow one machine — the same SQL for both (sqlx `Any`,
//! `$n` placeholders, `ON CONFLICT DO NOTHING`), chosen by the URL.

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

/// Schema, applied in order; each statement is idempotent.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS agents (
        id TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        token_sha256 TEXT NOT NULL UNIQUE,
        created_ms BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS events (
        id TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        site TEXT NOT NULL,
        camera TEXT NOT NULL,
        kind TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        received_ms BIGINT NOT NULL,
        person_id TEXT,
        direction TEXT,
        anomaly TEXT,
        has_face INTEGER NOT NULL,
        body TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS events_site_time ON events (site, created_ms)",
];

pub async fn connect(url: &str) -> anyhow::Result<AnyPool> {
    sqlx::any::install_default_drivers();
    let url =
        if url.starts_with("sqlite:") && !url.contains('?') { format!("{url}?mode=rwc") } else { url.to_string() };
    let pool = AnyPoolOptions::new().max_connections(8).connect(&url).await?;
    if url.starts_with("sqlite:") {
        sqlx::query("PRAGMA journal_mode=WAL").execute(&pool).await?;
        sqlx::query("PRAGMA synchronous=FULL").execute(&pool).await?;
    }
    for m in MIGRATIONS {
        sqlx::query(m).execute(&pool).await?;
    }
    Ok(pool)
}
