//! The clock and `date`'s formats: broken-down UTC time without a time-zone database.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(super) const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
pub(super) const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

/// Broken-down UTC time: (year, month 1-12, day, hour, minute, second, weekday name).
pub(super) fn civil(secs: u64) -> (i64, u32, u32, u64, u64, u64, &'static str) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = WEEKDAYS
        .get((days.rem_euclid(7)) as usize)
        .copied()
        .unwrap_or("Thu");
    (
        year,
        month,
        day,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        weekday,
    )
}

pub(super) fn month_name(month: u32) -> &'static str {
    MONTHS
        .get(month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("Jan")
}

/// `date`'s default format, e.g. `Sun Nov 23 21:19:00 UTC 2025`.
pub(super) fn format_date(secs: u64) -> String {
    let (y, mo, d, h, mi, s, wd) = civil(secs);
    format!(
        "{wd} {} {d:>2} {h:02}:{mi:02}:{s:02} UTC {y}",
        month_name(mo)
    )
}

/// `date +FORMAT` with the common conversions.
pub(super) fn format_date_custom(secs: u64, fmt: &str) -> String {
    let (y, mo, d, h, mi, s, wd) = civil(secs);
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let _ = match chars.next() {
            Some('Y') => write!(out, "{y}"),
            Some('y') => write!(out, "{:02}", y.rem_euclid(100)),
            Some('m') => write!(out, "{mo:02}"),
            Some('d') => write!(out, "{d:02}"),
            Some('e') => write!(out, "{d:>2}"),
            Some('H') => write!(out, "{h:02}"),
            Some('M') => write!(out, "{mi:02}"),
            Some('S') => write!(out, "{s:02}"),
            Some('s') => write!(out, "{secs}"),
            Some('a') => write!(out, "{wd}"),
            Some('b') => write!(out, "{}", month_name(mo)),
            Some('Z') => write!(out, "UTC"),
            Some('T') => write!(out, "{h:02}:{mi:02}:{s:02}"),
            Some('F') => write!(out, "{y}-{mo:02}-{d:02}"),
            Some('%') => write!(out, "%"),
            Some(o) => write!(out, "%{o}"),
            None => write!(out, "%"),
        };
    }
    out
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::panic
)]
mod tests {
    use super::*;

    #[test]
    fn date_formatting() {
        assert_eq!(format_date(0), "Thu Jan  1 00:00:00 UTC 1970");
        assert_eq!(format_date(1_489_028_919), "Thu Mar  9 03:08:39 UTC 2017");
        assert_eq!(
            format_date_custom(1_489_028_919, "%Y-%m-%d %s"),
            "2017-03-09 1489028919"
        );
    }
}
