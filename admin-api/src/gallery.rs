//! The enrolled people edges recognise, with one version counter: every
//! change (enrolment, update, deletion) bumps it, and the row carries the
//! version at which it last changed, so an edge holding version N gets exactly
//! the rows with a later version. A deleted person stays as a tombstone (id
//! and version only; name, CCCD and embeddings are erased at once) so edges
//! learn of the removal.

use sqlx::{AnyPool, Row};
use wire::Category;
use wire::Embedding;
use wire::sync::{Expectations, GalleryDelta};
use wire::{PersonInfo, PersonRecord, StoredEmbedding};

use crate::error::ApiError;

pub type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// Bumps the gallery version inside `tx`; concurrent writers (two admin-api
/// processes on one PostgreSQL) serialise on the counter's row lock.
async fn bump_version(tx: &mut Tx<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query("UPDATE gallery_version SET version = version + 1 WHERE id = 1").execute(&mut **tx).await?;
    sqlx::query("SELECT version FROM gallery_version WHERE id = 1").fetch_one(&mut **tx).await?.try_get("version")
}

fn category_name(c: Category) -> String {
    serde_json::to_value(c).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn parse_category(s: &str) -> Result<Category, ApiError> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| ApiError::BadRequest(format!("unknown category {s:?}")))
}

/// Enrols or updates a person; `embeddings` are added to those already
/// stored (more photos of the same person). Returns the new gallery version.
/// Every site may see the person (command-line enrolment, fixtures).
pub async fn upsert_person(db: &AnyPool, info: &PersonInfo, embeddings: &[StoredEmbedding]) -> Result<i64, ApiError> {
    upsert_person_at(db, info, embeddings, None, &|_| true).await
}

/// As [`upsert_person`], for the sites given (`Some(empty)`: every site), and only
/// if `may_write` accepts whoever holds the id now — checked inside the
/// write, so two admins enrolling the same id at once cannot both win, and
/// the person is never visible to every site, even for a moment.
pub async fn upsert_person_at(
    db: &AnyPool,
    info: &PersonInfo,
    embeddings: &[StoredEmbedding],
    sites: Option<&[String]>,
    may_write: &(dyn Fn(&crate::people::IdHolder) -> bool + Sync),
) -> Result<i64, ApiError> {
    let now = wire::time::now_ms();
    let mut tx = db.begin().await?;
    let version = bump_version(&mut tx).await?;
    if !may_write(&crate::people::holder_of(&mut *tx, &info.id).await?) {
        tx.rollback().await?;
        return Err(ApiError::Conflict(format!(
            "id {:?} is already in use by a person you do not manage (or by a deleted person); \
             leave the id empty to get a new one, or ask a superadmin",
            info.id
        )));
    }
    // `None`: a new person is for every site, an existing one keeps theirs.
    let sql = match sites {
        Some(_) => {
            "INSERT INTO people (id, name, category, cccd, valid_until, version, deleted, updated_ms, sites)
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)
             ON CONFLICT (id) DO UPDATE SET name = $2, category = $3, cccd = $4, valid_until = $5, version = $6,
                 deleted = 0, updated_ms = $7, sites = $8"
        }
        None => {
            "INSERT INTO people (id, name, category, cccd, valid_until, version, deleted, updated_ms, sites)
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)
             ON CONFLICT (id) DO UPDATE SET name = $2, category = $3, cccd = $4, valid_until = $5, version = $6,
                 deleted = 0, updated_ms = $7"
        }
    };
    sqlx::query(sql)
        .bind(&info.id)
        .bind(&info.name)
        .bind(category_name(info.category))
        .bind(info.cccd.as_deref())
        .bind(info.valid_until)
        .bind(version)
        .bind(now)
        .bind(sites.map(|s| s.join(",")).unwrap_or_default())
        .execute(&mut *tx)
        .await?;
    insert_embeddings(&mut tx, &info.id, embeddings, now).await?;
    tx.commit().await?;
    Ok(version)
}

