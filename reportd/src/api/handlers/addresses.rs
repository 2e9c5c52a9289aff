//! Addresses: `/v1/analytics/ipaddresses` (the attacking addresses) and
//! `/v1/analytics/ipaddresses/{ip}` (one address: where it is, its sessions by port, and what
//! packet capture saw of it: its OS, its scans, its TLS and HTTP fingerprints; and the files it
//! wrote and the URLs it named in the shell).

use std::collections::HashMap;

use axum::extract::{Path, State};

use super::{CAPTURE_ITEMS, SUMMARY_TEXT_BYTES, capture_array, list_endpoint, offset_after};
use crate::api::paging::{ENVELOPE_BYTES, json_bytes_page, offset_cursor, session_cursor};
use crate::api::params::{Params, Query, list_params, parse_address};
use crate::api::{ApiResult, AppState};
use crate::budget::{ObjectWriter, json_len};
use crate::query;

/// The attacking addresses in the window, most sessions first.
pub(in crate::api) async fn addresses(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    list_endpoint(
        s,
        q,
        "/v1/analytics/ipaddresses",
        100,
        offset_cursor,
        |c, f, l, offset, _| query::addresses(c, f, l, offset.copied().unwrap_or(0)),
        offset_after,
    )
    .await
}

/// One address: where it is, its sessions in the window by port, newest first, and in the
/// same window its p0f results (`os`), latest scans, TLS/HTTP fingerprints, files written
/// (`files`) and download URLs (`downloads`), each list
/// capped at [`CAPTURE_ITEMS`] and a sixteenth of the byte budget.
pub(in crate::api) async fn address_detail(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let ip = parse_address(&raw)?;
    let p = Params::new(q, &list_params(&[]))?;
    let (window, filter) = p.filter()?;
    let limit = p.limit(s.db.max_rows, 100)?;
    let cursor = p.cursor().map(session_cursor).transpose()?;
    let address = ip.to_string();
    let sensor = filter.sensor.clone();
    let budget = s.max_response_bytes;
    let (ports, sessions, next, info, capture) =
        s.db.read(move |c| {
            let ports = query::all_ports(c, sensor.as_deref())?;
            let (sessions, next) = query::address_sessions(
                c,
                &address,
                &filter,
                limit,
                cursor.as_ref(),
                SUMMARY_TEXT_BYTES,
            )?;
            let info = query::ip_info(c, &address)?;
            let cap = SUMMARY_TEXT_BYTES;
            let os = query::address_os(c, &address, &filter, CAPTURE_ITEMS, cap)?;
            let scans = query::address_scans(c, &address, &filter, CAPTURE_ITEMS, cap)?;
            let fingerprints =
                query::address_fingerprints(c, &address, &filter, CAPTURE_ITEMS, cap)?;
            let files = query::address_files(c, &address, &filter, CAPTURE_ITEMS, cap)?;
            let downloads = query::address_downloads(c, &address, &filter, CAPTURE_ITEMS, cap)?;
            let capture = [
                capture_array(&os, budget),
                capture_array(&scans, budget),
                capture_array(&fingerprints, budget),
                capture_array(&files, budget),
                capture_array(&downloads, budget),
            ];
            Ok((ports, sessions, next, info, capture))
        })
        .await?;
    let [os, scans, fingerprints, files, downloads] = capture;
    // RECCE7's shape: a list of one-key objects, port (as text) to that port's sessions, every
    // port listed (empty when the address did not reach it). The sessions kept are the newest
    // that fit the budget beside that skeleton, so the cursor continues in time order.
    let skeleton: usize = ports.iter().map(|p| p.to_string().len() + 8).sum();
    let fixed = ENVELOPE_BYTES
        + skeleton
        + json_len(&info)
        + json_len(&window.label)
        + os.len()
        + scans.len()
        + fingerprints.len()
        + files.len()
        + downloads.len();
    let mut room = s.max_response_bytes.saturating_sub(fixed);
    let mut kept: Vec<(i64, Vec<u8>)> = Vec::new();
    let mut last_kept: Option<&query::SessionOut> = None;
    let mut truncated = false;
    for session in &sessions {
        let Ok(bytes) = serde_json::to_vec(session) else {
            continue;
        };
        if bytes.len() + 1 > room && !kept.is_empty() {
            truncated = true;
            break;
        }
        room = room.saturating_sub(bytes.len() + 1);
        kept.push((session.local_port, bytes));
        last_kept = Some(session);
    }
    let next = if truncated {
        last_kept.map(query::session_cursor)
    } else {
        next
    };
    let mut by_port = Vec::with_capacity(fixed + kept.iter().map(|k| k.1.len() + 1).sum::<usize>());
    by_port.push(b'[');
    for (i, port) in ports.iter().enumerate() {
        if i > 0 {
            by_port.push(b',');
        }
        by_port.extend_from_slice(format!("{{\"{port}\":[").as_bytes());
        let mut first = true;
        for (_, bytes) in kept.iter().filter(|(p, _)| *p == i64::from(*port)) {
            if !first {
                by_port.push(b',');
            }
            first = false;
            by_port.extend_from_slice(bytes);
        }
        by_port.extend_from_slice(b"]}");
    }
    by_port.push(b']');
    let mut body = ObjectWriter::new();
    body.field("timespan", &window.label);
    body.field("ipaddress", &ip.to_string());
    body.field("location", &info);
    body.raw("os", &os);
    body.raw("scans", &scans);
    body.raw("fingerprints", &fingerprints);
    body.raw("files", &files);
    body.raw("downloads", &downloads);
    body.raw("ports", &by_port);
    body.field("next_cursor", &next);
    body.field("truncated", &truncated);
    let base = s.public_url.clone();
    Ok(json_bytes_page(
        body.finish(),
        next,
        &base,
        &format!("/v1/analytics/ipaddresses/{ip}"),
        &p,
    ))
}
