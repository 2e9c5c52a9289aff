//! `recce7 registration apply`: what `deploy-scripts/deploy_recce7.sh` does with a registration
//! server's answer. MHN, CHN and `recce7 registrar` answer `POST /api/sensor/` with the sensor's
//! hpfeeds `identifier` and `secret` (and the registrar with the broker's address); this writes
//! them into the sensor's config, in its `[hpfeeds]` table, keeping the rest of the file as it is.
//! The shell script does the HTTP; parsing the answer and editing TOML are done here, where they
//! can be done safely and tested.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;

use crate::terminal::escape_controls;

/// The broker port MHN's deploy scripts assume.
const MHN_BROKER_PORT: u16 = 10000;

/// The channel recce7 sensors publish on.
const DEFAULT_CHANNEL: &str = "recce7.events";

/// The longest identifier, secret, name or host taken from an answer.
const MAX_FIELD: usize = 256;

/// The parts of a registration answer the sensor needs (MHN's fields, and the registrar's
/// `broker_host`/`broker_port`). Other fields are ignored.
#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    uuid: Option<String>,
    #[serde(default)]
    name: Option<String>,
    identifier: String,
    secret: String,
    #[serde(default)]
    publish: Vec<String>,
    #[serde(default)]
    broker_host: Option<String>,
    #[serde(default)]
    broker_port: Option<u16>,
}

/// What was written.
#[derive(Debug, PartialEq, Eq)]
pub struct Applied {
    /// The sensor's name at the server.
    pub name: String,
    /// Its hpfeeds ident.
    pub ident: String,
    /// The broker it publishes to.
    pub host: String,
    /// The broker's port.
    pub port: u16,
    /// The channel it publishes on.
    pub channel: String,
}

/// Where the broker is, when the answer or the command line does not say.
#[derive(Debug, Default)]
pub struct BrokerOverride {
    /// `--broker-host`.
    pub host: Option<String>,
    /// `--broker-port`.
    pub port: Option<u16>,
}

/// Reads the answer (`status` is its HTTP status), and writes the registration into `config`.
pub fn apply(
    answer: &Path,
    status: u16,
    config: &Path,
    server_url: &str,
    broker: &BrokerOverride,
) -> Result<Applied> {
    let body = read_bounded(answer)?;
    let (applied, secret) = registration(&body, status, server_url, broker)?;
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("cannot read the sensor's config {}", config.display()))?;
    let updated = with_hpfeeds(&text, &applied, &secret)
        .with_context(|| format!("cannot update {}", config.display()))?;
    sensor::config::parse(&updated, &config.display().to_string()).map_err(|problems| {
        anyhow!("the updated config would not be valid, so it was left as it was:\n{problems}")
    })?;
    write_atomically(config, &updated)?;
    Ok(applied)
}

