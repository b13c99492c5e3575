//! What the agent tells Prometheus (`/metrics`) and a load balancer or
//! systemd watchdog (`/healthz`): per camera frames, fps, dropped frames,
//! link state and stage latency; outbox backlog and age; gallery version and
//! last sync; events and anomalies.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CameraLabel {
    pub camera: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~1 s, seconds.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.001, 2.0, 11))
}

type LatencyFamily = Family<CameraLabel, Histogram, fn() -> Histogram>;

pub struct Metrics {
    pub registry: Registry,
    pub frames: Family<CameraLabel, Counter>,
    pub dropped_frames: Family<CameraLabel, Counter>,
    pub fps: Family<CameraLabel, Gauge<f64, AtomicU64>>,
    pub camera_up: Family<CameraLabel, Gauge>,
    pub detect_seconds: LatencyFamily,
    pub embed_seconds: LatencyFamily,
    pub passages: Family<CameraLabel, Counter>,
    pub anomalies: Family<KindLabel, Counter>,
    pub outbox_backlog: Gauge,
    pub outbox_oldest_age_seconds: Gauge<f64, AtomicU64>,
    pub outbox_bytes: Gauge,
    pub outbox_refused: Counter,
    pub events_lost: Counter,
    pub events_delivered: Counter,
    pub events_quarantined: Counter,
    pub gallery_version: Gauge,
    pub gallery_people: Gauge,
    pub gallery_last_sync_timestamp_seconds: Gauge,
    pub gallery_sync_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::with_prefix("gatewatch_agent"),
            frames: Family::default(),
            dropped_frames: Family::default(),
            fps: Family::default(),
            camera_up: Family::default(),
            detect_seconds: Family::new_with_constructor(latency_histogram),
            embed_seconds: Family::new_with_constructor(latency_histogram),
            passages: Family::default(),
            anomalies: Family::default(),
            outbox_backlog: Gauge::default(),
            outbox_oldest_age_seconds: Gauge::default(),
            outbox_bytes: Gauge::default(),
            outbox_refused: Counter::default(),
            events_lost: Counter::default(),
            events_delivered: Counter::default(),
            events_quarantined: Counter::default(),
            gallery_version: Gauge::default(),
            gallery_people: Gauge::default(),
            gallery_last_sync_timestamp_seconds: Gauge::default(),
            gallery_sync_failures: Counter::default(),
        };
        let r = &mut m.registry;
        r.register("camera_frames", "Frames recognised per camera", m.frames.clone());
        r.register(
            "camera_dropped_frames",
            "Frames the camera sent that recognition could not keep up with",
            m.dropped_frames.clone(),
        );
        r.register("camera_fps", "Frames recognised per second, last 5 s", m.fps.clone());
        r.register("camera_up", "1 while frames arrive from the camera", m.camera_up.clone());
        r.register("detect_seconds", "Face detection time per frame", m.detect_seconds.clone());
        r.register("embed_seconds", "Face embedding (recogniser) time per face", m.embed_seconds.clone());
        r.register("passages", "Passages recognised per camera", m.passages.clone());
        r.register("anomalies", "Anomalies raised, by kind", m.anomalies.clone());
        r.register("outbox_backlog_events", "Events waiting in the outbox", m.outbox_backlog.clone());
        r.register("outbox_oldest_age_seconds", "Age of the oldest waiting event", m.outbox_oldest_age_seconds.clone());
        r.register("outbox_disk_bytes", "Disk used by the outbox", m.outbox_bytes.clone());
        r.register(
            "outbox_refused",
            "Events the full outbox could not take (held in memory)",
            m.outbox_refused.clone(),
        );
        r.register(
            "events_lost",
            "Events lost: the outbox and its memory overflow were both full",
            m.events_lost.clone(),
        );
        r.register("events_delivered", "Events acknowledged by the admin API", m.events_delivered.clone());
        r.register(
            "events_quarantined",
            "Events the admin API refused for good, set aside in the outbox's quarantine",
            m.events_quarantined.clone(),
        );
        r.register("gallery_version", "Gallery version held", m.gallery_version.clone());
        r.register("gallery_people", "People searchable in the gallery", m.gallery_people.clone());
        r.register(
            "gallery_last_sync_timestamp_seconds",
            "Unix time of the last successful sync",
            m.gallery_last_sync_timestamp_seconds.clone(),
        );
        r.register("gallery_sync_failures", "Failed gallery syncs", m.gallery_sync_failures.clone());
        m
    }

    pub fn camera(camera: &str) -> CameraLabel {
        CameraLabel { camera: camera.to_string() }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
