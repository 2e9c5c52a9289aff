//! Configuration loading shared by every role (`sensor.toml`, `normalizer.toml`, `geoloc.toml`,
//! ...): TOML into serde structs with defaults, unknown keys reported, and a role's `validate`
//! step whose problems are all reported at once, each as `file: key: reason`.
//!
//! Also the `[hpfeeds]` table every consumer role shares (ARCHITECTURE.md, Configuration).

mod error;

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

pub use error::{ConfigProblem, ConfigProblems};

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
/// problems. Returns every problem found, not just the first: a value of the wrong type is
/// reported with its key path (`plugin[0].port: expected an integer, found the string "2323"`)
/// and replaced by a placeholder of the right type, so that the rest of the file is still read
/// and validated; problems the placeholder itself would cause are not reported.
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
    let mut root: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        ConfigProblems(vec![problem(
            syntax_location(text, e.span()),
            one_line(e.message()),
        )])
    })?;
    let mut problems = Vec::new();
    // Keys whose value was replaced: later problems at or under them are not reported.
    let mut replaced: Vec<String> = Vec::new();
    let mut attempts: Vec<(String, u32)> = Vec::new();
    let (config, unknown) = loop {
        let mut unknown = Vec::new();
        let value = toml::Value::Table(root.clone());
        let mut note_unknown = |path: serde_ignored::Path<'_>| unknown.push(key_of(&path));
        let ignored = serde_ignored::Deserializer::new(value, &mut note_unknown);
        let err = match serde_path_to_error::deserialize::<_, T>(ignored) {
            Ok(config) => break (Some(config), unknown),
            Err(err) => err,
        };
        let segments: Vec<Segment> = err.path().iter().map(Segment::from).collect();
        let message = err.inner().message().trim().to_owned();
        let (segments, fix) = match message.strip_prefix("missing field `") {
            Some(rest) => {
                let name = rest.trim_end_matches('`').to_owned();
                let mut at = segments;
                at.push(Segment::Key(name));
                (at, Fix::Insert)
            }
            None => (segments, Fix::Replace(placeholder_for(&message))),
        };
        let key = key_path(&segments);
        let tries = match attempts.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                attempts.push((key.clone(), 1));
                1
            }
        };
        if !under_any(&key, &replaced) {
            let line = line_of(text, &segments);
            let reason = match line {
                Some(line) => format!("{} (line {line})", friendly(&message)),
                None => friendly(&message),
            };
            problems.push((line.unwrap_or(usize::MAX), problem(key.clone(), reason)));
        }
        // A placeholder that does not take (or a file with hundreds of bad values): stop here
        // with what was found; validation needs a complete file.
        if tries > 3 || attempts.len() > 64 || !fix.apply(&mut root, &segments) {
            break (None, Vec::new());
        }
        replaced.push(key);
    };
    // In the file's order.
    problems.sort_by_key(|(line, _)| *line);
    let mut all: Vec<ConfigProblem> = problems.into_iter().map(|(_, p)| p).collect();
    all.extend(
        unknown
            .into_iter()
            .filter(|key| !under_any(key, &replaced))
            .map(|key| problem(key, "unknown key".into())),
    );
    let Some(config) = config else {
        return Err(ConfigProblems(all));
    };
    match validate(&config) {
        Ok(valid) if all.is_empty() => Ok(valid),
        Ok(_) => Err(ConfigProblems(all)),
        Err(more) => {
            all.extend(
                more.into_iter()
                    .filter(|(key, _)| !under_any(key, &replaced))
                    .map(|(key, reason)| {
                        // The line of the key when the file has it (a missing key: its table's).
                        let reason = match line_of(text, &parse_key_path(&key)) {
                            Some(line) if !reason.contains("(line ") => {
                                format!("{reason} (line {line})")
                            }
                            _ => reason,
                        };
                        problem(key, reason)
                    }),
            );
            if all.is_empty() {
                // Every problem came from a placeholder: cannot happen without an earlier one.
                all.push(problem("-".into(), "invalid configuration".into()));
            }
            Err(ConfigProblems(all))
        }
    }
}

/// `line 3, column 9` for a syntax error's position.
fn syntax_location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(at) = span.map(|s| s.start.min(text.len())) else {
        return "-".into();
    };
    let at = (0..=at)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

