//! The admin API's JSON surface, real binary on 127.0.0.1, each test run on
//! SQLite **and** on PostgreSQL: bad input is refused with a clear error and
//! changes nothing; roles and CSRF hold; the visitor log's CSV is exactly the
//! filtered rows; deletion takes photos off the disk; two processes on one
//! PostgreSQL deliver each other's alerts.

mod common;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

fn visitor(name: &str, cccd: Option<&str>) -> Value {
    json!({"name": name, "category": "visitor", "cccd": cccd, "consent_by": name, "consent_purpose": "visit", "sites": ["s1"]})
}

/// Enrols a staff member of site s1 (events may name only people enrolled at their site).
fn enrol_staff(b: &Browser, id: &str) {
    let (s, body) = b.enrol(
        json!({"id": id, "name": id, "category": "staff", "consent_by": id, "consent_purpose": "staff", "sites": ["s1"]}),
        &[("p.jpg", photo("p01", 1))],
    );
    assert_eq!(s, 200, "{body}");
}

fn people_count(b: &Browser) -> usize {
    let (status, body) = b.get("/api/v1/people");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Vec<Value>>(&body).expect("json").len()
}

/// Two real face photos side by side (ffmpeg, installed by `make setup`).
fn two_faces(dir: &std::path::Path) -> Vec<u8> {
    let out = dir.join("two.jpg");
    let a = repo().join("fixtures/s01_walk_in_720p/gallery/p01/1.jpg");
    let b = repo().join("fixtures/s01_walk_in_720p/gallery/p02/1.jpg");
    let status = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(&a)
        .arg("-i")
        .arg(&b)
        .args(["-filter_complex", "[0][1]scale2ref=oh*mdar:ih[a][b];[a][b]hstack", "-frames:v", "1"])
        .arg(&out)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    std::fs::read(out).expect("two faces")
}

