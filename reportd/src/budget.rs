//! Byte budgets for JSON answers. An attacker decides how large the recorded rows are (a 1 MiB
//! HTTP body, hundreds of rows a session), so no answer is built whole and measured afterwards:
//! every item is serialized on its own, appended only while the answer stays within the budget,
//! and single text values are cut to a bounded prefix with a marker. Memory per request is then
//! the budget plus one item, whatever the store holds.

use std::borrow::Cow;

use serde::Serialize;

/// The most bytes of one text value in an answer, whatever the budget.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// The least bytes of one text value kept, however small the budget.
pub const MIN_VALUE_BYTES: usize = 1024;

/// The longest text value kept under `budget` bytes: a sixteenth of it, from
/// [`MIN_VALUE_BYTES`] to [`MAX_VALUE_BYTES`] (64 KiB under the default 1 MiB).
pub fn value_cap(budget: usize) -> usize {
    (budget / 16).clamp(MIN_VALUE_BYTES, MAX_VALUE_BYTES)
}

/// The marker that ends a cut value: `…[cut N bytes]`, N being the bytes left out.
pub fn cut_marker(cut: usize) -> String {
    format!("…[cut {cut} bytes]")
}

/// `bytes` as text of at most `cap` bytes (plus the marker): the longest prefix that ends on a
/// character boundary, then [`cut_marker`]. Invalid UTF-8 becomes U+FFFD, as before. Only the
/// prefix is copied, never the whole value.
pub fn cap_bytes(bytes: &[u8], cap: usize) -> String {
    if bytes.len() <= cap {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut end = cap;
    // Back off continuation bytes so a character is not split.
    while end > 0 && end < bytes.len() && (bytes[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    let mut out = String::from_utf8_lossy(&bytes[..end]).into_owned();
    out.push_str(&cut_marker(bytes.len() - end));
    out
}

/// `s` cut like [`cap_bytes`]; borrowed when it fits.
pub fn cap_str(s: &str, cap: usize) -> Cow<'_, str> {
    if s.len() <= cap {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(cap_bytes(s.as_bytes(), cap))
    }
}

/// [`cap_str`] in place.
pub fn cap_string(s: &mut String, cap: usize) {
    if s.len() > cap {
        *s = cap_bytes(s.as_bytes(), cap);
    }
}

/// A JSON array of items that stays within a byte budget: each item is serialized into a
/// scratch buffer first and appended only if the array still fits. The first item is always
/// taken (so paging moves on); it is bounded by the value caps.
#[derive(Debug)]
pub struct BoundedArray {
    buf: Vec<u8>,
    scratch: Vec<u8>,
    room: usize,
    count: usize,
    full: bool,
}

impl BoundedArray {
    /// An empty array that may grow to `room` bytes (brackets included).
    pub fn new(room: usize) -> BoundedArray {
        let mut buf = Vec::with_capacity(room.min(64 * 1024));
        buf.push(b'[');
        BoundedArray {
            buf,
            scratch: Vec::new(),
            room,
            count: 0,
            full: false,
        }
    }

    /// Appends `item` when it fits; false (and nothing appended) when it does not, after which
    /// the array takes nothing more.
    pub fn push<T: Serialize + ?Sized>(&mut self, item: &T) -> bool {
        if self.full {
            return false;
        }
        self.scratch.clear();
        if serde_json::to_writer(&mut self.scratch, item).is_err() {
            self.full = true;
            return false;
        }
        // A comma before it, the closing bracket after it.
        let needed = self.buf.len() + usize::from(self.count > 0) + self.scratch.len() + 1;
        if needed > self.room && self.count > 0 {
            self.full = true;
            return false;
        }
        if self.count > 0 {
            self.buf.push(b',');
        }
        self.buf.extend_from_slice(&self.scratch);
        self.count += 1;
        true
    }

    /// Items appended.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// True once an item was refused for want of room.
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// The array's bytes, closed.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(b']');
        self.buf
    }
}

/// The size of `value` as JSON (for fixed parts of an answer); 0 if it cannot be serialized.
pub fn json_len<T: Serialize + ?Sized>(value: &T) -> usize {
    serde_json::to_vec(value).map_or(0, |v| v.len())
}

/// An object built from fields already serialized, written in order: `{"k":v,...}`.
#[derive(Debug, Default)]
pub struct ObjectWriter {
    buf: Vec<u8>,
}

impl ObjectWriter {
    /// An empty object.
    pub fn new() -> ObjectWriter {
        ObjectWriter { buf: vec![b'{'] }
    }

    /// Adds `key` with `value` serialized.
    pub fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        self.key(key);
        if serde_json::to_writer(&mut self.buf, value).is_err() {
            self.buf.extend_from_slice(b"null");
        }
    }

    /// Adds `key` with raw JSON bytes (an array from [`BoundedArray`]).
    pub fn raw(&mut self, key: &str, json: &[u8]) {
        self.key(key);
        self.buf.extend_from_slice(json);
    }

    /// Adds every field of `value`, which must serialize as an object.
    pub fn flatten<T: Serialize + ?Sized>(&mut self, value: &T) {
        let Ok(bytes) = serde_json::to_vec(value) else {
            return;
        };
        if bytes.len() > 2 && bytes.first() == Some(&b'{') && bytes.last() == Some(&b'}') {
            if self.buf.len() > 1 {
                self.buf.push(b',');
            }
            self.buf.extend_from_slice(&bytes[1..bytes.len() - 1]);
        }
    }

    fn key(&mut self, key: &str) {
        if self.buf.len() > 1 {
            self.buf.push(b',');
        }
        // Keys are this crate's own field names and port numbers: no escaping needed, but be
        // safe anyway.
        let _ = serde_json::to_writer(&mut self.buf, key);
        self.buf.push(b':');
    }

    /// The object's bytes, closed.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(b'}');
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_cut_on_a_character_boundary_with_a_marker() {
        assert_eq!(cap_bytes(b"short", 10), "short");
        let cut = cap_bytes("aé€".as_bytes(), 4);
        // 'a' (1) + 'é' (2) fit; '€' (3 bytes) would pass the cap.
        assert_eq!(cut, format!("aé{}", cut_marker(3)));
        let big = "x".repeat(1 << 20);
        let capped = cap_str(&big, 1000);
        assert!(capped.starts_with(&"x".repeat(1000)));
        assert!(capped.ends_with(&cut_marker((1 << 20) - 1000)));
        assert!(capped.len() < 1100);
        assert_eq!(value_cap(1 << 20), 64 * 1024);
        assert_eq!(value_cap(64 * 1024), 4096);
        assert_eq!(value_cap(1), MIN_VALUE_BYTES);
    }

    #[test]
    fn an_array_stops_at_its_room_but_always_takes_one_item() {
        let mut a = BoundedArray::new(30);
        assert!(a.push("0123456789"));
        assert!(a.push("0123456789"));
        assert!(!a.push("x"), "the third would pass 30 bytes");
        assert!(a.is_full());
        assert!(
            !a.push(""),
            "nothing after a refusal, so no hole in the order"
        );
        let bytes = a.finish();
        assert!(bytes.len() <= 30);
        let v: Vec<String> = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v.len(), 2);

        let mut one = BoundedArray::new(4);
        assert!(one.push("longer than the room"));
        assert_eq!(one.len(), 1);
        let v: Vec<String> = serde_json::from_slice(&one.finish()).unwrap();
        assert_eq!(v, ["longer than the room"]);
    }

    #[test]
    fn an_object_from_parts_is_valid_json() {
        let mut o = ObjectWriter::new();
        o.flatten(&serde_json::json!({"a": 1, "b": "two"}));
        o.field("c", &Some("x\"y"));
        o.raw("items", b"[1,2]");
        let v: serde_json::Value = serde_json::from_slice(&o.finish()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a": 1, "b": "two", "c": "x\"y", "items": [1, 2]})
        );
    }
}
