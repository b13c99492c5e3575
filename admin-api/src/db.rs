//! The admin API's database: SQLite by default (one file, WAL), PostgreSQL
//! for sites that outgrow one machine — the same SQL for both (sqlx `Any`,
//! `$n` placeholders, `ON CONFLICT DO NOTHING`), chosen by the URL.
//!
//! Migrations are numbered and applied once each, in order, recorded in
//! `schema_version`; a database newer than this binary is refused rather than
//! written to by code that does not know its schema.

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Row};

/// Schema, in order. Never edit a released entry: add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: agents and their events (IF NOT EXISTS: databases made before
    // versioned migrations already hold it).
    "CREATE TABLE IF NOT EXISTS agents (
        id TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        token_sha256 TEXT NOT NULL UNIQUE,
        created_ms BIGINT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS events (
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
    );
    CREATE INDEX IF NOT EXISTS events_site_time ON events (site, created_ms)",
    // 2: the gallery edges sync (people, their embeddings, one version
    // counter) and verification-mode expectations.
    "CREATE TABLE people (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        category TEXT NOT NULL,
        cccd TEXT,
        valid_until BIGINT,
        version BIGINT NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        updated_ms BIGINT NOT NULL
    );
    CREATE INDEX people_version ON people (version);
    CREATE TABLE embeddings (
        id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL,
        model_id TEXT NOT NULL,
        vector TEXT NOT NULL,
        created_ms BIGINT NOT NULL
    );
    CREATE INDEX embeddings_person ON embeddings (person_id);
    CREATE TABLE gallery_version (id INTEGER PRIMARY KEY, version BIGINT NOT NULL);
    INSERT INTO gallery_version (id, version) VALUES (1, 0);
    CREATE TABLE expectations (
        site TEXT NOT NULL,
        camera TEXT NOT NULL,
        person_id TEXT NOT NULL,
        set_ms BIGINT NOT NULL,
        PRIMARY KEY (site, camera)
    )",
    // 3: users and sessions, the audit log, enrolment details (consent,
    // validity, allowed sites), photos on disk, alert acknowledgements, and
    // "this is not X" corrections.
    "CREATE TABLE users (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        sites TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sessions (
        id_sha256 TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        expires_ms BIGINT NOT NULL
    );
    CREATE TABLE audit (
        id TEXT PRIMARY KEY,
        at_ms BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX audit_time ON audit (at_ms);
    ALTER TABLE people ADD COLUMN sites TEXT NOT NULL DEFAULT '';
    ALTER TABLE people ADD COLUMN valid_from BIGINT;
    ALTER TABLE people ADD COLUMN birth_date TEXT;
    ALTER TABLE people ADD COLUMN host TEXT;
    ALTER TABLE people ADD COLUMN consent_by TEXT;
    ALTER TABLE people ADD COLUMN consent_at_ms BIGINT;
    ALTER TABLE people ADD COLUMN consent_purpose TEXT;
    CREATE TABLE photos (
        id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL,
        created_ms BIGINT NOT NULL
    );
    CREATE INDEX photos_person ON photos (person_id);
    CREATE TABLE acks (
        event_id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        note TEXT NOT NULL
    );
    ALTER TABLE events ADD COLUMN at_ms BIGINT;
    ALTER TABLE events ADD COLUMN passage_id TEXT;
    CREATE INDEX events_at ON events (site, at_ms);
    CREATE INDEX events_passage ON events (passage_id);
    CREATE TABLE retention (
        class TEXT PRIMARY KEY,
        days BIGINT NOT NULL
    );
    CREATE TABLE corrections (
        event_id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        at_ms BIGINT NOT NULL
    )",
    // 4: corrections teach the gallery: faces marked "not this person".
    "ALTER TABLE embeddings ADD COLUMN negative INTEGER NOT NULL DEFAULT 0",
    // 5: agent tokens can be revoked.
    "ALTER TABLE agents ADD COLUMN revoked_ms BIGINT",
    // 6: the audit log is a hash chain (see `audit`): each row's hash
    // covers the previous one; the head row holds the newest.
    "ALTER TABLE audit ADD COLUMN seq BIGINT;
    ALTER TABLE audit ADD COLUMN prev_sha256 TEXT;
    ALTER TABLE audit ADD COLUMN row_sha256 TEXT;
    CREATE UNIQUE INDEX audit_seq ON audit (seq);
    CREATE TABLE audit_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, sha256 TEXT NOT NULL);
    INSERT INTO audit_head (id, seq, sha256) VALUES (1, 0, '')",
    // 7: the fleet — each agent's latest heartbeat (and a per-minute history
    // of a day), the camera set made centrally for it, snapshot requests.
    "CREATE TABLE agent_status (
        agent TEXT PRIMARY KEY,
        site TEXT NOT NULL,
        received_ms BIGINT NOT NULL,
        heartbeat TEXT NOT NULL,
        offline_since_ms BIGINT
    );
    CREATE TABLE heartbeats (
        agent TEXT NOT NULL,
        received_ms BIGINT NOT NULL,
        summary TEXT NOT NULL
    );
    CREATE INDEX heartbeats_agent ON heartbeats (agent, received_ms);
    CREATE INDEX heartbeats_time ON heartbeats (received_ms);
    CREATE TABLE camera_sets (
        agent TEXT PRIMARY KEY,
        version BIGINT NOT NULL,
        cameras TEXT NOT NULL,
        updated_ms BIGINT NOT NULL,
        updated_by TEXT NOT NULL
    );
    CREATE TABLE snapshots (
        agent TEXT NOT NULL,
        camera TEXT NOT NULL,
        requested_ms BIGINT NOT NULL,
        delivered_ms BIGINT,
        PRIMARY KEY (agent, camera)
    )",
];

