//! FTP-style data connections for the rules plug-in, inbound only: a rule with `passive = true`
//! opens ONE listener for the session on the session's local address and an ephemeral port
//! (replacing an earlier one); a rule with `data` sends its text over the first connection
//! accepted from the session's peer address, then closes it and the listener. Connections from
//! any other address are closed unserved. Active mode (`active = true`, FTP's PORT/EPRT) never
//! connects out: the data rule answers that the connection failed, as vsftpd does when it
//! cannot reach the client.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::time::Instant;

/// Connections from other addresses closed per transfer at most; past them the transfer fails.
const MAX_STRANGERS: usize = 16;
/// How long writing the data may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The session's data channel.
#[derive(Debug, Default)]
pub enum DataChannel {
    /// None opened yet (or the last one was used).
    #[default]
    None,
    /// A passive listener waiting for the client.
    Passive(TcpListener, u16),
    /// The client asked us to connect to it (never done).
    Active,
}

/// How a transfer went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// The data went to the peer.
    Sent,
    /// No connection from the peer arrived in time (or it failed).
    Failed,
    /// Active mode: nothing is connected to.
    Active,
    /// No passive listener and not in active mode.
    Missing,
}

impl DataChannel {
    /// Opens a listener on `local`'s address and an ephemeral port, replacing any earlier one;
    /// its port, or `None` when it cannot be bound.
    pub async fn open_passive(&mut self, local: IpAddr) -> Option<u16> {
        *self = DataChannel::None;
        let listener = TcpListener::bind(SocketAddr::new(local, 0)).await.ok()?;
        let port = listener.local_addr().ok()?.port();
        *self = DataChannel::Passive(listener, port);
        Some(port)
    }

    /// Enters active mode (drops the passive listener).
    pub fn set_active(&mut self) {
        *self = DataChannel::Active;
    }

    /// The passive listener's port.
    pub fn passive_port(&self) -> Option<u16> {
        match self {
            DataChannel::Passive(_, port) => Some(*port),
            _ => None,
        }
    }

    /// What a transfer would do now, without doing it.
    pub fn ready(&self) -> Transfer {
        match self {
            DataChannel::None => Transfer::Missing,
            DataChannel::Passive(..) => Transfer::Sent,
            DataChannel::Active => Transfer::Active,
        }
    }

    /// Sends `data` over the first connection from `peer` accepted within `wait`, then closes
    /// it and the listener (one transfer per passive listener, as FTP servers do).
    pub async fn send(&mut self, peer: IpAddr, data: &[u8], wait: Duration) -> Transfer {
        let listener = match std::mem::take(self) {
            DataChannel::Passive(listener, _) => listener,
            DataChannel::Active => {
                *self = DataChannel::Active;
                return Transfer::Active;
            }
            DataChannel::None => return Transfer::Missing,
        };
        let deadline = Instant::now() + wait;
        let peer = peer.to_canonical();
        for _ in 0..=MAX_STRANGERS {
            let accepted = tokio::time::timeout_at(deadline, listener.accept()).await;
            let Ok(Ok((mut stream, from))) = accepted else {
                return Transfer::Failed;
            };
            if from.ip().to_canonical() != peer {
                // Not the session's client: closed, not served.
                drop(stream);
                continue;
            }
            let written = tokio::time::timeout(WRITE_TIMEOUT, async {
                stream.write_all(data).await?;
                stream.shutdown().await
            })
            .await;
            return match written {
                Ok(Ok(())) => Transfer::Sent,
                _ => Transfer::Failed,
            };
        }
        Transfer::Failed
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpStream;

    use super::*;

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[tokio::test]
    async fn the_peer_gets_the_data_once() {
        let mut channel = DataChannel::default();
        assert_eq!(channel.ready(), Transfer::Missing);
        let first = channel.open_passive(LOCAL).await.unwrap();
        let port = channel.open_passive(LOCAL).await.unwrap();
        assert_eq!(channel.passive_port(), Some(port));
        assert!(
            TcpStream::connect((LOCAL, first)).await.is_err(),
            "the earlier listener is closed"
        );
        let client = tokio::spawn(async move {
            let mut s = TcpStream::connect((LOCAL, port)).await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            got
        });
        let sent = channel
            .send(LOCAL, b"listing\r\n", Duration::from_secs(5))
            .await;
        assert_eq!(sent, Transfer::Sent);
        assert_eq!(client.await.unwrap(), b"listing\r\n");
        assert_eq!(channel.passive_port(), None, "one transfer per listener");
        assert!(TcpStream::connect((LOCAL, port)).await.is_err());
    }

    #[tokio::test]
    async fn others_are_not_served_and_no_connection_times_out() {
        let mut channel = DataChannel::default();
        let port = channel.open_passive(LOCAL).await.unwrap();
        // A connection from 127.0.0.1 while the session's peer is another address.
        let stranger = tokio::spawn(async move {
            let mut s = TcpStream::connect((LOCAL, port)).await.unwrap();
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got).await;
            got
        });
        let other: IpAddr = "10.9.9.9".parse().unwrap();
        let sent = channel
            .send(other, b"secret", Duration::from_millis(500))
            .await;
        assert_eq!(sent, Transfer::Failed);
        assert!(stranger.await.unwrap().is_empty(), "nothing sent to others");
        channel.set_active();
        assert_eq!(
            channel.send(LOCAL, b"x", Duration::from_secs(1)).await,
            Transfer::Active
        );
    }
}
