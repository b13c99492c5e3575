//! Face detection with YuNet (OpenCV Zoo, 2023mar) through ONNX Runtime.
//!
//! The frame is resized once so that its longer side is `input_size` (a
//! multiple of 32; the model's input is dynamic), padded to a multiple of 32,
//! and fed as BGR 0..255 NCHW. The three output strides (8, 16, 32) are decoded
//! on their anchor grids exactly as OpenCV's `FaceDetectorYN` does (score =
//! √(cls·obj); box centre and landmarks are offsets from the grid cell, in units
//! of the stride; width and height are exp() of the output times the stride),
//! then filtered by a configurable score threshold and non-maximum suppression.
//! Buffers (resized frame, input tensor) are reused between calls.

use ndarray::Array4;
use opencv::core::{Mat, Size};
use opencv::imgproc;
use opencv::prelude::*;
use ort::value::TensorRef;
use serde::{Deserialize, Serialize};

use crate::vision::frame::{BgrImage, ImageError};
use crate::vision::models::ModelFile;
use std::sync::Arc;

use crate::vision::runtime::{RuntimeError, SharedSession, Threads};

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("detector inference failed: {0}")]
    Inference(String),
    #[error("detector config: {0}")]
    Config(String),
    #[error(transparent)]
    Image(#[from] ImageError),
}

impl From<ort::Error> for DetectError {
    fn from(e: ort::Error) -> Self {
        DetectError::Inference(e.to_string())
    }
}

impl From<opencv::Error> for DetectError {
    fn from(e: opencv::Error) -> Self {
        DetectError::Image(ImageError::OpenCv(e))
    }
}

/// Detector settings. Every threshold is configurable: low-resolution streams
/// need a lower score threshold than the demo's 720p fixtures.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    /// Longer side of the detector input, pixels; a multiple of 32.
    pub input_size: u32,
    /// Minimum face score, 0..1.
    pub score_threshold: f32,
    /// Boxes overlapping a better one by more than this IoU are dropped.
    pub nms_iou: f32,
    /// At most this many faces per frame.
    pub top_k: usize,
    /// A frame darker than this (mean luma, 0..255) is brightened for the
    /// detector (see [`LowLight`]); 0 turns it off.
    pub low_light_luma: f32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        DetectorConfig { input_size: 640, score_threshold: 0.6, nms_iou: 0.3, top_k: 50, low_light_luma: 60.0 }
    }
}

impl DetectorConfig {
    pub fn validate(&self) -> Result<(), DetectError> {
        if self.input_size < 32 || !self.input_size.is_multiple_of(32) || self.input_size > 4096 {
            return Err(DetectError::Config(format!(
                "input_size must be a multiple of 32 between 32 and 4096, got {}",
                self.input_size
            )));
        }
        if !(0.0..=1.0).contains(&self.score_threshold) || !(0.0..=1.0).contains(&self.nms_iou) {
            return Err(DetectError::Config("score_threshold and nms_iou must be within 0..1".into()));
        }
        if !(0.0..=255.0).contains(&self.low_light_luma) {
            return Err(DetectError::Config("low_light_luma must be within 0..255 (0 turns it off)".into()));
        }
        Ok(())
    }
}

/// An axis-aligned box in image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Rect {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Rect {
    pub fn area(&self) -> f32 {
        self.w.max(0.0) * self.h.max(0.0)
    }

    pub fn center(&self) -> [f32; 2] {
        [self.x + self.w / 2.0, self.y + self.h / 2.0]
    }

    pub fn iou(&self, other: &Rect) -> f32 {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.w).min(other.x + other.w);
        let y1 = (self.y + self.h).min(other.y + other.h);
        let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

/// Five facial landmarks, in YuNet's order: right eye, left eye, nose tip,
/// right mouth corner, left mouth corner (the person's right/left).
pub type Landmarks = [[f32; 2]; 5];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub bbox: Rect,
    pub landmarks: Landmarks,
    pub score: f32,
}

/// Output strides with their tensor names (cls, obj, bbox, kps), spelled out
/// so the per-frame decode builds no strings.
const STRIDES: [(usize, [&str; 4]); 3] = [
    (8, ["cls_8", "obj_8", "bbox_8", "kps_8"]),
    (16, ["cls_16", "obj_16", "bbox_16", "kps_16"]),
    (32, ["cls_32", "obj_32", "bbox_32", "kps_32"]),
];

pub struct Detector {
    session: Arc<SharedSession>,
    config: DetectorConfig,
    low_light: LowLight,
    resized: Mat,
    tensor: Array4<f32>,
    candidates: Vec<Detection>,
}

impl Detector {
    /// A detector with a session of its own.
    pub fn new(model: &ModelFile, config: DetectorConfig, threads: Threads) -> Result<Detector, DetectError> {
        Detector::with_session(SharedSession::load(&model.path, threads, 1)?, config)
    }

