//! The attacker's connection as a plug-in sees it: a capped read buffer, deadlines and counters
//! over the socket. Plug-ins call [`Connection::read_more`], [`Connection::read_line`] and
//! [`Connection::write_all`], never the raw socket, so every limit is enforced in one place.

use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::limits::Limits;

/// What a connection can be: a TCP stream in production, an in-memory duplex in unit tests.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Why a session ended. Stored in `sessions.closeReason` as [`CloseReason::as_str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed its side cleanly.
    PeerClosed,
    /// The peer reset the connection (or another socket error).
    PeerReset,
    /// Nothing arrived within the idle timeout.
    IdleTimeout,
    /// The session lasted longer than the total session time allowed.
    SessionTimeout,
    /// The peer sent more than the bytes allowed per session.
    SessionBytes,
    /// A line longer than the line limit.
    LineTooLong,
    /// A request (or unconsumed input) larger than the request limit.
    RequestTooLarge,
    /// The sensor is shutting down and the grace period ran out.
    Shutdown,
    /// The plug-in ended the conversation (the attacker typed `exit`, a protocol error, ...).
    Plugin(&'static str),
}

impl CloseReason {
    /// The stored text.
    pub fn as_str(&self) -> &'static str {
        match self {
            CloseReason::PeerClosed => "peer closed",
            CloseReason::PeerReset => "peer reset",
            CloseReason::IdleTimeout => "idle timeout",
            CloseReason::SessionTimeout => "session timeout",
            CloseReason::SessionBytes => "session byte limit",
            CloseReason::LineTooLong => "line too long",
            CloseReason::RequestTooLarge => "request too large",
            CloseReason::Shutdown => "sensor shutdown",
            CloseReason::Plugin(why) => why,
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bytes reserved per read while input is flowing.
const READ_CHUNK: usize = 1024;

/// Bytes reserved when the buffer is empty, which is what an idle connection waits with: small,
/// so that thousands of idle connections stay cheap; a longer input takes a few more reads.
const FIRST_READ: usize = 128;

/// A line from [`Connection::read_line`]: its bytes (without `\r\n`/`\n`), and whether a
/// `\n` ended it or the end of the connection cut it off. Derefs to the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line's bytes, exactly as received.
    pub bytes: Bytes,
    /// False for the last bytes of a connection that ended without a newline after them.
    pub terminated: bool,
}

impl std::ops::Deref for Line {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// One attacker connection with its buffer, limits and counters.
pub struct Connection {
    io: Pin<Box<dyn Io>>,
    buf: BytesMut,
    peer: SocketAddr,
    local: SocketAddr,
    limits: Arc<Limits>,
    session_deadline: Instant,
    close_now: CancellationToken,
    bytes_in: u64,
    bytes_out: u64,
    reason: Option<CloseReason>,
}

impl Connection {
    /// Wraps an accepted stream. `close_now` is cancelled when the shutdown grace period ends.
    pub fn new(
        io: impl Io + 'static,
        peer: SocketAddr,
        local: SocketAddr,
        limits: Arc<Limits>,
        close_now: CancellationToken,
    ) -> Connection {
        let session_deadline = Instant::now() + limits.session_timeout;
        Connection {
            io: Box::pin(io),
            buf: BytesMut::new(),
            peer,
            local,
            limits,
            session_deadline,
            close_now,
            bytes_in: 0,
            bytes_out: 0,
            reason: None,
        }
    }

    /// The attacker's address (IPv4-mapped IPv6 addresses shown as IPv4).
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The sensor's address the attacker reached.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Bytes received so far.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// Bytes sent so far.
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out
    }

    /// Why the connection ended, once it has.
    pub fn close_reason(&self) -> Option<&CloseReason> {
        self.reason.as_ref()
    }

    /// Marks the connection as ended for `reason` (the first reason wins) and returns it, so
    /// plug-ins can write `return Err(conn.close(...))`.
    pub fn close(&mut self, reason: CloseReason) -> CloseReason {
        self.reason.get_or_insert(reason).clone()
    }

    /// Completes when the shutdown grace period ends, so that a plug-in's own waits (a reply
    /// delay, a data connection) end with the connection's reads and writes.
    pub fn closing(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.close_now.clone().cancelled_owned()
    }

    /// Bytes received and not yet consumed.
    pub fn buffer(&self) -> &[u8] {
        &self.buf
    }

    /// Drops the first `n` buffered bytes (at most all of them).
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        let _ = self.buf.split_to(n);
    }

    /// Takes every buffered byte.
    pub fn take_buffer(&mut self) -> Bytes {
        self.buf.split().freeze()
    }

    /// The most input that may wait unconsumed in the buffer.
    fn buffer_cap(&self) -> usize {
        self.limits
            .max_request_bytes
            .max(self.limits.max_line_bytes)
            + 1
    }

