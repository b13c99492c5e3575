//! From a detected face to an embedding worth keeping.
//!
//! Detection runs on a downscaled frame (≈640 px wide), where a face at a gate
//! is often 30–60 px tall: its landmarks are too coarse for recognition (with
//! landmarks from a 320-px detection, same-person and different-person
//! similarities overlap). So for each face chosen for embedding we cut a region
//! of the **full-resolution** frame around it, detect again there at
//! `landmark_input` px, and align with those landmarks. Then quality is scored
//! on the aligned crop, and only acceptable faces reach the (expensive)
//! recogniser. Faces the frame detector already saw large (`refine_below_px`)
//! skip the second detection: their landmarks are already precise.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::vision::align::Aligner;
use crate::vision::detect::{DetectError, Detection, Detector, DetectorConfig, Rect};
use crate::vision::embed::EmbedError;
use crate::vision::frame::BgrImage;
use crate::vision::models::Sessions;
use crate::vision::quality::{self, FaceQuality, QualityConfig, QualityScratch};

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error("image processing: {0}")]
    Image(#[from] crate::vision::frame::ImageError),
}

impl From<opencv::Error> for EncodeError {
    fn from(e: opencv::Error) -> Self {
        EncodeError::Image(crate::vision::frame::ImageError::OpenCv(e))
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncoderConfig {
    /// Detector input size for the landmark pass on the face region, px.
    pub landmark_input: u32,
    /// Side of the face region relative to the face box.
    pub region_scale: f32,
    /// Faces the frame detector saw at least this tall (detector input px)
    /// already have landmarks good enough to align with; smaller ones are
    /// re-detected at full resolution.
    pub refine_below_px: f32,
    pub quality: QualityConfig,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        EncoderConfig {
            landmark_input: 224,
            region_scale: 2.0,
            refine_below_px: 72.0,
            quality: QualityConfig::default(),
        }
    }
}

/// A face with refined landmarks and its quality, before embedding.
#[derive(Debug, Clone, Copy)]
pub struct AssessedFace {
    pub detection: Detection,
    pub quality: FaceQuality,
}

/// Everything before the recogniser: landmark refinement, alignment and
/// quality. The recogniser itself is left to the caller (the engine runs it
/// on its own thread, see [`crate::vision::embed_worker`]).
pub struct FaceEncoder {
    config: EncoderConfig,
    landmarks: Detector,
    aligner: Aligner,
    region: BgrImage,
    scratch: QualityScratch,
    found: Vec<Detection>,
}

impl FaceEncoder {
    pub fn new(sessions: &Sessions, config: EncoderConfig) -> Result<FaceEncoder, EncodeError> {
        let det_cfg = DetectorConfig { input_size: config.landmark_input, score_threshold: 0.5, ..Default::default() };
        Ok(FaceEncoder {
            config,
            landmarks: Detector::with_session(Arc::clone(&sessions.detector), det_cfg)?,
            aligner: Aligner::new(),
            region: BgrImage::default(),
            scratch: QualityScratch::default(),
            found: Vec::new(),
        })
    }

    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    /// Scores a face's quality, re-detecting it first in a full-resolution
    /// region around `coarse.bbox` unless the detector already saw it at
    /// `refine_below_px` or more (`detector_px`: the face's height in the
    /// detector's input). `None` when the face is not found again.
    pub fn assess(
        &mut self,
        frame: &BgrImage,
        coarse: &Detection,
        detector_px: f32,
    ) -> Result<Option<AssessedFace>, EncodeError> {
        if detector_px >= self.config.refine_below_px {
            return self.assess_with(frame, *coarse).map(Some);
        }
        let Some(origin) = copy_region(frame, &coarse.bbox, self.config.region_scale, &mut self.region) else {
            return Ok(None);
        };
        self.landmarks.detect_into(&self.region, &mut self.found)?;
        let centre = [self.region.width() as f32 / 2.0, self.region.height() as f32 / 2.0];
        let nearest = self.found.iter().min_by(|a, b| {
            let da = dist2(a.bbox.center(), centre);
            let db = dist2(b.bbox.center(), centre);
            da.total_cmp(&db)
        });
        let Some(local) = nearest else { return Ok(None) };
        let mut refined = *local;
        refined.bbox.x += origin[0];
        refined.bbox.y += origin[1];
        for lm in &mut refined.landmarks {
            lm[0] += origin[0];
            lm[1] += origin[1];
        }
        self.assess_with(frame, refined).map(Some)
    }

    fn assess_with(&mut self, frame: &BgrImage, det: Detection) -> Result<AssessedFace, EncodeError> {
        let aligned = self.aligner.align(frame, &det.landmarks)?;
        let sharp = quality::sharpness(aligned, &mut self.scratch.gray, &mut self.scratch.lap)?;
        Ok(AssessedFace { detection: det, quality: quality::assess(&det, sharp, &self.config.quality) })
    }

    /// The aligned 112×112 BGR crop of the face last passed to [`FaceEncoder::assess`].
    pub fn last_aligned(&self) -> Result<&[u8], EncodeError> {
        Ok(self.aligner.last_bytes()?)
    }
}

fn dist2(a: [f32; 2], b: [f32; 2]) -> f32 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// Copies a square region `scale`× the box's larger side, centred on the box
/// and clipped to the frame, into `out`. Returns the region's top-left corner.
pub fn copy_region(frame: &BgrImage, bbox: &Rect, scale: f32, out: &mut BgrImage) -> Option<[f32; 2]> {
    let side = bbox.w.max(bbox.h) * scale;
    let [cx, cy] = bbox.center();
    let x0 = (cx - side / 2.0).max(0.0).floor() as usize;
    let y0 = (cy - side / 2.0).max(0.0).floor() as usize;
    let x1 = ((cx + side / 2.0).ceil().max(0.0) as usize).min(frame.width());
    let y1 = ((cy + side / 2.0).ceil().max(0.0) as usize).min(frame.height());
    if x1 <= x0 + 8 || y1 <= y0 + 8 {
        return None;
    }
    let (w, h) = (x1 - x0, y1 - y0);
    let stride = frame.width() * 3;
    let start = y0 * stride + x0 * 3;
    out.copy_from_strided(w, h, stride, &frame.data()[start..]);
    Some([x0 as f32, y0 as f32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_is_clipped_to_the_frame_and_reports_its_origin() {
        let mut frame = BgrImage::new(100, 80);
        frame.data_mut()[(10 * 100 + 5) * 3] = 77; // pixel (5, 10)
        let mut out = BgrImage::default();
        let origin = copy_region(&frame, &Rect { x: 0.0, y: 0.0, w: 20.0, h: 20.0 }, 2.0, &mut out).expect("region");
        assert_eq!(origin, [0.0, 0.0]);
        assert_eq!((out.width(), out.height()), (30, 30));
        assert_eq!(out.data()[(10 * 30 + 5) * 3], 77);
        assert!(copy_region(&frame, &Rect { x: 500.0, y: 500.0, w: 10.0, h: 10.0 }, 2.0, &mut out).is_none());
    }
}
