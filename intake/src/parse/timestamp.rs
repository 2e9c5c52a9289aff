//! The timestamps the parsers accept, and the store's one format they all become.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// `YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|±HH:MM|±HHMM)`, fraction of 1 to 9 digits.
pub(super) fn lenient_time(text: &str) -> Option<OffsetDateTime> {
    let b = text.as_bytes();
    let digits = |from: usize, to: usize| -> Option<u32> {
        let part = b.get(from..to)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter().try_fold(0u32, |n, d| {
            n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let year = i32::try_from(digits(0, 4)?).ok()?;
    let month = Month::try_from(u8::try_from(digits(5, 7)?).ok()?).ok()?;
    let day = u8::try_from(digits(8, 10)?).ok()?;
    let hour = u8::try_from(digits(11, 13)?).ok()?;
    let minute = u8::try_from(digits(14, 16)?).ok()?;
    let second = u8::try_from(digits(17, 19)?).ok()?;
    let mut i = 19;
    let mut nanos = 0u32;
    if at(i, b".") {
        let start = i + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        let len = end - start;
        if len == 0 || len > 9 {
            return None;
        }
        nanos =
            digits(start, end)?.checked_mul(10u32.checked_pow(9 - u32::try_from(len).ok()?)?)?;
        i = end;
    }
    let offset = match b.get(i..)? {
        b"Z" | b"z" => UtcOffset::UTC,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest {
                [_, _, b':', _, _] => (digits(i + 1, i + 3)?, digits(i + 4, i + 6)?),
                [_, _, _, _] => (digits(i + 1, i + 3)?, digits(i + 3, i + 5)?),
                _ => return None,
            };
            let h = i8::try_from(h).ok()?;
            let m = i8::try_from(m).ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'-' {
                UtcOffset::from_hms(-h, -m, 0).ok()?
            } else {
                UtcOffset::from_hms(h, m, 0).ok()?
            }
        }
        _ => return None,
    };
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// `t` in the store's format (UTC RFC 3339 with microseconds), if its UTC year has 4 digits.
pub(super) fn store_time(t: OffsetDateTime) -> Option<String> {
    let utc = t.checked_to_offset(UtcOffset::UTC)?;
    (0..=9999)
        .contains(&utc.year())
        .then(|| store::event::format_rfc3339(utc))
}
