//! ANTT anomaly rules over passages.
//!
//! Rules see every passage of a site in order and return the anomalies it
//! raises. They keep the small state the site needs (who is inside, how many,
//! recent entries), so one [`Rules`] serves all cameras of a site.
//! Loitering is about tracks that never make a passage, so it has its own
//! per-camera watcher, [`LoiterWatch`]; camera health (offline, tampered)
//! lives with the camera workers.

pub mod schedule;
pub mod tamper;

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::rules::schedule::Schedule;
use crate::tracking::identity::Identity;
use crate::tracking::track::{LiveTrack, TrackId};
use wire::Category;
use wire::Direction;
use wire::events::{AnomalyEvent, AnomalyKind};

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesConfig {
    /// Watch-listed people raise `watchlist` (highest priority).
    pub watchlist: bool,
    /// Two or more entries within this window (ms) with at most one
    /// authorised person raise `tailgating`; 0 disables the rule.
    pub tailgating_window_ms: u64,
    /// The same person entering twice without an exit raises `anti_passback`.
    pub anti_passback: bool,
    /// Occupancy (entries − exits) above this raises `over_capacity`; 0 disables it.
    pub capacity: u32,
    /// A track in view this long without crossing raises `loitering`, ms; 0 disables it.
    pub loitering_after_ms: u64,
    /// Opening hours: an entry outside them raises `after_hours`. None: always open.
    pub schedule: Option<Schedule>,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            watchlist: true,
            tailgating_window_ms: 2000,
            anti_passback: true,
            capacity: 0,
            loitering_after_ms: 60_000,
            schedule: None,
        }
    }
}

/// What the rules need to know about one passage.
#[derive(Debug, Clone)]
pub struct PassageFacts<'a> {
    pub camera: &'a str,
    /// Unknown people at a restricted gate raise `unknown_person`.
    pub restricted: bool,
    pub direction: Direction,
    pub identity: &'a Identity,
    /// Unix milliseconds of the crossing.
    pub at_ms: i64,
    /// The camera's own opening hours, where they differ from the site's.
    pub schedule: Option<&'a Schedule>,
}

/// Recent entries at one gate, for tailgating.
#[derive(Debug, Default)]
struct GateEntries {
    /// (time, authorised) of each entry within the window.
    recent: VecDeque<(i64, bool)>,
    /// Start of the last burst already reported.
    reported_burst: Option<i64>,
}

#[derive(Debug, Default)]
pub struct Rules {
    config: RulesConfig,
    /// Per camera (tailgating is about one gate), entries within the
    /// tailgating window: (time, authorised), and the start of the last burst
    /// already reported, so that a burst raises one anomaly.
    recent_entries: HashMap<String, GateEntries>,
    inside: HashSet<String>,
    occupancy: i64,
}

fn authorised(identity: &Identity) -> bool {
    matches!(identity, Identity::Known { category, .. } if *category != Category::Watchlist)
}

fn who(identity: &Identity) -> String {
    match identity {
        Identity::Known { name, person_id, .. } => format!("{name} ({person_id})"),
        Identity::Unknown { .. } => "an unknown person".into(),
    }
}

impl Rules {
    pub fn new(config: RulesConfig) -> Rules {
        Rules { config, ..Default::default() }
    }

    /// Current occupancy estimate (entries − exits seen by these rules).
    pub fn occupancy(&self) -> i64 {
        self.occupancy
    }

    /// The alerts a track's identity raises as soon as it is decided, ahead
    /// of its crossing ([`crate::tracking::passage::Sighting`]): a watch-listed
    /// person anywhere, an unknown one at a restricted gate. The passage
    /// that follows is counted by [`Rules::on_passage`] as any other; its
    /// caller leaves out the alerts a sighting already raised.
    pub fn on_sighting(&self, camera: &str, restricted: bool, identity: &Identity) -> Vec<AnomalyEvent> {
        let mut out = Vec::new();
        let person_id = identity.person_id().map(str::to_string);
        if self.config.watchlist && matches!(identity, Identity::Known { category: Category::Watchlist, .. }) {
            out.push(AnomalyEvent {
                kind: AnomalyKind::Watchlist,
                detail: format!("watch-listed {} recognised at camera {camera}", who(identity)),
                person_id: person_id.clone(),
                passage_id: None,
                face_jpeg_b64: None,
                similarity: None,
            });
        }
        if restricted && matches!(identity, Identity::Unknown { .. }) {
            out.push(AnomalyEvent {
                kind: AnomalyKind::UnknownPerson,
                detail: format!("unknown person approaching restricted camera {camera}"),
                person_id,
                passage_id: None,
                face_jpeg_b64: None,
                similarity: None,
            });
        }
        out
    }

