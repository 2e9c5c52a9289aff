//! Which addresses are worth looking up: public unicast ones only.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is a public unicast address, one a GeoIP database can place.
///
/// False for the unspecified and loopback addresses, private (RFC 1918),
/// link-local, shared (CGNAT, 100.64.0.0/10), "this network" (0.0.0.0/8),
/// IETF protocol assignments (192.0.0.0/24), documentation, benchmarking
/// (198.18.0.0/15), multicast, reserved (240.0.0.0/4, which holds the broadcast
/// address) IPv4 addresses; for IPv6, false for `::`, `::1`, unique local
/// (fc00::/7), link-local (fe80::/10), deprecated site-local (fec0::/10),
/// discard-only (100::/64), documentation (2001:db8::/32) and multicast
/// addresses. An IPv4-mapped IPv6 address is judged by its IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

/// [`is_public`] for an IPv4 address.
fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network", includes the unspecified address
        || a == 10 // private
        || a == 127 // loopback
        || (a == 100 && (b & 0xc0) == 64) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local
        || (a == 172 && (b & 0xf0) == 16) // private
        || (a == 192 && b == 168) // private
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation (TEST-NET-1)
        || (a == 198 && b == 51 && c == 100) // documentation (TEST-NET-2)
        || (a == 203 && b == 0 && c == 113) // documentation (TEST-NET-3)
        || (a == 198 && (b & 0xfe) == 18) // benchmarking
        || a >= 224; // multicast (224/4), reserved (240/4) and broadcast
    !special
}

/// [`is_public`] for an IPv6 address that is not IPv4-mapped.
fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0); // discard-only
    !special
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address parses")
    }

    #[test]
    fn public_addresses_are_public() {
        for text in [
            "8.8.8.8",
            "1.1.1.1",
            "81.2.69.142",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.0.3.1",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.1",
            "203.0.114.1",
            "223.255.255.255",
            "2a02:c7f::1",
            "2001:4860:4860::8888",
            "2001:db9::1",
            "::ffff:81.2.69.142",
        ] {
            assert!(is_public(ip(text)), "{text} should be public");
        }
    }

    #[test]
    fn special_ipv4_addresses_are_not_public() {
        for text in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "127.0.0.1",
            "127.255.255.254",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.1.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "198.19.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!is_public(ip(text)), "{text} should not be public");
        }
    }

    #[test]
    fn special_ipv6_addresses_are_not_public() {
        for text in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "2001:db8::1",
            "2001:db8:ffff::1",
            "100::1",
        ] {
            assert!(!is_public(ip(text)), "{text} should not be public");
        }
    }

    #[test]
    fn mapped_addresses_are_judged_as_ipv4() {
        assert!(!is_public(ip("::ffff:10.0.0.1")));
        assert!(!is_public(ip("::ffff:127.0.0.1")));
        assert!(!is_public(ip("::ffff:192.168.0.1")));
        assert!(is_public(ip("::ffff:8.8.8.8")));
    }
}
