//! What the shell shows of the device that differs per install: the text built from the
//! [`Persona`](crate::persona::Persona) (host name, MACs, WAN address, SoC, firmware date, web
//! server) and from the clock (uptime, load, `dmesg` times), so that `ifconfig`, `ip`,
//! `route`, `/proc/cpuinfo`, `ps`, `uname -v` and the banners agree with each other and with
//! the other front doors.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::Shell;
use super::time::{civil, format_date_custom};

/// Seconds from the firmware's build to its kernel's (`uname -v` is a few minutes older than
/// BusyBox's banner on a real build).
const KERNEL_BUILD_LEAD: u64 = 386;

/// Seconds since the epoch of a `YYYY-MM-DD HH:MM:SS` date (read as UTC), and the rest of the
/// string (the zone name).
fn parse_firmware_date(date: &str) -> Option<(u64, &str)> {
    let (day, rest) = date.trim().split_once(' ')?;
    let (time, zone) = rest.split_once(' ').unwrap_or((rest, ""));
    let mut d = day.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, dd) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|p| p.parse::<u64>().ok());
    let (h, mi, s) = (t.next()??, t.next()??, t.next()??);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&dd) {
        return None;
    }
    // Howard Hinnant's days-from-civil.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    Some((days * 86_400 + h * 3600 + mi * 60 + s, zone))
}

/// The /20 network, broadcast address and gateway of a WAN address, as a DHCP server of a
/// carrier-grade NAT hands them out.
fn wan_net(ip: Ipv4Addr) -> (Ipv4Addr, Ipv4Addr, Ipv4Addr) {
    let bits = u32::from(ip);
    let net = bits & 0xffff_f000;
    (
        Ipv4Addr::from(net),
        Ipv4Addr::from(net | 0xfff),
        Ipv4Addr::from(net | 1),
    )
}

impl Shell {
    /// `BusyBox v1.24.1 (2017-03-09 11:08:39 CST)`, with the persona's firmware date.
    pub(super) fn busybox_version(&self) -> String {
        format!("BusyBox v1.24.1 ({})", self.persona.firmware_date)
    }

    /// What ash prints when a login shell starts (the MOTD), lines ended by `\r\n`.
    pub fn banner(&self) -> String {
        format!(
            "\r\n\r\n{} built-in shell (ash)\r\nEnter 'help' for a list of built-in commands.\r\n\r\n",
            self.busybox_version()
        )
    }

    /// `uname -v`: the kernel's build, a few minutes before BusyBox's.
    pub(super) fn kernel_version(&self) -> String {
        match parse_firmware_date(&self.persona.firmware_date) {
            Some((secs, zone)) => {
                let secs = secs.saturating_sub(KERNEL_BUILD_LEAD);
                let zone = if zone.is_empty() { "UTC" } else { zone };
                let (y, mo, d, h, mi, s, wd) = civil(secs);
                format!(
                    "#1 SMP PREEMPT {wd} {} {d} {h:02}:{mi:02}:{s:02} {zone} {y}",
                    super::time::month_name(mo)
                )
            }
            None => "#1 SMP PREEMPT Fri Jun 18 10:35:51 CST 2021".to_string(),
        }
    }

    /// `/proc/version`.
    pub(super) fn proc_version(&self) -> String {
        format!(
            "Linux version 3.10.14 (root@buildserver) (gcc version 4.6.3 (Buildroot 2012.11.1) ) {}\n",
            self.kernel_version()
        )
    }

    /// The date `ls -l` shows for everything from the firmware image (`Jun 18  2021` for the default persona).
    pub(super) fn firmware_ls_date(&self) -> String {
        let secs = parse_firmware_date(&self.persona.firmware_date).map_or(1_489_028_919, |d| d.0);
        format_date_custom(secs, "%b %e  %Y")
    }

    /// The web server's process name: the `Server` header's product, lower case
    /// (`GoAhead-Webs` runs as `goahead`, `lighttpd/1.4.45` as `lighttpd`).
    pub(super) fn web_server(&self) -> String {
        let name: String = self
            .persona
            .http_server
            .split(['/', '-', ' '])
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(15)
            .collect::<String>()
            .to_ascii_lowercase();
        if name.is_empty() {
            "goahead".to_string()
        } else {
            name
        }
    }

    /// Seconds since boot, on the shell's clock (which counts this line's pauses).
    pub(super) fn uptime_secs(&self) -> u64 {
        self.clock().saturating_sub(self.boot)
    }

    /// The load averages (1, 5, 15 minutes), a slow deterministic drift so that two reads
    /// a second apart agree and two minutes apart differ.
    pub(super) fn load(&self) -> [u32; 3] {
        let up = self.uptime_secs();
        let wave = |period: u64, base: u32| {
            let phase = (up / 60 + u64::from(self.persona.mac[5])) % period;
            base + u32::try_from(phase.min(period - phase)).unwrap_or(0)
        };
        [wave(17, 2), wave(29, 3), wave(41, 1)]
    }

