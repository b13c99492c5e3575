//! The ids-and-fields dimension of access control, real binary on
//! 127.0.0.1, SQLite and PostgreSQL each in its own test: a caller of site A
//! naming objects of site B — in an enrolment's id, a bulk-import row, an
//! event's `person_id` and `passage_id`, an expectation — reaches nothing of
//! B's. (`access.rs` checks who may call a route; this checks what a
//! permitted caller can reach through the ids it supplies.) Also: exports
//! never carry a spreadsheet formula, and edges never receive a CCCD.

mod common;

use common::*;
use serde_json::{Value, json};

/// Site names with `_`, a LIKE wildcard, and a neighbour it would match.
const SITE_A: &str = "gate_a";
const SITE_B: &str = "gate_b";
const SITE_LOOKALIKE: &str = "gateXa";

fn person(id: Option<&str>, name: &str, site: &str) -> Value {
    json!({"id": id, "name": name, "category": "staff", "consent_by": name, "consent_purpose": "staff access",
           "sites": [site]})
}

fn people(b: &Browser) -> Vec<Value> {
    let (status, body) = b.get("/api/v1/people");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("json")
}

fn log_rows(b: &Browser, site: &str) -> Vec<Value> {
    let (status, body) = b.get(&format!("/api/v1/log?site={site}"));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).expect("json")["rows"].as_array().cloned().unwrap_or_default()
}

