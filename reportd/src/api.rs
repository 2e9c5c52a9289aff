//! The routes: RECCE7's `/v1/` API with its paths, parameters and field names, what RECCE7 left
//! for a future release, the world map, the live stream, `/metrics` and the dashboard. Errors
//! are JSON bodies that name the problem. A bearer token guards everything but the dashboard's
//! static files when one is configured. Every request must name this service in `Host` (DNS
//! rebinding), and links are built from the configured `public_url`, never from the request.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, MatchedPath, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, Version, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::Stream;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::budget::{self, BoundedArray, ObjectWriter, json_len};
use crate::config::{AllowedHosts, ReportdSettings, exposure_problem};
use crate::db::Db;
use crate::metrics::{Exposition, HttpMetrics, MetricsSource, process_metrics};
use crate::query::{self, Filter};
use crate::window::Window;
use crate::{ApiError, ReportError};

/// Live-update streams served at once; more get a 503.
const MAX_STREAMS: i64 = 64;

/// Maps drawn at once; more requests wait for their turn.
static MAP_RENDERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// The widest PNG map drawn.
const MAX_PNG_WIDTH: u32 = 2048;

/// How often the live stream looks for new sessions.
const STREAM_POLL: Duration = Duration::from_millis(500);

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Arc<Db>,
    /// The bearer token, if any.
    pub token: Option<Arc<str>>,
    /// The names a request may give in `Host`.
    pub hosts: Arc<AllowedHosts>,
    /// The start of every absolute link (`public_url`), without a trailing `/`.
    pub public_url: Arc<str>,
    /// Request metrics.
    pub metrics: Arc<HttpMetrics>,
    /// Other metrics of this process (the sensor's in `recce7 up`).
    pub extra_metrics: Option<Arc<dyn MetricsSource>>,
    /// Ends the live streams at shutdown (a graceful shutdown waits for open connections).
    pub shutdown: CancellationToken,
    /// The byte budget of one JSON answer (`max_response_bytes`).
    pub max_response_bytes: usize,
}

impl AppState {
    /// The longest text value in an answer under this state's budget.
    fn value_cap(&self) -> usize {
        budget::value_cap(self.max_response_bytes)
    }
}

type ApiResult = Result<Response, ApiError>;

/// The query string as a map. It stands in for axum's `Query<HashMap<String, String>>`, which
/// keeps one value of a repeated key and drops the others without a word: here a key given
/// twice (`days=1&days=2`) is a 400 that names it.
struct Query<T>(T);

impl<S: Send + Sync> FromRequestParts<S> for Query<HashMap<String, String>> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or("")).map(Query)
    }
}

/// Decodes a query string (`application/x-www-form-urlencoded`); a repeated key is an error.
fn parse_query(raw: &str) -> Result<HashMap<String, String>, ApiError> {
    let mut map = HashMap::new();
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        let key = key.into_owned();
        if map.contains_key(&key) {
            return Err(ApiError::bad_parameter(
                &key,
                format!("{key:?} is given more than once; give it once"),
            ));
        }
        map.insert(key, value.into_owned());
    }
    Ok(map)
}

/// The query parameters of a request, checked against the ones the endpoint knows.
struct Params {
    map: HashMap<String, String>,
}

const WINDOW_PARAMS: [&str; 4] = ["minutes", "hours", "days", "weeks"];

impl Params {
    fn new(mut map: HashMap<String, String>, known: &[&str]) -> Result<Params, ApiError> {
        // The token may come as a parameter on every endpoint (for <img> and EventSource).
        map.remove("access_token");
        if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
            let mut names: Vec<&str> = known.to_vec();
            names.sort_unstable();
            return Err(ApiError::bad_parameter(
                unknown,
                format!(
                    "unknown parameter {unknown:?}; this endpoint takes {}",
                    names.join(", ")
                ),
            ));
        }
        Ok(Params { map })
    }

    fn window(&self) -> Result<Window, ApiError> {
        Window::from_query(&self.map, OffsetDateTime::now_utc())
    }

    fn filter(&self) -> Result<(Window, Filter), ApiError> {
        let window = self.window()?;
        let filter = Filter {
            since: window.since.clone(),
            sensor: self.map.get("sensor").cloned(),
        };
        Ok((window, filter))
    }

    fn limit(&self, max: usize, default: usize) -> Result<usize, ApiError> {
        match self.map.get("limit") {
            None => Ok(default.min(max)),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_parameter(
                        "limit",
                        format!("{v:?} is not a whole number from 1 to {max}"),
                    )
                }),
        }
    }

    fn cursor(&self) -> Option<&str> {
        self.map.get("cursor").map(String::as_str)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }
}

