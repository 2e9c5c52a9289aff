//! The fake filesystem: the static firmware image ([`super::image`]) with the session's own
//! small, bounded set of files and directories on top. Paths are resolved against the working
//! directory and `~`, symlinks followed, and writes only succeed on the writable mounts.

use std::collections::BTreeSet;

use super::image::{APPLETS, FS, Node, PATH_DIRS, WRITABLE};
use super::{MAX_FILES, Shell};

/// A file or directory the session created; lives only in memory, bounded by the caps above.
#[derive(Debug, Clone)]
pub(super) enum SessionEntry {
    File {
        data: Vec<u8>,
        exec: bool,
        mtime: u64,
        /// Changed since last reported as a [`super::WrittenFile`].
        dirty: bool,
        /// How it was last written (`redirect`, `cp`, `mv`).
        via: &'static str,
    },
    Dir {
        mtime: u64,
    },
}

/// What a path names, static or created by the session.
pub(super) enum Found<'a> {
    Static(&'static str, Node),
    Applet(&'static str),
    Home,
    Session(&'a SessionEntry),
}

/// The parent directory of an absolute normalized path (`None` for `/`).
pub(super) fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    path.rsplit_once('/')
        .map(|(p, _)| if p.is_empty() { "/" } else { p })
}

/// The last component of a path.
pub(super) fn basename(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(path)
}

pub(super) fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Shell wildcard match of `*` and `?` (no brackets), iterative so it cannot blow the stack.
pub(super) fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == n.get(ni) => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}

impl Shell {
    /// Normalizes a path typed by the peer against the working directory and `~`.
    pub(super) fn resolve(&self, arg: &str) -> String {
        let full = if arg == "~" {
            self.home.clone()
        } else if let Some(rest) = arg.strip_prefix("~/") {
            join(&self.home, rest)
        } else if arg.starts_with('/') {
            arg.to_string()
        } else {
            join(&self.cwd, arg)
        };
        let mut parts: Vec<&str> = Vec::new();
        for part in full.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        if parts.is_empty() {
            return "/".to_string();
        }
        let mut path = String::new();
        for p in parts {
            path.push('/');
            path.push_str(p);
        }
        path
    }

