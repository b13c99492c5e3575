//! Enrolment (admins): people with photos, visitors from a CCCD QR code,
//! deletion on request; and the faces behind alerts (every viewing audited).
//!
//! `POST /api/v1/people` takes `multipart/form-data`: a `person` field (JSON:
//! id, name, category, cccd, valid_until, enrolment details) and one or more
//! `photo` files. Every photo must show exactly one usable face; the first
//! refused photo refuses the whole enrolment, naming the reason.
//!
//! The People page: the list with filters, one person's record (with photo
//! ids and recent passages), edits, more photos, one photo, consent
//! withdrawn (a deletion), and the data-subject export. Someone an admin
//! cannot see answers as nobody does (404); someone they see but who is
//! also enrolled at sites not theirs may be read, not changed (403).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;

use crate::AppState;
use crate::cccd;
use crate::error::ApiError;
use crate::people::{self, Enrolment, PersonView};
use crate::session::{RequireAdmin, SignedIn};
use crate::users::User;

/// Largest enrolment request: a few phone photos.
const MAX_UPLOAD: usize = 25 << 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/people", post(enrol).layer(DefaultBodyLimit::max(MAX_UPLOAD)).get(list))
        .route("/people/{id}", delete(remove).get(one).put(edit))
        .route("/people/{id}/photos", post(add_photos).layer(DefaultBodyLimit::max(MAX_UPLOAD)))
        .route("/people/{id}/photos/{photo_id}", get(one_photo))
        .route("/people/{id}/withdraw-consent", post(withdraw_consent))
        .route("/people/{id}/export", get(export))
        .route("/visitors/qr", post(read_qr))
        .route("/faces/photo/{person}", get(photo))
        .route("/faces/crop/{event}", get(crop))
}

#[derive(Deserialize)]
pub struct NewPerson {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    pub category: String,
    #[serde(default)]
    pub cccd: Option<String>,
    /// Unix seconds; visitors default to the end of today (the sites' time zone).
    #[serde(default)]
    pub valid_until: Option<i64>,
    #[serde(flatten)]
    pub enrolment: Enrolment,
}

fn valid_person_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

async fn enrol(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    headers: axum::http::HeaderMap,
    mut form: Multipart,
) -> Result<Json<serde_json::Value>, ApiError> {
    // Refuse an oversized upload from its declared length, before reading it.
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_UPLOAD) {
        return Err(ApiError::TooLarge(format!("upload too large: at most {} MB per enrolment", MAX_UPLOAD >> 20)));
    }
    let mut person: Option<NewPerson> = None;
    let mut photos: Vec<(String, Vec<u8>)> = Vec::new();
    while let Some(field) = form.next_field().await.map_err(|e| upload_error(&e))? {
        match field.name() {
            Some("person") => {
                let text = field.text().await.map_err(|e| upload_error(&e))?;
                person = Some(serde_json::from_str(&text).map_err(|e| ApiError::BadRequest(format!("person: {e}")))?);
            }
            Some("photo") => {
                let name = field.file_name().unwrap_or("photo").chars().take(80).collect::<String>();
                let bytes: Bytes = field.bytes().await.map_err(|e| upload_error(&e))?;
                photos.push((name, bytes.to_vec()));
            }
            Some(other) => return Err(ApiError::BadRequest(format!("unexpected form field {other:?}"))),
            None => {}
        }
    }
    let p = person.ok_or_else(|| ApiError::BadRequest("the form needs a `person` field".into()))?;
    Ok(Json(enrol_one(&state, &s.user, p, photos).await?))
}

