//! Hand-built packets for the packet capture's tests and benchmark: an IPv4 TCP SYN from a
//! spoofed source, with its checksums, to send through a raw socket (root).

use std::net::{Ipv4Addr, SocketAddrV4};

/// An IPv4 + TCP SYN (44 bytes: one MSS option of 1460) from `src`:`sport` to
/// 127.0.0.1:`port`, with `window`, checksums filled in.
pub fn spoofed_syn(src: Ipv4Addr, sport: u16, port: u16, window: u16) -> [u8; 44] {
    let dst = Ipv4Addr::LOCALHOST;
    let mut p = [0u8; 44];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&44u16.to_be_bytes());
    p[4..6].copy_from_slice(&sport.to_be_bytes());
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let ip_sum = checksum(&p[..20]);
    p[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    p[20..22].copy_from_slice(&sport.to_be_bytes());
    p[22..24].copy_from_slice(&port.to_be_bytes());
    p[24..28].copy_from_slice(&u32::from(sport).wrapping_mul(2_654_435_761).to_be_bytes());
    p[32] = 6 << 4;
    p[33] = 0x02;
    p[34..36].copy_from_slice(&window.to_be_bytes());
    p[40..44].copy_from_slice(&[2, 4, 0x05, 0xb4]);
    let mut pseudo = [0u8; 36];
    pseudo[0..4].copy_from_slice(&src.octets());
    pseudo[4..8].copy_from_slice(&dst.octets());
    pseudo[9] = 6;
    pseudo[11] = 24;
    pseudo[12..].copy_from_slice(&p[20..]);
    let tcp_sum = checksum(&pseudo);
    p[36..38].copy_from_slice(&tcp_sum.to_be_bytes());
    p
}

/// A raw IPv4 socket that sends hand-built packets (their own IP header) to 127.0.0.1:`port`.
/// Needs root; panics with that hint otherwise.
pub struct RawSender {
    socket: socket2::Socket,
    to: socket2::SockAddr,
}

impl RawSender {
    /// A sender towards 127.0.0.1:`port`.
    pub fn to_loopback(port: u16) -> RawSender {
        let socket = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::RAW,
            // IPPROTO_RAW: the packet carries its own IP header.
            Some(socket2::Protocol::from(255)),
        )
        .expect("a raw socket needs root: run as root (CI does)");
        RawSender {
            socket,
            to: SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into(),
        }
    }

    /// Sends one packet; false when the kernel refused it (its buffer full).
    pub fn send(&self, packet: &[u8]) -> bool {
        self.socket.send_to(packet, &self.to).is_ok()
    }
}

/// The Internet checksum (RFC 1071) of `bytes`.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        sum += u32::from(pair[0]) << 8 | u32::from(*pair.get(1).unwrap_or(&0));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A source address in 127/8 for the `i`-th spoofed packet: spread over the range, never
/// 127.0.0.0.
pub fn spoofed_source(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x7f00_0001 | (i.wrapping_mul(2_654_435_761) & 0x00ff_fffe))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_verify() {
        let p = spoofed_syn(spoofed_source(7), 4000, 23, 1024);
        // A correct header sums to 0xffff, whose complement is 0.
        assert_eq!(checksum(&p[..20]), 0);
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&p[12..20]);
        pseudo.extend_from_slice(&[0, 6, 0, 24]);
        pseudo.extend_from_slice(&p[20..]);
        assert_eq!(checksum(&pseudo), 0);
        assert_ne!(spoofed_source(1), spoofed_source(2));
    }
}
