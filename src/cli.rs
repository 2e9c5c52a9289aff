//! The command line: one subcommand per role (`up`, `sensor`, `normalizer`, `reportd`,
//! `geoloc`, `registrar`), `check-config` and the hpfeeds tools.

use std::path::PathBuf;

use broker_client::ClientConfig;
use clap::{Args, Parser, Subcommand};

/// A pluggable honeypot for small hardware, with an MHN-style hpfeeds pipeline.
#[derive(Parser)]
#[command(
    name = "recce7",
    version,
    about = "A pluggable honeypot for small hardware: one binary, one subcommand per role."
)]
pub struct Cli {
    // What to run (a plain comment: clap would show a doc comment).
    #[command(subcommand)]
    pub command: Command,
}

// One subcommand per role, and the tools.
#[derive(Subcommand)]
pub enum Command {
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
    /// Run the sensor registrar: MHN's registration API (POST /api/sensor/) writing each new
    /// sensor's key into the hpfeeds3 broker's SQLite auth store (see configs/registrar.toml).
    /// The deploy key and admin token come from the file or the RECCE7_DEPLOY_KEY and
    /// RECCE7_REGISTRAR_TOKEN environment variables.
    Registrar {
        /// The registrar configuration.
        #[arg(long, short = 'c')]
        config: PathBuf,
    },
    /// Validate a configuration (sensor, normalizer, geoloc, reportd or registrar, told apart
    /// by its tables) and
    /// report every problem (file, key and reason).
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// Keep the GeoIP database current: download DB-IP City Lite (docs/geoip.md).
    #[command(subcommand)]
    Geoip(GeoipCommand),
    /// Check an hpfeeds broker by hand: publish a message, or print what arrives on channels.
    #[command(subcommand)]
    Hpfeeds(HpfeedsCommand),
    /// Registration with an MHN, CHN or recce7 registrar server (used by deploy_recce7.sh).
    #[command(subcommand)]
    Registration(RegistrationCommand),
}

// What deploy_recce7.sh asks of the binary.
#[derive(Subcommand)]
pub enum RegistrationCommand {
    /// Write the hpfeeds ident, secret and broker of a registration answer (POST /api/sensor/)
    /// into the sensor's config, or fail with the server's error text.
    Apply {
        /// The answer's body, as saved by curl.
        #[arg(long, value_name = "FILE")]
        answer: PathBuf,
        /// The answer's HTTP status.
        #[arg(long)]
        status: u16,
        /// The sensor's config, updated in place (atomically).
        #[arg(long, short = 'c')]
        config: PathBuf,
        /// The server registered with: its host is the broker's when nothing else says.
        #[arg(long, value_name = "URL")]
        server_url: String,
        /// The broker's host, over the answer's and the server's.
        #[arg(long)]
        broker_host: Option<String>,
        /// The broker's port, over the answer's (default 10000, as MHN's scripts assume).
        #[arg(long)]
        broker_port: Option<u16>,
    },
}

// The GeoIP database tools.
#[derive(Subcommand)]
pub enum GeoipCommand {
    /// Download the current DB-IP City Lite database (CC BY 4.0: "IP Geolocation by DB-IP",
    /// https://db-ip.com) with curl, check it, and swap it in beside the old one; the old file
    /// stays on any failure. Running roles pick the new file up without a restart.
    Update {
        /// The folder the database goes into, as dbip-city-lite.mmdb (created if missing).
        #[arg(long, default_value = geoloc::update::DEFAULT_DIR)]
        dir: std::path::PathBuf,
        /// Where to download from: a URL, or a template in which {YYYY} and {MM} are this
        /// month (then the month before, early in a month); for mirrors.
        #[arg(long, default_value = geoloc::update::DEFAULT_URL)]
        url: String,
        /// Refuse a database that unpacks to more than this many MiB.
        #[arg(long, default_value_t = geoloc::update::MAX_UNPACKED_BYTES >> 20,
              value_parser = clap::value_parser!(u64).range(1..=65536))]
        max_mib: u64,
        /// Download only when the installed file is older than this many days (or missing);
        /// the timer's runs after a reboot use it.
        #[arg(long, value_name = "DAYS")]
        if_older_than_days: Option<u64>,
    },
}

// The hpfeeds tools.
#[derive(Subcommand)]
pub enum HpfeedsCommand {
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
pub struct BrokerArgs {
    /// Broker host.
    #[arg(long, env = "HPF_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Broker port (MHN: 10000).
    #[arg(long, short = 'p', env = "HPF_PORT", default_value_t = 10000)]
    pub port: u16,
    /// Authkey ident.
    #[arg(long, short = 'i', env = "HPF_IDENT")]
    pub ident: String,
    /// Authkey secret.
    #[arg(long, short = 's', env = "HPF_SECRET", hide_env_values = true)]
    pub secret: String,
}

impl BrokerArgs {
    /// The client configuration for these arguments.
    pub fn config(&self) -> ClientConfig {
        ClientConfig::new(&self.host, self.port, &self.ident, &self.secret)
    }
}
