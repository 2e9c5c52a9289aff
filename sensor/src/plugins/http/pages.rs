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

/// The Server header: the exact string lighttpd 1.4.59 sends by default (the plug-in sends the
/// persona's, [`Response::with_server`]).
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

    /// The response with the persona's `Server` header ([`crate::persona::Persona::http_server`])
    /// in place of lighttpd's default.
    pub fn with_server(mut self, server: &str) -> Response {
        for (name, value) in &mut self.headers {
            if *name == "Server" {
                server.clone_into(value);
            }
        }
        self
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
mod tests;
