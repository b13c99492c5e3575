//! Section 5: gallery search latency per probe at 1k, 10k, 100k and 1M
//! enrolled embeddings (criterion), with the gallery's memory and whether
//! the two-stage search finds the same person as an exhaustive one.
//!
//! Synthetic, deterministic vectors shaped like real face embeddings rather
//! than random near-orthogonal ones: every face shares a common component,
//! people fall into look-alike groups (faces within a group sit at cosine
//! ≈ 0.35, across groups ≈ 0.1, as SFace impostors do), and each person is
//! enrolled with 5 photos near their own face (cosine ≈ 0.7 to it, ≈ 0.5 to
//! each other). Probes are fresh views of an enrolled person, drawn like the
//! photos. Sizes count embeddings, so 1 M embeddings are 200 000 people.
//! One thread.
//!
//! `cargo bench -p benches --bench gallery_search`; criterion's estimates go
//! to `target/criterion/gallery_search/<size>/`, the rest to
//! `benches/results/gallery.json`, and `gatewatch-bench report` reads both.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use pipeline::gallery::Gallery;
use wire::{Category, EMBEDDING_DIM, Embedding, PersonInfo};

const SIZES: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];
const PROBES: usize = 256;
/// Candidates the search keeps from its first stage, and answers returned.
const RERANK: usize = 16;
const TOP: usize = 2;
/// Photos enrolled per person.
const PER_PERSON: usize = 5;
/// Look-alike groups the people fall into.
const GROUPS: usize = 64;
/// Noise that turns a person's face into one photo of it (cosine ≈ 0.7).
const VIEW_NOISE: f32 = 1.7;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 2_000_001) as f32 / 1_000_000.0 - 1.0
    }

    fn unit(&mut self) -> Embedding {
        let v: Vec<f32> = (0..EMBEDDING_DIM).map(|_| self.next()).collect();
        Embedding::from_raw(&v).unwrap_or(Embedding([1.0 / (EMBEDDING_DIM as f32).sqrt(); EMBEDDING_DIM]))
    }

    fn near(&mut self, e: &Embedding, amount: f32) -> Embedding {
        let v: Vec<f32> = e.0.iter().map(|x| x + amount * self.next() / (EMBEDDING_DIM as f32).sqrt()).collect();
        Embedding::from_raw(&v).unwrap_or(*e)
    }
}

/// Weighted sum of unit vectors, normalised.
fn mix(parts: &[(f32, &Embedding)]) -> Embedding {
    let v: Vec<f32> = (0..EMBEDDING_DIM).map(|i| parts.iter().map(|(w, e)| w * e.0[i]).sum()).collect();
    Embedding::from_raw(&v).unwrap_or(*parts[0].1)
}

fn gallery(n: usize) -> (Gallery, Vec<(usize, Embedding)>) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n as u64);
    let common = rng.unit();
    let groups: Vec<Embedding> = (0..GROUPS).map(|_| rng.unit()).collect();
    let people = n / PER_PERSON;
    let mut g = Gallery::new("bench");
    let mut bases = Vec::with_capacity(people);
    for i in 0..people {
        let own = rng.unit();
        let base = mix(&[(0.35, &common), (0.5, &groups[i % GROUPS]), (0.8, &own)]);
        let photos: Vec<Embedding> = (0..PER_PERSON).map(|_| rng.near(&base, VIEW_NOISE)).collect();
        let info = PersonInfo {
            id: format!("p{i}"),
            name: String::new(),
            category: Category::Visitor,
            cccd: None,
            valid_until: None,
            valid_from: None,
        };
        g.add(info, &photos);
        bases.push(base);
    }
    let probes = (0..PROBES)
        .map(|k| {
            let who = (k * 7919) % people;
            (who, rng.near(&bases[who], VIEW_NOISE))
        })
        .collect();
    (g, probes)
}

fn search(c: &mut Criterion) {
    let mut facts = Vec::new();
    let mut group = c.benchmark_group("gallery_search");
    group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    for n in SIZES {
        let (g, probes) = gallery(n);
        let agree = probes
            .iter()
            .take(if n > 100_000 { 16 } else { PROBES })
            .map(|(_, p)| g.search_exact(p, 1)[0].person == g.search(p, TOP, RERANK)[0].person)
            .collect::<Vec<bool>>();
        let truth = probes.iter().filter(|(who, p)| g.search(p, TOP, RERANK)[0].person == *who).count();
        facts.push(serde_json::json!({
            "embeddings": n,
            "memory_mb": g.memory_bytes() as f64 / 1e6,
            "agrees_with_exhaustive": agree.iter().filter(|a| **a).count() as f64 / agree.len() as f64,
            "finds_the_probed_person": truth as f64 / probes.len() as f64,
        }));
        let mut i = 0usize;
        group.bench_function(n.to_string(), |b| {
            b.iter(|| {
                i = (i + 1) % probes.len();
                black_box(g.search(black_box(&probes[i].1), TOP, RERANK))
            })
        });
    }
    group.finish();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results");
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::write(dir.join("gallery.json"), serde_json::to_string_pretty(&facts).unwrap_or_default())
    });
    if let Err(e) = written {
        eprintln!("cannot write {}: {e}", dir.display());
    }
}

criterion_group!(benches, search);
criterion_main!(benches);
