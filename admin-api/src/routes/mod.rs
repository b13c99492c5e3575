pub mod admin;
pub mod alerts;
pub mod auth;
pub mod events;
pub mod gallery;
pub mod log;
pub mod people;
pub mod stats;
