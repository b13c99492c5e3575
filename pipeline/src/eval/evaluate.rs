//! Scoring found passages against a fixture's truth.
//!
//! **Pairing.** A found passage and a truth passage may pair when the found
//! crossing time lies within [`MATCH_TOLERANCE_S`] of the truth's `t_cross`
//! (older truth files without it: of the truth's span) and, where both say
//! where along the line the person crossed, within [`POSITION_TOLERANCE`] of
//! it. Pairs are one-to-one and chosen by an optimal assignment: as many pairs
//! as possible, then the least total gap — so two people crossing side by
//! side, whose times are all close, are not swapped as a greedy "closest
//! first" pairing swaps them. Direction and identity play no part in pairing;
//! they are scored on the pairs.
//!
//! **Scores.** `recall` = paired ÷ expected; `precision` = paired ÷ found.
//! Identity, for each pair: `correct` when it agrees (the same enrolled
//! person, or unknown for a stranger); `false_accept` when a stranger or a
//! different person is named (`wrong_person` counts the latter alone);
//! `false_reject` when an enrolled person is reported unknown. A found
//! passage with no truth that names someone is a false accept too (someone
//! was let in under a name). Identity accuracy divides by the truth passages,
//! so a missed passage counts against it; direction accuracy divides by the
//! pairs.

use serde::Serialize;

use crate::eval::fixture::{Truth, TruthPassage};
use crate::eval::stats::{Percentiles, StageTimings, percentiles};
use crate::tracking::assignment::{Unpaired, assign};
use crate::tracking::passage::{Passage, Sighting};
use wire::Direction;

/// How far a found crossing time may be from the truth's, seconds. A crossing
/// is timed by interpolating between the sightings either side of the line,
/// which for a face hidden at the line (a post, a turned head) is only as good
/// as the assumption that the walk was steady meanwhile.
pub const MATCH_TOLERANCE_S: f64 = 1.0;