/// Validates and enrols one person with their photos (the form, and each
/// row of a bulk import). Nothing is stored unless every check passes.
pub async fn enrol_one(
    state: &AppState,
    user: &crate::users::User,
    p: NewPerson,
    photos: Vec<(String, Vec<u8>)>,
) -> Result<serde_json::Value, ApiError> {
    let category = people::category_of(&p.category).ok_or_else(|| {
        ApiError::BadRequest(format!("category {:?}: use staff, resident, visitor or watchlist", p.category))
    })?;
    let name = p.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::BadRequest("name: 1–100 characters".into()));
    }
    let birth = match &p.enrolment.birth_date {
        Some(b) => Some(
            cccd::Date::parse_iso(b)
                .ok_or_else(|| ApiError::BadRequest(format!("birth_date {b:?}: use YYYY-MM-DD")))?,
        ),
        None => None,
    };
    let cccd = match p.cccd.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(c) => Some(cccd::validate(c, birth).map_err(|e| ApiError::BadRequest(e.to_string()))?.number),
        None => None,
    };
    if category != wire::Category::Watchlist
        && (p.enrolment.consent_by.as_deref().is_none_or(|c| c.trim().is_empty())
            || p.enrolment.consent_purpose.as_deref().is_none_or(|c| c.trim().is_empty()))
    {
        return Err(ApiError::BadRequest(
            "consent: record who consented (consent_by) and for what (consent_purpose) before enrolling".into(),
        ));
    }
    let mut enrolment = p.enrolment.clone();
    if enrolment.sites.is_empty() && user.role != crate::users::Role::Superadmin {
        enrolment.sites = user.sites.clone();
    }
    user.require_sites(&enrolment.sites)?;
    if photos.is_empty() {
        return Err(ApiError::BadRequest("at least one photo is needed".into()));
    }
    let id = p.id.unwrap_or_else(|| format!("v-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]));
    if !valid_person_id(&id) {
        return Err(ApiError::BadRequest("id: 1–64 letters, digits, '-' or '_'".into()));
    }
    // An id already in use is updated only by someone who may manage that
    // person: else an admin of one site could move another site's person to
    // theirs, add their own faces to that identity and read its photo.
    // Before the photos are embedded (seconds of work): someone who may not
    // write this id is told at once.
    let may_write = |holder: &people::IdHolder| match holder {
        people::IdHolder::Free => true,
        people::IdHolder::Living(sites) => people::removable_by(user, sites),
        people::IdHolder::Tombstone => user.role == crate::users::Role::Superadmin,
    };
    if !may_write(&people::holder_of(&state.db, &id).await?) {
        return Err(ApiError::Conflict(format!(
            "id {id:?} is already in use by a person you do not manage (or by a deleted person); \
             leave the id empty to get a new one, or ask a superadmin"
        )));
    }
    let now_s = wire::time::now_s();
    let valid_until =
        p.valid_until.or((category == wire::Category::Visitor).then(|| state.local_time.end_of_day_s(now_s)));
    let embedded = state.enrol.embed(photos).await?;
    let (images, embeddings): (Vec<_>, Vec<_>) = embedded.into_iter().unzip();
    let info = people::person_info(id.clone(), name, category, cccd, valid_until);
    // Checked again inside the write: another admin may have taken the id
    // while the photos were embedded.
    let version =
        crate::gallery::upsert_person_at(&state.db, &info, &embeddings, Some(&enrolment.sites), &may_write).await?;
    people::set_enrolment(&state.db, &id, &enrolment).await?;
    // Edges read the validity start with the record: publish it as a change.
    let version = if enrolment.valid_from.is_some() { crate::gallery::touch(&state.db, &id).await? } else { version };
    people::store_photos(&state.db, &state.data_dir, &id, &images).await?;
    crate::audit::record(&state.db, &user.username, "enrolment", &id, &format!("{} photo(s)", images.len())).await?;
    Ok(json!({ "id": id, "gallery_version": version, "photos": images.len(), "valid_until": valid_until }))
}

fn upload_error(e: &axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge(format!("upload too large: at most {} MB per enrolment", MAX_UPLOAD >> 20))
    } else {
        ApiError::BadRequest(format!("malformed upload: {}", e.body_text()))
    }
}

async fn list(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Query(q): Query<people::Search>,
) -> Result<Json<Vec<PersonView>>, ApiError> {
    let out = people::search(&state.db, &s.user, &q).await?;
    // CCCD numbers are personal data: who read them is on record.
    let with_cccd = out.iter().filter(|p| p.cccd.is_some()).count();
    if with_cccd > 0 {
        let detail = format!("{} people, {with_cccd} CCCD numbers; search {:?}", out.len(), q.q.trim());
        crate::audit::record(&state.db, &s.user.username, "cccd_viewed", "people", &detail).await?;
    }
    Ok(Json(out))
}

/// The living person `id` if `user` may see them; anyone else (nobody, a
/// deleted person, someone of other sites) gets the same 404.
async fn visible_person(state: &AppState, user: &User, id: &str) -> Result<people::StoredPerson, ApiError> {
    if !valid_person_id(id) {
        return Err(ApiError::BadRequest("not a person id".into()));
    }
    let none = || ApiError::NotFound(format!("no enrolled person {id:?} at your sites"));
    let person = people::record_of(&state.db, id).await?.ok_or_else(none)?;
    if !people::visible_to(user, &person.sites) {
        return Err(none());
    }
    Ok(person)
}

