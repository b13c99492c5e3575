//! Camera tampering seen in the picture itself: a lens covered or sprayed
//! (black or one flat colour) or a feed frozen on one image (a looped or
//! stuck encoder, a photo held in front of the lens) — while frames keep
//! arriving, so the link watchdog cannot notice.
//!
//! Each frame is reduced to a coarse grid of luma samples (cheap: a few
//! thousand pixels of a 1080p frame). *Blind*: the samples are dark or
//! uniform. *Frozen*: consecutive grids are identical — real sensors always
//! add noise, so a live scene, even an empty one, never repeats exactly
//! (checked on the empty-scene fixture). A condition must hold for
//! `after_ms` of stream time before it is reported, once per episode.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::vision::frame::BgrImage;

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TamperConfig {
    /// A condition must last this long before it is reported, ms; 0 turns detection off.
    pub after_ms: u64,
    /// Mean luma (0..255) below which the picture is black.
    pub black_luma: f32,
    /// Luma standard deviation below which the picture is one flat colour.
    pub flat_stddev: f32,
    /// Mean absolute luma change between frames at or below which the picture is frozen.
    pub frozen_diff: f32,
}

impl Default for TamperConfig {
    fn default() -> Self {
        TamperConfig { after_ms: 5000, black_luma: 16.0, flat_stddev: 3.0, frozen_diff: 0.05 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tampering {
    /// Dark or one flat colour: the lens is covered, sprayed or turned to a wall.
    Blind,
    /// The same image over and over.
    Frozen,
}

impl Tampering {
    pub fn describe(self) -> &'static str {
        match self {
            Tampering::Blind => "the picture is black or one flat colour (lens covered, sprayed or turned away)",
            Tampering::Frozen => "the picture is frozen on one image (stuck encoder or a photo held to the lens)",
        }
    }
}

/// Luma samples of one frame on a fixed grid.
const GRID_W: usize = 64;
const GRID_H: usize = 36;

#[derive(Debug, Default)]
pub struct TamperWatch {
    config: TamperConfig,
    previous: Vec<u8>,
    current: Vec<u8>,
    /// Since when each condition has held, and whether it was reported.
    blind_since: Option<Duration>,
    frozen_since: Option<Duration>,
    reported: Option<Tampering>,
}

/// Statistics of one frame's grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameStats {
    pub mean: f32,
    pub stddev: f32,
    /// Mean absolute change from the previous frame (`None` for the first).
    pub change: Option<f32>,
}

impl TamperWatch {
    pub fn new(config: TamperConfig) -> TamperWatch {
        TamperWatch { config, ..Default::default() }
    }

    /// The tampering reported and still going on, if any.
    pub fn current(&self) -> Option<Tampering> {
        self.reported
    }

    /// Samples the frame's luma grid and compares it with the previous one.
    pub fn stats(&mut self, frame: &BgrImage) -> FrameStats {
        std::mem::swap(&mut self.previous, &mut self.current);
        self.current.clear();
        let (w, h) = (frame.width(), frame.height());
        let data = frame.data();
        for gy in 0..GRID_H {
            let y = (gy * 2 + 1) * h / (GRID_H * 2);
            for gx in 0..GRID_W {
                let x = (gx * 2 + 1) * w / (GRID_W * 2);
                let i = (y * w + x) * 3;
                let luma = match data.get(i..i + 3) {
                    Some(&[b, g, r]) => (29 * b as u32 + 150 * g as u32 + 77 * r as u32) >> 8,
                    _ => 0,
                };
                self.current.push(luma as u8);
            }
        }
        let n = self.current.len() as f32;
        let mean = self.current.iter().map(|&v| v as f32).sum::<f32>() / n;
        let var = self.current.iter().map(|&v| (v as f32 - mean).powi(2)).sum::<f32>() / n;
        let change = (self.previous.len() == self.current.len()).then(|| {
            self.current
                .iter()
                .zip(&self.previous)
                .map(|(&a, &b)| (a as i16 - b as i16).unsigned_abs() as f32)
                .sum::<f32>()
                / n
        });
        FrameStats { mean, stddev: var.sqrt(), change }
    }

    /// Observes a frame at stream time `ts`; returns a tampering the first
    /// time it has lasted `after_ms`.
    pub fn observe(&mut self, frame: &BgrImage, ts: Duration) -> Option<Tampering> {
        if self.config.after_ms == 0 {
            return None;
        }
        let s = self.stats(frame);
        let blind = s.mean < self.config.black_luma || s.stddev < self.config.flat_stddev;
        // A blind picture is also "frozen"; report it as what it is.
        let frozen = !blind && s.change.is_some_and(|c| c <= self.config.frozen_diff);
        let since = |flag: bool, slot: &mut Option<Duration>| {
            if flag {
                *slot.get_or_insert(ts)
            } else {
                *slot = None;
                ts
            }
        };
        let blind_start = since(blind, &mut self.blind_since);
        let frozen_start = since(frozen, &mut self.frozen_since);
        let after = Duration::from_millis(self.config.after_ms);
        let now = if blind && ts.saturating_sub(blind_start) >= after {
            Some(Tampering::Blind)
        } else if frozen && ts.saturating_sub(frozen_start) >= after {
            Some(Tampering::Frozen)
        } else {
            None
        };
        if !blind && !frozen {
            if let Some(t) = self.reported.take() {
                tracing::info!(?t, "camera picture back to normal");
            }
            return None;
        }
        match now {
            Some(t) if self.reported != Some(t) => {
                self.reported = Some(t);
                Some(t)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy(seed: u64) -> BgrImage {
        let mut s = seed | 1;
        let mut img = BgrImage::new(320, 180);
        for px in img.data_mut().iter_mut() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            *px = 60 + (s % 120) as u8;
        }
        img
    }

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn a_changing_picture_stays_quiet() {
        let mut w = TamperWatch::new(TamperConfig::default());
        for i in 0..300 {
            assert_eq!(w.observe(&noisy(i), at(i * 40)), None);
        }
    }

    #[test]
    fn a_frozen_picture_is_reported_once_after_the_delay() {
        let mut w = TamperWatch::new(TamperConfig::default());
        let still = noisy(7);
        let reports: Vec<_> = (0..300).filter_map(|i| w.observe(&still, at(i * 40)).map(|t| (i, t))).collect();
        // Frame 0 has nothing to compare with: frozen from frame 1, 5 s later is frame 126.
        assert_eq!(reports, vec![(126, Tampering::Frozen)], "5 s at 25 fps, once");
    }

    #[test]
    fn a_black_picture_is_blind_and_recovery_rearms() {
        let mut w = TamperWatch::new(TamperConfig::default());
        let black = BgrImage::new(320, 180);
        let mut reports = Vec::new();
        for i in 0..200u64 {
            let frame = if (80..120).contains(&i) { noisy(i) } else { black.clone() };
            if let Some(t) = w.observe(&frame, at(i * 100)) {
                reports.push((i, t));
            }
        }
        assert_eq!(reports, vec![(50, Tampering::Blind), (170, Tampering::Blind)]);
    }
}
