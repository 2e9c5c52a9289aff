//! Starting a role from its configuration file: load the settings (every problem, or none),
//! set up logging, bind, say where on standard output, run on the runtime until SIGINT or
//! SIGTERM, then print the role's summary on standard error.

use std::fmt::Display;
#[cfg(feature = "server")]
use std::path::Path;

use anyhow::{Context, Result, bail};
use shutdown::Shutdown;

#[cfg(feature = "server")]
use crate::{guide, logging};

/// The runtime every role runs on: two worker threads (a Pi Zero has one core).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")
}

/// Runs `role` on a new runtime until SIGINT or SIGTERM starts its shutdown.
pub fn until_signal<T, E, F, R>(role: F) -> Result<T>
where
    F: FnOnce(Shutdown) -> R,
    R: std::future::Future<Output = Result<T, E>>,
    anyhow::Error: From<E>,
{
    let rt = runtime()?;
    rt.block_on(async move { Ok(role(Shutdown::on_signals()).await?) })
}

/// Every problem, then how many.
#[cfg(feature = "server")]
pub fn problems(problems: roleconfig::ConfigProblems) -> anyhow::Error {
    let n = problems.0.len();
    anyhow::anyhow!(
        "{problems}\n{n} problem{} found",
        if n == 1 { "" } else { "s" }
    )
}

/// A listener bound now (before privileges are dropped, before the start line), served later
/// on the runtime.
pub fn bind(addr: std::net::SocketAddr, what: &str) -> Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("cannot listen on {addr} for {what}"))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Prints `line` on standard output at once (a supervisor or a test reads it); a closed
/// standard output loses the line, never the role.
pub fn say(line: &str) {
    crate::terminal::write_stdout(line);
}

/// Prints a role's summary on standard error, each line after `recce7: `.
pub fn report(summary: &impl Display) {
    for line in summary.to_string().lines() {
        eprintln!("recce7: {line}");
    }
}

/// A server-side role asked of a sensor-only build.
#[cfg(not(feature = "server"))]
pub fn not_built(role: &str) -> Result<()> {
    bail!(
        "{role}: not in this binary, a sensor-only build (built without the `server` \
         feature); the default build and the packages have every role"
    )
}

/// `recce7 reportd`.
#[cfg(feature = "server")]
pub fn reportd(file: &Path, token_file: Option<std::path::PathBuf>) -> Result<()> {
    promtext::mark_process_start();
    let sources = reportd::TokenSources::from_environment(token_file);
    let settings = reportd::load(file, &sources).map_err(problems)?;
    logging::init(&settings.log_level);
    let listener = bind(settings.listen, "the report service")?;
    say(&format!("{}\n", guide::reportd(&settings)));
    let summary = until_signal(|shutdown| reportd::run_on(listener, settings, shutdown))?;
    report(&summary);
    Ok(())
}

/// `recce7 normalizer`.
#[cfg(feature = "server")]
pub fn normalizer(file: &Path) -> Result<()> {
    let settings = normalizer::load(file).map_err(problems)?;
    logging::init(&settings.log_level);
    say(&format!("{}\n", guide::normalizer(&settings)));
    let summary = until_signal(|shutdown| normalizer::run(settings, shutdown))?;
    report(&summary);
    if summary.failed > 0 {
        bail!("some messages were not written (see the log)");
    }
    Ok(())
}

/// `recce7 geoloc`.
#[cfg(feature = "server")]
pub fn geoloc(file: &Path) -> Result<()> {
    let settings = geoloc::load(file).map_err(problems)?;
    logging::init(&settings.log_level);
    say(&format!("{}\n", guide::geoloc(&settings)));
    let summary = until_signal(|shutdown| geoloc::run(settings, shutdown))?;
    report(&summary);
    Ok(())
}

/// `recce7 registrar`.
#[cfg(feature = "server")]
pub fn registrar(file: &Path) -> Result<()> {
    promtext::mark_process_start();
    let sources = registrar::SecretSources::from_environment();
    let settings = registrar::load(file, &sources).map_err(problems)?;
    logging::init(&settings.log_level);
    let registry = registrar::Registry::open(&settings.broker_auth_db)
        .with_context(|| format!("cannot open {}", settings.broker_auth_db.display()))?;
    let listener = bind(settings.listen, "the registrar")?;
    say(&format!("{}\n", registrar::start_line(&settings)));
    let summary =
        until_signal(|shutdown| registrar::run_on(listener, registry, settings, shutdown))?;
    report(&summary);
    Ok(())
}
