//! Tests of [`super`]: pure functions over bytes, no sockets.

use super::*;

const SAMPLE: &[u8] = b"POST /login.cgi?lang=en HTTP/1.1\r\n\
Host: 192.168.1.1\r\n\
User-Agent: Mozilla/5.0\r\n\
Cookie: theme=dark; SESSIONID=abc123\r\n\
Content-Type: application/x-www-form-urlencoded\r\n\
Content-Length: 33\r\n\
\r\n\
username=admin&password=p%40ss+wd";

fn parse(buf: &[u8]) -> Result<Option<(Request, usize)>, ParseError> {
    parse_request(buf, &Limits::default())
}

fn parse_ok(buf: &[u8]) -> (Request, usize) {
    match parse(buf) {
        Ok(Some(done)) => done,
        other => panic!("expected a complete request, got {other:?}"),
    }
}

fn request_with(method: &str, path: &str, version: u8, headers: &[(&str, &str)]) -> Request {
    Request {
        method: method.to_owned(),
        path: path.to_owned(),
        version,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: Vec::new(),
    }
}

/// A tiny deterministic generator, so the robustness tests need no extra crate.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn parses_a_complete_request() {
    let (req, used) = parse_ok(SAMPLE);
    assert_eq!(used, SAMPLE.len());
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/login.cgi?lang=en");
    assert_eq!(req.version, 1);
    assert_eq!(req.headers.len(), 5);
    assert_eq!(
        req.headers[0],
        ("Host".to_owned(), "192.168.1.1".to_owned())
    );
    assert_eq!(req.body, b"username=admin&password=p%40ss+wd");
    assert_eq!(req.header("content-length"), Some("33"));
    assert_eq!(req.header("HOST"), Some("192.168.1.1"));
    assert_eq!(req.header("X-Missing"), None);
}

#[test]
fn every_split_point_is_incomplete_never_an_error() {
    for cut in 0..SAMPLE.len() {
        assert_eq!(parse(&SAMPLE[..cut]), Ok(None), "cut at {cut}");
    }
}

#[test]
fn every_split_point_of_a_bare_lf_request_is_incomplete() {
    let sample = b"\n\nGET /a?b=c HTTP/1.0\nHost: x\nX-A:  spaced  \n\n";
    for cut in 0..sample.len() {
        assert_eq!(parse(&sample[..cut]), Ok(None), "cut at {cut}");
    }
    let (req, used) = parse_ok(sample);
    assert_eq!(used, sample.len());
    assert_eq!(req.version, 0);
    assert_eq!(req.header("x-a"), Some("spaced"));
}

#[test]
fn header_of_the_first_of_repeated_fields() {
    let (req, _) = parse_ok(b"GET / HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\n\r\n");
    assert_eq!(req.header("X-A"), Some("1"));
}

#[test]
fn pipelined_requests_are_consumed_one_by_one() {
    let mut wire = Vec::new();
    wire.extend_from_slice(b"GET /one HTTP/1.1\r\nHost: h\r\n\r\n");
    wire.extend_from_slice(SAMPLE);
    wire.extend_from_slice(b"GET /three HTTP/1.1\r\nHost: h\r\n\r\nGET /fo");
    let mut at = 0;
    let mut paths = Vec::new();
    while let Some((req, used)) = parse(&wire[at..]).unwrap() {
        paths.push(req.path);
        at += used;
    }
    assert_eq!(paths, ["/one", "/login.cgi?lang=en", "/three"]);
    assert_eq!(&wire[at..], b"GET /fo");
}

#[test]
fn leading_empty_lines_are_skipped_and_consumed() {
    let buf = b"\r\n\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    let (req, used) = parse_ok(buf);
    assert_eq!(req.path, "/");
    assert_eq!(used, buf.len());
    assert_eq!(parse(b"\r\n\r\n"), Ok(None));
    assert!(matches!(
        parse(b"\rGET / HTTP/1.1\r\n\r\n"),
        Err(ParseError::Malformed(_))
    ));
}

