//! The HTTP API, MHN's and CHN's registration endpoints:
//!
//! - `POST /api/sensor/`: register (the deploy key in the body), answered as MHN answers, plus
//!   `broker_host` and `broker_port`.
//! - `GET /api/sensors/` (and CHN's `GET /api/sensor/`): every sensor, revoked ones included,
//!   without secrets (the admin token).
//! - `DELETE /api/sensor/{uuid}/`: revoke (the admin token): the key is deleted, the row kept.
//! - `POST /api/sensor/{uuid}/connect/`: CHN's address update (HTTP basic auth, the sensor's
//!   uuid as user and its secret as password; CHN takes the uuid as password, but the uuid is
//!   the hpfeeds ident, which every subscriber of its channels sees).
//! - `GET /metrics`.
//!
//! Every answer is JSON; every refusal is `{"error": "..."}` with MHN's text where MHN has one.
//! A request whose `Host` names another service is refused first (DNS rebinding); a request
//! needing a secret from a source that sent too many wrong ones is refused (429) before its
//! secret is even compared.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Value, json};

use crate::config::RegistrarSettings;
use crate::error::{ApiError, RegistryError};
use crate::limiter::FailureLimiter;
use crate::metrics::{Refusal, RegistrarMetrics};
use crate::registry::Registry;
use crate::request;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The registry (one connection; registrations are rare).
    pub registry: Arc<Mutex<Registry>>,
    /// The settings.
    pub settings: Arc<RegistrarSettings>,
    /// Failed secrets per source.
    pub limiter: Arc<FailureLimiter>,
    /// The counters.
    pub metrics: Arc<RegistrarMetrics>,
}

impl AppState {
    /// The state over `registry` with `settings`.
    pub fn new(registry: Registry, settings: RegistrarSettings) -> AppState {
        AppState {
            registry: Arc::new(Mutex::new(registry)),
            limiter: Arc::new(FailureLimiter::new(settings.max_failed_attempts_per_minute)),
            settings: Arc::new(settings),
            metrics: Arc::default(),
        }
    }

    /// Runs `work` on the registry on a blocking thread.
    async fn with_registry<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Registry) -> Result<T, RegistryError> + Send + 'static,
    ) -> Result<T, RegistryError> {
        let registry = self.registry.clone();
        tokio::task::spawn_blocking(move || {
            let mut registry = registry.lock().unwrap_or_else(|e| e.into_inner());
            work(&mut registry)
        })
        .await
        .unwrap_or_else(|e| Err(RegistryError::Task(e.to_string())))
    }

    /// A refusal, counted.
    fn refuse(&self, why: Refusal, error: ApiError) -> ApiError {
        self.metrics.refused(why);
        error
    }

    /// 429 when `ip` used up its failed secrets for this minute.
    fn check_blocked(&self, ip: IpAddr) -> Result<(), ApiError> {
        match self.limiter.blocked(ip, Instant::now()) {
            None => Ok(()),
            Some(secs) => Err(self.refuse(
                Refusal::RateLimited,
                ApiError {
                    retry_after_secs: Some(secs),
                    ..ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "Too many failed attempts from this address; try again in a minute.",
                    )
                },
            )),
        }
    }

    /// 401 with MHN's text, the failure counted against `ip`.
    fn not_authorized(&self, ip: IpAddr) -> ApiError {
        self.limiter.record_failure(ip, Instant::now());
        self.refuse(Refusal::NotAuthorized, ApiError::not_authorized())
    }

    /// Checks the admin token (`Authorization: Bearer`, or CHN's `apikey` header).
    fn check_admin(&self, ip: IpAddr, headers: &HeaderMap) -> Result<(), ApiError> {
        self.check_blocked(ip)?;
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .or_else(|| headers.get("apikey").and_then(|h| h.to_str().ok()));
        match (&self.settings.admin_token, given) {
            (Some(token), Some(given))
                if request::secrets_match(given.as_bytes(), token.expose().as_bytes()) =>
            {
                Ok(())
            }
            _ => Err(self.not_authorized(ip)),
        }
    }
}

/// A handler's answer.
type ApiResult = Result<Response, ApiError>;

/// Every route, behind the `Host` check.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/sensor/", post(register).get(list))
        .route("/api/sensor", post(register))
        .route("/api/sensors/", get(list))
        .route("/api/sensor/{uuid}/", delete(revoke))
        .route("/api/sensor/{uuid}/connect/", post(connect))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), host_guard))
        .with_state(state)
}

/// Refuses a request whose `Host` (or absolute-form target) does not name this service (421),
/// or an HTTP/1.1 request without exactly one `Host` (400).
async fn host_guard(State(s): State<AppState>, request: Request, next: Next) -> Response {
    let misdirected = || {
        ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "This registrar does not answer to that name: reach it by its address, or add the name to registrar.hosts.",
        )
    };
    // An absolute-form target names the host too (RFC 9112, 3.2.2): both must be allowed.
    if let Some(authority) = request.uri().authority()
        && !s.settings.hosts.allows(authority.as_str())
    {
        return s.refuse(Refusal::Host, misdirected()).into_response();
    }
    let mut values = request.headers().get_all(header::HOST).iter();
    let refusal = match (values.next(), values.next()) {
        (Some(value), None) => {
            let ok = value.to_str().is_ok_and(|v| s.settings.hosts.allows(v));
            (!ok).then(misdirected)
        }
        (None, _) if request.version() <= axum::http::Version::HTTP_10 => None,
        (None, _) => Some(ApiError::bad_request(
            "An HTTP/1.1 request needs a Host header.",
        )),
        (Some(_), Some(_)) => Some(ApiError::bad_request("More than one Host header.")),
    };
    match refusal {
        Some(e) => s.refuse(Refusal::Host, e).into_response(),
        None => next.run(request).await,
    }
}

