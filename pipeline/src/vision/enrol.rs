//! Enrolment photos → embeddings, with the reasons a photo is refused.
//!
//! A photo must hold exactly one usable face: none, two, too small or too
//! blurred each get their own message, so the operator at the front desk
//! knows what to fix.

use std::sync::Arc;

use crate::vision::detect::{DetectError, Detector, DetectorConfig};
use crate::vision::embed::Embedder;
use crate::vision::encode::{EncodeError, FaceEncoder};
use crate::vision::frame::BgrImage;
use crate::vision::models::{Models, Sessions};
use crate::vision::runtime::Threads;
use wire::Embedding;

#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    #[error("no face found in the photo")]
    NoFace,
    #[error("the photo shows {0} faces; it must show exactly one person")]
    SeveralFaces(usize),
    #[error("the face is too small ({0:.0} px tall; at least {1:.0} px needed): use a closer or larger photo")]
    TooSmall(f32, f32),
    #[error("the face is too blurred (sharpness {0:.0}, at least {1:.0} needed): use a sharper photo")]
    TooBlurred(f32, f32),
    #[error("the face is turned too far from the camera: use a frontal photo")]
    NotFrontal,
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Turns enrolment photos into embeddings with the same models as the edge.
pub struct Enroller {
    detector: Detector,
    encoder: FaceEncoder,
    embedder: Embedder,
}

impl Enroller {
    pub fn new(models: &Models, threads: Threads) -> Result<Enroller, EncodeError> {
        let sessions = Sessions::load(models, threads).map_err(DetectError::from)?;
        let detector = Detector::with_session(
            Arc::clone(&sessions.detector),
            DetectorConfig { input_size: 640, ..Default::default() },
        )?;
        let encoder = FaceEncoder::new(&sessions, Default::default())?;
        let embedder = Embedder::with_session(Arc::clone(&sessions.recogniser));
        Ok(Enroller { detector, encoder, embedder })
    }

    pub fn embed_photo(&mut self, photo: &BgrImage) -> Result<Embedding, EnrolError> {
        let faces = self.detector.detect(photo).map_err(EncodeError::from)?;
        // Faces far smaller than the main one are background people: count
        // only faces at least a third of the largest one's height.
        let largest = faces.iter().map(|f| f.bbox.h).fold(0.0f32, f32::max);
        let main: Vec<_> = faces.iter().filter(|f| f.bbox.h >= largest / 3.0).collect();
        match main.len() {
            0 => return Err(EnrolError::NoFace),
            1 => {}
            n => return Err(EnrolError::SeveralFaces(n)),
        }
        let q_cfg = self.encoder.config().quality;
        // Enrolment is not time-critical: always refine at full resolution.
        let assessed = self.encoder.assess(photo, main[0], 0.0)?.ok_or(EnrolError::NoFace)?;
        let q = assessed.quality;
        if q.face_px < q_cfg.min_face_px {
            return Err(EnrolError::TooSmall(q.face_px, q_cfg.min_face_px));
        }
        if q.sharpness < q_cfg.min_sharpness {
            return Err(EnrolError::TooBlurred(q.sharpness, q_cfg.min_sharpness));
        }
        if q.yaw.abs() > q_cfg.max_yaw {
            return Err(EnrolError::NotFrontal);
        }
        let aligned = self.encoder.last_aligned()?;
        Ok(self.embedder.embed_aligned_bytes(aligned).map_err(EncodeError::from)?)
    }
}
