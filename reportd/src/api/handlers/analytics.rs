//! What attackers tried and where they came from: `/v1/analytics/credentials`,
//! `/v1/analytics/commands`, `/v1/analytics/summary` (the dashboard's counters) and
//! `/v1/sensors`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::json;

use super::{list_endpoint, offset_after};
use crate::api::paging::offset_cursor;
use crate::api::params::{Params, Query, WINDOW_PARAMS};
use crate::api::{ApiResult, AppState};
use crate::query;

/// Username and password pairs tried in the window, most tried first.
pub(in crate::api) async fn credentials(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    list_endpoint(
        s,
        q,
        "/v1/analytics/credentials",
        100,
        offset_cursor,
        |c, f, l, offset, cap| query::credentials(c, f, l, offset.copied().unwrap_or(0), cap),
        offset_after,
    )
    .await
}

/// Commands typed in the window, most typed first.
pub(in crate::api) async fn commands(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    list_endpoint(
        s,
        q,
        "/v1/analytics/commands",
        100,
        offset_cursor,
        |c, f, l, offset, cap| query::commands(c, f, l, offset.copied().unwrap_or(0), cap),
        offset_after,
    )
    .await
}

/// The dashboard's counters for the window.
pub(in crate::api) async fn summary(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let known: Vec<&str> = WINDOW_PARAMS.iter().copied().chain(["sensor"]).collect();
    let p = Params::new(q, &known)?;
    let (window, filter) = p.filter()?;
    let summary = s.db.read(move |c| query::summary(c, &filter, 10)).await?;
    Ok(Json(json!({"timespan": window.label, "summary": summary})).into_response())
}

/// The sensors in the store, most recently active first.
pub(in crate::api) async fn sensors(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    Params::new(q, &[])?;
    let list = s.db.read(query::sensors).await?;
    Ok(Json(json!({"items": list})).into_response())
}
