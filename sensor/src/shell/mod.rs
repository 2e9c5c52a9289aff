//! A fake BusyBox `ash` shell, shared by the telnet and SSH front doors, answered from a fake filesystem.
//!
//! After a login, bots and people type shell commands; to keep them talking (and to learn what
//! they want) the honeypot must answer like the device it claims to be: a MIPS (MediaTek
//! MT7621) home router running BusyBox v1.24.1 on Linux 3.10.14, with the install's identity
//! ([`Persona`]). Everything here is simulated: nothing is executed or fetched, the real
//! filesystem and network are never touched, and files "created" by the session live in a
//! small in-memory overlay, bounded per session and across sessions ([`OverlayBudget`]).
//!
//! The module is pure and panic-free on arbitrary input: there is no I/O (the only outside
//! value read is the clock), every buffer is bounded, and the work a single line can cause is
//! bounded too (commands per line, script nesting, loop rounds, total steps, 60 s of waits).
//! Time is real but not spent here: a line's answer carries its pauses ([`ShellOutput::pauses`])
//! and the front door sleeps. What the attacker reveals (written files, URLs) comes back in the
//! [`ShellOutput`] and from [`Shell::finish`]; [`record`] (the one async file) records it.
//!
//! This module is the [`Shell`] itself: its state, running a simple command and finding what a
//! command word names. The rest is by concern: `lexer` splits lines and lexes words, `grammar`
//! parses and runs compound commands and `$(...)`, `redirect` applies redirections, `image` is
//! the device's static firmware, `device` the text built from the persona and the clock, `fs`
//! the fake filesystem over the image, `overlay` the accounting and reporting of what a session
//! writes, `time` the clock and `date` formats, and `applets` the builtins and programs, by
//! family.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod applets;
mod device;
mod fs;
mod grammar;
mod image;
mod lexer;
mod overlay;
pub mod record;
mod redirect;
mod time;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::persona::Persona;
use fs::{Found, SessionEntry, basename, wildcard};
use image::{BOOT_UPTIME, Node, PATH_VAR, SHELL_PID};
use lexer::Lexer;
use time::now;

pub use lexer::{split_command_bytes, split_commands};
pub use overlay::{
    DEFAULT_BUDGET, DownloadAttempt, MAX_RECORDED_BYTES, OverlayBudget, WrittenFile,
};

/// Most bytes one `run_line` may send back, so a line cannot make us flood the peer.
const MAX_OUTPUT: usize = 16 * 1024;
/// Most session files and directories, so a session cannot grow our memory without bound.
const MAX_FILES: usize = 64;
/// Most bytes in one session file, and in all of a session's files together (a small tmpfs).
const MAX_FILE_SIZE: usize = 512 * 1024;
/// Most seconds one line may make the front door wait (`sleep`, timeouts, `ping`).
const MAX_LINE_WAIT: Duration = Duration::from_secs(60);
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

/// A wait inside a line's answer: the device is busy (`sleep`, a download timing out, `ping`
/// waiting for the next reply) before it prints what follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    /// Byte offset in [`ShellOutput::text`]: send `text[..at]`, then wait.
    pub at: usize,
    /// How long to wait there.
    pub wait: Duration,
}

/// The result of one [`Shell::run_line`]: what to send, what to log, and whether to hang up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShellOutput {
    /// Bytes to send back; lines end in `\r\n` as a telnet terminal expects. At most 16 KiB.
    pub text: Vec<u8>,
    /// Where the front door must wait while sending `text`, in order of `at` (offsets never
    /// decrease and never exceed `text.len()`); the waits of one line total at most 60 s.
    /// A front door writes `text` up to each pause, sleeps, and goes on ([`ShellOutput::segments`]).
    pub pauses: Vec<Pause>,
    /// Files whose content the session settled on in this line (run, `chmod`ed, copied,
    /// moved, removed or overwritten), once per distinct content: intelligence to record.
    pub files: Vec<WrittenFile>,
    /// Every URL named to a download tool in this line (nothing is fetched).
    pub downloads: Vec<DownloadAttempt>,
    /// Each simple command of the line with its exact bytes as typed (see
    /// [`split_command_bytes`]), for the event log.
    pub commands: Vec<Vec<u8>>,
    /// `exit`, `logout` or `quit` ran: the caller should close the session.
    pub exit: bool,
}

