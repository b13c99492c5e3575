//! The site's wall clock: dates, days and hours as people at the gate count
//! them, in the deployment's IANA time zone (`serve --time-zone`, by default
//! `Asia/Ho_Chi_Minh`). Times are stored as Unix milliseconds; only reports,
//! buckets, exports and "until the end of today" need the local calendar, and
//! they all ask here. `jiff` keeps the zone rules (bundled, so a machine
//! without tzdata answers the same).

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

pub const DEFAULT_ZONE: &str = "Asia/Ho_Chi_Minh";

/// One time zone, by IANA name.
#[derive(Debug, Clone)]
pub struct LocalTime {
    name: String,
    zone: TimeZone,
}

impl Default for LocalTime {
    fn default() -> LocalTime {
        // The default zone is in the bundled database: a failure is a build
        // without it, and UTC+7 is then the same all year for Vietnam.
        let zone = TimeZone::get(DEFAULT_ZONE).unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(7)));
        LocalTime { name: DEFAULT_ZONE.into(), zone }
    }
}

impl LocalTime {
    /// The zone named `name` (`Asia/Ho_Chi_Minh`, `Asia/Bangkok`, ...).
    pub fn named(name: &str) -> Result<LocalTime, String> {
        TimeZone::get(name)
            .map(|zone| LocalTime { name: name.to_string(), zone })
            .map_err(|e| format!("time zone {name:?} is not an IANA zone name (e.g. {DEFAULT_ZONE}): {e}"))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn zoned(&self, ms: i64) -> Zoned {
        // Out of jiff's range (years beyond ±9999): the nearest end.
        let ts = Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 { Timestamp::MIN } else { Timestamp::MAX });
        ts.to_zoned(self.zone.clone())
    }

    /// The local date at `ms`.
    pub fn date_of(&self, ms: i64) -> Date {
        self.zoned(ms).date()
    }

    /// The local hour of the day at `ms`, 0..24.
    pub fn hour_of(&self, ms: i64) -> usize {
        self.zoned(ms).hour() as usize
    }

    /// Unix ms of the first instant of local date `d`.
    pub fn start_of(&self, d: Date) -> i64 {
        d.to_zoned(self.zone.clone())
            .and_then(|z| z.start_of_day())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(if d.year() < 1970 { i64::MIN } else { i64::MAX })
    }

    /// Unix ms of the local midnight that began the day of `ms`.
    pub fn start_of_day(&self, ms: i64) -> i64 {
        self.start_of(self.date_of(ms))
    }

    /// Unix ms of the start of the local hour containing `ms`.
    pub fn start_of_hour(&self, ms: i64) -> i64 {
        let z = self.zoned(ms);
        z.with().minute(0).second(0).subsec_nanosecond(0).build().map(|h| h.timestamp().as_millisecond()).unwrap_or(ms)
    }

    /// The last second (Unix seconds) of the local day containing `now_s`.
    pub fn end_of_day_s(&self, now_s: i64) -> i64 {
        let day = self.date_of(now_s.saturating_mul(1000));
        // The last day jiff knows (9999-12-31) ends at its largest timestamp:
        // a date a browser can still show ("never expires" in an import).
        let next = day.tomorrow().map_or(Timestamp::MAX.as_millisecond() + 1, |d| self.start_of(d));
        next.div_euclid(1000) - 1
    }

    /// `YYYY-MM-DD HH:MM:SS`, local.
    pub fn format(&self, ms: i64) -> String {
        self.zoned(ms).strftime("%Y-%m-%d %H:%M:%S").to_string()
    }

    /// Today's local date.
    pub fn today(&self) -> Date {
        self.date_of(wire::time::now_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn vietnam_days_begin_at_17_utc_and_reports_read_local_time() {
        let vn = LocalTime::default();
        // 2026-11-22 15:00 UTC is 22:00 in Vietnam; the day ends at 16:59:59 UTC.
        let at = Timestamp::from_second(1_795_359_600).expect("ts").as_millisecond();
        assert_eq!(vn.format(at), "2026-11-22 22:00:00");
        assert_eq!(vn.date_of(at), date(2026, 11, 22));
        assert_eq!(vn.hour_of(at), 22);
        assert_eq!(vn.end_of_day_s(at / 1000), 1_795_366_799);
        assert_eq!(vn.start_of(date(2026, 11, 22)), 1_795_280_400_000);
        assert_eq!(vn.start_of_day(at), 1_795_280_400_000);
        assert_eq!(vn.start_of_hour(at + 59 * 60_000), at);
        // "Never expires" in an import: the end of 9999-12-31, within a browser's dates.
        let last = vn.end_of_day_s(vn.start_of(date(9999, 12, 31)) / 1000);
        assert!(last > 253_402_000_000 && last <= Timestamp::MAX.as_second(), "{last}");
    }

    #[test]
    fn a_zone_with_daylight_saving_has_a_23_hour_day_and_bad_names_are_refused() {
        let paris = LocalTime::named("Europe/Paris").expect("zone");
        // 2026-03-29: clocks go from 02:00 to 03:00.
        let day = paris.start_of(date(2026, 3, 30)) - paris.start_of(date(2026, 3, 29));
        assert_eq!(day, 23 * 3_600_000);
        let e = LocalTime::named("Mars/Olympus").expect_err("no such zone");
        assert!(e.contains("Asia/Ho_Chi_Minh"), "{e}");
    }
}
