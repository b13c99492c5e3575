//! Identity is a property of a track, not of a frame.
//!
//! A track collects up to `max_samples` embeddings of its best-quality faces;
//! when a decision is needed their normalised mean is searched in the gallery,
//! and the track is `Known` only when the best person's similarity reaches
//! `threshold` **and** beats the second-best person by `margin`. A stranger
//! who resembles two enrolled people a little is therefore `Unknown`, not
//! "matched with high similarity" to one of them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::gallery::Gallery;
use wire::Category;
use wire::{EMBEDDING_DIM, Embedding};

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityConfig {
    /// Minimum cosine similarity for a match.
    pub threshold: f32,
    /// Minimum lead of the best person over the second best.
    pub margin: f32,
    /// Embeddings kept per leg of a track (the stretches between its turns;
    /// the best by quality).
    pub max_samples: usize,
    /// Embeddings computed per leg at most, and twice that per track (bounds
    /// the cost of a long track, and of one that sways back and forth).
    pub max_embeds_per_track: u32,
    /// Time between two embedding attempts on the same track, milliseconds.
    pub embed_every_ms: u64,
    /// Faces a track needs for its identity to be decided ahead of its
    /// crossing, so that a watch-listed person's alert need not wait for the
    /// passage (an unknown face is decided early only once the leg's
    /// embeddings are all spent). 0 decides only at the crossing.
    pub decide_early_after: usize,
    /// Replaced by `embed_every_ms`. Kept only to say so when an old
    /// configuration has it.
    #[serde(skip_serializing)]
    pub embed_every_frames: Option<u32>,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        IdentityConfig {
            threshold: 0.42,
            margin: 0.06,
            max_samples: 5,
            max_embeds_per_track: 7,
            embed_every_ms: 80,
            decide_early_after: 2,
            embed_every_frames: None,
        }
    }
}

