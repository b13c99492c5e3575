//! gatewatch admin API and web UI.
//!
//! So far: the edge-facing API (event ingest, gallery sync by version,
//! verification expectations; agent tokens), and on the command line: agent
//! registration, enrolment from photos, deletion, expectations and an event
//! dump. Users, the web UI and statistics are the admin-API issue.

mod alerts;
mod audit;
mod auth;
mod cccd;
mod csv_sheet;
mod db;
mod enrol;
mod error;
mod fleet;
#[cfg(test)]
mod fuzz_tests;
mod gallery;
mod openapi;
mod people;
mod retention;
mod routes;
mod session;
mod users;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use axum::Router;
use axum::routing::get;
use clap::{Parser, Subcommand};
use sqlx::{AnyPool, Row};

#[derive(Parser)]
#[command(version, about = "gatewatch admin API and web UI")]
struct Cli {
    /// Database URL: sqlite:path/to/file.db or postgres://user@host/db.
    #[arg(long, global = true, default_value = "sqlite:data/admin/gatewatch.db")]
    db: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Folder for face crops and photos.
        #[arg(long, default_value = "data/admin")]
        data: PathBuf,
        /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// An edge agent silent this long raises `edge_offline` (an alert to
        /// its site's guards); it reports every 5 s by default.
        #[arg(long, default_value_t = 60)]
        edge_offline_after_secs: u64,
        /// Serve the fleet's Prometheus metrics at /metrics on this address
        /// (e.g. 127.0.0.1:9465); off unless given.
        #[arg(long)]
        metrics_listen: Option<SocketAddr>,
    },
    /// Register an edge agent for a site; prints its token (shown once, stored hashed).
    AddAgent {
        #[arg(long)]
        id: String,
        #[arg(long)]
        site: String,
    },
    /// Revoke an edge agent's token (a stolen or retired gate box): refused
    /// from its next request. Register it again with add-agent for a new token.
    RevokeAgent {
        #[arg(long)]
        id: String,
    },
    /// Disable an account (no sign-in; its sessions and live streams end),
    /// re-enable it, or end its sessions.
    User {
        #[arg(long)]
        username: String,
        #[arg(value_enum)]
        action: UserAction,
    },
    /// Set an account's password (from GATEWATCH_PASSWORD, or asked on
    /// stdin); its sessions end.
    SetPassword {
        #[arg(long)]
        username: String,
    },
    /// Check the audit log's hash chain: prints what was checked; exits
    /// non-zero naming every row altered or missing.
    VerifyAudit,
    /// Print stored events as JSON lines (operators and tests).
    Events,
    /// Bulk import from a CSV of people and a folder of photos named by id
    /// or CCCD (`p17.jpg`, `p17_2.jpg`, or `p17/…`); prints a report per row.
    Import {
        #[arg(long)]
        csv: PathBuf,
        #[arg(long)]
        photos: PathBuf,
        /// Folder for photos (as given to `serve`).
        #[arg(long, default_value = "data/admin")]
        data: PathBuf,
    },
    /// Write a consistent copy of a SQLite database to FILE (safe while the
    /// server runs). For PostgreSQL use `pg_dump`.
    Backup {
        /// Where to write the copy (must not exist yet).
        #[arg(long)]
        to: PathBuf,
    },
    /// Purge what is past its retention now (the server also does it hourly).
    Purge {
        /// Folder for face crops and photos (as given to `serve`).
        #[arg(long, default_value = "data/admin")]
        data: PathBuf,
    },
    /// Create a user account (the first superadmin is made this way). The
    /// password is read from GATEWATCH_PASSWORD, else from standard input.
    CreateUser {
        #[arg(long)]
        username: String,
        /// guard | admin | superadmin
        #[arg(long)]
        role: String,
        /// Comma-separated sites (guards and admins).
        #[arg(long, default_value = "")]
        sites: String,
    },
    /// Enrol a person from one or more photos (embeddings computed here with
    /// the edge's models; the photos themselves are not kept yet).
    Enrol {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// staff | resident | visitor | watchlist
        #[arg(long, default_value = "visitor")]
        category: String,
        #[arg(long)]
        cccd: Option<String>,
        /// Enrolment ends this many seconds from now (visitors).
        #[arg(long)]
        valid_for_secs: Option<i64>,
        #[arg(required = true)]
        photos: Vec<PathBuf>,
    },
    /// Enrol every person of a fixture's gallery/ folder, with their photos
    /// (demo and tests).
    EnrolFixture {
        /// A fixture folder.
        fixture: PathBuf,
        /// Folder for photos (as given to `serve`).
        #[arg(long, default_value = "data/admin")]
        data: PathBuf,
    },
    /// Delete a person: embeddings and personal data erased, edges told on their next sync.
    RemovePerson { id: String },
    /// Verification mode: set (or with no --person, clear) who a camera expects.
    Expect {
        #[arg(long)]
        site: String,
        #[arg(long)]
        camera: String,
        #[arg(long)]
        person: Option<String>,
    },
}

