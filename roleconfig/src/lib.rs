//! Configuration loading shared by every role (`sensor.toml`, `normalizer.toml`, `geoloc.toml`,
//! ...): TOML into serde structs with defaults, unknown keys reported, and a role's `validate`
//! step whose problems are all reported at once, each as `file: key: reason`.
//!
//! Also the `[hpfeeds]` table every consumer role shares (ARCHITECTURE.md, Configuration).

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The file (or `<built-in default>`).
    pub file: String,
    /// The key, e.g. `plugin[1].port`.
    pub key: String,
    /// Why it is wrong.
    pub reason: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.key, self.reason)
    }
}

/// Every problem found, printable one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigProblems(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// A role's validation result: the valid config, or every problem as `(key, reason)`.
pub type Validated<V> = Result<V, Vec<(String, String)>>;

/// Reads `path` and parses it with [`parse`].
pub fn load<T, V>(
    path: &Path,
    validate: impl FnOnce(&T) -> Validated<V>,
) -> Result<V, ConfigProblems>
where
    T: DeserializeOwned,
{
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigProblems(vec![ConfigProblem {
            file: file.clone(),
            key: "-".into(),
            reason: format!("cannot read: {e}"),
        }])
    })?;
    parse(&text, &file, validate)
}

/// Parses `text` as `T` (unknown keys are problems too) and validates it; `file` names it in
/// problems. Returns every problem found, not just the first.
pub fn parse<T, V>(
    text: &str,
    file: &str,
    validate: impl FnOnce(&T) -> Validated<V>,
) -> Result<V, ConfigProblems>
where
    T: DeserializeOwned,
{
    let problem = |key: String, reason: String| ConfigProblem {
        file: file.to_owned(),
        key,
        reason,
    };
    let de = toml::Deserializer::parse(text)
        .map_err(|e| ConfigProblems(vec![problem("-".into(), one_line(&e.to_string()))]))?;
    let mut unknown = Vec::new();
    let config: T = serde_ignored::deserialize(de, |path| unknown.push(key_of(&path)))
        .map_err(|e| ConfigProblems(vec![problem("-".into(), one_line(&e.to_string()))]))?;
    let mut problems: Vec<ConfigProblem> = unknown
        .into_iter()
        .map(|key| problem(key, "unknown key".into()))
        .collect();
    match validate(&config) {
        Ok(valid) if problems.is_empty() => Ok(valid),
        Ok(_) => Err(ConfigProblems(problems)),
        Err(more) => {
            problems.extend(more.into_iter().map(|(key, reason)| problem(key, reason)));
            Err(ConfigProblems(problems))
        }
    }
}

/// toml's messages span lines (a source excerpt); keep them readable on one line each.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "|")
        .collect::<Vec<_>>()
        .join(" ")
}

/// `plugin[1].options.x` from serde_ignored's path.
fn key_of(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", key_of(parent)),
        Path::Map { parent, key } => {
            let parent = key_of(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => key_of(parent),
    }
}

/// Checks a broker's `host`, `port`, `ident` and `secret` (keys under `prefix`, e.g.
/// `hpfeeds`), pushing a problem for each bad one; returns the port when all are good.
pub fn check_broker(
    prefix: &str,
    host: &str,
    port: i64,
    ident: &str,
    secret: &str,
    problems: &mut Vec<(String, String)>,
) -> Option<u16> {
    let before = problems.len();
    if host.trim().is_empty() {
        problems.push((format!("{prefix}.host"), "must name the broker".into()));
    }
    let valid_port = u16::try_from(port).ok().filter(|p| *p >= 1);
    if valid_port.is_none() {
        problems.push((
            format!("{prefix}.port"),
            format!("{port} is outside 1..65535"),
        ));
    }
    for (key, value) in [("ident", ident), ("secret", secret)] {
        check_name(&format!("{prefix}.{key}"), value, problems);
    }
    if problems.len() == before {
        valid_port
    } else {
        None
    }
}

/// Pushes a problem unless `value` is 1 to 255 bytes (hpfeeds' limit for names).
pub fn check_name(key: &str, value: &str, problems: &mut Vec<(String, String)>) {
    if value.is_empty() || value.len() > 255 {
        problems.push((key.to_owned(), "must be 1 to 255 bytes".into()));
    }
}

/// A key that takes one file or a list of files (`geoip = "a.mmdb"` or `geoip = ["a", "b"]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Paths {
    /// One file.
    One(std::path::PathBuf),
    /// Several files, in order.
    Many(Vec<std::path::PathBuf>),
}

impl Paths {
    /// The files, in order, without empty names.
    pub fn to_vec(&self) -> Vec<std::path::PathBuf> {
        let all = match self {
            Paths::One(p) => vec![p.clone()],
            Paths::Many(v) => v.clone(),
        };
        all.into_iter()
            .filter(|p| !p.as_os_str().is_empty())
            .collect()
    }
}

