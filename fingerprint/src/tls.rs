//! JA4 of a TLS ClientHello, computed by `huginn-net-tls` (GREASE removed, ciphers and
//! extensions sorted, SHA-256 truncated to 12 hex digits, as the JA4 specification says).

use huginn_net_tls::TlsVersion;

/// The JA4 fingerprint of one ClientHello and the fields a report shows beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFingerprint {
    /// JA4, e.g. `t13d1812h2_85036bcba153_d41ae481755e`.
    pub ja4: String,
    /// JA4_r: the same with the sorted lists in clear instead of hashed.
    pub ja4_r: String,
    /// The highest version offered (`1.3`, `1.2`, `1.1`, `1.0`, `ssl3`, `ssl2`, or `0x....`).
    pub version: String,
    /// The server name asked for (SNI), when sent and UTF-8.
    pub sni: Option<String>,
    /// The first ALPN protocol offered, when sent and UTF-8.
    pub alpn: Option<String>,
}

/// The JA4 of the ClientHello in `bytes`, which start at the first byte of a TLS record
/// (`0x16 0x03 ..`). `None` when it is not a ClientHello, or is cut short: never a panic.
pub fn ja4(bytes: &[u8]) -> Option<TlsFingerprint> {
    // A handshake record; anything else is not a ClientHello, and the check is cheaper than
    // huginn's parse.
    if bytes.first() != Some(&0x16) {
        return None;
    }
    let signature = huginn_net_tls::parse_tls_client_hello(bytes).ok()?;
    let payload = signature.generate_ja4();
    Some(TlsFingerprint {
        ja4: payload.full.value().to_owned(),
        ja4_r: payload.raw.value().to_owned(),
        version: version_text(signature.version),
        sni: signature.sni,
        alpn: signature.alpn,
    })
}

fn version_text(version: TlsVersion) -> String {
    match version {
        TlsVersion::V1_3 => "1.3".to_owned(),
        TlsVersion::V1_2 => "1.2".to_owned(),
        TlsVersion::V1_1 => "1.1".to_owned(),
        TlsVersion::V1_0 => "1.0".to_owned(),
        TlsVersion::Ssl3_0 => "ssl3".to_owned(),
        TlsVersion::Ssl2_0 => "ssl2".to_owned(),
        TlsVersion::Unknown(code) => format!("{code:#06x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Python 3's `ssl` (OpenSSL 3.0) connecting to a local listener with SNI `example.com` and
    /// ALPN `h2,http/1.1`: the listener's first 517 bytes.
    const PYTHON: &str = include_str!("tls/python_client_hello.hex");
    /// curl 7.88.1 (OpenSSL 3.0) asked for `https://example.com:PORT/` resolved to a local
    /// listener: its first 517 bytes.
    const CURL: &str = include_str!("tls/curl_client_hello.hex");

    fn hex(text: &str) -> Vec<u8> {
        let text = text.trim();
        (0..text.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex"))
            .collect()
    }

    /// The expected values were computed outside this crate, by a short Python script written
    /// from the JA4 specification (FoxIO's JA4 technical details):
    /// 1. JA4_a: `t` (TCP); the highest non-GREASE version in supported_versions, `13`; `d`
    ///    because SNI is present; the non-GREASE cipher count (18) and extension count (12,
    ///    SNI and ALPN included) as two digits; the first and last character of the first
    ///    ALPN value, `h2`.
    /// 2. JA4_b: the non-GREASE ciphers as 4-digit hex, sorted, joined by commas, SHA-256,
    ///    first 12 hex digits.
    /// 3. JA4_c: the non-GREASE extensions without SNI (0000) and ALPN (0010), sorted, then
    ///    `_` and the signature algorithms in the order sent, SHA-256, first 12 hex digits.
    ///
    /// JA4_r is the same with the lists of steps 2 and 3 in clear.
    #[test]
    fn python_client_hello() {
        let found = ja4(&hex(PYTHON)).expect("a ClientHello");
        assert_eq!(found.ja4, "t13d1812h2_85036bcba153_d41ae481755e");
        assert_eq!(
            found.ja4_r,
            "t13d1812h2_0067,006b,009e,009f,00ff,1301,1302,1303,c023,c024,c027,c028,c02b,c02c,\
             c02f,c030,cca8,cca9_000a,000b,000d,0015,0016,0017,0023,002b,002d,0033_0403,0503,\
             0603,0807,0808,0809,080a,080b,0804,0805,0806,0401,0501,0601,0303,0301,0302,0402,\
             0502,0602"
        );
        assert_eq!(found.version, "1.3");
        assert_eq!(found.sni.as_deref(), Some("example.com"));
        assert_eq!(found.alpn.as_deref(), Some("h2"));
    }

    /// Same steps as [`python_client_hello`]: 31 ciphers, 12 extensions.
    #[test]
    fn curl_client_hello() {
        let found = ja4(&hex(CURL)).expect("a ClientHello");
        assert_eq!(found.ja4, "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6");
        assert!(
            found.ja4_r.starts_with("t13d3112h2_002f,0033,0035,"),
            "{}",
            found.ja4_r
        );
        assert_eq!(found.sni.as_deref(), Some("example.com"));
    }

    #[test]
    fn truncated_and_garbage_are_none() {
        let hello = hex(PYTHON);
        for end in 0..hello.len() {
            assert_eq!(ja4(&hello[..end]), None, "a {end}-byte prefix parsed");
        }
        assert_eq!(ja4(b""), None);
        assert_eq!(ja4(b"GET / HTTP/1.1\r\n\r\n"), None);
        assert_eq!(ja4(&[0x16, 0x03, 0x01, 0xff, 0xff, 0x01]), None);
        let mut server_hello = hello.clone();
        server_hello[5] = 2;
        assert_eq!(ja4(&server_hello), None, "not a ClientHello");
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..5_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut corrupt = hello.clone();
            let at = (state % corrupt.len() as u64) as usize;
            corrupt[at] = (state >> 32) as u8;
            let _ = ja4(&corrupt);
        }
    }
}