/// The line of the value at `path` in `text` (of its nearest table when the key is missing).
fn line_of(text: &str, path: &[Segment]) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let doc = DeTable::parse(text).ok()?;
    let mut at = doc.span().start;
    let mut value: Option<&DeValue<'_>> = None;
    let mut table = Some(doc.get_ref());
    let mut matched = false;
    for step in path {
        let found = match (step, table, value) {
            (Segment::Key(k), Some(t), _) => {
                t.iter().find(|(key, _)| key.get_ref() == k).map(|(_, v)| v)
            }
            (Segment::Index(i), _, Some(DeValue::Array(a))) => a.get(*i),
            _ => None,
        };
        let Some(found) = found else { break };
        matched = true;
        at = found.span().start;
        value = Some(found.get_ref());
        table = match found.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        };
    }
    if !matched {
        // A key missing at the top level: no line to point at.
        return None;
    }
    let at = (0..=at.min(text.len()))
        .rev()
        .find(|i| text.is_char_boundary(*i))?;
    Some(text[..at].matches('\n').count() + 1)
}

/// Whether `key` is `parent` or lies under one of `parents`.
fn under_any(key: &str, parents: &[String]) -> bool {
    parents.iter().any(|p| {
        key == p
            || key
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    })
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl From<&serde_path_to_error::Segment> for Segment {
    fn from(s: &serde_path_to_error::Segment) -> Segment {
        match s {
            serde_path_to_error::Segment::Seq { index } => Segment::Index(*index),
            other => Segment::Key(other.to_string()),
        }
    }
}

/// `plugin[0].port`.
fn key_path(segments: &[Segment]) -> String {
    let mut out = String::new();
    for s in segments {
        match s {
            Segment::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The segments of a key path as [`key_path`] writes it (`plugin[0].options.states.a[2]`).
fn parse_key_path(key: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    for part in key.split('.') {
        let (name, mut rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        if !name.is_empty() {
            segments.push(Segment::Key(name.to_owned()));
        }
        while let Some((index, after)) = rest.split_once(']') {
            match index.parse() {
                Ok(i) => segments.push(Segment::Index(i)),
                Err(_) => return segments,
            }
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    segments
}

/// How a bad value is made good enough to read the rest of the file.
enum Fix {
    /// Put a value of the expected type there (or remove the key when the type is unknown).
    Replace(Option<toml::Value>),
    /// The key is missing: put an empty string there (a wrong type is fixed on the next pass).
    Insert,
}

impl Fix {
    /// Applies the fix at `path`; false when the path is not in the document.
    fn apply(self, root: &mut toml::Table, path: &[Segment]) -> bool {
        let Some((last, parents)) = path.split_last() else {
            return false;
        };
        let mut table = Some(&mut *root);
        let mut array: Option<&mut Vec<toml::Value>> = None;
        for step in parents {
            let next = match (step, table.take(), array.take()) {
                (Segment::Key(k), Some(t), _) => t.get_mut(k),
                (Segment::Index(i), _, Some(a)) => a.get_mut(*i),
                _ => None,
            };
            match next {
                Some(toml::Value::Table(t)) => table = Some(t),
                Some(toml::Value::Array(a)) => array = Some(a),
                _ => return false,
            }
        }
        let value = match self {
            Fix::Replace(v) => v,
            Fix::Insert => Some(toml::Value::String(String::new())),
        };
        match (last, table, array, value) {
            (Segment::Key(k), Some(t), _, Some(v)) => {
                t.insert(k.clone(), v);
                true
            }
            (Segment::Key(k), Some(t), _, None) => t.remove(k).is_some(),
            (Segment::Index(i), _, Some(a), Some(v)) if *i < a.len() => {
                a[*i] = v;
                true
            }
            (Segment::Index(i), _, Some(a), None) if *i < a.len() => {
                a.remove(*i);
                true
            }
            _ => false,
        }
    }
}

/// The `expected ...` part of a serde message.
fn expected_of(message: &str) -> Option<&str> {
    message.rsplit_once(", expected ").map(|(_, e)| e.trim())
}

/// A value of the type a serde message expected, if it says one.
fn placeholder_for(message: &str) -> Option<toml::Value> {
    let expected = expected_of(message)?;
    let integer = [
        "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "usize", "isize",
    ];
    Some(if integer.contains(&expected) {
        toml::Value::Integer(0)
    } else if expected == "f32" || expected == "f64" {
        toml::Value::Float(0.0)
    } else if expected.ends_with("string") || expected == "a character" {
        toml::Value::String(String::new())
    } else if expected == "a boolean" {
        toml::Value::Boolean(false)
    } else if expected.starts_with("a sequence") {
        toml::Value::Array(Vec::new())
    } else if expected.starts_with("struct ") || expected == "a map" {
        toml::Value::Table(toml::Table::new())
    } else {
        return None;
    })
}

/// serde's `invalid type: string "2323", expected i64` as a person says it:
/// `expected an integer, found the string "2323"`; other messages as they are.
fn friendly(message: &str) -> String {
    if message.starts_with("missing field `") {
        return "is required but missing".into();
    }
    let body = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "));
    let (Some(body), Some(expected)) = (body, expected_of(message)) else {
        return one_line(message);
    };
    let found = body.rsplit_once(", expected ").map_or(body, |(f, _)| f);
    let expected = match expected {
        "u8" => "an integer from 0 to 255",
        "u16" => "an integer from 0 to 65535",
        "u32" | "u64" | "usize" => "a whole number (0 or more)",
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer",
        "f32" | "f64" => "a number",
        e if e.ends_with("string") => "a string",
        "a boolean" => "true or false",
        e if e.starts_with("a sequence") => "a list",
        e if e.starts_with("struct ") || e == "a map" => "a table",
        e => e,
    };
    let found = if let Some(s) = found.strip_prefix("string ") {
        format!("the string {s}")
    } else if let Some(n) = found.strip_prefix("integer ") {
        format!("the integer {}", n.trim_matches('`'))
    } else if let Some(n) = found.strip_prefix("floating point ") {
        format!("the number {}", n.trim_matches('`'))
    } else if let Some(b) = found.strip_prefix("boolean ") {
        b.trim_matches('`').to_owned()
    } else if found == "sequence" {
        "a list".into()
    } else if found == "map" {
        "a table".into()
    } else {
        found.to_owned()
    };
    one_line(&format!("expected {expected}, found {found}"))
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

/// Checks, on the file system, that a database a role writes can be created or opened there:
/// its directory exists, is a directory and takes new files (SQLite adds `-wal` and `-shm` files
/// beside it), and an existing file is writable. Returns the problem as `(key, reason)`. This is
/// I/O, run by `check-config` after the pure validation.
pub fn check_writable_database(key: &str, path: &Path) -> Option<(String, String)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let problem = |reason: String| Some((key.to_owned(), reason));
    match std::fs::metadata(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return problem(format!(
                "the directory {} does not exist (create it first)",
                dir.display()
            ));
        }
        Err(e) => return problem(format!("cannot use the directory {}: {e}", dir.display())),
        Ok(m) if !m.is_dir() => {
            return problem(format!("{} is not a directory", dir.display()));
        }
        Ok(_) => {}
    }
    let probe = dir.join(format!(".recce7-check-config-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
        }
        Err(e) => {
            return problem(format!(
                "cannot create files in {} ({e}): SQLite needs to, for the database and its -wal and -shm files",
                dir.display()
            ));
        }
    }
    if path.exists()
        && let Err(e) = std::fs::OpenOptions::new().append(true).open(path)
    {
        return problem(format!("{} is not writable: {e}", path.display()));
    }
    None
}

/// Checks that a database a role only reads can be opened, or will be: a file that does not
/// exist yet is fine when its directory does (the sensor or the normalizer creates it when it
/// starts, and reportd waits for it), so a service started before them is not refused.
pub fn check_readable_database(key: &str, path: &Path) -> Option<(String, String)> {
    match std::fs::File::open(path) {
        Ok(_) if path.is_dir() => {
            Some((key.to_owned(), format!("{} is a directory", path.display())))
        }
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            if dir.is_dir() {
                None
            } else {
                Some((
                    key.to_owned(),
                    format!(
                        "neither {} nor its directory exists (the sensor or the normalizer creates the file; give the path of one)",
                        path.display()
                    ),
                ))
            }
        }
        Err(e) => Some((
            key.to_owned(),
            format!("cannot open {}: {e}", path.display()),
        )),
    }
}

/// The largest file [`read_secret_file`] reads.
pub const MAX_SECRET_FILE_BYTES: u64 = 4096;

/// Reads a file holding one secret (a token, a deploy key): one line, surrounding white space
/// ignored, at most [`MAX_SECRET_FILE_BYTES`]. The error says why, never what the file holds.
pub fn read_secret_file(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(format!(
            "{} is larger than {MAX_SECRET_FILE_BYTES} bytes: not a secret file",
            path.display()
        ));
    }
    let text = String::from_utf8_lossy(&bytes);
    let secret = text.trim();
    if secret.is_empty() {
        return Err(format!("{} is empty", path.display()));
    }
    Ok(secret.to_owned())
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
    fn a_validation_problem_names_the_line_of_its_key() {
        #[derive(Deserialize)]
        struct Doc {
            #[allow(dead_code)]
            plugin: Vec<toml::Table>,
        }
        let text = "# comment\n[[plugin]]\nname = 'a'\n\n[[plugin]]\nname = 'b'\n[plugin.options]\nstates = { start = [ { pattern = 'x' },\n  { pattern = '(' } ] }\n";
        let problems = parse(text, "t.toml", |_: &Doc| -> Validated<()> {
            Err(vec![
                ("plugin[1].name".into(), "bad".into()),
                (
                    "plugin[1].options.states.start[1].pattern".into(),
                    "unclosed group".into(),
                ),
                ("plugin[1].missing".into(), "is required".into()),
                ("-".into(), "no line".into()),
            ])
        })
        .unwrap_err()
        .to_string();
        let lines: Vec<&str> = problems.lines().collect();
        assert_eq!(
            lines,
            [
                "t.toml: plugin[1].name: bad (line 6)",
                "t.toml: plugin[1].options.states.start[1].pattern: unclosed group (line 9)",
                "t.toml: plugin[1].missing: is required (line 5)",
                "t.toml: -: no line",
            ]
        );
        assert_eq!(
            key_path(&parse_key_path("a.b[2][3].c")),
            "a.b[2][3].c",
            "parse_key_path reads what key_path writes"
        );
    }

    #[test]
    fn a_read_database_may_be_created_later_but_not_in_a_missing_directory() {
        let dir = std::env::temp_dir().join(format!("roleconfig-readable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Not there yet, in a directory that is: reportd waits for the sensor to create it.
        assert_eq!(
            check_readable_database("k", &dir.join("later.sqlite")),
            None
        );
        let gone = check_readable_database("k", &dir.join("nowhere/x.sqlite")).unwrap();
        assert_eq!(gone.0, "k");
        assert!(gone.1.contains("nor its directory exists"), "{}", gone.1);
        let is_dir = check_readable_database("k", &dir).unwrap();
        assert!(is_dir.1.contains("is a directory"), "{}", is_dir.1);
        std::fs::write(dir.join("there.sqlite"), b"").unwrap();
        assert_eq!(
            check_readable_database("k", &dir.join("there.sqlite")),
            None
        );
        std::fs::remove_dir_all(&dir).unwrap();
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
                "t.toml: hpfeeds.host: must name the broker (line 2)",
                "t.toml: hpfeeds.port: 70000 is outside 1..65535 (line 3)",
                "t.toml: hpfeeds.ident: must be 1 to 255 bytes (line 4)",
                "t.toml: hpfeeds.channels: must list at least one channel (line 6)",
            ]
        );
    }

    #[test]
    fn a_syntax_error_is_one_line_with_the_file() {
        let problems = check("[hpfeeds\n").unwrap_err();
        assert_eq!(problems.0.len(), 1);
        // Where it is, not `-` (issue 12, item 10).
        assert!(
            problems
                .to_string()
                .starts_with("t.toml: line 1, column 9: unclosed table"),
            "{problems}"
        );
        assert!(!problems.to_string().contains('\n'));
    }

    #[test]
    fn a_wrong_type_names_its_key_and_the_rest_is_still_checked() {
        let text = "[hpfeeds]\nhost = \"\"\nport = \"10000\"\nsecret = 5\nchannels = [\"a\", 7]\nreconnect_max_secs = -1\nsurprise = 1\n";
        let problems = check(text).unwrap_err().to_string();
        let lines: Vec<&str> = problems.lines().collect();
        // Type problems in the file's order (a missing key at its table's line), then unknown
        // keys, then what the validation found.
        assert_eq!(
            lines,
            [
                "t.toml: hpfeeds.ident: is required but missing (line 1)",
                "t.toml: hpfeeds.port: expected an integer, found the string \"10000\" (line 3)",
                "t.toml: hpfeeds.secret: expected a string, found the integer 5 (line 4)",
                "t.toml: hpfeeds.channels[1]: expected a string, found the integer 7 (line 5)",
                "t.toml: hpfeeds.reconnect_max_secs: expected a whole number (0 or more), found the integer -1 (line 6)",
                "t.toml: hpfeeds.surprise: unknown key",
                "t.toml: hpfeeds.host: must name the broker (line 2)",
            ],
            "{problems}"
        );
        // A table where a value belongs, and a value where a table belongs.
        let problems = check("hpfeeds = 3\n").unwrap_err().to_string();
        assert_eq!(
            problems,
            "t.toml: hpfeeds: expected a table, found the integer 3 (line 1)"
        );
    }
}