/// The parameters of list endpoints, plus their own.
fn list_params(extra: &[&'static str]) -> Vec<&'static str> {
    let mut v: Vec<&str> = WINDOW_PARAMS.to_vec();
    v.extend(["sensor", "limit", "cursor"]);
    v.extend_from_slice(extra);
    v
}

/// A JSON answer, already serialized under the byte budget, with an optional
/// `Link: <...>; rel="next"` header.
fn json_bytes_page(
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
const ENVELOPE_BYTES: usize = 1024;

/// `{"timespan", <head fields>, "items": [...], "next_cursor", "truncated"}` with `items` cut to
/// fit the budget. `cursor_after(item, n)` is the cursor that continues after the page's first
/// `n` items (used when the budget, not `limit`, ends the page).
fn bounded_list<T: serde::Serialize>(
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
fn encode(v: &str) -> String {
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

fn parse_port(raw: &str) -> Result<u16, ApiError> {
    raw.parse::<u16>()
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| ApiError::bad_parameter("port", format!("{raw:?} is not a port (1..65535)")))
}

fn parse_address(raw: &str) -> Result<IpAddr, ApiError> {
    let ip: IpAddr = raw.parse().map_err(|_| {
        ApiError::bad_parameter(
            "ipaddress",
            format!("{raw:?} is not an IPv4 or IPv6 address"),
        )
    })?;
    // The store keeps IPv4-mapped peers as IPv4.
    Ok(ip.to_canonical())
}

async fn analytics(
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
            {"rel": "sensors", "href": format!("{base}/v1/sensors")},
            {"rel": "worldmap", "href": format!("{base}/v1/worldmap")},
            {"rel": "openapi", "href": format!("{base}/v1/openapi.json")},
        ]
    }))
    .into_response())
}

