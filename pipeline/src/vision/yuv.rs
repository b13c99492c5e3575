//! From the decoder's I420 to BGR, once per frame, straight from its buffer.
//!
//! `videoconvert` to BGR took 4.9 ms of a 1080p frame on one core — 40 % of
//! decoding it (the 10-minute realistic-day fixture through `gst-launch-1.0
//! … avdec_h264 max-threads=1 ! [videoconvert ! BGR !] fakesink`: 12.0
//! against 7.1 ms per frame). OpenCV's vectorised converter does it in 1.4 ms,
//! but reads only BT.601 at limited range — what an untagged stream is (and
//! what ffmpeg writes). A stream tagged otherwise (BT.709, BT.2020, full
//! range: common on IP cameras) goes through the converter here, which takes
//! the stream's own matrix and range: read as BT.601 limited, a full-range
//! camera's darkest and brightest tones would be clipped, and dark faces
//! lose what detail they have.

use opencv::core::{Mat, Vec3b};
use opencv::imgproc;

use crate::vision::frame::{BgrImage, ImageError};

/// The matrix from R'G'B' to Y'CbCr, by its luma weights of red and blue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Matrix {
    #[default]
    Bt601,
    Bt709,
    Smpte240m,
    Bt2020,
}

impl Matrix {
    fn kr_kb(self) -> (f32, f32) {
        match self {
            Matrix::Bt601 => (0.299, 0.114),
            Matrix::Bt709 => (0.2126, 0.0722),
            Matrix::Smpte240m => (0.212, 0.087),
            Matrix::Bt2020 => (0.2627, 0.0593),
        }
    }
}

/// Which codes are black and white: 16–235 (video, the usual) or 0–255.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Range {
    #[default]
    Limited,
    Full,
}

/// How a stream's Y'CbCr reads as colour. The default is an untagged stream's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Colour {
    pub matrix: Matrix,
    pub range: Range,
}

/// One I420 frame where the decoder left it: the planes' offsets and row
/// strides into `data` (chroma planes are half the size, rounded up).
#[derive(Debug, Clone, Copy)]
pub struct I420<'a> {
    pub width: usize,
    pub height: usize,
    pub data: &'a [u8],
    pub offsets: [usize; 3],
    pub strides: [usize; 3],
    pub colour: Colour,
}

impl I420<'_> {
    fn chroma(&self) -> (usize, usize) {
        (self.width.div_ceil(2), self.height.div_ceil(2))
    }

    fn bad(&self, reason: String) -> ImageError {
        ImageError::BadI420 { width: self.width, height: self.height, reason }
    }

    /// Checks that every plane's visible rows lie inside the buffer.
    fn validate(&self) -> Result<(), ImageError> {
        if self.width == 0 || self.height == 0 {
            return Err(ImageError::Empty);
        }
        let (cw, ch) = self.chroma();
        for (i, (cols, rows)) in [(self.width, self.height), (cw, ch), (cw, ch)].into_iter().enumerate() {
            let (offset, stride) = (self.offsets[i], self.strides[i]);
            let end =
                stride.checked_mul(rows - 1).and_then(|n| n.checked_add(offset)).and_then(|n| n.checked_add(cols));
            if stride < cols || end.is_none_or(|end| end > self.data.len()) {
                return Err(self.bad(format!(
                    "plane {i} (offset {offset}, stride {stride}) overruns the {}-byte buffer",
                    self.data.len()
                )));
            }
        }
        Ok(())
    }

    /// Row `r` of plane `i`, `cols` bytes (after [`I420::validate`]).
    fn row(&self, i: usize, r: usize, cols: usize) -> &[u8] {
        let start = self.offsets[i] + r * self.strides[i];
        &self.data[start..start + cols]
    }

    /// True when the planes lie one after another with no padding, as
    /// OpenCV reads I420 (`height × 3/2` rows of `width`), even sides only.
    fn is_packed(&self) -> bool {
        let (w, h) = (self.width, self.height);
        w % 2 == 0
            && h % 2 == 0
            && self.strides == [w, w / 2, w / 2]
            && self.offsets == [0, w * h, w * h + w * h / 4]
            && self.data.len() >= w * h * 3 / 2
    }
}