/// Declares a 50 MB enrolment upload and reads the answer before sending it
/// (as a browser does when the server answers early).
fn upload_50_mb(server: &Server, b: &Browser) -> u16 {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let head = format!(
        "POST /api/v1/people HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {}\r\nX-CSRF-Token: {}\r\n\
         Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {}\r\n\r\n--x\r\n",
        b.cookie,
        b.csrf,
        50 << 20
    );
    tcp.write_all(head.as_bytes()).expect("write");
    let mut buf = [0u8; 512];
    let n = tcp.read(&mut buf).expect("answer");
    let text = String::from_utf8_lossy(&buf[..n]);
    text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn bad_input_gets_a_clear_error_and_changes_nothing(backend: Backend) {
    let Site { db, token, server, admin } = Site::new(backend, "bad-input");
    let ctx = format!("{backend:?}");

    let (s, body) = admin.enrol(visitor("An", Some("035192004519x")), &[("a.jpg", photo("p01", 1))]);
    assert_eq!(s, 400, "{ctx}: {body}");
    assert!(body["error"].as_str().unwrap_or("").contains("CCCD"), "{ctx}: {body}");
    let (s, body) = admin.enrol(visitor("An", Some("003192004518")), &[("a.jpg", photo("p01", 1))]);
    assert!(s == 400 && body["error"].as_str().unwrap_or("").contains("province"), "{ctx}: {body}");

    let (s, body) =
        admin.post_json("/api/v1/visitors/qr", json!({"text": "035192004518||Trần Thị Bình|31021992|Nữ|x|01072021"}));
    assert!(s == 400 && body["error"].as_str().unwrap_or("").contains("birth date"), "{ctx}: {body}");

    let (s, body) = admin.enrol(visitor("An", None), &[("notes.txt", b"hello, not a photo".to_vec())]);
    assert!(s == 422 && body["error"].as_str().unwrap_or("").contains("not an image"), "{ctx}: {s} {body}");

    assert_eq!(upload_50_mb(&server, &admin), 413, "{ctx}: a 50 MB upload is refused from its declared size");

    let (s, body) = admin.enrol(visitor("An", None), &[("two.jpg", two_faces(&db.dir))]);
    assert!(s == 422 && body["error"].as_str().unwrap_or("").contains("2 faces"), "{ctx}: {s} {body}");

    let (s, body) =
        admin.enrol(json!({"name": "An", "category": "visitor", "sites": ["s1"]}), &[("a.jpg", photo("p01", 1))]);
    assert!(s == 400 && body["error"].as_str().unwrap_or("").contains("consent"), "{ctx}: {body}");
    assert_eq!(people_count(&admin), 0, "{ctx}: nothing enrolled");
    assert!(
        !db.dir.join("data/photos").exists()
            || std::fs::read_dir(db.dir.join("data/photos")).expect("dir").count() == 0
    );

    // Duplicate event ids: stored once, acknowledged each time.
    let p = passage("agent-1", "s1", "gate1", None, "entry", now_ms());
    assert_eq!(ingest(&server, &token, std::slice::from_ref(&p)).0, 200);
    let (s, ack) = ingest(&server, &token, std::slice::from_ref(&p));
    assert_eq!((s, ack["accepted"][0].clone()), (200, p["id"].clone()), "{ctx}");
    // Another site's events: refused, nothing stored.
    let foreign = passage("agent-1", "s2", "gate1", None, "entry", now_ms());
    let (s, body) = ingest(&server, &token, &[passage("agent-1", "s1", "gate1", None, "exit", now_ms()), foreign]);
    assert!(s == 403 && body["error"].as_str().unwrap_or("").contains("site"), "{ctx}: {body}");
    assert_eq!(db.events().len(), 1, "{ctx}: one event, stored once; the refused batch left nothing");
}

fn roles_csrf_and_login_limits_hold(backend: Backend) {
    let db = Db::new(backend, "roles");
    db.user("guard1", "guard", "s1");
    db.user("admin2", "admin", "s2");
    let server = Server::start(&db);
    let ctx = format!("{backend:?}");
    let anon = http();
    assert_eq!(anon.get(&format!("{}/api/v1/alerts", server.url())).call().expect("get").status(), 401, "{ctx}");
    let guard = Browser::login(&server, "guard1");
    assert_eq!(guard.get("/api/v1/alerts").0, 200, "{ctx}");
    assert_eq!(guard.get("/api/v1/log").0, 403, "{ctx}: a guard cannot open the log");
    assert_eq!(guard.get("/api/v1/log.csv").0, 403, "{ctx}: a guard cannot export");
    assert_eq!(guard.get("/api/v1/people").0, 403, "{ctx}");
    let other = Browser::login(&server, "admin2");
    assert_eq!(other.get("/api/v1/log?site=s1").0, 403, "{ctx}: an admin of another site");
    // CSRF: a state-changing request without the header is refused.
    let mut r = guard
        .agent
        .post(&format!("{}/api/v1/auth/logout", server.url()))
        .header("Cookie", &guard.cookie)
        .send_json(json!({}))
        .expect("post");
    assert_eq!(r.status(), 403, "{ctx}: {}", r.body_mut().read_to_string().unwrap_or_default());
    // Brute force: five failures, then 429 even with the right password.
    for _ in 0..5 {
        let r = anon
            .post(&format!("{}/api/v1/auth/login", server.url()))
            .send_json(json!({"username": "guard1", "password": "wrong-password-00"}))
            .expect("post");
        assert_eq!(r.status(), 401, "{ctx}");
    }
    let r = anon
        .post(&format!("{}/api/v1/auth/login", server.url()))
        .send_json(json!({"username": "guard1", "password": password("guard1")}))
        .expect("post");
    assert_eq!(r.status(), 429, "{ctx}");
    let cookie = http()
        .post(&format!("{}/api/v1/auth/login", server.url()))
        .send_json(json!({"username": "admin2", "password": password("admin2")}))
        .expect("post");
    let set = cookie.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{ctx}: {set}");
}

fn the_csv_export_is_exactly_the_filtered_rows_and_deletion_is_complete(backend: Backend) {
    let Site { db, token, server, admin } = Site::new(backend, "log");
    let ctx = format!("{backend:?}");
    let (s, body) = admin.enrol(
        json!({"id": "staff-1", "name": "Nguyễn Văn An", "category": "staff", "cccd": "001090001234",
        "consent_by": "Nguyễn Văn An", "consent_purpose": "staff access", "sites": ["s1"]}),
        &[("p.jpg", photo("p01", 1))],
    );
    assert_eq!(s, 200, "{ctx}: {body}");
    let t0 = now_ms() - 3_600_000;
    let mut events = Vec::new();
    for i in 0..12 {
        let person = if i % 3 == 0 { Some("staff-1") } else { None };
        let dir = if i % 2 == 0 { "entry" } else { "exit" };
        events.push(passage("agent-1", "s1", if i < 6 { "gate1" } else { "gate2" }, person, dir, t0 + i * 60_000));
    }
    assert_eq!(ingest(&server, &token, &events).0, 200);
    let (s, page) = admin.get("/api/v1/log?direction=entry&camera=gate1");
    assert_eq!(s, 200, "{ctx}: {page}");
    let page: Value = serde_json::from_str(&page).expect("json");
    let ids: Vec<&str> = page["rows"].as_array().expect("rows").iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids.len(), 3, "{ctx}: entries at gate1");
    let (s, csv) = admin.get("/api/v1/log.csv?direction=entry&camera=gate1");
    assert_eq!(s, 200, "{ctx}");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let csv_ids: Vec<String> = reader.records().map(|r| r.expect("row")[10].to_string()).collect();
    assert_eq!(csv_ids, ids, "{ctx}: the CSV holds exactly the filtered rows, in order");
    let (_, known) = admin.get("/api/v1/log?q=Nguyễn&known=true");
    assert_eq!(serde_json::from_str::<Value>(&known).expect("json")["total"], 4, "{ctx}");

    // Deletion on request: photos gone from disk, sync tombstone, audited.
    let photos = db.dir.join("data/photos");
    assert_eq!(std::fs::read_dir(&photos).expect("photos").count(), 1);
    let mut r = admin
        .agent
        .delete(&format!("{}/api/v1/people/staff-1", server.url()))
        .header("X-CSRF-Token", &admin.csrf)
        .header("Cookie", &admin.cookie)
        .call()
        .expect("delete");
    assert_eq!(r.status(), 200, "{ctx}: {}", r.body_mut().read_to_string().unwrap_or_default());
    assert_eq!(std::fs::read_dir(&photos).expect("photos").count(), 0, "{ctx}: photo removed");
    assert_eq!(people_count(&admin), 0);
    let delta = agent_get(&server, &token, "/api/v1/gallery?since=1");
    assert_eq!(delta["removed"], json!(["staff-1"]), "{ctx}: edges learn of the deletion");
    // A person enrolled for another site never reaches this site's edge.
    db.user("root", "superadmin", "");
    let (s, body) = Browser::login(&server, "root").enrol(
        json!({"id": "other-site", "name": "Lê Văn C", "category": "staff", "consent_by": "C", "consent_purpose": "staff", "sites": ["s2"]}),
        &[("p.jpg", photo("p03", 1))],
    );
    assert_eq!(s, 200, "{ctx}: {body}");
    let full = agent_get(&server, &token, "/api/v1/gallery?since=0");
    assert_eq!(full["people"], json!([]), "{ctx}: s1's edge gets nobody from s2");
}

