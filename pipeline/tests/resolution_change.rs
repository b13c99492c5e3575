//! A camera that changes resolution mid-stream (a camera reconfigured from
//! its web page, a stream switching profiles): decoding follows the new size
//! frame by frame, and the engine keeps recognising without an error.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, RwLock};

use pipeline::engine::{CameraContext, Engine, EngineConfig};
use pipeline::eval::replay::{ReplayError, for_each_frame, run_video};
use pipeline::gallery::Gallery;
use pipeline::vision::models::Models;
use pipeline::vision::runtime::Threads;

fn ffmpeg(args: &[&str]) {
    let out =
        Command::new("ffmpeg").args(["-loglevel", "error", "-y"]).args(args).output().expect("ffmpeg (make setup)");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// s01 as one H.264 stream: its first 3 s at 640×360, the rest at 1280×720.
fn switching_video(dir: &Path) -> PathBuf {
    let src = common::fixtures_root().join("s01_walk_in_720p/video.mp4");
    let src = src.to_str().expect("utf-8");
    let (a, b, out) = (dir.join("a.ts"), dir.join("b.ts"), dir.join("switching.ts"));
    let enc = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-an", "-f", "mpegts"];
    let mut first = vec!["-i", src, "-t", "3", "-vf", "scale=640:360"];
    first.extend(enc);
    first.push(a.to_str().expect("utf-8"));
    ffmpeg(&first);
    let mut second = vec!["-ss", "3", "-i", src];
    second.extend(enc);
    second.push(b.to_str().expect("utf-8"));
    ffmpeg(&second);
    // MPEG-TS segments concatenate byte for byte: one stream, new SPS mid-way.
    let bytes = [std::fs::read(&a).expect("a"), std::fs::read(&b).expect("b")].concat();
    std::fs::write(&out, bytes).expect("write");
    out
}

#[test]
fn a_resolution_change_mid_stream_is_followed_frame_by_frame() {
    let dir = std::env::temp_dir().join(format!("gatewatch-resolution-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let video = switching_video(&dir);
    let mut sizes = Vec::new();
    let frames = for_each_frame(&video, |f, _, _| {
        if sizes.last() != Some(&(f.width(), f.height())) {
            sizes.push((f.width(), f.height()));
        }
        Ok::<(), ReplayError>(())
    })
    .expect("decodes");
    assert_eq!(sizes, vec![(640, 360), (1280, 720)], "both sizes, in order");
    assert!((140..=160).contains(&frames), "{frames} frames");

    let models = Models::locate().expect("models (make models)");
    let fixture =
        pipeline::eval::fixture::Fixture::open(&common::fixtures_root().join("s01_walk_in_720p")).expect("fixture");
    let camera = CameraContext { id: "gate1".into(), line: fixture.camera.line };
    let gallery = Arc::new(RwLock::new(Arc::new(Gallery::new(&models.recogniser.model_id()))));
    let mut engine =
        Engine::new(&models, camera, EngineConfig::default(), gallery, Threads::default()).expect("engine");
    let run = run_video(&mut engine, &video, |_| {}).expect("the engine runs through the change");
    assert_eq!(run.frames, frames);
    // Every frame of both sizes was either searched for faces or judged
    // still by the motion gate (which compares only frames of one size).
    assert_eq!(run.timings.detect.len() as u64 + run.timings.skipped, frames, "every frame was looked at");
    assert!(run.timings.detect.len() >= 2, "the first frame of each size is always searched");
    let _ = std::fs::remove_dir_all(&dir);
}
