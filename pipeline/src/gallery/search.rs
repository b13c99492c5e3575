//! The in-memory, two-stage search over one model's enrolled embeddings
//! (see the module above for why it is two-stage).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, RwLock};

use wire::{EMBEDDING_DIM, Embedding, PersonInfo, PersonRecord};

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