    /// A detector taking turns on a shared YuNet session; its buffers are its own.
    pub fn with_session(session: Arc<SharedSession>, config: DetectorConfig) -> Result<Detector, DetectError> {
        config.validate()?;
        Ok(Detector {
            session,
            config,
            low_light: LowLight::default(),
            resized: Mat::default(),
            tensor: Array4::zeros((1, 3, 32, 32)),
            candidates: Vec::new(),
        })
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Detects faces; coordinates are in `img` pixels, best score first.
    pub fn detect(&mut self, img: &BgrImage) -> Result<Vec<Detection>, DetectError> {
        let mut out = Vec::new();
        self.detect_into(img, &mut out)?;
        Ok(out)
    }

    /// Like [`Detector::detect`], reusing `out`'s allocation.
    pub fn detect_into(&mut self, img: &BgrImage, out: &mut Vec<Detection>) -> Result<(), DetectError> {
        out.clear();
        let (w, h) = (img.width(), img.height());
        if w == 0 || h == 0 {
            return Err(DetectError::Image(ImageError::Empty));
        }
        let scale = self.config.input_size as f32 / w.max(h) as f32;
        let rw = ((w as f32 * scale).round() as usize).max(1);
        let rh = ((h as f32 * scale).round() as usize).max(1);
        let pw = rw.div_ceil(32) * 32;
        let ph = rh.div_ceil(32) * 32;
        let src = img.as_mat()?;
        imgproc::resize(&src, &mut self.resized, Size::new(rw as i32, rh as i32), 0.0, 0.0, imgproc::INTER_LINEAR)?;
        self.low_light.brighten(&mut self.resized, self.config.low_light_luma)?;
        if self.tensor.shape() != [1, 3, ph, pw] {
            self.tensor = Array4::zeros((1, 3, ph, pw));
        }
        let bytes = self.resized.data_bytes()?;
        {
            let plane = ph * pw;
            let t = self.tensor.as_slice_mut().ok_or_else(|| DetectError::Inference("tensor not contiguous".into()))?;
            for y in 0..rh {
                let row = &bytes[y * rw * 3..(y + 1) * rw * 3];
                let base = y * pw;
                for (x, px) in row.chunks_exact(3).enumerate() {
                    t[base + x] = px[0] as f32;
                    t[plane + base + x] = px[1] as f32;
                    t[2 * plane + base + x] = px[2] as f32;
                }
            }
        }
        let threshold = self.config.score_threshold;
        let candidates = &mut self.candidates;
        candidates.clear();
        let mut session = self.session.lock();
        let outputs = session.run(ort::inputs!["input" => TensorRef::from_array_view(&self.tensor)?])?;
        for (stride, [cls_name, obj_name, bbox_name, kps_name]) in STRIDES {
            let cols = pw / stride;
            let rows = ph / stride;
            let (_, cls) = outputs[cls_name].try_extract_tensor::<f32>()?;
            let (_, obj) = outputs[obj_name].try_extract_tensor::<f32>()?;
            let (_, bbox) = outputs[bbox_name].try_extract_tensor::<f32>()?;
            let (_, kps) = outputs[kps_name].try_extract_tensor::<f32>()?;
            let n = rows * cols;
            if cls.len() < n || obj.len() < n || bbox.len() < 4 * n || kps.len() < 10 * n {
                return Err(DetectError::Inference(format!("unexpected output size at stride {stride}")));
            }
            let s = stride as f32;
            for idx in 0..n {
                let score = (cls[idx].clamp(0.0, 1.0) * obj[idx].clamp(0.0, 1.0)).sqrt();
                if score.is_nan() || score < threshold {
                    continue;
                }
                let (r, c) = ((idx / cols) as f32, (idx % cols) as f32);
                let b = &bbox[idx * 4..idx * 4 + 4];
                let cx = (c + b[0]) * s;
                let cy = (r + b[1]) * s;
                let bw = b[2].exp() * s;
                let bh = b[3].exp() * s;
                let k = &kps[idx * 10..idx * 10 + 10];
                let mut landmarks = [[0.0f32; 2]; 5];
                for (i, lm) in landmarks.iter_mut().enumerate() {
                    *lm = [(k[2 * i] + c) * s / scale, (k[2 * i + 1] + r) * s / scale];
                }
                candidates.push(Detection {
                    bbox: Rect { x: (cx - bw / 2.0) / scale, y: (cy - bh / 2.0) / scale, w: bw / scale, h: bh / scale },
                    landmarks,
                    score,
                });
            }
        }
        drop(outputs);
        drop(session);
        non_max_suppression(candidates, self.config.nms_iou, self.config.top_k, out);
        Ok(())
    }
}

/// Brightens a dark detector input. At night a gate camera's picture sits in
/// the bottom tenth of the range (mean luma 10–40), where the detector's
/// scores fall towards its threshold: faces are found in some frames and not
/// others, and a track that should start does not. A gamma curve chosen from
/// the frame's own mean luma lifts it to about [`LowLight::TARGET`] —
/// stretching the dark tones most, as an auto-exposure would — through a
/// lookup table rebuilt only when the brightness moves. Frames at or above
/// the configured luma are left as they are.
#[derive(Default)]
pub struct LowLight {
    lut: Mat,
    /// The gamma the table holds (0: none yet).
    gamma: f32,
    out: Mat,
}

impl LowLight {
    /// The mean luma a dark frame is lifted to.
    pub const TARGET: f32 = 100.0;
    /// Gamma steps small enough to be invisible; the table is rebuilt per step.
    const STEP: f32 = 0.05;

