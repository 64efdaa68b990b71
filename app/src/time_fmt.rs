//! Timestamps are unix milliseconds everywhere; this renders them for people.

use time::{macros::format_description, OffsetDateTime};

/// `2026-11-28 14:03 UTC`, or an empty string for a timestamp out of range.
pub fn format_utc(ms: i64) -> String {
    let Ok(at) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return String::new();
    };
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    at.format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_in_utc() {
        assert_eq!(super::format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::format_utc(1_795_000_000_000), "2026-11-18 11:06 UTC");
    }
}
