//! The sink side of the legacy scp protocol (`scp -t TARGET`, what `scp -O` and bots run on the
//! server), as a pure state machine: the client's bytes in, the sink's acknowledgements out, and
//! every file received as a [`Written`] (name, size, SHA-256, the first bytes up to a cap).
//! Nothing is written anywhere; every buffer is bounded.

use sha2::{Digest, Sha256};

/// Longest control line (`C0644 1234 name`) accepted.
const MAX_LINE: usize = 1024;

/// Files one transfer may carry before the sink gives up.
pub const MAX_FILES: usize = 16;

/// Directory levels (`D` records) one transfer may open.
const MAX_DEPTH: usize = 8;

/// A file the client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Where it would have been written (escaped by the caller when recorded).
    pub path: Vec<u8>,
    /// Its size in bytes, as received.
    pub size: u64,
    /// SHA-256 of all its bytes, lower-case hex.
    pub sha256: String,
    /// Its first bytes, at most the cap.
    pub data: Vec<u8>,
    /// True when `data` holds less than the whole file.
    pub truncated: bool,
}

enum State {
    /// Reading a control line.
    Line(Vec<u8>),
    /// Reading a file's bytes.
    Data {
        path: Vec<u8>,
        size: u64,
        left: u64,
        sha: Box<Sha256>,
        kept: Vec<u8>,
    },
    /// Expecting the `\0` the client sends after a file's bytes.
    AfterData(Written),
    /// The transfer is over (an error, or too much).
    Done,
}

/// One `scp -t` sink.
pub struct ScpSink {
    target: Vec<u8>,
    /// The target is a directory (`-d`, `-r`, or it ends in `/`).
    into_dir: bool,
    dirs: Vec<Vec<u8>>,
    state: State,
    cap: usize,
    files: usize,
}

