//! The OpenAPI 3.1 document of the JSON API, served at
//! `GET /api/v1/openapi.json`. Built from one table of every endpoint (method,
//! path, who may call it, what it does), which a test checks against the
//! running server: every documented path answers, none with 404.

use serde_json::{Value, json};

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    Agent,
    SignedIn,
    Admin,
    Superadmin,
}

pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    /// Request body media type, if any.
    pub body: Option<&'static str>,
}

const fn ep(
    method: &'static str,
    path: &'static str,
    access: Access,
    summary: &'static str,
    body: Option<&'static str>,
) -> Endpoint {
    Endpoint { method, path, access, summary, body }
}

const JSON: Option<&str> = Some("application/json");

pub const ENDPOINTS: &[Endpoint] = &[
    ep("get", "/healthz", Access::Public, "Liveness", None),
    ep("get", "/api/v1/openapi.json", Access::Public, "This document", None),
    ep(
        "post",
        "/api/v1/events",
        Access::Agent,
        "Ingest a batch of events (≤1000), idempotent by event id; answers the ids durably stored",
        JSON,
    ),
    ep(
        "get",
        "/api/v1/gallery",
        Access::Agent,
        "Gallery changes after version `since` for the agent's site (full when since=0)",
        None,
    ),
    ep("get", "/api/v1/expectations", Access::Agent, "Who each verification camera of the agent's site expects", None),
    ep(
        "put",
        "/api/v1/expectations/{site}/{camera}",
        Access::Admin,
        "Set (`{\"person_id\": \"…\"}`) or clear (`null`) whom a verification camera expects (audited)",
        JSON,
    ),
    ep(
        "post",
        "/api/v1/auth/login",
        Access::Public,
        "Sign in (rate limited); sets the session cookie, returns the CSRF token",
        JSON,
    ),
    ep("post", "/api/v1/auth/logout", Access::SignedIn, "Sign out", JSON),
    ep("get", "/api/v1/auth/me", Access::SignedIn, "The signed-in user and the session's CSRF token", None),
    ep("get", "/api/v1/users", Access::Superadmin, "List users", None),
    ep("post", "/api/v1/users", Access::Superadmin, "Create a user", JSON),
    ep(
        "post",
        "/api/v1/users/{username}/disable",
        Access::Superadmin,
        "Disable an account: no sign-in, its sessions and live streams end (audited)",
        None,
    ),
    ep("post", "/api/v1/users/{username}/enable", Access::Superadmin, "Re-enable a disabled account (audited)", None),
    ep(
        "delete",
        "/api/v1/users/{username}/sessions",
        Access::Superadmin,
        "End every session of an account (audited)",
        None,
    ),
    ep(
        "put",
        "/api/v1/users/{username}/password",
        Access::Superadmin,
        "Set an account's password (`{\"password\"}`); its sessions end (audited)",
        JSON,
    ),
    ep(
        "post",
        "/api/v1/auth/password",
        Access::SignedIn,
        "Change one's own password (`{\"current\", \"new\"}`); other sessions end (audited)",
        JSON,
    ),
    ep("get", "/api/v1/agents", Access::Superadmin, "Edge agents: site, created, revoked", None),
    ep(
        "post",
        "/api/v1/agents/{id}/revoke",
        Access::Superadmin,
        "Revoke an agent's token: refused from its next request (audited)",
        None,
    ),
    ep("get", "/api/v1/alerts", Access::SignedIn, "Recent alerts of the user's sites, with acknowledgements", None),
    ep(
        "get",
        "/api/v1/alerts/stream",
        Access::SignedIn,
        "Server-Sent Events: new alerts (`alert`) and acknowledgements (`ack`)",
        None,
    ),
    ep("post", "/api/v1/alerts/{id}/ack", Access::SignedIn, "Acknowledge an alert with a note (audited)", JSON),
    ep(
        "get",
        "/api/v1/people",
        Access::Admin,
        "Enrolled people visible to the admin: `q` searches id, name, CCCD; filters `category` \
         (staff|resident|visitor|watchlist), `site` (allowed there), `status` (valid|expired); CCCD reads audited",
        None,
    ),
    ep(
        "post",
        "/api/v1/people",
        Access::Admin,
        "Enrol a person: `person` JSON + `photo` files, each with exactly one usable face",
        Some("multipart/form-data"),
    ),
    ep(
        "delete",
        "/api/v1/people/{id}",
        Access::Admin,
        "Delete a person: photos, embeddings, personal data (audited; edges told on sync)",
        None,
    ),
    ep(
        "get",
        "/api/v1/people/{id}",
        Access::Admin,
        "One person: every field, photo ids, the 50 newest passages at the admin's sites (audited)",
        None,
    ),
    ep(
        "put",
        "/api/v1/people/{id}",
        Access::Admin,
        "Edit a person (fields left out unchanged, `null` clears), validated as an enrolment; edges get it on sync \
         (audited: the fields' names)",
        JSON,
    ),
    ep(
        "post",
        "/api/v1/people/{id}/photos",
        Access::Admin,
        "Add `photo` files to a person, each with exactly one usable face; edges get them on sync (audited)",
        Some("multipart/form-data"),
    ),
    ep(
        "get",
        "/api/v1/people/{id}/photos/{photo_id}",
        Access::Admin,
        "One enrolment photo of a person (audited)",
        None,
    ),
    ep(
        "post",
        "/api/v1/people/{id}/withdraw-consent",
        Access::Admin,
        "Consent withdrawn: delete the person as DELETE does (audited as consent_withdrawn)",
        None,
    ),
    ep(
        "get",
        "/api/v1/people/{id}/export",
        Access::Admin,
        "Data-subject export (Law 91/2025/QH15): one JSON file with the record, consent, photos, passages, crops, \
         corrections and audit rows about the person (audited)",
        None,
    ),
    ep(
        "post",
        "/api/v1/people/import",
        Access::Admin,
        "Bulk enrolment: a `csv` of people and a `photos` zip; every row checked like the form, reported row by row",
        Some("multipart/form-data"),
    ),
    ep("post", "/api/v1/visitors/qr", Access::Admin, "Parse the CCCD card's QR text into form fields", JSON),
    ep("get", "/api/v1/faces/photo/{person}", Access::SignedIn, "A person's enrolment photo (audited)", None),
    ep("get", "/api/v1/faces/crop/{event}", Access::SignedIn, "A passage's face crop (audited)", None),
    ep("get", "/api/v1/log", Access::Admin, "Visitor log: filtered, paginated passages", None),
    ep("get", "/api/v1/log.csv", Access::Admin, "Visitor log as CSV: exactly the filtered rows (audited)", None),
    ep(
        "post",
        "/api/v1/passages/{id}/not-person",
        Access::Admin,
        "\"This is not X\": unmatch a passage and learn its face as a negative example of X",
        JSON,
    ),
    ep("get", "/api/v1/stats", Access::Admin, "ANTT statistics for a period", None),
    ep(
        "get",
        "/api/v1/reports/{kind}",
        Access::Admin,
        "Weekly or monthly report of a site (JSON, or CSV with format=csv)",
        None,
    ),
    ep(
        "post",
        "/api/v1/agent/heartbeat",
        Access::Agent,
        "The agent's state (cameras, backlog, versions, disk); answers the camera-set version and snapshots wanted",
        JSON,
    ),
    ep(
        "get",
        "/api/v1/agent/cameras",
        Access::Agent,
        "The camera set made centrally for this agent (version 0: none)",
        None,
    ),
    ep(
        "put",
        "/api/v1/agent/snapshots/{camera}",
        Access::Agent,
        "A camera's picture (JPEG), only when an admin asked for it",
        Some("image/jpeg"),
    ),
    ep(
        "get",
        "/api/v1/devices",
        Access::Admin,
        "Sites → agents → cameras: status, last heartbeat, history, camera sets (passwords hidden)",
        None,
    ),
    ep(
        "put",
        "/api/v1/devices/{agent}/cameras/{camera}",
        Access::Admin,
        "Add or change a camera of an agent (a new camera-set version; `***` keeps the password held; audited)",
        JSON,
    ),
    ep(
        "delete",
        "/api/v1/devices/{agent}/cameras/{camera}",
        Access::Admin,
        "Remove a camera from an agent's camera set (audited)",
        None,
    ),
    ep(
        "post",
        "/api/v1/devices/{agent}/cameras/{camera}/snapshot",
        Access::Admin,
        "Ask the agent for a camera's picture; it comes with the next heartbeat (audited)",
        None,
    ),
    ep(
        "get",
        "/api/v1/devices/{agent}/cameras/{camera}/snapshot",
        Access::Admin,
        "The picture asked for (JPEG; 404 until it arrives; deleted after 10 minutes; audited)",
        None,
    ),
    ep("get", "/api/v1/retention", Access::Superadmin, "Retention per data class, days", None),
    ep("put", "/api/v1/retention", Access::Superadmin, "Change retention (days per class, audited)", JSON),
    ep("get", "/api/v1/audit", Access::Superadmin, "The audit log, newest first (viewing it is audited)", None),
];

pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for e in ENDPOINTS {
        let security = match e.access {
            Access::Public => json!([]),
            Access::Agent => json!([{"agentToken": []}]),
            _ => json!([{"session": [], "csrf": []}]),
        };
        let role = match e.access {
            Access::Public => "anyone",
            Access::Agent => "an edge agent (its own site only)",
            Access::SignedIn => "any signed-in user (their sites)",
            Access::Admin => "admins and superadmins (their sites)",
            Access::Superadmin => "superadmins",
        };
        let params: Vec<Value> = e
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": e.summary,
            "description": format!("Who: {role}."),
            "security": security,
            "parameters": params,
            "responses": {
                "200": {"description": "Done"},
                "400": {"description": "Malformed input; `error` says what to fix", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "401": {"description": "Not signed in / no valid agent token"},
                "403": {"description": "Not allowed for this role or site, or CSRF token missing"},
            },
        });
        if let Some(media) = e.body {
            op["requestBody"] = json!({"required": true, "content": {media: {"schema": {"type": if media == "application/json" { "object" } else { "string" }}}}});
        }
        paths.entry(e.path.to_string()).or_insert_with(|| json!({}))[e.method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "gatewatch admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Edge agents (bearer token), gate guards and UBND admins (session cookie + X-CSRF-Token on every state change). Times are unix milliseconds unless stated; the UI shows the sites' time zone (`serve --time-zone`, Asia/Ho_Chi_Minh by default; `GET /api/v1/auth/me` says it).",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "agentToken": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": crate::session::COOKIE},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
            "schemas": {"Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}},
        },
    })
}
