//! One camera's worker: frames in, events out.
//!
//! Per frame: the tamper watch (black/flat or frozen picture), recognition,
//! the loitering watch; per passage: verification (cameras in `verify` mode),
//! the site's passage rules, then the outbox. Between frames: the link
//! watchdog's verdict becomes a `camera_offline` anomaly once the camera has
//! been down for `health.offline_after_ms`. Nothing here waits on the
//! network; a camera that fails only stops itself.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use pipeline::engine::Engine;
use pipeline::fleet::CameraState;
use pipeline::rules::tamper::TamperWatch;
use pipeline::rules::{LoiterWatch, PassageFacts, Rules};
use pipeline::tracking::passage::{Emitted, Passage, Sighting};
use pipeline::vision::frame::BgrImage;
use pipeline::vision::live::{Feed, FeedEvent, LinkState};
use pipeline::vision::source::{SourceOptions, SourceUrl};
use wire::events::{AnomalyEvent, AnomalyKind, Event, EventBody, PassageEvent, Verification, VerificationOutcome};
use wire::time::now_ms;

use crate::config::{CameraMode, CameraSection, Config};
use crate::fleet::Board;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::store::EventStore;
use crate::sync::GalleryCache;

/// Everything a camera worker shares with the rest of the agent.
pub struct Shared<'a> {
    pub config: &'a Config,
    pub store: &'a EventStore,
    pub rules: &'a Mutex<Rules>,
    pub cache: &'a GalleryCache,
    pub metrics: &'a Metrics,
    pub board: &'a Board,
    pub shutdown: &'a Shutdown,
}

pub struct CameraWorker<'a> {
    camera: CameraSection,
    shared: Shared<'a>,
    engine: Engine,
    label: crate::metrics::CameraLabel,
    /// Stops this camera alone (its configuration changed or it was removed).
    stop: Shutdown,
    arrivals: Arrivals,
    /// Alerts raised ahead of a passage, by the passage id they announced:
    /// the passage, when it comes, does not raise them a second time.
    alerted_early: HashMap<String, (Vec<AnomalyKind>, Instant)>,
    /// The people alerted on ahead of a passage lately, by which track and
    /// when: two tracks following one face must not alert twice.
    recently_alerted: Vec<(String, u64, Instant)>,
}

/// How soon after an early alert on a person another track naming them at
/// the same camera is taken for the same face (two tracks on one face name
/// it within a few frames of each other; the same person back through the
/// gate takes seconds).
const SAME_FACE_WINDOW: Duration = Duration::from_secs(2);

/// When recent frames entered the agent, by stream time: an alert raised
/// ahead of a crossing is stamped with the arrival of the frame from which
/// the face was recognisable (what a guard's wait counts from).
#[derive(Default)]
struct Arrivals(VecDeque<(Duration, i64)>);

impl Arrivals {
    /// Frames remembered: 20 s at 25 fps, longer than any track takes to be named.
    const KEEP: usize = 500;

    fn record(&mut self, ts: Duration, arrived_ms: i64) {
        if self.0.len() == Self::KEEP {
            self.0.pop_front();
        }
        self.0.push_back((ts, arrived_ms));
    }

    /// The arrival of the frame at stream time `ts` (the first frame after
    /// it if that one is gone), or None when it is older than remembered.
    fn of(&self, ts: Duration) -> Option<i64> {
        let i = self.0.partition_point(|(t, _)| *t < ts);
        if i == 0 && self.0.front().is_some_and(|(t, _)| *t > ts) {
            return None;
        }
        self.0.get(i).map(|(_, ms)| *ms)
    }
}

/// What a camera's loop keeps from one frame to the next, besides the engine.
struct LoopState {
    frame: BgrImage,
    out: Emitted,
    tamper: TamperWatch,
    loiter: LoiterWatch,
    offline_after: Duration,
    /// When the current outage began, once it was reported.
    offline_reported: Option<Instant>,
    /// Stream time: a recording's own timestamps, a live camera's arrival
    /// time. Passage times (and time-based rules) are `start_ms` plus it.
    started: Instant,
    start_ms: i64,
    rates: Rates,
}

