//! The command line: `serve` (the default) and the operator's commands,
//! each one function over the database.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use sqlx::AnyPool;

use crate::server::{ServeOptions, serve};
use crate::{AppState, alerts, audit, db, enrol, gallery, retention, routes, users};

#[derive(Parser)]
#[command(version, about = "gatewatch admin API and web UI")]
pub struct Cli {
    /// Database URL: sqlite:path/to/file.db or postgres://user@host/db.
    #[arg(long, global = true, default_value = "sqlite:data/admin/gatewatch.db")]
    db: String,
    /// The sites' IANA time zone: days, hours, reports, imported dates and
    /// the web UI's dates follow it.
    #[arg(long, global = true, default_value = crate::local_time::DEFAULT_ZONE)]
    time_zone: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
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

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum UserAction {
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

/// Opens the database (creating a SQLite file's folder), then runs the command.
pub async fn run(cli: Cli) -> Result<()> {
    // Checked before the database is opened (or a SQLite file made).
    let local_time =
        crate::local_time::LocalTime::named(&cli.time_zone).map_err(|e| anyhow::anyhow!("--time-zone: {e}"))?;
    let db = open_database(&cli.db).await?;
    let command = match cli.command {
        Some(c) => c,
        None => Command::Serve {
            listen: "127.0.0.1:8080".parse()?,
            data: "data/admin".into(),
            tls_cert: None,
            tls_key: None,
            edge_offline_after_secs: 60,
            metrics_listen: None,
        },
    };
    match command {
        Command::Serve { listen, data, tls_cert, tls_key, edge_offline_after_secs, metrics_listen } => {
            anyhow::ensure!(edge_offline_after_secs >= 2, "--edge-offline-after-secs must be at least 2");
            let options = ServeOptions {
                listen,
                tls: tls_cert.zip(tls_key),
                edge_offline_after: std::time::Duration::from_secs(edge_offline_after_secs),
                metrics_listen,
                local_time,
            };
            serve(db, &cli.db, data, options).await
        }
        Command::Import { csv, photos, data } => import(&db, &csv, &photos, data, local_time).await,
        Command::Backup { to } => backup(&db, &cli.db, &to).await,
        Command::Purge { data } => purge(&db, &data).await,
        Command::CreateUser { username, role, sites } => create_user(&db, &username, &role, &sites).await,
        Command::AddAgent { id, site } => add_agent(&db, &id, &site).await,
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
        Command::User { username, action } => user_action(&db, &username, action).await,
        Command::SetPassword { username } => {
            let password = password_input(&username)?;
            users::set_password(&db, &username, &password, None).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            audit::record(&db, "cli", "password_reset", &username, "sessions ended").await?;
            println!("password set for {username}; their sessions ended");
            Ok(())
        }
        Command::VerifyAudit => verify_audit(&db).await,
        Command::Events => {
            for body in routes::events::stored_bodies(&db).await? {
                println!("{body}");
            }
            Ok(())
        }
    }
}

/// The database at `url`, with what to do when it cannot be opened.
async fn open_database(url: &str) -> Result<AnyPool> {
    if let Some(path) = url.strip_prefix("sqlite:")
        && let Some(parent) = Path::new(path).parent()
    {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    db::connect(url).await.with_context(|| {
        let what_to_do = if url.starts_with("sqlite:") {
            "if the file is damaged, stop every admin-api using it, move it (with its -wal and -shm files) aside \
             and restore the latest backup (README: \"Backups and recovery\"); nothing is written to it meanwhile"
        } else {
            "check that the PostgreSQL server is running and reachable with these credentials"
        };
        format!("cannot open database {url}: {what_to_do}")
    })
}

/// `import`: people from a CSV and a folder of photos, as the web import does.
async fn import(
    db: &AnyPool,
    csv: &Path,
    photos: &Path,
    data: PathBuf,
    local_time: crate::local_time::LocalTime,
) -> Result<()> {
    let csv_bytes = std::fs::read(csv).with_context(|| format!("cannot read {}", csv.display()))?;
    let photos = routes::import::photos_in_folder(photos).map_err(|e| anyhow::anyhow!("{e}"))?;
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
        local_time,
    };
    let cli = users::User { id: "cli".into(), username: "cli".into(), role: users::Role::Superadmin, sites: vec![] };
    let report =
        routes::import::import_rows(&state, &cli, &csv_bytes, photos).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// `backup`: a consistent copy of a SQLite database, never over a file.
async fn backup(db: &AnyPool, url: &str, to: &Path) -> Result<()> {
    anyhow::ensure!(
        url.starts_with("sqlite:"),
        "backup copies SQLite databases; for PostgreSQL use pg_dump (README: \"Backups and recovery\")"
    );
    anyhow::ensure!(!to.exists(), "{} exists already: choose a new file", to.display());
    let target = to.to_str().context("the backup path must be valid UTF-8")?.replace('\'', "''");
    sqlx::query(&format!("VACUUM INTO '{target}'")).execute(db).await?;
    println!("{}", to.display());
    Ok(())
}

/// `purge`: what is past its retention, now.
async fn purge(db: &AnyPool, data: &Path) -> Result<()> {
    let purged = retention::purge(db, data, &data.join("crops"), wire::time::now_ms())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", serde_json::to_string(&purged)?);
    Ok(())
}

async fn create_user(db: &AnyPool, username: &str, role: &str, sites: &str) -> Result<()> {
    let role =
        users::Role::parse(role).ok_or_else(|| anyhow::anyhow!("--role {role:?}: use guard, admin or superadmin"))?;
    let password = password_input(username)?;
    let sites: Vec<String> = sites.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    let user = users::create(db, username, &password, role, &sites).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    audit::record(db, "cli", "user_created", &user.username, role.as_str()).await?;
    println!("created {} {}", role.as_str(), user.username);
    Ok(())
}

/// `add-agent`: registers an agent and prints its new token (shown once).
async fn add_agent(db: &AnyPool, id: &str, site: &str) -> Result<()> {
    anyhow::ensure!(
        pipeline::fleet::valid_id(id) && pipeline::fleet::valid_id(site),
        "--id and --site must be 1–64 letters, digits, '-' or '_'"
    );
    let token = users::register_agent(db, id, site).await.map_err(|e| match e {
        // The refusal says what to do; a storage failure keeps its cause.
        crate::error::ApiError::Conflict(m) => anyhow::anyhow!(m),
        other => anyhow::Error::new(other).context(format!("cannot register agent {id:?}")),
    })?;
    println!("{token}");
    Ok(())
}

async fn user_action(db: &AnyPool, username: &str, action: UserAction) -> Result<()> {
    let what = match action {
        UserAction::Disable => users::Revocation::Disable,
        UserAction::Enable => users::Revocation::Enable,
        UserAction::EndSessions => users::Revocation::EndSessions,
    };
    users::revoke(db, username, what).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    audit::record(db, "cli", what.audit_action(), username, "").await?;
    println!("{}: {username}", what.audit_action());
    Ok(())
}

async fn verify_audit(db: &AnyPool) -> Result<()> {
    let verdict = audit::verify(db).await?;
    println!("{}", serde_json::to_string(&verdict)?);
    anyhow::ensure!(verdict.problems.is_empty(), "the audit log was tampered with: {}", verdict.problems.join("; "));
    Ok(())
}
