//! `recce7`: one binary, one subcommand per role.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use broker_client::{Client, ClientConfig, FeedError};
use clap::{Args, Parser, Subcommand};
use futures_util::StreamExt;

mod terminal;
use terminal::escape_controls;

/// A pluggable honeypot for small hardware, with an MHN-style hpfeeds pipeline.
#[derive(Parser)]
#[command(name = "recce7", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the standalone sensor on the embedded default config (configs/sensor.toml),
    /// recording to a local SQLite file, and print what listens where.
    Up {
        /// The SQLite file to record to (default: the config's, `recce7.sqlite`).
        #[arg(long)]
        database: Option<PathBuf>,
        /// Drop from root to this user after binding the ports.
        #[arg(long)]
        user: Option<String>,
        /// A GeoIP city database (.mmdb) to keep ipInfo current (docs/geoip.md); give it twice
        /// for DB-IP Lite's IPv4 and IPv6 files.
        #[arg(long)]
        geoip: Vec<PathBuf>,
        /// Where the report service (REST API, map, dashboard) listens: IP:PORT, [IPv6]:PORT or
        /// localhost:PORT. Any address that is not loopback needs a bearer token, from
        /// --token-file or the RECCE7_REPORT_TOKEN environment variable.
        #[arg(long, default_value = "127.0.0.1:8880")]
        report: String,
        /// A file holding the report service's bearer token (one line).
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
    },
    /// Run the sensor from a configuration file.
    Sensor {
        /// The sensor configuration (see configs/sensor.toml).
        #[arg(long, short = 'c')]
        config: PathBuf,
        /// Drop from root to this user after binding the ports and opening the database.
        #[arg(long)]
        user: Option<String>,
    },
    /// Run the normalizer: hpfeeds events into the central store (see configs/normalizer.toml).
    Normalizer {
        /// The normalizer configuration.
        #[arg(long, short = 'c')]
        config: PathBuf,
    },
    /// Run the report service: REST API, world map, dashboard, /metrics (see configs/reportd.toml).
    Reportd {
        /// The report service configuration.
        #[arg(long, short = 'c')]
        config: PathBuf,
        /// A file holding the bearer token (one line); wins over RECCE7_REPORT_TOKEN and the
        /// configuration's token.
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
    },
    /// Run geoloc: publish MHN geoloc.events and fill ipInfo (see configs/geoloc.toml).
    Geoloc {
        /// The geoloc configuration.
        #[arg(long, short = 'c')]
        config: PathBuf,
    },
    /// Validate a configuration (sensor, normalizer or geoloc, told apart by its tables) and
    /// report every problem (file, key and reason).
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
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

