//! The hpfeeds side: subscribe to the configured channels (and again after every reconnect)
//! and feed every message to the [`Pipeline`].

use std::time::Duration;

use broker_client::{Backoff, Client, ClientConfig};
use tokio_util::sync::CancellationToken;

use crate::NormalizerError;
use crate::central::SqliteCentralStore;
use crate::config::NormalizerSettings;
use crate::pipeline::{NormalizerSnapshot, Pipeline};

/// How often counters are logged while messages flow.
const REPORT_EVERY: Duration = Duration::from_secs(30);

/// The hpfeeds client configuration for a subscriber role.
pub fn client_config(s: &roleconfig::SubscriberSettings) -> ClientConfig {
    ClientConfig::new(&s.host, s.port, &s.ident, &s.secret).with_backoff(Backoff {
        initial: Duration::from_millis(250),
        max: s.reconnect_max,
    })
}

/// Runs the normalizer until `shutdown`: opens the central store, subscribes, writes. Returns
/// the final counters once everything received is committed.
pub async fn run(
    settings: NormalizerSettings,
    shutdown: CancellationToken,
) -> Result<NormalizerSnapshot, NormalizerError> {
    let store = SqliteCentralStore::open(&settings.database)?;
    let pipeline = Pipeline::start(
        Box::new(store),
        settings.queue_capacity,
        settings.batch_max,
        settings.limits.clone(),
    )?;
    let stats = pipeline.stats();
    let mut client = Client::start(client_config(&settings.hpfeeds));
    for channel in &settings.hpfeeds.channels {
        client.subscribe(channel).await?;
    }
    tracing::info!(
        database = %settings.database.display(),
        broker = %format!("{}:{}", settings.hpfeeds.host, settings.hpfeeds.port),
        channels = ?settings.hpfeeds.channels,
        "normalizer started"
    );
    let mut report = tokio::time::interval(REPORT_EVERY);
    report.tick().await;
    let mut last = stats.snapshot();
    let ended = loop {
        tokio::select! {
            () = shutdown.cancelled() => break None,
            message = client.recv() => match message {
                Some(Ok(m)) => pipeline.submit(&m.channel, &m.ident, m.payload).await?,
                Some(Err(e)) => tracing::warn!(error = %e, "hpfeeds"),
                None => break Some(NormalizerError::Closed),
            },
            _ = report.tick() => {
                let now = stats.snapshot();
                if now != last {
                    tracing::info!(received = now.received, written = now.written, duplicates = now.duplicates, quarantined = now.quarantined, failed = now.failed, connected = client.status().connected, "normalizer");
                    last = now;
                }
            }
        }
    };
    if let Err(e) = client.close().await {
        tracing::debug!(error = %e, "hpfeeds close");
    }
    let summary = pipeline.finish().await;
    match ended {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}
