//! A captured IPv4 or IPv6 packet carrying TCP, read as an `AF_PACKET` `SOCK_DGRAM` socket
//! delivers it: the buffer starts at the IP header. [`parse`] checks every length before it reads
//! and never panics; it allocates nothing (a [`TcpPacket`] borrows the buffer).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use crate::error::PacketError;

/// TCP's flag bits (the 8 of byte 13 and NS, the low bit of byte 12), as a small set.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    /// No flag set (an nmap NULL probe).
    pub const NONE: TcpFlags = TcpFlags(0);
    /// FIN: the sender has no more data.
    pub const FIN: TcpFlags = TcpFlags(0x001);
    /// SYN: opens a connection.
    pub const SYN: TcpFlags = TcpFlags(0x002);
    /// RST: aborts a connection.
    pub const RST: TcpFlags = TcpFlags(0x004);
    /// PSH: push the data to the application.
    pub const PSH: TcpFlags = TcpFlags(0x008);
    /// ACK: the acknowledgement number is valid.
    pub const ACK: TcpFlags = TcpFlags(0x010);
    /// URG: the urgent pointer is valid.
    pub const URG: TcpFlags = TcpFlags(0x020);
    /// ECE: ECN echo.
    pub const ECE: TcpFlags = TcpFlags(0x040);
    /// CWR: congestion window reduced.
    pub const CWR: TcpFlags = TcpFlags(0x080);
    /// NS: ECN nonce (RFC 3540, historic).
    pub const NS: TcpFlags = TcpFlags(0x100);

    /// Whether every flag of `other` is set here.
    pub const fn has(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag of `other` is set here.
    pub const fn any(self, other: TcpFlags) -> bool {
        self.0 & other.0 != 0
    }

    /// Both sets together.
    pub const fn with(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }

    /// Only the flags of `mask`.
    pub const fn masked(self, mask: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 & mask.0)
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, other: TcpFlags) -> TcpFlags {
        self.with(other)
    }
}

impl std::fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMES: [(TcpFlags, &str); 9] = [
            (TcpFlags::FIN, "FIN"),
            (TcpFlags::SYN, "SYN"),
            (TcpFlags::RST, "RST"),
            (TcpFlags::PSH, "PSH"),
            (TcpFlags::ACK, "ACK"),
            (TcpFlags::URG, "URG"),
            (TcpFlags::ECE, "ECE"),
            (TcpFlags::CWR, "CWR"),
            (TcpFlags::NS, "NS"),
        ];
        let mut first = true;
        for (flag, name) in NAMES {
            if self.has(flag) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("NONE")?;
        }
        Ok(())
    }
}

/// One TCP packet's fields, as the p0f matcher and the scan detector need them.
#[derive(Debug, Clone)]
pub struct TcpPacket<'a> {
    /// The whole IP packet (cut to the IP header's total length, so link padding is gone), for
    /// the p0f matcher.
    pub l3: &'a [u8],
    /// The sender's address.
    pub src: IpAddr,
    /// The receiver's address.
    pub dst: IpAddr,
    /// The sender's port.
    pub src_port: u16,
    /// The receiver's port.
    pub dst_port: u16,
    /// The flag bits.
    pub flags: TcpFlags,
    /// The sequence number.
    pub seq: u32,
    /// The acknowledgement number (meaningful with ACK).
    pub ack: u32,
    /// The advertised window, unscaled.
    pub window: u16,
    /// The urgent pointer (meaningful with URG; nmap sets it without URG in an OS probe).
    pub urgent: u16,
    /// IPv4's TTL, or IPv6's hop limit.
    pub ttl: u8,
    /// The timestamp option's TSval and TSecr, when present.
    pub timestamp: Option<(u32, u32)>,
    /// Whether the SACK-permitted option is present (OS stacks send it; raw scanners do not).
    pub sack_permitted: bool,
    /// The MSS option, when present.
    pub mss: Option<u16>,
    /// Bytes of TCP payload.
    pub payload_len: usize,
}

/// IPv6 extension headers walked before giving up (each is at least 8 bytes).
const MAX_IPV6_EXTENSION_HEADERS: usize = 8;

/// Reads a packet that starts at its IP header. IPv4 fragments past the first are
/// [`PacketError::NotTcp`]: they carry no TCP header.
pub fn parse(l3: &[u8]) -> Result<TcpPacket<'_>, PacketError> {
    let first = *l3.first().ok_or(PacketError::Truncated)?;
    match first >> 4 {
        4 => parse_ipv4(l3),
        6 => parse_ipv6(l3),
        _ => Err(PacketError::BadHeader("IP version is neither 4 nor 6")),
    }
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    let pair = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*pair.first()?, *pair.get(1)?]))
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    let quad: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(quad))
}

