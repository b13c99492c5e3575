//! `edge-agent run`: every configured camera in its own worker, the outbox
//! taking every event before anything tries to send it, a sender draining it
//! to the admin API, a sync keeping the gallery current, and the health and
//! metrics endpoints.
//!
//! Cameras share the process-wide ONNX Runtime thread pool; each has its own
//! sessions and tracker, so one camera failing or stalling never blocks
//! another. Only the site's passage rules are shared (occupancy and passback
//! span all gates), behind a lock held for microseconds.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use pipeline::engine::{CameraContext, Engine};
use pipeline::gallery::GalleryStore;
use pipeline::models::Models;
use pipeline::outbox::Outbox;
use pipeline::rules::Rules;
use pipeline::runtime::Threads;

use crate::api::ApiClient;
use crate::camera::{CameraWorker, Shared};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::store::EventStore;
use crate::sync::GalleryCache;

pub fn run(config_path: &Path, drain_limit: Duration) -> Result<()> {
    let config = Config::load(config_path)?;
    let api = ApiClient::new(&config)?;
    let shutdown = Shutdown::on_signals().context("cannot install signal handlers")?;
    std::fs::create_dir_all(&config.agent.data_dir)
        .with_context(|| format!("cannot create data_dir {}", config.agent.data_dir.display()))?;
    let models = Models::locate()?;
    let metrics = Arc::new(Metrics::new());
    let cache =
        GalleryCache::open(GalleryStore::open(&config.agent.data_dir.join("gallery"))?, &models.recogniser.model_id())?;
    tracing::info!(version = cache.store.version()?, "gallery cache opened");
    let outbox = Outbox::open(&config.agent.data_dir.join("outbox"), config.outbox.budget_bytes())?;
    tracing::info!(waiting = outbox.len(), "outbox opened");
    let store = EventStore::new(outbox, Arc::clone(&metrics), &config.agent.id, &config.agent.site);
    if !config.ops.listen.is_empty() {
        let listen = config.ops.listen.parse().context("ops.listen")?;
        let cameras = config.cameras.iter().map(|c| c.id.clone()).collect();
        crate::ops::spawn(listen, Arc::clone(&metrics), cameras, shutdown.clone());
    }
    // One rule state per site: occupancy and passback span all cameras.
    let rules = Mutex::new(Rules::new(config.rules));
    let mut engines = Vec::new();
    for camera in &config.cameras {
        let context = CameraContext { id: camera.id.clone(), line: camera.line };
        engines.push(Engine::new(
            &models,
            context,
            camera.recognition(&config.recognition),
            Arc::clone(&cache.gallery),
            Threads::default(),
        )?);
    }
    std::thread::scope(|scope| -> Result<()> {
        let interval = Duration::from_secs(config.sync.interval_s);
        let sync = {
            let (cache, api, metrics, shutdown) = (&cache, &api, &metrics, &shutdown);
            std::thread::Builder::new()
                .name("gallery-sync".into())
                .spawn_scoped(scope, move || crate::sync::run(cache, api, interval, metrics, shutdown))?
        };
        cache.wait_first_attempt(Duration::from_secs(5));
        let mut workers = Vec::new();
        for (camera, engine) in config.cameras.iter().zip(engines) {
            let shared = Shared {
                config: &config,
                store: &store,
                rules: &rules,
                cache: &cache,
                metrics: &metrics,
                shutdown: &shutdown,
            };
            let worker = CameraWorker::new(camera.clone(), engine, shared);
            workers.push(
                std::thread::Builder::new()
                    .name(format!("camera-{}", camera.id))
                    .spawn_scoped(scope, || worker.run())?,
            );
        }
        let sender = std::thread::Builder::new().name("sender".into()).spawn_scoped(scope, || {
            crate::sender::run(&api, config.admin_api.batch_size, &store, &metrics, &shutdown)
        })?;
        for w in workers {
            let _ = w.join();
        }
        // Every camera ended (recordings) or shutdown was requested. After
        // recordings, keep sending until the outbox is empty (at most
        // `drain_limit`); on a signal, stop at once — the outbox keeps the rest.
        let deadline = Instant::now() + drain_limit;
        let drained = || store.outbox.is_empty() && store.held() == 0;
        while !shutdown.requested() && !drained() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        shutdown.request();
        let _ = sender.join();
        let _ = sync.join();
        Ok(())
    })?;
    store.persist_held_at_exit();
    tracing::info!(waiting = store.outbox.len(), "edge agent stopped; unsent events stay in the outbox");
    Ok(())
}