impl LoopState {
    fn new(config: &crate::config::Config) -> LoopState {
        LoopState {
            frame: BgrImage::default(),
            out: Emitted::default(),
            tamper: TamperWatch::new(config.health.tamper),
            loiter: LoiterWatch::new(Duration::from_millis(config.rules.loitering_after_ms)),
            offline_after: Duration::from_millis(config.health.offline_after_ms),
            offline_reported: None,
            started: Instant::now(),
            start_ms: now_ms(),
            rates: Rates { window: Instant::now(), frames: 0, dropped_seen: 0 },
        }
    }
}

/// Frames counted since `window` began, and the drops already reported.
struct Rates {
    window: Instant,
    frames: u64,
    dropped_seen: u64,
}

/// Whether the loop goes on after a feed event.
enum Step {
    Continue,
    Stop,
}

/// How long an early alert waits for the passage it announced.
const EARLY_ALERT_KEEP: Duration = Duration::from_secs(600);

impl<'a> CameraWorker<'a> {
    pub fn new(camera: CameraSection, engine: Engine, shared: Shared<'a>, stop: Shutdown) -> CameraWorker<'a> {
        let label = Metrics::camera(&camera.id);
        CameraWorker {
            camera,
            shared,
            engine,
            label,
            stop,
            arrivals: Arrivals::default(),
            alerted_early: HashMap::new(),
            recently_alerted: Vec::new(),
        }
    }

    fn state(&self, state: CameraState, reason: Option<String>) {
        let reason = reason.map(|r| pipeline::fleet::scrub(&r, &self.camera.url));
        self.shared.board.set_state(&self.camera.id, state, reason);
    }

    fn stopping(&self) -> bool {
        self.shared.shutdown.requested() || self.stop.requested()
    }

    fn anomaly(&self, kind: AnomalyKind, detail: String) {
        // An error may quote the camera's URL, and so its password.
        let detail = pipeline::fleet::scrub(&detail, &self.camera.url);
        tracing::warn!(camera = %self.camera.id, kind = ?kind, "{detail}");
        let body = EventBody::Anomaly(AnomalyEvent::new(kind, detail));
        let s = &self.shared;
        s.store.store(Event::new(s.store.agent(), s.store.site(), &self.camera.id, body));
    }

    /// Frames in, events out, until the stream ends or the agent stops.
    pub fn run(mut self) {
        let Some(mut feed) = self.open_feed() else { return };
        let mut state = LoopState::new(self.shared.config);
        while !self.stopping() {
            let event = feed.next(&mut state.frame, Duration::from_millis(500));
            // Events are stamped with the time the frame that produced them
            // entered the agent: what an alert's end-to-end latency counts from.
            let frame_arrived_ms = now_ms();
            if let Step::Stop = self.step(event, &feed, &mut state, frame_arrived_ms) {
                break;
            }
            self.store(state.start_ms, frame_arrived_ms, &mut state.out);
            self.report_rates(&feed, &mut state.rates);
        }
        // End of stream or shutdown: tracks that crossed become events now.
        self.engine.flush(&mut state.out);
        self.store(state.start_ms, now_ms(), &mut state.out);
        self.shared.metrics.camera_up.get_or_create(&self.label).set(0);
    }

    /// The camera's stream; `None` (said, and the camera marked stopped) when
    /// its address is wrong or it cannot be opened.
    fn open_feed(&mut self) -> Option<Feed> {
        let url = match SourceUrl::parse(&self.camera.url) {
            Ok(u) => u,
            Err(e) => {
                tracing::error!(camera = %self.camera.id, error = %e, "camera not started");
                self.state(CameraState::Stopped, Some(e.to_string()));
                return None;
            }
        };
        match Feed::open(&url, SourceOptions::default(), self.shared.config.live) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::error!(camera = %self.camera.id, error = %e, "camera not started");
                self.anomaly(AnomalyKind::CameraOffline, format!("camera {} cannot be opened: {e}", self.camera.id));
                self.state(CameraState::Stopped, Some(e.to_string()));
                None
            }
        }
    }

    /// One event of the feed: a frame through the engine and the camera's
    /// watches, a silence that may be an outage, or the end.
    fn step(&mut self, event: FeedEvent, feed: &Feed, state: &mut LoopState, frame_arrived_ms: i64) -> Step {
        match event {
            FeedEvent::Frame { pts } => {
                let ts = pts.unwrap_or_else(|| state.started.elapsed());
                self.on_frame(state, ts, frame_arrived_ms);
                Step::Continue
            }
            FeedEvent::NoFrame => {
                self.on_silence(feed, state);
                Step::Continue
            }
            FeedEvent::Ended => {
                self.state(CameraState::Stopped, Some("the recording ended".into()));
                Step::Stop
            }
            FeedEvent::Failed(e) => {
                tracing::error!(camera = %self.camera.id, error = %e, "video source failed");
                self.state(CameraState::Stopped, Some(e.to_string()));
                Step::Stop
            }
        }
    }

    /// A frame: back online if it was down, tamper check, snapshot if asked,
    /// recognition, loitering.
    fn on_frame(&mut self, state: &mut LoopState, ts: Duration, frame_arrived_ms: i64) {
        let frame = &state.frame;
        if let Some(since) = state.offline_reported.take() {
            tracing::info!(camera = %self.camera.id, down_s = since.elapsed().as_secs(), "camera back online");
        }
        if let Some(t) = state.tamper.observe(frame, ts) {
            self.anomaly(AnomalyKind::CameraTampered, format!("camera {}: {}", self.camera.id, t.describe()));
        }
        match state.tamper.current() {
            Some(t) => self.state(CameraState::Tampered, Some(t.describe().to_string())),
            None => self.state(CameraState::Up, None),
        }
        if self.shared.board.snapshot_wanted(&self.camera.id) {
            match frame.to_jpeg(80) {
                Ok(jpeg) => self.shared.board.put_snapshot(&self.camera.id, jpeg),
                Err(e) => tracing::error!(camera = %self.camera.id, error = %e, "snapshot not encoded"),
            }
        }
        if let Err(e) = self.engine.process(frame, ts, &mut state.out) {
            tracing::error!(camera = %self.camera.id, error = %e, "recognition failed on a frame");
        }
        // In the engine's time, which sightings are stamped in.
        self.arrivals.record(self.engine.stream_time(), frame_arrived_ms);
        for (_, stayed) in state.loiter.observe(&self.engine.live_tracks()) {
            self.anomaly(
                AnomalyKind::Loitering,
                format!(
                    "a person has stayed in view of camera {} for {} s without passing",
                    self.camera.id,
                    stayed.as_secs()
                ),
            );
        }
        self.record_frame();
        state.rates.frames += 1;
    }

    /// No frame in a while: once the link has been down `offline_after`, one
    /// `camera_offline` anomaly per outage.
    fn on_silence(&mut self, feed: &Feed, state: &mut LoopState) {
        if let Some(LinkState::Down { since, reason }) = feed.state()
            && since.elapsed() >= state.offline_after
            && state.offline_reported.is_none()
        {
            state.offline_reported = Some(*since);
            self.shared.metrics.camera_up.get_or_create(&self.label).set(0);
            let detail =
                format!("camera {} has been offline for {} s: {reason}", self.camera.id, since.elapsed().as_secs());
            self.anomaly(AnomalyKind::CameraOffline, detail);
            self.state(CameraState::Down, Some(reason.to_string()));
        }
    }

    /// Every 5 s: frames per second, up or not, frames dropped.
    fn report_rates(&self, feed: &Feed, rates: &mut Rates) {
        let elapsed = rates.window.elapsed();
        if elapsed < Duration::from_secs(5) {
            return;
        }
        let m = self.shared.metrics;
        let fps = rates.frames as f64 / elapsed.as_secs_f64();
        m.fps.get_or_create(&self.label).set(fps);
        m.camera_up.get_or_create(&self.label).set(i64::from(rates.frames > 0));
        let dropped = feed.dropped();
        m.dropped_frames.get_or_create(&self.label).inc_by(dropped.saturating_sub(rates.dropped_seen));
        rates.dropped_seen = rates.dropped_seen.max(dropped);
        self.shared.board.set_rates(&self.camera.id, fps, rates.dropped_seen);
        (rates.window, rates.frames) = (Instant::now(), 0);
    }

    fn record_frame(&mut self) {
        let m = self.shared.metrics;
        m.frames.get_or_create(&self.label).inc();
        let t = &mut self.engine.timings;
        for ms in &t.detect {
            m.detect_seconds.get_or_create(&self.label).observe(*ms as f64 / 1000.0);
        }
        for ms in &t.embed {
            m.embed_seconds.get_or_create(&self.label).observe(*ms as f64 / 1000.0);
        }
        t.clear();
    }

    /// Verification mode: compare the passer-by with the expected person only.
    fn verify(&self, p: &Passage) -> Verification {
        let expected = self.shared.cache.expectations.read().ok().and_then(|e| e.cameras.get(&self.camera.id).cloned());
        let Some(person) = expected else {
            return Verification {
                expected_person: None,
                outcome: VerificationOutcome::NoExpectation,
                similarity: None,
            };
        };
        let gallery = match self.shared.cache.gallery.read() {
            Ok(g) => std::sync::Arc::clone(&g),
            Err(poisoned) => std::sync::Arc::clone(&poisoned.into_inner()),
        };
        let Some(index) = gallery.find(&person) else {
            tracing::warn!(camera = %self.camera.id, %person, "the expected person is not in this edge's gallery");
            return Verification {
                expected_person: Some(person),
                outcome: VerificationOutcome::NoExpectation,
                similarity: None,
            };
        };
        let similarity = p.probe.as_ref().map(|probe| gallery.similarity_to(index, probe));
        let threshold = self.shared.config.recognition.identity.threshold;
        let outcome = if similarity.is_some_and(|s| s >= threshold) {
            VerificationOutcome::Verified
        } else {
            VerificationOutcome::Failed
        };
        Verification { expected_person: Some(person), outcome, similarity }
    }

    fn store(&mut self, start_ms: i64, frame_arrived_ms: i64, out: &mut Emitted) {
        for sighting in out.sightings.drain(..) {
            self.alert_early(sighting, frame_arrived_ms);
        }
        self.store_passages(start_ms, frame_arrived_ms, &mut out.passages);
    }

    /// Raises the alerts an identity decided ahead of its crossing calls
    /// for. Not at a verify-mode gate: there a face is compared with the
    /// expected person only, never searched in everyone.
    fn alert_early(&mut self, sighting: Sighting, frame_arrived_ms: i64) {
        if self.camera.mode == CameraMode::Verify {
            return;
        }
        let s = &self.shared;
        let raised = match s.rules.lock() {
            Ok(r) => r.on_sighting(&self.camera.id, self.camera.restricted, &sighting.identity),
            Err(poisoned) => {
                poisoned.into_inner().on_sighting(&self.camera.id, self.camera.restricted, &sighting.identity)
            }
        };
        if raised.is_empty() {
            return;
        }
        let kinds: Vec<AnomalyKind> = raised.iter().map(|a| a.kind).collect();
        self.alerted_early.retain(|_, (_, at)| at.elapsed() < EARLY_ALERT_KEEP);
        // The passage this sighting announced does not raise these again,
        // whether this track or the other one alerted on the face.
        self.alerted_early.insert(sighting.passage_id.clone(), (kinds, Instant::now()));
        self.recently_alerted.retain(|(_, _, at)| at.elapsed() < SAME_FACE_WINDOW);
        if let Some(person) = sighting.identity.person_id() {
            if self.recently_alerted.iter().any(|(p, track, _)| p == person && *track != sighting.track) {
                tracing::debug!(camera = %self.camera.id, track = sighting.track, person, "already alerted on");
                return;
            }
            self.recently_alerted.push((person.to_string(), sighting.track, Instant::now()));
        }
        // The frame from which the person was recognisable: the last face
        // the decision needed (the faces before it did not suffice).
        let recognisable_ms = self.arrivals.of(sighting.last_face_at).unwrap_or(frame_arrived_ms);
        let face = sighting.face_jpeg.as_ref().map(|j| base64::engine::general_purpose::STANDARD.encode(j));
        for mut a in raised {
            a.passage_id = Some(sighting.passage_id.clone());
            a.face_jpeg_b64 = face.clone();
            a.similarity = sighting.identity.similarity();
            tracing::warn!(camera = %self.camera.id, kind = ?a.kind, track = sighting.track,
                waited_ms = frame_arrived_ms - recognisable_ms, "{}", a.detail);
            let mut alert = Event::new(s.store.agent(), s.store.site(), &self.camera.id, EventBody::Anomaly(a));
            alert.created_ms = recognisable_ms;
            s.store.store(alert);
        }
    }

    fn store_passages(&mut self, start_ms: i64, frame_arrived_ms: i64, passages: &mut Vec<Passage>) {
        let s = &self.shared;
        for p in passages.drain(..) {
            let crossed_at_ms = start_ms + p.crossed_at.as_millis() as i64;
            let verification = (self.camera.mode == CameraMode::Verify).then(|| self.verify(&p));
            // In verify mode the passage names only the expected person, and
            // only when verified: a 1:1 check, not a search of everyone.
            let (person_id, similarity) = match &verification {
                Some(v) if v.outcome == VerificationOutcome::Verified => (v.expected_person.clone(), v.similarity),
                Some(v) => (None, v.similarity),
                None => (p.identity.person_id().map(str::to_string), p.identity.similarity()),
            };
            let failed = verification.as_ref().filter(|v| v.outcome == VerificationOutcome::Failed).cloned();
            let mut event = Event::with_id(
                p.id.clone(),
                s.store.agent(),
                s.store.site(),
                &p.camera,
                EventBody::Passage(PassageEvent {
                    direction: p.direction,
                    person_id,
                    similarity,
                    track: p.track,
                    crossed_at_ms,
                    face_quality: p.face_quality,
                    verification,
                    face_jpeg_b64: p.face_jpeg.as_ref().map(|j| base64::engine::general_purpose::STANDARD.encode(j)),
                }),
            );
            event.created_ms = frame_arrived_ms;
            let id = event.id.clone();
            s.store.store(event);
            s.metrics.passages.get_or_create(&self.label).inc();
            tracing::info!(event = %id, camera = %p.camera, direction = p.direction.as_str(),
                person = p.identity.person_id().unwrap_or("unknown"), "passage");
            let mut anomalies = Vec::new();
            if let Some(v) = failed {
                anomalies.push(AnomalyEvent {
                    kind: AnomalyKind::VerificationFailed,
                    detail: format!(
                        "the person at camera {} is not the expected {} (similarity {})",
                        self.camera.id,
                        v.expected_person.as_deref().unwrap_or("?"),
                        v.similarity.map(|x| format!("{x:.2}")).unwrap_or_else(|| "—: no usable face".into())
                    ),
                    person_id: v.expected_person,
                    passage_id: None,
                    face_jpeg_b64: None,
                    similarity: None,
                });
            }
            let facts = PassageFacts {
                camera: &p.camera,
                restricted: self.camera.restricted,
                direction: p.direction,
                identity: &p.identity,
                at_ms: crossed_at_ms,
                schedule: self.camera.schedule.as_ref(),
            };
            anomalies.extend(s.rules.lock().unwrap_or_else(std::sync::PoisonError::into_inner).on_passage(&facts));
            // What an early alert said already is not said again.
            if let Some((said, _)) = self.alerted_early.remove(&id) {
                anomalies.retain(|a| !said.contains(&a.kind));
            }
            for mut a in anomalies {
                a.passage_id = Some(id.clone());
                tracing::warn!(camera = %p.camera, kind = ?a.kind, "{}", a.detail);
                let mut alert = Event::new(s.store.agent(), s.store.site(), &p.camera, EventBody::Anomaly(a));
                alert.created_ms = frame_arrived_ms;
                s.store.store(alert);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_early_alert_is_stamped_with_the_arrival_of_the_frame_it_was_recognised_on() {
        let mut a = Arrivals::default();
        let ms = Duration::from_millis;
        for i in 0..10u64 {
            a.record(ms(1000 + 40 * i), 5_000 + 41 * i as i64);
        }
        assert_eq!(a.of(ms(1080)), Some(5_082), "the frame itself");
        assert_eq!(a.of(ms(1090)), Some(5_123), "gone: the next frame after it");
        assert_eq!(a.of(ms(999)), None, "older than remembered");
        assert_eq!(a.of(ms(2000)), None, "not yet arrived");
        for i in 0..Arrivals::KEEP as u64 {
            a.record(ms(10_000 + i), 9_000 + i as i64);
        }
        assert_eq!(a.0.len(), Arrivals::KEEP, "bounded");
        assert_eq!(a.of(ms(1080)), None, "forgotten");
    }
}
