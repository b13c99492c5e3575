//! The fleet of edge agents as the admin API keeps it: each agent's latest
//! heartbeat and a short history, the camera set an admin made for it
//! (versioned; the agent fetches a newer one when its heartbeat's answer
//! says so), snapshots on request, and the watch that raises `edge_offline`
//! when an agent falls silent and `edge_online` when it returns.
//!
//! The watch is safe with several admin-api processes on one PostgreSQL: an
//! agent is marked offline by one conditional UPDATE, and only the process
//! whose UPDATE changed the row raises the alert.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pipeline::fleet::{CameraSet, CameraSpec, CameraState, Heartbeat, HeartbeatReply};
use serde::Serialize;
use sqlx::{AnyPool, Row};
use wire::events::{AnomalyEvent, AnomalyKind, Event, EventBody};
use wire::time::now_ms;

use crate::alerts::AlertHub;
use crate::error::ApiError;

/// History rows: at most one per agent per this interval, kept a day.
const HISTORY_EVERY_MS: i64 = 60_000;
const HISTORY_KEPT_MS: i64 = 24 * 3_600_000;
/// A snapshot shows passers-by: it is deleted this long after it arrived.
pub const SNAPSHOT_KEPT_MS: i64 = 10 * 60_000;
/// A snapshot request older than this is no longer asked of the agent.
const SNAPSHOT_REQUEST_TTL_MS: i64 = 2 * 60_000;

/// One minute of an agent's history (for the devices page).
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Summary {
    pub cameras_up: usize,
    pub cameras: usize,
    pub fps: f64,
    pub outbox_backlog: u64,
}

fn summary(h: &Heartbeat) -> Summary {
    Summary {
        cameras_up: h.cameras.iter().filter(|c| c.state == CameraState::Up).count(),
        cameras: h.cameras.len(),
        fps: h.cameras.iter().map(|c| c.fps).sum(),
        outbox_backlog: h.outbox_backlog,
    }
}

/// Stores a heartbeat; an agent that was offline is back (`edge_online`).
/// Answers with the camera set version and the snapshots wanted.
pub async fn record_heartbeat(
    db: &AnyPool,
    hub: &AlertHub,
    agent: &str,
    site: &str,
    beat: &Heartbeat,
) -> Result<HeartbeatReply, ApiError> {
    let now = now_ms();
    let body = serde_json::to_string(beat).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    sqlx::query(
        "INSERT INTO agent_status (agent, site, received_ms, heartbeat, offline_since_ms) VALUES ($1, $2, $3, $4, NULL)
         ON CONFLICT (agent) DO UPDATE SET site = $2, received_ms = $3, heartbeat = $4",
    )
    .bind(agent)
    .bind(site)
    .bind(now)
    .bind(&body)
    .execute(db)
    .await?;
    let summary = serde_json::to_string(&summary(beat)).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    sqlx::query(
        "INSERT INTO heartbeats (agent, received_ms, summary) SELECT $1, $2, $3
         WHERE NOT EXISTS (SELECT 1 FROM heartbeats WHERE agent = $1 AND received_ms > $4)",
    )
    .bind(agent)
    .bind(now)
    .bind(summary)
    .bind(now - HISTORY_EVERY_MS)
    .execute(db)
    .await?;
    // Back from offline: whichever process clears the mark raises
    // `edge_online`, once (the watch of another process may mark it offline
    // between our two statements; then the next heartbeat clears it).
    let since: Option<i64> = sqlx::query("SELECT offline_since_ms FROM agent_status WHERE agent = $1")
        .bind(agent)
        .fetch_optional(db)
        .await?
        .and_then(|r| r.try_get::<Option<i64>, _>("offline_since_ms").ok().flatten());
    if let Some(since) = since {
        let cleared =
            sqlx::query("UPDATE agent_status SET offline_since_ms = NULL WHERE agent = $1 AND offline_since_ms = $2")
                .bind(agent)
                .bind(since)
                .execute(db)
                .await?;
        if cleared.rows_affected() == 1 {
            let detail =
                format!("edge agent {agent} reports again after {} s without heartbeats", (now - since) / 1000);
            raise(db, hub, agent, site, AnomalyKind::EdgeOnline, detail).await?;
        }
    }
    let config_version = camera_set(db, agent).await?.map_or(0, |s| s.version);
    let snapshots = sqlx::query(
        "SELECT camera FROM snapshots WHERE agent = $1 AND requested_ms > $2
         AND (delivered_ms IS NULL OR delivered_ms < requested_ms)",
    )
    .bind(agent)
    .bind(now - SNAPSHOT_REQUEST_TTL_MS)
    .fetch_all(db)
    .await?
    .iter()
    .map(|r| r.try_get::<String, _>("camera"))
    .collect::<Result<Vec<_>, _>>()?;
    Ok(HeartbeatReply { config_version, snapshots })
}

