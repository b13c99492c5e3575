//! What an edge agent and the admin API say to each other, as plain data.
//!
//! - [`events`]: passages and anomalies an agent reports, in batches, with
//!   the limits both sides enforce.
//! - [`people`]: enrolled people as edges hold them (category, validity,
//!   embeddings; never photos).
//! - [`sync`]: the gallery in versioned deltas, and verification expectations.
//! - [`direction`]: entry or exit.
//! - [`time`]: Unix milliseconds, the one clock every record uses.
//!
//! The camera set and heartbeats stay in `pipeline::fleet`: a camera's spec
//! carries the engine's own tuning types, which are the pipeline's to check.

pub mod direction;
pub mod events;
pub mod people;
pub mod sync;
pub mod time;

pub use direction::Direction;
pub use people::{Category, EMBEDDING_DIM, Embedding, PersonInfo, PersonRecord, StoredEmbedding};
