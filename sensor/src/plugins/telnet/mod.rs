//! The telnet plug-in (`kind = "telnet"`): real option negotiation, `login:` and `Password:`
//! prompts, and after any login a busybox shell of an embedded Linux device answered from a fake
//! filesystem. Nothing is executed and nothing is downloaded; every username, password and
//! command (split on `;`, `&&`, `||`, `|`) is recorded with its exact bytes
//! ([`store::escape_text`]), a line cut off by the end of the connection too (marked
//! `unterminated`). Input that is not telnet at all (a TLS hello, an HTTP request, binary noise)
//! is recorded raw instead of being taken as a login ([`crate::plugins::foreign`]).
//!
//! Negotiation and line editing ([`negotiation`]) and the shell ([`crate::shell`], shared with
//! SSH) are pure; this
//! module is the socket side.

pub mod negotiation;

use std::sync::Arc;

use serde_json::Value;
use store::{Column, EventType, escape_text};

use crate::connection::{CloseReason, Connection};
use serde::Deserialize;

use crate::plugin::{HandlerFuture, OptionProblem, Plugin, PluginSettings, integer, text};
use crate::plugins::foreign::{self, RawCapture};
use crate::plugins::options::read_options;
use crate::session::{Session, row};
use crate::shell::{self, Shell};
use negotiation::{LineEditor, LineEvent, TelnetDecoder};

/// The telnet plug-in and its options.
#[derive(Debug, Clone)]
pub struct TelnetPlugin {
    hostname: String,
    max_line_bytes: usize,
    max_raw_bytes: usize,
}

/// `[plugin.options]` of a telnet instance; every key is optional.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelnetOptions {
    /// The device's name, shown in the login prompt (`router login:`): 1 to 64 letters,
    /// digits, `-` or `.`. Default: `router`.
    pub hostname: String,
}

impl Default for TelnetOptions {
    fn default() -> TelnetOptions {
        TelnetOptions {
            hostname: "router".into(),
        }
    }
}

impl TelnetOptions {
    /// Checks the values; every problem, by key.
    pub fn validate(&self) -> Vec<OptionProblem> {
        let mut problems = Vec::new();
        let hostname = &self.hostname;
        if hostname.is_empty()
            || hostname.len() > 64
            || !hostname
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            problems.push(OptionProblem::new(
                "hostname",
                "must be 1 to 64 letters, digits, '-' or '.'",
            ));
        }
        problems
    }
}

/// Builds the plug-in from `[plugin.options]` ([`TelnetOptions`]).
pub fn build(settings: &PluginSettings<'_>) -> Result<Arc<dyn Plugin>, Vec<OptionProblem>> {
    let (options, mut problems) = read_options::<TelnetOptions>(settings.options);
    problems.extend(options.validate());
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Arc::new(TelnetPlugin {
        hostname: options.hostname,
        max_line_bytes: settings.limits.max_line_bytes,
        max_raw_bytes: settings.limits.max_raw_bytes,
    }))
}

/// What busybox's ash prints when a login shell starts.
const MOTD: &str = "\r\n\r\nBusyBox v1.24.1 (2017-03-09 11:08:39 CST) built-in shell (ash)\r\nEnter 'help' for a list of built-in commands.\r\n\r\n";

/// Where the conversation is.
enum Stage {
    User,
    Password { user: Vec<u8> },
    Shell(Box<Shell>),
}

/// Whether the login prompt takes `line` as a username (a blank line gets a new prompt).
fn is_username(line: &[u8]) -> bool {
    !line.trim_ascii().is_empty()
}

impl TelnetPlugin {
    async fn login(
        &self,
        session: &mut Session,
        user: &[u8],
        password: Option<&[u8]>,
        unterminated: bool,
    ) {
        let mut data = row([
            ("input_type", "login".into()),
            ("username", escape_text(user).into()),
            (
                "password",
                password.map_or(Value::Null, |p| escape_text(p).into()),
            ),
        ]);
        if unterminated {
            data.insert("unterminated".into(), true.into());
        }
        session.record(EventType::TelnetLogin, data).await;
    }