fn parse_ipv4(buffer: &[u8]) -> Result<TcpPacket<'_>, PacketError> {
    if buffer.len() < 20 {
        return Err(PacketError::Truncated);
    }
    let header_len = usize::from(buffer.first().copied().unwrap_or(0) & 0x0f) * 4;
    if header_len < 20 {
        return Err(PacketError::BadHeader("IPv4 header length below 20 bytes"));
    }
    let total_len = usize::from(be16(buffer, 2).ok_or(PacketError::Truncated)?);
    if total_len < header_len {
        return Err(PacketError::BadHeader(
            "IPv4 total length below its header length",
        ));
    }
    // The capture keeps only the headers (the kernel's filter cuts packets to its snap
    // length): what is missing past the headers is payload, whose length the header gives.
    let l3 = buffer.get(..total_len).unwrap_or(buffer);
    if l3.get(9) != Some(&6) {
        return Err(PacketError::NotTcp);
    }
    let fragment_offset = be16(l3, 6).ok_or(PacketError::Truncated)? & 0x1fff;
    if fragment_offset != 0 {
        return Err(PacketError::NotTcp);
    }
    let ttl = l3.get(8).copied().ok_or(PacketError::Truncated)?;
    let src: [u8; 4] = l3
        .get(12..16)
        .and_then(|s| s.try_into().ok())
        .ok_or(PacketError::Truncated)?;
    let dst: [u8; 4] = l3
        .get(16..20)
        .and_then(|s| s.try_into().ok())
        .ok_or(PacketError::Truncated)?;
    let segment = l3.get(header_len..).ok_or(PacketError::Truncated)?;
    parse_tcp(
        l3,
        IpAddr::V4(Ipv4Addr::from(src)),
        IpAddr::V4(Ipv4Addr::from(dst)),
        ttl,
        segment,
        total_len - header_len,
    )
}

fn parse_ipv6(buffer: &[u8]) -> Result<TcpPacket<'_>, PacketError> {
    if buffer.len() < 40 {
        return Err(PacketError::Truncated);
    }
    let payload_len = usize::from(be16(buffer, 4).ok_or(PacketError::Truncated)?);
    // A jumbogram (payload length 0 with a hop-by-hop option) is not TCP we expect here.
    // Cut to the snap length, as for IPv4: the header says how long it was.
    let l3 = buffer.get(..40 + payload_len).unwrap_or(buffer);
    let hop_limit = l3.get(7).copied().ok_or(PacketError::Truncated)?;
    let src: [u8; 16] = l3
        .get(8..24)
        .and_then(|s| s.try_into().ok())
        .ok_or(PacketError::Truncated)?;
    let dst: [u8; 16] = l3
        .get(24..40)
        .and_then(|s| s.try_into().ok())
        .ok_or(PacketError::Truncated)?;
    let mut next_header = l3.get(6).copied().ok_or(PacketError::Truncated)?;
    let mut offset = 40usize;
    let mut walked = 0usize;
    while next_header != 6 {
        if walked == MAX_IPV6_EXTENSION_HEADERS {
            return Err(PacketError::BadHeader("too many IPv6 extension headers"));
        }
        walked += 1;
        match next_header {
            // Hop-by-hop, routing, destination options: length in 8-byte units past the first 8.
            0 | 43 | 60 => {
                let length_units = l3.get(offset + 1).copied().ok_or(PacketError::Truncated)?;
                next_header = l3.get(offset).copied().ok_or(PacketError::Truncated)?;
                offset += (usize::from(length_units) + 1) * 8;
            }
            // Fragment: only the first fragment holds the TCP header.
            44 => {
                let fragment_offset = be16(l3, offset + 2).ok_or(PacketError::Truncated)? >> 3;
                if fragment_offset != 0 {
                    return Err(PacketError::NotTcp);
                }
                next_header = l3.get(offset).copied().ok_or(PacketError::Truncated)?;
                offset += 8;
            }
            _ => return Err(PacketError::NotTcp),
        }
    }
    let segment = l3.get(offset..).ok_or(PacketError::Truncated)?;
    let wire_len = (40 + payload_len)
        .checked_sub(offset)
        .ok_or(PacketError::BadHeader(
            "IPv6 extension headers past the payload length",
        ))?;
    parse_tcp(
        l3,
        IpAddr::V6(Ipv6Addr::from(src)),
        IpAddr::V6(Ipv6Addr::from(dst)),
        hop_limit,
        segment,
        wire_len,
    )
}