impl ShellOutput {
    /// `text` cut at the pauses: each piece of text with the wait that follows it
    /// ([`Duration::ZERO`] after the last).
    pub fn segments(&self) -> Vec<(&[u8], Duration)> {
        let mut out = Vec::with_capacity(self.pauses.len() + 1);
        let mut start = 0;
        for p in &self.pauses {
            let at = p.at.clamp(start, self.text.len());
            out.push((self.text.get(start..at).unwrap_or_default(), p.wait));
            start = at;
        }
        out.push((self.text.get(start..).unwrap_or_default(), Duration::ZERO));
        out
    }
}

/// One login session's shell state: working directory, identity and the files it "created".
///
/// Keeps the fake consistent across lines (a file written with `echo >` can be `cat` back,
/// `cd` changes the prompt) without ever touching the real disk.
#[derive(Debug)]
pub struct Shell {
    persona: Arc<Persona>,
    /// When the device booted (seconds since the epoch): the persona's, or for a persona
    /// without one, a plausible uptime before the session started.
    boot: u64,
    /// How long this line has made the front door wait so far: the shell's clock runs ahead
    /// by it, so `date; sleep 2; date` differ by 2 s.
    waited: Duration,
    /// Bytes of all session files, charged to `budget` too.
    used: usize,
    budget: Arc<OverlayBudget>,
    /// What this line found worth recording, handed out with its [`ShellOutput`].
    found_files: Vec<WrittenFile>,
    found_downloads: Vec<DownloadAttempt>,
    /// SHA-256s already reported, so content copied around is reported once.
    seen: Vec<String>,
    user: String,
    uid: u32,
    home: String,
    cwd: String,
    oldpwd: String,
    hostname: String,
    status: i32,
    files: BTreeMap<String, SessionEntry>,
    vars: BTreeMap<String, String>,
    steps_left: u32,
    /// A pending `break N` (positive) or `continue N` (negative) leaving loops.
    jump: i32,
}

