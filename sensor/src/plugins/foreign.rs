//! Input that is not the protocol a line-based plug-in speaks: a TLS ClientHello, an HTTP
//! request, an SSH client's banner or binary noise sent to a telnet or banner port.
//!
//! Taken as typed lines, such input would become made-up logins and dozens of "commands" (or
//! end the session at a stray Ctrl-D) and lose its bytes. Instead the plug-in looks at what
//! arrives before a login (or before the first line), and when [`classify`] names it, records
//! every byte received in `rawInput` ([`RawCapture`], [`drain`]) and ends the connection.
//!
//! [`classify`] and [`RawCapture`] are pure; [`drain`] and [`screen_first_line`] are the socket
//! side.

use std::time::Duration;

use tokio::time::Instant;

use crate::connection::{CloseReason, Connection};
use crate::session::Session;

/// Most bytes of the first input that [`classify`] looks at; past them a session is taken to
/// speak the protocol.
pub const SNIFF_BYTES: usize = 512;
/// How long [`drain`] waits for more input after the last bytes arrived.
const DRAIN_GAP: Duration = Duration::from_millis(200);
/// How long [`drain`] reads at most.
const DRAIN_TOTAL: Duration = Duration::from_secs(2);

/// What the first bytes of a session are, when they are not typed text: `"TLS handshake"`,
/// `"SSH client"`, `"HTTP request"` or `"binary data"`; `None` for text, or when too little
/// has arrived to tell.
///
/// Binary data is at least 4 bytes, and at least a quarter of the bytes, that no terminal
/// sends: control bytes other than CR, LF, tab, backspace, DEL, ESC (arrow keys), Ctrl-C,
/// Ctrl-D and a NUL after CR, and bytes that are not part of valid UTF-8 (a character cut at
/// the end of `data` does not count). A person's typing, arrow keys and all, stays far below.
pub fn classify(data: &[u8]) -> Option<&'static str> {
    if let [0x16, 0x03, minor, ..] = data
        && *minor <= 0x04
    {
        return Some("TLS handshake");
    }
    if data.starts_with(b"SSH-") && data.contains(&b'\n') {
        return Some("SSH client");
    }
    if is_http_request_line(data) {
        return Some("HTTP request");
    }
    let odd = binary_bytes(data);
    (odd >= 4 && odd * 4 >= data.len()).then_some("binary data")
}

/// Whether `data` starts with a complete HTTP/1.x request line: `METHOD target HTTP/...`.
fn is_http_request_line(data: &[u8]) -> bool {
    let Some(end) = data.iter().position(|&b| b == b'\n') else {
        return false;
    };
    let line = data.get(..end).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    (3..=10).contains(&method.len())
        && method.iter().all(u8::is_ascii_uppercase)
        && !target.is_empty()
        && version.starts_with(b"HTTP/")
}

/// Counts the bytes of `data` no terminal sends (see [`classify`]).
fn binary_bytes(data: &[u8]) -> usize {
    let mut odd = 0;
    let mut after_cr = false;
    let mut chunks = data.utf8_chunks().peekable();
    while let Some(chunk) = chunks.next() {
        for c in chunk.valid().chars() {
            let typed = !c.is_control()
                || matches!(
                    c,
                    '\r' | '\n' | '\t' | '\x08' | '\x7f' | '\x1b' | '\x03' | '\x04'
                )
                || (c == '\0' && after_cr);
            if !typed {
                odd += 1;
            }
            after_cr = c == '\r';
        }
        let invalid = chunk.invalid();
        let cut_at_end = chunks.peek().is_none()
            && invalid.len() < 4
            && invalid.first().is_some_and(|b| (0xc2..=0xf4).contains(b))
            && invalid.iter().skip(1).all(|&b| (0x80..0xc0).contains(&b));
        if !cut_at_end {
            odd += invalid.len();
        }
        after_cr = after_cr && invalid.is_empty();
    }
    odd
}

/// The raw bytes of a session so far, as `rawInput` keeps them: the first `max_bytes`, and the
/// count of all of them.
#[derive(Debug, Clone, Default)]
pub struct RawCapture {
    kept: Vec<u8>,
    total: usize,
    max_bytes: usize,
}

impl RawCapture {
    /// An empty capture keeping at most `max_bytes` (`[limits] max_raw_bytes`).
    pub fn new(max_bytes: usize) -> RawCapture {
        RawCapture {
            kept: Vec::new(),
            total: 0,
            max_bytes,
        }
    }

    /// Adds bytes received.
    pub fn push(&mut self, bytes: &[u8]) {
        let room = self.max_bytes.saturating_sub(self.kept.len());
        self.kept
            .extend_from_slice(bytes.get(..bytes.len().min(room)).unwrap_or_default());
        self.total = self.total.saturating_add(bytes.len());
    }

    /// The bytes kept.
    pub fn kept(&self) -> &[u8] {
        &self.kept
    }

    /// How many bytes were received in all.
    pub fn total(&self) -> usize {
        self.total
    }
}

