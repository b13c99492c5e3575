//! A damaged gallery cache or outbox at start: the agent refuses to start,
//! names the folder and says what to do — never a panic or a restart loop
//! that eats the evidence — and starts again once the folder is moved aside.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("agent.toml");
    let text = format!(
        "[agent]\nid = \"a1\"\nsite = \"s1\"\ndata_dir = \"{}\"\n[admin_api]\nurl = \"http://127.0.0.1:{}\"\ntoken = \"t\"\n\
         [ops]\nlisten = \"\"\n[[camera]]\nid = \"gate1\"\ngate = \"gate1\"\nurl = \"rtsp://127.0.0.1:{}/none\"\n\
         line = {{ a = [0.0, 0.5], b = [1.0, 0.5], inside = \"below\" }}\n",
        dir.join("data").display(),
        free_port(),
        free_port()
    );
    std::fs::write(&path, text).expect("config");
    path
}

/// Runs the agent until it exits (or `limit`, then SIGTERM): (exited by itself, success, stderr).
fn run(config: &std::path::Path, limit: Duration) -> (bool, bool, String) {
    let mut child = Command::new(agent_bin())
        .env("NO_COLOR", "1")
        .args(["run", "--drain-secs", "1", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("agent");
    let until = Instant::now() + limit;
    let mut by_itself = true;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() >= until {
            by_itself = false;
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            std::thread::sleep(Duration::from_secs(3));
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    (by_itself, out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn damage(folder: &std::path::Path) {
    for entry in std::fs::read_dir(folder).expect("folder") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::write(&path, vec![0xa5u8; 4096]).expect("overwrite");
        }
    }
}

#[test]
fn a_damaged_gallery_or_outbox_stops_the_agent_with_what_to_do() {
    let dir = scratch("damaged-state").expect("a scratch folder");
    let config = config(&dir);
    let (by_itself, _, stderr) = run(&config, Duration::from_secs(4));
    assert!(!by_itself && stderr.contains("outbox opened"), "a first, healthy start: {stderr}");
    let data = dir.join("data");

    damage(&data.join("gallery"));
    let (by_itself, ok, stderr) = run(&config, Duration::from_secs(15));
    assert!(by_itself && !ok, "a damaged gallery cache stops the agent: {stderr}");
    assert!(
        stderr.contains("gallery") && stderr.contains("cannot be opened") && stderr.contains("resyncs"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // The documented recovery: the gallery is a cache; delete it.
    std::fs::remove_dir_all(data.join("gallery")).expect("remove");
    damage(&data.join("outbox"));
    let (by_itself, ok, stderr) = run(&config, Duration::from_secs(15));
    assert!(by_itself && !ok, "a damaged outbox stops the agent: {stderr}");
    assert!(stderr.contains("outbox") && stderr.contains("move the folder aside"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    std::fs::rename(data.join("outbox"), dir.join("outbox.damaged")).expect("move aside");
    let (by_itself, _, stderr) = run(&config, Duration::from_secs(4));
    assert!(!by_itself && stderr.contains("outbox opened"), "starts again after the recovery: {stderr}");
}
