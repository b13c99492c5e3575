//! The recogniser on its own thread.
//!
//! Embedding a face (≈25 ms on one core) costs four frames' detection, so
//! run inline it stalls detection whenever a track is due an embedding. The
//! engine hands aligned crops to this worker through a bounded queue (a full
//! queue makes the engine wait: nothing is dropped, memory stays bounded)
//! and picks the embeddings up on later frames, or waits for a track's own
//! before it decides who that track is — so the decisions are those of the
//! inline version, only sooner.
//!
//! The worker thread runs at a lower scheduling priority: detection and
//! decoding keep their pace (a live camera's frames must not wait), and the
//! recogniser takes the CPU they leave — on two cores there is enough, and
//! the bounded queue holds the engine back if there ever is not.

use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::tracking::track::TrackId;
use crate::vision::embed::{EmbedError, Embedder};
use wire::Embedding;

/// Crops waiting for the recogniser, at most.
const QUEUE_DEPTH: usize = 16;

struct Job {
    track: TrackId,
    seen_at: Duration,
    quality: f32,
    bgr: Vec<u8>,
}

/// One finished embedding.
pub struct Embedded {
    pub track: TrackId,
    /// Stream time of the frame the face was seen in.
    pub seen_at: Duration,
    pub quality: f32,
    pub embedding: Result<Embedding, EmbedError>,
    /// Time the recogniser took, ms.
    pub ms: f32,
}

pub struct EmbedWorker {
    jobs: Option<SyncSender<Job>>,
    done: Receiver<(Embedded, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
    in_flight: HashMap<TrackId, usize>,
    /// When the faces in flight were seen, oldest first: the one thread
    /// embeds in the order faces were queued, so answers come back in it.
    seen: VecDeque<Duration>,
    thread: Option<JoinHandle<()>>,
}

impl EmbedWorker {
    pub fn new(mut embedder: Embedder) -> Result<EmbedWorker, EmbedError> {
        let (jobs, queue) = mpsc::sync_channel::<Job>(QUEUE_DEPTH);
        let (finished, done) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("recogniser".into())
            .spawn(move || {
                lower_this_threads_priority();
                for job in queue {
                    let started = Instant::now();
                    let embedding = embedder.embed_aligned_bytes(&job.bgr);
                    let ms = started.elapsed().as_secs_f32() * 1000.0;
                    let out = Embedded { track: job.track, seen_at: job.seen_at, quality: job.quality, embedding, ms };
                    if finished.send((out, job.bgr)).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| EmbedError::Inference(format!("cannot start the recogniser thread: {e}")))?;
        Ok(EmbedWorker {
            jobs: Some(jobs),
            done,
            spare: Vec::new(),
            in_flight: HashMap::new(),
            seen: VecDeque::new(),
            thread: Some(thread),
        })
    }

    /// Queues an aligned crop (packed BGR) of `track`'s face, seen at stream
    /// time `seen_at`; waits while the queue is full.
    pub fn submit(
        &mut self,
        (track, seen_at): (TrackId, Duration),
        quality: f32,
        bgr: &[u8],
    ) -> Result<(), EmbedError> {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(bgr);
        let sent = self.jobs.as_ref().map(|j| j.send(Job { track, seen_at, quality, bgr: buf }));
        if !matches!(sent, Some(Ok(()))) {
            return Err(EmbedError::Inference("the recogniser thread has stopped".into()));
        }
        *self.in_flight.entry(track).or_default() += 1;
        self.seen.push_back(seen_at);
        Ok(())
    }

    /// Embeddings of `track` not yet finished.
    pub fn pending(&self, track: TrackId) -> usize {
        self.in_flight.get(&track).copied().unwrap_or(0)
    }

    fn received(&mut self, (e, buf): (Embedded, Vec<u8>), out: &mut Vec<Embedded>) {
        self.seen.pop_front();
        if let Some(n) = self.in_flight.get_mut(&e.track) {
            *n -= 1;
            if *n == 0 {
                self.in_flight.remove(&e.track);
            }
        }
        self.spare.push(buf);
        out.push(e);
    }

    /// Appends the embeddings finished so far, without waiting.
    pub fn collect(&mut self, out: &mut Vec<Embedded>) {
        loop {
            match self.done.try_recv() {
                Ok(msg) => self.received(msg, out),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return,
            }
        }
    }

    /// Appends finished embeddings until none of `track`'s is in flight
    /// (every track's, with `None`).
    pub fn wait(&mut self, track: Option<TrackId>, out: &mut Vec<Embedded>) {
        self.collect(out);
        while match track {
            Some(t) => self.pending(t) > 0,
            None => !self.in_flight.is_empty(),
        } {
            if !self.receive_one(out) {
                return;
            }
        }
    }

    /// Appends finished embeddings until none of a face seen at or before
    /// stream time `cutoff` is in flight.
    pub fn wait_seen_by(&mut self, cutoff: Duration, out: &mut Vec<Embedded>) {
        self.collect(out);
        while self.seen.front().is_some_and(|&t| t <= cutoff) {
            if !self.receive_one(out) {
                return;
            }
        }
    }

    /// Waits for the next finished embedding; false when none will come.
    fn receive_one(&mut self, out: &mut Vec<Embedded>) -> bool {
        match self.done.recv() {
            Ok(msg) => {
                self.received(msg, out);
                true
            }
            Err(_) => {
                // The thread died (it cannot panic on input); nothing more will come.
                self.in_flight.clear();
                self.seen.clear();
                false
            }
        }
    }
}

/// Niceness of the recogniser thread (0 is normal, 19 the lowest).
const RECOGNISER_NICENESS: i32 = 10;

fn lower_this_threads_priority() {
    // On Linux a thread id names one thread to setpriority(2), whose nice value
    // only that thread takes. Failure leaves the normal priority: slower, not wrong.
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's own id; no memory is passed.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, RECOGNISER_NICENESS) != 0 {
            tracing::debug!("could not lower the recogniser thread's priority");
        }
    }
}

impl Drop for EmbedWorker {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
