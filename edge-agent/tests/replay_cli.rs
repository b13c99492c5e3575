//! `edge-agent replay`, run as the real binary over every generated fixture.

use std::process::Command;

use pipeline::eval::fixture::Fixture;
use testkit::repo;

fn edge_agent() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_edge-agent"));
    c.current_dir(repo()).env("RUST_LOG", "warn");
    c
}

#[test]
fn replay_of_all_fixtures_meets_the_accuracy_targets() {
    let out = edge_agent().args(["replay", "fixtures", "--json"]).output().expect("run edge-agent");
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is only the JSON report");
    let fixtures = report["fixtures"].as_array().expect("fixtures");
    // Every fixture on disk replayed, in order, each against its whole truth.
    let truth: Vec<Fixture> = Fixture::discover(&repo().join("fixtures"))
        .expect("fixtures folder")
        .iter()
        .map(|d| Fixture::open(d).expect("fixture opens"))
        .collect();
    let names: Vec<&str> = fixtures.iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(names, truth.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), "every fixture replayed");
    for (f, t) in fixtures.iter().zip(&truth) {
        assert_eq!(f["passages"]["expected"].as_u64(), Some(t.truth.passages.len() as u64), "{}", t.name);
    }
    let in_truth: usize = truth.iter().map(|t| t.truth.passages.len()).sum();
    // What `make fixtures` generates (README "Fixtures"): 11 gate scenes and 40
    // condition scenes, 267 passages; `make bench` adds its long bench_* days.
    let generated: Vec<&Fixture> = truth.iter().filter(|t| !t.name.starts_with("bench_")).collect();
    let generated_passages: usize = generated.iter().map(|t| t.truth.passages.len()).sum();
    assert_eq!((generated.len(), generated_passages), (51, 267), "the generated fixtures");
    for f in fixtures {
        for key in ["decode", "detect", "embed", "track", "match"] {
            assert!(f["stages_ms"][key]["p50"].is_number(), "{key} timing in {}", f["name"]);
        }
        assert!(f["fps"].as_f64().is_some_and(|x| x > 0.0));
        // Each fixture lists what it found, paired with its truth.
        let found = f["passages_found"].as_array().expect("passages_found");
        assert_eq!(found.len() as u64, f["passages"]["found"].as_u64().expect("found"), "{}", f["name"]);
        for p in found {
            assert!(p["t_cross"].is_number() && p["direction"].is_string() && p["verdicts"].is_array(), "{p}");
        }
    }
    let total = &report["total"];
    let expected = total["passages"]["expected"].as_u64().expect("expected");
    assert_eq!(expected, in_truth as u64, "the total counts every fixture's truth");
    let recall = total["passages"]["recall"].as_f64().expect("recall");
    let precision = total["passages"]["precision"].as_f64().expect("precision");
    assert!(recall >= 0.98, "recall {recall}: {total}");
    assert!(precision >= 0.98, "precision {precision}: {total}");
    let id_acc = total["identity"]["accuracy"].as_f64().expect("accuracy");
    let dir_acc = total["direction"]["accuracy"].as_f64().expect("accuracy");
    assert!(id_acc >= 0.97, "identity accuracy {id_acc}: {total}");
    assert_eq!(total["identity"]["false_accept"], 0, "no stranger may be accepted: {total}");
    assert!(dir_acc >= 0.98, "direction accuracy {dir_acc}: {total}");
    for dir in ["entry", "exit"] {
        let e = total["counts"][dir]["expected"].as_f64().expect("expected");
        let f = total["counts"][dir]["found"].as_f64().expect("found");
        assert!((f - e).abs() <= 0.02 * e, "{dir} count {f} vs truth {e}");
    }
    let frames: u64 = fixtures.iter().map(|f| f["frames"].as_u64().unwrap_or(0)).sum();
    assert_eq!(total["frames"].as_u64(), Some(frames));
}

#[test]
fn replay_of_a_folder_that_is_not_a_fixture_fails_with_a_clear_message() {
    let out = edge_agent().args(["replay", "models", "--json"]).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("neither a fixture folder") && err.contains("make fixtures"), "{err}");
    assert!(out.stdout.is_empty(), "nothing on stdout on failure");
}

#[test]
fn replay_without_models_says_which_command_fixes_it() {
    let root = std::env::temp_dir().join(format!("gatewatch-nomodels-{}", std::process::id()));
    std::fs::create_dir_all(root.join("models")).expect("tmp");
    std::fs::copy(repo().join("models/manifest.toml"), root.join("models/manifest.toml")).expect("manifest");
    let out =
        edge_agent().env("GATEWATCH_ROOT", &root).args(["replay", "fixtures/s01_walk_in_720p"]).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("make models"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn missing_onnx_runtime_says_which_command_fixes_it() {
    let out = edge_agent()
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .args(["replay", "fixtures/s01_walk_in_720p"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ONNX Runtime library not found") && err.contains("make setup"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