/// `[hpfeeds]` for a role that subscribes (normalizer, geoloc): the broker, and the channel or
/// channels to read.
#[derive(Debug, Clone, Deserialize)]
pub struct SubscriberSection {
    /// Broker host (MHN: the server's name).
    pub host: String,
    /// Broker port (MHN: 10000).
    #[serde(default = "default_port")]
    pub port: i64,
    /// Authkey ident.
    pub ident: String,
    /// Authkey secret.
    pub secret: String,
    /// One channel to read (the shape the sensor uses); merged with `channels`.
    pub channel: Option<String>,
    /// Channels to read.
    pub channels: Option<Vec<String>>,
    /// The longest wait between reconnection attempts (the wait doubles from 0.25 s up to it).
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_secs: u64,
}

fn default_port() -> i64 {
    10000
}

fn default_reconnect_max() -> u64 {
    30
}

/// A validated [`SubscriberSection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberSettings {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Ident.
    pub ident: String,
    /// Secret.
    pub secret: String,
    /// Channels, without duplicates, in file order.
    pub channels: Vec<String>,
    /// Longest wait between reconnection attempts.
    pub reconnect_max: Duration,
}

impl SubscriberSection {
    /// Checks the table (keys under `hpfeeds.`); `default_channels` apply when neither
    /// `channel` nor `channels` is given.
    pub fn validate(&self, default_channels: &[&str]) -> Validated<SubscriberSettings> {
        let mut problems = Vec::new();
        let port = check_broker(
            "hpfeeds",
            &self.host,
            self.port,
            &self.ident,
            &self.secret,
            &mut problems,
        );
        let mut channels: Vec<String> = Vec::new();
        let given = self.channel.iter().chain(self.channels.iter().flatten());
        for (i, channel) in given.enumerate() {
            check_name(&format!("hpfeeds.channels[{i}]"), channel, &mut problems);
            if !channels.contains(channel) {
                channels.push(channel.clone());
            }
        }
        if self.channel.is_none() && self.channels.is_none() {
            channels = default_channels.iter().map(|c| (*c).to_owned()).collect();
        } else if channels.is_empty() {
            problems.push((
                "hpfeeds.channels".into(),
                "must list at least one channel".into(),
            ));
        }
        if self.reconnect_max_secs == 0 || self.reconnect_max_secs > 3600 {
            problems.push((
                "hpfeeds.reconnect_max_secs".into(),
                "must be 1 to 3600".into(),
            ));
        }
        match port {
            Some(port) if problems.is_empty() => Ok(SubscriberSettings {
                host: self.host.clone(),
                port,
                ident: self.ident.clone(),
                secret: self.secret.clone(),
                channels,
                reconnect_max: Duration::from_secs(self.reconnect_max_secs),
            }),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        hpfeeds: SubscriberSection,
    }

    fn check(text: &str) -> Result<SubscriberSettings, ConfigProblems> {
        parse(text, "t.toml", |f: &File| {
            f.hpfeeds.validate(&["recce7.events"])
        })
    }

    #[test]
    fn channels_default_merge_and_dedupe() {
        let base = "[hpfeeds]\nhost = \"h\"\nident = \"i\"\nsecret = \"s\"\n";
        let valid = check(base).unwrap();
        assert_eq!(valid.channels, ["recce7.events"]);
        assert_eq!(valid.port, 10000);
        let valid = check(&format!(
            "{base}channel = \"a\"\nchannels = [\"b\", \"a\"]\n"
        ))
        .unwrap();
        assert_eq!(valid.channels, ["a", "b"]);
    }

    #[test]
    fn every_problem_is_reported_with_file_and_key() {
        let text = "[hpfeeds]\nhost = \"\"\nport = 70000\nident = \"\"\nsecret = \"s\"\nchannels = []\nsurprise = 1\n";
        let problems = check(text).unwrap_err().to_string();
        let lines: Vec<&str> = problems.lines().collect();
        assert_eq!(
            lines,
            [
                "t.toml: hpfeeds.surprise: unknown key",
                "t.toml: hpfeeds.host: must name the broker",
                "t.toml: hpfeeds.port: 70000 is outside 1..65535",
                "t.toml: hpfeeds.ident: must be 1 to 255 bytes",
                "t.toml: hpfeeds.channels: must list at least one channel",
            ]
        );
    }

    #[test]
    fn a_syntax_error_is_one_line_with_the_file() {
        let problems = check("[hpfeeds\n").unwrap_err();
        assert_eq!(problems.0.len(), 1);
        assert!(
            problems.to_string().starts_with("t.toml: -: "),
            "{problems}"
        );
        assert!(!problems.to_string().contains('\n'));
    }
}
