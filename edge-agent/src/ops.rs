//! `/healthz` and Prometheus `/metrics`, on their own thread and runtime so
//! that a slow scraper never touches recognition.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use crate::fleet::Board;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

#[derive(Clone)]
struct OpsState {
    metrics: Arc<Metrics>,
    board: Arc<Board>,
}

async fn serve_metrics(axum::extract::State(s): axum::extract::State<OpsState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], s.metrics.encode())
}

/// Always 200 while the agent runs (liveness); `status` says whether every
/// camera is delivering frames.
async fn healthz(axum::extract::State(s): axum::extract::State<OpsState>) -> impl IntoResponse {
    let mut cameras = serde_json::Map::new();
    let mut all_up = true;
    for c in s.board.statuses() {
        let up = c.state == pipeline::fleet::CameraState::Up;
        all_up &= up;
        cameras.insert(c.spec.id.clone(), json!({ "up": up, "state": c.state, "reason": c.reason }));
    }
    axum::Json(json!({
        "status": if all_up { "ok" } else { "degraded" },
        "cameras": cameras,
        "outbox_backlog": s.metrics.outbox_backlog.get(),
        "gallery_version": s.metrics.gallery_version.get(),
    }))
}

/// Serves until shutdown; a port that cannot be bound is logged, and the
/// agent goes on recognising without its endpoints.
pub fn spawn(listen: SocketAddr, metrics: Arc<Metrics>, board: Arc<Board>, shutdown: Shutdown) {
    let state = OpsState { metrics, board };
    let spawned = std::thread::Builder::new().name("ops-http".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "health and metrics endpoints not started");
                return;
            }
        };
        runtime.block_on(async move {
            let app =
                Router::new().route("/healthz", get(healthz)).route("/metrics", get(serve_metrics)).with_state(state);
            let listener = match tokio::net::TcpListener::bind(listen).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(%listen, error = %e, "health and metrics endpoints not started (set ops.listen)");
                    return;
                }
            };
            tracing::info!(address = %listen, "serving /healthz and /metrics");
            let stop = async move {
                while !shutdown.requested() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            };
            if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
                tracing::error!(error = %e, "health and metrics endpoints stopped");
            }
        });
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "health and metrics endpoints not started");
    }
}
