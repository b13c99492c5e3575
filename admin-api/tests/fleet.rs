//! The fleet from one screen, end to end with real processes: the admin
//! API, an edge agent pulling two cameras over a real RTSP server, and
//! headless Chromium.
//!
//! - the devices page lists the agent's cameras with live status;
//! - a counting line drawn on a camera's snapshot reaches the agent, which
//!   applies it without a restart: passages that counted as entries count
//!   as exits;
//! - every alert about a known person shows the face and the enrolled photo;
//! - the agent killed → `edge_offline` on a guard's screen within the
//!   configured time + 5 s, and in the fleet's Prometheus metrics;
//! - no untranslated identifier on these pages in Vietnamese.

mod common;

use std::time::{Duration, Instant};

use common::web::*;
use common::*;
use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

/// A fixture's video looped `times` (a live camera for minutes).
fn looped_scene(db: &Db, scene: &str, times: u32) -> std::path::PathBuf {
    let video = repo().join(format!("fixtures/{scene}/video.mp4"));
    looped(&video, times, &db.dir.join(format!("{scene}-loop.mp4"))).expect("ffmpeg loop")
}

fn events_of(db: &Db, camera: &str, kind: &str) -> Vec<Value> {
    db.events().into_iter().filter(|e| e["camera"] == camera && e["type"] == kind).collect()
}

fn agent_view(admin: &Browser) -> Value {
    let (status, body) = admin.get("/api/v1/devices");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    v["sites"][0]["agents"][0].clone()
}

