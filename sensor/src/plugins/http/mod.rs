//! The HTTP plug-in (`kind = "http"`): a tolerant HTTP/1.0 and 1.1 server with keep-alive and
//! strict size limits, serving an embedded device's login page. Every request is recorded
//! (method, path, version, headers, body bounded, status), credentials posted to the login form
//! are recorded, a `SESSIONID` cookie ties requests over several connections into one session
//! (only a cookie this instance issued, see [`cookie`]; any other is recorded as rejected),
//! malformed requests get a 400 and are recorded, and input that is not HTTP at all (TLS hellos,
//! scanner probes) is recorded raw.
//!
//! The parsing and the pages are pure ([`parse`], [`pages`]); this module is the socket side.

pub mod cookie;
pub mod pages;
pub mod parse;

use std::sync::Arc;

use serde_json::Value;
use store::{Column, EventType, escape_bytes, escape_text};

use crate::connection::{CloseReason, Connection};
use serde::Deserialize;

use crate::plugin::{HandlerFuture, OptionProblem, Plugin, PluginSettings, integer, text};
use crate::plugins::foreign::{RawCapture, drain};
use crate::plugins::options::read_options;
use crate::session::{Session, row};

/// `[plugin.options]` of an HTTP instance: none yet (head and body limits come from
/// `[limits] max_request_bytes`), so any key is reported as unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpOptions {}

/// The HTTP plug-in.
#[derive(Debug, Clone)]
pub struct HttpPlugin {
    /// The instance's name, signed into its session cookies.
    name: String,
    cookie_key: &'static cookie::CookieKey,
    limits: parse::Limits,
    max_raw_bytes: usize,
}

/// Builds the plug-in. Head and body limits come from `[limits] max_request_bytes`.
pub fn build(settings: &PluginSettings<'_>) -> Result<Arc<dyn Plugin>, Vec<OptionProblem>> {
    let (HttpOptions {}, mut problems) = read_options(settings.options);
    let cookie_key = match cookie::CookieKey::process() {
        Ok(key) => Some(key),
        Err(e) => {
            problems.push(OptionProblem::new(
                "(session cookies)",
                format!("no random key for session cookies: {e}"),
            ));
            None
        }
    };
    let Some(cookie_key) = cookie_key.filter(|_| problems.is_empty()) else {
        return Err(problems);
    };
    // Head and body share `max_request_bytes`, which is also the connection's buffer cap.
    let max = settings.limits.max_request_bytes;
    let defaults = parse::Limits::default();
    let max_head_bytes = defaults.max_head_bytes.min(max / 2).max(1);
    Ok(Arc::new(HttpPlugin {
        name: settings.name.to_owned(),
        cookie_key,
        limits: parse::Limits {
            max_head_bytes,
            max_body_bytes: max.saturating_sub(max_head_bytes).max(1),
            max_headers: defaults.max_headers,
        },
        max_raw_bytes: settings.limits.max_raw_bytes,
    }))
}

/// At most `max_bytes` of `bytes` as [`escape_text`] writes them, then `...(+N bytes)` for the
/// rest: a value the attacker chose, kept exactly but bounded.
fn bounded_text(bytes: &[u8], max_bytes: usize) -> String {
    let kept = bytes.get(..max_bytes).unwrap_or(bytes);
    let mut text = escape_text(kept);
    if kept.len() < bytes.len() {
        text.push_str(&format!("...(+{} bytes)", bytes.len() - kept.len()));
    }
    text
}

impl HttpPlugin {
    /// Answers a request the parser refused (400, 413, 431, 501), records it as a request row
    /// with that status and its bytes raw, and ends the connection.
    async fn refuse(
        &self,
        conn: &mut Connection,
        session: &mut Session,
        err: &parse::ParseError,
        out: &mut Vec<u8>,
    ) -> Result<(), CloseReason> {
        let status = err.status();
        // The rest of what the client sends with it, not only what the parser saw (one read
        // may hold 128 bytes of a much longer request).
        let mut capture = RawCapture::new(self.max_raw_bytes);
        drain(conn, &mut capture).await;
        session
            .record(
                EventType::HttpRequest,
                row([
                    ("status", status.into()),
                    (
                        "body",
                        escape_bytes(capture.kept(), self.max_raw_bytes).into(),
                    ),
                ]),
            )
            .await;
        session.record_raw_capture(&err.to_string(), &capture).await;
        out.clear();
        pages::error_response(status)
            .with_server(&session.persona().http_server)
            .encode(out);
        conn.write_all(out).await?;
        conn.close(CloseReason::Plugin("malformed request"));
        Ok(())
    }

