//! What the device says about itself: `uname`, `id`, `ps`, `uptime`, `free`, `df`, `mount`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::shell::image::{KERNEL_RELEASE, SHELL_PID};
use crate::shell::{Res, Shell};

/// What `ps` shows: (pid, user, vsz, stat, command). The login shell and `ps` are appended.
pub(super) static PROCESSES: &[(u32, &str, &str, &str, &str)] = &[
    (1, "root", "1516", "S", "init"),
    (2, "root", "0", "SW", "[kthreadd]"),
    (3, "root", "0", "SW", "[ksoftirqd/0]"),
    (5, "root", "0", "SW<", "[kworker/0:0H]"),
    (7, "root", "0", "SW", "[migration/0]"),
    (8, "root", "0", "SW", "[rcu_preempt]"),
    (12, "root", "0", "SW", "[migration/1]"),
    (13, "root", "0", "SW", "[ksoftirqd/1]"),
    (58, "root", "0", "SW", "[kswapd0]"),
    (104, "root", "0", "SW", "[mtdblock0]"),
    (236, "root", "1508", "S", "nvram_daemon"),
    (245, "root", "1508", "S", "syslogd -C8"),
    (248, "root", "1508", "S", "klogd"),
    (312, "nobody", "1904", "S", "dnsmasq -C /var/dnsmasq.conf"),
    (401, "root", "1512", "S", "telnetd -l /bin/login"),
    (
        415,
        "root",
        "1508",
        "S",
        "udhcpc -i eth0.2 -s /sbin/udhcpc.sh -p /var/run/udhcpc.pid",
    ),
];

pub(super) const FREE: &str = "             total       used       free     shared    buffers     cached\n\
Mem:        126072      53512      72560        284       4236      17844\n\
-/+ buffers/cache:      31432      94640\n\
Swap:            0          0          0\n";

pub(super) const DF: &str = "Filesystem           1K-blocks      Used Available Use% Mounted on\n\
rootfs                    6528      6528         0 100% /\n\
/dev/root                 6528      6528         0 100% /\n\
tmpfs                    63036        12     63024   0% /dev\n\
tmpfs                    63036       284     62752   0% /tmp\n\
tmpfs                    63036        36     63000   0% /var\n\
/dev/mtdblock5            1024       236       788  23% /mnt\n";

impl Shell {
    pub(super) fn uname(&self, args: &[String]) -> Res {
        let mut flags = String::new();
        for a in args {
            match a.strip_prefix('-') {
                Some(f) if !f.is_empty() => flags.push_str(f),
                _ => {
                    return Res::fail(
                        format!(
                            "{} multi-call binary.\n\nUsage: uname [-amnrspvio]\n",
                            self.busybox_version()
                        ),
                        1,
                    );
                }
            }
        }
        if flags.contains('a') {
            flags = "snrvmo".to_string();
        }
        if flags.is_empty() {
            flags.push('s');
        }
        let mut parts = Vec::new();
        let kernel_version = self.kernel_version();
        for (flag, value) in [
            ('s', "Linux"),
            ('n', self.hostname.as_str()),
            ('r', KERNEL_RELEASE),
            ('v', kernel_version.as_str()),
            ('m', "mips"),
            ('p', "unknown"),
            ('i', "unknown"),
            ('o', "GNU/Linux"),
        ] {
            if flags.contains(flag) {
                parts.push(value);
            }
        }
        Res::ok(format!("{}\n", parts.join(" ")))
    }

    /// `sleep N` (`s`, `m`, `h`, `d` suffixes, fractions): the front door waits, bounded by
    /// the line's 60 s.
    pub(super) fn sleep(&mut self, args: &[String]) -> Res {
        let Some(first) = args.first() else {
            return Res::fail(
                format!(
                    "{} multi-call binary.\n\nUsage: sleep [N]...\n",
                    self.busybox_version()
                ),
                1,
            );
        };
        let mut total = 0f64;
        for a in args {
            let (num, mult) = match a.char_indices().last() {
                Some((i, 's')) => (a.get(..i).unwrap_or(""), 1.0),
                Some((i, 'm')) => (a.get(..i).unwrap_or(""), 60.0),
                Some((i, 'h')) => (a.get(..i).unwrap_or(""), 3600.0),
                Some((i, 'd')) => (a.get(..i).unwrap_or(""), 86_400.0),
                _ => (a.as_str(), 1.0),
            };
            match num.parse::<f64>() {
                Ok(n) if n.is_finite() && n >= 0.0 && !num.starts_with(['+', '-']) => {
                    total += n * mult;
                }
                _ => return Res::fail(format!("sleep: invalid number '{a}'\n"), 1),
            }
        }
        let _ = first;
        let want = Duration::from_secs_f64(total.min(86_400.0));
        let wait = self.wait(want);
        Res {
            pauses: vec![(0, wait)],
            ..Res::default()
        }
    }