/// Clicks at a point of an element given as fractions of its box, as a
/// mouse does (scrolled into view first; viewport coordinates).
async fn click_at(c: &Client, id: &str, fx: f64, fy: f64) {
    let at = js(
        c,
        &format!(
            "const e = document.getElementById('{id}'); e.scrollIntoView({{block: 'center'}});
             const r = e.getBoundingClientRect(); return [r.left + {fx} * r.width, r.top + {fy} * r.height]"
        ),
    )
    .await;
    let (x, y) = (at[0].as_f64().expect("x").round(), at[1].as_f64().expect("y").round());
    let actions = MouseActions::new("mouse".to_string())
        .then(PointerAction::MoveTo { duration: None, x, y })
        .then(PointerAction::Down { button: fantoccini::actions::MOUSE_BUTTON_LEFT })
        .then(PointerAction::Up { button: fantoccini::actions::MOUSE_BUTTON_LEFT });
    c.perform_actions(actions).await.expect("click");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_cameras_lines_and_edge_offline_from_one_screen() {
    let db = Db::new(Backend::Sqlite, "fleet");
    db.user("guard1", "guard", "s1");
    db.user("admin1", "admin", "s1");
    db.user("admin2", "admin", "s2");
    db.user("root", "superadmin", "");
    let token = db.agent("agent-1", "s1");
    let data = db.dir.join("data");
    db.cli(&["enrol-fixture", "fixtures/s05_watchlist_720p", "--data", data.to_str().expect("utf8")]);
    const OFFLINE_AFTER_S: u64 = 4;
    let metrics_port = free_port();
    let server = Server::start_with(
        &db,
        &[
            "--edge-offline-after-secs",
            &OFFLINE_AFTER_S.to_string(),
            "--metrics-listen",
            &format!("127.0.0.1:{metrics_port}"),
        ],
    );
    // Two live cameras: people walking in at gate1 (one every 6 s), the
    // watch-listed person coming and going at gate2.
    let walk_in = looped_scene(&db, "s01_walk_in_720p", 40);
    let watchlist = looped_scene(&db, "s05_watchlist_720p", 20);
    let rtsp = RtspServer::start(0, &["--shared"], &[("gate1", &walk_in), ("gate2", &watchlist)]).expect("RTSP server");
    let urls = &rtsp.urls;
    let ops_port = free_port();
    let config = db.dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\nid = \"agent-1\"\nsite = \"s1\"\ndata_dir = \"{}\"\n\
             [admin_api]\nurl = \"{}\"\ntoken = \"{token}\"\n\
             [sync]\ninterval_s = 1\n[heartbeat]\ninterval_ms = 1000\n[ops]\nlisten = \"127.0.0.1:{ops_port}\"\n\
             [[camera]]\nid = \"gate1\"\ngate = \"main-gate\"\nurl = \"{}\"\n\
             line = {{ a = [0.0, 0.55], b = [1.0, 0.55], inside = \"below\" }}\n\
             [[camera]]\nid = \"gate2\"\ngate = \"side-gate\"\nurl = \"{}\"\n\
             line = {{ a = [0.0, 0.55], b = [1.0, 0.55], inside = \"below\" }}\n",
            db.dir.join("agent").display(),
            server.url(),
            urls[0],
            urls[1]
        ),
    )
    .expect("agent config");
    let mut agent = testkit::agent::start(&config, 0, "info").expect("edge-agent starts");
    let admin = Browser::login(&server, "admin1");
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let a = agent_view(&admin);
        let states: Vec<&str> = a["heartbeat"]["cameras"]
            .as_array()
            .map(|c| c.iter().filter_map(|c| c["state"].as_str()).collect())
            .unwrap_or_default();
        if a["online"] == true && states == ["up", "up"] {
            break;
        }
        assert!(Instant::now() < until, "the agent's cameras never reported up: {a}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Another site's admin sees nothing of it.
    let other = Browser::login(&server, "admin2");
    let (_, body) = other.get("/api/v1/devices");
    assert_eq!(serde_json::from_str::<Value>(&body).expect("json")["sites"], json!([]), "{body}");

    let driver = chromedriver();
    // ---- the devices page: the agent's cameras, live.
    let c = browser(&driver).await;
    sign_in(&c, &server, "admin1").await;
    c.goto(&format!("{}/devices", server.url())).await.expect("goto");
    wait_for(
        &c,
        "return ['gate1', 'gate2'].map(id => (document.querySelector(`tr[data-camera='${id}'] .badge`) || {}).dataset?.state || '')",
        json!(["up", "up"]),
        Duration::from_secs(10),
        "both cameras shown up",
    )
    .await;
    let card = js(&c, "return document.querySelector('[data-agent=\"agent-1\"]').innerText").await;
    assert!(card.as_str().unwrap_or("").contains("Đang hoạt động"), "{card}");
    assert_eq!(untranslated(&c).await, Vec::<String>::new(), "devices page");
    screenshot_both(&c, "devices").await;

    // ---- a line drawn on the snapshot changes which way passages count.
    let until = Instant::now() + Duration::from_secs(30);
    while !events_of(&db, "gate1", "passage").iter().any(|e| e["direction"] == "entry") {
        assert!(Instant::now() < until, "no entry at gate1 with the file's line; agent log:\n{}", agent.tail(40));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        events_of(&db, "gate1", "passage").iter().all(|e| e["direction"] == "entry"),
        "people only walk in at gate1"
    );
    c.find(Locator::Css("tr[data-camera='gate1'] button.edit-camera"))
        .await
        .expect("edit")
        .click()
        .await
        .expect("click");
    c.find(Locator::Id("snapshot-button")).await.expect("snapshot").click().await.expect("click");
    wait_for(
        &c,
        "return document.getElementById('snapshot').dataset.loaded || ''",
        json!("true"),
        Duration::from_secs(20),
        "the snapshot arrived",
    )
    .await;
    // The same line, the inside now above it: walking in becomes leaving.
    click_at(&c, "line-overlay", 0.02, 0.55).await;
    click_at(&c, "line-overlay", 0.98, 0.55).await;
    click_at(&c, "line-overlay", 0.5, 0.2).await;
    let text = js(&c, "return document.getElementById('line-text').textContent").await;
    assert!(text.as_str().unwrap_or("").contains("phía trên vạch"), "{text}");
    screenshot_both(&c, "devices-line-editor").await;
    c.find(Locator::Id("camera-save")).await.expect("save").click().await.expect("click");
    wait_for(
        &c,
        "return document.getElementById('camera-ok').dataset.version || document.getElementById('camera-error').textContent",
        json!("1"),
        Duration::from_secs(10),
        "the camera set saved as version 1",
    )
    .await;
    let started_ms = agent_view(&admin)["heartbeat"]["started_ms"].clone();
    let until = Instant::now() + Duration::from_secs(15);
    while agent_view(&admin)["heartbeat"]["config_version"] != 1 {
        assert!(Instant::now() < until, "the agent never ran version 1");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let applied_ms = now_ms();
    let a = agent_view(&admin);
    assert_eq!(a["heartbeat"]["started_ms"], started_ms, "applied without restarting the agent");
    let line = &a["heartbeat"]["cameras"][0]["spec"]["line"];
    assert_eq!(line["inside"], "above", "{a}");
    assert!((line["a"][1].as_f64().unwrap_or(0.0) - 0.55).abs() < 0.02, "{line}");
    let until = Instant::now() + Duration::from_secs(40);
    let after = loop {
        let after: Vec<Value> = events_of(&db, "gate1", "passage")
            .into_iter()
            .filter(|e| e["created_ms"].as_i64().unwrap_or(0) > applied_ms + 500)
            .collect();
        if after.len() >= 2 {
            break after;
        }
        assert!(Instant::now() < until, "no passages at gate1 after the new line: {after:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let directions: Vec<&str> = after.iter().filter_map(|e| e["direction"].as_str()).collect();
    assert!(directions.iter().all(|d| *d == "exit"), "walking in counts as leaving now: {directions:?}");
    let audit = db.cli(&["verify-audit"]);
    assert!(audit.contains("\"problems\":[]"), "{audit}");

    // ---- the guard: every alert about a known person shows both faces.
    let guard = browser(&driver).await;
    sign_in(&guard, &server, "guard1").await;
    wait_for(
        &guard,
        "return document.querySelectorAll('.alert[data-kind=\"watchlist\"]').length > 0",
        json!(true),
        Duration::from_secs(40),
        "a watch-list alert from the live camera",
    )
    .await;
    let both = "return Array.from(document.querySelectorAll('.alert')).filter(a => a.querySelectorAll('img')[1]?.getAttribute('src'))
        .map(a => Array.from(a.querySelectorAll('img')).every(i => i.complete && i.naturalWidth > 0))";
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let shown = js(&guard, both).await;
        let all = shown.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(|v| v == true));
        if all {
            break;
        }
        assert!(Instant::now() < until, "every alert about a known person shows the face and the photo: {shown}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(untranslated(&guard).await, Vec::<String>::new(), "alerts page");

    // ---- people: found by CCCD, edited, deleted — and gone from the edge.
    let edge_people = || -> i64 {
        let page = testkit::metrics::fetch(&format!("http://127.0.0.1:{ops_port}/metrics"));
        testkit::metrics::value(&page, "gatewatch_agent_gallery_people").map_or(-1, |v| v as i64)
    };
    assert_eq!(edge_people(), 9, "the edge holds the fixture's nine people");
    let root = browser(&driver).await;
    sign_in(&root, &server, "root").await;
    root.goto(&format!("{}/people", server.url())).await.expect("goto");
    root.wait().for_element(Locator::Id("p-q")).await.expect("search").send_keys("035192004518").await.expect("type");
    root.find(Locator::Id("people-search")).await.expect("search").click().await.expect("click");
    wait_for(
        &root,
        "return Array.from(document.querySelectorAll('#people-table tbody tr')).map(r => r.innerText.split('\t')[0])",
        json!(["Trần Thị Bình"]),
        Duration::from_secs(10),
        "the CCCD finds exactly one person",
    )
    .await;
    assert_eq!(untranslated(&root).await, Vec::<String>::new(), "people page");
    screenshot_both(&root, "people").await;
    root.find(Locator::Css("#people-table tbody tr a")).await.expect("row").click().await.expect("click");
    wait_for(
        &root,
        "return !document.getElementById('person-main').hidden && document.querySelectorAll('#person-photos img').length > 0",
        json!(true),
        Duration::from_secs(10),
        "the person's page with photos",
    )
    .await;
    assert_eq!(untranslated(&root).await, Vec::<String>::new(), "person page");
    screenshot_both(&root, "person").await;
    // Enrolled from a fixture with no consent record: the edit records it.
    js(
        &root,
        "document.getElementById('e-host').value = 'Phòng Văn hóa';
         document.getElementById('e-consent-by').value = 'Trần Thị Bình';
         document.getElementById('e-consent-purpose').value = 'kiểm soát ra vào'",
    )
    .await;
    root.find(Locator::Css("#edit-form button[type='submit']")).await.expect("save").click().await.expect("click");
    wait_for(
        &root,
        "return document.getElementById('e-ok').textContent.length > 0 || document.getElementById('e-error').title",
        json!(true),
        Duration::from_secs(10),
        "the edit saved",
    )
    .await;
    let (_, p02) = Browser::login(&server, "root").get("/api/v1/people/p02");
    assert!(p02.contains("Phòng Văn hóa"), "{p02}");
    root.find(Locator::Id("delete")).await.expect("delete").click().await.expect("click");
    root.accept_alert().await.expect("confirm the deletion");
    let until = Instant::now() + Duration::from_secs(15);
    while edge_people() != 8 {
        assert!(Instant::now() < until, "the deleted person is still in the edge's gallery: {}", edge_people());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(Browser::login(&server, "root").get("/api/v1/people/p02").0, 404);
    root.close().await.expect("close");

    // ---- the agent dies: `edge_offline` on the guard's screen in time.
    agent.kill();
    let killed = Instant::now();
    let last_beat = agent_view(&admin)["last_seen_ms"].as_i64().expect("seen");
    wait_for(
        &guard,
        "return document.querySelectorAll('.alert[data-kind=\"edge_offline\"]').length",
        json!(1),
        Duration::from_secs(OFFLINE_AFTER_S + 5),
        "edge_offline within the configured time + 5 s",
    )
    .await;
    let shown_after = killed.elapsed();
    eprintln!(
        "edge_offline on the guard's screen {} ms after the kill (last heartbeat {} ms before the kill; limit {} s + 5 s)",
        shown_after.as_millis(),
        now_ms() - shown_after.as_millis() as i64 - last_beat,
        OFFLINE_AFTER_S
    );
    let card = js(&guard, "return document.querySelector('.alert[data-kind=\"edge_offline\"]').innerText").await;
    assert!(card.as_str().unwrap_or("").contains("agent-1"), "{card}");
    assert_eq!(untranslated(&guard).await, Vec::<String>::new(), "alerts page with edge_offline");
    screenshot_both(&guard, "alerts").await;
    let metrics = http()
        .get(&format!("http://127.0.0.1:{metrics_port}/metrics"))
        .call()
        .expect("metrics")
        .body_mut()
        .read_to_string()
        .expect("text");
    for line in [
        "gatewatch_fleet_agents{state=\"down\"} 1",
        "gatewatch_fleet_agent_up{agent=\"agent-1\",site=\"s1\"} 0",
        "gatewatch_fleet_camera_up{agent=\"agent-1\",site=\"s1\",camera=\"gate1\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    c.goto(&format!("{}/devices", server.url())).await.expect("goto");
    wait_for(
        &c,
        "return document.querySelector('[data-agent=\"agent-1\"] h2 .badge')?.dataset.state || ''",
        json!("down"),
        Duration::from_secs(10),
        "the devices page shows the agent down",
    )
    .await;
    screenshot_both(&c, "devices-offline").await;
    guard.close().await.expect("close");
    c.close().await.expect("close");
}
