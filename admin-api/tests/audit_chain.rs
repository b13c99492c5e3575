//! The audit log cannot be erased or edited unnoticed, real binary on
//! PostgreSQL: retention refuses to keep it under three years; `admin-api
//! verify-audit` passes on an intact log and names the row when one is
//! altered, removed from the middle or from the end; a retention purge of
//! the oldest rows is told apart from tampering.

mod common;

use common::*;
use serde_json::json;

fn verify(db: &Db) -> (bool, String) {
    let (ok, out, err) = db.cli_raw(&["verify-audit"], &[]);
    (ok, format!("{out}{err}"))
}

/// A log with some history: sign-ins, a refused retention change, an audit view.
fn some_history(db: &Db) -> Server {
    db.user("root", "superadmin", "");
    let server = Server::start(db);
    for _ in 0..3 {
        Browser::login(&server, "root");
    }
    let root = Browser::login(&server, "root");
    let mut r = root
        .agent
        .put(&format!("{}/api/v1/retention", server.url()))
        .header("X-CSRF-Token", &root.csrf)
        .header("Cookie", &root.cookie)
        .send_json(json!({"audit": 1}))
        .expect("put");
    let answer = r.body_mut().read_to_string().unwrap_or_default();
    assert_eq!(r.status(), 400, "the audit log may not be kept one day: {answer}");
    assert!(answer.contains("1095"), "{answer}");
    assert_eq!(root.get("/api/v1/audit").0, 200);
    server
}

#[test]
fn tampering_with_the_audit_log_is_evident() {
    let db = Db::new(Backend::Postgres, "audit-chain");
    let _server = some_history(&db);
    let (ok, out) = verify(&db);
    assert!(ok && out.contains("\"problems\":[]"), "an intact log: {out}");

    // An edited row.
    db.psql("UPDATE audit SET actor = 'someone-else' WHERE seq = 2");
    let (ok, out) = verify(&db);
    assert!(!ok && out.contains("row 2") && out.contains("altered"), "{out}");
    db.psql("UPDATE audit SET actor = 'root' WHERE seq = 2");
    assert!(verify(&db).0, "restored");

    // A row removed from the middle.
    db.psql("DELETE FROM audit WHERE seq = 3");
    let (ok, out) = verify(&db);
    assert!(!ok && out.contains("missing"), "{out}");

    // The newest rows removed (a fresh log).
    let db = Db::new(Backend::Postgres, "audit-chain-tail");
    let _server = some_history(&db);
    db.psql("DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)");
    let (ok, out) = verify(&db);
    assert!(!ok && out.contains("newest rows are missing"), "{out}");
}

#[test]
fn retention_removes_only_old_rows_and_says_where_the_chain_starts() {
    let db = Db::new(Backend::Postgres, "audit-retention");
    let _server = some_history(&db);
    // The first three rows are four years old (dated back; their hashes are
    // broken too, but retention removes them).
    db.psql("UPDATE audit SET at_ms = 1 WHERE seq <= 3");
    let purged: serde_json::Value =
        serde_json::from_str(db.cli(&["purge", "--data", db.dir.join("data").to_str().expect("utf8")]).trim())
            .expect("json");
    assert_eq!(purged["audit"], 3, "{purged}");
    let (ok, out) = verify(&db);
    assert!(ok, "a purged log is intact from its new start: {out}");
    assert!(out.contains("\"first_seq\":4"), "{out}");
    // Removing the next row by hand is not retention.
    db.psql("DELETE FROM audit WHERE seq = 4");
    let (ok, out) = verify(&db);
    assert!(!ok && out.contains("retention removed rows only through 3"), "{out}");
}