/// How far along the line (normalised, 0..1 from `a` to `b`) a found crossing
/// may be from the truth's.
pub const POSITION_TOLERANCE: f64 = 0.15;

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PassageCounts {
    pub expected: usize,
    pub found: usize,
    pub matched: usize,
    /// matched ÷ expected (1 when nothing was expected).
    pub recall: f64,
    /// matched ÷ found (1 when nothing was found).
    pub precision: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct IdentityCounts {
    pub correct: usize,
    pub wrong_person: usize,
    pub false_accept: usize,
    pub false_reject: usize,
    pub accuracy: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct DirectionCounts {
    pub correct: usize,
    /// correct ÷ matched pairs.
    pub accuracy: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ExpectedFound {
    pub expected: usize,
    pub found: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct DirectionTotals {
    pub entry: ExpectedFound,
    pub exit: ExpectedFound,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Scores {
    pub passages: PassageCounts,
    pub identity: IdentityCounts,
    pub direction: DirectionCounts,
    pub counts: DirectionTotals,
}

/// p50/p99 per stage, milliseconds (see [`StageTimings`] for what one sample is).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageSummary {
    pub decode: Percentiles,
    pub detect: Percentiles,
    pub track: Percentiles,
    pub align: Percentiles,
    pub embed: Percentiles,
    #[serde(rename = "match")]
    pub matching: Percentiles,
}

impl From<&StageTimings> for StageSummary {
    fn from(t: &StageTimings) -> Self {
        StageSummary {
            decode: percentiles(&t.decode),
            detect: percentiles(&t.detect),
            track: percentiles(&t.track),
            align: percentiles(&t.align),
            embed: percentiles(&t.embed),
            matching: percentiles(&t.matching),
        }
    }
}

/// One replayed fixture (or the total over several): speed and accuracy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub name: String,
    pub frames: u64,
    pub seconds: f64,
    pub fps: f64,
    pub stages_ms: StageSummary,
    #[serde(flatten)]
    pub scores: Scores,
    /// Every found passage and the truth passage it was paired with (one
    /// fixture's report; absent from a total).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passages_found: Option<Vec<FoundReport>>,
    /// Truth passages nothing was paired with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passages_missed: Option<Vec<TruthPassage>>,
    /// Identities decided ahead of the crossing.
    pub early: EarlyCounts,
}

/// Identities decided ahead of the crossing ([`Sighting`]s: what an early
/// watch-list alert is raised from), scored against the truth of the
/// passages they announced.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EarlyCounts {
    /// Found passages of enrolled people, paired with the truth.
    pub enrolled_passages: usize,
    /// Of those, the ones whose person was named correctly before the
    /// passage was emitted.
    pub named_early: usize,
    /// Sightings that named someone.
    pub named: usize,
    /// Of those, the ones whose track made no passage the truth knows of
    /// (someone who turned back): nothing to check them against.
    pub unconfirmed: usize,
    /// Sightings that named someone the truth says is not the one who passed:
    /// each would have been a false early alert had they been watch-listed.
    pub wrong: usize,
    /// Crossing time minus decision time, ms, per passage named early
    /// (negative: decided during the wait after the crossing).
    pub lead_ms: Percentiles,
    /// Decision time minus the first face it used, ms (stream time: how long
    /// the person was in view with a usable face before being named).
    pub wait_ms: Percentiles,
    /// Decision time minus the last face it used, ms (stream time: the
    /// engine's part of an early alert's latency, from the frame that made
    /// the person recognisable).
    pub engine_ms: Percentiles,
    #[serde(skip)]
    leads: Vec<f32>,
    #[serde(skip)]
    waits: Vec<f32>,
    #[serde(skip)]
    engine: Vec<f32>,
}

impl EarlyCounts {
    /// `listing` is the evaluation of `passages`, in the same order.
    pub fn of(passages: &[Passage], sightings: &[Sighting], listing: &[FoundReport]) -> EarlyCounts {
        let ms = |d: std::time::Duration| d.as_secs_f32() * 1000.0;
        let mut c = EarlyCounts::default();
        for (p, f) in passages.iter().zip(listing) {
            let Some(person) = f.truth.as_ref().and_then(|t| t.person.as_deref()) else { continue };
            c.enrolled_passages += 1;
            if !(p.sighted_early && p.identity.person_id() == Some(person)) {
                continue;
            }
            c.named_early += 1;
            if let Some(s) = sightings.iter().find(|s| s.passage_id == p.id) {
                c.leads.push(ms(p.crossed_at) - ms(s.decided_at));
                c.waits.push(ms(s.decided_at.saturating_sub(s.first_face_at)));
                c.engine.push(ms(s.decided_at.saturating_sub(s.last_face_at)));
            }
        }
        for s in sightings {
            let Some(named) = s.identity.person_id() else { continue };
            c.named += 1;
            let mut truths = passages
                .iter()
                .zip(listing)
                .filter(|(p, _)| p.track == s.track)
                .filter_map(|(_, f)| f.truth.as_ref().map(|t| t.person.as_deref()))
                .peekable();
            if truths.peek().is_none() {
                c.unconfirmed += 1;
            } else if !truths.any(|t| t == Some(named)) {
                c.wrong += 1;
            }
        }
        c.finish();
        c
    }

    pub fn add(&mut self, o: &EarlyCounts) {
        self.enrolled_passages += o.enrolled_passages;
        self.named_early += o.named_early;
        self.named += o.named;
        self.unconfirmed += o.unconfirmed;
        self.wrong += o.wrong;
        self.leads.extend_from_slice(&o.leads);
        self.waits.extend_from_slice(&o.waits);
        self.engine.extend_from_slice(&o.engine);
        self.finish();
    }

    fn finish(&mut self) {
        self.lead_ms = percentiles(&self.leads);
        self.wait_ms = percentiles(&self.waits);
        self.engine_ms = percentiles(&self.engine);
    }
}

impl RunReport {
    pub fn new(name: &str, frames: u64, seconds: f64, timings: &StageTimings, scores: Scores) -> RunReport {
        let fps = if seconds > 0.0 { frames as f64 / seconds } else { 0.0 };
        RunReport {
            name: name.to_string(),
            frames,
            seconds,
            fps,
            stages_ms: timings.into(),
            scores,
            passages_found: None,
            passages_missed: None,
            early: EarlyCounts::default(),
        }
    }

    /// A fixture's report with its passage-by-passage listing.
    pub fn with_listing(mut self, evaluation: Evaluation) -> RunReport {
        self.passages_found = Some(evaluation.found);
        self.passages_missed = Some(evaluation.missed);
        self
    }
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 { 1.0 } else { n as f64 / d as f64 }
}

impl Scores {
    /// Sums counts and recomputes the ratios.
    pub fn add(&mut self, o: &Scores) {
        self.passages.expected += o.passages.expected;
        self.passages.found += o.passages.found;
        self.passages.matched += o.passages.matched;
        self.identity.correct += o.identity.correct;
        self.identity.wrong_person += o.identity.wrong_person;
        self.identity.false_accept += o.identity.false_accept;
        self.identity.false_reject += o.identity.false_reject;
        self.direction.correct += o.direction.correct;
        self.counts.entry.expected += o.counts.entry.expected;
        self.counts.entry.found += o.counts.entry.found;
        self.counts.exit.expected += o.counts.exit.expected;
        self.counts.exit.found += o.counts.exit.found;
        self.finish();
    }

    fn finish(&mut self) {
        self.passages.recall = ratio(self.passages.matched, self.passages.expected);
        self.passages.precision = ratio(self.passages.matched, self.passages.found);
        self.identity.accuracy = ratio(self.identity.correct, self.passages.expected);
        self.direction.accuracy = ratio(self.direction.correct, self.passages.matched);
    }
}

/// One found passage, reduced to what scoring and the listing need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Found {
    pub camera: String,
    pub track: u64,
    pub direction: Direction,
    pub person: Option<String>,
    pub similarity: Option<f32>,
    /// The track's first and last detection, and the crossing, seconds.
    pub t_start: f64,
    pub t_end: f64,
    pub t_cross: f64,
    /// Where along the line the track crossed, 0..1 from `a` to `b`.
    pub cross_pos: Option<f64>,
}

impl From<&Passage> for Found {
    fn from(p: &Passage) -> Self {
        Found {
            camera: p.camera.clone(),
            track: p.track,
            direction: p.direction,
            person: p.identity.person_id().map(str::to_string),
            similarity: p.identity.similarity(),
            t_start: p.first_seen.as_secs_f64(),
            t_end: p.last_seen.as_secs_f64(),
            t_cross: p.crossed_at.as_secs_f64(),
            cross_pos: Some(p.cross_pos as f64),
        }
    }
}

/// What became of one found passage.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Paired, right direction and right identity.
    Correct,
    WrongDirection,
    /// A stranger or another person named.
    FalseAccept,
    /// An enrolled person reported unknown.
    FalseReject,
    /// Paired with nothing: no one crossed then and there.
    Spurious,
}

