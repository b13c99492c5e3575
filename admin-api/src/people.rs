//! Enrolled people on the admin side: who they are, which sites they may
//! enter, for how long, on whose consent — and their photos, on disk under
//! the data folder (`photos/<photo id>.jpg`, re-encoded so no metadata
//! survives), each removed with its person.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pipeline::enrol::Enroller;
use pipeline::fixture::Category;
use pipeline::frame::BgrImage;
use pipeline::gallery::{PersonInfo, StoredEmbedding};
use pipeline::models::Models;
use pipeline::runtime::Threads;
use serde::{Deserialize, Serialize};
use sqlx::{AnyPool, Row};

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
            .bind(pipeline::events::now_ms())
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
    let consent_at = e.consent_by.as_ref().map(|_| pipeline::events::now_ms());
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
