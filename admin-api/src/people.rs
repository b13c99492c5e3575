//! Enrolled people on the admin side: who they are, which sites they may
//! enter, for how long, on whose consent — and their photos, on disk under
//! the data folder (`photos/<photo id>.jpg`, re-encoded so no metadata
//! survives), each removed with its person.
//!
//! The People page's logic lives here too: the search with its filters
//! (visibility inside the query, so its limit counts only people the reader
//! may see), one person's record, an edit validated as an enrolment is and
//! stored with its gallery version in one transaction (guarded by the sites
//! the editor's right was judged on), and the data-subject export.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pipeline::vision::enrol::Enroller;
use pipeline::vision::frame::BgrImage;
use pipeline::vision::models::Models;
use pipeline::vision::runtime::Threads;
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row};
use wire::Category;
use wire::{PersonInfo, StoredEmbedding};

use crate::error::ApiError;
use crate::users::User;

/// Enrolment details beyond what edges need.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Enrolment {
    /// Sites the person may enter (empty: every site).
    #[serde(default)]
    pub sites: Vec<String>,
    /// Unix seconds from which the enrolment is valid.
    #[serde(default)]
    pub valid_from: Option<i64>,
    /// `YYYY-MM-DD`, checked against the CCCD.
    #[serde(default)]
    pub birth_date: Option<String>,
    /// Whom a visitor comes to see.
    #[serde(default)]
    pub host: Option<String>,
    /// Consent: given by whom, for what (required unless watch-listed).
    #[serde(default)]
    pub consent_by: Option<String>,
    #[serde(default)]
    pub consent_purpose: Option<String>,
}

/// Photo decoding limits: a phone photo fits easily; a decompression bomb does not.
const MAX_PIXELS: u64 = 40_000_000;
pub const MAX_PHOTO_BYTES: usize = 10 << 20;

/// Decodes an uploaded photo safely (size and pixel limits, JPEG or PNG only).
pub fn decode_photo(bytes: &[u8]) -> Result<BgrImage, String> {
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(format!("the photo is {} MB; at most {} MB", bytes.len() >> 20, MAX_PHOTO_BYTES >> 20));
    }
    let format = image::guess_format(bytes).map_err(|_| "not an image (JPEG or PNG expected)".to_string())?;
    if !matches!(format, image::ImageFormat::Jpeg | image::ImageFormat::Png) {
        return Err(format!("{format:?} images are not accepted: use JPEG or PNG"));
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(512 << 20);
    reader.limits(limits.clone());
    let (w, h) = reader.into_dimensions().map_err(|e| format!("unreadable image: {e}"))?;
    if w as u64 * h as u64 > MAX_PIXELS {
        return Err(format!("the photo is {w}×{h}; at most 40 megapixels"));
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    reader.limits(limits);
    let rgb = reader.decode().map_err(|e| format!("unreadable image: {e}"))?.to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let mut bgr = rgb.into_raw();
    for px in bgr.chunks_exact_mut(3) {
        px.swap(0, 2);
    }
    BgrImage::from_raw(w, h, bgr).ok_or_else(|| "unreadable image".to_string())
}

/// Turns photos into embeddings on a blocking thread, one enrolment at a time
/// (the models are loaded on first use).
#[derive(Clone, Default)]
pub struct EnrolService {
    inner: Arc<Mutex<Option<(Enroller, String)>>>,
}

impl EnrolService {
    /// Embeds every photo or fails naming the first one refused.
    pub async fn embed(&self, photos: Vec<(String, Vec<u8>)>) -> Result<Vec<(BgrImage, StoredEmbedding)>, ApiError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut guard = inner.lock().unwrap_or_else(|p| p.into_inner());
            if guard.is_none() {
                let models = Models::locate().map_err(|e| ApiError::Unavailable(e.to_string()))?;
                let id = models.recogniser.model_id();
                let enroller =
                    Enroller::new(&models, Threads::default()).map_err(|e| ApiError::Unavailable(e.to_string()))?;
                *guard = Some((enroller, id));
            }
            let Some((enroller, model_id)) = guard.as_mut() else { return Err(ApiError::Unavailable("models".into())) };
            let mut out = Vec::new();
            for (name, bytes) in photos {
                let image = decode_photo(&bytes).map_err(|e| ApiError::Unprocessable(format!("photo {name}: {e}")))?;
                let vector =
                    enroller.embed_photo(&image).map_err(|e| ApiError::Unprocessable(format!("photo {name}: {e}")))?;
                out.push((image, StoredEmbedding { model_id: model_id.clone(), vector }));
            }
            Ok(out)
        })
        .await
        .map_err(|e| ApiError::Unavailable(format!("enrolment task failed: {e}")))?
    }
}

pub fn photo_path(data: &Path, photo_id: &str) -> PathBuf {
    data.join("photos").join(format!("{photo_id}.jpg"))
}

