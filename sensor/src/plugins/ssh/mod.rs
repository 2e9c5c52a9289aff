//! The SSH plug-in (`kind = "ssh"`): a pure-Rust SSH server ([`russh`]) that presents the
//! persona's daemon (Dropbear 2020.81: its banner and, as far as russh implements them, its
//! algorithm lists), records the client's version and HASSH, every login attempt (password,
//! keyboard-interactive, public key) with its outcome, and runs the same shell as telnet on
//! `shell` and `exec` channels. Port forwarding is recorded and refused; nothing ever connects
//! outward. docs/ssh.md lists what differs from the real Dropbear.
//!
//! russh wants a stream it owns; the plug-in gives it one end of an in-memory pipe and copies
//! between the pipe and the [`Connection`], so the sensor's limits (idle and session time,
//! session bytes, shutdown) hold as for every plug-in, and the client's first bytes are seen
//! on the way ([`wire`]). The russh handler ([`handler`]) sends its events back over a bounded
//! queue; this module records them in the session.

pub mod handler;
pub mod hostkey;
pub mod login;
pub mod output;
pub mod scp;
pub mod sftp;
pub mod wire;

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::keys::{Algorithm, EcdsaCurve};
use russh::{MethodKind, MethodSet, Preferred, SshId, cipher, compression, kex, mac};
use serde::Deserialize;
use serde_json::Value;
use store::{Column, EventType, Row, escape_text};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::connection::{CloseReason, Connection};
use crate::credentials::{self, CredentialPolicy};
use crate::persona::Persona;
use crate::plugin::{HandlerFuture, OptionProblem, Plugin, PluginSettings, integer, text};
use crate::plugins::options::read_options;
use crate::session::{Session, row};
use handler::SshHandler;

/// Bytes the pipe between the connection and russh holds in each direction.
const PIPE_BYTES: usize = 16 * 1024;

/// Events the handler may queue before it waits for the recorder.
const EVENT_QUEUE: usize = 32;

/// How long russh may take to finish once the connection has ended.
const DRAIN: Duration = Duration::from_secs(2);

/// Dropbear's answer to a failed attempt is not instant; neither is ours (and a brute-forcer
/// is slowed as by the real daemon).
const AUTH_REJECTION: Duration = Duration::from_millis(300);

/// `[plugin.options]` of an SSH instance; every key is optional.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SshOptions {
    /// Login attempts allowed per connection before the server disconnects (Dropbear: 10);
    /// public keys offered are bounded by the same number.
    pub max_auth_attempts: usize,
    /// `[plugin.options.credentials]`: who logs in, as for telnet
    /// ([`crate::credentials::CredentialOptions`]). Default: its defaults.
    pub credentials: toml::Table,
}

impl Default for SshOptions {
    fn default() -> SshOptions {
        SshOptions {
            max_auth_attempts: 10,
            credentials: toml::Table::new(),
        }
    }
}

impl SshOptions {
    /// Checks the values; every problem, by key.
    pub fn validate(&self) -> Vec<OptionProblem> {
        let mut problems = Vec::new();
        if !(1..=100).contains(&self.max_auth_attempts) {
            problems.push(OptionProblem::new(
                "max_auth_attempts",
                "must be between 1 and 100",
            ));
        }
        problems
    }
}

/// The SSH plug-in of one instance.
#[derive(Debug)]
pub struct SshPlugin {
    max_auth_attempts: usize,
    max_line_bytes: usize,
    key_path: PathBuf,
    /// Who logs in ([`crate::credentials`]).
    credentials: Arc<CredentialPolicy>,
    /// The server's config, made at the first connection (the host key is read or generated
    /// then, not when `check-config` builds the plug-in).
    config: Mutex<Option<Arc<russh::server::Config>>>,
}

