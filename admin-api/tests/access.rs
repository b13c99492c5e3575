//! Access control, proven exhaustively: every route of the admin API × every
//! kind of caller → allowed or refused as the route's rule says.
//!
//! The route list is read from the router's source (`.route(...)` calls and
//! the `.nest(...)` prefixes in `server.rs`), so a route added without a row
//! in this matrix fails the test, as does a row whose rule disagrees with
//! the OpenAPI document.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Caller {
    Anonymous,
    Guard,
    AdminOfAnotherSite,
    Admin,
    Superadmin,
    Agent,
    AgentOfAnotherSite,
    ExpiredSession,
}

const CALLERS: [Caller; 8] = [
    Caller::Anonymous,
    Caller::Guard,
    Caller::AdminOfAnotherSite,
    Caller::Agent,
    Caller::AgentOfAnotherSite,
    Caller::ExpiredSession,
    // Last: these may change what they touch (acknowledge, delete).
    Caller::Admin,
    Caller::Superadmin,
];

/// Who a route admits (as in the OpenAPI document), and whether the concrete
/// request below touches a resource of site s1 that callers of another site
/// must be refused.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rule {
    Public,
    Agent,
    SignedIn,
    Admin,
    Superadmin,
}

struct Row {
    method: &'static str,
    route: &'static str,
    /// The request: path with ids of real s1 resources, and a JSON body.
    path: String,
    body: Value,
    rule: Rule,
    site_scoped: bool,
}

/// (method, route) of every route the router declares, read from its source.
fn declared_routes() -> BTreeSet<(String, String)> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let main = std::fs::read_to_string(src.join("server.rs")).expect("server.rs");
    // Module → prefix, from `.nest("PREFIX", routes::MODULE::...)`; `web` is merged at the root.
    let mut prefixes = vec![("web".to_string(), String::new())];
    for part in main.split(".nest(\"").skip(1) {
        let prefix = part.split('"').next().unwrap_or_default().to_string();
        let module = part.split("routes::").nth(1).and_then(|m| m.split("::").next()).unwrap_or_default();
        prefixes.push((module.to_string(), prefix));
    }
    let mut out = BTreeSet::new();
    let mut scan = |text: &str, prefix: &str| {
        for part in text.split(".route(").skip(1) {
            let Some(rest) = part.strip_prefix('"').or_else(|| part.trim_start().strip_prefix('"')) else { continue };
            let path = rest.split('"').next().unwrap_or_default();
            // The handler expression: up to the parenthesis that closes `.route(`.
            let expr = &rest[path.len() + 1..];
            let (mut depth, mut end) = (0i32, expr.len());
            for (i, c) in expr.char_indices() {
                match c {
                    '(' | '{' | '[' => depth += 1,
                    ')' | '}' | ']' if depth == 0 => {
                        end = i;
                        break;
                    }
                    ')' | '}' | ']' => depth -= 1,
                    _ => {}
                }
            }
            // Method routers at depth 0: `get(`, `.post(`, `axum::routing::put(`.
            let expr = &expr[..end];
            let mut depth = 0i32;
            let bytes: Vec<char> = expr.chars().collect();
            for i in 0..bytes.len() {
                match bytes[i] {
                    '(' | '{' | '[' => depth += 1,
                    ')' | '}' | ']' => depth -= 1,
                    _ => {}
                }
                if depth != 0 {
                    continue;
                }
                for m in ["get", "post", "put", "delete", "patch"] {
                    let word: Vec<char> = m.chars().collect();
                    let before_ok = i == 0 || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_');
                    if before_ok && bytes[i..].starts_with(&word) && bytes.get(i + word.len()) == Some(&'(') {
                        let full = if path == "/" && !prefix.is_empty() {
                            prefix.to_string()
                        } else {
                            format!("{prefix}{path}")
                        };
                        out.insert((m.to_string(), full));
                    }
                }
            }
        }
    };
    scan(&main, "");
    for entry in std::fs::read_dir(src.join("routes")).expect("routes") {
        let path = entry.expect("entry").path();
        let module = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let text = std::fs::read_to_string(&path).expect("route module");
        let prefix = prefixes.iter().find(|(m, _)| *m == module).map(|(_, p)| p.clone());
        if text.contains(".route(") {
            scan(&text, &prefix.unwrap_or_else(|| panic!("routes/{module}.rs is not nested in server.rs")));
        }
    }
    scan(&std::fs::read_to_string(src.join("web.rs")).expect("web.rs"), "");
    out
}