/// Stores photos on disk and their rows.
pub async fn store_photos(db: &AnyPool, data: &Path, person: &str, images: &[BgrImage]) -> Result<(), ApiError> {
    std::fs::create_dir_all(data.join("photos"))?;
    for img in images {
        let id = uuid::Uuid::new_v4().to_string();
        let jpeg = img.to_jpeg(90).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
        tokio::fs::write(photo_path(data, &id), jpeg).await?;
        sqlx::query("INSERT INTO photos (id, person_id, created_ms) VALUES ($1, $2, $3)")
            .bind(&id)
            .bind(person)
            .bind(wire::time::now_ms())
            .execute(db)
            .await?;
    }
    Ok(())
}

/// The sites a living (not deleted) person is enrolled for (empty: every
/// site); `None` when there is no such person.
pub async fn sites_of(db: &AnyPool, id: &str) -> Result<Option<Vec<String>>, ApiError> {
    let row = sqlx::query("SELECT sites FROM people WHERE id = $1 AND deleted = 0").bind(id).fetch_optional(db).await?;
    let Some(row) = row else { return Ok(None) };
    let sites: String = row.try_get("sites")?;
    Ok(Some(split_sites(&sites)))
}

/// Who holds a person id already.
pub enum IdHolder {
    Free,
    /// A living person, enrolled at these sites (empty: every site).
    Living(Vec<String>),
    /// A deleted person's tombstone (edges were told of the removal).
    Tombstone,
}

/// Who holds `id`, read through a pool or inside a transaction (the
/// enrolment's write checks it again under its lock).
pub async fn holder_of<'e, E>(db: E, id: &str) -> Result<IdHolder, ApiError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query("SELECT sites, deleted FROM people WHERE id = $1").bind(id).fetch_optional(db).await?;
    let Some(row) = row else { return Ok(IdHolder::Free) };
    if row.try_get::<i32, _>("deleted")? != 0 {
        return Ok(IdHolder::Tombstone);
    }
    let sites: String = row.try_get("sites")?;
    Ok(IdHolder::Living(split_sites(&sites)))
}

