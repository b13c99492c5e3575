//! The agent as one of a fleet: what its cameras report about themselves
//! (the [`Board`]), the cameras set centrally by an admin ([`CentralCameras`],
//! kept on disk so a restart offline runs the last good set), and the
//! heartbeat that tells the admin API how the agent is doing and brings back
//! what to do next (a newer camera set, snapshots an admin asked for).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use pipeline::engine::EngineConfig;
use pipeline::fleet::{CameraSet, CameraSpec, CameraState, CameraStatus, Heartbeat};
use wire::time::now_ms;

use crate::api::ApiClient;
use crate::config::check_cameras;
use crate::shutdown::Shutdown;
use crate::store::EventStore;
use crate::sync::GalleryCache;

struct Entry {
    status: CameraStatus,
    snapshot_wanted: bool,
    snapshot: Option<Vec<u8>>,
}

/// Each running camera's state, written by its worker, read by the heartbeat.
#[derive(Default)]
pub struct Board {
    cameras: Mutex<BTreeMap<String, Entry>>,
    /// A camera changed state: the heartbeat goes out now, not at its interval.
    changed: AtomicBool,
}

impl Board {
    fn with<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Entry>) -> T) -> T {
        f(&mut self.cameras.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The cameras now running: new ones start as `Starting`, gone ones leave.
    pub fn set_running(&self, specs: &[CameraSpec]) {
        self.with(|cams| {
            cams.retain(|id, _| specs.iter().any(|s| &s.id == id));
            for spec in specs {
                let entry = cams.entry(spec.id.clone()).or_insert_with(|| Entry {
                    status: CameraStatus {
                        spec: spec.clone(),
                        state: CameraState::Starting,
                        reason: None,
                        fps: 0.0,
                        dropped_frames: 0,
                    },
                    snapshot_wanted: false,
                    snapshot: None,
                });
                if entry.status.spec != *spec {
                    entry.status =
                        CameraStatus { spec: spec.clone(), state: CameraState::Starting, ..entry.status.clone() };
                }
            }
        });
        self.changed.store(true, Ordering::Release);
    }

    pub fn set_state(&self, camera: &str, state: CameraState, reason: Option<String>) {
        let changed = self.with(|cams| match cams.get_mut(camera) {
            Some(e) if e.status.state != state || e.status.reason != reason => {
                e.status.state = state;
                e.status.reason = reason;
                true
            }
            _ => false,
        });
        if changed {
            self.changed.store(true, Ordering::Release);
        }
    }

    pub fn set_rates(&self, camera: &str, fps: f64, dropped_frames: u64) {
        self.with(|cams| {
            if let Some(e) = cams.get_mut(camera) {
                (e.status.fps, e.status.dropped_frames) = (fps, dropped_frames);
            }
        });
    }

    pub fn want_snapshot(&self, camera: &str) {
        self.with(|cams| {
            if let Some(e) = cams.get_mut(camera) {
                e.snapshot_wanted = true;
            }
        });
    }

    /// Checked by a camera's worker on each frame (a lock held for nanoseconds).
    pub fn snapshot_wanted(&self, camera: &str) -> bool {
        self.with(|cams| cams.get(camera).is_some_and(|e| e.snapshot_wanted))
    }

    pub fn put_snapshot(&self, camera: &str, jpeg: Vec<u8>) {
        self.with(|cams| {
            if let Some(e) = cams.get_mut(camera) {
                (e.snapshot_wanted, e.snapshot) = (false, Some(jpeg));
            }
        });
        self.changed.store(true, Ordering::Release);
    }

    fn take_snapshots(&self) -> Vec<(String, Vec<u8>)> {
        self.with(|cams| cams.iter_mut().filter_map(|(id, e)| e.snapshot.take().map(|j| (id.clone(), j))).collect())
    }

    pub fn statuses(&self) -> Vec<CameraStatus> {
        self.with(|cams| cams.values().map(|e| e.status.clone()).collect())
    }

    fn take_changed(&self) -> bool {
        self.changed.swap(false, Ordering::AcqRel)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CentralError {
    #[error("camera set from the admin API refused: camera {index} ({id}): {reason}")]
    Invalid { index: usize, id: String, reason: String },
    #[error("cannot keep the camera set in {path}: {reason}")]
    Io { path: String, reason: String },
}

/// The camera set an admin made for this agent, the last good one on disk.
pub struct CentralCameras {
    path: PathBuf,
    current: Mutex<CameraSet>,
    /// Bumped on every change: the supervisor reconciles its workers.
    generation: AtomicU64,
}

impl CentralCameras {
    /// Opens the set kept in `data_dir` (none yet: version 0). A damaged
    /// file is set aside with an error: the agent runs its file's cameras
    /// and the next heartbeat brings the set again.
    pub fn open(data_dir: &Path, recognition: &EngineConfig) -> CentralCameras {
        let path = data_dir.join("cameras.json");
        let set = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<CameraSet>(&bytes)
                .map_err(|e| e.to_string())
                .and_then(|s| check_cameras(&s.cameras, recognition).map(|()| s).map_err(|(_, e)| e.to_string()))
            {
                Ok(set) => {
                    tracing::info!(version = set.version, cameras = set.cameras.len(), "central camera set loaded");
                    set
                }
                Err(reason) => {
                    tracing::error!(path = %path.display(), %reason, "central camera set unreadable; set aside");
                    let _ = std::fs::rename(&path, path.with_extension("json.damaged"));
                    CameraSet::default()
                }
            },
            Err(_) => CameraSet::default(),
        };
        CentralCameras { path, current: Mutex::new(set), generation: AtomicU64::new(0) }
    }

    fn current(&self) -> CameraSet {
        self.current.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn version(&self) -> u64 {
        self.current().version
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The cameras to run: the central set once there is one, else the file's.
    pub fn desired(&self, from_file: &[CameraSpec]) -> Vec<CameraSpec> {
        let set = self.current();
        if set.version > 0 { set.cameras } else { from_file.to_vec() }
    }

    /// Checks a set from the admin API, keeps it on disk (written whole,
    /// then renamed: a crash leaves the old or the new, never half), and
    /// makes it current.
    pub fn accept(&self, set: CameraSet, recognition: &EngineConfig) -> Result<(), CentralError> {
        check_cameras(&set.cameras, recognition).map_err(|(index, e)| CentralError::Invalid {
            index,
            id: set.cameras.get(index).map(|c| c.id.clone()).unwrap_or_default(),
            reason: e.to_string(),
        })?;
        let io = |e: std::io::Error| CentralError::Io { path: self.path.display().to_string(), reason: e.to_string() };
        let tmp = self.path.with_extension("json.tmp");
        let bytes = serde_json::to_vec_pretty(&set)
            .map_err(|e| CentralError::Io { path: tmp.display().to_string(), reason: e.to_string() })?;
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io)?;
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = set;
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}

/// Free bytes on the disk holding `dir`.
fn disk_free(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes only into `stat`, which lives for the call; the
    // path is a valid NUL-terminated string.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
    (rc == 0).then(|| stat.f_bavail as u64 * stat.f_frsize as u64)
}

/// Everything the heartbeat loop reads and acts on.
pub struct Heartbeats<'a> {
    pub api: &'a ApiClient,
    pub board: &'a Board,
    pub central: &'a CentralCameras,
    pub store: &'a EventStore,
    pub cache: &'a GalleryCache,
    pub recognition: &'a EngineConfig,
    pub data_dir: &'a Path,
    pub interval: Duration,
    pub shutdown: &'a Shutdown,
    /// The newest camera set refused, and why: not fetched again, reported.
    pub refused: Mutex<Option<(u64, String)>>,
}

impl Heartbeats<'_> {
    fn beat(&self, started_ms: i64) -> Heartbeat {
        Heartbeat {
            agent_version: env!("CARGO_PKG_VERSION").to_string(),
            started_ms,
            sent_ms: now_ms(),
            cameras: self.board.statuses(),
            outbox_backlog: (self.store.outbox.len() + self.store.held()) as u64,
            outbox_oldest_ms: self.store.outbox.oldest_ms(),
            gallery_version: self.cache.store.version().unwrap_or(0),
            config_version: self.central.version(),
            disk_free_bytes: disk_free(self.data_dir),
            config_error: self.refused().map(|(v, why)| format!("version {v}: {why}")),
        }
    }

    fn refused(&self) -> Option<(u64, String)> {
        self.refused.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn set_refused(&self, value: Option<(u64, String)>) {
        *self.refused.lock().unwrap_or_else(PoisonError::into_inner) = value;
    }

    /// One exchange: the heartbeat out, then whatever the answer asks for.
    fn exchange(&self, started_ms: i64) -> Result<(), String> {
        let reply = self.api.heartbeat(&self.beat(started_ms))?;
        let already_refused = self.refused().is_some_and(|(v, _)| v == reply.config_version);
        if reply.config_version > 0 && reply.config_version != self.central.version() && !already_refused {
            let set = self.api.cameras()?;
            let version = set.version;
            match self.central.accept(set, self.recognition) {
                Ok(()) => {
                    tracing::info!(version, "central camera set applied");
                    self.set_refused(None);
                }
                // Keeps running the last good set; the devices page shows
                // the version it runs and why the new one was refused.
                Err(e) => {
                    tracing::error!(error = %e, "central camera set not applied");
                    self.set_refused(Some((version, e.to_string())));
                }
            }
        }
        for camera in reply.snapshots {
            self.board.want_snapshot(&camera);
        }
        for (camera, jpeg) in self.board.take_snapshots() {
            self.api.put_snapshot(&camera, jpeg)?;
        }
        Ok(())
    }

    /// Until shutdown: a heartbeat every `interval`, and at once when a
    /// camera changes state or a snapshot is ready.
    pub fn run(&self) {
        let started_ms = now_ms();
        let mut next = Instant::now();
        let mut last_warned: Option<Instant> = None;
        while !self.shutdown.requested() {
            if Instant::now() >= next || self.board.take_changed() {
                if let Err(reason) = self.exchange(started_ms) {
                    if last_warned.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                        tracing::warn!(%reason, "heartbeat to the admin API failed; retrying");
                        last_warned = Some(Instant::now());
                    }
                } else if last_warned.take().is_some() {
                    tracing::info!("heartbeats reach the admin API again");
                }
                next = Instant::now() + self.interval;
            }
            self.shutdown.sleep(Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(id: &str, inside: &str) -> CameraSpec {
        serde_json::from_value(serde_json::json!({
            "id": id, "gate": "g", "url": "rtsp://127.0.0.1:8554/x",
            "line": {"a": [0.0, 0.5], "b": [1.0, 0.5], "inside": inside}
        }))
        .expect("spec")
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("gw-fleet-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("dir");
        d
    }

    #[test]
    fn a_central_set_replaces_the_files_cameras_and_survives_a_restart() {
        let dir = scratch("restart");
        let rec = EngineConfig::default();
        let central = CentralCameras::open(&dir, &rec);
        let file = vec![spec("gate1", "below")];
        assert_eq!(central.desired(&file), file, "no central set: the file's cameras");
        let set = CameraSet { version: 3, cameras: vec![spec("gate1", "above"), spec("gate2", "below")] };
        central.accept(set.clone(), &rec).expect("valid");
        assert_eq!(central.desired(&file), set.cameras);
        assert_eq!(central.generation(), 1);
        let reopened = CentralCameras::open(&dir, &rec);
        assert_eq!((reopened.version(), reopened.desired(&file)), (3, set.cameras));
    }

    #[test]
    fn an_invalid_set_is_refused_and_the_last_good_one_kept() {
        let dir = scratch("invalid");
        let rec = EngineConfig::default();
        let central = CentralCameras::open(&dir, &rec);
        central.accept(CameraSet { version: 1, cameras: vec![spec("gate1", "below")] }, &rec).expect("valid");
        let twice = CameraSet { version: 2, cameras: vec![spec("gate1", "below"), spec("gate1", "above")] };
        let e = central.accept(twice, &rec).expect_err("duplicate id").to_string();
        assert!(e.contains("camera 1 (gate1)") && e.contains("two cameras"), "{e}");
        assert_eq!(central.version(), 1);
        std::fs::write(dir.join("cameras.json"), b"{ half a file").expect("write");
        let damaged = CentralCameras::open(&dir, &rec);
        assert_eq!(damaged.version(), 0, "a damaged file falls back to the file's cameras");
        assert!(dir.join("cameras.json.damaged").exists());
    }

    #[test]
    fn the_board_reports_state_changes_once() {
        let board = Board::default();
        board.set_running(&[spec("gate1", "below")]);
        assert!(board.take_changed());
        board.set_state("gate1", CameraState::Up, None);
        assert!(board.take_changed());
        board.set_state("gate1", CameraState::Up, None);
        assert!(!board.take_changed(), "no change, no early heartbeat");
        board.want_snapshot("gate1");
        assert!(board.snapshot_wanted("gate1"));
        board.put_snapshot("gate1", vec![1, 2, 3]);
        assert!(!board.snapshot_wanted("gate1"));
        assert_eq!(board.take_snapshots(), vec![("gate1".to_string(), vec![1, 2, 3])]);
        board.set_running(&[]);
        assert!(board.statuses().is_empty());
    }
}
