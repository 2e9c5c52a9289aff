//! `recce7`: one binary, one subcommand per role. `main` parses the command line and
//! dispatches; each role's start lives in its own module.

// The CLI's doc comments are clap's help text (`[IPv6]:PORT`, plain URLs), not rustdoc links.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]

use std::process::ExitCode;

use clap::Parser;

mod check_config;
mod cli;
mod geoip_cli;
mod guide;
mod hpfeeds_cli;
mod logging;
mod registration;
mod roles;
mod standalone;
mod terminal;

use cli::{Cli, Command, RegistrationCommand};

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::CheckConfig { file } => return check_config::run(&file),
        Command::Up {
            database,
            user,
            geoip,
            report,
            token_file,
        } => standalone::up(database, user, geoip, &report, token_file),
        Command::Sensor { config, user } => standalone::sensor(&config, user),
        #[cfg(feature = "server")]
        Command::Reportd { config, token_file } => roles::reportd(&config, token_file),
        #[cfg(feature = "server")]
        Command::Normalizer { config } => roles::normalizer(&config),
        #[cfg(not(feature = "server"))]
        Command::Reportd { .. } => roles::not_built("reportd"),
        #[cfg(not(feature = "server"))]
        Command::Normalizer { .. } => roles::not_built("normalizer"),
        #[cfg(feature = "server")]
        Command::Geoloc { config } => roles::geoloc(&config),
        #[cfg(not(feature = "server"))]
        Command::Geoloc { .. } => roles::not_built("geoloc"),
        Command::Registration(RegistrationCommand::Apply {
            answer,
            status,
            config,
            server_url,
            broker_host,
            broker_port,
        }) => {
            let broker = registration::BrokerOverride {
                host: broker_host,
                port: broker_port,
            };
            registration::apply(&answer, status, &config, &server_url, &broker).map(|a| {
                // The config is written: a closed standard output (`| grep -q`) is no failure.
                terminal::write_stdout(&format!(
                    "registered as {} (ident {}): publishing on {} to {}:{}\n",
                    a.name, a.ident, a.channel, a.host, a.port
                ));
            })
        }
        #[cfg(feature = "server")]
        Command::Registrar { config } => roles::registrar(&config),
        #[cfg(not(feature = "server"))]
        Command::Registrar { .. } => roles::not_built("registrar"),
        Command::Geoip(command) => geoip_cli::run(command),
        Command::Hpfeeds(command) => {
            logging::init("warn");
            roles::runtime().and_then(|rt| rt.block_on(hpfeeds_cli::run(command)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Errors may carry a peer's text (a broker's ERROR message): printed escaped.
            eprintln!(
                "recce7: {}",
                terminal::escape_controls(&format!("{err:#}"), true)
            );
            ExitCode::FAILURE
        }
    }
}
