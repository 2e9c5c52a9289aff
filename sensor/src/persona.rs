//! The device every front door claims to be: one persona per install.
//!
//! A honeypot whose every install has the same MAC, address, hostname and uptime is found by one
//! query. The persona holds what differs between two real devices of the same model (hostname,
//! MAC, WAN address, serial, boot time) beside what the model fixes (firmware, daemons and their
//! versions), so that the shell, the HTTP `Server` header and the SSH banner agree with each
//! other. [`Persona::default`] is the model's fixed part with a placeholder identity; the sensor
//! generates the identity on first start and keeps it (docs/deception.md).

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

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
    /// The firmware's build date as BusyBox prints it (`2021-06-18 10:42:17 CST`): no daemon
    /// on the device may be newer than it.
    pub firmware_date: String,
    /// The SSH daemon's identification string, without the line end (`SSH-2.0-dropbear_2020.81`).
    pub ssh_banner: String,
    /// The web server's `Server` header (`lighttpd/1.4.59`); `ps` shows the program named before
    /// the `/` (`lighttpd -f /etc/lighttpd.conf`).
    pub http_server: String,
}

impl Default for Persona {
    /// A MediaTek MT7621 home router with a 2021 firmware (BusyBox 1.24.1 and Linux 3.10.14 of
    /// the vendor's SDK, Dropbear 2020.81, lighttpd 1.4.59: each released before the firmware
    /// was built), with the placeholder identity of older releases.
    fn default() -> Persona {
        Persona {
            hostname: "router".into(),
            mac: [0x00, 0x0c, 0x43, 0x76, 0x21, 0x01],
            wan_ip: Ipv4Addr::new(100, 72, 14, 203),
            serial: "MT7621A0000000".into(),
            boot_time: 0,
            model: "MT7621 Wireless Router".into(),
            soc: "MT7621".into(),
            firmware_date: "2021-06-18 10:42:17 CST".into(),
            ssh_banner: "SSH-2.0-dropbear_2020.81".into(),
            http_server: "lighttpd/1.4.59".into(),
        }
    }
}

/// The identity part of a persona: what differs between two devices of one model. Generated on
/// the first start and kept in the persona file, so that the device is the same after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// The host name.
    pub hostname: String,
    /// The LAN MAC, `00:0C:43:12:34:56`.
    pub mac: String,
    /// The WAN address.
    pub wan_ip: Ipv4Addr,
    /// The board's serial number.
    pub serial: String,
    /// When the device booted, seconds since the Unix epoch.
    pub boot_time: u64,
}

/// Host names vendors ship or users give such routers; `{}` is the last two octets of the MAC.
const HOSTNAMES: [&str; 8] = [
    "router",
    "Router-{}",
    "gateway",
    "home-gw",
    "MT7621-{}",
    "WiFi-{}",
    "AP-{}",
    "OpenWrt",
];

/// The Ralink/MediaTek OUI that MT7621 boards ship with.
const OUI: [u8; 3] = [0x00, 0x0c, 0x43];

impl Identity {
    /// A new identity from `random` bytes and the current time `now` (seconds since the epoch):
    /// a MAC in the MediaTek OUI, a carrier-grade NAT WAN address (100.64.0.0/10, as many ISPs
    /// give routers), a serial, and a boot between 2 hours and 40 days ago.
    pub fn generate(random: [u8; 16], now: u64) -> Identity {
        let [
            r0,
            r1,
            r2,
            r3,
            r4,
            r5,
            r6,
            r7,
            r8,
            r9,
            r10,
            r11,
            r12,
            r13,
            r14,
            r15,
        ] = random;
        // The last octet stays even: the WAN interface has the next MAC.
        let mac = [OUI[0], OUI[1], OUI[2], r0, r1, r2 & 0xfe];
        let tail = format!("{:02X}{:02X}", mac[4], mac[5]);
        let pattern = HOSTNAMES
            .get(usize::from(r3) % HOSTNAMES.len())
            .copied()
            .unwrap_or("router");
        let hostname = pattern.replace("{}", &tail);
        // 100.64.0.0/10: second octet 64..=127; never the network or broadcast address of its /20.
        let host = u16::from_be_bytes([r6 & 0x0f, r7]).clamp(2, 0x0ffe);
        let wan_ip = Ipv4Addr::new(
            100,
            64 + (r4 & 0x3f),
            (r5 & 0xf0) | (host >> 8) as u8,
            (host & 0xff) as u8,
        );
        let mut serial = String::from("MT7621A");
        for b in [r8, r9, r10, r11] {
            let _ = write!(serial, "{b:02X}");
        }
        let ago = 7_200 + u64::from(u32::from_be_bytes([r12, r13, r14, r15])) % (40 * 86_400);
        Identity {
            hostname,
            mac: Persona::format_mac(mac, 0),
            wan_ip,
            serial,
            boot_time: now.saturating_sub(ago),
        }
    }
}

