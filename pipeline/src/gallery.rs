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

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::embed::{EMBEDDING_DIM, Embedding};
use crate::fixture::Category;

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

/// Who an enrolled person is (no photos: edges never hold enrolment photos).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonInfo {
    pub id: String,
    pub name: String,
    pub category: Category,
    #[serde(default)]
    pub cccd: Option<String>,
    /// Unix seconds after which the enrolment has expired (visitors).
    #[serde(default)]
    pub valid_until: Option<i64>,
    /// Unix seconds before which the enrolment is not yet valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEmbedding {
    pub model_id: String,
    pub vector: Embedding,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonRecord {
    pub person: PersonInfo,
    pub embeddings: Vec<StoredEmbedding>,
    /// Faces an admin marked as "this is not this person": a probe closer to
    /// one of them than to the person's own photos is not matched to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub negatives: Vec<StoredEmbedding>,
    /// Gallery version at which this record last changed.
    pub version: u64,
}

/// One person as a search result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub person: usize,
    pub similarity: f32,
}

/// The in-memory, searchable gallery for one recogniser model.
#[derive(Debug, Default)]
pub struct Gallery {
    model_id: String,
    version: u64,
    people: Vec<PersonInfo>,
    /// All embeddings, row-major, f32; rows of person i are `rows[i]`.
    embeddings: Vec<f32>,
    rows: Vec<std::ops::Range<usize>>,
    /// Per-person centroid, quantised: `centroids_i8[i*DIM..]`, scale `centroid_scale[i]`.
    centroids_i8: Vec<i8>,
    centroid_scale: Vec<f32>,
    /// Embeddings left out because another model made them.
    pub skipped_other_model: usize,
    /// Corrections ("this is not X"), row-major f32; person i's are `negative_rows[i]`.
    negatives: Vec<f32>,
    negative_rows: Vec<std::ops::Range<usize>>,
}

/// Shared, swappable gallery: readers clone the `Arc` and search without locks held.
pub type SharedGallery = Arc<RwLock<Arc<Gallery>>>;

fn quantise(v: &[f32], out: &mut Vec<i8>) -> f32 {
    let max = v.iter().fold(0.0f32, |m, x| m.max(x.abs())).max(f32::EPSILON);
    let scale = 127.0 / max;
    out.extend(v.iter().map(|x| (x * scale).round().clamp(-127.0, 127.0) as i8));
    scale
}

/// i8·i8 products fit in i16, which lets LLVM use the multiply-add-pairs
/// instructions (pmaddwd) instead of widening every lane to i32.
#[inline(always)]
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(x, y)| (*x as i16 * *y as i16) as i32).sum()
}

/// Scores every centroid row against `q`, calling `keep(row, score)`.
#[inline(always)]
fn scan_rows(rows: &[i8], scales: &[f32], q: &[i8], q_scale: f32, keep: &mut impl FnMut(usize, f32)) {
    for (i, row) in rows.chunks_exact(EMBEDDING_DIM).enumerate() {
        keep(i, dot_i8(row, q) as f32 / (scales[i] * q_scale));
    }
}

/// The same scan compiled for AVX2, chosen at run time where the CPU has it
/// (the portable build targets baseline x86-64, which gate boxes all run).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_rows_avx2(rows: &[i8], scales: &[f32], q: &[i8], q_scale: f32, keep: &mut impl FnMut(usize, f32)) {
    scan_rows(rows, scales, q, q_scale, keep)
}

fn scan(rows: &[i8], scales: &[f32], q: &[i8], q_scale: f32, mut keep: impl FnMut(usize, f32)) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        unsafe { scan_rows_avx2(rows, scales, q, q_scale, &mut keep) };
        return;
    }
    scan_rows(rows, scales, q, q_scale, &mut keep)
}

#[inline]
fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[derive(PartialEq)]
struct Scored(f32, usize);
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scored {
    // Reversed: BinaryHeap becomes a min-heap of the best scores so far.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0)
    }
}

impl Gallery {
    pub fn new(model_id: &str) -> Gallery {
        Gallery { model_id: model_id.to_string(), ..Default::default() }
    }