/// As [`visible_person`], and `user` may change them: every site they are
/// enrolled at is the user's.
async fn managed_person(state: &AppState, user: &User, id: &str) -> Result<people::StoredPerson, ApiError> {
    let person = visible_person(state, user, id).await?;
    if !people::removable_by(user, &person.sites) {
        return Err(ApiError::Forbidden(format!(
            "{id} is also enrolled at sites that are not yours: ask a superadmin to change them"
        )));
    }
    Ok(person)
}

async fn one(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Path(id): Path<String>,
) -> Result<Json<people::PersonDetail>, ApiError> {
    let person = visible_person(&state, &s.user, &id).await?;
    let has_cccd = person.cccd.is_some();
    let detail = people::detail(&state.db, &s.user, person).await?;
    let what = format!("record, {} photo(s), {} passage(s)", detail.photos.len(), detail.passages.len());
    crate::audit::record(&state.db, &s.user.username, "person_viewed", &id, &what).await?;
    if has_cccd {
        crate::audit::record(&state.db, &s.user.username, "cccd_viewed", &id, "person record").await?;
    }
    Ok(Json(detail))
}

async fn edit(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Path(id): Path<String>,
    Json(change): Json<people::PersonEdit>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let current = managed_person(&state, &s.user, &id).await?;
    let (next, changed) = people::apply_edit(&current, change, &s.user, wire::time::now_ms())?;
    if changed.is_empty() {
        return Ok(Json(json!({ "id": id, "changed": changed, "gallery_version": null })));
    }
    let version = people::store_edit(&state.db, &current, &next).await?.ok_or_else(|| {
        ApiError::Conflict(format!("{id} was deleted or moved to other sites meanwhile: reload the page"))
    })?;
    // Names of the fields only: the audit log never holds a CCCD number.
    crate::audit::record(&state.db, &s.user.username, "person_edited", &id, &changed.join(", ")).await?;
    Ok(Json(json!({ "id": id, "changed": changed, "gallery_version": version })))
}

/// More photos of an enrolled person: the right to change them is checked
/// before the upload is read, then each photo must show one usable face.
async fn add_photos(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Path(id): Path<String>,
    request: axum::extract::Request,
) -> Result<Json<serde_json::Value>, ApiError> {
    let person = managed_person(&state, &s.user, &id).await?;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_UPLOAD) {
        return Err(ApiError::TooLarge(format!("upload too large: at most {} MB at once", MAX_UPLOAD >> 20)));
    }
    let mut form = Multipart::from_request(request, &state).await.map_err(|e| {
        ApiError::BadRequest(format!("send multipart/form-data with one or more `photo` files ({})", e.body_text()))
    })?;
    let mut photos: Vec<(String, Vec<u8>)> = Vec::new();
    while let Some(field) = form.next_field().await.map_err(|e| upload_error(&e))? {
        match field.name() {
            Some("photo") => {
                let name = field.file_name().unwrap_or("photo").chars().take(80).collect::<String>();
                let bytes: Bytes = field.bytes().await.map_err(|e| upload_error(&e))?;
                photos.push((name, bytes.to_vec()));
            }
            Some(other) => {
                return Err(ApiError::BadRequest(format!("unexpected form field {other:?}: send `photo` files")));
            }
            None => {}
        }
    }
    if photos.is_empty() {
        return Err(ApiError::BadRequest("at least one `photo` file is needed".into()));
    }
    let embedded = state.enrol.embed(photos).await?;
    let (images, embeddings): (Vec<_>, Vec<_>) = embedded.into_iter().unzip();
    let version =
        crate::gallery::add_embeddings(&state.db, &id, &person.sites, &embeddings).await?.ok_or_else(|| {
            ApiError::Conflict(format!("{id} was deleted or moved to other sites meanwhile: reload the page"))
        })?;
    people::store_photos(&state.db, &state.data_dir, &id, &images).await?;
    let detail = format!("{} photo(s) added", images.len());
    crate::audit::record(&state.db, &s.user.username, "photos_added", &id, &detail).await?;
    Ok(Json(json!({ "id": id, "added": images.len(), "gallery_version": version })))
}

