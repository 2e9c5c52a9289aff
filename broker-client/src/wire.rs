//! The hpfeeds wire format as pure functions over bytes.
//!
//! A frame is a big-endian `u32` length (counting the whole frame, header included), a `u8`
//! opcode, then a body. Inside a body a "string" is a `u8` length and that many bytes; what
//! follows the last string, up to the frame end, is raw bytes with no length prefix.
//!
//! | opcode | body |
//! |---|---|
//! | 0 ERROR | text (rest of frame) |
//! | 1 INFO | `str name`, nonce (rest of frame, 4 bytes from hpfeeds3) |
//! | 2 AUTH | `str ident`, SHA-1(nonce ‖ secret) (rest of frame, 20 bytes) |
//! | 3 PUBLISH | `str ident`, `str channel`, payload (rest of frame) |
//! | 4 SUBSCRIBE | `str ident`, channel (rest of frame) |
//! | 5 UNSUBSCRIBE | `str ident`, channel (rest of frame) |
//!
//! Parsing never panics and never allocates: [`check`] validates the header (length and opcode,
//! against the limit) before a caller waits for, or reserves room for, the body; [`parse`] borrows
//! the fields of one whole frame.

use bytes::{BufMut, Bytes, BytesMut};
use nom::Parser;
use nom::multi::length_data;
use nom::number::complete::be_u8;
use nom::number::streaming::be_u32;
use sha1::{Digest, Sha1};

/// Bytes in a frame header: the `u32` length and the `u8` opcode.
pub const HEADER_BYTES: usize = 5;

/// The largest frame accepted by default: 5 + 1 MiB, as hpfeeds3 allows for PUBLISH and ERROR.
pub const DEFAULT_MAX_FRAME_BYTES: usize = HEADER_BYTES + 1024 * 1024;

/// The largest INFO or AUTH frame hpfeeds3 accepts (5 + 256 + 20), whatever the general limit.
pub const MAX_HANDSHAKE_FRAME_BYTES: usize = HEADER_BYTES + 256 + 20;

/// The longest string field (ident, channel, broker name): its length is one byte.
pub const MAX_STRING_BYTES: usize = u8::MAX as usize;

/// Bytes in the AUTH digest (SHA-1).
pub const DIGEST_BYTES: usize = 20;

/// The six hpfeeds opcodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    /// The broker reports an error, usually just before it closes the connection.
    Error = 0,
    /// The broker's greeting: its name and the nonce to authenticate with.
    Info = 1,
    /// The client's ident and SHA-1 of the nonce followed by its secret.
    Auth = 2,
    /// A message on a channel, sent by a publisher and delivered to subscribers.
    Publish = 3,
    /// Ask for a channel's messages.
    Subscribe = 4,
    /// Stop a channel's messages.
    Unsubscribe = 5,
}

impl Opcode {
    /// The opcode for a byte, or `None` past 5.
    pub fn from_u8(byte: u8) -> Option<Self> {
        Some(match byte {
            0 => Self::Error,
            1 => Self::Info,
            2 => Self::Auth,
            3 => Self::Publish,
            4 => Self::Subscribe,
            5 => Self::Unsubscribe,
            _ => return None,
        })
    }

    /// The largest frame of this opcode under a general limit: INFO and AUTH are capped at
    /// [`MAX_HANDSHAKE_FRAME_BYTES`] as hpfeeds3 caps them.
    pub fn max_frame_bytes(self, max_frame_bytes: usize) -> usize {
        match self {
            Self::Info | Self::Auth => max_frame_bytes.min(MAX_HANDSHAKE_FRAME_BYTES),
            _ => max_frame_bytes,
        }
    }

    /// The protocol's upper-case name, as used in logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Error => "ERROR",
            Self::Info => "INFO",
            Self::Auth => "AUTH",
            Self::Publish => "PUBLISH",
            Self::Subscribe => "SUBSCRIBE",
            Self::Unsubscribe => "UNSUBSCRIBE",
        }
    }
}