fn expected_refusal(rule: Rule, scoped: bool, caller: Caller) -> Option<&'static [u16]> {
    use Caller::*;
    const UNAUTHORISED: &[u16] = &[401];
    const FORBIDDEN: &[u16] = &[403];
    const NOT_THEIRS: &[u16] = &[403, 404];
    let session = matches!(caller, Guard | AdminOfAnotherSite | Admin | Superadmin);
    match rule {
        Rule::Public => None,
        Rule::Agent => match caller {
            Agent => None,
            AgentOfAnotherSite if scoped => Some(FORBIDDEN),
            AgentOfAnotherSite => None,
            _ => Some(UNAUTHORISED),
        },
        _ if !session => Some(UNAUTHORISED),
        Rule::Superadmin if caller != Superadmin => Some(FORBIDDEN),
        Rule::Admin if caller == Guard => Some(FORBIDDEN),
        _ if caller == AdminOfAnotherSite && scoped => Some(NOT_THEIRS),
        _ => None,
    }
}

/// What a caller the rule lets in is answered: 200, unless the row's request
/// is refused on its content after the caller was let in (an empty body where
/// fields or a file are needed), or an earlier caller in `CALLERS` already
/// used up what it acts on (so this depends on the order of `CALLERS`: the
/// guard acts before the admins, admin1 before super1). Anything else — a 404 for a route that should
/// serve this caller, a 400 where the request is whole — is a failure.
fn admitted(method: &str, route: &str, caller: Caller) -> &'static [u16] {
    use Caller::*;
    match (method, route, caller) {
        // Empty JSON where fields are required (PUT of a person or of the
        // retention is a partial update: an empty one changes nothing, 200).
        ("post", "/api/v1/auth/login" | "/api/v1/users" | "/api/v1/auth/password", _)
        | ("put", "/api/v1/users/{username}/password", _) => &[422],
        // A JSON body where a multipart form, a JPEG or a CCCD QR text is needed.
        ("put", "/api/v1/agent/snapshots/{camera}", _) => &[422],
        (
            "post",
            "/api/v1/people" | "/api/v1/people/import" | "/api/v1/people/{id}/photos" | "/api/v1/visitors/qr",
            _,
        ) => &[400],
        // Asked for, not yet delivered by the agent.
        ("get", "/api/v1/devices/{agent}/cameras/{camera}/snapshot", _) => &[404],
        // The guard acknowledged it first; admin1 marked the passage first.
        ("post", "/api/v1/alerts/{id}/ack", Admin | Superadmin) => &[409],
        ("post", "/api/v1/passages/{id}/not-person", Superadmin) => &[409],
        // admin1 withdrew, deleted or removed it first.
        ("post", "/api/v1/people/{id}/withdraw-consent", Superadmin)
        | ("delete", "/api/v1/people/{id}" | "/api/v1/devices/{agent}/cameras/{camera}", Superadmin) => &[404],
        _ => &[200],
    }
}

