//! `edge-agent run`: every configured camera in its own worker, the outbox
//! taking every event before anything tries to send it, a sender draining it
//! to the admin API, a sync keeping the gallery current, and the health and
//! metrics endpoints.
//!
//! Cameras share the process-wide ONNX Runtime thread pool and one session
//! per model, taken in turn (FIFO-fair, see `pipeline::vision::runtime::SharedSession`);
//! each has its own decoder, buffers and tracker, so a camera that fails or
//! waits for its stream never holds another up. Of the decisions, only the
//! site's passage rules are shared (occupancy and passback span all gates),
//! behind a lock held for microseconds.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::outbox::Outbox;
use anyhow::{Context, Result};
use pipeline::engine::{CameraContext, Engine};
use pipeline::gallery::GalleryStore;
use pipeline::rules::Rules;
use pipeline::vision::models::Sessions;
use pipeline::vision::runtime::Threads;

use crate::api::ApiClient;
use crate::camera::{CameraWorker, Shared};
use crate::config::{CameraSection, Config};
use crate::fleet::{Board, CentralCameras, Heartbeats};
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
    let models = config.agent.models()?;
    let sessions = Sessions::load(&models, Threads::default())?;
    let metrics = Arc::new(Metrics::new());
    let cache =
        GalleryCache::open(GalleryStore::open(&config.agent.data_dir.join("gallery"))?, &models.recogniser.model_id())?;
    tracing::info!(version = cache.store.version()?, "gallery cache opened");
    let outbox = Outbox::open(&config.agent.data_dir.join("outbox"), config.outbox.budget_bytes())?;
    tracing::info!(waiting = outbox.len(), "outbox opened");
    let store = EventStore::new(outbox, Arc::clone(&metrics), &config.agent.id, &config.agent.site);
    let board = Arc::new(Board::default());
    if !config.ops.listen.is_empty() {
        let listen = config.ops.listen.parse().context("ops.listen")?;
        crate::ops::spawn(listen, Arc::clone(&metrics), Arc::clone(&board), shutdown.clone());
    }
    // One rule state per site: occupancy and passback span all cameras.
    let rules = Mutex::new(Rules::new(config.rules));
    let central = CentralCameras::open(&config.agent.data_dir, &config.recognition);
    if config.cameras.is_empty() && central.version() == 0 {
        tracing::warn!("no [[camera]] in the file and no camera set from the admin API yet: waiting for one");
    }
    std::thread::scope(|scope| -> Result<()> {
        let interval = Duration::from_secs(config.sync.interval_s);
        let sync = {
            let (cache, api, metrics, shutdown) = (&cache, &api, &metrics, &shutdown);
            std::thread::Builder::new()
                .name("gallery-sync".into())
                .spawn_scoped(scope, move || crate::sync::run(cache, api, interval, metrics, shutdown))?
        };
        let heartbeats = Heartbeats {
            api: &api,
            board: &board,
            central: &central,
            store: &store,
            cache: &cache,
            recognition: &config.recognition,
            data_dir: &config.agent.data_dir,
            interval: Duration::from_millis(config.heartbeat.interval_ms),
            shutdown: &shutdown,
            refused: Mutex::new(None),
        };
        let heartbeat =
            std::thread::Builder::new().name("heartbeat".into()).spawn_scoped(scope, move || heartbeats.run())?;
        cache.wait_first_attempt(Duration::from_secs(5));
        let sender = std::thread::Builder::new().name("sender".into()).spawn_scoped(scope, || {
            crate::sender::run(&api, config.admin_api.batch_size, &store, &metrics, &shutdown)
        })?;
        let shared = || Shared {
            config: &config,
            store: &store,
            rules: &rules,
            cache: &cache,
            metrics: &metrics,
            board: &board,
            shutdown: &shutdown,
        };
        let mut cameras = Supervisor::default();
        let mut seen_generation = None;
        // Reconcile the workers with the cameras wanted whenever the camera
        // set changes; otherwise watch for every camera having ended.
        while !shutdown.requested() {
            let generation = central.generation();
            if seen_generation != Some(generation) {
                seen_generation = Some(generation);
                let wanted = central.desired(&config.cameras);
                cameras.stop_all_but(&wanted);
                // Listed before they start: a camera failing at once reports
                // its own state, which this must not overwrite.
                board.set_running(&wanted);
                let new: Vec<&CameraSection> = wanted.iter().filter(|c| !cameras.runs(&c.id)).collect();
                for camera in new {
                    let context = CameraContext { id: camera.id.clone(), line: camera.line };
                    let engine = match Engine::with_sessions(
                        &sessions,
                        context,
                        camera.recognition(&config.recognition),
                        Arc::clone(&cache.gallery),
                    ) {
                        Ok(e) => e,
                        Err(e) => {
                            tracing::error!(camera = %camera.id, error = %e, "camera not started");
                            continue;
                        }
                    };
                    let stop = Shutdown::default();
                    let worker = CameraWorker::new(camera.clone(), engine, shared(), stop.clone());
                    let handle = std::thread::Builder::new()
                        .name(format!("camera-{}", camera.id))
                        .spawn_scoped(scope, || worker.run())?;
                    cameras.started(camera.clone(), stop, handle);
                }
                tracing::info!(cameras = wanted.len(), config_version = central.version(), "cameras running");
            }
            // Recordings that ended: after every camera of the file ended,
            // drain and stop. Cameras set centrally never stop the agent (a
            // bad set must not take the heartbeat that fixes it down with it).
            if central.version() == 0 && cameras.all_ended() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        cameras.stop_all_but(&[]);
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
        let _ = heartbeat.join();
        Ok(())
    })?;
    store.persist_held_at_exit();
    tracing::info!(waiting = store.outbox.len(), "edge agent stopped; unsent events stay in the outbox");
    Ok(())
}

struct Running<'scope> {
    spec: CameraSection,
    stop: Shutdown,
    handle: std::thread::ScopedJoinHandle<'scope, ()>,
}

/// The camera workers running now, by camera id.
#[derive(Default)]
struct Supervisor<'scope> {
    running: Vec<Running<'scope>>,
}

impl<'scope> Supervisor<'scope> {
    fn runs(&self, id: &str) -> bool {
        self.running.iter().any(|r| r.spec.id == id)
    }

    fn started(&mut self, spec: CameraSection, stop: Shutdown, handle: std::thread::ScopedJoinHandle<'scope, ()>) {
        self.running.push(Running { spec, stop, handle });
    }

    /// Stops (and waits for) every worker whose camera is not wanted as it
    /// runs: removed, or changed in any way; and forgets those that ended,
    /// so that a camera set saved again starts them again. A stopped worker
    /// flushes its passages to the outbox first; unchanged cameras never notice.
    fn stop_all_but(&mut self, wanted: &[CameraSection]) {
        let (keep, stop): (Vec<_>, Vec<_>) =
            self.running.drain(..).partition(|r| wanted.contains(&r.spec) && !r.handle.is_finished());
        self.running = keep;
        for r in &stop {
            r.stop.request();
        }
        for r in stop {
            tracing::info!(camera = %r.spec.id, "camera stopped: removed or reconfigured");
            let _ = r.handle.join();
        }
    }

    /// Every camera ran to its end (recordings). An agent with no camera
    /// (waiting for its first camera set) has not ended.
    fn all_ended(&self) -> bool {
        !self.running.is_empty() && self.running.iter().all(|r| r.handle.is_finished())
    }
}