    pub fn on_passage(&mut self, p: &PassageFacts) -> Vec<AnomalyEvent> {
        let mut out = Vec::new();
        let anomaly = |kind, detail: String| AnomalyEvent {
            kind,
            detail,
            person_id: p.identity.person_id().map(str::to_string),
            passage_id: None,
            face_jpeg_b64: None,
            similarity: None,
        };
        let verb = match p.direction {
            Direction::Entry => "entering",
            Direction::Exit => "leaving",
        };
        if self.config.watchlist && matches!(p.identity, Identity::Known { category: Category::Watchlist, .. }) {
            out.push(anomaly(
                AnomalyKind::Watchlist,
                format!("watch-listed {} {verb} at camera {}", who(p.identity), p.camera),
            ));
        }
        if p.restricted && matches!(p.identity, Identity::Unknown { .. }) {
            out.push(anomaly(
                AnomalyKind::UnknownPerson,
                format!("unknown person {verb} at restricted camera {}", p.camera),
            ));
        }
        match p.direction {
            Direction::Entry => {
                self.occupancy += 1;
                if let Some(schedule) = p.schedule.or(self.config.schedule.as_ref())
                    && !schedule.is_open(p.at_ms)
                {
                    out.push(anomaly(
                        AnomalyKind::AfterHours,
                        format!("{} entered at camera {} outside opening hours", who(p.identity), p.camera),
                    ));
                }
                if let Some(id) = p.identity.person_id()
                    && !self.inside.insert(id.to_string())
                    && self.config.anti_passback
                {
                    out.push(anomaly(
                        AnomalyKind::AntiPassback,
                        format!("{} entered again at camera {} without having left", who(p.identity), p.camera),
                    ));
                }
                if let Some(t) = self.tailgating(p) {
                    out.push(anomaly(AnomalyKind::Tailgating, t));
                }
                if self.config.capacity > 0 && self.occupancy > self.config.capacity as i64 {
                    out.push(anomaly(
                        AnomalyKind::OverCapacity,
                        format!("occupancy {} is above the site's limit of {}", self.occupancy, self.config.capacity),
                    ));
                }
            }
            Direction::Exit => {
                self.occupancy = (self.occupancy - 1).max(0);
                if let Some(id) = p.identity.person_id() {
                    self.inside.remove(id);
                }
            }
        }
        out
    }

    fn tailgating(&mut self, p: &PassageFacts) -> Option<String> {
        let window = self.config.tailgating_window_ms as i64;
        if window == 0 {
            return None;
        }
        let GateEntries { recent, reported_burst: reported_at } =
            self.recent_entries.entry(p.camera.to_string()).or_default();
        recent.push_back((p.at_ms, authorised(p.identity)));
        while recent.front().is_some_and(|(t, _)| p.at_ms - t > window) {
            recent.pop_front();
        }
        let n = recent.len();
        let ok = recent.iter().filter(|(_, a)| *a).count();
        let burst_start = recent.front().map(|(t, _)| *t)?;
        if n >= 2 && ok <= 1 && *reported_at != Some(burst_start) {
            *reported_at = Some(burst_start);
            return Some(format!(
                "{n} people entered within {:.1} s at camera {} with {ok} authorised",
                window as f64 / 1000.0,
                p.camera
            ));
        }
        None
    }
}

/// Loitering at one camera: a track in view longer than `after` without
/// crossing the line, reported once per track.
#[derive(Debug, Default)]
pub struct LoiterWatch {
    after: Duration,
    reported: HashSet<TrackId>,
}

impl LoiterWatch {
    /// `after` zero disables the rule.
    pub fn new(after: Duration) -> LoiterWatch {
        LoiterWatch { after, reported: HashSet::new() }
    }

