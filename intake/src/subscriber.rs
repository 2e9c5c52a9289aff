//! The one hpfeeds subscriber loop both consumers run: build the client from a role's
//! `[hpfeeds]` settings, subscribe (the client subscribes again after every reconnect), hand
//! every message to a [`Consumer`] and wait for it, report every [`REPORT_EVERY`], stop on the
//! shutdown token.

use std::future::Future;
use std::time::Duration;

use broker_client::{Client, ClientConfig, FeedError, Message, Publisher, Status};
use roleconfig::SubscriberSettings;
use tokio_util::sync::CancellationToken;

use crate::IntakeError;

/// How often the consumer is asked to report its counters while the subscriber runs.
pub const REPORT_EVERY: Duration = Duration::from_secs(30);

/// The hpfeeds client configuration for a subscriber role: its broker, authkey and the
/// project's reconnect backoff capped at its `reconnect_max`.
pub fn client_config(s: &SubscriberSettings) -> ClientConfig {
    ClientConfig::new(&s.host, s.port, &s.ident, &s.secret).with_reconnect_max(s.reconnect_max)
}

/// What a [`Subscriber`] hands every message to.
pub trait Consumer {
    /// Why the consumer cannot go on; ends [`Subscriber::run`] at once.
    type Error;

    /// Takes one message. The subscriber reads nothing more until this resolves: a consumer
    /// that is busy holds the broker connection back instead of dropping messages.
    fn consume(&mut self, message: Message)
    -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Logs the consumer's counters with the connection's state; called every
    /// [`REPORT_EVERY`] while the subscriber runs.
    fn report(&mut self, status: &Status);
}

/// Why [`Subscriber::run`] returned without an error from the consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The shutdown token was cancelled.
    Shutdown,
    /// The hpfeeds client ended (it gave up reconnecting, or was closed).
    ClientStopped,
}

impl Ended {
    /// `Ok` for a shutdown, [`IntakeError::Closed`] when the client ended on its own.
    pub fn into_result(self) -> Result<(), IntakeError> {
        match self {
            Ended::Shutdown => Ok(()),
            Ended::ClientStopped => Err(IntakeError::Closed),
        }
    }
}

/// An hpfeeds client subscribed to a role's channels.
pub struct Subscriber {
    client: Client,
}

impl Subscriber {
    /// Starts the client (it connects, and reconnects, in the background) and subscribes to
    /// every channel in `settings`.
    pub async fn start(settings: &SubscriberSettings) -> Result<Subscriber, IntakeError> {
        let client = Client::start(client_config(settings));
        for channel in &settings.channels {
            client.subscribe(channel).await?;
        }
        Ok(Subscriber { client })
    }

    /// A handle for publishing on the same connection (geoloc publishes its records with it).
    pub fn publisher(&self) -> Publisher {
        self.client.publisher()
    }

    /// The connection's state and counters.
    pub fn status(&self) -> Status {
        self.client.status()
    }

    /// Hands every message to `consumer` until `shutdown` is cancelled or the client ends.
    /// Errors the broker sends are logged and the loop goes on; an error from the consumer
    /// ends the loop at once and is returned.
    pub async fn run<C: Consumer>(
        &mut self,
        consumer: &mut C,
        shutdown: &CancellationToken,
    ) -> Result<Ended, C::Error> {
        let mut report = tokio::time::interval(REPORT_EVERY);
        report.tick().await;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(Ended::Shutdown),
                message = self.client.recv() => match message {
                    Some(Ok(m)) => consumer.consume(m).await?,
                    Some(Err(e)) => tracing::warn!(error = %e, "hpfeeds"),
                    None => return Ok(Ended::ClientStopped),
                },
                _ = report.tick() => consumer.report(&self.client.status()),
            }
        }
    }

    /// Sends what is queued and closes the connection; see [`Client::close`].
    pub async fn close(self) -> Result<(), FeedError> {
        self.client.close().await
    }
}

#[cfg(test)]
mod tests {
    use broker_client::Backoff;

    use super::*;

    #[test]
    fn the_client_config_comes_from_the_role_settings_with_the_project_backoff() {
        let settings = SubscriberSettings {
            host: "broker.example".into(),
            port: 10000,
            ident: "normalizer".into(),
            secret: "s".into(),
            channels: vec!["recce7.events".into()],
            reconnect_max: Duration::from_secs(60),
        };
        let config = client_config(&settings);
        assert_eq!(
            (
                config.host.as_str(),
                config.port,
                config.ident.as_str(),
                config.secret.as_str()
            ),
            ("broker.example", 10000, "normalizer", "s")
        );
        assert_eq!(
            config.reconnect,
            Some(Backoff {
                initial: Duration::from_millis(250),
                max: Duration::from_secs(60),
            })
        );
        assert!(Ended::Shutdown.into_result().is_ok());
        assert!(matches!(
            Ended::ClientStopped.into_result(),
            Err(IntakeError::Closed)
        ));
    }
}