/// Builds the plug-in from `[plugin.options]` ([`SshOptions`]).
pub fn build(settings: &PluginSettings<'_>) -> Result<Arc<dyn Plugin>, Vec<OptionProblem>> {
    let (options, mut problems) = read_options::<SshOptions>(settings.options);
    problems.extend(options.validate());
    let policy = match credentials::build(&options.credentials, settings.config_dir) {
        Ok(policy) => Some(policy),
        Err(more) => {
            problems.extend(more);
            None
        }
    };
    let Some(policy) = policy.filter(|_| problems.is_empty()) else {
        return Err(problems);
    };
    Ok(Arc::new(SshPlugin {
        max_auth_attempts: options.max_auth_attempts,
        max_line_bytes: settings.limits.max_line_bytes,
        key_path: settings.data_dir.join(hostkey::FILE_NAME),
        credentials: Arc::new(policy),
        config: Mutex::new(None),
    }))
}

/// Dropbear 2020.81's algorithms, in its order, as far as russh has them (docs/ssh.md: what
/// differs).
pub fn preferred() -> Preferred {
    Preferred {
        kex: Cow::Borrowed(&[
            kex::CURVE25519,
            kex::CURVE25519_PRE_RFC_8731,
            kex::ECDH_SHA2_NISTP521,
            kex::ECDH_SHA2_NISTP384,
            kex::ECDH_SHA2_NISTP256,
            kex::DH_G14_SHA256,
            kex::DH_G14_SHA1,
        ]),
        key: Cow::Borrowed(&[Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP256,
        }]),
        host_key_certificates: Cow::Borrowed(&[]),
        cipher: Cow::Borrowed(&[
            cipher::CHACHA20_POLY1305,
            cipher::AES_128_CTR,
            cipher::AES_256_CTR,
        ]),
        mac: Cow::Borrowed(&[mac::HMAC_SHA1, mac::HMAC_SHA256]),
        compression: Cow::Borrowed(&[compression::NONE]),
    }
}

/// The authentication methods offered, the same after every refusal: a device's daemon lets a
/// client try its password again on the same connection (OpenSSH's client asks three times), and
/// a list that shrinks after a wrong password would be a tell and would cut a brute-forcer's
/// attempts per connection.
pub fn methods() -> MethodSet {
    MethodSet::from(
        &[
            MethodKind::PublicKey,
            MethodKind::Password,
            MethodKind::KeyboardInteractive,
        ][..],
    )
}

/// The russh server config of an instance: the persona's banner, Dropbear's algorithms
/// ([`preferred`]), the host key, and logins allowed per connection. The fuzz target
/// `ssh_server` runs the same.
pub fn server_config(
    key: russh::keys::PrivateKey,
    persona: &Persona,
    max_auth_attempts: usize,
) -> russh::server::Config {
    russh::server::Config {
        server_id: SshId::Standard(Cow::Owned(persona.ssh_banner.clone())),
        methods: methods(),
        auth_rejection_time: AUTH_REJECTION,
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![key],
        preferred: preferred(),
        max_auth_attempts,
        // The connection's own limits end idle sessions.
        inactivity_timeout: None,
        window_size: 64 * 1024,
        channel_buffer_size: 16,
        event_buffer_size: 8,
        ..Default::default()
    }
}

impl SshPlugin {
    /// The server config, with the host key read (or generated) the first time.
    fn shared_config(
        &self,
        persona: &Persona,
    ) -> Result<Arc<russh::server::Config>, hostkey::HostKeyError> {
        let mut config = self
            .config
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(config) = config.as_ref() {
            return Ok(Arc::clone(config));
        }
        let key = hostkey::load_or_create(&self.key_path)?;
        let made = Arc::new(server_config(key, persona, self.max_auth_attempts));
        *config = Some(Arc::clone(&made));
        Ok(made)
    }