#[derive(Clone)]
pub struct AppState {
    pub db: AnyPool,
    pub crops_dir: PathBuf,
    /// Photos and crops live under it.
    pub data_dir: PathBuf,
    pub alerts: alerts::AlertHub,
    pub login_limiter: std::sync::Arc<session::LoginLimiter>,
    /// Live alert streams open, per user (capped).
    pub streams: session::StreamSlots,
    pub enrol: people::EnrolService,
    /// Served over TLS (cookies get `Secure`).
    pub tls: bool,
    /// With SQLite: the turn to write an ingested batch (one writer at a time).
    pub sqlite_writer: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
    /// An agent silent this long is offline.
    pub edge_offline_after_ms: i64,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum UserAction {
    Disable,
    Enable,
    EndSessions,
}

/// A password from GATEWATCH_PASSWORD, or read from stdin.
fn password_input(username: &str) -> anyhow::Result<String> {
    match std::env::var("GATEWATCH_PASSWORD") {
        Ok(p) => Ok(p),
        Err(_) => {
            eprintln!("password for {username}:");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            Ok(line.trim_end_matches(['\n', '\r']).to_string())
        }
    }
}

/// Everything this process creates — the SQLite database, photos, face
/// crops, backups — is its owner's alone (0600 files, 0700 folders):
/// faces and CCCD numbers are sensitive personal data.
fn private_files() {
    // SAFETY: umask(2) only sets this process's file-creation mask; it
    // cannot fail and reads or writes no memory of ours.
    unsafe {
        libc::umask(0o077);
    }
}

fn main() -> std::process::ExitCode {
    private_files();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx::postgres::notice=warn".into()),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(Cli::parse())) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    if let Some(path) = cli.db.strip_prefix("sqlite:")
        && let Some(parent) = std::path::Path::new(path).parent()
    {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let db = db::connect(&cli.db).await.with_context(|| {
        let what_to_do = if cli.db.starts_with("sqlite:") {
            "if the file is damaged, stop every admin-api using it, move it (with its -wal and -shm files) aside \
             and restore the latest backup (README: \"Backups and recovery\"); nothing is written to it meanwhile"
        } else {
            "check that the PostgreSQL server is running and reachable with these credentials"
        };
        format!("cannot open database {}: {what_to_do}", cli.db)
    })?;
    let default = Command::Serve {
        listen: "127.0.0.1:8080".parse()?,
        data: "data/admin".into(),
        tls_cert: None,
        tls_key: None,
        edge_offline_after_secs: 60,
        metrics_listen: None,
    };
    match cli.command.unwrap_or(default) {
        Command::Serve { listen, data, tls_cert, tls_key, edge_offline_after_secs, metrics_listen } => {
            anyhow::ensure!(edge_offline_after_secs >= 2, "--edge-offline-after-secs must be at least 2");
            let options = ServeOptions {
                listen,
                tls: tls_cert.zip(tls_key),
                edge_offline_after: std::time::Duration::from_secs(edge_offline_after_secs),
                metrics_listen,
            };
            serve(db, &cli.db, data, options).await
        }
        Command::Import { csv, photos, data } => {
            let csv_bytes = std::fs::read(&csv).with_context(|| format!("cannot read {}", csv.display()))?;
            let photos = routes::import::photos_in_folder(&photos).map_err(|e| anyhow::anyhow!("{e}"))?;
            let state = AppState {
                db: db.clone(),
                crops_dir: data.join("crops"),
                data_dir: data,
                alerts: alerts::AlertHub::new(false),
                login_limiter: Default::default(),
                streams: Default::default(),
                enrol: Default::default(),
                tls: false,
                sqlite_writer: None,
                edge_offline_after_ms: 60_000,
            };
            let cli =
                users::User { id: "cli".into(), username: "cli".into(), role: users::Role::Superadmin, sites: vec![] };
            let report = routes::import::import_rows(&state, &cli, &csv_bytes, photos)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
        Command::Backup { to } => {
            anyhow::ensure!(
                cli.db.starts_with("sqlite:"),
                "backup copies SQLite databases; for PostgreSQL use pg_dump (README: \"Backups and recovery\")"
            );
            anyhow::ensure!(!to.exists(), "{} exists already: choose a new file", to.display());
            let target = to.to_str().context("the backup path must be valid UTF-8")?.replace('\'', "''");
            sqlx::query(&format!("VACUUM INTO '{target}'")).execute(&db).await?;
            println!("{}", to.display());
            Ok(())
        }
        Command::Purge { data } => {
            let purged = retention::purge(&db, &data, &data.join("crops"), wire::time::now_ms())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string(&purged)?);
            Ok(())
        }
        Command::CreateUser { username, role, sites } => {
            let role = users::Role::parse(&role)
                .ok_or_else(|| anyhow::anyhow!("--role {role:?}: use guard, admin or superadmin"))?;
            let password = password_input(&username)?;
            let sites: Vec<String> =
                sites.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
            let user =
                users::create(&db, &username, &password, role, &sites).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            audit::record(&db, "cli", "user_created", &user.username, role.as_str()).await?;
            println!("created {} {}", role.as_str(), user.username);
            Ok(())
        }
        Command::AddAgent { id, site } => {
            anyhow::ensure!(
                pipeline::fleet::valid_id(&id) && pipeline::fleet::valid_id(&site),
                "--id and --site must be 1–64 letters, digits, '-' or '_'"
            );
            let token = auth::new_token();
            // A revoked agent (a replaced gate box) is registered again with a new token.
            let done = sqlx::query(
                "INSERT INTO agents (id, site, token_sha256, created_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET site = $2, token_sha256 = $3, created_ms = $4, revoked_ms = NULL
                 WHERE agents.revoked_ms IS NOT NULL",
            )
            .bind(&id)
            .bind(&site)
            .bind(auth::hash_token(&token))
            .bind(wire::time::now_ms())
            .execute(&db)
            .await
            .with_context(|| format!("cannot register agent {id:?}"))?;
            anyhow::ensure!(
                done.rows_affected() == 1,
                "agent {id:?} is registered with a valid token already: revoke it first (admin-api revoke-agent --id {id})"
            );
            println!("{token}");
            Ok(())
        }
        Command::Enrol { id, name, category, cccd, valid_for_secs, photos } => {
            let category = serde_json::from_value(serde_json::Value::String(category.clone()))
                .map_err(|_| anyhow::anyhow!("--category {category:?}: use staff, resident, visitor or watchlist"))?;
            let valid_until = valid_for_secs.map(|s| wire::time::now_s() + s);
            let info = wire::PersonInfo { id, name, category, cccd, valid_until, valid_from: None };
            let version = enrol::enrol_photos(&db, info, &photos).await?;
            println!("enrolled; gallery version {version}");
            Ok(())
        }
        Command::EnrolFixture { fixture, data } => {
            let (people, version) = enrol::enrol_fixture(&db, &fixture, &data).await?;
            println!("enrolled {people} people from {}; gallery version {version}", fixture.display());
            Ok(())
        }
        Command::RemovePerson { id } => match gallery::delete_person(&db, &id).await? {
            Some(v) => {
                println!("deleted {id}; gallery version {v}");
                Ok(())
            }
            None => anyhow::bail!("no enrolled person {id:?}"),
        },
        Command::Expect { site, camera, person } => {
            gallery::set_expectation(&db, &site, &camera, person.as_deref()).await?;
            Ok(())
        }
        Command::RevokeAgent { id } => {
            users::revoke_agent(&db, &id).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            audit::record(&db, "cli", "agent_revoked", &id, "").await?;
            println!("revoked the token of agent {id}");
            Ok(())
        }
        Command::User { username, action } => {
            let what = match action {
                UserAction::Disable => users::Revocation::Disable,
                UserAction::Enable => users::Revocation::Enable,
                UserAction::EndSessions => users::Revocation::EndSessions,
            };
            users::revoke(&db, &username, what).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            audit::record(&db, "cli", what.audit_action(), &username, "").await?;
            println!("{}: {username}", what.audit_action());
            Ok(())
        }
        Command::SetPassword { username } => {
            let password = password_input(&username)?;
            users::set_password(&db, &username, &password, None).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            audit::record(&db, "cli", "password_reset", &username, "sessions ended").await?;
            println!("password set for {username}; their sessions ended");
            Ok(())
        }
        Command::VerifyAudit => {
            let verdict = audit::verify(&db).await?;
            println!("{}", serde_json::to_string(&verdict)?);
            anyhow::ensure!(
                verdict.problems.is_empty(),
                "the audit log was tampered with: {}",
                verdict.problems.join("; ")
            );
            Ok(())
        }
        Command::Events => {
            let rows = sqlx::query("SELECT body FROM events ORDER BY created_ms, id").fetch_all(&db).await?;
            for r in rows {
                let body: String = r.try_get("body")?;
                println!("{body}");
            }
            Ok(())
        }
    }
}

struct ServeOptions {
    listen: SocketAddr,
    tls: Option<(PathBuf, PathBuf)>,
    edge_offline_after: std::time::Duration,
    metrics_listen: Option<SocketAddr>,
}

async fn serve(db: AnyPool, url: &str, data: PathBuf, options: ServeOptions) -> Result<()> {
    let ServeOptions { listen, tls, edge_offline_after, metrics_listen } = options;
    let crops_dir = data.join("crops");
    std::fs::create_dir_all(&crops_dir).with_context(|| format!("cannot create {}", crops_dir.display()))?;
    let postgres = url.starts_with("postgres");
    let hub = alerts::AlertHub::new(postgres);
    if postgres {
        hub.listen(url.to_string());
    }
    retention::spawn_hourly(db.clone(), data.clone(), crops_dir.clone());
    fleet::spawn_watch(db.clone(), hub.clone(), data.clone(), edge_offline_after);
    let edge_offline_after_ms = edge_offline_after.as_millis() as i64;
    if let Some(addr) = metrics_listen {
        fleet::serve_metrics(db.clone(), addr, edge_offline_after_ms).await?;
    }
    let state = AppState {
        db,
        crops_dir,
        data_dir: data,
        alerts: hub,
        login_limiter: Default::default(),
        streams: Default::default(),
        enrol: Default::default(),
        tls: tls.is_some(),
        sqlite_writer: url.starts_with("sqlite:").then(Default::default),
        edge_offline_after_ms,
    };
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/openapi.json", get(|| async { axum::Json(openapi::document()) }))
        .merge(web::router())
        .nest("/api/v1/events", routes::events::router())
        .nest("/api/v1", routes::gallery::router())
        .nest("/api/v1", routes::gallery::admin_router())
        .nest("/api/v1", routes::auth::router())
        .nest("/api/v1", routes::accounts::router())
        .nest("/api/v1", routes::alerts::router())
        .nest("/api/v1", routes::people::router())
        .nest("/api/v1", routes::log::router())
        .nest("/api/v1", routes::stats::router())
        .nest("/api/v1", routes::admin::router())
        .nest("/api/v1", routes::corrections::router())
        .nest("/api/v1", routes::import::router())
        .nest("/api/v1", routes::fleet::router())
        .with_state(state);
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Some((cert, key)) = tls {
        // ring: the provider that builds without extra tools (cmake, nasm).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key).await.with_context(|| {
            format!(
                "cannot load the TLS certificate {} and key {} (PEM; README: \"TLS\")",
                cert.display(),
                key.display()
            )
        })?;
        let listener = std::net::TcpListener::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
        tracing::info!(address = %listen, scheme = "https", "admin API listening");
        axum_server::from_tcp_rustls(listener, config).serve(service).await?;
    } else {
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        tracing::info!(address = %listen, scheme = "http", "admin API listening");
        axum::serve(listener, service).await?;
    }
    Ok(())
}