/// Adds what is buffered, then what keeps arriving (until a pause of 200 ms, 2 s in all, or the
/// end of the connection), to `capture`: a client that is not speaking our protocol has
/// usually sent all it will before it waits for an answer, and the record should hold it all.
pub async fn drain(conn: &mut Connection, capture: &mut RawCapture) {
    let deadline = Instant::now() + DRAIN_TOTAL;
    loop {
        capture.push(&conn.take_buffer());
        let wait = DRAIN_GAP.min(deadline.saturating_duration_since(Instant::now()));
        if wait.is_zero() {
            break;
        }
        // Cancelling a read that has not completed loses nothing: bytes only enter the buffer
        // when a read completes.
        match tokio::time::timeout(wait, conn.read_more()).await {
            Ok(Ok(_)) => {}
            Ok(Err(_)) | Err(_) => break,
        }
    }
    capture.push(&conn.take_buffer());
}

/// Records `capture` (after [`drain`]) as one `rawInput` row, `"<not_what>: <kind>"`, and ends
/// the connection with `close`.
pub async fn record_and_close(
    conn: &mut Connection,
    session: &mut Session,
    capture: &RawCapture,
    not_what: &str,
    kind: &str,
    close: &'static str,
) {
    session
        .record_raw_capture(&format!("{not_what}: {kind}"), capture)
        .await;
    conn.close(CloseReason::Plugin(close));
}

/// Records what `conn` received and nothing read (a line over the limit, input past a step
/// limit, a packet cut off) as one raw row with `reason`: nothing received is dropped silently.
/// The recording is boxed: it runs at most once, at a session's end, and must not size the
/// caller's future while the session idles.
pub async fn record_unread(conn: &mut Connection, session: &mut Session, reason: &str) {
    let rest = conn.take_buffer();
    if !rest.is_empty() {
        Box::pin(session.record_raw(reason, &rest)).await;
    }
}

/// For plug-ins that read with [`Connection::read_line`]: waits until the first input holds a
/// complete line or [`SNIFF_BYTES`] (or the connection ends), and when [`classify`] says it is
/// not typed text, records it raw, ends the connection and returns true. Otherwise the input
/// stays buffered for `read_line`.
pub async fn screen_first_line(
    conn: &mut Connection,
    session: &mut Session,
    max_raw_bytes: usize,
    not_what: &str,
    close: &'static str,
) -> bool {
    loop {
        let ended = match classify(conn.buffer()) {
            Some(kind) => {
                let mut capture = RawCapture::new(max_raw_bytes);
                drain(conn, &mut capture).await;
                record_and_close(conn, session, &capture, not_what, kind, close).await;
                return true;
            }
            None if conn.buffer().contains(&b'\n') || conn.buffer().len() >= SNIFF_BYTES => {
                return false;
            }
            None => conn.read_more().await.is_err(),
        };
        if ended && classify(conn.buffer()).is_none() {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_typed_text() {
        let hello = [
            0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03,
        ];
        assert_eq!(classify(&hello), Some("TLS handshake"));
        assert_eq!(classify(&hello[..2]), None, "too little to tell");
        assert_eq!(classify(b"SSH-2.0-Go\r\n"), Some("SSH client"));
        assert_eq!(classify(b"GET / HTTP/1.0\r\n\r\n"), Some("HTTP request"));
        assert_eq!(
            classify(b"GET / HTTP/1.0"),
            None,
            "the line is not complete"
        );
        assert_eq!(classify(b"OPTIONS sip:nm SIP/2.0\r\n"), None);
        assert_eq!(classify(&[0, 1, 2, 0xfe, 0xff, b'\n']), Some("binary data"));
        // What the telnet decoder leaves of those bytes: 0xfe never starts a character.
        assert_eq!(classify(&[0, 1, 2, 0xfe]), Some("binary data"));
        let mut noise = Vec::new();
        let mut x: u32 = 99;
        for _ in 0..128 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            noise.push((x >> 16) as u8);
        }
        assert_eq!(classify(&noise), Some("binary data"));
    }

    #[test]
    fn typing_is_text() {
        for typed in [
            &b"root\r\nxc3511\r\n"[..],
            b"enable\r\0system\r\0shell\r\nsh\r\n",
            b"ro\xe9t\r\npa\xffss\r\n",
            "pässwört\r\n日本語\r\n".as_bytes(),
            b"ls\x1b[A\x1b[A\x1b[D\x08\x7f\x03\x04\r\n",
            b"\xc3",
            b"abc\xe6\x97",
        ] {
            assert_eq!(classify(typed), None, "{typed:?}");
        }
        // A few odd bytes among typing are still typing; many are not.
        assert_eq!(classify(b"root\x01\x02\x03\x05 password"), None);
        assert_eq!(classify(b"ro\x01\x02\x05\x06"), Some("binary data"));
    }

    #[test]
    fn capture_keeps_a_bounded_prefix_and_the_whole_count() {
        let mut c = RawCapture::new(5);
        c.push(b"abc");
        c.push(b"defgh");
        c.push(b"");
        assert_eq!((c.kept(), c.total()), (&b"abcde"[..], 8));
    }
}