/// One found passage in the listing, with its truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoundReport {
    #[serde(flatten)]
    pub found: Found,
    /// Index (in truth.json) and content of the truth passage it was paired with.
    pub truth_index: Option<usize>,
    pub truth: Option<TruthPassage>,
    pub verdicts: Vec<Verdict>,
}

/// Scores and the passage-by-passage listing of one fixture.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub scores: Scores,
    pub found: Vec<FoundReport>,
    pub missed: Vec<TruthPassage>,
}

/// The cost of pairing truth `t` with found `f`, if they may pair (see the module doc).
fn pair_cost(t: &TruthPassage, f: &Found) -> Option<f32> {
    let time = match t.t_cross {
        Some(tc) => (f.t_cross - tc).abs(),
        // Older truth: the crossing must fall within the person's span; among
        // people in view together, the one who appeared nearest the track's start.
        None => {
            let outside = (t.t_start - f.t_cross).max(f.t_cross - t.t_end).max(0.0);
            if outside > MATCH_TOLERANCE_S {
                return None;
            }
            (outside + (t.t_start - f.t_start).abs()).min(MATCH_TOLERANCE_S)
        }
    };
    if time > MATCH_TOLERANCE_S {
        return None;
    }
    match (t.cross_pos, f.cross_pos) {
        (Some(a), Some(b)) => {
            let d = (a - b).abs();
            (d <= POSITION_TOLERANCE).then_some(((time / MATCH_TOLERANCE_S + d / POSITION_TOLERANCE) / 2.0) as f32)
        }
        _ => Some((time / MATCH_TOLERANCE_S) as f32),
    }
}

/// Scores `found` against `truth` (see the module doc).
pub fn score(truth: &Truth, found: &[Found]) -> Scores {
    evaluate(truth, found).scores
}

