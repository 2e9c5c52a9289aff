//! The telnet plug-in (`kind = "telnet"`): real option negotiation, `login:` and `Password:`
//! prompts refused and accepted by the instance's credential policy ([`crate::credentials`],
//! BusyBox `login`'s delay, `Login incorrect` and three tries a connection), and after a login
//! a busybox shell of an embedded Linux device answered from a fake filesystem. Nothing is
//! executed and nothing is downloaded; every username, password (with the policy's `outcome`)
//! and command (split on `;`, `&&`, `||`, `|`) is recorded with its exact bytes
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
use crate::credentials::{self, CredentialPolicy, LoginOutcome};
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
    /// The `hostname` option; none: the persona's.
    hostname: Option<String>,
    /// Who logs in ([`crate::credentials`]).
    credentials: Arc<CredentialPolicy>,
    max_line_bytes: usize,
    max_raw_bytes: usize,
}

/// `[plugin.options]` of a telnet instance; every key is optional.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelnetOptions {
    /// The device's name, shown in the login prompt (`router login:`) and by the shell: 1 to
    /// 64 letters, digits, `-` or `.`. Default: the persona's (`[persona] hostname`, generated
    /// per install; docs/deception.md).
    pub hostname: Option<String>,
    /// `[plugin.options.credentials]`: who logs in, read by
    /// [`crate::credentials::CredentialOptions`]. Default: its defaults.
    pub credentials: toml::Table,
}

impl Default for TelnetOptions {
    fn default() -> TelnetOptions {
        TelnetOptions {
            hostname: None,
            credentials: toml::Table::new(),
        }
    }
}

impl TelnetOptions {
    /// Checks the values; every problem, by key.
    pub fn validate(&self) -> Vec<OptionProblem> {
        let mut problems = Vec::new();
        if let Some(hostname) = &self.hostname
            && !crate::persona::valid_hostname(hostname)
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
    let credentials = match credentials::build(&options.credentials, settings.config_dir) {
        Ok(policy) => Some(policy),
        Err(more) => {
            problems.extend(more);
            None
        }
    };
    let Some(credentials) = credentials.filter(|_| problems.is_empty()) else {
        return Err(problems);
    };
    Ok(Arc::new(TelnetPlugin {
        hostname: options.hostname,
        credentials: Arc::new(credentials),
        max_line_bytes: settings.limits.max_line_bytes,
        max_raw_bytes: settings.limits.max_raw_bytes,
    }))
}

/// Failed logins after which BusyBox's `login` exits (and telnetd closes the connection).
const MAX_LOGIN_FAILURES: u32 = 3;

/// What BusyBox's `login` prints after its delay when a login fails.
const LOGIN_INCORRECT: &[u8] = b"Login incorrect\r\n";

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
    /// Records a login attempt; `outcome` is the policy's decision, `None` for an attempt
    /// that never submitted a password (cut off, or Ctrl-C at `Password:`).
    async fn login(
        &self,
        session: &mut Session,
        user: &[u8],
        password: Option<&[u8]>,
        unterminated: bool,
        outcome: Option<LoginOutcome>,
    ) {
        let mut data = row([
            ("input_type", "login".into()),
            ("username", escape_text(user).into()),
            (
                "password",
                password.map_or(Value::Null, |p| escape_text(p).into()),
            ),
        ]);
        if let Some(outcome) = outcome {
            data.insert("outcome".into(), outcome.as_str().into());
        }
        if unterminated {
            data.insert("unterminated".into(), true.into());
        }
        session.record(EventType::TelnetLogin, data).await;
    }

    async fn commands(&self, session: &mut Session, commands: &[&[u8]], unterminated: bool) {
        shell::record::record_commands(
            session,
            EventType::TelnetCommand,
            "command",
            commands,
            unterminated,
        )
        .await;
    }

