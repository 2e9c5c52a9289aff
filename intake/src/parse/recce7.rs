//! The recce7 event JSON (`store::Event`), as recce7 sensors publish it on `recce7.events`.

use std::net::IpAddr;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use store::{Event, EventType, SCHEMA_VERSION};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::limits::{PayloadLimits, check_bounds};
use super::rejection::{Rejection, kind_of, not_an_object, quote, wrong};
use super::timestamp::store_time;

/// Longest accepted `sensor`, `plugin` and `protocol` of a recce7 event, in characters.
pub const MAX_NAME_CHARS: usize = 128;

/// Types whose `data` keys name columns of the plug-in instance's table. The other types fill
/// the store's fixed tables from known keys (`session.start` has a `table` key, which is an SQL
/// keyword and so would never pass as a column name).
fn data_keys_are_columns(kind: EventType) -> bool {
    !matches!(
        kind,
        EventType::SessionStart
            | EventType::SessionEnd
            | EventType::InputRaw
            | EventType::FingerprintP0f
            | EventType::FingerprintTls
            | EventType::FingerprintHttp
    ) && !kind.is_scan()
}

pub(super) fn parse_event(value: Value, limits: &PayloadLimits) -> Result<Event, Rejection> {
    let Value::Object(obj) = &value else {
        return Err(not_an_object(&value));
    };
    if let Some(n) = obj.get("schema").and_then(Value::as_u64)
        && n != u64::from(SCHEMA_VERSION)
    {
        return Err(Rejection::UnknownVersion(n));
    }
    let mut event = match <Event as serde::Deserialize>::deserialize(&value) {
        Ok(event) => event,
        Err(e) => {
            return Err(wrong(
                first_bad_event_field(obj).unwrap_or_else(|| e.to_string()),
            ));
        }
    };
    if !store::is_id(&event.id) {
        return Err(wrong("field `id`: not a UUID"));
    }
    if !store::is_id(&event.session) {
        return Err(wrong("field `session`: not a UUID"));
    }
    match OffsetDateTime::parse(&event.time, &Rfc3339) {
        Ok(t) => {
            event.time = store_time(t)
                .ok_or_else(|| wrong("field `time`: out of the range 0000-9999 in UTC"))?;
        }
        Err(e) => return Err(wrong(format!("field `time`: not RFC 3339: {e}"))),
    }
    // Every string (keys too) within `max_field`, every array and object (`data` among them)
    // within `max_items`, each named by its path.
    check_bounds(&value, limits)?;
    if data_keys_are_columns(event.kind)
        && let Some(bad) = event
            .data
            .keys()
            .find(|k| !store::is_safe_identifier(k) || store::schema::is_fixed_column(k))
    {
        return Err(Rejection::BadIdentifier(quote(bad)));
    }
    if event.kind == EventType::SessionStart {
        match event.data.get("table") {
            None | Some(Value::Null) => {}
            Some(Value::String(table)) => {
                if !store::is_safe_identifier(table) || store::schema::is_reserved_table(table) {
                    return Err(Rejection::BadIdentifier(quote(table)));
                }
            }
            Some(other) => {
                return Err(wrong(format!(
                    "field `data.table`: expected a string or null, found {}",
                    kind_of(other)
                )));
            }
        }
    }
    for (field, text) in [
        ("sensor", &event.sensor),
        ("plugin", &event.plugin),
        ("protocol", &event.protocol),
    ] {
        if text.is_empty() {
            return Err(wrong(format!("field `{field}`: empty")));
        }
        let chars = text.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(Rejection::FieldTooLong {
                field: field.into(),
                len: chars,
                max: MAX_NAME_CHARS,
            });
        }
    }
    event.src_ip = event.src_ip.to_canonical();
    event.dst_ip = event.dst_ip.to_canonical();
    Ok(event)
}

/// Names the first missing or ill-typed field of an event object, for a rejection that says
/// which field is wrong (serde's own messages, from a `Value`, do not).
fn first_bad_event_field(obj: &Map<String, Value>) -> Option<String> {
    fn check<T: DeserializeOwned>(obj: &Map<String, Value>, name: &str) -> Option<String> {
        match obj.get(name) {
            None => Some(format!("missing field `{name}`")),
            Some(v) => T::deserialize(v)
                .err()
                .map(|e| format!("field `{name}`: {e}")),
        }
    }
    check::<u32>(obj, "schema")
        .or_else(|| check::<String>(obj, "id"))
        .or_else(|| check::<String>(obj, "sensor"))
        .or_else(|| check::<String>(obj, "session"))
        .or_else(|| check::<String>(obj, "time"))
        .or_else(|| check::<EventType>(obj, "type"))
        .or_else(|| check::<String>(obj, "plugin"))
        .or_else(|| check::<String>(obj, "protocol"))
        .or_else(|| check::<IpAddr>(obj, "src_ip"))
        .or_else(|| check::<u16>(obj, "src_port"))
        .or_else(|| check::<IpAddr>(obj, "dst_ip"))
        .or_else(|| check::<u16>(obj, "dst_port"))
        .or_else(|| check::<Map<String, Value>>(obj, "data"))
}