/// Reads SSE `data:` lines until one contains `needle` (or the time runs out).
fn sse_until(reader: &mut impl BufRead, needle: &str, limit: Duration) -> Option<String> {
    let until = Instant::now() + limit;
    let mut line = String::new();
    while Instant::now() < until {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if line.starts_with("data:") && line.contains(needle) {
            return Some(line);
        }
    }
    None
}

#[test]
fn two_processes_on_one_postgresql_deliver_each_others_alerts() {
    let db = Db::new(Backend::Postgres, "scale-out");
    db.user("guard1", "guard", "s1");
    let token = db.agent("agent-1", "s1");
    let (a, b) = (Server::start(&db), Server::start(&db));
    let guard = Browser::login(&b, "guard1");
    let resp = guard
        .agent
        .get(&format!("{}/api/v1/alerts/stream", b.url()))
        .header("Cookie", &guard.cookie)
        .call()
        .expect("stream");
    assert_eq!(resp.status(), 200);
    let mut reader = BufReader::new(resp.into_body().into_reader());
    std::thread::sleep(Duration::from_millis(300));
    let p = passage("agent-1", "s1", "gate1", None, "entry", now_ms());
    let alert = anomaly("agent-1", "s1", "gate1", "unknown_person", None, p["id"].as_str());
    let sent = Instant::now();
    assert_eq!(ingest(&a, &token, &[p, alert.clone()]).0, 200, "ingested through process A");
    let id = alert["id"].as_str().expect("id");
    let got = sse_until(&mut reader, id, Duration::from_secs(5)).expect("the alert reached the guard on process B");
    eprintln!("alert through A reached a guard on B in {} ms", sent.elapsed().as_millis());
    assert!(got.contains("unknown_person"));
    assert!(sent.elapsed() < Duration::from_secs(1), "within a second");
}

