//! A fake BusyBox `ash` shell, shared by the telnet and SSH front doors, answered from a fake filesystem.
//!
//! After a login, bots and people type shell commands; to keep them talking (and to learn what
//! they want) the honeypot must answer like the device it claims to be: a MIPS (MediaTek
//! MT7621) home router running BusyBox v1.24.1 on Linux 3.10.14. Everything here is simulated
//! from static data: nothing is executed, the real filesystem and network are never touched,
//! and files "created" by the session live in a small bounded in-memory map.
//!
//! The module is pure and panic-free on arbitrary input: there is no I/O (the only outside
//! value read is the clock, for `date` and `uptime`), every buffer is bounded, and the work a
//! single line can cause is bounded too (commands per line, script nesting, total steps).
//!
//! This module is the [`Shell`] itself: its state, running a line (lists, pipelines,
//! redirections) and finding what a command word names. The rest is by concern:
//! `lexer` splits lines and lexes words, `redirect` applies redirections, `image` is the
//! device's static firmware,
//! `fs` the fake filesystem over it, `time` the clock and `date` formats, and
//! `applets` the builtins and programs, by family.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod applets;
mod fs;
mod image;
mod lexer;
mod redirect;
mod time;

use std::collections::BTreeMap;

use fs::{Found, SessionEntry, basename, wildcard};
use image::{Node, PATH_VAR, SHELL_PID};
use lexer::{Lexer, Sep, split_pieces};
use time::now;

pub use lexer::{split_command_bytes, split_commands};

/// Most bytes one `run_line` may send back, so a line cannot make us flood the peer.
const MAX_OUTPUT: usize = 16 * 1024;
/// Most session files and directories, so a session cannot grow our memory without bound.
const MAX_FILES: usize = 64;
/// Most bytes in one session file.
const MAX_FILE_SIZE: usize = 4 * 1024;
/// Most simple commands taken from one line (or one script).
const MAX_COMMANDS: usize = 128;
/// Most simple commands executed per `run_line`, counting `sh -c` and scripts run by it.
const MAX_STEPS: u32 = 512;
/// Deepest nesting of `sh -c` / `sh file` / `./script`.
const MAX_DEPTH: u8 = 4;
/// Most bytes one command's words may expand to (guards `$VAR` blow-up).
const MAX_EXPANDED: usize = 64 * 1024;
/// Most words one command may have after glob expansion.
const MAX_WORDS: usize = 256;
/// Most shell variables a session may set, and the longest value kept.
const MAX_VARS: usize = 32;
/// Longest variable value kept.
const MAX_VAR_LEN: usize = 256;

/// The result of one [`Shell::run_line`]: what to send, what to log, and whether to hang up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellOutput {
    /// Bytes to send back; lines end in `\r\n` as a telnet terminal expects. At most 16 KiB.
    pub text: Vec<u8>,
    /// Each simple command of the line with its exact bytes as typed (see
    /// [`split_command_bytes`]), for the event log.
    pub commands: Vec<Vec<u8>>,
    /// `exit`, `logout` or `quit` ran: the caller should close the session.
    pub exit: bool,
}

/// One login session's shell state: working directory, identity and the files it "created".
///
/// Keeps the fake consistent across lines (a file written with `echo >` can be `cat` back,
/// `cd` changes the prompt) without ever touching the real disk.
#[derive(Debug, Clone)]
pub struct Shell {
    user: String,
    uid: u32,
    home: String,
    cwd: String,
    oldpwd: String,
    hostname: String,
    status: i32,
    started: u64,
    files: BTreeMap<String, SessionEntry>,
    vars: BTreeMap<String, String>,
    steps_left: u32,
}

/// What a simple command produced.
#[derive(Debug, Default)]
struct Res {
    out: Vec<u8>,
    err: Vec<u8>,
    status: i32,
    exit: bool,
}

impl Res {
    fn ok(out: impl Into<Vec<u8>>) -> Self {
        Self {
            out: out.into(),
            ..Self::default()
        }
    }
    fn fail(err: impl Into<Vec<u8>>, status: i32) -> Self {
        Self {
            err: err.into(),
            status,
            ..Self::default()
        }
    }
}

/// Appends to a buffer without letting it exceed [`MAX_OUTPUT`].
fn push_capped(buf: &mut Vec<u8>, bytes: &[u8]) {
    let room = MAX_OUTPUT.saturating_sub(buf.len());
    buf.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
}

/// Keeps user names safe to use as a path component and short.
fn sanitize_user(user: &str) -> String {
    let cleaned: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .take(32)
        .collect();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        "user".to_string()
    } else {
        cleaned
    }
}

