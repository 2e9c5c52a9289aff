//! p0f v3 signatures: the OS of a TCP SYN (`[tcp:request]`) and the application of an HTTP
//! request (`[http:request]`), matched by `huginn-net` (no matcher written here), printed as p0f
//! prints them (`raw_sig`, `os`) so that a line of ours can be compared with a line of p0f's.
//!
//! The signatures are the ones `huginn-net-db` embeds ([`P0f::embedded`]) or a `p0f.fp` file
//! ([`P0f::from_file`], e.g. the one Debian's p0f package installs). They are parsed once; a
//! [`P0f`] is `Send + Sync` and is shared by reference.

use std::io::Read as _;
use std::path::Path;
use std::str::FromStr as _;

use huginn_net_db::{Database, HttpSignatureMatcher, TcpSignatureMatcher};
use huginn_net_http::{HttpMatcher as _, http1::Http1Parser, parse_http1_request};
use huginn_net_tcp::matcher_api::TcpMatcher as _;
use huginn_net_tcp::tcp::Ttl;
use huginn_net_tcp::ttl::{guess_distance, observed_ttl};
use huginn_net_tcp::{ConnectionTracker, MatchRank, TcpObservation};
use pnet_packet::ipv4::Ipv4Packet;
use pnet_packet::ipv6::Ipv6Packet;

use crate::FingerprintError;
use crate::packet::{TcpFlags, TcpPacket};

/// The largest signature file read (Debian's p0f.fp is about 60 KB).
pub const MAX_SIGNATURE_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The largest HTTP request head fingerprinted; a longer one gets no fingerprint (its request
/// is still recorded by the plug-in that read it).
pub const MAX_HTTP_HEAD_BYTES: usize = 16 * 1024;

/// What [`FingerprintError`] calls the embedded signatures.
const EMBEDDED_ORIGIN: &str = "the embedded signatures";

/// p0f v3 signatures, parsed once.
#[derive(Debug)]
pub struct P0f {
    database: Database,
}

/// How well a SYN matched, as p0f tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchQuality {
    /// A specific signature matched exactly.
    Exact,
    /// A signature matched only with a tolerance (TTL distance, a quirk more or less).
    Fuzzy,
    /// A generic (`g:`) signature matched.
    Generic,
    /// Nothing matched (p0f prints `os = ???`).
    NoMatch,
}

impl MatchQuality {
    /// The word stored and published: `exact`, `fuzzy`, `generic` or `none`.
    pub const fn as_str(self) -> &'static str {
        match self {
            MatchQuality::Exact => "exact",
            MatchQuality::Fuzzy => "fuzzy",
            MatchQuality::Generic => "generic",
            MatchQuality::NoMatch => "none",
        }
    }
}

/// A SYN's p0f fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynFingerprint {
    /// Exactly p0f's `raw_sig` text, e.g. `4:64+0:0:65495:mss*20,7:mss,sok,ts,nop,ws:df,id+:0`.
    pub raw_signature: String,
    /// p0f's `os` text (label name and flavor, e.g. `Linux 2.2.x-3.x`, `NMap SYN scan`);
    /// `None` when nothing matched (p0f prints `???`).
    pub os: Option<String>,
    /// The label's class: `unix`, `win`, `!` (a tool, not an OS) ...
    pub os_class: Option<String>,
    /// How well it matched.
    pub quality: MatchQuality,
    /// Hops between the sender and us, from the TTL (p0f's `dist`).
    pub distance: u8,
}

/// An HTTP request's p0f fingerprint and what its User-Agent claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFingerprint {
    /// p0f's HTTP `raw_sig`: `version:header order:absent headers:User-Agent`.
    pub raw_signature: String,
    /// The matched label's name and flavor (`curl`, `Firefox 10.x or newer`).
    pub application: Option<String>,
    /// The OS the User-Agent names (from p0f's `ua_os` table: `Windows`, `Linux`, `Mac OS X` ...).
    pub claimed_os: Option<String>,
    /// The TCP OS the caller passed in (the session's SYN fingerprint's `os`).
    pub tcp_os: Option<String>,
    /// The User-Agent names an OS and the TCP stack is another one (p0f's `NAT_APP_UA`).
    pub contradiction: bool,
    /// The User-Agent claims software the header layout is not (p0f's "dishonest").
    pub dishonest: bool,
}