    fn deadline(&self) -> (Instant, CloseReason) {
        let idle = Instant::now() + self.limits.idle_timeout;
        if idle < self.session_deadline {
            (idle, CloseReason::IdleTimeout)
        } else {
            (self.session_deadline, CloseReason::SessionTimeout)
        }
    }

    /// Reads at least one more byte into the buffer and returns how many arrived. Fails (and
    /// records why) on EOF, reset, idle or session timeout, the per-session byte limit, a full
    /// buffer, or shutdown.
    pub async fn read_more(&mut self) -> Result<usize, CloseReason> {
        if let Some(reason) = &self.reason {
            return Err(reason.clone());
        }
        if self.buf.len() >= self.buffer_cap() {
            return Err(self.close(CloseReason::RequestTooLarge));
        }
        let left_in_session = self.limits.max_session_bytes.saturating_sub(self.bytes_in);
        if left_in_session == 0 {
            return Err(self.close(CloseReason::SessionBytes));
        }
        let chunk = if self.buf.is_empty() {
            if self.buf.capacity() > READ_CHUNK {
                // A large request is done: give its memory back before waiting again.
                self.buf = BytesMut::new();
            }
            FIRST_READ
        } else {
            READ_CHUNK
        };
        let room = (self.buffer_cap() - self.buf.len())
            .min(chunk)
            .min(usize::try_from(left_in_session).unwrap_or(usize::MAX));
        self.buf.reserve(room);
        let (deadline, late) = self.deadline();
        let read = {
            let mut limited = (&mut self.io).take(room as u64);
            tokio::select! {
                biased;
                _ = self.close_now.cancelled() => Err(CloseReason::Shutdown),
                _ = tokio::time::sleep_until(deadline) => Err(late),
                res = limited.read_buf(&mut self.buf) => match res {
                    Ok(0) => Err(CloseReason::PeerClosed),
                    Ok(n) => Ok(n),
                    Err(_) => Err(CloseReason::PeerReset),
                },
            }
        };
        match read {
            Ok(n) => {
                self.bytes_in += n as u64;
                Ok(n)
            }
            Err(reason) => Err(self.close(reason)),
        }
    }

    /// Reads one line ending in `\n` and returns it without `\r\n`/`\n`. A line longer than
    /// `max_line_bytes` ends the session with [`CloseReason::LineTooLong`] (its bytes stay in
    /// the buffer). When the connection ends for any other reason (EOF, reset, a timeout,
    /// shutdown), a last unterminated line is returned, marked as such, before the close is
    /// reported.
    pub async fn read_line(&mut self) -> Result<Line, CloseReason> {
        let mut searched = 0;
        loop {
            if let Some(pos) = self.buf[searched..].iter().position(|&b| b == b'\n') {
                if searched + pos > self.limits.max_line_bytes + 1 {
                    return Err(self.close(CloseReason::LineTooLong));
                }
                let mut line = self.buf.split_to(searched + pos + 1);
                line.truncate(line.len() - 1);
                if line.last() == Some(&b'\r') {
                    line.truncate(line.len() - 1);
                }
                return Ok(Line {
                    bytes: line.freeze(),
                    terminated: true,
                });
            }
            searched = self.buf.len();
            if self.buf.len() > self.limits.max_line_bytes {
                return Err(self.close(CloseReason::LineTooLong));
            }
            match self.read_more().await {
                Ok(_) => {}
                Err(reason) if !self.buf.is_empty() && reason != CloseReason::LineTooLong => {
                    return Ok(Line {
                        bytes: self.take_buffer(),
                        terminated: false,
                    });
                }
                Err(reason) => return Err(reason),
            }
        }
    }

    /// Writes all of `data`, within the idle timeout. A peer that stops reading is treated as
    /// idle, so a full send buffer cannot hold a session open forever.
    pub async fn write_all(&mut self, data: &[u8]) -> Result<(), CloseReason> {
        if let Some(reason) = &self.reason {
            return Err(reason.clone());
        }
        let (deadline, late) = self.deadline();
        let res = tokio::select! {
            biased;
            _ = self.close_now.cancelled() => Err(CloseReason::Shutdown),
            _ = tokio::time::sleep_until(deadline) => Err(late),
            res = self.io.write_all(data) => res.map_err(|_| CloseReason::PeerReset),
        };
        match res {
            Ok(()) => {
                self.bytes_out += data.len() as u64;
                Ok(())
            }
            Err(reason) => Err(self.close(reason)),
        }
    }

