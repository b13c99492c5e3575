//! gatewatch edge agent: pulls camera streams at a gate, recognises passages,
//! and delivers events to the admin API through a durable outbox.
//!
//! - [`config`]: the agent's TOML file, checked field by field.
//! - [`run`]: the agent's main loop: cameras, gallery sync, delivery, fleet.
//! - [`camera`]: one camera's loop, frames in, passages and anomalies out.
//! - [`outbox`]: events kept on disk until the admin API acknowledges them;
//!   [`store`] opens the agent's databases; [`sender`] delivers in batches.
//! - [`sync`]: the gallery cache kept in step with the admin API.
//! - [`fleet`]: heartbeats and the centrally set camera list.
//! - [`api`] and [`metrics`]: the agent's local HTTP status and Prometheus metrics.
//! - [`replay`]: recorded fixtures through the engine, scored against the truth.
//! - [`ops`] and [`shutdown`]: disk checks, quarantine, signals.

pub mod api;
pub mod camera;
pub mod config;
pub mod fleet;
#[cfg(test)]
mod fuzz_tests;
pub mod metrics;
pub mod ops;
pub mod outbox;
pub mod replay;
pub mod run;
pub mod sender;
pub mod shutdown;
pub mod store;
pub mod sync;