impl std::fmt::Display for Opcode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Every way bytes can fail to be, or to become, an hpfeeds frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The length field is below the 5-byte header it must count.
    #[error("bad frame length {len}: a frame counts its own 5-byte header")]
    BadLength {
        /// The length field as read.
        len: u32,
    },
    /// The opcode byte is not one of the six opcodes.
    #[error("unknown opcode {opcode}")]
    UnknownOpcode {
        /// The opcode byte as read.
        opcode: u8,
    },
    /// The frame is longer than the limit for its opcode.
    #[error("{opcode} frame of {len} bytes exceeds the limit of {max} bytes")]
    Oversize {
        /// The frame's opcode.
        opcode: Opcode,
        /// The frame's length (read, or that encoding would produce).
        len: u64,
        /// The limit in force for this opcode.
        max: usize,
    },
    /// The frame ends before a field that must be there.
    #[error("short {opcode} frame: it ends before the {field} field")]
    ShortFrame {
        /// The frame's opcode.
        opcode: Opcode,
        /// The missing field.
        field: &'static str,
    },
    /// A string's length byte points past the end of the frame.
    #[error("{opcode} {field} length {len} runs past the frame end ({available} bytes left)")]
    StringPastEnd {
        /// The frame's opcode.
        opcode: Opcode,
        /// The string field.
        field: &'static str,
        /// Its length byte.
        len: u8,
        /// Bytes left in the frame after the length byte.
        available: usize,
    },
    /// An AUTH digest that is not 20 bytes long.
    #[error("AUTH digest of {len} bytes, expected {DIGEST_BYTES}")]
    BadDigest {
        /// The digest's length.
        len: usize,
    },
    /// A string field too long for its one-byte length (encoding only).
    #[error(
        "{field} of {len} bytes is longer than the {MAX_STRING_BYTES} an hpfeeds string can hold"
    )]
    StringTooLong {
        /// The string field.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// The bytes given to [`parse`] are not exactly one frame.
    #[error("frame length field says {len} bytes but {actual} were given")]
    LengthMismatch {
        /// The length field.
        len: u32,
        /// The bytes given.
        actual: usize,
    },
}

/// What [`check`] found at the front of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Fewer than [`HEADER_BYTES`] bytes: the header itself is incomplete.
    NeedHeader,
    /// A valid header; the frame is `frame_len` bytes, not all of them here yet.
    NeedBody {
        /// The whole frame's length, within the limit.
        frame_len: usize,
    },
    /// A whole frame of `frame_len` bytes is at the front of the buffer.
    Complete {
        /// The whole frame's length, within the limit.
        frame_len: usize,
    },
}

/// A frame whose fields borrow from the buffer it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameRef<'a> {
    /// Opcode 0: an error text.
    Error {
        /// The text, usually UTF-8.
        message: &'a [u8],
    },
    /// Opcode 1: the broker's name and nonce.
    Info {
        /// The broker's name.
        name: &'a [u8],
        /// The nonce to hash with the secret.
        nonce: &'a [u8],
    },
    /// Opcode 2: the client's ident and digest.
    Auth {
        /// The client's ident.
        ident: &'a [u8],
        /// SHA-1 of the nonce followed by the secret.
        digest: &'a [u8; DIGEST_BYTES],
    },
    /// Opcode 3: a message.
    Publish {
        /// The publisher's ident.
        ident: &'a [u8],
        /// The channel.
        channel: &'a [u8],
        /// The payload, raw bytes.
        payload: &'a [u8],
    },
    /// Opcode 4: a subscription.
    Subscribe {
        /// The subscriber's ident.
        ident: &'a [u8],
        /// The channel.
        channel: &'a [u8],
    },
    /// Opcode 5: the end of a subscription.
    Unsubscribe {
        /// The subscriber's ident.
        ident: &'a [u8],
        /// The channel.
        channel: &'a [u8],
    },
}

impl FrameRef<'_> {
    /// This frame's opcode.
    pub fn opcode(&self) -> Opcode {
        match self {
            Self::Error { .. } => Opcode::Error,
            Self::Info { .. } => Opcode::Info,
            Self::Auth { .. } => Opcode::Auth,
            Self::Publish { .. } => Opcode::Publish,
            Self::Subscribe { .. } => Opcode::Subscribe,
            Self::Unsubscribe { .. } => Opcode::Unsubscribe,
        }
    }

    /// The number of bytes [`encode`] writes for this frame, header included.
    pub fn encoded_len(&self) -> u64 {
        let body = match self {
            Self::Error { message } => message.len(),
            Self::Info { name, nonce } => 1 + name.len() + nonce.len(),
            Self::Auth { ident, .. } => 1 + ident.len() + DIGEST_BYTES,
            Self::Publish {
                ident,
                channel,
                payload,
            } => 2 + ident.len() + channel.len() + payload.len(),
            Self::Subscribe { ident, channel } | Self::Unsubscribe { ident, channel } => {
                1 + ident.len() + channel.len()
            }
        };
        (HEADER_BYTES + body) as u64
    }
}