#[test]
fn lowercase_and_unknown_methods_are_recorded_as_sent() {
    let (req, _) = parse_ok(b"get / HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(req.method, "get");
    let (req, _) = parse_ok(b"FOO-BAR /x HTTP/1.1\r\n\r\n");
    assert_eq!(req.method, "FOO-BAR");
    let (req, _) = parse_ok(b"M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n");
    assert_eq!(req.path, "*");
}

#[test]
fn tolerant_request_line() {
    let (req, _) = parse_ok(b"GET   /x   HTTP/1.1  \r\n\r\n");
    assert_eq!((req.method.as_str(), req.path.as_str()), ("GET", "/x"));
    // A target that is not UTF-8 is kept, lossily.
    let (req, _) = parse_ok(b"GET /\xff\xfe/${jndi:ldap://x} HTTP/1.1\r\n\r\n");
    assert_eq!(req.path, "/\u{fffd}\u{fffd}/${jndi:ldap://x}");
    let (req, _) = parse_ok(b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!(req.path, "http://example.com/");
}

#[test]
fn malformed_request_lines() {
    for bad in [
        &b"GET /\r\n"[..],
        b"GET /\n\n",
        b"GET\r\n\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\n\r\n",
        b"GET / http/1.1\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"G(T / HTTP/1.1\r\n\r\n",
        b"GET /a\x01b HTTP/1.1\r\n\r\n",
        b" / HTTP/1.1\r\n\r\n",
    ] {
        assert!(
            matches!(parse(bad), Err(ParseError::Malformed(_))),
            "{:?} -> {:?}",
            String::from_utf8_lossy(bad),
            parse(bad)
        );
    }
    assert_eq!(
        parse(b"GET /\r\n"),
        Err(ParseError::Malformed("HTTP/0.9 request line".into()))
    );
}

#[test]
fn junk_is_refused_before_the_head_limit() {
    assert!(matches!(
        parse(b"\x16\x03\x01\x02\x00\x01"),
        Err(ParseError::Malformed(_))
    ));
    assert!(matches!(
        parse(b"SSH-2.0-Go\r\n"),
        Err(ParseError::Malformed(_))
    ));
    assert!(matches!(
        parse(b"\x00\x00\x00"),
        Err(ParseError::Malformed(_))
    ));
    assert!(matches!(
        parse(b"GET /a\x00"),
        Err(ParseError::Malformed(_))
    ));
    // A valid beginning waits.
    assert_eq!(parse(b"GET /index.html HTT"), Ok(None));
    assert_eq!(parse(b"GET /index.html HTTP/1.1\r"), Ok(None));
}

#[test]
fn malformed_header_fields() {
    assert!(matches!(
        parse(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"),
        Err(ParseError::Malformed(_))
    ));
    assert!(matches!(
        parse(b"GET / HTTP/1.1\r\nNoColon\r\n\r\n"),
        Err(ParseError::Malformed(_))
    ));
    assert!(matches!(
        parse(b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n"),
        Err(ParseError::Malformed(_))
    ));
}

#[test]
fn header_values_are_lossy_utf8_and_trimmed() {
    let (req, _) = parse_ok(b"GET / HTTP/1.1\r\nUser-Agent: \t caf\xe9 \r\n\r\n");
    assert_eq!(req.header("user-agent"), Some("caf\u{fffd}"));
}

#[test]
fn head_limit_is_enforced_as_soon_as_passed() {
    let limits = Limits {
        max_head_bytes: 64,
        ..Limits::default()
    };
    let mut long = b"GET /".to_vec();
    long.resize(63, b'a');
    assert_eq!(parse_request(&long, &limits), Ok(None));
    long.push(b'a');
    assert_eq!(parse_request(&long, &limits), Err(ParseError::HeadTooLarge));
    // Never waits for more once past the limit, whatever the bytes are.
    let mut headers = b"GET / HTTP/1.1\r\n".to_vec();
    while headers.len() < 200 {
        headers.extend_from_slice(b"X-Pad: aaaaaaaa\r\n");
    }
    assert_eq!(
        parse_request(&headers, &limits),
        Err(ParseError::HeadTooLarge)
    );
    // Only newlines: still bounded.
    assert_eq!(
        parse_request(&[b'\n'; 64], &limits),
        Err(ParseError::HeadTooLarge)
    );
    // A head that fits exactly is accepted, with its body after it.
    let mut exact = b"GET / HTTP/1.1\r\nX: ".to_vec();
    exact.resize(60, b'y');
    exact.extend_from_slice(b"\r\n\r\n");
    assert_eq!(exact.len(), 64);
    exact.extend_from_slice(b"GET /next");
    let (req, used) = parse_request(&exact, &limits).unwrap().unwrap();
    assert_eq!(used, 64);
    assert_eq!(req.header("x").map(str::len), Some(41));
}

#[test]
fn default_limits() {
    let limits = Limits::default();
    assert_eq!(limits.max_head_bytes, 8192);
    assert_eq!(limits.max_body_bytes, 65536);
    assert_eq!(limits.max_headers, 64);
    assert_eq!(limits.max_request_bytes(), 2 * 8192 + 2 * 65536);
}

#[test]
fn header_count_limit() {
    let build = |n: usize| {
        let mut req = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..n {
            req.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        req.extend_from_slice(b"\r\n");
        req
    };
    let (req, _) = parse_ok(&build(64));
    assert_eq!(req.headers.len(), 64);
    assert_eq!(parse(&build(65)), Err(ParseError::TooManyHeaders));
    // Detected even before the head is complete.
    let partial = build(70);
    assert_eq!(
        parse(&partial[..partial.len() - 20]),
        Err(ParseError::TooManyHeaders)
    );
    let none = Limits {
        max_headers: 0,
        ..Limits::default()
    };
    assert_eq!(
        parse_request(b"GET / HTTP/1.0\r\nA: b\r\n\r\n", &none),
        Err(ParseError::TooManyHeaders)
    );
    assert!(
        parse_request(b"GET / HTTP/1.0\r\n\r\n", &none)
            .unwrap()
            .is_some()
    );
}

#[test]
fn content_length_rules() {
    let with_cl = |cl: &str| {
        let mut req = format!("POST / HTTP/1.1\r\n{cl}\r\n").into_bytes();
        req.extend_from_slice(b"hello world");
        req
    };
    let (req, used) = parse_ok(&with_cl("Content-Length: 5\r\n"));
    assert_eq!(req.body, b"hello");
    assert_eq!(used, with_cl("Content-Length: 5\r\n").len() - 6);
    // Identical duplicates, and a list of identical values, are accepted.
    let (req, _) = parse_ok(&with_cl("Content-Length: 5\r\ncontent-length: 5\r\n"));
    assert_eq!(req.body, b"hello");
    let (req, _) = parse_ok(&with_cl("Content-Length: 5, 5\r\n"));
    assert_eq!(req.body, b"hello");
    let (req, used) = parse_ok(&with_cl("Content-Length: 0\r\n"));
    assert!(req.body.is_empty());
    assert_eq!(used, with_cl("Content-Length: 0\r\n").len() - 11);
    for bad in [
        "Content-Length: -1\r\n",
        "Content-Length: +5\r\n",
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Content-Length: 5, 6\r\n",
        "Content-Length: 0x5\r\n",
        "Content-Length: \r\n",
        "Content-Length: 1 2\r\n",
    ] {
        assert_eq!(
            parse(&with_cl(bad)),
            Err(ParseError::BadContentLength),
            "{bad}"
        );
    }
    assert_eq!(
        parse(&with_cl("Content-Length: 65537\r\n")),
        Err(ParseError::BodyTooLarge)
    );
    assert_eq!(
        parse(&with_cl("Content-Length: 99999999999999999999999999\r\n")),
        Err(ParseError::BodyTooLarge)
    );
    // Over the limit is refused at once, before any body byte arrives.
    assert_eq!(
        parse(b"POST / HTTP/1.1\r\nContent-Length: 70000\r\n\r\n"),
        Err(ParseError::BodyTooLarge)
    );
    // Exactly at the limit is fine.
    let mut max = b"POST / HTTP/1.1\r\nContent-Length: 65536\r\n\r\n".to_vec();
    let head = max.len();
    max.resize(head + 65536, b'x');
    assert_eq!(parse(&max[..max.len() - 1]), Ok(None));
    assert_eq!(parse_ok(&max).0.body.len(), 65536);
}

#[test]
fn chunked_body_is_decoded() {
    let wire = b"POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
5;name=value\r\nhello\r\n\
1\r\n \r\n\
00006\r\nworld!\r\n\
0\r\nX-Trailer: yes\r\n\r\nGET /next HTTP/1.1\r\n\r\n";
    let (req, used) = parse_ok(wire);
    assert_eq!(req.body, b"hello world!");
    assert_eq!(&wire[used..], b"GET /next HTTP/1.1\r\n\r\n");
    // Every split point: incomplete, never an error.
    let end = used;
    for cut in 0..end {
        assert_eq!(parse(&wire[..cut]), Ok(None), "cut at {cut}");
    }
}

#[test]
fn chunked_tolerates_bare_lf_and_case() {
    let wire =
        b"POST / HTTP/1.1\nTransfer-Encoding: Chunked\n\na\nabcdefghij\nA\n0123456789\n0\n\n";
    let (req, used) = parse_ok(wire);
    assert_eq!(req.body, b"abcdefghij0123456789");
    assert_eq!(used, wire.len());
    for cut in 0..wire.len() {
        assert_eq!(parse(&wire[..cut]), Ok(None), "cut at {cut}");
    }
}

#[test]
fn chunked_errors() {
    let head = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    let with = |body: &[u8]| {
        let mut wire = head.to_vec();
        wire.extend_from_slice(body);
        parse(&wire)
    };
    assert!(matches!(with(b"zz\r\n"), Err(ParseError::Malformed(_))));
    assert!(matches!(with(b"\r\n"), Err(ParseError::Malformed(_))));
    assert!(matches!(with(b"-1\r\n"), Err(ParseError::Malformed(_))));
    assert!(matches!(
        with(b"3\r\nabcX\r\n"),
        Err(ParseError::Malformed(_))
    ));
    assert!(matches!(
        with(b"3\r\nabc\rX"),
        Err(ParseError::Malformed(_))
    ));
    assert_eq!(with(b"10001\r\n"), Err(ParseError::BodyTooLarge));
    assert_eq!(
        with(b"ffffffffffffffffffffffff\r\n"),
        Err(ParseError::BodyTooLarge)
    );
    // Over the limit across chunks.
    let mut many = Vec::new();
    for _ in 0..17 {
        many.extend_from_slice(b"1000\r\n");
        many.extend_from_slice(&[b'x'; 0x1000]);
        many.extend_from_slice(b"\r\n");
    }
    assert_eq!(with(&many), Err(ParseError::BodyTooLarge));
    // A size line that never ends.
    let mut ext = b"1;".to_vec();
    ext.resize(MAX_CHUNK_LINE_BYTES + 1, b'e');
    assert!(matches!(with(&ext), Err(ParseError::Malformed(_))));
}

#[test]
fn chunked_framing_overhead_is_bounded() {
    let limits = Limits {
        max_head_bytes: 256,
        max_body_bytes: 256,
        max_headers: 8,
    };
    let mut wire = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    // One-byte chunks with long extensions: little data, much framing.
    while wire.len() < limits.max_request_bytes() + 10 {
        wire.extend_from_slice(b"1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nx\r\n");
    }
    // Find the first length at which the parser gives up: never later than the bound.
    let mut verdict = None;
    for cut in 0..=wire.len() {
        match parse_request(&wire[..cut], &limits) {
            Ok(None) => assert!(cut < limits.max_request_bytes(), "waited at {cut}"),
            other => {
                verdict = Some(other);
                break;
            }
        }
    }
    assert!(matches!(
        verdict,
        Some(Err(ParseError::BodyTooLarge | ParseError::Malformed(_)))
    ));
    // Endless trailers are bounded too.
    let mut trailers = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n".to_vec();
    while trailers.len() < limits.max_request_bytes() {
        trailers.extend_from_slice(b"X-T: y\r\n");
    }
    assert_eq!(
        parse_request(&trailers, &limits),
        Err(ParseError::BodyTooLarge)
    );
}

#[test]
fn transfer_encoding_rules() {
    let te = |value: &str| {
        let wire = format!("POST / HTTP/1.1\r\nTransfer-Encoding: {value}\r\n\r\n0\r\n\r\n");
        parse(wire.as_bytes())
    };
    assert!(te("chunked").unwrap().is_some());
    assert!(te("CHUNKED").unwrap().is_some());
    for bad in [
        "gzip",
        "gzip, chunked",
        "chunked, gzip",
        "chunked, chunked",
        "identity",
    ] {
        assert_eq!(
            te(bad),
            Err(ParseError::UnsupportedTransferEncoding),
            "{bad}"
        );
    }
    // Chunked wins over Content-Length, and the connection is then not kept.
    let wire = b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    let (req, used) = parse_ok(wire);
    assert_eq!(req.body, b"ok");
    assert_eq!(used, wire.len());
    assert!(!req.keep_alive());
}

#[test]
fn keep_alive_rules() {
    let r = |version, conn: Option<&str>| {
        let headers: Vec<(&str, &str)> = conn.into_iter().map(|c| ("Connection", c)).collect();
        request_with("GET", "/", version, &headers).keep_alive()
    };
    assert!(r(1, None));
    assert!(!r(1, Some("close")));
    assert!(!r(1, Some("Keep-Alive, Close")));
    assert!(r(1, Some("keep-alive")));
    assert!(r(1, Some("Upgrade")));
    assert!(!r(0, None));
    assert!(r(0, Some("Keep-Alive")));
    assert!(r(0, Some("TE, keep-alive")));
    assert!(!r(0, Some("close")));
    let two = request_with(
        "GET",
        "/",
        1,
        &[("Connection", "keep-alive"), ("connection", "close")],
    );
    assert!(!two.keep_alive());
}

#[test]
fn cookies() {
    let req = request_with(
        "GET",
        "/",
        1,
        &[
            ("Cookie", "a=1; SESSIONID=abc123 ; empty=; quoted=\"q v\""),
            ("Cookie", "late=2; a=shadowed"),
        ],
    );
    assert_eq!(req.cookie("SESSIONID"), Some("abc123"));
    assert_eq!(req.cookie("a"), Some("1"));
    assert_eq!(req.cookie("late"), Some("2"));
    assert_eq!(req.cookie("empty"), Some(""));
    assert_eq!(req.cookie("quoted"), Some("q v"));
    assert_eq!(req.cookie("sessionid"), None);
    assert_eq!(req.cookie("missing"), None);
    assert_eq!(request_with("GET", "/", 1, &[]).cookie("a"), None);
}

#[test]
fn form_fields_from_body() {
    let (req, _) = parse_ok(SAMPLE);
    assert_eq!(req.form_field(&["username"]).as_deref(), Some("admin"));
    assert_eq!(req.form_field(&["password"]).as_deref(), Some("p@ss wd"));
    // Names are tried in the order given.
    assert_eq!(
        req.form_field(&["pass", "password"]).as_deref(),
        Some("p@ss wd")
    );
    assert_eq!(req.form_field(&["PassWord"]).as_deref(), Some("p@ss wd"));
    assert_eq!(req.form_field(&["nope"]), None);
    // Falls back to the query string.
    assert_eq!(req.form_field(&["lang"]).as_deref(), Some("en"));

    let mut odd = request_with("POST", "/", 1, &[]);
    odd.body = b"a=%zz%4&b&c=%e9t%C3%A9&us%65r=x+y%2By&=v".to_vec();
    assert_eq!(odd.form_field(&["a"]).as_deref(), Some("%zz%4"));
    assert_eq!(odd.form_field(&["b"]).as_deref(), Some(""));
    assert_eq!(odd.form_field(&["c"]).as_deref(), Some("\\xe9t\u{e9}"));
    assert_eq!(odd.form_field(&["user"]).as_deref(), Some("x y+y"));
    assert_eq!(odd.form_field(&[""]).as_deref(), Some("v"));
}

#[test]
fn form_fields_respect_content_type() {
    let mut json = request_with("POST", "/", 1, &[("Content-Type", "application/json")]);
    json.body = b"username=admin".to_vec();
    assert_eq!(json.form_field(&["username"]), None);
    let mut form = request_with(
        "POST",
        "/",
        1,
        &[(
            "Content-Type",
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
        )],
    );
    form.body = b"username=admin".to_vec();
    assert_eq!(form.form_field(&["username"]).as_deref(), Some("admin"));
}

#[test]
fn form_fields_from_query_for_get() {
    let req = request_with("GET", "/login.cgi?user=root&pwd=12%2034#frag", 1, &[]);
    assert_eq!(
        req.form_field(&["username", "user"]).as_deref(),
        Some("root")
    );
    assert_eq!(req.form_field(&["pwd"]).as_deref(), Some("12 34"));
    assert_eq!(request_with("GET", "/", 1, &[]).form_field(&["user"]), None);
}

#[test]
fn headers_text_is_one_line_per_field() {
    let req = request_with("GET", "/", 1, &[("Host", "h"), ("X-A", "b c")]);
    assert_eq!(req.headers_text(), "Host: h\nX-A: b c\n");
    assert_eq!(request_with("GET", "/", 1, &[]).headers_text(), "");
}

#[test]
fn looks_like_http_detection() {
    assert!(looks_like_http(b"GET / HTTP/1.1\r\n"));
    assert!(looks_like_http(b"\r\nPOST /x HTTP/1.0\r\n"));
    assert!(looks_like_http(b"M-SEARCH * HTTP/1.1\r\n"));
    assert!(looks_like_http(b"VERSION-CONTROL /"));
    assert!(looks_like_http(b"GE"));
    assert!(!looks_like_http(b""));
    assert!(!looks_like_http(b"\r\n"));
    assert!(!looks_like_http(
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"
    ));
    assert!(!looks_like_http(b"get / HTTP/1.1"));
    assert!(!looks_like_http(b"SSH-2.0-OpenSSH_8.9\r\n"));
    assert!(!looks_like_http(b" GET /"));
    assert!(!looks_like_http(b"-GET /"));
    assert!(!looks_like_http(b"\x00\x00\x00\x00"));
    assert!(!looks_like_http(&[b'A'; 40]));
    assert!(!looks_like_http(b"\xde\xad\xbe\xef"));
}

#[test]
fn errors_display_and_status() {
    assert_eq!(malformed("x").to_string(), "malformed request: x");
    assert_eq!(
        ParseError::HeadTooLarge.to_string(),
        "request head too large"
    );
    assert_eq!(malformed("x").status(), 400);
    assert_eq!(ParseError::BadContentLength.status(), 400);
    assert_eq!(ParseError::BodyTooLarge.status(), 413);
    assert_eq!(ParseError::HeadTooLarge.status(), 431);
    assert_eq!(ParseError::TooManyHeaders.status(), 431);
    assert_eq!(ParseError::UnsupportedTransferEncoding.status(), 501);
    let boxed: Box<dyn std::error::Error> = Box::new(ParseError::TooManyHeaders);
    assert_eq!(boxed.to_string(), "too many header fields");
}

#[test]
fn random_bytes_never_panic_and_stay_bounded() {
    let limits = Limits {
        max_head_bytes: 512,
        max_body_bytes: 512,
        max_headers: 16,
    };
    let alphabet: &[u8] = b"GETPOST /HTP1.0\r\n:;=-chunkedContent-LengthTransfer-Encoding0123456789abcdefXx\x00\xff\x16\x03";
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let len = rng.below(2 * limits.max_request_bytes());
        let buf: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        check_invariants(&buf, &limits);
    }
}

#[test]
fn mutated_requests_never_panic_and_stay_bounded() {
    let limits = Limits::default();
    let seeds: [&[u8]; 3] = [
        SAMPLE,
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"\nGET /?a=b HTTP/1.0\nCookie: a=b\n\n",
    ];
    let mut rng = XorShift(42);
    for i in 0..30_000 {
        let mut buf = seeds[i % seeds.len()].to_vec();
        for _ in 0..=rng.below(4) {
            let at = rng.below(buf.len() + 1);
            match rng.below(3) {
                0 if at < buf.len() => buf[at] = rng.next() as u8,
                1 if at < buf.len() => {
                    buf.remove(at);
                }
                _ => buf.insert(at, rng.next() as u8),
            }
        }
        check_invariants(&buf, &limits);
    }
}

fn check_invariants(buf: &[u8], limits: &Limits) {
    match parse_request(buf, limits) {
        Ok(None) => assert!(buf.len() < limits.max_request_bytes()),
        Ok(Some((req, used))) => {
            assert!(used > 0 && used <= buf.len());
            assert!(req.body.len() <= limits.max_body_bytes);
            assert!(req.headers.len() <= limits.max_headers);
            // The same request parses from exactly its own bytes.
            let again = parse_request(&buf[..used], limits);
            assert_eq!(again, Ok(Some((req.clone(), used))));
            let _ = (req.keep_alive(), req.cookie("a"), req.form_field(&["a"]));
            let _ = req.headers_text();
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let _ = looks_like_http(buf);
}
