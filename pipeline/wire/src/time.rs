//! Wall-clock time as events and records carry it: Unix milliseconds.

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Seconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_s() -> i64 {
    now_ms() / 1000
}
