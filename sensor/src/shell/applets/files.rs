//! Files and directories: `cd`, `cat`, `ls` (and its long format), `chmod`, `rm`, `mkdir`,
//! `touch`, `cp` and `mv`, on the fake filesystem.

use std::fmt::Write as _;

use crate::shell::fs::{Found, SessionEntry, basename, join, parent};
use crate::shell::image::{D, F, L, Node};
use crate::shell::time::format_date_custom;
use crate::shell::{MAX_FILES, MAX_OUTPUT, Res, Shell, push_capped};

impl Shell {
    pub(super) fn cd(&mut self, args: &[String]) -> Res {
        let target = match args.first().map(String::as_str) {
            None => self.home.clone(),
            Some("-") => self.oldpwd.clone(),
            Some(a) => a.to_string(),
        };
        let path = self.resolve(&target);
        if self.is_dir(&path) {
            self.oldpwd = std::mem::replace(&mut self.cwd, path);
            Res::default()
        } else {
            let why = if self.exists(&path) {
                "Not a directory"
            } else {
                "No such file or directory"
            };
            Res::fail(format!("-sh: cd: can't cd to {target}: {why}\n"), 1)
        }
    }

    pub(super) fn cat(&self, args: &[String], stdin: Option<Vec<u8>>) -> Res {
        let files: Vec<&String> = args
            .iter()
            .filter(|a| !a.starts_with('-') || a.as_str() == "-")
            .collect();
        if files.is_empty() {
            return Res::ok(stdin.unwrap_or_default());
        }
        let mut res = Res::default();
        for f in files {
            match self.read(&self.resolve(f)) {
                Ok(data) => push_capped(&mut res.out, &data),
                Err("Is a directory") => {
                    push_capped(&mut res.err, b"cat: read error: Is a directory\n");
                    res.status = 1;
                }
                Err(e) => {
                    push_capped(
                        &mut res.err,
                        format!("cat: can't open '{f}': {e}\n").as_bytes(),
                    );
                    res.status = 1;
                }
            }
        }
        res
    }

    /// One `ls -l` line for a path, named as given.
    pub(super) fn long_entry(&self, path: &str, name: &str) -> String {
        let owner = |uid_is_user: bool| {
            if uid_is_user {
                self.user.chars().take(8).collect()
            } else {
                "root".to_string()
            }
        };
        let (mode, nlink, size, date, link, own) = match self.find(path) {
            Some(Found::Static(mode, node)) => {
                let (size, link) = match node {
                    Node::Dir => (format!("{:>9}", self.children(path).len() * 23 + 3), None),
                    Node::File(s) => (
                        format!(
                            "{:>9}",
                            if path.starts_with("/proc") {
                                0
                            } else {
                                s.len()
                            }
                        ),
                        None,
                    ),
                    Node::Bin(_, n) => (format!("{n:>9}"), None),
                    Node::Link(t) => (format!("{:>9}", t.len()), Some(t.to_string())),
                    Node::Dev(ma, mi) => (format!("{ma:>4}, {mi:>4}"), None),
                };
                let nlink = if matches!(node, Node::Dir) { 2 } else { 1 };
                (
                    mode.to_string(),
                    nlink,
                    size,
                    self.firmware_ls_date(),
                    link,
                    owner(false),
                )
            }
            Some(Found::Applet(dir)) => {
                let target = if dir == "/bin" {
                    "busybox"
                } else if dir.starts_with("/usr") {
                    "../../bin/busybox"
                } else {
                    "../bin/busybox"
                };
                (
                    L.to_string(),
                    1,
                    format!("{:>9}", target.len()),
                    self.firmware_ls_date(),
                    Some(target.to_string()),
                    owner(false),
                )
            }
            Some(Found::Home) => (
                D.to_string(),
                2,
                format!("{:>9}", 0),
                self.firmware_ls_date(),
                None,
                owner(true),
            ),
            Some(Found::Session(SessionEntry::File {
                data, exec, mtime, ..
            })) => {
                let mode = if *exec { "-rwxrwxrwx" } else { F };
                (
                    mode.to_string(),
                    1,
                    format!("{:>9}", data.len()),
                    format_date_custom(*mtime, "%b %e %H:%M"),
                    None,
                    owner(true),
                )
            }
            Some(Found::Session(SessionEntry::Dir { mtime })) => (
                D.to_string(),
                2,
                format!("{:>9}", 40),
                format_date_custom(*mtime, "%b %e %H:%M"),
                None,
                owner(true),
            ),
            None => return String::new(),
        };
        let group = if own == "root" {
            "root".to_string()
        } else {
            own.clone()
        };
        let arrow = link.map(|t| format!(" -> {t}")).unwrap_or_default();
        format!("{mode} {nlink:>4} {own:<8} {group:<8} {size} {date} {name}{arrow}\n")
    }