fn statistics_and_the_weekly_and_monthly_reports_count_what_was_ingested(backend: Backend) {
    let Site { db: _db, token, server, admin } = Site::new(backend, "stats");
    let ctx = format!("{backend:?}");
    enrol_staff(&admin, "p-a");
    // A period from the beginning of time wraps no arithmetic past the 400-day cap.
    let (s, body) = admin.get(&format!("/api/v1/stats?site=s1&from={}&to=1000", i64::MIN));
    assert_eq!(s, 400, "{ctx}: {body}");
    // Tuesday 2026-11-17, 09:00 in Vietnam (02:00 UTC), and the next days.
    let tue_9am: i64 = 1_795_399_200_000 - 6 * 86_400_000;
    let at = |day: i64, minutes: i64| tue_9am + day * 86_400_000 + minutes * 60_000;
    let mut batch = vec![
        passage("agent-1", "s1", "gate1", Some("p-a"), "entry", at(0, 0)),
        passage("agent-1", "s1", "gate1", Some("p-a"), "exit", at(0, 30)),
        passage("agent-1", "s1", "gate1", Some("p-a"), "entry", at(0, 60)),
        passage("agent-1", "s1", "gate2", None, "entry", at(1, 0)),
        passage("agent-1", "s1", "gate2", None, "exit", at(1, 5)),
        // Monday 23rd: outside the week 16–22.
        passage("agent-1", "s1", "gate1", None, "entry", at(6, 0)),
    ];
    let mut a = anomaly("agent-1", "s1", "gate2", "unknown_person", None, batch[3]["id"].as_str());
    a["created_ms"] = json!(at(1, 0));
    batch.push(a);
    assert_eq!(ingest(&server, &token, &batch).0, 200, "{ctx}");

    let (s, weekly) = admin.get("/api/v1/reports/weekly?site=s1&date=2026-11-23&format=csv");
    assert_eq!(s, 200, "{ctx}: {weekly}");
    let mut reader = csv::Reader::from_reader(weekly.as_bytes());
    let rows: Vec<Vec<String>> =
        reader.records().map(|r| r.expect("row").iter().map(str::to_string).collect()).collect();
    assert_eq!(rows.len(), 3, "{ctx}: two day/gate rows and the total: {rows:?}");
    assert_eq!(rows[0][..4], ["2026-11-17", "gate1", "2", "1"], "{ctx}");
    assert_eq!(rows[1][..4], ["2026-11-18", "gate2", "1", "1"], "{ctx}");
    // total: entries, exits, unique people, unknown, anomalies
    assert_eq!(rows[2][2..], ["3", "2", "1", "2", "1"], "{ctx}");
    let (_, monthly) = admin.get("/api/v1/reports/monthly?site=s1&date=2026-12-10");
    let monthly: Value = serde_json::from_str(&monthly).expect("json");
    assert_eq!(
        (monthly["start"].as_str(), monthly["end_exclusive"].as_str()),
        (Some("2026-11-15"), Some("2026-12-15"))
    );
    assert_eq!(monthly["total"]["entries"], 4, "{ctx}: the whole period, Monday included");

    let (s, stats) = admin.get(&format!("/api/v1/stats?site=s1&from={}&to={}&bucket=day", at(-1, 0), at(7, 0)));
    assert_eq!(s, 200, "{ctx}: {stats}");
    let stats: Value = serde_json::from_str(&stats).expect("json");
    assert_eq!(stats["passages"], 6, "{ctx}");
    assert_eq!(stats["unique_people"], 1, "{ctx}");
    assert_eq!(stats["anomalies"]["unknown_person"], 1, "{ctx}");
    assert_eq!(stats["peak_hours"][0]["hour"], 9, "{ctx}: most entries between 9 and 10");
    assert_eq!(admin.get("/api/v1/reports/weekly?site=s2").0, 403, "{ctx}: another site's report");
}

