//! Text for an analyst's terminal. Whatever recce7 prints that a peer chose (an attacker's
//! bytes relayed in an event, a broker's name or error text, a publisher's ident or channel)
//! passes through here, so that no escape sequence an attacker wrote reaches the terminal: a
//! control character is printed as `\xNN` (C0 and DEL) or `\u{NN}` (C1), never as itself.

use std::borrow::Cow;
use std::io::{self, Write};

/// Whether `c` must not reach a terminal as itself: C0 controls (tab and, where allowed, the
/// newline excepted), DEL, and C1 controls (U+0080 to U+009F, which some terminals read as
/// escape sequences of their own).
fn is_unsafe(c: char, keep_newlines: bool) -> bool {
    match c {
        '\t' => false,
        '\n' => !keep_newlines,
        c => c.is_control(),
    }
}

/// `text` with every control character escaped; `\n` kept when `keep_newlines` (for messages
/// that are several lines on purpose). Borrows when there is nothing to escape.
pub fn escape_controls(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_unsafe(c, keep_newlines)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !is_unsafe(c, keep_newlines) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

/// Writes `text` to standard output and flushes it; `false` when it cannot. A closed standard
/// output (`recce7 ... | head -n 1` after head exits, a supervisor that closed it) is not an
/// error for a command's report or a role's start line: `print!` would panic there, and a
/// sensor must go on serving.
pub fn write_stdout(text: &str) -> bool {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_ok()
}

/// The log writer: standard error, one formatted event per write, with every control
/// character but the event's final newline escaped, so that a logged value (a peer's text) can
/// neither forge a log line nor redraw the analyst's terminal. The formatter's own escaping
/// misses CR, LF and shift-in/out, and ESC in some values; logs are therefore written without
/// colours (whose ESC would be escaped too).
#[derive(Debug, Clone, Copy, Default)]
pub struct SafeStderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for SafeStderr {
    type Writer = SafeStderr;

    fn make_writer(&'a self) -> SafeStderr {
        SafeStderr
    }
}

impl Write for SafeStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let (body, end) = match buf.strip_suffix(b"\n") {
            Some(body) => (body, &b"\n"[..]),
            None => (buf, &b""[..]),
        };
        let text = String::from_utf8_lossy(body);
        let mut out = String::with_capacity(text.len() + 1);
        out.push_str(&escape_controls(&text, false));
        let mut err = io::stderr().lock();
        err.write_all(out.as_bytes())?;
        err.write_all(end)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_text_is_kept() {
        assert_eq!(escape_controls("plain é 中", false), "plain é 中");
        assert!(matches!(escape_controls("plain", false), Cow::Borrowed(_)));
        assert_eq!(
            escape_controls("a\x1b]0;x\x07\rb\nc\x0e\u{9b}d\x7f\te", false),
            "a\\x1b]0;x\\x07\\x0db\\x0ac\\x0e\\u{9b}d\\x7f\te"
        );
        assert_eq!(escape_controls("one\ntwo\r", true), "one\ntwo\\x0d");
    }
}
