//! The motion gate: whether an empty gate's frame is worth the detector.
//!
//! A real gate is empty most of the day, and the face detector (≈8 ms per
//! 720p frame on one core) is most of a frame's cost. While nobody is being
//! tracked, each frame is reduced to a small luma image (one sample per
//! `cell`×`cell` block, each the mean of 16 pixels spread over the block, so
//! sensor noise averages out) and compared with the image of the **last frame
//! the detector saw**, not with the previous frame: a person walking in slowly
//! changes little from one frame to the next, but the change against the last
//! detected frame keeps growing until it is seen.
//!
//! The gate only ever skips frames while no track is alive; the engine detects
//! every frame while anyone is followed. Even a still scene is detected at
//! least every `idle_detect_ms` of stream time, so a person who somehow
//! appeared without visible change (a camera reconnect, a lighting shift that
//! hid them) is found within that time.

use serde::{Deserialize, Serialize};

use crate::vision::frame::BgrImage;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MotionConfig {
    /// Off: the detector runs on every frame.
    pub enabled: bool,
    /// Side of one block of the small luma image, full-resolution pixels
    /// (a strip narrower than a block at the right and bottom is not watched).
    pub cell: usize,
    /// A block changed when its mean luma moved by more than this (0..255),
    /// in a scene of mean luma 128 or brighter; darker scenes scale it down.
    pub luma_delta: f32,
    /// The frame has motion when at least this many blocks changed.
    pub min_changed_cells: usize,
    /// A still, empty scene is still detected this often, ms of stream time.
    pub idle_detect_ms: u64,
}

impl Default for MotionConfig {
    fn default() -> Self {
        MotionConfig { enabled: true, cell: 16, luma_delta: 10.0, min_changed_cells: 3, idle_detect_ms: 1000 }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("motion gate config: {0}")]
pub struct MotionConfigError(String);

impl MotionConfig {
    pub fn validate(&self) -> Result<(), MotionConfigError> {
        if !(4..=128).contains(&self.cell) {
            return Err(MotionConfigError(format!("cell must be 4..=128 pixels, got {}", self.cell)));
        }
        if !(0.0..=255.0).contains(&self.luma_delta) {
            return Err(MotionConfigError(format!("luma_delta must be within 0..255, got {}", self.luma_delta)));
        }
        if self.idle_detect_ms == 0 {
            return Err(MotionConfigError("idle_detect_ms must be above 0 (or set enabled = false)".into()));
        }
        if self.min_changed_cells == 0 {
            return Err(MotionConfigError("min_changed_cells must be at least 1 (0 would skip nothing)".into()));
        }
        Ok(())
    }
}

/// The gate's verdict on one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Run the detector (motion, a track alive, the idle interval due, or the gate off).
    Detect,
    /// Nothing moved and nobody is followed: skip the detector.
    Skip,
}

/// Per-camera state of the gate. Its two small images are allocated once
/// (again only if the frame size changes).
#[derive(Debug, Default)]
pub struct MotionGate {
    config: MotionConfig,
    /// Small luma image of the last frame the detector saw.
    reference: Vec<u8>,
    current: Vec<u8>,
    /// Size of the frames `reference` was made from.
    size: (usize, usize),
    /// Stream time of the last detected frame, ms.
    last_detect_ms: Option<u64>,
}

impl MotionGate {
    pub fn new(config: MotionConfig) -> MotionGate {
        MotionGate { config, ..MotionGate::default() }
    }

    /// Decides for `frame` at stream time `ts_ms`; `tracking` says whether any
    /// track is alive (then the answer is always [`Verdict::Detect`]).
    pub fn judge(&mut self, frame: &BgrImage, ts_ms: u64, tracking: bool) -> Verdict {
        if !self.config.enabled {
            return Verdict::Detect;
        }
        let size = (frame.width(), frame.height());
        shrink_luma(frame, self.config.cell, &mut self.current);
        // A frame smaller than `min_changed_cells` blocks could never show
        // motion: it is always detected.
        let stale = size != self.size
            || self.reference.len() != self.current.len()
            || self.current.len() < self.config.min_changed_cells;
        let idle_due = self.last_detect_ms.is_none_or(|t| ts_ms.saturating_sub(t) >= self.config.idle_detect_ms);
        let verdict = if tracking || stale || idle_due || self.moved() { Verdict::Detect } else { Verdict::Skip };
        if verdict == Verdict::Detect {
            std::mem::swap(&mut self.reference, &mut self.current);
            self.size = size;
            self.last_detect_ms = Some(ts_ms);
        }
        verdict
    }

    fn moved(&self) -> bool {
        // In the dark a person changes the picture by fewer levels (the
        // detector brightens such frames itself): the threshold scales with
        // the scene's brightness, down to a quarter at mean luma 32 or less.
        let mean = self.current.iter().map(|&v| f32::from(v)).sum::<f32>() / self.current.len().max(1) as f32;
        let delta = self.config.luma_delta * (mean / 128.0).clamp(0.25, 1.0);
        let changed = self
            .reference
            .iter()
            .zip(&self.current)
            .filter(|&(&a, &b)| (f32::from(a) - f32::from(b)).abs() > delta)
            .take(self.config.min_changed_cells)
            .count();
        changed >= self.config.min_changed_cells
    }
}