fn parse_tcp<'a>(
    l3: &'a [u8],
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    segment: &[u8],
    wire_len: usize,
) -> Result<TcpPacket<'a>, PacketError> {
    if segment.len() < 20 {
        return Err(PacketError::Truncated);
    }
    let data_offset_byte = segment.get(12).copied().ok_or(PacketError::Truncated)?;
    let header_len = usize::from(data_offset_byte >> 4) * 4;
    if header_len < 20 {
        return Err(PacketError::BadHeader("TCP data offset below 20 bytes"));
    }
    let options = segment.get(20..header_len).ok_or(PacketError::Truncated)?;
    let payload_len = wire_len
        .checked_sub(header_len)
        .ok_or(PacketError::BadHeader("TCP header past the IP length"))?;
    let flags = TcpFlags(
        (u16::from(data_offset_byte & 0x01) << 8)
            | u16::from(segment.get(13).copied().ok_or(PacketError::Truncated)?),
    );
    let mut packet = TcpPacket {
        l3,
        src,
        dst,
        src_port: be16(segment, 0).ok_or(PacketError::Truncated)?,
        dst_port: be16(segment, 2).ok_or(PacketError::Truncated)?,
        flags,
        seq: be32(segment, 4).ok_or(PacketError::Truncated)?,
        ack: be32(segment, 8).ok_or(PacketError::Truncated)?,
        window: be16(segment, 14).ok_or(PacketError::Truncated)?,
        urgent: be16(segment, 18).ok_or(PacketError::Truncated)?,
        ttl,
        timestamp: None,
        sack_permitted: false,
        mss: None,
        payload_len,
    };
    read_options(options, &mut packet);
    Ok(packet)
}