    /// Records what the session leaves behind when it ends: `pending`, a line typed without
    /// Enter (marked unterminated), and a username still waiting for its password.
    async fn finish(&self, session: &mut Session, stage: &mut Stage, pending: &[u8]) {
        match stage {
            Stage::User if is_username(pending) => {
                self.login(session, pending, None, true, None).await;
            }
            Stage::User => {}
            Stage::Password { user } => {
                let password = (!pending.is_empty()).then_some(pending);
                self.login(session, user, password, password.is_some(), None)
                    .await;
            }
            Stage::Shell(shell) => {
                let commands = shell::split_command_bytes(pending);
                self.commands(session, &commands, true).await;
                // What the session wrote and never settled is recorded now.
                let files = shell.finish();
                shell::record::record_files(session, &files).await;
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
        // The device's name: the option's, or the persona's.
        let hostname = self
            .hostname
            .clone()
            .unwrap_or_else(|| session.persona().hostname.clone());
        // Logins refused on this connection.
        let mut failures = 0u32;
        let (mut data, mut reply, mut echo, mut events) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // Until the login succeeds: every byte received, to tell telnet from a TLS hello or
        // noise and to record the latter exactly (grown on demand, dropped at login).
        let mut before_login = Some(RawCapture::new(self.max_raw_bytes));
        // Grown on demand: an idle session should cost as little as possible.
        let mut out = Vec::new();
        out.extend_from_slice(negotiation::greeting());
        // Busybox telnetd sends "\r\r\n" before the first prompt: scanners match on it.
        out.extend_from_slice(format!("\r\r\n{} login: ", hostname).as_bytes());
        conn.write_all(&out).await?;
        loop {
            if let Err(reason) = conn.read_more().await {
                Box::pin(self.finish(session, &mut stage, editor.pending())).await;
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
                                Box::pin(self.login(session, &user, None, false, None)).await;
                                out.extend_from_slice(format!("{} login: ", hostname).as_bytes());
                                Stage::User
                            }
                            Stage::User => {
                                out.extend_from_slice(format!("{} login: ", hostname).as_bytes());
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
                            out.extend_from_slice(format!("{} login: ", hostname).as_bytes());
                            Stage::User
                        }
                    }
                    Stage::Password { user } => {
                        let outcome = self.credentials.check(conn.peer().ip(), &user, &line);
                        Box::pin(self.login(session, &user, Some(&line), false, Some(outcome)))
                            .await;
                        if !outcome.is_accepted() {
                            failures += 1;
                            // BusyBox ends the hidden password's line at once, sleeps, says
                            // so, and asks again (or exits after its third failure).
                            out.extend_from_slice(b"\r\n");
                            if let Err(reason) = conn.write_all(&out).await {
                                Box::pin(self.finish(session, &mut Stage::User, editor.pending()))
                                    .await;
                                return Err(reason);
                            }
                            out.clear();
                            // Never past the session's end nor a shutdown's grace period.
                            if let Err(reason) = conn.sleep(self.credentials.failure_delay()).await
                            {
                                Box::pin(self.finish(session, &mut Stage::User, editor.pending()))
                                    .await;
                                return Err(reason);
                            }
                            out.extend_from_slice(LOGIN_INCORRECT);
                            if failures >= MAX_LOGIN_FAILURES {
                                end = Some(CloseReason::Plugin("login incorrect"));
                            } else {
                                out.extend_from_slice(format!("{} login: ", hostname).as_bytes());
                            }
                            stage = Stage::User;
                            if too_long {
                                end = Some(CloseReason::LineTooLong);
                            }
                            if end.is_some() {
                                break;
                            }
                            continue;
                        }
                        before_login = None;
                        let persona = match &self.hostname {
                            Some(name) if *name != session.persona().hostname => {
                                Arc::new(crate::persona::Persona {
                                    hostname: name.clone(),
                                    ..(**session.persona()).clone()
                                })
                            }
                            _ => session.persona().clone(),
                        };
                        let shell = Shell::with_persona(&String::from_utf8_lossy(&user), persona);
                        out.extend_from_slice(b"\r\n");
                        out.extend_from_slice(shell.banner().as_bytes());
                        out.extend_from_slice(shell.prompt().as_bytes());
                        Stage::Shell(Box::new(shell))
                    }
                    Stage::Shell(mut shell) => {
                        let result = shell.run_input(&line);
                        Box::pin(shell::record::record_output(
                            session,
                            EventType::TelnetCommand,
                            "command",
                            &result,
                        ))
                        .await;
                        // The answer as the device gives it: up to each pause, then a wait.
                        for (text, wait) in result.segments() {
                            negotiation::escape_iac(text, &mut out);
                            if wait.is_zero() {
                                continue;
                            }
                            if let Err(reason) = conn.write_all(&out).await {
                                let mut stage = Stage::Shell(shell);
                                Box::pin(self.finish(session, &mut stage, &[])).await;
                                return Err(reason);
                            }
                            out.clear();
                            tokio::time::sleep(wait).await;
                        }
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
                Box::pin(self.finish(session, &mut stage, editor.pending())).await;
                return Err(reason);
            }
            if let Some(reason) = end {
                Box::pin(self.finish(session, &mut stage, &[])).await;
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
            text("outcome"),
        ]
    }

    fn logins(&self) -> Option<Arc<credentials::LoginCounters>> {
        Some(self.credentials.counters())
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

    /// The problems `build` reports for `options`, as `key: reason`.
    fn problems(options: &str) -> Vec<String> {
        crate::plugins::options::build_problems(build, options)
    }

    #[test]
    fn options_default_and_every_problem_is_reported() {
        assert!(problems("").is_empty());
        assert!(problems("hostname = 'gw-1.lan'").is_empty());
        assert_eq!(
            problems("hostname = 'bad host'\nother = 1"),
            [
                "other: unknown option (known: hostname, credentials)",
                "hostname: must be 1 to 64 letters, digits, '-' or '.'",
            ]
        );
        assert_eq!(
            problems("hostname = 5"),
            ["hostname: expected a string, found integer"]
        );
        assert!(problems("[credentials]\naccept_after = [0, 0]").is_empty());
        assert_eq!(
            problems("hostname = ''\n[credentials]\naccept_after = [2, 1]\nmax_sources = -1"),
            [
                "hostname: must be 1 to 64 letters, digits, '-' or '.'",
                "credentials.max_sources: invalid value: integer `-1`, expected usize in `max_sources`",
                "credentials.accept_after: min (2) is greater than max (1)",
            ]
        );
        assert_eq!(
            problems("credentials = 3"),
            ["credentials: expected a map, found integer"]
        );
    }
}
