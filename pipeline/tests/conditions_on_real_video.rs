//! The hard conditions of a real gate, real models on real faces: every person
//! crossing is one passage named right, whatever the camera's frame rate, the
//! crowd, the light, a post in the way or a head turned away; a U-turn is an
//! entry and an exit; turning back short of the line, or lingering on it, is
//! nothing.
//!
//! These replay the `tune_*` scenes (the split the engine's parameters were
//! chosen on; `edge-agent replay fixtures/` reports the `test_*` split too).

mod common;

use pipeline::engine::EngineConfig;
use pipeline::eval::evaluate::{Evaluation, Found, evaluate};
use pipeline::eval::fixture::Fixture;
use pipeline::eval::replay::replay_fixture;
use pipeline::vision::models::Models;
use pipeline::vision::runtime::Threads;
use wire::Direction;

fn models() -> Models {
    Models::in_dir(&common::repo().join("models")).expect("models installed (run `make models`)")
}

fn fixture(name: &str) -> Fixture {
    Fixture::open(&common::fixtures_root().join(name)).expect("fixture (run `make fixtures`)")
}

fn replay(name: &str) -> (Fixture, Evaluation) {
    let fixture = fixture(name);
    let (_, run) =
        replay_fixture(&models(), &fixture, EngineConfig::default(), Threads::default(), |_| {}).expect("replay");
    let found: Vec<Found> = run.passages.iter().map(Found::from).collect();
    let evaluation = evaluate(&fixture.truth, &found);
    (fixture, evaluation)
}

/// Every truth passage found once, in its direction, with its identity, and nothing else.
fn assert_every_passage_once_and_named(name: &str) {
    let (fixture, e) = replay(name);
    let s = e.scores;
    let listing = format!("{name}: found {:#?}\nmissed {:#?}", e.found, e.missed);
    assert_eq!(s.passages.expected, fixture.truth.passages.len());
    assert_eq!(s.passages.matched, s.passages.expected, "every crossing is a passage: {listing}");
    assert_eq!(s.passages.found, s.passages.expected, "and nothing else is: {listing}");
    assert_eq!(s.direction.correct, s.passages.matched, "each in its direction: {listing}");
    assert_eq!(s.identity.false_accept, 0, "no one named who did not pass: {listing}");
    assert_eq!(s.identity.correct, s.passages.expected, "each named right: {listing}");
}

#[test]
fn every_person_in_a_crowd_crossing_both_ways_is_one_passage_named_right() {
    assert_every_passage_once_and_named("tune_crowd_1080p_15fps");
}

#[test]
fn people_side_by_side_or_close_behind_are_each_counted_and_not_swapped() {
    assert_every_passage_once_and_named("tune_close_pair_1080p_15fps");
}

#[test]
fn a_u_turn_is_an_entry_and_an_exit_and_turning_back_or_lingering_is_nothing() {
    for name in ["tune_uturn_720p_10fps", "tune_uturn_720p_25fps"] {
        assert_every_passage_once_and_named(name);
        let (fixture, e) = replay(name);
        // The scene's two U-turns: each person's two passages, in opposite directions.
        for person in fixture.truth.passages.iter().filter_map(|t| t.person.as_deref()) {
            let theirs: Vec<Direction> = e
                .found
                .iter()
                .filter(|f| f.truth.as_ref().and_then(|t| t.person.as_deref()) == Some(person))
                .map(|f| f.found.direction)
                .collect();
            let expected: Vec<Direction> = fixture
                .truth
                .passages
                .iter()
                .filter(|t| t.person.as_deref() == Some(person))
                .map(|t| t.direction)
                .collect();
            assert_eq!(theirs, expected, "{name}: {person}");
        }
        // The one who turns back short of the line and the one who lingers on
        // it have no truth passage: `found == expected` above says they made none.
    }
}

#[test]
fn a_camera_at_10_or_15_fps_counts_what_one_at_25_or_30_fps_counts() {
    let mut seen = Vec::new();
    for fps in [10, 15, 25, 30] {
        let name = format!("tune_steady_720p_{fps}fps");
        assert_every_passage_once_and_named(&name);
        let (_, e) = replay(&name);
        let mut found: Vec<_> = e.found.iter().map(|f| &f.found).collect();
        found.sort_by(|a, b| a.t_cross.total_cmp(&b.t_cross));
        let passages: Vec<(Option<String>, Direction)> =
            found.iter().map(|f| (f.person.clone(), f.direction)).collect();
        seen.push((fps, passages));
    }
    for (fps, passages) in &seen[1..] {
        assert_eq!(passages, &seen[0].1, "{fps} fps and 10 fps found the same passages");
    }
}

#[test]
fn a_face_hidden_by_a_gate_post_on_the_line_is_still_counted() {
    for name in ["tune_pillars_720p_10fps", "tune_pillars_720p_15fps"] {
        assert_every_passage_once_and_named(name);
    }
}

#[test]
fn at_night_with_every_third_frame_smeared_every_passage_is_counted() {
    assert_every_passage_once_and_named("tune_dark_blur_720p_15fps");
}

#[test]
fn a_head_turned_away_for_part_of_the_walk_keeps_its_passage_and_name() {
    assert_every_passage_once_and_named("tune_head_away_720p_10fps");
}

#[test]
fn faces_60_to_80_px_tall_some_bowed_are_counted() {
    assert_every_passage_once_and_named("tune_small_faces_1080p_15fps");
}
