//! Real processes for the admin API's tests, from `testkit`: the admin-api
//! binary on a database of either kind (a fresh SQLite file, or a fresh
//! database on the PostgreSQL server `make setup` starts on 127.0.0.1),
//! killed when dropped; and the API as a signed-in browser, an edge agent or
//! an alert stream sees it.
#![allow(dead_code, unused_imports)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub use testkit::postgres::{Backend, Database, PG_ADMIN};
pub use testkit::rtsp::{RtspServer, looped};
pub use testkit::{Proc, free_port, http, repo, workspace_bin};
pub use wire::time::now_ms;

pub mod web;

/// For each `fn NAME(backend: Backend)`, the tests `NAME::sqlite` and
/// `NAME::postgres`: a failure on one database is reported on its own and
/// never hides the other's.
#[macro_export]
macro_rules! on_each_backend {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name($crate::common::Backend::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name($crate::common::Backend::Postgres)
            }
        }
    )+};
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh database of this kind and a data folder, removed when dropped.
pub struct Db {
    pub url: String,
    pub dir: PathBuf,
    database: Database,
}

impl Db {
    pub fn new(backend: Backend, name: &str) -> Db {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = testkit::scratch(&format!("api-{name}-{n}")).expect("a scratch folder");
        let database = Database::new(backend, "test", &dir).expect("a fresh database");
        Db { url: database.url().to_string(), dir, database }
    }

    /// Runs an admin-api command; (success, stdout, stderr).
    pub fn cli_raw(&self, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
        let out = testkit::admin::cli_raw(&self.url, args, env).expect("admin-api runs");
        (out.success, out.stdout, out.stderr)
    }

    pub fn cli(&self, args: &[&str]) -> String {
        testkit::admin::cli(&self.url, args, &[]).expect("admin-api")
    }

    pub fn user(&self, username: &str, role: &str, sites: &str) {
        let args = ["create-user", "--username", username, "--role", role, "--sites", sites];
        testkit::admin::cli(&self.url, &args, &[("GATEWATCH_PASSWORD", &password(username))]).expect("create-user");
    }

    pub fn agent(&self, id: &str, site: &str) -> String {
        self.cli(&["add-agent", "--id", id, "--site", site]).trim().to_string()
    }

    /// Runs SQL on this database (PostgreSQL only).
    pub fn psql(&self, sql: &str) {
        let name = self.database.pg_name().expect("psql needs the PostgreSQL backend");
        testkit::postgres::psql_on(name, sql).expect("SQL");
    }

