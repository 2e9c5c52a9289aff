//! A registration request, read without I/O: the JSON body as MHN's and CHN's deploy scripts
//! send it (`{"name", "hostname", "deploy_key", "honeypot", "ip"?}`), checked in MHN's order
//! (the deploy key, then the required fields) and then against our own rules (names from a
//! safe character set, a known honeypot type, an address that parses).

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{Map, Value};

use crate::config::is_plain_name;
use crate::error::ApiError;
use crate::registry::NewSensor;

/// The fields a registration needs, in MHN's order (`Sensor.all_fields`).
pub const REQUIRED_FIELDS: [&str; 3] = ["name", "hostname", "honeypot"];

/// The longest sensor name.
pub const MAX_NAME_CHARS: usize = 128;

/// The longest host name.
pub const MAX_HOSTNAME_CHARS: usize = 253;

/// The body as a JSON object; anything else is a 400.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ApiError::bad_request(
            "The request body must be a JSON object (Content-Type: application/json).",
        )),
    }
}

/// The deploy key the request carries, if it carries a string there.
pub fn deploy_key_of(map: &Map<String, Value>) -> Option<&str> {
    map.get("deploy_key").and_then(Value::as_str)
}

/// Compares a secret in time that depends on the expected secret's length only.
pub fn secrets_match(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u64::from(given.len() != expected.len());
    for (i, e) in expected.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(0);
        diff |= u64::from(g ^ e);
    }
    diff == 0
}

/// The required fields that are absent or empty, in MHN's order.
pub fn missing_fields(map: &Map<String, Value>) -> Vec<&'static str> {
    REQUIRED_FIELDS
        .into_iter()
        .filter(|f| match map.get(*f) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        })
        .collect()
}

/// MHN's text for missing fields: Python formats the list, `['name', 'hostname']`.
pub fn missing_fields_text(missing: &[&str]) -> String {
    let list: Vec<String> = missing.iter().map(|f| format!("'{f}'")).collect();
    format!("Missing required fields: [{}].", list.join(", "))
}

/// MHN's text for a name that is taken.
pub fn taken_text(name: &str) -> String {
    format!("Sensor with name or hostname \"{name}\" already exists.")
}

/// A field that must be a string.
fn string_field<'a>(map: &'a Map<String, Value>, field: &str) -> Result<&'a str, ApiError> {
    map.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request(format!("\"{field}\" must be a string.")))
}

