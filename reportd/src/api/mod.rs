//! The routes: RECCE7's `/v1/` API with its paths, parameters and field names, what RECCE7 left
//! for a future release, the world map, the live stream, `/metrics` and the dashboard. Errors
//! are JSON bodies that name the problem. A bearer token guards everything but the dashboard's
//! static files when one is configured. Every request must name this service in `Host` (DNS
//! rebinding), and links are built from the configured `public_url`, never from the request.
//!
//! The parts: `params` (the query string, parameter checks), `paging` (cursors, the `Link`
//! header, lists cut to the byte budget), `auth` (the `Host` allow-list and the bearer
//! token), `live` (the live stream) and `handlers` (one module per resource).

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, Method, header};
use axum::middleware;
use axum::response::Response;
use axum::routing::get;
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::budget;
use crate::config::{AllowedHosts, ReportdSettings, exposure_problem};
use crate::db::Db;
use crate::metrics::{HttpMetrics, MetricsSource};
use crate::{ApiError, ReportError};

mod auth;
mod handlers;
mod live;
mod paging;
mod params;

use handlers::{addresses, analytics, files, map, ports, scans, sessions};

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
    pub(crate) fn value_cap(&self) -> usize {
        budget::value_cap(self.max_response_bytes)
    }
}

/// What a handler answers.
type ApiResult = Result<Response, ApiError>;

/// Every route, with the token check, request metrics and CORS.
pub fn router(state: AppState, cors_origins: &[String]) -> Router {
    let routes = Router::new()
        .route("/", get(crate::dashboard::index))
        .route("/assets/{file}", get(crate::dashboard::asset))
        .route("/v1/analytics", get(handlers::index))
        .route("/v1/analytics/ports", get(ports::ports))
        .route("/v1/analytics/ports/{port}", get(ports::port_detail))
        .route("/v1/analytics/ipaddresses", get(addresses::addresses))
        .route(
            "/v1/analytics/ipaddresses/{ip}",
            get(addresses::address_detail),
        )
        .route("/v1/ipaddresses/{ip}", get(addresses::address_detail))
        .route("/v1/ipaddress/{ip}", get(addresses::address_detail))
        .route("/v1/analytics/credentials", get(analytics::credentials))
        .route("/v1/analytics/commands", get(analytics::commands))
        .route("/v1/analytics/summary", get(analytics::summary))
        .route("/v1/analytics/worldmap", get(map::worldmap))
        .route("/v1/worldmap", get(map::worldmap))
        .route("/v1/sessions", get(sessions::sessions))
        .route("/v1/sessions/{id}", get(sessions::session_detail))
        .route("/v1/sensors", get(analytics::sensors))
        .route("/v1/scans", get(scans::scans))
        .route("/v1/analytics/scans", get(scans::scans))
        .route("/v1/files", get(files::files))
        .route("/v1/files/{sha256}", get(files::file_bytes))
        .route("/v1/downloads", get(files::downloads))
        .route("/v1/stream", get(live::stream))
        .route("/v1/openapi.json", get(handlers::openapi))
        .route("/metrics", get(handlers::metrics))
        .fallback(handlers::not_found)
        // `layer`, not `route_layer`: the fallback and axum's 405 answers pass the guard too.
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard))
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