    /// `uptime`'s line.
    pub(super) fn uptime(&self) -> String {
        let now = self.clock();
        let up = self.uptime_secs();
        let (_, _, _, h, m, s, _) = civil(now);
        let days = up / 86_400;
        let hours = up % 86_400 / 3600;
        let mins = up % 3600 / 60;
        let [a, b, c] = self.load();
        let span = if days > 0 {
            format!("{days} day{}, ", if days == 1 { "" } else { "s" })
        } else {
            String::new()
        };
        let clock = if hours > 0 {
            format!("{hours:2}:{mins:02}")
        } else {
            format!("{mins} min")
        };
        format!(
            " {h:02}:{m:02}:{s:02} up {span}{clock},  load average: 0.{a:02}, 0.{b:02}, 0.{c:02}"
        )
    }

    /// `/proc/uptime`: seconds up and seconds idle (four CPUs, mostly idle).
    pub(super) fn proc_uptime(&self) -> String {
        let up = self.uptime_secs();
        let idle = up * 4 - up / 9;
        format!("{up}.{:02} {idle}.{:02}\n", up % 97, idle % 89)
    }

    /// `/proc/loadavg`, agreeing with `uptime`.
    pub(super) fn proc_loadavg(&self) -> String {
        let [a, b, c] = self.load();
        format!(
            "0.{a:02} 0.{b:02} 0.{c:02} 1/52 {}\n",
            super::image::SHELL_PID + 29
        )
    }

    /// `/proc/cpuinfo`, with the persona's SoC as the system type.
    pub(super) fn cpuinfo(&self) -> String {
        let rest = super::image::CPUINFO
            .split_once('\n')
            .map_or(super::image::CPUINFO, |(_, r)| r);
        format!("system type\t\t: {}\n{rest}", self.persona.soc)
    }

    /// `/etc/hosts`.
    pub(super) fn hosts(&self) -> String {
        format!(
            "127.0.0.1\tlocalhost\n192.168.1.1\t{}\n",
            self.persona.hostname
        )
    }

    /// `ifconfig`.
    pub(super) fn ifconfig(&self) -> String {
        let (_, bcast, _) = wan_net(self.persona.wan_ip);
        let (lan, wan) = (self.persona.mac_string(0), self.persona.mac_string(1));
        let ip = self.persona.wan_ip;
        let up = self.uptime_secs().max(1);
        // Counters grow with uptime, as a busy home router's do.
        let (rx, tx) = (up * 1_803, up * 113);
        let mut s = String::new();
        let block =
            |s: &mut String, name: &str, mac: &str, addr: Option<String>, rxb: u64, txb: u64| {
                let _ = writeln!(s, "{name:<10}Link encap:Ethernet  HWaddr {mac}  ");
                if let Some(a) = addr {
                    let _ = writeln!(s, "          {a}");
                }
                let _ = writeln!(
                    s,
                    "          UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1"
                );
                let _ = writeln!(
                    s,
                    "          RX packets:{} errors:0 dropped:0 overruns:0 frame:0",
                    rxb / 1_024
                );
                let _ = writeln!(
                    s,
                    "          TX packets:{} errors:0 dropped:0 overruns:0 carrier:0",
                    txb / 96
                );
                let _ = writeln!(s, "          collisions:0 txqueuelen:0 ");
                let _ = writeln!(
                    s,
                    "          RX bytes:{rxb} ({})  TX bytes:{txb} ({})\n",
                    human(rxb),
                    human(txb)
                );
            };
        block(
            &mut s,
            "br0",
            &lan,
            Some("inet addr:192.168.1.1  Bcast:192.168.1.255  Mask:255.255.255.0".into()),
            tx,
            rx,
        );
        block(&mut s, "eth0", &lan, None, rx + tx, rx + tx);
        block(
            &mut s,
            "eth0.2",
            &wan,
            Some(format!("inet addr:{ip}  Bcast:{bcast}  Mask:255.255.240.0")),
            rx,
            tx,
        );
        s.push_str(
            "lo        Link encap:Local Loopback  \n          inet addr:127.0.0.1  Mask:255.0.0.0\n\
\x20         UP LOOPBACK RUNNING  MTU:65536  Metric:1\n\
\x20         RX packets:1204 errors:0 dropped:0 overruns:0 frame:0\n\
\x20         TX packets:1204 errors:0 dropped:0 overruns:0 carrier:0\n\
\x20         collisions:0 txqueuelen:0 \n\
\x20         RX bytes:98312 (96.0 KiB)  TX bytes:98312 (96.0 KiB)\n\n",
        );
        s
    }

    /// `ip addr`.
    pub(super) fn ip_addr(&self) -> String {
        let (_, bcast, _) = wan_net(self.persona.wan_ip);
        let lan = self.persona.mac_string(0).to_ascii_lowercase();
        let wan = self.persona.mac_string(1).to_ascii_lowercase();
        let ip = self.persona.wan_ip;
        format!(
            "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue \n\
\x20   link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n\
\x20   inet 127.0.0.1/8 scope host lo\n\
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast qlen 1000\n\
\x20   link/ether {lan} brd ff:ff:ff:ff:ff:ff\n\
3: br0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue \n\
\x20   link/ether {lan} brd ff:ff:ff:ff:ff:ff\n\
\x20   inet 192.168.1.1/24 brd 192.168.1.255 scope global br0\n\
4: eth0.2@eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue \n\
\x20   link/ether {wan} brd ff:ff:ff:ff:ff:ff\n\
\x20   inet {ip}/20 brd {bcast} scope global eth0.2\n"
        )
    }

