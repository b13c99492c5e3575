//! The gallery as the admin API sends it to edges: by version, in deltas.
//!
//! An edge asks for the changes after the version it holds; the answer lists
//! people added or changed since (with their embeddings, never photos) and
//! ids removed since. Version 0 — a fresh edge, or one whose version the admin
//! API no longer knows — gets the full gallery with `full = true`, and the
//! edge replaces its cache with it.

use wire::sync::GalleryDelta;

use crate::gallery::{GalleryError, GalleryStore};

/// What applying a delta changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub upserted: usize,
    pub removed: usize,
}

impl GalleryStore {
    /// Applies a delta durably. A full gallery replaces the cache; a delta
    /// older than (or equal to) what the cache holds changes nothing.
    pub fn apply(&self, delta: &GalleryDelta) -> Result<Applied, GalleryError> {
        let mut applied = Applied::default();
        if !delta.full && delta.version <= self.version()? {
            return Ok(applied);
        }
        if delta.full {
            let keep: std::collections::HashSet<&str> = delta.people.iter().map(|r| r.person.id.as_str()).collect();
            for r in self.records()? {
                if !keep.contains(r.person.id.as_str()) && self.remove(&r.person.id, Some(delta.version))? {
                    applied.removed += 1;
                }
            }
        }
        for id in &delta.removed {
            if self.remove(id, Some(delta.version))? {
                applied.removed += 1;
            }
        }
        for r in &delta.people {
            self.upsert(r.clone(), Some(delta.version))?;
            applied.upserted += 1;
        }
        self.set_version(delta.version)?;
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::Category;
    use wire::Embedding;
    use wire::{PersonInfo, PersonRecord, StoredEmbedding};

    fn record(id: &str, valid_until: Option<i64>) -> PersonRecord {
        let mut v = [0.0f32; wire::EMBEDDING_DIM];
        v[id.len() % v.len()] = 1.0;
        PersonRecord {
            person: PersonInfo {
                id: id.into(),
                name: id.into(),
                category: Category::Visitor,
                cccd: None,
                valid_until,
                valid_from: None,
            },
            embeddings: vec![StoredEmbedding { model_id: "m".into(), vector: Embedding(v) }],
            negatives: vec![],
            version: 0,
        }
    }

    fn ids(store: &GalleryStore) -> Vec<String> {
        store.records().expect("records").into_iter().map(|r| r.person.id).collect()
    }

    #[test]
    fn full_then_deltas_then_a_new_full_gallery() {
        let dir = std::env::temp_dir().join(format!("gatewatch-sync-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = GalleryStore::open(&dir).expect("open");
        let full = GalleryDelta {
            version: 3,
            full: true,
            people: vec![record("a", None), record("b", None)],
            removed: vec![],
            more: false,
        };
        assert_eq!(store.apply(&full).expect("full"), Applied { upserted: 2, removed: 0 });
        assert_eq!(store.version().expect("v"), 3);
        let delta = GalleryDelta {
            version: 5,
            full: false,
            people: vec![record("c", Some(10))],
            removed: vec!["a".into()],
            more: false,
        };
        assert_eq!(store.apply(&delta).expect("delta"), Applied { upserted: 1, removed: 1 });
        assert_eq!(ids(&store), vec!["b", "c"]);
        // A stale delta (e.g. a retried request) changes nothing.
        let stale =
            GalleryDelta { version: 4, full: false, people: vec![record("z", None)], removed: vec![], more: false };
        assert_eq!(store.apply(&stale).expect("stale"), Applied::default());
        // The expired visitor is cached but not searchable after its time.
        assert_eq!(store.load("m", 5).expect("load").len(), 2);
        assert_eq!(store.load("m", 10).expect("load").len(), 1);
        // A full gallery (the admin API's database was rebuilt) replaces everything.
        let again =
            GalleryDelta { version: 1, full: true, people: vec![record("d", None)], removed: vec![], more: false };
        assert_eq!(store.apply(&again).expect("full again"), Applied { upserted: 1, removed: 2 });
        assert_eq!(ids(&store), vec!["d"]);
        assert_eq!(store.version().expect("v"), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
