//! Timestamps are unix milliseconds everywhere; this renders them for people.

use time::{macros::format_description, OffsetDateTime, UtcOffset};

/// `2026-11-28 14:03 UTC`, or an empty string for a timestamp out of range.
pub fn format_utc(ms: i64) -> String {
    let Ok(at) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return String::new();
    };
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.format(&fmt).unwrap_or_default()
}

/// `2026-11-28 15:03:12` at `offset_minutes` east of UTC (the viewer's zone at that time), or
/// an empty string for a timestamp or offset out of range.
pub fn format_at_offset(ms: i64, offset_minutes: i32) -> String {
    let (Ok(at), Ok(offset)) = (
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000),
        UtcOffset::from_whole_seconds(offset_minutes.saturating_mul(60)),
    ) else {
        return String::new();
    };
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    at.to_offset(offset).format(&fmt).unwrap_or_default()
}

/// An offset east of UTC as people name it: "UTC", "UTC+01:00", "UTC-05:30".
pub fn offset_name(offset_minutes: i32) -> String {
    if offset_minutes == 0 {
        return "UTC".to_string();
    }
    let sign = if offset_minutes > 0 { '+' } else { '-' };
    let m = offset_minutes.unsigned_abs();
    format!("UTC{sign}{:02}:{:02}", m / 60, m % 60)
}

/// `2026-11-28T14:03:12Z`, for a `<time datetime>`.
pub fn iso_utc(ms: i64) -> String {
    let Ok(at) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return String::new();
    };
    let fmt = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    at.format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_in_utc() {
        assert_eq!(super::format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::format_utc(1_795_000_000_000), "2026-11-18 11:06 UTC");
    }

    #[test]
    fn formats_in_a_zone() {
        let at = 1_795_000_000_000; // 2026-11-18 11:06:40 UTC
        assert_eq!(super::format_at_offset(at, 0), "2026-11-18 11:06:40");
        assert_eq!(super::format_at_offset(at, 60), "2026-11-18 12:06:40");
        assert_eq!(super::format_at_offset(at, -11 * 60 - 30), "2026-11-17 23:36:40");
        assert_eq!(super::format_at_offset(at, 100_000), "");
        assert_eq!(super::offset_name(0), "UTC");
        assert_eq!(super::offset_name(60), "UTC+01:00");
        assert_eq!(super::offset_name(-330), "UTC-05:30");
        assert_eq!(super::iso_utc(at), "2026-11-18T11:06:40Z");
    }
}
