//! Keeps the edge's gallery cache (sled) in step with the admin API, and the
//! searchable gallery in step with the cache.
//!
//! Every `sync.interval_s`: ask for the changes after the version held
//! (everything on first start), apply them durably, swap a rebuilt gallery in
//! for the cameras. Every second, even with the admin API unreachable: drop
//! visitors whose enrolment expired (from the cache and from search). The
//! cameras never wait for any of this — they search whichever gallery is
//! current.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use pipeline::gallery::{GalleryError, GalleryStore, SharedGallery};
use wire::sync::Expectations;
use wire::time::now_ms;

use crate::api::ApiClient;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

/// The cache, the gallery the cameras search, and who verification cameras expect.
pub struct GalleryCache {
    pub store: GalleryStore,
    pub gallery: SharedGallery,
    pub expectations: Arc<RwLock<Expectations>>,
    model_id: String,
    /// Set once the first sync has been tried (whatever its outcome).
    first_attempt: std::sync::atomic::AtomicBool,
}

impl GalleryCache {
    pub fn open(store: GalleryStore, model_id: &str) -> Result<GalleryCache, GalleryError> {
        let cache = GalleryCache {
            gallery: Arc::new(RwLock::new(Arc::new(pipeline::gallery::Gallery::new(model_id)))),
            store,
            expectations: Arc::new(RwLock::new(Expectations::default())),
            model_id: model_id.to_string(),
            first_attempt: Default::default(),
        };
        cache.purge_expired()?;
        cache.rebuild()?;
        Ok(cache)
    }

    /// Rebuilds the searchable gallery from the cache and swaps it in.
    pub fn rebuild(&self) -> Result<usize, GalleryError> {
        let g = Arc::new(self.store.load(&self.model_id, now_ms() / 1000)?);
        if g.skipped_other_model > 0 {
            tracing::warn!(skipped = g.skipped_other_model, model = %self.model_id,
                "embeddings made by another model were left out: re-enrol those people for this model");
        }
        let n = g.len();
        match self.gallery.write() {
            Ok(mut slot) => *slot = g,
            Err(poisoned) => *poisoned.into_inner() = g,
        }
        Ok(n)
    }

    /// Waits (at most `limit`) for the first sync attempt, so that a fresh
    /// edge does not start recognising with an empty gallery when the admin
    /// API is right there. An unreachable API fails the attempt fast.
    pub fn wait_first_attempt(&self, limit: Duration) {
        let until = Instant::now() + limit;
        while !self.first_attempt.load(std::sync::atomic::Ordering::Acquire) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn purge_expired(&self) -> Result<bool, GalleryError> {
        let gone = self.store.purge_expired(now_ms() / 1000)?;
        if !gone.is_empty() {
            tracing::info!(people = ?gone, "expired enrolments removed from the edge");
        }
        Ok(!gone.is_empty())
    }

    fn observe(&self, metrics: &Metrics) {
        metrics.gallery_version.set(self.store.version().unwrap_or(0) as i64);
        let people = self.gallery.read().map(|g| g.len()).unwrap_or(0);
        metrics.gallery_people.set(people as i64);
    }

    /// One sync with the admin API.
    fn sync(&self, api: &ApiClient, metrics: &Metrics) -> Result<(), String> {
        // A large gallery comes in pages; each is applied (durably) as it
        // arrives, and the searchable gallery is rebuilt once at the end.
        let mut since = self.store.version().map_err(|e| e.to_string())?;
        let (mut upserted, mut removed, mut full, mut pages) = (0, 0, false, 0);
        loop {
            let mut delta = api.gallery(since)?;
            // A CCCD number is never used on the edge: not stored at rest,
            // even if an older admin API still sends it.
            for record in &mut delta.people {
                record.person.cccd = None;
            }
            let applied = self.store.apply(&delta).map_err(|e| e.to_string())?;
            (upserted, removed, full, pages) =
                (upserted + applied.upserted, removed + applied.removed, full || delta.full, pages + 1);
            // A full sync's first page may end below the version held (the
            // admin database restored from a backup): follow it regardless.
            if !delta.more || (!delta.full && delta.version <= since) {
                since = delta.version;
                break;
            }
            since = delta.version;
        }
        if upserted + removed > 0 || full {
            let people = self.rebuild().map_err(|e| e.to_string())?;
            tracing::info!(version = since, full, pages, upserted, removed, people, "gallery synced");
        }
        let expected = api.expectations()?;
        match self.expectations.write() {
            Ok(mut e) if *e != expected => {
                tracing::info!(cameras = ?expected.cameras, "verification expectations changed");
                *e = expected;
            }
            _ => {}
        }
        metrics.gallery_last_sync_timestamp_seconds.set(now_ms() / 1000);
        Ok(())
    }
}

pub fn run(cache: &GalleryCache, api: &ApiClient, interval: Duration, metrics: &Metrics, shutdown: &Shutdown) {
    let mut next_sync = Instant::now();
    let mut next_activation: Option<i64> = None;
    let mut dates_unreadable = false;
    let mut rebuild_pending = false;
    while !shutdown.requested() {
        if Instant::now() >= next_sync {
            if let Err(reason) = cache.sync(api, metrics) {
                metrics.gallery_sync_failures.inc();
                tracing::warn!(%reason, "gallery sync failed; recognising with the cached gallery");
            }
            next_sync = Instant::now() + interval;
            cache.first_attempt.store(true, std::sync::atomic::Ordering::Release);
        }
        let now = now_ms() / 1000;
        // Enrolment dates that cannot be read (a damaged cache: every read of
        // the records fails alike, so a purge would too) are said once per
        // episode, with what to do, and tried again each second.
        let due = match cache.store.next_expiry().and_then(|e| Ok((e, cache.store.next_activation(now)?))) {
            Ok((next_expiry, next_start)) => {
                if dates_unreadable {
                    tracing::info!("the gallery's enrolment dates can be read again");
                    dates_unreadable = false;
                }
                // Someone whose enrolment starts now becomes searchable now.
                let starting = next_activation.is_some_and(|t| t <= now);
                next_activation = next_start;
                next_expiry.is_some_and(|t| t <= now) || starting
            }
            Err(e) => {
                if !dates_unreadable {
                    tracing::error!(error = %e, "cannot read the gallery's enrolment dates: expired enrolments cannot be dropped until they can. If the cache is damaged, stop the agent and move data_dir/gallery aside; it resyncs from the admin API");
                    dates_unreadable = true;
                }
                false
            }
        };
        // A rebuild that failed after its purge succeeded is retried: the
        // expired person is gone from the store but still in the index.
        if due || rebuild_pending {
            match cache.purge_expired().and_then(|_| cache.rebuild()) {
                Ok(people) => {
                    rebuild_pending = false;
                    tracing::info!(people, "gallery rebuilt: an enrolment expired or began");
                }
                Err(e) => {
                    if !rebuild_pending {
                        tracing::error!(error = %e, "cannot drop expired enrolments; trying again each second");
                    }
                    rebuild_pending = true;
                }
            }
        }
        cache.observe(metrics);
        shutdown.sleep(Duration::from_secs(1));
    }
}
