//! Video sources through GStreamer: recorded files (replay) and RTSP cameras.
//!
//! Decoding happens in GStreamer's own threads; frames arrive through an
//! appsink as I420 (what H.264 and H.265 decoders produce, so `videoconvert`
//! passes it through; it converts only other formats) and are converted to
//! BGR, the detector's colour order, once, by the consumer's thread from the
//! decoder's buffer ([`crate::vision::yuv`]: three times cheaper than `videoconvert`
//! to BGR). The two kinds differ in what they do when the
//! consumer is slower than the stream:
//!
//! - **File** (replay): nothing is dropped and nothing waits for a clock
//!   (`sync=false`): the file is decoded as fast as the pipeline consumes it.
//! - **RTSP** (live): TCP transport, `latency=0`, and a 2-frame appsink that
//!   drops the oldest: the newest frame wins, memory stays bounded.
//!
//! Elements are linked programmatically, so a URL or path is always a property
//! value, never parsed as pipeline syntax.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use crate::vision::frame::BgrImage;
use crate::vision::yuv::{Colour, I420, I420Converter, Matrix, Range};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("GStreamer could not start: {0}. Run `make setup` to install the GStreamer packages")]
    Init(String),
    #[error("GStreamer element {0} is missing. Run `make setup` to install the GStreamer plugins")]
    MissingElement(&'static str),
    #[error("unsupported source {0:?}: use rtsp://host/path, file:///path, a file path, or v4l2:///dev/videoN")]
    Unsupported(String),
    #[error("camera address {url}: {reason}. Write it as rtsp://[user:password@]host[:port]/path")]
    BadRtspUrl { url: String, reason: String },
    #[error("video file {0} does not exist")]
    NoSuchFile(PathBuf),
    #[error("{source_desc}: {message}")]
    Stream { source_desc: String, message: String },
    #[error("GStreamer: {0}")]
    Gst(String),
}

impl From<glib::BoolError> for SourceError {
    fn from(e: glib::BoolError) -> Self {
        SourceError::Gst(e.to_string())
    }
}

/// Where frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceUrl {
    File(PathBuf),
    Rtsp(String),
    V4l2(String),
}

impl SourceUrl {
    pub fn parse(url: &str) -> Result<SourceUrl, SourceError> {
        let url = url.trim();
        if url.starts_with("rtsp://") || url.starts_with("rtsps://") {
            check_rtsp_url(url)?;
            Ok(SourceUrl::Rtsp(url.to_string()))
        } else if let Some(path) = url.strip_prefix("file://") {
            Ok(SourceUrl::File(PathBuf::from(path)))
        } else if let Some(dev) = url.strip_prefix("v4l2://") {
            Ok(SourceUrl::V4l2(if dev.is_empty() { "/dev/video0".into() } else { dev.to_string() }))
        } else if url.contains("://") || url.is_empty() {
            Err(SourceError::Unsupported(crate::fleet::redact(url)))
        } else {
            Ok(SourceUrl::File(PathBuf::from(url)))
        }
    }

    pub fn is_live(&self) -> bool {
        !matches!(self, SourceUrl::File(_))
    }

    /// A description for logs and errors that never includes credentials.
    pub fn describe(&self) -> String {
        match self {
            SourceUrl::File(p) => p.display().to_string(),
            SourceUrl::Rtsp(u) => redact_credentials(u),
            SourceUrl::V4l2(d) => format!("v4l2 {d}"),
        }
    }
}

/// Refuses an RTSP address that cannot name a camera, so a typo in a config
/// is reported at start rather than as a camera that never connects.
fn check_rtsp_url(url: &str) -> Result<(), SourceError> {
    let bad = |reason: &str| SourceError::BadRtspUrl { url: redact_credentials(url), reason: reason.to_string() };
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains spaces or control characters"));
    }
    let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    match parsed.host_str() {
        None | Some("") => return Err(bad("it has no host")),
        Some(_) => {}
    }
    if parsed.port() == Some(0) {
        return Err(bad("port 0 is not a camera's port"));
    }
    Ok(())
}