/// The body, at most `max` bytes (413 past it, before reading it all when the length says so),
/// within the request-head timeout (408 past it: a body trickled a byte at a time must not hold
/// a connection slot).
async fn read_body(s: &AppState, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let max = s.settings.max_body_bytes;
    let too_large = || {
        s.refuse(
            Refusal::TooLarge,
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body is larger than {max} bytes."),
            ),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let deadline = s.settings.server.header_read_timeout;
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, max)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(too_large()),
        Err(_) => Err(s.refuse(
            Refusal::BadRequest,
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "The request body did not arrive in time.",
            ),
        )),
    }
}

/// The host sensors are told to publish to: the configured one, or the host the request named
/// (MHN's scripts assume the server's host), without its port or brackets.
fn broker_host(s: &AppState, headers: &HeaderMap) -> String {
    if let Some(host) = &s.settings.broker_host {
        return host.clone();
    }
    let named = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .and_then(reportd::config::split_host_port)
        .map(|(host, _)| {
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned()
        });
    named.unwrap_or_else(|| s.settings.listen.ip().to_string())
}

/// `POST /api/sensor/`.
async fn register(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let ip = peer.ip().to_canonical();
    let body = read_body(&s, &headers, body).await?;
    let map = request::json_object(&body).map_err(|e| s.refuse(Refusal::BadRequest, e))?;
    s.check_blocked(ip)?;
    let key_ok = request::deploy_key_of(&map).is_some_and(|given| {
        request::secrets_match(given.as_bytes(), s.settings.deploy_key.expose().as_bytes())
    });
    if !key_ok {
        tracing::info!(source = %ip, "registration refused: wrong or missing deploy key");
        return Err(s.not_authorized(ip));
    }
    let missing = request::missing_fields(&map);
    if !missing.is_empty() {
        return Err(s.refuse(
            Refusal::BadRequest,
            ApiError::bad_request(request::missing_fields_text(&missing)),
        ));
    }
    let sensor = request::new_sensor(&map, ip, &s.settings.honeypot_channels)
        .map_err(|e| s.refuse(Refusal::BadRequest, e))?;
    let name = sensor.name.clone();
    let max = s.settings.max_sensors;
    let registered = match s.with_registry(move |r| r.register(&sensor, max)).await {
        Ok(registered) => registered,
        Err(RegistryError::Taken) => {
            return Err(s.refuse(
                Refusal::Taken,
                ApiError::bad_request(request::taken_text(&name)),
            ));
        }
        Err(RegistryError::Full) => {
            return Err(s.refuse(
                Refusal::Full,
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!("This registrar holds its limit of {max} sensors (registrar.limits.max_sensors); revoke one first."),
                ),
            ));
        }
        Err(e) => return Err(ApiError::internal(e)),
    };
    s.metrics
        .registrations
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(
        uuid = %registered.uuid,
        name = %registered.name,
        honeypot = %registered.honeypot,
        ip = %registered.ip,
        source = %ip,
        "sensor registered"
    );
    let mut answer = serde_json::to_value(&registered).map_err(ApiError::internal)?;
    answer["broker_host"] = Value::String(broker_host(&s, &headers));
    answer["broker_port"] = json!(s.settings.broker_port);
    // The answer carries the sensor's secret: no cache keeps it.
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(answer)).into_response())
}

/// `GET /api/sensors/`.
async fn list(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> ApiResult {
    s.check_admin(peer.ip().to_canonical(), &headers)?;
    let sensors = s
        .with_registry(|r| r.list())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(sensors).into_response())
}

/// A uuid from a path, as the registry writes it (lower-case, hyphenated).
fn parse_uuid(text: &str) -> Option<String> {
    uuid::Uuid::try_parse(text)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// `DELETE /api/sensor/{uuid}/`.
async fn revoke(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let ip = peer.ip().to_canonical();
    s.check_admin(ip, &headers)?;
    let uuid = parse_uuid(&uuid).ok_or_else(ApiError::not_found)?;
    let revoked = s
        .with_registry(move |r| r.revoke(&uuid))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)?;
    s.metrics
        .revocations
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(uuid = %revoked.uuid, name = %revoked.name, source = %ip, "sensor revoked");
    Ok(Json(revoked).into_response())
}

/// The user and password of `Authorization: Basic`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = BASIC_AUTH.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// `Authorization: Basic` credentials: standard base64, with or without padding.
const BASIC_AUTH: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `POST /api/sensor/{uuid}/connect/`: records the request's address as the sensor's.
async fn connect(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let ip = peer.ip().to_canonical();
    s.check_blocked(ip)?;
    let uuid = parse_uuid(&uuid).ok_or_else(|| s.not_authorized(ip))?;
    let Some((user, password)) = basic_credentials(&headers) else {
        return Err(s.not_authorized(ip));
    };
    let lookup = uuid.clone();
    let secret = s
        .with_registry(move |r| r.secret_of(&lookup))
        .await
        .map_err(ApiError::internal)?;
    let ok = secret.is_some_and(|secret| {
        request::secrets_match(user.as_bytes(), uuid.as_bytes())
            && request::secrets_match(password.as_bytes(), secret.as_bytes())
    });
    if !ok {
        return Err(s.not_authorized(ip));
    }
    let address = ip.to_string();
    let updated = s
        .with_registry(move |r| r.update_ip(&uuid, &address))
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(updated).into_response())
}

/// `GET /metrics`.
async fn metrics(State(s): State<AppState>) -> Response {
    let active = s.with_registry(|r| r.active_count()).await.ok();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(active),
    )
        .into_response()
}

/// Anything else: MHN's 404.
async fn not_found() -> ApiError {
    ApiError::not_found()
}

#[cfg(test)]
mod tests;
