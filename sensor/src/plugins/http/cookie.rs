//! Session cookies the sensor can tell apart from forged ones.
//!
//! A `SESSIONID` cookie groups an attacker's requests over several connections into one
//! session, so the sensor must adopt only ids it issued itself, and only on the instance that
//! issued them: otherwise anyone could file requests under a made-up id (hidden from every
//! per-session view) or under another instance's or protocol's session. The cookie is therefore
//! `<session id>.<tag>`, where the tag is a keyed MAC (HMAC-SHA1 of RFC 2104, cut to
//! [`TAG_BYTES`] bytes, in hex) over the instance's name and the id.
//!
//! The key is random, made once per sensor process ([`CookieKey::process`]) and never
//! written anywhere: after a restart, cookies issued before it are not recognised (they are
//! recorded as rejected and the visitor gets a fresh cookie), which costs at most the grouping
//! of one visitor's requests across the restart.
//!
//! Everything here is pure except [`CookieKey::random`] and [`CookieKey::process`].

use std::fmt;
use std::sync::OnceLock;

use sha1::Sha1;

/// Bytes of the MAC kept in the cookie (hex, so twice as many characters): 128 bits.
pub const TAG_BYTES: usize = 16;
/// Bytes of the random key.
pub const KEY_BYTES: usize = 32;

/// The secret that makes tags unforgeable. Its `Debug` form never shows the key.
#[derive(Clone)]
pub struct CookieKey([u8; KEY_BYTES]);

impl fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieKey(..)")
    }
}

/// HMAC-SHA1 (RFC 2104) of `message` under `key`, by RustCrypto's `hmac`.
pub fn hmac_sha1(key: &[u8], message: &[&[u8]]) -> [u8; 20] {
    use hmac::{KeyInit, Mac};
    // HMAC takes a key of any length (a long one is hashed first): this cannot fail.
    let mut mac = hmac::Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes any key length");
    for part in message {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl CookieKey {
    /// A key from known bytes (tests).
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> CookieKey {
        CookieKey(bytes)
    }

    /// A fresh key from the operating system's random source.
    pub fn random() -> Result<CookieKey, getrandom::Error> {
        let mut bytes = [0u8; KEY_BYTES];
        getrandom::fill(&mut bytes)?;
        Ok(CookieKey(bytes))
    }

    /// The key of this sensor process, made on first use and shared by every HTTP instance
    /// (each instance's name is part of what is signed). Fails only when the operating system
    /// has no random source.
    pub fn process() -> Result<&'static CookieKey, String> {
        static KEY: OnceLock<Result<CookieKey, String>> = OnceLock::new();
        KEY.get_or_init(|| CookieKey::random().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn tag(&self, instance: &str, id: &str) -> [u8; TAG_BYTES] {
        // The name's length first, so that no (instance, id) pair signs like another.
        let len = u32::try_from(instance.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes();
        let mac = hmac_sha1(&self.0, &[&len, instance.as_bytes(), id.as_bytes()]);
        let mut tag = [0u8; TAG_BYTES];
        tag.copy_from_slice(&mac[..TAG_BYTES]);
        tag
    }

    /// The cookie value that carries session `id` for `instance`: `<id>.<tag>`.
    pub fn issue(&self, instance: &str, id: &str) -> String {
        format!("{id}.{}", crate::encoding::hex(&self.tag(instance, id)))
    }

    /// The session to adopt for cookie `value`: [`CookieKey::verify`] as the one proof
    /// [`Session::adopt_id`](crate::session::Session::adopt_id) accepts.
    pub fn adopt(&self, instance: &str, value: &str) -> Option<crate::session::IssuedId> {
        self.verify(instance, value)
            .and_then(crate::session::IssuedId::verified)
    }

    /// The session id in `value` when it is a cookie [`CookieKey::issue`] made for `instance`
    /// with this key (an id of the sensor's shape and a matching tag); `None` for anything else.
    /// The tag is compared in constant time.
    pub fn verify<'v>(&self, instance: &str, value: &'v str) -> Option<&'v str> {
        let (id, tag_hex) = value.rsplit_once('.')?;
        if !store::is_id(id) || tag_hex.len() != 2 * TAG_BYTES {
            return None;
        }
        let mut given = [0u8; TAG_BYTES];
        for (i, slot) in given.iter_mut().enumerate() {
            let pair = tag_hex.get(2 * i..2 * i + 2)?;
            *slot = u8::from_str_radix(pair, 16).ok()?;
        }
        let expected = self.tag(instance, id);
        let diff = given
            .iter()
            .zip(expected.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        (diff == 0).then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::encoding::hex;

    #[test]
    fn hmac_matches_rfc_2202() {
        assert_eq!(
            hex(&hmac_sha1(&[0x0b; 20], &[b"Hi There"])),
            "b617318655057264e28bc0b6fb378c8ef146be00"
        );
        assert_eq!(
            hex(&hmac_sha1(b"Jefe", &[b"what do ya ", b"want for nothing?"])),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        // A key longer than the block is hashed first (test case 6).
        assert_eq!(
            hex(&hmac_sha1(
                &[0xaa; 80],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
    }

    #[test]
    fn only_cookies_issued_for_the_instance_verify() {
        let key = CookieKey::from_bytes([7; KEY_BYTES]);
        let id = store::new_id();
        let cookie = key.issue("web", &id);
        assert_eq!(cookie.len(), 36 + 1 + 32);
        assert_eq!(key.verify("web", &cookie), Some(id.as_str()));
        // Another instance, another key, a bare id, a changed id or tag: all refused.
        assert_eq!(key.verify("alt", &cookie), None);
        assert_eq!(
            CookieKey::from_bytes([8; KEY_BYTES]).verify("web", &cookie),
            None
        );
        assert_eq!(key.verify("web", &id), None);
        let zero = "00000000-0000-0000-0000-000000000000";
        let tag = cookie.rsplit_once('.').unwrap().1;
        assert_eq!(key.verify("web", &format!("{zero}.{tag}")), None);
        let mut flipped = cookie.clone().into_bytes();
        let last = flipped.last_mut().unwrap();
        *last = if *last == b'0' { b'1' } else { b'0' };
        assert_eq!(
            key.verify("web", &String::from_utf8(flipped).unwrap()),
            None
        );
        for junk in ["", ".", "x.y", "é.é", &format!("{id}.{}", "zz".repeat(16))] {
            assert_eq!(key.verify("web", junk), None, "{junk:?}");
        }
        // Upper-case hex is the same tag.
        let upper = format!("{id}.{}", tag.to_ascii_uppercase());
        assert_eq!(key.verify("web", &upper), Some(id.as_str()));
    }

    #[test]
    fn the_process_key_is_made_once() {
        let a = CookieKey::process().unwrap();
        let b = CookieKey::process().unwrap();
        assert!(std::ptr::eq(a, b));
        assert_eq!(format!("{a:?}"), "CookieKey(..)");
    }
}
