pub mod events;
pub mod gallery;