/// Reads the options the detector and the log need. A malformed option ends the walk without
/// an error: p0f reads such a SYN too (as a quirk), and a scan probe must still be counted.
fn read_options(mut options: &[u8], packet: &mut TcpPacket<'_>) {
    while let Some((&kind, rest)) = options.split_first() {
        match kind {
            0 => return,
            1 => {
                options = rest;
                continue;
            }
            _ => {}
        }
        let Some(&length) = rest.first() else { return };
        let length = usize::from(length);
        if length < 2 {
            return;
        }
        let Some(body) = options.get(2..length) else {
            return;
        };
        match (kind, body.len()) {
            (2, 2) => packet.mss = be16(body, 0),
            (4, 0) => packet.sack_permitted = true,
            (8, 8) => packet.timestamp = be32(body, 0).zip(be32(body, 4)),
            _ => {}
        }
        options = options.get(length..).unwrap_or_default();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A TCP header with `options` (padded to 4 bytes with NOPs... by the caller) and `payload`.
    pub(crate) fn tcp_segment(
        src_port: u16,
        dst_port: u16,
        flags: TcpFlags,
        window: u16,
        options: &[u8],
        payload: &[u8],
    ) -> Vec<u8> {
        assert_eq!(options.len() % 4, 0, "options must be padded to 32 bits");
        let header_len = 20 + options.len();
        let mut segment = Vec::with_capacity(header_len + payload.len());
        segment.extend_from_slice(&src_port.to_be_bytes());
        segment.extend_from_slice(&dst_port.to_be_bytes());
        segment.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        let ack: u32 = if flags.has(TcpFlags::ACK) {
            0x0bad_cafe
        } else {
            0
        };
        segment.extend_from_slice(&ack.to_be_bytes());
        segment.push(((header_len / 4) as u8) << 4 | (flags.0 >> 8) as u8);
        segment.push(flags.0 as u8);
        segment.extend_from_slice(&window.to_be_bytes());
        segment.extend_from_slice(&[0, 0, 0, 0]); // checksum (not checked), urgent pointer
        segment.extend_from_slice(options);
        segment.extend_from_slice(payload);
        segment
    }

    /// An IPv4 packet around `segment`: DF set, the given IP id and TTL.
    pub(crate) fn ipv4(
        src: [u8; 4],
        dst: [u8; 4],
        ttl: u8,
        id: u16,
        df: bool,
        segment: &[u8],
    ) -> Vec<u8> {
        let total = 20 + segment.len();
        let mut packet = vec![0x45, 0x00];
        packet.extend_from_slice(&(total as u16).to_be_bytes());
        packet.extend_from_slice(&id.to_be_bytes());
        packet.extend_from_slice(if df { &[0x40, 0x00] } else { &[0x00, 0x00] });
        packet.extend_from_slice(&[ttl, 6, 0, 0]);
        packet.extend_from_slice(&src);
        packet.extend_from_slice(&dst);
        packet.extend_from_slice(segment);
        packet
    }

    /// An IPv6 packet around `segment` with the given hop limit.
    pub(crate) fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, hop_limit: u8, segment: &[u8]) -> Vec<u8> {
        let mut packet = vec![0x60, 0, 0, 0];
        packet.extend_from_slice(&(segment.len() as u16).to_be_bytes());
        packet.extend_from_slice(&[6, hop_limit]);
        packet.extend_from_slice(&src.octets());
        packet.extend_from_slice(&dst.octets());
        packet.extend_from_slice(segment);
        packet
    }

    /// The records of a little-endian, microsecond pcap file of raw IP packets (link type 101):
    /// each packet's time since the file's first and its bytes.
    pub(crate) fn pcap_records(file: &[u8]) -> Vec<(std::time::Duration, &[u8])> {
        let word = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().expect("4 bytes"));
        assert_eq!(
            (word(0), word(20)),
            (0xa1b2_c3d4, 101),
            "a raw-IP pcap file"
        );
        let mut records = Vec::new();
        let mut offset = 24;
        let mut first = None;
        while offset + 16 <= file.len() {
            let stamp = std::time::Duration::from_secs(word(offset).into())
                + std::time::Duration::from_micros(word(offset + 4).into());
            let length = word(offset + 8) as usize;
            let data = &file[offset + 16..offset + 16 + length];
            offset += 16 + length;
            records.push((stamp - *first.get_or_insert(stamp), data));
        }
        records
    }

    /// Linux's SYN options: mss 65495 (loopback), sok, ts, nop, ws 7.
    pub(crate) const LINUX_OPTIONS: [u8; 20] = [
        2, 4, 0xff, 0xd7, 4, 2, 8, 10, 0, 0, 0x10, 0, 0, 0, 0, 0, 1, 3, 3, 7,
    ];

    #[test]
    fn ipv4_syn_with_options() {
        let segment = tcp_segment(40000, 23, TcpFlags::SYN, 65495, &LINUX_OPTIONS, &[]);
        let bytes = ipv4([127, 0, 0, 1], [127, 0, 0, 2], 64, 0x1234, true, &segment);
        let mut padded = bytes.clone();
        padded.extend_from_slice(&[0; 6]); // Ethernet padding past the total length
        let packet = parse(&padded).expect("a valid SYN");
        assert_eq!(packet.l3, &bytes[..]);
        assert_eq!(packet.src, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(packet.dst, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
        assert_eq!((packet.src_port, packet.dst_port), (40000, 23));
        assert_eq!(packet.flags, TcpFlags::SYN);
        assert!(packet.flags.has(TcpFlags::SYN) && !packet.flags.has(TcpFlags::ACK));
        assert_eq!(packet.seq, 0x1234_5678);
        assert_eq!(packet.window, 65495);
        assert_eq!(packet.ttl, 64);
        assert_eq!(packet.mss, Some(65495));
        assert!(packet.sack_permitted);
        assert_eq!(packet.timestamp, Some((0x0000_1000, 0)));
        assert_eq!(packet.payload_len, 0);
    }

    #[test]
    fn ipv6_syn_with_options_and_payload() {
        let options = [2, 4, 0x05, 0xa0, 1, 1, 1, 0]; // mss 1440, nop, nop, nop, eol
        let all = TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR | TcpFlags::NS;
        let segment = tcp_segment(1, 443, all, 1024, &options, b"hi");
        let src = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        let bytes = ipv6(src, Ipv6Addr::LOCALHOST, 57, &segment);
        let packet = parse(&bytes).expect("a valid SYN");
        assert_eq!(packet.src, IpAddr::V6(src));
        assert_eq!(packet.dst, IpAddr::V6(Ipv6Addr::LOCALHOST));
        assert_eq!(packet.dst_port, 443);
        assert_eq!(packet.ttl, 57);
        assert_eq!(packet.flags, all);
        assert!(packet.flags.has(TcpFlags::NS));
        assert_eq!(packet.mss, Some(1440));
        assert!(!packet.sack_permitted);
        assert_eq!(packet.timestamp, None);
        assert_eq!(packet.payload_len, 2);
    }

    #[test]
    fn ipv6_extension_headers_are_walked() {
        let segment = tcp_segment(5, 6, TcpFlags::FIN, 0, &[], &[]);
        // A destination-options header (8 bytes, next header TCP) before the segment.
        let mut with_extension = vec![6, 0, 1, 4, 0, 0, 0, 0];
        with_extension.extend_from_slice(&segment);
        let mut bytes = ipv6(
            Ipv6Addr::LOCALHOST,
            Ipv6Addr::LOCALHOST,
            64,
            &with_extension,
        );
        bytes[6] = 60;
        let packet = parse(&bytes).expect("TCP after an extension header");
        assert_eq!(
            (packet.src_port, packet.dst_port, packet.flags),
            (5, 6, TcpFlags::FIN)
        );
    }

    #[test]
    fn fragments_and_other_protocols_are_not_tcp() {
        let segment = tcp_segment(1, 2, TcpFlags::SYN, 0, &[], &[]);
        let mut fragment = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64, 1, false, &segment);
        fragment[7] = 8; // offset 64 bytes
        assert_eq!(parse(&fragment).unwrap_err(), PacketError::NotTcp);
        let mut udp = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64, 1, false, &segment);
        udp[9] = 17;
        assert_eq!(parse(&udp).unwrap_err(), PacketError::NotTcp);
    }

    #[test]
    fn bad_headers_are_named() {
        let segment = tcp_segment(1, 2, TcpFlags::SYN, 0, &[], &[]);
        let good = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64, 1, false, &segment);
        let mut short_ihl = good.clone();
        short_ihl[0] = 0x44;
        assert!(matches!(parse(&short_ihl), Err(PacketError::BadHeader(_))));
        let mut short_doff = good.clone();
        short_doff[20 + 12] = 0x40;
        assert!(matches!(parse(&short_doff), Err(PacketError::BadHeader(_))));
        let mut version = good.clone();
        version[0] = 0x55;
        assert!(matches!(parse(&version), Err(PacketError::BadHeader(_))));
        assert_eq!(parse(&good[..30]).unwrap_err(), PacketError::Truncated);
        assert_eq!(parse(&[]).unwrap_err(), PacketError::Truncated);
    }

    #[test]
    fn malformed_options_end_the_walk_without_error() {
        let options = [2, 4, 0x05, 0xb4, 8, 0, 0, 0]; // mss, then a length-0 option
        let segment = tcp_segment(1, 2, TcpFlags::SYN, 0, &options, &[]);
        let bytes = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64, 1, false, &segment);
        let packet = parse(&bytes).expect("still a packet");
        assert_eq!(packet.mss, Some(1460));
        assert_eq!(packet.timestamp, None);
    }

    #[test]
    fn every_prefix_and_garbage_never_panics() {
        let segment = tcp_segment(40000, 23, TcpFlags::SYN, 65495, &LINUX_OPTIONS, b"data");
        let v4 = ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64, 7, true, &segment);
        let v6 = ipv6(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 64, &segment);
        // A prefix without the whole IP and TCP headers is an error; one with them is the
        // capture's cut packet (its snap length): read, with the payload length the IP header
        // gives, not the bytes kept.
        for (bytes, ip_header) in [(&v4, 20), (&v6, 40)] {
            let headers = ip_header + 20 + LINUX_OPTIONS.len();
            for end in 0..bytes.len() {
                match parse(&bytes[..end]) {
                    Ok(packet) => {
                        assert!(end >= headers, "a prefix of {end} bytes parsed");
                        assert_eq!(packet.payload_len, 4, "a prefix of {end} bytes");
                        assert_eq!(packet.mss, Some(65495));
                    }
                    Err(_) => assert!(end < headers, "a prefix of {end} bytes refused"),
                }
            }
            assert_eq!(parse(bytes).map(|p| p.payload_len), Ok(4));
        }
        // Every single-byte corruption of the header: no panic, whatever the result.
        for bytes in [&v4, &v6] {
            for at in 0..bytes.len().min(80) {
                for value in [0x00, 0x01, 0x0f, 0x45, 0x60, 0x7f, 0xff] {
                    let mut corrupt = bytes.clone();
                    corrupt[at] = value;
                    let _ = parse(&corrupt);
                }
            }
        }
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 120) as usize;
            let mut garbage: Vec<u8> = (0..len).map(|i| (state >> (i % 56)) as u8).collect();
            if let Some(first) = garbage.first_mut() {
                *first = if state & 1 == 0 { 0x45 } else { 0x60 };
            }
            let _ = parse(&garbage);
        }
    }
}
