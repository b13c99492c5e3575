//! Nothing granted is beyond recall, real binary on 127.0.0.1: a superadmin
//! disables an account (its sessions and live stream end, it cannot sign
//! in), resets a password, ends sessions and revokes an agent's token (refused
//! at its next request); a user changes their own password (other sessions
//! end); the command line does the same; every action is in the audit log.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn me(b: &Browser) -> u16 {
    b.get("/api/v1/auth/me").0
}

fn login_status(server: &Server, username: &str, password: &str) -> u16 {
    http()
        .post(&format!("{}/api/v1/auth/login", server.url()))
        .send_json(json!({"username": username, "password": password}))
        .expect("login")
        .status()
        .as_u16()
}

fn call(b: &Browser, method: &str, path: &str, body: Value) -> (u16, Value) {
    let url = format!("{}{path}", b.base);
    let req = |r: ureq::RequestBuilder<ureq::typestate::WithBody>| {
        r.header("X-CSRF-Token", &b.csrf).header("Cookie", &b.cookie).send_json(&body)
    };
    let mut r = match method {
        "POST" => req(b.agent.post(&url)),
        "PUT" => req(b.agent.put(&url)),
        "DELETE" => b.agent.delete(&url).header("X-CSRF-Token", &b.csrf).header("Cookie", &b.cookie).call(),
        m => panic!("{m}"),
    }
    .expect("request");
    (r.status().as_u16(), r.body_mut().read_json().unwrap_or(Value::Null))
}

fn stream_ends(sse: &mut Sse, within: Duration) -> Option<String> {
    let start = Instant::now();
    let mut last = None;
    while let Some((event, _)) = sse.next(within) {
        last = Some(event);
    }
    (start.elapsed() < within).then_some(last).flatten()
}

#[test]
fn accounts_and_agent_tokens_can_be_revoked() {
    let db = Db::new(Backend::Sqlite, "revocation");
    db.user("super1", "superadmin", "");
    db.user("guard1", "guard", "s1");
    db.user("admin1", "admin", "s1");
    let token = db.agent("agent-1", "s1");
    let server = Server::start(&db);
    let root = Browser::login(&server, "super1");

    // Disable: both sessions and the live stream end; sign-in refused; enable restores it.
    let (g1, g2) = (Browser::login(&server, "guard1"), Browser::login(&server, "guard1"));
    let mut sse = Sse::open(&server, &g1, None).expect("stream");
    assert_eq!(call(&root, "POST", "/api/v1/users/guard1/disable", json!({})).0, 200);
    assert_eq!((me(&g1), me(&g2)), (401, 401), "sessions outlived the account");
    assert_eq!(stream_ends(&mut sse, Duration::from_secs(12)).as_deref(), Some("signed_out"));
    assert_eq!(login_status(&server, "guard1", &password("guard1")), 401);
    assert_eq!(call(&root, "POST", "/api/v1/users/super1/disable", json!({})).0, 409, "no self lock-out");
    assert_eq!(call(&root, "POST", "/api/v1/users/guard1/enable", json!({})).0, 200);
    let g3 = Browser::login(&server, "guard1");

    // End sessions, then a reset password: sessions end, only the new password works.
    assert_eq!(call(&root, "DELETE", "/api/v1/users/guard1/sessions", json!({})).0, 200);
    assert_eq!(me(&g3), 401);
    let g4 = Browser::login(&server, "guard1");
    let (s, body) = call(&root, "PUT", "/api/v1/users/guard1/password", json!({"password": "short"}));
    assert_eq!(s, 400, "the password policy holds for resets: {body}");
    assert_eq!(call(&root, "PUT", "/api/v1/users/guard1/password", json!({"password": "a-new-password-42"})).0, 200);
    assert_eq!(me(&g4), 401);
    assert_eq!(login_status(&server, "guard1", &password("guard1")), 401);
    assert_eq!(login_status(&server, "guard1", "a-new-password-42"), 200);

    // One's own password: the current one is required; other sessions end, this one stays.
    let (a1, a2) = (Browser::login(&server, "admin1"), Browser::login(&server, "admin1"));
    let change = |current: &str| json!({"current": current, "new": "admin1-changed-pw-7"});
    assert_eq!(call(&a1, "POST", "/api/v1/auth/password", change("wrong-password-00")).0, 403);
    assert_eq!(call(&a1, "POST", "/api/v1/auth/password", change(&password("admin1"))).0, 200);
    assert_eq!((me(&a1), me(&a2)), (200, 401));

    // An agent's token: refused from its next request on.
    let batch = [passage("agent-1", "s1", "gate1", None, "entry", now_ms())];
    assert_eq!(ingest(&server, &token, &batch).0, 200);
    assert_eq!(call(&root, "POST", "/api/v1/agents/agent-1/revoke", json!({})).0, 200);
    let batch = [passage("agent-1", "s1", "gate1", None, "entry", now_ms())];
    assert_eq!(ingest(&server, &token, &batch).0, 401, "a revoked token still ingests");
    let (s, agents) = root.get("/api/v1/agents");
    assert!(s == 200 && agents.contains("\"revoked_ms\":1"), "{agents}");
    // A replaced gate box is registered again under its id, with a new token.
    let (ok, _, err) = db.cli_raw(&["add-agent", "--id", "agent-1", "--site", "s1"], &[]);
    assert!(ok, "{err}");
    let (ok, _, err) = db.cli_raw(&["add-agent", "--id", "agent-1", "--site", "s1"], &[]);
    assert!(!ok && err.contains("revoke it first"), "a valid token replaced silently: {err}");

    // The command line: a second agent revoked, admin1 disabled.
    let token2 = db.agent("agent-2", "s1");
    db.cli(&["revoke-agent", "--id", "agent-2"]);
    assert_eq!(ingest(&server, &token2, &[passage("agent-2", "s1", "g", None, "entry", now_ms())]).0, 401);
    db.cli(&["user", "--username", "admin1", "disable"]);
    assert_eq!(me(&a1), 401);

    let (_, audit) = root.get("/api/v1/audit");
    for action in
        ["user_disabled", "user_enabled", "sessions_ended", "password_reset", "password_changed", "agent_revoked"]
    {
        assert!(audit.contains(&format!("\"action\":\"{action}\"")), "{action} not audited: {audit}");
    }
}
