//! The telnet plug-in (`kind = "telnet"`): real option negotiation, `login:` and `Password:`
//! prompts, and after any login a busybox shell of an embedded Linux device answered from a fake
//! filesystem. Nothing is executed and nothing is downloaded; every username, password and
//! command (split on `;`, `&&`, `||`, `|`) is recorded.
//!
//! Negotiation and line editing ([`negotiation`]) and the shell ([`shell`]) are pure; this
//! module is the socket side.

pub mod negotiation;
pub mod shell;

use std::sync::Arc;

use serde_json::Value;
use store::{Column, EventType};

use crate::connection::{CloseReason, Connection};
use crate::plugin::{
    HandlerFuture, OptionProblem, Plugin, PluginSettings, option_str, text, unknown_options,
};
use crate::session::{Session, row};
use negotiation::{LineEditor, LineEvent, TelnetDecoder};
use shell::Shell;

/// The telnet plug-in and its options.
#[derive(Debug, Clone)]
pub struct TelnetPlugin {
    hostname: String,
    max_line_bytes: usize,
}

/// Builds the plug-in; option `hostname` (shown in the login prompt) is optional.
pub fn build(settings: &PluginSettings<'_>) -> Result<Arc<dyn Plugin>, Vec<OptionProblem>> {
    let mut problems = Vec::new();
    unknown_options(settings.options, &["hostname"], &mut problems);
    let hostname = option_str(settings.options, "hostname", &mut problems).unwrap_or("router");
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
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Arc::new(TelnetPlugin {
        hostname: hostname.to_owned(),
        max_line_bytes: settings.limits.max_line_bytes,
    }))
}

/// What busybox's ash prints when a login shell starts.
const MOTD: &str = "\r\n\r\nBusyBox v1.24.1 (2017-03-09 11:08:39 CST) built-in shell (ash)\r\nEnter 'help' for a list of built-in commands.\r\n\r\n";

/// Where the conversation is.
enum Stage {
    User,
    Password { user: String },
    Shell(Box<Shell>),
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl TelnetPlugin {
    async fn login(&self, session: &mut Session, user: &str, password: Option<&str>) {
        session
            .record(
                EventType::TelnetLogin,
                row([
                    ("input_type", "login".into()),
                    ("username", user.into()),
                    ("password", password.map_or(Value::Null, Value::from)),
                ]),
            )
            .await;
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
        // Grown on demand: an idle session should cost as little as possible.
        let mut out = Vec::new();
        out.extend_from_slice(negotiation::greeting());
        // Busybox telnetd sends "\r\r\n" before the first prompt: scanners match on it.
        out.extend_from_slice(format!("\r\r\n{} login: ", self.hostname).as_bytes());
        conn.write_all(&out).await?;
        loop {
            if let Err(reason) = conn.read_more().await {
                if let Stage::Password { user } = &stage {
                    self.login(session, user, None).await;
                }
                return Err(reason);
            }
            let input = conn.take_buffer();
            data.clear();
            reply.clear();
            echo.clear();
            events.clear();
            decoder.decode(&input, &mut data, &mut reply);
            let hide = matches!(stage, Stage::Password { .. });
            editor.push(&data, !hide, &mut echo, &mut events);
            out.clear();
            out.extend_from_slice(&reply);
            negotiation::escape_iac(&echo, &mut out);
            let mut end: Option<CloseReason> = None;
            for event in events.drain(..) {
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
                            _ => {
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
                let line = lossy(&line);
                stage = match stage {
                    Stage::User => {
                        if line.trim().is_empty() {
                            out.extend_from_slice(format!("{} login: ", self.hostname).as_bytes());
                            Stage::User
                        } else {
                            out.extend_from_slice(b"Password: ");
                            Stage::Password { user: line }
                        }
                    }
                    Stage::Password { user } => {
                        self.login(session, &user, Some(&line)).await;
                        let shell = Shell::new(&user);
                        out.extend_from_slice(b"\r\n");
                        out.extend_from_slice(MOTD.as_bytes());
                        out.extend_from_slice(shell.prompt().as_bytes());
                        Stage::Shell(Box::new(shell))
                    }
                    Stage::Shell(mut shell) => {
                        let result = shell.run_line(&line);
                        for command in &result.commands {
                            session
                                .record(
                                    EventType::TelnetCommand,
                                    row([
                                        ("input_type", "command".into()),
                                        ("user_input", command.as_str().into()),
                                    ]),
                                )
                                .await;
                        }
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
            if !out.is_empty() {
                conn.write_all(&out).await?;
            }
            if let Some(reason) = end {
                if let Stage::Password { user } = &stage {
                    self.login(session, user, None).await;
                }
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
