//! gatewatch admin API and web UI: the binary. Every module in a line:
//!
//! - [`cli`]: the command line (`serve`, the default, and operators' commands);
//!   [`server`]: the routes and the listener, HTTP or HTTPS.
//! - [`db`]: SQLite or PostgreSQL, migrated on open.
//! - [`routes`]: one module per area of `/api/v1`; [`web`]: the pages, embedded.
//! - [`auth`] (agents' tokens), [`session`] (users' sessions, CSRF, role
//!   extractors), [`users`] (accounts, argon2), [`site_scope`] (who sees which site).
//! - [`people`], [`enrol`], [`cccd`]: enrolment, from photos and CCCD cards;
//!   [`gallery`]: what edges sync, by version.
//! - [`alerts`]: the live alert hub (PostgreSQL LISTEN across servers);
//!   [`fleet`]: heartbeats, camera sets, `edge_offline`, fleet metrics.
//! - [`audit`]: the hash-chained audit log; [`retention`]: hourly expiry of
//!   faces, crops and visitors; [`csv_sheet`]: spreadsheet-safe CSV.
//! - [`local_time`]: days and hours in the deployment's IANA time zone.
//! - [`openapi`]: the API's description; [`error`]: errors as HTTP answers.

mod alerts;
mod audit;
mod auth;
mod cccd;
mod cli;
mod csv_sheet;
mod db;
mod enrol;
mod error;
mod fleet;
#[cfg(test)]
mod fuzz_tests;
mod gallery;
mod local_time;
mod openapi;
mod people;
mod retention;
mod routes;
mod server;
mod session;
mod site_scope;
mod users;
mod web;

use std::path::PathBuf;

use clap::Parser;
use sqlx::AnyPool;

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
    /// The site's calendar: days, hours and reports.
    pub local_time: local_time::LocalTime,
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
    match runtime.block_on(cli::run(cli::Cli::parse())) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