/// An owned frame. Its fields are [`Bytes`], so a decoded frame shares the read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Opcode 0: an error text.
    Error {
        /// The text, usually UTF-8.
        message: Bytes,
    },
    /// Opcode 1: the broker's name and nonce.
    Info {
        /// The broker's name.
        name: Bytes,
        /// The nonce to hash with the secret.
        nonce: Bytes,
    },
    /// Opcode 2: the client's ident and digest.
    Auth {
        /// The client's ident.
        ident: Bytes,
        /// SHA-1 of the nonce followed by the secret.
        digest: [u8; DIGEST_BYTES],
    },
    /// Opcode 3: a message.
    Publish {
        /// The publisher's ident.
        ident: Bytes,
        /// The channel.
        channel: Bytes,
        /// The payload, raw bytes.
        payload: Bytes,
    },
    /// Opcode 4: a subscription.
    Subscribe {
        /// The subscriber's ident.
        ident: Bytes,
        /// The channel.
        channel: Bytes,
    },
    /// Opcode 5: the end of a subscription.
    Unsubscribe {
        /// The subscriber's ident.
        ident: Bytes,
        /// The channel.
        channel: Bytes,
    },
}

impl Frame {
    /// The AUTH frame answering an INFO nonce: SHA-1 of the nonce followed by the secret's bytes.
    pub fn auth(ident: impl Into<Bytes>, nonce: &[u8], secret: &str) -> Self {
        Self::Auth {
            ident: ident.into(),
            digest: auth_digest(nonce, secret),
        }
    }

    /// Borrows this frame's fields.
    pub fn as_ref(&self) -> FrameRef<'_> {
        match self {
            Self::Error { message } => FrameRef::Error { message },
            Self::Info { name, nonce } => FrameRef::Info { name, nonce },
            Self::Auth { ident, digest } => FrameRef::Auth { ident, digest },
            Self::Publish {
                ident,
                channel,
                payload,
            } => FrameRef::Publish {
                ident,
                channel,
                payload,
            },
            Self::Subscribe { ident, channel } => FrameRef::Subscribe { ident, channel },
            Self::Unsubscribe { ident, channel } => FrameRef::Unsubscribe { ident, channel },
        }
    }

    /// Turns a frame parsed from `buf` into an owned frame that shares `buf` (no copy).
    ///
    /// Every slice in `frame` must come from `buf`, as it does when `frame = parse(&buf)?`.
    pub fn from_ref(buf: &Bytes, frame: FrameRef<'_>) -> Self {
        let part = |s: &[u8]| buf.slice_ref(s);
        match frame {
            FrameRef::Error { message } => Self::Error {
                message: part(message),
            },
            FrameRef::Info { name, nonce } => Self::Info {
                name: part(name),
                nonce: part(nonce),
            },
            FrameRef::Auth { ident, digest } => Self::Auth {
                ident: part(ident),
                digest: *digest,
            },
            FrameRef::Publish {
                ident,
                channel,
                payload,
            } => Self::Publish {
                ident: part(ident),
                channel: part(channel),
                payload: part(payload),
            },
            FrameRef::Subscribe { ident, channel } => Self::Subscribe {
                ident: part(ident),
                channel: part(channel),
            },
            FrameRef::Unsubscribe { ident, channel } => Self::Unsubscribe {
                ident: part(ident),
                channel: part(channel),
            },
        }
    }

    /// This frame's opcode.
    pub fn opcode(&self) -> Opcode {
        self.as_ref().opcode()
    }
}

/// SHA-1 of the nonce followed by the secret's UTF-8 bytes, as AUTH carries it.
pub fn auth_digest(nonce: &[u8], secret: &str) -> [u8; DIGEST_BYTES] {
    let mut hasher = Sha1::new();
    hasher.update(nonce);
    hasher.update(secret.as_bytes());
    hasher.finalize().into()
}

