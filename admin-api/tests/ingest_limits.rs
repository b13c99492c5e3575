//! Ingest at its limits, real binary on 127.0.0.1: the largest batch an
//! agent sends — by count with a face crop on every event, and by bytes —
//! is accepted; a crop that is not a JPEG or is too large is refused; a
//! re-sent event never replaces the evidence stored for it; a box's clock
//! running ahead cannot date an event into the future.

mod common;

use base64::Engine as _;
use common::*;
use serde_json::Value;
use wire::events::{MAX_BATCH_BYTES, MAX_BATCH_EVENTS, MAX_CROP_BYTES};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A real face photo scaled to `side` px with grain: a JPEG of ~200 KB at 560 px (ffmpeg).
fn big_jpeg(dir: &std::path::Path, side: u32) -> Vec<u8> {
    let out = dir.join(format!("big{side}.jpg"));
    let status = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i"])
        .arg(repo().join("fixtures/s01_walk_in_720p/gallery/p01/1.jpg"))
        .args(["-vf", &format!("scale={side}:{side},noise=alls=30:allf=t"), "-q:v", "1", "-frames:v", "1"])
        .arg(&out)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    std::fs::read(out).expect("jpeg")
}

fn with_crop(mut event: Value, jpeg: &[u8]) -> Value {
    event["face_jpeg_b64"] = Value::String(b64(jpeg));
    event
}

fn limits(backend: Backend) {
    let db = Db::new(backend, "ingest-limits");
    db.user("admin1", "admin", "s1");
    let token = db.agent("agent-1", "s1");
    let server = Server::start(&db);
    let crops = db.dir.join("data/crops");

    // By count: the most events a batch holds, each with a crop.
    let face = photo("p01", 1);
    let batch: Vec<Value> = (0..MAX_BATCH_EVENTS)
        .map(|_| with_crop(passage("agent-1", "s1", "gate1", None, "entry", now_ms()), &face))
        .collect();
    let (s, body) = ingest(&server, &token, &batch);
    assert_eq!(s, 200, "{backend:?}: a full batch with crops: {body}");
    assert_eq!(body["accepted"].as_array().map(Vec::len), Some(MAX_BATCH_EVENTS));

    // By bytes: large crops, up to the agent's byte budget for a batch.
    let large = big_jpeg(&db.dir, 560);
    assert!(large.len() > 64 << 10 && large.len() <= MAX_CROP_BYTES, "{} bytes", large.len());
    let one = serde_json::to_vec(&with_crop(passage("agent-1", "s1", "gate1", None, "entry", now_ms()), &large))
        .expect("json")
        .len();
    let n = MAX_BATCH_BYTES / (one + 1);
    let batch: Vec<Value> =
        (0..n).map(|_| with_crop(passage("agent-1", "s1", "gate1", None, "entry", now_ms()), &large)).collect();
    let (s, body) = ingest(&server, &token, &batch);
    assert_eq!(s, 200, "{backend:?}: a batch of {n} events, {} MB: {body}", (n * one) >> 20);

    // Crops that are not JPEG, or too large, are refused.
    let png = with_crop(passage("agent-1", "s1", "gate1", None, "entry", now_ms()), b"\x89PNG\r\n\x1a\n....");
    let (s, body) = ingest(&server, &token, &[png]);
    assert!(s == 400 && body["error"].as_str().unwrap_or("").contains("not a JPEG"), "{s}: {body}");
    let mut huge = vec![0xFF, 0xD8, 0xFF];
    huge.resize(MAX_CROP_BYTES + 1, 0);
    let (s, body) =
        ingest(&server, &token, &[with_crop(passage("agent-1", "s1", "gate1", None, "entry", now_ms()), &huge)]);
    assert_eq!(s, 413, "{body}");

    // Re-sending an event with another face does not replace its crop.
    let first = batch[0].clone();
    let id = first["id"].as_str().expect("id").to_string();
    let before = std::fs::read(crops.join(format!("{id}.jpg"))).expect("stored crop");
    let swapped = with_crop(first, &photo("p02", 1));
    assert_eq!(ingest(&server, &token, &[swapped]).0, 200, "a re-send is acknowledged");
    assert_eq!(std::fs::read(crops.join(format!("{id}.jpg"))).expect("crop"), before, "the evidence was replaced");
    // Faces on disk are the service's alone.
    use std::os::unix::fs::PermissionsExt;
    for path in [crops.join(format!("{id}.jpg")), crops.clone()] {
        let mode = std::fs::metadata(&path).expect("metadata").permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} is open to others: {mode:o}", path.display());
    }

    // A clock a day ahead is taken as now: nothing is dated past it.
    let ahead = passage("agent-1", "s1", "gate1", None, "entry", now_ms() + 86_400_000);
    assert_eq!(ingest(&server, &token, std::slice::from_ref(&ahead)).0, 200);
    let admin = Browser::login(&server, "admin1");
    let (s, page) = admin.get(&format!("/api/v1/log?from={}", now_ms() + 6 * 60_000));
    assert_eq!(s, 200, "{page}");
    assert_eq!(serde_json::from_str::<Value>(&page).expect("json")["total"], 0, "{backend:?}: dated ahead: {page}");
}

#[test]
fn ingest_limits_sqlite() {
    limits(Backend::Sqlite);
}

#[test]
fn ingest_limits_postgres() {
    limits(Backend::Postgres);
}
