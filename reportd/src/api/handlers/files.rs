//! What attackers left in the shell: `/v1/files` (files written, newest first),
//! `/v1/files/{sha256}` (one file's kept bytes, as an attachment) and `/v1/downloads` (URLs
//! named to download commands, newest first).

use std::collections::HashMap;

use axum::extract::{MatchedPath, Path, State};
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;

use super::SUMMARY_TEXT_BYTES;
use crate::ApiError;
use crate::api::paging::{bounded_list, json_bytes_page, scan_cursor};
use crate::api::params::{Params, Query, list_params, parse_address_named};
use crate::api::{ApiResult, AppState};
use crate::query::{self, DownloadFilter, FileFilter};

/// The longest `url` filter taken: longer text is no URL a sensor records in full.
const MAX_URL_FILTER_BYTES: usize = 1024;

/// A SHA-256 as the store keeps it: 64 hex digits, lowercased.
fn parse_sha256(raw: &str, parameter: &str) -> Result<String, ApiError> {
    if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(raw.to_ascii_lowercase());
    }
    Err(ApiError::bad_parameter(
        parameter,
        "not a SHA-256 (64 hexadecimal digits)",
    ))
}

/// Files written in the window, newest first; `sha256` and `ip` narrow it. The bytes are not
/// in the list (`storedBytes` says how many `/v1/files/{sha256}` gives).
pub(in crate::api) async fn files(
    State(s): State<AppState>,
    path: MatchedPath,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let p = Params::new(q, &list_params(&["sha256", "ip"]))?;
    let (window, filter) = p.filter()?;
    let limit = p.limit(s.db.max_rows, 50)?;
    let cursor = p.cursor().map(scan_cursor).transpose()?;
    let wanted = FileFilter {
        sha256: p
            .get("sha256")
            .map(|h| parse_sha256(h, "sha256"))
            .transpose()?,
        address: p
            .get("ip")
            .map(|ip| parse_address_named(ip, "ip").map(|ip| ip.to_string()))
            .transpose()?,
    };
    let cap = SUMMARY_TEXT_BYTES;
    let (items, next) =
        s.db.read(move |c| query::files(c, &filter, &wanted, limit, cursor.as_ref(), cap))
            .await?;
    let (body, next) = bounded_list(
        s.max_response_bytes,
        &window.label,
        &[],
        &items,
        next,
        |last, _| query::file_cursor(last),
    );
    Ok(json_bytes_page(
        body,
        next,
        &s.public_url,
        path.as_str(),
        &p,
    ))
}

/// URLs named to download commands in the window, newest first; `url` (a substring) and `ip`
/// narrow it.
pub(in crate::api) async fn downloads(
    State(s): State<AppState>,
    path: MatchedPath,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let p = Params::new(q, &list_params(&["url", "ip"]))?;
    let (window, filter) = p.filter()?;
    let limit = p.limit(s.db.max_rows, 50)?;
    let cursor = p.cursor().map(scan_cursor).transpose()?;
    let url = p.get("url").map(str::to_owned);
    if url
        .as_ref()
        .is_some_and(|u| u.is_empty() || u.len() > MAX_URL_FILTER_BYTES)
    {
        return Err(ApiError::bad_parameter(
            "url",
            format!("give between 1 and {MAX_URL_FILTER_BYTES} bytes of the URL"),
        ));
    }
    let wanted = DownloadFilter {
        url,
        address: p
            .get("ip")
            .map(|ip| parse_address_named(ip, "ip").map(|ip| ip.to_string()))
            .transpose()?,
    };
    let cap = SUMMARY_TEXT_BYTES;
    let (items, next) =
        s.db.read(move |c| query::downloads(c, &filter, &wanted, limit, cursor.as_ref(), cap))
            .await?;
    let (body, next) = bounded_list(
        s.max_response_bytes,
        &window.label,
        &[],
        &items,
        next,
        |last, _| query::download_cursor(last),
    );
    Ok(json_bytes_page(
        body,
        next,
        &s.public_url,
        path.as_str(),
        &p,
    ))
}

/// The kept bytes of the file with this SHA-256, as `application/octet-stream` and an
/// attachment named after the hash: what an attacker wrote is never rendered, sniffed or run
/// by a browser (`X-Content-Type-Options: nosniff`, a sandboxing `Content-Security-Policy`).
pub(in crate::api) async fn file_bytes(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    Params::new(q, &[])?;
    let sha256 = parse_sha256(&raw, "sha256")?;
    let wanted = sha256.clone();
    let bytes = s.db.read(move |c| query::file_bytes(c, &wanted)).await?;
    let Some(bytes) = bytes else {
        return Err(ApiError::not_found(format!(
            "no stored bytes of a file with SHA-256 {sha256}"
        )));
    };
    let disposition = format!("attachment; filename=\"{sha256}.bin\"");
    let mut response = (
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
