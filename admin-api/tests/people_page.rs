//! The People page's API, real binary on SQLite: search and filters, one
//! person's record (hidden from other sites' admins exactly as nobody is),
//! edits that reach the edges, photos added only when they show a face, the
//! data-subject export (photos, passages, crops, who viewed the face), and
//! consent withdrawn (a deletion the edges learn of, on the record).

mod common;

use common::*;
use serde_json::{Value, json};

fn person(id: &str, name: &str, category: &str, site: &str) -> Value {
    json!({"id": id, "name": name, "category": category, "consent_by": name, "consent_purpose": "access control",
           "sites": [site]})
}

fn enrolled(b: &Browser, person: Value, photo_of: &str) {
    let (status, body) = b.enrol(person, &[("p.jpg", photo(photo_of, 1))]);
    assert_eq!(status, 200, "{body}");
}

/// `GET` answering JSON.
fn get_json(b: &Browser, path: &str) -> (u16, Value) {
    let (status, body) = b.get(path);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The ids `GET /api/v1/people?…` lists, sorted.
fn ids(b: &Browser, query: &str) -> Vec<String> {
    let (status, body) = get_json(b, &format!("/api/v1/people?{query}"));
    assert_eq!(status, 200, "{query}: {body}");
    let mut ids: Vec<String> =
        body.as_array().expect("a list").iter().map(|p| p["id"].as_str().unwrap_or("").to_string()).collect();
    ids.sort();
    ids
}

/// `POST /api/v1/people/{id}/photos` with these `photo` files.
fn add_photos(b: &Browser, id: &str, photos: &[(&str, Vec<u8>)]) -> (u16, Value) {
    b.post_photos(&format!("/api/v1/people/{id}/photos"), None, photos)
}

/// A JPEG of a sky-to-ground gradient: an image, but no face in it.
fn landscape_jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_fn(640, 480, |x, y| {
        let sky = (255 - y * 255 / 480) as u8;
        image::Rgb([sky / 2, (x * 255 / 640) as u8 / 3 + 60, sky])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).expect("jpeg");
    out.into_inner()
}

fn audit_rows(root: &Browser, action: &str) -> Vec<Value> {
    let (status, audit) = get_json(root, &format!("/api/v1/audit?action={action}"));
    assert_eq!(status, 200, "{audit}");
    audit["rows"].as_array().cloned().unwrap_or_default()
}

#[test]
fn search_by_cccd_finds_exactly_the_person_and_the_filters_narrow_the_list() {
    let db = Db::new(Backend::Sqlite, "people-search");
    db.user("admin1", "admin", "s1,s2");
    db.user("root", "superadmin", "");
    let server = Server::start(&db);
    let admin = Browser::login(&server, "admin1");
    let root = Browser::login(&server, "root");
    let mut lan = person("lan", "Trần Thị Lan", "staff", "s1");
    lan["cccd"] = json!("001190001234");
    enrolled(&admin, lan, "p01");
    // A CCCD that shares all but its last digits with Lan's.
    let mut hoa = person("hoa", "Lê Thị Hoa", "resident", "s2");
    hoa["cccd"] = json!("001190001235");
    enrolled(&admin, hoa, "p02");
    enrolled(&admin, person("khach", "Phạm Văn Khách", "visitor", "s1"), "p03");
    // Expired an hour ago (unix seconds).
    let mut old = person("cu", "Ngô Văn Cũ", "visitor", "s2");
    old["valid_until"] = json!(now_ms() / 1000 - 3600);
    enrolled(&admin, old, "p04");
    let mut everywhere = person("chung", "Đỗ Văn Chung", "watchlist", "s1");
    everywhere["sites"] = json!([]);
    enrolled(&root, everywhere, "p05");

    assert_eq!(ids(&admin, "q=001190001234"), ["lan"], "the CCCD finds Lan and only her");
    assert_eq!(ids(&admin, "q=00119000123"), ["hoa", "lan"], "a part of it finds both");
    assert_eq!(ids(&admin, "category=visitor"), ["cu", "khach"]);
    assert_eq!(ids(&admin, "category=watchlist"), ["chung"]);
    assert_eq!(ids(&admin, "site=s2"), ["chung", "cu", "hoa"], "enrolled at s2, or at every site");
    assert_eq!(ids(&admin, "status=expired"), ["cu"]);
    assert_eq!(ids(&admin, "status=valid&category=visitor"), ["khach"]);
    assert_eq!(ids(&admin, "category=visitor&site=s1&q=Kh"), ["khach"], "filters combine");
    // `_` and `%` are letters in a search, not wildcards.
    assert!(ids(&admin, "q=%25").is_empty() && ids(&admin, "q=_").is_empty());
    for bad in ["category=guest", "status=soon"] {
        let (status, body) = get_json(&admin, &format!("/api/v1/people?{bad}"));
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"].as_str().unwrap_or("").contains("use "), "says what to use: {body}");
    }
    let (status, body) = get_json(&admin, "/api/v1/people?site=s9");
    assert_eq!(status, 403, "a site not theirs: {body}");
    let cccd_reads = audit_rows(&root, "cccd_viewed");
    assert!(
        cccd_reads
            .iter()
            .any(|r| r["actor"] == "admin1" && r["detail"].as_str().unwrap_or("").contains("001190001234")),
        "the CCCD search is on record: {cccd_reads:?}"
    );
}

#[test]
fn a_person_of_another_site_is_not_found_as_nobody_is() {
    let db = Db::new(Backend::Sqlite, "people-detail");
    db.user("admin_a", "admin", "a");
    db.user("admin_b", "admin", "b");
    db.user("root", "superadmin", "");
    let token = db.agent("agent-a", "a");
    let server = Server::start(&db);
    let (a, b, root) =
        (Browser::login(&server, "admin_a"), Browser::login(&server, "admin_b"), Browser::login(&server, "root"));
    let mut p = person("pa", "Người của A", "staff", "a");
    p["cccd"] = json!("001090001234");
    p["birth_date"] = json!("1990-05-01");
    p["host"] = json!("Phòng Tư pháp");
    enrolled(&a, p, "p01");
    let entry = passage("agent-a", "a", "gate1", Some("pa"), "entry", now_ms() - 60_000);
    assert_eq!(ingest(&server, &token, std::slice::from_ref(&entry)).0, 200);

    let (status, detail) = get_json(&a, "/api/v1/people/pa");
    assert_eq!(status, 200, "{detail}");
    assert_eq!((detail["name"].as_str(), detail["cccd"].as_str()), (Some("Người của A"), Some("001090001234")));
    assert_eq!((detail["birth_date"].as_str(), detail["host"].as_str()), (Some("1990-05-01"), Some("Phòng Tư pháp")));
    assert_eq!((detail["consent_by"].as_str(), detail["sites"].clone()), (Some("Người của A"), json!(["a"])));
    assert!(detail["consent_at_ms"].is_i64() && detail["updated_ms"].is_i64(), "{detail}");
    assert_eq!(detail["photos"].as_array().map(Vec::len), Some(1), "{detail}");
    let passages = detail["passages"].as_array().expect("passages");
    assert_eq!(passages.len(), 1, "{detail}");
    assert_eq!(
        (&passages[0]["id"], &passages[0]["camera"], &passages[0]["direction"]),
        (&entry["id"], &json!("gate1"), &json!("entry"))
    );
    assert_eq!(passages[0]["has_face"], true);

    let (s_theirs, theirs) = b.get("/api/v1/people/pa");
    let (s_nobody, nobody) = b.get("/api/v1/people/zz-none");
    assert_eq!((s_theirs, s_nobody), (404, 404), "{theirs} / {nobody}");
    assert_eq!(theirs.replace("pa", "ID"), nobody.replace("zz-none", "ID"), "the answers tell them apart");
    for path in [
        "/api/v1/people/pa/export",
        &format!("/api/v1/people/pa/photos/{}", detail["photos"][0].as_str().unwrap_or("")),
    ] {
        assert_eq!(b.get(path).0, 404, "{path}");
    }
    assert_eq!(b.call("PUT", "/api/v1/people/pa", Some(json!({"name": "Kẻ sửa"}))).0, 404);
    assert_eq!(add_photos(&b, "pa", &[("x.jpg", photo("p03", 1))]).0, 404, "refused before the upload is read");
    assert_eq!(b.call("POST", "/api/v1/people/pa/withdraw-consent", None).0, 404);
    assert_eq!(get_json(&a, "/api/v1/people/pa").1["name"], "Người của A", "B changed nothing");

    let viewed = audit_rows(&root, "person_viewed");
    assert!(viewed.iter().any(|r| r["actor"] == "admin_a" && r["target"] == "pa"), "{viewed:?}");
    assert!(!viewed.iter().any(|r| r["actor"] == "admin_b"), "nothing was shown to B: {viewed:?}");
    let cccd = audit_rows(&root, "cccd_viewed");
    assert!(cccd.iter().any(|r| r["actor"] == "admin_a" && r["target"] == "pa"), "a CCCD read: {cccd:?}");
}

#[test]
fn an_edit_reaches_the_edges_with_a_new_gallery_version() {
    let db = Db::new(Backend::Sqlite, "people-edit");
    db.user("admin1", "admin", "s1,s2");
    db.user("root", "superadmin", "");
    let token = db.agent("agent-1", "s1");
    let server = Server::start(&db);
    let admin = Browser::login(&server, "admin1");
    let root = Browser::login(&server, "root");
    enrolled(&admin, person("an", "Nguyễn Văn An", "staff", "s1"), "p01");
    let before = agent_get(&server, &token, "/api/v1/gallery?since=0");
    let since = before["version"].as_i64().expect("version");

    let edit = json!({"name": "Nguyễn Văn Bình", "cccd": "001090001234", "birth_date": "1990-05-01",
                      "valid_until": now_ms() / 1000 + 86_400, "sites": ["s1", "s2"]});
    let (status, body) = admin.call("PUT", "/api/v1/people/an", Some(edit));
    assert_eq!(status, 200, "{body}");
    let version = body["gallery_version"].as_i64().expect("a new version");
    assert!(version > since, "{body}");
    let delta = agent_get(&server, &token, &format!("/api/v1/gallery?since={since}"));
    assert_eq!(delta["version"].as_i64(), Some(version), "{delta}");
    let sent = delta["people"].as_array().expect("people");
    assert_eq!(sent.len(), 1, "{delta}");
    assert_eq!(sent[0]["person"]["name"], "Nguyễn Văn Bình", "the edge gets the new name: {delta}");
    assert!(sent[0]["person"]["cccd"].is_null(), "never a CCCD to an edge: {delta}");
    assert!(!sent[0]["embeddings"].as_array().expect("embeddings").is_empty(), "with the face: {delta}");
    let (_, detail) = get_json(&admin, "/api/v1/people/an");
    assert_eq!((detail["cccd"].as_str(), detail["sites"].clone()), (Some("001090001234"), json!(["s1", "s2"])));

    let edited = audit_rows(&root, "person_edited");
    assert_eq!(edited.len(), 1, "{edited:?}");
    let fields = edited[0]["detail"].as_str().unwrap_or("");
    assert!(fields.contains("name") && fields.contains("cccd") && fields.contains("sites"), "{fields}");
    assert!(!fields.contains("001090001234"), "the audit names fields, never the CCCD: {fields}");

    // Refused, each saying why; none changes anything.
    for (bad, status, why) in [
        (json!({"cccd": "12345"}), 400, "12 digits"),
        (json!({"cccd": "001095001234"}), 400, "born in 1995"),
        (json!({"sites": ["s9"]}), 403, "s9"),
        (json!({"sites": []}), 403, "sites"),
        (json!({"category": "guest"}), 400, "category"),
        (json!({"consent_by": null}), 400, "consent"),
        (json!({"name": " "}), 400, "name"),
    ] {
        let (s, body) = admin.call("PUT", "/api/v1/people/an", Some(bad.clone()));
        assert_eq!(s, status, "{bad}: {body}");
        assert!(body["error"].as_str().unwrap_or("").contains(why), "{bad}: {body}");
    }
    let after = agent_get(&server, &token, &format!("/api/v1/gallery?since={version}"));
    assert!(after["people"].as_array().is_some_and(Vec::is_empty), "refused edits reached the edge: {after}");
    // Off this edge's site: the edge is told to remove them.
    let (status, body) = admin.call("PUT", "/api/v1/people/an", Some(json!({"sites": ["s2"]})));
    assert_eq!(status, 200, "{body}");
    let delta = agent_get(&server, &token, &format!("/api/v1/gallery?since={version}"));
    assert_eq!(delta["removed"], json!(["an"]), "{delta}");
}

#[test]
fn a_photo_is_added_only_when_it_shows_a_face() {
    let db = Db::new(Backend::Sqlite, "people-photos");
    db.user("admin1", "admin", "s1");
    db.user("root", "superadmin", "");
    let token = db.agent("agent-1", "s1");
    let server = Server::start(&db);
    let admin = Browser::login(&server, "admin1");
    let root = Browser::login(&server, "root");
    enrolled(&admin, person("p9", "Hoàng Văn Chín", "resident", "s1"), "p09");
    let since = agent_get(&server, &token, "/api/v1/gallery?since=0")["version"].as_i64().expect("version");

    let (status, body) = add_photos(&admin, "p9", &[("landscape.jpg", landscape_jpeg())]);
    assert_eq!(status, 422, "a photo without a face: {body}");
    assert!(body["error"].as_str().unwrap_or("").contains("landscape.jpg"), "names the photo: {body}");
    assert_eq!(get_json(&admin, "/api/v1/people/p9").1["photos"].as_array().map(Vec::len), Some(1));
    assert_eq!(agent_get(&server, &token, &format!("/api/v1/gallery?since={since}"))["people"], json!([]));
    let (status, body) = add_photos(&admin, "p9", &[]);
    assert_eq!(status, 400, "no photo at all: {body}");

    let (status, body) = add_photos(&admin, "p9", &[("second.jpg", photo("p09", 1))]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["added"], 1);
    let version = body["gallery_version"].as_i64().expect("version");
    assert!(version > since);
    let (_, detail) = get_json(&admin, "/api/v1/people/p9");
    let photos: Vec<String> =
        detail["photos"].as_array().expect("photos").iter().filter_map(|p| p.as_str().map(str::to_string)).collect();
    assert_eq!(photos.len(), 2, "{detail}");
    let delta = agent_get(&server, &token, &format!("/api/v1/gallery?since={since}"));
    let sent = &delta["people"][0];
    assert_eq!(sent["person"]["id"], "p9", "{delta}");
    assert_eq!(sent["embeddings"].as_array().map(Vec::len), Some(2), "the new face reaches the edge: {delta}");

    // Each photo is served (nosniff) and its viewing audited.
    let r = admin
        .agent
        .get(&format!("{}/api/v1/people/p9/photos/{}", admin.base, photos[1]))
        .header("Cookie", &admin.cookie)
        .call()
        .expect("photo");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("image/jpeg"));
    assert_eq!(r.headers().get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"));
    for bad in ["00000000-0000-4000-8000-000000000000", "..%2F..%2Fadmin.db"] {
        let (status, _) = admin.get(&format!("/api/v1/people/p9/photos/{bad}"));
        assert!([400, 404].contains(&status), "{bad}: {status}");
    }
    let added = audit_rows(&root, "photos_added");
    assert!(added.iter().any(|r| r["target"] == "p9" && r["actor"] == "admin1"), "{added:?}");
    let faces = audit_rows(&root, "face_viewed");
    assert!(faces.iter().any(|r| r["target"] == "photo:p9" && r["detail"] == photos[1].as_str()), "{faces:?}");
}

#[test]
fn the_export_holds_the_photos_passages_and_who_viewed_the_face() {
    use base64::Engine as _;
    let db = Db::new(Backend::Sqlite, "people-export");
    db.user("admin1", "admin", "s1");
    db.user("guard1", "guard", "s1");
    db.user("root", "superadmin", "");
    let token = db.agent("agent-1", "s1");
    let server = Server::start(&db);
    let admin = Browser::login(&server, "admin1");
    let guard = Browser::login(&server, "guard1");
    let root = Browser::login(&server, "root");
    let mut p = person("ex", "Vũ Thị Xuất", "staff", "s1");
    p["cccd"] = json!("001190001234");
    enrolled(&admin, p, "p01");
    let t0 = now_ms() - 3_600_000;
    let passages: Vec<Value> = (0..3)
        .map(|i| {
            let dir = if i % 2 == 0 { "entry" } else { "exit" };
            passage("agent-1", "s1", "gate1", Some("ex"), dir, t0 + i * 60_000)
        })
        .collect();
    let stranger = passage("agent-1", "s1", "gate1", None, "entry", t0);
    let mut batch = passages.clone();
    batch.push(stranger.clone());
    assert_eq!(ingest(&server, &token, &batch).0, 200);
    // Who looked at their face: the guard (enrolment photo) and the admin (a passage's crop).
    assert_eq!(guard.get("/api/v1/faces/photo/ex").0, 200);
    let crop_of = passages[1]["id"].as_str().expect("id");
    assert_eq!(admin.get(&format!("/api/v1/faces/crop/{crop_of}")).0, 200);

    let r = admin
        .agent
        .get(&format!("{}/api/v1/people/ex/export", admin.base))
        .header("Cookie", &admin.cookie)
        .call()
        .expect("export");
    assert_eq!(r.status(), 200);
    let disposition = r.headers().get("content-disposition").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert_eq!(disposition, "attachment; filename=\"person-ex.json\"");
    let mut r = r;
    let file: Value = r.body_mut().read_json().expect("one JSON file");
    assert_eq!(
        (file["person"]["name"].as_str(), file["person"]["cccd"].as_str()),
        (Some("Vũ Thị Xuất"), Some("001190001234"))
    );
    assert_eq!(
        (file["consent"]["by"].as_str(), file["consent"]["purpose"].as_str()),
        (Some("Vũ Thị Xuất"), Some("access control"))
    );
    assert_eq!(file["complete"], true, "{}", file["notes"]);
    let photos = file["photos"].as_array().expect("photos");
    assert_eq!(photos.len(), 1);
    let jpeg = base64::engine::general_purpose::STANDARD
        .decode(photos[0]["jpeg_base64"].as_str().expect("the photo itself"))
        .expect("base64");
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "a JPEG");
    let exported = file["passages"].as_array().expect("passages");
    let mut want: Vec<&str> = passages.iter().filter_map(|p| p["id"].as_str()).collect();
    let mut got: Vec<&str> = exported.iter().filter_map(|p| p["id"].as_str()).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "their passages, and no one else's");
    for e in exported {
        let sent = passages.iter().find(|p| p["id"] == e["id"]).expect("sent");
        assert_eq!(
            (&e["at_ms"], &e["site"], &e["camera"], &e["direction"]),
            (&sent["crossed_at_ms"], &sent["site"], &sent["camera"], &sent["direction"])
        );
        let crop = base64::engine::general_purpose::STANDARD
            .decode(e["face_jpeg_base64"].as_str().expect("the crop"))
            .expect("base64");
        assert_eq!(crop, photo("p01", 1), "the crop as stored");
    }
    let audit = file["audit"].as_array().expect("audit");
    let seen = |actor: &str, action: &str, target: &str| {
        audit
            .iter()
            .any(|a| a["actor"] == actor && a["action"] == action && a["target"] == target && a["at_ms"].is_i64())
    };
    assert!(seen("guard1", "face_viewed", "photo:ex"), "the guard viewed the photo: {audit:?}");
    assert!(seen("admin1", "face_viewed", &format!("crop:{crop_of}")), "the admin viewed a crop: {audit:?}");
    assert!(seen("admin1", "enrolment", "ex"), "{audit:?}");
    let exports = audit_rows(&root, "subject_export");
    assert!(
        exports.iter().any(|r| r["actor"] == "admin1" && r["target"] == "ex"),
        "the export is audited: {exports:?}"
    );
}

