//! `busybox` itself (its help, `--list` and `busybox APPLET`) and `sh`/`ash` running a
//! command string or a script.

use crate::shell::fs::basename;
use crate::shell::image::APPLETS;
use crate::shell::{MAX_DEPTH, Res, Shell, Term, not_a_script};

pub(super) const BUSYBOX_HELP: &str = " multi-call binary.\nBusyBox is copyrighted by many authors between 1998-2015.\n\
Licensed under GPLv2. See source distribution for detailed\ncopyright notices.\n\n\
Usage: busybox [function [arguments]...]\n   or: busybox --list[-full]\n\
\x20  or: busybox --install [-s] [DIR]\n   or: function [arguments]...\n\n\
\tBusyBox is a multi-call binary that combines many common Unix\n\
\tutilities into a single executable.  Most people will create a\n\
\tlink to busybox for each function they wish to use and BusyBox\n\
\twill act like whatever it was invoked as.\n\nCurrently defined functions:\n";

impl Shell {
    pub(super) fn busybox(&mut self, args: &[String], stdin: Option<Vec<u8>>, depth: u8) -> Res {
        let Some((applet, rest)) = args.split_first() else {
            return Res::ok(self.busybox_help());
        };
        match applet.as_str() {
            "--list" => {
                return Res::ok(APPLETS.iter().fold(String::new(), |s, (n, _)| s + n + "\n"));
            }
            "--help" => return Res::ok(self.busybox_help()),
            _ => {}
        }
        let applet = basename(applet);
        if APPLETS.iter().any(|(n, _)| *n == applet) {
            self.applet(applet, rest, stdin, depth)
        } else {
            Res::fail(format!("{applet}: applet not found\n"), 127)
        }
    }

    /// `busybox` with no arguments: the help header and the applet list, wrapped like
    /// BusyBox's own `busybox_main` at 80 columns.
    pub(super) fn busybox_help(&self) -> String {
        let mut s = format!("{}{BUSYBOX_HELP}", self.busybox_version());
        let mut col = 0;
        for (name, _) in APPLETS {
            let len = name.len() + 2;
            if col >= 80 - len {
                s.push_str(",\n");
                col = 0;
            }
            if col == 0 {
                col = 8;
                s.push('\t');
            } else {
                s.push_str(", ");
            }
            s.push_str(name);
            col += len;
        }
        s.push_str("\n\n");
        s
    }

    pub(super) fn sh(&mut self, args: &[String], depth: u8) -> Res {
        if depth >= MAX_DEPTH {
            return Res::default();
        }
        match args.first().map(String::as_str) {
            Some("-c") => {
                let script = args.get(1).cloned().unwrap_or_default();
                let mut term = Term::default();
                self.run_script(&script, depth + 1, &mut term);
                term.into_res(self.status)
            }
            Some(file) if !file.starts_with('-') => self.sh_file(file, depth),
            _ => Res::default(),
        }
    }

    /// `sh FILE`: the file run as a script (a session file is reported first).
    fn sh_file(&mut self, file: &str, depth: u8) -> Res {
        let path = self.resolve(file);
        self.report_file(&path);
        match self.read(&path) {
            Ok(data) if !data.starts_with(b"\x7fELF") => {
                let script = String::from_utf8_lossy(&data).into_owned();
                let mut term = Term::default();
                self.run_script(&script, depth + 1, &mut term);
                term.into_res(self.status)
            }
            Ok(data) => not_a_script(file, &data),
            Err(e) => Res::fail(format!("sh: can't open '{file}': {e}\n"), 2),
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
    fn busybox_applets() {
        let mut sh = root();
        assert_eq!(
            run(&mut sh, "/bin/busybox ECCHI"),
            "ECCHI: applet not found\r\n"
        );
        assert_eq!(run(&mut sh, "busybox MIRAI"), "MIRAI: applet not found\r\n");
        assert_eq!(run(&mut sh, "busybox curl"), "curl: applet not found\r\n");
        assert_eq!(run(&mut sh, "/bin/busybox echo hi"), "hi\r\n");
        assert!(run(&mut sh, "/bin/busybox cat /proc/mounts").contains("/dev/root"));
        let help = run(&mut sh, "busybox");
        assert!(
            help.starts_with("BusyBox v1.24.1 (2021-06-18 10:42:17 CST) multi-call binary.\r\n")
        );
        assert!(help.contains("Currently defined functions:\r\n\t[, [[, arp, ash,"));
        assert!(help.lines().all(|l| l.len() <= 82));
    }

    #[test]
    fn sh_and_scripts() {
        let mut sh = root();
        assert_eq!(run(&mut sh, "sh -c \"echo a; echo b\""), "a\r\nb\r\n");
        assert_eq!(run(&mut sh, "enable; system; shell; sh; linuxshell"), "");
        run(&mut sh, "cd /tmp; echo 'echo from script' > s");
        assert_eq!(run(&mut sh, "sh s"), "from script\r\n");
        assert_eq!(run(&mut sh, "./s"), "-sh: ./s: Permission denied\r\n");
        assert_eq!(run(&mut sh, "chmod 777 s; ./s"), "from script\r\n");
        assert_eq!(run(&mut sh, "./missing"), "-sh: ./missing: not found\r\n");
        assert_eq!(
            run(&mut sh, "sh nothere"),
            "sh: can't open 'nothere': No such file or directory\r\n"
        );
        // A self-invoking script terminates.
        run(&mut sh, "echo 'sh r; sh r' > r");
        assert_eq!(run(&mut sh, "sh r; echo done"), "done\r\n");
    }
}