    async fn commands(&self, session: &mut Session, commands: &[&[u8]], unterminated: bool) {
        for command in commands {
            let mut data = row([
                ("input_type", "command".into()),
                ("user_input", escape_text(command).into()),
            ]);
            if unterminated {
                data.insert("unterminated".into(), true.into());
            }
            session.record(EventType::TelnetCommand, data).await;
        }
    }

    /// Records what the session leaves behind when it ends: `pending`, a line typed without
    /// Enter (marked unterminated), and a username still waiting for its password.
    async fn finish(&self, session: &mut Session, stage: &Stage, pending: &[u8]) {
        match stage {
            Stage::User if is_username(pending) => {
                self.login(session, pending, None, true).await;
            }
            Stage::User => {}
            Stage::Password { user } => {
                let password = (!pending.is_empty()).then_some(pending);
                self.login(session, user, password, password.is_some())
                    .await;
            }
            Stage::Shell(_) => {
                let commands = shell::split_command_bytes(pending);
                self.commands(session, &commands, true).await;
            }
        }
    }

    async fn converse(
        &self,
        conn: &mut Connection,
        session: &mut Session,
    ) -> Result<(), CloseReason> {
        let mut decoder = TelnetDecoder::new();
        let mut editor = LineEditor::new(self.max_line_bytes);
        let mut stage = Stage::User;
        let (mut data, mut reply, mut echo, mut events) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // Until the login succeeds: every byte received, to tell telnet from a TLS hello or
        // noise and to record the latter exactly (grown on demand, dropped at login).
        let mut before_login = Some(RawCapture::new(self.max_raw_bytes));
        // Grown on demand: an idle session should cost as little as possible.
        let mut out = Vec::new();
        out.extend_from_slice(negotiation::greeting());
        // Busybox telnetd sends "\r\r\n" before the first prompt: scanners match on it.
        out.extend_from_slice(format!("\r\r\n{} login: ", self.hostname).as_bytes());
        conn.write_all(&out).await?;
        loop {
            if let Err(reason) = conn.read_more().await {
                Box::pin(self.finish(session, &stage, editor.pending())).await;
                return Err(reason);
            }
            let input = conn.take_buffer();
            data.clear();
            reply.clear();
            echo.clear();
            events.clear();
            decoder.decode(&input, &mut data, &mut reply);
            if let Some(capture) = before_login.as_mut() {
                let sniffing = capture.total() < foreign::SNIFF_BYTES;
                capture.push(&input);
                if sniffing {
                    // The data the first bytes carry, decoded afresh (the same bytes decode the
                    // same way), so no second copy is kept per connection.
                    let first = capture.kept();
                    let first = first.get(..foreign::SNIFF_BYTES).unwrap_or(first);
                    let mut seen = Vec::new();
                    TelnetDecoder::new().decode(first, &mut seen, &mut Vec::new());
                    if let Some(kind) = foreign::classify(&seen) {
                        Box::pin(foreign::drain(conn, capture)).await;
                        Box::pin(foreign::record_and_close(
                            conn,
                            session,
                            capture,
                            "not telnet",
                            kind,
                            "not telnet",
                        ))
                        .await;
                        return Ok(());
                    }
                }
            }
            let hide = matches!(stage, Stage::Password { .. });
            editor.push(&data, !hide, &mut echo, &mut events);
            out.clear();
            out.extend_from_slice(&reply);
            negotiation::escape_iac(&echo, &mut out);
            let mut end: Option<CloseReason> = None;
            let mut queued = events.drain(..);
            for event in queued.by_ref() {
                let (line, too_long) = match event {
                    LineEvent::Line(line) => (line, false),
                    LineEvent::TooLong(line) => (line, true),
                    LineEvent::Interrupt => {
                        out.extend_from_slice(b"^C\r\n");
                        stage = match stage {
                            Stage::Shell(shell) => {
                                out.extend_from_slice(shell.prompt().as_bytes());
                                Stage::Shell(shell)
                            }
                            // The username was sent: an attempt without a password.
                            Stage::Password { user } => {
                                Box::pin(self.login(session, &user, None, false)).await;
                                out.extend_from_slice(
                                    format!("{} login: ", self.hostname).as_bytes(),
                                );
                                Stage::User
                            }
                            Stage::User => {
                                out.extend_from_slice(
                                    format!("{} login: ", self.hostname).as_bytes(),
                                );
                                Stage::User
                            }
                        };
                        continue;
                    }
                    LineEvent::Eof => {
                        end = Some(CloseReason::Plugin("logout"));
                        break;
                    }
                };
                stage = match stage {
                    Stage::User => {
                        if is_username(&line) {
                            out.extend_from_slice(b"Password: ");
                            Stage::Password { user: line }
                        } else {
                            out.extend_from_slice(format!("{} login: ", self.hostname).as_bytes());
                            Stage::User
                        }
                    }
                    Stage::Password { user } => {
                        Box::pin(self.login(session, &user, Some(&line), false)).await;
                        before_login = None;
                        let shell = Shell::new(&String::from_utf8_lossy(&user));
                        out.extend_from_slice(b"\r\n");
                        out.extend_from_slice(MOTD.as_bytes());
                        out.extend_from_slice(shell.prompt().as_bytes());
                        Stage::Shell(Box::new(shell))
                    }
                    Stage::Shell(mut shell) => {
                        let result = shell.run_input(&line);
                        let commands: Vec<&[u8]> =
                            result.commands.iter().map(Vec::as_slice).collect();
                        Box::pin(self.commands(session, &commands, false)).await;
                        negotiation::escape_iac(&result.text, &mut out);
                        if result.exit {
                            end = Some(CloseReason::Plugin("logout"));
                        } else {
                            out.extend_from_slice(shell.prompt().as_bytes());
                        }
                        Stage::Shell(shell)
                    }
                };
                if too_long {
                    end = Some(CloseReason::LineTooLong);
                }
                if end.is_some() {
                    break;
                }
            }
            // Lines that came in the same read as `exit` (or Ctrl-D), and a last line not
            // ended: the attacker sent them, so they are kept, raw, though no shell reads them.
            let mut unread: Vec<u8> = Vec::new();
            if end.is_some() {
                for event in queued {
                    if let LineEvent::Line(line) | LineEvent::TooLong(line) = event {
                        unread.extend_from_slice(&line);
                        unread.push(b'\n');
                    }
                }
                unread.extend_from_slice(editor.pending());
            }
            if !unread.is_empty() {
                Box::pin(session.record_raw("sent after the session ended (logout)", &unread))
                    .await;
            }
            if !out.is_empty()
                && let Err(reason) = conn.write_all(&out).await
            {
                // The peer is gone: keep what it typed all the same.
                Box::pin(self.finish(session, &stage, editor.pending())).await;
                return Err(reason);
            }
            if let Some(reason) = end {
                Box::pin(self.finish(session, &stage, &[])).await;
                return Err(conn.close(reason));
            }
        }
    }
}