    /// The mean luma (BT.601) of a BGR image, 0..255.
    pub fn mean_luma(img: &Mat) -> Result<f32, opencv::Error> {
        let m = opencv::core::mean(img, &opencv::core::no_array())?;
        Ok((0.114 * m[0] + 0.587 * m[1] + 0.299 * m[2]) as f32)
    }

    /// Brightens `img` in place when its mean luma is below `below` (0: never).
    pub fn brighten(&mut self, img: &mut Mat, below: f32) -> Result<(), opencv::Error> {
        if below <= 0.0 {
            return Ok(());
        }
        let luma = Self::mean_luma(img)?;
        if luma >= below || luma < 1.0 {
            return Ok(());
        }
        // (luma/255)^gamma = TARGET/255, so gamma = ln(TARGET/255) / ln(luma/255).
        let gamma = ((Self::TARGET / 255.0).ln() / (luma / 255.0).ln()).clamp(0.25, 1.0);
        let gamma = (gamma / Self::STEP).round() * Self::STEP;
        if (gamma - self.gamma).abs() > f32::EPSILON {
            let table: Vec<u8> =
                (0..256).map(|v| ((v as f32 / 255.0).powf(gamma) * 255.0).round().clamp(0.0, 255.0) as u8).collect();
            self.lut = Mat::from_slice(&table)?.try_clone()?;
            self.gamma = gamma;
        }
        opencv::core::lut(img, &self.lut, &mut self.out)?;
        std::mem::swap(img, &mut self.out);
        Ok(())
    }
}

/// Greedy NMS: keeps the best-scoring box, drops those overlapping it by more
/// than `iou`, repeats; at most `top_k` survive. `candidates` is consumed.
pub fn non_max_suppression(candidates: &mut Vec<Detection>, iou: f32, top_k: usize, out: &mut Vec<Detection>) {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    for cand in candidates.drain(..) {
        if out.len() >= top_k {
            break;
        }
        if out.iter().all(|kept| kept.bbox.iou(&cand.bbox) <= iou) {
            out.push(cand);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, y: f32, score: f32) -> Detection {
        Detection { bbox: Rect { x, y, w: 10.0, h: 10.0 }, landmarks: [[0.0; 2]; 5], score }
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes_and_all_separate_ones() {
        let mut c = vec![det(0.0, 0.0, 0.7), det(1.0, 1.0, 0.9), det(50.0, 50.0, 0.8)];
        let mut out = Vec::new();
        non_max_suppression(&mut c, 0.3, 10, &mut out);
        let scores: Vec<f32> = out.iter().map(|d| d.score).collect();
        assert_eq!(scores, vec![0.9, 0.8]);
    }

    #[test]
    fn nms_respects_top_k() {
        let mut c: Vec<_> = (0..10).map(|i| det(i as f32 * 20.0, 0.0, 0.5 + i as f32 / 100.0)).collect();
        let mut out = Vec::new();
        non_max_suppression(&mut c, 0.3, 3, &mut out);
        assert_eq!(out.len(), 3);
        assert!(out[0].score > out[2].score);
    }

    #[test]
    fn iou_of_identical_and_disjoint_boxes() {
        let a = Rect { x: 0.0, y: 0.0, w: 4.0, h: 4.0 };
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
        assert_eq!(a.iou(&Rect { x: 10.0, y: 10.0, w: 4.0, h: 4.0 }), 0.0);
    }

    fn grey(v: u8) -> Mat {
        Mat::new_rows_cols_with_default(8, 8, opencv::core::CV_8UC3, opencv::core::Scalar::all(v as f64)).expect("mat")
    }

    #[test]
    fn a_dark_frame_is_lifted_towards_the_target_and_a_bright_one_left_alone() {
        let mut ll = LowLight::default();
        let mut dark = grey(20);
        ll.brighten(&mut dark, 60.0).expect("brighten");
        let lifted = LowLight::mean_luma(&dark).expect("luma");
        assert!((lifted - LowLight::TARGET).abs() < 15.0, "{lifted}");
        let mut bright = grey(120);
        ll.brighten(&mut bright, 60.0).expect("brighten");
        assert!((LowLight::mean_luma(&bright).expect("luma") - 120.0).abs() < 0.5);
        let mut off = grey(20);
        ll.brighten(&mut off, 0.0).expect("off");
        assert!((LowLight::mean_luma(&off).expect("luma") - 20.0).abs() < 0.5, "0 turns it off");
    }

    #[test]
    fn input_size_must_be_a_multiple_of_32() {
        let bad = DetectorConfig { input_size: 300, ..Default::default() };
        assert!(bad.validate().is_err());
        assert!(DetectorConfig::default().validate().is_ok());
    }
}