/// Reads the 5-byte header: the length field and the opcode byte (nom, streaming).
fn header(input: &[u8]) -> nom::IResult<&[u8], (u32, u8)> {
    (be_u32, nom::number::streaming::be_u8).parse(input)
}

/// Looks at the frame at the front of `input` without consuming it.
///
/// A bad length, an unknown opcode or a length over the limit for the opcode is an error as soon
/// as the header is here, so a hostile length is never waited for or allocated.
pub fn check(input: &[u8], max_frame_bytes: usize) -> Result<Check, WireError> {
    let (len, op) = match header(input) {
        Ok((_, header)) => header,
        Err(_) => return Ok(Check::NeedHeader),
    };
    if (len as usize) < HEADER_BYTES {
        return Err(WireError::BadLength { len });
    }
    let opcode = Opcode::from_u8(op).ok_or(WireError::UnknownOpcode { opcode: op })?;
    let max = opcode.max_frame_bytes(max_frame_bytes);
    if u64::from(len) > max as u64 {
        return Err(WireError::Oversize {
            opcode,
            len: u64::from(len),
            max,
        });
    }
    let frame_len = len as usize;
    Ok(if input.len() >= frame_len {
        Check::Complete { frame_len }
    } else {
        Check::NeedBody { frame_len }
    })
}

/// One length-prefixed string of a frame body.
fn string<'a>(
    input: &'a [u8],
    opcode: Opcode,
    field: &'static str,
) -> Result<(&'a [u8], &'a [u8]), WireError> {
    let res: nom::IResult<&[u8], &[u8]> = length_data(be_u8).parse_complete(input);
    res.map_err(|_| match input.split_first() {
        None => WireError::ShortFrame { opcode, field },
        Some((&len, rest)) => WireError::StringPastEnd {
            opcode,
            field,
            len,
            available: rest.len(),
        },
    })
}

/// Parses exactly one whole frame (`frame.len()` equals its length field).
///
/// Limits are [`check`]'s job; `parse` accepts any length that matches the bytes given.
pub fn parse(frame: &[u8]) -> Result<FrameRef<'_>, WireError> {
    let (body, (len, op)) = header(frame).map_err(|_| WireError::LengthMismatch {
        len: 0,
        actual: frame.len(),
    })?;
    if (len as usize) < HEADER_BYTES {
        return Err(WireError::BadLength { len });
    }
    if len as usize != frame.len() {
        return Err(WireError::LengthMismatch {
            len,
            actual: frame.len(),
        });
    }
    let opcode = Opcode::from_u8(op).ok_or(WireError::UnknownOpcode { opcode: op })?;
    Ok(match opcode {
        Opcode::Error => FrameRef::Error { message: body },
        Opcode::Info => {
            let (nonce, name) = string(body, opcode, "name")?;
            FrameRef::Info { name, nonce }
        }
        Opcode::Auth => {
            let (rest, ident) = string(body, opcode, "ident")?;
            let digest = rest
                .try_into()
                .map_err(|_| WireError::BadDigest { len: rest.len() })?;
            FrameRef::Auth { ident, digest }
        }
        Opcode::Publish => {
            let (rest, ident) = string(body, opcode, "ident")?;
            let (payload, channel) = string(rest, opcode, "channel")?;
            FrameRef::Publish {
                ident,
                channel,
                payload,
            }
        }
        Opcode::Subscribe => {
            let (channel, ident) = string(body, opcode, "ident")?;
            FrameRef::Subscribe { ident, channel }
        }
        Opcode::Unsubscribe => {
            let (channel, ident) = string(body, opcode, "ident")?;
            FrameRef::Unsubscribe { ident, channel }
        }
    })
}

/// Checks and parses the frame at the front of `input`: `Ok(None)` while it is incomplete,
/// otherwise the frame and the number of bytes it took.
pub fn decode(
    input: &[u8],
    max_frame_bytes: usize,
) -> Result<Option<(FrameRef<'_>, usize)>, WireError> {
    match check(input, max_frame_bytes)? {
        Check::NeedHeader | Check::NeedBody { .. } => Ok(None),
        Check::Complete { frame_len } => Ok(Some((parse(&input[..frame_len])?, frame_len))),
    }
}