impl Plugin for TelnetPlugin {
    fn protocol(&self) -> &str {
        "telnet"
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            text("input_type"),
            text("user_input"),
            text("username"),
            text("password"),
            integer("unterminated"),
        ]
    }

    fn handle<'a>(
        &'a self,
        conn: &'a mut Connection,
        session: &'a mut Session,
    ) -> HandlerFuture<'a> {
        Box::pin(self.converse(conn, session))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    /// The problems `build` reports for `options`, as `key: reason`.
    fn problems(options: &str) -> Vec<String> {
        let options: toml::Table = toml::from_str(options).unwrap();
        let limits = Limits::default();
        let settings = PluginSettings {
            name: "t",
            options: &options,
            limits: &limits,
            config_dir: std::path::Path::new("."),
            data_dir: std::path::Path::new("."),
        };
        match build(&settings) {
            Ok(_) => Vec::new(),
            Err(problems) => problems
                .iter()
                .map(|p| format!("{}: {}", p.key, p.reason))
                .collect(),
        }
    }

    #[test]
    fn options_default_and_every_problem_is_reported() {
        assert!(problems("").is_empty());
        assert!(problems("hostname = 'gw-1.lan'").is_empty());
        assert_eq!(
            problems("hostname = 'bad host'\nother = 1"),
            [
                "other: unknown option (known: hostname)",
                "hostname: must be 1 to 64 letters, digits, '-' or '.'",
            ]
        );
        assert_eq!(
            problems("hostname = 5"),
            ["hostname: expected a string, found integer"]
        );
    }
}