async fn ports(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let p = Params::new(q, &list_params(&[]))?;
    let (window, filter) = p.filter()?;
    let limit = p.limit(s.db.max_rows, s.db.max_rows)?;
    let offset = query::parse_offset(p.cursor())?;
    let all = s.db.read(move |c| query::ports(c, &filter)).await?;
    let base = s.public_url.clone();
    let mut next = (all.len() > offset + limit).then(|| (offset + limit).to_string());
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

async fn port_detail(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let port = parse_port(&raw)?;
    let p = Params::new(q, &list_params(&[]))?;
    let (window, filter) = p.filter()?;
    let limit = p.limit(s.db.max_rows, 100)?;
    let cursor = p.cursor().map(str::to_owned);
    let (items, next) =
        s.db.read(move |c| {
            query::port_sessions(
                c,
                port,
                &filter,
                limit,
                cursor.as_deref(),
                SUMMARY_TEXT_BYTES,
            )
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

/// The longest text field of a session summary (names, addresses, close reasons): summaries
/// stay small whatever a fleet's store holds.
const SUMMARY_TEXT_BYTES: usize = budget::MIN_VALUE_BYTES;

/// A list endpoint: the window, the sensor filter and paging, then `fetch` on the database
/// (its last argument the longest text value), answered as `{"timespan", "items",
/// "next_cursor", "truncated"}` within the byte budget, with a `Link` header.
/// `cursor_after(item, n, cursor)` continues after the page's first `n` items.
async fn list_endpoint<T, F>(
    s: AppState,
    q: HashMap<String, String>,
    path: &'static str,
    default_limit: usize,
    fetch: F,
    cursor_after: fn(&T, usize, Option<&str>) -> String,
) -> ApiResult
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce(&rusqlite::Connection, &Filter, usize, Option<&str>, usize) -> query::Page<T>
        + Send
        + 'static,
{
    let p = Params::new(q, &list_params(&[]))?;
    let (window, filter) = p.filter()?;
    let limit = p.limit(s.db.max_rows, default_limit)?;
    let cursor = p.cursor().map(str::to_owned);
    let cap = s.value_cap();
    let (items, next) =
        s.db.read(move |c| fetch(c, &filter, limit, cursor.as_deref(), cap))
            .await?;
    let base = s.public_url.clone();
    let (body, next) = bounded_list(
        s.max_response_bytes,
        &window.label,
        &[],
        &items,
        next,
        |last, n| cursor_after(last, n, p.cursor()),
    );
    Ok(json_bytes_page(body, next, &base, path, &p))
}

/// The offset cursor after `n` more items of an aggregate list.
fn offset_after<T>(_: &T, n: usize, cursor: Option<&str>) -> String {
    (query::parse_offset(cursor).unwrap_or(0) + n).to_string()
}

async fn addresses(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    list_endpoint(
        s,
        q,
        "/v1/analytics/ipaddresses",
        100,
        |c, f, l, cur, _| query::addresses(c, f, l, cur),
        offset_after,
    )
    .await
}

async fn credentials(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    list_endpoint(
        s,
        q,
        "/v1/analytics/credentials",
        100,
        query::credentials,
        offset_after,
    )
    .await
}

async fn commands(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    list_endpoint(
        s,
        q,
        "/v1/analytics/commands",
        100,
        query::commands,
        offset_after,
    )
    .await
}

async fn sessions(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    list_endpoint(
        s,
        q,
        "/v1/sessions",
        50,
        |c, f, l, cur, _| query::recent_sessions(c, f, l, cur, SUMMARY_TEXT_BYTES),
        |last, _, _| query::session_cursor(last),
    )
    .await
}

async fn address_detail(
    State(s): State<AppState>,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let ip = parse_address(&raw)?;
    let p = Params::new(q, &list_params(&[]))?;
    let (window, filter) = p.filter()?;
    let limit = p.limit(s.db.max_rows, 100)?;
    let cursor = p.cursor().map(str::to_owned);
    let address = ip.to_string();
    let sensor = filter.sensor.clone();
    let (ports, sessions, next, info) =
        s.db.read(move |c| {
            let ports = query::all_ports(c, sensor.as_deref())?;
            let (sessions, next) = query::address_sessions(
                c,
                &address,
                &filter,
                limit,
                cursor.as_deref(),
                SUMMARY_TEXT_BYTES,
            )?;
            let info = query::ip_info(c, &address)?;
            Ok((ports, sessions, next, info))
        })
        .await?;
    // RECCE7's shape: a list of one-key objects, port (as text) to that port's sessions, every
    // port listed (empty when the address did not reach it). The sessions kept are the newest
    // that fit the budget beside that skeleton, so the cursor continues in time order.
    let skeleton: usize = ports.iter().map(|p| p.to_string().len() + 8).sum();
    let fixed = ENVELOPE_BYTES + skeleton + json_len(&info) + json_len(&window.label);
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

async fn summary(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let known: Vec<&str> = WINDOW_PARAMS.iter().copied().chain(["sensor"]).collect();
    let p = Params::new(q, &known)?;
    let (window, filter) = p.filter()?;
    let summary = s.db.read(move |c| query::summary(c, &filter, 10)).await?;
    Ok(Json(json!({"timespan": window.label, "summary": summary})).into_response())
}

/// One session: its summary and a page of its rows (`limit`, default and most `max_rows`;
/// `cursor` from `next_cursor`), within the byte budget.
async fn session_detail(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let p = Params::new(q, &["limit", "cursor"])?;
    if id.is_empty() || id.len() > 128 {
        return Err(ApiError::bad_parameter("session", "not a session id"));
    }
    let limit = p.limit(s.db.max_rows, s.db.max_rows)?;
    let cursor = p.cursor().map(query::ItemCursor::parse).transpose()?;
    let wanted = id.clone();
    let budget = s.max_response_bytes;
    let cap = s.value_cap();
    let found =
        s.db.read(move |c| {
            let Some((session, table, tables)) = query::session(c, &wanted, SUMMARY_TEXT_BYTES)?
            else {
                return Ok(None);
            };
            let room = budget.saturating_sub(ENVELOPE_BYTES + json_len(&session));
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
            Ok(Some((session, page)))
        })
        .await?;
    let Some((session, page)) = found else {
        return Err(ApiError::not_found(format!("no session {id:?}")));
    };
    let mut body = ObjectWriter::new();
    body.flatten(&session);
    body.raw("session_items", &page.json);
    body.field("next_cursor", &page.next_cursor);
    body.field("truncated", &page.truncated);
    let base = s.public_url.clone();
    Ok(json_bytes_page(
        body.finish(),
        page.next_cursor,
        &base,
        &format!("/v1/sessions/{}", encode(&id)),
        &p,
    ))
}

async fn sensors(State(s): State<AppState>, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    Params::new(q, &[])?;
    let list = s.db.read(query::sensors).await?;
    Ok(Json(json!({"items": list})).into_response())
}

async fn worldmap(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let known: Vec<&str> = WINDOW_PARAMS
        .iter()
        .copied()
        .chain(["sensor", "format", "width", "_"])
        .collect();
    let p = Params::new(q, &known)?;
    let (window, filter) = p.filter()?;
    let png = match p.get("format") {
        None | Some("svg") => false,
        Some("png") => true,
        Some(other) => {
            return Err(ApiError::bad_parameter(
                "format",
                format!("{other:?} is not svg or png"),
            ));
        }
    };
    // A PNG is drawn here, pixel by pixel (a 2048-pixel one is an 8 MB canvas); an SVG is text
    // the browser draws.
    let max_width = if png { MAX_PNG_WIDTH } else { 4096 };
    let width = match p.get("width") {
        None => 1024,
        Some(w) => w
            .parse::<u32>()
            .ok()
            .filter(|w| (256..=max_width).contains(w))
            .ok_or_else(|| {
                ApiError::bad_parameter(
                    "width",
                    format!(
                        "{w:?} is not a width from 256 to {max_width}{}",
                        if png { " (for a PNG)" } else { "" }
                    ),
                )
            })?,
    };
    let (places, unique, total) = s.db.read(move |c| query::places(c, &filter)).await?;
    // Short enough for the title band (63 characters at the default width).
    let plural = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let title = format!(
        "last {}: {}, {}",
        window_words(&window),
        plural(unique, "unique address", "unique addresses"),
        plural(total, "attack", "attacks")
    );
    let points: Vec<crate::worldmap::MapPoint> = places
        .iter()
        .map(|p| crate::worldmap::MapPoint {
            latitude: p.latitude,
            longitude: p.longitude,
            count: p.count,
        })
        .collect();
    // Maps are drawn one at a time: sixteen concurrent 4096-pixel PNGs took `recce7 up` to
    // 964 MB (the sensor shares that process), and a Pi has 512 MB.
    let _turn = MAP_RENDERS.acquire().await.map_err(ApiError::internal)?;
    let drawn = tokio::task::spawn_blocking(move || {
        let map = crate::worldmap::WorldMap::embedded();
        if png {
            map.png(&points, &title, width).map(|b| ("image/png", b))
        } else {
            Ok((
                "image/svg+xml",
                map.svg(&points, &title, width).into_bytes(),
            ))
        }
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, drawn.0),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        drawn.1,
    )
        .into_response())
}

/// `days=7` as "7 days".
fn window_words(w: &Window) -> String {
    let (unit, n) = w.label.split_once('=').unwrap_or(("days", "1"));
    let unit = if n == "1" {
        unit.trim_end_matches('s')
    } else {
        unit
    };
    format!("{n} {unit}")
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::dashboard::OPENAPI,
    )
        .into_response()
}

async fn metrics(State(s): State<AppState>) -> Response {
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

/// Decrements the stream gauge when a stream ends.
struct StreamGuard(Arc<HttpMetrics>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.stream_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Server-sent events: one `session` event per new session (its summary, never its rows), as
/// they are recorded. The dashboard adds each to its table and refreshes its counters at most
/// every few seconds, never the whole session list.
async fn stream(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    Params::new(q, &[])?;
    if s.metrics.stream_clients.fetch_add(1, Ordering::Relaxed) >= MAX_STREAMS {
        s.metrics.stream_clients.fetch_sub(1, Ordering::Relaxed);
        return Err(ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("at most {MAX_STREAMS} live streams at once"),
            parameter: None,
        });
    }
    let guard = StreamGuard(s.metrics.clone());
    let last = s.db.read(query::latest_rowid).await?;
    let db = s.db.clone();
    let stop = s.shutdown.clone();
    let events = futures_util::stream::unfold(
        (db, last, guard, Vec::<Event>::new()),
        move |(db, mut last, guard, mut pending)| {
            let stop = stop.clone();
            async move {
                loop {
                    if let Some(e) = pending.pop() {
                        return Some((Ok(e), (db, last, guard, pending)));
                    }
                    tokio::select! {
                        () = stop.cancelled() => return None,
                        () = tokio::time::sleep(STREAM_POLL) => {}
                    }
                    let after = last;
                    let Ok(new) = db
                        .read(move |c| query::sessions_after(c, after, 100, SUMMARY_TEXT_BYTES))
                        .await
                    else {
                        continue;
                    };
                    for (rowid, session) in new.into_iter().rev() {
                        last = last.max(rowid);
                        if let Ok(e) = Event::default().event("session").json_data(&session) {
                            pending.push(e);
                        }
                    }
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", uri.path()))
}

/// Checks the `Host` (DNS rebinding) and the token, turns axum's bare 405 into a JSON answer
/// with `Allow`, and counts the request by its route template. Wraps every route and the
/// fallback.
async fn guard(State(s): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    let open = matches!(route.as_str(), "/" | "/assets/{file}");
    let method = request.method().clone();
    let refusal = host_refusal(&s.hosts, &request).or_else(|| match &s.token {
        Some(token) if !open && !authorized(&request, token) => Some(ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: "this service needs a bearer token: Authorization: Bearer <token>".into(),
            parameter: None,
        }),
        _ => None,
    });
    let mut response = match refusal {
        Some(refusal) => refusal.into_response(),
        None => next.run(request).await,
    };
    if response.status() == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        response = method_not_allowed(&response, &method);
    }
    s.metrics
        .observe(&route, response.status().as_u16(), started.elapsed());
    response
}

/// Why a request does not name this service, if it does not: 421 for a name that is not
/// allowed (a DNS-rebinding page, or a proxy whose name is not in `hosts`), 400 for an
/// HTTP/1.1 request without exactly one `Host`. An absolute-form target names the host
/// instead of `Host` (RFC 9112, 3.2.2).
fn host_refusal(hosts: &AllowedHosts, request: &Request) -> Option<ApiError> {
    let bad_request = |message: &str| ApiError {
        status: StatusCode::BAD_REQUEST,
        message: message.into(),
        parameter: None,
    };
    let given = match request.uri().authority() {
        Some(authority) => authority.host().to_owned(),
        None => {
            let mut values = request.headers().get_all(header::HOST).iter();
            match (values.next(), values.next()) {
                (Some(value), None) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
                (None, _) if request.version() <= Version::HTTP_10 => return None,
                (None, _) => return Some(bad_request("an HTTP/1.1 request needs a Host header")),
                (Some(_), Some(_)) => return Some(bad_request("more than one Host header")),
            }
        }
    };
    if hosts.allows(&given) {
        return None;
    }
    let shown: String = given.chars().take(100).collect();
    Some(ApiError {
        status: StatusCode::MISDIRECTED_REQUEST,
        message: format!(
            "this service does not answer to the name {shown:?}: reach it by its address or \
             localhost, or add the name to reportd.hosts"
        ),
        parameter: None,
    })
}

/// axum's 405 (an empty body) as a JSON error. axum adds `Allow` (`GET,HEAD`) to it on the
/// way out, after this middleware.
fn method_not_allowed(response: &Response, method: &Method) -> Response {
    let mut answer = ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!(
            "this endpoint does not answer {method}; the Allow header lists what it does"
        ),
        parameter: None,
    }
    .into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        answer.headers_mut().insert(header::ALLOW, allow.clone());
    }
    answer
}

/// The token from `Authorization: Bearer` (the scheme in any case, RFC 9110 11.1), or
/// `access_token=` for EventSource, which cannot set headers; compared in constant time.
fn authorized(request: &Request, token: &str) -> bool {
    let from_header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credentials)| credentials.trim_start_matches(' ').to_owned());
    let from_query = || {
        request.uri().query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "access_token")
                .map(|(_, v)| v.into_owned())
        })
    };
    from_header
        .or_else(from_query)
        .is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Every route, with the token check, request metrics and CORS.
