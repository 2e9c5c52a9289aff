//! The standalone sensor (`recce7 sensor`, `recce7 up`): binds its ports, its `/metrics` and,
//! for `up`, the report service, all before dropping privileges; prints where everything is;
//! then serves until SIGINT or SIGTERM. The HTTP services stop last
//! ([`Phase::StopServices`]), after the sensor has committed everything.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, bail};
use shutdown::Phase;

use crate::guide::{ReportShown, SensorGuide};
use crate::roles::{self, bind, say, until_signal};

/// `recce7 up`: the embedded default configuration, with the report service beside it.
pub fn up(
    database: Option<PathBuf>,
    user: Option<String>,
    geoip: Vec<PathBuf>,
    report: &str,
    token_file: Option<PathBuf>,
) -> Result<()> {
    let mut config = sensor::config::default_config().map_err(anyhow::Error::from)?;
    if let Some(db) = database {
        config.database = db;
    }
    if !geoip.is_empty() {
        config.geoip = geoip;
    }
    // The report service's settings first, by the same rules as `recce7 reportd`: a refusal
    // comes before anything is bound or created.
    #[cfg(feature = "server")]
    let report = {
        let sources = reportd::TokenSources::from_environment(token_file);
        Some(
            reportd::config::for_up(config.database.clone(), report, &sources)
                .map_err(roles::problems)?,
        )
    };
    // A sensor-only build has no report service: `up` runs the sensor, and its guide says so.
    #[cfg(not(feature = "server"))]
    let report = {
        let _ = (report, token_file);
        None
    };
    run(config, None, user, report, true)
}

/// `recce7 sensor --config FILE`.
pub fn sensor(file: &Path, user: Option<String>) -> Result<()> {
    let config = sensor::load(file).map_err(anyhow::Error::from)?;
    run(config, Some(file.to_path_buf()), user, None, false)
}

/// Reloads `file` into the running sensor on every SIGHUP (`systemctl reload`) until the sensor
/// stops accepting: an invalid file is refused with every problem and the running configuration
/// is kept; a valid one changes the plug-in instances ([`sensor::reload`]). Without a file (the
/// built-in configuration of `recce7 up`) a SIGHUP is only logged, never fatal.
async fn reload_on_hangup(
    hangups: std::io::Result<tokio::signal::unix::Signal>,
    file: Option<PathBuf>,
    control: sensor::SensorControl,
    stop: tokio_util::sync::CancellationToken,
) {
    let mut hangups = match hangups {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP: reloading needs a restart");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            got = hangups.recv() => if got.is_none() { return },
        }
        let Some(file) = &file else {
            tracing::info!("SIGHUP: recce7 up runs the built-in configuration; nothing to reload");
            continue;
        };
        let shown = file.display();
        match sensor::load(file) {
            Err(problems) => {
                for problem in &problems.0 {
                    tracing::error!(%problem, "reload refused");
                }
                control.refused();
                tracing::error!(
                    file = %shown,
                    problems = problems.0.len(),
                    "reload refused: the file has problems; the running configuration is kept"
                );
            }
            Ok(config) => match control.reload(config).await {
                Ok(report) => tracing::info!(file = %shown, "{report}"),
                Err(e) => {
                    tracing::error!(file = %shown, error = %e, "reload refused; the running configuration is kept")
                }
            },
        }
    }
}

/// `recce7 up`'s report service: its settings in a full build; none in a sensor-only one.
#[cfg(feature = "server")]
type ReportSettings = reportd::ReportdSettings;
/// `recce7 up`'s report service: none in a sensor-only build.
#[cfg(not(feature = "server"))]
type ReportSettings = std::convert::Infallible;

