//! The device every front door claims to be: one persona per install.
//!
//! A honeypot whose every install has the same MAC, address, hostname and uptime is found by one
//! query. The persona holds what differs between two real devices of the same model (hostname,
//! MAC, WAN address, serial, boot time) beside what the model fixes (firmware, daemons and their
//! versions), so that the shell, the HTTP `Server` header and the SSH banner agree with each
//! other. [`Persona::default`] is the model's fixed part with a placeholder identity; the sensor
//! generates the identity on first start and keeps it (docs/deception.md).

use std::net::Ipv4Addr;

/// One device's identity and model, shared by the shell, telnet, SSH and HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persona {
    /// The device's host name (`/etc/hostname`, the telnet login prompt, `hostname`).
    pub hostname: String,
    /// The LAN MAC address (`br0`, `eth0`); the WAN interface (`eth0.2`) has the next one.
    pub mac: [u8; 6],
    /// The WAN address shown by `ifconfig` and `ip addr` (its /20 network and gateway follow).
    pub wan_ip: Ipv4Addr,
    /// The board's serial number (`/proc/cpuinfo`'s serial, the web UI's status page).
    pub serial: String,
    /// When the device booted, in seconds since the Unix epoch: `uptime`, `/proc/uptime`,
    /// `/proc/loadavg`'s process count and `dmesg` times all count from it.
    pub boot_time: u64,
    /// The product name (`/etc/issue`, the web UI's title).
    pub model: String,
    /// The SoC (`/proc/cpuinfo`'s `system type`).
    pub soc: String,
    /// The firmware's build date as BusyBox prints it (`2017-03-09 11:08:39 CST`).
    pub firmware_date: String,
    /// The SSH daemon's identification string, without the line end (`SSH-2.0-dropbear_2016.74`).
    pub ssh_banner: String,
    /// The web server's `Server` header and its name in `ps` (`goahead`).
    pub http_server: String,
}

impl Default for Persona {
    /// A MediaTek MT7621 home router with a 2017 firmware (BusyBox 1.24.1, Linux 3.10.14,
    /// Dropbear 2016.74, GoAhead), with the placeholder identity of older releases.
    fn default() -> Persona {
        Persona {
            hostname: "router".into(),
            mac: [0x00, 0x0c, 0x43, 0x76, 0x21, 0x01],
            wan_ip: Ipv4Addr::new(100, 72, 14, 203),
            serial: "MT7621A0000000".into(),
            boot_time: 0,
            model: "MT7621 Wireless Router".into(),
            soc: "MT7621".into(),
            firmware_date: "2017-03-09 11:08:39 CST".into(),
            ssh_banner: "SSH-2.0-dropbear_2016.74".into(),
            http_server: "GoAhead-Webs".into(),
        }
    }
}

impl Persona {
    /// The MAC as `ifconfig` prints it, upper case (`00:0C:43:76:21:01`), with `offset` added to
    /// the last octet (0 for the LAN side, 1 for the WAN side).
    pub fn mac_string(&self, offset: u8) -> String {
        let [a, b, c, d, e, f] = self.mac;
        format!(
            "{a:02X}:{b:02X}:{c:02X}:{d:02X}:{e:02X}:{:02X}",
            f.wrapping_add(offset)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_string_adds_the_offset() {
        let p = Persona::default();
        assert_eq!(p.mac_string(0), "00:0C:43:76:21:01");
        assert_eq!(p.mac_string(1), "00:0C:43:76:21:02");
    }
}