#[test]
fn withdrawing_consent_deletes_the_person_everywhere_and_is_on_record() {
    let db = Db::new(Backend::Sqlite, "people-withdraw");
    db.user("admin1", "admin", "s1");
    db.user("root", "superadmin", "");
    let token = db.agent("agent-1", "s1");
    let server = Server::start(&db);
    let admin = Browser::login(&server, "admin1");
    let root = Browser::login(&server, "root");
    enrolled(&admin, person("rut", "Lý Văn Rút", "resident", "s1"), "p02");
    let (_, detail) = get_json(&admin, "/api/v1/people/rut");
    let photo_id = detail["photos"][0].as_str().expect("photo").to_string();
    let since = agent_get(&server, &token, "/api/v1/gallery?since=0")["version"].as_i64().expect("version");

    let (status, body) = admin.call("POST", "/api/v1/people/rut/withdraw-consent", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(get_json(&admin, "/api/v1/people/rut").0, 404);
    assert!(!ids(&admin, "").contains(&"rut".to_string()));
    assert_eq!(admin.get(&format!("/api/v1/people/rut/photos/{photo_id}")).0, 404);
    assert!(!db.dir.join("data/photos").join(format!("{photo_id}.jpg")).exists(), "the photo file is gone");
    let delta = agent_get(&server, &token, &format!("/api/v1/gallery?since={since}"));
    assert_eq!(delta["removed"], json!(["rut"]), "edges learn of it: {delta}");
    let withdrawn = audit_rows(&root, "consent_withdrawn");
    assert_eq!(withdrawn.len(), 1, "{withdrawn:?}");
    assert_eq!((withdrawn[0]["actor"].as_str(), withdrawn[0]["target"].as_str()), (Some("admin1"), Some("rut")));
    let (status, _) = admin.call("POST", "/api/v1/people/rut/withdraw-consent", None);
    assert_eq!(status, 404, "once only");
}
