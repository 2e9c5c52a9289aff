//! The classic BPF program the kernel runs on every packet before the capture socket sees it:
//! TCP only, to the sensor's addresses, never the sensor's own outgoing copies, cut to the
//! headers. On a busy link userspace then wakes only for what it fingerprints.
//!
//! The socket is `AF_PACKET`/`SOCK_DGRAM`, so offset 0 is the IP header. IPv4 packets that are
//! not the first fragment are dropped (they carry no TCP header); IPv6 packets whose next
//! header is not TCP directly (extension headers) are dropped too: rare in attack traffic, and
//! said in docs/capture.md.

use std::net::IpAddr;

use socket2::SockFilter;

// Classic BPF opcodes (linux/filter.h).
const LD_W_ABS: u16 = 0x20;
const LD_H_ABS: u16 = 0x28;
const LD_B_ABS: u16 = 0x30;
const ALU_AND_K: u16 = 0x54;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

/// `SKF_AD_OFF + SKF_AD_PKTTYPE`: loads the packet type (incoming, outgoing, ...).
const AD_PKTTYPE: u32 = 0xffff_f000 + 4;
/// `PACKET_OUTGOING`: a copy of what this host sends (on `lo`, every packet is seen twice).
const PACKET_OUTGOING: u32 = 4;
/// Bytes kept of an accepted packet: the largest IPv4 header (60) plus the largest TCP header
/// (60) fits, and IPv6's 40 plus 60; the payload is not needed (its length is in the header).
pub const SNAPLEN: u32 = 128;

