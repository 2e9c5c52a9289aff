//! Gunzipping a download with a cap on what it unpacks to, so that a gzip bomb (a few
//! megabytes that inflate to terabytes) fails cleanly instead of filling the disk.

use std::io::{self, Read, Write};

use flate2::read::GzDecoder;

/// Gunzips `gz` into `out`, at most `cap` bytes; returns how many were written, or why not in
/// words (not gzip, corrupt, cut off, over the cap, empty, or a write error). The gzip
/// trailer's checksum and length are checked, so a cut-off download is an error.
pub fn gunzip_capped(gz: impl Read, out: &mut impl Write, cap: u64) -> Result<u64, String> {
    let mut decoder = GzDecoder::new(gz);
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    loop {
        let n = match decoder.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("not a complete gzip file: {e}")),
        };
        total += n as u64;
        if total > cap {
            return Err(format!(
                "it unpacks to more than {cap} bytes (the cap): a gzip bomb, or not a GeoIP \
                 database"
            ));
        }
        out.write_all(&buf[..n])
            .map_err(|e| format!("cannot write the unpacked file: {e}"))?;
    }
    if total == 0 {
        return Err("it is empty".into());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn a_gzip_unpacks_whole() {
        let mut out = Vec::new();
        assert_eq!(gunzip_capped(&gzip(b"hello")[..], &mut out, 5).unwrap(), 5);
        assert_eq!(out, b"hello");
    }

    #[test]
    fn a_bomb_stops_at_the_cap() {
        let bomb = gzip(&vec![0u8; 1 << 20]);
        let mut out = Vec::new();
        let err = gunzip_capped(&bomb[..], &mut out, 1000).unwrap_err();
        assert!(err.contains("more than 1000 bytes"), "{err}");
        assert!(out.len() <= 1000);
    }

    #[test]
    fn not_gzip_truncated_and_empty_are_errors() {
        let mut out = Vec::new();
        let err = gunzip_capped(&b"plain text, not gzip"[..], &mut out, 1 << 20).unwrap_err();
        assert!(err.starts_with("not a complete gzip file"), "{err}");
        let whole = gzip(&[7u8; 100_000]);
        let cut = &whole[..whole.len() - 6];
        let err = gunzip_capped(cut, &mut Vec::new(), 1 << 20).unwrap_err();
        assert!(err.starts_with("not a complete gzip file"), "{err}");
        assert!(gunzip_capped(&b""[..], &mut Vec::new(), 1 << 20).is_err());
        assert_eq!(
            gunzip_capped(&gzip(b"")[..], &mut Vec::new(), 1 << 20).unwrap_err(),
            "it is empty"
        );
    }
}