fn read_bounded(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read the answer {}", path.display()))?;
    if meta.len() > 1 << 20 {
        bail!(
            "the server's answer is {} bytes: not a registration",
            meta.len()
        );
    }
    let bytes = std::fs::read(path)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Checks the answer and decides the broker's address: the command line first, then the
/// answer, then the server's host and MHN's port. Returns what to write, and the secret.
fn registration(
    body: &str,
    status: u16,
    server_url: &str,
    broker: &BrokerOverride,
) -> Result<(Applied, String)> {
    if !(200..300).contains(&status) {
        let error = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned));
        let shown = match error {
            Some(e) => e,
            None if body.trim().is_empty() => "(no answer)".to_owned(),
            None => format!("{} ...", body.chars().take(200).collect::<String>()),
        };
        bail!(
            "the server refused the registration (HTTP {status}): {}",
            escape_controls(&shown, false)
        );
    }
    let answer: Answer = serde_json::from_str(body)
        .map_err(|e| anyhow!("the server's answer is not a registration: {e}"))?;
    let ident = checked("identifier", &answer.identifier, is_ident_char)?;
    checked("secret", &answer.secret, |c| c.is_ascii_graphic())?;
    let host = match (&broker.host, &answer.broker_host) {
        (Some(h), _) => h.clone(),
        (None, Some(h)) if !h.is_empty() => h.clone(),
        _ => host_of(server_url)?,
    };
    let host = checked("broker host", &host, is_host_char)?.to_owned();
    let port = broker
        .port
        .or(answer.broker_port)
        .unwrap_or(MHN_BROKER_PORT);
    if port == 0 {
        bail!("the broker port must be 1 to 65535");
    }
    let channel = answer
        .publish
        .iter()
        .find(|c| c.as_str() == DEFAULT_CHANNEL)
        .or(answer.publish.first())
        .map_or(DEFAULT_CHANNEL, String::as_str);
    let channel = checked("publish channel", channel, |c| c.is_ascii_graphic())?.to_owned();
    let name = answer
        .name
        .or(answer.uuid)
        .unwrap_or_else(|| ident.to_owned());
    let applied = Applied {
        name: escape_controls(&name, false).into_owned(),
        ident: ident.to_owned(),
        host,
        port,
        channel,
    };
    Ok((applied, answer.secret))
}

fn checked<'a>(what: &str, value: &'a str, ok: impl Fn(char) -> bool) -> Result<&'a str> {
    if value.is_empty() || value.len() > MAX_FIELD || !value.chars().all(ok) {
        bail!(
            "the server's answer has no usable {what}: {:?}",
            escape_controls(value, false)
        );
    }
    Ok(value)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.:@".contains(c)
}

fn is_host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.:".contains(c)
}