/// Days, hours, reports and exports follow `serve --time-zone`: the same
/// passage falls on another day and hour in Tokyo than in Vietnam.
#[test]
fn the_sites_time_zone_sets_days_hours_reports_and_exports() {
    let db = Db::new(Backend::Sqlite, "zone");
    db.user("admin1", "admin", "s1");
    let token = db.agent("agent-1", "s1");
    let refused = testkit::admin::cli_raw(
        &db.url,
        &["serve", "--listen", &format!("127.0.0.1:{}", free_port()), "--time-zone", "Mars/Olympus"],
        &[],
    )
    .expect("admin-api runs");
    assert!(!refused.success && refused.stderr.contains("--time-zone"), "{}", refused.stderr);
    assert!(refused.stderr.contains("Asia/Ho_Chi_Minh"), "says what a zone name looks like: {}", refused.stderr);

    let server = Server::start_with(&db, &["--time-zone", "Asia/Tokyo"]);
    let admin = Browser::login(&server, "admin1");
    let (_, me) = admin.get("/api/v1/auth/me");
    assert!(me.contains("\"time_zone\":\"Asia/Tokyo\""), "the UI is told the zone: {me}");
    // 2026-11-17 16:30 UTC: 23:30 on the 17th in Vietnam, 01:30 on the 18th in Tokyo.
    let at: i64 = 1_795_399_200_000 - 6 * 86_400_000 + 52_200_000;
    assert_eq!(ingest(&server, &token, &[passage("agent-1", "s1", "gate1", None, "entry", at)]).0, 200);
    let (s, csv) = admin.get("/api/v1/log.csv");
    assert_eq!(s, 200, "{csv}");
    assert!(csv.contains("2026-11-18 01:30:00"), "the export's local time is Tokyo's: {csv}");
    let (_, weekly) = admin.get("/api/v1/reports/weekly?site=s1&date=2026-11-23&format=csv");
    assert!(weekly.contains("2026-11-18,gate1,1,0"), "the report's day is Tokyo's: {weekly}");
    let (_, stats) = admin.get(&format!("/api/v1/stats?site=s1&from={}&to={}&bucket=day", at - 86_400_000, at + 1));
    let stats: Value = serde_json::from_str(&stats).expect("json");
    assert_eq!(stats["peak_hours"][0]["hour"], 1, "the hour is Tokyo's: {stats}");
    // The day bucket starts at Tokyo's midnight of the 18th: 15:00 UTC on the 17th.
    assert_eq!(stats["series"][0]["start_ms"], json!(at - 5_400_000), "{stats}");
}

