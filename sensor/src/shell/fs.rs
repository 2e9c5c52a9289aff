//! The fake filesystem: the static firmware image ([`super::image`]) with the session's own
//! small, bounded set of files and directories on top. Paths are resolved against the working
//! directory and `~`, symlinks followed, and writes only succeed on the writable mounts.

use std::collections::BTreeSet;

use super::image::{APPLETS, FS, Node, PATH_DIRS, WRITABLE};
use super::time::now;
use super::{MAX_FILE_SIZE, MAX_FILES, Shell};

/// A file or directory the session created; lives only in memory, bounded by the caps above.
#[derive(Debug, Clone)]
pub(super) enum SessionEntry {
    File {
        data: Vec<u8>,
        exec: bool,
        mtime: u64,
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

    /// Looks a normalized path up without following symlinks.
    pub(super) fn find(&self, path: &str) -> Option<Found<'_>> {
        if let Some(entry) = self.files.get(path) {
            return Some(Found::Session(entry));
        }
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
        let mut path = path.to_string();
        for _ in 0..8 {
            let target = match self.find(&path) {
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

    /// Contents of a file, following symlinks; errors use the strerror wording.
    pub(super) fn read(&self, path: &str) -> Result<Vec<u8>, &'static str> {
        match self.find(&self.follow(path)) {
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

    /// Writes (or with empty `data`, creates) a session file; the rootfs is read-only.
    pub(super) fn write(
        &mut self,
        path: &str,
        data: &[u8],
        append: bool,
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
        let mtime = now();
        if !self.files.contains_key(path) {
            if self.files.len() >= MAX_FILES {
                return Err("No space left on device");
            }
            let initial = match self.read(path) {
                Ok(d) if append => d,
                _ => Vec::new(),
            };
            self.files.insert(
                path.to_string(),
                SessionEntry::File {
                    data: initial,
                    exec: false,
                    mtime,
                },
            );
        }
        if let Some(SessionEntry::File {
            data: existing,
            mtime: m,
            ..
        }) = self.files.get_mut(path)
        {
            if !append {
                existing.clear();
            }
            let room = MAX_FILE_SIZE.saturating_sub(existing.len());
            existing.extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
            *m = mtime;
        }
        Ok(())
    }

    /// Names in a directory (without `.` and `..`), sorted.
    pub(super) fn children(&self, dir: &str) -> Vec<String> {
        let mut names = BTreeSet::new();
        for (p, _, _) in FS {
            if parent(p) == Some(dir) {
                names.insert(basename(p).to_string());
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
    use super::*;
    use crate::shell::test_support::{root, run};

    #[test]
    fn session_files_are_bounded() {
        let mut sh = root();
        let big = "x".repeat(3000);
        run(
            &mut sh,
            &format!("echo {big} > /tmp/a; echo {big} >> /tmp/a"),
        );
        assert_eq!(sh.read("/tmp/a").unwrap().len(), MAX_FILE_SIZE);
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
    fn globs_expand_against_the_fake_fs() {
        assert!(wildcard("*.pid", "goahead.pid"));
        assert!(wildcard("a?c*", "abcdef"));
        assert!(!wildcard("*.pid", "goahead.pi"));
        assert!(wildcard("*", ""));
        let mut sh = root();
        assert_eq!(
            run(&mut sh, "echo /var/run/*.pid"),
            "/var/run/goahead.pid /var/run/udhcpc.pid\r\n"
        );
        assert_eq!(run(&mut sh, "echo '/var/run/*'"), "/var/run/*\r\n");
        assert_eq!(run(&mut sh, "echo /nope/*"), "/nope/*\r\n");
        run(&mut sh, "cd /tmp; touch a b c; rm -rf /tmp/*");
        assert_eq!(run(&mut sh, "ls /tmp"), "dhcp.leases\r\n");
        assert!(run(&mut sh, "ls /bin/*").lines().count() > 10);
    }
}
