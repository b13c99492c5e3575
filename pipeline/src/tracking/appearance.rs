//! A cheap appearance descriptor of a head: what the tracker uses to tell
//! one person from another when motion alone cannot (a face re-found after a
//! gate post hid it, a detection that would reverse a track's motion).
//!
//! The face box, widened and raised to take in the hair, is shrunk to
//! 16×16 px and binned into a colour histogram: 8 hues × 3 saturations for
//! coloured pixels, 8 brightness levels for grey ones (hair, shadows, a dark
//! frame). A histogram ignores pose and scale, which change along a walk,
//! and keeps skin tone and hair colour, which do not. Two descriptors compare
//! by their Bhattacharyya coefficient: 1 for identical histograms, 0 for
//! disjoint ones. It is not an identity — the face embedding is — only a
//! check that costs microseconds per detection, every frame.

use opencv::core::{Mat, Rect as CvRect, Size};
use opencv::imgproc;
use opencv::prelude::*;

use crate::vision::detect::Rect;
use crate::vision::frame::BgrImage;

const HUES: usize = 8;
const SATURATIONS: usize = 3;
const GREYS: usize = 8;
/// Histogram bins.
pub const BINS: usize = HUES * SATURATIONS + GREYS;
const SIDE: i32 = 16;
/// Below this saturation (0..1) a pixel counts by its brightness alone.
const GREY_SATURATION: f32 = 0.18;
/// A region darker than this (mean of each pixel's brightest channel, 0..1)
/// is brightened to it before binning, by at most [`MAX_REGION_GAIN`].
const DARK_REGION: f32 = 0.35;
const MAX_REGION_GAIN: f32 = 6.0;

/// A normalised colour histogram of a head (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Appearance([f32; BINS]);

impl Default for Appearance {
    /// The uniform histogram: as similar to everything as anything can be.
    fn default() -> Self {
        Appearance([1.0 / BINS as f32; BINS])
    }
}

impl Appearance {
    /// Bhattacharyya coefficient, 0..1.
    pub fn similarity(&self, other: &Appearance) -> f32 {
        self.0.iter().zip(other.0.iter()).map(|(a, b)| (a * b).sqrt()).sum::<f32>().min(1.0)
    }

    /// Moves this descriptor a fraction `weight` (0..1) towards `other`: a
    /// track's running appearance.
    pub fn blend(&mut self, other: &Appearance, weight: f32) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += weight * (b - *a);
        }
    }

    /// The histogram of 8-bit BGR pixels (normalised; uniform when empty).
    /// A dark region is first brought up to [`DARK_REGION`] brightness, as an
    /// auto-exposure would: at night every head is otherwise all "dark grey".
    pub fn of_pixels(bgr: &[u8]) -> Appearance {
        let pixels = bgr.chunks_exact(3);
        let count = pixels.len();
        if count == 0 {
            return Appearance::default();
        }
        let brightness = pixels.clone().map(|p| p[0].max(p[1]).max(p[2]) as f32).sum::<f32>() / (255.0 * count as f32);
        let gain = if brightness > 0.0 && brightness < DARK_REGION {
            (DARK_REGION / brightness).min(MAX_REGION_GAIN)
        } else {
            1.0
        };
        let lift = |v: u8| (v as f32 * gain).min(255.0) as u8;
        let mut h = [0.0f32; BINS];
        let mut n = 0.0f32;
        for px in pixels {
            h[bin(lift(px[0]), lift(px[1]), lift(px[2]))] += 1.0;
            n += 1.0;
        }
        if n == 0.0 {
            return Appearance::default();
        }
        for x in &mut h {
            *x /= n;
        }
        Appearance(h)
    }
}

/// The histogram bin of one BGR pixel.
fn bin(b: u8, g: u8, r: u8) -> usize {
    let (b, g, r) = (b as f32 / 255.0, g as f32 / 255.0, r as f32 / 255.0);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let chroma = max - min;
    let saturation = if max > 0.0 { chroma / max } else { 0.0 };
    // Very dark pixels have no reliable hue either.
    if saturation < GREY_SATURATION || max < 0.12 {
        return HUES * SATURATIONS + ((max * GREYS as f32) as usize).min(GREYS - 1);
    }
    let hue = if max == r {
        ((g - b) / chroma).rem_euclid(6.0)
    } else if max == g {
        (b - r) / chroma + 2.0
    } else {
        (r - g) / chroma + 4.0
    } / 6.0;
    let hb = ((hue * HUES as f32) as usize).min(HUES - 1);
    let sb =
        (((saturation - GREY_SATURATION) / (1.0 - GREY_SATURATION) * SATURATIONS as f32) as usize).min(SATURATIONS - 1);
    sb * HUES + hb
}

