//! Owned, tightly packed BGR8 images: decoded video frames and photos.
//!
//! BGR because that is what the detector eats; the recogniser's RGB input is
//! produced only for the 112×112 aligned crop. Buffers are reused across frames
//! ([`BgrImage::reshape`]) so the hot path does not allocate.
//!
//! Video arrives from the decoder as I420 and is converted here, straight
//! from the decoder's buffer, by OpenCV's vectorised converter: 1.4 ms for a
//! 1080p frame on one core where GStreamer's `videoconvert` took 4.9 ms — a
//! third of what decoding a 1080p stream costs (measured on the 10-minute
//! realistic-day fixture, `gst-launch-1.0 … avdec_h264 max-threads=1 !
//! [videoconvert ! BGR !] fakesink`: 12.0 against 7.1 ms per frame).

use std::path::Path;

use opencv::boxed_ref::BoxedRef;
use opencv::core::{Mat, Vec3b};
use opencv::imgproc;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read image {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("not a decodable JPEG or PNG image: {0}")]
    Decode(String),
    #[error("image is too large ({width}×{height}); the limit is {max} pixels per side")]
    TooLarge { width: u32, height: u32, max: u32 },
    #[error("image has zero size")]
    Empty,
    #[error("I420 frame {width}×{height}: {reason}")]
    BadI420 { width: usize, height: usize, reason: String },
    #[error("OpenCV: {0}")]
    OpenCv(#[from] opencv::Error),
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
}

