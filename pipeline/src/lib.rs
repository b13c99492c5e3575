//! gatewatch's vision pipeline: frames in, identified entry/exit passages out.
//!
//! One module per stage, each usable and testable on its own with real inputs:
//!
//! - [`runtime`] and [`models`]: find ONNX Runtime and the face models, and say
//!   which command fixes it when they are missing (never a dlopen backtrace).
//! - [`source`]: GStreamer video sources (files for replay, RTSP for cameras);
//!   [`live`]: a live camera that reconnects with backoff and a no-frame watchdog.
//! - [`detect`]: YuNet face detection with its five landmarks; [`motion`]:
//!   the gate that spares it the frames of an empty, still scene.
//! - [`align`]: the 5-point similarity transform onto the ArcFace template.
//! - [`embed`]: SFace face embeddings, L2-normalised.
//! - [`quality`] and [`encode`]: landmark refinement at full resolution,
//!   quality scoring, and embedding of the faces worth it.
//! - [`track`]: multi-object tracking in time units (ByteTrack/BoT-SORT-style:
//!   motion and an [`appearance`] descriptor, optimal [`assignment`]).
//! - [`identity`] and [`gallery`]: identity per track from its best faces,
//!   against the enrolled people (sled-persisted, searched in memory).
//! - [`line`] and [`passage`]: counting line, crossings, entry/exit passages;
//!   [`journey`]: one track's crossings, turns and the faces of each leg.
//! - [`engine`]: one camera's stages wired together; [`replay`] runs it over
//!   recorded fixtures and [`evaluate`] scores the result against the truth.
//! - [`fixture`]: the recorded-scene format every accuracy test and benchmark reads.
//! - [`frame`]: owned BGR frames and photo decoding.

pub mod align;
pub mod appearance;
pub mod assignment;
pub mod detect;
pub mod embed;
pub mod embed_worker;
pub mod encode;
pub mod engine;
pub mod enrol;
pub mod evaluate;
pub mod events;
pub mod fixture;
pub mod fleet;
pub mod frame;
#[cfg(test)]
mod fuzz_tests;
pub mod gallery;
pub mod gallery_sync;
pub mod identity;
pub mod journey;
pub mod line;
pub mod live;
pub mod models;
pub mod motion;
pub mod outbox;
pub mod passage;
pub mod quality;
pub mod replay;
pub mod rules;
pub mod runtime;
pub mod schedule;
pub mod source;
pub mod stats;
pub mod tamper;
pub mod track;
pub mod yuv;

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
