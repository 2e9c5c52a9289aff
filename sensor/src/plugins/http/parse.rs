//! Tolerant HTTP/1.0 and HTTP/1.1 request parsing with hard limits, for the HTTP plug-in.
//!
//! Scanners and bots send whatever their authors typed: bare LF line endings, empty lines
//! before the request line, lowercase methods, odd bytes in the target. A honeypot wants to
//! *record* all of that, so this parser accepts what a lenient server would, and rejects only
//! what cannot be framed. It never trusts a length it was told: the head, the body and the
//! number of header fields are capped by [`Limits`], and a request over a cap is refused as soon
//! as the cap is passed, before its remaining bytes are waited for.
//!
//! The module is pure (bytes in, [`Request`] out, no I/O) so it can be fuzzed. The caller owns
//! the socket buffer: it calls [`parse_request`] after every read, answers an error with the
//! status of [`ParseError::status`] and closes, and drops `consumed` bytes after a request so
//! that a pipelined one can follow. The request line is read here (so that targets that are
//! not UTF-8 are kept, lossily, rather than refused) and the header fields by `httparse`.
//!
//! Each call parses the buffer from its start; the work per call is bounded by the head limit
//! plus, for a chunked body, one step per chunk (chunk data is skipped, not copied, until the
//! body is complete).
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::fmt;

/// Longest chunk-size line or trailer line accepted inside a chunked body. Real clients send a
/// few hex digits; a longer line is junk or an attempt to make us buffer forever.
const MAX_CHUNK_LINE_BYTES: usize = 4096;

/// Size limits for one request, so that a hostile peer can never make the sensor buffer more
/// than a known number of bytes per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes the request head may take: any empty lines before the request line, the
    /// request line, the header fields and the blank line ending them (default 8 KiB, the size
    /// many embedded servers use).
    pub max_head_bytes: usize,
    /// Most bytes of decoded body (default 64 KiB: far more than a login form needs).
    pub max_body_bytes: usize,
    /// Most header fields (default 64).
    pub max_headers: usize,
}

impl Default for Limits {
    /// The limits of a small device's web server: 8 KiB head, 64 KiB body, 64 header fields.
    fn default() -> Self {
        Limits {
            max_head_bytes: 8 * 1024,
            max_body_bytes: 64 * 1024,
            max_headers: 64,
        }
    }
}

impl Limits {
    /// The most bytes one request can occupy on the wire under these limits, so the caller
    /// can cap its read buffer: [`parse_request`] never answers `Ok(None)` ("need more") for a
    /// buffer this long or longer.
    ///
    /// A chunked body may carry framing (size lines, extensions, CRLFs, trailers) of up to
    /// `max_head_bytes + max_body_bytes` on top of its data, so the figure is
    /// `2 * max_head_bytes + 2 * max_body_bytes` (144 KiB with the defaults).
    pub fn max_request_bytes(&self) -> usize {
        self.max_head_bytes
            .saturating_add(self.max_chunked_wire_bytes())
    }

    /// Most wire bytes of a chunked body: its data plus framing allowance.
    fn max_chunked_wire_bytes(&self) -> usize {
        self.max_body_bytes
            .saturating_mul(2)
            .saturating_add(self.max_head_bytes)
    }
}

/// One complete HTTP request, owned, with everything the plug-in records and answers from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// The method exactly as sent (`GET`, `get`, `PROPFIND`, ...): unknown methods are data.
    pub method: String,
    /// The request target as sent (path and query, or an absolute URI), lossy UTF-8.
    pub path: String,
    /// The minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    /// Header fields in the order sent, names as sent, values trimmed and lossy UTF-8.
    pub headers: Vec<(String, String)>,
    /// The body after Content-Length or chunked decoding (empty when there is none).
    pub body: Vec<u8>,
}