/// [`score`], with the listing of every found and missed passage.
pub fn evaluate(truth: &Truth, found: &[Found]) -> Evaluation {
    let pairs =
        assign(truth.passages.len(), found.len(), |ti, fi| pair_cost(&truth.passages[ti], &found[fi]), Unpaired::Never);
    let mut truth_of = vec![None; found.len()];
    for &(ti, fi) in &pairs {
        truth_of[fi] = Some(ti);
    }
    let mut s = Scores::default();
    let mut listing = Vec::with_capacity(found.len());
    for (fi, f) in found.iter().enumerate() {
        let mut verdicts = Vec::new();
        match truth_of[fi] {
            Some(ti) => {
                let t = &truth.passages[ti];
                s.passages.matched += 1;
                if t.direction == f.direction {
                    s.direction.correct += 1;
                } else {
                    verdicts.push(Verdict::WrongDirection);
                }
                match (&t.person, &f.person) {
                    (a, b) if a == b => s.identity.correct += 1,
                    (None, Some(_)) => {
                        s.identity.false_accept += 1;
                        verdicts.push(Verdict::FalseAccept);
                    }
                    (Some(_), Some(_)) => {
                        s.identity.false_accept += 1;
                        s.identity.wrong_person += 1;
                        verdicts.push(Verdict::FalseAccept);
                    }
                    (Some(_), None) => {
                        s.identity.false_reject += 1;
                        verdicts.push(Verdict::FalseReject);
                    }
                    (None, None) => unreachable!("equal identities handled above"),
                }
                if verdicts.is_empty() {
                    verdicts.push(Verdict::Correct);
                }
            }
            None => {
                verdicts.push(Verdict::Spurious);
                if f.person.is_some() {
                    s.identity.false_accept += 1;
                    verdicts.push(Verdict::FalseAccept);
                }
            }
        }
        listing.push(FoundReport {
            found: f.clone(),
            truth_index: truth_of[fi],
            truth: truth_of[fi].map(|ti| truth.passages[ti].clone()),
            verdicts,
        });
    }
    let mut paired = vec![false; truth.passages.len()];
    for &(ti, _) in &pairs {
        paired[ti] = true;
    }
    let missed = truth.passages.iter().zip(&paired).filter(|(_, p)| !**p).map(|(t, _)| t.clone()).collect();
    s.passages.expected = truth.passages.len();
    s.passages.found = found.len();
    let count = |d: Direction, it: &mut dyn Iterator<Item = Direction>| it.filter(|x| *x == d).count();
    s.counts.entry.expected = count(Direction::Entry, &mut truth.passages.iter().map(|p| p.direction));
    s.counts.exit.expected = count(Direction::Exit, &mut truth.passages.iter().map(|p| p.direction));
    s.counts.entry.found = count(Direction::Entry, &mut found.iter().map(|p| p.direction));
    s.counts.exit.found = count(Direction::Exit, &mut found.iter().map(|p| p.direction));
    s.finish();
    Evaluation { scores: s, found: listing, missed }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(person: Option<&str>, dir: Direction, a: f64, b: f64, cross: f64) -> TruthPassage {
        TruthPassage {
            person: person.map(str::to_string),
            direction: dir,
            t_start: a,
            t_end: b,
            t_cross: Some(cross),
            cross_pos: None,
        }
    }

    fn f(person: Option<&str>, dir: Direction, cross: f64) -> Found {
        Found {
            camera: "c".into(),
            track: 1,
            direction: dir,
            person: person.map(str::to_string),
            similarity: None,
            t_start: cross - 1.0,
            t_end: cross + 1.0,
            t_cross: cross,
            cross_pos: None,
        }
    }

    #[test]
    fn identity_outcomes_are_classified() {
        use Direction::*;
        let truth = Truth {
            passages: vec![
                t(Some("a"), Entry, 0.0, 2.0, 1.0),
                t(None, Entry, 3.0, 5.0, 4.0),
                t(Some("b"), Exit, 6.0, 8.0, 7.0),
                t(Some("c"), Exit, 9.0, 11.0, 10.0),
                t(Some("d"), Entry, 12.0, 14.0, 13.0),
            ],
        };
        let found = vec![
            f(Some("a"), Entry, 1.1),  // correct
            f(Some("a"), Entry, 4.2),  // stranger accepted
            f(Some("c"), Exit, 6.8),   // wrong person
            f(None, Exit, 10.3),       // rejected
            f(Some("d"), Exit, 13.1),  // right person, wrong direction
            f(None, Entry, 20.0),      // spurious, nameless
            f(Some("b"), Entry, 30.0), // spurious and naming someone: a false accept
        ];
        let e = evaluate(&truth, &found);
        let s = e.scores;
        assert_eq!((s.passages.expected, s.passages.found, s.passages.matched), (5, 7, 5));
        assert!((s.passages.recall - 1.0).abs() < 1e-9);
        assert!((s.passages.precision - 5.0 / 7.0).abs() < 1e-9);
        assert_eq!(
            (s.identity.correct, s.identity.false_accept, s.identity.wrong_person, s.identity.false_reject),
            (2, 3, 1, 1)
        );
        assert!((s.identity.accuracy - 0.4).abs() < 1e-9);
        assert_eq!(s.direction.correct, 4);
        assert!((s.direction.accuracy - 0.8).abs() < 1e-9, "direction is scored on the pairs, not on recall");
        assert_eq!(s.counts.entry, ExpectedFound { expected: 3, found: 4 });
        assert_eq!(e.found[4].verdicts, vec![Verdict::WrongDirection]);
        assert_eq!(e.found[6].verdicts, vec![Verdict::Spurious, Verdict::FalseAccept]);
        assert!(e.missed.is_empty());
    }

    #[test]
    fn side_by_side_passages_are_not_swapped() {
        use Direction::Entry;
        // Two people crossing 0.1 s apart, both found 0.08 s late. "Closest
        // first" pairs truth b with found a (0.02 apart) and leaves truth a
        // with found b: both named wrong. The least total gap pairs them right.
        let truth = Truth { passages: vec![t(Some("a"), Entry, 0.0, 3.0, 1.0), t(Some("b"), Entry, 0.0, 3.0, 1.1)] };
        let found = vec![f(Some("b"), Entry, 1.18), f(Some("a"), Entry, 1.08)];
        let s = score(&truth, &found);
        assert_eq!(s.identity.correct, 2, "{s:?}");
    }

    #[test]
    fn where_along_the_line_separates_people_crossing_together() {
        use Direction::Entry;
        // Same crossing time: only the position tells who is who.
        let mut a = t(Some("a"), Entry, 0.0, 3.0, 1.0);
        a.cross_pos = Some(0.3);
        let mut b = t(Some("b"), Entry, 0.0, 3.0, 1.0);
        b.cross_pos = Some(0.6);
        let mut fb = f(Some("b"), Entry, 1.0);
        fb.cross_pos = Some(0.62);
        let mut fa = f(Some("a"), Entry, 1.0);
        fa.cross_pos = Some(0.31);
        assert_eq!(score(&Truth { passages: vec![a.clone(), b.clone()] }, &[fb.clone(), fa]).identity.correct, 2);
        // Too far along the line from anyone: no pair.
        fb.cross_pos = Some(0.95);
        assert_eq!(score(&Truth { passages: vec![a, b] }, &[fb]).passages.matched, 0);
    }

    #[test]
    fn a_crossing_too_far_in_time_is_not_paired() {
        let truth = Truth { passages: vec![t(Some("a"), Direction::Entry, 0.0, 9.0, 2.0)] };
        let e = evaluate(&truth, &[f(Some("a"), Direction::Entry, 3.5)]);
        assert_eq!(e.scores.passages.matched, 0);
        assert_eq!(e.missed.len(), 1);
        assert_eq!(e.scores.identity.false_accept, 1, "a named passage no one made");
    }

    #[test]
    fn older_truth_without_crossing_times_pairs_by_span() {
        let mut old = t(Some("a"), Direction::Exit, 4.0, 8.0, 0.0);
        old.t_cross = None;
        let truth = Truth { passages: vec![old] };
        assert_eq!(score(&truth, &[f(Some("a"), Direction::Exit, 6.0)]).passages.matched, 1);
        assert_eq!(score(&truth, &[f(Some("a"), Direction::Exit, 9.5)]).passages.matched, 0);
    }

    #[test]
    fn each_truth_passage_matches_at_most_one_found() {
        let truth = Truth { passages: vec![t(Some("a"), Direction::Entry, 0.0, 2.0, 1.0)] };
        let found = vec![f(Some("a"), Direction::Entry, 1.0), f(Some("a"), Direction::Entry, 1.2)];
        let s = score(&truth, &found);
        assert_eq!(s.passages.matched, 1);
        assert_eq!(s.identity.false_accept, 1, "the duplicate names someone who did not pass twice");
    }
}