/// Checks that `frame` can be encoded under `max_frame_bytes` and returns its length.
pub fn validate(frame: &FrameRef<'_>, max_frame_bytes: usize) -> Result<usize, WireError> {
    let strings: &[(&'static str, &[u8])] = match frame {
        FrameRef::Error { .. } => &[],
        FrameRef::Info { name, .. } => &[("name", name)],
        FrameRef::Auth { ident, .. }
        | FrameRef::Subscribe { ident, .. }
        | FrameRef::Unsubscribe { ident, .. } => &[("ident", ident)],
        FrameRef::Publish { ident, channel, .. } => &[("ident", ident), ("channel", channel)],
    };
    for &(field, value) in strings {
        if value.len() > MAX_STRING_BYTES {
            return Err(WireError::StringTooLong {
                field,
                len: value.len(),
            });
        }
    }
    let opcode = frame.opcode();
    let len = frame.encoded_len();
    let max = opcode.max_frame_bytes(max_frame_bytes);
    if len > max as u64 {
        return Err(WireError::Oversize { opcode, len, max });
    }
    Ok(len as usize)
}

/// Appends `frame` to `dst`, or fails without writing anything if it breaks a limit.
pub fn encode(
    frame: &FrameRef<'_>,
    max_frame_bytes: usize,
    dst: &mut BytesMut,
) -> Result<(), WireError> {
    let len = validate(frame, max_frame_bytes)?;
    dst.reserve(len);
    // `validate` bounded `len` by `max_frame_bytes`; callers keep that below 4 GiB.
    dst.put_u32(len as u32);
    dst.put_u8(frame.opcode() as u8);
    let put_str = |dst: &mut BytesMut, s: &[u8]| {
        dst.put_u8(s.len() as u8);
        dst.put_slice(s);
    };
    match frame {
        FrameRef::Error { message } => dst.put_slice(message),
        FrameRef::Info { name, nonce } => {
            put_str(dst, name);
            dst.put_slice(nonce);
        }
        FrameRef::Auth { ident, digest } => {
            put_str(dst, ident);
            dst.put_slice(&digest[..]);
        }
        FrameRef::Publish {
            ident,
            channel,
            payload,
        } => {
            put_str(dst, ident);
            put_str(dst, channel);
            dst.put_slice(payload);
        }
        FrameRef::Subscribe { ident, channel } | FrameRef::Unsubscribe { ident, channel } => {
            put_str(dst, ident);
            dst.put_slice(channel);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = DEFAULT_MAX_FRAME_BYTES;

    fn enc(frame: FrameRef<'_>) -> Vec<u8> {
        let mut buf = BytesMut::new();
        encode(&frame, MAX, &mut buf).unwrap();
        buf.to_vec()
    }

    fn all_kinds() -> Vec<FrameRef<'static>> {
        vec![
            FrameRef::Error {
                message: b"Authentication failed for x",
            },
            FrameRef::Info {
                name: b"hpfeeds",
                nonce: b"\x01\x02\x03\x04",
            },
            FrameRef::Auth {
                ident: b"sensor",
                digest: &[7u8; DIGEST_BYTES],
            },
            FrameRef::Publish {
                ident: b"sensor",
                channel: b"recce7.events",
                payload: b"{\"a\":1}\x00\xff",
            },
            FrameRef::Subscribe {
                ident: b"sensor",
                channel: b"recce7.events",
            },
            FrameRef::Unsubscribe {
                ident: b"sensor",
                channel: b"",
            },
            FrameRef::Publish {
                ident: b"",
                channel: b"",
                payload: b"",
            },
        ]
    }

    #[test]
    fn every_opcode_round_trips() {
        for frame in all_kinds() {
            let bytes = enc(frame);
            assert_eq!(bytes.len() as u64, frame.encoded_len());
            assert_eq!(parse(&bytes), Ok(frame));
            assert_eq!(decode(&bytes, MAX), Ok(Some((frame, bytes.len()))));
        }
    }

    #[test]
    fn bytes_match_hpfeeds3() {
        // hpfeeds3: msgpublish("i", "c", b"xy") == b"\x00\x00\x00\x0b\x03\x01i\x01cxy"
        assert_eq!(
            enc(FrameRef::Publish {
                ident: b"i",
                channel: b"c",
                payload: b"xy"
            }),
            b"\x00\x00\x00\x0b\x03\x01i\x01cxy"
        );
        // msgsubscribe('i', 'chan') has no length byte before the channel.
        assert_eq!(
            enc(FrameRef::Subscribe {
                ident: b"i",
                channel: b"chan"
            }),
            b"\x00\x00\x00\x0b\x04\x01ichan"
        );
        // hashlib.sha1(b'\x01\x02\x03\x04' + b'secret').hexdigest()
        let digest = auth_digest(b"\x01\x02\x03\x04", "secret");
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "bf13c597ffb288ba1d013c277c6a229a8e976b5a");
    }

    #[test]
    fn incomplete_input_waits() {
        let bytes = enc(all_kinds()[3]);
        for cut in 0..bytes.len() {
            let want = if cut < HEADER_BYTES {
                Check::NeedHeader
            } else {
                Check::NeedBody {
                    frame_len: bytes.len(),
                }
            };
            assert_eq!(check(&bytes[..cut], MAX), Ok(want), "cut at {cut}");
            assert_eq!(decode(&bytes[..cut], MAX), Ok(None));
        }
    }

    #[test]
    fn two_frames_back_to_back_decode_one_at_a_time() {
        let mut bytes = enc(all_kinds()[4]);
        let first = bytes.len();
        bytes.extend(enc(all_kinds()[0]));
        let (frame, used) = decode(&bytes, MAX).unwrap().unwrap();
        assert_eq!((frame, used), (all_kinds()[4], first));
        assert_eq!(
            decode(&bytes[used..], MAX).unwrap().unwrap().0,
            all_kinds()[0]
        );
    }

    #[test]
    fn length_below_header_is_bad_length() {
        assert_eq!(
            check(b"\x00\x00\x00\x04\x03", MAX),
            Err(WireError::BadLength { len: 4 })
        );
        assert_eq!(
            parse(b"\x00\x00\x00\x00\x03"),
            Err(WireError::BadLength { len: 0 })
        );
    }

    #[test]
    fn unknown_opcode_is_rejected_from_the_header() {
        assert_eq!(
            check(b"\x00\x00\x00\x05\x06", MAX),
            Err(WireError::UnknownOpcode { opcode: 6 })
        );
        assert_eq!(
            parse(b"\x00\x00\x00\x05\xff"),
            Err(WireError::UnknownOpcode { opcode: 255 })
        );
    }

    #[test]
    fn hostile_length_is_rejected_before_its_body_arrives() {
        assert_eq!(
            check(b"\xff\xff\xff\xff\x03", MAX),
            Err(WireError::Oversize {
                opcode: Opcode::Publish,
                len: u64::from(u32::MAX),
                max: MAX
            })
        );
        // One byte over the limit, one at it.
        let over = ((MAX + 1) as u32).to_be_bytes();
        assert!(matches!(
            check(&[&over[..], &[3]].concat(), MAX),
            Err(WireError::Oversize { .. })
        ));
        let at = (MAX as u32).to_be_bytes();
        assert_eq!(
            check(&[&at[..], &[3]].concat(), MAX),
            Ok(Check::NeedBody { frame_len: MAX })
        );
        // INFO and AUTH stop at 281 whatever the general limit.
        assert_eq!(
            check(b"\x00\x00\x01\x1a\x02", MAX),
            Err(WireError::Oversize {
                opcode: Opcode::Auth,
                len: 282,
                max: MAX_HANDSHAKE_FRAME_BYTES
            })
        );
        // A configured smaller limit applies.
        assert!(matches!(
            check(b"\x00\x00\x00\x65\x03", 100),
            Err(WireError::Oversize { .. })
        ));
    }

    #[test]
    fn string_past_end_names_the_field() {
        // PUBLISH: ident "i", channel length 9 with 2 bytes left.
        assert_eq!(
            parse(b"\x00\x00\x00\x0a\x03\x01i\x09cx"),
            Err(WireError::StringPastEnd {
                opcode: Opcode::Publish,
                field: "channel",
                len: 9,
                available: 2
            })
        );
        assert_eq!(
            parse(b"\x00\x00\x00\x06\x01\x05"),
            Err(WireError::StringPastEnd {
                opcode: Opcode::Info,
                field: "name",
                len: 5,
                available: 0
            })
        );
    }

    #[test]
    fn short_frames_name_the_missing_field() {
        assert_eq!(
            parse(b"\x00\x00\x00\x05\x03"),
            Err(WireError::ShortFrame {
                opcode: Opcode::Publish,
                field: "ident"
            })
        );
        assert_eq!(
            parse(b"\x00\x00\x00\x07\x03\x01i"),
            Err(WireError::ShortFrame {
                opcode: Opcode::Publish,
                field: "channel"
            })
        );
        assert_eq!(
            parse(b"\x00\x00\x00\x05\x04"),
            Err(WireError::ShortFrame {
                opcode: Opcode::Subscribe,
                field: "ident"
            })
        );
        assert_eq!(
            parse(b"\x00\x00\x00\x09\x02\x01ixy"),
            Err(WireError::BadDigest { len: 2 })
        );
    }

    #[test]
    fn parse_wants_exactly_one_frame() {
        assert_eq!(
            parse(b"\x00\x00\x00\x06\x00ab"),
            Err(WireError::LengthMismatch { len: 6, actual: 7 })
        );
        assert!(matches!(
            parse(b"\x00\x00"),
            Err(WireError::LengthMismatch { .. })
        ));
    }

    #[test]
    fn encoder_refuses_what_the_decoder_would() {
        let long = [b'x'; 256];
        let mut buf = BytesMut::new();
        assert_eq!(
            encode(
                &FrameRef::Publish {
                    ident: b"i",
                    channel: &long,
                    payload: b""
                },
                MAX,
                &mut buf
            ),
            Err(WireError::StringTooLong {
                field: "channel",
                len: 256
            })
        );
        // A payload that fills the frame to the limit passes; one more byte does not.
        let fill = MAX - HEADER_BYTES - 2 - 1 - 1;
        let payload = vec![0u8; fill + 1];
        let ok = FrameRef::Publish {
            ident: b"i",
            channel: b"c",
            payload: &payload[..fill],
        };
        assert_eq!(validate(&ok, MAX), Ok(MAX));
        let over = FrameRef::Publish {
            ident: b"i",
            channel: b"c",
            payload: &payload,
        };
        assert_eq!(
            encode(&over, MAX, &mut buf),
            Err(WireError::Oversize {
                opcode: Opcode::Publish,
                len: MAX as u64 + 1,
                max: MAX
            })
        );
        assert!(buf.is_empty(), "a refused frame writes nothing");
    }

    #[test]
    fn owned_frames_share_the_buffer() {
        let bytes = Bytes::from(enc(all_kinds()[3]));
        let frame = Frame::from_ref(&bytes, parse(&bytes).unwrap());
        let Frame::Publish { payload, .. } = &frame else {
            panic!("not a publish: {frame:?}")
        };
        assert_eq!(
            payload.as_ptr(),
            bytes[bytes.len() - payload.len()..].as_ptr()
        );
        assert_eq!(frame.as_ref(), all_kinds()[3]);
    }

    #[test]
    fn every_short_prefix_and_every_byte_flip_is_handled() {
        for frame in all_kinds() {
            let bytes = enc(frame);
            // Every frame cut short is incomplete: the codec waits for more, it neither errs
            // nor yields a frame.
            for cut in 0..bytes.len() {
                assert_eq!(
                    decode(&bytes[..cut], MAX),
                    Ok(None),
                    "{frame:?} cut to {cut} of {} bytes",
                    bytes.len()
                );
            }
            assert_eq!(decode(&bytes, MAX), Ok(Some((frame, bytes.len()))));
            // Every byte set to a few telling values: an error, a wait for more, or a frame that
            // takes no more than the input and is exactly what those bytes encode.
            for i in 0..bytes.len() {
                for v in [0u8, 1, 5, 0x7f, 0xff] {
                    let mut m = bytes.clone();
                    m[i] = v;
                    match decode(&m, MAX) {
                        Err(_) | Ok(None) => {}
                        Ok(Some((got, used))) => {
                            assert!(used <= m.len(), "{frame:?}, byte {i} = {v}");
                            assert_eq!(
                                enc(got),
                                &m[..used],
                                "{frame:?}, byte {i} = {v}: decoded {got:?}"
                            );
                        }
                    }
                    // `parse` takes a whole frame: it never reads past it, and what it yields
                    // encodes back to it.
                    if let Ok(got) = parse(&m) {
                        assert_eq!(enc(got), m, "{frame:?}, byte {i} = {v}: parsed {got:?}");
                    }
                }
            }
        }
    }
}