pub async fn connect(url: &str) -> anyhow::Result<AnyPool> {
    sqlx::any::install_default_drivers();
    let url =
        if url.starts_with("sqlite:") && !url.contains('?') { format!("{url}?mode=rwc") } else { url.to_string() };
    // How long a request waits for a connection. SQLite has one writer, so
    // under many agents requests queue for it: waiting is right. PostgreSQL
    // hands out connections at once unless the server is gone: then the API
    // answers 503 after 10 s (agents keep their events and retry) instead of
    // holding every request for sqlx's default 30 s.
    let wait = if url.starts_with("sqlite:") { 30 } else { 10 };
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(std::time::Duration::from_secs(wait))
        .connect(&url)
        .await?;
    if url.starts_with("sqlite:") {
        sqlx::query("PRAGMA journal_mode=WAL").execute(&pool).await?;
        sqlx::query("PRAGMA synchronous=FULL").execute(&pool).await?;
    }
    migrate(&pool).await?;
    Ok(pool)
}

async fn migrate(pool: &AnyPool) -> anyhow::Result<()> {
    // A database already at this schema is not written to at all: a CLI
    // command beside a running server must not contend for SQLite's write
    // lock (a read transaction upgraded to a write fails at once when another
    // connection has written meanwhile).
    let read_version = |pool: &AnyPool| {
        let pool = pool.clone();
        async move {
            sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version")
                .fetch_one(&pool)
                .await
                .and_then(|r| r.try_get::<i64, _>("v"))
        }
    };
    if read_version(pool).await.is_ok_and(|v| v == MIGRATIONS.len() as i64) {
        return Ok(());
    }
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)").execute(pool).await?;
    let mut tx = pool.begin().await?;
    // Write first, so this transaction holds the write lock from the start.
    sqlx::query("INSERT INTO schema_version (version) VALUES (0)").execute(&mut *tx).await?;
    let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_version")
        .fetch_one(&mut *tx)
        .await?
        .try_get("v")?;
    if current > MIGRATIONS.len() as i64 {
        anyhow::bail!(
            "the database is at schema version {current}, newer than this admin-api ({}): upgrade the binary",
            MIGRATIONS.len()
        );
    }
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        for statement in migration.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        tracing::info!(version = i + 1, "database migrated");
    }
    sqlx::query("DELETE FROM schema_version").execute(&mut *tx).await?;
    sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
        .bind(MIGRATIONS.len().max(current as usize) as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