impl Request {
    /// The first header field with this name, ignoring case, because header names are
    /// case-insensitive and clients differ in how they spell them.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).next()
    }

    /// Every value of the header fields with this name, in order.
    fn header_values<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the connection may carry another request after this one, by the rules of
    /// RFC 9112 section 9.3, so the caller knows whether to keep reading or to close.
    ///
    /// HTTP/1.1 keeps the connection unless `Connection: close` is sent; HTTP/1.0 only with
    /// `Connection: keep-alive`. A request carrying both Transfer-Encoding and Content-Length
    /// never keeps it (RFC 9112 section 6.1: the framing is suspect, the server must close).
    pub fn keep_alive(&self) -> bool {
        let mut close = false;
        let mut keep = false;
        for value in self.header_values("connection") {
            for option in value.split(',').map(str::trim) {
                if option.eq_ignore_ascii_case("close") {
                    close = true;
                } else if option.eq_ignore_ascii_case("keep-alive") {
                    keep = true;
                }
            }
        }
        if close {
            return false;
        }
        if self.header("transfer-encoding").is_some() && self.header("content-length").is_some() {
            return false;
        }
        self.version >= 1 || keep
    }

    /// The value of the named cookie from the Cookie header field(s), so the plug-in can
    /// follow a session across connections. Names match exactly (cookie names are
    /// case-sensitive); surrounding double quotes are removed from the value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.header_values("cookie")
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.split_once('='))
            .find(|(n, _)| n.trim() == name)
            .map(|(_, v)| {
                let v = v.trim();
                v.strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v)
            })
    }

    /// The first of `names` (in the order given, names compared ignoring ASCII case) present
    /// as a form field, percent- and '+'-decoded, so the plug-in can pick credentials out of a
    /// login POST. The decoded bytes are kept exactly, as [`store::escape_text`] writes them
    /// (`%FF` is `\xff`, not U+FFFD).
    ///
    /// The body is searched when it is `application/x-www-form-urlencoded` or has no
    /// Content-Type (hand-written attack scripts often omit it); the query string of the
    /// target is searched for GET and, when the body has none of the names, for any method.
    pub fn form_field(&self, names: &[&str]) -> Option<String> {
        let body_is_form = !self.body.is_empty()
            && self.header("content-type").is_none_or(|ct| {
                ct.split(';').next().is_some_and(|t| {
                    t.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
        if body_is_form && let Some(found) = find_form_field(&self.body, names) {
            return Some(found);
        }
        find_form_field(self.query().as_bytes(), names)
    }

    /// The query string of the target: after the first '?', before any '#'.
    fn query(&self) -> &str {
        let Some((_, query)) = self.path.split_once('?') else {
            return "";
        };
        query.split('#').next().unwrap_or(query)
    }

    /// The header fields as text, one `Name: value\n` line each, in order: the form RECCE7
    /// stored them in its `headers` column, which the reports and REST answers keep.
    pub fn headers_text(&self) -> String {
        let mut text = String::new();
        for (name, value) in &self.headers {
            text.push_str(name);
            text.push_str(": ");
            text.push_str(value);
            text.push('\n');
        }
        text
    }
}

/// Why a request was refused; each maps to the status the caller answers with before closing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The bytes are not an HTTP/1.x request (bad request line, bad header field, bad chunk
    /// framing, HTTP/0.9); the text says why, briefly, for the record.
    Malformed(String),
    /// The head did not end within `max_head_bytes`.
    HeadTooLarge,
    /// The declared or decoded body exceeds `max_body_bytes`.
    BodyTooLarge,
    /// More than `max_headers` header fields.
    TooManyHeaders,
    /// Content-Length is not a plain decimal number, or is sent twice with different values.
    BadContentLength,
    /// A Transfer-Encoding other than exactly `chunked`.
    UnsupportedTransferEncoding,
}

impl ParseError {
    /// The HTTP status to answer with, so every caller answers the same way: 400 for
    /// malformed framing, 413 for a body over the limit, 431 for a head or header count over
    /// the limit, 501 for a transfer coding we do not implement (as lighttpd does).
    pub fn status(&self) -> u16 {
        match self {
            ParseError::Malformed(_) | ParseError::BadContentLength => 400,
            ParseError::BodyTooLarge => 413,
            ParseError::HeadTooLarge | ParseError::TooManyHeaders => 431,
            ParseError::UnsupportedTransferEncoding => 501,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Malformed(why) => write!(f, "malformed request: {why}"),
            ParseError::HeadTooLarge => f.write_str("request head too large"),
            ParseError::BodyTooLarge => f.write_str("request body too large"),
            ParseError::TooManyHeaders => f.write_str("too many header fields"),
            ParseError::BadContentLength => f.write_str("invalid Content-Length"),
            ParseError::UnsupportedTransferEncoding => f.write_str("unsupported Transfer-Encoding"),
        }
    }
}

impl std::error::Error for ParseError {}

fn malformed(why: &str) -> ParseError {
    ParseError::Malformed(why.to_owned())
}

/// Parses one request from the start of `buf`, so the caller can read until a request is
/// complete, answer it, and go on with the bytes after it.
///
/// - `Ok(None)`: the bytes so far are a valid beginning of a request and the buffer is still
///   under the limits (shorter than [`Limits::max_request_bytes`]); read more and call again.
/// - `Ok(Some((request, consumed)))`: one complete request occupying `buf[..consumed]`; a
///   pipelined request, if any, starts at `buf[consumed]`.
/// - `Err(_)`: refuse; answer [`ParseError::status`] and close the connection.
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Option<(Request, usize)>, ParseError> {
    let head_cap = limits.max_head_bytes;
    let window = buf.get(..head_cap).unwrap_or(buf);
    // A head still incomplete within `head_cap` bytes can never complete.
    let need_more = || {
        if buf.len() >= head_cap {
            Err(ParseError::HeadTooLarge)
        } else {
            Ok(None)
        }
    };

    // RFC 9112 section 2.2: a server should ignore empty lines before the request line.
    let mut pos = 0;
    loop {
        match window.get(pos) {
            Some(b'\n') => pos += 1,
            Some(b'\r') => match window.get(pos + 1) {
                Some(b'\n') => pos += 2,
                Some(_) => return Err(malformed("stray CR before the request line")),
                None => return need_more(),
            },
            Some(_) => break,
            None => return need_more(),
        }
    }

    let rest = window.get(pos..).unwrap_or_default();
    let Some(line_len) = find_byte(rest, b'\n') else {
        check_partial_request_line(rest)?;
        return need_more();
    };
    let (method, path, version) = parse_request_line(rest.get(..line_len).unwrap_or_default())?;

    let fields_start = pos + line_len + 1;
    let field_bytes = window.get(fields_start..).unwrap_or_default();
    // Every field takes at least 3 bytes ("a:\n"), so more slots than that could never fill.
    let slots = limits.max_headers.min(head_cap / 3 + 1);
    let mut storage = vec![httparse::EMPTY_HEADER; slots];
    let (fields_len, headers) = match httparse::parse_headers(field_bytes, &mut storage) {
        Ok(httparse::Status::Complete((len, fields))) => {
            let headers = fields
                .iter()
                .map(|h| {
                    let value = String::from_utf8_lossy(h.value);
                    (
                        h.name.to_owned(),
                        value.trim_matches([' ', '\t']).to_owned(),
                    )
                })
                .collect::<Vec<_>>();
            (len, headers)
        }
        Ok(httparse::Status::Partial) => return need_more(),
        Err(httparse::Error::TooManyHeaders) => return Err(ParseError::TooManyHeaders),
        Err(httparse::Error::HeaderName) => return Err(malformed("invalid header name")),
        Err(httparse::Error::HeaderValue) => return Err(malformed("invalid header value")),
        Err(httparse::Error::NewLine) => return Err(malformed("invalid line ending")),
        Err(_) => return Err(malformed("invalid header field")),
    };
    let head_len = fields_start + fields_len;

    let body_bytes = buf.get(head_len..).unwrap_or_default();
    let (body, body_len) = match framing(&headers, limits)? {
        Framing::NoBody => (Vec::new(), 0),
        Framing::Length(n) => match body_bytes.get(..n) {
            Some(body) => (body.to_vec(), n),
            None => return Ok(None),
        },
        Framing::Chunked => match decode_chunked(body_bytes, limits)? {
            Some(decoded) => decoded,
            None => return Ok(None),
        },
    };

    let request = Request {
        method,
        path,
        version,
        headers,
        body,
    };
    Ok(Some((request, head_len + body_len)))
}

/// A cheap first look at a connection's first bytes, so the caller can record non-HTTP probes
/// (TLS ClientHellos, SSH banners, binary junk) raw instead of answering them with HTTP.
///
/// True when the bytes (after any empty lines) start with an uppercase method token (letters,
/// then also `-` and `_`, at most 24 bytes) followed by a space; also true for a short
/// all-uppercase beginning that is still waiting for its space, so a slow client is not
/// misjudged. False for an empty buffer, a TLS record (0x16 0x03 ...), lowercase text and
/// binary data.
pub fn looks_like_http(buf: &[u8]) -> bool {
    const MAX_METHOD_BYTES: usize = 24;
    let Some(start) = buf.iter().position(|&b| b != b'\r' && b != b'\n') else {
        return false;
    };
    let rest = buf.get(start..).unwrap_or_default();
    for (i, &b) in rest.iter().take(MAX_METHOD_BYTES + 1).enumerate() {
        let ok = b.is_ascii_uppercase() || (i > 0 && (b == b'-' || b == b'_'));
        if b == b' ' {
            return i > 0;
        }
        if !ok {
            return false;
        }
    }
    rest.len() <= MAX_METHOD_BYTES
}

fn find_byte(haystack: &[u8], needle: u8) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// RFC 9110 `tchar`: the bytes a method (or header name) may contain.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Bytes accepted in a request target: anything visible, including non-ASCII (recorded
/// lossily), but no whitespace or control bytes, which would make the line ambiguous.
fn is_target_byte(b: u8) -> bool {
    b > b' ' && b != 0x7f
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_blanks(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_blank(*first) {
            break;
        }
        s = rest;
    }
    trim_end_blanks(s)
}

fn trim_end_blanks(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., last] = s {
        if !is_blank(*last) {
            break;
        }
        s = rest;
    }
    s
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Rejects a request line that cannot become valid whatever follows, so junk is refused
/// without waiting for the head limit.
fn check_partial_request_line(partial: &[u8]) -> Result<(), ParseError> {
    let method_len = partial
        .iter()
        .position(|&b| is_blank(b))
        .unwrap_or(partial.len());
    let (method, rest) = partial.split_at(method_len);
    if !method.iter().all(|&b| is_token(b)) {
        return Err(malformed("invalid method"));
    }
    if rest.is_empty() {
        return Ok(());
    }
    if method.is_empty() {
        return Err(malformed("empty method"));
    }
    let rest = strip_cr(rest);
    let target_start = rest
        .iter()
        .position(|&b| !is_blank(b))
        .unwrap_or(rest.len());
    let after = rest.get(target_start..).unwrap_or_default();
    let target_len = after
        .iter()
        .position(|&b| is_blank(b))
        .unwrap_or(after.len());
    if !after
        .get(..target_len)
        .unwrap_or_default()
        .iter()
        .all(|&b| is_target_byte(b))
    {
        return Err(malformed("invalid byte in request target"));
    }
    Ok(())
}

/// Splits a complete request line (without its LF) into method, target and minor version.
/// Tolerant of lowercase or unknown methods and of several blanks between the parts.
fn parse_request_line(line: &[u8]) -> Result<(String, String, u8), ParseError> {
    let line = trim_end_blanks(strip_cr(line));
    let method_len = line
        .iter()
        .position(|&b| is_blank(b))
        .ok_or_else(|| malformed("request line without a target"))?;
    let (method, rest) = line.split_at(method_len);
    if method.is_empty() {
        return Err(malformed("empty method"));
    }
    if !method.iter().all(|&b| is_token(b)) {
        return Err(malformed("invalid method"));
    }
    let rest = trim_blanks(rest);
    let target_len = rest.iter().position(|&b| is_blank(b)).unwrap_or(rest.len());
    let (target, version) = rest.split_at(target_len);
    if !target.iter().all(|&b| is_target_byte(b)) {
        return Err(malformed("invalid byte in request target"));
    }
    let version = match trim_blanks(version) {
        b"HTTP/1.1" => 1,
        b"HTTP/1.0" => 0,
        b"" => return Err(malformed("HTTP/0.9 request line")),
        _ => return Err(malformed("unsupported HTTP version")),
    };
    // `target` is non-empty: blanks after the method were skipped, and the line does not end
    // in a blank, so at least one target byte follows.
    let method = String::from_utf8_lossy(method).into_owned();
    let target = String::from_utf8_lossy(target).into_owned();
    Ok((method, target, version))
}

/// How the body of a request is delimited (RFC 9112 section 6.3).
#[derive(Debug, PartialEq, Eq)]
enum Framing {
    NoBody,
    Length(usize),
    Chunked,
}

fn framing(headers: &[(String, String)], limits: &Limits) -> Result<Framing, ParseError> {
    let values = |name: &'static str| {
        headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
    };

    // Transfer-Encoding overrides Content-Length (RFC 9112 section 6.3, rule 3).
    let mut codings = values("transfer-encoding").filter(|c| !c.is_empty());
    if let Some(first) = codings.next() {
        let only_chunked = first.eq_ignore_ascii_case("chunked") && codings.next().is_none();
        return if only_chunked {
            Ok(Framing::Chunked)
        } else {
            Err(ParseError::UnsupportedTransferEncoding)
        };
    }

    let mut length: Option<usize> = None;
    for value in values("content-length") {
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::BadContentLength);
        }
        // Saturates: a length too large for usize is simply over the limit.
        let n = value.bytes().fold(0usize, |n, d| {
            n.saturating_mul(10).saturating_add(usize::from(d - b'0'))
        });
        match length {
            Some(previous) if previous != n => return Err(ParseError::BadContentLength),
            _ => length = Some(n),
        }
    }
    match length {
        None | Some(0) => Ok(Framing::NoBody),
        Some(n) if n > limits.max_body_bytes => Err(ParseError::BodyTooLarge),
        Some(n) => Ok(Framing::Length(n)),
    }
}