    /// Names laid out in columns down-then-across for an 80-column terminal, like busybox.
    pub(super) fn columns(names: &[String]) -> String {
        let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) + 2;
        let cols = (80 / width).max(1);
        let rows = names.len().div_ceil(cols);
        let mut s = String::new();
        for r in 0..rows {
            let mut line = String::new();
            for c in 0..cols {
                if let Some(n) = names.get(c * rows + r) {
                    let _ = write!(line, "{n:<width$}");
                }
            }
            s.push_str(line.trim_end());
            s.push('\n');
        }
        s
    }

    pub(super) fn ls(&self, args: &[String]) -> Res {
        let flags: String = args
            .iter()
            .filter(|a| a.starts_with('-'))
            .flat_map(|a| a.chars().skip(1))
            .collect();
        let (long, all, one) = (
            flags.contains('l'),
            flags.contains('a') || flags.contains('A'),
            flags.contains('1'),
        );
        let mut paths: Vec<&str> = args
            .iter()
            .filter(|a| !a.starts_with('-'))
            .map(String::as_str)
            .collect();
        if paths.is_empty() {
            paths.push(".");
        }
        let mut res = Res::default();
        let mut listed = Vec::new();
        let mut singles = Vec::new();
        for p in &paths {
            let full = self.resolve(p);
            if !self.exists(&full) {
                push_capped(
                    &mut res.err,
                    format!("ls: {p}: No such file or directory\n").as_bytes(),
                );
                res.status = 1;
            } else if self.is_dir(&full)
                && !(long && matches!(self.find(&full), Some(Found::Static(_, Node::Link(_)))))
            {
                listed.push((*p, self.follow(&full)));
            } else {
                singles.push((*p, full));
            }
        }
        let mut out = String::new();
        let names_out = |entries: Vec<(String, String)>, out: &mut String| {
            if long {
                for (name, path) in entries {
                    out.push_str(&self.long_entry(&path, &name));
                }
            } else {
                let names: Vec<String> = entries.into_iter().map(|(n, _)| n).collect();
                if one {
                    for n in names {
                        out.push_str(&n);
                        out.push('\n');
                    }
                } else if !names.is_empty() {
                    out.push_str(&Self::columns(&names));
                }
            }
        };
        names_out(
            singles
                .iter()
                .map(|(n, p)| ((*n).to_string(), p.clone()))
                .collect(),
            &mut out,
        );
        let headers = paths.len() > 1;
        for (i, (given, dir)) in listed.iter().enumerate() {
            if headers {
                if i > 0 || !singles.is_empty() {
                    out.push('\n');
                }
                let _ = writeln!(out, "{given}:");
            }
            let mut entries = Vec::new();
            if all {
                entries.push((".".to_string(), dir.clone()));
                entries.push(("..".to_string(), parent(dir).unwrap_or("/").to_string()));
            }
            for name in self.children(dir) {
                if all || !name.starts_with('.') {
                    let path = join(dir, &name);
                    entries.push((name, path));
                }
            }
            names_out(entries, &mut out);
            if out.len() > MAX_OUTPUT {
                break;
            }
        }
        push_capped(&mut res.out, out.as_bytes());
        res
    }

    /// `readlink [-f] FILE`: a symlink's target, or with `-f` the path with every link
    /// followed.
    pub(super) fn readlink(&self, args: &[String]) -> Res {
        let canonical = args.iter().any(|a| a.starts_with('-') && a.contains('f'));
        let Some(f) = args.iter().find(|a| !a.starts_with('-')) else {
            return Res::fail(
                format!(
                    "{} multi-call binary.\n\nUsage: readlink [-fnv] FILE\n",
                    self.busybox_version()
                ),
                1,
            );
        };
        let path = self.resolve(f);
        if canonical {
            return if self.exists(&self.follow(&path)) {
                Res::ok(format!("{}\n", self.follow(&path)))
            } else {
                Res::fail("", 1)
            };
        }
        match self.find(&path) {
            Some(Found::Static(_, Node::Link(t))) => Res::ok(format!("{t}\n")),
            Some(Found::Applet(_)) => Res::ok("busybox\n"),
            _ => Res::fail("", 1),
        }
    }

    /// `dd if= of= bs= count= skip=`: copies (part of) a file or its input, and reports the
    /// records on its error output as BusyBox does. Loaders use it to read an ELF header
    /// (`dd bs=52 count=1 if=/bin/echo`).
    pub(super) fn dd(&mut self, args: &[String], stdin: Option<Vec<u8>>) -> Res {
        let mut opts = std::collections::BTreeMap::new();
        for a in args {
            match a.split_once('=') {
                Some((k, v)) => {
                    opts.insert(k, v);
                }
                None => return Res::fail(format!("dd: invalid argument '{a}'\n"), 1),
            }
        }
        let num = |k: &str, default: usize| -> Result<usize, String> {
            match opts.get(k) {
                None => Ok(default),
                Some(v) => {
                    let (n, mult) = match v.strip_suffix('k') {
                        Some(n) => (n, 1024),
                        None => (*v, 1),
                    };
                    n.parse::<usize>()
                        .map(|n| n.saturating_mul(mult))
                        .map_err(|_| format!("dd: invalid number '{v}'\n"))
                }
            }
        };
        let (bs, count, skip) = match (num("bs", 512), num("count", usize::MAX), num("skip", 0)) {
            (Ok(b), Ok(c), Ok(s)) => (b.clamp(1, 1 << 20), c, s),
            (Err(e), ..) | (_, Err(e), _) | (.., Err(e)) => return Res::fail(e, 1),
        };
        let data = match opts.get("if") {
            Some(f) => match self.read(&self.resolve(f)) {
                Ok(d) => d,
                Err(e) => return Res::fail(format!("dd: can't open '{f}': {e}\n"), 1),
            },
            None => stdin.unwrap_or_default(),
        };
        let start = skip.saturating_mul(bs).min(data.len());
        let end = start
            .saturating_add(count.saturating_mul(bs))
            .min(data.len());
        let copied = data.get(start..end).unwrap_or_default().to_vec();
        let (full, partial) = (copied.len() / bs, usize::from(copied.len() % bs != 0));
        let mut res = Res::default();
        match opts.get("of") {
            Some(f) => {
                let path = self.resolve(f);
                if let Err(e) = self.write_via(&path, &copied, false, "dd") {
                    return Res::fail(format!("dd: can't open '{f}': {e}\n"), 1);
                }
            }
            None => res.out = copied,
        }
        res.err =
            format!("{full}+{partial} records in\n{full}+{partial} records out\n").into_bytes();
        res
    }

    /// `tee [-a] FILE...`: its input to each file and to its output.
    pub(super) fn tee(&mut self, args: &[String], stdin: Option<Vec<u8>>) -> Res {
        let append = args.iter().any(|a| a.starts_with('-') && a.contains('a'));
        let data = stdin.unwrap_or_default();
        let mut res = Res::ok(data.clone());
        for f in args.iter().filter(|a| !a.starts_with('-')) {
            let path = self.resolve(f);
            if let Err(e) = self.write_via(&path, &data, append, "tee") {
                push_capped(&mut res.err, format!("tee: {f}: {e}\n").as_bytes());
                res.status = 1;
            }
        }
        res
    }

    pub(super) fn chmod(&mut self, args: &[String]) -> Res {
        let mut pos = args.iter().filter(|a| {
            !a.starts_with('-') || a.len() > 1 && a.chars().skip(1).all(|c| "rwxXst".contains(c))
        });
        let Some(mode) = pos.next() else {
            return Res::fail(
                format!(
                    "{} multi-call binary.\n\nUsage: chmod [-Rcvf] MODE[,MODE]... FILE...\n",
                    self.busybox_version()
                ),
                1,
            );
        };
        let exec = mode.contains('x') || mode.chars().any(|c| matches!(c, '1' | '3' | '5' | '7'));
        let mut res = Res::default();
        for f in pos {
            let path = self.resolve(f);
            let exists = self.exists(&path);
            self.report_file(&path);
            match self.files.get_mut(&path) {
                Some(SessionEntry::File { exec: e, .. }) => {
                    *e = exec || (*e && !mode.contains('-'))
                }
                Some(SessionEntry::Dir { .. }) => {}
                None if exists => {}
                None => {
                    push_capped(
                        &mut res.err,
                        format!("chmod: {f}: No such file or directory\n").as_bytes(),
                    );
                    res.status = 1;
                }
            }
        }
        res
    }

    pub(super) fn rm(&mut self, args: &[String]) -> Res {
        let flags: String = args
            .iter()
            .filter(|a| a.starts_with('-'))
            .flat_map(|a| a.chars().skip(1))
            .collect();
        let (force, recursive) = (
            flags.contains('f'),
            flags.contains('r') || flags.contains('R'),
        );
        let mut res = Res::default();
        for f in args.iter().filter(|a| !a.starts_with('-')) {
            let path = self.resolve(f);
            let err = if !self.exists(&path) {
                (!force).then_some("No such file or directory")
            } else if self.is_dir(&path)
                && !matches!(self.find(&path), Some(Found::Static(_, Node::Link(_))))
                && !recursive
            {
                push_capped(
                    &mut res.err,
                    format!("rm: '{f}' is a directory\n").as_bytes(),
                );
                res.status = 1;
                continue;
            } else if !Self::writable(&path) {
                Some("Read-only file system")
            } else {
                let prefix = format!("{path}/");
                let doomed: Vec<String> = self
                    .files
                    .keys()
                    .filter(|p| **p == path || p.starts_with(&prefix))
                    .cloned()
                    .collect();
                for p in doomed {
                    self.remove_entry(&p);
                }
                None
            };
            if let Some(e) = err {
                push_capped(
                    &mut res.err,
                    format!("rm: can't remove '{f}': {e}\n").as_bytes(),
                );
                res.status = 1;
            }
        }
        res
    }

    pub(super) fn mkdir(&mut self, args: &[String]) -> Res {
        let parents = args.iter().any(|a| a.starts_with('-') && a.contains('p'));
        let mut res = Res::default();
        for f in args.iter().filter(|a| !a.starts_with('-')) {
            let path = self.resolve(f);
            let mut todo = vec![path.clone()];
            if parents {
                let mut p = parent(&path);
                while let Some(dir) = p.filter(|d| !self.exists(d)) {
                    todo.push(dir.to_string());
                    p = parent(dir);
                }
            }
            for dir in todo.into_iter().rev() {
                let err = if self.exists(&dir) {
                    (!parents).then_some("File exists")
                } else if !parent(&dir).is_some_and(|p| self.is_dir(p)) {
                    Some("No such file or directory")
                } else if !Self::writable(&dir) {
                    Some("Read-only file system")
                } else if self.files.len() >= MAX_FILES {
                    Some("No space left on device")
                } else {
                    self.files.insert(
                        dir.clone(),
                        SessionEntry::Dir {
                            mtime: self.clock(),
                        },
                    );
                    None
                };
                if let Some(e) = err {
                    push_capped(
                        &mut res.err,
                        format!("mkdir: can't create directory '{f}': {e}\n").as_bytes(),
                    );
                    res.status = 1;
                    break;
                }
            }
        }
        res
    }

    pub(super) fn touch(&mut self, args: &[String]) -> Res {
        let mut res = Res::default();
        for f in args.iter().filter(|a| !a.starts_with('-')) {
            let path = self.resolve(f);
            if self.exists(&path) {
                continue;
            }
            if let Err(e) = self.write(&path, b"", true) {
                push_capped(&mut res.err, format!("touch: {f}: {e}\n").as_bytes());
                res.status = 1;
            }
        }
        res
    }

    pub(super) fn cp_mv(&mut self, mv: bool, args: &[String]) -> Res {
        let tool = if mv { "mv" } else { "cp" };
        let pos: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
        let Some((dest, sources)) = pos.split_last().filter(|(_, s)| !s.is_empty()) else {
            return Res::fail(
                format!(
                    "{} multi-call binary.\n\nUsage: {tool} [OPTIONS] SOURCE... DEST\n",
                    self.busybox_version()
                ),
                1,
            );
        };
        let dest_path = self.resolve(dest);
        let dest_is_dir = self.is_dir(&dest_path);
        let mut res = Res::default();
        for src in sources {
            let src_path = self.resolve(src);
            self.report_file(&src_path);
            let data = match self.read(&src_path) {
                Ok(d) => d,
                Err(e) => {
                    let msg = if e == "Is a directory" {
                        format!("{tool}: omitting directory '{src}'\n")
                    } else {
                        format!("{tool}: can't stat '{src}': {e}\n")
                    };
                    push_capped(&mut res.err, msg.as_bytes());
                    res.status = 1;
                    continue;
                }
            };
            let exec = match self.find(&self.follow(&src_path)) {
                Some(Found::Session(SessionEntry::File { exec, .. })) => *exec,
                Some(Found::Static(mode, _)) => mode.contains('x'),
                _ => false,
            };
            let target = if dest_is_dir {
                join(&dest_path, basename(&src_path))
            } else {
                dest_path.clone()
            };
            // A copy of the firmware's own file (Mirai's `cp /bin/busybox .x` to get an
            // executable to fill) is not the attacker's content: nothing to report.
            let from_session =
                matches!(self.find(&self.follow(&src_path)), Some(Found::Session(_)));
            match self.write_via(&target, &data, false, tool) {
                Ok(()) => {
                    if let Some(SessionEntry::File { exec: e, dirty, .. }) =
                        self.files.get_mut(&target)
                    {
                        *e = exec;
                        *dirty &= from_session;
                    }
                    if mv && target != src_path && Self::writable(&src_path) {
                        self.remove_entry(&src_path);
                    }
                }
                Err(e) => {
                    push_capped(
                        &mut res.err,
                        format!("{tool}: can't create '{dest}': {e}\n").as_bytes(),
                    );
                    res.status = 1;
                }
            }
        }
        res
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
    fn cd_pwd_ls_interplay() {
        let mut sh = root();
        assert_eq!(run(&mut sh, "pwd"), "/root\r\n");
        run(&mut sh, "cd /etc/init.d");
        assert_eq!(run(&mut sh, "pwd"), "/etc/init.d\r\n");
        assert_eq!(run(&mut sh, "ls"), "rcS\r\n");
        run(&mut sh, "cd ../..");
        assert_eq!(run(&mut sh, "pwd"), "/\r\n");
        run(&mut sh, "cd ~");
        assert_eq!(run(&mut sh, "pwd"), "/root\r\n");
        run(&mut sh, "cd /usr/bin; cd -");
        assert_eq!(run(&mut sh, "pwd"), "/root\r\n");
        assert_eq!(
            run(&mut sh, "cd /nope"),
            "-sh: cd: can't cd to /nope: No such file or directory\r\n"
        );
        assert_eq!(
            run(&mut sh, "cd /etc/passwd"),
            "-sh: cd: can't cd to /etc/passwd: Not a directory\r\n"
        );
        assert_eq!(run(&mut sh, "pwd"), "/root\r\n");
    }

    #[test]
    fn ls_variants() {
        let mut sh = root();
        let top = run(&mut sh, "ls /");
        for d in ["bin", "etc", "proc", "tmp", "usr", "var"] {
            assert!(top.contains(d), "{top}");
        }
        let long = run(&mut sh, "ls -l /bin");
        assert!(
            long.contains("-rwxr-xr-x    1 root     root        895268 Jun 18  2021 busybox\r\n"),
            "{long}"
        );
        assert!(long.contains(
            "lrwxrwxrwx    1 root     root             7 Jun 18  2021 cat -> busybox\r\n"
        ));
        let la = run(&mut sh, "ls -la /tmp");
        assert!(la.contains(" .\r\n") && la.contains(" ..\r\n"));
        assert_eq!(run(&mut sh, "ls /etc/passwd"), "/etc/passwd\r\n");
        assert_eq!(
            run(&mut sh, "ls /zz"),
            "ls: /zz: No such file or directory\r\n"
        );
        assert!(
            run(&mut sh, "ls -l /dev/null")
                .starts_with("crw-rw-rw-    1 root     root        1,    3 ")
        );
    }

    #[test]
    fn cat_fake_files() {
        let mut sh = root();
        let cpu = run(&mut sh, "cat /proc/cpuinfo");
        assert!(cpu.starts_with("system type\t\t: MT7621\r\n"));
        assert!(cpu.contains("cpu model\t\t: MIPS 1004Kc V2.15"));
        assert!(run(&mut sh, "cat /proc/meminfo").starts_with("MemTotal:         126072 kB\r\n"));
        assert!(run(&mut sh, "cat /etc/passwd").starts_with("root:x:0:0:root:/root:/bin/sh\r\n"));
        assert!(run(&mut sh, "cat /etc/shadow").contains("root:$1$"));
        assert!(run(&mut sh, "cat /proc/mounts").contains("squashfs"));
        assert!(run(&mut sh, "cat /proc/version").starts_with("Linux version 3.10.14"));
        assert_eq!(
            run(&mut sh, "cat /nope"),
            "cat: can't open '/nope': No such file or directory\r\n"
        );
        assert_eq!(
            run(&mut sh, "cat /etc"),
            "cat: read error: Is a directory\r\n"
        );
        let elf = sh.run_line("cat /bin/echo").text;
        assert!(elf.starts_with(b"\x7fELF\x01\x01"));
        assert_eq!(elf.get(18), Some(&8)); // e_machine = EM_MIPS
    }

    #[test]
    fn file_management() {
        let mut sh = root();
        assert_eq!(run(&mut sh, "cd /tmp; mkdir d; cd d; pwd"), "/tmp/d\r\n");
        assert_eq!(
            run(&mut sh, "mkdir /tmp/d"),
            "mkdir: can't create directory '/tmp/d': File exists\r\n"
        );
        assert_eq!(
            run(&mut sh, "mkdir /etc/x"),
            "mkdir: can't create directory '/etc/x': Read-only file system\r\n"
        );
        assert_eq!(
            run(&mut sh, "mkdir -p /tmp/a/b/c; cd /tmp/a/b/c; pwd"),
            "/tmp/a/b/c\r\n"
        );
        assert_eq!(run(&mut sh, "touch /tmp/t; ls /tmp/t"), "/tmp/t\r\n");
        assert_eq!(
            run(&mut sh, "cp /bin/echo /tmp/e; ls -l /tmp/e").get(..10),
            Some("-rwxrwxrwx")
        );
        assert_eq!(
            run(&mut sh, "mv /tmp/e /tmp/f; ls /tmp/e"),
            "ls: /tmp/e: No such file or directory\r\n"
        );
        assert!(sh.exists("/tmp/f"));
        assert_eq!(
            run(&mut sh, "rm /tmp/f; rm /tmp/f"),
            "rm: can't remove '/tmp/f': No such file or directory\r\n"
        );
        assert_eq!(
            run(&mut sh, "rm -rf /tmp/a; cd /tmp/a"),
            "-sh: cd: can't cd to /tmp/a: No such file or directory\r\n"
        );
        assert_eq!(
            run(&mut sh, "rm /bin/ls"),
            "rm: can't remove '/bin/ls': Read-only file system\r\n"
        );
        assert_eq!(
            run(&mut sh, "chmod 777 /tmp/nope"),
            "chmod: /tmp/nope: No such file or directory\r\n"
        );
        assert_eq!(run(&mut sh, "kill -9 1; killall telnetd; reboot"), "");
    }
}
