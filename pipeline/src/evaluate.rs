//! Scoring found passages against a fixture's truth.
//!
//! A found passage matches a truth passage when their time spans overlap and
//! their directions agree; pairs are taken one-to-one, closest start time first.
//! For matched pairs: `correct` when the identity agrees (the same enrolled
//! person, or unknown for a stranger); `false_accept` when a stranger or a
//! different person is reported as an enrolled one (`wrong_person` counts the
//! latter alone); `false_reject` when an enrolled person is reported unknown.
//! Accuracies divide by the number of truth passages, so a missed passage
//! counts against both identity and direction.

use serde::Serialize;

use crate::fixture::Truth;
use crate::line::Direction;
use crate::passage::Passage;
use crate::stats::{Percentiles, StageTimings, percentiles};

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PassageCounts {
    pub expected: usize,
    pub found: usize,
    pub matched_to_truth: usize,
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
}

impl RunReport {
    pub fn new(name: &str, frames: u64, seconds: f64, timings: &StageTimings, scores: Scores) -> RunReport {
        let fps = if seconds > 0.0 { frames as f64 / seconds } else { 0.0 };
        RunReport { name: name.to_string(), frames, seconds, fps, stages_ms: timings.into(), scores }
    }
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 { 1.0 } else { n as f64 / d as f64 }
}

impl Scores {
    /// Sums counts and recomputes the accuracies.
    pub fn add(&mut self, o: &Scores) {
        self.passages.expected += o.passages.expected;
        self.passages.found += o.passages.found;
        self.passages.matched_to_truth += o.passages.matched_to_truth;
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
        self.identity.accuracy = ratio(self.identity.correct, self.passages.expected);
        self.direction.accuracy = ratio(self.direction.correct, self.passages.expected);
    }
}

/// One found passage, reduced to what scoring needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub person: Option<String>,
    pub direction: Direction,
    pub t_start: f64,
    pub t_end: f64,
}

impl From<&Passage> for Found {
    fn from(p: &Passage) -> Self {
        Found {
            person: p.identity.person_id().map(str::to_string),
            direction: p.direction,
            t_start: p.first_seen.as_secs_f64(),
            t_end: p.last_seen.as_secs_f64(),
        }
    }
}

pub fn score(truth: &Truth, found: &[Found]) -> Scores {
    let mut pairs = Vec::new();
    for (ti, t) in truth.passages.iter().enumerate() {
        for (fi, f) in found.iter().enumerate() {
            let overlap = t.t_end.min(f.t_end) - t.t_start.max(f.t_start);
            if overlap >= 0.0 && t.direction == f.direction {
                // Closest start first: two people crossing side by side
                // overlap each other's spans almost entirely, but each one's
                // track starts when that person appears. (A found passage's
                // end is when it was reported, shortly after the crossing,
                // so ends are not comparable.)
                pairs.push(((t.t_start - f.t_start).abs(), ti, fi));
            }
        }
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut t_used, mut f_used) = (vec![false; truth.passages.len()], vec![false; found.len()]);
    let mut s = Scores::default();
    for (_, ti, fi) in pairs {
        if t_used[ti] || f_used[fi] {
            continue;
        }
        t_used[ti] = true;
        f_used[fi] = true;
        s.passages.matched_to_truth += 1;
        s.direction.correct += 1;
        match (&truth.passages[ti].person, &found[fi].person) {
            (a, b) if a == b => s.identity.correct += 1,
            (None, Some(_)) => s.identity.false_accept += 1,
            (Some(_), Some(_)) => {
                s.identity.false_accept += 1;
                s.identity.wrong_person += 1;
            }
            (Some(_), None) => s.identity.false_reject += 1,
            (None, None) => unreachable!("equal identities handled above"),
        }
    }
    s.passages.expected = truth.passages.len();
    s.passages.found = found.len();
    let count = |d: Direction, it: &mut dyn Iterator<Item = Direction>| it.filter(|x| *x == d).count();
    s.counts.entry.expected = count(Direction::Entry, &mut truth.passages.iter().map(|p| p.direction));
    s.counts.exit.expected = count(Direction::Exit, &mut truth.passages.iter().map(|p| p.direction));
    s.counts.entry.found = count(Direction::Entry, &mut found.iter().map(|p| p.direction));
    s.counts.exit.found = count(Direction::Exit, &mut found.iter().map(|p| p.direction));
    s.finish();
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::TruthPassage;

    fn t(person: Option<&str>, dir: Direction, a: f64, b: f64) -> TruthPassage {
        TruthPassage { person: person.map(str::to_string), direction: dir, t_start: a, t_end: b }
    }

    fn f(person: Option<&str>, dir: Direction, a: f64, b: f64) -> Found {
        Found { person: person.map(str::to_string), direction: dir, t_start: a, t_end: b }
    }

    #[test]
    fn identity_outcomes_are_classified() {
        use Direction::*;
        let truth = Truth {
            passages: vec![
                t(Some("a"), Entry, 0.0, 2.0),
                t(None, Entry, 3.0, 5.0),
                t(Some("b"), Exit, 6.0, 8.0),
                t(Some("c"), Exit, 9.0, 11.0),
                t(Some("d"), Entry, 12.0, 14.0),
            ],
        };
        let found = vec![
            f(Some("a"), Entry, 0.5, 1.5),  // correct
            f(Some("a"), Entry, 3.5, 4.5),  // stranger accepted
            f(Some("c"), Exit, 6.5, 7.5),   // wrong person
            f(None, Exit, 9.5, 10.5),       // rejected
            f(Some("d"), Exit, 12.5, 13.5), // wrong direction: unmatched
            f(None, Entry, 20.0, 21.0),     // spurious
        ];
        let s = score(&truth, &found);
        assert_eq!(s.passages, PassageCounts { expected: 5, found: 6, matched_to_truth: 4 });
        assert_eq!(
            (s.identity.correct, s.identity.false_accept, s.identity.wrong_person, s.identity.false_reject),
            (1, 2, 1, 1)
        );
        assert!((s.identity.accuracy - 0.2).abs() < 1e-9);
        assert!((s.direction.accuracy - 0.8).abs() < 1e-9);
        assert_eq!(s.counts.entry, ExpectedFound { expected: 3, found: 3 });
    }

    #[test]
    fn side_by_side_passages_pair_by_start_time() {
        use Direction::Entry;
        let truth = Truth { passages: vec![t(Some("a"), Entry, 0.5, 3.4), t(Some("b"), Entry, 0.9, 3.8)] };
        let found = vec![f(Some("b"), Entry, 0.9, 3.3), f(Some("a"), Entry, 0.5, 2.8)];
        assert_eq!(score(&truth, &found).identity.correct, 2);
    }

    #[test]
    fn each_truth_passage_matches_at_most_one_found() {
        let truth = Truth { passages: vec![t(Some("a"), Direction::Entry, 0.0, 2.0)] };
        let found = vec![f(Some("a"), Direction::Entry, 0.0, 1.0), f(Some("a"), Direction::Entry, 0.5, 2.0)];
        assert_eq!(score(&truth, &found).passages.matched_to_truth, 1);
    }
}
