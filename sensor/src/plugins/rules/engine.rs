//! The state machine of the rules plug-in, without sockets: which rule a line matches in a
//! state ([`Rules::choose`]), and what that rule does to the conversation ([`Rules::apply`]):
//! the reply, the row's columns, the variables set and appended, the next state.

use std::time::Duration;

use regex_lite::{Captures, Regex};
use serde_json::Value;
use store::{Row, escape_text};

use super::template::{Template, Values, Var};

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// What the line must match.
    pub pattern: Regex,
    /// Sent when it matches (after `delay`).
    pub reply: Template,
    /// How long to wait before the reply.
    pub delay: Duration,
    /// The state to move to (an index into [`Rules::states`]).
    pub next: Option<usize>,
    /// Close the connection after the reply.
    pub close: bool,
    /// Columns recorded: name, template.
    pub record: Vec<(String, Template)>,
    /// Variables set: name, template.
    pub set: Vec<(String, Template)>,
    /// Variables appended to: name, template.
    pub append: Vec<(String, Template)>,
    /// Opens the session's passive data listener before the reply.
    pub passive: bool,
    /// Marks the session as in active mode (PORT/EPRT): drops the passive listener; a data
    /// rule then answers its `data_failed` reply without connecting anywhere.
    pub active: bool,
    /// Sent over the data connection.
    pub data: Option<Template>,
    /// Sent on the control connection after the data.
    pub after_data: Template,
}

/// A compiled state.
#[derive(Debug, Clone)]
pub struct State {
    /// Its name.
    pub name: String,
    /// Its rules, in order: the first that matches wins.
    pub rules: Vec<Rule>,
    /// Whether every line received in it is recorded.
    pub record_lines: bool,
}

/// Every state of an instance, with the instance-wide settings the engine needs.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The states.
    pub states: Vec<State>,
    /// The state a session starts in.
    pub initial: usize,
    /// The reply when no rule matches.
    pub unknown: Template,
    /// The most bytes a variable holds.
    pub max_var_bytes: usize,
}

/// One session's place in the state machine.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    /// The current state.
    pub state: usize,
    /// The session variables, in the order they were first set.
    pub vars: Vec<Var>,
    /// Lines handled so far.
    pub steps: u64,
}

/// What a line leads to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The reply to send.
    pub reply: Vec<u8>,
    /// The row to record, when there is one: `line`, `state` and the rule's columns.
    pub row: Option<Row>,
    /// How long to wait before replying.
    pub delay: Duration,
    /// Close after the reply.
    pub close: bool,
    /// What a data rule sends over the data connection.
    pub data: Vec<u8>,
    /// What a data rule sends after the data.
    pub after_data: Vec<u8>,
}

/// Where a session is: what templates see besides the line.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// The attacker's address.
    pub peer: std::net::SocketAddr,
    /// The sensor's address.
    pub local: std::net::SocketAddr,
    /// The session id.
    pub session: &'a str,
    /// The passive listener's port.
    pub passive_port: Option<u16>,
}

impl Rules {
    /// A new conversation in the initial state.
    pub fn start(&self) -> Conversation {
        Conversation {
            state: self.initial,
            ..Conversation::default()
        }
    }

