//! Enrolled people and their face embeddings: persisted in `sled`, searched in
//! memory.
//!
//! **Search.** Each person has several embeddings (several photos). Searching
//! every embedding in f32 at 100,000 people × several photos would stream
//! hundreds of megabytes per probe, so the search is two-stage:
//! 1. one *centroid* per person (the normalised mean of their embeddings),
//!    quantised to i8 with a per-row scale, in one contiguous matrix: a probe
//!    is scored against all of them with integer dot products (12.8 MB at
//!    100k people — memory-bandwidth bound, SIMD friendly);
//! 2. the best `rerank` people are re-scored exactly: the maximum f32 cosine
//!    over each one's own embeddings.
//!
//! **Storage.** `sled` tree `people`: person id → [`PersonRecord`] (JSON), with
//! the gallery version at which it last changed and, per embedding, the id of
//! the model that made it; tree `meta`: the gallery version. A gallery is
//! built for one model id: embeddings of another model are skipped (and
//! counted) rather than compared with incompatible probes.

pub mod search;
pub mod store;
pub mod sync;

pub use search::{Candidate, Gallery, SharedGallery};
pub use store::GalleryStore;

#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    #[error(
        "gallery database at {path} cannot be opened: {reason}. If it is corrupt, move it aside; the agent resyncs the gallery from the admin API"
    )]
    Open { path: String, reason: String },
    #[error("gallery database: {0}")]
    Db(#[from] sled::Error),
    #[error("gallery record {key:?} is unreadable: {reason}")]
    Corrupt { key: String, reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::{Category, EMBEDDING_DIM, Embedding, PersonInfo, PersonRecord, StoredEmbedding};

    /// Deterministic pseudo-random unit vectors (xorshift), no external crate.
    pub(crate) fn random_unit(seed: u64) -> Embedding {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let v: Vec<f32> = (0..EMBEDDING_DIM)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s % 20_000) as f32 / 10_000.0 - 1.0
            })
            .collect();
        Embedding::from_raw(&v).expect("non-zero")
    }

    fn person(id: &str) -> PersonInfo {
        PersonInfo {
            id: id.into(),
            name: id.into(),
            category: Category::Staff,
            cccd: None,
            valid_until: None,
            valid_from: None,
        }
    }

    fn near(e: &Embedding, seed: u64, amount: f32) -> Embedding {
        let n = random_unit(seed);
        let v: Vec<f32> = e.0.iter().zip(n.0.iter()).map(|(a, b)| a + amount * b).collect();
        Embedding::from_raw(&v).expect("non-zero")
    }

    #[test]
    fn two_stage_search_agrees_with_exhaustive_search() {
        let mut g = Gallery::new("m");
        for i in 0..2000u64 {
            let base = random_unit(i);
            g.add(person(&format!("p{i}")), &[base, near(&base, i + 10_000, 0.3), near(&base, i + 20_000, 0.3)]);
        }
        for q in 0..50u64 {
            let probe = near(&random_unit(q * 37), q + 99_000, 0.4);
            let fast = g.search(&probe, 2, 16);
            let exact = g.search_exact(&probe, 2);
            assert_eq!(fast[0].person, exact[0].person, "probe {q}");
            assert!((fast[0].similarity - exact[0].similarity).abs() < 1e-6);
        }
    }

    #[test]
    fn expired_people_and_other_models_are_left_out() {
        let e = random_unit(1);
        let records = vec![
            PersonRecord {
                person: person("a"),
                embeddings: vec![StoredEmbedding { model_id: "m".into(), vector: e }],
                negatives: vec![],
                version: 1,
            },
            PersonRecord {
                person: PersonInfo { valid_until: Some(100), ..person("b") },
                embeddings: vec![StoredEmbedding { model_id: "m".into(), vector: e }],
                negatives: vec![],
                version: 2,
            },
            PersonRecord {
                person: person("c"),
                embeddings: vec![StoredEmbedding { model_id: "other".into(), vector: e }],
                negatives: vec![],
                version: 3,
            },
        ];
        let g = Gallery::from_records("m", 3, &records, 200);
        assert_eq!(g.people().iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), vec!["a"]);
        assert_eq!(g.skipped_other_model, 1);
        // An enrolment that starts later is not searchable before it starts.
        let later = PersonRecord { person: PersonInfo { valid_from: Some(300), ..person("d") }, ..records[0].clone() };
        assert!(Gallery::from_records("m", 3, std::slice::from_ref(&later), 200).is_empty());
        assert_eq!(Gallery::from_records("m", 3, std::slice::from_ref(&later), 300).len(), 1);
    }

    #[test]
    fn store_persists_records_and_versions_across_reopen() {
        let dir = std::env::temp_dir().join(format!("gatewatch-gallery-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        {
            let store = GalleryStore::open(&dir).expect("open");
            let rec = PersonRecord {
                person: person("a"),
                embeddings: vec![StoredEmbedding { model_id: "m".into(), vector: random_unit(3) }],
                negatives: vec![],
                version: 0,
            };
            assert_eq!(store.upsert(rec.clone(), None).expect("upsert"), 1);
            assert_eq!(store.upsert(PersonRecord { person: person("b"), ..rec }, None).expect("upsert"), 2);
            assert!(store.remove("a", None).expect("remove"));
        }
        let store = GalleryStore::open(&dir).expect("reopen");
        assert_eq!(store.version().expect("version"), 3);
        let g = store.load("m", 0).expect("load");
        assert_eq!(g.len(), 1);
        assert_eq!(g.person(0).id, "b");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
