//! Face alignment: a 5-point similarity transform onto the ArcFace 112×112
//! template, then a bilinear warp (OpenCV `warp_affine`) — the crop SFace was
//! trained on.
//!
//! The transform is the least-squares similarity (rotation, uniform scale,
//! translation; no reflection) from the detected landmarks to the template:
//! Umeyama's closed form, which in 2-D reduces to two sums.

use opencv::core::{BORDER_CONSTANT, Mat, Scalar, Size};
use opencv::imgproc;
use opencv::prelude::*;

use crate::vision::detect::Landmarks;
use crate::vision::frame::{BgrImage, ImageError};

/// Side of the aligned crop, pixels.
pub const ALIGNED_SIZE: usize = 112;

/// The standard ArcFace landmark template for a 112×112 crop, in YuNet's
/// landmark order (right eye, left eye, nose, right mouth, left mouth).
pub const TEMPLATE: Landmarks =
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];

/// A 2×3 affine matrix, row-major.
pub type Affine = [[f64; 3]; 2];

/// Least-squares similarity transform mapping `src` points onto `dst` points.
pub fn similarity_transform(src: &Landmarks, dst: &Landmarks) -> Affine {
    let n = src.len() as f64;
    let mean = |p: &Landmarks| {
        let (sx, sy) = p.iter().fold((0.0, 0.0), |(x, y), q| (x + q[0] as f64, y + q[1] as f64));
        (sx / n, sy / n)
    };
    let (msx, msy) = mean(src);
    let (mdx, mdy) = mean(dst);
    let (mut a, mut b, mut var) = (0.0, 0.0, 0.0);
    for (s, d) in src.iter().zip(dst) {
        let (sx, sy) = (s[0] as f64 - msx, s[1] as f64 - msy);
        let (dx, dy) = (d[0] as f64 - mdx, d[1] as f64 - mdy);
        a += sx * dx + sy * dy;
        b += sx * dy - sy * dx;
        var += sx * sx + sy * sy;
    }
    if var <= f64::EPSILON {
        return [[1.0, 0.0, mdx - msx], [0.0, 1.0, mdy - msy]];
    }
    let (c, s) = (a / var, b / var); // scale·cos θ, scale·sin θ
    [[c, -s, mdx - (c * msx - s * msy)], [s, c, mdy - (s * msx + c * msy)]]
}

/// Warps faces into aligned 112×112 BGR crops, reusing its buffers.
#[derive(Default)]
pub struct Aligner {
    out: Mat,
}

impl Aligner {
    pub fn new() -> Aligner {
        Aligner::default()
    }

    /// The aligned crop of the face with these landmarks (112×112 BGR8).
    pub fn align(&mut self, img: &BgrImage, landmarks: &Landmarks) -> Result<&Mat, ImageError> {
        let m = similarity_transform(landmarks, &TEMPLATE);
        let m = Mat::from_slice_2d(&m)?;
        let src = img.as_mat()?;
        imgproc::warp_affine(
            &src,
            &mut self.out,
            &m,
            Size::new(ALIGNED_SIZE as i32, ALIGNED_SIZE as i32),
            imgproc::INTER_LINEAR,
            BORDER_CONSTANT,
            Scalar::all(0.0),
        )?;
        Ok(&self.out)
    }

    /// The last aligned crop.
    pub fn mat(&self) -> &Mat {
        &self.out
    }

    /// The last aligned crop, packed BGR bytes.
    pub fn last_bytes(&self) -> Result<&[u8], ImageError> {
        Ok(self.out.data_bytes()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(m: &Affine, p: [f32; 2]) -> [f64; 2] {
        let (x, y) = (p[0] as f64, p[1] as f64);
        [m[0][0] * x + m[0][1] * y + m[0][2], m[1][0] * x + m[1][1] * y + m[1][2]]
    }

    #[test]
    fn recovers_a_known_rotation_scale_and_shift() {
        let (theta, scale, tx, ty) = (0.3f64, 1.7f64, 12.0f64, -4.0f64);
        let mut src = [[0.0f32; 2]; 5];
        for (i, p) in TEMPLATE.iter().enumerate() {
            let (x, y) = (p[0] as f64, p[1] as f64);
            src[i] = [
                (scale * (theta.cos() * x - theta.sin() * y) + tx) as f32,
                (scale * (theta.sin() * x + theta.cos() * y) + ty) as f32,
            ];
        }
        let m = similarity_transform(&src, &TEMPLATE);
        for (s, d) in src.iter().zip(TEMPLATE.iter()) {
            let got = apply(&m, *s);
            assert!((got[0] - d[0] as f64).abs() < 1e-3 && (got[1] - d[1] as f64).abs() < 1e-3);
        }
    }

    #[test]
    fn template_onto_itself_is_identity() {
        let m = similarity_transform(&TEMPLATE, &TEMPLATE);
        assert!((m[0][0] - 1.0).abs() < 1e-9 && m[0][1].abs() < 1e-9 && m[0][2].abs() < 1e-6);
    }
}
