//! The guard around every route: the `Host` allow-list (DNS rebinding), the bearer token
//! (header or `access_token=`, compared in constant time), axum's bare 405 made a JSON answer,
//! and request metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::ApiError;
use crate::config::AllowedHosts;

/// Checks the `Host` (DNS rebinding) and the token, turns axum's bare 405 into a JSON answer
/// with `Allow`, and counts the request by its route template. Wraps every route and the
/// fallback.
pub(super) async fn guard(State(s): State<AppState>, request: Request, next: Next) -> Response {
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