fn one_site_cannot_reach_another(backend: Backend) {
    let db = Db::new(backend, "cross-site");
    db.user("admin_a", "admin", SITE_A);
    db.user("admin_b", "admin", SITE_B);
    db.user("root", "superadmin", "");
    let token_a = db.agent("agent-a", SITE_A);
    let token_b = db.agent("agent-b", SITE_B);
    let server = Server::start(&db);
    let (a, b, root) =
        (Browser::login(&server, "admin_a"), Browser::login(&server, "admin_b"), Browser::login(&server, "root"));

    // A's people: pa1 (to be attacked) and pa2 (to be deleted).
    let (s, body) = a.enrol(
        json!({"id": "pa1", "name": "Người của A", "category": "staff", "cccd": "001090001234",
               "consent_by": "A", "consent_purpose": "staff access", "sites": [SITE_A]}),
        &[("a.jpg", photo("p01", 1))],
    );
    assert_eq!(s, 200, "{body}");
    let (s, body) = a.enrol(person(Some("pa2"), "Sẽ bị xoá", SITE_A), &[("a.jpg", photo("p02", 1))]);
    assert_eq!(s, 200, "{body}");
    let (s, body) = b.enrol(person(Some("pb1"), "Người của B", SITE_B), &[("b.jpg", photo("p03", 1))]);
    assert_eq!(s, 200, "{body}");

    // 1. Enrolling onto A's id, by form and by import, is refused and changes nothing.
    let (s, body) = b.enrol(person(Some("pa1"), "Kẻ chiếm", SITE_B), &[("x.jpg", photo("p03", 2))]);
    assert_eq!(s, 409, "B took over A's person: {body}");
    let csv = "id,name,category,sites,consent_by,consent_purpose\npa1,Kẻ chiếm,staff,gate_b,B,staff access\n";
    let (s, report) = b.import(csv, &[("pa1.jpg", photo("p03", 2))]);
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["enrolled"], 0, "an import row took over A's person: {report}");
    assert!(report["rows"][0]["error"].as_str().unwrap_or("").contains("already in use"), "{report}");
    let pa1 = people(&a).into_iter().find(|p| p["id"] == "pa1").expect("pa1 still A's");
    assert_eq!((pa1["name"].as_str(), pa1["photos"].as_i64()), (Some("Người của A"), Some(1)), "{pa1}");
    assert_eq!(pa1["sites"], json!([SITE_A]));
    let (_, audit) = root.get("/api/v1/audit?action=cccd_viewed");
    assert!(audit.contains("\"actor\":\"admin_a\""), "reading CCCD numbers is audited: {audit}");
    assert!(!people(&b).iter().any(|p| p["id"] == "pa1"), "B must not see pa1");
    // Deleting someone B cannot see answers exactly as deleting nobody.
    let (s_theirs, theirs) = send(&b, "DELETE", "/api/v1/people/pa1", None);
    let (s_nobody, nobody) = send(&b, "DELETE", "/api/v1/people/zz-none", None);
    assert_eq!((s_theirs, s_nobody), (404, 404), "{theirs} / {nobody}");
    assert_eq!(theirs.replace("pa1", "ID"), nobody.replace("zz-none", "ID"), "the answer tells them apart");
    assert_eq!(b.get("/api/v1/faces/photo/pa1").0, 403, "B must not get A's enrolment photo");
    let r =
        a.agent.get(&format!("{}/api/v1/faces/photo/pa1", a.base)).header("Cookie", &a.cookie).call().expect("photo");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"));
    // Every answer, a JSON refusal too, carries the headers the server adds to all.
    let r = a.agent.get(&format!("{}/api/v1/people/zz-none", a.base)).header("Cookie", &a.cookie).call().expect("get");
    for (name, want) in [("x-content-type-options", "nosniff"), ("referrer-policy", "no-referrer")] {
        assert_eq!(r.headers().get(name).and_then(|v| v.to_str().ok()), Some(want), "{name} on a {}", r.status());
    }
    // Its rightful admin still updates it (another photo).
    let (s, body) = a.enrol(person(Some("pa1"), "Người của A", SITE_A), &[("a2.jpg", photo("p01", 2))]);
    assert_eq!(s, 200, "{body}");
    // A tombstone: no admin re-uses a deleted person's id; a superadmin may.
    let (s, _) = send(&a, "DELETE", "/api/v1/people/pa2", None);
    assert_eq!(s, 200);
    let (s, body) = b.enrol(person(Some("pa2"), "Kẻ chiếm", SITE_B), &[("x.jpg", photo("p03", 2))]);
    assert_eq!(s, 409, "{body}");
    let (s, body) = root.enrol(person(Some("pa2"), "Người mới", SITE_A), &[("n.jpg", photo("p02", 1))]);
    assert_eq!(s, 200, "{body}");

    // 2. An agent of B names A's person: the passage counts, the name is
    // dropped (an edge may be behind a person's move; it must not be
    // stalled, nor name them). A passage of A, or a path: refused.
    let foreign = passage("agent-b", SITE_B, "cam", Some("pa1"), "entry", now_ms());
    let (s, body) = ingest(&server, &token_b, std::slice::from_ref(&foreign));
    assert_eq!(s, 200, "{body}");
    let nobody = anomaly("agent-b", SITE_B, "cam", "watchlist", Some("nobody"), None);
    assert_eq!(ingest(&server, &token_b, std::slice::from_ref(&nobody)).0, 200);
    let stored = db.events();
    for e in [&foreign, &nobody] {
        let kept = stored.iter().find(|x| x["id"] == e["id"]).expect("stored");
        assert!(kept["person_id"].is_null(), "B's token named a person B may not: {kept}");
    }
    let own = passage("agent-a", SITE_A, "cam", Some("pa1"), "entry", now_ms());
    let (s, body) = ingest(&server, &token_a, std::slice::from_ref(&own));
    assert_eq!(s, 200, "{body}");
    let a_passage = own["id"].as_str().expect("id");
    let before = db.events().len();
    for pid in [a_passage, "\"><img src=x onerror=alert(1)>", "../../etc/passwd"] {
        let (s, body) = ingest(&server, &token_b, &[anomaly("agent-b", SITE_B, "cam", "watchlist", None, Some(pid))]);
        assert_eq!(s, 403, "passage_id {pid:?}: {body}");
    }
    assert_eq!(db.events().len(), before, "nothing refused was stored");
    // B's own person and own passage go in, in one batch; an anomaly may
    // also arrive ahead of its passage (it is sent first, by priority).
    let own_b = passage("agent-b", SITE_B, "cam", Some("pb1"), "entry", now_ms());
    let about = anomaly("agent-b", SITE_B, "cam", "watchlist", Some("pb1"), own_b["id"].as_str());
    let (s, body) = ingest(&server, &token_b, &[own_b.clone(), about]);
    assert_eq!(s, 200, "{body}");
    let later = passage("agent-b", SITE_B, "cam", None, "exit", now_ms());
    let ahead = anomaly("agent-b", SITE_B, "cam", "unknown_person", None, later["id"].as_str());
    assert_eq!(ingest(&server, &token_b, &[ahead]).0, 200, "an anomaly ahead of its passage");
    assert_eq!(ingest(&server, &token_b, &[later]).0, 200);

    // Expectations name only a person of that site.
    let (s, body) = send(&a, "PUT", &format!("/api/v1/expectations/{SITE_A}/door"), Some(json!({"person_id": "pb1"})));
    assert_eq!(s, 404, "an expectation named B's person: {body}");

    // The log names a person only at their sites: pa1 moved to a look-alike site.
    assert_eq!(log_rows(&a, SITE_A)[0]["name"], "Người của A");
    let (s, body) = root.enrol(person(Some("pa1"), "Người của A", SITE_LOOKALIKE), &[("a.jpg", photo("p01", 1))]);
    assert_eq!(s, 200, "{body}");
    let row = log_rows(&root, SITE_A).into_iter().find(|r| r["id"] == a_passage).expect("A's passage");
    assert!(row["name"].is_null() && row["cccd"].is_null(), "pa1 is no longer enrolled at {SITE_A}: {row}");

    // 4. CSV export: formulas are text.
    let (s, body) =
        a.enrol(person(Some("evil"), "=HYPERLINK(\"http://x\",\"y\")", SITE_A), &[("e.jpg", photo("p02", 2))]);
    assert_eq!(s, 200, "{body}");
    let (s, body) = ingest(&server, &token_a, &[passage("agent-a", SITE_A, "@cam", Some("evil"), "entry", now_ms())]);
    assert_eq!(s, 200, "{body}");
    let (s, csv) = a.get(&format!("/api/v1/log.csv?site={SITE_A}"));
    assert_eq!(s, 200, "{csv}");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("csv")).collect();
    let evil = rows.iter().find(|r| &r[4] == "evil").expect("the passage of `evil`");
    assert_eq!((&evil[2], &evil[5]), ("'@cam", "'=HYPERLINK(\"http://x\",\"y\")"), "{csv}");
    for r in &rows {
        for cell in r {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "a formula in the export: {cell:?}");
        }
    }

    // 8. Edges never receive a CCCD number.
    let delta = agent_get(&server, &token_a, "/api/v1/gallery?since=0");
    let sent = delta["people"].as_array().expect("people");
    assert!(sent.iter().any(|p| p["person"]["id"] == "pa2"), "{delta}");
    assert!(sent.iter().all(|p| p["person"]["cccd"].is_null()), "a CCCD left for an edge: {delta}");
}

/// A PUT (with a JSON body) or a DELETE as a signed-in user.
fn send(b: &Browser, method: &str, path: &str, body: Option<Value>) -> (u16, String) {
    let url = format!("{}{path}", b.base);
    let response = match body {
        Some(body) => b.agent.put(&url).header("X-CSRF-Token", &b.csrf).header("Cookie", &b.cookie).send_json(body),
        None => {
            assert_eq!(method, "DELETE");
            b.agent.delete(&url).header("X-CSRF-Token", &b.csrf).header("Cookie", &b.cookie).call()
        }
    };
    let mut r = response.expect(method);
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default())
}

#[test]
fn one_site_cannot_reach_another_sqlite() {
    one_site_cannot_reach_another(Backend::Sqlite);
}

#[test]
fn one_site_cannot_reach_another_postgres() {
    one_site_cannot_reach_another(Backend::Postgres);
}