impl ScpSink {
    /// A sink for an exec request, when `command` is `scp ... -t ... TARGET`; `cap`: bytes
    /// kept of each file.
    pub fn for_command(command: &[u8], cap: usize) -> Option<ScpSink> {
        let text = command.trim_ascii();
        let mut words = text
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty());
        let program = words.next()?;
        if program != b"scp" && !program.ends_with(b"/scp") {
            return None;
        }
        let (mut sink, mut into_dir, mut target) = (false, false, None);
        for word in words {
            match word {
                b"--" => {}
                w if w.first() == Some(&b'-') && target.is_none() => {
                    sink |= w.contains(&b't');
                    into_dir |= w.contains(&b'd') || w.contains(&b'r');
                }
                w => target = Some(w.to_vec()),
            }
        }
        if !sink {
            return None;
        }
        let target = target.unwrap_or_else(|| b".".to_vec());
        Some(ScpSink {
            into_dir: into_dir || target.ends_with(b"/") || target == b".",
            target,
            dirs: Vec::new(),
            state: State::Line(Vec::new()),
            cap,
            files: 0,
        })
    }

    /// What the sink sends first: "ready".
    pub fn greeting() -> &'static [u8] {
        b"\0"
    }

    /// True once the transfer cannot go on (an error was answered, or too many files).
    pub fn done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Feeds the client's bytes; appends the sink's answers to `out` and finished files to
    /// `written`.
    pub fn push(&mut self, mut input: &[u8], out: &mut Vec<u8>, written: &mut Vec<Written>) {
        while !input.is_empty() {
            match &mut self.state {
                State::Done => return,
                State::Line(line) => {
                    let Some((&b, rest)) = input.split_first() else {
                        return;
                    };
                    input = rest;
                    if b != b'\n' {
                        if line.len() >= MAX_LINE {
                            out.extend_from_slice(b"\x02scp: protocol error: line too long\n");
                            self.state = State::Done;
                            return;
                        }
                        line.push(b);
                        continue;
                    }
                    let line = std::mem::take(line);
                    self.control(&line, out);
                }
                State::Data {
                    path,
                    size,
                    left,
                    sha,
                    kept,
                } => {
                    let n = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    let (chunk, rest) = input.split_at(n);
                    input = rest;
                    sha.update(chunk);
                    let room = self.cap.saturating_sub(kept.len());
                    kept.extend_from_slice(chunk.get(..room).unwrap_or(chunk));
                    *left -= n as u64;
                    if *left == 0 {
                        let done = Written {
                            path: std::mem::take(path),
                            size: *size,
                            sha256: hex(&Sha256::clone(sha).finalize()),
                            truncated: (kept.len() as u64) < *size,
                            data: std::mem::take(kept),
                        };
                        self.state = State::AfterData(done);
                    }
                }
                State::AfterData(_) => {
                    let Some((_, rest)) = input.split_first() else {
                        return;
                    };
                    input = rest;
                    if let State::AfterData(file) =
                        std::mem::replace(&mut self.state, State::Line(Vec::new()))
                    {
                        written.push(file);
                    }
                    out.push(0);
                }
            }
        }
    }

    /// Answers one control line.
    fn control(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match line.first() {
            Some(b'C') => {
                let mut parts = line.get(1..).unwrap_or_default().splitn(3, |&b| b == b' ');
                let _mode = parts.next();
                let size = parts
                    .next()
                    .and_then(|s| std::str::from_utf8(s).ok())
                    .and_then(|s| s.parse::<u64>().ok());
                let name = parts.next().filter(|n| !n.is_empty() && !n.contains(&b'/'));
                let (Some(size), Some(name)) = (size, name) else {
                    out.extend_from_slice(b"\x01scp: protocol error: bad mode\n");
                    self.state = State::Done;
                    return;
                };
                if self.files >= MAX_FILES {
                    out.extend_from_slice(b"\x01scp: No space left on device\n");
                    self.state = State::Done;
                    return;
                }
                self.files += 1;
                let path = self.path_of(name);
                out.push(0);
                self.state = if size == 0 {
                    State::AfterData(Written {
                        path,
                        size: 0,
                        sha256: hex(&Sha256::digest(b"")),
                        data: Vec::new(),
                        truncated: false,
                    })
                } else {
                    State::Data {
                        path,
                        size,
                        left: size,
                        sha: Box::new(Sha256::new()),
                        kept: Vec::new(),
                    }
                };
            }
            Some(b'D') => {
                let name = line.splitn(3, |&b| b == b' ').nth(2).unwrap_or_default();
                if self.dirs.len() >= MAX_DEPTH || name.is_empty() || name.contains(&b'/') {
                    out.extend_from_slice(b"\x01scp: protocol error: bad directory\n");
                    self.state = State::Done;
                    return;
                }
                self.dirs.push(name.to_vec());
                out.push(0);
            }
            Some(b'E') => {
                self.dirs.pop();
                out.push(0);
            }
            Some(b'T') => out.push(0),
            // The source's own warning or error: nothing to answer.
            Some(1 | 2) => {}
            _ => {
                out.extend_from_slice(b"\x01scp: protocol error: expected control record\n");
                self.state = State::Done;
            }
        }
    }

    /// The file's path: the target itself, or `name` inside it (and inside the directories a
    /// recursive copy opened).
    fn path_of(&self, name: &[u8]) -> Vec<u8> {
        if !self.into_dir && self.dirs.is_empty() {
            return self.target.clone();
        }
        let mut path = self.target.clone();
        for part in self.dirs.iter().map(Vec::as_slice).chain([name]) {
            if !path.ends_with(b"/") {
                path.push(b'/');
            }
            path.extend_from_slice(part);
        }
        path
    }
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run(command: &str, input: &[&[u8]]) -> (Vec<u8>, Vec<Written>) {
        let mut sink = ScpSink::for_command(command.as_bytes(), 4).unwrap();
        let (mut out, mut written) = (Vec::new(), Vec::new());
        for chunk in input {
            sink.push(chunk, &mut out, &mut written);
        }
        (out, written)
    }

    #[test]
    fn only_scp_sinks_are_taken() {
        assert!(ScpSink::for_command(b"scp -t /tmp", 1).is_some());
        assert!(ScpSink::for_command(b"/usr/bin/scp -v -d -t -- /tmp/", 1).is_some());
        assert!(ScpSink::for_command(b"scp -f /etc/passwd", 1).is_none());
        assert!(ScpSink::for_command(b"uname -a", 1).is_none());
        assert!(ScpSink::for_command(b"", 1).is_none());
    }

    #[test]
    fn one_file_in_pieces_with_its_hash_and_capped_bytes() {
        let (out, written) = run(
            "scp -t /tmp/x.sh",
            &[b"C0755 6 x", b".sh\nhel", b"lo\n", b"\0"],
        );
        assert_eq!(out, b"\0\0");
        assert_eq!(written.len(), 1);
        let w = &written[0];
        assert_eq!((w.path.as_slice(), w.size), (&b"/tmp/x.sh"[..], 6));
        assert_eq!(
            w.sha256,
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!((w.data.as_slice(), w.truncated), (&b"hell"[..], true));
    }

    #[test]
    fn directories_and_times_and_errors() {
        let (out, written) = run(
            "scp -r -t /tmp",
            &[b"D0755 0 d\nT1 0 2 0\nC0644 0 e\n\0E\n"],
        );
        assert_eq!(out, b"\0\0\0\0\0", "D, T, C, the file's end, E");
        assert_eq!(written[0].path, b"/tmp/d/e");
        let (out, written) = run("scp -t /tmp", &[b"C0644 x y\n"]);
        assert!(out.starts_with(b"\x01") && written.is_empty());
        let (out, _) = run("scp -t /tmp", &[&[b'A'; 2000]]);
        assert!(out.starts_with(b"\x02"));
        let (_, written) = run("scp -t /tmp/", &[b"C0644 3 ../../etc/x\n"]);
        assert!(written.is_empty(), "a name with a slash is refused");
    }
}
