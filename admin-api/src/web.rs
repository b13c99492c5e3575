//! The web UI: a few static pages (Vietnamese by default, English on a
//! switch) that talk to the JSON API with the session cookie and the CSRF
//! header. Everything is embedded in the binary; no CDN, no build step.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

fn page(html: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' blob:; style-src 'self'; script-src 'self'",
            ),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        html,
    )
}

fn script(js: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], js)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { page(include_str!("../web/login.html")) }))
        .route("/alerts", get(|| async { page(include_str!("../web/alerts.html")) }))
        .route("/log", get(|| async { page(include_str!("../web/log.html")) }))
        .route("/register", get(|| async { page(include_str!("../web/register.html")) }))
        .route("/stats", get(|| async { page(include_str!("../web/stats.html")) }))
        .route("/report", get(|| async { page(include_str!("../web/report.html")) }))
        .route("/admin", get(|| async { page(include_str!("../web/admin.html")) }))
        // The People page and one person's page (the id is read by people.js).
        .route("/people", get(|| async { page(include_str!("../web/people.html")) }))
        .route("/people/{id}", get(|| async { page(include_str!("../web/person.html")) }))
        .route("/static/people.js", get(|| async { script(include_str!("../web/people.js")) }))
        .route("/devices", get(|| async { page(include_str!("../web/devices.html")) }))
        .route("/static/devices.js", get(|| async { script(include_str!("../web/devices.js")) }))
        .route(
            "/static/app.js",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("../web/app.js"))
            }),
        )
        .route(
            "/static/app.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../web/app.css")) }),
        )
}
