//! `[plugin.options]` of a rules instance: the TOML structs ([`RulesOptions`], [`RuleOptions`])
//! and [`compile`], which checks every value and turns the options into the engine's
//! [`Rules`] (patterns compiled, templates parsed, state names resolved), reporting every
//! problem with its key path (`states.auth[2].pattern`).

use std::time::Duration;

use regex_lite::{Regex, RegexBuilder};
use serde::Deserialize;

use super::engine::{Rule, Rules, State};
use super::template::{Groups, Template, is_var_name};
use crate::limits::Limits;
use crate::plugin::OptionProblem;
use crate::plugins::options::read_options;

/// The longest delay a rule may ask for.
pub const MAX_DELAY_MS: u64 = 10_000;
/// The largest `max_var_bytes`.
pub const MAX_VAR_BYTES: usize = 1024 * 1024;
/// The longest pattern, in bytes.
const MAX_PATTERN_BYTES: usize = 4096;
/// The most memory one compiled pattern may take (regex-lite's size limit).
const PATTERN_SIZE_LIMIT: usize = 256 * 1024;
/// Columns every row of a rules instance has; `record` may not use them.
pub const LINE_COLUMNS: [&str; 3] = ["line", "state", "unterminated"];

/// `[plugin.options]` of a rules instance.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesOptions {
    /// Sent when a peer connects (a template). Default: nothing.
    pub greeting: String,
    /// The protocol recorded in every event. Default: `tcp`.
    pub protocol: String,
    /// The state a session starts in. Default: `start`.
    pub initial: String,
    /// Bytes of a line that patterns and templates see (1 to `[limits] max_line_bytes`,
    /// which is the default); the recorded `line` keeps all of it.
    pub max_line: Option<usize>,
    /// Sent just before a session that stayed idle is closed (vsftpd's `421 Timeout.`).
    pub idle_close_reply: Option<String>,
    /// Sent when no rule of the state matches. Default: nothing.
    pub unknown: String,
    /// Records non-protocol first input (TLS, HTTP, binary) raw and closes. Default: true.
    pub screen_foreign: bool,
    /// The most bytes a variable holds (1 to 1 MiB). Default: 64 KiB.
    pub max_var_bytes: usize,
    /// Lines handled per session at most; the session is then closed. Default: 10,000.
    pub max_steps: u64,
    /// Per state, whether each line received in it is recorded (`{ data = false }`).
    /// Default: true for every state.
    pub record_lines: toml::Table,
    /// How long a data rule waits for the data connection (1 to 60 s). Default: 10.
    pub data_timeout_secs: u64,
    /// Sent when no data connection arrived, and in active mode (no connection out is ever
    /// made). Default: `425 Failed to establish connection.\r\n`.
    pub data_failed: String,
    /// Sent by a data rule when no passive listener is open and the session is not in active
    /// mode. Default: `425 Use PORT or PASV first.\r\n`.
    pub data_missing: String,
    /// Bytes sent over one data connection at most (1 to 1 MiB). Default: 64 KiB.
    pub max_data_bytes: usize,
    /// The states: name -> ordered list of rules ([`RuleOptions`]).
    pub states: toml::Table,
}

impl Default for RulesOptions {
    fn default() -> RulesOptions {
        RulesOptions {
            greeting: String::new(),
            protocol: "tcp".into(),
            initial: "start".into(),
            max_line: None,
            idle_close_reply: None,
            unknown: String::new(),
            screen_foreign: true,
            max_var_bytes: 64 * 1024,
            max_steps: 10_000,
            record_lines: toml::Table::new(),
            data_timeout_secs: 10,
            data_failed: "425 Failed to establish connection.\r\n".into(),
            data_missing: "425 Use PORT or PASV first.\r\n".into(),
            max_data_bytes: 64 * 1024,
            states: toml::Table::new(),
        }
    }
}

/// One rule of a state.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuleOptions {
    /// The regex the line (without its line ending) must match. Required.
    pub pattern: Option<String>,
    /// The reply (a template).
    pub reply: String,
    /// Milliseconds to wait before the reply (0 to 10,000).
    pub delay_ms: u64,
    /// The state to move to.
    pub next: Option<String>,
    /// Close the connection after the reply.
    pub close: bool,
    /// Columns to record: name -> template.
    pub record: toml::Table,
    /// Session variables to set: name -> template.
    pub set: toml::Table,
    /// Session variables to append to: name -> template.
    pub append: toml::Table,
    /// Open the session's passive data listener before the reply.
    pub passive: bool,
    /// Enter active mode (PORT/EPRT): drop the passive listener; never connect out.
    pub active: bool,
    /// Sent over the data connection (a template).
    pub data: Option<String>,
    /// Sent after the data (a template).
    pub after_data: String,
}