/// Decodes a chunked body at the start of `data`: `Ok(Some((body, wire_len)))` when complete,
/// `Ok(None)` when more bytes are needed (and `data` is under the wire allowance).
///
/// The first pass only checks the framing and skips the chunk data; the body is copied in a
/// second pass once the whole body is there, so a body arriving in many reads costs one step
/// per chunk per read, not a copy of everything so far.
fn decode_chunked(data: &[u8], limits: &Limits) -> Result<Option<(Vec<u8>, usize)>, ParseError> {
    match walk_chunked(data, limits, None)? {
        None => Ok(None),
        Some(len) => {
            let mut body = Vec::new();
            walk_chunked(data, limits, Some(&mut body))?;
            Ok(Some((body, len)))
        }
    }
}

/// Walks the chunked framing, appending chunk data to `sink` when given; returns the wire
/// length of the body once the last chunk and the trailer section are complete.
fn walk_chunked(
    data: &[u8],
    limits: &Limits,
    mut sink: Option<&mut Vec<u8>>,
) -> Result<Option<usize>, ParseError> {
    let wire_cap = limits.max_chunked_wire_bytes();
    let incomplete = || {
        if data.len() >= wire_cap {
            Err(ParseError::BodyTooLarge)
        } else {
            Ok(None)
        }
    };
    let mut pos = 0usize;
    let mut body_len = 0usize;
    loop {
        let Some(line) = next_line(data, pos)? else {
            return incomplete();
        };
        pos = line.next;
        let size = parse_chunk_size(line.text)?;
        if size > limits.max_body_bytes.saturating_sub(body_len) {
            return Err(ParseError::BodyTooLarge);
        }
        if size == 0 {
            // Trailer fields: skipped (RFC 9112 section 7.1.2 lets a recipient discard them).
            loop {
                let Some(trailer) = next_line(data, pos)? else {
                    return incomplete();
                };
                pos = trailer.next;
                if pos > wire_cap {
                    return Err(ParseError::BodyTooLarge);
                }
                if trailer.text.is_empty() {
                    return Ok(Some(pos));
                }
            }
        }
        let Some(chunk) = data.get(pos..pos.saturating_add(size)) else {
            return incomplete();
        };
        if let Some(body) = sink.as_deref_mut() {
            body.extend_from_slice(chunk);
        }
        body_len += size;
        pos += size;
        match (data.get(pos), data.get(pos + 1)) {
            (Some(b'\n'), _) => pos += 1,
            (Some(b'\r'), Some(b'\n')) => pos += 2,
            (None, _) | (Some(b'\r'), None) => return incomplete(),
            _ => return Err(malformed("chunk data not followed by a line end")),
        }
        if pos > wire_cap {
            return Err(ParseError::BodyTooLarge);
        }
    }
}