/// `rtsp://user:pass@host/x` → `rtsp://***@host/x`.
pub fn redact_credentials(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => format!("{}***{}", &url[..scheme_end + 3], &url[at..]),
        _ => url.to_string(),
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SourceOptions {
    /// Output size; `None` keeps the stream's own size.
    pub size: Option<(u32, u32)>,
    /// Threads of the software video decoder (`max-threads` of libav's
    /// decoders); `None` keeps its default of one per core.
    pub decoder_threads: Option<u32>,
}

/// What one pull produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pulled {
    /// A frame was copied into the buffer; its presentation time in the stream.
    Frame { pts: Duration },
    /// The stream ended (a file's end; for a live camera: disconnected).
    Eos,
    /// No frame within the timeout (a frozen camera or a stalled network).
    Timeout,
}

static GST_INIT: OnceLock<Result<(), String>> = OnceLock::new();

pub fn init_gstreamer() -> Result<(), SourceError> {
    GST_INIT.get_or_init(|| gst::init().map_err(|e| e.to_string())).clone().map_err(SourceError::Init)
}

fn make(factory: &'static str) -> Result<gst::Element, SourceError> {
    gst::ElementFactory::make(factory).build().map_err(|_| SourceError::MissingElement(factory))
}

pub struct VideoSource {
    url: SourceUrl,
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    frames: u64,
    /// Frames that reached the appsink (pulled, queued or dropped by it).
    arrived: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The most dropped frames counted so far (the count never goes back).
    dropped: u64,
    /// Frames the appsink may hold for us.
    queue: u64,
    /// I420 to BGR, with its buffers kept between frames.
    converter: I420Converter,
}