pub fn router(state: AppState, cors_origins: &[String]) -> Router {
    let routes = Router::new()
        .route("/", get(crate::dashboard::index))
        .route("/assets/{file}", get(crate::dashboard::asset))
        .route("/v1/analytics", get(analytics))
        .route("/v1/analytics/ports", get(ports))
        .route("/v1/analytics/ports/{port}", get(port_detail))
        .route("/v1/analytics/ipaddresses", get(addresses))
        .route("/v1/analytics/ipaddresses/{ip}", get(address_detail))
        .route("/v1/ipaddresses/{ip}", get(address_detail))
        .route("/v1/ipaddress/{ip}", get(address_detail))
        .route("/v1/analytics/credentials", get(credentials))
        .route("/v1/analytics/commands", get(commands))
        .route("/v1/analytics/summary", get(summary))
        .route("/v1/analytics/worldmap", get(worldmap))
        .route("/v1/worldmap", get(worldmap))
        .route("/v1/sessions", get(sessions))
        .route("/v1/sessions/{id}", get(session_detail))
        .route("/v1/sensors", get(sensors))
        .route("/v1/stream", get(stream))
        .route("/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        // `layer`, not `route_layer`: the fallback and axum's 405 answers pass the guard too.
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state);
    let origins: Vec<HeaderValue> = cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return routes;
    }
    routes.layer(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET])
            .allow_headers([header::AUTHORIZATION]),
    )
}

