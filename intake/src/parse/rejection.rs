//! Why a payload was refused ([`Rejection`]), and the helpers that build one: attacker-controlled
//! text quoted in a rejection is clipped and its control characters escaped.

use serde_json::Value;

/// Longest attacker-controlled name or message quoted inside a [`Rejection`], in characters.
pub(super) const MAX_QUOTED_CHARS: usize = 200;

/// Why a payload was not accepted; kept in the quarantine table with the payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The payload is not JSON (or not UTF-8); serde_json's message.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// The payload is larger than [`PayloadLimits::max_payload`](super::PayloadLimits::max_payload); JSON was not attempted.
    #[error("payload of {size} bytes exceeds {max}")]
    TooLarge {
        /// The payload's size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A recce7 event whose `schema` is a number this build does not know.
    #[error("unknown schema version {0}")]
    UnknownVersion(u64),
    /// A missing or ill-typed field, named: e.g. "field `src_ip`: invalid IP address syntax".
    #[error("wrong schema: {0}")]
    WrongSchema(String),
    /// A string (or object key) longer than allowed; `field` is its path, e.g. `data.body`.
    #[error("field `{field}` is {len} long, more than {max}")]
    FieldTooLong {
        /// The path of the value, e.g. `data.body` or `commands[3]`.
        field: String,
        /// Its length: bytes for [`PayloadLimits::max_field`](super::PayloadLimits::max_field), characters for names.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An array or object with more items than [`PayloadLimits::max_items`](super::PayloadLimits::max_items).
    #[error("field `{field}` has {len} items, more than {max}")]
    TooManyItems {
        /// The path of the array or object, e.g. `credentials` or `data`.
        field: String,
        /// How many items it has.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A data key or a table name that is not a safe SQL identifier, or collides with a fixed
    /// column or a reserved table. Holds the name (clipped, control characters escaped).
    #[error(
        "`{0}` is not a usable SQL name (unsafe, a keyword, a fixed column or a reserved table)"
    )]
    BadIdentifier(String),
    /// A channel no parser takes. [`parse`](super::parse) gives it only for an empty channel name, since every
    /// other channel is read as recce7 events; callers that route by channel may use it too.
    #[error("unknown channel `{0}`")]
    UnknownChannel(String),
}

pub(super) fn wrong(message: impl Into<String>) -> Rejection {
    Rejection::WrongSchema(quote(&message.into()))
}

pub(super) fn not_an_object(value: &Value) -> Rejection {
    wrong(format!("expected a JSON object, found {}", kind_of(value)))
}

pub(super) fn expected(field: &str, what: &str, found: &Value) -> Rejection {
    wrong(format!(
        "field `{field}`: expected {what}, found {}",
        kind_of(found)
    ))
}

pub(super) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Attacker-controlled text made fit for a rejection message: control characters escaped, at
/// most [`MAX_QUOTED_CHARS`] characters, `...` when clipped.
pub(super) fn quote(text: &str) -> String {
    clip(text, MAX_QUOTED_CHARS)
}

/// A key in a path: clipped shorter than a message.
pub(super) fn quote_name(text: &str) -> String {
    clip(text, 64)
}

fn clip(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars + 8));
    let mut count = 0;
    for c in text.chars() {
        let width = if c.is_control() {
            c.escape_default().count()
        } else {
            1
        };
        if count + width > max_chars {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        count += width;
    }
    out
}
