//! A live camera: a [`VideoSource`] that survives its camera.
//!
//! An RTSP camera that goes away shows up in one of two ways (measured on
//! these machines): a killed server makes `rtspsrc` post a plain EOS; a frozen
//! server or a cut network posts nothing at all. So a live source treats EOS,
//! errors and a **no-frame watchdog** alike as "disconnected": it tears the
//! pipeline down and rebuilds it, with exponential backoff between attempts,
//! until frames flow again. The caller sees frames, or how long the camera has
//! been down and why — never an error that ends the worker.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::vision::frame::BgrImage;
use crate::vision::source::{Pulled, SourceOptions, SourceUrl, VideoSource};

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveConfig {
    /// No frame for this long means the camera is gone, milliseconds.
    pub watchdog_ms: u64,
    /// First wait before reconnecting, milliseconds; doubles per failure.
    pub backoff_initial_ms: u64,
    /// Longest wait between reconnection attempts, milliseconds.
    pub backoff_max_ms: u64,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig { watchdog_ms: 3000, backoff_initial_ms: 250, backoff_max_ms: 2000 }
    }
}

/// What the camera link is doing.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkState {
    Up,
    Down { since: Instant, reason: String },
}

/// One step of a live source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LiveEvent {
    /// A frame was copied into the buffer.
    Frame,
    /// No frame this time; see [`LiveSource::state`].
    NoFrame,
}

pub struct LiveSource {
    url: SourceUrl,
    options: SourceOptions,
    config: LiveConfig,
    source: Option<VideoSource>,
    state: LinkState,
    backoff: Duration,
    next_attempt: Instant,
    last_frame: Instant,
    reconnects: u64,
    /// Frames dropped while recognition was busy, by earlier connections.
    dropped_before: u64,
}

impl LiveSource {
    pub fn new(url: SourceUrl, options: SourceOptions, config: LiveConfig) -> LiveSource {
        let now = Instant::now();
        LiveSource {
            url,
            options,
            config,
            source: None,
            state: LinkState::Down { since: now, reason: "not connected yet".into() },
            backoff: Duration::from_millis(config.backoff_initial_ms),
            next_attempt: now,
            last_frame: now,
            reconnects: 0,
            dropped_before: 0,
        }
    }

    pub fn url(&self) -> &SourceUrl {
        &self.url
    }

    pub fn state(&self) -> &LinkState {
        &self.state
    }

    /// Frames the camera sent that were dropped because recognition was
    /// busy, counted where frames enter the 2-frame queue (a live stream's
    /// timestamps cannot say: they jitter, and with B-frames two frames may
    /// share a timestamp).
    pub fn dropped(&self) -> u64 {
        self.dropped_before + self.source.as_ref().map_or(0, VideoSource::dropped)
    }

    /// Successful (re)connections so far.
    pub fn connections(&self) -> u64 {
        self.reconnects
    }

    fn lose(&mut self, reason: String) {
        self.dropped_before = self.dropped();
        if let Some(src) = self.source.take() {
            drop(src); // pipeline to Null
        }
        if matches!(self.state, LinkState::Up) {
            tracing::warn!(camera = %self.url.describe(), %reason, "camera disconnected");
            self.state = LinkState::Down { since: Instant::now(), reason };
            self.backoff = Duration::from_millis(self.config.backoff_initial_ms);
        } else if let LinkState::Down { reason: r, .. } = &mut self.state {
            tracing::debug!(camera = %self.url.describe(), %reason, retry_in_ms = self.backoff.as_millis() as u64, "camera still down");
            *r = reason;
        }
        self.next_attempt = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(Duration::from_millis(self.config.backoff_max_ms));
    }

