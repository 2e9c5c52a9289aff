//! The hpfeeds side: the normalizer is an [`intake::Consumer`] that feeds every message the
//! shared subscriber loop ([`intake::Subscriber`]) receives to the [`Pipeline`].

use broker_client::{Message, Status};
use intake::{Consumer, Subscriber};
use tokio_util::sync::CancellationToken;

use crate::NormalizerError;
use crate::central::SqliteCentralStore;
use crate::config::NormalizerSettings;
use crate::pipeline::{NormalizerSnapshot, Pipeline};

/// The pipeline as the subscriber's consumer, with the counters last logged.
struct PipelineConsumer {
    pipeline: Pipeline,
    last: NormalizerSnapshot,
}

impl Consumer for PipelineConsumer {
    type Error = NormalizerError;

    async fn consume(&mut self, m: Message) -> Result<(), NormalizerError> {
        self.pipeline.submit(&m.channel, &m.ident, m.payload).await
    }

    /// Logs the counters when they changed since the last report.
    fn report(&mut self, status: &Status) {
        let now = self.pipeline.stats().snapshot();
        if now != self.last {
            tracing::info!(
                received = now.received,
                written = now.written,
                duplicates = now.duplicates,
                quarantined = now.quarantined,
                failed = now.failed,
                connected = status.connected,
                "normalizer"
            );
            self.last = now;
        }
    }
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
    let mut subscriber = Subscriber::start(&settings.hpfeeds).await?;
    tracing::info!(
        database = %settings.database.display(),
        broker = %format!("{}:{}", settings.hpfeeds.host, settings.hpfeeds.port),
        channels = ?settings.hpfeeds.channels,
        "normalizer started"
    );
    let last = pipeline.stats().snapshot();
    let mut consumer = PipelineConsumer { pipeline, last };
    let ended = subscriber.run(&mut consumer, &shutdown).await?;
    if let Err(e) = subscriber.close().await {
        tracing::debug!(error = %e, "hpfeeds close");
    }
    let summary = consumer.pipeline.finish().await;
    ended.into_result()?;
    Ok(summary)
}