    /// `test EXPR` and `[ EXPR ]`: strings, integers and files (`-e -f -d -x -s -r -w`),
    /// with `!`; status 0 true, 1 false, 2 on an error.
    pub(super) fn test(&self, name: &str, args: &[String]) -> Res {
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        let close = match name {
            "[" => Some("]"),
            "[[" => Some("]]"),
            _ => None,
        };
        if let Some(close) = close {
            if args.last() != Some(&close) {
                return Res::fail(format!("-sh: {name}: missing {close}\n"), 2);
            }
            args.pop();
        }
        let mut negate = false;
        while args.len() > 1 && args.first() == Some(&"!") {
            negate = !negate;
            args.remove(0);
        }
        let number = |s: &str| s.trim().parse::<i64>().map_err(|_| s.to_string());
        let truth: Result<bool, String> = match args.as_slice() {
            [] => Ok(false),
            [s] => Ok(!s.is_empty()),
            ["-n", s] => Ok(!s.is_empty()),
            ["-z", s] => Ok(s.is_empty()),
            [op, path] if op.len() == 2 && op.starts_with('-') => {
                let p = self.resolve(path);
                let real = self.follow(&p);
                Ok(match *op {
                    "-e" | "-r" => self.exists(&real),
                    "-f" => self.exists(&real) && !self.is_dir(&real),
                    "-d" => self.is_dir(&real),
                    "-h" | "-L" => matches!(
                        self.find(&p),
                        Some(crate::shell::fs::Found::Static(
                            _,
                            crate::shell::image::Node::Link(_)
                        ))
                    ),
                    "-w" => self.exists(&real) && Self::writable(&real),
                    "-s" => self.read(&real).is_ok_and(|d| !d.is_empty()),
                    "-x" => {
                        self.exists(&real) && (self.is_dir(&real) || self.which_path_exec(&real))
                    }
                    _ => false,
                })
            }
            [a, "=" | "==", b] => Ok(a == b),
            [a, "!=", b] => Ok(a != b),
            [a, op, b] if matches!(*op, "-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge") => {
                match (number(a), number(b)) {
                    (Ok(x), Ok(y)) => Ok(match *op {
                        "-eq" => x == y,
                        "-ne" => x != y,
                        "-lt" => x < y,
                        "-le" => x <= y,
                        "-gt" => x > y,
                        _ => x >= y,
                    }),
                    (Err(bad), _) | (_, Err(bad)) => Err(format!("invalid number '{bad}'")),
                }
            }
            _ => Err("syntax error".to_string()),
        };
        match truth {
            Ok(t) => Res::fail("", i32::from(t == negate)),
            Err(e) => Res::fail(format!("-sh: {name}: {e}\n"), 2),
        }
    }

    pub(super) fn id(&self) -> String {
        let group = match self.uid {
            0 => "root",
            1000 => "admin",
            65534 => "nogroup",
            _ => self.user.as_str(),
        };
        format!(
            "uid={u}({}) gid={u}({group}) groups={u}({group})\n",
            self.user,
            u = self.uid
        )
    }

    pub(super) fn ps(&self) -> String {
        let mut s = String::from("  PID USER       VSZ STAT COMMAND\n");
        let row = |s: &mut String, pid: u32, user: &str, vsz: &str, stat: &str, cmd: &str| {
            let user: String = user.chars().take(8).collect();
            let _ = writeln!(s, "{pid:>5} {user:<8} {vsz:>5} {stat:<4} {cmd}");
        };
        let web = self.web_server();
        for &(pid, user, vsz, stat, cmd) in PROCESSES {
            if pid == 415 {
                // The web server, named as the persona's `Server` header says.
                row(&mut s, 402, "root", "3020", "S", &web);
            }
            row(&mut s, pid, user, vsz, stat, cmd);
        }
        row(&mut s, SHELL_PID, &self.user, "1520", "S", "-sh");
        row(&mut s, SHELL_PID + 29, &self.user, "1516", "R", "ps");
        s
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
    use super::*;
    use crate::shell::test_support::{root, run};

    #[test]
    fn uname_variants() {
        let mut sh = root();
        assert_eq!(
            run(&mut sh, "uname -a"),
            "Linux router 3.10.14 #1 SMP PREEMPT Fri Jun 18 10:35:51 CST 2021 mips GNU/Linux\r\n"
        );
        assert_eq!(run(&mut sh, "uname"), "Linux\r\n");
        assert_eq!(run(&mut sh, "uname -m"), "mips\r\n");
        assert_eq!(run(&mut sh, "uname -r"), "3.10.14\r\n");
        assert_eq!(run(&mut sh, "uname -s"), "Linux\r\n");
        assert_eq!(run(&mut sh, "uname -n"), "router\r\n");
        assert_eq!(
            run(&mut sh, "uname -v"),
            "#1 SMP PREEMPT Fri Jun 18 10:35:51 CST 2021\r\n"
        );
        assert_eq!(run(&mut sh, "uname -sm"), "Linux mips\r\n");
    }

    #[test]
    fn system_info_commands() {
        let mut sh = root();
        assert_eq!(
            run(&mut sh, "id"),
            "uid=0(root) gid=0(root) groups=0(root)\r\n"
        );
        assert_eq!(run(&mut sh, "whoami"), "root\r\n");
        assert_eq!(run(&mut sh, "hostname"), "router\r\n");
        assert!(run(&mut sh, "ps").starts_with(
            "  PID USER       VSZ STAT COMMAND\r\n    1 root      1516 S    init\r\n"
        ));
        assert!(run(&mut sh, "free").contains("Mem:        126072"));
        assert!(run(&mut sh, "df").contains("/dev/root"));
        assert!(run(&mut sh, "ifconfig").contains("inet addr:192.168.1.1"));
        assert!(run(&mut sh, "ip addr").contains("inet 192.168.1.1/24"));
        assert!(run(&mut sh, "netstat -an").contains("0.0.0.0:23"));
        assert!(run(&mut sh, "uptime").contains(" up 12 days, "));
        assert!(run(&mut sh, "w").contains("USER"));
        assert!(run(&mut sh, "date").contains(" UTC "));
        assert!(run(&mut sh, "help").contains("Built-in commands:"));
        assert_eq!(
            Shell::new("admin").id(),
            "uid=1000(admin) gid=1000(admin) groups=1000(admin)\n"
        );
    }
}