    /// Waits at most `timeout` for the next frame, reconnecting as needed.
    pub fn next(&mut self, into: &mut BgrImage, timeout: Duration) -> LiveEvent {
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return LiveEvent::NoFrame;
            }
            if self.source.is_none() {
                if now < self.next_attempt {
                    std::thread::sleep((self.next_attempt - now).min(deadline - now));
                    continue;
                }
                tracing::debug!(camera = %self.url.describe(), "connecting");
                match VideoSource::open(&self.url, self.options) {
                    Ok(src) => {
                        self.source = Some(src);
                        self.last_frame = Instant::now();
                    }
                    Err(e) => {
                        self.lose(e.to_string());
                        continue;
                    }
                }
            }
            let Some(src) = self.source.as_mut() else { continue };
            let watchdog = Duration::from_millis(self.config.watchdog_ms);
            let wait =
                (deadline - now).min(watchdog.saturating_sub(self.last_frame.elapsed()).max(Duration::from_millis(10)));
            match src.pull(into, wait) {
                Ok(Pulled::Frame { .. }) => {
                    self.last_frame = Instant::now();
                    if !matches!(self.state, LinkState::Up) {
                        self.reconnects += 1;
                        tracing::info!(camera = %self.url.describe(), "camera connected");
                        self.state = LinkState::Up;
                    }
                    self.backoff = Duration::from_millis(self.config.backoff_initial_ms);
                    return LiveEvent::Frame;
                }
                Ok(Pulled::Eos) => self.lose("stream ended (camera disconnected)".into()),
                Ok(Pulled::Timeout) => {
                    if self.last_frame.elapsed() >= watchdog {
                        self.lose(format!(
                            "no frame for {} ms (camera frozen or network cut)",
                            self.config.watchdog_ms
                        ));
                    }
                }
                Err(e) => self.lose(e.to_string()),
            }
        }
    }
}

/// Frames from a camera (live, reconnecting) or from a recording (read once):
/// the one loop camera workers and `watch` need.
pub enum Feed {
    Live(Box<LiveSource>),
    File(VideoSource),
}

/// One step of a [`Feed`].
#[derive(Debug)]
pub enum FeedEvent {
    /// A frame; for a recording, its time in the stream (a live camera's
    /// frames are timed by the wall clock of whoever receives them).
    Frame { pts: Option<Duration> },
    /// Nothing this time (a live camera down or slow); try again.
    NoFrame,
    /// A recording ended.
    Ended,
    /// A recording cannot be read further.
    Failed(crate::vision::source::SourceError),
}

impl Feed {
    pub fn open(
        url: &SourceUrl,
        options: SourceOptions,
        config: LiveConfig,
    ) -> Result<Feed, crate::vision::source::SourceError> {
        if url.is_live() {
            Ok(Feed::Live(Box::new(LiveSource::new(url.clone(), options, config))))
        } else {
            Ok(Feed::File(VideoSource::open(url, options)?))
        }
    }

    pub fn next(&mut self, into: &mut BgrImage, timeout: Duration) -> FeedEvent {
        match self {
            Feed::Live(l) => match l.next(into, timeout) {
                LiveEvent::Frame => FeedEvent::Frame { pts: None },
                LiveEvent::NoFrame => FeedEvent::NoFrame,
            },
            Feed::File(f) => match f.pull(into, timeout) {
                Ok(Pulled::Frame { pts }) => FeedEvent::Frame { pts: Some(pts) },
                Ok(Pulled::Timeout) => FeedEvent::NoFrame,
                Ok(Pulled::Eos) => FeedEvent::Ended,
                Err(e) => FeedEvent::Failed(e),
            },
        }
    }

    /// Frames dropped so far (a recording drops none).
    pub fn dropped(&self) -> u64 {
        match self {
            Feed::Live(l) => l.dropped(),
            Feed::File(_) => 0,
        }
    }

    /// The live link's state; a recording is always "up".
    pub fn state(&self) -> Option<&LinkState> {
        match self {
            Feed::Live(l) => Some(l.state()),
            Feed::File(_) => None,
        }
    }
}