impl IdentityConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.embed_every_frames.is_some() {
            return Err("embed_every_frames (frames) is replaced by embed_every_ms (milliseconds), so that cameras \
                        at different frame rates behave alike; e.g. embed_every_frames = 2 at 25 fps is \
                        embed_every_ms = 80"
                .into());
        }
        if !(-1.0..=1.0).contains(&self.threshold) || !(0.0..=2.0).contains(&self.margin) {
            return Err("threshold must be within -1..1 and margin within 0..2".into());
        }
        if self.decide_early_after > self.max_samples {
            return Err(format!(
                "decide_early_after ({}) must be at most max_samples ({}): a track never holds more faces",
                self.decide_early_after, self.max_samples
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Identity {
    Known { person_id: String, name: String, category: Category, similarity: f32 },
    Unknown { best_similarity: Option<f32> },
}

impl Identity {
    pub fn person_id(&self) -> Option<&str> {
        match self {
            Identity::Known { person_id, .. } => Some(person_id),
            Identity::Unknown { .. } => None,
        }
    }

    pub fn similarity(&self) -> Option<f32> {
        match self {
            Identity::Known { similarity, .. } => Some(*similarity),
            Identity::Unknown { best_similarity } => *best_similarity,
        }
    }
}

/// The best faces of one track (or one leg of it), each with the stream time
/// it was seen at.
#[derive(Debug, Clone, Default)]
pub struct FaceSamples {
    samples: Vec<Sample>,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    quality: f32,
    embedding: Embedding,
    seen_at: Duration,
}

impl FaceSamples {
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// When the earliest kept face was seen.
    pub fn first_seen(&self) -> Option<Duration> {
        self.samples.iter().map(|s| s.seen_at).min()
    }

    /// When the latest kept face was seen.
    pub fn last_seen(&self) -> Option<Duration> {
        self.samples.iter().map(|s| s.seen_at).max()
    }

    /// Would a face of this quality be kept?
    pub fn wants(&self, quality: f32, max: usize) -> bool {
        self.samples.len() < max || self.samples.iter().any(|s| s.quality < quality)
    }

    /// [`FaceSamples::wants`], counting faces still being embedded (their
    /// qualities) as if they were kept already: the answer the inline
    /// recogniser would have given.
    pub fn wants_counting(&self, in_flight: impl Iterator<Item = f32>, quality: f32, max: usize) -> bool {
        if max == 0 {
            return false;
        }
        let mut kept: Vec<f32> = self.samples.iter().map(|s| s.quality).chain(in_flight).collect();
        if kept.len() < max {
            return true;
        }
        kept.sort_by(|a, b| b.total_cmp(a));
        kept[max - 1] < quality
    }

    /// Keeps the embedding if it is among the `max` best so far.
    pub fn offer(&mut self, quality: f32, embedding: Embedding, max: usize) {
        self.offer_seen_at(Duration::ZERO, quality, embedding, max);
    }

    /// [`FaceSamples::offer`] for a face seen at stream time `seen_at`.
    pub fn offer_seen_at(&mut self, seen_at: Duration, quality: f32, embedding: Embedding, max: usize) {
        let sample = Sample { quality, embedding, seen_at };
        if self.samples.len() < max {
            self.samples.push(sample);
        } else if let Some(worst) = self.samples.iter_mut().min_by(|a, b| a.quality.total_cmp(&b.quality))
            && worst.quality < quality
        {
            *worst = sample;
        }
    }

    /// Moves out the faces seen at or after `at`.
    pub fn split_off_from(&mut self, at: Duration) -> FaceSamples {
        let (later, earlier): (Vec<Sample>, Vec<Sample>) = self.samples.iter().partition(|s| s.seen_at >= at);
        self.samples = earlier;
        FaceSamples { samples: later }
    }

    /// Adds every sample of `other` (no cap: a decision's evidence, not a track's store).
    pub fn extend_from(&mut self, other: &FaceSamples) {
        self.samples.extend(other.samples.iter().copied());
    }

    /// The normalised mean of the kept embeddings.
    pub fn mean(&self) -> Option<Embedding> {
        let mut sum = [0.0f32; EMBEDDING_DIM];
        for s in &self.samples {
            for (acc, x) in sum.iter_mut().zip(s.embedding.0.iter()) {
                *acc += x;
            }
        }
        Embedding::from_raw(&sum)
    }
}

/// Mean embeddings of one person's faces agree at least this much: SFace puts
/// the same person at cosine 0.62 and more, different people at 0.47 and less
/// (notes on the models); means of several faces spread less than single faces.
pub const SAME_PERSON: f32 = 0.5;

/// One leg of a track, as [`leg_evidence`] sees it.
pub struct LegFaces<'a> {
    pub faces: &'a FaceSamples,
    /// The leg began where the track had been lost for a while: it may have
    /// been re-found on someone else, so no other leg speaks for it, nor it
    /// for them, unless their faces agree.
    pub after_gap: bool,
}

/// The faces that speak for a crossing made in leg `k` of a track (a track's
/// legs are the stretches between its turns): leg `k`'s own, joined by those
/// of every other leg that agrees with them (a U-turn: the same person both
/// ways). When leg `k` saw no face — someone who walks back with their back to
/// the camera — the nearest earlier leg that did speaks for it (else the
/// nearest later one), provided the track was followed without a gap from that
/// leg to this one. A leg that disagrees is
/// someone else (a track that passed from one person to another where one
/// left and the other came in) and never names this crossing; neither does
/// one beyond a gap, when this leg has no face to compare with: better
/// unknown than someone else's name.
pub fn leg_evidence(legs: &[LegFaces], k: usize) -> Evidence {
    let mut out = Evidence::default();
    let own = match legs.get(k).and_then(|l| l.faces.mean()) {
        Some(mean) => mean,
        None => {
            // A leg starting after a gap cuts the track in two for borrowing.
            let earlier = (0..k).rev().take_while(|&j| !legs[j + 1].after_gap);
            let later = (k + 1..legs.len()).take_while(|&j| !legs[j].after_gap);
            if let Some(j) = earlier.chain(later).find(|&j| !legs[j].faces.is_empty()) {
                out.faces.extend_from(legs[j].faces);
                out.legs.push(j);
            }
            return out;
        }
    };
    for (j, leg) in legs.iter().enumerate() {
        if j == k || leg.faces.mean().is_some_and(|m| m.cosine(&own) >= SAME_PERSON) {
            out.faces.extend_from(leg.faces);
            out.legs.push(j);
        }
    }
    out
}

/// What [`leg_evidence`] found: the faces, and the legs they came from.
#[derive(Debug, Default)]
pub struct Evidence {
    pub faces: FaceSamples,
    pub legs: Vec<usize>,
}

/// Decides who a track is (see the module doc).
pub fn decide(samples: &FaceSamples, gallery: &Gallery, cfg: &IdentityConfig) -> Identity {
    let Some(probe) = samples.mean() else { return Identity::Unknown { best_similarity: None } };
    let top = gallery.search(&probe, 2, 16);
    let Some(best) = top.first() else { return Identity::Unknown { best_similarity: None } };
    let second = top.get(1).map(|c| c.similarity).unwrap_or(-1.0);
    tracing::debug!(
        best = %gallery.person(best.person).id,
        similarity = best.similarity,
        second,
        samples = samples.len(),
        "identity decision"
    );
    // An admin said a face like this one is not this person ("this is not
    // X"): when the probe is at least as close to that face as to X's own
    // photos, the same mistake is not made again.
    if let Some(wrong) = gallery.negative_similarity(best.person, &probe)
        && wrong >= best.similarity
    {
        tracing::debug!(person = %gallery.person(best.person).id, wrong, "match refused by a correction");
        return Identity::Unknown { best_similarity: Some(best.similarity) };
    }
    if best.similarity >= cfg.threshold && best.similarity - second >= cfg.margin {
        let p = gallery.person(best.person);
        Identity::Known {
            person_id: p.id.clone(),
            name: p.name.clone(),
            category: p.category,
            similarity: best.similarity,
        }
    } else {
        Identity::Unknown { best_similarity: Some(best.similarity) }
    }
}

/// 1:1 verification against one expected person (exam and driving-test centres).
pub fn verify(samples: &FaceSamples, expected: &[Embedding], cfg: &IdentityConfig) -> Option<f32> {
    let probe = samples.mean()?;
    expected
        .iter()
        .map(|e| e.cosine(&probe))
        .fold(None, |m: Option<f32>, s| Some(m.map_or(s, |m| m.max(s))))
        .filter(|s| *s >= cfg.threshold)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::PersonInfo;

    fn unit(i: usize) -> Embedding {
        let mut v = [0.0f32; EMBEDDING_DIM];
        v[i] = 1.0;
        Embedding(v)
    }

    #[test]
    fn faces_being_embedded_count_as_kept() {
        let mut s = FaceSamples::default();
        s.offer(0.5, unit(0), 3);
        // Two more in flight: 0.9 and 0.7 — the three best would be 0.9, 0.7, 0.5.
        fn q(v: &[f32]) -> impl Iterator<Item = f32> + '_ {
            v.iter().copied()
        }
        assert!(s.wants_counting(q(&[0.9]), 0.1, 3), "room for a third");
        assert!(!s.wants_counting(q(&[0.9, 0.7]), 0.4, 3), "worse than the worst of the three best");
        assert!(s.wants_counting(q(&[0.9, 0.7]), 0.6, 3), "better than 0.5");
        assert_eq!(s.wants_counting(q(&[]), 0.4, 1), s.wants(0.4, 1));
        assert!(!s.wants_counting(q(&[]), 0.9, 0));
    }

    fn mix(a: usize, wa: f32, b: usize, wb: f32) -> Embedding {
        let mut v = [0.0f32; EMBEDDING_DIM];
        v[a] = wa;
        v[b] = wb;
        Embedding::from_raw(&v).expect("non-zero")
    }

    fn gallery() -> Gallery {
        let mut g = Gallery::new("m");
        for (i, id) in ["alice", "bob"].iter().enumerate() {
            g.add(
                PersonInfo {
                    id: id.to_string(),
                    name: id.to_string(),
                    category: Category::Staff,
                    cccd: None,
                    valid_until: None,
                    valid_from: None,
                },
                &[unit(i)],
            );
        }
        g
    }

    #[test]
    fn a_clear_match_is_known() {
        let mut s = FaceSamples::default();
        s.offer(0.9, mix(0, 0.9, 5, 0.4), 5);
        let id = decide(&s, &gallery(), &IdentityConfig::default());
        assert_eq!(id.person_id(), Some("alice"));
    }

    #[test]
    fn a_stranger_resembling_two_people_equally_is_unknown() {
        let mut s = FaceSamples::default();
        s.offer(0.9, mix(0, 1.0, 1, 1.0), 5); // cosine 0.707 to both
        let id = decide(&s, &gallery(), &IdentityConfig::default());
        assert!(matches!(id, Identity::Unknown { best_similarity: Some(x) } if x > 0.7), "{id:?}");
    }

    #[test]
    fn a_weak_resemblance_is_unknown() {
        let mut s = FaceSamples::default();
        s.offer(0.9, mix(0, 0.3, 7, 1.0), 5);
        assert!(matches!(decide(&s, &gallery(), &IdentityConfig::default()), Identity::Unknown { .. }));
    }

    #[test]
    fn only_the_best_samples_are_kept() {
        let mut s = FaceSamples::default();
        for (i, q) in [0.1, 0.5, 0.3, 0.9].iter().enumerate() {
            s.offer(*q, unit(i), 2);
        }
        assert_eq!(s.len(), 2);
        assert!(!s.wants(0.4, 2) && s.wants(0.6, 2));
    }

    fn samples_of(embeddings: &[Embedding]) -> FaceSamples {
        let mut s = FaceSamples::default();
        for e in embeddings {
            s.offer(0.9, *e, 10);
        }
        s
    }

    fn legs<'a>(faces: &'a [FaceSamples], after_gap: &[bool]) -> Vec<LegFaces<'a>> {
        faces.iter().zip(after_gap).map(|(faces, &after_gap)| LegFaces { faces, after_gap }).collect()
    }

    #[test]
    fn a_leg_speaks_with_the_legs_that_agree_and_never_with_others() {
        let alice = mix(0, 0.9, 5, 0.4);
        let alice_again = mix(0, 0.85, 6, 0.5);
        let bob = mix(1, 0.9, 5, 0.4);
        // A U-turn: both legs are alice; each crossing uses both.
        let faces = [samples_of(&[alice]), samples_of(&[alice_again])];
        assert_eq!(leg_evidence(&legs(&faces, &[false, false]), 1).faces.len(), 2);
        // A track that passed from alice to bob: bob's crossing is bob's alone.
        let faces = [samples_of(&[alice, alice_again]), samples_of(&[bob])];
        let evidence = leg_evidence(&legs(&faces, &[false, false]), 1).faces;
        assert_eq!(evidence.len(), 1);
        assert_eq!(decide(&evidence, &gallery(), &IdentityConfig::default()).person_id(), Some("bob"));
        assert_eq!(leg_evidence(&legs(&faces, &[false, false]), 0).faces.len(), 2, "and alice's is alice's");
    }

    #[test]
    fn a_leg_that_saw_no_face_borrows_the_nearest_that_did_but_not_across_a_gap() {
        let alice = mix(0, 0.9, 5, 0.4);
        let faces = [samples_of(&[alice]), FaceSamples::default(), FaceSamples::default()];
        assert_eq!(leg_evidence(&legs(&faces, &[false, false, false]), 2).faces.len(), 1);
        assert!(
            leg_evidence(&legs(&faces, &[false, false, true]), 2).faces.is_empty(),
            "a leg re-found after a gap may be someone else: unknown rather than alice"
        );
        assert!(leg_evidence(&legs(&faces, &[false, true, false]), 2).faces.is_empty(), "a gap further back cuts too");
        let faces = [FaceSamples::default(), samples_of(&[alice])];
        assert_eq!(
            leg_evidence(&legs(&faces, &[false, false]), 0).faces.len(),
            1,
            "a later leg when no earlier one saw a face"
        );
        assert!(leg_evidence(&legs(&faces, &[false, true]), 0).faces.is_empty());
        assert!(leg_evidence(&legs(&[FaceSamples::default()], &[false]), 0).faces.is_empty());
    }

    #[test]
    fn faces_split_by_when_they_were_seen() {
        let mut s = FaceSamples::default();
        for (t, i) in [(1, 0), (2, 1), (3, 2)] {
            s.offer_seen_at(Duration::from_secs(t), 0.9, unit(i), 5);
        }
        let later = s.split_off_from(Duration::from_secs(2));
        assert_eq!((s.len(), later.len()), (1, 2));
    }

    #[test]
    fn a_correction_stops_the_same_mistake() {
        // A stranger's face (mostly axis 2, a bit of alice) matched alice once.
        let stranger = mix(2, 0.75, 0, 0.66);
        let mut samples = FaceSamples::default();
        samples.offer(0.9, stranger, 3);
        let cfg = IdentityConfig { threshold: 0.5, margin: 0.05, ..Default::default() };
        assert_eq!(decide(&samples, &gallery(), &cfg).person_id(), Some("alice"));
        // An admin marks that passage "not alice": its face becomes alice's negative.
        let mut corrected = Gallery::new("m");
        let info = |id: &str| PersonInfo {
            id: id.into(),
            name: id.into(),
            category: Category::Staff,
            cccd: None,
            valid_until: None,
            valid_from: None,
        };
        corrected.add_with_negatives(info("alice"), &[unit(0)], &[mix(2, 0.8, 0, 0.6)]);
        corrected.add(info("bob"), &[unit(1)]);
        assert_eq!(decide(&samples, &corrected, &cfg).person_id(), None, "the same stranger is no longer alice");
        // Alice herself is still recognised.
        let mut alice = FaceSamples::default();
        alice.offer(0.9, mix(0, 0.95, 3, 0.3), 3);
        assert_eq!(decide(&alice, &corrected, &cfg).person_id(), Some("alice"));
    }
}
