//! `recce7`: one binary, one subcommand per role.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use broker_client::{Client, ClientConfig, FeedError};
use clap::{Args, Parser, Subcommand};
use futures_util::StreamExt;

/// A pluggable honeypot for small hardware, with an MHN-style hpfeeds pipeline.
#[derive(Parser)]
#[command(name = "recce7", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the standalone sensor and report service on the embedded default config.
    Up,
    /// Check an hpfeeds broker by hand: publish a message, or print what arrives on channels.
    #[command(subcommand)]
    Hpfeeds(HpfeedsCommand),
}

#[derive(Subcommand)]
enum HpfeedsCommand {
    /// Publish one message (the payload argument, or standard input when it is absent) and
    /// wait for the broker to take it; a refused ident, secret or channel is an error.
    Publish {
        #[command(flatten)]
        broker: BrokerArgs,
        /// The channel to publish on.
        #[arg(long, short = 'c')]
        channel: String,
        /// The payload; read from standard input when absent.
        payload: Option<String>,
    },
    /// Subscribe and print each message as `<channel> <ident> <payload>`.
    Subscribe {
        #[command(flatten)]
        broker: BrokerArgs,
        /// A channel to subscribe to (repeat for several).
        #[arg(long = "channel", short = 'c', required = true)]
        channels: Vec<String>,
        /// Exit after this many messages.
        #[arg(long)]
        count: Option<u64>,
        /// Keep reconnecting (and resubscribing) when the broker goes away, instead of exiting.
        #[arg(long)]
        reconnect: bool,
    },
}

/// Where the broker is and who we are; MHN's environment variables work too.
#[derive(Args)]
struct BrokerArgs {
    /// Broker host.
    #[arg(long, env = "HPF_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Broker port (MHN: 10000).
    #[arg(long, short = 'p', env = "HPF_PORT", default_value_t = 10000)]
    port: u16,
    /// Authkey ident.
    #[arg(long, short = 'i', env = "HPF_IDENT")]
    ident: String,
    /// Authkey secret.
    #[arg(long, short = 's', env = "HPF_SECRET", hide_env_values = true)]
    secret: String,
}

impl BrokerArgs {
    fn config(&self) -> ClientConfig {
        ClientConfig::new(&self.host, self.port, &self.ident, &self.secret)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RECCE7_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("recce7: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("recce7: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Up => up(),
        Command::Hpfeeds(HpfeedsCommand::Publish {
            broker,
            channel,
            payload,
        }) => publish(broker, channel, payload).await,
        Command::Hpfeeds(HpfeedsCommand::Subscribe {
            broker,
            channels,
            count,
            reconnect,
        }) => subscribe(broker, channels, count, reconnect).await,
    }
}

fn up() -> Result<()> {
    bail!(
        "the sensor and report service are not built yet (issues 4 and 7); what works today is \
         the hpfeeds client: `recce7 hpfeeds --help`"
    )
}

async fn publish(broker: BrokerArgs, channel: String, payload: Option<String>) -> Result<()> {
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
    println!(
        "published {len} bytes on {channel} as {} to broker {name} at {addr}",
        broker.ident
    );
    Ok(())
}

async fn subscribe(
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
        channels.join(", "),
        client.status().broker_name.unwrap_or_default()
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
                writeln!(
                    stdout,
                    "{} {} {}",
                    msg.channel,
                    msg.ident,
                    escape(&msg.payload)
                )?;
                stdout.flush()?;
            }
            Some(Err(err)) if reconnect => eprintln!("recce7: {err}"),
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
