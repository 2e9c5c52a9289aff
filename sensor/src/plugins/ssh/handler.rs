//! The russh server handler of one connection: logins through the [`LoginDecision`], the shell
//! on `shell` and `exec` channels, forwarding refused. Everything worth recording is sent to
//! the plug-in's task as a [`Queued`] event (the handler runs in russh's task, which does not
//! own the session).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use russh::keys::HashAlg;
use russh::server::{Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Response, Session};
use russh::{Channel, ChannelId, ChannelOpenFailure};
use serde_json::Value;
use store::{EventType, escape_text};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::Queued;
use super::login::{LoginDecision, Method};
use super::output::ChannelOutput;
use super::scp::{ScpSink, Written};
use super::sftp::SftpServer;
use crate::plugins::telnet::negotiation::{LineEditor, LineEvent};
use crate::session::row;
use crate::shell::Shell;

/// Session channels one connection may have open at once (OpenSSH's default MaxSessions is
/// 10; Dropbear's is 100, but no bot uses more than one or two).
const MAX_CHANNELS: usize = 8;

/// Bytes kept of each file an attacker uploads (its size and SHA-256 cover all of it).
pub const FILE_BYTES_KEPT: usize = 64 * 1024;

/// One session channel.
struct ChannelState {
    /// A terminal was requested: echo and CR LF line ends, as a tty gives.
    pty: bool,
    editor: LineEditor,
    /// Set by a `shell` request; `exec` runs its command and closes.
    shell: Option<Box<Shell>>,
    /// Set by an `exec` of `scp -t`: the upload's receiver.
    scp: Option<Box<ScpSink>>,
    /// Set by the `sftp` subsystem: uploads only.
    sftp: Option<Box<SftpServer>>,
    /// Everything sent on the channel goes through its writer, in order and paced.
    out: ChannelOutput,
}

impl ChannelState {
    /// Queues a shell line's output cut at its pauses, with the channel's line ends.
    fn paced(&mut self, output: &crate::shell::ShellOutput) {
        for (text, wait) in output.segments() {
            self.out.data(without_cr(text, self.pty));
            self.out.wait(wait);
        }
    }

    /// Queues the channel's end after its output.
    fn end(mut self, status: u32, peer: IpAddr) {
        self.out.finish(status);
        self.report_discarded(peer);
    }

    /// Logs the output that had to be dropped, if any (the count of [`ChannelOutput`]).
    fn report_discarded(&self, peer: IpAddr) {
        let discarded = self.out.discarded();
        if discarded > 0 {
            tracing::warn!(
                %peer,
                discarded,
                "ssh: the client did not read its output; bytes past the backlog were discarded"
            );
        }
    }
}

/// The handler of one SSH connection.
pub struct SshHandler {
    events: mpsc::Sender<Queued>,
    decision: Arc<dyn LoginDecision>,
    /// The device the shell shows.
    persona: Arc<crate::persona::Persona>,
    peer: IpAddr,
    max_line_bytes: usize,
    /// Public keys a client may still offer: each is recorded, so offers are bounded here
    /// whatever russh counts as an attempt (it counts refused offers today).
    key_offers_left: usize,
    user: String,
    channels: HashMap<ChannelId, ChannelState>,
    /// The channels' writer tasks ([`ChannelOutput`]): aborted when the connection ends.
    writers: JoinSet<()>,
}

impl SshHandler {
    /// A handler recording through `events`, deciding logins with `decision`; a client may
    /// offer `max_key_offers` public keys, then it is disconnected.
    pub fn new(
        events: mpsc::Sender<Queued>,
        decision: Arc<dyn LoginDecision>,
        persona: Arc<crate::persona::Persona>,
        peer: IpAddr,
        max_line_bytes: usize,
        max_key_offers: usize,
    ) -> SshHandler {
        SshHandler {
            events,
            decision,
            persona,
            peer,
            max_line_bytes,
            key_offers_left: max_key_offers,
            user: String::new(),
            channels: HashMap::new(),
            writers: JoinSet::new(),
        }
    }

    async fn record(&self, kind: EventType, data: store::Row) {
        // The plug-in's task is gone only when the connection is: nothing left to record to.
        let _ = self.events.send((kind, data)).await;
    }

    /// Records a login attempt and returns its outcome.
    async fn login(&mut self, method: Method, user: &str, password: &[u8]) -> Auth {
        let accepted = self.decision.accept(self.peer, user.as_bytes(), password);
        let data = row([
            ("method", method.as_str().into()),
            ("username", escape_text(user.as_bytes()).into()),
            ("password", escape_text(password).into()),
            ("key_type", Value::Null),
            ("key_fingerprint", Value::Null),
            ("outcome", outcome(accepted).into()),
        ]);
        self.record(EventType::SshLogin, data).await;
        if accepted {
            self.user = user.to_owned();
            Auth::Accept
        } else {
            refusal()
        }
    }

