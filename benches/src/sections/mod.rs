//! The measurements, one module each; each writes `<name>.json` to the
//! results folder for the report.

pub mod capacity;
pub mod day;
pub mod ingest;
pub mod live;
pub mod load;
pub mod memory;
pub mod reference;
pub mod replay;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::procs::repo;

pub fn results_dir() -> PathBuf {
    repo().join("benches/results")
}

pub fn write<T: Serialize>(dir: &Path, name: &str, value: &T) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(value)?).with_context(|| format!("writing {}", path.display()))
}

/// A section's results, if it ran.
pub fn read<T: DeserializeOwned>(dir: &Path, name: &str) -> Result<Option<T>> {
    let path = dir.join(format!("{name}.json"));
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)?;
    serde_json::from_str(&text).map(Some).with_context(|| format!("{}: not this version's results", path.display()))
}

/// The fixtures measured, by resolution: the same two everywhere.
pub const FIXTURE_720P: &str = "s05_watchlist_720p";
pub const FIXTURE_1080P: &str = "s03_crowd_both_ways_1080p";

pub fn fixture(name: &str) -> Result<pipeline::eval::fixture::Fixture> {
    let dir = repo().join("fixtures").join(name);
    pipeline::eval::fixture::Fixture::open(&dir).with_context(|| format!("fixture {name} (run `make fixtures`)"))
}
