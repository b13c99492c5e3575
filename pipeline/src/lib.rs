//! gatewatch's vision pipeline: frames in, identified entry/exit passages out.
//!
//! Grouped by job; every module in one line. What crosses the network (events,
//! people, gallery deltas, categories, directions, time) is the `wire` crate's.
//!
//! - [`vision`]: pixels to embeddings.
//!   - [`vision::runtime`], [`vision::models`]: find ONNX Runtime and the face models, and say
//!     which command fixes it when they are missing (never a dlopen backtrace).
//!   - [`vision::source`]: GStreamer sources (files for replay, RTSP for cameras);
//!     [`vision::live`]: a live camera that reconnects with backoff and a no-frame watchdog.
//!   - [`vision::frame`]: owned BGR frames and photo decoding; [`vision::yuv`]: I420 to BGR.
//!   - [`vision::motion`]: the gate that spares detection the frames of an empty, still scene.
//!   - [`vision::detect`]: YuNet face detection with its five landmarks.
//!   - [`vision::align`]: the 5-point similarity transform onto the ArcFace template.
//!   - [`vision::quality`]: landmark refinement at full resolution and quality scoring;
//!     [`vision::encode`]: which faces are worth embedding, and their thumbnails.
//!   - [`vision::embed`]: SFace embeddings; [`vision::embed_worker`]: the shared recogniser thread.
//!   - [`vision::enrol`]: embeddings from enrolment photos.
//! - [`tracking`]: faces to passages.
//!   - [`tracking::track`]: multi-object tracking in time units (ByteTrack/BoT-SORT-style:
//!     motion and an [`tracking::appearance`] descriptor, optimal [`tracking::assignment`]).
//!   - [`tracking::identity`]: identity per track from its best faces.
//!   - [`tracking::line`]: the counting line and its crossings; [`tracking::journey`]: one
//!     track's crossings, turns and the faces of each leg; [`tracking::passage`]: entry/exit passages.
//! - [`engine`]: one camera's stages wired together.
//! - [`gallery`]: enrolled people, [`gallery::search`] in memory, [`gallery::store`] in sled,
//!   [`gallery::sync`] applying the admin API's deltas.
//! - [`rules`]: ANTT anomalies (after hours, tailgating, loitering, anti-passback);
//!   [`rules::schedule`]: opening hours; [`rules::tamper`]: a covered, blinded or frozen camera.
//! - [`fleet`]: a camera's spec as set centrally, and the agent's heartbeat.
//! - [`eval`]: [`eval::fixture`] (the recorded-scene format), [`eval::replay`] (the engine over
//!   a fixture), [`eval::evaluate`] (scores against the truth), [`eval::stats`] (stage timings).

pub mod engine;
pub mod eval;
pub mod fleet;
#[cfg(test)]
mod fuzz_tests;
pub mod gallery;
pub mod rules;
pub mod tracking;
pub mod vision;

/// The repository root: where `models/`, `fixtures/` and `third_party/` live.
///
/// `GATEWATCH_ROOT` wins; otherwise the first ancestor of the current directory
/// or of the running executable that holds `models/manifest.toml`.
pub fn repo_root() -> Option<std::path::PathBuf> {
    if let Some(root) = std::env::var_os("GATEWATCH_ROOT").filter(|r| !r.is_empty()) {
        return Some(root.into());
    }
    let starts =
        [std::env::current_dir().ok(), std::env::current_exe().ok().and_then(|e| e.parent().map(|p| p.to_path_buf()))];
    starts
        .into_iter()
        .flatten()
        .flat_map(|start| start.ancestors().map(|a| a.to_path_buf()).collect::<Vec<_>>())
        .find(|dir| dir.join("models").join("manifest.toml").is_file())
}