/// A program instruction under construction; jumps are to labels, resolved at the end.
#[derive(Clone, Copy)]
enum Step {
    Op(u16, u32),
    /// Compare the accumulator with `k`: on true go to `yes`, else to `no`.
    Jeq(u32, Label, Label),
    /// Test bits `k` in the accumulator.
    Jset(u32, Label, Label),
    Mark(Label),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Label {
    Next,
    Drop,
    Accept,
    V4,
    V6,
    /// The n-th IPv6 address's check.
    V6Addr(usize, u8),
}

/// The filter for a sensor listening on `addresses` (empty: every address).
pub fn tcp_filter(addresses: &[IpAddr]) -> Vec<SockFilter> {
    let v4: Vec<u32> = addresses
        .iter()
        .filter_map(|a| match a {
            IpAddr::V4(v4) if !v4.is_unspecified() => Some(u32::from(*v4)),
            _ => None,
        })
        .collect();
    let v6: Vec<[u32; 4]> = addresses
        .iter()
        .filter_map(|a| match a {
            IpAddr::V6(v6) if !v6.is_unspecified() => {
                let o = v6.octets();
                let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
                Some([w(0), w(4), w(8), w(12)])
            }
            _ => None,
        })
        .collect();
    // Any address (or a wildcard listed) of a family: that family is not filtered by address.
    let any = addresses.is_empty() || addresses.iter().any(IpAddr::is_unspecified);
    let any_v4 = any || (v4.is_empty() && v6.is_empty());
    let any_v6 = any;
    let mut p = vec![
        Step::Op(LD_W_ABS, AD_PKTTYPE),
        Step::Jeq(PACKET_OUTGOING, Label::Drop, Label::Next),
        Step::Op(LD_B_ABS, 0),
        Step::Op(ALU_AND_K, 0xf0),
        Step::Jeq(0x40, Label::V4, Label::Next),
        Step::Jeq(0x60, Label::V6, Label::Drop),
        Step::Mark(Label::V4),
        Step::Op(LD_B_ABS, 9),
        Step::Jeq(6, Label::Next, Label::Drop),
        Step::Op(LD_H_ABS, 6),
        Step::Jset(0x1fff, Label::Drop, Label::Next),
    ];
    if any_v4 {
        p.push(Step::Op(RET_K, SNAPLEN));
    } else {
        p.push(Step::Op(LD_W_ABS, 16));
        for addr in &v4 {
            p.push(Step::Jeq(*addr, Label::Accept, Label::Next));
        }
        p.push(Step::Op(RET_K, 0));
    }
    p.push(Step::Mark(Label::V6));
    p.push(Step::Op(LD_B_ABS, 6));
    p.push(Step::Jeq(6, Label::Next, Label::Drop));
    if any_v6 {
        p.push(Step::Op(RET_K, SNAPLEN));
    } else {
        for (i, words) in v6.iter().enumerate() {
            p.push(Step::Mark(Label::V6Addr(i, 0)));
            for (j, word) in words.iter().enumerate() {
                p.push(Step::Op(LD_W_ABS, 24 + 4 * j as u32));
                let no = if i + 1 < v6.len() {
                    Label::V6Addr(i + 1, 0)
                } else {
                    Label::Drop
                };
                let yes = if j == 3 { Label::Accept } else { Label::Next };
                p.push(Step::Jeq(*word, yes, no));
            }
        }
        p.push(Step::Op(RET_K, 0));
    }
    p.push(Step::Mark(Label::Accept));
    p.push(Step::Op(RET_K, SNAPLEN));
    p.push(Step::Mark(Label::Drop));
    p.push(Step::Op(RET_K, 0));
    assemble(&p)
}

/// Resolves labels to relative jumps (classic BPF jumps only forward, at most 255).
fn assemble(steps: &[Step]) -> Vec<SockFilter> {
    // Instruction index of each step (marks take none).
    let mut index = Vec::with_capacity(steps.len());
    let mut n = 0usize;
    for s in steps {
        index.push(n);
        if !matches!(s, Step::Mark(_)) {
            n += 1;
        }
    }
    let target = |label: Label, at: usize| -> u8 {
        let to = match label {
            Label::Next => at + 1,
            _ => steps
                .iter()
                .zip(&index)
                .find(|(s, _)| matches!(s, Step::Mark(l) if *l == label))
                .map(|(_, i)| *i)
                .unwrap_or(at + 1),
        };
        // Forward only; a program this size stays far below 255 instructions per jump.
        u8::try_from(to.saturating_sub(at + 1)).unwrap_or(u8::MAX)
    };
    let mut out = Vec::with_capacity(n);
    for (s, &at) in steps.iter().zip(&index) {
        match *s {
            Step::Op(code, k) => out.push(SockFilter::new(code, 0, 0, k)),
            Step::Jeq(k, yes, no) => out.push(SockFilter::new(
                JMP_JEQ_K,
                target(yes, at),
                target(no, at),
                k,
            )),
            Step::Jset(k, yes, no) => out.push(SockFilter::new(
                JMP_JSET_K,
                target(yes, at),
                target(no, at),
                k,
            )),
            Step::Mark(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of a `SockFilter` (socket2 keeps them private; it is `struct sock_filter`).
    fn fields(f: &SockFilter) -> (u16, u8, u8, u32) {
        // SAFETY: `SockFilter` is `#[repr(transparent)]` over `libc::sock_filter`.
        let raw: &libc::sock_filter = unsafe { &*(f as *const SockFilter).cast() };
        (raw.code, raw.jt, raw.jf, raw.k)
    }

    /// A classic BPF interpreter for the opcodes the program uses, as the kernel runs them.
    fn run(program: &[SockFilter], packet: &[u8], pkttype: u32) -> u32 {
        let mut a: u32 = 0;
        let mut pc = 0usize;
        let load = |off: u32, size: usize| -> Option<u32> {
            if off == AD_PKTTYPE {
                return Some(pkttype);
            }
            let off = off as usize;
            let bytes = packet.get(off..off + size)?;
            Some(bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
        };
        loop {
            let (code, jt, jf, k) = fields(&program[pc]);
            pc += 1;
            match code {
                LD_W_ABS | LD_H_ABS | LD_B_ABS => {
                    let size = match code {
                        LD_W_ABS => 4,
                        LD_H_ABS => 2,
                        _ => 1,
                    };
                    match load(k, size) {
                        Some(v) => a = v,
                        // Out of bounds: the kernel returns 0 (drop).
                        None => return 0,
                    }
                }
                ALU_AND_K => a &= k,
                JMP_JEQ_K => pc += usize::from(if a == k { jt } else { jf }),
                JMP_JSET_K => pc += usize::from(if a & k != 0 { jt } else { jf }),
                RET_K => return k,
                other => panic!("opcode {other:#x} not expected"),
            }
        }
    }

    fn ipv4(proto: u8, dst: [u8; 4], frag: u16) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x45;
        p[6..8].copy_from_slice(&frag.to_be_bytes());
        p[9] = proto;
        p[12..16].copy_from_slice(&[203, 0, 113, 7]);
        p[16..20].copy_from_slice(&dst);
        p
    }

    fn ipv6(next: u8, dst: std::net::Ipv6Addr) -> Vec<u8> {
        let mut p = vec![0u8; 60];
        p[0] = 0x60;
        p[6] = next;
        p[24..40].copy_from_slice(&dst.octets());
        p
    }

    const HOST: u32 = 0;

    #[test]
    fn any_address_takes_incoming_tcp_only_cut_to_the_headers() {
        let f = tcp_filter(&[]);
        assert_eq!(run(&f, &ipv4(6, [10, 0, 0, 1], 0), HOST), SNAPLEN);
        assert_eq!(run(&f, &ipv4(17, [10, 0, 0, 1], 0), HOST), 0, "UDP");
        assert_eq!(
            run(&f, &ipv4(6, [10, 0, 0, 1], 0), PACKET_OUTGOING),
            0,
            "our own"
        );
        assert_eq!(
            run(&f, &ipv4(6, [10, 0, 0, 1], 0x00b9), HOST),
            0,
            "a later fragment"
        );
        assert_eq!(
            run(&f, &ipv4(6, [10, 0, 0, 1], 0x4000), HOST),
            SNAPLEN,
            "DF is fine"
        );
        assert_eq!(
            run(&f, &ipv6(6, "2001:db8::1".parse().unwrap()), HOST),
            SNAPLEN
        );
        assert_eq!(run(&f, &ipv6(17, "2001:db8::1".parse().unwrap()), HOST), 0);
        assert_eq!(run(&f, &[0x08, 0x06, 0, 1], HOST), 0, "ARP");
        assert_eq!(run(&f, &[], HOST), 0, "empty");
        let unspecified = tcp_filter(&["0.0.0.0".parse().unwrap()]);
        assert_eq!(
            run(&unspecified, &ipv4(6, [192, 0, 2, 9], 0), HOST),
            SNAPLEN
        );
    }

    #[test]
    fn listed_addresses_only() {
        let f = tcp_filter(&[
            "127.0.0.1".parse().unwrap(),
            "192.0.2.10".parse().unwrap(),
            "2001:db8::10".parse().unwrap(),
            "2001:db8::20".parse().unwrap(),
        ]);
        assert_eq!(run(&f, &ipv4(6, [127, 0, 0, 1], 0), HOST), SNAPLEN);
        assert_eq!(run(&f, &ipv4(6, [192, 0, 2, 10], 0), HOST), SNAPLEN);
        assert_eq!(run(&f, &ipv4(6, [192, 0, 2, 11], 0), HOST), 0);
        assert_eq!(
            run(&f, &ipv6(6, "2001:db8::10".parse().unwrap()), HOST),
            SNAPLEN
        );
        assert_eq!(
            run(&f, &ipv6(6, "2001:db8::20".parse().unwrap()), HOST),
            SNAPLEN
        );
        assert_eq!(run(&f, &ipv6(6, "2001:db8::30".parse().unwrap()), HOST), 0);
        assert_eq!(run(&f, &ipv6(6, "2001:db9::10".parse().unwrap()), HOST), 0);
        // IPv4 addresses only: IPv6 is not listened on, so none is taken.
        let v4only = tcp_filter(&["192.0.2.10".parse().unwrap()]);
        assert_eq!(
            run(&v4only, &ipv6(6, "2001:db8::10".parse().unwrap()), HOST),
            0
        );
        assert_eq!(run(&v4only, &ipv4(6, [192, 0, 2, 10], 0), HOST), SNAPLEN);
    }
}
