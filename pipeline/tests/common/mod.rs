//! Helpers shared by the pipeline's integration tests: where the real media,
//! models and fixtures live once `make setup` has run.
#![allow(dead_code)]

use std::path::PathBuf;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A real photo from the fixture sources (taken out of registry packages by `make fixtures`).
pub fn media(name: &str) -> PathBuf {
    let p = repo().join(".cache/fixture-sources/media").join(name);
    assert!(p.is_file(), "{} missing: run `make setup` first", p.display());
    p
}

pub fn fixtures_root() -> PathBuf {
    repo().join("fixtures")
}
