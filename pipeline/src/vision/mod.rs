//! Pixels to embeddings: sources, frames, detection, alignment, quality, embedding.

pub mod align;
pub mod detect;
pub mod embed;
pub mod embed_worker;
pub mod encode;
pub mod enrol;
pub mod frame;
pub mod live;
pub mod models;
pub mod motion;
pub mod quality;
pub mod runtime;
pub mod source;
pub mod yuv;
