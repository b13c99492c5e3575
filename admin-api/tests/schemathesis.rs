//! The JSON API fuzzed from its own OpenAPI document by schemathesis (PyPI,
//! installed by `make setup`): hundreds of generated requests as a
//! superadmin and as an edge agent, and not one answer may be a 5xx.

mod common;

use std::process::Command;

use common::*;

fn schemathesis(server: &Server, dir: &std::path::Path, headers: &[String], only: &[&str], skip: &[&str]) -> String {
    let bin = repo().join(".venv/bin/schemathesis");
    assert!(bin.is_file(), "{} missing: run `make setup`", bin.display());
    let mut cmd = Command::new(bin);
    // Its cache goes to the database's scratch folder, not the repository.
    cmd.current_dir(dir)
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", server.url()))
        .args(["--url", &server.url(), "--checks", "not_a_server_error", "--max-examples", "40", "--seed", "7"])
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false");
    for h in headers {
        cmd.args(["-H", h]);
    }
    for p in only {
        cmd.args(["--include-path", p]);
    }
    for p in skip {
        cmd.args(["--exclude-path", p]);
    }
    let out = cmd.output().expect("schemathesis");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "schemathesis found failures:\n{text}");
    text
}

#[test]
fn no_generated_request_gets_a_server_error() {
    let db = Db::new(Backend::Sqlite, "schemathesis");
    db.user("super1", "superadmin", "");
    let token = db.agent("agent-1", "s1");
    let server = Server::start(&db);
    let admin = Browser::login(&server, "super1");
    let session = [format!("Cookie: {}", admin.cookie), format!("X-CSRF-Token: {}", admin.csrf)];
    // The stream never ends and logout would end the session under test.
    let as_admin = schemathesis(&server, &db.dir, &session, &[], &["/api/v1/alerts/stream", "/api/v1/auth/logout"]);
    let agent_paths = ["/api/v1/events", "/api/v1/gallery", "/api/v1/expectations"];
    let as_agent = schemathesis(&server, &db.dir, &[format!("Authorization: Bearer {token}")], &agent_paths, &[]);
    for report in [&as_admin, &as_agent] {
        let line = report.lines().find(|l| l.contains(" generated, ")).unwrap_or("");
        eprintln!("schemathesis: {}", line.trim());
        assert!(line.contains("passed"), "{report}");
    }
}
