//! ONNX Runtime, loaded at run time from the shared library that `make setup`
//! takes out of the PyPI wheel (the `ort` crate's own download cannot reach its
//! CDN from these sites, and Debian ships no onnxruntime package).
//!
//! ONNX Runtime allows one environment per process, so it lives in a
//! process-wide [`OnceLock`]; every session is built from it. The environment
//! owns **one global intra-op thread pool** shared by every session (frame
//! detector, landmark detector, recogniser, of every camera): on a 2-core gate
//! box, one pool per session would put six or more inference threads in
//! contention with each other and with the video decoder. The pool's size is
//! taken from the first session's [`Threads`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{FairMutex, FairMutexGuard};

use ort::environment::{Environment, GlobalThreadPoolOptions};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

/// The library file that the setup step installs.
pub const LIBRARY_FILE: &str = "libonnxruntime.so.1.31.1";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "ONNX Runtime library not found (looked at {looked}). Run `make setup` to install it, \
         or set ORT_DYLIB_PATH to a libonnxruntime.so of version 1.31 or newer"
    )]
    LibraryMissing { looked: String },
    #[error("ONNX Runtime library at {path} could not be loaded: {reason}. Run `make setup` to reinstall it")]
    LibraryUnloadable { path: PathBuf, reason: String },
    #[error("ONNX Runtime could not load model {path}: {reason}")]
    Session { path: PathBuf, reason: String },
}

/// Threading for one inference session. On the 2-core gate boxes decoding and
/// inference share the cores, so ORT's spin-waiting threads are turned off.
#[derive(Debug, Clone, Copy)]
pub struct Threads {
    pub intra_op: usize,
    pub spinning: bool,
    /// Video decoder threads for replayed files; `None` lets GStreamer's
    /// decoder choose (one per core). Benchmarks pin it so that every
    /// contender decodes with the same number of threads.
    pub decoder: Option<u32>,
}

impl Default for Threads {
    fn default() -> Self {
        Threads { intra_op: 2, spinning: false, decoder: None }
    }
}

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// Where the ONNX Runtime library is expected: `ORT_DYLIB_PATH` if set, else
/// `third_party/onnxruntime/` under the repository root.
pub fn library_path() -> Result<PathBuf, RuntimeError> {
    let mut looked = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        // An explicit choice is never second-guessed with a fallback.
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        return Err(RuntimeError::LibraryMissing { looked: format!("ORT_DYLIB_PATH={}", p.display()) });
    }
    if let Some(root) = crate::repo_root() {
        let p = root.join("third_party").join("onnxruntime").join(LIBRARY_FILE);
        if p.is_file() {
            return Ok(p);
        }
        looked.push(p.display().to_string());
    }
    if looked.is_empty() {
        looked.push("ORT_DYLIB_PATH unset and no repository root found".into());
    }
    Err(RuntimeError::LibraryMissing { looked: looked.join(", ") })
}

fn environment(threads: Threads) -> Result<&'static Environment, RuntimeError> {
    let path = library_path()?;
    let env = ENVIRONMENT.get_or_init(|| {
        let builder = ort::init_from(&path).map_err(|e| e.to_string())?;
        let pool = GlobalThreadPoolOptions::default()
            .with_intra_threads(threads.intra_op.max(1))
            .and_then(|p| p.with_inter_threads(1))
            .and_then(|p| p.with_spin_control(threads.spinning))
            .map_err(|e| e.to_string())?;
        builder.with_name("gatewatch").with_global_thread_pool(pool).build().map_err(|e| e.to_string())
    });
    env.as_ref().map_err(|reason| RuntimeError::LibraryUnloadable { path, reason: reason.clone() })
}

/// Builds an inference session for `model` on the shared thread pool.
pub fn session(model: &Path, threads: Threads) -> Result<Session, RuntimeError> {
    let env = environment(threads)?;
    let fail = |reason: String| RuntimeError::Session { path: model.to_path_buf(), reason };
    Session::builder(env)
        .map_err(|e| fail(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| fail(e.to_string()))?
        .commit_from_file(model)
        .map_err(|e| fail(e.to_string()))
}

/// One model's inference sessions, loaded once per process and shared by
/// every camera (and by both detector passes: frame and landmark refinement).
///
/// Each session holds the model's weights and a memory arena sized for its
/// largest input, and three of them per camera were most of a camera's
/// ≈125 MB. Running a session needs it exclusively, so cameras take turns on
/// a few copies (`copies`: as many as inference threads, so two cameras can
/// detect at once on two cores, measured: one copy held four 25-fps cameras
/// to 22 fps). A caller takes any free copy; when none is free it queues on
/// one, dealt round-robin, whose lock is FIFO-fair (`parking_lot::FairMutex`
/// hands it to the longest waiter). Fairness is per copy: a waiter waits at
/// most for the callers queued ahead of it on its copy (a newcomer may take
/// the other copy first when it frees), so a camera with a crowd in view
/// cannot starve a quiet one.
pub struct SharedSession {
    copies: Vec<FairMutex<Session>>,
    next: AtomicUsize,
}

impl SharedSession {
    pub fn load(model: &Path, threads: Threads, copies: usize) -> Result<Arc<SharedSession>, RuntimeError> {
        let copies =
            (0..copies.max(1)).map(|_| session(model, threads).map(FairMutex::new)).collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(SharedSession { copies, next: AtomicUsize::new(0) }))
    }

    /// Waits for this caller's turn on a copy of the session.
    pub fn lock(&self) -> FairMutexGuard<'_, Session> {
        if let Some(free) = self.copies.iter().find_map(|c| c.try_lock()) {
            return free;
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.copies.len();
        self.copies[turn].lock()
    }
}
