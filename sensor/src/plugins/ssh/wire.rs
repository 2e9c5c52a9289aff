//! The client's first bytes, read without the SSH library: its identification line and its
//! first KEXINIT packet (sent in the clear before any key exchange), from which the client's
//! version and its HASSH fingerprint are recorded. Pure functions over a bounded prefix of
//! what arrived; nothing here can panic on attacker input.

/// Most bytes of the stream's start kept to find the version line and the KEXINIT: an OpenSSH
/// 9 KEXINIT is about 1.5 KB; a client whose first packet is larger is not fingerprinted.
pub const TEE_BYTES: usize = 16 * 1024;

/// Longest identification line accepted (RFC 4253 §4.2: 255 bytes with CR LF).
const MAX_VERSION_LINE: usize = 255;

/// SSH_MSG_KEXINIT.
const MSG_KEXINIT: u8 = 20;

/// What the client's first bytes say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    /// The identification line without its line end (`SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6`),
    /// as received (possibly not UTF-8).
    pub version: Vec<u8>,
    /// The client's KEXINIT, once its packet was complete in the bytes given.
    pub kexinit: Option<KexInit>,
}

/// The name-lists of a KEXINIT that HASSH covers (client to server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexInit {
    /// Key exchange methods.
    pub kex: String,
    /// Host key algorithms the client accepts.
    pub host_key: String,
    /// Ciphers, client to server.
    pub enc: String,
    /// MACs, client to server.
    pub mac: String,
    /// Compression, client to server.
    pub comp: String,
}

impl KexInit {
    /// `kex;enc;mac;comp`, the string HASSH hashes.
    pub fn hassh_algorithms(&self) -> String {
        format!("{};{};{};{}", self.kex, self.enc, self.mac, self.comp)
    }

    /// The HASSH fingerprint: MD5 of [`KexInit::hassh_algorithms`], lower-case hex.
    pub fn hassh(&self) -> String {
        format!("{:x}", md5::compute(self.hassh_algorithms().as_bytes()))
    }
}

/// What [`parse_client_hello`] makes of the bytes so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed (and may still come within [`TEE_BYTES`]).
    Incomplete,
    /// The version line and, if it could be read, the KEXINIT.
    Done(ClientHello),
    /// Not an SSH client's start (no identification line where one must be).
    NotSsh,
}

/// Reads the identification line and the first binary packet from the start of a client's
/// stream. `Done` with `kexinit: None` when the version is known but the first packet is not a
/// readable KEXINIT (or did not fit in [`TEE_BYTES`] and `complete` is set).
///
/// `complete`: no more bytes will come (the stream ended or the tee is full), so what is
/// missing is missing for good.
pub fn parse_client_hello(bytes: &[u8], complete: bool) -> Parsed {
    // A client's identification line comes first (RFC 4253 §4.2: only a server may send
    // other lines before it).
    let Some(end) = bytes
        .iter()
        .take(MAX_VERSION_LINE + 1)
        .position(|&b| b == b'\n')
    else {
        let could_be =
            b"SSH-".starts_with(bytes.get(..4).unwrap_or(bytes)) && bytes.len() <= MAX_VERSION_LINE;
        return if could_be && !complete {
            Parsed::Incomplete
        } else {
            Parsed::NotSsh
        };
    };
    let line = bytes.get(..end).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !line.starts_with(b"SSH-") {
        return Parsed::NotSsh;
    }
    let version = line.to_vec();
    let rest = bytes.get(end + 1..).unwrap_or_default();
    match read_packet(rest) {
        Some(Some(payload)) => Parsed::Done(ClientHello {
            version,
            kexinit: parse_kexinit(payload),
        }),
        Some(None) => Parsed::Done(ClientHello {
            version,
            kexinit: None,
        }),
        None if complete => Parsed::Done(ClientHello {
            version,
            kexinit: None,
        }),
        None => Parsed::Incomplete,
    }
}

