//! The fleet API with a real admin-api process, on SQLite and PostgreSQL:
//! heartbeats, `edge_offline` raised once and `edge_online` on return, the
//! camera set versioned with passwords never shown back, snapshots only on
//! request, and each admin limited to their sites' agents.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn beat(cameras: Value, config_version: u64) -> Value {
    json!({
        "agent_version": "0.1.0", "started_ms": now_ms() - 1000, "sent_ms": now_ms(),
        "cameras": cameras, "outbox_backlog": 3, "outbox_oldest_ms": now_ms() - 4000,
        "gallery_version": 7, "config_version": config_version, "disk_free_bytes": 1_000_000_000u64
    })
}

fn camera(id: &str, url: &str, inside: &str, state: &str) -> Value {
    json!({
        "spec": {"id": id, "gate": "main", "url": url, "line": {"a": [0.0, 0.5], "b": [1.0, 0.5], "inside": inside}},
        "state": state, "reason": null, "fps": 12.5, "dropped_frames": 0
    })
}

fn agent_call(server: &Server, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", server.url());
    let auth = format!("Bearer {token}");
    let mut r = match method {
        "POST" => http().post(&url).header("Authorization", &auth).send_json(body.unwrap_or(Value::Null)),
        _ => http().get(&url).header("Authorization", &auth).call(),
    }
    .expect("request");
    (r.status().as_u16(), r.body_mut().read_json().unwrap_or(Value::Null))
}

fn put_snapshot(server: &Server, token: &str, camera: &str, bytes: &[u8]) -> u16 {
    http()
        .put(&format!("{}/api/v1/agent/snapshots/{camera}", server.url()))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "image/jpeg")
        .send(bytes)
        .expect("put")
        .status()
        .as_u16()
}

fn anomalies(db: &Db, kind: &str) -> Vec<Value> {
    db.events().into_iter().filter(|e| e["type"] == "anomaly" && e["kind"] == kind).collect()
}