/// Logs go to standard error; `RECCE7_LOG` (`info`, or per target: `sensor=debug,warn`)
/// overrides the configured level. A plain target filter, not `EnvFilter`: no regex engine in
/// the binary, which keeps the sensor's resident memory small.
fn init_logging(default_level: &str) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    let level = default_level
        .parse::<LevelFilter>()
        .unwrap_or(LevelFilter::INFO);
    let filter = match std::env::var("RECCE7_LOG") {
        Ok(spec) => spec.parse::<Targets>().unwrap_or_else(|e| {
            eprintln!("recce7: ignoring RECCE7_LOG={spec:?}: {e}");
            Targets::new().with_default(level)
        }),
        Err(_) => Targets::new().with_default(level),
    };
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
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

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::CheckConfig { file } => return check_config(&file),
        Command::Up {
            database,
            user,
            geoip,
            report,
            token_file,
        } => up(database, user, geoip, &report, token_file),
        Command::Reportd { config, token_file } => reportd_from_file(&config, token_file),
        Command::Sensor { config, user } => sensor_from_file(&config, user),
        Command::Normalizer { config } => normalizer_from_file(&config),
        Command::Geoloc { config } => geoloc_from_file(&config),
        command => {
            init_logging("warn");
            runtime().and_then(|rt| rt.block_on(run(command)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Errors may carry a peer's text (a broker's ERROR message): printed escaped.
            eprintln!("recce7: {}", escape_controls(&format!("{err:#}"), true));
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::Up { .. }
        | Command::Sensor { .. }
        | Command::CheckConfig { .. }
        | Command::Normalizer { .. }
        | Command::Reportd { .. }
        | Command::Geoloc { .. } => {
            unreachable!("handled in main")
        }
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

/// Every problem, then how many.
fn problems(problems: sensor::ConfigProblems) -> anyhow::Error {
    let n = problems.0.len();
    anyhow::anyhow!(
        "{problems}\n{n} problem{} found",
        if n == 1 { "" } else { "s" }
    )
}

/// The role a configuration file is for, from its top-level tables.
fn role_of(file: &std::path::Path) -> &'static str {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let table = text.parse::<toml::Table>().unwrap_or_default();
    if table.contains_key("normalizer") {
        "normalizer"
    } else if table.contains_key("reportd") {
        "reportd"
    } else if table.contains_key("geoloc") {
        "geoloc"
    } else {
        "sensor"
    }
}

/// `recce7 check-config FILE`: every line it prints starts with `FILE: `, the verdict on
/// standard output, each problem (`FILE: key: reason`) and their count on standard error.
fn check_config(file: &std::path::Path) -> ExitCode {
    let prefix = escape_controls(&file.display().to_string(), false).into_owned();
    match check_config_lines(file) {
        Ok(lines) => {
            for line in lines {
                println!("{prefix}: {line}");
            }
            ExitCode::SUCCESS
        }
        Err(problems) => {
            let n = problems.len();
            for line in problems {
                eprintln!("{prefix}: {}", escape_controls(&line, false));
            }
            eprintln!(
                "{prefix}: {n} problem{} found",
                if n == 1 { "" } else { "s" }
            );
            ExitCode::FAILURE
        }
    }
}

/// A role's problems as `key: reason` lines (the file is the caller's prefix).
fn problem_lines(problems: sensor::ConfigProblems) -> Vec<String> {
    problems
        .0
        .into_iter()
        .map(|p| format!("{}: {}", p.key, p.reason))
        .collect()
}

/// The file-system problems of a configuration that validated, as `key: reason` lines.
fn environment_lines(checks: impl IntoIterator<Item = Option<(String, String)>>) -> Vec<String> {
    checks
        .into_iter()
        .flatten()
        .map(|(key, reason)| format!("{key}: {reason}"))
        .collect()
}

/// [`environment_lines`] as a result: every problem, or none.
fn environment(
    checks: impl IntoIterator<Item = Option<(String, String)>>,
) -> Result<(), Vec<String>> {
    let lines = environment_lines(checks);
    if lines.is_empty() { Ok(()) } else { Err(lines) }
}

/// What `check-config` says of a valid file, or every problem of an invalid one.
fn check_config_lines(file: &std::path::Path) -> Result<Vec<String>, Vec<String>> {
    match role_of(file) {
        "normalizer" => {
            let s = normalizer::load(file).map_err(problem_lines)?;
            environment([roleconfig::check_writable_database(
                "normalizer.database",
                &s.database,
            )])?;
            Ok(vec![format!(
                "ok: normalizer into {}, reading {} from {}:{}",
                s.database.display(),
                s.hpfeeds.channels.join(", "),
                s.hpfeeds.host,
                s.hpfeeds.port
            )])
        }
        "reportd" => {
            let s = reportd::load(file, &reportd::TokenSources::from_environment(None))
                .map_err(problem_lines)?;
            environment([roleconfig::check_readable_database(
                "reportd.database",
                &s.database,
            )])?;
            Ok(vec![format!(
                "ok: reportd serving {} on {}{}",
                s.database.display(),
                s.listen,
                if s.token.is_some() {
                    " (bearer token required)"
                } else {
                    ""
                }
            )])
        }
        "geoloc" => {
            let s = geoloc::config::load(file).map_err(problem_lines)?;
            let mut env = environment_lines([s
                .database
                .as_deref()
                .and_then(|db| roleconfig::check_writable_database("geoloc.database", db))]);
            let db = match geoloc::consumer::open_db(&s) {
                Ok(db) => Some(db),
                Err(e) => {
                    env.push(format!("geoloc.geoip: {e}"));
                    None
                }
            };
            let Some(db) = db.filter(|_| env.is_empty()) else {
                return Err(env);
            };
            let files: Vec<String> = s.geoip.iter().map(|p| p.display().to_string()).collect();
            Ok(vec![format!(
                "ok: geoloc with {} ({}), reading {} from {}:{}, publishing on {}",
                files.join(", "),
                db.database_type(),
                s.hpfeeds.channels.join(", "),
                s.hpfeeds.host,
                s.hpfeeds.port,
                s.publish_channel
            )])
        }
        _ => {
            let valid = sensor::config::load(file).map_err(problem_lines)?;
            environment([roleconfig::check_writable_database(
                "sensor.database",
                &valid.database,
            )])?;
            let mut lines = vec![format!(
                "ok: sensor {:?}, {} enabled instance{}",
                valid.name,
                valid.instances.len(),
                if valid.instances.len() == 1 { "" } else { "s" }
            )];
            for inst in &valid.instances {
                lines.push(format!(
                    "  {:<12} kind={:<8} port={:<5} table={}",
                    inst.name, inst.kind, inst.port, inst.table.name
                ));
            }
            Ok(lines)
        }
    }
}

fn up(
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
    let sources = reportd::TokenSources::from_environment(token_file);
    let report =
        reportd::config::for_up(config.database.clone(), report, &sources).map_err(problems)?;
    run_sensor(config, user, Some(report))
}

fn sensor_from_file(file: &std::path::Path, user: Option<String>) -> Result<()> {
    let config = sensor::config::load(file).map_err(anyhow::Error::from)?;
    run_sensor(config, user, None)
}

/// Binds, opens the store, drops privileges (before any runtime thread exists), then serves
/// until SIGINT or SIGTERM and shuts down gracefully.
/// A listener bound now (before privileges are dropped), served later on the runtime.
fn bind_std(addr: std::net::SocketAddr, what: &str) -> Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("cannot listen on {addr} for {what}"))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// The standalone sensor; with `report` (`recce7 up`), the report service too.
fn run_sensor(
    config: sensor::ValidConfig,
    user: Option<String>,
    report: Option<reportd::ReportdSettings>,
) -> Result<()> {
    let print_guide = report.is_some();
    promtext::mark_process_start();
    init_logging(&config.log_level);
    let database = config.database.clone();
    let locator: Option<Arc<dyn store::IpLocator>> = if config.geoip.is_empty() {
        None
    } else {
        let db = geoloc::GeoDb::open_all(&config.geoip, None)?;
        tracing::info!(geoip = ?config.geoip, database_type = db.database_type(), "looking up sources");
        Some(Arc::new(db))
    };
    let geoip = config.geoip.clone();
    let metrics_listen = config.metrics_listen;
    let sensor = sensor::Sensor::bind_with_locator(config, locator)?;
    for (table, migration) in sensor.migrations() {
        tracing::info!(table, ?migration, "table ready");
    }
    let metrics_listener = match metrics_listen {
        Some(addr) => Some((bind_std(addr, "/metrics")?, addr)),
        None => None,
    };
    let report_listener = match report {
        Some(settings) => Some((bind_std(settings.listen, "the report service")?, settings)),
        None => None,
    };
    if let Some(user) = &user {
        let (uid, gid) = sensor::privilege::drop_to(user)?;
        tracing::info!(user, %uid, %gid, "dropped privileges");
    }
    let db_shown = std::fs::canonicalize(&database).unwrap_or(database);
    let mut guide = format!(
        "recce7 sensor {:?} recording to {}\n",
        sensor.config().name,
        db_shown.display()
    );
    for (name, kind, addr) in sensor.listening() {
        let port = addr.port();
        let hint = match kind {
            "telnet" => format!("try: telnet 127.0.0.1 {port}"),
            "http" => format!("try: curl -i http://127.0.0.1:{port}/"),
            _ => format!("try: nc 127.0.0.1 {port}"),
        };
        guide.push_str(&format!(
            "  {name:<10} {kind:<7} listening on {addr:<16} {hint}\n"
        ));
    }
    if let Some(h) = &sensor.config().hpfeeds {
        guide.push_str(&format!(
            "  publishing every event to hpfeeds {}:{} channel {} as {} (outbox in the database)\n",
            h.host, h.port, h.channel, h.ident
        ));
    }
    if !geoip.is_empty() {
        let files: Vec<String> = geoip.iter().map(|p| p.display().to_string()).collect();
        guide.push_str(&format!(
            "  looking up every source in {} (ipInfo)\n",
            files.join(", ")
        ));
    } else if print_guide {
        guide.push_str(
            "  no GeoIP database: ipInfo keeps addresses without places (--geoip FILE, docs/geoip.md)\n",
        );
    }
    if let Some((_, addr)) = &metrics_listener {
        guide.push_str(&format!(
            "  metrics for Prometheus at http://{addr}/metrics\n"
        ));
    }
    if let Some((_, settings)) = &report_listener {
        let url = &settings.public_url;
        guide.push_str(&format!(
            "dashboard: {url}/   REST API: {url}/v1/analytics   map: {url}/v1/worldmap?days=1\n"
        ));
        if settings.listen.ip().is_unspecified() {
            guide.push_str(&format!(
                "  the report service listens on every address ({}): from elsewhere use this machine's address\n",
                settings.listen
            ));
        }
        if settings.token.is_some() {
            guide.push_str(
                "  bearer token required: the dashboard asks for it once; API clients send Authorization: Bearer <token>\n",
            );
        }
    }
    if print_guide {
        guide.push_str(&format!(
            "what was recorded: sqlite3 {} 'SELECT * FROM sessions ORDER BY startTime DESC LIMIT 20'  (apt install sqlite3)\n\
             stop with Ctrl-C: open sessions get their end records, everything is committed.\n",
            db_shown.display()
        ));
    }
    print!("{guide}");
    let _ = std::io::stdout().flush();
    tracing::info!(listeners = sensor.listening().len(), "sensor started");
    let sensor_metrics = sensor.metrics();
    let report_db = db_shown.clone();
    let summary = run_role(|shutdown| async move {
        // The HTTP services stop after the sensor has committed everything.
        let http_stop = tokio_util::sync::CancellationToken::new();
        let mut services = Vec::new();
        if let Some((listener, _)) = metrics_listener {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let source: Arc<dyn promtext::MetricsSource> = sensor_metrics;
            services.push(tokio::spawn(reportd::api::serve_metrics(
                listener,
                source,
                http_stop.clone(),
            )));
        }
        if let Some((listener, mut settings)) = report_listener {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            settings.database = report_db;
            services.push(tokio::spawn(reportd::api::serve_on(
                listener,
                settings,
                None,
                http_stop.clone(),
            )));
        }
        let summary = sensor.run(shutdown).await;
        http_stop.cancel();
        for service in services {
            match service.await {
                Ok(Err(e)) => tracing::error!(error = %e, "HTTP service"),
                Err(e) => tracing::error!(error = %e, "HTTP service task"),
                Ok(Ok(())) => {}
            }
        }
        Ok(summary?)
    })?;
    tracing::info!(?summary, "sensor stopped");
    eprintln!(
        "recce7: stopped: {} sessions, {} refused by limits, {} events written, {} lost",
        summary.ended,
        summary.refused,
        summary.recorder.events,
        summary.lost + summary.recorder.failed
    );
    if summary.recorder.pruned_rows + summary.recorder.disk_full > 0 {
        eprintln!(
            "recce7: retention pruned {} rows; {} events dropped because the disk was full",
            summary.recorder.pruned_rows, summary.recorder.disk_full
        );
    }
    if let Some(p) = summary.publisher {
        eprintln!(
            "recce7: published {} events ({} marked to be sent again), {} waiting in the outbox for the next start, {} not queued (outbox full)",
            p.sent, p.resent, summary.recorder.outbox_unsent, summary.recorder.outbox_full
        );
    }
    if summary.lost + summary.recorder.failed > 0 {
        bail!("some events were not written (see the log)");
    }
    Ok(())
}

