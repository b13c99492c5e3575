//! Recorded fixtures, their replay through the engine, and scores against their truth.

pub mod evaluate;
pub mod fixture;
pub mod replay;
pub mod stats;
