//! ANTT statistics and the periodic reports (admins).
//!
//! `GET /api/v1/stats?site&from&to&bucket=hour|day` — entries and exits per
//! hour or day per site and gate, current occupancy (entries − exits since
//! local midnight), unique people, share of unknown passers-by, anomalies by
//! type, and the hour-of-day profile with its peak hours.
//!
//! `GET /api/v1/reports/{weekly|monthly}?site&date[&format=csv]` — the
//! reports the Đề án 06 plans require of each site: **weekly, on Mondays**,
//! covering the previous Monday–Sunday; **monthly, before the 16th**,
//! covering the 15th of the previous month to the 14th of the current one
//! (the reporting period of Decree 09/2019/NĐ-CP). One row per day and gate,
//! and a total. Days, hours and reports are in the
//! deployment's time zone (`serve --time-zone`, Vietnam by default; see `local_time`).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::AppState;
use crate::cccd::Date;
use crate::error::ApiError;
use crate::session::RequireAdmin;

const DAY_MS: i64 = 86_400_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/stats", get(stats)).route("/reports/{kind}", get(report))
}

#[derive(Deserialize)]
struct StatsQuery {
    site: Option<String>,
    from: Option<i64>,
    to: Option<i64>,
    #[serde(default)]
    bucket: Option<String>,
}

#[derive(Serialize, Default, Clone)]
struct Bucket {
    start_ms: i64,
    site: String,
    camera: String,
    entries: i64,
    exits: i64,
}

/// Passages and anomalies of a period, fetched once and summarised in Rust
/// (the same code for SQLite and PostgreSQL, no dialect-specific date SQL).
struct Period {
    passages: Vec<(i64, String, String, String, Option<String>)>,
    anomalies: Vec<(i64, String, String)>,
}

