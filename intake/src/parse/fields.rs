//! Typed readers for the fields of a Cowrie or Dionaea object (each removes the field it reads
//! and names it in its rejection), and the derived dedup ids.

use std::net::IpAddr;

use serde_json::{Map, Value};
use sha1::{Digest, Sha1};

use super::rejection::{Rejection, expected, quote, wrong};

/// `prefix` and the first 32 hex digits of SHA-1(`ident`, NUL, `body`).
pub(super) fn derived_id(prefix: &str, ident: &str, body: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(ident.as_bytes());
    hasher.update([0u8]);
    hasher.update(body);
    let digest = hasher.finalize();
    let mut id = String::with_capacity(prefix.len() + 32);
    id.push_str(prefix);
    for byte in digest.iter().take(16) {
        id.push(hex_digit(byte >> 4));
        id.push(hex_digit(byte & 0x0f));
    }
    id
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble & 0x0f)])
}

/// A required string field, removed from `obj`.
pub(super) fn required_str(obj: &mut Map<String, Value>, field: &str) -> Result<String, Rejection> {
    match obj.remove(field) {
        None | Some(Value::Null) => Err(wrong(format!("missing field `{field}`"))),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(expected(field, "a string", &other)),
    }
}

/// An optional string field (absent or null: `None`), removed from `obj`.
pub(super) fn optional_str(
    obj: &mut Map<String, Value>,
    field: &str,
) -> Result<Option<String>, Rejection> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(expected(field, "a string or null", &other)),
    }
}

/// A required IP address given as text, removed from `obj`; IPv4-mapped IPv6 becomes IPv4.
pub(super) fn required_ip(obj: &mut Map<String, Value>, field: &str) -> Result<IpAddr, Rejection> {
    let text = required_str(obj, field)?;
    if text.is_empty() {
        return Err(wrong(format!("field `{field}`: empty address")));
    }
    text.parse::<IpAddr>()
        .map(|ip| ip.to_canonical())
        .map_err(|e| wrong(format!("field `{field}`: {e}: {}", quote(&text))))
}

/// A required port, as a number or a string of digits, removed from `obj`.
pub(super) fn required_port(obj: &mut Map<String, Value>, field: &str) -> Result<u16, Rejection> {
    let port = match obj.remove(field) {
        None | Some(Value::Null) => return Err(wrong(format!("missing field `{field}`"))),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Some(Value::String(s)) if s.bytes().all(|b| b.is_ascii_digit()) => s.parse::<u16>().ok(),
        Some(Value::String(_)) => None,
        Some(other) => return Err(expected(field, "a port number", &other)),
    };
    port.ok_or_else(|| wrong(format!("field `{field}`: not a port number 0-65535")))
}

/// A `[username, password]` pair of strings.
pub(super) fn pair(value: Value, field: &str) -> Result<(String, String), Rejection> {
    match value {
        Value::Array(items) if items.len() == 2 => {
            let mut items = items.into_iter();
            match (items.next(), items.next()) {
                (Some(Value::String(user)), Some(Value::String(pass))) => Ok((user, pass)),
                _ => Err(wrong(format!(
                    "field `{field}`: expected [username, password] as two strings"
                ))),
            }
        }
        Value::Array(items) => Err(wrong(format!(
            "field `{field}`: expected [username, password], found {} items",
            items.len()
        ))),
        other => Err(expected(field, "[username, password]", &other)),
    }
}

/// An optional list of strings (absent or null: empty), removed from `obj`.
pub(super) fn str_list(
    obj: &mut Map<String, Value>,
    field: &str,
) -> Result<Vec<String>, Rejection> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s),
                other => Err(expected(&format!("{field}[{i}]"), "a string", &other)),
            })
            .collect(),
        Some(other) => Err(expected(field, "a list of strings or null", &other)),
    }
}
