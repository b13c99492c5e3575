//! Fuzzing of what the pipeline reads from files and the network: fixture
//! `truth.json` and `camera.toml`, and event batches as the admin API decodes
//! them. Seeds in `fuzz/corpus/`, `FUZZ_CASES` cases per target.

#[path = "../../fuzz/mutate.rs"]
mod mutate;

use std::path::Path;

use proptest::prelude::*;

use crate::eval::fixture::{parse_camera, parse_truth};
use wire::events::Event;

proptest! {
    #![proptest_config(ProptestConfig { cases: mutate::cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn truth_files(text in mutate::text_inputs("truth")) {
        let _ = parse_truth(&text, Path::new("truth.json"));
    }

    #[test]
    fn camera_files(text in mutate::text_inputs("camera")) {
        let _ = parse_camera(&text, Path::new("camera.toml"));
    }

    #[test]
    fn event_batches(bytes in mutate::inputs("event_batch")) {
        if let Ok(batch) = serde_json::from_slice::<Vec<Event>>(&bytes) {
            // What decodes re-encodes: nothing half-built gets through.
            prop_assert!(serde_json::to_vec(&batch).is_ok());
        }
    }
}

#[test]
fn the_seeds_parse() {
    for seed in mutate::corpus("truth") {
        parse_truth(&String::from_utf8_lossy(&seed), Path::new("truth.json")).expect("truth seed");
    }
    for seed in mutate::corpus("camera") {
        parse_camera(&String::from_utf8_lossy(&seed), Path::new("camera.toml")).expect("camera seed");
    }
    for seed in mutate::corpus("event_batch") {
        let batch: Vec<Event> = serde_json::from_slice(&seed).expect("event seed");
        assert!(!batch.is_empty());
    }
}