fn retention_purges_old_crops_passages_and_expired_visitors_and_is_audited(backend: Backend) {
    let db = Db::new(backend, "retention");
    db.user("root", "superadmin", "");
    let token = db.agent("agent-1", "s1");
    let server = Server::start(&db);
    let root = Browser::login(&server, "root");
    let ctx = format!("{backend:?}");
    enrol_staff(&root, "p-a");
    let day = 86_400_000;
    let now = now_ms();
    let events = vec![
        passage("agent-1", "s1", "gate1", None, "entry", now - 10 * day), // unknown crop past 7 days
        passage("agent-1", "s1", "gate1", Some("p-a"), "entry", now - 10 * day), // known crop kept (30 days)
        passage("agent-1", "s1", "gate1", None, "entry", now - 400 * day), // passage past 365 days
        passage("agent-1", "s1", "gate1", None, "entry", now),            // fresh
    ];
    assert_eq!(ingest(&server, &token, &events).0, 200);
    let crops = db.dir.join("data/crops");
    assert_eq!(std::fs::read_dir(&crops).expect("crops").count(), 4);
    let (s, body) = root.enrol(
        json!({"id": "v-old", "name": "Khách", "category": "visitor", "valid_until": now / 1000 - 3 * 86_400,
               "consent_by": "Khách", "consent_purpose": "visit"}),
        &[("v.jpg", photo("p02", 1))],
    );
    assert_eq!(s, 200, "{ctx}: {body}");
    let (_, settings) = root.get("/api/v1/retention");
    assert!(settings.contains("\"unknown_face_crops\":7"), "{ctx}: {settings}");

    let purged = db.cli(&["purge", "--data", db.dir.join("data").to_str().expect("utf8")]);
    let purged: Value = serde_json::from_str(purged.trim()).expect("json");
    assert_eq!(purged["unknown_face_crops"], 2, "{ctx}: the 10- and 400-day-old strangers' crops: {purged}");
    assert_eq!(purged["known_face_crops"], 0, "{ctx}");
    assert_eq!(purged["passages"], 1, "{ctx}");
    assert_eq!(purged["expired_visitors"], 1, "{ctx}");
    assert_eq!(std::fs::read_dir(&crops).expect("crops").count(), 2, "{ctx}: the known person's and the fresh crop");
    assert_eq!(db.events().len(), 3, "{ctx}");
    assert_eq!(
        std::fs::read_dir(db.dir.join("data/photos")).expect("photos").count(),
        1,
        "{ctx}: the visitor's photo gone, p-a's kept"
    );
    let (_, audit) = root.get("/api/v1/audit?action=purge");
    assert!(audit.contains("\"actor\":\"retention\""), "{ctx}: {audit}");
    // Only a superadmin changes retention, within bounds.
    assert_eq!(root.post_json("/api/v1/retention", json!({})).0, 405, "{ctx}: PUT, not POST");
    let mut r = root
        .agent
        .put(&format!("{}/api/v1/retention", server.url()))
        .header("X-CSRF-Token", &root.csrf)
        .header("Cookie", &root.cookie)
        .send_json(json!({"unknown_face_crops": 0}))
        .expect("put");
    assert_eq!(r.status(), 400, "{ctx}: {}", r.body_mut().read_to_string().unwrap_or_default());
}

#[test]
fn the_openapi_document_lists_every_endpoint_and_each_one_answers() {
    let db = Db::new(Backend::Sqlite, "openapi");
    let server = Server::start(&db);
    let mut r = http().get(&format!("{}/api/v1/openapi.json", server.url())).call().expect("get");
    assert_eq!(r.status(), 200);
    let doc: Value = r.body_mut().read_json().expect("json");
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 20, "{}", paths.len());
    // Every documented operation exists with the access it documents: an
    // anonymous call to one that needs a session or an agent token is refused
    // for that reason alone (401, never 404/405/5xx); a public GET answers 200,
    // a public POST with an empty body says what is missing (422).
    let agent = http();
    for (path, ops) in paths {
        let concrete = path
            .replace("{id}", "00000000-0000-4000-8000-000000000000")
            .replace("{person}", "p1")
            .replace("{event}", "00000000-0000-4000-8000-000000000000")
            .replace("{kind}", "weekly");
        for method in ops.as_object().expect("ops").keys() {
            let url = format!("{}{concrete}", server.url());
            let status = match method.as_str() {
                "get" if concrete.ends_with("/stream") => continue, // an open stream; covered by the alert tests
                "get" => agent.get(&url).call().expect("get").status(),
                "delete" => agent.delete(&url).call().expect("delete").status(),
                "post" => agent.post(&url).send_json(json!({})).expect("post").status(),
                "put" => agent.put(&url).send_json(json!({})).expect("put").status(),
                m => panic!("unexpected method {m}"),
            };
            let public = ops[method.as_str()]["security"] == json!([]);
            let expected: &[u16] = match (public, method.as_str()) {
                (false, _) => &[401],
                (true, "get") => &[200],
                (true, _) => &[422],
            };
            assert!(expected.contains(&status.as_u16()), "{method} {path}: {status}, expected {expected:?}");
        }
    }
}

