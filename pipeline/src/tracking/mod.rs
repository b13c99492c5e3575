//! Faces to passages: tracking, identity per track, the counting line, journeys and passages.

pub mod appearance;
pub mod assignment;
pub mod identity;
pub mod journey;
pub mod line;
pub mod passage;
pub mod track;
