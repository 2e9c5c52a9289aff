//! Base64 as attackers' clients send it (SMTP `AUTH PLAIN` and `AUTH LOGIN`, protocols a Lua
//! script speaks): the standard alphabet, `=` padding optional, white space ignored. The rules'
//! `base64` filter and Lua's `recce7.base64_decode`/`base64_encode` both use it. And hex, for
//! the session cookie's tag, Lua's `recce7.hex` and the rules' `{random:N}`.

use base64::Engine;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Decodes with or without padding, and accepts non-zero bits after the last byte (a sloppy
/// client's input is still decoded and recorded).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Lower-case hexadecimal, two digits per byte.
pub fn hex(data: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(data.len() * 2);
    for b in data {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Standard base64 with padding.
pub fn base64_encode(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Standard base64, padding optional, white space (space, tab, CR, LF) ignored; `None` for
/// anything else.
pub fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let compact: Vec<u8> = input
        .iter()
        .copied()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .collect();
    LENIENT.decode(compact).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn what_smtp_clients_and_scripts_send_decodes() {
        assert_eq!(base64_decode(b"VXNlcm5hbWU6").unwrap(), b"Username:");
        assert_eq!(
            base64_decode(b" AGFkbWluAHNlY3JldA== ").unwrap(),
            b"\0admin\0secret"
        );
        assert_eq!(base64_decode(b"YQ").unwrap(), b"a");
        assert_eq!(base64_decode(b"").unwrap(), b"");
        assert_eq!(base64_encode(b"f"), "Zg==");
        assert_eq!(hex(b"\x00\xffA"), "00ff41");
        assert_eq!(
            base64_decode(base64_encode(b"\0\x01x").as_bytes()).unwrap(),
            b"\0\x01x"
        );
        for bad in [&b"Y"[..], b"a=b=", b"Zm9v!", b"Zg==Zg", "\u{e9}".as_bytes()] {
            assert!(base64_decode(bad).is_none(), "{bad:?}");
        }
    }
}