/// Everything a rules instance runs with.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The state machine.
    pub rules: Rules,
    /// The options as read (scalars used by the handler).
    pub options: RulesOptions,
    /// The greeting.
    pub greeting: Template,
    /// The idle close reply.
    pub idle_close_reply: Option<Template>,
    /// The reply when the data connection failed.
    pub data_failed: Template,
    /// The reply when there is no data channel.
    pub data_missing: Template,
    /// Bytes of a line that patterns see.
    pub max_line: usize,
    /// Every `record` key, in first-seen order.
    pub record_columns: Vec<String>,
}

/// Collects problems under a key prefix.
struct Problems(Vec<OptionProblem>);

impl Problems {
    fn push(&mut self, key: impl Into<String>, reason: impl Into<String>) {
        self.0.push(OptionProblem::new(key, reason));
    }
}

/// Checks `options` and builds the engine; every problem with its key path.
pub fn compile(options: &toml::Table, limits: &Limits) -> Result<Compiled, Vec<OptionProblem>> {
    let (options, read_problems) = read_options::<RulesOptions>(options);
    let mut problems = Problems(read_problems);
    let plain = Groups { pattern: None };
    let template = |key: &str, text: &str, problems: &mut Problems| {
        Template::parse(text, plain)
            .map_err(|reason| problems.push(key, reason))
            .unwrap_or_default()
    };
    let greeting = template("greeting", &options.greeting, &mut problems);
    let unknown = template("unknown", &options.unknown, &mut problems);
    let data_failed = template("data_failed", &options.data_failed, &mut problems);
    let data_missing = template("data_missing", &options.data_missing, &mut problems);
    let idle_close_reply = options
        .idle_close_reply
        .as_deref()
        .map(|t| template("idle_close_reply", t, &mut problems));
    if options.protocol.trim().is_empty() || options.protocol.len() > 32 {
        problems.push("protocol", "must be 1 to 32 bytes");
    }
    let max_line = options.max_line.unwrap_or(limits.max_line_bytes);
    if max_line == 0 || max_line > limits.max_line_bytes {
        problems.push(
            "max_line",
            format!(
                "{max_line} is outside 1..{} ([limits] max_line_bytes)",
                limits.max_line_bytes
            ),
        );
    }
    if options.max_var_bytes == 0 || options.max_var_bytes > MAX_VAR_BYTES {
        problems.push("max_var_bytes", format!("must be 1 to {MAX_VAR_BYTES}"));
    }
    if options.max_steps == 0 || options.max_steps > 1_000_000 {
        problems.push("max_steps", "must be 1 to 1000000");
    }
    if !(1..=60).contains(&options.data_timeout_secs) {
        problems.push("data_timeout_secs", "must be 1 to 60");
    }
    if options.max_data_bytes == 0 || options.max_data_bytes > MAX_VAR_BYTES {
        problems.push("max_data_bytes", format!("must be 1 to {MAX_VAR_BYTES}"));
    }

    // State names first, so that `next` can point at a state defined later.
    let names: Vec<&str> = options.states.keys().map(String::as_str).collect();
    if names.is_empty() {
        problems.push("states", "must define at least one state");
    }
    for name in &names {
        if !is_var_name(name) {
            problems.push(
                format!("states.{name}"),
                "a state name is 1 to 64 letters, digits or _",
            );
        }
    }
    let initial = names.iter().position(|n| *n == options.initial);
    if initial.is_none() && !names.is_empty() {
        problems.push(
            "initial",
            format!(
                "{:?} is not a state (states: {})",
                options.initial,
                names.join(", ")
            ),
        );
    }
    let mut record_columns: Vec<String> = Vec::new();
    let mut states = Vec::new();
    for (name, value) in &options.states {
        let rules = compile_state(name, value, &names, &mut record_columns, &mut problems);
        states.push(State {
            name: name.clone(),
            rules,
            record_lines: true,
        });
    }
    for (name, value) in &options.record_lines {
        let key = format!("record_lines.{name}");
        match (states.iter_mut().find(|s| &s.name == name), value) {
            (Some(state), toml::Value::Boolean(on)) => state.record_lines = *on,
            (None, _) => problems.push(key, format!("{name:?} is not a state")),
            (_, other) => problems.push(
                key,
                format!("expected a boolean, found {}", other.type_str()),
            ),
        }
    }
    if !problems.0.is_empty() {
        return Err(problems.0);
    }
    Ok(Compiled {
        rules: Rules {
            states,
            initial: initial.unwrap_or(0),
            unknown,
            max_var_bytes: options.max_var_bytes,
        },
        greeting,
        idle_close_reply,
        data_failed,
        data_missing,
        max_line,
        record_columns,
        options,
    })
}