impl VideoSource {
    pub fn open(url: &SourceUrl, options: SourceOptions) -> Result<VideoSource, SourceError> {
        init_gstreamer()?;
        let pipeline = gst::Pipeline::new();
        let decode = make("decodebin")?;
        let convert = make("videoconvert")?;
        let scale = make("videoscale")?;
        let filter = make("capsfilter")?;
        let mut caps = gst_video::VideoCapsBuilder::new().format(gst_video::VideoFormat::I420);
        if let Some((w, h)) = options.size {
            caps = caps.width(w as i32).height(h as i32);
        }
        filter.set_property("caps", caps.build());
        let live = url.is_live();
        let queue = if live { 2 } else { 4 };
        let sink = gst_app::AppSink::builder().sync(false).max_buffers(queue).drop(live).build();
        // Counted where frames enter the appsink: those that arrive and are
        // never pulled were dropped by it (a live camera's newest frame wins).
        let arrived = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        if let Some(pad) = sink.static_pad("sink") {
            let counter = std::sync::Arc::clone(&arrived);
            pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                gst::PadProbeReturn::Ok
            });
        }
        pipeline.add_many([&decode, &convert, &scale, &filter, sink.upcast_ref()])?;
        gst::Element::link_many([&convert, &scale, &filter, sink.upcast_ref()])?;

        match url {
            SourceUrl::File(path) => {
                if !path.is_file() {
                    return Err(SourceError::NoSuchFile(path.clone()));
                }
                let src = make("filesrc")?;
                src.set_property("location", path.to_string_lossy().as_ref());
                pipeline.add(&src)?;
                src.link(&decode)?;
            }
            SourceUrl::V4l2(device) => {
                let src = make("v4l2src")?;
                src.set_property("device", device.as_str());
                pipeline.add(&src)?;
                src.link(&decode)?;
            }
            SourceUrl::Rtsp(location) => {
                let src = make("rtspsrc")?;
                src.set_property("location", location.as_str());
                src.set_property("latency", 0u32);
                src.set_property_from_str("protocols", "tcp");
                pipeline.add(&src)?;
                link_rtsp_video(&src, &decode, &pipeline);
            }
        }
        if let Some(n) = options.decoder_threads {
            decode.connect("deep-element-added", false, move |args| {
                let element = args.get(2).and_then(|v| v.get::<gst::Element>().ok());
                if let Some(e) = element
                    && e.find_property("max-threads").is_some()
                {
                    e.set_property("max-threads", n as i32);
                }
                None
            });
        }
        let convert_weak = convert.downgrade();
        decode.connect_pad_added(move |_, pad| {
            // A pad exposed before negotiation has no current caps yet; ask
            // what it can produce instead (a truncated file's decoder may never
            // negotiate, and its EOS must still reach the sink).
            let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
            let is_video = caps.structure(0).is_some_and(|s| s.name().starts_with("video/"));
            if let Some(convert) = convert_weak.upgrade()
                && let Some(sinkpad) = convert.static_pad("sink")
                && is_video
                && !sinkpad.is_linked()
            {
                let _ = pad.link(&sinkpad);
            }
        });
        pipeline.set_state(gst::State::Playing).map_err(|_| SourceError::Stream {
            source_desc: url.describe(),
            message: "pipeline refused to start".into(),
        })?;
        Ok(VideoSource {
            url: url.clone(),
            pipeline,
            sink,
            frames: 0,
            arrived,
            dropped: 0,
            queue: queue as u64,
            converter: I420Converter::default(),
        })
    }

    pub fn url(&self) -> &SourceUrl {
        &self.url
    }

    /// Frames delivered so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Frames the decoder produced that were dropped before we pulled them
    /// (a live source keeps only its newest frames when we fall behind);
    /// exact up to the few frames still queued. Never decreases (frames
    /// still queued are counted as the queue holds them, up to its size).
    pub fn dropped(&self) -> u64 {
        let now = self.arrived.load(std::sync::atomic::Ordering::Relaxed).saturating_sub(self.frames + self.queue);
        now.max(self.dropped)
    }

    /// Waits up to `timeout` for the next frame and copies it into `into`.
    /// An error posted on the pipeline's bus (file unreadable, camera refused
    /// the connection, not a video) is returned as [`SourceError::Stream`].
    pub fn pull(&mut self, into: &mut BgrImage, timeout: Duration) -> Result<Pulled, SourceError> {
        let clock = gst::ClockTime::from_nseconds(timeout.as_nanos().min(u64::MAX as u128) as u64);
        match self.sink.try_pull_sample(clock) {
            Some(sample) => {
                copy_sample(&sample, into, &mut self.converter)?;
                self.dropped = self.dropped();
                self.frames += 1;
                let pts = sample
                    .buffer()
                    .and_then(|b| b.pts())
                    .map(|t| Duration::from_nanos(t.nseconds()))
                    .unwrap_or_default();
                Ok(Pulled::Frame { pts })
            }
            None => {
                self.check_bus()?;
                if !self.sink.is_eos() {
                    return Ok(Pulled::Timeout);
                }
                if self.frames == 0 && !self.url.is_live() {
                    return Err(SourceError::Stream {
                        source_desc: self.url.describe(),
                        message: "no decodable video frames (the file is corrupt, truncated or not a video)".into(),
                    });
                }
                Ok(Pulled::Eos)
            }
        }
    }

    fn check_bus(&self) -> Result<(), SourceError> {
        let Some(bus) = self.pipeline.bus() else { return Ok(()) };
        while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(err) = msg.view() {
                return Err(SourceError::Stream { source_desc: self.url.describe(), message: err.error().to_string() });
            }
        }
        Ok(())
    }
}

