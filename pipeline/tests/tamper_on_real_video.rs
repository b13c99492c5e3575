//! `camera_tampered` on real video: a covered lens and a frozen feed are
//! reported; real scenes — an empty gate, people standing still — are not.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pipeline::eval::replay::{ReplayError, for_each_frame};
use pipeline::rules::tamper::{TamperConfig, TamperWatch, Tampering};

fn fixture_video(name: &str) -> PathBuf {
    let p = common::fixtures_root().join(name).join("video.mp4");
    assert!(p.is_file(), "{} missing: run `make fixtures`", p.display());
    p
}

/// Every tampering reported while playing `video`, with its stream time, and
/// the longest stretch (s) over which consecutive frames did not change.
fn tamperings(video: &Path) -> (Vec<(Duration, Tampering)>, f32) {
    let mut watch = TamperWatch::new(TamperConfig::default());
    let mut probe = TamperWatch::new(TamperConfig::default());
    let mut found = Vec::new();
    let (mut still_since, mut longest_still) = (None, 0.0f32);
    for_each_frame(video, |frame, ts, _| {
        let still = probe.stats(frame).change.is_some_and(|c| c <= TamperConfig::default().frozen_diff);
        if still {
            let since = *still_since.get_or_insert(ts);
            longest_still = longest_still.max((ts - since).as_secs_f32());
        } else {
            still_since = None;
        }
        if let Some(t) = watch.observe(frame, ts) {
            found.push((ts, t));
        }
        Ok::<_, ReplayError>(())
    })
    .expect("decode");
    (found, longest_still)
}

/// Derives a test video from a fixture with ffmpeg (installed by `make setup`).
fn derived(name: &str, args: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gatewatch-tamper-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y"])
        .args(args)
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-an"])
        .arg(&out)
        .status()
        .expect("ffmpeg (run `make setup`)");
    assert!(status.success());
    out
}

#[test]
fn real_scenes_without_tampering_stay_quiet() {
    for name in ["s08_empty_gate_720p", "s11_talking_heads_720p", "s01_walk_in_720p"] {
        let (found, longest_still) = tamperings(&fixture_video(name));
        assert!(found.is_empty(), "{name}: {found:?}");
        // Quiet for the right reason: real footage (s08, s11 are unedited
        // recordings) never holds still for long, even with nobody in it.
        if name != "s01_walk_in_720p" {
            assert!(longest_still < 1.0, "{name}: still for {longest_still} s");
        }
    }
}

#[test]
fn a_feed_frozen_on_one_frame_is_reported_after_five_seconds() {
    let src = fixture_video("s01_walk_in_720p");
    let s = src.display().to_string();
    // 2 s of the real scene, then its last frame held for 8 s.
    let video =
        derived("frozen.mp4", &["-t", "2", "-i", &s, "-vf", "tpad=stop_mode=clone:stop_duration=8", "-r", "25"]);
    let (found, _) = tamperings(&video);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1, Tampering::Frozen);
    let t = found[0].0.as_secs_f32();
    assert!((6.5..=7.5).contains(&t), "reported at {t} s, expected 2 s + 5 s");
}

#[test]
fn a_covered_lens_is_reported_as_blind() {
    let src = fixture_video("s01_walk_in_720p");
    let s = src.display().to_string();
    // The real scene darkened to near black (a hand over the lens), with its sensor noise kept.
    let video = derived("black.mp4", &["-i", &s, "-vf", "eq=brightness=-0.9:contrast=0.1", "-r", "25"]);
    let (found, _) = tamperings(&video);
    assert_eq!(found.iter().map(|f| f.1).collect::<Vec<_>>(), vec![Tampering::Blind], "{found:?}");
}