    async fn converse(
        &self,
        conn: &mut Connection,
        session: &mut Session,
    ) -> Result<(), CloseReason> {
        let config = match self.shared_config(session.persona()) {
            Ok(config) => config,
            Err(e) => {
                tracing::error!(error = %e, "ssh: no host key");
                return Err(conn.close(CloseReason::Plugin("no host key")));
            }
        };
        let (ours, theirs) = tokio::io::duplex(PIPE_BYTES);
        let (events, mut queued) = mpsc::channel(EVENT_QUEUE);
        let handler = SshHandler::new(
            events,
            Arc::clone(&self.credentials) as Arc<dyn login::LoginDecision>,
            Arc::clone(session.persona()),
            conn.peer().ip(),
            self.max_line_bytes,
            self.max_auth_attempts,
        );
        // What ended the SSH layer, when it was the client's doing (a malformed message, no
        // algorithm in common, a password that is not UTF-8): recorded below.
        let mut server = tokio::spawn(async move {
            match russh::server::run_stream(config, theirs, handler).await {
                Ok(running) => running.await.err(),
                Err(e) => Some(e),
            }
        });
        let (mut from_server, mut to_server) = tokio::io::split(ours);
        // The client's first bytes, for its version and HASSH; dropped once read.
        let mut tee = Some(Vec::new());
        let mut inbox = bytes::Bytes::new();
        let mut out = Vec::new();
        let end = loop {
            if out.capacity() == 0 {
                out.reserve(4096);
            }
            tokio::select! {
                read = conn.read_more(), if inbox.is_empty() => match read {
                    Ok(_) => {
                        inbox = conn.take_buffer();
                        if let Some(first) = tee.as_mut() {
                            let room = wire::TEE_BYTES.saturating_sub(first.len());
                            first.extend_from_slice(inbox.get(..room).unwrap_or(&inbox));
                            let full = first.len() >= wire::TEE_BYTES;
                            match wire::parse_client_hello(first, full) {
                                wire::Parsed::Incomplete => {}
                                wire::Parsed::NotSsh => {
                                    // Not an SSH client (an HTTP request, a TLS hello, noise):
                                    // kept raw, as telnet keeps what is not telnet, and closed.
                                    if let Some(first) = tee.take() {
                                        Box::pin(session.record_raw("not SSH", &first)).await;
                                    }
                                    break conn.close(CloseReason::Plugin("not ssh"));
                                }
                                wire::Parsed::Done(hello) => {
                                    tee = None;
                                    Box::pin(record_client(session, &hello)).await;
                                }
                            }
                        }
                    }
                    Err(reason) => break reason,
                },
                wrote = to_server.write(&inbox), if !inbox.is_empty() => match wrote {
                    Ok(n) if n > 0 => {
                        let _ = inbox.split_to(n.min(inbox.len()));
                    }
                    _ => break conn.close(CloseReason::Plugin("ssh closed")),
                },
                read = from_server.read_buf(&mut out) => match read {
                    Ok(n) if n > 0 => {
                        if let Err(reason) = conn.write_all(&out).await {
                            break reason;
                        }
                        out.clear();
                        if out.capacity() > 4 * 4096 {
                            out = Vec::new();
                        }
                    }
                    // The SSH layer ended: the client's disconnect message, too many failed
                    // logins, or a protocol error.
                    _ => break conn.close(CloseReason::Plugin("ssh session ended")),
                },
                Some((kind, data)) = queued.recv() => {
                    Box::pin(session.record(kind, data)).await;
                }
            }
        };
        // A client that sent its version and left before its KEXINIT was complete (a banner
        // grabber) is recorded with what it sent.
        if let Some(first) = tee.take().filter(|first| !first.is_empty()) {
            match wire::parse_client_hello(&first, true) {
                wire::Parsed::Done(hello) => Box::pin(record_client(session, &hello)).await,
                _ => Box::pin(session.record_raw("not SSH", &first)).await,
            }
        }
        // The connection is over: russh sees the pipe close, its handler records what is
        // left (a line typed without Enter) and drops its queue.
        drop(to_server);
        drop(from_server);
        let _ = tokio::time::timeout(DRAIN, async {
            while let Some((kind, data)) = queued.recv().await {
                Box::pin(session.record(kind, data)).await;
            }
        })
        .await;
        match tokio::time::timeout(SERVER_END, &mut server).await {
            Ok(Ok(Some(error))) => {
                if let Some(reason) = protocol_error(&error) {
                    Box::pin(session.record_raw(&reason, &[])).await;
                }
            }
            Ok(_) => {}
            Err(_) => server.abort(),
        }
        Err(end)
    }
}