struct Line<'a> {
    /// The line without its CR LF or LF.
    text: &'a [u8],
    /// Where the next line starts.
    next: usize,
}

/// The line starting at `start`, if its LF has arrived; refuses lines longer than
/// [`MAX_CHUNK_LINE_BYTES`].
fn next_line(data: &[u8], start: usize) -> Result<Option<Line<'_>>, ParseError> {
    let rest = data.get(start..).unwrap_or_default();
    let window = rest.get(..MAX_CHUNK_LINE_BYTES).unwrap_or(rest);
    match find_byte(window, b'\n') {
        Some(len) => Ok(Some(Line {
            text: strip_cr(window.get(..len).unwrap_or_default()),
            next: start + len + 1,
        })),
        None if rest.len() >= MAX_CHUNK_LINE_BYTES => Err(malformed("chunk line too long")),
        None => Ok(None),
    }
}

/// The size of a chunk from its size line, ignoring any extension after ';'. Saturates, so
/// an absurd size is reported as too large rather than wrapping.
fn parse_chunk_size(line: &[u8]) -> Result<usize, ParseError> {
    let digits = line.split(|&b| b == b';').next().unwrap_or_default();
    let digits = trim_blanks(digits);
    if digits.is_empty() {
        return Err(malformed("missing chunk size"));
    }
    digits.iter().try_fold(0usize, |n, &b| {
        let digit = char::from(b)
            .to_digit(16)
            .ok_or_else(|| malformed("invalid chunk size"))?;
        // A u32 digit below 16 always fits in usize.
        Ok(n.saturating_mul(16).saturating_add(digit as usize))
    })
}

