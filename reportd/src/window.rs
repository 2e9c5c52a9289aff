//! The time window of a request: one of `minutes`, `hours`, `days`, `weeks` (RECCE7's
//! parameters), `days=1` when none is given.

use std::collections::HashMap;

use time::{Duration, OffsetDateTime};

use crate::ApiError;

/// A validated window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The parameter as RECCE7 echoed it, e.g. `days=1`.
    pub label: String,
    /// The earliest time included, in the store's RFC 3339 format (text order = time order).
    pub since: String,
    /// Its length in seconds.
    pub seconds: i64,
}

/// The parameter names, with their length in seconds.
const UNITS: [(&str, i64); 4] = [
    ("minutes", 60),
    ("hours", 3600),
    ("days", 86_400),
    ("weeks", 604_800),
];

/// The longest window accepted: 100 years (RECCE7's example asked for `days=100`).
const MAX_SECONDS: i64 = 100 * 366 * 86_400;

impl Window {
    /// Reads the window from query parameters, relative to `now`.
    pub fn from_query(
        query: &HashMap<String, String>,
        now: OffsetDateTime,
    ) -> Result<Window, ApiError> {
        let given: Vec<(&str, i64, &String)> = UNITS
            .iter()
            .filter_map(|(name, secs)| query.get(*name).map(|v| (*name, *secs, v)))
            .collect();
        let (name, unit, value) = match given.as_slice() {
            [] => ("days", 86_400, "1"),
            [(name, unit, value)] => (*name, *unit, value.as_str()),
            _ => {
                let names: Vec<&str> = given.iter().map(|g| g.0).collect();
                return Err(ApiError::bad_parameter(
                    names[1],
                    format!(
                        "give one of minutes, hours, days, weeks, not {}",
                        names.join(" and ")
                    ),
                ));
            }
        };
        let amount: i64 = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
            ApiError::bad_parameter(name, format!("{value:?} is not a positive whole number"))
        })?;
        let seconds = amount
            .checked_mul(unit)
            .filter(|s| *s <= MAX_SECONDS)
            .ok_or_else(|| {
                ApiError::bad_parameter(name, format!("{value} {name} is more than 100 years"))
            })?;
        let since = store::event::format_rfc3339(now - Duration::seconds(seconds));
        Ok(Window {
            label: format!("{name}={amount}"),
            since,
            seconds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn default_one_unit_and_errors() {
        let now = time::macros::datetime!(2026-11-23 12:00 UTC);
        let w = Window::from_query(&q(&[]), now).unwrap();
        assert_eq!(
            (w.label.as_str(), w.since.as_str()),
            ("days=1", "2026-11-22T12:00:00.000000Z")
        );
        let w = Window::from_query(&q(&[("minutes", "30")]), now).unwrap();
        assert_eq!(w.since, "2026-11-23T11:30:00.000000Z");
        assert_eq!(
            Window::from_query(&q(&[("weeks", "2")]), now)
                .unwrap()
                .seconds,
            1_209_600
        );
        for bad in [
            ("days", "0"),
            ("days", "-1"),
            ("hours", "x"),
            ("weeks", "99999999"),
        ] {
            let e = Window::from_query(&q(&[bad]), now).unwrap_err();
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST, "{bad:?}");
            assert_eq!(e.parameter.as_deref(), Some(bad.0));
        }
        let e = Window::from_query(&q(&[("days", "1"), ("hours", "2")]), now).unwrap_err();
        assert!(e.message.contains("not hours and days"), "{}", e.message);
    }
}
