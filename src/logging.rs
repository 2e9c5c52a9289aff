//! Logging set-up: to standard error, every control character escaped, no colours.

use crate::terminal;

/// Logs go to standard error; `RECCE7_LOG` (`info`, or per target: `sensor=debug,warn`)
/// overrides the configured level. A plain target filter, not `EnvFilter`: no regex engine in
/// the binary, which keeps the sensor's resident memory small.
pub fn init(default_level: &str) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let level = default_level
        .parse::<LevelFilter>()
        .unwrap_or(LevelFilter::INFO);
    let filter = match std::env::var("RECCE7_LOG") {
        Ok(spec) => spec.parse::<Targets>().unwrap_or_else(|e| {
            eprintln!("recce7: ignoring RECCE7_LOG={spec:?}: {e}");
            Targets::new().with_default(level)
        }),
        // The signature database's loader reports its counts and overlaps at info; the sensor
        // logs what matters of it itself ("packet capture on", signatures).
        Err(_) => Targets::new()
            .with_default(level)
            .with_target("huginn_net_db", level.min(LevelFilter::WARN)),
    };
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(terminal::SafeStderr)
                // No colours: every control character in a log line is escaped.
                .with_ansi(false),
        )
        .with(filter)
        .init();
}