    pub fn events(&self) -> Vec<Value> {
        self.cli(&["events"]).lines().map(|l| serde_json::from_str(l).expect("json")).collect()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The usual start of a test: a fresh database of `backend`'s kind with
/// site s1's admin `admin1` and agent `agent-1`, served, the admin signed in.
/// Bound in this order, the server is dropped (killed) before its database.
pub struct Site {
    pub db: Db,
    pub token: String,
    pub server: Server,
    pub admin: Browser,
}

impl Site {
    pub fn new(backend: Backend, name: &str) -> Site {
        let db = Db::new(backend, name);
        db.user("admin1", "admin", "s1");
        let token = db.agent("agent-1", "s1");
        let server = Server::start(&db);
        let admin = Browser::login(&server, "admin1");
        Site { db, token, server, admin }
    }
}

/// Test users' passwords (long enough for the policy).
pub fn password(username: &str) -> String {
    format!("{username}-password-123")
}

/// `admin-api serve` on a free port, on `Db`'s database and data folder.
pub struct Server {
    pub proc: Proc,
    pub port: u16,
}

impl Server {
    pub fn start(db: &Db) -> Server {
        Server::start_with(db, &[])
    }

    /// `serve` with more options.
    pub fn start_with(db: &Db, options: &[&str]) -> Server {
        let port = free_port();
        let proc = testkit::admin::serve(&db.url, &db.dir.join("data"), port, options).expect("the admin API starts");
        Server { proc, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// An HTTP client with a cookie jar, signed in as a user.
pub struct Browser {
    pub agent: ureq::Agent,
    pub base: String,
    pub csrf: String,
    /// `gw_session=…`, sent back as the `Cookie` header.
    pub cookie: String,
}

impl Browser {
    pub fn login(server: &Server, username: &str) -> Browser {
        let session = testkit::admin::login(&server.url(), username, &password(username)).expect("login");
        Browser { agent: http(), base: server.url(), csrf: session.csrf, cookie: session.cookie }
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        let mut r = self.agent.get(&format!("{}{path}", self.base)).header("Cookie", &self.cookie).call().expect("get");
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default())
    }

    pub fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let mut r = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("X-CSRF-Token", &self.csrf)
            .header("Cookie", &self.cookie)
            .send_json(body)
            .expect("post");
        (r.status().as_u16(), r.body_mut().read_json().unwrap_or(Value::Null))
    }

    /// Any method with a JSON body (or none): (status, JSON answer or null).
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let with = |r: ureq::RequestBuilder<ureq::typestate::WithBody>| {
            r.header("X-CSRF-Token", &self.csrf)
                .header("Cookie", &self.cookie)
                .send_json(body.clone().unwrap_or(Value::Null))
        };
        let without = |r: ureq::RequestBuilder<ureq::typestate::WithoutBody>| {
            r.header("X-CSRF-Token", &self.csrf).header("Cookie", &self.cookie).call()
        };
        let response = match method {
            "PUT" => with(self.agent.put(&url)),
            "POST" => with(self.agent.post(&url)),
            "DELETE" => without(self.agent.delete(&url)),
            _ => without(self.agent.get(&url)),
        };
        let mut r = response.expect("request");
        (r.status().as_u16(), r.body_mut().read_json().unwrap_or(Value::Null))
    }

    /// `multipart/form-data` with a `person` JSON field and photo files.
    pub fn enrol(&self, person: Value, photos: &[(&str, Vec<u8>)]) -> (u16, Value) {
        self.post_photos("/api/v1/people", Some(&person), photos)
    }

    /// A signed-in multipart POST of `photo` files, after a `person` JSON
    /// field when given (enrolment; adding photos to someone has none).
    pub fn post_photos(&self, path: &str, person: Option<&Value>, photos: &[(&str, Vec<u8>)]) -> (u16, Value) {
        let boundary = "gatewatch-test-boundary-7d1f";
        let mut body = Vec::new();
        if let Some(person) = person {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"person\"\r\n\r\n{person}\r\n")
                    .as_bytes(),
            );
        }
        for (name, bytes) in photos {
            body.extend_from_slice(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.post_multipart(path, boundary, &body)
    }

    /// A signed-in `multipart/form-data` POST of a body built with `boundary`.
    fn post_multipart(&self, path: &str, boundary: &str, body: &[u8]) -> (u16, Value) {
        let mut r = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("X-CSRF-Token", &self.csrf)
            .header("Cookie", &self.cookie)
            .header("Content-Type", &format!("multipart/form-data; boundary={boundary}"))
            .send(body)
            .expect("post");
        (r.status().as_u16(), r.body_mut().read_json().unwrap_or(Value::Null))
    }

    /// `POST /api/v1/people/import`: a CSV of people and a zip of their photos.
    pub fn import(&self, csv: &str, photos: &[(&str, Vec<u8>)]) -> (u16, Value) {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, bytes) in photos {
            zip.start_file(*name, zip::write::SimpleFileOptions::default()).expect("zip");
            zip.write_all(bytes).expect("zip");
        }
        let zip_bytes = zip.finish().expect("zip").into_inner();
        let boundary = "import-boundary-3f9a";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"csv\"; filename=\"people.csv\"\r\n\r\n{csv}\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"photos.zip\"\r\nContent-Type: application/zip\r\n\r\n").as_bytes());
        body.extend_from_slice(&zip_bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.post_multipart("/api/v1/people/import", boundary, &body)
    }
}