/// `[persona]` values that replace the generated or built-in ones; each is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PersonaOverrides {
    /// Where the generated identity is kept; empty: beside the database
    /// (`recce7.sqlite` keeps it in `recce7.persona.toml`).
    #[serde(default)]
    pub file: PathBuf,
    /// The host name.
    pub hostname: Option<String>,
    /// The LAN MAC (`00:0C:43:12:34:56`).
    pub mac: Option<String>,
    /// The WAN address.
    pub wan_ip: Option<Ipv4Addr>,
    /// The serial number.
    pub serial: Option<String>,
    /// The product name.
    pub model: Option<String>,
    /// The SoC.
    pub soc: Option<String>,
    /// The firmware's build date as BusyBox prints it.
    pub firmware_date: Option<String>,
    /// The SSH identification string (`SSH-2.0-...`).
    pub ssh_banner: Option<String>,
    /// The HTTP `Server` header.
    pub http_server: Option<String>,
}

/// True for 1 to `max` printable ASCII characters (no control bytes: these go into banners,
/// headers and prompts, where a line break would be an injection).
fn printable(value: &str, max: usize) -> bool {
    !value.is_empty() && value.len() <= max && value.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// True for a host name a device would accept: 1 to 64 letters, digits, `-` or `.`.
pub fn valid_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// Reads `00:0C:43:12:34:56` (or lower case).
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for octet in &mut mac {
        let part = parts.next()?;
        if part.len() != 2 {
            return None;
        }
        *octet = u8::from_str_radix(part, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

impl PersonaOverrides {
    /// Checks every value; each problem as `(persona.<key>, reason)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut push = |key: &str, reason: &str| {
            problems.push((format!("persona.{key}"), reason.to_string()));
        };
        if let Some(h) = &self.hostname
            && !valid_hostname(h)
        {
            push("hostname", "must be 1 to 64 letters, digits, '-' or '.'");
        }
        if let Some(m) = &self.mac
            && parse_mac(m).is_none()
        {
            push(
                "mac",
                "must be six hex octets separated by ':' (00:0C:43:12:34:56)",
            );
        }
        if let Some(ip) = self.wan_ip
            && (ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() || ip.is_loopback())
        {
            push("wan_ip", "must be a unicast address");
        }
        for (key, value, max) in [
            ("serial", &self.serial, 64),
            ("model", &self.model, 128),
            ("soc", &self.soc, 64),
            ("firmware_date", &self.firmware_date, 64),
            ("http_server", &self.http_server, 128),
        ] {
            if let Some(v) = value
                && !printable(v, max)
            {
                push(
                    key,
                    &format!("must be 1 to {max} printable ASCII characters"),
                );
            }
        }
        if let Some(b) = &self.ssh_banner
            && (!printable(b, 253) || !b.starts_with("SSH-2.0-") || b.len() <= 8)
        {
            push(
                "ssh_banner",
                "must be 'SSH-2.0-' and a software version, printable ASCII, at most 253 characters",
            );
        }
        problems
    }

    /// The persona file for a sensor whose database is `database`.
    pub fn file_for(&self, database: &Path) -> PathBuf {
        if !self.file.as_os_str().is_empty() {
            return self.file.clone();
        }
        let stem = database
            .file_stem()
            .map_or_else(|| "recce7".into(), |s| s.to_string_lossy().into_owned());
        database.with_file_name(format!("{stem}.persona.toml"))
    }
}

/// Why the persona file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PersonaError {
    /// The file exists but is not a persona.
    #[error("{path}: {reason} (fix it, or delete it and a new identity is generated)")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the key.
        reason: String,
    },
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS's reason.
        source: std::io::Error,
    },
}

