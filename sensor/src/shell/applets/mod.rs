//! The commands the shell runs: ash's builtins and router-CLI words ([`Shell::run_named`]),
//! then the programs of the device, mostly BusyBox applets, by family: [`busybox`] (the
//! multi-call binary and `sh`), [`files`], [`text`], [`system`] and [`network`]. Dispatch is one
//! `match` on the command name.

mod busybox;
mod files;
mod network;
mod system;
mod text;

use super::image::MOUNTS;
use super::image::PATH_VAR;
use super::time::{format_date, format_date_custom};
use super::{Res, Shell};
use network::NETSTAT_SERVERS;
use system::{DF, FREE};

pub(super) const ASH_HELP: &str = "\nBuilt-in commands:\n------------------\n\
\t. : [ [[ alias bg break cd chdir command continue echo eval exec\n\
\texit export false fg getopts hash help history jobs kill let\n\
\tlocal printf pwd read readonly return set shift source test times\n\
\ttrap true type ulimit umask unalias unset wait\n\n";

impl Shell {
    /// Builtins, router-CLI words and applets by name.
    pub(super) fn run_named(
        &mut self,
        name: &str,
        args: &[String],
        stdin: Option<Vec<u8>>,
        depth: u8,
    ) -> Res {
        match name {
            "exit" | "logout" | "quit" => {
                return Res {
                    exit: true,
                    ..Res::default()
                };
            }
            "cd" | "chdir" => return self.cd(args),
            "echo" => return Self::echo(args),
            "pwd" => return Res::ok(format!("{}\n", self.cwd)),
            "help" => return Res::ok(ASH_HELP),
            "true" | ":" | "enable" | "system" | "shell" | "linuxshell" | "set" | "unset"
            | "alias" | "history" | "ulimit" | "umask" | "trap" | "wait" | "hash" | "source"
            | "." => {
                return Res::default();
            }
            "false" => return Res::fail("", 1),
            "export" | "readonly" | "local" => {
                for a in args {
                    if let Some((n, v)) = a.split_once('=') {
                        self.set_var(n, v);
                    }
                }
                return Res::default();
            }
            "kill" => return Res::default(),
            "break" | "continue" => {
                let n = args
                    .first()
                    .and_then(|a| a.parse::<i32>().ok())
                    .unwrap_or(1)
                    .clamp(1, 64);
                self.jump = if name == "break" { n } else { -n };
                return Res::default();
            }
            "test" | "[" | "[[" => return self.test(name, args),
            _ => {}
        }
        if self.which(name).is_none() {
            return Res::fail(format!("-sh: {name}: not found\n"), 127);
        }
        self.applet(name, args, stdin, depth)
    }

    /// The programs of the device (mostly BusyBox applets).
    pub(super) fn applet(
        &mut self,
        name: &str,
        args: &[String],
        stdin: Option<Vec<u8>>,
        depth: u8,
    ) -> Res {
        let arg = |i: usize| args.get(i).map(String::as_str);
        match name {
            "busybox" => self.busybox(args, stdin, depth),
            "sh" | "ash" => self.sh(args, depth),
            "uname" => self.uname(args),
            "cat" => self.cat(args, stdin),
            "ls" => self.ls(args),
            "id" => Res::ok(self.id()),
            "whoami" => Res::ok(format!("{}\n", self.user)),
            "hostname" => {
                if let Some(h) = arg(0).filter(|h| !h.starts_with('-')) {
                    if self.uid != 0 {
                        return Res::fail("hostname: sethostname: Operation not permitted\n", 1);
                    }
                    self.hostname = h.chars().take(64).collect();
                    return Res::default();
                }
                Res::ok(format!("{}\n", self.hostname))
            }
            "ps" => Res::ok(self.ps()),
            "free" => Res::ok(FREE),
            "df" => Res::ok(DF),
            "ifconfig" => Res::ok(self.ifconfig()),
            "route" => Res::ok(self.route_table()),
            "dmesg" => Res::ok(self.dmesg()),
            "sleep" => self.sleep(args),
            "ping" => self.ping(args),
            "nc" | "telnet" => self.connect_tool(name, args),
            "readlink" => self.readlink(args),
            "ip" => match arg(0).unwrap_or("") {
                a if "address".starts_with(a) && !a.is_empty() => Res::ok(self.ip_addr()),
                a if "route".starts_with(a) && !a.is_empty() => Res::ok(self.ip_route()),
                a if "link".starts_with(a) && !a.is_empty() => Res::ok(
                    self.ip_addr()
                        .lines()
                        .filter(|l| !l.contains("inet "))
                        .fold(String::new(), |s, l| s + l + "\n"),
                ),
                _ => Res::fail(
                    format!(
                        "{} multi-call binary.\n\nUsage: ip [OPTIONS] address|route|link|tunnel|neigh|rule [ARGS]\n",
                        self.busybox_version()
                    ),
                    1,
                ),
            },
            "netstat" => {
                if args
                    .iter()
                    .any(|a| a.starts_with('-') && (a.contains('a') || a.contains('l')))
                {
                    Res::ok(NETSTAT_SERVERS)
                } else {
                    Res::ok(
                        "Active Internet connections (w/o servers)\nProto Recv-Q Send-Q Local Address           Foreign Address         State       \n",
                    )
                }
            }
            "uptime" => Res::ok(format!("{}\n", self.uptime())),
            "w" => Res::ok(format!(
                "{}\nUSER       TTY      IDLE      TIME            HOST\n{:<10} pts/0    00:00     {}\n",
                self.uptime(),
                self.user,
                format_date_custom(self.clock(), "%b %e %H:%M"),
            )),
            "date" => match arg(0).and_then(|a| a.strip_prefix('+')) {
                Some(fmt) => Res::ok(format!("{}\n", format_date_custom(self.clock(), fmt))),
                None => Res::ok(format!("{}\n", format_date(self.clock()))),
            },
            "nproc" => Res::ok("4\n"),
            "mount" if args.is_empty() => Res::ok(MOUNTS),
            "head" | "tail" => self.head_tail(name == "head", args, stdin),
            "grep" | "egrep" => self.grep(args, stdin),
            "wc" => self.wc(args, stdin),
            "which" => Res::ok(
                args.iter()
                    .filter_map(|a| self.which(a))
                    .fold(String::new(), |s, p| s + &p + "\n"),
            ),
            "env" => Res::ok(format!(
                "USER={u}\nLOGNAME={u}\nHOME={}\nPATH={PATH_VAR}\nSHELL=/bin/sh\nTERM=vt102\nPWD={}\n",
                self.home,
                self.cwd,
                u = self.user
            )),
            "printf" => Res::ok(text::printf(args)),
            "tee" => self.tee(args, stdin),
            "dd" => self.dd(args, stdin),
            "test" | "[" | "[[" => self.test(name, args),
            "wget" => self.wget(args),
            "curl" => self.curl(args),
            "tftp" => self.tftp(args),
            "ftpget" | "ftpput" => self.ftpget(name, args),
            "chmod" => self.chmod(args),
            "rm" => self.rm(args),
            "mkdir" => self.mkdir(args),
            "touch" => self.touch(args),
            "cp" | "mv" => self.cp_mv(name == "mv", args),
            "killall" => Res::default(),
            "false" => Res::fail("", 1),
            "echo" | "pwd" | "kill" | "true" => self.run_named(name, args, stdin, depth),
            _ => Res::default(),
        }
    }
}