/// The rules of state `name`.
fn compile_state(
    name: &str,
    value: &toml::Value,
    names: &[&str],
    record_columns: &mut Vec<String>,
    problems: &mut Problems,
) -> Vec<Rule> {
    let at = format!("states.{name}");
    let Some(list) = value.as_array() else {
        problems.push(
            at,
            format!(
                "expected an array of rules ([[plugin.options.states.{name}]]), found {}",
                value.type_str()
            ),
        );
        return Vec::new();
    };
    let mut rules = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let Some(table) = item.as_table() else {
            problems.push(
                at,
                format!("expected a rule (a table), found {}", item.type_str()),
            );
            continue;
        };
        if let Some(rule) = compile_rule(&at, table, names, record_columns, problems) {
            rules.push(rule);
        }
    }
    rules
}

/// One rule at key path `at`; `None` when it has a problem (all of them reported).
fn compile_rule(
    at: &str,
    table: &toml::Table,
    names: &[&str],
    record_columns: &mut Vec<String>,
    problems: &mut Problems,
) -> Option<Rule> {
    let before = problems.0.len();
    let (opts, read) = read_options::<RuleOptions>(table);
    for p in read {
        problems.push(format!("{at}.{}", p.key), p.reason);
    }
    let pattern = match &opts.pattern {
        None => {
            problems.push(format!("{at}.pattern"), "is required");
            None
        }
        Some(p) => compile_pattern(p)
            .map_err(|reason| problems.push(format!("{at}.pattern"), reason))
            .ok(),
    };
    // Templates are checked against the pattern's groups only when it compiled.
    let groups = Groups {
        pattern: pattern.as_ref(),
    };
    let check = |key: &str, text: &str, problems: &mut Problems| -> Template {
        if pattern.is_none() {
            return Template::default();
        }
        Template::parse(text, groups)
            .map_err(|reason| problems.push(format!("{at}.{key}"), reason))
            .unwrap_or_default()
    };
    let reply = check("reply", &opts.reply, problems);
    let after_data = check("after_data", &opts.after_data, problems);
    let data = opts
        .data
        .as_deref()
        .map(|text| check("data", text, problems));
    let table_of = |which: &str, entries: &toml::Table, problems: &mut Problems| {
        let mut out = Vec::new();
        for (name, value) in entries {
            let key = format!("{at}.{which}.{name}");
            let Some(text) = value.as_str() else {
                problems.push(
                    key,
                    format!("expected a template string, found {}", value.type_str()),
                );
                continue;
            };
            let named_ok = if which == "record" {
                check_column(name)
            } else if is_var_name(name) {
                Ok(())
            } else {
                Err("a variable name is 1 to 64 letters, digits or _".to_owned())
            };
            if let Err(reason) = named_ok {
                problems.push(key, reason);
                continue;
            }
            out.push((
                name.clone(),
                check(&format!("{which}.{name}"), text, problems),
            ));
        }
        out
    };
    let record = table_of("record", &opts.record, problems);
    let set = table_of("set", &opts.set, problems);
    let append = table_of("append", &opts.append, problems);
    if opts.delay_ms > MAX_DELAY_MS {
        problems.push(
            format!("{at}.delay_ms"),
            format!("{} is outside 0..={MAX_DELAY_MS}", opts.delay_ms),
        );
    }
    if opts.passive && opts.active {
        problems.push(
            format!("{at}.active"),
            "a rule cannot be both passive and active",
        );
    }
    if !opts.after_data.is_empty() && opts.data.is_none() {
        problems.push(format!("{at}.after_data"), "needs `data`");
    }
    let next = match &opts.next {
        None => None,
        Some(next) => match names.iter().position(|n| n == next) {
            Some(i) => Some(i),
            None => {
                problems.push(
                    format!("{at}.next"),
                    format!("{next:?} is not a state (states: {})", names.join(", ")),
                );
                None
            }
        },
    };
    if problems.0.len() > before {
        return None;
    }
    for (column, _) in &record {
        if !record_columns.contains(column) {
            record_columns.push(column.clone());
        }
    }
    Some(Rule {
        pattern: pattern?,
        reply,
        delay: Duration::from_millis(opts.delay_ms),
        next,
        close: opts.close,
        record,
        set,
        append,
        passive: opts.passive,
        active: opts.active,
        data,
        after_data,
    })
}

/// Compiles a pattern with regex-lite, or says why it does not compile (on one line).
pub fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!("longer than {MAX_PATTERN_BYTES} bytes"));
    }
    RegexBuilder::new(pattern)
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            let text = e.to_string();
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            format!("not a valid pattern: {}", lines.join(" "))
        })
}

/// A `record` column: a safe SQL identifier that is none of the fixed or line columns.
fn check_column(name: &str) -> Result<(), String> {
    if !store::is_safe_identifier(name) {
        Err(format!("{name:?} is not a safe SQL identifier"))
    } else if store::schema::is_fixed_column(name) {
        Err(format!(
            "{name:?} is one of the fixed columns every table starts with"
        ))
    } else if LINE_COLUMNS.iter().any(|c| c.eq_ignore_ascii_case(name)) {
        Err(format!(
            "{name:?} is recorded for every line (line, state, unterminated)"
        ))
    } else {
        Ok(())
    }
}