    /// Looks a normalized path up without following a symlink in its last component (those
    /// among its directories are followed: `/proc/self/exe` is `/proc/1342/exe`).
    pub(super) fn find(&self, path: &str) -> Option<Found<'_>> {
        if let Some(found) = self.find_direct(path) {
            return Some(found);
        }
        let through = self.follow_dirs(path, 0);
        if through == path {
            return None;
        }
        self.find_direct(&through)
    }

    /// The path with the symlinks among its directories followed.
    fn follow_dirs(&self, path: &str, depth: u8) -> String {
        match path.rsplit_once('/') {
            Some((dir, name)) if !dir.is_empty() && depth < 8 => {
                let dir = self.follow_at(dir, depth + 1);
                join(&dir, name)
            }
            _ => path.to_string(),
        }
    }

    /// The firmware's path for `path`: the image names the web server `goahead`; a persona
    /// with another server has its binary and pid file under that server's name instead.
    fn image_path<'p>(&self, path: &'p str) -> Option<std::borrow::Cow<'p, str>> {
        use std::borrow::Cow;
        let (dir, name) = match path {
            p if p.starts_with("/bin/") => ("/bin/", p.get(5..)?),
            p if p.starts_with("/var/run/") => ("/var/run/", p.get(9..)?.strip_suffix(".pid")?),
            p => return Some(Cow::Borrowed(p)),
        };
        let web = self.web_server();
        if web == "goahead" {
            return Some(Cow::Borrowed(path));
        }
        let suffix = if dir == "/bin/" { "" } else { ".pid" };
        if name == "goahead" {
            None
        } else if name == web {
            Some(Cow::Owned(format!("{dir}goahead{suffix}")))
        } else {
            Some(Cow::Borrowed(path))
        }
    }

    /// Looks a normalized path up as it is.
    fn find_direct(&self, path: &str) -> Option<Found<'_>> {
        if let Some(entry) = self.files.get(path) {
            return Some(Found::Session(entry));
        }
        let image = self.image_path(path)?;
        let path = image.as_ref();
        if let Some(&(_, mode, node)) = FS.iter().find(|(p, _, _)| *p == path) {
            return Some(Found::Static(mode, node));
        }
        if path == self.home {
            return Some(Found::Home);
        }
        let dir = parent(path)?;
        APPLETS
            .iter()
            .find(|(name, d)| *d == dir && *name == basename(path))
            .map(|&(_, d)| Found::Applet(d))
    }

    /// Follows symlinks (a few levels) to the final path.
    pub(super) fn follow(&self, path: &str) -> String {
        self.follow_at(path, 0)
    }

    fn follow_at(&self, path: &str, depth: u8) -> String {
        let mut path = self.follow_dirs(path, depth);
        for _ in 0..8 {
            let target = match self.find_direct(&path) {
                Some(Found::Static(_, Node::Link(t))) => t.to_string(),
                Some(Found::Applet(_)) => "/bin/busybox".to_string(),
                _ => return path,
            };
            let dir = parent(&path).unwrap_or("/").to_string();
            path = if target.starts_with('/') {
                target
            } else {
                self.resolve(&join(&dir, &target))
            };
            path = self.follow_dirs(&path, depth.saturating_add(1));
        }
        path
    }

    pub(super) fn is_dir(&self, path: &str) -> bool {
        matches!(
            self.find(&self.follow(path)),
            Some(
                Found::Static(_, Node::Dir)
                    | Found::Home
                    | Found::Session(SessionEntry::Dir { .. })
            )
        )
    }

    pub(super) fn exists(&self, path: &str) -> bool {
        self.find(path).is_some()
    }

    /// Contents of a file the device computes (from the persona or the clock).
    fn generated(&self, path: &str) -> Option<String> {
        Some(match path {
            "/etc/hostname" => format!("{}\n", self.persona.hostname),
            "/etc/hosts" => self.hosts(),
            "/etc/issue" => format!("{}\n", self.persona.model),
            "/etc/init.d/rcS" => super::image::RCS.replace("goahead", &self.web_server()),
            "/proc/cpuinfo" => self.cpuinfo(),
            "/proc/loadavg" => self.proc_loadavg(),
            "/proc/uptime" => self.proc_uptime(),
            "/proc/version" => self.proc_version(),
            _ => return None,
        })
    }

    /// Contents of a file, following symlinks; errors use the strerror wording.
    pub(super) fn read(&self, path: &str) -> Result<Vec<u8>, &'static str> {
        let real = self.follow(path);
        if !self.files.contains_key(&real)
            && let Some(text) = self.generated(&real)
        {
            return Ok(text.into_bytes());
        }
        match self.find(&real) {
            None => Err("No such file or directory"),
            Some(Found::Static(_, Node::File(s))) => Ok(s.as_bytes().to_vec()),
            Some(Found::Static(_, Node::Bin(b, _))) => Ok(b.to_vec()),
            Some(Found::Static(_, Node::Dev(..))) => Ok(Vec::new()),
            Some(Found::Session(SessionEntry::File { data, .. })) => Ok(data.clone()),
            Some(_) => Err("Is a directory"),
        }
    }

    pub(super) fn writable(path: &str) -> bool {
        WRITABLE
            .iter()
            .any(|w| path == *w || path.strip_prefix(w).is_some_and(|r| r.starts_with('/')))
    }

    /// Writes (or with empty `data`, creates) a session file through a redirection.
    pub(super) fn write(
        &mut self,
        path: &str,
        data: &[u8],
        append: bool,
    ) -> Result<(), &'static str> {
        self.write_via(path, data, append, "redirect")
    }

    /// Writes (or with empty `data`, creates) a session file; the rootfs is read-only. The
    /// bytes count against the session's cap and the shared budget: past them, what fits is
    /// written and the write fails as tmpfs does. Overwriting settles (reports) the old
    /// content first.
    pub(super) fn write_via(
        &mut self,
        path: &str,
        data: &[u8],
        append: bool,
        via: &'static str,
    ) -> Result<(), &'static str> {
        match self.find(path) {
            Some(Found::Static(_, Node::Dev(..))) => return Ok(()),
            Some(
                Found::Static(_, Node::Dir)
                | Found::Home
                | Found::Session(SessionEntry::Dir { .. }),
            ) => {
                return Err("Is a directory");
            }
            _ => {}
        }
        if !parent(path).is_some_and(|p| self.is_dir(p)) {
            return Err("nonexistent directory");
        }
        if !Self::writable(path) {
            return Err("Read-only file system");
        }
        let mtime = self.clock();
        if !self.files.contains_key(path) {
            if self.files.len() >= MAX_FILES {
                return Err("No space left on device");
            }
            let mut initial = match self.read(path) {
                Ok(d) if append => d,
                _ => Vec::new(),
            };
            let granted = self.charge(initial.len());
            initial.truncate(granted);
            self.files.insert(
                path.to_string(),
                SessionEntry::File {
                    data: initial,
                    exec: false,
                    mtime,
                    dirty: false,
                    via,
                },
            );
        } else if !append {
            self.report_file(path);
            let old = match self.files.get_mut(path) {
                Some(SessionEntry::File { data, .. }) => std::mem::take(data).len(),
                _ => 0,
            };
            self.release(old);
        }
        let granted = if data.is_empty() {
            0
        } else {
            self.charge(data.len())
        };
        if let Some(SessionEntry::File {
            data: existing,
            mtime: m,
            dirty,
            via: v,
            ..
        }) = self.files.get_mut(path)
        {
            existing.extend_from_slice(data.get(..granted).unwrap_or_default());
            *m = mtime;
            if granted > 0 {
                *dirty = true;
                *v = via;
            }
        }
        if granted < data.len() {
            return Err("No space left on device");
        }
        Ok(())
    }

    /// Names in a directory (without `.` and `..`), sorted.
    pub(super) fn children(&self, dir: &str) -> Vec<String> {
        let mut names = BTreeSet::new();
        let web = self.web_server();
        for (p, _, _) in FS {
            if parent(p) == Some(dir) {
                let name = match basename(p) {
                    "goahead" => web.clone(),
                    "goahead.pid" => format!("{web}.pid"),
                    other => other.to_string(),
                };
                names.insert(name);
            }
        }
        for (name, d) in APPLETS {
            if *d == dir {
                names.insert((*name).to_string());
            }
        }
        for p in self.files.keys() {
            if parent(p) == Some(dir) {
                names.insert(basename(p).to_string());
            }
        }
        if parent(&self.home) == Some(dir) {
            names.insert(basename(&self.home).to_string());
        }
        names.into_iter().collect()
    }

    /// Is the file at `path` (followed) executable?
    pub(super) fn which_path_exec(&self, path: &str) -> bool {
        match self.find(path) {
            Some(Found::Applet(_) | Found::Static(_, Node::Bin(..))) => true,
            Some(Found::Static(mode, Node::File(_))) => mode.contains('x'),
            Some(Found::Session(SessionEntry::File { exec, .. })) => *exec,
            _ => false,
        }
    }

    /// Is `name` a command found in `$PATH`? Returns its full path.
    pub(super) fn which(&self, name: &str) -> Option<String> {
        if name.is_empty() || name.contains('/') {
            return None;
        }
        PATH_DIRS.iter().map(|d| join(d, name)).find(|p| {
            matches!(
                self.find(p),
                Some(
                    Found::Applet(_)
                        | Found::Static(_, Node::Bin(..))
                        | Found::Session(SessionEntry::File { exec: true, .. })
                )
            )
        })
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
    use std::sync::Arc;

    use super::*;
    use crate::shell::overlay::DEFAULT_BUDGET;
    use crate::shell::test_support::{root, run};
    use crate::shell::{MAX_FILE_SIZE, OverlayBudget};

    #[test]
    fn session_files_are_bounded() {
        let mut sh = root().with_budget(Arc::new(OverlayBudget::new(DEFAULT_BUDGET)));
        let chunk = vec![b'x'; 100_000];
        for _ in 0..6 {
            let _ = sh.write("/tmp/a", &chunk, true);
        }
        assert_eq!(sh.read("/tmp/a").unwrap().len(), MAX_FILE_SIZE);
        assert_eq!(
            run(&mut sh, "echo y >> /tmp/a"),
            "-sh: echo: write error: No space left on device\r\n"
        );
        assert_eq!(
            run(&mut sh, "cat /etc/passwd > /tmp/b"),
            "cat: write error: No space left on device\r\n"
        );
        run(&mut sh, "rm /tmp/a /tmp/b");
        assert_eq!(sh.used, 0);
        for i in 0..100 {
            run(&mut sh, &format!("touch /tmp/f{i}"));
        }
        assert_eq!(sh.files.len(), MAX_FILES);
        assert_eq!(
            run(&mut sh, "touch /tmp/more"),
            "touch: /tmp/more: No space left on device\r\n"
        );
    }

    #[test]
    fn all_sessions_share_one_budget() {
        let budget = Arc::new(OverlayBudget::new(1000));
        let mut a = root().with_budget(Arc::clone(&budget));
        let mut b = root().with_budget(Arc::clone(&budget));
        assert!(a.write("/tmp/x", &[1; 800], false).is_ok());
        assert_eq!(
            b.write("/tmp/y", &[2; 300], false),
            Err("No space left on device")
        );
        assert_eq!(b.read("/tmp/y").unwrap().len(), 200);
        assert_eq!(budget.used(), 1000);
        drop(a);
        assert_eq!(budget.used(), 200);
        assert!(b.write("/tmp/y", &[2; 900], false).is_ok());
        let _ = b.finish();
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn globs_expand_against_the_fake_fs() {
        assert!(wildcard("*.pid", "goahead.pid"));
        assert!(wildcard("a?c*", "abcdef"));
        assert!(!wildcard("*.pid", "goahead.pi"));
        assert!(wildcard("*", ""));
        let mut sh = root();
        assert_eq!(
            run(&mut sh, "echo /var/run/*.pid"),
            "/var/run/lighttpd.pid /var/run/udhcpc.pid\r\n"
        );
        assert_eq!(run(&mut sh, "echo '/var/run/*'"), "/var/run/*\r\n");
        assert_eq!(run(&mut sh, "echo /nope/*"), "/nope/*\r\n");
        run(&mut sh, "cd /tmp; touch a b c; rm -rf /tmp/*");
        assert_eq!(run(&mut sh, "ls /tmp"), "dhcp.leases\r\n");
        assert!(run(&mut sh, "ls /bin/*").lines().count() > 10);
    }
}
