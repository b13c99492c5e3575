//! The visitor log (admins): passages filtered by period, site, gate,
//! direction, person (id, name or CCCD), known/unknown and anomaly type,
//! newest first, paginated — and `GET /api/v1/log.csv`, exactly the filtered
//! rows as CSV (audited as an export).

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::AppState;
use crate::error::ApiError;
use crate::session::RequireAdmin;
use crate::users::{Role, User};

pub fn router() -> Router<AppState> {
    Router::new().route("/log", get(page)).route("/log.csv", get(csv_export))
}

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct Filter {
    /// Unix ms, inclusive.
    pub from: Option<i64>,
    /// Unix ms, exclusive.
    pub to: Option<i64>,
    pub site: Option<String>,
    pub camera: Option<String>,
    pub direction: Option<String>,
    /// Person id, name or CCCD (substring).
    pub q: Option<String>,
    /// `true`: enrolled people only; `false`: unknown only.
    pub known: Option<bool>,
    /// Only passages that raised this anomaly kind.
    pub anomaly: Option<String>,
    #[serde(default)]
    pub page: u32,
    #[serde(default)]
    pub per_page: Option<u32>,
}

#[derive(Debug, Serialize)]
pub struct Row_ {
    pub id: String,
    pub at_ms: i64,
    pub site: String,
    pub camera: String,
    pub direction: String,
    pub person_id: Option<String>,
    pub name: Option<String>,
    pub cccd: Option<String>,
    pub similarity: Option<f64>,
    pub has_face: bool,
    pub anomalies: Vec<String>,
}

/// The WHERE clause and its bound values, in placeholder order.
fn where_clause(f: &Filter, user: &User) -> Result<(String, Vec<Bind>), ApiError> {
    let mut sql = String::from("e.kind = 'passage'");
    let mut binds: Vec<Bind> = Vec::new();
    if user.role != Role::Superadmin {
        if user.sites.is_empty() {
            sql.push_str(" AND 1 = 0");
        } else {
            let mut parts = Vec::new();
            for s in &user.sites {
                binds.push(Bind::Text(s.clone()));
                parts.push(format!("${}", binds.len()));
            }
            sql.push_str(&format!(" AND e.site IN ({})", parts.join(", ")));
        }
    }
    let mut add = |cond: &str, b: Bind, sql: &mut String| {
        binds.push(b);
        sql.push_str(&format!(" AND {}", cond.replace('?', &format!("${}", binds.len()))));
    };
    if let Some(v) = f.from {
        add("e.at_ms >= ?", Bind::Int(v), &mut sql);
    }
    if let Some(v) = f.to {
        add("e.at_ms < ?", Bind::Int(v), &mut sql);
    }
    if let Some(v) = f.site.as_ref().filter(|s| !s.is_empty()) {
        user.require_site(v)?;
        add("e.site = ?", Bind::Text(v.clone()), &mut sql);
    }
    if let Some(v) = f.camera.as_ref().filter(|s| !s.is_empty()) {
        add("e.camera = ?", Bind::Text(v.clone()), &mut sql);
    }
    if let Some(v) = f.direction.as_ref().filter(|s| !s.is_empty()) {
        if v != "entry" && v != "exit" {
            return Err(ApiError::BadRequest("direction: entry or exit".into()));
        }
        add("e.direction = ?", Bind::Text(v.clone()), &mut sql);
    }
    if let Some(v) = f.q.as_ref().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        add("(e.person_id LIKE ? OR p.name LIKE ? OR p.cccd LIKE ?)", Bind::Text(format!("%{v}%")), &mut sql);
    }
    match f.known {
        Some(true) => sql.push_str(" AND e.person_id IS NOT NULL"),
        Some(false) => sql.push_str(" AND e.person_id IS NULL"),
        None => {}
    }
    if let Some(v) = f.anomaly.as_ref().filter(|s| !s.is_empty()) {
        add(
            "EXISTS (SELECT 1 FROM events a WHERE a.passage_id = e.id AND a.anomaly = ?)",
            Bind::Text(v.clone()),
            &mut sql,
        );
    }

    Ok((sql, binds))
}

#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Int(i64),
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}

