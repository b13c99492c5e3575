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
use wire::Embedding;

use crate::vision::align::{ALIGNED_SIZE, Aligner};
use crate::vision::detect::Landmarks;
use crate::vision::frame::{BgrImage, ImageError};
use crate::vision::models::ModelFile;
use crate::vision::runtime::{RuntimeError, SharedSession, Threads};

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