/// What a simple command produced.
#[derive(Debug, Default)]
struct Res {
    out: Vec<u8>,
    err: Vec<u8>,
    status: i32,
    exit: bool,
    /// Waits while printing, as (offset in `err` then `out` concatenated, wait).
    pauses: Vec<(usize, Duration)>,
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

/// Turns `\n` into `\r\n` (as a telnet pty with ONLCR does) and caps the result, moving the
/// pauses' offsets with the text; pauses of zero length are dropped.
fn to_crlf(data: &[u8], pauses: &[(usize, Duration)]) -> (Vec<u8>, Vec<Pause>) {
    let mut sorted: Vec<(usize, Duration)> = pauses
        .iter()
        .copied()
        .filter(|(_, w)| !w.is_zero())
        .collect();
    sorted.sort_by_key(|p| p.0);
    let mut next = sorted.into_iter().peekable();
    let mut moved = Vec::new();
    let mut out = Vec::with_capacity(data.len() + data.len() / 8);
    let mut prev = 0u8;
    for (i, &b) in data.iter().enumerate() {
        while let Some((_, wait)) = next.next_if(|p| p.0 <= i) {
            moved.push(Pause {
                at: out.len(),
                wait,
            });
        }
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    for (_, wait) in next {
        moved.push(Pause {
            at: out.len(),
            wait,
        });
    }
    if out.len() > MAX_OUTPUT {
        out.truncate(MAX_OUTPUT - 2);
        if out.last() == Some(&b'\r') {
            out.pop();
        }
        out.extend_from_slice(b"\r\n");
    }
    for p in &mut moved {
        p.at = p.at.min(out.len());
    }
    (out, moved)
}

/// What a line printed, with the pauses at their offsets.
#[derive(Debug, Default)]
struct Term {
    text: Vec<u8>,
    pauses: Vec<(usize, Duration)>,
}

impl Term {
    /// Appends a command's errors then its output, with its pauses.
    fn push_res(&mut self, err: &[u8], out: &[u8], pauses: &[(usize, Duration)]) {
        let base = self.text.len();
        push_capped(&mut self.text, err);
        push_capped(&mut self.text, out);
        for &(at, wait) in pauses {
            let at = (base + at).min(self.text.len());
            self.pauses.push((at, wait));
        }
    }

    fn into_res(self, status: i32) -> Res {
        Res {
            out: self.text,
            status,
            pauses: self.pauses,
            ..Res::default()
        }
    }
}

impl Shell {
    /// Starts a shell for a logged-in user on the default persona ([`Shell::with_persona`]),
    /// one shared by all such shells.
    pub fn new(user: &str) -> Self {
        static DEFAULT: std::sync::LazyLock<Arc<Persona>> =
            std::sync::LazyLock::new(|| Arc::new(Persona::default()));
        Self::with_persona(user, Arc::clone(&DEFAULT))
    }

    /// Starts a shell for a logged-in user of the device `persona`: root gets uid 0, `/root`
    /// and a `#` prompt, anyone else a home under `/home` and a `$` prompt, as the device's
    /// `/etc/passwd` implies. Session files count against the process-wide default budget
    /// ([`OverlayBudget::shared`], see [`Shell::with_budget`]).
    pub fn with_persona(user: &str, persona: Arc<Persona>) -> Self {
        let name = sanitize_user(user);
        let (uid, home) = match name.as_str() {
            "root" => (0, "/root".to_string()),
            "admin" => (1000, "/home/admin".to_string()),
            "nobody" => (65534, "/".to_string()),
            other => (1001, format!("/home/{other}")),
        };
        // A persona without a boot time: one boot for the whole process, so that sessions
        // agree with each other.
        static FALLBACK_BOOT: std::sync::LazyLock<u64> =
            std::sync::LazyLock::new(|| now().saturating_sub(BOOT_UPTIME));
        let boot = if persona.boot_time == 0 || persona.boot_time > now() {
            *FALLBACK_BOOT
        } else {
            persona.boot_time
        };
        Self {
            hostname: persona.hostname.clone(),
            persona,
            boot,
            waited: Duration::ZERO,
            used: 0,
            budget: OverlayBudget::shared(),
            found_files: Vec::new(),
            found_downloads: Vec::new(),
            seen: Vec::new(),
            user: name,
            uid,
            cwd: home.clone(),
            oldpwd: home.clone(),
            home,
            status: 0,
            files: BTreeMap::new(),
            vars: BTreeMap::new(),
            steps_left: MAX_STEPS,
            jump: 0,
        }
    }

    /// Counts this shell's files against `budget` instead of the process-wide one (a plug-in
    /// instance's own budget; tests).
    #[must_use]
    pub fn with_budget(mut self, budget: Arc<OverlayBudget>) -> Self {
        self.release_all();
        self.budget = budget;
        self
    }

    /// The shell's clock: the wall clock plus the pauses this line has asked for so far.
    fn clock(&self) -> u64 {
        now() + self.waited.as_secs()
    }

    /// Asks the front door to wait `want` (less if the line's 60 s are used up); returns the
    /// wait granted, to place in a [`Res`]'s pauses.
    fn wait(&mut self, want: Duration) -> Duration {
        let granted = want.min(MAX_LINE_WAIT.saturating_sub(self.waited));
        self.waited += granted;
        granted
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
        self.waited = Duration::ZERO;
        let commands = split_command_bytes(line)
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        let text = String::from_utf8_lossy(line);
        let mut term = Term::default();
        let exit = self.run_script(&text, 0, &mut term);
        let (text, pauses) = to_crlf(&term.text, &term.pauses);
        ShellOutput {
            text,
            pauses,
            files: std::mem::take(&mut self.found_files),
            downloads: std::mem::take(&mut self.found_downloads),
            commands,
            exit,
        }
    }

    /// Ends the session: the files it wrote and never settled (run, copied, removed...) are
    /// reported now, once each, and its share of the global budget is given back.
    pub fn finish(&mut self) -> Vec<WrittenFile> {
        self.report_all("session end");
        self.release_all();
        std::mem::take(&mut self.found_files)
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

    /// Runs one simple command with its redirections applied.
    fn run_simple(&mut self, text: &str, stdin: Option<Vec<u8>>, depth: u8) -> Res {
        let (text, waited) = self.substitute(text, depth);
        let mut res = self.run_substituted(&text, stdin, depth);
        if !waited.is_empty() {
            res.pauses.splice(0..0, waited);
        }
        res
    }

    /// [`Shell::run_simple`] once command substitutions are done.
    fn run_substituted(&mut self, text: &str, stdin: Option<Vec<u8>>, depth: u8) -> Res {
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
        let name = words.first().map_or("", String::as_str);
        self.route(res, &streams, name)
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
                Some(Found::Session(SessionEntry::File { exec: true, .. })) => {
                    self.report_file(&real);
                    let data = self.read(&real).unwrap_or_default();
                    self.exec_data(first, &data, depth)
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

    /// Runs a session file that was made executable: scripts run; anything else is what
    /// the kernel refuses with ENOEXEC ([`not_a_script`]).
    fn exec_data(&mut self, name: &str, data: &[u8], depth: u8) -> Res {
        if depth >= MAX_DEPTH {
            return Res::default();
        }
        if !data.starts_with(b"#!") && data.iter().take(512).any(|&b| b == 0 || b == 0x7f) {
            return not_a_script(name, data);
        }
        let script = String::from_utf8_lossy(data).into_owned();
        let mut term = Term::default();
        // `exit` in a script ends only that script.
        self.run_script(&script, depth + 1, &mut term);
        term.into_res(self.status)
    }
}

/// What BusyBox ash 1.24 prints when it runs a file the kernel cannot execute: a binary for
/// another architecture (the MIPS kernel's `binfmt_elf` rejects a foreign `e_machine` with
/// ENOEXEC), or bytes no loader knows. ash's `tryexec` answers ENOEXEC as POSIX asks, by
/// running the file as a shell script (`execve(bb_busybox_exec_path, {"ash", file, ...})`),
/// and that ash then chokes on the binary's first line (it drops NUL bytes, as its input
/// reader does): at the first shell metacharacter a word before `(` or `)` is a syntax
/// error, else the first word is a command that is `not found`. So an ARM Mirai build on this
/// "MIPS" box answers `./x: line 1: syntax error: unexpected "("` or `./x: line 1: \x7fELF...:
/// not found`, as real routers do in captured sessions.
fn not_a_script(name: &str, data: &[u8]) -> Res {
    let line: Vec<u8> = data
        .iter()
        .copied()
        .take_while(|&b| b != b'\n')
        .filter(|&b| b != 0)
        .take(4096)
        .collect();
    let mut word: Vec<u8> = Vec::new();
    for &b in &line {
        match b {
            b'(' | b')' | b';' | b'&' | b'|' => {
                return Res::fail(
                    format!(
                        "{name}: line 1: syntax error: unexpected \"{}\"\n",
                        char::from(b)
                    ),
                    2,
                );
            }
            b' ' | b'\t' | b'<' | b'>' if !word.is_empty() => break,
            b' ' | b'\t' => {}
            _ => word.push(b),
        }
    }
    let mut err = format!("{name}: line 1: ").into_bytes();
    err.extend_from_slice(&word);
    err.extend_from_slice(b": not found\n");
    Res::fail(err, 127)
}

#[cfg(test)]
mod tells;

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