/// Checks a request whose deploy key was accepted and whose required fields are present, and
/// makes the registration: `source` is the request's address (the `ip` when none is given).
pub fn new_sensor(
    map: &Map<String, Value>,
    source: IpAddr,
    channels: &BTreeMap<String, Vec<String>>,
) -> Result<NewSensor, ApiError> {
    let name = string_field(map, "name")?;
    if !is_plain_name(name, MAX_NAME_CHARS) {
        return Err(ApiError::bad_request(format!(
            "Invalid name: 1 to {MAX_NAME_CHARS} letters, digits, . _ or -, starting with a letter or digit."
        )));
    }
    let hostname = string_field(map, "hostname")?;
    if !is_plain_name(hostname, MAX_HOSTNAME_CHARS) {
        return Err(ApiError::bad_request(format!(
            "Invalid hostname: 1 to {MAX_HOSTNAME_CHARS} letters, digits, . _ or -, starting with a letter or digit."
        )));
    }
    let honeypot = string_field(map, "honeypot")?;
    let Some(publish) = channels.get(honeypot) else {
        let known: Vec<&str> = channels.keys().map(String::as_str).collect();
        let what = if is_plain_name(honeypot, 64) {
            format!("Unknown honeypot type \"{honeypot}\"")
        } else {
            "Invalid honeypot type".to_owned()
        };
        return Err(ApiError::bad_request(format!(
            "{what}: this registrar knows {} (registrar.honeypot_channels).",
            known.join(", ")
        )));
    };
    let ip = match map.get("ip") {
        None | Some(Value::Null) => source.to_canonical(),
        Some(Value::String(s)) if s.is_empty() => source.to_canonical(),
        Some(Value::String(s)) => s
            .parse::<IpAddr>()
            .map_err(|_| ApiError::bad_request("Invalid ip: not an IPv4 or IPv6 address."))?
            .to_canonical(),
        Some(_) => return Err(ApiError::bad_request("\"ip\" must be a string.")),
    };
    Ok(NewSensor {
        name: name.to_owned(),
        hostname: hostname.to_owned(),
        honeypot: honeypot.to_owned(),
        ip: ip.to_string(),
        publish: publish.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_honeypot_channels;

    fn map(json: &str) -> Map<String, Value> {
        json_object(json.as_bytes()).unwrap()
    }

    #[test]
    fn missing_fields_read_as_mhn_writes_them() {
        let m = map(r#"{"deploy_key": "k", "hostname": ""}"#);
        assert_eq!(missing_fields(&m), ["name", "hostname", "honeypot"]);
        assert_eq!(
            missing_fields_text(&missing_fields(&m)),
            "Missing required fields: ['name', 'hostname', 'honeypot']."
        );
        let m = map(r#"{"name": "a", "hostname": "b", "honeypot": "recce7"}"#);
        assert!(missing_fields(&m).is_empty());
        assert_eq!(
            taken_text("pi-1-recce7"),
            "Sensor with name or hostname \"pi-1-recce7\" already exists."
        );
    }

    #[test]
    fn bodies_that_are_not_objects_are_refused() {
        for bad in ["", "[]", "\"x\"", "{", "null", "1"] {
            assert_eq!(
                json_object(bad.as_bytes()).unwrap_err().status,
                axum::http::StatusCode::BAD_REQUEST,
                "{bad}"
            );
        }
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(secrets_match(b"0123456789abcdef", b"0123456789abcdef"));
        for given in [
            &b"0123456789abcdeF"[..],
            b"0123456789abcde",
            b"0123456789abcdef0",
            b"",
        ] {
            assert!(!secrets_match(given, b"0123456789abcdef"));
        }
    }

    #[test]
    fn a_sensor_is_checked_and_gets_its_channels_and_address() {
        let channels = default_honeypot_channels();
        let source: IpAddr = "::ffff:192.0.2.9".parse().unwrap();
        let s = new_sensor(
            &map(r#"{"name": "pi-1-recce7", "hostname": "pi-1", "honeypot": "recce7"}"#),
            source,
            &channels,
        )
        .unwrap();
        assert_eq!(s.ip, "192.0.2.9");
        assert_eq!(s.publish, ["recce7.events"]);
        let s = new_sensor(
            &map(r#"{"name": "a", "hostname": "b", "honeypot": "cowrie", "ip": "2001:db8::1"}"#),
            source,
            &channels,
        )
        .unwrap();
        assert_eq!((s.ip.as_str(), s.publish.len()), ("2001:db8::1", 1));
        for (body, text) in [
            (
                r#"{"name": "a b", "hostname": "b", "honeypot": "recce7"}"#,
                "Invalid name",
            ),
            (
                r#"{"name": "a", "hostname": "../etc", "honeypot": "recce7"}"#,
                "Invalid hostname",
            ),
            (
                r#"{"name": "a", "hostname": "b", "honeypot": "nope"}"#,
                "Unknown honeypot type \"nope\": this registrar knows amun, conpot,",
            ),
            (
                r#"{"name": "a", "hostname": "b", "honeypot": "x'; drop"}"#,
                "Invalid honeypot type: this registrar knows",
            ),
            (
                r#"{"name": "a", "hostname": "b", "honeypot": "recce7", "ip": "1.2.3"}"#,
                "Invalid ip",
            ),
            (
                r#"{"name": 7, "hostname": "b", "honeypot": "recce7"}"#,
                "\"name\" must be a string.",
            ),
        ] {
            let e = new_sensor(&map(body), source, &channels).unwrap_err();
            assert!(e.message.starts_with(text), "{body}: {}", e.message);
        }
        let long = format!(
            r#"{{"name": "{}", "hostname": "b", "honeypot": "recce7"}}"#,
            "a".repeat(129)
        );
        assert!(new_sensor(&map(&long), source, &channels).is_err());
    }
}
