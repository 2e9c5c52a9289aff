//! The measuring side: a minimal keep-alive HTTP/1.1 client, latency percentiles and the
//! number formats of the printed rows.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A minimal HTTP/1.1 client: GET on one keep-alive connection, bodies framed by
/// `Content-Length` or by the chunked transfer coding.
pub(super) struct Client {
    pub(super) stream: TcpStream,
    pub(super) buf: Vec<u8>,
}

impl Client {
    pub(super) async fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.expect("connect to reportd");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        Client {
            stream,
            buf: Vec::with_capacity(256 * 1024),
        }
    }

    /// Reads more of the response into the buffer.
    pub(super) async fn fill(&mut self) {
        let n = self
            .stream
            .read_buf(&mut self.buf)
            .await
            .expect("read the response");
        assert!(n > 0, "reportd closed the connection in a response");
    }

    /// Waits until the buffer holds `n` bytes.
    pub(super) async fn want(&mut self, n: usize) {
        while self.buf.len() < n {
            self.fill().await;
        }
    }

    /// Takes one line, without its CRLF.
    pub(super) async fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return line;
            }
            self.fill().await;
        }
    }

    /// Takes `n` bytes of body.
    pub(super) async fn take(&mut self, n: usize) -> Vec<u8> {
        self.want(n).await;
        self.buf.drain(..n).collect()
    }

    /// `GET path`: the status and the whole body.
    pub(super) async fn get(&mut self, path: &str) -> (u16, Vec<u8>) {
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        self.stream
            .write_all(request.as_bytes())
            .await
            .expect("send the request");
        let status_line = self.line().await;
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not a status line: {status_line:?}"));
        let (mut length, mut chunked) = (None, false);
        loop {
            let line = self.line().await;
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    length = Some(value.parse::<usize>().expect("a Content-Length"));
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    chunked = value.eq_ignore_ascii_case("chunked");
                }
            }
        }
        let body = if chunked {
            let mut body = Vec::new();
            loop {
                let size_line = self.line().await;
                let size = size_line.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size, 16).expect("a chunk size");
                if size == 0 {
                    while !self.line().await.is_empty() {}
                    break body;
                }
                body.extend(self.take(size).await);
                assert!(self.line().await.is_empty(), "a chunk ends with CRLF");
            }
        } else {
            let n = length.expect("a Content-Length or a chunked body");
            self.take(n).await
        };
        (status, body)
    }
}

/// What an answer must start with.
#[derive(Clone, Copy)]
pub(super) enum Expect {
    Json,
    Svg,
    Png,
}

impl Expect {
    pub(super) fn matches(self, body: &[u8]) -> bool {
        match self {
            Expect::Json => body.starts_with(b"{") || body.starts_with(b"["),
            Expect::Svg => body.starts_with(b"<svg"),
            Expect::Png => body.starts_with(b"\x89PNG\r\n\x1a\n"),
        }
    }
}

/// Latencies of one measurement, in milliseconds, and the sizes of the bodies.
pub(super) struct Timings {
    pub(super) ms: Vec<f64>,
    pub(super) bytes: Vec<usize>,
}

impl Timings {
    pub(super) fn new() -> Timings {
        Timings {
            ms: Vec::new(),
            bytes: Vec::new(),
        }
    }

    /// The `p`-th percentile by nearest rank (the median is `p = 50`).
    pub(super) fn pct(&self, p: f64) -> f64 {
        let mut v = self.ms.clone();
        v.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }

    pub(super) fn max(&self) -> f64 {
        self.ms.iter().copied().fold(0.0, f64::max)
    }

    /// The median body size.
    pub(super) fn body(&self) -> String {
        let mut v = self.bytes.clone();
        v.sort_unstable();
        size(v[(v.len() - 1) / 2] as u64)
    }

    /// `median …, p99 …, max … (n = …)`.
    pub(super) fn summary(&self) -> String {
        format!(
            "median {:.2} ms, p99 {:.2} ms, max {:.2} ms (n = {})",
            self.pct(50.0),
            self.pct(99.0),
            self.max(),
            self.ms.len()
        )
    }

    /// A table row: what (with the median body size), the result, and the p99 against
    /// `goal_ms` when there is a goal.
    pub(super) fn row(&self, what: &str, goal_ms: Option<f64>) -> String {
        let goal = match goal_ms {
            None => String::new(),
            Some(g) if self.pct(99.0) < g => format!("p99 < {g} ms: met"),
            Some(g) => format!("p99 < {g} ms: **missed**"),
        };
        format!(
            "| {what}, body {} | {} | {goal} |",
            self.body(),
            self.summary()
        )
    }
}

/// Sends `warmup` then every one of `paths`, in order, each after the previous answer, and
/// times each; every answer must be a 200 whose body looks like `expect`.
pub(super) async fn measure(
    client: &mut Client,
    warmup: &[String],
    paths: &[String],
    expect: Expect,
) -> Timings {
    let mut t = Timings::new();
    for (i, path) in warmup.iter().chain(paths).enumerate() {
        let started = Instant::now();
        let (status, body) = client.get(path).await;
        let elapsed = started.elapsed();
        assert_eq!(
            status,
            200,
            "{path}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
        assert!(
            !body.is_empty() && expect.matches(&body),
            "{path}: unexpected body {:?}",
            String::from_utf8_lossy(&body[..body.len().min(100)])
        );
        if i >= warmup.len() {
            t.ms.push(elapsed.as_secs_f64() * 1000.0);
            t.bytes.push(body.len());
        }
    }
    t
}

/// `n` copies of one path.
pub(super) fn repeat(path: &str, n: usize) -> Vec<String> {
    vec![path.to_owned(); n]
}

/// `12,345` from 12345.
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte count as KB or MB (powers of 1,000).
pub(super) fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.1} KB", b as f64 / 1e3),
        b => format!("{b} B"),
    }
}
