//! The sensor's own `/metrics` endpoint (`sensor.metrics_listen`): a small HTTP/1.1 server that
//! answers `GET /metrics` (and `HEAD`) with the Prometheus text page and nothing else.
//!
//! It is small on purpose: a sensor on a Pi Zero should not map a general HTTP stack (hyper,
//! axum, tower) to serve one page to one scraper, and a sensor-only build has none. The request
//! head is parsed by a pure function ([`respond`], tested without sockets) with `httparse`; the
//! I/O loop around it keeps the limits a port an attacker can reach needs:
//!
//! - at most [`MAX_CONNECTIONS`] connections at once (past that the server stops accepting: the
//!   kernel's backlog holds the rest) and [`MAX_CONNECTIONS_PER_SOURCE`] from one address, IPv6
//!   counted by /64 (a new one past that is closed at once);
//! - a request head must arrive whole within [`HEAD_TIMEOUT`], and a kept-alive connection
//!   waiting for its next request, or an answer its client does not read, is given up after
//!   the same time (slowloris);
//! - a head larger than [`MAX_HEAD_BYTES`] is answered 431 and the connection closed; a request
//!   with a body, 413; a malformed one, 400; another path, 404; another method, 405.
//!
//! At shutdown the server stops accepting, ends idle connections and returns once the answers
//! being written are out (at most 5 s).

use std::sync::Arc;
use std::time::Duration;

use promtext::{Exposition, MetricsSource};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::limits::{Gate, Limits};

/// Connections open at once (Prometheus scrapes from one address now and then).
pub const MAX_CONNECTIONS: usize = 8;
/// Connections open at once from one address.
pub const MAX_CONNECTIONS_PER_SOURCE: usize = 4;
/// The longest wait for a whole request head, and for the next request on a kept-alive
/// connection.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request head (request line and headers) read.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// The most headers a request may have.
const MAX_HEADERS: usize = 32;
/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What to do with the bytes read so far on a connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// The head is not complete yet: read more.
    NeedMore,
    /// Answer this request.
    Answer(Answer),
}

/// The answer to one request.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// Whether the body is the metrics page (else a short plain-text reason).
    pub metrics: bool,
    /// A `HEAD` request: the headers without the body.
    pub head_only: bool,
    /// Whether the connection stays open for another request.
    pub keep_alive: bool,
    /// How many bytes of the buffer this request used (the rest is the next request).
    pub consumed: usize,
}

impl Answer {
    fn error(status: u16) -> Step {
        Step::Answer(Answer {
            status,
            metrics: false,
            head_only: false,
            keep_alive: false,
            consumed: 0,
        })
    }
}

/// Decides the answer to the request head at the start of `buf`: pure, no I/O.
pub fn respond(buf: &[u8]) -> Step {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let consumed = match request.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD_BYTES => {
            return Answer::error(431);
        }
        Ok(httparse::Status::Partial) => return Step::NeedMore,
        Err(httparse::Error::TooManyHeaders) => return Answer::error(431),
        Err(_) => return Answer::error(400),
    };
    if consumed > MAX_HEAD_BYTES {
        return Answer::error(431);
    }
    let version = request.version.unwrap_or(0);
    let mut keep_alive = version == 1;
    let mut has_body = false;
    for header in request.headers.iter() {
        let value = header.value.trim_ascii();
        if header.name.eq_ignore_ascii_case("connection") {
            for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && version == 0 {
                    keep_alive = true;
                }
            }
        } else if header.name.eq_ignore_ascii_case("transfer-encoding")
            || (header.name.eq_ignore_ascii_case("content-length") && value != b"0")
        {
            has_body = true;
        }
    }
    if has_body {
        // A body is never read: its bytes would be taken for the next request.
        return Answer::error(413);
    }
    let method = request.method.unwrap_or("");
    let path = request.path.unwrap_or("");
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let head_only = method == "HEAD";
    let status = if method != "GET" && !head_only {
        405
    } else if path != "/metrics" {
        404
    } else {
        200
    };
    Step::Answer(Answer {
        status,
        metrics: status == 200,
        head_only,
        keep_alive,
        consumed,
    })
}