/// Describes heads in frames, reusing its buffers.
#[derive(Default)]
pub struct Describer {
    small: Mat,
}

impl Describer {
    /// The descriptor of the head around face box `face` in `frame`; the
    /// uniform descriptor when the box is (almost) outside the frame.
    pub fn describe(&mut self, frame: &BgrImage, face: &Rect) -> Appearance {
        self.try_describe(frame, face).unwrap_or_default()
    }

    fn try_describe(&mut self, frame: &BgrImage, face: &Rect) -> Option<Appearance> {
        // The face and the hair above and beside it.
        let x0 = (face.x - 0.15 * face.w).max(0.0);
        let y0 = (face.y - 0.3 * face.h).max(0.0);
        let x1 = (face.x + 1.15 * face.w).min(frame.width() as f32);
        let y1 = (face.y + face.h).min(frame.height() as f32);
        if x1 - x0 < 4.0 || y1 - y0 < 4.0 {
            return None;
        }
        let src = frame.as_mat().ok()?;
        let roi = CvRect::new(x0 as i32, y0 as i32, (x1 - x0) as i32, (y1 - y0) as i32);
        let region = Mat::roi(&src, roi).ok()?;
        imgproc::resize(&region, &mut self.small, Size::new(SIDE, SIDE), 0.0, 0.0, imgproc::INTER_AREA).ok()?;
        let bytes = self.small.data_bytes().ok()?;
        Some(Appearance::of_pixels(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(b: u8, g: u8, r: u8) -> Appearance {
        Appearance::of_pixels(&[b, g, r].repeat(64))
    }

    #[test]
    fn the_same_colours_are_alike_and_different_ones_are_not() {
        let skin = solid(120, 150, 210);
        assert!((skin.similarity(&skin) - 1.0).abs() < 1e-5);
        assert!(skin.similarity(&solid(200, 120, 60)) < 0.05, "blue is not skin");
        assert!(solid(20, 20, 20).similarity(&solid(230, 230, 230)) < 0.05, "black hair is not white hair");
    }

    #[test]
    fn at_night_heads_are_told_apart_by_their_colours_as_by_day() {
        // Skin and blue, and the same scene at a tenth of the light.
        let day = (solid(120, 150, 210), solid(200, 120, 60));
        let night = (solid(12, 15, 21), solid(20, 12, 6));
        assert!(night.0.similarity(&night.1) < 0.05, "{}", night.0.similarity(&night.1));
        assert!(night.0.similarity(&day.0) > 0.9, "the same colour, lit less");
    }

    #[test]
    fn a_mixture_is_between_its_parts() {
        let mut px = [120u8, 150, 210].repeat(32);
        px.extend([20u8, 20, 20].repeat(32));
        let mixed = Appearance::of_pixels(&px);
        let s = mixed.similarity(&solid(120, 150, 210));
        assert!(s > 0.6 && s < 0.8, "{s}");
    }

    #[test]
    fn blending_moves_towards_the_other() {
        let mut a = solid(120, 150, 210);
        let b = solid(20, 20, 20);
        let before = a.similarity(&b);
        a.blend(&b, 0.5);
        assert!(a.similarity(&b) > before);
    }

    #[test]
    fn a_box_outside_the_frame_describes_as_uniform() {
        let frame = BgrImage::new(64, 48);
        let mut d = Describer::default();
        let far = Rect { x: 500.0, y: 500.0, w: 20.0, h: 20.0 };
        assert_eq!(d.describe(&frame, &far), Appearance::default());
        let inside = d.describe(&frame, &Rect { x: 10.0, y: 10.0, w: 20.0, h: 20.0 });
        assert!(inside.similarity(&solid(0, 0, 0)) > 0.99, "a black frame describes as black");
    }
}
