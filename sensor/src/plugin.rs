//! The plug-in API: the [`Plugin`] trait every service implements, and the [`registry`] that maps
//! a config `kind` to a constructor. `recce7 check-config` and start-up both use the registry, so
//! the list of kinds lives in one place.
//!
//! A plug-in gets its instance's `[plugin.options]` table when it is built (which it reads into
//! its own typed options struct with [`crate::plugins::options::read_options`]), and a
//! [`Connection`] plus a [`Session`] for each attacker. That is all a config-only kind (a banner,
//! prompts and regex replies from TOML) needs too: it is one more constructor in the registry
//! reading its rules from `options`, with no change to the trait.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use store::{Column, ColumnType, EventType};

use crate::connection::{CloseReason, Connection};
use crate::limits::Limits;
use crate::session::Session;

/// The future a handler returns: borrows the connection and session for the conversation.
pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<(), CloseReason>> + Send + 'a>>;

/// A service the sensor offers to attackers.
///
/// One value per configured instance, shared by all of its sessions (hence `Sync`); per-session
/// state lives in the handler's future.
pub trait Plugin: Send + Sync + 'static {
    /// The protocol spoken, recorded in every event (`telnet`, `http`, ...).
    fn protocol(&self) -> &str;

    /// The columns this plug-in records in its table, by name and type. The instance's configured
    /// columns must include them; by default the table has exactly these.
    fn columns(&self) -> Vec<Column>;

    /// The login counters of a plug-in that logs users in (its credential policy's,
    /// [`crate::credentials`]), shown as `recce7_logins_total`; `None` for the others.
    fn logins(&self) -> Option<Arc<crate::credentials::LoginCounters>> {
        None
    }

    /// Talks to one attacker until the conversation ends. Return `Ok(())` when the plug-in ends
    /// it (after [`Connection::close`] with a reason) or `Err(reason)` from a failed read or
    /// write; the sensor then records the session's end either way.
    fn handle<'a>(
        &'a self,
        conn: &'a mut Connection,
        session: &'a mut Session,
    ) -> HandlerFuture<'a>;
}

/// What a plug-in's constructor receives.
#[derive(Debug)]
pub struct PluginSettings<'a> {
    /// The instance's name.
    pub name: &'a str,
    /// The instance's `[plugin.options]` table (empty when absent).
    pub options: &'a toml::Table,
    /// The sensor's limits.
    pub limits: &'a Limits,
    /// The directory of the config file, against which relative paths in options (a script)
    /// are resolved; `.` for a config that is not a file.
    pub config_dir: &'a std::path::Path,
    /// The directory of the sensor's database, where a plug-in keeps what it generates once
    /// per install (the SSH host key); `.` when the database path has no directory.
    pub data_dir: &'a std::path::Path,
}

/// A problem with one option, reported as `plugin[i].options.<key>: <reason>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionProblem {
    /// The key under `options`.
    pub key: String,
    /// Why it is wrong.
    pub reason: String,
}

impl OptionProblem {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> OptionProblem {
        OptionProblem {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// Builds a plug-in from its settings, or lists every problem with its options.
pub type BuildFn = fn(&PluginSettings<'_>) -> Result<Arc<dyn Plugin>, Vec<OptionProblem>>;

/// One entry of the registry.
#[derive(Debug, Clone, Copy)]
pub struct PluginKind {
    /// The config `kind`.
    pub name: &'static str,
    /// One line for `recce7 check-config` and the docs.
    pub description: &'static str,
    /// The constructor.
    pub build: BuildFn,
    /// Every event type an instance of this kind can record: its metrics have a series for
    /// each of these and for no other (no telnet instance with `http.request` events).
    pub events: &'static [EventType],
}

/// What every session records, whatever its kind.
const SESSION_EVENTS: [EventType; 2] = [EventType::SessionStart, EventType::SessionEnd];

/// Every plug-in kind this build knows.
pub fn registry() -> &'static [PluginKind] {
    &[
        PluginKind {
            name: "telnet",
            description: "telnet login and a busybox shell of an embedded Linux device",
            build: crate::plugins::telnet::build,
            events: &[
                SESSION_EVENTS[0],
                SESSION_EVENTS[1],
                EventType::TelnetLogin,
                EventType::TelnetCommand,
                // What the shell saw written and named.
                EventType::FileWritten,
                EventType::DownloadAttempt,
                // What arrives after `exit`, and input that is not telnet.
                EventType::InputRaw,
            ],
        },
        PluginKind {
            name: "ssh",
            description: "SSH server (Dropbear's banner and algorithms): logins, the same shell as telnet, forwards refused",
            build: crate::plugins::ssh_build,
            events: &[
                SESSION_EVENTS[0],
                SESSION_EVENTS[1],
                EventType::SshClient,
                EventType::SshLogin,
                EventType::SshCommand,
                EventType::SshForward,
                // scp and SFTP uploads, and what the shell saw written and named.
                EventType::FileWritten,
                EventType::DownloadAttempt,
                // A client that is not SSH at all.
                EventType::InputRaw,
            ],
        },
        PluginKind {
            name: "http",
            description: "HTTP/1.x server with an embedded device's login page",
            build: crate::plugins::http::build,
            events: &[
                SESSION_EVENTS[0],
                SESSION_EVENTS[1],
                EventType::HttpRequest,
                EventType::InputRaw,
            ],
        },
        PluginKind {
            name: "banner",
            description: "example: a banner, then every line recorded and answered",
            build: crate::plugins::banner::build,
            // Input that is not the service's protocol is recorded raw (foreign.rs).
            events: &[
                SESSION_EVENTS[0],
                SESSION_EVENTS[1],
                EventType::ServiceInput,
                EventType::InputRaw,
            ],
        },
        PluginKind {
            name: "rules",
            description: "declarative: a greeting, states and pattern-to-reply rules (FTP, SMTP, POP3, ...)",
            build: crate::plugins::rules::build,
            events: &[
                SESSION_EVENTS[0],
                SESSION_EVENTS[1],
                EventType::ServiceInput,
                EventType::InputRaw,
            ],
        },
        PluginKind {
            name: "lua",
            description: "a sandboxed Lua 5.4 script (docs/plugins.md, Tier 2)",
            build: crate::plugins::lua::build,
            events: &[
                SESSION_EVENTS[0],
                SESSION_EVENTS[1],
                EventType::ServiceInput,
                EventType::InputRaw,
            ],
        },
    ]
}

/// Looks a kind up by name.
pub fn find_kind(name: &str) -> Option<&'static PluginKind> {
    registry().iter().find(|k| k.name == name)
}

/// Shorthand for a TEXT column.
pub fn text(name: &str) -> Column {
    Column::new(name, ColumnType::Text)
}

/// Shorthand for an INTEGER column.
pub fn integer(name: &str) -> Column {
    Column::new(name, ColumnType::Integer)
}
