//! `recce7 check-config FILE`: tells the role from the file's tables, validates it as that role
//! would at start-up (every problem, as `FILE: key: reason`), then checks the file system
//! (databases, GeoIP files) without starting anything.

use std::path::Path;
use std::process::ExitCode;

use crate::terminal::escape_controls;

/// The role a configuration file is for, from its top-level tables.
fn role_of(file: &Path) -> &'static str {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let table = text.parse::<toml::Table>().unwrap_or_default();
    if table.contains_key("normalizer") {
        "normalizer"
    } else if table.contains_key("reportd") {
        "reportd"
    } else if table.contains_key("geoloc") {
        "geoloc"
    } else if table.contains_key("registrar") {
        "registrar"
    } else {
        "sensor"
    }
}

/// `recce7 check-config FILE`: every line it prints starts with `FILE: `, the verdict on
/// standard output, each problem (`FILE: key: reason`) and their count on standard error.
pub fn run(file: &Path) -> ExitCode {
    let prefix = escape_controls(&file.display().to_string(), false).into_owned();
    match check_config_lines(file) {
        Ok(lines) => {
            for line in lines {
                // Nobody reads any more (`| head -n 1`): the verdict stands all the same.
                if !crate::terminal::write_stdout(&format!("{prefix}: {line}\n")) {
                    break;
                }
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
fn problem_lines(problems: roleconfig::ConfigProblems) -> Vec<String> {
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

/// What the GeoIP files are: the city database's type, or that a file is not there yet (its
/// directory is: `recce7 geoip update` fills it, and the roles pick it up when it appears); an
/// error for a file that does not open or whose directory is missing.
fn geoip_kind(cities: &[std::path::PathBuf], asn: Option<&Path>) -> Result<String, String> {
    let live = geoloc::LiveGeoDb::open(cities, asn, std::time::Duration::from_secs(60))
        .map_err(|e| e.to_string())?;
    Ok(match live.current() {
        Some(db) => db.database_type().to_owned(),
        None => format!(
            "not there yet, waited for: recce7 geoip update downloads {}",
            geoloc::update::FILE_NAME
        ),
    })
}

/// What `check-config` says of a valid file, or every problem of an invalid one.
fn check_config_lines(file: &Path) -> Result<Vec<String>, Vec<String>> {
    match role_of(file) {
        #[cfg(feature = "server")]
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
        #[cfg(feature = "server")]
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
        #[cfg(feature = "server")]
        "registrar" => {
            let s = registrar::load(file, &registrar::SecretSources::from_environment())
                .map_err(problem_lines)?;
            environment([roleconfig::check_writable_database(
                "registrar.broker_auth_db",
                &s.broker_auth_db,
            )])?;
            Ok(vec![format!(
                "ok: registrar on {}, keys into {}, {} honeypot type{}{}",
                s.listen,
                s.broker_auth_db.display(),
                s.honeypot_channels.len(),
                if s.honeypot_channels.len() == 1 {
                    ""
                } else {
                    "s"
                },
                if s.admin_token.is_some() {
                    " (admin token set)"
                } else {
                    ""
                }
            )])
        }
        #[cfg(feature = "server")]
        "geoloc" => {
            let s = geoloc::load(file).map_err(problem_lines)?;
            let mut env = environment_lines([s
                .database
                .as_deref()
                .and_then(|db| roleconfig::check_writable_database("geoloc.database", db))]);
            let kind = match geoip_kind(&s.geoip, s.geoip_asn.as_deref()) {
                Ok(kind) => Some(kind),
                Err(e) => {
                    env.push(format!("geoloc.geoip: {e}"));
                    None
                }
            };
            let Some(kind) = kind.filter(|_| env.is_empty()) else {
                return Err(env);
            };
            let files: Vec<String> = s.geoip.iter().map(|p| p.display().to_string()).collect();
            Ok(vec![format!(
                "ok: geoloc with {} ({}), reading {} from {}:{}, publishing on {}",
                files.join(", "),
                kind,
                s.hpfeeds.channels.join(", "),
                s.hpfeeds.host,
                s.hpfeeds.port,
                s.publish_channel
            )])
        }
        #[cfg(not(feature = "server"))]
        role @ ("normalizer" | "reportd" | "registrar" | "geoloc") => Err(vec![format!(
            "a {role} configuration: this binary is a sensor-only build (built without the `server` feature) and cannot check it"
        )]),
        _ => {
            let valid = sensor::load(file).map_err(problem_lines)?;
            let geoip = (!valid.geoip.is_empty()).then(|| geoip_kind(&valid.geoip, None));
            environment([
                roleconfig::check_writable_database("sensor.database", &valid.database),
                match &geoip {
                    Some(Err(e)) => Some(("sensor.geoip".into(), e.clone())),
                    _ => None,
                },
            ])?;
            let mut lines = vec![format!(
                "ok: sensor {:?}, {} enabled instance{}",
                valid.name,
                valid.instances.len(),
                if valid.instances.len() == 1 { "" } else { "s" }
            )];
            if let Some(Ok(kind)) = geoip {
                let files: Vec<String> = valid
                    .geoip
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                lines.push(format!("  geoip {} ({kind})", files.join(", ")));
            }
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
