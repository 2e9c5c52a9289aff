//! Unit tests of the Lua plug-in's pure parts and of the sandbox, without sockets.

use super::*;

#[test]
fn base64_round_trips() {
    assert_eq!(base64_encode(b""), "");
    assert_eq!(base64_encode(b"f"), "Zg==");
    assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64_decode(b"Zm9vYg==").as_deref(), Some(&b"foob"[..]));
    assert_eq!(
        base64_decode(b"AGFkbWluAHNlY3JldA==").as_deref(),
        Some(&b"\0admin\0secret"[..])
    );
    assert_eq!(base64_decode(b"Zm9v!"), None);
    assert_eq!(base64_decode(b"Zg==Zg"), None);
    assert_eq!(hex(b"\x00\xffA"), "00ff41");
}
