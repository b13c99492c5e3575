//! A damaged database at start: a clear refusal that says what to do, never
//! a panic; and the backup command that the recovery path relies on.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn run_to_exit(cmd: &mut Command, limit: Duration) -> (bool, String) {
    let mut child =
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("spawn");
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if child.try_wait().expect("wait").is_some() {
            let out = child.wait_with_output().expect("output");
            return (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("still running after {limit:?}: a damaged database must stop the server, not hang it");
}

#[test]
fn a_damaged_sqlite_file_stops_the_server_with_what_to_do() {
    let db = Db::new(Backend::Sqlite, "damaged");
    let file = db.dir.join("admin.db");
    // Random bytes, and a file that starts like SQLite and then is garbage.
    for damage in [vec![0x5au8; 20_000], [b"SQLite format 3\0".to_vec(), vec![0xa5u8; 8192]].concat()] {
        write(&file, &damage);
        let (ok, stderr) = run_to_exit(
            testkit::admin::command(&db.url).expect("admin-api").args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{}", free_port()),
            ]),
            Duration::from_secs(15),
        );
        assert!(!ok, "the server must not start on a damaged database");
        assert!(stderr.contains("cannot open database") && stderr.contains("restore the latest backup"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(std::fs::read(&file).expect("file"), damage, "the damaged file is left as it was, for inspection");
    }
}

#[test]
fn a_backup_is_a_working_copy_of_the_database() {
    let db = Db::new(Backend::Sqlite, "backup");
    db.user("admin1", "admin", "s1");
    let token = db.agent("agent-1", "s1");
    let server = Server::start(&db);
    let events = [passage("agent-1", "s1", "gate1", None, "entry", now_ms())];
    assert_eq!(ingest(&server, &token, &events).0, 200);
    let copy = db.dir.join("copy.db");
    db.cli(&["backup", "--to", copy.to_str().expect("utf-8")]);
    let (ok, _, err) = db.cli_raw(&["backup", "--to", copy.to_str().expect("utf-8")], &[]);
    assert!(!ok && err.contains("exists already"), "never overwrites: {err}");
    drop(server);
    let text = testkit::admin::cli(&format!("sqlite:{}", copy.display()), &["events"], &[]).expect("events");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains(events[0]["id"].as_str().expect("id")));
}
