//! `edge-agent run`: every configured camera, recognised in its own worker,
//! every passage written durably to the outbox, a sender draining the outbox
//! to the admin API.
//!
//! Cameras share the process-wide ONNX Runtime thread pool; each has its own
//! sessions and tracker, so one camera failing or stalling never blocks
//! another. Events are in the outbox before anything tries to send them.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use base64::Engine as _;
use pipeline::engine::{CameraContext, Engine};
use pipeline::events::{Event, EventBody, PassageEvent, now_ms};
use pipeline::frame::BgrImage;
use pipeline::gallery::{GalleryStore, SharedGallery};
use pipeline::live::{Feed, FeedEvent};
use pipeline::models::Models;
use pipeline::outbox::Outbox;
use pipeline::passage::Passage;
use pipeline::rules::{PassageFacts, Rules};
use pipeline::runtime::Threads;
use pipeline::source::{SourceOptions, SourceUrl};

use crate::config::{CameraSection, Config};
use crate::shutdown::Shutdown;

pub fn run(config_path: &Path, drain_limit: Duration) -> Result<()> {
    let config = Config::load(config_path)?;
    let shutdown = Shutdown::on_signals().context("cannot install signal handlers")?;
    std::fs::create_dir_all(&config.agent.data_dir)
        .with_context(|| format!("cannot create data_dir {}", config.agent.data_dir.display()))?;
    let models = Models::locate()?;
    let store = GalleryStore::open(&config.agent.data_dir.join("gallery"))?;
    let gallery = store.load(&models.recogniser.model_id(), now_ms() / 1000)?;
    tracing::info!(people = gallery.len(), version = gallery.version(), "gallery loaded from the local cache");
    let gallery: SharedGallery = Arc::new(RwLock::new(Arc::new(gallery)));
    let outbox = Arc::new(Outbox::open(&config.agent.data_dir.join("outbox"), config.outbox.budget_mb << 20)?);
    tracing::info!(waiting = outbox.len(), "outbox opened");

    // One rule state per site: occupancy and passback span all cameras.
    let rules = Arc::new(Mutex::new(Rules::new(config.rules)));
    let mut workers = Vec::new();
    for camera in &config.cameras {
        let engine = Engine::new(
            &models,
            CameraContext { id: camera.id.clone(), line: camera.line },
            config.recognition,
            Arc::clone(&gallery),
            Threads::default(),
        )?;
        let (cam, cfg, ob, stop) = (camera.clone(), config.clone(), Arc::clone(&outbox), shutdown.clone());
        let rules = Arc::clone(&rules);
        workers.push(
            std::thread::Builder::new()
                .name(format!("camera-{}", camera.id))
                .spawn(move || camera_worker(cam, &cfg, engine, &ob, &rules, &stop))?,
        );
    }
    let sender = {
        let (cfg, ob, stop) = (config.clone(), Arc::clone(&outbox), shutdown.clone());
        std::thread::Builder::new().name("sender".into()).spawn(move || crate::sender::run(&cfg, &ob, &stop))?
    };
    for w in workers {
        let _ = w.join();
    }
    // Every camera ended (recordings) or shutdown was requested. After
    // recordings, keep sending until the outbox is empty (at most
    // `drain_limit`); on a signal, stop at once — the outbox keeps the rest.
    let deadline = Instant::now() + drain_limit;
    while !shutdown.requested() && !outbox.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    shutdown.request();
    let _ = sender.join();
    tracing::info!(waiting = outbox.len(), "edge agent stopped; unsent events stay in the outbox");
    Ok(())
}

fn camera_worker(
    camera: CameraSection,
    config: &Config,
    mut engine: Engine,
    outbox: &Outbox,
    rules: &Mutex<Rules>,
    shutdown: &Shutdown,
) {
    let url = match SourceUrl::parse(&camera.url) {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(camera = %camera.id, error = %e, "camera not started");
            return;
        }
    };
    let mut feed = match Feed::open(&url, SourceOptions::default(), config.live) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(camera = %camera.id, error = %e, "camera not started");
            return;
        }
    };
    // Stream time: a recording's own timestamps, a live camera's arrival
    // time. Passage times (and time-based rules) are `start_ms` plus it.
    let started = Instant::now();
    let start_ms = now_ms();
    let mut frame = BgrImage::default();
    let mut passages: Vec<Passage> = Vec::new();
    while !shutdown.requested() {
        match feed.next(&mut frame, Duration::from_millis(500)) {
            FeedEvent::Frame { pts } => {
                let ts = pts.unwrap_or_else(|| started.elapsed());
                if let Err(e) = engine.process(&frame, ts, &mut passages) {
                    tracing::error!(camera = %camera.id, error = %e, "recognition failed on a frame");
                }
            }
            FeedEvent::NoFrame => {}
            FeedEvent::Ended => break,
            FeedEvent::Failed(e) => {
                tracing::error!(camera = %camera.id, error = %e, "video source failed");
                break;
            }
        }
        store_passages(config, &camera, start_ms, &mut passages, outbox, rules);
    }
    // End of stream or shutdown: tracks that crossed become events now.
    engine.flush(&mut passages);
    store_passages(config, &camera, start_ms, &mut passages, outbox, rules);
}

fn store_passages(
    config: &Config,
    camera: &CameraSection,
    start_ms: i64,
    passages: &mut Vec<Passage>,
    outbox: &Outbox,
    rules: &Mutex<Rules>,
) {
    for p in passages.drain(..) {
        let crossed_at_ms = start_ms + p.crossed_at.as_millis() as i64;
        let event = Event::new(
            &config.agent.id,
            &config.agent.site,
            &p.camera,
            EventBody::Passage(PassageEvent {
                direction: p.direction,
                person_id: p.identity.person_id().map(str::to_string),
                similarity: p.identity.similarity(),
                track: p.track,
                crossed_at_ms,
                face_quality: p.face_quality,
                face_jpeg_b64: p.face_jpeg.as_ref().map(|j| base64::engine::general_purpose::STANDARD.encode(j)),
            }),
        );
        push(outbox, &event);
        tracing::info!(event = %event.id, camera = %p.camera, direction = p.direction.as_str(),
            person = p.identity.person_id().unwrap_or("unknown"), "passage");
        let facts = PassageFacts {
            camera: &p.camera,
            restricted: camera.restricted,
            direction: p.direction,
            identity: &p.identity,
            at_ms: crossed_at_ms,
        };
        let anomalies = match rules.lock() {
            Ok(mut r) => r.on_passage(&facts),
            Err(poisoned) => poisoned.into_inner().on_passage(&facts),
        };
        for mut a in anomalies {
            a.passage_id = Some(event.id.clone());
            tracing::warn!(camera = %p.camera, kind = ?a.kind, "{}", a.detail);
            push(outbox, &Event::new(&config.agent.id, &config.agent.site, &p.camera, EventBody::Anomaly(a)));
        }
    }
}

fn push(outbox: &Outbox, event: &Event) {
    if let Err(e) = outbox.push(event) {
        tracing::error!(error = %e, event = %event.id, "EVENT NOT STORED: the outbox refused it");
    }
}