pub fn split_sites(sites: &str) -> Vec<String> {
    sites.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// SQL condition: the person `p` may be named at the site of event `e`
/// (enrolled there, or everywhere). Sites are a comma-joined list; the
/// event's site is escaped so `_` or `%` in a site name match only
/// themselves. Same text for SQLite and PostgreSQL.
pub const PERSON_AT_EVENT_SITE: &str = "(p.sites = '' OR (',' || p.sites || ',') LIKE ('%,' || \
     REPLACE(REPLACE(REPLACE(e.site, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || ',%') ESCAPE '\\')";

/// May this person be named at `site`: living and enrolled there (or
/// everywhere)? A deleted person's tombstone may be named too: an edge
/// recognised them before it learnt of the deletion, and nothing personal
/// is left to show.
pub async fn may_be_named_at(db: &AnyPool, id: &str, site: &str) -> Result<bool, ApiError> {
    Ok(match holder_of(db, id).await? {
        IdHolder::Free => false,
        IdHolder::Tombstone => true,
        IdHolder::Living(sites) => sites.is_empty() || sites.iter().any(|s| s == site),
    })
}

/// May `user` see this person (their photo, their record)? When the person
/// is enrolled at one of the user's sites, or at every site.
pub fn visible_to(user: &User, sites: &[String]) -> bool {
    sites.is_empty() || sites.iter().any(|s| user.sees_site(s))
}

/// May `user` remove this person? Only when every site the person is
/// enrolled at is the user's: deleting takes them off all of them.
pub fn removable_by(user: &User, sites: &[String]) -> bool {
    if sites.is_empty() {
        return user.role == crate::users::Role::Superadmin;
    }
    sites.iter().all(|s| user.sees_site(s))
}

/// Deletes a person everywhere: embeddings and personal data (tombstone for
/// sync), photos from disk and database. `false` when there was nobody.
pub async fn delete(db: &AnyPool, data: &Path, id: &str) -> Result<bool, ApiError> {
    let photos = sqlx::query("SELECT id FROM photos WHERE person_id = $1").bind(id).fetch_all(db).await?;
    let existed = crate::gallery::delete_person(db, id).await?.is_some();
    for p in photos {
        let pid: String = p.try_get("id")?;
        let _ = tokio::fs::remove_file(photo_path(data, &pid)).await;
    }
    sqlx::query("DELETE FROM photos WHERE person_id = $1").bind(id).execute(db).await?;
    sqlx::query(
        "UPDATE people SET sites = '', valid_from = NULL, birth_date = NULL, host = NULL, consent_by = NULL,
         consent_at_ms = NULL, consent_purpose = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(existed)
}

/// Stores the enrolment details of a person already upserted.
pub async fn set_enrolment(db: &AnyPool, id: &str, e: &Enrolment) -> Result<(), ApiError> {
    let consent_at = e.consent_by.as_ref().map(|_| wire::time::now_ms());
    sqlx::query(
        "UPDATE people SET sites = $2, valid_from = $3, birth_date = $4, host = $5, consent_by = $6,
         consent_at_ms = $7, consent_purpose = $8 WHERE id = $1",
    )
    .bind(id)
    .bind(e.sites.join(","))
    .bind(e.valid_from)
    .bind(e.birth_date.as_deref())
    .bind(e.host.as_deref())
    .bind(e.consent_by.as_deref())
    .bind(consent_at)
    .bind(e.consent_purpose.as_deref())
    .execute(db)
    .await?;
    Ok(())
}

/// Display names of these people as seen from `site` (`None`: any site):
/// unknown and deleted ids, and people not enrolled at that site, are left out.
pub async fn names_of(
    db: &AnyPool,
    ids: impl Iterator<Item = String>,
    site: Option<&str>,
) -> Result<HashMap<String, String>, ApiError> {
    let mut out = HashMap::new();
    for id in ids {
        if out.contains_key(&id) {
            continue;
        }
        if let Some(row) = sqlx::query("SELECT name, sites FROM people WHERE id = $1 AND deleted = 0")
            .bind(&id)
            .fetch_optional(db)
            .await?
        {
            let sites = split_sites(&row.try_get::<String, _>("sites")?);
            if site.is_none_or(|site| sites.is_empty() || sites.iter().any(|s| s == site)) {
                out.insert(id, row.try_get("name")?);
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Serialize)]
pub struct PersonView {
    pub id: String,
    pub name: String,
    pub category: String,
    pub cccd: Option<String>,
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
    pub sites: Vec<String>,
    pub host: Option<String>,
    pub photos: i64,
}

pub fn category_of(s: &str) -> Option<Category> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

pub fn person_info(
    id: String,
    name: String,
    category: Category,
    cccd: Option<String>,
    valid_until: Option<i64>,
) -> PersonInfo {
    PersonInfo { id, name, category, cccd, valid_until, valid_from: None }
}

// ---- The People page: search, one person's record, edits, and the
// data-subject export.

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// What the People page searches by; empty fields do not filter.
#[derive(Debug, Default, Deserialize)]
pub struct Search {
    /// Substring of the name, id or CCCD.
    #[serde(default)]
    pub q: String,
    /// `staff`, `resident`, `visitor` or `watchlist`.
    #[serde(default)]
    pub category: Option<String>,
    /// People allowed at this site (enrolled there, or at every site).
    #[serde(default)]
    pub site: Option<String>,
    /// `valid` (not expired; a validity that starts later counts) or `expired`.
    #[serde(default)]
    pub status: Option<String>,
}

/// Living people visible to `user` that match `f`, by name, at most 500.
/// Visibility is part of the query, so the limit counts only people the
/// user may see; [`visible_to`] is checked again on every row.
pub async fn search(db: &AnyPool, user: &User, f: &Search) -> Result<Vec<PersonView>, ApiError> {
    let mut cond = vec!["p.deleted = 0".to_string()];
    let mut binds: Vec<String> = Vec::new();
    let bind = |v: String, binds: &mut Vec<String>| {
        binds.push(v);
        format!("${}", binds.len())
    };
    let q = f.q.trim();
    if !q.is_empty() {
        // Case folded the same way on SQLite (whose LIKE ignores ASCII case)
        // and PostgreSQL (whose LIKE does not).
        let n = bind(format!("%{}%", like_escape(&q.to_lowercase())), &mut binds);
        cond.push(format!(
            "(LOWER(p.name) LIKE {n} ESCAPE '\\' OR LOWER(p.id) LIKE {n} ESCAPE '\\' \
             OR COALESCE(p.cccd, '') LIKE {n} ESCAPE '\\')"
        ));
    }
    if let Some(c) = f.category.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        if category_of(c).is_none() {
            return Err(ApiError::BadRequest(format!("category {c:?}: use staff, resident, visitor or watchlist")));
        }
        let n = bind(c.to_string(), &mut binds);
        cond.push(format!("p.category = {n}"));
    }
    let at_site = |site: &str, binds: &mut Vec<String>| {
        binds.push(format!("%,{},%", like_escape(site)));
        format!("(',' || p.sites || ',') LIKE ${} ESCAPE '\\'", binds.len())
    };
    if let Some(site) = f.site.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        user.require_site(site)?;
        cond.push(format!("(p.sites = '' OR {})", at_site(site, &mut binds)));
    }
    if user.role != crate::users::Role::Superadmin {
        let mut any = vec!["p.sites = ''".to_string()];
        for site in &user.sites {
            any.push(at_site(site, &mut binds));
        }
        cond.push(format!("({})", any.join(" OR ")));
    }
    let now_s = wire::time::now_s();
    match f.status.as_deref().map(str::trim).unwrap_or("") {
        "" => {}
        "valid" => cond.push(format!("(p.valid_until IS NULL OR p.valid_until > {now_s})")),
        "expired" => cond.push(format!("(p.valid_until IS NOT NULL AND p.valid_until <= {now_s})")),
        other => return Err(ApiError::BadRequest(format!("status {other:?}: use valid or expired"))),
    }
    let sql = format!(
        "SELECT p.id, p.name, p.category, p.cccd, p.valid_from, p.valid_until, p.sites, p.host,
                (SELECT COUNT(*) FROM photos f WHERE f.person_id = p.id) AS photos
         FROM people p WHERE {} ORDER BY p.name, p.id LIMIT 500",
        cond.join(" AND ")
    );
    let mut query = sqlx::query(&sql);
    for b in &binds {
        query = query.bind(b.as_str());
    }
    let mut out = Vec::new();
    for r in query.fetch_all(db).await? {
        let sites = split_sites(&r.try_get::<String, _>("sites")?);
        if !visible_to(user, &sites) {
            continue;
        }
        out.push(PersonView {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            category: r.try_get("category")?,
            cccd: r.try_get("cccd")?,
            valid_from: r.try_get("valid_from")?,
            valid_until: r.try_get("valid_until")?,
            sites,
            host: r.try_get("host")?,
            photos: r.try_get("photos")?,
        });
    }
    Ok(out)
}

/// A living person's record as stored: personal data, validity and consent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredPerson {
    pub id: String,
    pub name: String,
    pub category: String,
    pub cccd: Option<String>,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    pub host: Option<String>,
    /// Empty: every site.
    pub sites: Vec<String>,
    /// Unix seconds.
    pub valid_from: Option<i64>,
    /// Unix seconds.
    pub valid_until: Option<i64>,
    pub consent_by: Option<String>,
    pub consent_at_ms: Option<i64>,
    pub consent_purpose: Option<String>,
    pub updated_ms: i64,
}

/// The living person `id`, or `None`.
pub async fn record_of(db: &AnyPool, id: &str) -> Result<Option<StoredPerson>, ApiError> {
    let Some(r) = sqlx::query(
        "SELECT id, name, category, cccd, birth_date, host, sites, valid_from, valid_until, consent_by,
                consent_at_ms, consent_purpose, updated_ms
         FROM people WHERE id = $1 AND deleted = 0",
    )
    .bind(id)
    .fetch_optional(db)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(StoredPerson {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        category: r.try_get("category")?,
        cccd: r.try_get("cccd")?,
        birth_date: r.try_get("birth_date")?,
        host: r.try_get("host")?,
        sites: split_sites(&r.try_get::<String, _>("sites")?),
        valid_from: r.try_get("valid_from")?,
        valid_until: r.try_get("valid_until")?,
        consent_by: r.try_get("consent_by")?,
        consent_at_ms: r.try_get("consent_at_ms")?,
        consent_purpose: r.try_get("consent_purpose")?,
        updated_ms: r.try_get("updated_ms")?,
    }))
}