async fn insert_embeddings(
    tx: &mut Tx<'_>,
    person: &str,
    embeddings: &[StoredEmbedding],
    now: i64,
) -> Result<(), ApiError> {
    for e in embeddings {
        let vector = serde_json::to_string(&e.vector).map_err(|err| ApiError::BadRequest(err.to_string()))?;
        sqlx::query("INSERT INTO embeddings (id, person_id, model_id, vector, created_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(person)
            .bind(&e.model_id)
            .bind(vector)
            .bind(now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Adds embeddings (more photos) to a living person, only while they are
/// still enrolled at exactly `sites` (the sites the caller's right to add
/// was judged on): `None` when they were deleted or moved meanwhile.
/// Returns the new gallery version: edges receive the faces on their next sync.
pub async fn add_embeddings(
    db: &AnyPool,
    person: &str,
    sites: &[String],
    embeddings: &[StoredEmbedding],
) -> Result<Option<i64>, ApiError> {
    let now = wire::time::now_ms();
    let mut tx = db.begin().await?;
    // Write first (takes the write lock), and the check with it.
    let still = sqlx::query("UPDATE people SET updated_ms = $2 WHERE id = $1 AND deleted = 0 AND sites = $3")
        .bind(person)
        .bind(now)
        .bind(sites.join(","))
        .execute(&mut *tx)
        .await?;
    if still.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    insert_embeddings(&mut tx, person, embeddings, now).await?;
    let version = mark_changed(&mut tx, person).await?;
    tx.commit().await?;
    Ok(Some(version))
}

/// Marks a person changed (new version) after details edges use were set.
pub async fn touch(db: &AnyPool, person: &str) -> Result<i64, ApiError> {
    let mut tx = db.begin().await?;
    let version = mark_changed(&mut tx, person).await?;
    tx.commit().await?;
    Ok(version)
}

/// As [`touch`], inside a transaction that has just changed the person's row
/// (an edit, photos added): the change and its version commit together, so
/// an edge never holds a version without the change it stands for.
pub async fn mark_changed(tx: &mut Tx<'_>, person: &str) -> Result<i64, ApiError> {
    let version = bump_version(tx).await?;
    sqlx::query("UPDATE people SET version = $2 WHERE id = $1").bind(person).bind(version).execute(&mut **tx).await?;
    Ok(version)
}

/// Records a face that is *not* this person (a correction); the person's
/// record changes, so edges get it on their next sync.
pub async fn add_negative(db: &AnyPool, person: &str, negative: &StoredEmbedding) -> Result<i64, ApiError> {
    let mut tx = db.begin().await?;
    let version = bump_version(&mut tx).await?;
    let vector = serde_json::to_string(&negative.vector).map_err(|err| ApiError::BadRequest(err.to_string()))?;
    sqlx::query(
        "INSERT INTO embeddings (id, person_id, model_id, vector, created_ms, negative) VALUES ($1, $2, $3, $4, $5, 1)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(person)
    .bind(&negative.model_id)
    .bind(vector)
    .bind(wire::time::now_ms())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE people SET version = $2 WHERE id = $1").bind(person).bind(version).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(version)
}

/// Deletes a person: embeddings and personal data erased, a tombstone kept
/// for sync. `None` when there was no such (live) person.
pub async fn delete_person(db: &AnyPool, id: &str) -> Result<Option<i64>, ApiError> {
    let mut tx = db.begin().await?;
    // Write first (the version bump), then look: see `db::migrate` on why.
    let version = bump_version(&mut tx).await?;
    let exists =
        sqlx::query("SELECT id FROM people WHERE id = $1 AND deleted = 0").bind(id).fetch_optional(&mut *tx).await?;
    if exists.is_none() {
        tx.rollback().await?;
        return Ok(None);
    }
    sqlx::query("DELETE FROM embeddings WHERE person_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query(
        "UPDATE people SET name = '', cccd = NULL, valid_until = NULL, deleted = 1, version = $2, updated_ms = $3
         WHERE id = $1",
    )
    .bind(id)
    .bind(version)
    .bind(wire::time::now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(version))
}

/// People read per page of a gallery sync, at most.
const PAGE_PEOPLE: i64 = 1000;
/// Embeddings per page, about (a page ends after the person that reaches
/// it): ~1.3 KB of JSON each, so a page stays a few MB however large the gallery.
const PAGE_EMBEDDINGS: usize = 2000;

/// What an edge of `site` at version `since` needs (see the module doc),
/// one page at a time: rows in version order, the page ending after
/// [`PAGE_EMBEDDINGS`] embeddings or [`PAGE_PEOPLE`] people, with `more`
/// set and `version` at the page's last row. Only people allowed at that
/// site (or at every site) are sent; expired people, and people no longer
/// allowed there, are sent as removals — their embeddings never leave again.
pub async fn delta_since(db: &AnyPool, since: i64, site: &str) -> Result<GalleryDelta, ApiError> {
    let mut tx = db.begin().await?;
    let version: i64 = sqlx::query("SELECT version FROM gallery_version WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?
        .try_get("version")?;
    let full = since <= 0 || since > version;
    let rows = if full {
        sqlx::query(
            "SELECT id, name, category, valid_until, valid_from, version, deleted, sites FROM people WHERE deleted = 0
             ORDER BY version LIMIT $1",
        )
        .bind(PAGE_PEOPLE)
        .fetch_all(&mut *tx)
        .await?
    } else {
        sqlx::query(
            "SELECT id, name, category, valid_until, valid_from, version, deleted, sites FROM people WHERE version > $1
             ORDER BY version LIMIT $2",
        )
        .bind(since)
        .bind(PAGE_PEOPLE)
        .fetch_all(&mut *tx)
        .await?
    };
    let now_s = wire::time::now_s();
    let mut delta =
        GalleryDelta { version: version as u64, full, people: Vec::new(), removed: Vec::new(), more: false };
    let mut embeddings_in_page = 0;
    // Fewer rows than asked for: these are the last changes.
    let rows_left_unread = rows.len() as i64 == PAGE_PEOPLE;
    for (i, row) in rows.iter().enumerate() {
        let v: i64 = row.try_get("version")?;
        let last_row = i + 1 == rows.len();
        embeddings_in_page += page_row(&mut tx, row, full, site, now_s, &mut delta).await?;
        if (embeddings_in_page >= PAGE_EMBEDDINGS && !last_row) || (last_row && rows_left_unread) {
            delta.more = true;
            delta.version = v as u64;
            break;
        }
    }
    tx.commit().await?;
    Ok(delta)
}

/// Adds one people row to a page — the person with their embeddings, or a
/// removal — and returns how many embeddings it added.
async fn page_row(
    tx: &mut Tx<'_>,
    row: &sqlx::any::AnyRow,
    full: bool,
    site: &str,
    now_s: i64,
    delta: &mut GalleryDelta,
) -> Result<usize, ApiError> {
    let v: i64 = row.try_get("version")?;
    let id: String = row.try_get("id")?;
    let deleted: i32 = row.try_get("deleted")?;
    let valid_until: Option<i64> = row.try_get("valid_until")?;
    let sites: String = row.try_get("sites")?;
    let allowed_here = sites.is_empty() || sites.split(',').any(|s| s == site);
    if deleted != 0 || valid_until.is_some_and(|t| t <= now_s) || !allowed_here {
        if !full {
            delta.removed.push(id);
        }
        return Ok(0);
    }
    let category: String = row.try_get("category")?;
    let person = PersonInfo {
        name: row.try_get("name")?,
        category: parse_category(&category)?,
        // Edges never use a CCCD number: a stolen gate box must not yield
        // the site's (data minimisation, Law 91/2025/QH15).
        cccd: None,
        valid_until,
        valid_from: row.try_get("valid_from")?,
        id,
    };
    let (mut embeddings, mut negatives) = (Vec::new(), Vec::new());
    for e in
        sqlx::query("SELECT model_id, vector, negative FROM embeddings WHERE person_id = $1 ORDER BY created_ms, id")
            .bind(&person.id)
            .fetch_all(&mut **tx)
            .await?
    {
        let vector: String = e.try_get("vector")?;
        let vector: Embedding = serde_json::from_str(&vector)
            .map_err(|err| ApiError::BadRequest(format!("stored embedding of {} is unreadable: {err}", person.id)))?;
        let stored = StoredEmbedding { model_id: e.try_get("model_id")?, vector };
        if e.try_get::<i32, _>("negative")? != 0 { negatives.push(stored) } else { embeddings.push(stored) }
    }
    let added = embeddings.len() + negatives.len();
    delta.people.push(PersonRecord { person, embeddings, negatives, version: v as u64 });
    Ok(added)
}

/// Sets (or with `None` clears) the person a verification camera expects.
pub async fn set_expectation(db: &AnyPool, site: &str, camera: &str, person: Option<&str>) -> Result<(), ApiError> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM expectations WHERE site = $1 AND camera = $2")
        .bind(site)
        .bind(camera)
        .execute(&mut *tx)
        .await?;
    if let Some(p) = person {
        sqlx::query("INSERT INTO expectations (site, camera, person_id, set_ms) VALUES ($1, $2, $3, $4)")
            .bind(site)
            .bind(camera)
            .bind(p)
            .bind(wire::time::now_ms())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn expectations(db: &AnyPool, site: &str) -> Result<Expectations, ApiError> {
    let mut out = Expectations::default();
    for row in
        sqlx::query("SELECT camera, person_id FROM expectations WHERE site = $1").bind(site).fetch_all(db).await?
    {
        out.cameras.insert(row.try_get("camera")?, row.try_get("person_id")?);
    }
    Ok(out)
}
