//! The web UI in a real headless browser (Debian's Chromium driven through
//! chromedriver's WebDriver endpoint): a guard sees an alert appear within a
//! second of an edge agent's ingest, with the face crop beside the enrolled
//! photo; an admin registers a visitor from a CCCD QR string and a photo,
//! filters the visitor log and exports exactly the filtered rows as CSV; a
//! guard is refused the log and the export. Screenshots land in
//! `target/screenshots/`.

mod common;

use std::time::{Duration, Instant};

use common::web::*;
use common::*;
use fantoccini::Locator;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_see_alerts_live_and_admins_register_filter_and_export() {
    let db = Db::new(Backend::Sqlite, "browser");
    db.user("guard1", "guard", "s1");
    db.user("admin1", "admin", "s1");
    db.user("root", "superadmin", "");
    let token = db.agent("agent-1", "s1");
    let server = Server::start(&db);
    let api_admin = Browser::login(&server, "admin1");
    let (s, body) = api_admin.enrol(
        json!({"id": "w1", "name": "Ngô Văn Tú", "category": "watchlist", "sites": ["s1"]}),
        &[("w.jpg", photo("p09", 1))],
    );
    assert_eq!(s, 200, "{body}");
    // A morning of passages for the log.
    let t0 = now_ms() - 2 * 3_600_000;
    let history: Vec<Value> = (0..9)
        .map(|i| {
            let who = if i % 3 == 0 { Some("w1") } else { None };
            passage(
                "agent-1",
                "s1",
                if i % 2 == 0 { "gate1" } else { "gate2" },
                who,
                if i < 5 { "entry" } else { "exit" },
                t0 + i * 300_000,
            )
        })
        .collect();
    assert_eq!(ingest(&server, &token, &history).0, 200);
    let driver = chromedriver();

    // ---- the guard: a live alert within a second, face beside enrolled photo.
    let guard = browser(&driver).await;
    guard.goto(&format!("{}/", server.url())).await.expect("goto");
    guard.wait().for_element(Locator::Id("username")).await.expect("login form");
    screenshot_both(&guard, "login").await;
    sign_in(&guard, &server, "guard1").await;
    assert_eq!(guard.current_url().await.expect("url").path(), "/alerts");
    let until = Instant::now() + Duration::from_secs(10);
    while js(&guard, "return document.getElementById('stream-status').dataset.state || ''").await != "open" {
        assert!(Instant::now() < until, "the live stream did not open");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let p = passage("agent-1", "s1", "gate1", Some("w1"), "entry", now_ms());
    let alert = anomaly("agent-1", "s1", "gate1", "watchlist", Some("w1"), p["id"].as_str());
    let id = alert["id"].as_str().expect("id").to_string();
    let sent = Instant::now();
    let (status, _) = tokio::task::spawn_blocking({
        let (url, token, batch) = (server.url(), token.clone(), vec![p, alert]);
        move || {
            let mut r = http()
                .post(&format!("{url}/api/v1/events"))
                .header("Authorization", &format!("Bearer {token}"))
                .send_json(&batch)
                .expect("ingest");
            (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default())
        }
    })
    .await
    .expect("ingest task");
    assert_eq!(status, 200);
    let ingested = sent.elapsed();
    let selector = format!(".alert[data-id='{id}']");
    let shown = loop {
        if guard.find(Locator::Css(&selector)).await.is_ok() {
            break sent.elapsed();
        }
        assert!(sent.elapsed() < Duration::from_secs(5), "the alert never appeared");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    eprintln!(
        "alert on the guard's screen {} ms after the agent sent it (ingest took {} ms)",
        shown.as_millis(),
        ingested.as_millis()
    );
    assert!(shown - ingested < Duration::from_secs(1), "shown {shown:?} after sending, {ingested:?} of it ingest");
    let images_loaded = format!(
        "return Array.from(document.querySelectorAll(\"{selector} img\")).map(i => i.complete && i.naturalWidth > 0)"
    );
    let until = Instant::now() + Duration::from_secs(5);
    while js(&guard, &images_loaded).await != json!([true, true]) {
        assert!(Instant::now() < until, "face crop and enrolled photo must both show");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let card = js(&guard, &format!("return document.querySelector(\"{selector}\").innerText")).await;
    assert!(
        card.as_str().unwrap_or("").contains("Ngô Văn Tú") && card.as_str().unwrap_or("").contains("71%"),
        "{card}"
    );
    assert_eq!(untranslated(&guard).await, Vec::<String>::new(), "alerts page");
    screenshot_both(&guard, "alerts-watchlist").await;
    // A guard may not open the log or export it.
    let statuses =
        js(&guard, "return Promise.all(['/api/v1/log', '/api/v1/log.csv'].map(u => fetch(u).then(r => r.status)))")
            .await;
    assert_eq!(statuses, json!([403, 403]));
    // The page itself says whom it is for, and where the guard should go.
    guard.goto(&format!("{}/log", server.url())).await.expect("goto");
    wait_for(
        &guard,
        "return (document.querySelector('main')?.innerText || '').includes('Bảo vệ')",
        json!(true),
        Duration::from_secs(10),
        "the visitor log tells a guard it is not for their role",
    )
    .await;
    assert!(guard.find(Locator::Css("main a[href='/alerts']")).await.is_ok(), "a way back to the alerts");
    assert_eq!(untranslated(&guard).await, Vec::<String>::new(), "refused page");
    screenshot_both(&guard, "refused-guard-log").await;
    guard.close().await.expect("close");

    // ---- the admin: a visitor from a CCCD QR code and a photo.
    let admin = browser(&driver).await;
    sign_in(&admin, &server, "admin1").await;
    admin.goto(&format!("{}/register", server.url())).await.expect("goto");
    admin
        .wait()
        .for_element(Locator::Id("qr"))
        .await
        .expect("qr")
        .send_keys("035192004518|168123456|Trần Thị Bình|14031992|Nữ|Phủ Lý, Hà Nam|01072021")
        .await
        .expect("type");
    admin.find(Locator::Id("qr-read")).await.expect("button").click().await.expect("click");
    let until = Instant::now() + Duration::from_secs(5);
    while js(&admin, "return document.getElementById('v-name').value").await != "Trần Thị Bình" {
        assert!(Instant::now() < until, "the QR code did not fill the form");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(js(&admin, "return document.getElementById('v-birth').value").await, "1992-03-14");
    let photo_path = repo().join("fixtures/s01_walk_in_720p/gallery/p02/1.jpg").canonicalize().expect("photo");
    admin
        .find(Locator::Id("v-photo"))
        .await
        .expect("file")
        .send_keys(&photo_path.display().to_string())
        .await
        .expect("file");
    admin.find(Locator::Id("v-host")).await.expect("host").send_keys("Phòng Tư pháp").await.expect("type");
    admin.find(Locator::Id("v-consent")).await.expect("consent").click().await.expect("click");
    admin.find(Locator::Id("v-submit")).await.expect("submit").click().await.expect("click");
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let ok = js(&admin, "return document.getElementById('v-ok').textContent").await;
        if ok.as_str().unwrap_or("").starts_with("Đã đăng ký") {
            break;
        }
        let error = js(&admin, "return document.getElementById('v-error').textContent").await;
        assert_eq!(error, "", "registration failed");
        assert!(Instant::now() < until, "registration did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(untranslated(&admin).await, Vec::<String>::new(), "registration page");
    screenshot_both(&admin, "register").await;
    let (_, people) = api_admin.get("/api/v1/people?q=035192004518");
    let people: Vec<Value> = serde_json::from_str(&people).expect("json");
    assert_eq!(people.len(), 1, "{people:?}");
    assert_eq!((people[0]["name"].as_str(), people[0]["category"].as_str()), (Some("Trần Thị Bình"), Some("visitor")));
    assert_eq!(people[0]["host"], "Phòng Tư pháp");
    assert!(people[0]["valid_until"].as_i64().is_some(), "visitors expire");

    // ---- the log: filter, then export exactly the filtered rows.
    admin.goto(&format!("{}/log", server.url())).await.expect("goto");
    admin.wait().for_element(Locator::Css("#log-table tbody tr")).await.expect("rows");
    js(
        &admin,
        "document.getElementById('f-direction').value = 'entry'; document.getElementById('f-camera').value = 'gate1'",
    )
    .await;
    admin.find(Locator::Id("filter-button")).await.expect("filter").click().await.expect("click");
    let until = Instant::now() + Duration::from_secs(5);
    let table_ids = loop {
        let ids =
            js(&admin, "return Array.from(document.querySelectorAll('#log-table tbody tr')).map(r => r.dataset.id)")
                .await;
        // gate1 entries: history i = 0, 2, 4 and the live one.
        if ids.as_array().is_some_and(|a| a.len() == 4) {
            break ids;
        }
        assert!(Instant::now() < until, "filter did not apply: {ids}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let csv = js(&admin, "return fetch(document.getElementById('csv-link').href).then(r => r.text())").await;
    let mut reader = csv::Reader::from_reader(csv.as_str().expect("csv").as_bytes());
    let csv_ids: Vec<Value> = reader.records().map(|r| Value::String(r.expect("row")[10].to_string())).collect();
    assert_eq!(Value::Array(csv_ids), table_ids, "the CSV holds exactly the rows on screen");
    // The passage detail opens on a click: the face large and every field.
    admin.find(Locator::Css("#log-table tbody tr")).await.expect("row").click().await.expect("click");
    let detail = js(&admin, "return document.getElementById('detail').innerText").await;
    assert!(detail.as_str().unwrap_or("").contains(table_ids[0].as_str().unwrap_or("?")), "{detail}");
    assert_eq!(untranslated(&admin).await, Vec::<String>::new(), "log page");
    screenshot_both(&admin, "log").await;

    // ---- ANTT statistics as charts, and the printable weekly report.
    admin.goto(&format!("{}/stats", server.url())).await.expect("goto");
    let until = Instant::now() + Duration::from_secs(10);
    while js(&admin, "return document.getElementById('kpis').dataset.loaded || ''").await != "true" {
        assert!(Instant::now() < until, "statistics did not load");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bars = js(&admin, "return ['chart-flow', 'chart-hours', 'chart-anomalies'].map(id => Array.from(document.querySelectorAll('#' + id + ' rect')).filter(r => Number(r.getAttribute('height')) > 0 && !r.getAttribute('width').startsWith('10')).length)").await;
    assert!(
        bars.as_array().is_some_and(|a| a.iter().all(|n| n.as_i64().unwrap_or(0) > 0)),
        "every chart has bars: {bars}"
    );
    let kpis = js(&admin, "return document.getElementById('kpis').innerText").await;
    assert!(kpis.as_str().unwrap_or("").contains("\n10\n"), "9 history passages + the live one: {kpis}");
    assert_eq!(untranslated(&admin).await, Vec::<String>::new(), "statistics page");
    screenshot_both(&admin, "stats").await;
    let href = js(&admin, "return document.getElementById('r-print').getAttribute('href')").await;
    admin.goto(&format!("{}{}", server.url(), href.as_str().expect("href"))).await.expect("goto");
    admin.wait().for_element(Locator::Css("#report-table tbody tr")).await.expect("report rows");
    assert_eq!(untranslated(&admin).await, Vec::<String>::new(), "report page");
    screenshot_both(&admin, "report").await;
    admin.close().await.expect("close");

    // ---- the superadmin: accounts, retention, and the audit trail of all the above.
    let root = browser(&driver).await;
    sign_in(&root, &server, "root").await;
    root.goto(&format!("{}/admin", server.url())).await.expect("goto");
    root.wait().for_element(Locator::Css("#audit-table tbody tr")).await.expect("audit rows");
    root.find(Locator::Id("u-name")).await.expect("name").send_keys("guard2").await.expect("type");
    root.find(Locator::Id("u-pass")).await.expect("pass").send_keys("guard2-password-123").await.expect("type");
    root.find(Locator::Id("u-sites")).await.expect("sites").send_keys("s1").await.expect("type");
    root.find(Locator::Css("#user-form button")).await.expect("create").click().await.expect("click");
    let until = Instant::now() + Duration::from_secs(10);
    while !js(&root, "return document.getElementById('users-table').innerText")
        .await
        .as_str()
        .unwrap_or("")
        .contains("guard2")
    {
        assert!(Instant::now() < until, "the new account is not listed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Each row keeps its raw action (data-action) and shows it translated.
    let actions =
        js(&root, "return Array.from(document.querySelectorAll('#audit-table tbody tr')).map(r => r.dataset.action)")
            .await;
    let audit = js(&root, "return document.getElementById('audit-table').innerText").await;
    let audit = audit.as_str().unwrap_or("");
    for (action, shown) in [
        ("login", "Đăng nhập"),
        ("face_viewed", "Xem ảnh khuôn mặt"),
        ("export", "Xuất dữ liệu (CSV)"),
        ("enrolment", "Đăng ký người"),
        ("report", "Lập báo cáo"),
    ] {
        assert!(
            actions.as_array().is_some_and(|a| a.iter().any(|x| x.as_str() == Some(action))),
            "audit rows hold {action}: {actions}"
        );
        assert!(audit.contains(shown), "audit shows {action} as {shown:?}: {audit}");
    }
    assert_eq!(untranslated(&root).await, Vec::<String>::new(), "administration page");
    screenshot_both(&root, "admin").await;
    root.close().await.expect("close");
}