/// An enrolment photo (the image is at [`photo_path`]).
#[derive(Debug, Clone, Serialize)]
pub struct PhotoRef {
    pub id: String,
    pub created_ms: i64,
}

pub async fn photos_of(db: &AnyPool, person: &str) -> Result<Vec<PhotoRef>, ApiError> {
    let rows = sqlx::query("SELECT id, created_ms FROM photos WHERE person_id = $1 ORDER BY created_ms, id")
        .bind(person)
        .fetch_all(db)
        .await?;
    rows.iter().map(|r| Ok(PhotoRef { id: r.try_get("id")?, created_ms: r.try_get("created_ms")? })).collect()
}

/// One photo of a person: `None` when the person has no photo of that id.
/// `photo_id` is looked up, never used as a path until it was found.
pub async fn photo_of(db: &AnyPool, data: &Path, person: &str, photo_id: &str) -> Result<Option<Vec<u8>>, ApiError> {
    let found = sqlx::query("SELECT id FROM photos WHERE id = $1 AND person_id = $2")
        .bind(photo_id)
        .bind(person)
        .fetch_optional(db)
        .await?;
    let Some(row) = found else { return Ok(None) };
    let id: String = row.try_get("id")?;
    Ok(tokio::fs::read(photo_path(data, &id)).await.ok())
}

/// A passage through a gate recognised as the person.
#[derive(Debug, Clone, Serialize)]
pub struct Passage {
    pub id: String,
    pub at_ms: i64,
    pub site: String,
    pub camera: String,
    pub direction: Option<String>,
    pub has_face: bool,
}

