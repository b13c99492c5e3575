//! Bulk import (admins): `POST /api/v1/people/import` with a `csv` file of
//! people and a `photos` zip whose files are named by the person's id or
//! CCCD (`001090001234.jpg`, `p17_2.jpg`, or a folder `p17/…`). Every row is
//! enrolled through the same checks as the form; the answer reports each row
//! (a bad row is skipped with its reason, the others go in).
//!
//! CSV columns (header required, any order; others ignored): `id, name,
//! category, cccd, birth_date (YYYY-MM-DD), sites (a;b), valid_until
//! (YYYY-MM-DD, through the end of that day), host, consent_by,
//! consent_purpose`.

use std::collections::HashMap;
use std::io::Read;

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use crate::AppState;
use crate::cccd::Date;
use crate::error::ApiError;
use crate::people::{Enrolment, MAX_PHOTO_BYTES};
use crate::routes::people::{NewPerson, enrol_one};
use crate::session::RequireAdmin;

const MAX_ZIP: usize = 200 << 20;
const MAX_ENTRIES: usize = 5000;
const MAX_UNPACKED: u64 = 1 << 30;

pub fn router() -> Router<AppState> {
    Router::new().route("/people/import", post(import).layer(DefaultBodyLimit::max(MAX_ZIP + (5 << 20))))
}

/// Named photo files (file name, bytes) per person key.
type PhotosByKey = HashMap<String, Vec<(String, Vec<u8>)>>;

/// Photos in the zip, by key: the folder name, or the file stem without a
/// trailing `_<number>`.
fn unpack(zip_bytes: Vec<u8>) -> Result<PhotosByKey, ApiError> {
    let bad = |e: String| ApiError::BadRequest(format!("photos zip: {e}"));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).map_err(|e| bad(e.to_string()))?;
    if archive.len() > MAX_ENTRIES {
        return Err(bad(format!("{} files; at most {MAX_ENTRIES}", archive.len())));
    }
    let mut out = PhotosByKey::new();
    let mut unpacked = 0u64;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(|e| bad(e.to_string()))?;
        if file.is_dir() {
            continue;
        }
        // Names are only used as keys: no path is ever created from them.
        let name = file.name().map_err(|e| bad(e.to_string()))?.replace('\\', "/");
        if !is_photo_name(&name) {
            continue;
        }
        let mut parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty()).collect();
        let file_name = parts.pop().unwrap_or_default().to_string();
        let stem = file_name.rsplit_once('.').map(|(s, _)| s).unwrap_or(&file_name);
        let key = match parts.last() {
            Some(folder) => folder.to_string(),
            None => key_of_stem(stem),
        };
        let mut bytes = Vec::new();
        (&mut file).take(MAX_PHOTO_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(|e| bad(e.to_string()))?;
        if bytes.len() > MAX_PHOTO_BYTES {
            return Err(bad(format!("{name}: larger than {} MB", MAX_PHOTO_BYTES >> 20)));
        }
        unpacked += bytes.len() as u64;
        if unpacked > MAX_UNPACKED {
            return Err(bad("more than 1 GB once unpacked".into()));
        }
        out.entry(key).or_default().push((file_name, bytes));
    }
    Ok(out)
}

fn row_person(
    rec: &csv::StringRecord,
    col: &HashMap<String, usize>,
    local: &crate::local_time::LocalTime,
) -> Result<NewPerson, String> {
    let get =
        |k: &str| col.get(k).and_then(|&i| rec.get(i)).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let valid_until = match get("valid_until") {
        Some(v) => {
            let day = Date::parse_iso(&v).ok_or(format!("valid_until {v:?}: use YYYY-MM-DD"))?;
            // Valid to the last second of that local day.
            Some(local.end_of_day_s(local.start_of(day.civil()) / 1000))
        }
        None => None,
    };
    Ok(NewPerson {
        id: get("id"),
        name: get("name").ok_or("name is empty")?,
        category: get("category").ok_or("category is empty")?,
        cccd: get("cccd"),
        valid_until,
        enrolment: Enrolment {
            sites: get("sites")
                .map(|s| s.split(';').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect())
                .unwrap_or_default(),
            valid_from: None,
            birth_date: get("birth_date"),
            host: get("host"),
            consent_by: get("consent_by"),
            consent_purpose: get("consent_purpose"),
        },
    })
}