/// The bytes of an answer: status line, headers and (unless `HEAD`) the body.
pub fn render(answer: &Answer, page: &str) -> Vec<u8> {
    let (reason, body): (&str, &str) = match answer.status {
        200 => ("OK", page),
        400 => ("Bad Request", "bad request\n"),
        404 => ("Not Found", "not found: this port serves /metrics\n"),
        405 => ("Method Not Allowed", "method not allowed: GET /metrics\n"),
        413 => (
            "Payload Too Large",
            "a request with a body is not accepted\n",
        ),
        431 => (
            "Request Header Fields Too Large",
            "request head too large\n",
        ),
        _ => ("Error", "error\n"),
    };
    let content_type = if answer.metrics {
        CONTENT_TYPE
    } else {
        "text/plain; charset=utf-8"
    };
    let mut out = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{}{}\r\n",
        answer.status,
        body.len(),
        if answer.status == 405 {
            "allow: GET, HEAD\r\n"
        } else {
            ""
        },
        if answer.keep_alive {
            ""
        } else {
            "connection: close\r\n"
        },
    )
    .into_bytes();
    if !answer.head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// The page: `source`'s metrics and the process's.
fn page(source: &dyn MetricsSource) -> String {
    let mut out = Exposition::default();
    source.render(&mut out);
    promtext::process_metrics(&mut out);
    out.finish()
}

/// Serves `/metrics` for `source` on `listener` until `shutdown`.
pub async fn serve_metrics(
    listener: TcpListener,
    source: Arc<dyn MetricsSource>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let tracker = TaskTracker::new();
    // The semaphore stops accepting at the global cap (backpressure); the gate refuses a
    // source over its share, counting IPv6 by /64 as the plug-ins' listeners do.
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let gate = Gate::new(&Limits {
        max_connections: MAX_CONNECTIONS,
        max_connections_per_source: MAX_CONNECTIONS_PER_SOURCE,
        ..Limits::default()
    });
    while let Some((permit, stream, peer)) =
        shutdown::accept_until(&listener, &slots, &shutdown).await
    {
        let Ok(slot) = gate.admit(peer.ip()) else {
            drop(stream);
            continue;
        };
        let source = source.clone();
        let stop = shutdown.clone();
        tracker.spawn(async move {
            if let Err(e) = connection(stream, &*source, &stop).await {
                tracing::trace!(error = %e, "metrics: connection ended");
            }
            drop(slot);
            drop(permit);
        });
    }
    tracker.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), tracker.wait()).await;
    Ok(())
}

