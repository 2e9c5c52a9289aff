//! Ports: `/v1/analytics/ports` (every port, its attacks and addresses) and
//! `/v1/analytics/ports/{port}` (that port's sessions).

use std::collections::HashMap;

use axum::extract::{Path, State};
use serde_json::json;

use super::SUMMARY_TEXT_BYTES;
use crate::api::paging::{bounded_list, json_bytes_page, offset_cursor, session_cursor};
use crate::api::params::{Params, Query, list_params, parse_port};
use crate::api::{ApiResult, AppState};
use crate::budget::BoundedArray;
use crate::query;

/// Every port with its attacks in the window, a bare array (RECCE7's shape).
pub(in crate::api) async fn ports(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let p = Params::new(q, &list_params(&[]))?;
    let (window, filter) = p.filter()?;
    let limit = p.limit(s.db.max_rows, s.db.max_rows)?;
    let offset = p.cursor().map(offset_cursor).transpose()?.unwrap_or(0);
    let all = s.db.read(move |c| query::ports(c, &filter)).await?;
    let base = s.public_url.clone();
    let end = offset.saturating_add(limit);
    let mut next = (all.len() > end).then(|| end.to_string());
    // RECCE7's shape is a bare array: past the budget, the Link header continues it.
    let mut array = BoundedArray::new(s.max_response_bytes);
    for pc in all.iter().skip(offset).take(limit) {
        let item = json!({
            "port": pc.port,
            "total_attacks": pc.total_attacks,
            "unique_ipaddresses": pc.unique_ipaddresses,
            "timespan": window.label,
            "rel_link": format!("{base}/v1/analytics/ports/{}?{}", pc.port, window.label),
        });
        if !array.push(&item) {
            next = Some((offset + array.len()).to_string());
            break;
        }
    }
    Ok(json_bytes_page(
        array.finish(),
        next,
        &base,
        "/v1/analytics/ports",
        &p,
    ))
}

/// One port's sessions in the window, newest first.
pub(in crate::api) async fn port_detail(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let port = parse_port(&raw)?;
    let p = Params::new(q, &list_params(&[]))?;
    let (window, filter) = p.filter()?;
    let limit = p.limit(s.db.max_rows, 100)?;
    let cursor = p.cursor().map(session_cursor).transpose()?;
    let (items, next) =
        s.db.read(move |c| {
            query::port_sessions(c, port, &filter, limit, cursor.as_ref(), SUMMARY_TEXT_BYTES)
        })
        .await?;
    let base = s.public_url.clone();
    let (body, next) = bounded_list(
        s.max_response_bytes,
        &window.label,
        &[("port", json!(port))],
        &items,
        next,
        |last, _| query::session_cursor(last),
    );
    Ok(json_bytes_page(
        body,
        next,
        &base,
        &format!("/v1/analytics/ports/{port}"),
        &p,
    ))
}