impl P0f {
    /// The signatures `huginn-net-db` embeds (a p0f v3 `p0f.fp`).
    pub fn embedded() -> Result<P0f, FingerprintError> {
        let database =
            Database::load_default().map_err(|error| FingerprintError::InvalidSignatures {
                origin: EMBEDDED_ORIGIN.to_owned(),
                line: 0,
                reason: error.to_string(),
            })?;
        P0f::checked(database, EMBEDDED_ORIGIN)
    }

    /// The signatures of a p0f v3 `p0f.fp` file. The error names the file and quotes the line
    /// the parser stopped at.
    pub fn from_file(path: &Path) -> Result<P0f, FingerprintError> {
        let read_error = |source| FingerprintError::ReadSignatures {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let mut text = String::new();
        file.take(MAX_SIGNATURE_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(read_error)?;
        if text.len() as u64 > MAX_SIGNATURE_FILE_BYTES {
            return Err(FingerprintError::SignaturesTooLarge {
                path: path.to_owned(),
                limit: MAX_SIGNATURE_FILE_BYTES,
            });
        }
        let origin = path.display().to_string();
        let database =
            Database::from_str(&text).map_err(|error| FingerprintError::InvalidSignatures {
                origin: origin.clone(),
                line: first_bad_line(&text),
                reason: error.to_string(),
            })?;
        P0f::checked(database, &origin)
    }

    fn checked(database: Database, origin: &str) -> Result<P0f, FingerprintError> {
        if database.tcp.tcp_request.signature_count() == 0 {
            return Err(FingerprintError::NoTcpSignatures {
                origin: origin.to_owned(),
            });
        }
        Ok(P0f { database })
    }

    /// How many `[tcp:request]` signatures are loaded, for the sensor's start-up log.
    pub fn tcp_signatures(&self) -> usize {
        self.database.tcp.tcp_request.signature_count()
    }

    /// The p0f fingerprint of a SYN (without ACK); `None` for any other packet, and for a SYN
    /// p0f would not fingerprint either (SYN with FIN or RST, an IPv6 SYN behind extension
    /// headers).
    pub fn syn(&self, packet: &TcpPacket<'_>) -> Option<SynFingerprint> {
        if !packet.flags.has(TcpFlags::SYN) || packet.flags.has(TcpFlags::ACK) {
            return None;
        }
        // Zero-sized without huginn's uptime and syn-ack features: no per-packet state.
        let mut tracker = ConnectionTracker::new(0);
        // `parse` has checked the IP and TCP headers are whole in `l3` (which may be cut short
        // of its total length, at the capture's snap length), so pnet's views read inside the
        // buffer. huginn observes here and matches below.
        let analysis = match packet.src {
            std::net::IpAddr::V4(_) => huginn_net_tcp::process_ipv4_packet(
                &Ipv4Packet::new(packet.l3)?,
                &mut tracker,
                None,
            ),
            std::net::IpAddr::V6(_) => huginn_net_tcp::process_ipv6_packet(
                &Ipv6Packet::new(packet.l3)?,
                &mut tracker,
                None,
            ),
        };
        let mut observed = analysis.ok()?.syn?.sig.matching;
        // p0f reads a SYN without a window-scale or MSS option as scale or MSS 0 (nmap's
        // `1024,0:mss` and `0:4,10:sok,ts,ws`); huginn keeps "absent", which prints `*` and
        // matches no signature that names a value.
        observed.wscale = Some(observed.wscale.unwrap_or(0));
        observed.mss = Some(observed.mss.unwrap_or(0));
        let matched = TcpSignatureMatcher::new(&self.database.tcp).match_tcp_request(&observed);
        let (os, os_class, quality, distance) = match matched {
            Some(found) => (
                Some(label_text(&found.os.name, found.os.variant.as_deref())),
                // p0f writes a userland label's class as `!`; huginn reads it as no class.
                Some(found.os.family.unwrap_or_else(|| "!".to_owned())),
                match found.rank {
                    MatchRank::Specific => MatchQuality::Exact,
                    MatchRank::Generic => MatchQuality::Generic,
                    MatchRank::Fuzzy(_) => MatchQuality::Fuzzy,
                },
                found.dist,
            ),
            None => (
                None,
                None,
                MatchQuality::NoMatch,
                guess_distance(observed_ttl(&observed.ittl)),
            ),
        };
        Some(SynFingerprint {
            raw_signature: raw_signature(&observed),
            os,
            os_class,
            quality,
            distance,
        })
    }

    /// The p0f fingerprint of an HTTP/1.x request head (request line and headers, up to and
    /// with the blank line), and whether its User-Agent contradicts `tcp_os` (the OS of the
    /// session's SYN). `None` when the head does not parse as HTTP/1.x or is longer than
    /// [`MAX_HTTP_HEAD_BYTES`].
    ///
    /// `contradiction` is decided more widely than p0f does: p0f checks the User-Agent only
    /// when the header layout matched a browser signature; here any User-Agent whose OS is in
    /// the `ua_os` table is checked (a bot is exactly what matches no browser), and the TCP OS
    /// agrees when its text starts with the claimed OS name (`Windows 7 or 8` is `Windows`).
    pub fn http_request(&self, head: &[u8], tcp_os: Option<&str>) -> Option<HttpFingerprint> {
        if head.len() > MAX_HTTP_HEAD_BYTES {
            return None;
        }
        let parser = Http1Parser::new();
        let observed = parse_http1_request(head, &parser).ok()??;
        let matcher = HttpSignatureMatcher::new(&self.database.http);
        let matched = matcher.match_http_request(&observed.matching);
        let claimed_os = observed
            .user_agent
            .as_deref()
            .map(str::trim)
            .filter(|agent| !agent.is_empty())
            .and_then(|agent| matcher.match_user_agent(agent))
            .map(|found| found.family);
        let contradiction = match (claimed_os.as_deref(), tcp_os) {
            (Some(claimed), Some(tcp)) => !tcp.starts_with(claimed),
            _ => false,
        };
        Some(HttpFingerprint {
            raw_signature: observed.matching.to_string(),
            application: matched
                .as_ref()
                .map(|found| label_text(&found.browser.name, found.browser.variant.as_deref())),
            claimed_os,
            tcp_os: tcp_os.map(str::to_owned),
            contradiction,
            dishonest: matched.is_some_and(|found| found.dishonest),
        })
    }
}

/// p0f's `raw_sig` of a SYN. With scale and MSS filled in, huginn's text is p0f's, but for a
/// TTL too far from any initial TTL (over 35 hops), which p0f prints as `200+?` and huginn as
/// `200`.
fn raw_signature(observed: &TcpObservation) -> String {
    let text = observed.to_string();
    let Ttl::Value(ttl) = observed.ittl else {
        return text;
    };
    let mut fields = text.splitn(3, ':');
    match (fields.next(), fields.next(), fields.next()) {
        (Some(version), Some(_), Some(rest)) => format!("{version}:{ttl}+?:{rest}"),
        _ => text,
    }
}

/// The line at which `text` (which does not parse) first fails to parse. huginn's parser stops
/// at the first bad line without saying which; the first `n` lines parse exactly when `n` is
/// before it, so a binary search over prefixes of whole lines finds it in about ten parses.
fn first_bad_line(text: &str) -> usize {
    let line_ends: Vec<usize> = text.match_indices('\n').map(|(at, _)| at + 1).collect();
    let prefix_parses = |lines: usize| {
        let end = match lines.checked_sub(1).and_then(|last| line_ends.get(last)) {
            Some(&end) => end,
            None if lines == 0 => 0,
            None => text.len(),
        };
        text.get(..end)
            .is_some_and(|prefix| Database::from_str(prefix).is_ok())
    };
    // Invariant: the first `good` lines parse; the first `bad` lines do not.
    let (mut good, mut bad) = (0, line_ends.len() + 1);
    while bad - good > 1 {
        let middle = good + (bad - good) / 2;
        if prefix_parses(middle) {
            good = middle;
        } else {
            bad = middle;
        }
    }
    bad
}

/// p0f's way of printing a label: the name, then the flavor after a space when there is one.
fn label_text(name: &str, flavor: Option<&str>) -> String {
    match flavor.filter(|flavor| !flavor.is_empty()) {
        Some(flavor) => format!("{name} {flavor}"),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests;