/// One connection: requests answered in order until the client closes, asks to close, errs,
/// idles past [`HEAD_TIMEOUT`], or the server stops.
async fn connection(
    mut stream: TcpStream,
    source: &dyn MetricsSource,
    stop: &CancellationToken,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let deadline = tokio::time::Instant::now() + HEAD_TIMEOUT;
        let answer = loop {
            match respond(&buf) {
                Step::Answer(answer) => break answer,
                Step::NeedMore => {}
            }
            let room = MAX_HEAD_BYTES + 1 - buf.len().min(MAX_HEAD_BYTES);
            let n = tokio::select! {
                () = stop.cancelled() => return Ok(()),
                read = tokio::time::timeout_at(deadline, stream.read(&mut chunk[..room.min(2048)])) => match read {
                    Err(_) => return Ok(()),
                    Ok(read) => read?,
                },
            };
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let text = if answer.metrics {
            page(source)
        } else {
            String::new()
        };
        // A client that does not read its answers holds no slot for long.
        let written =
            tokio::time::timeout(HEAD_TIMEOUT, stream.write_all(&render(&answer, &text))).await;
        match written {
            Err(_) => return Ok(()),
            Ok(result) => result?,
        }
        if !answer.keep_alive || stop.is_cancelled() {
            let _ = stream.shutdown().await;
            return Ok(());
        }
        buf.drain(..answer.consumed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(request: &[u8]) -> Answer {
        match respond(request) {
            Step::Answer(a) => a,
            Step::NeedMore => panic!("needs more: {:?}", String::from_utf8_lossy(request)),
        }
    }

    #[test]
    fn a_scrape_is_answered_and_kept_alive() {
        let req = b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\n\r\n";
        let a = answer(req);
        assert_eq!(
            a,
            Answer {
                status: 200,
                metrics: true,
                head_only: false,
                keep_alive: true,
                consumed: req.len()
            }
        );
        let bytes = String::from_utf8(render(&a, "up 1\n")).unwrap();
        assert!(bytes.starts_with("HTTP/1.1 200 OK\r\n"), "{bytes}");
        assert!(bytes.contains(&format!("content-type: {CONTENT_TYPE}\r\n")));
        assert!(bytes.contains("content-length: 5\r\n"));
        assert!(bytes.ends_with("\r\n\r\nup 1\n"));
        assert!(!bytes.contains("connection: close"));
    }

    #[test]
    fn a_query_string_is_ignored_and_head_has_no_body() {
        let a = answer(b"HEAD /metrics?x=1 HTTP/1.1\r\n\r\n");
        assert_eq!((a.status, a.head_only), (200, true));
        let bytes = String::from_utf8(render(&a, "up 1\n")).unwrap();
        assert!(bytes.contains("content-length: 5\r\n"));
        assert!(bytes.ends_with("\r\n\r\n"), "{bytes}");
    }

    #[test]
    fn http_1_0_closes_unless_asked_and_close_is_honoured() {
        assert!(!answer(b"GET /metrics HTTP/1.0\r\n\r\n").keep_alive);
        assert!(answer(b"GET /metrics HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(!answer(b"GET /metrics HTTP/1.1\r\nConnection: TE, close\r\n\r\n").keep_alive);
    }

    #[test]
    fn other_paths_methods_and_bodies_are_refused() {
        assert_eq!(answer(b"GET / HTTP/1.1\r\n\r\n").status, 404);
        assert_eq!(answer(b"GET /metricsx HTTP/1.1\r\n\r\n").status, 404);
        let post = answer(b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(post.status, 405);
        assert!(
            String::from_utf8(render(&post, ""))
                .unwrap()
                .contains("allow: GET, HEAD\r\n")
        );
        let body = answer(b"GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
        assert_eq!((body.status, body.keep_alive), (413, false));
        let chunked = answer(b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(chunked.status, 413);
    }

    #[test]
    fn malformed_and_oversized_heads_are_refused_and_close() {
        let bad = answer(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\r\n\r\n");
        assert_eq!((bad.status, bad.keep_alive), (400, false));
        assert_eq!(respond(b"GET /metrics HTTP/1.1\r\nHost: x"), Step::NeedMore);
        let mut huge = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        huge.resize(MAX_HEAD_BYTES, b'a');
        assert_eq!(answer(&huge).status, 431);
        let mut many = b"GET /metrics HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(answer(&many).status, 431);
        let text = String::from_utf8(render(&answer(&huge), "")).unwrap();
        assert!(text.contains("connection: close\r\n"), "{text}");
    }

    struct OneMetric;

    impl MetricsSource for OneMetric {
        fn render(&self, out: &mut Exposition) {
            out.family("recce7_test", "gauge", "A test gauge.");
            out.sample("recce7_test", &[], 1.0);
        }
    }

    /// Over a socket: a scrape, the per-source cap (the fifth idle connection from one address
    /// is closed at once, a slot given back serves again), and a shutdown that returns.
    #[tokio::test]
    async fn scrapes_over_a_socket_under_the_per_source_cap() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve_metrics(listener, Arc::new(OneMetric), stop.clone()));
        let scrape = || async move {
            // A connection refused by the cap reads as nothing (or a reset).
            let mut s = TcpStream::connect(addr).await.unwrap();
            let mut text = String::new();
            if s.write_all(b"GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n")
                .await
                .is_ok()
            {
                let _ = s.read_to_string(&mut text).await;
            }
            text
        };
        let page = scrape().await;
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
        assert!(
            page.contains("\r\n\r\n# HELP recce7_test A test gauge.\n"),
            "{page}"
        );
        assert!(page.contains("\nrecce7_test 1\n"), "{page}");
        assert!(page.contains("process_resident_memory_bytes"), "{page}");
        let mut idle = Vec::new();
        for _ in 0..MAX_CONNECTIONS_PER_SOURCE {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /met").await.unwrap();
            idle.push(s);
        }
        let mut over = TcpStream::connect(addr).await.unwrap();
        let mut byte = [0u8; 1];
        let closed = tokio::time::timeout(Duration::from_secs(5), over.read(&mut byte)).await;
        assert!(
            matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
            "the fifth connection is closed: {closed:?}"
        );
        drop(idle.pop());
        let page = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                let page = scrape().await;
                if !page.is_empty() {
                    break page;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("a slot given back serves again");
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
    }

    #[test]
    fn pipelined_requests_are_answered_one_at_a_time() {
        let two = b"GET /metrics HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n";
        let first = answer(two);
        assert_eq!(first.status, 200);
        assert_eq!(answer(&two[first.consumed..]).status, 404);
    }
}