/// One luma value per `cell`×`cell` block of `frame`: the mean of a 4×4 grid
/// of pixels spread over the block (BT.601 weights, integer arithmetic).
/// Reading 16 pixels of 256 keeps it ≈0.1 ms on a 720p frame.
fn shrink_luma(frame: &BgrImage, cell: usize, out: &mut Vec<u8>) {
    let (w, h) = (frame.width(), frame.height());
    let (cols, rows) = (w / cell, h / cell);
    out.clear();
    let data = frame.data();
    let step = (cell / 4).max(1);
    for r in 0..rows {
        for c in 0..cols {
            let mut sum = 0u32;
            for dy in 0..4 {
                let y = r * cell + dy * step + step / 2;
                let row = &data[y * w * 3..(y + 1) * w * 3];
                for dx in 0..4 {
                    let x = (c * cell + dx * step + step / 2) * 3;
                    let (b, g, rr) = (u32::from(row[x]), u32::from(row[x + 1]), u32::from(row[x + 2]));
                    sum += (29 * b + 150 * g + 77 * rr) >> 8;
                }
            }
            out.push((sum / 16) as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(w: usize, h: usize, v: u8) -> BgrImage {
        BgrImage::from_raw(w, h, vec![v; w * h * 3]).expect("size")
    }

    fn paint(frame: &mut BgrImage, x0: usize, y0: usize, side: usize, v: u8) {
        let w = frame.width();
        let data = frame.data_mut();
        for y in y0..y0 + side {
            for x in x0..x0 + side {
                data[(y * w + x) * 3..(y * w + x) * 3 + 3].fill(v);
            }
        }
    }

    #[test]
    fn a_still_empty_scene_is_skipped_between_idle_detections() {
        let mut gate = MotionGate::new(MotionConfig::default());
        let f = grey(320, 240, 90);
        assert_eq!(gate.judge(&f, 0, false), Verdict::Detect, "the first frame has nothing to compare with");
        assert_eq!(gate.judge(&f, 40, false), Verdict::Skip);
        assert_eq!(gate.judge(&f, 960, false), Verdict::Skip);
        assert_eq!(gate.judge(&f, 1000, false), Verdict::Detect, "idle interval");
    }

    #[test]
    fn something_entering_is_detected_at_once() {
        let mut gate = MotionGate::new(MotionConfig::default());
        let mut f = grey(320, 240, 90);
        gate.judge(&f, 0, false);
        paint(&mut f, 100, 100, 48, 200);
        assert_eq!(gate.judge(&f, 40, false), Verdict::Detect);
    }

    #[test]
    fn slow_change_accumulates_against_the_last_detected_frame() {
        // In daylight, a block brightening 4 levels a frame never differs by
        // 10 from its previous frame, but does from the last frame the
        // detector saw.
        let mut gate = MotionGate::new(MotionConfig::default());
        let mut f = grey(320, 240, 130);
        gate.judge(&f, 0, false);
        let mut verdicts = Vec::new();
        for i in 1..=4u8 {
            paint(&mut f, 64, 64, 64, 130 + 4 * i);
            verdicts.push(gate.judge(&f, u64::from(i) * 40, false));
        }
        assert_eq!(verdicts, [Verdict::Skip, Verdict::Skip, Verdict::Detect, Verdict::Skip]);
    }

    #[test]
    fn noise_and_a_tiny_change_do_not_wake_the_detector() {
        let mut gate = MotionGate::new(MotionConfig::default());
        let f = grey(320, 240, 90);
        gate.judge(&f, 0, false);
        let mut noisy = f.clone();
        // ±6 levels of pixel noise, and one small bright speck (one block).
        for (i, px) in noisy.data_mut().iter_mut().enumerate() {
            *px = px.wrapping_add(((i * 7919) % 13) as u8).wrapping_sub(6);
        }
        paint(&mut noisy, 0, 0, 8, 255);
        assert_eq!(gate.judge(&noisy, 40, false), Verdict::Skip);
    }

    #[test]
    fn in_the_dark_a_smaller_change_is_motion() {
        // Six levels in a scene of mean luma 20 is motion; in daylight it is not.
        for (base, expected) in [(20u8, Verdict::Detect), (120u8, Verdict::Skip)] {
            let mut gate = MotionGate::new(MotionConfig::default());
            let mut f = grey(320, 240, base);
            gate.judge(&f, 0, false);
            paint(&mut f, 64, 64, 64, base + 6);
            assert_eq!(gate.judge(&f, 40, false), expected, "scene luma {base}");
        }
    }

    #[test]
    fn a_frame_too_small_to_show_motion_is_always_detected() {
        let mut gate = MotionGate::new(MotionConfig::default());
        let f = grey(20, 20, 90);
        assert!((0..4).all(|i| gate.judge(&f, i * 40, false) == Verdict::Detect));
        assert!(MotionConfig { min_changed_cells: 0, ..MotionConfig::default() }.validate().is_err());
    }

    #[test]
    fn tracking_or_a_new_frame_size_always_detects_and_off_means_every_frame() {
        let mut gate = MotionGate::new(MotionConfig::default());
        let f = grey(320, 240, 90);
        gate.judge(&f, 0, false);
        assert_eq!(gate.judge(&f, 40, true), Verdict::Detect);
        assert_eq!(gate.judge(&grey(640, 480, 90), 80, false), Verdict::Detect);
        let mut off = MotionGate::new(MotionConfig { enabled: false, ..MotionConfig::default() });
        assert!((0..5).all(|i| off.judge(&f, i * 40, false) == Verdict::Detect));
    }
}