/// Which sites' events a reader gets: `None` for every site (superadmins).
fn readable_sites(user: &User) -> Option<&[String]> {
    (user.role != crate::users::Role::Superadmin).then_some(user.sites.as_slice())
}

/// The person's passages at `sites` (`None`: every site), newest first, at most `limit`.
pub async fn passages_of(
    db: &AnyPool,
    person: &str,
    sites: Option<&[String]>,
    limit: i64,
) -> Result<Vec<Passage>, ApiError> {
    if sites.is_some_and(|s| s.is_empty()) {
        return Ok(Vec::new());
    }
    let at_sites = sites.map_or(String::new(), |s| {
        format!(" AND site IN ({})", (0..s.len()).map(|i| format!("${}", i + 3)).collect::<Vec<_>>().join(", "))
    });
    let sql = format!(
        "SELECT id, COALESCE(at_ms, created_ms) AS at_ms, site, camera, direction, has_face FROM events
         WHERE person_id = $1 AND kind = 'passage'{at_sites} ORDER BY COALESCE(at_ms, created_ms) DESC, id LIMIT $2"
    );
    let mut query = sqlx::query(&sql).bind(person).bind(limit);
    for s in sites.unwrap_or_default() {
        query = query.bind(s.as_str());
    }
    let rows = query.fetch_all(db).await?;
    rows.iter()
        .map(|r| {
            Ok(Passage {
                id: r.try_get("id")?,
                at_ms: r.try_get("at_ms")?,
                site: r.try_get("site")?,
                camera: r.try_get("camera")?,
                direction: r.try_get("direction")?,
                has_face: r.try_get::<i32, _>("has_face")? != 0,
            })
        })
        .collect()
}

/// Passages shown on a person's page.
pub const RECENT_PASSAGES: i64 = 50;

/// A person's page: the record, photo ids and the recent passages at the
/// reader's sites.
#[derive(Debug, Serialize)]
pub struct PersonDetail {
    #[serde(flatten)]
    pub person: StoredPerson,
    pub photos: Vec<String>,
    pub passages: Vec<Passage>,
}

pub async fn detail(db: &AnyPool, user: &User, person: StoredPerson) -> Result<PersonDetail, ApiError> {
    let photos = photos_of(db, &person.id).await?.into_iter().map(|p| p.id).collect();
    let passages = passages_of(db, &person.id, readable_sites(user), RECENT_PASSAGES).await?;
    Ok(PersonDetail { person, photos, passages })
}

/// `Some(value)` for a field present in the JSON, even `null`: so an edit
/// tells "leave as is" (absent) from "clear" (`null`).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// An edit of a person's record: fields left out stay as they are; `null`
/// (or an empty string) clears an optional one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonEdit {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub cccd: Option<Option<String>>,
    /// `YYYY-MM-DD`.
    #[serde(default, deserialize_with = "present")]
    pub birth_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub host: Option<Option<String>>,
    /// Empty: every site (superadmins only).
    #[serde(default)]
    pub sites: Option<Vec<String>>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "present")]
    pub valid_from: Option<Option<i64>>,
    /// Unix seconds.
    #[serde(default, deserialize_with = "present")]
    pub valid_until: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub consent_by: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub consent_purpose: Option<Option<String>>,
}

/// Trimmed, `None` when empty; refused when longer than `max` characters.
fn optional_text(field: &str, v: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    let v = v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    if v.as_ref().is_some_and(|s| s.chars().count() > max) {
        return Err(ApiError::BadRequest(format!("{field}: at most {max} characters")));
    }
    Ok(v)
}

