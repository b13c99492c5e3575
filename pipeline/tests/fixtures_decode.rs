//! The generated fixtures: every truth parses, every video decodes through
//! GStreamer with the frame count camera.toml states, and the set covers what
//! the accuracy tests need.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use pipeline::eval::fixture::Fixture;
use pipeline::vision::frame::BgrImage;
use pipeline::vision::source::{Pulled, SourceOptions, SourceUrl, VideoSource};
use wire::Category;

fn all_fixtures() -> Vec<Fixture> {
    let dirs = Fixture::discover(&common::fixtures_root()).expect("fixtures folder");
    assert!(!dirs.is_empty(), "no fixtures: run `make fixtures`");
    dirs.iter().map(|d| Fixture::open(d).unwrap_or_else(|e| panic!("{e}"))).collect()
}

#[test]
fn the_fixture_set_covers_the_required_scenes() {
    let fixtures = all_fixtures();
    assert!(fixtures.len() >= 8, "{} scenes", fixtures.len());
    let passages: usize = fixtures.iter().map(|f| f.truth.passages.len()).sum();
    assert!(passages >= 40, "{passages} passages");
    let enrolled_seen: BTreeSet<&str> =
        fixtures.iter().flat_map(|f| f.truth.passages.iter().filter_map(|p| p.person.as_deref())).collect();
    assert!(enrolled_seen.len() >= 6, "{} distinct enrolled people pass", enrolled_seen.len());
    let unknown: usize = fixtures.iter().map(|f| f.truth.passages.iter().filter(|p| p.person.is_none()).count()).sum();
    assert!(unknown >= 4, "{unknown} unknown passages");
    assert!(fixtures.iter().any(|f| f.people.iter().any(|p| p.spec.category == Category::Watchlist
        && f.truth.passages.iter().any(|t| t.person.as_deref() == Some(p.id.as_str())))));
    let sizes: BTreeSet<u32> = fixtures.iter().map(|f| f.camera.height).collect();
    assert!(sizes.contains(&720) && sizes.contains(&1080), "{sizes:?}");
    assert!(fixtures.iter().any(|f| f.truth.passages.is_empty()), "a scene where nobody crosses");
    let rates: BTreeSet<u32> = fixtures.iter().map(|f| f.camera.fps.round() as u32).collect();
    assert!([10, 15, 25, 30].iter().all(|r| rates.contains(r)), "cameras at 10, 15, 25 and 30 fps: {rates:?}");
    assert!(
        fixtures.iter().all(|f| f.truth.passages.iter().all(|p| p.t_cross.is_some() && p.cross_pos.is_some())),
        "every truth passage says when and where it crossed the line"
    );
    // One walk, two passages: the first's span ends where the second's begins.
    let u_turn = |f: &Fixture| {
        f.truth.passages.iter().any(|a| {
            f.truth.passages.iter().any(|b| {
                a.person.is_some()
                    && a.person == b.person
                    && a.direction != b.direction
                    && (a.t_end - b.t_start).abs() < 1e-6
            })
        })
    };
    assert!(fixtures.iter().any(u_turn), "someone crosses and comes back");
    for split in ["tune_", "test_"] {
        let n = fixtures.iter().filter(|f| f.name.starts_with(split)).count();
        assert!(n >= 15, "{n} scenes in the {split} split");
    }
}

#[test]
fn every_video_decodes_with_the_stated_frame_count_and_size() {
    for f in all_fixtures() {
        let mut src = VideoSource::open(&SourceUrl::File(f.video.clone()), SourceOptions::default()).expect("open");
        let mut frame = BgrImage::default();
        loop {
            match src.pull(&mut frame, Duration::from_secs(10)).unwrap_or_else(|e| panic!("{}: {e}", f.name)) {
                Pulled::Frame { .. } => {
                    assert_eq!(
                        (frame.width() as u32, frame.height() as u32),
                        (f.camera.width, f.camera.height),
                        "{}",
                        f.name
                    );
                }
                Pulled::Eos => break,
                Pulled::Timeout => panic!("{}: decoding stalled", f.name),
            }
        }
        assert_eq!(src.frames(), f.camera.frames, "{}: decoded frames", f.name);
    }
}

#[test]
fn a_corrupt_video_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("gatewatch-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let path = dir.join("video.mp4");
    std::fs::write(&path, b"this is not an mp4 file at all, just text").expect("write");
    let mut src = VideoSource::open(&SourceUrl::File(path), SourceOptions::default()).expect("open starts");
    let mut frame = BgrImage::default();
    let err = loop {
        match src.pull(&mut frame, Duration::from_secs(5)) {
            Err(e) => break e,
            Ok(Pulled::Timeout) => continue,
            Ok(other) => panic!("corrupt file produced {other:?}"),
        }
    };
    let msg = err.to_string();
    assert!(msg.contains("video.mp4"), "error names the file: {msg}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_video_file_is_named() {
    let err = VideoSource::open(&SourceUrl::File("/nonexistent/x.mp4".into()), SourceOptions::default())
        .err()
        .expect("error");
    assert!(err.to_string().contains("/nonexistent/x.mp4"));
}