/// Turns `\n` into `\r\n` (as a telnet pty with ONLCR does) and caps the result.
fn to_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    if out.len() > MAX_OUTPUT {
        out.truncate(MAX_OUTPUT - 2);
        if out.last() == Some(&b'\r') {
            out.pop();
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Shell {
    /// Starts a shell for a logged-in user: root gets uid 0, `/root` and a `#` prompt, anyone
    /// else a home under `/home` and a `$` prompt, as the device's `/etc/passwd` implies.
    pub fn new(user: &str) -> Self {
        let name = sanitize_user(user);
        let (uid, home) = match name.as_str() {
            "root" => (0, "/root".to_string()),
            "admin" => (1000, "/home/admin".to_string()),
            "nobody" => (65534, "/".to_string()),
            other => (1001, format!("/home/{other}")),
        };
        Self {
            user: name,
            uid,
            cwd: home.clone(),
            oldpwd: home.clone(),
            home,
            hostname: "router".to_string(),
            status: 0,
            started: now(),
            files: BTreeMap::new(),
            vars: BTreeMap::new(),
            steps_left: MAX_STEPS,
        }
    }

    /// The ash prompt (`PS1='\w \$ '`): `~ # ` at home, else the directory, then `#` or `$`.
    pub fn prompt(&self) -> String {
        let sigil = if self.uid == 0 { '#' } else { '$' };
        format!("{} {sigil} ", self.display_cwd())
    }

    /// Runs one line typed at the prompt and returns what the device would print.
    ///
    /// Every simple command is reported in `commands` even when not executed (after `exit`,
    /// or skipped by `&&`/`||`), since the log should show everything the peer typed.
    pub fn run_line(&mut self, line: &str) -> ShellOutput {
        self.run_input(line.as_bytes())
    }

    /// [`Shell::run_line`] for a line as received, which need not be UTF-8. The commands are
    /// reported with their exact bytes; the answer is worked out from the line read as UTF-8
    /// (an invalid byte reads as U+FFFD), which is all a fake shell needs.
    pub fn run_input(&mut self, line: &[u8]) -> ShellOutput {
        self.steps_left = MAX_STEPS;
        let commands = split_command_bytes(line)
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        let text = String::from_utf8_lossy(line);
        let mut term = Vec::new();
        let exit = self.run_script(&text, 0, &mut term);
        ShellOutput {
            text: to_crlf(&term),
            commands,
            exit,
        }
    }

    fn display_cwd(&self) -> String {
        if self.home != "/" {
            if self.cwd == self.home {
                return "~".to_string();
            }
            if let Some(rest) = self
                .cwd
                .strip_prefix(&self.home)
                .filter(|r| r.starts_with('/'))
            {
                return format!("~{rest}");
            }
        }
        self.cwd.clone()
    }

    /// A shell variable as `$NAME` expands it.
    fn var(&self, name: &str) -> String {
        match name {
            "?" => self.status.to_string(),
            "$" => SHELL_PID.to_string(),
            "#" => "0".to_string(),
            "0" => "-sh".to_string(),
            "HOME" => self.home.clone(),
            "USER" | "LOGNAME" => self.user.clone(),
            "SHELL" => "/bin/sh".to_string(),
            "PATH" => PATH_VAR.to_string(),
            "PWD" => self.cwd.clone(),
            "OLDPWD" => self.oldpwd.clone(),
            "TERM" => "vt102".to_string(),
            "PS1" => "\\w \\$ ".to_string(),
            _ => self.vars.get(name).cloned().unwrap_or_default(),
        }
    }

    fn set_var(&mut self, name: &str, value: &str) {
        if self.vars.len() < MAX_VARS || self.vars.contains_key(name) {
            let value: String = value.chars().take(MAX_VAR_LEN).collect();
            self.vars.insert(name.chars().take(64).collect(), value);
        }
    }

    /// Runs a line or script; returns whether `exit` ran. Output goes to `term`.
    fn run_script(&mut self, text: &str, depth: u8, term: &mut Vec<u8>) -> bool {
        let mut pipeline: Vec<&str> = Vec::new();
        let mut connector = Sep::Seq;
        let pieces = split_pieces(text);
        let count = pieces.len();
        for (i, (cmd, sep)) in pieces.into_iter().enumerate() {
            pipeline.push(cmd);
            if sep == Sep::Pipe && i + 1 < count {
                continue;
            }
            let run = match connector {
                Sep::And => self.status == 0,
                Sep::Or => self.status != 0,
                _ => true,
            };
            if run && self.run_pipeline(&pipeline, depth, term) {
                return true;
            }
            pipeline.clear();
            connector = sep;
        }
        false
    }

    fn run_pipeline(&mut self, cmds: &[&str], depth: u8, term: &mut Vec<u8>) -> bool {
        let mut stdin: Option<Vec<u8>> = None;
        let last = cmds.len().saturating_sub(1);
        for (i, cmd) in cmds.iter().enumerate() {
            if self.steps_left == 0 {
                return false;
            }
            self.steps_left -= 1;
            let res = self.run_simple(cmd, stdin.take(), depth);
            self.status = res.status;
            push_capped(term, &res.err);
            if i == last {
                push_capped(term, &res.out);
            } else {
                stdin = Some(res.out);
            }
            if res.exit {
                return true;
            }
        }
        false
    }

    /// Runs one simple command with its redirections applied.
    fn run_simple(&mut self, text: &str, stdin: Option<Vec<u8>>, depth: u8) -> Res {
        let (words, globs, redirs) = Lexer::new(self).lex(text);
        let mut words = self.expand_globs(words, &globs);
        // Leading NAME=value assignments.
        let assignments = words
            .iter()
            .take_while(|w| {
                w.split_once('=').is_some_and(|(n, _)| {
                    !n.is_empty()
                        && !n.starts_with(|c: char| c.is_ascii_digit())
                        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
            })
            .count();
        let assigned: Vec<String> = words.drain(..assignments).collect();
        if words.is_empty() {
            for a in &assigned {
                if let Some((n, v)) = a.split_once('=') {
                    self.set_var(n, v);
                }
            }
        }

        let mut streams = match self.redirect(&redirs, stdin) {
            Ok(streams) => streams,
            Err(failed) => return failed,
        };

        let res = if words.is_empty() {
            Res::default()
        } else {
            self.dispatch(&words, streams.stdin.take(), depth)
        };
        self.route(res, &streams)
    }

    /// Expands unquoted `*`/`?` in the last path component against the fake filesystem, as
    /// ash does (`rm -rf /tmp/*` is a bot favourite); no match leaves the word as typed.
    fn expand_globs(&self, words: Vec<String>, globs: &[bool]) -> Vec<String> {
        let mut out = Vec::with_capacity(words.len());
        for (word, glob) in words.into_iter().zip(globs.iter().copied()) {
            let (prefix, pattern) = match word.rsplit_once('/') {
                Some((p, pat)) => (format!("{p}/"), pat),
                None => (String::new(), word.as_str()),
            };
            let matches: Vec<String> = if glob && !prefix.contains(['*', '?']) {
                let dir = self.resolve(if prefix.is_empty() { "." } else { &prefix });
                self.children(&dir)
                    .into_iter()
                    .filter(|n| {
                        (pattern.starts_with('.') || !n.starts_with('.')) && wildcard(pattern, n)
                    })
                    .map(|n| format!("{prefix}{n}"))
                    .collect()
            } else {
                Vec::new()
            };
            if matches.is_empty() {
                out.push(word);
            } else {
                out.extend(matches);
            }
            if out.len() >= MAX_WORDS {
                out.truncate(MAX_WORDS);
                break;
            }
        }
        out
    }

    /// Finds what to run for the command word and runs it.
    fn dispatch(&mut self, words: &[String], stdin: Option<Vec<u8>>, depth: u8) -> Res {
        let Some((first, args)) = words.split_first() else {
            return Res::default();
        };
        if first.contains('/') {
            let path = self.resolve(first);
            let real = self.follow(&path);
            return match self.find(&real) {
                None => Res::fail(format!("-sh: {first}: not found\n"), 127),
                Some(Found::Session(SessionEntry::File {
                    exec: true, data, ..
                })) => {
                    let data = data.clone();
                    self.exec_data(&data, depth)
                }
                Some(Found::Static(_, Node::Bin(..))) => {
                    self.run_named(basename(&path), args, stdin, depth)
                }
                Some(Found::Static(_, Node::File(s))) if s.starts_with("#!") => Res::default(),
                _ => Res::fail(format!("-sh: {first}: Permission denied\n"), 126),
            };
        }
        self.run_named(first, args, stdin, depth)
    }

    /// Runs a session file that was made executable: scripts run, binaries "run" silently.
    fn exec_data(&mut self, data: &[u8], depth: u8) -> Res {
        if data.starts_with(b"\x7fELF") || depth >= MAX_DEPTH {
            return Res::default();
        }
        let script = String::from_utf8_lossy(data).into_owned();
        let mut term = Vec::new();
        // `exit` in a script ends only that script.
        self.run_script(&script, depth + 1, &mut term);
        Res {
            out: term,
            status: self.status,
            ..Res::default()
        }
    }
}

/// What the tests of every shell module share.
#[cfg(test)]
mod test_support {
    use super::Shell;

    /// Runs `line` and returns what was printed, as text.
    pub(super) fn run(sh: &mut Shell, line: &str) -> String {
        String::from_utf8_lossy(&sh.run_line(line).text).into_owned()
    }

    /// A root shell, as most bots get.
    pub(super) fn root() -> Shell {
        Shell::new("root")
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
    use super::test_support::{root, run};
    use super::*;

    #[test]
    fn prompt_follows_cwd_and_user() {
        let mut sh = root();
        assert_eq!(sh.prompt(), "~ # ");
        run(&mut sh, "cd /tmp");
        assert_eq!(sh.prompt(), "/tmp # ");
        run(&mut sh, "cd /");
        assert_eq!(sh.prompt(), "/ # ");
        let user = Shell::new("admin");
        assert_eq!(user.prompt(), "~ $ ");
    }

    #[test]
    fn commands_by_path_and_unknown() {
        let mut sh = root();
        assert_eq!(run(&mut sh, "/bin/ls /etc/init.d"), "rcS\r\n");
        assert_eq!(run(&mut sh, "/usr/bin/whoami"), "root\r\n");
        assert_eq!(
            run(&mut sh, "frobnicate -x"),
            "-sh: frobnicate: not found\r\n"
        );
        assert_eq!(run(&mut sh, "/opt/x"), "-sh: /opt/x: not found\r\n");
        assert_eq!(run(&mut sh, "/etc"), "-sh: /etc: Permission denied\r\n");
        assert_eq!(run(&mut sh, "which wget"), "/usr/bin/wget\r\n");
    }

    #[test]
    fn conditional_execution() {
        let mut sh = root();
        assert_eq!(run(&mut sh, "false && echo no || echo yes"), "yes\r\n");
        assert_eq!(run(&mut sh, "true && echo yes"), "yes\r\n");
        assert_eq!(
            run(&mut sh, "cd /nope 2>/dev/null || cd /tmp; pwd"),
            "/tmp\r\n"
        );
        assert_eq!(
            run(&mut sh, "cat /nope; echo $?"),
            "cat: can't open '/nope': No such file or directory\r\n1\r\n"
        );
    }

    #[test]
    fn exit_stops_the_line() {
        let mut sh = root();
        let out = sh.run_line("echo a; exit; echo b");
        assert!(out.exit);
        assert_eq!(out.text, b"a\r\n");
        assert_eq!(out.commands, [&b"echo a"[..], b"exit", b"echo b"]);
        assert!(sh.run_line("logout").exit);
        assert!(sh.run_line("quit").exit);
        assert!(!sh.run_line("sh -c exit").exit);
    }

    #[test]
    fn output_is_capped() {
        let mut sh = root();
        let line = "cat /proc/cpuinfo;".repeat(20);
        let out = sh.run_line(&line);
        assert!(out.text.len() <= MAX_OUTPUT);
        assert!(out.text.ends_with(b"\r\n"));
        let out = sh
            .run_line("busybox; ls -la /bin /sbin /usr/bin /usr/sbin /bin /sbin /usr/bin /usr/bin");
        assert!(out.text.len() <= MAX_OUTPUT);
    }

    #[test]
    fn garbage_does_not_panic() {
        let mut sh = root();
        let inputs = [
            "\u{0}\u{1}\u{7f}\u{1b}[A",
            "'unbalanced",
            "\"also",
            "\\",
            "echo \\",
            "${",
            "$",
            "echo ${HOME",
            "> ",
            "2>&",
            "<",
            "< /nope",
            "&&&&||||;;;;||",
            "cd ''",
            "echo -e '\\x' '\\0' '\\'",
            "ls -l /proc/self /lib/libc.so.0",
            "cd /proc/self",
            "../../../../..",
            "ééé 日本語 $é",
            "wget http://[::1]:99999/",
            "busybox /bin/",
            "A=1 B=2",
            "echo $A",
        ];
        for i in inputs {
            let _ = sh.run_line(i);
        }
        let huge = "A".repeat(1 << 20);
        let out = sh.run_line(&huge);
        assert!(out.text.len() <= MAX_OUTPUT);
        let expand = "$HOME".repeat(100_000);
        assert!(sh.run_line(&format!("echo {expand}")).text.len() <= MAX_OUTPUT);
        let mut x: u32 = 12345;
        for _ in 0..300 {
            let s: String = (0..64)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    char::from_u32((x >> 16) % 0x80).unwrap_or(' ')
                })
                .collect();
            let _ = sh.run_line(&s);
        }
    }

    #[test]
    fn users_and_variables() {
        let mut sh = Shell::new("../../etc");
        assert_eq!(sh.user, "....etc");
        let mut sh2 = Shell::new("guest");
        assert_eq!(run(&mut sh2, "pwd"), "/home/guest\r\n");
        assert_eq!(sh2.prompt(), "~ $ ");
        assert!(run(&mut sh2, "ls /home").contains("guest"));
        assert_eq!(run(&mut sh, "X=hello; echo $X ${X}!"), "hello hello!\r\n");
    }
}