fn this_is_not_x_unmatches_the_passage_and_teaches_the_gallery(backend: Backend) {
    use base64::Engine as _;
    let Site { db: _db, token, server, admin } = Site::new(backend, "correction");
    let ctx = format!("{backend:?}");
    let (s, body) = admin.enrol(
        json!({"id": "staff-a", "name": "An", "category": "staff", "consent_by": "An", "consent_purpose": "staff", "sites": ["s1"]}),
        &[("a.jpg", photo("p01", 1))],
    );
    assert_eq!(s, 200, "{ctx}: {body}");
    // The edge matched someone else's face (p02's) to staff-a.
    let mut p = passage("agent-1", "s1", "gate1", Some("staff-a"), "entry", now_ms());
    p["face_jpeg_b64"] = json!(base64::engine::general_purpose::STANDARD.encode(photo("p02", 2)));
    let id = p["id"].as_str().expect("id");
    // An alert raised ahead of the passage, on the same face, named them too.
    let mut early = anomaly("agent-1", "s1", "gate1", "watchlist", Some("staff-a"), Some(id));
    early["face_jpeg_b64"] = p["face_jpeg_b64"].clone();
    assert_eq!(ingest(&server, &token, &[early.clone(), p.clone()]).0, 200);
    let alert_person = |admin: &Browser| {
        let (_, alerts) = admin.get("/api/v1/alerts?limit=10");
        let alerts: Value = serde_json::from_str(&alerts).expect("json");
        let a = alerts.as_array().expect("alerts").iter().find(|a| a["id"] == early["id"]).cloned();
        a.expect("the early alert is listed")
    };
    let before = alert_person(&admin);
    assert_eq!(before["person_id"], "staff-a", "{ctx}: {before}");
    assert_eq!(before["face_event"], early["id"], "{ctx}: the early alert shows its own face: {before}");
    let (s, body) = admin.post_json(&format!("/api/v1/passages/{id}/not-person"), json!({}));
    assert_eq!(s, 200, "{ctx}: {body}");
    assert_eq!(
        (body["not_person"].as_str(), body["learned"].as_bool()),
        (Some("staff-a"), Some(true)),
        "{ctx}: {body}"
    );
    let (_, log) = admin.get("/api/v1/log?known=true");
    assert_eq!(serde_json::from_str::<Value>(&log).expect("json")["total"], 0, "{ctx}: no longer counted as staff-a");
    let after = alert_person(&admin);
    assert_eq!(after["person_id"], Value::Null, "{ctx}: the early alert is corrected with its passage: {after}");
    let full = agent_get(&server, &token, "/api/v1/gallery?since=0");
    let a =
        full["people"].as_array().expect("people").iter().find(|r| r["person"]["id"] == "staff-a").expect("staff-a");
    assert_eq!(a["negatives"].as_array().map(Vec::len), Some(1), "{ctx}: edges learn the correction");
    assert_eq!(a["embeddings"].as_array().map(Vec::len), Some(1), "{ctx}");
    // Correcting a passage that matched nobody is refused.
    let (s, _) = admin.post_json(&format!("/api/v1/passages/{id}/not-person"), json!({}));
    assert_eq!(s, 409, "{ctx}");
}