    /// Builds a gallery from records, keeping only `model_id`'s embeddings and
    /// people who are not expired at `now` (unix seconds).
    pub fn from_records<'a>(
        model_id: &str,
        version: u64,
        records: impl IntoIterator<Item = &'a PersonRecord>,
        now: i64,
    ) -> Gallery {
        let mut g = Gallery::new(model_id);
        g.version = version;
        for r in records {
            if r.person.valid_until.is_some_and(|t| t <= now) || r.person.valid_from.is_some_and(|t| t > now) {
                continue;
            }
            let (ours, theirs): (Vec<_>, Vec<_>) = r.embeddings.iter().partition(|e| e.model_id == model_id);
            g.skipped_other_model += theirs.len();
            let vectors: Vec<Embedding> = ours.iter().map(|e| e.vector).collect();
            let negatives: Vec<Embedding> =
                r.negatives.iter().filter(|e| e.model_id == model_id).map(|e| e.vector).collect();
            g.add_with_negatives(r.person.clone(), &vectors, &negatives);
        }
        g
    }

    /// Adds a person with their embeddings (people with none are ignored).
    pub fn add(&mut self, person: PersonInfo, vectors: &[Embedding]) {
        self.add_with_negatives(person, vectors, &[]);
    }

    /// Adds a person with their embeddings and their corrections.
    pub fn add_with_negatives(&mut self, person: PersonInfo, vectors: &[Embedding], negatives: &[Embedding]) {
        if vectors.is_empty() {
            return;
        }
        let n0 = self.negatives.len() / EMBEDDING_DIM;
        for v in negatives {
            self.negatives.extend_from_slice(&v.0);
        }
        self.negative_rows.push(n0..n0 + negatives.len());
        let start = self.embeddings.len() / EMBEDDING_DIM;
        let mut mean = [0.0f32; EMBEDDING_DIM];
        for v in vectors {
            self.embeddings.extend_from_slice(&v.0);
            for (m, x) in mean.iter_mut().zip(v.0.iter()) {
                *m += x;
            }
        }
        let centroid = Embedding::from_raw(&mean).unwrap_or(vectors[0]);
        let scale = quantise(&centroid.0, &mut self.centroids_i8);
        self.centroid_scale.push(scale);
        self.rows.push(start..start + vectors.len());
        self.people.push(person);
    }

    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn len(&self) -> usize {
        self.people.len()
    }

    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    pub fn person(&self, index: usize) -> &PersonInfo {
        &self.people[index]
    }

    pub fn people(&self) -> &[PersonInfo] {
        &self.people
    }

    /// Bytes held by the search structures.
    pub fn memory_bytes(&self) -> usize {
        self.embeddings.len() * 4 + self.centroids_i8.len() + self.centroid_scale.len() * 4 + self.rows.len() * 16
    }

    /// Index of the person with this id (a linear scan: for 1:1
    /// verification, once per passage, not per frame).
    pub fn find(&self, id: &str) -> Option<usize> {
        self.people.iter().position(|p| p.id == id)
    }

    /// The embeddings enrolled for person `index`.
    pub fn embeddings_of(&self, index: usize) -> impl Iterator<Item = Embedding> + '_ {
        self.rows[index].clone().filter_map(|r| {
            let v = &self.embeddings[r * EMBEDDING_DIM..(r + 1) * EMBEDDING_DIM];
            v.try_into().ok().map(Embedding)
        })
    }

    /// Exact similarity of `probe` to person `index`: the best cosine over their embeddings.
    pub fn similarity_to(&self, index: usize, probe: &Embedding) -> f32 {
        self.rows[index]
            .clone()
            .map(|r| dot_f32(&self.embeddings[r * EMBEDDING_DIM..(r + 1) * EMBEDDING_DIM], &probe.0))
            .fold(f32::MIN, f32::max)
    }

    /// The best cosine of `probe` to a face marked "not person `index`".
    pub fn negative_similarity(&self, index: usize, probe: &Embedding) -> Option<f32> {
        self.negative_rows
            .get(index)?
            .clone()
            .map(|r| dot_f32(&self.negatives[r * EMBEDDING_DIM..(r + 1) * EMBEDDING_DIM], &probe.0))
            .reduce(f32::max)
    }

    /// The `k` most similar people, best first (two-stage search, see module doc).
    pub fn search(&self, probe: &Embedding, k: usize, rerank: usize) -> Vec<Candidate> {
        if self.people.is_empty() || k == 0 {
            return Vec::new();
        }
        let rerank = rerank.max(k);
        let mut q = Vec::with_capacity(EMBEDDING_DIM);
        let q_scale = quantise(&probe.0, &mut q);
        let mut heap: BinaryHeap<Scored> = BinaryHeap::with_capacity(rerank + 1);
        scan(&self.centroids_i8, &self.centroid_scale, &q, q_scale, |i, approx| {
            if heap.len() < rerank {
                heap.push(Scored(approx, i));
            } else if heap.peek().is_some_and(|worst| approx > worst.0) {
                heap.pop();
                heap.push(Scored(approx, i));
            }
        });
        let mut out: Vec<Candidate> = heap
            .into_iter()
            .map(|Scored(_, i)| Candidate { person: i, similarity: self.similarity_to(i, probe) })
            .collect();
        out.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
        out.truncate(k);
        out
    }

    /// Exhaustive exact search (reference for tests and benchmarks).
    pub fn search_exact(&self, probe: &Embedding, k: usize) -> Vec<Candidate> {
        let mut out: Vec<Candidate> =
            (0..self.people.len()).map(|i| Candidate { person: i, similarity: self.similarity_to(i, probe) }).collect();
        out.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
        out.truncate(k);
        out
    }
}