/// Links the camera's video stream to the decoder. A camera's other streams
/// (its microphone, metadata) go to a discarding sink, so they neither take
/// the decoder's place nor stall the session; an address with no video at all
/// posts an error saying so, instead of looking like a frozen camera.
fn link_rtsp_video(src: &gst::Element, decode: &gst::Element, pipeline: &gst::Pipeline) {
    let media_of = |pad: &gst::Pad| -> String {
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        caps.structure(0).and_then(|s| s.get::<String>("media").ok()).unwrap_or_else(|| "unknown".into())
    };
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (decode_weak, pipeline_weak, seen_by_pads) = (decode.downgrade(), pipeline.downgrade(), seen.clone());
    src.connect_pad_added(move |_, pad| {
        let media = media_of(pad);
        seen_by_pads.lock().unwrap_or_else(|p| p.into_inner()).push(media.clone());
        if media == "video"
            && let Some(decode) = decode_weak.upgrade()
            && let Some(sinkpad) = decode.static_pad("sink")
            && !sinkpad.is_linked()
        {
            let _ = pad.link(&sinkpad);
            return;
        }
        let Some(pipeline) = pipeline_weak.upgrade() else { return };
        if let Ok(discard) =
            gst::ElementFactory::make("fakesink").property("sync", false).property("async", false).build()
            && pipeline.add(&discard).is_ok()
            && let Some(sinkpad) = discard.static_pad("sink")
        {
            let _ = pad.link(&sinkpad);
            let _ = discard.sync_state_with_parent();
        }
    });
    src.connect_no_more_pads(move |src| {
        let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
        if !seen.iter().any(|m| m == "video") {
            let carried = if seen.is_empty() { "nothing".to_string() } else { seen.join(" and ") };
            gst::element_error!(
                src,
                gst::StreamError::WrongType,
                ("the stream has no video (it carries {carried}): is this address a camera's video stream?")
            );
        }
    });
}

/// How long a live pipeline's teardown may take before it is abandoned.
const TEARDOWN_LIMIT: Duration = Duration::from_secs(3);

impl Drop for VideoSource {
    fn drop(&mut self) {
        if !self.url.is_live() {
            let _ = self.pipeline.set_state(gst::State::Null);
            return;
        }
        // rtspsrc can deadlock in its state change when the server vanished
        // while it was (re)connecting (seen with GStreamer 1.22). A camera
        // worker must never hang on that: tear down on a helper thread and
        // stop waiting after TEARDOWN_LIMIT (the stuck pipeline is leaked).
        let pipeline = self.pipeline.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new().name("gst-teardown".into()).spawn(move || {
            let _ = pipeline.set_state(gst::State::Null);
            let _ = tx.send(());
        });
        if spawned.is_ok() && rx.recv_timeout(TEARDOWN_LIMIT).is_err() {
            tracing::warn!(camera = %self.url.describe(), "camera pipeline teardown is stuck; abandoning it");
        }
    }
}

fn copy_sample(sample: &gst::Sample, into: &mut BgrImage, converter: &mut I420Converter) -> Result<(), SourceError> {
    let caps = sample.caps().ok_or_else(|| SourceError::Gst("sample without caps".into()))?;
    let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| SourceError::Gst(e.to_string()))?;
    if info.format() != gst_video::VideoFormat::I420 {
        return Err(SourceError::Gst(format!("expected I420 frames, got {:?}", info.format())));
    }
    let buffer = sample.buffer().ok_or_else(|| SourceError::Gst("sample without buffer".into()))?;
    let map = buffer.map_readable().map_err(|e| SourceError::Gst(e.to_string()))?;
    // A buffer's own layout, where it carries one, wins over the caps' default.
    let meta = buffer.meta::<gst_video::VideoMeta>();
    let (offsets, strides) = match &meta {
        Some(meta) => (meta.offset(), meta.stride()),
        None => (info.offset(), info.stride()),
    };
    let (Some(&[o0, o1, o2]), Some(&[s0, s1, s2])) = (offsets.get(..3), strides.get(..3)) else {
        return Err(SourceError::Gst("an I420 frame without three planes".into()));
    };
    let frame = I420 {
        width: info.width() as usize,
        height: info.height() as usize,
        data: map.as_slice(),
        offsets: [o0, o1, o2],
        strides: [s0.max(0) as usize, s1.max(0) as usize, s2.max(0) as usize],
        colour: colour_of(caps),
    };
    converter.convert(&frame, into).map_err(|e| SourceError::Gst(e.to_string()))
}