/// The host of `http(s)://[user@]host[:port]/...` (an IPv6 address without its brackets).
fn host_of(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| anyhow!("the server URL must start with http:// or https://: {url}"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    if host.is_empty() {
        bail!("the server URL has no host: {url}");
    }
    Ok(host.to_owned())
}

/// `text` with its `[hpfeeds]` table set to the registration: the table's other keys kept, the
/// rest of the file untouched (comments included). A table that is absent is appended.
fn with_hpfeeds(text: &str, applied: &Applied, secret: &str) -> Result<String> {
    let whole: toml::Table = toml::from_str(text).map_err(|e| anyhow!("not TOML: {e}"))?;
    let mut table = match whole.get("hpfeeds") {
        Some(toml::Value::Table(t)) => t.clone(),
        Some(_) => bail!("`hpfeeds` is not a table"),
        None => toml::Table::new(),
    };
    table.insert("host".into(), applied.host.clone().into());
    table.insert("port".into(), i64::from(applied.port).into());
    table.insert("ident".into(), applied.ident.clone().into());
    table.insert("secret".into(), secret.to_owned().into());
    table.insert("channel".into(), applied.channel.clone().into());
    let mut section = String::from(
        "[hpfeeds]\n# Written by deploy_recce7.sh (recce7 registration apply) from the server's answer.\n",
    );
    section.push_str(&toml::to_string(&table).map_err(|e| anyhow!("{e}"))?);

    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let is_header = |l: &str| l.trim_start().starts_with('[');
    let is_hpfeeds = |l: &str| {
        let l = l.trim();
        l.strip_prefix("[hpfeeds]")
            .is_some_and(|rest| rest.trim().is_empty() || rest.trim_start().starts_with('#'))
    };
    let mut out = String::with_capacity(text.len() + section.len());
    match lines.iter().position(|l| is_hpfeeds(l)) {
        Some(start) => {
            let end = lines
                .iter()
                .skip(start + 1)
                .position(|l| is_header(l))
                .map_or(lines.len(), |n| start + 1 + n);
            lines.iter().take(start).for_each(|l| out.push_str(l));
            out.push_str(&section);
            if end < lines.len() {
                out.push('\n');
            }
            lines.iter().skip(end).for_each(|l| out.push_str(l));
        }
        None => {
            out.push_str(text);
            if !text.ends_with('\n') {
                out.push('\n');
            }
            out.push('\n');
            out.push_str(&section);
        }
    }
    Ok(out)
}

/// Replaces `path` with `text` through a temporary file in the same directory, keeping the
/// file's owner and group, and its mode without any access for others (it holds a secret now).
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let meta = std::fs::metadata(path)?;
    let mode = meta.permissions().mode() & 0o660;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.recce7-registration",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("config")
    ));
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    let replaced = (|| -> Result<()> {
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        // Owner and group as before (root:recce7 in the packages), when allowed to.
        let _ = std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid()));
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot replace {}", path.display()))?;
        // The rename itself survives a power cut once the directory is synced.
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    if replaced.is_err() {
        // Nothing half-written is left beside the config.
        let _ = std::fs::remove_file(&tmp);
    }
    replaced
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../configs/sensor.toml");

    fn answer(extra: &str) -> String {
        format!(
            r#"{{"uuid": "7d1c", "name": "pi-01-recce7", "honeypot": "recce7", "created_date": "2026-12-07",
                "ip": "10.0.0.5", "hostname": "pi-01", "identifier": "7d1c-ident", "secret": "s3cr\"et\\x",
                "publish": ["recce7.events"]{extra}}}"#
        )
    }

    #[test]
    fn the_servers_host_and_mhns_port_unless_the_answer_or_the_command_line_say_otherwise() {
        let none = BrokerOverride::default();
        let (a, secret) =
            registration(&answer(""), 200, "https://mhn.example.org/", &none).unwrap();
        assert_eq!((a.host.as_str(), a.port), ("mhn.example.org", 10000));
        assert_eq!(secret, "s3cr\"et\\x");
        assert_eq!(a.channel, "recce7.events");
        let (a, _) = registration(
            &answer(r#", "broker_host": "broker.example.org", "broker_port": 20000"#),
            200,
            "http://[2001:db8::1]:8080/",
            &none,
        )
        .unwrap();
        assert_eq!((a.host.as_str(), a.port), ("broker.example.org", 20000));
        let cli = BrokerOverride {
            host: Some("10.1.1.1".into()),
            port: Some(10001),
        };
        let (a, _) = registration(&answer(""), 200, "http://u:p@x:1/", &cli).unwrap();
        assert_eq!((a.host.as_str(), a.port), ("10.1.1.1", 10001));
        assert_eq!(
            host_of("http://[2001:db8::1]:8080/api").unwrap(),
            "2001:db8::1"
        );
        assert_eq!(host_of("http://user:pw@h.example:80").unwrap(), "h.example");
        assert!(host_of("ftp://h/").is_err());
        assert!(host_of("http:///x").is_err());
    }

    #[test]
    fn a_refusal_shows_the_servers_error_text() {
        let none = BrokerOverride::default();
        let err = registration(
            r#"{"error": "Not authorized to perform this request."}"#,
            401,
            "http://h/",
            &none,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "the server refused the registration (HTTP 401): Not authorized to perform this request."
        );
        let err = registration("<html>\x1b[31mproxy error", 502, "http://h/", &none)
            .unwrap_err()
            .to_string();
        assert!(err.contains("HTTP 502") && !err.contains('\x1b'), "{err}");
        let err = registration("", 200, "http://h/", &none)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a registration"), "{err}");
    }

    #[test]
    fn hostile_answers_are_refused() {
        let none = BrokerOverride::default();
        for bad in [
            r#"{"identifier": "a\nb", "secret": "s"}"#,
            r#"{"identifier": "", "secret": "s"}"#,
            r#"{"identifier": "i", "secret": "with space"}"#,
            r#"{"identifier": "i", "secret": "s", "broker_host": "h;rm -rf /"}"#,
            r#"{"identifier": "i", "secret": "s", "broker_port": 0}"#,
            r#"{"identifier": "i", "secret": "s", "broker_port": 70000}"#,
        ] {
            assert!(registration(bad, 200, "http://h/", &none).is_err(), "{bad}");
        }
        let long = format!(r#"{{"identifier": "{}", "secret": "s"}}"#, "i".repeat(300));
        assert!(registration(&long, 200, "http://h/", &none).is_err());
    }

    fn applied() -> Applied {
        Applied {
            name: "n".into(),
            ident: "ident-1".into(),
            host: "broker.example.org".into(),
            port: 10000,
            channel: "recce7.events".into(),
        }
    }

    #[test]
    fn the_shipped_config_gets_an_hpfeeds_table_and_keeps_everything_else() {
        let out = with_hpfeeds(SHIPPED, &applied(), "a\"b\\c").unwrap();
        assert!(out.starts_with(SHIPPED), "the file is only appended to");
        let valid = sensor::config::parse(&out, "sensor.toml").unwrap();
        let hp = valid.hpfeeds.unwrap();
        assert_eq!((hp.host.as_str(), hp.port), ("broker.example.org", 10000));
        assert_eq!(
            (hp.ident.as_str(), hp.secret.as_str()),
            ("ident-1", "a\"b\\c")
        );
        // Applied again (a second deploy run): replaced, not duplicated.
        let again = with_hpfeeds(&out, &applied(), "other").unwrap();
        assert_eq!(
            again.matches("[hpfeeds]").count(),
            1 + SHIPPED.matches("[hpfeeds]").count()
        );
        let hp = sensor::config::parse(&again, "sensor.toml")
            .unwrap()
            .hpfeeds
            .unwrap();
        assert_eq!(hp.secret, "other");
    }

    #[test]
    fn an_existing_hpfeeds_table_is_replaced_in_place_keeping_its_other_keys() {
        let text = "[sensor]\nname = \"pi\"\n\n[hpfeeds] # old\nhost = \"old\"\nident = \"old\"\nsecret = \"old\"\nkeep_sent_secs = 50\n\n[[plugin]]\nname = \"telnet\"\nkind = \"telnet\"\nport = 2323\ntable = \"telnet\"\n";
        let out = with_hpfeeds(text, &applied(), "new").unwrap();
        assert!(
            out.starts_with("[sensor]\nname = \"pi\"\n\n[hpfeeds]\n"),
            "{out}"
        );
        assert!(out.contains("keep_sent_secs = 50"), "{out}");
        assert!(!out.contains("old"), "{out}");
        assert!(out.ends_with("\n[[plugin]]\nname = \"telnet\"\nkind = \"telnet\"\nport = 2323\ntable = \"telnet\"\n"), "{out}");
        let valid = sensor::config::parse(&out, "s.toml").unwrap();
        assert_eq!(valid.hpfeeds.unwrap().ident, "ident-1");
        assert!(with_hpfeeds("hpfeeds = 1\n", &applied(), "s").is_err());
        assert!(with_hpfeeds("not toml [", &applied(), "s").is_err());
    }

    #[test]
    fn apply_replaces_the_file_atomically_and_closes_it_to_others() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("sensor.toml");
        std::fs::write(&config, SHIPPED).unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
        let answer_file = dir.path().join("answer.json");
        std::fs::write(&answer_file, answer("")).unwrap();
        let a = apply(
            &answer_file,
            200,
            &config,
            "http://mhn.example.org/",
            &BrokerOverride::default(),
        )
        .unwrap();
        assert_eq!(a.ident, "7d1c-ident");
        let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let valid = sensor::config::load(&config).unwrap();
        assert_eq!(valid.hpfeeds.unwrap().host, "mhn.example.org");
        // A refusal leaves the file as it was.
        let before = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &answer_file,
            r#"{"error": "Not authorized to perform this request."}"#,
        )
        .unwrap();
        assert!(
            apply(
                &answer_file,
                401,
                &config,
                "http://h/",
                &BrokerOverride::default()
            )
            .is_err()
        );
        assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 2, "no temporary file is left");
    }
}