/// Runs `role` on a runtime until SIGINT or SIGTERM.
fn run_role<T, F, R>(role: F) -> Result<T>
where
    F: FnOnce(tokio_util::sync::CancellationToken) -> R,
    R: std::future::Future<Output = Result<T>>,
{
    let rt = runtime()?;
    rt.block_on(async move {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let signals = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            signals.cancel();
        });
        role(shutdown).await
    })
}

fn reportd_from_file(file: &std::path::Path, token_file: Option<PathBuf>) -> Result<()> {
    promtext::mark_process_start();
    let sources = reportd::TokenSources::from_environment(token_file);
    let settings = reportd::load(file, &sources).map_err(problems)?;
    init_logging(&settings.log_level);
    let listener = bind_std(settings.listen, "the report service")?;
    println!(
        "recce7 reportd: serving {} on {}/ (listening on {}; REST API /v1/analytics, map /v1/worldmap, metrics /metrics){}",
        settings.database.display(),
        settings.public_url,
        settings.listen,
        if settings.token.is_some() {
            ", bearer token required"
        } else {
            ""
        }
    );
    let _ = std::io::stdout().flush();
    run_role(|shutdown| async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        Ok(reportd::api::serve_on(listener, settings, None, shutdown).await?)
    })?;
    eprintln!("recce7: reportd stopped");
    Ok(())
}

