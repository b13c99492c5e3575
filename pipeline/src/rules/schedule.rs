//! A site's opening schedule, for the `after_hours` rule: opening and closing
//! time of day on given weekdays, in the site's local time (Vietnam is
//! UTC+7 all year, which is the default offset).
//!
//! ```toml
//! schedule = { open = "07:00", close = "17:30", days = ["mon", "tue", "wed", "thu", "fri"] }
//! ```
//! A closing time before the opening time spans midnight (a night market:
//! `open = "17:00", close = "02:00"`); `days` are the days it opens.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ScheduleSpec", into = "ScheduleSpec")]
pub struct Schedule {
    /// Minutes after local midnight.
    open: u16,
    close: u16,
    /// Bit 0 = Monday … bit 6 = Sunday.
    days: u8,
    utc_offset_minutes: i16,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleSpec {
    open: String,
    close: String,
    #[serde(default = "all_days")]
    days: Vec<String>,
    #[serde(default = "vietnam_offset")]
    utc_offset_minutes: i16,
}

fn all_days() -> Vec<String> {
    DAYS.iter().map(|d| d.to_string()).collect()
}

fn vietnam_offset() -> i16 {
    7 * 60
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn parse_hhmm(s: &str) -> Result<u16, String> {
    let bad = || format!("{s:?} is not a time of day HH:MM");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl TryFrom<ScheduleSpec> for Schedule {
    type Error = String;

    fn try_from(spec: ScheduleSpec) -> Result<Schedule, String> {
        let open = parse_hhmm(&spec.open)?;
        let close = parse_hhmm(&spec.close)?;
        if open == close {
            return Err("open and close are the same time; leave the schedule out for a site that never closes".into());
        }
        let mut days = 0u8;
        for d in &spec.days {
            let i = DAYS
                .iter()
                .position(|x| x.eq_ignore_ascii_case(d))
                .ok_or_else(|| format!("{d:?} is not a day (use mon, tue, wed, thu, fri, sat, sun)"))?;
            days |= 1 << i;
        }
        if !(-14 * 60..=14 * 60).contains(&spec.utc_offset_minutes) {
            return Err(format!("utc_offset_minutes {} is not a time zone offset", spec.utc_offset_minutes));
        }
        Ok(Schedule { open, close, days, utc_offset_minutes: spec.utc_offset_minutes })
    }
}

impl From<Schedule> for ScheduleSpec {
    fn from(s: Schedule) -> ScheduleSpec {
        let hhmm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        ScheduleSpec {
            open: hhmm(s.open),
            close: hhmm(s.close),
            days: (0..7).filter(|i| s.days & (1 << i) != 0).map(|i| DAYS[i].to_string()).collect(),
            utc_offset_minutes: s.utc_offset_minutes,
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let spec = ScheduleSpec::from(*self);
        let off = self.utc_offset_minutes;
        let sign = if off < 0 { '-' } else { '+' };
        write!(
            f,
            "{}–{} on {} (UTC{sign}{:02}:{:02})",
            spec.open,
            spec.close,
            spec.days.join(","),
            off.unsigned_abs() / 60,
            off.unsigned_abs() % 60
        )
    }
}

impl Schedule {
    /// Is the site open at `at_ms` (unix milliseconds)?
    pub fn is_open(&self, at_ms: i64) -> bool {
        let local_min = at_ms.div_euclid(60_000) + self.utc_offset_minutes as i64;
        let day_index = local_min.div_euclid(24 * 60);
        let minute = local_min.rem_euclid(24 * 60) as u16;
        // 1970-01-01 was a Thursday (index 3 with Monday = 0).
        let weekday = (day_index + 3).rem_euclid(7) as u8;
        let opens_on = |wd: u8| self.days & (1 << wd) != 0;
        if self.open < self.close {
            opens_on(weekday) && minute >= self.open && minute < self.close
        } else {
            // Spans midnight: open from `open` today, or until `close` after yesterday's opening.
            (opens_on(weekday) && minute >= self.open) || (opens_on((weekday + 6) % 7) && minute < self.close)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(toml_text: &str) -> Result<Schedule, String> {
        #[derive(Deserialize)]
        struct W {
            schedule: Schedule,
        }
        toml::from_str::<W>(toml_text).map(|w| w.schedule).map_err(|e| e.to_string())
    }

    /// Unix ms of a local (UTC+7) date and time; 2026-11-23 is a Monday.
    fn local(day_of_nov_2026: i64, h: i64, m: i64) -> i64 {
        let nov1_2026_utc_days = 20_758; // days from 1970-01-01 to 2026-11-01
        ((nov1_2026_utc_days + day_of_nov_2026 - 1) * 24 * 60 + h * 60 + m - 7 * 60) * 60_000
    }

    #[test]
    fn office_hours_on_weekdays() {
        let s = schedule(r#"schedule = { open = "07:30", close = "17:00", days = ["mon","tue","wed","thu","fri"] }"#)
            .expect("valid");
        assert!(s.is_open(local(23, 9, 0)), "Monday 09:00");
        assert!(!s.is_open(local(23, 7, 29)), "Monday 07:29");
        assert!(!s.is_open(local(23, 17, 0)), "Monday 17:00");
        assert!(!s.is_open(local(22, 10, 0)), "Sunday 10:00");
    }

    #[test]
    fn night_market_spans_midnight() {
        let s = schedule(r#"schedule = { open = "17:00", close = "02:00", days = ["sat"] }"#).expect("valid");
        assert!(s.is_open(local(28, 23, 0)), "Saturday 23:00");
        assert!(s.is_open(local(29, 1, 30)), "Sunday 01:30, Saturday's night");
        assert!(!s.is_open(local(29, 2, 30)), "Sunday 02:30");
        assert!(!s.is_open(local(29, 18, 0)), "Sunday 18:00");
    }

    #[test]
    fn malformed_schedules_are_explained() {
        assert!(schedule(r#"schedule = { open = "7h", close = "17:00" }"#).expect_err("bad").contains("HH:MM"));
        assert!(
            schedule(r#"schedule = { open = "07:00", close = "17:00", days = ["monday"] }"#)
                .expect_err("bad")
                .contains("not a day")
        );
    }
}
