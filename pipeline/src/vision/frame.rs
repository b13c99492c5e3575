//! Owned, tightly packed BGR8 images: decoded video frames and photos.
//!
//! BGR because that is what the detector eats; the recogniser's RGB input is
//! produced only for the 112×112 aligned crop. Buffers are reused across frames
//! ([`BgrImage::reshape`]) so the hot path does not allocate.
//!
//! Video frames arrive as I420 and are converted by [`crate::vision::yuv`].

use std::path::Path;

use opencv::boxed_ref::BoxedRef;
use opencv::core::{Mat, Vec3b};

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