/// Applies `edit` to `current` as `user` may, validated as an enrolment is
/// (name, category, CCCD against the birth date, sites the user's own,
/// consent unless watch-listed). Returns the new record and the names of
/// the fields that changed (never their values). `now_ms` dates a change of
/// consent.
pub fn apply_edit(
    current: &StoredPerson,
    edit: PersonEdit,
    user: &User,
    now_ms: i64,
) -> Result<(StoredPerson, Vec<&'static str>), ApiError> {
    let mut next = current.clone();
    if let Some(name) = edit.name {
        let name = name.trim().to_string();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ApiError::BadRequest("name: 1–100 characters".into()));
        }
        next.name = name;
    }
    if let Some(c) = edit.category {
        let c = c.trim();
        if category_of(c).is_none() {
            return Err(ApiError::BadRequest(format!("category {c:?}: use staff, resident, visitor or watchlist")));
        }
        next.category = c.to_string();
    }
    let identity_edited = edit.cccd.is_some() || edit.birth_date.is_some();
    if let Some(b) = edit.birth_date {
        next.birth_date = optional_text("birth_date", b, 10)?;
    }
    if let Some(c) = edit.cccd {
        next.cccd = optional_text("cccd", c, 20)?;
    }
    if identity_edited {
        let birth = match &next.birth_date {
            Some(b) => Some(
                crate::cccd::Date::parse_iso(b)
                    .ok_or_else(|| ApiError::BadRequest(format!("birth_date {b:?}: use YYYY-MM-DD")))?,
            ),
            None => None,
        };
        if let Some(c) = &next.cccd {
            next.cccd = Some(crate::cccd::validate(c, birth).map_err(|e| ApiError::BadRequest(e.to_string()))?.number);
        }
    }
    if let Some(h) = edit.host {
        next.host = optional_text("host", h, 100)?;
    }
    if let Some(sites) = edit.sites {
        let mut clean: Vec<String> = Vec::new();
        for s in sites.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            if s.contains(',') || s.chars().count() > 64 {
                return Err(ApiError::BadRequest(format!(
                    "site {s:?}: a site name has no comma, at most 64 characters"
                )));
            }
            if !clean.iter().any(|c| c == s) {
                clean.push(s.to_string());
            }
        }
        user.require_sites(&clean)?;
        if clean.is_empty() && user.role != crate::users::Role::Superadmin {
            return Err(ApiError::Forbidden(
                "sites: name at least one of your sites (every site is for a superadmin to grant)".into(),
            ));
        }
        next.sites = clean;
    }
    if let Some(v) = edit.valid_from {
        next.valid_from = v;
    }
    if let Some(v) = edit.valid_until {
        next.valid_until = v;
    }
    if let (Some(from), Some(until)) = (next.valid_from, next.valid_until)
        && until <= from
    {
        return Err(ApiError::BadRequest("valid_until must be later than valid_from".into()));
    }
    if let Some(v) = edit.consent_by {
        next.consent_by = optional_text("consent_by", v, 200)?;
    }
    if let Some(v) = edit.consent_purpose {
        next.consent_purpose = optional_text("consent_purpose", v, 200)?;
    }
    let mut changed = Vec::new();
    let fields: [(&'static str, bool); 10] = [
        ("name", next.name != current.name),
        ("category", next.category != current.category),
        ("cccd", next.cccd != current.cccd),
        ("birth_date", next.birth_date != current.birth_date),
        ("host", next.host != current.host),
        ("sites", next.sites != current.sites),
        ("valid_from", next.valid_from != current.valid_from),
        ("valid_until", next.valid_until != current.valid_until),
        ("consent_by", next.consent_by != current.consent_by),
        ("consent_purpose", next.consent_purpose != current.consent_purpose),
    ];
    changed.extend(fields.iter().filter(|(_, c)| *c).map(|(name, _)| *name));
    if changed.is_empty() {
        return Ok((next, changed));
    }
    if changed.iter().any(|f| f.starts_with("consent_")) {
        next.consent_at_ms = next.consent_by.as_ref().map(|_| now_ms);
    }
    if next.category != "watchlist" && (next.consent_by.is_none() || next.consent_purpose.is_none()) {
        return Err(ApiError::BadRequest(
            "consent: record who consented (consent_by) and for what (consent_purpose); \
             a person without consent is deleted (withdraw consent), not kept"
                .into(),
        ));
    }
    next.updated_ms = now_ms;
    Ok((next, changed))
}

/// Stores an edited record and bumps the gallery version in one
/// transaction, only while the person is still living and enrolled at the
/// sites `previous` holds (the sites the edit's right was judged on):
/// `None` when someone deleted or moved them meanwhile.
pub async fn store_edit(db: &AnyPool, previous: &StoredPerson, next: &StoredPerson) -> Result<Option<i64>, ApiError> {
    let mut tx = db.begin().await?;
    // Write first (takes the write lock), and the check with it.
    let done = sqlx::query(
        "UPDATE people SET name = $2, category = $3, cccd = $4, birth_date = $5, host = $6, sites = $7,
             valid_from = $8, valid_until = $9, consent_by = $10, consent_at_ms = $11, consent_purpose = $12,
             updated_ms = $13
         WHERE id = $1 AND deleted = 0 AND sites = $14",
    )
    .bind(&next.id)
    .bind(&next.name)
    .bind(&next.category)
    .bind(next.cccd.as_deref())
    .bind(next.birth_date.as_deref())
    .bind(next.host.as_deref())
    .bind(next.sites.join(","))
    .bind(next.valid_from)
    .bind(next.valid_until)
    .bind(next.consent_by.as_deref())
    .bind(next.consent_at_ms)
    .bind(next.consent_purpose.as_deref())
    .bind(next.updated_ms)
    .bind(previous.sites.join(","))
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    let version = crate::gallery::mark_changed(&mut tx, &next.id).await?;
    tx.commit().await?;
    Ok(Some(version))
}

