//! What the admin API sends edges besides their camera set: the gallery by
//! version, in deltas, and who each camera of a site expects next.
//!
//! An edge asks for the changes after the version it holds; the answer lists
//! people added or changed since (with their embeddings, never photos) and
//! ids removed since. Version 0 (a fresh edge, or one whose version the admin
//! API no longer knows) gets the full gallery with `full = true`, and the
//! edge replaces its cache with it.

use serde::{Deserialize, Serialize};

use crate::people::PersonRecord;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GalleryDelta {
    /// The gallery version this delta brings the edge to.
    pub version: u64,
    /// The whole gallery: whatever the edge holds that is not listed goes.
    pub full: bool,
    /// People added or changed since the edge's version.
    pub people: Vec<PersonRecord>,
    /// Ids of people removed (deleted on request) since the edge's version.
    pub removed: Vec<String>,
    /// More changes follow: ask again with `since = version` (a large
    /// gallery comes in pages; `version` is then where this page ends).
    #[serde(default)]
    pub more: bool,
}

/// Verification mode: who each camera of a site expects next.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Expectations {
    /// Camera id → the person expected at it.
    pub cameras: std::collections::BTreeMap<String, String>,
}