const FILE_HEADER: &str = "# recce7's persona: the identity this sensor's device shows attackers (hostname, MAC, WAN\n\
# address, serial, boot time), generated on its first start so that no two installs look alike\n\
# (docs/deception.md). Edit it, or set [persona] keys in sensor.toml; delete it for a new one.\n";

/// The seconds since the Unix epoch.
fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reads the identity kept in `path`, or generates one and keeps it there (written whole
/// through a temporary file, so a crash never leaves half a persona).
pub fn load_or_create(path: &Path) -> Result<Identity, PersonaError> {
    let io = |source| PersonaError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let identity: Identity = toml::from_str(&text).map_err(|e| PersonaError::Invalid {
                path: path.to_path_buf(),
                reason: e.message().to_string(),
            })?;
            let invalid = |reason: &str| PersonaError::Invalid {
                path: path.to_path_buf(),
                reason: reason.to_string(),
            };
            if !valid_hostname(&identity.hostname) {
                return Err(invalid(
                    "hostname: must be 1 to 64 letters, digits, '-' or '.'",
                ));
            }
            if parse_mac(&identity.mac).is_none() {
                return Err(invalid("mac: must be six hex octets separated by ':'"));
            }
            if !printable(&identity.serial, 64) {
                return Err(invalid(
                    "serial: must be 1 to 64 printable ASCII characters",
                ));
            }
            Ok(identity)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut random = [0u8; 16];
            getrandom::fill(&mut random).map_err(|e| io(std::io::Error::other(e.to_string())))?;
            let identity = Identity::generate(random, now_secs());
            let body = toml::to_string(&identity).map_err(|e| io(std::io::Error::other(e)))?;
            let tmp = path.with_extension("toml.new");
            std::fs::write(&tmp, format!("{FILE_HEADER}{body}")).map_err(io)?;
            std::fs::rename(&tmp, path).map_err(io)?;
            Ok(identity)
        }
        Err(e) => Err(io(e)),
    }
}

impl Persona {
    /// The persona of a device with `identity`, the model's defaults, and `overrides` on top.
    pub fn build(identity: &Identity, overrides: &PersonaOverrides) -> Persona {
        let base = Persona::default();
        let pick = |o: &Option<String>, d: String| o.clone().unwrap_or(d);
        let mac_text = overrides.mac.as_deref().unwrap_or(&identity.mac);
        Persona {
            hostname: pick(&overrides.hostname, identity.hostname.clone()),
            mac: parse_mac(mac_text).unwrap_or(base.mac),
            wan_ip: overrides.wan_ip.unwrap_or(identity.wan_ip),
            serial: pick(&overrides.serial, identity.serial.clone()),
            boot_time: identity.boot_time,
            model: pick(&overrides.model, base.model),
            soc: pick(&overrides.soc, base.soc),
            firmware_date: pick(&overrides.firmware_date, base.firmware_date),
            ssh_banner: pick(&overrides.ssh_banner, base.ssh_banner),
            http_server: pick(&overrides.http_server, base.http_server),
        }
    }

    /// `mac` as `ifconfig` prints it, upper case, with `offset` added to the last octet.
    fn format_mac(mac: [u8; 6], offset: u8) -> String {
        let [a, b, c, d, e, f] = mac;
        format!(
            "{a:02X}:{b:02X}:{c:02X}:{d:02X}:{e:02X}:{:02X}",
            f.wrapping_add(offset)
        )
    }