fn heartbeats_camera_sets_snapshots_and_offline_alerts(backend: Backend) {
    let db = Db::new(backend, "fleet-api");
    db.user("admin1", "admin", "s1");
    db.user("admin2", "admin", "s2");
    db.user("guard1", "guard", "s1");
    let token = db.agent("box-1", "s1");
    let server = Server::start_with(&db, &["--edge-offline-after-secs", "2"]);
    let secret = "rtsp://admin:Cam%40Pass1@10.0.0.5:554/Streaming/101";

    // A heartbeat: stored, answered with "no central set, no snapshot".
    let cams = json!([camera("gate1", secret, "below", "up"), camera("gate2", "rtsp://10.0.0.6/x", "below", "down")]);
    let (s, reply) = agent_call(&server, &token, "POST", "/api/v1/agent/heartbeat", Some(beat(cams.clone(), 0)));
    assert_eq!((s, reply), (200, json!({"config_version": 0, "snapshots": []})), "{backend:?}");
    assert_eq!(agent_call(&server, "wrong", "POST", "/api/v1/agent/heartbeat", Some(beat(cams.clone(), 0))).0, 401);

    // The admin of the site sees it (no password anywhere); others do not.
    let admin = Browser::login(&server, "admin1");
    let (_, body) = admin.get("/api/v1/devices");
    assert!(!body.contains("Cam%40Pass1"), "a camera password is never shown: {body}");
    let view: Value = serde_json::from_str(&body).expect("json");
    let a = &view["sites"][0]["agents"][0];
    assert_eq!((a["id"].as_str(), a["online"].as_bool()), (Some("box-1"), Some(true)), "{view}");
    assert_eq!(a["heartbeat"]["cameras"][0]["spec"]["url"], "rtsp://admin:***@10.0.0.5:554/Streaming/101");
    let (_, other) = Browser::login(&server, "admin2").get("/api/v1/devices");
    assert_eq!(serde_json::from_str::<Value>(&other).expect("json")["sites"], json!([]));
    assert_eq!(Browser::login(&server, "guard1").get("/api/v1/devices").0, 403);
    let admin2 = Browser::login(&server, "admin2");
    let edit = json!({"id": "gate1", "gate": "main", "url": "rtsp://admin:***@10.0.0.5:554/Streaming/101",
                      "line": {"a": [0.0, 0.5], "b": [1.0, 0.5], "inside": "above"}});
    assert_eq!(admin2.call("PUT", "/api/v1/devices/box-1/cameras/gate1", Some(edit.clone())).0, 404);

    // The first edit takes the cameras over from the agent's report; the
    // hidden password keeps the one held; the agent gets version 1.
    let (s, set) = admin.call("PUT", "/api/v1/devices/box-1/cameras/gate1", Some(edit.clone()));
    assert_eq!(s, 200, "{set}");
    assert_eq!(set["version"], 1);
    assert_eq!(set["cameras"].as_array().map(Vec::len), Some(2), "gate2 kept: {set}");
    let (_, reply) = agent_call(&server, &token, "POST", "/api/v1/agent/heartbeat", Some(beat(cams.clone(), 0)));
    assert_eq!(reply["config_version"], 1);
    let (_, agent_set) = agent_call(&server, &token, "GET", "/api/v1/agent/cameras", None);
    assert_eq!(agent_set["cameras"][0]["url"], secret, "the agent gets the real password");
    assert_eq!(agent_set["cameras"][0]["line"]["inside"], "above");
    // Invalid edits are refused with the field named; nothing changes.
    let mut bad = edit.clone();
    bad["line"]["inside"] = json!("left");
    let (s, e) = admin.call("PUT", "/api/v1/devices/box-1/cameras/gate1", Some(bad));
    assert_eq!(s, 400, "{e}");
    assert!(e["error"].as_str().unwrap_or("").contains("line"), "{e}");
    let mut new_cam = edit.clone();
    new_cam["id"] = json!("gate3");
    new_cam["url"] = json!("rtsp://admin:***@10.0.0.7/x");
    let (s, e) = admin.call("PUT", "/api/v1/devices/box-1/cameras/gate3", Some(new_cam));
    assert_eq!(s, 400, "no password held for a new camera: {e}");
    // The password held goes nowhere else: another host, or a file.
    for url in ["rtsp://admin:***@attacker.example:554/Streaming/101", "file://admin:***@x/etc/passwd"] {
        let mut moved = edit.clone();
        moved["url"] = json!(url);
        let (s, e) = admin.call("PUT", "/api/v1/devices/box-1/cameras/gate1", Some(moved));
        assert_eq!(s, 400, "{url}: {e}");
        assert!(!e.to_string().contains("Cam%40Pass1"), "{e}");
    }
    let mut file = edit.clone();
    file["url"] = json!("file:///etc/shadow");
    assert_eq!(admin.call("PUT", "/api/v1/devices/box-1/cameras/gate1", Some(file)).0, 400);
    // An agent that never reported: its own cameras are unknown, so no
    // central set may silently replace them.
    db.agent("box-2", "s1");
    let (s, e) = admin.call("PUT", "/api/v1/devices/box-2/cameras/gate1", Some(edit.clone()));
    assert_eq!(s, 409, "{e}");
    let (s, set) = admin.call("DELETE", "/api/v1/devices/box-1/cameras/gate2", None);
    assert_eq!((s, set["version"].clone()), (200, json!(2)), "{set}");
    let audit = db.cli(&["verify-audit"]);
    assert!(audit.contains("\"problems\":[]"), "{audit}");

    // Snapshots: only one asked for is taken, and only a JPEG.
    let jpeg = photo("p01", 1);
    assert_eq!(put_snapshot(&server, &token, "gate1", &jpeg), 409, "nobody asked");
    let (s, _) = admin.call("POST", "/api/v1/devices/box-1/cameras/gate1/snapshot", None);
    assert_eq!(s, 200);
    assert_eq!(admin.get("/api/v1/devices/box-1/cameras/gate1/snapshot").0, 404, "not there yet");
    let (_, reply) = agent_call(&server, &token, "POST", "/api/v1/agent/heartbeat", Some(beat(cams.clone(), 2)));
    assert_eq!(reply["snapshots"], json!(["gate1"]));
    assert_eq!(put_snapshot(&server, &token, "gate1", b"<html>not a picture</html>"), 422);
    assert_eq!(put_snapshot(&server, &token, "gate1", &jpeg), 200);
    let mut r = http()
        .get(&format!("{}/api/v1/devices/box-1/cameras/gate1/snapshot", server.url()))
        .header("Cookie", &admin.cookie)
        .call()
        .expect("snapshot");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.body_mut().read_to_vec().expect("bytes"), jpeg, "the picture the agent sent");
    let (_, reply) = agent_call(&server, &token, "POST", "/api/v1/agent/heartbeat", Some(beat(cams.clone(), 2)));
    assert_eq!(reply["snapshots"], json!([]), "delivered: not asked again");
    assert_eq!(put_snapshot(&server, &token, "gate1", &jpeg), 409, "a delivered request takes no more pictures");

    // Agents may not raise the API's own kinds.
    let forged = anomaly("box-1", "s1", "", "edge_offline", None, None);
    assert_eq!(ingest(&server, &token, &[forged]).0, 400);

    // Silence: `edge_offline` once (the watch runs every second), then
    // `edge_online` when it reports again.
    let until = Instant::now() + Duration::from_secs(10);
    while anomalies(&db, "edge_offline").is_empty() {
        assert!(Instant::now() < until, "{backend:?}: no edge_offline after 2 s of silence");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(2500));
    let offline = anomalies(&db, "edge_offline");
    assert_eq!(offline.len(), 1, "raised once: {offline:?}");
    assert_eq!((offline[0]["agent"].as_str(), offline[0]["site"].as_str()), (Some("box-1"), Some("s1")));
    let (_, body) = admin.get("/api/v1/devices");
    assert!(body.contains("\"online\":false"), "{body}");
    agent_call(&server, &token, "POST", "/api/v1/agent/heartbeat", Some(beat(cams.clone(), 2)));
    assert_eq!(anomalies(&db, "edge_online").len(), 1);
    // A revoked agent's silence is expected: no alert.
    db.cli(&["revoke-agent", "--id", "box-1"]);
    std::thread::sleep(Duration::from_millis(3500));
    assert_eq!(anomalies(&db, "edge_offline").len(), 1, "{backend:?}: a revoked agent raises nothing");
    // Registered again for another site: nothing of the old box (camera
    // passwords, status) passes to it.
    let token = db.agent("box-1", "s2");
    let (_, set) = agent_call(&server, &token, "GET", "/api/v1/agent/cameras", None);
    assert_eq!(set, json!({"version": 0, "cameras": []}), "{backend:?}");
    let (_, body) = Browser::login(&server, "admin2").get("/api/v1/devices");
    assert!(!body.contains("Cam%40Pass1") && !body.contains("10.0.0.5"), "{body}");
}

crate::on_each_backend!(heartbeats_camera_sets_snapshots_and_offline_alerts,);
