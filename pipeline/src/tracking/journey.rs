//! One track's journey through the gate: where it crossed the line, where it
//! turned, and the faces seen on each leg between its turns.
//!
//! The engine follows every track with a [`Journey`]. Each sighting may
//! confirm a crossing of the line ([`CrossingDetector`]) — kept pending until
//! it is emitted as a passage — and may show the track has turned
//! ([`TurnDetector`]), which starts a new leg at the moment of the turn. Faces
//! are filed by the time they were seen, so a face embedded before the turn
//! was noticed still goes to the leg it belongs to, and a crossing is named by
//! the leg it was made on ([`identity::leg_evidence`]): a U-turn's two legs
//! agree and speak together; a track that passed from one person to another
//! where one left and the other came in has two legs that disagree, and each
//! passage keeps its own person's name.

use std::time::Duration;

use crate::tracking::identity::{self, FaceSamples, LegFaces};
use crate::tracking::line::CountingLine;
use crate::tracking::passage::{Crossing, CrossingDetector, TurnDetector};
use crate::vision::frame::BgrImage;
use wire::Embedding;

/// How far (normalised, across the line) a track must come back from the
/// furthest it went to have turned.
pub const TURN: f32 = 0.05;

/// One stretch of a track between turns, and the faces seen in it.
#[derive(Default)]
pub struct Leg {
    /// When the leg began (the previous leg's turn; the first sighting for the first).
    pub start: Duration,
    /// The track had been lost for a while just before this leg began.
    pub after_gap: bool,
    pub samples: FaceSamples,
    /// Faces of this leg with the recogniser: quality and when seen.
    pub in_flight: Vec<(f32, Duration)>,
    pub embeds: u32,
    pub last_attempt: Option<Duration>,
    /// A passage of this leg is out.
    pub emitted: bool,
    /// The leg's best face so far: its quality, picture and when it was seen.
    pub best_quality: f32,
    pub best_face: BgrImage,
    pub best_seen_at: Duration,
}

/// A track's crossings, turns and faces (see the module doc).
#[derive(Default)]
pub struct Journey {
    crossing: CrossingDetector,
    turns: TurnDetector,
    /// Never empty once the track has been seen; the current leg is the last.
    legs: Vec<Leg>,
    /// Confirmed crossings not yet emitted, oldest first.
    pending: Vec<Crossing>,
    /// Crossings confirmed so far.
    pub crossings: u32,
    /// The latest sighting that ended a gap in the track, and when.
    gap_ended_at: Option<Duration>,
    /// Embeddings asked for over the whole track.
    pub embeds: u32,
    /// Identities decided ahead of a crossing (at most one per leg), not yet
    /// taken by a passage.
    pub promises: Vec<Promise>,
    /// Where the track was last seen, across the line: positive inside.
    pub inwardness: f32,
}

/// A passage announced by an early identity decision: the id it will
/// carry, who it named (None: unknown) and the leg it was decided on.
#[derive(Debug, Clone)]
pub struct Promise {
    pub passage_id: String,
    pub person: Option<String>,
    pub leg: usize,
}

impl Journey {
    /// Feeds a sighting: the face centre `p` (normalised) at stream time
    /// `ts`; `refound` when the track had been lost just before it. Returns
    /// the crossing this sighting confirms, if any (also kept pending).
    pub fn observe(
        &mut self,
        line: &CountingLine,
        p: [f32; 2],
        ts: Duration,
        refound: bool,
        min_travel: f32,
    ) -> Option<Crossing> {
        if self.legs.is_empty() {
            self.legs.push(Leg { start: ts, ..Leg::default() });
        }
        if refound {
            self.gap_ended_at = Some(ts);
        }
        self.inwardness = line.inwardness(p);
        if let Some(turned_at) = self.turns.observe(self.inwardness, ts, TURN) {
            self.split_at(turned_at);
        }
        let crossing = self.crossing.observe(line, p, ts, min_travel)?;
        self.pending.push(crossing);
        self.crossings += 1;
        Some(crossing)
    }

    /// Starts a new leg at `at`: faces seen from then on move to it.
    fn split_at(&mut self, at: Duration) {
        let Some(old) = self.legs.last_mut() else { return };
        let samples = old.samples.split_off_from(at);
        let (later, earlier): (Vec<_>, Vec<_>) = old.in_flight.iter().partition(|(_, seen)| *seen >= at);
        old.in_flight = earlier;
        // A best face seen after the turn is the new leg's (the old leg's
        // best before it is gone: it shows no face rather than someone else's).
        let mut new = Leg { start: at, samples, in_flight: later, ..Leg::default() };
        if old.best_quality > 0.0 && old.best_seen_at >= at {
            std::mem::swap(&mut new.best_face, &mut old.best_face);
            (new.best_quality, new.best_seen_at) = (old.best_quality, old.best_seen_at);
            old.best_quality = 0.0;
        }
        // The gap that ended at or after the peak is the new leg's beginning.
        new.after_gap = self.gap_ended_at.is_some_and(|g| g >= at);
        self.legs.push(new);
    }