/// The durable gallery in `sled`.
pub struct GalleryStore {
    db: sled::Db,
    people: sled::Tree,
    meta: sled::Tree,
}

const VERSION_KEY: &[u8] = b"version";

impl GalleryStore {
    pub fn open(path: &Path) -> Result<GalleryStore, GalleryError> {
        let db = sled::open(path)
            .map_err(|e| GalleryError::Open { path: path.display().to_string(), reason: e.to_string() })?;
        let people = db.open_tree("people")?;
        let meta = db.open_tree("meta")?;
        Ok(GalleryStore { db, people, meta })
    }

    pub fn version(&self) -> Result<u64, GalleryError> {
        Ok(self.meta.get(VERSION_KEY)?.map(|v| read_u64(&v)).unwrap_or(0))
    }

    /// Inserts or replaces a person; the gallery version becomes `version`
    /// (or the next version when `None`). Durable on return.
    pub fn upsert(&self, mut record: PersonRecord, version: Option<u64>) -> Result<u64, GalleryError> {
        let v = version.unwrap_or(self.version()? + 1);
        record.version = v;
        let bytes = serde_json::to_vec(&record)
            .map_err(|e| GalleryError::Corrupt { key: record.person.id.clone(), reason: e.to_string() })?;
        self.people.insert(record.person.id.as_bytes(), bytes)?;
        self.meta.insert(VERSION_KEY, &v.to_be_bytes())?;
        self.db.flush()?;
        Ok(v)
    }

    /// Removes a person (deletion on request, expiry); durable on return.
    pub fn remove(&self, id: &str, version: Option<u64>) -> Result<bool, GalleryError> {
        let v = version.unwrap_or(self.version()? + 1);
        let existed = self.people.remove(id.as_bytes())?.is_some();
        self.meta.insert(VERSION_KEY, &v.to_be_bytes())?;
        self.db.flush()?;
        Ok(existed)
    }

    /// Sets the gallery version (after a sync); durable on return.
    pub fn set_version(&self, version: u64) -> Result<(), GalleryError> {
        self.meta.insert(VERSION_KEY, &version.to_be_bytes())?;
        self.db.flush()?;
        Ok(())
    }

    /// Deletes people whose enrolment expired at or before `now` (unix
    /// seconds): an expired visitor's embeddings do not linger on the edge,
    /// even while it cannot reach the admin API. The version is unchanged (the
    /// admin API's own expiry reaches the edge as a removal later).
    pub fn purge_expired(&self, now: i64) -> Result<Vec<String>, GalleryError> {
        let mut gone = Vec::new();
        for r in self.records()? {
            if r.person.valid_until.is_some_and(|t| t <= now) {
                self.people.remove(r.person.id.as_bytes())?;
                gone.push(r.person.id);
            }
        }
        if !gone.is_empty() {
            self.db.flush()?;
        }
        Ok(gone)
    }

    /// The earliest expiry (unix seconds) among cached people, if any.
    pub fn next_expiry(&self) -> Result<Option<i64>, GalleryError> {
        Ok(self.records()?.iter().filter_map(|r| r.person.valid_until).min())
    }

    /// The earliest start of validity after `now` (unix seconds), if any:
    /// when it comes, the searchable gallery must be rebuilt to include them.
    pub fn next_activation(&self, now: i64) -> Result<Option<i64>, GalleryError> {
        Ok(self.records()?.iter().filter_map(|r| r.person.valid_from).filter(|t| *t > now).min())
    }

    pub fn records(&self) -> Result<Vec<PersonRecord>, GalleryError> {
        self.people
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                serde_json::from_slice(&v).map_err(|e| GalleryError::Corrupt {
                    key: String::from_utf8_lossy(&k).into_owned(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    /// Loads the searchable gallery for `model_id` as of `now` (unix seconds).
    pub fn load(&self, model_id: &str, now: i64) -> Result<Gallery, GalleryError> {
        let records = self.records()?;
        Ok(Gallery::from_records(model_id, self.version()?, &records, now))
    }
}

fn read_u64(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

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