/// Opens the database, binds and serves until `shutdown`.
pub async fn serve(
    settings: ReportdSettings,
    extra_metrics: Option<Arc<dyn MetricsSource>>,
    shutdown: CancellationToken,
) -> Result<(), ReportError> {
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| ReportError::Bind {
            addr: settings.listen,
            reason: e.to_string(),
        })?;
    serve_on(listener, settings, extra_metrics, shutdown).await
}

/// Like [`serve`], on a listener already bound (tests, `recce7 up`).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    settings: ReportdSettings,
    extra_metrics: Option<Arc<dyn MetricsSource>>,
    shutdown: CancellationToken,
) -> Result<(), ReportError> {
    // The exposure rule again, on the address actually bound: settings built without
    // validation cannot serve a public address without a token.
    let addr = listener
        .local_addr()
        .map_err(|e| ReportError::Serve(e.to_string()))?;
    if let Some(reason) = exposure_problem(addr, settings.token.as_deref()) {
        return Err(ReportError::Exposed { addr, reason });
    }
    let db = Db::open(
        &settings.database,
        settings.query_timeout,
        settings.max_rows,
    )?;
    let state = AppState {
        db,
        token: settings.token.as_deref().map(Arc::from),
        hosts: Arc::new(settings.hosts.clone()),
        public_url: Arc::from(settings.public_url.as_str()),
        metrics: Arc::new(HttpMetrics::default()),
        extra_metrics,
        shutdown: shutdown.clone(),
        max_response_bytes: settings.max_response_bytes,
    };
    let counters = state.metrics.connections.clone();
    let app = router(state, &settings.cors_origins);
    crate::server::serve_router(listener, app, settings.limits, counters, shutdown).await;
    Ok(())
}