async fn fetch(
    state: &AppState,
    f: &Filter,
    user: &User,
    limit: Option<(i64, i64)>,
) -> Result<(Vec<Row_>, i64), ApiError> {
    let (cond, binds) = where_clause(f, user)?;
    // A person is named only at sites they are enrolled at: a passage that
    // names someone else's person shows their id and nothing personal.
    let from = format!(
        "FROM events e LEFT JOIN people p ON p.id = e.person_id AND p.deleted = 0 AND {}",
        crate::people::PERSON_AT_EVENT_SITE
    );
    let total: i64 = bind_all(sqlx::query(&format!("SELECT COUNT(*) AS n {from} WHERE {cond}")), &binds)
        .fetch_one(&state.db)
        .await?
        .try_get("n")?;
    let page = match limit {
        Some((n, offset)) => format!(" LIMIT {n} OFFSET {offset}"),
        None => String::new(),
    };
    let sql = format!(
        "SELECT e.id, e.at_ms, e.site, e.camera, e.direction, e.person_id, e.has_face, e.body, p.name, p.cccd {from}
         WHERE {cond} ORDER BY e.at_ms DESC, e.id{page}"
    );
    if limit.is_none() && total > MAX_EXPORT_ROWS {
        return Err(ApiError::TooLarge(format!(
            "{total} passages match; an export holds at most {MAX_EXPORT_ROWS}: narrow the period or the filter"
        )));
    }
    let found = bind_all(sqlx::query(&sql), &binds).fetch_all(&state.db).await?;
    let ids: Vec<String> = found.iter().map(|r| r.try_get("id")).collect::<Result<_, _>>()?;
    let mut anomalies = anomalies_of(state, &ids).await?;
    let mut rows = Vec::with_capacity(found.len());
    for r in found {
        let id: String = r.try_get("id")?;
        let body: String = r.try_get("body")?;
        let similarity = serde_json::from_str::<serde_json::Value>(&body).ok().and_then(|v| v["similarity"].as_f64());
        rows.push(Row_ {
            at_ms: r.try_get("at_ms")?,
            site: r.try_get("site")?,
            camera: r.try_get("camera")?,
            direction: r.try_get::<Option<String>, _>("direction")?.unwrap_or_default(),
            person_id: r.try_get("person_id")?,
            name: r.try_get("name")?,
            cccd: r.try_get("cccd")?,
            similarity,
            has_face: r.try_get::<i32, _>("has_face")? != 0,
            anomalies: anomalies.remove(&id).unwrap_or_default(),
            id,
        });
    }
    Ok((rows, total))
}

/// Most rows one CSV export holds (it is built in memory).
const MAX_EXPORT_ROWS: i64 = 200_000;

/// The anomaly kinds raised by each of these passages, sorted: one query
/// per 500 passages rather than one per passage.
async fn anomalies_of(
    state: &AppState,
    passages: &[String],
) -> Result<std::collections::HashMap<String, Vec<String>>, ApiError> {
    let mut out: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for chunk in passages.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT passage_id, anomaly FROM events WHERE passage_id IN ({}) AND anomaly IS NOT NULL",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(id.as_str());
        }
        for r in query.fetch_all(&state.db).await? {
            out.entry(r.try_get("passage_id")?).or_default().push(r.try_get("anomaly")?);
        }
    }
    for kinds in out.values_mut() {
        kinds.sort();
    }
    Ok(out)
}

async fn page(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Query(f): Query<Filter>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let per_page = f.per_page.unwrap_or(50).clamp(1, 500) as i64;
    let (rows, total) = fetch(&state, &f, &s.user, Some((per_page, f.page as i64 * per_page))).await?;
    // CCCD numbers are personal data: who read them is on record.
    let with_cccd = rows.iter().filter(|r| r.cccd.is_some()).count();
    if with_cccd > 0 {
        let filter = serde_json::to_string(&f).unwrap_or_default();
        let detail = format!("{with_cccd} CCCD numbers on page {}; filter {filter}", f.page);
        crate::audit::record(&state.db, &s.user.username, "cccd_viewed", "log", &detail).await?;
    }
    Ok(Json(serde_json::json!({ "rows": rows, "total": total, "page": f.page, "per_page": per_page })))
}

async fn csv_export(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Query(f): Query<Filter>,
) -> Result<impl IntoResponse, ApiError> {
    let (rows, total) = fetch(&state, &f, &s.user, None).await?;
    let mut sheet = crate::csv_sheet::CsvSheet::new(&[
        "time_local",
        "site",
        "gate",
        "direction",
        "person_id",
        "name",
        "cccd",
        "known",
        "similarity",
        "anomalies",
        "event_id",
    ])?;
    for r in &rows {
        sheet.row([
            state.local_time.format(r.at_ms),
            r.site.clone(),
            r.camera.clone(),
            r.direction.clone(),
            r.person_id.clone().unwrap_or_default(),
            r.name.clone().unwrap_or_default(),
            r.cccd.clone().unwrap_or_default(),
            if r.person_id.is_some() { "yes" } else { "no" }.to_string(),
            r.similarity.map(|x| format!("{x:.3}")).unwrap_or_default(),
            r.anomalies.join(" "),
            r.id.clone(),
        ])?;
    }
    let bytes = sheet.finish()?;
    let filter = serde_json::to_string(&f).unwrap_or_default();
    crate::audit::record(&state.db, &s.user.username, "export", "log.csv", &format!("{total} rows; filter {filter}"))
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"gatewatch-log.csv\""),
        ],
        bytes,
    ))
}