    /// The MAC as `ifconfig` prints it, upper case (`00:0C:43:76:21:01`), with `offset` added to
    /// the last octet (0 for the LAN side, 1 for the WAN side).
    pub fn mac_string(&self, offset: u8) -> String {
        Persona::format_mac(self.mac, offset)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn mac_string_adds_the_offset() {
        let p = Persona::default();
        assert_eq!(p.mac_string(0), "00:0C:43:76:21:01");
        assert_eq!(p.mac_string(1), "00:0C:43:76:21:02");
    }

    #[test]
    fn generated_identities_differ_and_are_plausible() {
        let now = 1_800_000_000;
        let a = Identity::generate([1; 16], now);
        let b = Identity::generate([2; 16], now);
        assert_ne!(a, b);
        for seed in 0..=255u8 {
            let mut random = [seed; 16];
            random[7] = seed.wrapping_mul(37);
            let id = Identity::generate(random, now);
            assert!(valid_hostname(&id.hostname), "{}", id.hostname);
            let mac = parse_mac(&id.mac).unwrap();
            assert_eq!(mac[..3], OUI);
            assert_eq!(mac[5] & 1, 0, "the WAN side takes the next MAC");
            let [o1, o2, o3, o4] = id.wan_ip.octets();
            assert_eq!(o1, 100);
            assert!((64..128).contains(&o2));
            let host = (u16::from(o3 & 0x0f) << 8) | u16::from(o4);
            assert!(host != 0 && host != 0x0fff, "{}", id.wan_ip);
            assert!(now - id.boot_time >= 7_200 && now - id.boot_time < 41 * 86_400);
            assert!(id.serial.starts_with("MT7621A") && id.serial.len() == 15);
        }
    }

    #[test]
    fn the_identity_is_kept_and_overrides_win() {
        let dir = tempfile::tempdir().unwrap();
        let over = PersonaOverrides::default();
        let path = over.file_for(&dir.path().join("recce7.sqlite"));
        assert_eq!(path, dir.path().join("recce7.persona.toml"));
        let first = load_or_create(&path).unwrap();
        let again = load_or_create(&path).unwrap();
        assert_eq!(first, again);
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .starts_with("# recce7's persona")
        );
        let over = PersonaOverrides {
            hostname: Some("gw-7".into()),
            http_server: Some("lighttpd/1.4.55".into()),
            ..PersonaOverrides::default()
        };
        let p = Persona::build(&first, &over);
        assert_eq!(p.hostname, "gw-7");
        assert_eq!(p.http_server, "lighttpd/1.4.55");
        assert_eq!(p.mac_string(0), first.mac);
        assert_eq!(p.boot_time, first.boot_time);
        assert_eq!(p.ssh_banner, Persona::default().ssh_banner);
    }

    #[test]
    fn a_bad_persona_file_names_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "hostname = 'bad host'\nmac = '00:0C:43:00:00:02'\nwan_ip = '100.64.1.2'\nserial = 'X'\nboot_time = 1\n").unwrap();
        let err = load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("p.toml") && err.contains("hostname"), "{err}");
        std::fs::write(&path, "hostname = 'a'\n").unwrap();
        let err = load_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("p.toml") && err.contains("mac"), "{err}");
    }

    #[test]
    fn every_bad_override_is_reported() {
        let over = PersonaOverrides {
            hostname: Some("a b".into()),
            mac: Some("00:0C:43".into()),
            wan_ip: Some(Ipv4Addr::new(127, 0, 0, 1)),
            http_server: Some("lighttpd\r\nX-Injected: 1".into()),
            ssh_banner: Some("OpenSSH".into()),
            ..PersonaOverrides::default()
        };
        let keys: Vec<String> = over.validate().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "persona.hostname",
                "persona.mac",
                "persona.wan_ip",
                "persona.http_server",
                "persona.ssh_banner"
            ]
        );
        assert!(PersonaOverrides::default().validate().is_empty());
    }
}