/// Serves `/metrics` alone for `source` (the sensor's own metrics endpoint) until `shutdown`.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    source: Arc<dyn MetricsSource>,
    shutdown: CancellationToken,
) -> Result<(), ReportError> {
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let source = source.clone();
                async move {
                    let mut out = Exposition::default();
                    source.render(&mut out);
                    process_metrics(&mut out);
                    (
                        [(
                            header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        out.finish(),
                    )
                }
            }),
        )
        .fallback(not_found);
    // Prometheus scrapes it from one address now and then: a few connections are plenty.
    let limits = crate::server::ServerLimits {
        max_connections: 8,
        max_connections_per_source: 4,
        ..crate::server::ServerLimits::default()
    };
    crate::server::serve_router(listener, app, limits, Arc::default(), shutdown).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_query_key_is_refused_by_name() {
        let q = parse_query("days=1&sensor=a%20b&empty=").unwrap();
        assert_eq!(q.get("sensor").map(String::as_str), Some("a b"));
        assert_eq!(q.get("empty").map(String::as_str), Some(""));
        let e = parse_query("days=1&hours=2&days=1").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.parameter.as_deref(), Some("days"));
        let e = parse_query("a%62=1&ab=2").unwrap_err();
        assert_eq!(
            e.parameter.as_deref(),
            Some("ab"),
            "compared after decoding"
        );
    }
}
