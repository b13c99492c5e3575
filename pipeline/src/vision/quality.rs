//! Face quality: is this face worth embedding?
//!
//! Four measurements, each cheap, combined into one number in 0..1:
//! - **size**: face box height in source pixels (small faces embed poorly);
//! - **sharpness**: variance of the Laplacian of the aligned 112×112 crop
//!   (motion blur and defocus flatten it);
//! - **pose**: a yaw proxy from the landmarks — the nose's horizontal offset
//!   from the eyes' midpoint, in inter-ocular distances (0 = frontal);
//! - **detector score**.
//!
//! `score = detector · size_term · sharpness_term · pose_term`; a face is
//! embedded only when every hard minimum holds and the score reaches
//! `min_score`.

use opencv::core::{Mat, Scalar};
use opencv::imgproc;
use serde::{Deserialize, Serialize};

use crate::vision::detect::Detection;

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualityConfig {
    /// Smallest face box height worth embedding, source pixels.
    pub min_face_px: f32,
    /// Size at which the size term saturates, source pixels.
    pub good_face_px: f32,
    /// Minimum Laplacian variance of the aligned crop.
    pub min_sharpness: f32,
    /// Laplacian variance at which the sharpness term saturates.
    pub good_sharpness: f32,
    /// Largest |yaw proxy| accepted (0 frontal, ~0.5 near profile).
    pub max_yaw: f32,
    /// Minimum combined score, 0..1.
    pub min_score: f32,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            min_face_px: 36.0,
            good_face_px: 110.0,
            min_sharpness: 15.0,
            good_sharpness: 150.0,
            max_yaw: 0.75,
            min_score: 0.2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FaceQuality {
    pub face_px: f32,
    pub sharpness: f32,
    pub yaw: f32,
    pub score: f32,
}

impl FaceQuality {
    pub fn acceptable(&self, cfg: &QualityConfig) -> bool {
        self.face_px >= cfg.min_face_px
            && self.sharpness >= cfg.min_sharpness
            && self.yaw.abs() <= cfg.max_yaw
            && self.score >= cfg.min_score
    }
}

/// Yaw proxy from the five landmarks (see the module doc).
pub fn yaw_proxy(det: &Detection) -> f32 {
    let [re, le, nose, _, _] = det.landmarks;
    let eye_dist = ((le[0] - re[0]).powi(2) + (le[1] - re[1]).powi(2)).sqrt();
    if eye_dist <= f32::EPSILON {
        return 1.0;
    }
    (nose[0] - (re[0] + le[0]) / 2.0) / eye_dist
}

/// Variance of the Laplacian of a BGR crop.
pub fn sharpness(crop: &Mat, gray: &mut Mat, lap: &mut Mat) -> opencv::Result<f32> {
    imgproc::cvt_color_def(crop, gray, imgproc::COLOR_BGR2GRAY)?;
    imgproc::laplacian(gray, lap, opencv::core::CV_32F, 3, 1.0, 0.0, opencv::core::BORDER_DEFAULT)?;
    let mut mean = Scalar::default();
    let mut std = Scalar::default();
    opencv::core::mean_std_dev(lap, &mut mean, &mut std, &opencv::core::no_array())?;
    Ok((std[0] * std[0]) as f32)
}

/// Combines the measurements into a [`FaceQuality`].
pub fn assess(det: &Detection, sharp: f32, cfg: &QualityConfig) -> FaceQuality {
    let face_px = det.bbox.h;
    let size_term = ((face_px - cfg.min_face_px) / (cfg.good_face_px - cfg.min_face_px).max(1.0)).clamp(0.0, 1.0);
    let sharp_term = ((sharp - cfg.min_sharpness) / (cfg.good_sharpness - cfg.min_sharpness).max(1.0)).clamp(0.0, 1.0);
    let yaw = yaw_proxy(det);
    let pose_term = (1.0 - yaw.abs() / cfg.max_yaw.max(0.01)).clamp(0.0, 1.0);
    // Square roots soften each term so that one mediocre measurement does not
    // zero out an otherwise good face.
    let score = det.score * size_term.sqrt() * sharp_term.sqrt() * pose_term.sqrt();
    FaceQuality { face_px, sharpness: sharp, yaw, score }
}

/// Reusable buffers for [`sharpness`].
#[derive(Default)]
pub struct QualityScratch {
    pub gray: Mat,
    pub lap: Mat,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::detect::Rect;
    use opencv::prelude::*;

    fn det(h: f32, nose_x: f32) -> Detection {
        Detection {
            bbox: Rect { x: 0.0, y: 0.0, w: h * 0.8, h },
            landmarks: [[40.0, 50.0], [80.0, 50.0], [nose_x, 70.0], [45.0, 90.0], [75.0, 90.0]],
            score: 0.9,
        }
    }

    #[test]
    fn frontal_large_sharp_face_is_acceptable() {
        let cfg = QualityConfig::default();
        let q = assess(&det(150.0, 60.0), 300.0, &cfg);
        assert!(q.acceptable(&cfg) && q.score > 0.8, "{q:?}");
    }

    #[test]
    fn tiny_blurred_or_profile_faces_are_not() {
        let cfg = QualityConfig::default();
        assert!(!assess(&det(20.0, 60.0), 300.0, &cfg).acceptable(&cfg), "tiny");
        assert!(!assess(&det(150.0, 60.0), 5.0, &cfg).acceptable(&cfg), "blurred");
        assert!(!assess(&det(150.0, 95.0), 300.0, &cfg).acceptable(&cfg), "profile");
    }

    #[test]
    fn sharpness_separates_a_pattern_from_its_blur() {
        let mut sharp =
            Mat::new_rows_cols_with_default(112, 112, opencv::core::CV_8UC3, Scalar::all(0.0)).expect("mat");
        for y in 0..112 {
            for x in 0..112 {
                if (x / 4 + y / 4) % 2 == 0 {
                    *sharp.at_2d_mut::<opencv::core::Vec3b>(y, x).expect("px") =
                        opencv::core::Vec3b::from([255, 255, 255]);
                }
            }
        }
        let mut blurred = Mat::default();
        imgproc::gaussian_blur_def(&sharp, &mut blurred, opencv::core::Size::new(0, 0), 4.0).expect("blur");
        let mut s = QualityScratch::default();
        let a = sharpness(&sharp, &mut s.gray, &mut s.lap).expect("sharp");
        let b = sharpness(&blurred, &mut s.gray, &mut s.lap).expect("blurred");
        assert!(a > 10.0 * b, "{a} vs {b}");
    }
}