    /// Waits for `duration` (a scripted service's pause), never past the session's end, and
    /// ends early with [`CloseReason::Shutdown`] when the sensor closes sessions.
    pub async fn sleep(&mut self, duration: std::time::Duration) -> Result<(), CloseReason> {
        if let Some(reason) = &self.reason {
            return Err(reason.clone());
        }
        let until = Instant::now() + duration;
        let res = tokio::select! {
            biased;
            _ = self.close_now.cancelled() => Err(CloseReason::Shutdown),
            _ = tokio::time::sleep_until(self.session_deadline), if until >= self.session_deadline => {
                Err(CloseReason::SessionTimeout)
            }
            _ = tokio::time::sleep_until(until) => Ok(()),
        };
        res.map_err(|reason| self.close(reason))
    }

    /// Flushes and closes the write side (best effort, bounded by a short timeout).
    pub async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), self.io.shutdown()).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncWriteExt, duplex};

    use super::*;

    fn conn(limits: Limits) -> (Connection, tokio::io::DuplexStream, CancellationToken) {
        let (a, b) = duplex(64 * 1024);
        let token = CancellationToken::new();
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        (
            Connection::new(a, addr, addr, Arc::new(limits), token.clone()),
            b,
            token,
        )
    }

    #[tokio::test]
    async fn lines_are_split_and_capped() {
        let (mut c, mut peer, _) = conn(Limits {
            max_line_bytes: 8,
            ..Limits::default()
        });
        peer.write_all(b"root\r\nadmin\nlast").await.unwrap();
        let first = c.read_line().await.unwrap();
        assert_eq!((&first[..], first.terminated), (&b"root"[..], true));
        assert_eq!(&c.read_line().await.unwrap()[..], b"admin");
        peer.write_all(b" line is far too long\n").await.unwrap();
        assert_eq!(c.read_line().await, Err(CloseReason::LineTooLong));
        assert_eq!(c.close_reason(), Some(&CloseReason::LineTooLong));
    }

    #[tokio::test]
    async fn eof_returns_the_last_partial_line_then_closes() {
        let (mut c, mut peer, _) = conn(Limits::default());
        peer.write_all(b"exit").await.unwrap();
        drop(peer);
        let last = c.read_line().await.unwrap();
        assert_eq!((&last[..], last.terminated), (&b"exit"[..], false));
        assert_eq!(c.read_line().await, Err(CloseReason::PeerClosed));
        assert_eq!(c.bytes_in(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_returns_the_last_partial_line_then_closes() {
        let (mut c, mut peer, _) = conn(Limits {
            idle_timeout: Duration::from_secs(5),
            ..Limits::default()
        });
        peer.write_all(b"ls\nuname").await.unwrap();
        assert!(c.read_line().await.unwrap().terminated);
        let last = c.read_line().await.unwrap();
        assert_eq!((&last[..], last.terminated), (&b"uname"[..], false));
        assert_eq!(c.read_line().await, Err(CloseReason::IdleTimeout));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_and_session_timeouts() {
        let (mut c, _peer, _) = conn(Limits {
            idle_timeout: Duration::from_secs(5),
            ..Limits::default()
        });
        assert_eq!(c.read_more().await, Err(CloseReason::IdleTimeout));

        let (mut c, mut peer, _) = conn(Limits {
            idle_timeout: Duration::from_secs(5),
            session_timeout: Duration::from_secs(10),
            ..Limits::default()
        });
        let chatter = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(4)).await;
                if peer.write_all(b"x").await.is_err() {
                    break;
                }
            }
        });
        let mut got = 0;
        let end = loop {
            match c.read_more().await {
                Ok(n) => got += n,
                Err(e) => break e,
            }
        };
        assert_eq!(end, CloseReason::SessionTimeout);
        assert_eq!(got, 2, "bytes at 4 s and 8 s, closed at 10 s");
        chatter.abort();
    }

    #[tokio::test]
    async fn session_byte_limit_and_full_buffer() {
        let (mut c, mut peer, _) = conn(Limits {
            max_session_bytes: 10,
            ..Limits::default()
        });
        peer.write_all(&[b'a'; 64]).await.unwrap();
        let mut total = 0;
        let end = loop {
            match c.read_more().await {
                Ok(n) => total += n,
                Err(e) => break e,
            }
        };
        assert_eq!((total, end), (10, CloseReason::SessionBytes));

        let (mut c, mut peer, _) = conn(Limits {
            max_request_bytes: 16,
            max_line_bytes: 4,
            ..Limits::default()
        });
        peer.write_all(&[b'a'; 64]).await.unwrap();
        let end = loop {
            if let Err(e) = c.read_more().await {
                break e;
            }
        };
        assert_eq!(end, CloseReason::RequestTooLarge);
        assert_eq!(c.buffer().len(), 17, "the buffer never grows past its cap");
    }

    #[tokio::test]
    async fn shutdown_token_ends_a_waiting_read() {
        let (mut c, _peer, token) = conn(Limits::default());
        token.cancel();
        assert_eq!(c.read_more().await, Err(CloseReason::Shutdown));
        assert_eq!(c.write_all(b"x").await, Err(CloseReason::Shutdown));
    }
}