impl I420<'_> {
    fn chroma(&self) -> (usize, usize) {
        (self.width.div_ceil(2), self.height.div_ceil(2))
    }

    /// Plane `i`'s visible rows, each `cols` bytes, checked against the buffer.
    fn rows(&self, i: usize, cols: usize, rows: usize) -> Result<impl Iterator<Item = &[u8]>, ImageError> {
        let (offset, stride) = (self.offsets[i], self.strides[i]);
        let end = offset + stride * rows.saturating_sub(1) + cols;
        if stride < cols || end > self.data.len() {
            return Err(ImageError::BadI420 {
                width: self.width,
                height: self.height,
                reason: format!(
                    "plane {i} (offset {offset}, stride {stride}) overruns the {}-byte buffer",
                    self.data.len()
                ),
            });
        }
        Ok((0..rows).map(move |r| &self.data[offset + r * stride..offset + r * stride + cols]))
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

/// Largest side accepted when decoding untrusted images (enrolment uploads).
pub const MAX_SIDE: u32 = 8192;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct BgrImage {
    width: usize,
    height: usize,
    data: Vec<u8>,
}

impl BgrImage {
    pub fn new(width: usize, height: usize) -> BgrImage {
        BgrImage { width, height, data: vec![0; width * height * 3] }
    }

    pub fn from_raw(width: usize, height: usize, data: Vec<u8>) -> Option<BgrImage> {
        (data.len() == width * height * 3).then_some(BgrImage { width, height, data })
    }

    /// Changes the size, keeping the allocation when it is large enough.
    pub fn reshape(&mut self, width: usize, height: usize) {
        self.width = width;
        self.height = height;
        self.data.resize(width * height * 3, 0);
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn height(&self) -> usize {
        self.height
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.data
    }

    /// Copies rows from a buffer whose row stride may exceed `width * 3`
    /// (GStreamer pads rows to 4-byte boundaries).
    pub fn copy_from_strided(&mut self, width: usize, height: usize, stride: usize, src: &[u8]) {
        self.reshape(width, height);
        let row = width * 3;
        for (y, dst) in self.data.chunks_exact_mut(row).enumerate() {
            let start = y * stride;
            dst.copy_from_slice(&src[start..start + row]);
        }
    }

    /// Converts an I420 frame (BT.601, limited range, as OpenCV reads it)
    /// into this image. Packed planes are read where they are; others are
    /// first gathered into `scratch` (kept for the next frame), odd sides
    /// padded to even by repeating the last column and row.
    pub fn convert_i420(&mut self, frame: &I420, scratch: &mut Vec<u8>) -> Result<(), ImageError> {
        let (w, h) = (frame.width, frame.height);
        if w == 0 || h == 0 {
            return Err(ImageError::Empty);
        }
        if frame.is_packed() {
            self.reshape(w, h);
            return self.convert_packed_i420(&frame.data[..w * h * 3 / 2], w, h);
        }
        let (cw, ch) = frame.chroma();
        let (ew, eh) = (cw * 2, ch * 2);
        scratch.clear();
        scratch.reserve(ew * eh * 3 / 2);
        let mut gather = |plane: usize, cols: usize, rows: usize, to_cols: usize, to_rows: usize| {
            let start = scratch.len();
            for row in frame.rows(plane, cols, rows)? {
                scratch.extend_from_slice(row);
                let last = row[cols - 1];
                scratch.extend(std::iter::repeat_n(last, to_cols - cols));
            }
            if to_rows > rows {
                let last_row = scratch[scratch.len() - to_cols..].to_vec();
                scratch.extend_from_slice(&last_row);
            }
            debug_assert_eq!(scratch.len() - start, to_cols * to_rows);
            Ok::<(), ImageError>(())
        };
        gather(0, w, h, ew, eh)?;
        gather(1, cw, ch, cw, ch)?;
        gather(2, cw, ch, cw, ch)?;
        if (ew, eh) == (w, h) {
            self.reshape(w, h);
            return self.convert_packed_i420(scratch, w, h);
        }
        // Odd sides (rare: cameras send even ones): convert the padded frame, keep the visible part.
        let mut padded = BgrImage::default();
        padded.reshape(ew, eh);
        padded.convert_packed_i420(scratch, ew, eh)?;
        self.reshape(w, h);
        for (dst, src) in self.data.chunks_exact_mut(w * 3).zip(padded.data.chunks_exact(ew * 3)) {
            dst.copy_from_slice(&src[..w * 3]);
        }
        Ok(())
    }

    /// Converts packed I420 of this image's (even) size into its pixels.
    fn convert_packed_i420(&mut self, yuv: &[u8], w: usize, h: usize) -> Result<(), ImageError> {
        let src = Mat::new_rows_cols_with_bytes::<u8>((h * 3 / 2) as i32, w as i32, yuv)?;
        let mut dst = Mat::new_rows_cols_with_bytes_mut::<Vec3b>(h as i32, w as i32, &mut self.data)?;
        imgproc::cvt_color_def(&src, &mut dst, imgproc::COLOR_YUV2BGR_I420)?;
        Ok(())
    }

    /// A borrowed OpenCV view of the pixels (no copy).
    pub fn as_mat(&self) -> Result<BoxedRef<'_, Mat>, ImageError> {
        if self.width == 0 || self.height == 0 {
            return Err(ImageError::Empty);
        }
        Ok(Mat::new_rows_cols_with_bytes::<Vec3b>(self.height as i32, self.width as i32, &self.data)?)
    }

    /// Decodes JPEG or PNG bytes, refusing images larger than [`MAX_SIDE`].
    pub fn decode(bytes: &[u8]) -> Result<BgrImage, ImageError> {
        let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| ImageError::Decode(e.to_string()))?;
        let (w, h) = reader.into_dimensions().map_err(|e| ImageError::Decode(e.to_string()))?;
        if w > MAX_SIDE || h > MAX_SIDE {
            return Err(ImageError::TooLarge { width: w, height: h, max: MAX_SIDE });
        }
        if w == 0 || h == 0 {
            return Err(ImageError::Empty);
        }
        let rgb = image::load_from_memory(bytes).map_err(|e| ImageError::Decode(e.to_string()))?.to_rgb8();
        let (w, h) = rgb.dimensions();
        let mut data = rgb.into_raw();
        for px in data.chunks_exact_mut(3) {
            px.swap(0, 2);
        }
        Ok(BgrImage { width: w as usize, height: h as usize, data })
    }

    pub fn open(path: &Path) -> Result<BgrImage, ImageError> {
        let bytes = std::fs::read(path)
            .map_err(|e| ImageError::Read { path: path.display().to_string(), reason: e.to_string() })?;
        BgrImage::decode(&bytes)
    }

    /// Encodes the image as JPEG (for face crops in events).
    pub fn to_jpeg(&self, quality: u8) -> Result<Vec<u8>, ImageError> {
        let mut rgb = self.data.clone();
        for px in rgb.chunks_exact_mut(3) {
            px.swap(0, 2);
        }
        let mut out = Vec::new();
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
        image::ImageEncoder::write_image(
            enc,
            &rgb,
            self.width as u32,
            self.height as u32,
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| ImageError::Decode(e.to_string()))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_rows_are_copied_without_padding() {
        // 2×2 image, stride 8 (6 bytes of pixels + 2 of padding per row).
        let src = [1, 2, 3, 4, 5, 6, 99, 99, 7, 8, 9, 10, 11, 12, 99, 99];
        let mut img = BgrImage::default();
        img.copy_from_strided(2, 2, 8, &src);
        assert_eq!(img.data(), &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    }

    /// An I420 frame of one colour, rows padded to `pad` extra bytes.
    fn i420(w: usize, h: usize, (y, u, v): (u8, u8, u8), pad: usize) -> (Vec<u8>, [usize; 3], [usize; 3]) {
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let strides = [w + pad, cw + pad, cw + pad];
        let offsets = [0, strides[0] * h, strides[0] * h + strides[1] * ch];
        let mut data = vec![0u8; offsets[2] + strides[2] * ch];
        for (plane, value, rows, cols) in [(0, y, h, w), (1, u, ch, cw), (2, v, ch, cw)] {
            for r in 0..rows {
                let start = offsets[plane] + r * strides[plane];
                data[start..start + cols].fill(value);
            }
        }
        (data, offsets, strides)
    }

    fn convert(w: usize, h: usize, yuv: (u8, u8, u8), pad: usize) -> Result<BgrImage, ImageError> {
        let (data, offsets, strides) = i420(w, h, yuv, pad);
        let mut img = BgrImage::default();
        img.convert_i420(&I420 { width: w, height: h, data: &data, offsets, strides }, &mut Vec::new())?;
        Ok(img)
    }

    #[test]
    fn i420_becomes_bgr_in_the_right_colours_packed_padded_or_odd() {
        // BT.601 limited range: (81, 90, 240) is pure red, (145, 54, 34) green, (41, 240, 110) blue.
        for ((y, u, v), bgr) in
            [((81, 90, 240), [0, 0, 255]), ((145, 54, 34), [0, 255, 0]), ((41, 240, 110), [255, 0, 0])]
        {
            for (w, h, pad) in [(8, 4, 0), (8, 4, 5), (7, 3, 0), (5, 6, 3)] {
                let img = convert(w, h, (y, u, v), pad).expect("converts");
                assert_eq!((img.width(), img.height()), (w, h));
                for px in img.data().chunks_exact(3) {
                    for c in 0..3 {
                        assert!(px[c].abs_diff(bgr[c]) <= 3, "{w}×{h} pad {pad}: {px:?} for {bgr:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn an_i420_buffer_too_small_for_its_planes_is_an_error() {
        let (data, offsets, strides) = i420(8, 4, (81, 90, 240), 0);
        let frame = I420 { width: 8, height: 4, data: &data[..40], offsets, strides };
        let err = BgrImage::default().convert_i420(&frame, &mut Vec::new()).expect_err("too small");
        assert!(matches!(err, ImageError::BadI420 { .. }), "{err}");
        let frame = I420 { width: 8, height: 4, data: &data, offsets, strides: [4, 4, 4] };
        assert!(BgrImage::default().convert_i420(&frame, &mut Vec::new()).is_err(), "stride narrower than a row");
    }

    #[test]
    fn garbage_bytes_are_a_decode_error_not_a_panic() {
        assert!(matches!(BgrImage::decode(b"definitely not a jpeg"), Err(ImageError::Decode(_))));
        assert!(matches!(BgrImage::decode(&[0xff, 0xd8, 0xff, 0xe0, 0, 0]), Err(ImageError::Decode(_))));
    }

    #[test]
    fn jpeg_round_trip_keeps_size_and_colour_order() {
        let mut img = BgrImage::new(16, 8);
        for px in img.data_mut().chunks_exact_mut(3) {
            px.copy_from_slice(&[200, 30, 10]); // blue-ish in BGR
        }
        let back = BgrImage::decode(&img.to_jpeg(95).expect("encode")).expect("decode");
        assert_eq!((back.width(), back.height()), (16, 8));
        let px = &back.data()[..3];
        assert!(px[0] > 150 && px[2] < 60, "BGR order preserved: {px:?}");
    }
}