async fn one_photo(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Path((id, photo_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    if uuid::Uuid::parse_str(&photo_id).is_err() {
        return Err(ApiError::BadRequest("not a photo id".into()));
    }
    let person = visible_person(&state, &s.user, &id).await?;
    let bytes = people::photo_of(&state.db, &state.data_dir, &person.id, &photo_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("{id} has no photo {photo_id:?} (deleted, or another's)")))?;
    crate::audit::record(&state.db, &s.user.username, "face_viewed", &format!("photo:{id}"), &photo_id).await?;
    Ok(jpeg(bytes))
}

/// Consent withdrawn: the person is deleted as by `DELETE`, on the record
/// as the data subject's choice.
async fn withdraw_consent(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    delete_person(&state, &s.user, &id).await?;
    let detail = "consent withdrawn: person, photos and embeddings deleted";
    crate::audit::record(&state.db, &s.user.username, "consent_withdrawn", &id, detail).await?;
    Ok(Json(json!({ "deleted": id, "reason": "consent_withdrawn" })))
}

async fn export(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let person = visible_person(&state, &s.user, &id).await?;
    let file = people::subject_export(&state.db, &state.data_dir, &state.crops_dir, &s.user, &person).await?;
    let count = |k: &str| file[k].as_array().map_or(0, Vec::len);
    let detail =
        format!("{} photo(s), {} passage(s), {} audit row(s)", count("photos"), count("passages"), count("audit"));
    let body = serde_json::to_vec_pretty(&file).map_err(|e| ApiError::Io(std::io::Error::other(e)))?;
    crate::audit::record(&state.db, &s.user.username, "subject_export", &id, &detail).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            // The id is letters, digits, '-' and '_' (checked above).
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"person-{id}.json\"")),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        body,
    ))
}

async fn remove(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    delete_person(&state, &s.user, &id).await?;
    crate::audit::record(&state.db, &s.user.username, "deletion", &id, "person, photos and embeddings").await?;
    Ok(Json(json!({ "deleted": id })))
}

/// Deletes a person `user` manages (a tombstone tells the edges); the caller audits why.
async fn delete_person(state: &AppState, user: &User, id: &str) -> Result<(), ApiError> {
    if !valid_person_id(id) {
        return Err(ApiError::BadRequest("not a person id".into()));
    }
    let none = || ApiError::NotFound(format!("no enrolled person {id:?} at your sites"));
    let sites = people::sites_of(&state.db, id).await?.ok_or_else(none)?;
    // Someone this admin cannot see gets the same answer as nobody; one they
    // see but may not remove is told so without naming the other sites.
    if !people::visible_to(user, &sites) {
        return Err(none());
    }
    if !people::removable_by(user, &sites) {
        return Err(ApiError::Forbidden(format!(
            "{id} is also enrolled at sites that are not yours: ask a superadmin to delete them"
        )));
    }
    if !people::delete(&state.db, &state.data_dir, id).await? {
        return Err(ApiError::NotFound(format!("no enrolled person {id:?}")));
    }
    Ok(())
}

#[derive(Deserialize)]
struct QrText {
    text: String,
}

async fn read_qr(
    State(state): State<AppState>,
    _: RequireAdmin,
    Json(body): Json<QrText>,
) -> Result<Json<cccd::CardQr>, ApiError> {
    let today = cccd::Date::from(state.local_time.today());
    Ok(Json(cccd::parse_qr(&body.text, today).map_err(|e| ApiError::BadRequest(e.to_string()))?))
}

pub fn jpeg(bytes: Vec<u8>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "private, no-store")], bytes)
}

async fn photo(
    State(state): State<AppState>,
    s: SignedIn,
    Path(person): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    if !valid_person_id(&person) {
        return Err(ApiError::BadRequest("not a person id".into()));
    }
    let sites = people::sites_of(&state.db, &person)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no photo of {person:?}")))?;
    if !people::visible_to(&s.user, &sites) {
        return Err(ApiError::Forbidden(format!("{person} is not enrolled at your sites")));
    }
    let row = sqlx::query("SELECT id FROM photos WHERE person_id = $1 ORDER BY created_ms, id LIMIT 1")
        .bind(&person)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no photo of {person:?}")))?;
    let id: String = row.try_get("id")?;
    let bytes = tokio::fs::read(people::photo_path(&state.data_dir, &id)).await?;
    crate::audit::record(&state.db, &s.user.username, "face_viewed", &format!("photo:{person}"), "").await?;
    Ok(jpeg(bytes))
}

async fn crop(
    State(state): State<AppState>,
    s: SignedIn,
    Path(event): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    if uuid::Uuid::parse_str(&event).is_err() {
        return Err(ApiError::BadRequest("not an event id".into()));
    }
    let row = sqlx::query("SELECT site, has_face FROM events WHERE id = $1")
        .bind(&event)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such event".into()))?;
    let site: String = row.try_get("site")?;
    s.user.require_site(&site)?;
    let bytes = tokio::fs::read(state.crops_dir.join(format!("{event}.jpg")))
        .await
        .map_err(|_| ApiError::NotFound("no face crop for this event (expired or none taken)".into()))?;
    crate::audit::record(&state.db, &s.user.username, "face_viewed", &format!("crop:{event}"), &site).await?;
    Ok(jpeg(bytes))
}