/// Looks for the first of `names` among the `&`-separated pairs of a urlencoded string.
fn find_form_field(encoded: &[u8], names: &[&str]) -> Option<String> {
    let pairs = || {
        encoded.split(|&b| b == b'&').map(|pair| {
            let eq = find_byte(pair, b'=').unwrap_or(pair.len());
            let (key, value) = pair.split_at(eq);
            (key, value.get(1..).unwrap_or_default())
        })
    };
    for name in names {
        for (key, value) in pairs() {
            let key = percent_decode(key, true);
            if String::from_utf8_lossy(&key).eq_ignore_ascii_case(name) {
                return Some(store::escape_text(&percent_decode(value, true)));
            }
        }
    }
    None
}

/// Percent-decoding: `%XX` is a byte; a `%` not followed by two hex digits is kept as it is
/// (browsers do the same). With `plus_is_space` (`application/x-www-form-urlencoded`), `+` is a
/// space; in a URI path it is itself.
pub(super) fn percent_decode(encoded: &[u8], plus_is_space: bool) -> Vec<u8> {
    let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
    let mut out = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while let Some(&b) = encoded.get(i) {
        if b == b'%'
            && let (Some(high), Some(low)) = (hex(encoded.get(i + 1)), hex(encoded.get(i + 2)))
        {
            // Two hex digits make a value below 256.
            out.push((high * 16 + low) as u8);
            i += 3;
            continue;
        }
        out.push(if b == b'+' && plus_is_space { b' ' } else { b });
        i += 1;
    }
    out
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
mod tests;
