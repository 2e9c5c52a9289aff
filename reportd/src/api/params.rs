//! The query string and the parameters of a request: a repeated key is a 400 that names it,
//! and so is a parameter the endpoint does not know, a bad `limit`, port or address.

use std::collections::HashMap;
use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use time::OffsetDateTime;

use crate::ApiError;
use crate::query::Filter;
use crate::window::Window;

/// The query string as a map. It stands in for axum's `Query<HashMap<String, String>>`, which
/// keeps one value of a repeated key and drops the others without a word: here a key given
/// twice (`days=1&days=2`) is a 400 that names it.
pub(super) struct Query<T>(pub(super) T);

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
pub(super) struct Params {
    /// The parameters, decoded (without `access_token`).
    pub(super) map: HashMap<String, String>,
}

/// The parameters that choose the time window.
pub(super) const WINDOW_PARAMS: [&str; 4] = ["minutes", "hours", "days", "weeks"];

impl Params {
    /// Checks `map` against the parameters the endpoint knows (`access_token` is taken anywhere).
    pub(super) fn new(
        mut map: HashMap<String, String>,
        known: &[&str],
    ) -> Result<Params, ApiError> {
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

    /// The time window the request asks for.
    pub(super) fn window(&self) -> Result<Window, ApiError> {
        Window::from_query(&self.map, OffsetDateTime::now_utc())
    }

    /// The window and the sensor filter.
    pub(super) fn filter(&self) -> Result<(Window, Filter), ApiError> {
        let window = self.window()?;
        let filter = Filter {
            since: window.since.clone(),
            sensor: self.map.get("sensor").cloned(),
        };
        Ok((window, filter))
    }

    /// `limit`: `default` (at most `max`) when not given, else a whole number from 1 to `max`.
    pub(super) fn limit(&self, max: usize, default: usize) -> Result<usize, ApiError> {
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

    /// `cursor`, as given (parsed by [`super::paging`]).
    pub(super) fn cursor(&self) -> Option<&str> {
        self.map.get("cursor").map(String::as_str)
    }

    /// Another parameter, as given.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }
}

/// The parameters of list endpoints, plus their own.
pub(super) fn list_params(extra: &[&'static str]) -> Vec<&'static str> {
    let mut v: Vec<&str> = WINDOW_PARAMS.to_vec();
    v.extend(["sensor", "limit", "cursor"]);
    v.extend_from_slice(extra);
    v
}

/// A port in a path (`/v1/analytics/ports/{port}`).
pub(super) fn parse_port(raw: &str) -> Result<u16, ApiError> {
    raw.parse::<u16>()
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| ApiError::bad_parameter("port", format!("{raw:?} is not a port (1..65535)")))
}

/// An address in a path, IPv4-mapped IPv6 as IPv4.
pub(super) fn parse_address(raw: &str) -> Result<IpAddr, ApiError> {
    parse_address_named(raw, "ipaddress")
}

/// An address given as `parameter`, IPv4-mapped IPv6 as IPv4.
pub(super) fn parse_address_named(raw: &str, parameter: &str) -> Result<IpAddr, ApiError> {
    let ip: IpAddr = raw.parse().map_err(|_| {
        ApiError::bad_parameter(parameter, format!("{raw:?} is not an IPv4 or IPv6 address"))
    })?;
    // The store keeps IPv4-mapped peers as IPv4.
    Ok(ip.to_canonical())
}

/// A scan kind (`kind=syn`): one of [`query::SCAN_KINDS`](crate::query::SCAN_KINDS).
pub(super) fn parse_scan_kind(raw: &str) -> Result<String, ApiError> {
    if crate::query::SCAN_KINDS.contains(&raw) {
        return Ok(raw.to_owned());
    }
    Err(ApiError::bad_parameter(
        "kind",
        format!(
            "{raw:?} is not a scan kind; give one of {}",
            crate::query::SCAN_KINDS.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

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