/// An anomaly the admin API raises about an agent: stored like an agent's
/// (the log, statistics, reports) and pushed to the site's guards.
async fn raise(
    db: &AnyPool,
    hub: &AlertHub,
    agent: &str,
    site: &str,
    kind: AnomalyKind,
    detail: String,
) -> Result<(), ApiError> {
    tracing::warn!(%agent, %site, ?kind, "{detail}");
    let body = EventBody::Anomaly(AnomalyEvent::new(kind, detail));
    let event = Event::new(agent, site, "", body);
    let mut conn = db.acquire().await?;
    if crate::routes::events::store_event(&mut conn, &event, false, now_ms()).await? {
        hub.publish(db, crate::alerts::from_batch(&[event], &Default::default())).await;
    }
    Ok(())
}

/// Marks agents silent for `after_ms` offline, once each, and alerts.
pub async fn watch_once(db: &AnyPool, hub: &AlertHub, after_ms: i64) -> Result<usize, ApiError> {
    let now = now_ms();
    let silent = sqlx::query(
        "SELECT s.agent, s.site, s.received_ms FROM agent_status s JOIN agents a ON a.id = s.agent
         WHERE s.offline_since_ms IS NULL AND s.received_ms < $1 AND a.revoked_ms IS NULL",
    )
    .bind(now - after_ms)
    .fetch_all(db)
    .await?;
    let mut raised = 0;
    for r in silent {
        let (agent, site, last): (String, String, i64) =
            (r.try_get("agent")?, r.try_get("site")?, r.try_get("received_ms")?);
        let marked = sqlx::query(
            "UPDATE agent_status SET offline_since_ms = $1 WHERE agent = $2 AND offline_since_ms IS NULL
             AND received_ms = $3",
        )
        .bind(now)
        .bind(&agent)
        .bind(last)
        .execute(db)
        .await?;
        if marked.rows_affected() == 1 {
            let detail = format!(
                "edge agent {agent} has sent no heartbeat for {} s: check the gate box's power and network",
                (now - last) / 1000
            );
            raise(db, hub, &agent, &site, AnomalyKind::EdgeOffline, detail).await?;
            raised += 1;
        }
    }
    Ok(raised)
}

/// Deletes snapshots older than [`SNAPSHOT_KEPT_MS`] and heartbeat history
/// older than a day.
pub async fn expire(db: &AnyPool, data: &Path) -> Result<(), ApiError> {
    let now = now_ms();
    sqlx::query("DELETE FROM heartbeats WHERE received_ms < $1").bind(now - HISTORY_KEPT_MS).execute(db).await?;
    let cutoff = now - SNAPSHOT_KEPT_MS;
    let old = sqlx::query("SELECT agent, camera FROM snapshots WHERE delivered_ms IS NOT NULL AND delivered_ms < $1")
        .bind(cutoff)
        .fetch_all(db)
        .await?;
    for r in old {
        let (agent, camera): (String, String) = (r.try_get("agent")?, r.try_get("camera")?);
        // Only if not asked for again meanwhile (a new request clears `delivered_ms`).
        let gone = sqlx::query(
            "DELETE FROM snapshots WHERE agent = $1 AND camera = $2 AND delivered_ms IS NOT NULL AND delivered_ms < $3",
        )
        .bind(&agent)
        .bind(&camera)
        .bind(cutoff)
        .execute(db)
        .await?;
        if gone.rows_affected() == 1 {
            let _ = std::fs::remove_file(snapshot_path(data, &agent, &camera));
        }
    }
    Ok(())
}

/// Forgets what the fleet holds about an agent (revoked, or registered again
/// for another site): its camera set (with camera passwords), status,
/// history and snapshots.
/// Snapshot files go too when the data folder is known (the server's; a
/// CLI revocation leaves them to a new request, which replaces them).
pub async fn forget_agent(db: &AnyPool, data: Option<&Path>, agent: &str) -> Result<(), ApiError> {
    for table in ["camera_sets", "agent_status", "heartbeats", "snapshots"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE agent = $1")).bind(agent).execute(db).await?;
    }
    if let Some(data) = data {
        let _ = std::fs::remove_dir_all(data.join("snapshots").join(agent));
    }
    Ok(())
}

