//! The audit log: who did what, when — every view of a face, export,
//! enrolment, deletion, acknowledgement, login and revocation.
//!
//! Tamper-evident: rows form a hash chain. Each row carries a sequence
//! number, the previous row's hash and its own — SHA-256 over the previous
//! hash and every field — and `audit_head` holds the newest sequence number
//! and hash. Editing a row breaks its hash; deleting one leaves a gap;
//! deleting the newest ones disagrees with the head. Retention removes only
//! the oldest rows, never younger than [`crate::retention::AUDIT_FLOOR_DAYS`],
//! and says where the chain now starts in a `purge` row of its own.
//! `admin-api verify-audit` checks all of it.

use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};

fn row_hash(prev: &str, seq: i64, at_ms: i64, actor: &str, action: &str, target: &str, detail: &str) -> String {
    let mut h = Sha256::new();
    for field in [prev, &seq.to_string(), &at_ms.to_string(), actor, action, target, detail] {
        // Length-prefixed, so that no two different rows hash alike.
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Records an action; a failure to audit fails the action (callers use `?`).
pub async fn record(db: &AnyPool, actor: &str, action: &str, target: &str, detail: &str) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    // Write first (takes the write lock; concurrent writers queue here).
    sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1").execute(&mut *tx).await?;
    let head = sqlx::query("SELECT seq, sha256 FROM audit_head WHERE id = 1").fetch_one(&mut *tx).await?;
    let (seq, prev): (i64, String) = (head.try_get("seq")?, head.try_get("sha256")?);
    let at_ms = wire::time::now_ms();
    let hash = row_hash(&prev, seq, at_ms, actor, action, target, detail);
    sqlx::query(
        "INSERT INTO audit (id, at_ms, actor, action, target, detail, seq, prev_sha256, row_sha256)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(at_ms)
    .bind(actor)
    .bind(action)
    .bind(target)
    .bind(detail)
    .bind(seq)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE audit_head SET sha256 = $1 WHERE id = 1").bind(&hash).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The chain's head (newest sequence number and hash), for logging where
/// the database's writers cannot reach: with a copy of the head kept
/// elsewhere (the journal), even someone who can rewrite the whole table
/// and recompute every hash is caught.
pub async fn head(db: &AnyPool) -> Result<(i64, String), sqlx::Error> {
    let head = sqlx::query("SELECT seq, sha256 FROM audit_head WHERE id = 1").fetch_one(db).await?;
    Ok((head.try_get("seq")?, head.try_get("sha256")?))
}

/// What `verify` found.
#[derive(Debug, serde::Serialize)]
pub struct Verdict {
    /// Rows checked.
    pub rows: u64,
    /// Sequence number the chain starts at (after retention), and the newest.
    pub first_seq: i64,
    pub last_seq: i64,
    /// Empty when the chain is intact.
    pub problems: Vec<String>,
}

/// Walks the chain from its oldest row to the head.
pub async fn verify(db: &AnyPool) -> Result<Verdict, sqlx::Error> {
    // The head first, then the rows up to it: actions audited meanwhile
    // (the server keeps running) are outside this check, not "missing".
    let head = sqlx::query("SELECT seq, sha256 FROM audit_head WHERE id = 1").fetch_one(db).await?;
    let (head_seq, head_hash): (i64, String) = (head.try_get("seq")?, head.try_get("sha256")?);
    let rows = sqlx::query(
        "SELECT seq, at_ms, actor, action, target, detail, prev_sha256, row_sha256 FROM audit
         WHERE seq IS NOT NULL AND seq <= $1 ORDER BY seq",
    )
    .bind(head_seq)
    .fetch_all(db)
    .await?;
    let mut problems = Vec::new();
    let mut expected: Option<(i64, String)> = None;
    // Where retention said the chain now starts.
    let mut purged_through = 0i64;
    let mut first_seq = 0;
    for (i, r) in rows.iter().enumerate() {
        let seq: i64 = r.try_get("seq")?;
        let (actor, action): (String, String) = (r.try_get("actor")?, r.try_get("action")?);
        let (target, detail): (String, String) = (r.try_get("target")?, r.try_get("detail")?);
        let prev: String = r.try_get("prev_sha256")?;
        let stored: String = r.try_get("row_sha256")?;
        if i == 0 {
            first_seq = seq;
        }
        match &expected {
            Some((next, _)) if seq != *next => problems.push(format!("rows {next}–{} are missing", seq - 1)),
            Some((_, hash)) if prev != *hash => problems.push(format!("row {seq} does not follow row {}", seq - 1)),
            _ => {}
        }
        if row_hash(&prev, seq, r.try_get("at_ms")?, &actor, &action, &target, &detail) != stored {
            problems.push(format!("row {seq} ({action} by {actor}) was altered"));
        }
        if action == "audit_purged" {
            purged_through = purged_through.max(target.parse().unwrap_or(0));
        }
        expected = Some((seq + 1, stored));
    }
    if first_seq > 1 && first_seq != purged_through + 1 {
        problems.push(format!(
            "the chain starts at row {first_seq}, but retention removed rows only through {purged_through}"
        ));
    }
    match expected {
        Some((next, hash)) if next - 1 != head_seq || hash != head_hash => problems
            .push(format!("the newest rows are missing: the head says {head_seq}, the last row is {}", next - 1)),
        None if head_seq != 0 => problems.push(format!("every row is missing: the head says {head_seq}")),
        _ => {}
    }
    Ok(Verdict { rows: rows.len() as u64, first_seq, last_seq: head_seq, problems })
}
