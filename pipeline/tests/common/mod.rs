//! Where the pipeline's integration tests find the real media, models and
//! fixtures once `make setup` has run; processes come from `testkit`.
#![allow(dead_code)]

use std::path::PathBuf;

pub use testkit::repo;

/// A real photo from the fixture sources (taken out of registry packages by `make fixtures`).
pub fn media(name: &str) -> PathBuf {
    let p = repo().join(".cache/fixture-sources/media").join(name);
    assert!(p.is_file(), "{} missing: run `make setup` first", p.display());
    p
}

pub fn fixtures_root() -> PathBuf {
    repo().join("fixtures")
}
