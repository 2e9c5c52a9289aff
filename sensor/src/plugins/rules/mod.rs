//! Declarative plug-ins (`kind = "rules"`): a greeting, named states, and per state an ordered
//! list of rules, each a pattern on the line received with a reply, a delay, a next state, a
//! close, columns to record and session variables to set, all in TOML (docs/plugins.md, "Tier 1").
//! Enough for FTP (with passive data connections, [`data_channel`]), SMTP, POP3, IMAP, Redis's
//! inline commands and text banners, without writing Rust.
//!
//! Patterns are regex-lite expressions, compiled once when the instance is built; regex-lite
//! searches in `O(m * n)` time (pattern size times line length), with no backtracking an
//! attacker could stall, on lines bounded by `max_line`. Templates are parsed once into a small
//! list of pieces ([`template`]); matching and the state machine are pure ([`engine`]); this
//! module is the socket side.
//!
//! ```toml
//! [[plugin]]
//! name = "pop3"
//! kind = "rules"
//! port = 1110
//! table = "pop3"
//! [plugin.options]
//! protocol = "pop3"
//! greeting = "+OK POP3 server ready\r\n"
//! unknown = "-ERR unknown command\r\n"
//! [[plugin.options.states.start]]
//! pattern = '(?i)^USER (.*)$'
//! reply = "+OK\r\n"
//! set = { user = "{1}" }
//! [[plugin.options.states.start]]
//! pattern = '(?i)^PASS (.*)$'
//! reply = "-ERR [AUTH] Authentication failed.\r\n"
//! record = { username = "{var.user}", password = "{1}" }
//! [[plugin.options.states.start]]
//! pattern = '(?i)^QUIT'
//! reply = "+OK Bye\r\n"
//! close = true
//! ```

pub mod data_channel;
pub mod engine;
pub mod options;
pub mod template;

use std::sync::Arc;
use std::time::Duration;

use store::{Column, EventType};

use crate::connection::{CloseReason, Connection, Line};
use crate::plugin::{HandlerFuture, OptionProblem, Plugin, PluginSettings, integer, text};
use crate::plugins::foreign;
use crate::session::Session;

use data_channel::{DataChannel, Transfer};
use engine::{Conversation, Place};
use options::Compiled;

/// How much earlier than the idle timeout a session with an `idle_close_reply` is answered,
/// so that the reply goes out before the connection's own idle deadline closes it.
const IDLE_REPLY_MARGIN: Duration = Duration::from_millis(500);

/// A rules instance: its compiled state machine and settings.
#[derive(Debug, Clone)]
pub struct RulesPlugin {
    compiled: Compiled,
    max_raw_bytes: usize,
    idle_timeout: Duration,
}

/// Builds a [`RulesPlugin`] from `[plugin.options]` ([`options::RulesOptions`]).
pub fn build(settings: &PluginSettings<'_>) -> Result<Arc<dyn Plugin>, Vec<OptionProblem>> {
    Ok(Arc::new(RulesPlugin::new(settings)?))
}

impl RulesPlugin {
    /// Checks and compiles the options.
    pub fn new(settings: &PluginSettings<'_>) -> Result<RulesPlugin, Vec<OptionProblem>> {
        Ok(RulesPlugin {
            compiled: options::compile(settings.options, settings.limits)?,
            max_raw_bytes: settings.limits.max_raw_bytes,
            idle_timeout: settings.limits.idle_timeout,
        })
    }

    async fn converse(
        &self,
        conn: &mut Connection,
        session: &mut Session,
    ) -> Result<(), CloseReason> {
        let rules = &self.compiled.rules;
        let mut conv = rules.start();
        let mut channel = DataChannel::default();
        let greeting = {
            let place = place(conn, session, &channel);
            rules.render_plain(&self.compiled.greeting, &conv, place)
        };
        conn.write_all(&greeting).await?;
        if self.compiled.options.screen_foreign && conn.buffer().is_empty() {
            // The first input is awaited here (screening waits for a whole line after it), so
            // that a peer that never sends anything still gets the idle reply.
            if let Some(early) = self.idle_reply_after() {
                let waited = tokio::time::timeout(early, conn.read_more()).await;
                match waited {
                    Ok(read) => {
                        read?;
                    }
                    Err(_) => {
                        self.idle_close(conn, session, &conv, &channel).await?;
                        return Ok(());
                    }
                }
            }
        }
        // Boxed: it runs once, at the start, and its drain is larger than the wait for a line.
        if self.compiled.options.screen_foreign
            && Box::pin(foreign::screen_first_line(
                conn,
                session,
                self.max_raw_bytes,
                "not the service's protocol",
                "not the service's protocol",
            ))
            .await
        {
            return Ok(());
        }
        loop {
            if conv.steps >= self.compiled.options.max_steps {
                let reason = conn.close(CloseReason::Plugin("rules: step limit"));
                // What arrived past the limit is kept, raw, not dropped.
                foreign::record_unread(conn, session, reason.as_str()).await;
                return Ok(());
            }
            let Some(line) = self.next_line(conn, session, &conv, &channel).await? else {
                return Ok(());
            };
            // Boxed: the step's future (delays, data transfers) is larger than the wait for
            // a line, and only one is alive at a time.
            let close = Box::pin(self.step(conn, session, &mut conv, &mut channel, line)).await?;
            if close {
                conn.close(CloseReason::Plugin("rules: close"));
                conn.shutdown().await;
                return Ok(());
            }
        }
    }