/// Binds, opens the store, drops privileges (before any runtime thread exists), then serves
/// until SIGINT or SIGTERM and shuts down gracefully; with `report` (`recce7 up`), the report
/// service too.
fn run(
    config: sensor::ValidConfig,
    config_file: Option<PathBuf>,
    user: Option<String>,
    report: Option<ReportSettings>,
    full_guide: bool,
) -> Result<()> {
    promtext::mark_process_start();
    crate::logging::init(&config.log_level);
    let database = config.database.clone();
    let locator: Option<Arc<dyn store::IpLocator>> = if config.geoip.is_empty() {
        None
    } else {
        // Memory-mapped and reopened when `recce7 geoip update` replaces it; waited for when
        // the packages' path has no file yet.
        let check_every = std::time::Duration::from_secs(config.geoip_check_secs);
        let db = geoloc::LiveGeoDb::open(&config.geoip, None, check_every)?;
        if let Some(open) = db.current() {
            tracing::info!(geoip = ?config.geoip, database_type = open.database_type(), "looking up sources");
        }
        Some(Arc::new(db))
    };
    let geoip = config.geoip.clone();
    let metrics_listen = config.metrics_listen;
    let sensor = sensor::Sensor::bind_with_locator(config, locator)?;
    for (table, migration) in sensor.migrations() {
        tracing::info!(table, ?migration, "table ready");
    }
    let metrics_listener = match metrics_listen {
        Some(addr) => Some((bind(addr, "/metrics")?, addr)),
        None => None,
    };
    #[cfg(feature = "server")]
    let report_listener = match report {
        Some(settings) => Some((bind(settings.listen, "the report service")?, settings)),
        None => None,
    };
    #[cfg(not(feature = "server"))]
    let report_listener: Option<((), ReportSettings)> = report.map(|never| match never {});
    if let Some(user) = &user {
        let (uid, gid) = sensor::privilege::drop_to(user)?;
        tracing::info!(user, %uid, %gid, "dropped privileges");
    }
    let db_shown = std::fs::canonicalize(&database).unwrap_or(database);
    let guide = SensorGuide {
        sensor: &sensor,
        database: &db_shown,
        geoip: &geoip,
        metrics: metrics_listener.as_ref().map(|(_, addr)| *addr),
        report: report_listener
            .as_ref()
            .map(|(_, settings)| shown(settings)),
        full: full_guide,
    }
    .text();
    let listeners = sensor.listening().len();
    let sensor_metrics = sensor.metrics();
    let summary = until_signal(|shutdown| async move {
        // SIGHUP is handled before the guide says the sensor is up, so that a reload asked for
        // as soon as it is can never end the process (SIGHUP's default action).
        let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        say(&guide);
        tracing::info!(listeners, "sensor started");
        // `/metrics` and `up`'s report service, each ending with its error as text.
        let mut services: Vec<tokio::task::JoinHandle<Result<(), String>>> = Vec::new();
        if let Some((listener, _)) = metrics_listener {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let source: Arc<dyn promtext::MetricsSource> = sensor_metrics;
            let stop = shutdown.token(Phase::StopServices);
            services.push(tokio::spawn(async move {
                sensor::metrics_endpoint::serve_metrics(listener, source, stop)
                    .await
                    .map_err(|e| format!("metrics: {e}"))
            }));
        }
        #[cfg(feature = "server")]
        if let Some((listener, mut settings)) = report_listener {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            settings.database = db_shown;
            let stop = shutdown.token(Phase::StopServices);
            services.push(tokio::spawn(async move {
                reportd::api::serve_on(listener, settings, None, stop)
                    .await
                    .map_err(|e| format!("report service: {e}"))
            }));
        }
        tokio::spawn(reload_on_hangup(
            hangups,
            config_file,
            sensor.control(),
            shutdown.token(Phase::StopAccepting),
        ));
        let summary = sensor.run(shutdown.clone()).await;
        shutdown.enter(Phase::StopServices);
        for service in services {
            match service.await {
                Ok(Err(e)) => tracing::error!(error = %e, "HTTP service"),
                Err(e) => tracing::error!(error = %e, "HTTP service task"),
                Ok(Ok(())) => {}
            }
        }
        anyhow::Ok(summary?)
    })?;
    tracing::info!(?summary, "sensor stopped");
    roles::report(&summary);
    if summary.lost_events() > 0 {
        bail!("some events were not written (see the log)");
    }
    Ok(())
}

/// What the guide says of the report service.
#[cfg(feature = "server")]
fn shown(settings: &ReportSettings) -> ReportShown {
    ReportShown {
        public_url: settings.public_url.clone(),
        listen: settings.listen,
        token: settings.token.is_some(),
    }
}

/// A sensor-only build has no report service to show.
#[cfg(not(feature = "server"))]
fn shown(never: &ReportSettings) -> ReportShown {
    match *never {}
}