/// Passages (and anomalies) a subject export carries at most.
pub const EXPORT_MAX_EVENTS: i64 = 10_000;
/// Face crops a subject export carries at most (the newest passages'):
/// up to 256 KB each, so the file stays within ~70 MB.
pub const EXPORT_MAX_CROPS: usize = 200;
/// Audit rows a subject export carries at most (the newest).
pub const EXPORT_MAX_AUDIT: i64 = 10_000;

/// Everything held about a person, for a data-subject request (Law
/// 91/2025/QH15): the record and consent, the enrolment photos, the
/// passages and anomalies at the reader's sites (the newest
/// [`EXPORT_MAX_EVENTS`]; face crops of the newest [`EXPORT_MAX_CROPS`]
/// where still kept), the corrections naming them, and every audit row
/// about them (who viewed their record, photos and crops, and when). What
/// is left out is said in the file.
pub async fn subject_export(
    db: &AnyPool,
    data: &Path,
    crops: &Path,
    user: &User,
    person: &StoredPerson,
) -> Result<serde_json::Value, ApiError> {
    use base64::Engine as _;
    use serde_json::json;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let id = person.id.as_str();
    let mut notes: Vec<String> = Vec::new();

    let mut photos = Vec::new();
    for p in photos_of(db, id).await? {
        let jpeg = tokio::fs::read(photo_path(data, &p.id)).await.ok();
        photos.push(json!({"id": p.id, "created_ms": p.created_ms, "jpeg_base64": jpeg.as_deref().map(b64)}));
    }

    let sites = readable_sites(user);
    let mut passages = passages_of(db, id, sites, EXPORT_MAX_EVENTS + 1).await?;
    if passages.len() as i64 > EXPORT_MAX_EVENTS {
        passages.truncate(EXPORT_MAX_EVENTS as usize);
        notes.push(format!(
            "only the newest {EXPORT_MAX_EVENTS} passages are included; ask the operator for the older ones"
        ));
    }
    if let Some(sites) = sites {
        let all: i64 = sqlx::query("SELECT COUNT(*) AS n FROM events WHERE person_id = $1 AND kind = 'passage'")
            .bind(id)
            .fetch_one(db)
            .await?
            .try_get("n")?;
        let here = count_at(db, id, sites).await?;
        if all > here {
            notes.push(format!(
                "{} passage(s) at sites outside this account's are not included: a superadmin's export has them",
                all - here
            ));
        }
    }
    let mut passage_rows = Vec::with_capacity(passages.len());
    let mut crops_left = EXPORT_MAX_CROPS;
    for p in &passages {
        let crop = export_crop(crops, &p.id, p.has_face, &mut crops_left).await;
        passage_rows.push(json!({
            "id": p.id, "at_ms": p.at_ms, "site": p.site, "camera": p.camera, "direction": p.direction,
            "has_face": p.has_face, "face_jpeg_base64": crop.as_deref().map(b64),
        }));
    }
    if crops_left == 0 {
        notes.push(format!("face crops are included for the newest {EXPORT_MAX_CROPS} passages only"));
    }

    let anomalies = anomalies_of(db, crops, id, sites).await?;

    let corrections: Vec<serde_json::Value> = sqlx::query(
        "SELECT c.event_id, c.at_ms, COALESCE(u.username, c.user_id) AS who FROM corrections c
         LEFT JOIN users u ON u.id = c.user_id WHERE c.person_id = $1 ORDER BY c.at_ms",
    )
    .bind(id)
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| -> Result<_, sqlx::Error> {
        Ok(json!({
            "passage_id": r.try_get::<String, _>("event_id")?, "at_ms": r.try_get::<i64, _>("at_ms")?,
            "by": r.try_get::<String, _>("who")?,
            "meaning": "an admin marked this passage as not this person; it is no longer attributed to them",
        }))
    })
    .collect::<Result<_, _>>()?;

    // About them: their id, their photos (`photo:<id>`), their passages' crops.
    let audit_rows = sqlx::query(
        "SELECT at_ms, actor, action, target, detail FROM audit
         WHERE target = $1 OR target = $2 OR target IN (SELECT 'crop:' || e.id FROM events e WHERE e.person_id = $1)
         ORDER BY at_ms DESC, seq DESC LIMIT $3",
    )
    .bind(id)
    .bind(format!("photo:{id}"))
    .bind(EXPORT_MAX_AUDIT + 1)
    .fetch_all(db)
    .await?;
    if audit_rows.len() as i64 > EXPORT_MAX_AUDIT {
        notes.push(format!("only the newest {EXPORT_MAX_AUDIT} audit rows are included"));
    }
    let audit: Vec<serde_json::Value> = audit_rows
        .iter()
        .take(EXPORT_MAX_AUDIT as usize)
        .map(|r| -> Result<_, sqlx::Error> {
            Ok(json!({
                "at_ms": r.try_get::<i64, _>("at_ms")?, "actor": r.try_get::<String, _>("actor")?,
                "action": r.try_get::<String, _>("action")?, "target": r.try_get::<String, _>("target")?,
                "detail": r.try_get::<String, _>("detail")?,
            }))
        })
        .collect::<Result<_, _>>()?;

    Ok(json!({
        "kind": "gatewatch data-subject export",
        "legal_basis": "Law 91/2025/QH15 on personal data protection: the data subject's right to their data",
        "exported_at_ms": wire::time::now_ms(),
        "exported_by": user.username,
        "complete": notes.is_empty(),
        "notes": notes,
        "person": person,
        "consent": {"by": person.consent_by, "at_ms": person.consent_at_ms, "purpose": person.consent_purpose},
        "photos": photos,
        "passages": passage_rows,
        "anomalies": anomalies,
        "corrections": corrections,
        "audit": audit,
    }))
}