    /// The leg a moment belongs to.
    pub fn leg_at(&self, at: Duration) -> usize {
        self.legs.iter().rposition(|l| l.start <= at).unwrap_or(0)
    }

    /// The current leg (the track must have been observed).
    pub fn current(&mut self) -> Option<(usize, &mut Leg)> {
        let k = self.legs.len().checked_sub(1)?;
        Some((k, &mut self.legs[k]))
    }

    /// Once a leg's passage is out and nothing of it is pending, who walked
    /// it is settled: embedding it further would only spend the CPU the next
    /// person needs. (A turn starts a new leg, where new faces are wanted.)
    pub fn settled(&self, k: usize) -> bool {
        self.legs.get(k).is_some_and(|l| l.emitted) && !self.pending.iter().any(|c| self.leg_at(c.at) == k)
    }

    /// Files a finished embedding of a face seen at `seen_at`.
    pub fn embedded(&mut self, seen_at: Duration, quality: f32, embedding: Option<Embedding>, max_samples: usize) {
        let k = self.leg_at(seen_at);
        let Some(leg) = self.legs.get_mut(k) else { return };
        if let Some(i) = leg.in_flight.iter().position(|(q, t)| *q == quality && *t == seen_at) {
            leg.in_flight.swap_remove(i);
        }
        if let Some(e) = embedding {
            leg.samples.offer_seen_at(seen_at, quality, e, max_samples);
        }
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The oldest pending crossing, if it happened at least `delay` before `now`.
    pub fn due(&self, now: Duration, delay: Duration) -> Option<Crossing> {
        self.pending.first().filter(|c| now.saturating_sub(c.at) >= delay).copied()
    }

    /// Takes the oldest pending crossing out, with the faces that name it and
    /// the leg's best face (see [`identity::leg_evidence`]).
    pub fn take_oldest(&mut self) -> Option<Due<'_>> {
        if self.pending.is_empty() {
            return None;
        }
        let crossing = self.pending.remove(0);
        let k = self.leg_at(crossing.at);
        let leg = k;
        let legs: Vec<LegFaces> =
            self.legs.iter().map(|l| LegFaces { faces: &l.samples, after_gap: l.after_gap }).collect();
        let evidence = identity::leg_evidence(&legs, k);
        if let Some(leg) = self.legs.get_mut(k) {
            leg.emitted = true;
        }
        // The thumbnail: this leg's best face, else the best of the legs whose
        // faces named the crossing — never a face that did not.
        let face = self
            .legs
            .get(k)
            .filter(|l| l.best_quality > 0.0)
            .or_else(|| {
                evidence
                    .legs
                    .iter()
                    .filter_map(|&j| self.legs.get(j))
                    .max_by(|a, b| a.best_quality.total_cmp(&b.best_quality))
            })
            .filter(|l| l.best_quality > 0.0)
            .map(|l| (l.best_quality, &l.best_face));
        Some(Due { crossing, leg, faces: evidence.faces, best_face: face })
    }

    /// Takes the promise a passage named `person`, crossing on `leg`, keeps:
    /// the same person named ahead (for an unknown, on the same leg: two
    /// strangers are not one).
    pub fn take_promise(&mut self, person: Option<&str>, leg: usize) -> Option<Promise> {
        let i =
            self.promises.iter().position(|p| p.person.as_deref() == person && (person.is_some() || p.leg == leg))?;
        Some(self.promises.remove(i))
    }
}

