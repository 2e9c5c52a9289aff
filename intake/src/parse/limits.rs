//! The bounds on one payload ([`PayloadLimits`]) and the walk that checks every string, key,
//! array and object against them, naming the first value over a limit by its path.

use serde_json::{Map, Value};

use super::rejection::{Rejection, quote_name};

/// Bounds on what one payload may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadLimits {
    /// Largest payload in bytes (default 1 MiB, hpfeeds3's own cap on a message).
    pub max_payload: usize,
    /// Largest string value (or object key) anywhere in the payload, in bytes (default 64 KiB).
    pub max_field: usize,
    /// Most elements in any array (credentials, commands, ...) and most keys in any object,
    /// `data` included (default 10,000).
    pub max_items: usize,
}

impl Default for PayloadLimits {
    /// 1 MiB payloads, 64 KiB strings, 10,000 items.
    fn default() -> Self {
        PayloadLimits {
            max_payload: 1 << 20,
            max_field: 64 << 10,
            max_items: 10_000,
        }
    }
}

/// One step of a path to a value inside the payload.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// A value over a limit, with the path to it (innermost step first).
struct Violation<'a> {
    rev_path: Vec<Step<'a>>,
    len: usize,
    too_long: bool,
}

impl Violation<'_> {
    fn into_rejection(self, limits: &PayloadLimits) -> Rejection {
        let mut field = String::new();
        for step in self.rev_path.iter().rev() {
            match step {
                Step::Key(k) => {
                    if !field.is_empty() {
                        field.push('.');
                    }
                    field.push_str(&quote_name(k));
                }
                Step::Index(i) => {
                    field.push('[');
                    field.push_str(&i.to_string());
                    field.push(']');
                }
            }
        }
        if field.is_empty() {
            field.push_str("payload");
        }
        if self.too_long {
            Rejection::FieldTooLong {
                field,
                len: self.len,
                max: limits.max_field,
            }
        } else {
            Rejection::TooManyItems {
                field,
                len: self.len,
                max: limits.max_items,
            }
        }
    }
}

/// Every string and key in `value` at most `max_field` bytes, every array and object at most
/// `max_items` items.
pub(super) fn check_bounds(value: &Value, limits: &PayloadLimits) -> Result<(), Rejection> {
    walk(value, limits).map_err(|v| v.into_rejection(limits))
}

/// [`check_bounds`] for a top-level object.
pub(super) fn check_map_bounds(
    map: &Map<String, Value>,
    limits: &PayloadLimits,
) -> Result<(), Rejection> {
    walk_map(map, limits).map_err(|v| v.into_rejection(limits))
}

fn walk<'a>(value: &'a Value, limits: &PayloadLimits) -> Result<(), Violation<'a>> {
    match value {
        Value::String(s) if s.len() > limits.max_field => Err(Violation {
            rev_path: Vec::new(),
            len: s.len(),
            too_long: true,
        }),
        Value::Array(items) => {
            if items.len() > limits.max_items {
                return Err(Violation {
                    rev_path: Vec::new(),
                    len: items.len(),
                    too_long: false,
                });
            }
            for (i, item) in items.iter().enumerate() {
                walk(item, limits).map_err(|mut v| {
                    v.rev_path.push(Step::Index(i));
                    v
                })?;
            }
            Ok(())
        }
        Value::Object(map) => walk_map(map, limits),
        _ => Ok(()),
    }
}

fn walk_map<'a>(map: &'a Map<String, Value>, limits: &PayloadLimits) -> Result<(), Violation<'a>> {
    if map.len() > limits.max_items {
        return Err(Violation {
            rev_path: Vec::new(),
            len: map.len(),
            too_long: false,
        });
    }
    for (key, item) in map {
        if key.len() > limits.max_field {
            return Err(Violation {
                rev_path: vec![Step::Key(key)],
                len: key.len(),
                too_long: true,
            });
        }
        walk(item, limits).map_err(|mut v| {
            v.rev_path.push(Step::Key(key));
            v
        })?;
    }
    Ok(())
}
