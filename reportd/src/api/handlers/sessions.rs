//! Sessions: `/v1/sessions` (the newest first) and `/v1/sessions/{id}` (one session, its p0f
//! rows and TLS/HTTP fingerprints, the files it wrote and the URLs it named, and a page of its
//! rows).

use std::collections::HashMap;

use axum::extract::{Path, State};

use super::{CAPTURE_ITEMS, SUMMARY_TEXT_BYTES, capture_array, list_endpoint};
use crate::ApiError;
use crate::api::paging::{ENVELOPE_BYTES, encode, item_cursor, json_bytes_page, session_cursor};
use crate::api::params::{Params, Query};
use crate::api::{ApiResult, AppState};
use crate::budget::{ObjectWriter, json_len};
use crate::query;

/// The sessions in the window, newest first.
pub(in crate::api) async fn sessions(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    list_endpoint(
        s,
        q,
        "/v1/sessions",
        50,
        session_cursor,
        |c, f, l, cur, _| query::recent_sessions(c, f, l, cur, SUMMARY_TEXT_BYTES),
        |last, _, _| query::session_cursor(last),
    )
    .await
}

/// One session: its summary, its p0f rows (`p0f`), fingerprints (`fingerprints`), the files it
/// wrote (`files`) and the URLs it named (`downloads`), each list capped at [`CAPTURE_ITEMS`],
/// and a page of its rows (`limit`, default and most
/// `max_rows`; `cursor` from `next_cursor`), within the byte budget.
pub(in crate::api) async fn session_detail(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let p = Params::new(q, &["limit", "cursor"])?;
    if id.is_empty() || id.len() > 128 {
        return Err(ApiError::bad_parameter("session", "not a session id"));
    }
    let limit = p.limit(s.db.max_rows, s.db.max_rows)?;
    let cursor = p.cursor().map(item_cursor).transpose()?;
    let wanted = id.clone();
    let budget = s.max_response_bytes;
    let cap = s.value_cap();
    let found =
        s.db.read(move |c| {
            let Some((session, table, tables)) = query::session(c, &wanted, SUMMARY_TEXT_BYTES)?
            else {
                return Ok(None);
            };
            let p0f = query::session_p0f(c, &session.session, CAPTURE_ITEMS, SUMMARY_TEXT_BYTES)?;
            let p0f = capture_array(&p0f, budget);
            let fingerprints = query::session_fingerprints(
                c,
                &session.session,
                CAPTURE_ITEMS,
                SUMMARY_TEXT_BYTES,
            )?;
            let fingerprints = capture_array(&fingerprints, budget);
            let files =
                query::session_files(c, &session.session, CAPTURE_ITEMS, SUMMARY_TEXT_BYTES)?;
            let files = capture_array(&files, budget);
            let downloads =
                query::session_downloads(c, &session.session, CAPTURE_ITEMS, SUMMARY_TEXT_BYTES)?;
            let downloads = capture_array(&downloads, budget);
            let room = budget.saturating_sub(
                ENVELOPE_BYTES
                    + json_len(&session)
                    + p0f.len()
                    + fingerprints.len()
                    + files.len()
                    + downloads.len(),
            );
            let page = query::session_items_page(
                c,
                &tables,
                &session.session,
                table.as_deref(),
                limit,
                cursor.as_ref(),
                room,
                cap,
            )?;
            Ok(Some((session, [p0f, fingerprints, files, downloads], page)))
        })
        .await?;
    let Some((session, [p0f, fingerprints, files, downloads], page)) = found else {
        return Err(ApiError::not_found(format!("no session {id:?}")));
    };
    let mut body = ObjectWriter::new();
    body.flatten(&session);
    body.raw("p0f", &p0f);
    body.raw("fingerprints", &fingerprints);
    body.raw("files", &files);
    body.raw("downloads", &downloads);
    body.raw("session_items", &page.json);
    let next = page.next_cursor.as_ref().map(ToString::to_string);
    body.field("next_cursor", &next);
    body.field("truncated", &page.truncated);
    let base = s.public_url.clone();
    Ok(json_bytes_page(
        body.finish(),
        next,
        &base,
        &format!("/v1/sessions/{}", encode(&id)),
        &p,
    ))
}