/// The payload of the first binary packet in `bytes` (`uint32 length, byte padding, payload,
/// padding`): `None` when incomplete, `Some(None)` when its header is impossible.
fn read_packet(bytes: &[u8]) -> Option<Option<&[u8]>> {
    let header = bytes.get(..5)?;
    let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let padding = usize::from(header[4]);
    if length < padding + 1 || length > TEE_BYTES {
        return Some(None);
    }
    let packet = bytes.get(4..4 + length)?;
    Some(packet.get(1..length - padding))
}

/// Reads a KEXINIT payload's name-lists; `None` when it is not one or is cut short.
pub fn parse_kexinit(payload: &[u8]) -> Option<KexInit> {
    let (&kind, rest) = payload.split_first()?;
    if kind != MSG_KEXINIT {
        return None;
    }
    let mut rest = rest.get(16..)?;
    let mut lists: [String; 8] = Default::default();
    for list in &mut lists {
        let (name_list, tail) = name_list(rest)?;
        *list = name_list;
        rest = tail;
    }
    let [kex, host_key, enc, _, mac, _, comp, _] = lists;
    Some(KexInit {
        kex,
        host_key,
        enc,
        mac,
        comp,
    })
}

/// One `name-list` (uint32 length, ASCII names separated by commas) and what follows it.
fn name_list(bytes: &[u8]) -> Option<(String, &[u8])> {
    let len = bytes.get(..4)?;
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let list = bytes.get(4..4usize.checked_add(len)?)?;
    let rest = bytes.get(4 + len..)?;
    Some((String::from_utf8_lossy(list).into_owned(), rest))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// What OpenSSH 9.2p1 (Debian 12) sent to a server, captured on loopback: its version line
    /// and its KEXINIT packet.
    const OPENSSH_9_2: &[u8] = include_bytes!("testdata/openssh-9.2p1-kexinit.bin");

    #[test]
    fn openssh_version_and_hassh() {
        let Parsed::Done(hello) = parse_client_hello(OPENSSH_9_2, false) else {
            panic!("not parsed");
        };
        assert_eq!(hello.version, b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6");
        let kex = hello.kexinit.unwrap();
        assert!(kex.kex.starts_with("sntrup761x25519-sha512,"));
        assert!(
            kex.hassh_algorithms()
                .ends_with(";none,zlib@openssh.com,zlib")
        );
        assert!(kex.host_key.contains("ssh-ed25519"));
        // md5 of the four lists, computed independently (Python's hashlib).
        assert_eq!(kex.hassh(), "472b5de333ad665af5cbf10ff892c4df");
    }

    #[test]
    fn every_split_of_the_capture_is_incomplete_until_the_packet_ends() {
        for cut in 0..OPENSSH_9_2.len() {
            let prefix = &OPENSSH_9_2[..cut];
            match parse_client_hello(prefix, false) {
                Parsed::Incomplete => {}
                other => panic!("cut {cut}: {other:?}"),
            }
            // With no more to come, a cut packet still gives the version once the line is there.
            let _ = parse_client_hello(prefix, true);
        }
    }

    #[test]
    fn junk_and_odd_clients() {
        assert_eq!(parse_client_hello(&[b'A'; 300], false), Parsed::NotSsh);
        assert_eq!(
            parse_client_hello(b"GET / HTTP/1.1\r\n", false),
            Parsed::NotSsh
        );
        assert_eq!(parse_client_hello(b"GE", false), Parsed::NotSsh);
        assert_eq!(parse_client_hello(b"SS", false), Parsed::Incomplete);
        assert_eq!(parse_client_hello(b"SSH-2.0-cut", true), Parsed::NotSsh);
        // A version line then a packet whose header is impossible.
        let Parsed::Done(hello) = parse_client_hello(b"SSH-2.0-x\r\n\0\0\0\x01\x09", false) else {
            panic!()
        };
        assert_eq!(
            (hello.version.as_slice(), hello.kexinit),
            (&b"SSH-2.0-x"[..], None)
        );
        // A lone LF ends the line too; a packet that is not KEXINIT has no lists.
        let Parsed::Done(hello) =
            parse_client_hello(b"SSH-2.0-y\n\0\0\0\x06\x04\x15\0\0\0\0\0", false)
        else {
            panic!()
        };
        assert_eq!(hello.kexinit, None);
        assert_eq!(parse_kexinit(&[20; 17]), None);
    }
}