fn normalizer_from_file(file: &std::path::Path) -> Result<()> {
    let settings = normalizer::load(file).map_err(problems)?;
    init_logging(&settings.log_level);
    println!(
        "recce7 normalizer: reading {} from {}:{} into {}",
        settings.hpfeeds.channels.join(", "),
        settings.hpfeeds.host,
        settings.hpfeeds.port,
        settings.database.display()
    );
    let _ = std::io::stdout().flush();
    let s = run_role(|shutdown| async move { Ok(normalizer::run(settings, shutdown).await?) })?;
    eprintln!(
        "recce7: normalizer stopped: {} received, {} written, {} duplicates, {} quarantined, {} lost",
        s.received, s.written, s.duplicates, s.quarantined, s.failed
    );
    if s.failed > 0 {
        bail!("some messages were not written (see the log)");
    }
    Ok(())
}

fn geoloc_from_file(file: &std::path::Path) -> Result<()> {
    let settings = geoloc::config::load(file).map_err(problems)?;
    init_logging(&settings.log_level);
    println!(
        "recce7 geoloc: reading {} from {}:{}, publishing on {}",
        settings.hpfeeds.channels.join(", "),
        settings.hpfeeds.host,
        settings.hpfeeds.port,
        settings.publish_channel
    );
    let _ = std::io::stdout().flush();
    let s =
        run_role(|shutdown| async move { Ok(geoloc::consumer::run(settings, shutdown).await?) })?;
    eprintln!(
        "recce7: geoloc stopped: {} received, {} published, {} duplicates, {} refused, {} ipInfo sightings written",
        s.received, s.published, s.duplicates, s.refused, s.ip_info_written
    );
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
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
                writeln!(
                    stdout,
                    "{} {} {}",
                    escape(msg.channel.as_bytes()),
                    escape(msg.ident.as_bytes()),
                    escape(&msg.payload)
                )?;
                stdout.flush()?;
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
