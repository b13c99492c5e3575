//! The face models named in `models/manifest.toml`, found on disk.
//!
//! The fetch step (`make models`) verifies hashes when it installs the files;
//! here we only locate them and, for tests and diagnostics, re-verify on demand.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::vision::runtime::{RuntimeError, SharedSession, Threads};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "models folder not found (no models/manifest.toml above the current directory); set GATEWATCH_ROOT or run from the repository"
    )]
    NoRoot,
    #[error("cannot read {path}: {reason}. Run `make models` to install the models")]
    Io { path: PathBuf, reason: String },
    #[error("models/manifest.toml is malformed: {0}")]
    Manifest(String),
    #[error("model {name} is not installed ({path} is missing). Run `make models` to fetch it")]
    Missing { name: String, path: PathBuf },
    #[error(
        "model {name} at {path} has sha256 {actual}, the manifest expects {expected}. Run `make models` to refetch it"
    )]
    HashMismatch { name: String, path: PathBuf, actual: String, expected: String },
    #[error("the manifest has no model with role {0}")]
    NoRole(String),
}

#[derive(Debug, Clone, Deserialize)]
pub struct ModelEntry {
    pub name: String,
    pub role: String,
    pub file: String,
    /// The hash of the file that is loaded.
    pub sha256: String,
    /// The id stored with every embedding this model makes (recognisers),
    /// written by hand in the manifest: see [`ModelFile::model_id`].
    #[serde(default)]
    pub embedding_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    model: Vec<ModelEntry>,
}

/// A model file that exists on disk, with its manifest entry.
#[derive(Debug, Clone)]
pub struct ModelFile {
    pub entry: ModelEntry,
    pub path: PathBuf,
}

impl ModelFile {
    /// The identifier stored next to every embedding, so that a gallery made
    /// with one recogniser is never compared with probes of another. The
    /// manifest's `embedding_id` when it has one: it stays the same across
    /// rewrites of the graph that compute the same function (fetch.py checks
    /// them), so they do not orphan the galleries enrolled before, and it is
    /// changed by hand with any change to what the model computes. Without
    /// one, the model's name and loaded file's hash.
    pub fn model_id(&self) -> String {
        if let Some(id) = &self.entry.embedding_id {
            return id.clone();
        }
        let hash = &self.entry.sha256;
        format!("{}@{}", self.entry.name, hash.get(..12).unwrap_or(hash))
    }

    /// Re-hashes the file and compares it with the manifest.
    pub fn verify(&self) -> Result<(), ModelError> {
        let bytes =
            std::fs::read(&self.path).map_err(|e| ModelError::Io { path: self.path.clone(), reason: e.to_string() })?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != self.entry.sha256 {
            return Err(ModelError::HashMismatch {
                name: self.entry.name.clone(),
                path: self.path.clone(),
                actual,
                expected: self.entry.sha256.clone(),
            });
        }
        Ok(())
    }
}

/// The installed models: the detector and the recogniser.
#[derive(Debug, Clone)]
pub struct Models {
    pub detector: ModelFile,
    pub recogniser: ModelFile,
}

impl Models {
    /// Finds the models under the repository root (see [`crate::repo_root`]).
    pub fn locate() -> Result<Models, ModelError> {
        let root = crate::repo_root().ok_or(ModelError::NoRoot)?;
        Models::in_dir(&root.join("models"))
    }

    pub fn in_dir(dir: &Path) -> Result<Models, ModelError> {
        let manifest_path = dir.join("manifest.toml");
        let text = std::fs::read_to_string(&manifest_path)
            .map_err(|e| ModelError::Io { path: manifest_path.clone(), reason: e.to_string() })?;
        let manifest: Manifest = toml::from_str(&text).map_err(|e| ModelError::Manifest(e.to_string()))?;
        let find = |role: &str| -> Result<ModelFile, ModelError> {
            let entry = manifest
                .model
                .iter()
                .find(|m| m.role == role)
                .cloned()
                .ok_or_else(|| ModelError::NoRole(role.to_string()))?;
            let path = dir.join(&entry.file);
            if !path.is_file() {
                return Err(ModelError::Missing { name: entry.name, path });
            }
            Ok(ModelFile { entry, path })
        };
        Ok(Models { detector: find("detector")?, recogniser: find("recogniser")? })
    }
}

/// Both models' inference sessions, loaded once and shared by every camera of
/// an agent (see [`SharedSession`]): the agent's memory grows by a camera's
/// buffers and tracks, not by three more copies of the models.
#[derive(Clone)]
pub struct Sessions {
    /// YuNet: the frame detector and the landmark refinement of every camera.
    pub detector: Arc<SharedSession>,
    /// SFace: every camera's recogniser thread.
    pub recogniser: Arc<SharedSession>,
}

impl Sessions {
    pub fn load(models: &Models, threads: Threads) -> Result<Sessions, RuntimeError> {
        Ok(Sessions {
            // Two cameras may detect at once; the recogniser runs behind
            // them at a lower priority, one face at a time.
            detector: SharedSession::load(&models.detector.path, threads, threads.intra_op.max(1))?,
            recogniser: SharedSession::load(&models.recogniser.path, threads, 1)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every gallery enrolled so far (admin databases, agents' stores) holds
    /// embeddings under this id: a change to it orphans them all, so it must
    /// come with a migration of the stored ids, not by accident.
    #[test]
    fn the_recognisers_embedding_id_is_the_one_stored_galleries_carry() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
        let text = std::fs::read_to_string(dir.join("manifest.toml")).expect("models/manifest.toml");
        let manifest: Manifest = toml::from_str(&text).expect("manifest parses");
        let entry = manifest.model.into_iter().find(|m| m.role == "recogniser").expect("a recogniser");
        let file = ModelFile { path: dir.join(&entry.file), entry };
        assert_eq!(file.model_id(), "sface-2021dec-int8bq-folded@107111c7155b");
    }

    #[test]
    fn without_an_embedding_id_the_file_hash_names_the_model() {
        let entry = ModelEntry {
            name: "m".into(),
            role: "recogniser".into(),
            file: "f.onnx".into(),
            sha256: "4577cf89a9f46709000f".into(),
            embedding_id: None,
        };
        let file = ModelFile { entry, path: PathBuf::from("f.onnx") };
        assert_eq!(file.model_id(), "m@4577cf89a9f4");
        // A short hash in a hand-edited manifest is used whole, not a panic.
        let short = ModelFile { entry: ModelEntry { sha256: "abc".into(), ..file.entry.clone() }, ..file };
        assert_eq!(short.model_id(), "m@abc");
    }
}