fn bulk_import_enrols_the_good_rows_and_explains_the_others(backend: Backend) {
    let db = Db::new(backend, "import");
    db.user("admin1", "admin", "s1");
    let server = Server::start(&db);
    let admin = Browser::login(&server, "admin1");
    let ctx = format!("{backend:?}");
    let csv = "id,name,category,cccd,birth_date,sites,valid_until,host,consent_by,consent_purpose\n\
               staff-01,Nguyễn Văn An,staff,,,s1,,,Nguyễn Văn An,staff access\n\
               ,Trần Thị Bình,visitor,001090001234,,s1,2030-01-31,Phòng Tư pháp,Trần Thị Bình,visit\n\
               bad,Lê Văn C,staff,99919000123,,s1,,,C,staff access\n\
               nophoto,Phạm D,staff,,,s1,,,D,staff access\n";
    let (status, report) = admin.import(
        csv,
        &[
            ("staff-01_1.jpg", photo("p01", 1)),
            ("staff-01_2.jpg", photo("p01", 2)),
            ("001090001234.jpg", photo("p02", 1)),
            ("bad/1.jpg", photo("p03", 1)),
        ],
    );
    assert_eq!(status, 200, "{ctx}: {report}");
    assert_eq!((report["enrolled"].as_i64(), report["refused"].as_i64()), (Some(2), Some(2)), "{ctx}: {report}");
    assert!(report["rows"][2]["error"].as_str().unwrap_or("").contains("CCCD"), "{ctx}: {report}");
    assert!(report["rows"][3]["error"].as_str().unwrap_or("").contains("no photo"), "{ctx}: {report}");
    let (_, people) = admin.get("/api/v1/people");
    let people: Vec<Value> = serde_json::from_str(&people).expect("json");
    let staff = people.iter().find(|p| p["id"] == "staff-01").expect("staff-01");
    assert_eq!(staff["photos"], 2, "{ctx}: both of staff-01's photos");
    let visitor = people.iter().find(|p| p["cccd"] == "001090001234").expect("the visitor, matched by CCCD");
    assert!(visitor["valid_until"].as_i64().is_some_and(|t| t > now_ms() / 1000), "{ctx}");
    // The same from a folder, on the command line.
    let folder = db.dir.join("import");
    std::fs::create_dir_all(folder.join("staff-02")).expect("dir");
    write(&folder.join("staff-02/a.jpg"), &photo("p04", 1));
    write(
        &db.dir.join("more.csv"),
        "id,name,category,sites,consent_by,consent_purpose\nstaff-02,Phạm Thu Dung,staff,s1,Dung,staff access\n"
            .as_bytes(),
    );
    let out = db.cli(&[
        "import",
        "--csv",
        db.dir.join("more.csv").to_str().expect("utf8"),
        "--photos",
        folder.to_str().expect("utf8"),
        "--data",
        db.dir.join("data").to_str().expect("utf8"),
    ]);
    let report: Value = serde_json::from_str(&out).expect("report");
    assert_eq!(report["enrolled"], 1, "{ctx}: {report}");
}

fn admins_set_verification_expectations_and_validity_starts_reach_the_edge(backend: Backend) {
    let db = Db::new(backend, "expect");
    db.user("admin1", "admin", "s1");
    db.user("admin2", "admin", "s2");
    let token = db.agent("agent-1", "s1");
    let server = Server::start(&db);
    let admin = Browser::login(&server, "admin1");
    let ctx = format!("{backend:?}");
    let start = now_ms() / 1000 + 3600;
    let (s, body) = admin.enrol(
        json!({"id": "cand-1", "name": "Thí sinh", "category": "visitor", "valid_from": start,
               "consent_by": "Thí sinh", "consent_purpose": "exam", "sites": ["s1"]}),
        &[("c.jpg", photo("p04", 1))],
    );
    assert_eq!(s, 200, "{ctx}: {body}");
    let put = |b: &Browser, path: &str, body: Value| {
        let mut r = b
            .agent
            .put(&format!("{}{path}", server.url()))
            .header("X-CSRF-Token", &b.csrf)
            .header("Cookie", &b.cookie)
            .send_json(body)
            .expect("put");
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default())
    };
    assert_eq!(put(&admin, "/api/v1/expectations/s1/exam1", json!({"person_id": "cand-1"})).0, 200, "{ctx}");
    assert_eq!(put(&admin, "/api/v1/expectations/s1/exam1", json!({"person_id": "nobody"})).0, 404, "{ctx}");
    let other = Browser::login(&server, "admin2");
    assert_eq!(put(&other, "/api/v1/expectations/s1/exam1", json!({"person_id": null})).0, 403, "{ctx}");
    let get = |path: &str| agent_get(&server, &token, path);
    assert_eq!(get("/api/v1/expectations")["cameras"]["exam1"], "cand-1", "{ctx}");
    let full = get("/api/v1/gallery?since=0");
    assert_eq!(full["people"][0]["person"]["valid_from"], start, "{ctx}: the edge knows when the enrolment starts");
}

crate::on_each_backend!(
    this_is_not_x_unmatches_the_passage_and_teaches_the_gallery,
    bad_input_gets_a_clear_error_and_changes_nothing,
    roles_csrf_and_login_limits_hold,
    the_csv_export_is_exactly_the_filtered_rows_and_deletion_is_complete,
    statistics_and_the_weekly_and_monthly_reports_count_what_was_ingested,
    retention_purges_old_crops_passages_and_expired_visitors_and_is_audited,
    bulk_import_enrols_the_good_rows_and_explains_the_others,
    admins_set_verification_expectations_and_validity_starts_reach_the_edge,
);