    async fn commands(&self, commands: &[Vec<u8>], input_type: &str, unterminated: bool) {
        for command in commands {
            let mut data = row([
                ("input_type", input_type.into()),
                ("user_input", escape_text(command).into()),
            ]);
            if unterminated {
                data.insert("unterminated".into(), true.into());
            }
            self.record(EventType::SshCommand, data).await;
        }
    }

    async fn forward(&self, kind: &str, host: &str, port: u32, originator: Option<String>) {
        let data = row([
            ("kind", kind.into()),
            ("host", escape_text(host.as_bytes()).into()),
            ("port", port.into()),
            ("originator", originator.map_or(Value::Null, Value::from)),
            ("refused", true.into()),
        ]);
        self.record(EventType::SshForward, data).await;
    }

    /// Records each uploaded file as `file.written`.
    async fn files(&self, written: &[Written], via: &str) {
        use base64::Engine;
        for file in written {
            let data = row([
                ("path", escape_text(&file.path).into()),
                ("size", file.size.into()),
                ("sha256", file.sha256.clone().into()),
                (
                    "data",
                    base64::engine::general_purpose::STANDARD
                        .encode(&file.data)
                        .into(),
                ),
                ("truncated", file.truncated.into()),
                ("via", via.into()),
            ]);
            self.record(EventType::FileWritten, data).await;
        }
    }

    fn new_shell(&self) -> Box<Shell> {
        let user = if self.user.is_empty() {
            "root"
        } else {
            &self.user
        };
        Box::new(Shell::with_persona(user, Arc::clone(&self.persona)))
    }

    /// Records the files and URLs a shell line revealed (`file.written`, `download.attempt`).
    async fn revealed(&self, output: &crate::shell::ShellOutput) {
        for file in &output.files {
            self.record(EventType::FileWritten, crate::shell::record::file_row(file))
                .await;
        }
        for download in &output.downloads {
            self.record(
                EventType::DownloadAttempt,
                crate::shell::record::download_row(download),
            )
            .await;
        }
    }

    /// Records the files a shell still held when its channel ended.
    async fn settle(&self, shell: &mut Shell) {
        for file in shell.finish() {
            self.record(
                EventType::FileWritten,
                crate::shell::record::file_row(&file),
            )
            .await;
        }
    }

    /// Ends a channel once its output is sent: exit status, EOF, close.
    fn finish(&mut self, channel: ChannelId, status: u32) {
        if let Some(state) = self.channels.remove(&channel) {
            state.end(status, self.peer);
        }
    }

    /// Queues bytes on a channel's writer.
    fn send(&mut self, channel: ChannelId, bytes: Vec<u8>) {
        if let Some(state) = self.channels.get_mut(&channel) {
            state.out.data(bytes);
        }
    }
}

/// `accepted` or `refused`.
fn outcome(accepted: bool) -> &'static str {
    if accepted { "accepted" } else { "refused" }
}

/// The shell's text as a channel without a terminal carries it: `\n` line ends.
fn without_cr(text: &[u8], pty: bool) -> Vec<u8> {
    if pty {
        return text.to_vec();
    }
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.iter().peekable();
    while let Some(&b) = bytes.next() {
        if b == b'\r' && bytes.peek() == Some(&&b'\n') {
            continue;
        }
        out.push(b);
    }
    out
}

/// The exit status a command's output implies: what the shell prints for a missing command
/// means 127, as in ash; anything else 0.
fn exit_status(text: &[u8]) -> u32 {
    let text = String::from_utf8_lossy(text);
    if text.contains(": not found") || text.contains("applet not found") {
        127
    } else {
        0
    }
}

/// A refused attempt that leaves every method open ([`super::methods`]); russh's
/// `Auth::reject()` would take the refused method off the list the client is sent.
fn refusal() -> Auth {
    Auth::Reject {
        proceed_with_methods: Some(super::methods()),
        partial_success: false,
    }
}