/// A crossing taken out to be emitted.
pub struct Due<'a> {
    pub crossing: Crossing,
    /// The leg it was made on.
    pub leg: usize,
    /// The faces that name it.
    pub faces: FaceSamples,
    /// The quality and picture of the best face to show with it.
    pub best_face: Option<(f32, &'a BgrImage)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::line::Side;
    use wire::Direction;
    use wire::EMBEDDING_DIM;

    fn line() -> CountingLine {
        CountingLine { a: [0.0, 0.5], b: [1.0, 0.5], inside: Side::Below }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn unit(i: usize) -> Embedding {
        let mut v = [0.0f32; EMBEDDING_DIM];
        v[i] = 1.0;
        Embedding(v)
    }

    /// A walk in (y from 0.3 to 0.8) and back out, one sighting per 100 ms.
    fn u_turn(j: &mut Journey, gap_at_turn: bool) -> Vec<Direction> {
        let ys = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.74, 0.68, 0.6, 0.5, 0.4, 0.3];
        let mut found = Vec::new();
        for (i, y) in ys.iter().enumerate() {
            let refound = gap_at_turn && i == 6;
            if let Some(c) = j.observe(&line(), [0.5, *y], ms(100 * i as u64), refound, 0.03) {
                found.push(c.direction);
            }
        }
        found
    }

    #[test]
    fn a_u_turn_is_two_crossings_on_two_legs() {
        let mut j = Journey::default();
        assert_eq!(u_turn(&mut j, false), vec![Direction::Entry, Direction::Exit]);
        let entry = j.take_oldest().expect("entry").crossing;
        let exit = j.take_oldest().expect("exit").crossing;
        assert_eq!((j.leg_at(entry.at), j.leg_at(exit.at)), (0, 1));
        assert!(j.take_oldest().is_none());
    }

    #[test]
    fn a_face_seen_after_the_turn_goes_to_the_new_leg_even_if_embedded_before_it_was_noticed() {
        let mut j = Journey::default();
        // Sightings up to the peak (0.8 at 500 ms).
        for (i, y) in [0.3, 0.4, 0.5, 0.6, 0.7, 0.8].iter().enumerate() {
            j.observe(&line(), [0.5, *y], ms(100 * i as u64), false, 0.03);
        }
        // A face at 600 ms goes to the recogniser before the turn shows.
        j.current().expect("leg").1.in_flight.push((0.9, ms(600)));
        j.observe(&line(), [0.5, 0.77], ms(600), false, 0.03);
        j.observe(&line(), [0.5, 0.72], ms(700), false, 0.03);
        assert_eq!(j.leg_at(ms(650)), 1, "turned at the peak, 500 ms");
        j.embedded(ms(600), 0.9, Some(unit(1)), 5);
        j.embedded(ms(200), 0.8, Some(unit(0)), 5);
        assert_eq!(j.legs[1].samples.len(), 1);
        assert!(j.legs[1].in_flight.is_empty());
        assert_eq!(j.legs[0].samples.len(), 1);
    }

    #[test]
    fn the_exit_of_a_turn_after_a_gap_is_not_named_from_the_entry() {
        for (gap, borrowed) in [(false, 1), (true, 0)] {
            let mut j = Journey::default();
            j.observe(&line(), [0.5, 0.3], ms(0), false, 0.03);
            j.embedded(ms(0), 0.9, Some(unit(0)), 5);
            u_turn(&mut j, gap);
            let entry_faces = j.take_oldest().expect("entry").faces;
            let exit_faces = j.take_oldest().expect("exit").faces;
            assert_eq!(entry_faces.len(), 1);
            assert_eq!(exit_faces.len(), borrowed, "gap at the turn: {gap}");
        }
    }

    #[test]
    fn a_leg_is_settled_once_its_passage_is_out() {
        let mut j = Journey::default();
        for (i, y) in [0.3, 0.4, 0.5, 0.6].iter().enumerate() {
            j.observe(&line(), [0.5, *y], ms(100 * i as u64), false, 0.03);
        }
        assert!(!j.settled(0));
        assert!(j.due(ms(500), ms(1000)).is_none(), "not yet a second after the crossing");
        assert!(j.due(ms(1300), ms(1000)).is_some());
        j.take_oldest();
        assert!(j.settled(0));
    }

    #[test]
    fn a_passage_keeps_the_id_announced_for_its_person_and_a_stranger_only_on_the_same_leg() {
        let promise = |id: &str, person: Option<&str>, leg| Promise {
            passage_id: id.into(),
            person: person.map(str::to_string),
            leg,
        };
        let mut j =
            Journey { promises: vec![promise("a", Some("p09"), 0), promise("b", None, 0)], ..Journey::default() };
        assert!(j.take_promise(Some("p01"), 0).is_none(), "another person");
        assert!(j.take_promise(None, 1).is_none(), "a stranger on another leg is not the one announced");
        assert_eq!(j.take_promise(Some("p09"), 1).map(|p| p.passage_id).as_deref(), Some("a"), "a U-turn: same person");
        assert_eq!(j.take_promise(None, 0).map(|p| p.passage_id).as_deref(), Some("b"));
        assert!(j.promises.is_empty(), "each taken once");
    }
}
