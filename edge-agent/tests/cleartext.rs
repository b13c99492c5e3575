//! The agent's token, face crops and embeddings never cross a network in
//! clear by accident: `edge-agent run` refuses `http://` to another machine
//! at start, naming the field and the way out; loopback is fine, and
//! `insecure_http = true` allows it (logged as INSECURE).

mod common;

use std::process::Command;

use common::*;

fn check(dir: &std::path::Path, url: &str, extra: &str) -> (bool, String) {
    let f = fixture("s01_walk_in_720p");
    let cams = [Cam { id: "gate", url: f.video.display().to_string(), fixture: &f, extra: "" }];
    let config = agent_config(dir, url, "t", &cams, "");
    if !extra.is_empty() {
        let text = std::fs::read_to_string(&config).expect("config");
        std::fs::write(&config, text.replacen("batch_size = 20\n", &format!("batch_size = 20\n{extra}\n"), 1))
            .expect("config");
    }
    let out = Command::new(agent_bin())
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .args(["run", "--drain-secs", "0", "--config"])
        .arg(&config)
        .output()
        .expect("agent");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn plain_http_to_another_machine_is_refused_at_start() {
    let dir = scratch("cleartext").expect("a scratch folder");
    let (ok, err) = check(&dir, "http://0.0.0.0:1", "");
    assert!(!ok, "the agent started with a cleartext API address");
    assert!(err.contains("admin_api.url") && err.contains("insecure_http") && err.contains("https://"), "{err}");
    // Allowed when asked for, loudly (0.0.0.0 is not loopback by name, and
    // refuses at once: nothing listens on port 1); the API unreachable, the
    // events wait in the outbox and the agent exits after its recording.
    let (ok, err) = check(&dir, "http://0.0.0.0:1", "insecure_http = true");
    assert!(ok && err.contains("INSECURE"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
