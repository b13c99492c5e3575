//! `admin-api serve`: the API and web UI on one address, HTTP or HTTPS,
//! with the background jobs (retention, fleet watch, metrics) beside it.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use axum::Router;
use axum::http::{HeaderValue, Request, header};
use axum::routing::get;
use sqlx::AnyPool;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::{AppState, alerts, fleet, openapi, retention, routes, web};

pub struct ServeOptions {
    pub listen: SocketAddr,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub edge_offline_after: std::time::Duration,
    pub metrics_listen: Option<SocketAddr>,
    pub local_time: crate::local_time::LocalTime,
}

pub async fn serve(db: AnyPool, url: &str, data: PathBuf, options: ServeOptions) -> Result<()> {
    let ServeOptions { listen, tls, edge_offline_after, metrics_listen, local_time } = options;
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
        local_time,
    };
    let traced = router().with_state(state).layer(TraceLayer::new_for_http().make_span_with(request_span));
    // Every answer, JSON and images included, is what it says it is; links
    // out of the UI do not carry its addresses (ids, searches).
    let always = [(header::X_CONTENT_TYPE_OPTIONS, "nosniff"), (header::REFERRER_POLICY, "no-referrer")];
    let app = always.into_iter().fold(traced, |app, (name, value)| {
        app.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)))
    });
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

/// Every route, each area's under its own prefix.
pub fn router() -> Router<AppState> {
    Router::new()
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
}

/// A request's span for `tower_http::trace` (at debug): its method and path,
/// never its query, which may hold a CCCD number or a name searched for.
fn request_span<B>(req: &Request<B>) -> tracing::Span {
    tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
}
