//! The handlers, one module per resource, and what they share: the analytics index, the list
//! endpoint's shape, `/v1/openapi.json`, `/metrics` and the 404.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::paging::{bounded_list, json_bytes_page};
use super::params::{Params, Query, list_params};
use super::{ApiResult, AppState};
use crate::ApiError;
use crate::budget;
use crate::metrics::{Exposition, process_metrics};
use crate::query::{self, Filter};

pub(super) mod addresses;
pub(super) mod analytics;
pub(super) mod files;
pub(super) mod map;
pub(super) mod ports;
pub(super) mod scans;
pub(super) mod sessions;

/// `/v1/analytics`: links to the resources.
pub(super) async fn index(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    Params::new(q, &[])?;
    let base = s.public_url.clone();
    Ok(Json(json!({
        "links": [
            {"rel": "ports", "href": format!("{base}/v1/analytics/ports")},
            {"rel": "ipaddresses", "href": format!("{base}/v1/analytics/ipaddresses")},
            {"rel": "credentials", "href": format!("{base}/v1/analytics/credentials")},
            {"rel": "commands", "href": format!("{base}/v1/analytics/commands")},
            {"rel": "sessions", "href": format!("{base}/v1/sessions")},
            {"rel": "scans", "href": format!("{base}/v1/scans")},
            {"rel": "files", "href": format!("{base}/v1/files")},
            {"rel": "downloads", "href": format!("{base}/v1/downloads")},
            {"rel": "sensors", "href": format!("{base}/v1/sensors")},
            {"rel": "worldmap", "href": format!("{base}/v1/worldmap")},
            {"rel": "openapi", "href": format!("{base}/v1/openapi.json")},
        ]
    }))
    .into_response())
}

/// The longest text field of a session summary (names, addresses, close reasons): summaries
/// stay small whatever a fleet's store holds.
pub(super) const SUMMARY_TEXT_BYTES: usize = budget::MIN_VALUE_BYTES;

/// The most rows of each capture list inside a detail answer (an address's OS results, scans
/// and fingerprints; a session's p0f rows and fingerprints).
pub(super) const CAPTURE_ITEMS: usize = 20;

/// `items` as a JSON array of at most a sixteenth of `budget` bytes (at least one item): the
/// capture lists of a detail answer take their share and leave the rest to its pages.
pub(super) fn capture_array<T: serde::Serialize>(items: &[T], budget: usize) -> Vec<u8> {
    let mut array = budget::BoundedArray::new(budget / 16);
    for item in items {
        if !array.push(item) {
            break;
        }
    }
    array.finish()
}

/// A list endpoint: the window, the sensor filter and paging (`cursor` read by
/// `parse_cursor`), then `fetch` on the database (its last argument the longest text value),
/// answered as `{"timespan", "items", "next_cursor", "truncated"}` within the byte budget, with
/// a `Link` header. `cursor_after(item, n, cursor)` continues after the page's first `n` items.
async fn list_endpoint<T, C, F>(
    s: AppState,
    q: HashMap<String, String>,
    path: &'static str,
    default_limit: usize,
    parse_cursor: fn(&str) -> Result<C, ApiError>,
    fetch: F,
    cursor_after: fn(&T, usize, Option<&C>) -> String,
) -> ApiResult
where
    T: serde::Serialize + Send + 'static,
    C: Clone + Send + 'static,
    F: FnOnce(&rusqlite::Connection, &Filter, usize, Option<&C>, usize) -> query::Page<T>
        + Send
        + 'static,
{
    let p = Params::new(q, &list_params(&[]))?;
    let (window, filter) = p.filter()?;
    let limit = p.limit(s.db.max_rows, default_limit)?;
    let cursor = p.cursor().map(parse_cursor).transpose()?;
    let given = cursor.clone();
    let cap = s.value_cap();
    let (items, next) =
        s.db.read(move |c| fetch(c, &filter, limit, given.as_ref(), cap))
            .await?;
    let base = s.public_url.clone();
    let (body, next) = bounded_list(
        s.max_response_bytes,
        &window.label,
        &[],
        &items,
        next,
        |last, n| cursor_after(last, n, cursor.as_ref()),
    );
    Ok(json_bytes_page(body, next, &base, path, &p))
}

/// The offset cursor after `n` more items of an aggregate list.
fn offset_after<T>(_: &T, n: usize, offset: Option<&usize>) -> String {
    offset.copied().unwrap_or(0).saturating_add(n).to_string()
}

/// `/v1/openapi.json`: the API's description.
pub(super) async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::dashboard::OPENAPI,
    )
        .into_response()
}

/// `/metrics`: request metrics, the other metrics of this process and the process's own.
pub(super) async fn metrics(State(s): State<AppState>) -> Response {
    let mut out = Exposition::default();
    s.metrics.render(&mut out);
    if let Some(extra) = &s.extra_metrics {
        extra.render(&mut out);
    }
    process_metrics(&mut out);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out.finish(),
    )
        .into_response()
}

/// The 404 of every path no route answers.
pub(super) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", uri.path()))
}