    /// Given the camera's current tracks, the ones that just became loiterers
    /// (with how long they have been in view).
    pub fn observe(&mut self, tracks: &[LiveTrack]) -> Vec<(TrackId, Duration)> {
        if self.after.is_zero() {
            return Vec::new();
        }
        self.reported.retain(|id| tracks.iter().any(|t| t.id == *id));
        tracks
            .iter()
            .filter(|t| !t.crossed && t.last_seen.saturating_sub(t.first_seen) >= self.after)
            .filter(|t| self.reported.insert(t.id))
            .map(|t| (t.id, t.last_seen.saturating_sub(t.first_seen)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(id: &str, category: Category) -> Identity {
        Identity::Known { person_id: id.into(), name: id.into(), category, similarity: 0.9 }
    }

    fn unknown() -> Identity {
        Identity::Unknown { best_similarity: Some(0.2) }
    }

    fn pass<'a>(identity: &'a Identity, direction: Direction, at_ms: i64, restricted: bool) -> PassageFacts<'a> {
        PassageFacts { camera: "gate1", restricted, direction, identity, at_ms, schedule: None }
    }

    fn kinds(v: &[AnomalyEvent]) -> Vec<AnomalyKind> {
        v.iter().map(|a| a.kind).collect()
    }

    #[test]
    fn watchlisted_person_fires_and_staff_stays_quiet() {
        let mut r = Rules::new(RulesConfig::default());
        let w = known("p09", Category::Watchlist);
        assert_eq!(kinds(&r.on_passage(&pass(&w, Direction::Entry, 0, false))), vec![AnomalyKind::Watchlist]);
        let s = known("p01", Category::Staff);
        assert!(r.on_passage(&pass(&s, Direction::Entry, 60_000, false)).is_empty());
    }

    #[test]
    fn a_sighting_alerts_on_the_watch_list_and_unknowns_at_restricted_gates_only() {
        let r = Rules::new(RulesConfig::default());
        let w = known("p09", Category::Watchlist);
        let alerts = r.on_sighting("gate1", false, &w);
        assert_eq!(kinds(&alerts), vec![AnomalyKind::Watchlist]);
        assert_eq!(alerts[0].person_id.as_deref(), Some("p09"));
        assert!(r.on_sighting("gate1", true, &known("p01", Category::Staff)).is_empty(), "staff pass quietly");
        assert!(r.on_sighting("gate1", false, &unknown()).is_empty(), "unknowns are fine at open gates");
        assert_eq!(kinds(&r.on_sighting("gate1", true, &unknown())), vec![AnomalyKind::UnknownPerson]);
        let off = Rules::new(RulesConfig { watchlist: false, ..Default::default() });
        assert!(off.on_sighting("gate1", false, &w).is_empty(), "the watch-list rule switched off");
    }

    #[test]
    fn unknown_person_fires_only_at_restricted_gates() {
        let mut r = Rules::new(RulesConfig::default());
        let u = unknown();
        assert!(r.on_passage(&pass(&u, Direction::Entry, 0, false)).is_empty());
        assert_eq!(kinds(&r.on_passage(&pass(&u, Direction::Entry, 60_000, true))), vec![AnomalyKind::UnknownPerson]);
    }

    #[test]
    fn tailgating_fires_when_an_unauthorised_person_follows_within_the_window() {
        let mut r = Rules::new(RulesConfig::default());
        let (a, u) = (known("p01", Category::Staff), unknown());
        assert!(r.on_passage(&pass(&a, Direction::Entry, 0, false)).is_empty());
        assert_eq!(kinds(&r.on_passage(&pass(&u, Direction::Entry, 1200, false))), vec![AnomalyKind::Tailgating]);
        // Two authorised people in quick succession, and an unknown long after: quiet.
        let mut r = Rules::new(RulesConfig::default());
        let b = known("p02", Category::Resident);
        assert!(r.on_passage(&pass(&a, Direction::Entry, 0, false)).is_empty());
        assert!(r.on_passage(&pass(&b, Direction::Entry, 800, false)).is_empty());
        assert!(r.on_passage(&pass(&u, Direction::Entry, 10_000, false)).is_empty());
        // Two strangers at the same moment but at two different gates: not tailgating.
        let mut r = Rules::new(RulesConfig::default());
        assert!(r.on_passage(&pass(&u, Direction::Entry, 0, false)).is_empty());
        let other_gate = PassageFacts { camera: "gate2", ..pass(&u, Direction::Entry, 500, false) };
        assert!(r.on_passage(&other_gate).is_empty());
    }

    #[test]
    fn anti_passback_needs_an_exit_between_two_entries() {
        let mut r = Rules::new(RulesConfig::default());
        let a = known("p01", Category::Staff);
        assert!(r.on_passage(&pass(&a, Direction::Entry, 0, false)).is_empty());
        assert_eq!(kinds(&r.on_passage(&pass(&a, Direction::Entry, 60_000, false))), vec![AnomalyKind::AntiPassback]);
        let mut r = Rules::new(RulesConfig::default());
        assert!(r.on_passage(&pass(&a, Direction::Entry, 0, false)).is_empty());
        assert!(r.on_passage(&pass(&a, Direction::Exit, 30_000, false)).is_empty());
        assert!(r.on_passage(&pass(&a, Direction::Entry, 60_000, false)).is_empty());
    }

    #[test]
    fn after_hours_fires_for_entries_outside_the_schedule_only() {
        let office: Schedule = toml::from_str::<toml::Value>(
            r#"open = "07:30"
close = "17:00""#,
        )
        .expect("toml")
        .try_into()
        .expect("schedule");
        let mut r = Rules::new(RulesConfig { schedule: Some(office), ..Default::default() });
        let a = known("p01", Category::Staff);
        // 2026-11-23 (a Monday) 02:00 UTC = 09:00 in Vietnam; 14:00 UTC = 21:00.
        let nine = 1_795_399_200_000;
        let nine_pm = nine + 12 * 3_600_000;
        assert!(r.on_passage(&pass(&a, Direction::Entry, nine, false)).is_empty());
        assert!(r.on_passage(&pass(&a, Direction::Exit, nine_pm, false)).is_empty(), "leaving late is fine");
        assert_eq!(kinds(&r.on_passage(&pass(&a, Direction::Entry, nine_pm, false))), vec![AnomalyKind::AfterHours]);
        // A camera whose own schedule is round the clock stays quiet at night.
        let always: Schedule = toml::from_str::<toml::Value>(
            r#"open = "00:00"
close = "24:00""#,
        )
        .expect("toml")
        .try_into()
        .expect("schedule");
        let mut facts = pass(&a, Direction::Entry, nine_pm + 60_000, false);
        facts.schedule = Some(&always);
        let mut r = Rules::new(RulesConfig { schedule: Some(office), ..Default::default() });
        assert!(r.on_passage(&facts).is_empty());
    }

    fn track(id: u64, first_s: u64, last_s: u64, crossed: bool) -> LiveTrack {
        LiveTrack {
            id: TrackId(id),
            first_seen: Duration::from_secs(first_s),
            last_seen: Duration::from_secs(last_s),
            crossed,
        }
    }

    #[test]
    fn loitering_fires_once_per_track_and_never_for_one_that_crossed() {
        let mut w = LoiterWatch::new(Duration::from_secs(30));
        assert!(w.observe(&[track(1, 0, 29, false), track(2, 0, 40, true)]).is_empty());
        assert_eq!(w.observe(&[track(1, 0, 31, false)]), vec![(TrackId(1), Duration::from_secs(31))]);
        assert!(w.observe(&[track(1, 0, 45, false)]).is_empty(), "reported once");
        assert!(LoiterWatch::new(Duration::ZERO).observe(&[track(3, 0, 999, false)]).is_empty(), "disabled");
    }

    #[test]
    fn over_capacity_fires_above_the_limit_only() {
        let mut r = Rules::new(RulesConfig { capacity: 2, tailgating_window_ms: 0, ..Default::default() });
        let u = unknown();
        assert!(r.on_passage(&pass(&u, Direction::Entry, 0, false)).is_empty());
        assert!(r.on_passage(&pass(&u, Direction::Entry, 10_000, false)).is_empty());
        assert_eq!(kinds(&r.on_passage(&pass(&u, Direction::Entry, 20_000, false))), vec![AnomalyKind::OverCapacity]);
        assert!(r.on_passage(&pass(&u, Direction::Exit, 30_000, false)).is_empty());
        assert_eq!(r.occupancy(), 2);
    }
}