    /// The rule of `state` whose pattern matches `line` first, with its captures.
    pub fn choose<'l>(&self, state: usize, line: &'l str) -> Option<(&Rule, Captures<'l>)> {
        self.states
            .get(state)?
            .rules
            .iter()
            .find_map(|rule| rule.pattern.captures(line).map(|c| (rule, c)))
    }

    /// Applies `rule` (or the `unknown` reply when `None`) to `line` received in `conv`'s state:
    /// renders the reply and the row, sets and appends variables, moves to the next state.
    /// `line_bytes` are the line as received (recorded escaped); `line` is what was matched.
    pub fn apply(
        &self,
        conv: &mut Conversation,
        chosen: Option<(&Rule, &Captures<'_>)>,
        line_bytes: &[u8],
        line: &str,
        place: Place<'_>,
    ) -> Outcome {
        conv.steps = conv.steps.saturating_add(1);
        let state = self.states.get(conv.state);
        let state_name = state.map_or("", |s| s.name.as_str());
        let record_lines = state.is_none_or(|s| s.record_lines);
        let values = |captures, vars| Values {
            line,
            captures,
            vars,
            peer: place.peer,
            local: place.local,
            session: place.session,
            state: state_name,
            passive_port: place.passive_port,
        };
        let Some((rule, captures)) = chosen else {
            let reply = self.unknown.to_bytes(&values(None, &conv.vars), true);
            return Outcome {
                reply,
                row: record_lines.then(|| line_row(line_bytes, state_name)),
                ..Outcome::default()
            };
        };
        let v = values(Some(captures), &conv.vars);
        let reply = rule.reply.to_bytes(&v, true);
        let data = rule
            .data
            .as_ref()
            .map(|t| t.to_bytes(&v, false))
            .unwrap_or_default();
        let after_data = rule.after_data.to_bytes(&v, true);
        let mut row =
            (record_lines || !rule.record.is_empty()).then(|| line_row(line_bytes, state_name));
        if let Some(row) = row.as_mut() {
            for (column, template) in &rule.record {
                let value = template.to_bytes(&v, false);
                row.insert(column.clone(), Value::String(escape_text(&value)));
            }
        }
        // Every template is rendered before any variable changes, so that a rule sees the
        // values from before it ran, whatever the order of its keys.
        let updates: Vec<(&str, Vec<u8>, bool)> = rule
            .set
            .iter()
            .map(|(name, t)| (name.as_str(), t.to_bytes(&v, false), false))
            .chain(
                rule.append
                    .iter()
                    .map(|(name, t)| (name.as_str(), t.to_bytes(&v, false), true)),
            )
            .collect();
        for (name, value, append) in updates {
            set_var(&mut conv.vars, name, &value, append, self.max_var_bytes);
        }
        if let Some(next) = rule.next {
            conv.state = next;
        }
        Outcome {
            reply,
            row,
            delay: rule.delay,
            close: rule.close,
            data,
            after_data,
        }
    }

    /// Renders an instance-wide template (greeting, `unknown`-like replies: no captures, no
    /// line) in `conv`'s state, for a reply.
    pub fn render_plain(
        &self,
        template: &Template,
        conv: &Conversation,
        place: Place<'_>,
    ) -> Vec<u8> {
        let state = self.states.get(conv.state).map_or("", |s| s.name.as_str());
        template.to_bytes(
            &Values {
                line: "",
                captures: None,
                vars: &conv.vars,
                peer: place.peer,
                local: place.local,
                session: place.session,
                state,
                passive_port: place.passive_port,
            },
            true,
        )
    }
}

/// The row every line gets: `line` (escaped), `state`.
fn line_row(line: &[u8], state: &str) -> Row {
    let mut row = Row::new();
    row.insert("line".into(), Value::String(escape_text(line)));
    row.insert("state".into(), Value::String(state.to_owned()));
    row
}

/// Sets (or appends to) variable `name`, keeping at most `max_bytes` of it.
fn set_var(vars: &mut Vec<Var>, name: &str, value: &[u8], append: bool, max_bytes: usize) {
    let slot = match vars.iter().position(|v| v.name == name) {
        Some(i) => &mut vars[i],
        None => {
            vars.push(Var {
                name: name.to_owned(),
                value: Vec::new(),
                dropped: 0,
            });
            let last = vars.len() - 1;
            &mut vars[last]
        }
    };
    if !append {
        slot.value.clear();
        slot.dropped = 0;
    }
    let room = max_bytes.saturating_sub(slot.value.len());
    let kept = value.len().min(room);
    slot.value.extend_from_slice(&value[..kept]);
    // Never dropped quietly: the value shows how much did not fit.
    slot.dropped = slot.dropped.saturating_add((value.len() - kept) as u64);
}