async fn import(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    mut form: Multipart,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (mut csv_bytes, mut zip_bytes) = (None, None);
    while let Some(field) =
        form.next_field().await.map_err(|e| ApiError::BadRequest(format!("malformed upload: {}", e.body_text())))?
    {
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field.bytes().await.map_err(|e| ApiError::TooLarge(format!("upload: {}", e.body_text())))?;
        match name.as_str() {
            "csv" => csv_bytes = Some(bytes.to_vec()),
            "photos" => zip_bytes = Some(bytes.to_vec()),
            other => return Err(ApiError::BadRequest(format!("unexpected form field {other:?}"))),
        }
    }
    let csv_bytes = csv_bytes.ok_or_else(|| ApiError::BadRequest("the form needs a `csv` file".into()))?;
    let zip_bytes = zip_bytes.ok_or_else(|| ApiError::BadRequest("the form needs a `photos` zip".into()))?;
    let photos = tokio::task::spawn_blocking(move || unpack(zip_bytes))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))??;
    Ok(Json(import_rows(&state, &s.user, &csv_bytes, photos).await?))
}

/// Photos in a folder, keyed as in a zip (for `admin-api import`).
pub fn photos_in_folder(dir: &std::path::Path) -> Result<PhotosByKey, ApiError> {
    let mut out = PhotosByKey::new();
    let mut visit = |path: &std::path::Path, folder_key: Option<&str>| -> Result<(), ApiError> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if !is_photo_name(&name) {
            return Ok(());
        }
        let bytes = std::fs::read(path)?;
        if bytes.len() > MAX_PHOTO_BYTES {
            return Err(ApiError::BadRequest(format!("{}: larger than {} MB", path.display(), MAX_PHOTO_BYTES >> 20)));
        }
        let stem = name.rsplit_once('.').map(|(s, _)| s).unwrap_or(&name);
        let key = folder_key.map(str::to_string).unwrap_or_else(|| key_of_stem(stem));
        out.entry(key).or_default().push((name, bytes));
        Ok(())
    };
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            let key = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            for inner in std::fs::read_dir(&path)? {
                visit(&inner?.path(), Some(&key))?;
            }
        } else {
            visit(&path, None)?;
        }
    }
    Ok(out)
}

/// JPEG or PNG by its name; other files in a zip or folder are ignored.
fn is_photo_name(name: &str) -> bool {
    let lower = name.to_lowercase();
    lower.ends_with(".jpg") || lower.ends_with(".jpeg") || lower.ends_with(".png")
}

fn key_of_stem(stem: &str) -> String {
    match stem.rsplit_once('_') {
        Some((key, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => key.to_string(),
        _ => stem.to_string(),
    }
}

/// Enrols every CSV row with its photos; a report per row.
pub async fn import_rows(
    state: &AppState,
    user: &crate::users::User,
    csv_bytes: &[u8],
    mut photos: PhotosByKey,
) -> Result<serde_json::Value, ApiError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(csv_bytes);
    let headers = reader.headers().map_err(|e| ApiError::BadRequest(format!("csv: {e}")))?.clone();
    let col: HashMap<String, usize> = headers.iter().enumerate().map(|(i, h)| (h.trim().to_lowercase(), i)).collect();
    for required in ["name", "category"] {
        if !col.contains_key(required) {
            return Err(ApiError::BadRequest(format!("csv: the header needs a `{required}` column")));
        }
    }
    let mut rows = Vec::new();
    let (mut ok, mut failed) = (0, 0);
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2;
        let outcome = match rec.map_err(|e| e.to_string()).and_then(|r| row_person(&r, &col, &state.local_time)) {
            Err(e) => Err(e),
            Ok(p) => {
                let mine = [p.id.clone(), p.cccd.clone()].into_iter().flatten().find_map(|k| photos.remove(&k));
                match mine {
                    None => Err("no photo named by this row's id or CCCD among the photos".to_string()),
                    Some(files) => enrol_one(state, user, p, files).await.map_err(|e| e.to_string()),
                }
            }
        };
        match outcome {
            Ok(v) => {
                ok += 1;
                rows.push(json!({"line": line, "ok": true, "id": v["id"]}));
            }
            Err(e) => {
                failed += 1;
                rows.push(json!({"line": line, "ok": false, "error": e}));
            }
        }
    }
    crate::audit::record(&state.db, &user.username, "bulk_import", "", &format!("{ok} enrolled, {failed} refused"))
        .await?;
    Ok(json!({"enrolled": ok, "refused": failed, "rows": rows, "unused_photos": photos.keys().collect::<Vec<_>>()}))
}