impl russh::server::Handler for SshHandler {
    type Error = russh::Error;

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        Ok(refusal())
    }

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        Ok(self
            .login(Method::Password, user, password.as_bytes())
            .await)
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        let Some(left) = self.key_offers_left.checked_sub(1) else {
            return Err(russh::Error::Disconnect);
        };
        self.key_offers_left = left;
        let key = offer.public_key;
        let data = row([
            ("method", Method::PublicKey.as_str().into()),
            ("username", escape_text(user.as_bytes()).into()),
            ("password", Value::Null),
            ("key_type", key.algorithm().as_str().into()),
            (
                "key_fingerprint",
                key.fingerprint(HashAlg::Sha256).to_string().into(),
            ),
            ("outcome", outcome(false).into()),
        ]);
        self.record(EventType::SshLogin, data).await;
        Ok(refusal())
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        response: Option<Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        let Some(mut response) = response else {
            return Ok(Auth::Partial {
                name: "".into(),
                instructions: "".into(),
                prompts: vec![("Password: ".into(), false)].into(),
            });
        };
        let password = response.next().unwrap_or_default();
        Ok(self
            .login(Method::KeyboardInteractive, user, &password)
            .await)
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // The channel's own message queue is not read (the handler gets everything): dropping
        // its read half keeps russh from waiting on a full queue. The write half goes to the
        // channel's writer task.
        let id = channel.id();
        let (read, write) = channel.split();
        drop(read);
        if self.channels.len() >= MAX_CHANNELS {
            reply.reject(ChannelOpenFailure::ResourceShortage).await;
            return Ok(());
        }
        // Writers of channels that ended are reaped here, so the set stays as small as the
        // channels open.
        while self.writers.try_join_next().is_some() {}
        let out = ChannelOutput::spawn(write, &mut self.writers);
        self.channels.insert(
            id,
            ChannelState {
                pty: false,
                editor: LineEditor::new(self.max_line_bytes),
                shell: None,
                scp: None,
                sftp: None,
                out,
            },
        );
        reply.accept().await;
        Ok(())
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host_to_connect: &str,
        port_to_connect: u32,
        originator_address: &str,
        originator_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        drop(channel);
        let originator = format!("{originator_address}:{originator_port}");
        self.forward(
            "direct-tcpip",
            host_to_connect,
            port_to_connect,
            Some(originator),
        )
        .await;
        reply
            .reject(ChannelOpenFailure::AdministrativelyProhibited)
            .await;
        Ok(())
    }

    async fn tcpip_forward(
        &mut self,
        address: &str,
        port: &mut u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        self.forward("tcpip-forward", address, *port, None).await;
        Ok(false)
    }

    #[allow(clippy::too_many_arguments)]
    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        match self.channels.get_mut(&channel) {
            Some(state) => {
                state.pty = true;
                session.channel_success(channel)
            }
            None => session.channel_failure(channel),
        }
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let shell = self.new_shell();
        let Some(state) = self.channels.get_mut(&channel) else {
            return session.channel_failure(channel);
        };
        // What ash prints when a login shell starts: the persona's firmware, as telnet's.
        let mut greeting = without_cr(shell.banner().as_bytes(), state.pty);
        greeting.extend_from_slice(shell.prompt().as_bytes());
        state.shell = Some(shell);
        state.out.data(greeting);
        session.channel_success(channel)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if !self.channels.contains_key(&channel) {
            return session.channel_failure(channel);
        }
        let command = data.get(..self.max_line_bytes).unwrap_or(data);
        if let Some(sink) = ScpSink::for_command(command, FILE_BYTES_KEPT) {
            self.commands(&[command.to_vec()], "exec", false).await;
            if let Some(state) = self.channels.get_mut(&channel) {
                state.scp = Some(Box::new(sink));
                state.out.data(ScpSink::greeting().to_vec());
            }
            return session.channel_success(channel);
        }
        let mut shell = self.new_shell();
        let result = shell.run_input(command);
        self.commands(&result.commands, "exec", false).await;
        self.revealed(&result).await;
        self.settle(&mut shell).await;
        if let Some(state) = self.channels.get_mut(&channel) {
            state.paced(&result);
        }
        self.finish(channel, exit_status(&result.text));
        session.channel_success(channel)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let home = match self.user.as_str() {
            "root" | "" => "/root".to_owned(),
            user => format!("/home/{}", user.replace('/', "")),
        };
        match self.channels.get_mut(&channel) {
            Some(state) if name == "sftp" && state.shell.is_none() && state.scp.is_none() => {
                state.sftp = Some(Box::new(SftpServer::new(&home, FILE_BYTES_KEPT)));
                session.channel_success(channel)
            }
            _ => session.channel_failure(channel),
        }
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _variable_name: &str,
        _variable_value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(state) = self.channels.get_mut(&channel) else {
            return Ok(());
        };
        if let Some(sink) = state.scp.as_mut() {
            let (mut out, mut written) = (Vec::new(), Vec::new());
            sink.push(data, &mut out, &mut written);
            let failed = sink.done();
            self.files(&written, "scp").await;
            self.send(channel, out);
            if failed {
                self.finish(channel, 1);
            }
            return Ok(());
        }
        if let Some(server) = state.sftp.as_mut() {
            let (mut out, mut written) = (Vec::new(), Vec::new());
            server.push(data, &mut out, &mut written);
            let failed = server.failed();
            self.files(&written, "sftp").await;
            self.send(channel, out);
            if failed {
                self.finish(channel, 1);
            }
            return Ok(());
        }
        let Some(shell) = state.shell.as_mut() else {
            // Input to an exec channel after its command ran: nothing reads it.
            return Ok(());
        };
        let pty = state.pty;
        let mut echo = Vec::new();
        let mut lines = Vec::new();
        state.editor.push(data, pty, &mut echo, &mut lines);
        // What to send, cut where the shell waits (`sleep`, `ping`, a download timing out).
        let mut out = echo;
        let mut paced: Vec<(Vec<u8>, Duration)> = Vec::new();
        let mut ran = Vec::new();
        let mut revealed = Vec::new();
        let mut end = None;
        for line in lines {
            match line {
                LineEvent::Line(line) | LineEvent::TooLong(line) => {
                    let mut result = shell.run_input(&line);
                    ran.append(&mut result.commands);
                    for (text, wait) in result.segments() {
                        out.extend_from_slice(&without_cr(text, pty));
                        if !wait.is_zero() {
                            paced.push((std::mem::take(&mut out), wait));
                        }
                    }
                    revealed.push(crate::shell::ShellOutput {
                        files: std::mem::take(&mut result.files),
                        downloads: std::mem::take(&mut result.downloads),
                        ..Default::default()
                    });
                    if result.exit {
                        end = Some(0);
                        break;
                    }
                    out.extend_from_slice(shell.prompt().as_bytes());
                }
                LineEvent::Interrupt => out.extend_from_slice(shell.prompt().as_bytes()),
                LineEvent::Eof => {
                    end = Some(0);
                    break;
                }
            }
        }
        paced.push((out, Duration::ZERO));
        for (text, wait) in paced {
            state.out.data(text);
            state.out.wait(wait);
        }
        self.commands(&ran, "command", false).await;
        for output in &revealed {
            self.revealed(output).await;
        }
        if end.is_some()
            && let Some(shell) = self.channels.get_mut(&channel).and_then(|s| s.shell.take())
        {
            let mut shell = shell;
            self.settle(&mut shell).await;
        }
        if let Some(status) = end {
            self.finish(channel, status);
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        // Without a terminal, the end of stdin is the end of the shell's input: a last line
        // without a newline still runs, as `sh` would run it.
        let Some(state) = self.channels.get_mut(&channel) else {
            return Ok(());
        };
        if state.scp.is_some() || state.sftp.is_some() {
            // The upload is complete: scp closes its stdin after the last file.
            self.finish(channel, 0);
            return Ok(());
        }
        let Some(shell) = state.shell.as_mut() else {
            return Ok(());
        };
        let pending = state.editor.pending().to_vec();
        let mut status = 0;
        if !pending.is_empty() {
            let result = shell.run_input(&pending);
            status = exit_status(&result.text);
            state.paced(&result);
            self.commands(&result.commands, "command", true).await;
            self.revealed(&result).await;
        }
        self.finish(channel, status);
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(state) = self.channels.remove(&channel) else {
            return Ok(());
        };
        state.report_discarded(self.peer);
        if state.shell.is_some() && !state.editor.pending().is_empty() {
            let pending = crate::shell::split_command_bytes(state.editor.pending())
                .into_iter()
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>();
            self.commands(&pending, "command", true).await;
        }
        Ok(())
    }
}

impl Drop for SshHandler {
    /// A line typed without Enter when the connection ended is kept (marked unterminated).
    fn drop(&mut self) {
        for state in self.channels.values() {
            state.report_discarded(self.peer);
            if state.shell.is_none() || state.editor.pending().is_empty() {
                continue;
            }
            for command in crate::shell::split_command_bytes(state.editor.pending()) {
                let data = row([
                    ("input_type", "command".into()),
                    ("user_input", escape_text(command).into()),
                    ("unterminated", true.into()),
                ]);
                let _ = self.events.try_send((EventType::SshCommand, data));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_and_exit_status() {
        assert_eq!(without_cr(b"a\r\nb\r\n", false), b"a\nb\n");
        assert_eq!(without_cr(b"a\r\nb\r", false), b"a\nb\r");
        assert_eq!(without_cr(b"a\r\n", true), b"a\r\n");
        assert_eq!(exit_status(b"-sh: foo: not found\r\n"), 127);
        assert_eq!(exit_status(b"Linux router\r\n"), 0);
    }
}