/// Every second: the offline watch; every minute: snapshot expiry.
pub fn spawn_watch(db: AnyPool, hub: AlertHub, data: PathBuf, after: Duration) {
    tokio::spawn(async move {
        let mut tick = 0u64;
        loop {
            if let Err(e) = watch_once(&db, &hub, after.as_millis() as i64).await {
                tracing::error!(error = %e, "edge offline watch failed; retrying");
            }
            if tick.is_multiple_of(60)
                && let Err(e) = expire(&db, &data).await
            {
                tracing::error!(error = %e, "snapshot and history expiry failed; retrying");
            }
            tick += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

pub fn snapshot_path(data: &Path, agent: &str, camera: &str) -> PathBuf {
    // Both are checked ids (letters, digits, '-', '_').
    data.join("snapshots").join(agent).join(format!("{camera}.jpg"))
}

/// The camera set made for `agent`, if any.
pub async fn camera_set(db: &AnyPool, agent: &str) -> Result<Option<CameraSet>, ApiError> {
    let Some(r) =
        sqlx::query("SELECT version, cameras FROM camera_sets WHERE agent = $1").bind(agent).fetch_optional(db).await?
    else {
        return Ok(None);
    };
    let cameras: Vec<CameraSpec> = serde_json::from_str(&r.try_get::<String, _>("cameras")?)
        .map_err(|e| ApiError::Unavailable(format!("stored camera set unreadable: {e}")))?;
    Ok(Some(CameraSet { version: r.try_get::<i64, _>("version")? as u64, cameras }))
}

/// The agent's latest heartbeat, if it ever sent one.
pub async fn latest_heartbeat(db: &AnyPool, agent: &str) -> Result<Option<Heartbeat>, ApiError> {
    let Some(r) =
        sqlx::query("SELECT heartbeat FROM agent_status WHERE agent = $1").bind(agent).fetch_optional(db).await?
    else {
        return Ok(None);
    };
    serde_json::from_str(&r.try_get::<String, _>("heartbeat")?)
        .map(Some)
        .map_err(|e| ApiError::Unavailable(format!("stored heartbeat unreadable: {e}")))
}

/// What an edit does to a camera set.
pub enum CameraEdit {
    Put(CameraSpec),
    Remove(String),
}

/// Applies an edit to the agent's camera set and stores it as the next
/// version. The first edit starts from the cameras the agent reports
/// running (its file's), so taking one camera over keeps the others. A
/// password left hidden keeps the one held.
pub async fn edit_cameras(db: &AnyPool, agent: &str, edit: CameraEdit, by: &str) -> Result<CameraSet, ApiError> {
    let held = camera_set(db, agent).await?;
    let (version, mut cameras) = match held {
        Some(set) => (set.version, set.cameras),
        // The agent's own cameras are known from its heartbeat: without one,
        // a first central set would silently replace cameras nobody saw.
        None => match latest_heartbeat(db, agent).await? {
            Some(h) => (0, h.cameras.into_iter().map(|c| c.spec).collect()),
            None => {
                return Err(ApiError::Conflict(format!(
                    "agent {agent} has never reported: start it first, so that the cameras of its own file are kept"
                )));
            }
        },
    };
    match edit {
        CameraEdit::Put(mut spec) => {
            if let Some(old) = cameras.iter().find(|c| c.id == spec.id) {
                spec.url = pipeline::fleet::keep_hidden_password(&spec.url, &old.url);
            }
            if spec.url.contains(pipeline::fleet::HIDDEN_PASSWORD) {
                return Err(ApiError::BadRequest(
                    "url: type the camera's password (no password is held for this camera yet)".into(),
                ));
            }
            spec.validate().map_err(|e| ApiError::BadRequest(e.to_string()))?;
            pipeline::fleet::check_central_url(&spec.url).map_err(|e| ApiError::BadRequest(e.to_string()))?;
            match cameras.iter_mut().find(|c| c.id == spec.id) {
                Some(slot) => *slot = spec,
                None => cameras.push(spec),
            }
        }
        CameraEdit::Remove(id) => {
            let before = cameras.len();
            cameras.retain(|c| c.id != id);
            if cameras.len() == before {
                return Err(ApiError::NotFound(format!("agent {agent} has no camera {id:?}")));
            }
        }
    }
    let json = serde_json::to_string(&cameras).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let next = version as i64 + 1;
    // The version only moves forward: two admins saving at once both land,
    // one after the other, or the second is told to reload.
    let done = if version == 0 {
        sqlx::query(
            "INSERT INTO camera_sets (agent, version, cameras, updated_ms, updated_by) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (agent) DO NOTHING",
        )
    } else {
        sqlx::query(
            "UPDATE camera_sets SET version = $2, cameras = $3, updated_ms = $4, updated_by = $5
             WHERE agent = $1 AND version = $2 - 1",
        )
    }
    .bind(agent)
    .bind(next)
    .bind(json)
    .bind(now_ms())
    .bind(by)
    .execute(db)
    .await?;
    if done.rows_affected() != 1 {
        return Err(ApiError::Conflict("the cameras were changed meanwhile: reload the page and edit again".into()));
    }
    Ok(CameraSet { version: next as u64, cameras })
}

/// One agent on the devices page.
#[derive(Debug, Serialize)]
pub struct AgentView {
    pub id: String,
    pub site: String,
    pub revoked: bool,
    pub online: bool,
    pub last_seen_ms: Option<i64>,
    pub offline_since_ms: Option<i64>,
    /// Latest heartbeat, camera URLs without passwords.
    pub heartbeat: Option<Heartbeat>,
    /// The central camera set (passwords hidden), if one was made.
    pub config: Option<CameraSet>,
    pub history: Vec<(i64, Summary)>,
}

/// Every agent of these sites (all sites for `None`), by site.
pub async fn devices(
    db: &AnyPool,
    sites: Option<&[String]>,
    offline_after_ms: i64,
    history_ms: i64,
) -> Result<BTreeMap<String, Vec<AgentView>>, ApiError> {
    let now = now_ms();
    let rows = sqlx::query(
        "SELECT a.id, a.site, a.revoked_ms, s.received_ms, s.heartbeat, s.offline_since_ms
         FROM agents a LEFT JOIN agent_status s ON s.agent = a.id ORDER BY a.site, a.id",
    )
    .fetch_all(db)
    .await?;
    let mut out: BTreeMap<String, Vec<AgentView>> = BTreeMap::new();
    for r in rows {
        let (id, site): (String, String) = (r.try_get("id")?, r.try_get("site")?);
        if sites.is_some_and(|s| !s.contains(&site)) {
            continue;
        }
        let last_seen_ms: Option<i64> = r.try_get("received_ms")?;
        let mut heartbeat: Option<Heartbeat> =
            r.try_get::<Option<String>, _>("heartbeat")?.and_then(|h| serde_json::from_str(&h).ok());
        if let Some(h) = &mut heartbeat {
            for c in &mut h.cameras {
                // A camera's error may quote its URL (and so its password).
                c.reason = c.reason.as_deref().map(|r| pipeline::fleet::scrub(r, &c.spec.url));
                c.spec = c.spec.redacted();
            }
        }
        let config = camera_set(db, &id).await?.map(|mut set| {
            set.cameras = set.cameras.iter().map(CameraSpec::redacted).collect();
            set
        });
        let history = sqlx::query(
            "SELECT received_ms, summary FROM heartbeats WHERE agent = $1 AND received_ms >= $2 ORDER BY received_ms",
        )
        .bind(&id)
        .bind(now - history_ms)
        .fetch_all(db)
        .await?
        .iter()
        .filter_map(|h| {
            let at: i64 = h.try_get("received_ms").ok()?;
            serde_json::from_str(&h.try_get::<String, _>("summary").ok()?).ok().map(|s| (at, s))
        })
        .collect();
        out.entry(site.clone()).or_default().push(AgentView {
            online: last_seen_ms.is_some_and(|t| now - t < offline_after_ms),
            revoked: r.try_get::<Option<i64>, _>("revoked_ms")?.is_some(),
            offline_since_ms: r.try_get("offline_since_ms")?,
            id,
            site,
            last_seen_ms,
            heartbeat,
            config,
            history,
        });
    }
    Ok(out)
}

/// Prometheus text for the fleet: what an existing Prometheus and Grafana
/// watch a province with.
pub async fn metrics(db: &AnyPool, offline_after_ms: i64) -> Result<String, ApiError> {
    use std::fmt::Write;
    // No history for a scrape: Prometheus keeps its own.
    let fleet = devices(db, None, offline_after_ms, 0).await?;
    let now = now_ms();
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
    let (mut agents_up, mut agents_down, mut cams_up, mut cams_other) = (0, 0, 0, 0);
    let mut per_agent = String::new();
    let mut per_camera = String::new();
    for a in fleet.values().flatten().filter(|a| !a.revoked) {
        let labels = format!("agent=\"{}\",site=\"{}\"", esc(&a.id), esc(&a.site));
        if a.online {
            agents_up += 1
        } else {
            agents_down += 1
        }
        let _ = writeln!(per_agent, "gatewatch_fleet_agent_up{{{labels}}} {}", i32::from(a.online));
        if let Some(t) = a.last_seen_ms {
            let _ =
                writeln!(per_agent, "gatewatch_fleet_heartbeat_age_seconds{{{labels}}} {}", (now - t) as f64 / 1000.0);
        }
        let Some(h) = &a.heartbeat else { continue };
        let _ = writeln!(per_agent, "gatewatch_fleet_outbox_backlog{{{labels}}} {}", h.outbox_backlog);
        if let Some(t) = h.outbox_oldest_ms {
            let _ = writeln!(
                per_agent,
                "gatewatch_fleet_outbox_oldest_age_seconds{{{labels}}} {}",
                (now - t).max(0) / 1000
            );
        }
        if let Some(b) = h.disk_free_bytes {
            let _ = writeln!(per_agent, "gatewatch_fleet_disk_free_bytes{{{labels}}} {b}");
        }
        let _ = writeln!(per_agent, "gatewatch_fleet_gallery_version{{{labels}}} {}", h.gallery_version);
        let _ = writeln!(per_agent, "gatewatch_fleet_config_version{{{labels}}} {}", h.config_version);
        for c in &h.cameras {
            let up = a.online && c.state == CameraState::Up;
            if up {
                cams_up += 1
            } else {
                cams_other += 1
            }
            let cl = format!("{labels},camera=\"{}\"", esc(&c.spec.id));
            let _ = writeln!(per_camera, "gatewatch_fleet_camera_up{{{cl}}} {}", i32::from(up));
            let _ = writeln!(per_camera, "gatewatch_fleet_camera_fps{{{cl}}} {:.2}", c.fps);
            let _ = writeln!(per_camera, "gatewatch_fleet_camera_dropped_frames_total{{{cl}}} {}", c.dropped_frames);
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "# HELP gatewatch_fleet_agents Edge agents by whether their heartbeats arrive.");
    let _ = writeln!(out, "# TYPE gatewatch_fleet_agents gauge");
    let _ = writeln!(out, "gatewatch_fleet_agents{{state=\"up\"}} {agents_up}");
    let _ = writeln!(out, "gatewatch_fleet_agents{{state=\"down\"}} {agents_down}");
    let _ = writeln!(out, "# HELP gatewatch_fleet_cameras Cameras by whether they deliver frames (as last reported).");
    let _ = writeln!(out, "# TYPE gatewatch_fleet_cameras gauge");
    let _ = writeln!(out, "gatewatch_fleet_cameras{{state=\"up\"}} {cams_up}");
    let _ = writeln!(out, "gatewatch_fleet_cameras{{state=\"down\"}} {cams_other}");
    for (name, kind, help) in [
        ("gatewatch_fleet_agent_up", "gauge", "1 while the agent's heartbeats arrive."),
        ("gatewatch_fleet_heartbeat_age_seconds", "gauge", "Seconds since the agent's last heartbeat."),
        ("gatewatch_fleet_outbox_backlog", "gauge", "Events waiting on the agent."),
        ("gatewatch_fleet_outbox_oldest_age_seconds", "gauge", "Age of the oldest event waiting on the agent."),
        ("gatewatch_fleet_disk_free_bytes", "gauge", "Free space on the agent's data disk."),
        ("gatewatch_fleet_gallery_version", "gauge", "Gallery version the agent holds."),
        ("gatewatch_fleet_config_version", "gauge", "Central camera set version the agent runs (0: its file's)."),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    out.push_str(&per_agent);
    for (name, kind, help) in [
        ("gatewatch_fleet_camera_up", "gauge", "1 while the camera delivers frames and its agent reports."),
        ("gatewatch_fleet_camera_fps", "gauge", "Frames per second the camera delivers."),
        ("gatewatch_fleet_camera_dropped_frames_total", "counter", "Frames dropped since the agent started."),
    ] {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }
    out.push_str(&per_camera);
    Ok(out)
}

/// The fleet's Prometheus metrics on their own address (not the public one).
pub async fn serve_metrics(db: AnyPool, listen: std::net::SocketAddr, offline_after_ms: i64) -> anyhow::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let db = db.clone();
            async move {
                match metrics(&db, offline_after_ms).await {
                    Ok(text) => Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)),
                    Err(e) => Err(e),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen} for metrics: {e}"))?;
    tracing::info!(address = %listen, "fleet metrics at /metrics");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics endpoint stopped");
        }
    });
    Ok(())
}
