//! The session handle a plug-in records through: RECCE7's `get_session` and `do_save` in Rust's
//! terms.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use store::{
    Event, EventType, RecorderHandle, Row, SCHEMA_VERSION, escape_bytes, new_id, now_rfc3339,
};

use crate::capture::{CaptureShared, FlowKey};
use crate::plugins::foreign::RawCapture;

/// Builds a [`Row`] from column names and values: `row([("username", user.into())])`.
pub fn row<const N: usize>(pairs: [(&str, Value); N]) -> Row {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// A session id the sensor has proved it issued, the only kind [`Session::adopt_id`] takes, so
/// that an id a peer chose (`00000000-...`, another protocol's session) cannot be adopted by
/// mistake. Made only inside the sensor, by a verifier that checked the proof (the HTTP
/// plug-in's cookie tag, [`crate::plugins::http::cookie::CookieKey::adopt`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedId(String);

impl IssuedId {
    /// `id`, once a verifier in this crate has checked that this sensor issued it; `None` when
    /// it is not an id of the sensor's shape.
    pub(crate) fn verified(id: &str) -> Option<IssuedId> {
        store::is_id(id).then(|| IssuedId(id.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What is the same for every session of one plug-in instance.
#[derive(Debug)]
pub struct InstanceInfo {
    /// The sensor's name.
    pub sensor: Arc<str>,
    /// The instance's name.
    pub plugin: Arc<str>,
    /// The protocol its plug-in speaks.
    pub protocol: Arc<str>,
    /// The instance's table.
    pub table: Arc<str>,
    /// Events the recorder refused (it had stopped); should stay 0. One counter for the whole
    /// sensor, shared by every instance (and by an instance's versions across reloads).
    pub lost: Arc<AtomicU64>,
    /// The device the sensor claims to be (the same for every instance).
    pub persona: Arc<crate::persona::Persona>,
}

/// One session: its id, addresses and a way to record rows.
pub struct Session {
    connection_id: String,
    linked: Option<String>,
    info: Arc<InstanceInfo>,
    peer: SocketAddr,
    local: SocketAddr,
    recorder: RecorderHandle,
    max_raw_bytes: usize,
    events: u64,
    capture: Option<Arc<CaptureShared>>,
    /// The OS of this connection's SYN when the capture had it at accept.
    syn_os: Option<Arc<str>>,
    tls_fingerprinted: bool,
}

impl Session {
    /// The device the sensor claims to be: its host name, firmware, daemons and their banners.
    pub fn persona(&self) -> &Arc<crate::persona::Persona> {
        &self.info.persona
    }

    /// A new session with a fresh time-ordered id.
    pub fn new(
        info: Arc<InstanceInfo>,
        peer: SocketAddr,
        local: SocketAddr,
        recorder: RecorderHandle,
        max_raw_bytes: usize,
    ) -> Session {
        Session {
            connection_id: new_id(),
            linked: None,
            info,
            peer,
            local,
            recorder,
            max_raw_bytes,
            events: 0,
            capture: None,
            syn_os: None,
            tls_fingerprinted: false,
        }
    }

    /// Gives the session the capture's signatures and directory, so that its TLS and HTTP
    /// clients are fingerprinted and checked against its SYN's ([`Session::tcp_os`]).
    pub fn attach_capture(&mut self, capture: Arc<CaptureShared>) {
        self.capture = Some(capture);
    }

    /// The session is over: the capture's directory forgets it.
    pub(crate) fn release_capture(&self) {
        if let Some(directory) = self.capture.as_ref().and_then(|c| c.directory.as_ref()) {
            directory.session_closed(&self.flow(), std::time::Instant::now());
        }
    }

    /// The connection's two ends.
    pub fn flow(&self) -> FlowKey {
        FlowKey {
            peer: self.peer,
            local: self.local,
        }
    }

    /// The OS p0f named for this connection's SYN, once the capture has seen it.
    pub fn tcp_os(&self) -> Option<String> {
        if let Some(os) = &self.syn_os {
            return Some(os.to_string());
        }
        let capture = self.capture.as_ref()?;
        capture.directory.as_ref()?.tcp_os(&self.flow())
    }

    /// The OS of this connection's SYN, as the capture paired it at accept.
    pub(crate) fn set_syn_os(&mut self, os: Option<Arc<str>>) {
        self.syn_os = os;
    }

    /// p0f's HTTP signature of a request head (`head`: the request line and headers as
    /// received), checked against this connection's TCP OS; none without the capture's
    /// signatures or when `head` is not a request p0f can read.
    pub fn http_fingerprint(&self, head: &[u8]) -> Option<fingerprint::p0f::HttpFingerprint> {
        let capture = self.capture.as_ref()?;
        capture
            .p0f
            .get()?
            .http_request(head, self.tcp_os().as_deref())
    }

    /// Waits (at most 100 ms) until the capture has fingerprinted this connection's SYN: the
    /// capture is another task, and a client that sends its request at once can be first.
    /// Returns at once when the capture is off or the SYN is known.
    pub async fn wait_for_tcp_fingerprint(&self) {
        let Some(directory) = self.capture.as_ref().and_then(|c| c.directory.as_ref()) else {
            return;
        };
        if self.syn_os.is_some() {
            return;
        }
        let key = self.flow();
        for _ in 0..20 {
            if !directory.awaits_fingerprint(&key) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Records `fp` as a `fingerprint.http` event.
    pub async fn record_http_fingerprint(&mut self, fp: fingerprint::p0f::HttpFingerprint) {
        let text = |v: Option<String>| v.map_or(Value::Null, Value::String);
        let data = row([
            ("fingerprint", fp.raw_signature.into()),
            ("detail", text(fp.application)),
            ("claimed_os", text(fp.claimed_os)),
            ("tcp_os", text(fp.tcp_os)),
            ("contradiction", fp.contradiction.into()),
            ("dishonest", fp.dishonest.into()),
        ]);
        let event = self.event(EventType::FingerprintHttp, self.id(), data);
        self.send(event).await;
    }

    /// Records the JA4 fingerprint of `bytes` when they start with a TLS ClientHello (once per
    /// session): what a plug-in keeps raw may be a TLS client knocking.
    async fn fingerprint_tls(&mut self, bytes: &[u8]) {
        if self.tls_fingerprinted || !bytes.starts_with(&[0x16, 0x03]) {
            return;
        }
        let Some(fp) = fingerprint::tls::ja4(bytes) else {
            return;
        };
        self.tls_fingerprinted = true;
        let text = |v: Option<String>| v.map_or(Value::Null, Value::String);
        let data = row([
            ("fingerprint", fp.ja4.into()),
            ("detail", fp.ja4_r.into()),
            ("version", fp.version.into()),
            ("sni", text(fp.sni)),
            ("alpn", text(fp.alpn)),
        ]);
        let event = self.event(EventType::FingerprintTls, self.id(), data);
        self.send(event).await;
    }

    /// Records the SYN fingerprint the capture paired with this session.
    pub(crate) async fn record_p0f(&mut self, fp: &fingerprint::p0f::SynFingerprint) {
        let event = self.event(
            EventType::FingerprintP0f,
            &self.connection_id.clone(),
            crate::capture::p0f_row(fp),
        );
        self.send(event).await;
    }

    /// The id rows are recorded under: the protocol's session if one was adopted, otherwise
    /// this connection's own.
    pub fn id(&self) -> &str {
        self.linked.as_deref().unwrap_or(&self.connection_id)
    }

    /// This connection's own id (the `sessions` row).
    pub fn connection_id(&self) -> &str {
        &self.connection_id
    }

    /// The protocol-level session adopted with [`Session::adopt_id`], if any.
    pub fn linked_id(&self) -> Option<&str> {
        self.linked.as_deref()
    }

    /// Takes the session id from the protocol (HTTP does, from its cookie), so that requests
    /// over several connections group into one session, as RECCE7's `get_session` allowed.
    /// Only an [`IssuedId`] is taken: an id this sensor proved it issued (the HTTP plug-in
    /// checks the cookie's keyed tag), never one a peer chose.
    pub fn adopt_id(&mut self, id: IssuedId) {
        if id.0 != self.connection_id {
            self.linked = Some(id.0);
        }
    }

    /// The attacker's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The sensor's address.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// The instance's name.
    pub fn plugin(&self) -> &str {
        &self.info.plugin
    }

    /// Events recorded in this session so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    fn event(&self, kind: EventType, session: &str, data: Row) -> Event {
        Event {
            schema: SCHEMA_VERSION,
            id: new_id(),
            sensor: self.info.sensor.to_string(),
            session: session.to_owned(),
            time: now_rfc3339(),
            kind,
            plugin: self.info.plugin.to_string(),
            protocol: self.info.protocol.to_string(),
            src_ip: self.peer.ip(),
            src_port: self.peer.port(),
            dst_ip: self.local.ip(),
            dst_port: self.local.port(),
            data,
        }
    }

    async fn send(&mut self, event: Event) {
        self.events += 1;
        if let Err(e) = self.recorder.record(event).await {
            self.info.lost.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "event lost");
        }
    }

    /// Records one row in the instance's table (columns by name), as an event of `kind`.
    /// Waits while the recorder's queue is full.
    pub async fn record(&mut self, kind: EventType, data: Row) {
        let event = self.event(kind, self.id(), data);
        self.send(event).await;
    }

    /// Records input the plug-in could not parse: escaped, bounded to `max_raw_bytes`, with the
    /// original length and why it was not understood.
    pub async fn record_raw(&mut self, reason: &str, bytes: &[u8]) {
        let data = row([
            ("reason", reason.into()),
            ("length", bytes.len().into()),
            ("bytes", escape_bytes(bytes, self.max_raw_bytes).into()),
        ]);
        let event = self.event(EventType::InputRaw, self.id(), data);
        self.send(event).await;
        self.fingerprint_tls(bytes).await;
    }

    /// Records the raw bytes of a [`RawCapture`] (the first `max_raw_bytes` of what arrived,
    /// and how much arrived in all), like [`Session::record_raw`]: escaped, with the original
    /// length, and `...(+N bytes)` for what was not kept.
    pub async fn record_raw_capture(&mut self, reason: &str, capture: &RawCapture) {
        let kept = capture.kept();
        let shown = kept.get(..self.max_raw_bytes).unwrap_or(kept);
        let mut bytes = escape_bytes(shown, shown.len());
        let dropped = capture.total().saturating_sub(shown.len());
        if dropped > 0 {
            bytes.push_str(&format!("...(+{dropped} bytes)"));
        }
        let data = row([
            ("reason", reason.into()),
            ("length", capture.total().into()),
            ("bytes", bytes.into()),
        ]);
        let event = self.event(EventType::InputRaw, self.id(), data);
        self.send(event).await;
        self.fingerprint_tls(capture.kept()).await;
    }

    /// Records the start of the session (the `sessions` row).
    pub(crate) async fn record_start(&mut self, refused: Option<&str>) {
        let mut data = row([("table", self.info.table.as_ref().into())]);
        if let Some(why) = refused {
            data.insert("refused".into(), why.into());
        }
        let event = self.event(EventType::SessionStart, &self.connection_id.clone(), data);
        self.send(event).await;
    }

    /// Records the end of the session with its byte counts and close reason.
    pub(crate) async fn record_end(&mut self, bytes_in: u64, bytes_out: u64, reason: &str) {
        let mut data = row([
            ("bytes_in", bytes_in.into()),
            ("bytes_out", bytes_out.into()),
            ("reason", reason.into()),
        ]);
        if let Some(linked) = &self.linked {
            data.insert("linked_session".into(), linked.clone().into());
        }
        let event = self.event(EventType::SessionEnd, &self.connection_id.clone(), data);
        self.send(event).await;
    }
}
