//! One graceful-shutdown signal for every task of the agent.
//!
//! SIGTERM or SIGINT sets a shared flag; camera workers check it between
//! frames, flush their engines (pending passages become events) into the
//! outbox, and return; the sender finishes its current batch and returns. A
//! second signal is not needed: nothing waits on the network to exit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// A shutdown flag raised by SIGTERM and SIGINT.
    pub fn on_signals() -> std::io::Result<Shutdown> {
        let s = Shutdown::default();
        signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&s.0))?;
        signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&s.0))?;
        Ok(s)
    }

    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    pub fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Shutdown {
    /// Sleeps up to `d`, waking early when shutdown is requested.
    pub fn sleep(&self, d: std::time::Duration) {
        let until = std::time::Instant::now() + d;
        while !self.requested() {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return;
            }
            std::thread::sleep(left.min(std::time::Duration::from_millis(100)));
        }
    }
}