#[test]
fn every_route_times_every_caller_gets_the_expected_answer() {
    let db = Db::new(Backend::Postgres, "access");
    db.user("guard1", "guard", "s1");
    db.user("admin1", "admin", "s1");
    db.user("admin2", "admin", "s2");
    db.user("super1", "superadmin", "");
    db.user("expired1", "admin", "s1");
    db.user("target1", "guard", "s1");
    db.agent("agent-x", "s1");
    let token1 = db.agent("agent-1", "s1");
    let token2 = db.agent("agent-2", "s2");
    let server = Server::start(&db);
    let admin = Browser::login(&server, "admin1");
    let (s, body) = admin.enrol(
        json!({"id": "p-s1", "name": "Lan", "category": "staff", "consent_by": "Lan", "consent_purpose": "staff", "sites": ["s1"]}),
        &[("a.jpg", photo("p01", 1))],
    );
    assert_eq!(s, 200, "{body}");
    let p = passage("agent-1", "s1", "gate1", Some("p-s1"), "entry", now_ms());
    let alert = anomaly("agent-1", "s1", "gate1", "unknown_person", None, p["id"].as_str());
    assert_eq!(ingest(&server, &token1, &[p.clone(), alert.clone()]).0, 200);
    let (passage_id, alert_id) = (p["id"].as_str().expect("id"), alert["id"].as_str().expect("id"));
    // The People page: a second person (consent withdrawn), and a photo's id.
    let (s, body) = admin.enrol(
        json!({"id": "p-s1w", "name": "Hoa", "category": "resident", "consent_by": "Hoa",
               "consent_purpose": "access", "sites": ["s1"]}),
        &[("b.jpg", photo("p02", 1))],
    );
    assert_eq!(s, 200, "{body}");
    let (s, body) = admin.get("/api/v1/people/p-s1");
    assert_eq!(s, 200, "{body}");
    let detail: Value = serde_json::from_str(&body).expect("json");
    let photo_id = detail["photos"][0].as_str().expect("a photo id").to_string();
    let expired = Browser::login(&server, "expired1");
    db.psql("UPDATE sessions SET expires_ms = 1 WHERE user_id = (SELECT id FROM users WHERE username = 'expired1')");

    let events_of_s1 = json!([passage("agent-1", "s1", "gate1", None, "exit", now_ms())]);
    let row = |method, route, path: &str, body: Value, rule, site_scoped| Row {
        method,
        route,
        path: path.to_string(),
        body,
        rule,
        site_scoped,
    };
    let none = Value::Null;
    let heartbeat = json!({"agent_version": "0.1.0", "started_ms": now_ms(), "sent_ms": now_ms(), "cameras": [],
        "outbox_backlog": 0, "outbox_oldest_ms": null, "gallery_version": 0, "config_version": 0, "disk_free_bytes": null});
    let camera = json!({"id": "gate9", "gate": "g9", "url": "rtsp://127.0.0.1:8554/gate9",
        "line": {"a": [0.0, 0.5], "b": [1.0, 0.5], "inside": "below"}});
    let mut rows = vec![
        row("get", "/healthz", "/healthz", none.clone(), Rule::Public, false),
        row("get", "/api/v1/openapi.json", "/api/v1/openapi.json", none.clone(), Rule::Public, false),
        row("post", "/api/v1/events", "/api/v1/events", events_of_s1, Rule::Agent, true),
        row("get", "/api/v1/gallery", "/api/v1/gallery?since=0", none.clone(), Rule::Agent, false),
        row("get", "/api/v1/expectations", "/api/v1/expectations", none.clone(), Rule::Agent, false),
        row(
            "put",
            "/api/v1/expectations/{site}/{camera}",
            "/api/v1/expectations/s1/gate1",
            json!({"person_id": null}),
            Rule::Admin,
            true,
        ),
        row("post", "/api/v1/auth/login", "/api/v1/auth/login", json!({}), Rule::Public, false),
        row("get", "/api/v1/auth/me", "/api/v1/auth/me", none.clone(), Rule::SignedIn, false),
        row("get", "/api/v1/users", "/api/v1/users", none.clone(), Rule::Superadmin, false),
        row("post", "/api/v1/users", "/api/v1/users", json!({}), Rule::Superadmin, false),
        row(
            "post",
            "/api/v1/users/{username}/disable",
            "/api/v1/users/target1/disable",
            none.clone(),
            Rule::Superadmin,
            false,
        ),
        row(
            "post",
            "/api/v1/users/{username}/enable",
            "/api/v1/users/target1/enable",
            none.clone(),
            Rule::Superadmin,
            false,
        ),
        row(
            "delete",
            "/api/v1/users/{username}/sessions",
            "/api/v1/users/target1/sessions",
            none.clone(),
            Rule::Superadmin,
            false,
        ),
        row(
            "put",
            "/api/v1/users/{username}/password",
            "/api/v1/users/target1/password",
            json!({}),
            Rule::Superadmin,
            false,
        ),
        row("post", "/api/v1/auth/password", "/api/v1/auth/password", json!({}), Rule::SignedIn, false),
        row("get", "/api/v1/agents", "/api/v1/agents", none.clone(), Rule::Superadmin, false),
        row(
            "post",
            "/api/v1/agents/{id}/revoke",
            "/api/v1/agents/agent-x/revoke",
            none.clone(),
            Rule::Superadmin,
            false,
        ),
        row("get", "/api/v1/alerts", "/api/v1/alerts", none.clone(), Rule::SignedIn, false),
        row("get", "/api/v1/alerts/stream", "/api/v1/alerts/stream", none.clone(), Rule::SignedIn, false),
        row(
            "post",
            "/api/v1/alerts/{id}/ack",
            &format!("/api/v1/alerts/{alert_id}/ack"),
            json!({"note": "seen"}),
            Rule::SignedIn,
            true,
        ),
        row("get", "/api/v1/people", "/api/v1/people", none.clone(), Rule::Admin, false),
        row("post", "/api/v1/people", "/api/v1/people", json!({}), Rule::Admin, false),
        row("post", "/api/v1/people/import", "/api/v1/people/import", json!({}), Rule::Admin, false),
        row("post", "/api/v1/visitors/qr", "/api/v1/visitors/qr", json!({"text": "x"}), Rule::Admin, false),
        row("get", "/api/v1/faces/photo/{person}", "/api/v1/faces/photo/p-s1", none.clone(), Rule::SignedIn, true),
        row(
            "get",
            "/api/v1/faces/crop/{event}",
            &format!("/api/v1/faces/crop/{passage_id}"),
            none.clone(),
            Rule::SignedIn,
            true,
        ),
        row("get", "/api/v1/log", "/api/v1/log?site=s1", none.clone(), Rule::Admin, true),
        row("get", "/api/v1/log.csv", "/api/v1/log.csv?site=s1", none.clone(), Rule::Admin, true),
        row(
            "post",
            "/api/v1/passages/{id}/not-person",
            &format!("/api/v1/passages/{passage_id}/not-person"),
            json!({}),
            Rule::Admin,
            true,
        ),
        row("get", "/api/v1/stats", "/api/v1/stats?site=s1", none.clone(), Rule::Admin, true),
        row(
            "get",
            "/api/v1/reports/{kind}",
            "/api/v1/reports/weekly?site=s1&date=2026-11-23",
            none.clone(),
            Rule::Admin,
            true,
        ),
        row("get", "/api/v1/retention", "/api/v1/retention", none.clone(), Rule::Superadmin, false),
        row("put", "/api/v1/retention", "/api/v1/retention", json!({}), Rule::Superadmin, false),
        row("get", "/api/v1/audit", "/api/v1/audit", none.clone(), Rule::Superadmin, false),
        row("get", "/api/v1/people/{id}", "/api/v1/people/p-s1", none.clone(), Rule::Admin, true),
        row("put", "/api/v1/people/{id}", "/api/v1/people/p-s1", json!({}), Rule::Admin, true),
        row("post", "/api/v1/people/{id}/photos", "/api/v1/people/p-s1/photos", json!({}), Rule::Admin, true),
        row(
            "get",
            "/api/v1/people/{id}/photos/{photo_id}",
            &format!("/api/v1/people/p-s1/photos/{photo_id}"),
            none.clone(),
            Rule::Admin,
            true,
        ),
        row("get", "/api/v1/people/{id}/export", "/api/v1/people/p-s1/export", none.clone(), Rule::Admin, true),
        row(
            "post",
            "/api/v1/people/{id}/withdraw-consent",
            "/api/v1/people/p-s1w/withdraw-consent",
            none.clone(),
            Rule::Admin,
            true,
        ),
        row("delete", "/api/v1/people/{id}", "/api/v1/people/p-s1", none.clone(), Rule::Admin, true),
        row("post", "/api/v1/agent/heartbeat", "/api/v1/agent/heartbeat", heartbeat, Rule::Agent, false),
        row("get", "/api/v1/agent/cameras", "/api/v1/agent/cameras", none.clone(), Rule::Agent, false),
        // A JSON body is not a JPEG: refused as such (422), after the token.
        row("put", "/api/v1/agent/snapshots/{camera}", "/api/v1/agent/snapshots/gate1", json!({}), Rule::Agent, false),
        // Each admin sees the agents of their sites (another site's: none).
        row("get", "/api/v1/devices", "/api/v1/devices", none.clone(), Rule::Admin, false),
        row(
            "put",
            "/api/v1/devices/{agent}/cameras/{camera}",
            "/api/v1/devices/agent-1/cameras/gate9",
            camera,
            Rule::Admin,
            true,
        ),
        row(
            "post",
            "/api/v1/devices/{agent}/cameras/{camera}/snapshot",
            "/api/v1/devices/agent-1/cameras/gate9/snapshot",
            json!({}),
            Rule::Admin,
            true,
        ),
        row(
            "get",
            "/api/v1/devices/{agent}/cameras/{camera}/snapshot",
            "/api/v1/devices/agent-1/cameras/gate9/snapshot",
            none.clone(),
            Rule::Admin,
            true,
        ),
        row(
            "delete",
            "/api/v1/devices/{agent}/cameras/{camera}",
            "/api/v1/devices/agent-1/cameras/gate9",
            none.clone(),
            Rule::Admin,
            true,
        ),
        // Last: it ends the session it is called with.
        row("post", "/api/v1/auth/logout", "/api/v1/auth/logout", json!({}), Rule::SignedIn, false),
    ];
    for page in
        ["/", "/alerts", "/log", "/register", "/stats", "/report", "/admin", "/static/app.js", "/static/app.css"]
    {
        rows.insert(0, row("get", page, page, none.clone(), Rule::Public, false));
    }
    for (page, path) in [
        ("/people", "/people"),
        ("/people/{id}", "/people/p-s1"),
        ("/static/people.js", "/static/people.js"),
        ("/devices", "/devices"),
        ("/static/devices.js", "/static/devices.js"),
    ] {
        rows.insert(0, row("get", page, path, none.clone(), Rule::Public, false));
    }

    // No route without a row, no row without a route.
    let declared = declared_routes();
    let matrix: BTreeSet<(String, String)> = rows.iter().map(|r| (r.method.to_string(), r.route.to_string())).collect();
    let missing: Vec<_> = declared.difference(&matrix).collect();
    let stale: Vec<_> = matrix.difference(&declared).collect();
    assert!(missing.is_empty(), "routes missing from the access matrix: {missing:?}");
    assert!(stale.is_empty(), "matrix rows for routes that do not exist: {stale:?}");
    // The rules agree with the OpenAPI document.
    let mut r = http().get(&format!("{}/api/v1/openapi.json", server.url())).call().expect("openapi");
    let doc: Value = r.body_mut().read_json().expect("json");
    for row in rows.iter().filter(|r| r.route.starts_with("/api/") || r.route == "/healthz") {
        let op = &doc["paths"][row.route][row.method];
        assert!(op.is_object(), "{} {} is not in the OpenAPI document", row.method, row.route);
        let security = op["security"].to_string();
        let documented = match row.rule {
            Rule::Public => security == "[]",
            Rule::Agent => security.contains("agentToken"),
            _ => security.contains("session"),
        };
        assert!(
            documented,
            "{} {}: documented security {security} disagrees with {:?}",
            row.method, row.route, row.rule
        );
    }

    let sessions: Vec<(Caller, Option<(String, String)>)> = CALLERS
        .iter()
        .map(|&c| {
            let b = match c {
                Caller::Guard => Some(Browser::login(&server, "guard1")),
                Caller::AdminOfAnotherSite => Some(Browser::login(&server, "admin2")),
                Caller::Admin => Some(Browser::login(&server, "admin1")),
                Caller::Superadmin => Some(Browser::login(&server, "super1")),
                Caller::ExpiredSession => None,
                _ => None,
            };
            let creds = match c {
                Caller::ExpiredSession => Some((expired.cookie.clone(), expired.csrf.clone())),
                _ => b.map(|b| (b.cookie, b.csrf)),
            };
            (c, creds)
        })
        .collect();
    let client = http();
    let mut checked = 0;
    let mut failures = Vec::new();
    // Every face served (photo or crop) must be in the audit log, by whom.
    let mut faces_served: Vec<(String, String)> = Vec::new();
    for row in &rows {
        for (caller, session) in &sessions {
            let url = format!("{}{}", server.url(), row.path);
            let mut req = match row.method {
                "get" => client.get(&url).force_send_body(),
                "post" => client.post(&url),
                "put" => client.put(&url),
                "delete" => client.delete(&url).force_send_body(),
                m => panic!("method {m}"),
            };
            if let Some((cookie, csrf)) = session {
                req = req.header("Cookie", cookie).header("X-CSRF-Token", csrf);
            }
            match caller {
                Caller::Agent => req = req.header("Authorization", &format!("Bearer {token1}")),
                Caller::AgentOfAnotherSite => req = req.header("Authorization", &format!("Bearer {token2}")),
                _ => {}
            }
            let status = if row.body.is_null() {
                req.send_empty().expect("request").status().as_u16()
            } else {
                req.send_json(&row.body).expect("request").status().as_u16()
            };
            checked += 1;
            // A face is `/api/v1/faces/{kind}/{id}` (audited as `kind:id`) or one
            // enrolment photo, `/api/v1/people/{id}/photos/{photo}` (as `photo:id`).
            let face = row
                .path
                .strip_prefix("/api/v1/faces/")
                .and_then(|f| f.split_once('/'))
                .map(|(kind, id)| format!("{kind}:{id}"))
                .or_else(|| {
                    let person = row.path.strip_prefix("/api/v1/people/")?.split_once("/photos/")?.0;
                    Some(format!("photo:{person}"))
                });
            if status == 200
                && row.method == "get"
                && let Some(face) = face
            {
                let actor = match caller {
                    Caller::Guard => "guard1",
                    Caller::AdminOfAnotherSite => "admin2",
                    Caller::Admin => "admin1",
                    Caller::Superadmin => "super1",
                    other => panic!("{other:?} was served a face: {}", row.path),
                };
                faces_served.push((actor.to_string(), face));
            }
            let ok = match expected_refusal(row.rule, row.site_scoped, *caller) {
                Some(refused) => refused.contains(&status),
                None => admitted(row.method, row.route, *caller).contains(&status),
            };
            if !ok {
                failures.push(format!(
                    "{} {} as {caller:?}: {status}, expected {}",
                    row.method,
                    row.path,
                    expected_refusal(row.rule, row.site_scoped, *caller).map_or_else(
                        || format!("{:?}, let in", admitted(row.method, row.route, *caller)),
                        |r| format!("{r:?}")
                    )
                ));
            }
        }
    }
    eprintln!("access matrix: {} routes × {} callers = {checked} requests", rows.len(), CALLERS.len());
    assert!(failures.is_empty(), "{} of {checked} answers wrong:\n{}", failures.len(), failures.join("\n"));
    let root = Browser::login(&server, "super1");
    let (status, audit) = root.get("/api/v1/audit?action=face_viewed");
    assert_eq!(status, 200, "{audit}");
    let audit: serde_json::Value = serde_json::from_str(&audit).expect("audit json");
    let mut audited: Vec<(String, String)> = audit["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["actor"].as_str().unwrap_or("").to_string(), r["target"].as_str().unwrap_or("").to_string()))
        .collect();
    audited.sort();
    faces_served.sort();
    assert!(!faces_served.is_empty(), "the matrix served faces to someone");
    assert_eq!(audited, faces_served, "each face served is audited once, with who looked");
    eprintln!("{} faces served, each audited", faces_served.len());
}

#[test]
fn photo_and_crop_ids_cannot_walk_out_of_their_folders() {
    let db = Db::new(Backend::Sqlite, "traversal");
    db.user("super1", "superadmin", "");
    let server = Server::start(&db);
    let admin = Browser::login(&server, "super1");
    for path in [
        "/api/v1/faces/photo/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/v1/faces/photo/..",
        "/api/v1/faces/photo/p1%00.jpg",
        "/api/v1/faces/crop/..%2Fadmin.db",
        "/api/v1/faces/crop/00000000-0000-4000-8000-000000000000%2F..%2F..%2Fadmin.db",
        "/api/v1/faces/crop/%2Fetc%2Fpasswd",
    ] {
        let (status, body) = admin.get(path);
        assert!([400, 404].contains(&status), "{path}: {status}");
        assert!(!body.contains("root:") && !body.contains("SQLite"), "{path} leaked a file");
    }
}
