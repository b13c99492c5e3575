//! Face embeddings with SFace (OpenCV Zoo, 2021dec) through ONNX Runtime.
//!
//! Input: the aligned 112×112 crop as RGB 0..255 NCHW (OpenCV's
//! `FaceRecognizerSF` feeds it with swapRB); output: 128 floats, L2-normalised
//! here so that cosine similarity is a dot product.

use std::sync::Arc;

use ndarray::Array4;
use opencv::core::Mat;
use opencv::prelude::*;
use ort::value::TensorRef;
use serde::{Deserialize, Serialize};

use crate::align::{ALIGNED_SIZE, Aligner};
use crate::detect::Landmarks;
use crate::frame::{BgrImage, ImageError};
use crate::models::ModelFile;
use crate::runtime::{RuntimeError, SharedSession, Threads};

pub const EMBEDDING_DIM: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("recogniser inference failed: {0}")]
    Inference(String),
    #[error(transparent)]
    Image(#[from] ImageError),
}

impl From<ort::Error> for EmbedError {
    fn from(e: ort::Error) -> Self {
        EmbedError::Inference(e.to_string())
    }
}

impl From<opencv::Error> for EmbedError {
    fn from(e: opencv::Error) -> Self {
        EmbedError::Image(ImageError::OpenCv(e))
    }
}

/// An L2-normalised face embedding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Embedding(#[serde(with = "serde_embedding")] pub [f32; EMBEDDING_DIM]);

impl Embedding {
    /// Normalises `v` to unit length; `None` for a zero or non-finite vector.
    pub fn from_raw(v: &[f32]) -> Option<Embedding> {
        if v.len() != EMBEDDING_DIM {
            return None;
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !norm.is_finite() || norm <= f32::EPSILON {
            return None;
        }
        let mut out = [0.0; EMBEDDING_DIM];
        for (o, x) in out.iter_mut().zip(v) {
            *o = x / norm;
        }
        Some(Embedding(out))
    }

    /// Cosine similarity (both are unit vectors).
    pub fn cosine(&self, other: &Embedding) -> f32 {
        self.0.iter().zip(other.0.iter()).map(|(a, b)| a * b).sum()
    }
}

mod serde_embedding {
    use super::EMBEDDING_DIM;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(v: &[f32; EMBEDDING_DIM], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[f32; EMBEDDING_DIM], D::Error> {
        let v: Vec<f32> = Vec::deserialize(d)?;
        v.try_into().map_err(|v: Vec<f32>| D::Error::custom(format!("embedding has {} values, expected 128", v.len())))
    }
}

pub struct Embedder {
    session: Arc<SharedSession>,
    tensor: Array4<f32>,
    aligner: Aligner,
}

impl Embedder {
    /// A recogniser with a session of its own.
    pub fn new(model: &ModelFile, threads: Threads) -> Result<Embedder, EmbedError> {
        Ok(Embedder::with_session(SharedSession::load(&model.path, threads, 1)?))
    }

    /// A recogniser taking turns on a shared SFace session.
    pub fn with_session(session: Arc<SharedSession>) -> Embedder {
        Embedder { session, tensor: Array4::zeros((1, 3, ALIGNED_SIZE, ALIGNED_SIZE)), aligner: Aligner::new() }
    }

    /// Aligns the face with these landmarks and embeds it.
    pub fn embed_face(&mut self, img: &BgrImage, landmarks: &Landmarks) -> Result<Embedding, EmbedError> {
        let aligned = self.aligner.align(img, landmarks)?;
        run_sface(&self.session, &mut self.tensor, aligned.data_bytes()?)
    }

    /// The aligner holding the last aligned crop (for thumbnails).
    pub fn aligner(&self) -> &Aligner {
        &self.aligner
    }

    /// Embeds an already aligned 112×112 BGR crop.
    pub fn embed_aligned(&mut self, aligned: &Mat) -> Result<Embedding, EmbedError> {
        run_sface(&self.session, &mut self.tensor, aligned.data_bytes()?)
    }

    /// Embeds an aligned 112×112 crop given as packed BGR bytes.
    pub fn embed_aligned_bytes(&mut self, bgr: &[u8]) -> Result<Embedding, EmbedError> {
        run_sface(&self.session, &mut self.tensor, bgr)
    }
}

fn run_sface(session: &SharedSession, tensor: &mut Array4<f32>, bytes: &[u8]) -> Result<Embedding, EmbedError> {
    {
        let plane = ALIGNED_SIZE * ALIGNED_SIZE;
        if bytes.len() != plane * 3 {
            return Err(EmbedError::Inference(format!(
                "aligned crop has {} bytes, expected {}",
                bytes.len(),
                plane * 3
            )));
        }
        let t = tensor.as_slice_mut().ok_or_else(|| EmbedError::Inference("tensor not contiguous".into()))?;
        for (i, px) in bytes.chunks_exact(3).enumerate() {
            // BGR in, RGB planes out.
            t[i] = px[2] as f32;
            t[plane + i] = px[1] as f32;
            t[2 * plane + i] = px[0] as f32;
        }
    }
    let mut session = session.lock();
    let outputs = session.run(ort::inputs!["data" => TensorRef::from_array_view(&*tensor)?])?;
    let (_, raw) = outputs[0].try_extract_tensor::<f32>()?;
    Embedding::from_raw(raw).ok_or_else(|| EmbedError::Inference("recogniser returned a zero or invalid vector".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_raw_normalises_and_rejects_zero() {
        let mut v = vec![0.0f32; EMBEDDING_DIM];
        v[0] = 3.0;
        v[1] = 4.0;
        let e = Embedding::from_raw(&v).expect("non-zero");
        assert!((e.0[0] - 0.6).abs() < 1e-6 && (e.cosine(&e) - 1.0).abs() < 1e-6);
        assert!(Embedding::from_raw(&[0.0; EMBEDDING_DIM]).is_none());
        assert!(Embedding::from_raw(&[1.0; 3]).is_none());
    }

    #[test]
    fn embedding_round_trips_through_json() {
        let e = Embedding::from_raw(&[1.0; EMBEDDING_DIM]).expect("valid");
        let back: Embedding = serde_json::from_str(&serde_json::to_string(&e).expect("ser")).expect("de");
        assert_eq!(e, back);
        assert!(serde_json::from_str::<Embedding>("[1.0, 2.0]").is_err());
    }
}
