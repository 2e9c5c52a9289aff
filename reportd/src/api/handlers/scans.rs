//! Scans: `/v1/scans` (also `/v1/analytics/scans`), the scans the sensors' capture reported,
//! newest first, by kind and by source.

use std::collections::HashMap;

use axum::extract::{MatchedPath, State};

use super::SUMMARY_TEXT_BYTES;
use crate::api::paging::{bounded_list, json_bytes_page, scan_cursor};
use crate::api::params::{Params, Query, list_params, parse_address_named, parse_scan_kind};
use crate::api::{ApiResult, AppState};
use crate::query::{self, ScanFilter};

/// The scans reported in the window, newest first; `kind` (one of the seven kinds) and `ip`
/// (the scanner) narrow it.
pub(in crate::api) async fn scans(
    State(s): State<AppState>,
    path: MatchedPath,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let p = Params::new(q, &list_params(&["kind", "ip"]))?;
    let (window, filter) = p.filter()?;
    let limit = p.limit(s.db.max_rows, 50)?;
    let cursor = p.cursor().map(scan_cursor).transpose()?;
    let scan = ScanFilter {
        kind: p.get("kind").map(parse_scan_kind).transpose()?,
        address: p
            .get("ip")
            .map(|ip| parse_address_named(ip, "ip").map(|ip| ip.to_string()))
            .transpose()?,
    };
    let (items, next) =
        s.db.read(move |c| {
            query::scans(
                c,
                &filter,
                &scan,
                limit,
                cursor.as_ref(),
                SUMMARY_TEXT_BYTES,
            )
        })
        .await?;
    let (body, next) = bounded_list(
        s.max_response_bytes,
        &window.label,
        &[],
        &items,
        next,
        |last, _| query::scan_cursor(last),
    );
    Ok(json_bytes_page(
        body,
        next,
        &s.public_url,
        path.as_str(),
        &p,
    ))
}
