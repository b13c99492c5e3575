//! Gallery search latency per probe, and memory, at growing gallery sizes.
//!
//! Synthetic unit vectors (deterministic), 3 embeddings per person; probes are
//! noisy copies of enrolled embeddings so that the true person is known and
//! the two-stage search's answer can be checked against the exhaustive one.
//! One thread (the search is single-threaded by design).
//!
//! ```text
//! cargo run --release -p benches --bin gallery_search -- [--sizes 1000,10000,100000] [--probes 200]
//! ```

use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use pipeline::embed::{EMBEDDING_DIM, Embedding};
use pipeline::fixture::Category;
use pipeline::gallery::{Gallery, PersonInfo};
use pipeline::stats::percentile;

#[derive(Parser)]
struct Args {
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    sizes: Vec<usize>,
    #[arg(long, default_value_t = 200)]
    probes: usize,
    #[arg(long, default_value = "benches/results")]
    out: std::path::PathBuf,
}

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

fn main() -> Result<()> {
    let args = Args::parse();
    let mut rows = Vec::new();
    println!(
        "| enrolled people | embeddings | p50 µs/probe | p99 µs/probe | exhaustive p50 µs | top-1 agrees | memory MB |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &n in &args.sizes {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n as u64);
        let mut g = Gallery::new("bench");
        let mut bases = Vec::with_capacity(n);
        for i in 0..n {
            let base = rng.unit();
            let photos = [base, rng.near(&base, 0.5), rng.near(&base, 0.5)];
            g.add(
                PersonInfo {
                    id: format!("p{i}"),
                    name: String::new(),
                    category: Category::Visitor,
                    cccd: None,
                    valid_until: None,
                    valid_from: None,
                },
                &photos,
            );
            bases.push(base);
        }
        let probes: Vec<(usize, Embedding)> = (0..args.probes)
            .map(|k| {
                let who = (k * 7919) % n;
                (who, rng.near(&bases[who], 0.8))
            })
            .collect();
        let (mut fast, mut exact, mut agree) = (Vec::new(), Vec::new(), 0usize);
        for (who, p) in &probes {
            let t = Instant::now();
            let top = g.search(p, 2, 16);
            fast.push(t.elapsed().as_secs_f32() * 1e6);
            if n <= 100_000 || exact.len() < 20 {
                let t = Instant::now();
                let ex = g.search_exact(p, 1);
                exact.push(t.elapsed().as_secs_f32() * 1e6);
                agree += usize::from(ex[0].person == top[0].person);
            } else {
                agree += usize::from(top[0].person == *who);
            }
        }
        let row = serde_json::json!({
            "people": n, "embeddings": 3 * n,
            "p50_us": percentile(&fast, 50.0), "p99_us": percentile(&fast, 99.0),
            "exhaustive_p50_us": percentile(&exact, 50.0),
            "top1_agreement": agree as f64 / probes.len() as f64,
            "memory_mb": g.memory_bytes() as f64 / 1e6,
        });
        println!(
            "| {n} | {} | {:.0} | {:.0} | {:.0} | {:.3} | {:.1} |",
            3 * n,
            percentile(&fast, 50.0),
            percentile(&fast, 99.0),
            percentile(&exact, 50.0),
            agree as f64 / probes.len() as f64,
            g.memory_bytes() as f64 / 1e6
        );
        rows.push(row);
    }
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("gallery_search.json"), serde_json::to_string_pretty(&rows)?)?;
    Ok(())
}
