//! `make bench`: the numbers an engineer asks for ("how fast, compared with
//! what"), measured in one run on one machine, written to `benches/results/`.
//!
//! Each section measures one thing and writes `<section>.json`; the report
//! reads them all and writes `report.md`, `report.json` and SVG plots.

pub mod measure;
pub mod plot;
pub mod procs;
pub mod report;
pub mod sections;

/// Threading pinned for every contender, so that "faster" never means
/// "used more cores": one ONNX Runtime intra-op thread per stream, one video
/// decoder thread per stream (GStreamer's avdec `max-threads`, FFmpeg's
/// `threads` for OpenCV), one OpenCV thread.
pub const ORT_THREADS: usize = 1;
pub const DECODER_THREADS: u32 = 1;

pub fn threads() -> pipeline::vision::runtime::Threads {
    pipeline::vision::runtime::Threads { intra_op: ORT_THREADS, spinning: false, decoder: Some(DECODER_THREADS) }
}