/// Converts I420 frames to BGR, keeping its scratch buffers between frames.
#[derive(Default)]
pub struct I420Converter {
    /// Planes gathered when the decoder's are not packed.
    planes: Vec<u8>,
    /// An odd-sized frame padded to even sides (rare: cameras send even ones).
    padded: BgrImage,
}

impl I420Converter {
    /// Converts `frame` into `into` (resized to the frame's size).
    pub fn convert(&mut self, frame: &I420, into: &mut BgrImage) -> Result<(), ImageError> {
        frame.validate()?;
        if frame.colour == Colour::default() {
            self.convert_with_opencv(frame, into)
        } else {
            convert_generic(frame, into);
            Ok(())
        }
    }

    /// BT.601 at limited range, by OpenCV. Packed planes are read where they
    /// are; others are first gathered, odd sides padded to even by repeating
    /// the last column and row.
    fn convert_with_opencv(&mut self, frame: &I420, into: &mut BgrImage) -> Result<(), ImageError> {
        let (w, h) = (frame.width, frame.height);
        if frame.is_packed() {
            into.reshape(w, h);
            return convert_packed(&frame.data[..w * h * 3 / 2], into);
        }
        let (cw, ch) = frame.chroma();
        let (ew, eh) = (cw * 2, ch * 2);
        let planes = &mut self.planes;
        planes.clear();
        planes.reserve(ew * eh * 3 / 2);
        for (plane, cols, rows, to_cols, to_rows) in [(0, w, h, ew, eh), (1, cw, ch, cw, ch), (2, cw, ch, cw, ch)] {
            for r in 0..to_rows {
                let row = frame.row(plane, r.min(rows - 1), cols);
                planes.extend_from_slice(row);
                planes.extend(std::iter::repeat_n(row[cols - 1], to_cols - cols));
            }
        }
        if (ew, eh) == (w, h) {
            into.reshape(w, h);
            return convert_packed(planes, into);
        }
        self.padded.reshape(ew, eh);
        convert_packed(planes, &mut self.padded)?;
        into.copy_from_strided(w, h, ew * 3, self.padded.data());
        Ok(())
    }
}

/// Converts packed I420 of `into`'s (even) size into its pixels.
fn convert_packed(yuv: &[u8], into: &mut BgrImage) -> Result<(), ImageError> {
    let (w, h) = (into.width() as i32, into.height() as i32);
    let src = Mat::new_rows_cols_with_bytes::<u8>(h * 3 / 2, w, yuv)?;
    let mut dst = Mat::new_rows_cols_with_bytes_mut::<Vec3b>(h, w, into.data_mut())?;
    imgproc::cvt_color_def(&src, &mut dst, imgproc::COLOR_YUV2BGR_I420)?;
    Ok(())
}

/// Fixed-point coefficients (× 2^14) of one matrix and range.
struct Coefficients {
    y_offset: i32,
    y: i32,
    r_cr: i32,
    g_cb: i32,
    g_cr: i32,
    b_cb: i32,
}

impl Coefficients {
    const ONE: f32 = (1 << 14) as f32;
    const HALF: i32 = 1 << 13;

    /// The blue, green and red terms of one chroma sample.
    #[inline]
    fn chroma(&self, u: u8, v: u8) -> [i32; 3] {
        let (cb, cr) = (i32::from(u) - 128, i32::from(v) - 128);
        [self.b_cb * cb, -self.g_cb * cb - self.g_cr * cr, self.r_cr * cr]
    }

    #[inline]
    fn pixel(&self, y: u8, chroma: [i32; 3], px: &mut [u8]) {
        let y = (i32::from(y) - self.y_offset) * self.y + Self::HALF;
        for (out, c) in px.iter_mut().zip(chroma) {
            *out = ((y + c) >> 14).clamp(0, 255) as u8;
        }
    }