/// How long the SSH layer may take to end once the connection is over (it sees the pipe close).
const SERVER_END: Duration = Duration::from_millis(200);

/// The longest error text recorded (an error can quote the client's algorithm lists).
const MAX_ERROR_BYTES: usize = 1024;

/// The reason recorded for an SSH layer that ended with `error`, or `None` for an ordinary end
/// (the client hung up, a timeout, the sensor closed the connection). What is left is the
/// client's protocol: a malformed or undecodable message (a password that is not UTF-8 among
/// them: russh refuses it before any handler sees it), no algorithm in common (a scanner's or an
/// old bot's lists, quoted), a failed key exchange.
pub fn protocol_error(error: &russh::Error) -> Option<String> {
    use russh::Error as E;
    if matches!(
        error,
        E::Disconnect
            | E::HUP
            | E::IO(_)
            | E::ConnectionTimeout
            | E::KeepaliveTimeout
            | E::InactivityTimeout
            | E::SendError
            | E::Elapsed(_)
            | E::Join(_)
    ) {
        return None;
    }
    let mut reason = format!("ssh protocol error: {error}");
    if reason.len() > MAX_ERROR_BYTES {
        let mut cut = MAX_ERROR_BYTES;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
        reason.push_str("...");
    }
    Some(reason)
}

/// Records `ssh.client` from the client's first bytes.
async fn record_client(session: &mut Session, hello: &wire::ClientHello) {
    let (hassh, algorithms) = match &hello.kexinit {
        Some(kex) => (
            Value::from(kex.hassh()),
            Value::from(kex.hassh_algorithms()),
        ),
        None => (Value::Null, Value::Null),
    };
    let data = row([
        ("version", escape_text(&hello.version).into()),
        ("hassh", hassh),
        ("hassh_algorithms", algorithms),
    ]);
    session.record(EventType::SshClient, data).await;
}

/// An event the handler asks the plug-in to record.
pub type Queued = (EventType, Row);

impl Plugin for SshPlugin {
    fn protocol(&self) -> &str {
        "ssh"
    }

    fn logins(&self) -> Option<Arc<credentials::LoginCounters>> {
        Some(self.credentials.counters())
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            // ssh.client
            text("version"),
            text("hassh"),
            text("hassh_algorithms"),
            // ssh.login
            text("method"),
            text("username"),
            text("password"),
            text("key_type"),
            text("key_fingerprint"),
            text("outcome"),
            // ssh.command
            text("input_type"),
            text("user_input"),
            integer("unterminated"),
            // ssh.forward
            text("kind"),
            text("host"),
            integer("port"),
            text("originator"),
            integer("refused"),
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

    #[test]
    fn ordinary_ends_are_not_protocol_errors_and_long_ones_are_cut() {
        let hung_up = russh::Error::IO(std::io::ErrorKind::UnexpectedEof.into());
        for ordinary in [russh::Error::Disconnect, russh::Error::HUP, hung_up] {
            assert_eq!(protocol_error(&ordinary), None);
        }
        assert_eq!(
            protocol_error(&russh::Error::PacketAuth).as_deref(),
            Some("ssh protocol error: Wrong packet authentication code")
        );
        let offer = russh::Error::NoCommonAlgo {
            kind: russh::AlgorithmKind::Kex,
            ours: vec!["curve25519-sha256".into()],
            theirs: vec!["é".repeat(2000)],
        };
        let reason = protocol_error(&offer).unwrap();
        assert!(reason.len() <= MAX_ERROR_BYTES + 3, "{}", reason.len());
        assert!(reason.ends_with("..."));
        assert!(reason.contains("curve25519-sha256"));
    }

    fn problems(options: &str) -> Vec<String> {
        crate::plugins::options::build_problems(build, options)
    }

    #[test]
    fn options_default_and_every_problem_is_reported() {
        assert!(problems("").is_empty());
        assert_eq!(
            problems("max_auth_attempts = 0\nother = 1"),
            [
                "other: unknown option (known: max_auth_attempts, credentials)",
                "max_auth_attempts: must be between 1 and 100",
            ]
        );
    }
}
