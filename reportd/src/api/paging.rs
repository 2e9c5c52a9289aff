//! Paging: the cursors this service hands out in `next_cursor` and takes back in `cursor`
//! (anything else is a 400), the `Link: <...>; rel="next"` header, and lists cut to the byte
//! budget.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::params::Params;
use crate::ApiError;
use crate::budget::{BoundedArray, ObjectWriter, json_len};
use crate::query::{ItemCursor, ScanCursor, SessionCursor};

/// The 400 for a `cursor` that is not one this service gave out.
fn not_given_out(c: &str) -> ApiError {
    ApiError::bad_parameter(
        "cursor",
        format!("{c:?} is not a cursor this service gave out"),
    )
}

/// The largest offset this service hands out: no list is longer, and `offset + limit` never
/// overflows below it, not even in the 32-bit `usize` of an ARMv6 board.
pub(super) const MAX_OFFSET: usize = i32::MAX as usize;

/// The offset cursor of an aggregate list (ports, addresses, credentials, commands).
pub(super) fn offset_cursor(c: &str) -> Result<usize, ApiError> {
    c.parse()
        .ok()
        .filter(|&offset| offset <= MAX_OFFSET)
        .ok_or_else(|| not_given_out(c))
}

/// A session-list cursor, `begin_time~session` ([`SessionCursor`]'s `Display`).
pub(super) fn session_cursor(c: &str) -> Result<SessionCursor, ApiError> {
    let (time, session) = c
        .split_once('~')
        .filter(|(t, s)| OffsetDateTime::parse(t, &Rfc3339).is_ok() && !s.is_empty())
        .ok_or_else(|| not_given_out(c))?;
    Ok(SessionCursor {
        begin_time: time.to_owned(),
        session: session.to_owned(),
    })
}

/// A scans-list cursor, `time~ID` ([`ScanCursor`]'s `Display`).
pub(super) fn scan_cursor(c: &str) -> Result<ScanCursor, ApiError> {
    let (time, id) = c
        .rsplit_once('~')
        .filter(|(t, _)| OffsetDateTime::parse(t, &Rfc3339).is_ok())
        .and_then(|(t, id)| Some((t, id.parse::<i64>().ok()?)))
        .ok_or_else(|| not_given_out(c))?;
    Ok(ScanCursor {
        time: time.to_owned(),
        id,
    })
}

/// A cursor into a session's rows, `time~table~ID` ([`ItemCursor`]'s `Display`).
pub(super) fn item_cursor(c: &str) -> Result<ItemCursor, ApiError> {
    let bad = || not_given_out(c);
    let mut parts = c.rsplitn(3, '~');
    let id = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let table = parts
        .next()
        .and_then(|p| p.parse().ok())
        .filter(|t| *t <= 1)
        .ok_or_else(bad)?;
    let time = parts.next().ok_or_else(bad)?;
    Ok(ItemCursor {
        time: time.to_owned(),
        table,
        id,
    })
}

/// A JSON answer, already serialized under the byte budget, with an optional
/// `Link: <...>; rel="next"` header.
pub(super) fn json_bytes_page(
    body: Vec<u8>,
    next: Option<String>,
    base: &str,
    path: &str,
    params: &Params,
) -> Response {
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    add_next_link(&mut response, next, base, path, params);
    response
}

/// Adds `Link: <...>; rel="next"` for the next page's cursor, if there is one.
fn add_next_link(
    response: &mut Response,
    next: Option<String>,
    base: &str,
    path: &str,
    params: &Params,
) {
    if let Some(cursor) = next {
        let mut query: Vec<(String, String)> = params
            .map
            .iter()
            .filter(|(k, _)| k.as_str() != "cursor")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        query.sort();
        query.push(("cursor".into(), cursor));
        let qs: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        let link = format!("<{base}{path}?{}>; rel=\"next\"", qs.join("&"));
        if let Ok(v) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, v);
        }
    }
}

/// Bytes kept for a list answer's fixed parts (`timespan`, `next_cursor`, `truncated`, keys).
pub(super) const ENVELOPE_BYTES: usize = 1024;

/// `{"timespan", <head fields>, "items": [...], "next_cursor", "truncated"}` with `items` cut to
/// fit the budget. `cursor_after(item, n)` is the cursor that continues after the page's first
/// `n` items (used when the budget, not `limit`, ends the page).
pub(super) fn bounded_list<T: serde::Serialize>(
    budget: usize,
    timespan: &str,
    head: &[(&str, Value)],
    items: &[T],
    next: Option<String>,
    cursor_after: impl Fn(&T, usize) -> String,
) -> (Vec<u8>, Option<String>) {
    let fixed =
        ENVELOPE_BYTES + json_len(timespan) + head.iter().map(|(_, v)| json_len(v)).sum::<usize>();
    let mut array = BoundedArray::new(budget.saturating_sub(fixed));
    for item in items {
        if !array.push(item) {
            break;
        }
    }
    let truncated = array.is_full();
    let next = if truncated {
        items
            .get(array.len().saturating_sub(1))
            .map(|last| cursor_after(last, array.len()))
    } else {
        next
    };
    let mut body = ObjectWriter::new();
    body.field("timespan", timespan);
    for (key, value) in head {
        body.field(key, value);
    }
    body.raw("items", &array.finish());
    body.field("next_cursor", &next);
    body.field("truncated", &truncated);
    (body.finish(), next)
}

/// Percent-encodes a query value.
pub(super) fn encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_what_the_queries_hand_out_and_nothing_else() {
        let item = ItemCursor {
            time: "2026-01-01T00:00:00.000000Z".into(),
            table: 1,
            id: 42,
        };
        assert_eq!(item_cursor(&item.to_string()).unwrap(), item);
        let untimed = ItemCursor {
            time: String::new(),
            table: 0,
            id: -3,
        };
        assert_eq!(item_cursor(&untimed.to_string()).unwrap(), untimed);
        assert!(item_cursor("bogus").is_err());
        assert!(item_cursor("2026-01-01T00:00:00Z~7~1").is_err());
        let session = SessionCursor {
            begin_time: "2026-01-01T00:00:00.000000Z".into(),
            session: "a~b".into(),
        };
        assert_eq!(session_cursor(&session.to_string()).unwrap(), session);
        assert!(session_cursor("yesterday~s").is_err());
        assert!(session_cursor("2026-01-01T00:00:00Z~").is_err());
        let scan = ScanCursor {
            time: "2026-01-01T00:00:00.000000Z".into(),
            id: 7,
        };
        assert_eq!(scan_cursor(&scan.to_string()).unwrap(), scan);
        assert!(scan_cursor("2026-01-01T00:00:00Z~x").is_err());
        assert!(scan_cursor("yesterday~7").is_err());
        assert!(scan_cursor("7").is_err());
        assert_eq!(offset_cursor("20").unwrap(), 20);
        assert_eq!(offset_cursor("2147483647").unwrap(), MAX_OFFSET);
        assert!(offset_cursor("2147483648").is_err());
        let e = offset_cursor("-1").unwrap_err();
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(e.parameter.as_deref(), Some("cursor"));
        assert_eq!(e.message, "\"-1\" is not a cursor this service gave out");
    }
}