/// The stream's colour as its caps declare it. Untagged streams (no
/// `colorimetry` in the caps) are BT.601 at limited range — what encoders
/// write by default — not the BT.709 GStreamer would assume for HD sizes.
/// Read from the caps' own field: `VideoInfo` replaces what it finds
/// incomplete (a full-range stream with no matrix, `1:0:0:0`) with the
/// defaults for the frame size, losing the range.
fn colour_of(caps: &gst::CapsRef) -> Colour {
    let tag = caps.structure(0).and_then(|s| s.get::<String>("colorimetry").ok());
    let Some(c) = tag.and_then(|t| t.parse::<gst_video::VideoColorimetry>().ok()) else {
        return Colour::default();
    };
    let matrix = match c.matrix() {
        gst_video::VideoColorMatrix::Bt709 => Matrix::Bt709,
        gst_video::VideoColorMatrix::Smpte240m => Matrix::Smpte240m,
        gst_video::VideoColorMatrix::Bt2020 => Matrix::Bt2020,
        _ => Matrix::Bt601,
    };
    let range = match c.range() {
        gst_video::VideoColorRange::Range0_255 => Range::Full,
        _ => Range::Limited,
    };
    Colour { matrix, range }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_classified() {
        assert_eq!(
            SourceUrl::parse("rtsp://127.0.0.1:8554/gate").ok(),
            Some(SourceUrl::Rtsp("rtsp://127.0.0.1:8554/gate".into()))
        );
        assert_eq!(SourceUrl::parse("file:///a/b.mp4").ok(), Some(SourceUrl::File("/a/b.mp4".into())));
        assert_eq!(SourceUrl::parse("fixtures/x/video.mp4").ok(), Some(SourceUrl::File("fixtures/x/video.mp4".into())));
        assert!(matches!(SourceUrl::parse("http://example/x"), Err(SourceError::Unsupported(_))));
        assert!(matches!(SourceUrl::parse(""), Err(SourceError::Unsupported(_))));
    }

    #[test]
    fn malformed_rtsp_addresses_are_refused_with_the_reason() {
        for (url, reason) in [
            ("rtsp://", "no host"),
            ("rtsp:///stream1", "no host"),
            ("rtsp://cam:99999/stream1", "invalid port"),
            ("rtsp://cam:abc/stream1", "invalid port"),
            ("rtsp://cam:0/stream1", "port 0"),
            ("rtsp://cam 1/stream1", "spaces"),
            ("rtsp://[::1/stream1", "invalid IPv6"),
            ("rtsp://admin:secret@cam:70000/x", "invalid port"),
        ] {
            let e = SourceUrl::parse(url).expect_err(url).to_string();
            assert!(e.contains(reason), "{url}: {e}");
            assert!(e.contains("rtsp://[user:password@]host"), "{url}: says how to write it: {e}");
            assert!(!e.contains("secret"), "{url}: credentials not echoed: {e}");
        }
        for url in ["rtsp://10.0.0.7:554/Streaming/Channels/101", "rtsp://u:p@cam.local/live", "rtsps://[::1]:322/x"] {
            assert!(matches!(SourceUrl::parse(url), Ok(SourceUrl::Rtsp(_))), "{url}");
        }
    }

    #[test]
    fn credentials_never_reach_logs() {
        assert_eq!(redact_credentials("rtsp://admin:secret@10.0.0.5/stream"), "rtsp://***@10.0.0.5/stream");
        assert_eq!(redact_credentials("rtsp://10.0.0.5/stream"), "rtsp://10.0.0.5/stream");
    }
}