    /// `ip route`.
    pub(super) fn ip_route(&self) -> String {
        let (net, _, gw) = wan_net(self.persona.wan_ip);
        let ip = self.persona.wan_ip;
        format!(
            "default via {gw} dev eth0.2 \n{net}/20 dev eth0.2  proto kernel  scope link  src {ip} \n\
192.168.1.0/24 dev br0  proto kernel  scope link  src 192.168.1.1 \n"
        )
    }

    /// `route`.
    pub(super) fn route_table(&self) -> String {
        let (net, _, gw) = wan_net(self.persona.wan_ip);
        format!(
            "Kernel IP routing table\n\
Destination     Gateway         Genmask         Flags Metric Ref    Use Iface\n\
0.0.0.0         {gw:<15} 0.0.0.0         UG    0      0        0 eth0.2\n\
{net:<15} 0.0.0.0         255.255.240.0   U     0      0        0 eth0.2\n\
192.168.1.0     0.0.0.0         255.255.255.0   U     0      0        0 br0\n",
            gw = gw.to_string(),
            net = net.to_string()
        )
    }

    /// `dmesg`: an MT7621 boot log with times from boot, then what the device logged since.
    pub(super) fn dmesg(&self) -> String {
        let mac = self.persona.mac_string(0).to_ascii_lowercase();
        let soc = &self.persona.soc;
        let up = self.uptime_secs();
        let mut s = format!(
            "[    0.000000] {}[    0.000000] SoC Type: MediaTek {soc} ver:1 eco:3\n",
            self.proc_version()
        );
        let lines: &[(u64, &str)] = &[
            (0, "bootconsole [early0] enabled"),
            (0, "CPU0 revision is: 0001992f (MIPS 1004Kc)"),
            (0, "Determined physical RAM map:"),
            (0, " memory: 08000000 @ 00000000 (usable)"),
            (0, "Zone ranges:"),
            (0, "  Normal   [mem 0x00000000-0x07ffffff]"),
            (
                0,
                "Kernel command line: console=ttyS1,57600n8 rootfstype=squashfs,jffs2",
            ),
            (0, "PID hash table entries: 512 (order: -1, 2048 bytes)"),
            (
                0,
                "Memory: 123072k/131072k available (3853k kernel code, 8000k reserved)",
            ),
            (0, "NR_IRQS:256"),
            (
                15_000,
                "Calibrating delay loop... 583.68 BogoMIPS (lpj=2918400)",
            ),
            (72_000, "Brought up 4 CPUs"),
            (310_000, "bio: create slab <bio-0> at 0"),
            (
                420_000,
                "Serial: 8250/16550 driver, 3 ports, IRQ sharing disabled",
            ),
            (
                430_000,
                "serial8250: ttyS0 at MMIO 0x1e000c00 (irq = 26) is a 16550A",
            ),
            (
                440_000,
                "serial8250: ttyS1 at MMIO 0x1e000d00 (irq = 27) is a 16550A",
            ),
            (
                520_000,
                "MediaTek Nand driver init, version v2.1 Fix AHB virt2phys error",
            ),
            (760_000, "Creating 6 MTD partitions on \"MT7621-NAND\":"),
            (
                1_400_000,
                "VFS: Mounted root (squashfs filesystem) readonly on device 31:3.",
            ),
            (
                1_520_000,
                "Freeing unused kernel memory: 216K (80492000 - 804c8000)",
            ),
            (
                4_100_000,
                "jffs2: notice: (302) jffs2_build_xattr_subsystem: complete building xattr subsystem",
            ),
            (5_840_000, "raeth: ESW switch driver loaded"),
            (6_010_000, "device eth0 entered promiscuous mode"),
            (6_020_000, "br0: port 1(eth0) entered forwarding state"),
            (9_310_000, "eth0.2: link up"),
        ];
        for (micros, text) in lines {
            let _ = writeln!(
                s,
                "[{:5}.{:06}] {text}",
                micros / 1_000_000,
                micros % 1_000_000
            );
        }
        let _ = writeln!(s, "[    9.320000] br0: HWaddr {mac}");
        // Periodic DHCP renewals since boot, the last few.
        let renew = 43_200;
        let last = up / renew;
        for n in last.saturating_sub(2).max(1)..=last {
            let _ = writeln!(
                s,
                "[{:5}.{:06}] eth0.2: link up",
                n * renew,
                (n * 7_919) % 1_000_000
            );
        }
        s
    }
}

/// Bytes as `ifconfig` prints them in parentheses (`22.3 MiB`).
fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes * 10;
    let mut unit = 0;
    while value >= 10_240 && unit + 1 < units.len() {
        value /= 1024;
        unit += 1;
    }
    format!(
        "{}.{} {}",
        value / 10,
        value % 10,
        units.get(unit).copied().unwrap_or("B")
    )
}