async fn load(state: &AppState, sites: &Option<Vec<String>>, from: i64, to: i64) -> Result<Period, ApiError> {
    let rows = sqlx::query(
        "SELECT at_ms, site, camera, kind, direction, person_id, anomaly FROM events WHERE at_ms >= $1 AND at_ms < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&state.db)
    .await?;
    let mut p = Period { passages: Vec::new(), anomalies: Vec::new() };
    for r in rows {
        let site: String = r.try_get("site")?;
        if sites.as_ref().is_some_and(|s| !s.contains(&site)) {
            continue;
        }
        let at: i64 = r.try_get("at_ms")?;
        let camera: String = r.try_get("camera")?;
        if r.try_get::<String, _>("kind")? == "passage" {
            p.passages.push((
                at,
                site,
                camera,
                r.try_get::<Option<String>, _>("direction")?.unwrap_or_default(),
                r.try_get("person_id")?,
            ));
        } else {
            p.anomalies.push((at, site, r.try_get::<Option<String>, _>("anomaly")?.unwrap_or_default()));
        }
    }
    Ok(p)
}

async fn stats(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Query(q): Query<StatsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let sites = s.user.scope(q.site.as_deref())?.named();
    let now = wire::time::now_ms();
    let bad = || ApiError::BadRequest("period: `from` must be before `to`, at most 400 days".into());
    let to = q.to.unwrap_or(now);
    let from = match q.from {
        Some(from) => from,
        None => to.checked_sub(7 * DAY_MS).ok_or_else(bad)?,
    };
    // Checked: `from = i64::MIN` must not wrap past the range cap.
    if from >= to || to.checked_sub(from).is_none_or(|span| span > 400 * DAY_MS) {
        return Err(bad());
    }
    let bucket_ms = match q.bucket.as_deref().unwrap_or("hour") {
        "hour" => 3_600_000,
        "day" => DAY_MS,
        b => return Err(ApiError::BadRequest(format!("bucket {b:?}: hour or day"))),
    };
    let local = &state.local_time;
    let period = load(&state, &sites, from, to).await?;
    let mut series: BTreeMap<(i64, String, String), Bucket> = BTreeMap::new();
    let mut unique = std::collections::HashSet::new();
    let mut unknown = 0i64;
    let mut profile = [0i64; 24];
    for (at, site, camera, direction, person) in &period.passages {
        let start = if bucket_ms == DAY_MS { local.start_of_day(*at) } else { local.start_of_hour(*at) };
        let b = series.entry((start, site.clone(), camera.clone())).or_insert_with(|| Bucket {
            start_ms: start,
            site: site.clone(),
            camera: camera.clone(),
            ..Default::default()
        });
        if direction == "entry" {
            b.entries += 1;
            profile[local.hour_of(*at).min(23)] += 1;
        } else {
            b.exits += 1;
        }
        match person {
            Some(p) => {
                unique.insert(p.clone());
            }
            None => unknown += 1,
        }
    }
    let mut anomalies: BTreeMap<String, i64> = BTreeMap::new();
    for (_, _, kind) in &period.anomalies {
        *anomalies.entry(kind.clone()).or_default() += 1;
    }
    // Occupancy: today's entries minus exits, per site.
    let today = load(&state, &sites, local.start_of_day(now), now + 1).await?;
    let mut occupancy: BTreeMap<String, i64> = BTreeMap::new();
    for (_, site, _, direction, _) in &today.passages {
        *occupancy.entry(site.clone()).or_default() += if direction == "entry" { 1 } else { -1 };
    }
    let mut peaks: Vec<(usize, i64)> = profile.iter().copied().enumerate().filter(|(_, n)| *n > 0).collect();
    peaks.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    peaks.truncate(3);
    let total = period.passages.len() as i64;
    Ok(Json(serde_json::json!({
        "from": from, "to": to, "bucket_ms": bucket_ms,
        "series": series.into_values().collect::<Vec<_>>(),
        "occupancy": occupancy.into_iter().map(|(site, n)| serde_json::json!({"site": site, "inside": n.max(0)})).collect::<Vec<_>>(),
        "passages": total,
        "unique_people": unique.len(),
        "unknown": unknown,
        "unknown_share": if total > 0 { unknown as f64 / total as f64 } else { 0.0 },
        "anomalies": anomalies,
        "hourly_entries": profile,
        "peak_hours": peaks.into_iter().map(|(h, n)| serde_json::json!({"hour": h, "entries": n})).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
struct ReportQuery {
    site: String,
    /// A day of the report's run (default: today): the report covers the
    /// period that ends before it (see the module doc).
    date: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

/// The period [start, end) a report run on `day` covers.
pub fn report_period(kind: &str, day: Date) -> Result<(Date, Date), ApiError> {
    match kind {
        "weekly" => {
            let d = day.civil();
            let back = |days: i64| {
                d.checked_sub(jiff::Span::new().days(days))
                    .map(Date::from)
                    .map_err(|e| ApiError::BadRequest(format!("date {day}: {e}")))
            };
            let since_monday = i64::from(d.weekday().to_monday_zero_offset());
            Ok((back(since_monday + 7)?, back(since_monday)?))
        }
        "monthly" => {
            let (y, m) = (day.year, day.month);
            let end = Date { year: y, month: m, day: 15 };
            let start =
                if m == 1 { Date { year: y - 1, month: 12, day: 15 } } else { Date { year: y, month: m - 1, day: 15 } };
            Ok((start, end))
        }
        k => Err(ApiError::NotFound(format!("no report {k:?}: weekly or monthly"))),
    }
}

#[derive(Serialize, Default, Clone)]
struct ReportRow {
    date: String,
    gate: String,
    entries: i64,
    exits: i64,
    unique_people: usize,
    unknown: i64,
    anomalies: i64,
}

async fn report(
    State(state): State<AppState>,
    RequireAdmin(s): RequireAdmin,
    Path(kind): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, ApiError> {
    let sites = s.user.scope(Some(&q.site))?.named();
    let day = match q.date.as_deref() {
        Some(d) => Date::parse_iso(d).ok_or_else(|| ApiError::BadRequest(format!("date {d:?}: use YYYY-MM-DD")))?,
        None => Date::from(state.local_time.today()),
    };
    let (start, end) = report_period(&kind, day)?;
    let local = &state.local_time;
    let period = load(&state, &sites, local.start_of(start.civil()), local.start_of(end.civil())).await?;
    let mut rows: BTreeMap<(String, String), (ReportRow, std::collections::HashSet<String>)> = BTreeMap::new();
    let day_of = |at: i64| local.date_of(at).to_string();
    for (at, _, camera, direction, person) in &period.passages {
        let key = (day_of(*at), camera.clone());
        let (r, people) = rows.entry(key.clone()).or_insert_with(|| {
            (ReportRow { date: key.0.clone(), gate: key.1.clone(), ..Default::default() }, Default::default())
        });
        if direction == "entry" {
            r.entries += 1
        } else {
            r.exits += 1
        }
        match person {
            Some(p) => {
                people.insert(p.clone());
            }
            None => r.unknown += 1,
        }
    }
    let mut anomalies_by_day: HashMap<String, i64> = HashMap::new();
    let mut anomalies_by_kind: BTreeMap<String, i64> = BTreeMap::new();
    for (at, _, kind) in &period.anomalies {
        *anomalies_by_day.entry(day_of(*at)).or_default() += 1;
        *anomalies_by_kind.entry(kind.clone()).or_default() += 1;
    }
    let mut out: Vec<ReportRow> = Vec::new();
    let mut total = ReportRow { date: "TOTAL".into(), ..Default::default() };
    let mut all_people = std::collections::HashSet::new();
    let mut seen_days = std::collections::HashSet::new();
    for ((date, _), (mut r, people)) in rows {
        r.unique_people = people.len();
        if seen_days.insert(date.clone()) {
            r.anomalies = anomalies_by_day.get(&date).copied().unwrap_or(0);
        }
        total.entries += r.entries;
        total.exits += r.exits;
        total.unknown += r.unknown;
        total.anomalies += r.anomalies;
        all_people.extend(people);
        out.push(r);
    }
    total.unique_people = all_people.len();
    total.anomalies = period.anomalies.len() as i64;
    crate::audit::record(
        &state.db,
        &s.user.username,
        "report",
        &format!("{kind}:{}", q.site),
        &format!("{start}..{end}"),
    )
    .await?;
    if q.format.as_deref() == Some("csv") {
        let mut sheet = crate::csv_sheet::CsvSheet::new(&[
            "date",
            "gate",
            "entries",
            "exits",
            "unique_people",
            "unknown",
            "anomalies",
        ])?;
        for r in out.iter().chain(std::iter::once(&total)) {
            sheet.row([
                r.date.clone(),
                r.gate.clone(),
                r.entries.to_string(),
                r.exits.to_string(),
                r.unique_people.to_string(),
                r.unknown.to_string(),
                r.anomalies.to_string(),
            ])?;
        }
        let bytes = sheet.finish()?;
        let name = format!("attachment; filename=\"gatewatch-{kind}-{}-{start}.csv\"", q.site);
        return Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, name)],
            bytes,
        )
            .into_response());
    }
    Ok(Json(serde_json::json!({
        "kind": kind, "site": q.site, "start": start.to_string(), "end_exclusive": end.to_string(),
        "rows": out, "total": total, "anomalies_by_kind": anomalies_by_kind,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: u16, m: u8, day: u8) -> Date {
        Date { year: y, month: m, day }
    }

    #[test]
    fn weekly_reports_cover_the_previous_monday_to_sunday() {
        // Monday 2026-11-23: the week 16–22 November.
        assert_eq!(report_period("weekly", d(2026, 11, 23)).expect("weekly"), (d(2026, 11, 16), d(2026, 11, 23)));
        // Any day of that week gives the same report as its Monday.
        assert_eq!(report_period("weekly", d(2026, 11, 26)).expect("weekly"), (d(2026, 11, 16), d(2026, 11, 23)));
    }

    #[test]
    fn monthly_reports_run_from_the_15th_to_the_14th() {
        assert_eq!(report_period("monthly", d(2026, 11, 16)).expect("monthly"), (d(2026, 10, 15), d(2026, 11, 15)));
        assert_eq!(report_period("monthly", d(2026, 1, 10)).expect("monthly"), (d(2025, 12, 15), d(2026, 1, 15)));
    }
}