async fn count_at(db: &AnyPool, person: &str, sites: &[String]) -> Result<i64, ApiError> {
    if sites.is_empty() {
        return Ok(0);
    }
    let list = (0..sites.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
    let sql =
        format!("SELECT COUNT(*) AS n FROM events WHERE person_id = $1 AND kind = 'passage' AND site IN ({list})");
    let mut query = sqlx::query(&sql).bind(person);
    for s in sites {
        query = query.bind(s.as_str());
    }
    Ok(query.fetch_one(db).await?.try_get("n")?)
}

/// An event's face crop for an export, while `left` allows one more.
async fn export_crop(crops: &Path, event: &str, has_face: bool, left: &mut usize) -> Option<Vec<u8>> {
    if !has_face || *left == 0 || uuid::Uuid::parse_str(event).is_err() {
        return None;
    }
    let crop = tokio::fs::read(crops.join(format!("{event}.jpg"))).await.ok();
    *left -= usize::from(crop.is_some());
    crop
}

/// Anomalies raised about the person at `sites` (`None`: every site), newest
/// first, with the face an alert raised ahead of its passage carries (the
/// newest [`EXPORT_MAX_CROPS`]).
async fn anomalies_of(
    db: &AnyPool,
    crops: &Path,
    person: &str,
    sites: Option<&[String]>,
) -> Result<Vec<serde_json::Value>, ApiError> {
    if sites.is_some_and(|s| s.is_empty()) {
        return Ok(Vec::new());
    }
    let at_sites = sites.map_or(String::new(), |s| {
        format!(" AND site IN ({})", (0..s.len()).map(|i| format!("${}", i + 3)).collect::<Vec<_>>().join(", "))
    });
    let sql = format!(
        "SELECT id, COALESCE(at_ms, created_ms) AS at_ms, site, camera, anomaly, passage_id, has_face FROM events
         WHERE person_id = $1 AND kind = 'anomaly'{at_sites} ORDER BY COALESCE(at_ms, created_ms) DESC, id LIMIT $2"
    );
    let mut query = sqlx::query(&sql).bind(person).bind(EXPORT_MAX_EVENTS);
    for s in sites.unwrap_or_default() {
        query = query.bind(s.as_str());
    }
    let mut out = Vec::new();
    let mut crops_left = EXPORT_MAX_CROPS;
    for r in query.fetch_all(db).await? {
        let id: String = r.try_get("id")?;
        let has_face = r.try_get::<i32, _>("has_face")? != 0;
        let crop = export_crop(crops, &id, has_face, &mut crops_left).await;
        out.push(serde_json::json!({
            "id": id, "at_ms": r.try_get::<i64, _>("at_ms")?,
            "site": r.try_get::<String, _>("site")?, "camera": r.try_get::<String, _>("camera")?,
            "kind": r.try_get::<Option<String>, _>("anomaly")?,
            "passage_id": r.try_get::<Option<String>, _>("passage_id")?,
            "has_face": has_face,
            "face_jpeg_base64": crop.map(|c| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, c)),
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::Role;

    fn user(role: Role, sites: &[&str]) -> User {
        User { id: "u".into(), username: "u".into(), role, sites: sites.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn people_are_seen_and_removed_only_by_their_sites_users() {
        let s1 = vec!["s1".to_string()];
        let both = vec!["s1".to_string(), "s2".to_string()];
        let admin1 = user(Role::Admin, &["s1"]);
        let admin2 = user(Role::Admin, &["s2"]);
        let superadmin = user(Role::Superadmin, &[]);
        assert!(visible_to(&admin1, &s1) && !visible_to(&admin2, &s1));
        assert!(visible_to(&admin2, &both) && visible_to(&admin2, &[]), "enrolled at one of theirs, or everywhere");
        assert!(removable_by(&admin1, &s1) && !removable_by(&admin2, &s1));
        assert!(!removable_by(&admin1, &both), "deleting would take them off s2 too");
        assert!(!removable_by(&admin1, &[]) && removable_by(&superadmin, &[]) && removable_by(&superadmin, &both));
    }
}