/// Sends events as an edge agent would.
pub fn ingest(server: &Server, token: &str, events: &[Value]) -> (u16, Value) {
    let mut r = http()
        .post(&format!("{}/api/v1/events", server.url()))
        .header("Authorization", &format!("Bearer {token}"))
        .send_json(events)
        .expect("post");
    (r.status().as_u16(), r.body_mut().read_json().unwrap_or(Value::Null))
}

/// A GET as an edge agent (bearer token); the JSON answer.
pub fn agent_get(server: &Server, token: &str, path: &str) -> Value {
    http()
        .get(&format!("{}{path}", server.url()))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .expect("get")
        .body_mut()
        .read_json()
        .expect("json")
}

pub fn photo(person: &str, n: u32) -> Vec<u8> {
    std::fs::read(repo().join(format!("fixtures/s01_walk_in_720p/gallery/{person}/{n}.jpg")))
        .expect("fixture photo (run `make fixtures`)")
}

/// A passage event with a face crop (a real face photo) and, optionally, an anomaly about it.
pub fn passage(agent: &str, site: &str, camera: &str, person: Option<&str>, direction: &str, at_ms: i64) -> Value {
    use base64::Engine as _;
    json!({
        "id": uuid::Uuid::new_v4().to_string(), "agent": agent, "site": site, "camera": camera,
        "created_ms": at_ms, "type": "passage", "direction": direction, "person_id": person,
        "similarity": person.map(|_| 0.71), "track": 1, "crossed_at_ms": at_ms, "face_quality": 0.8,
        "face_jpeg_b64": base64::engine::general_purpose::STANDARD.encode(photo("p01", 1)),
    })
}

pub fn anomaly(
    agent: &str,
    site: &str,
    camera: &str,
    kind: &str,
    person: Option<&str>,
    passage_id: Option<&str>,
) -> Value {
    json!({
        "id": uuid::Uuid::new_v4().to_string(), "agent": agent, "site": site, "camera": camera,
        "created_ms": now_ms(), "type": "anomaly", "kind": kind, "detail": format!("{kind} at {camera}"),
        "person_id": person, "passage_id": passage_id,
    })
}

pub fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("write");
}

/// One open SSE connection, read message by message.
pub struct Sse {
    reader: BufReader<TcpStream>,
}

/// A message: its `event:` and `id:` fields; `None` once the server closed.
pub type Message = (String, String);

impl Sse {
    /// Opens the stream as `b`; `Err(status line)` when refused.
    pub fn open(server: &Server, b: &Browser, last_event_id: Option<&str>) -> Result<Sse, String> {
        let mut tcp = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        let last = last_event_id.map(|id| format!("Last-Event-ID: {id}\r\n")).unwrap_or_default();
        write!(
            tcp,
            "GET /api/v1/alerts/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {}\r\nAccept: text/event-stream\r\n{last}\r\n",
            b.cookie
        )
        .expect("request");
        let mut reader = BufReader::new(tcp);
        let mut status = String::new();
        reader.read_line(&mut status).expect("status line");
        if !status.contains(" 200 ") {
            return Err(status);
        }
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header");
            if line.trim().is_empty() {
                return Ok(Sse { reader });
            }
        }
    }

    /// The next message (chunked transfer framing is skipped as lines that
    /// are not fields); `None` when the server ends the stream or `limit` passes.
    pub fn next(&mut self, limit: Duration) -> Option<Message> {
        let until = Instant::now() + limit;
        let (mut event, mut id) = (String::new(), String::new());
        loop {
            if Instant::now() > until {
                return None;
            }
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            let line = line.trim_end();
            if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().to_string();
            } else if line.is_empty() && !event.is_empty() {
                return Some((event, id));
            } else if line == "0" {
                return None; // the last chunk: the server ended the stream
            }
        }
    }
}
