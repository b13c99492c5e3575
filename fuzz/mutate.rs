//! Corpus-driven fuzzing with proptest, shared by the crates' fuzz tests
//! (`#[path]`-included): each case is a seed from `fuzz/corpus/<target>/`
//! with random byte-level mutations (flip, insert, delete, duplicate,
//! truncate), or random bytes. A failing case is shrunk by proptest and
//! printed; add it to the corpus as a regression seed.

use proptest::prelude::*;

/// Cases per target: `FUZZ_CASES` (default 20 000; `make soak` runs a million).
pub fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000)
}

pub fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut seeds: Vec<(std::path::PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds.into_iter().map(|(_, b)| b).collect()
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = bytes.len();
        match *e {
            Edit::Flip(i, x) if n > 0 => bytes[i % n] ^= x,
            Edit::Insert(i, x) => bytes.insert(i % (n + 1), x),
            Edit::Delete(i) if n > 0 => {
                bytes.remove(i % n);
            }
            Edit::Duplicate(i, len) if n > 0 => {
                let start = i % n;
                let end = (start + len % 64).min(n);
                let chunk = bytes[start..end].to_vec();
                bytes.splice(start..start, chunk);
            }
            Edit::Truncate(i) => bytes.truncate(i % (n + 1)),
            _ => {}
        }
    }
    bytes
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), 1u8..).prop_map(|(i, x)| Edit::Flip(i, x)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Edit::Insert(i, x)),
        2 => any::<usize>().prop_map(Edit::Delete),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(i, l)| Edit::Duplicate(i, l)),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ]
}

/// Seeds of `target`, mutated; and now and then plain random bytes.
pub fn inputs(target: &str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = corpus(target);
    prop_oneof![
        9 => (proptest::sample::select(seeds), proptest::collection::vec(edit(), 0..8))
            .prop_map(|(seed, edits)| apply(seed, &edits)),
        1 => proptest::collection::vec(any::<u8>(), 0..512),
    ]
}

/// The same, as text (lossy: invalid UTF-8 becomes U+FFFD).
pub fn text_inputs(target: &str) -> impl Strategy<Value = String> {
    inputs(target).prop_map(|b| String::from_utf8_lossy(&b).into_owned())
}