    fn of(colour: Colour) -> Coefficients {
        let (kr, kb) = colour.matrix.kr_kb();
        let kg = 1.0 - kr - kb;
        let (y_offset, y_scale, c_scale) = match colour.range {
            Range::Limited => (16, 255.0 / 219.0, 255.0 / 224.0),
            Range::Full => (0, 1.0, 1.0),
        };
        let q = |v: f32| (v * Self::ONE).round() as i32;
        Coefficients {
            y_offset,
            y: q(y_scale),
            r_cr: q(2.0 * (1.0 - kr) * c_scale),
            g_cb: q(2.0 * kb * (1.0 - kb) / kg * c_scale),
            g_cr: q(2.0 * kr * (1.0 - kr) / kg * c_scale),
            b_cb: q(2.0 * (1.0 - kb) * c_scale),
        }
    }
}

/// Any matrix and range, row by row (after [`I420::validate`]), two pixels
/// per chroma sample: the chroma terms are worked out once per pair, and
/// iterators over exact chunks leave no bounds check in the inner loop.
fn convert_generic(frame: &I420, into: &mut BgrImage) {
    let (w, h) = (frame.width, frame.height);
    let (cw, _) = frame.chroma();
    let k = Coefficients::of(frame.colour);
    into.reshape(w, h);
    for (r, out) in into.data_mut().chunks_exact_mut(w * 3).enumerate() {
        let (ys, us, vs) = (frame.row(0, r, w), frame.row(1, r / 2, cw), frame.row(2, r / 2, cw));
        let pairs = out.chunks_exact_mut(6).zip(ys.chunks_exact(2)).zip(us.iter().zip(vs));
        for ((px, y), (&u, &v)) in pairs {
            let chroma = k.chroma(u, v);
            k.pixel(y[0], chroma, &mut px[..3]);
            k.pixel(y[1], chroma, &mut px[3..]);
        }
        if w % 2 == 1 {
            let chroma = k.chroma(us[cw - 1], vs[cw - 1]);
            k.pixel(ys[w - 1], chroma, &mut out[(w - 1) * 3..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITED_709: Colour = Colour { matrix: Matrix::Bt709, range: Range::Limited };
    const FULL_601: Colour = Colour { matrix: Matrix::Bt601, range: Range::Full };

    /// An I420 frame filled by `yuv(x, y)`, rows padded by `pad` bytes.
    fn i420(
        w: usize,
        h: usize,
        pad: usize,
        yuv: impl Fn(usize, usize) -> (u8, u8, u8),
    ) -> (Vec<u8>, [usize; 3], [usize; 3]) {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let strides = [w + pad, cw + pad, cw + pad];
        let offsets = [0, strides[0] * h, strides[0] * h + strides[1] * ch];
        let mut data = vec![0u8; offsets[2] + strides[2] * ch];
        for r in 0..h {
            for x in 0..w {
                data[offsets[0] + r * strides[0] + x] = yuv(x, r).0;
            }
        }
        for r in 0..ch {
            for x in 0..cw {
                let (_, u, v) = yuv(x * 2, r * 2);
                data[offsets[1] + r * strides[1] + x] = u;
                data[offsets[2] + r * strides[2] + x] = v;
            }
        }
        (data, offsets, strides)
    }

    fn convert(w: usize, h: usize, pad: usize, colour: Colour, yuv: (u8, u8, u8)) -> Result<BgrImage, ImageError> {
        let (data, offsets, strides) = i420(w, h, pad, |_, _| yuv);
        let mut img = BgrImage::default();
        I420Converter::default()
            .convert(&I420 { width: w, height: h, data: &data, offsets, strides, colour }, &mut img)?;
        Ok(img)
    }

    fn assert_all(img: &BgrImage, bgr: [u8; 3], what: &str) {
        for px in img.data().chunks_exact(3) {
            for c in 0..3 {
                assert!(px[c].abs_diff(bgr[c]) <= 3, "{what}: {px:?} for {bgr:?}");
            }
        }
    }

    #[test]
    fn an_untagged_frame_is_bt601_limited_packed_padded_or_odd() {
        // (81, 90, 240) is pure red, (145, 54, 34) green, (41, 240, 110) blue.
        for (yuv, bgr) in [((81, 90, 240), [0, 0, 255]), ((145, 54, 34), [0, 255, 0]), ((41, 240, 110), [255, 0, 0])] {
            for (w, h, pad) in [(8, 4, 0), (8, 4, 5), (7, 3, 0), (5, 6, 3), (1, 1, 0)] {
                let img = convert(w, h, pad, Colour::default(), yuv).expect("converts");
                assert_eq!((img.width(), img.height()), (w, h));
                assert_all(&img, bgr, &format!("{w}×{h} pad {pad}"));
            }
        }
    }

    #[test]
    fn a_tagged_frame_is_read_with_its_own_matrix_and_range() {
        // Pure red as BT.709 limited writes it, and as BT.601 full range does.
        for (colour, yuv) in [(LIMITED_709, (63, 102, 240)), (FULL_601, (76, 85, 255))] {
            for (w, h, pad) in [(8, 4, 0), (7, 3, 2)] {
                assert_all(&convert(w, h, pad, colour, yuv).expect("converts"), [0, 0, 255], &format!("{colour:?}"));
            }
        }
        let misread = convert(8, 4, 0, Colour::default(), (63, 102, 240)).expect("converts");
        assert!(misread.data()[2] < 240, "BT.709 red read as BT.601 is a duller red: {:?}", &misread.data()[..3]);
        // Full range keeps a dark grey that limited range would push to black.
        assert_all(&convert(4, 2, 0, FULL_601, (40, 128, 128)).expect("converts"), [40, 40, 40], "full-range grey");
        assert_all(
            &convert(4, 2, 0, Colour::default(), (40, 128, 128)).expect("converts"),
            [28, 28, 28],
            "limited grey",
        );
    }

    #[test]
    fn the_generic_converter_agrees_with_opencv_on_bt601_limited() {
        let (w, h) = (16, 10);
        // Luma within 16–235: OpenCV clamps blacker-than-black codes before scaling.
        let pattern =
            |x: usize, y: usize| ((16 + (x * 13 + y * 7) % 220) as u8, (40 + x * 11) as u8, (200 - y * 9) as u8);
        let (data, offsets, strides) = i420(w, h, 0, pattern);
        let frame = I420 { width: w, height: h, data: &data, offsets, strides, colour: Colour::default() };
        let (mut by_opencv, mut generic) = (BgrImage::default(), BgrImage::default());
        I420Converter::default().convert(&frame, &mut by_opencv).expect("converts");
        convert_generic(&frame, &mut generic);
        for (a, b) in by_opencv.data().iter().zip(generic.data()) {
            assert!(a.abs_diff(*b) <= 2, "OpenCV {a}, generic {b}");
        }
    }

    #[test]
    fn a_buffer_too_small_for_its_planes_is_an_error_not_a_panic() {
        let (data, offsets, strides) = i420(8, 4, 0, |_, _| (81, 90, 240));
        let colour = Colour::default();
        let mut img = BgrImage::default();
        let mut converter = I420Converter::default();
        let short = I420 { width: 8, height: 4, data: &data[..40], offsets, strides, colour };
        let err = converter.convert(&short, &mut img).expect_err("too small");
        assert!(matches!(err, ImageError::BadI420 { .. }), "{err}");
        let narrow = I420 { width: 8, height: 4, data: &data, offsets, strides: [4, 4, 4], colour };
        assert!(converter.convert(&narrow, &mut img).is_err(), "stride narrower than a row");
        let huge = I420 { width: 8, height: 4, data: &data, offsets, strides: [usize::MAX, 4, 4], colour: FULL_601 };
        assert!(converter.convert(&huge, &mut img).is_err(), "a stride that overflows");
        let empty = I420 { width: 0, height: 4, data: &data, offsets, strides, colour };
        assert!(matches!(converter.convert(&empty, &mut img), Err(ImageError::Empty)));
    }
}
