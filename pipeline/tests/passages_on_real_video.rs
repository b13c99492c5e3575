//! The whole pipeline, real models on real video: what a gate sees.

mod common;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use pipeline::engine::{CameraContext, Engine, EngineConfig};
use pipeline::eval::fixture::Fixture;
use pipeline::eval::replay::{ReplayError, ReplayRun, replay_fixture, run_video};
use pipeline::gallery::Gallery;
use pipeline::tracking::identity::Identity;
use pipeline::tracking::line::{CountingLine, Side};
use pipeline::tracking::passage::PassageConfig;
use pipeline::vision::models::Models;
use pipeline::vision::runtime::Threads;
use wire::Direction;

fn models() -> Models {
    Models::in_dir(&common::repo().join("models")).expect("models installed (run `make models`)")
}

fn replay(name: &str) -> (Fixture, ReplayRun) {
    let fixture = Fixture::open(&common::fixtures_root().join(name)).expect("fixture (run `make fixtures`)");
    let (_, run) =
        replay_fixture(&models(), &fixture, EngineConfig::default(), Threads::default(), |_| {}).expect("replay");
    (fixture, run)
}

#[test]
fn a_known_person_walking_in_yields_one_entry_with_the_right_identity() {
    let (_, run) = replay("s01_walk_in_720p");
    assert_eq!(run.passages.len(), 1, "{:?}", run.passages);
    let p = &run.passages[0];
    assert_eq!(p.direction, Direction::Entry);
    assert_eq!(p.identity.person_id(), Some("p01"));
    assert!(p.identity.similarity().is_some_and(|s| s > 0.6), "{:?}", p.identity);
    let jpeg = p.face_jpeg.as_ref().expect("a face crop travels with the passage");
    assert_eq!(&jpeg[..2], &[0xff, 0xd8], "JPEG");
}

#[test]
fn a_watch_listed_person_is_named_before_reaching_the_line_and_the_passage_keeps_that_name() {
    let (fixture, run) = replay("s05_watchlist_720p");
    for truth in fixture.truth.passages.iter().filter(|t| t.person.as_deref() == Some("p09")) {
        let t_cross = truth.t_cross.expect("truth crossing time");
        let passage = run
            .passages
            .iter()
            .find(|p| (p.crossed_at.as_secs_f64() - t_cross).abs() < 1.0)
            .unwrap_or_else(|| panic!("no passage at {t_cross} s: {:?}", run.passages));
        assert_eq!(passage.identity.person_id(), Some("p09"));
        assert!(passage.sighted_early, "p09's passage at {t_cross} s was not announced ahead: {:?}", run.sightings);
        let sighting = run.sightings.iter().find(|s| s.passage_id == passage.id).expect("the announcing sighting");
        assert_eq!(sighting.identity.person_id(), Some("p09"));
        // Before the passage would have spoken (its wait for a better face
        // after the crossing), and for the walk in, before the line.
        let emitted_at = passage.crossed_at + Duration::from_millis(PassageConfig::default().emit_delay_ms);
        assert!(sighting.decided_at < emitted_at, "decided at {:?}, passage at {emitted_at:?}", sighting.decided_at);
        if truth.direction == Direction::Entry {
            assert!(sighting.decided_at < passage.crossed_at, "{sighting:?} after the crossing of {passage:?}");
        }
        assert!(sighting.first_face_at <= sighting.decided_at);
        let jpeg = sighting.face_jpeg.as_ref().expect("the early alert shows the face");
        assert_eq!(&jpeg[..2], &[0xff, 0xd8], "JPEG");
    }
    // No one else is named ahead as p09, and every early name is its passage's.
    for s in &run.sightings {
        let passage = run.passages.iter().find(|p| p.track == s.track);
        if let (Some(named), Some(p)) = (s.identity.person_id(), passage) {
            assert_eq!(Some(named), p.identity.person_id(), "track {} named early as {named}", s.track);
        }
    }
}

#[test]
fn strangers_are_unknown_and_never_matched() {
    let (fixture, run) = replay("s04_unknowns_720p");
    let strangers = fixture.truth.passages.iter().filter(|t| t.person.is_none()).count();
    let unknown = run.passages.iter().filter(|p| matches!(p.identity, Identity::Unknown { .. })).count();
    assert_eq!(unknown, strangers, "{:?}", run.passages.iter().map(|p| &p.identity).collect::<Vec<_>>());
    for p in &run.passages {
        if let Identity::Unknown { best_similarity: Some(s) } = p.identity {
            assert!(s < 0.42, "a stranger's best similarity {s} would pass the threshold");
        }
    }
}

#[test]
fn two_people_crossing_in_opposite_directions_yield_one_entry_and_one_exit() {
    let (_, run) = replay("s09_side_gate_720p");
    // The first two people cross side by side, opposite ways, during the first 4 s.
    let early: Vec<_> = run.passages.iter().filter(|p| p.first_seen.as_secs_f32() < 2.0).collect();
    assert_eq!(early.len(), 2, "{early:?}");
    let entry = early.iter().find(|p| p.direction == Direction::Entry).expect("an entry");
    let exit = early.iter().find(|p| p.direction == Direction::Exit).expect("an exit");
    assert_eq!(entry.identity.person_id(), Some("p01"));
    assert_eq!(exit.identity.person_id(), Some("p03"));
}

#[test]
fn a_video_with_no_face_yields_nothing() {
    let m = models();
    let camera =
        CameraContext { id: "empty".into(), line: CountingLine { a: [0.0, 0.5], b: [1.0, 0.5], inside: Side::Below } };
    let gallery = Arc::new(RwLock::new(Arc::new(Gallery::new(&m.recogniser.model_id()))));
    let mut engine = Engine::new(&m, camera, EngineConfig::default(), gallery, Threads::default()).expect("engine");
    let run = run_video(&mut engine, &common::media("no_face_mp4.mp4"), |_| {}).expect("replay");
    assert!(run.frames > 90, "{} frames", run.frames);
    assert!(run.passages.is_empty(), "{:?}", run.passages);
}

#[test]
fn a_corrupt_video_file_is_a_clear_error() {
    let m = models();
    let dir = std::env::temp_dir().join(format!("gatewatch-corrupt-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let video = dir.join("video.mp4");
    let mut bytes = std::fs::read(common::fixtures_root().join("s01_walk_in_720p/video.mp4")).expect("read");
    bytes.truncate(2000); // the header survives, the stream does not
    std::fs::write(&video, bytes).expect("write");
    let camera =
        CameraContext { id: "x".into(), line: CountingLine { a: [0.0, 0.5], b: [1.0, 0.5], inside: Side::Below } };
    let gallery = Arc::new(RwLock::new(Arc::new(Gallery::new(&m.recogniser.model_id()))));
    let mut engine = Engine::new(&m, camera, EngineConfig::default(), gallery, Threads::default()).expect("engine");
    let err = run_video(&mut engine, &video, |_| {}).expect_err("corrupt video");
    assert!(matches!(err, ReplayError::Source(_)), "{err:?}");
    assert!(err.to_string().contains("video.mp4"), "the message names the file: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}