    async fn converse(
        &self,
        conn: &mut Connection,
        session: &mut Session,
    ) -> Result<(), CloseReason> {
        let mut cookie_sent = false;
        // The first request of the connection gets p0f's HTTP signature.
        let mut fingerprinted = false;
        // Grown on demand: an idle keep-alive connection should cost as little as possible.
        let mut out = Vec::new();
        loop {
            let (request, http_fingerprint) = loop {
                if !conn.buffer().is_empty() && !parse::looks_like_http(conn.buffer()) {
                    // All of it (a TLS hello is longer than the first read), with its length.
                    let mut capture = RawCapture::new(self.max_raw_bytes);
                    drain(conn, &mut capture).await;
                    session.record_raw_capture("not HTTP", &capture).await;
                    out.clear();
                    pages::error_response(400)
                        .with_server(&session.persona().http_server)
                        .encode(&mut out);
                    conn.write_all(&out).await?;
                    conn.close(CloseReason::Plugin("not HTTP"));
                    return Ok(());
                }
                match parse::parse_request(conn.buffer(), &self.limits) {
                    Ok(Some((req, used))) => {
                        let fp = if fingerprinted {
                            None
                        } else {
                            fingerprinted = true;
                            Box::pin(session.wait_for_tcp_fingerprint()).await;
                            conn.buffer()
                                .get(..used)
                                .and_then(|head| session.http_fingerprint(head))
                                .map(Box::new)
                        };
                        conn.consume(used);
                        break (req, fp);
                    }
                    Ok(None) => {
                        if let Err(reason) = conn.read_more().await {
                            if reason == CloseReason::RequestTooLarge {
                                // Chunk framing can outgrow the buffer before the parser's
                                // own body limit trips: the same answer, 413.
                                return self
                                    .refuse(
                                        conn,
                                        session,
                                        &parse::ParseError::BodyTooLarge,
                                        &mut out,
                                    )
                                    .await;
                            }
                            if !conn.buffer().is_empty() {
                                let bytes = conn.take_buffer();
                                session.record_raw("incomplete request", &bytes).await;
                            }
                            return Err(reason);
                        }
                    }
                    Err(err) => return self.refuse(conn, session, &err, &mut out).await,
                }
            };

            // A cookie this instance issued ties the request to an earlier session of the same
            // client; any other cookie is recorded as what it is and changes nothing.
            let mut set_cookie = None;
            let mut rejected = Value::Null;
            let adopted = match request.cookie(pages::SESSION_COOKIE) {
                None => false,
                Some(value) => match self.cookie_key.adopt(&self.name, value) {
                    Some(id) => {
                        session.adopt_id(id);
                        true
                    }
                    None => {
                        rejected = bounded_text(value.as_bytes(), self.max_raw_bytes).into();
                        false
                    }
                },
            };
            if !adopted && !cookie_sent {
                set_cookie = Some(self.cookie_key.issue(&self.name, session.id()));
                cookie_sent = true;
            }
            if let Some(fp) = http_fingerprint {
                Box::pin(session.record_http_fingerprint(*fp)).await;
            }
            let keep_alive = request.keep_alive();
            let response = pages::respond(&request, set_cookie.as_deref(), keep_alive)
                .with_server(&session.persona().http_server);
            let (username, password) = match pages::login_attempt(&request) {
                Some((u, p)) => (Value::from(u), Value::from(p)),
                None => (Value::Null, Value::Null),
            };
            session
                .record(
                    EventType::HttpRequest,
                    row([
                        ("command", request.method.clone().into()),
                        ("path", request.path.clone().into()),
                        ("version", format!("HTTP/1.{}", request.version).into()),
                        ("headers", request.headers_text().into()),
                        (
                            "body",
                            escape_bytes(&request.body, self.max_raw_bytes).into(),
                        ),
                        ("username", username),
                        ("password", password),
                        ("status", response.status.into()),
                        ("cookie_rejected", rejected),
                    ]),
                )
                .await;
            out.clear();
            response.encode(&mut out);
            conn.write_all(&out).await?;
            if !keep_alive {
                conn.close(CloseReason::Plugin("request asked to close"));
                return Ok(());
            }
            if response.closes_connection() {
                conn.close(CloseReason::Plugin("refused request"));
                return Ok(());
            }
        }
    }
}

impl Plugin for HttpPlugin {
    fn protocol(&self) -> &str {
        "http"
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            text("command"),
            text("path"),
            text("version"),
            text("headers"),
            text("body"),
            text("username"),
            text("password"),
            integer("status"),
            text("cookie_rejected"),
        ]
    }

    fn handle<'a>(
        &'a self,
        conn: &'a mut Connection,
        session: &'a mut Session,
    ) -> HandlerFuture<'a> {
        Box::pin(self.converse(conn, session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_cookies_are_kept_exactly_but_bounded() {
        assert_eq!(bounded_text(b"a\\b", 10), "a\\\\b");
        assert_eq!(bounded_text(b"abcdef", 4), "abcd...(+2 bytes)");
        assert_eq!(bounded_text("\u{e9}".as_bytes(), 1), "\\xc3...(+1 bytes)");
    }
}
