//! `recce7 hpfeeds`: check a broker by hand (publish one message, print what arrives), every
//! byte a peer chose printed escaped.

use std::io::{Read, Write};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use broker_client::{Client, FeedError};
use futures_util::StreamExt;

use crate::cli::{BrokerArgs, HpfeedsCommand};
use crate::terminal::escape_controls;

/// Runs one hpfeeds tool.
pub async fn run(command: HpfeedsCommand) -> Result<()> {
    match command {
        HpfeedsCommand::Publish {
            broker,
            channel,
            payload,
        } => publish(broker, channel, payload).await,
        HpfeedsCommand::Subscribe {
            broker,
            channels,
            count,
            reconnect,
        } => subscribe(broker, channels, count, reconnect).await,
    }
}

/// `recce7 hpfeeds publish`: one message, and wait for the broker to take it.
pub async fn publish(broker: BrokerArgs, channel: String, payload: Option<String>) -> Result<()> {
    let payload = match payload {
        Some(p) => p.into_bytes(),
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading the payload from standard input")?;
            buf
        }
    };
    let len = payload.len();
    let addr = format!("{}:{}", broker.host, broker.port);
    let client = Client::connect(broker.config().without_reconnect())
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let name = client.status().broker_name.unwrap_or_default();
    let name = escape_controls(&name, false);
    // A refused AUTH can end the client before the publish is queued; close() says why.
    let queued = client.publish(&channel, payload).await;
    if let Err(err @ FeedError::Wire(_)) = queued {
        return Err(err.into());
    }
    client
        .close()
        .await
        .with_context(|| format!("publishing on {channel} through {addr}"))?;
    queued?;
    crate::terminal::write_stdout(&format!(
        "published {len} bytes on {channel} as {} to broker {name} at {addr}\n",
        broker.ident
    ));
    Ok(())
}

/// `recce7 hpfeeds subscribe`: print each message on one line until `count`, Ctrl-C or the
/// end of the connection (unless `reconnect`).
pub async fn subscribe(
    broker: BrokerArgs,
    channels: Vec<String>,
    count: Option<u64>,
    reconnect: bool,
) -> Result<()> {
    let addr = format!("{}:{}", broker.host, broker.port);
    let mut config = broker.config();
    if !reconnect {
        config = config.without_reconnect();
    }
    let mut client = Client::connect(config)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    for channel in &channels {
        client.subscribe(channel).await?;
    }
    eprintln!(
        "subscribed to {} at {addr} (broker {}); waiting for messages",
        escape_controls(&channels.join(", "), false),
        escape_controls(&client.status().broker_name.unwrap_or_default(), false)
    );
    let mut received = 0u64;
    let mut stdout = std::io::stdout().lock();
    while count.is_none_or(|n| received < n) {
        let item = tokio::select! {
            item = client.next() => item,
            _ = tokio::signal::ctrl_c() => break,
        };
        match item {
            Some(Ok(msg)) => {
                received += 1;
                let written = writeln!(
                    stdout,
                    "{} {} {}",
                    escape(msg.channel.as_bytes()),
                    escape(msg.ident.as_bytes()),
                    escape(&msg.payload)
                )
                .and_then(|()| stdout.flush());
                match written {
                    Ok(()) => {}
                    // The reader is gone (`| head -n 3`): done, as `head` asked.
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
                    Err(e) => return Err(e.into()),
                }
            }
            Some(Err(err)) if reconnect => {
                eprintln!("recce7: {}", escape_controls(&err.to_string(), false))
            }
            Some(Err(err)) => return Err(err).with_context(|| format!("subscribed at {addr}")),
            None => bail!("connection to {addr} ended"),
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), client.close()).await;
    Ok(())
}

/// Prints printable ASCII as is and everything else as `\xNN` (and `\\`), so one message is one
/// line whatever its bytes.
fn escape(payload: &[u8]) -> String {
    let mut out = String::with_capacity(payload.len());
    for &b in payload {
        match b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escape_keeps_one_message_on_one_line() {
        assert_eq!(escape(b"a b\\\n\xff{}"), "a b\\\\\\x0a\\xff{}");
    }
}