    /// The next line; `None` when the session was closed after the idle reply.
    async fn next_line(
        &self,
        conn: &mut Connection,
        session: &mut Session,
        conv: &Conversation,
        channel: &DataChannel,
    ) -> Result<Option<Line>, CloseReason> {
        let read = match self.idle_reply_after() {
            Some(early) => {
                // Cancelling read_line loses nothing: bytes stay in the buffer.
                let waited = tokio::time::timeout(early, conn.read_line()).await;
                match waited {
                    Ok(read) => read,
                    Err(_) => {
                        self.idle_close(conn, session, conv, channel).await?;
                        return Ok(None);
                    }
                }
            }
            None => conn.read_line().await,
        };
        match read {
            Ok(line) => Ok(Some(line)),
            Err(reason) => {
                // Only a line over the limit leaves input behind: keep it raw.
                foreign::record_unread(conn, session, reason.as_str()).await;
                Err(reason)
            }
        }
    }

    /// How long a session may wait for input before the `idle_close_reply`, when there is one.
    fn idle_reply_after(&self) -> Option<Duration> {
        let early = self.idle_timeout.saturating_sub(IDLE_REPLY_MARGIN);
        (self.compiled.idle_close_reply.is_some() && !early.is_zero()).then_some(early)
    }

    /// Sends the `idle_close_reply` and ends the connection as idle.
    async fn idle_close(
        &self,
        conn: &mut Connection,
        session: &Session,
        conv: &Conversation,
        channel: &DataChannel,
    ) -> Result<(), CloseReason> {
        let Some(reply) = &self.compiled.idle_close_reply else {
            return Ok(());
        };
        let text = {
            let place = place(conn, session, channel);
            self.compiled.rules.render_plain(reply, conv, place)
        };
        // Boxed: rare, and it must not add to the size of the wait.
        Box::pin(close_with(conn, text, CloseReason::IdleTimeout)).await
    }

    /// Handles one line; whether to close after it.
    async fn step(
        &self,
        conn: &mut Connection,
        session: &mut Session,
        conv: &mut Conversation,
        channel: &mut DataChannel,
        line: Line,
    ) -> Result<bool, CloseReason> {
        let rules = &self.compiled.rules;
        let text = String::from_utf8_lossy(cut(&line, self.compiled.max_line));
        let chosen = rules.choose(conv.state, &text);
        if let Some((rule, _)) = &chosen {
            if rule.passive && channel.open_passive(conn.local().ip()).await.is_none() {
                // Debug only: an attacker can repeat PASV as often as it likes.
                tracing::debug!(
                    plugin = session.plugin(),
                    "no passive data listener could be bound"
                );
            }
            if rule.active {
                channel.set_active();
            }
        }
        let data_rule = chosen.as_ref().is_some_and(|(rule, _)| rule.data.is_some());
        let mut outcome = {
            let place = place(conn, session, channel);
            rules.apply(
                conv,
                chosen.as_ref().map(|(rule, caps)| (*rule, caps)),
                &line,
                &text,
                place,
            )
        };
        if let Some(row) = outcome.row.as_mut() {
            if !line.terminated {
                row.insert("unterminated".into(), true.into());
            }
            session
                .record(EventType::ServiceInput, std::mem::take(row))
                .await;
        }
        if !outcome.delay.is_zero() {
            conn.sleep(outcome.delay).await?;
        }
        if !data_rule {
            conn.write_all(&outcome.reply).await?;
            return Ok(outcome.close);
        }
        let place = place(conn, session, channel);
        let plain = |t| rules.render_plain(t, conv, place);
        match channel.ready() {
            Transfer::Missing => conn.write_all(&plain(&self.compiled.data_missing)).await?,
            Transfer::Active | Transfer::Failed => {
                conn.write_all(&plain(&self.compiled.data_failed)).await?;
            }
            Transfer::Sent => {
                conn.write_all(&outcome.reply).await?;
                let mut data = std::mem::take(&mut outcome.data);
                data.truncate(self.compiled.options.max_data_bytes);
                let wait = Duration::from_secs(self.compiled.options.data_timeout_secs);
                let peer = conn.peer().ip();
                let sent = tokio::select! {
                    sent = channel.send(peer, &data, wait) => sent,
                    _ = conn.closing() => return Err(conn.close(CloseReason::Shutdown)),
                };
                match sent {
                    Transfer::Sent => conn.write_all(&outcome.after_data).await?,
                    _ => conn.write_all(&plain(&self.compiled.data_failed)).await?,
                }
            }
        }
        Ok(outcome.close)
    }
}

/// Sends `text`, then ends the connection for `reason`.
async fn close_with(
    conn: &mut Connection,
    text: Vec<u8>,
    reason: CloseReason,
) -> Result<(), CloseReason> {
    conn.write_all(&text).await?;
    conn.close(reason);
    conn.shutdown().await;
    Ok(())
}

/// What templates see of the session.
fn place<'a>(conn: &Connection, session: &'a Session, channel: &DataChannel) -> Place<'a> {
    Place {
        peer: conn.peer(),
        local: conn.local(),
        session: session.id(),
        passive_port: channel.passive_port(),
    }
}

/// The first `max` bytes of a line (all of it when shorter).
fn cut(line: &[u8], max: usize) -> &[u8] {
    line.get(..max).unwrap_or(line)
}

impl Plugin for RulesPlugin {
    fn protocol(&self) -> &str {
        &self.compiled.options.protocol
    }

    fn columns(&self) -> Vec<Column> {
        let mut columns = vec![text("line"), text("state"), integer("unterminated")];
        columns.extend(self.compiled.record_columns.iter().map(|c| text(c)));
        columns
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
mod tests;
