//! Text in and out: `echo` (with `-e` escapes), `head`, `tail`, `grep` and `wc`.

use std::fmt::Write as _;

use crate::shell::{Res, Shell, push_capped};

/// Interprets `echo -e` escapes (`\n`, `\t`, `\xHH`, `\0NNN`, `\c`, ...). The flag says
/// whether `\c` asked to stop output (and suppress the trailing newline).
pub(super) fn echo_escapes(s: &str) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            continue;
        }
        let byte = match chars.next() {
            Some('n') => b'\n',
            Some('t') => b'\t',
            Some('r') => b'\r',
            Some('a') => 7,
            Some('b') => 8,
            Some('e') => 27,
            Some('f') => 12,
            Some('v') => 11,
            Some('\\') => b'\\',
            Some('c') => return (out, true),
            Some('x') => {
                let mut v: u32 = 0;
                let mut n = 0;
                while n < 2 {
                    match chars.peek().and_then(|d| d.to_digit(16)) {
                        Some(digit) => {
                            v = v * 16 + digit;
                            chars.next();
                            n += 1;
                        }
                        None => break,
                    }
                }
                if n == 0 {
                    out.extend_from_slice(b"\\x");
                    continue;
                }
                v as u8
            }
            Some('0') => {
                let mut v: u32 = 0;
                for _ in 0..3 {
                    match chars.peek().and_then(|d| d.to_digit(8)) {
                        Some(digit) => {
                            v = v * 8 + digit;
                            chars.next();
                        }
                        None => break,
                    }
                }
                (v & 0xff) as u8
            }
            Some(o) => {
                out.push(b'\\');
                let mut b = [0u8; 4];
                out.extend_from_slice(o.encode_utf8(&mut b).as_bytes());
                continue;
            }
            None => b'\\',
        };
        out.push(byte);
    }
    (out, false)
}

/// `printf FORMAT [ARG]...`: `%s`, `%b`, `%d`/`%i`/`%u`, `%x`, `%o`, `%c`, `%%` and the
/// escapes of the format (`\n`, `\xHH`, `\NNN` octal); the format is reused while
/// arguments remain, as POSIX says (bounded).
pub(super) fn printf(args: &[String]) -> Vec<u8> {
    let Some((format, mut rest)) = args.split_first() else {
        return Vec::new();
    };
    // `\NNN` is octal in printf's format; echo -e wants `\0NNN`.
    let mut fmt = String::with_capacity(format.len());
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        fmt.push(c);
        if c == '\\' {
            match chars.peek().copied() {
                Some(d) if ('1'..='7').contains(&d) => fmt.push('0'),
                Some('\\') => {
                    chars.next();
                    fmt.push('\\');
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    for _ in 0..64 {
        let mut used = false;
        let mut it = fmt.chars().peekable();
        let mut literal = String::new();
        while let Some(c) = it.next() {
            if c != '%' {
                literal.push(c);
                continue;
            }
            let mut spec = String::new();
            while let Some(&d) = it.peek() {
                if d.is_ascii_digit() || matches!(d, '-' | '.' | '#' | '+' | ' ') {
                    spec.push(d);
                    it.next();
                } else {
                    break;
                }
            }
            out.extend_from_slice(&echo_escapes(&literal).0);
            literal.clear();
            let conv = it.next().unwrap_or('%');
            let arg = if conv == '%' {
                None
            } else {
                let a = rest.first().map(String::as_str);
                rest = rest.get(1..).unwrap_or_default();
                used = true;
                a
            };
            let a = arg.unwrap_or("");
            let width: usize = spec
                .trim_start_matches(['-', '+', ' ', '#', '0'])
                .split('.')
                .next()
                .and_then(|w| w.parse().ok())
                .unwrap_or(0)
                .min(256);
            let number = || a.parse::<i64>().unwrap_or(0);
            let text = match conv {
                '%' => "%".to_string(),
                's' => a.to_string(),
                'b' => {
                    out.extend_from_slice(&echo_escapes(a).0);
                    String::new()
                }
                'd' | 'i' | 'u' => number().to_string(),
                'x' => format!("{:x}", number()),
                'X' => format!("{:X}", number()),
                'o' => format!("{:o}", number()),
                'c' => a.chars().next().map(String::from).unwrap_or_default(),
                other => format!("%{spec}{other}"),
            };
            if spec.starts_with('-') {
                out.extend_from_slice(format!("{text:<width$}").as_bytes());
            } else if spec.starts_with('0') && conv != 's' {
                out.extend_from_slice(format!("{text:0>width$}").as_bytes());
            } else {
                out.extend_from_slice(format!("{text:>width$}").as_bytes());
            }
        }
        let (bytes, stop) = echo_escapes(&literal);
        out.extend_from_slice(&bytes);
        if stop || !used || rest.is_empty() || out.len() > super::super::MAX_OUTPUT {
            break;
        }
    }
    out
}

/// Splits text into lines keeping their `\n`, for `head`, `tail` and `grep`.
pub(super) fn lines_of(data: &[u8]) -> Vec<&[u8]> {
    data.split_inclusive(|&b| b == b'\n').collect()
}

/// Parses `-n N`, `-nN`, `-N` and `-c N` for `head`/`tail`; returns (count, bytes?, files).
pub(super) fn count_and_files(args: &[String]) -> (usize, bool, Vec<&str>) {
    let mut count = 10;
    let mut bytes = false;
    let mut files = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-n" || a == "-c" {
            bytes = a == "-c";
            count = it
                .next()
                .and_then(|n| n.trim_start_matches(['-', '+']).parse().ok())
                .unwrap_or(count);
        } else if let Some(n) = a.strip_prefix("-n").or_else(|| a.strip_prefix('-')) {
            count = n.parse().unwrap_or(count);
        } else {
            files.push(a.as_str());
        }
    }
    (count, bytes, files)
}

impl Shell {
    pub(super) fn echo(args: &[String]) -> Res {
        let (mut newline, mut escapes) = (true, false);
        let mut rest = args;
        while let Some((a, tail)) = rest.split_first() {
            let Some(flags) = a
                .strip_prefix('-')
                .filter(|f| !f.is_empty() && f.chars().all(|c| matches!(c, 'n' | 'e' | 'E')))
            else {
                break;
            };
            for f in flags.chars() {
                match f {
                    'n' => newline = false,
                    'e' => escapes = true,
                    _ => escapes = false,
                }
            }
            rest = tail;
        }
        let joined = rest.join(" ");
        let mut out = if escapes {
            let (bytes, stop) = echo_escapes(&joined);
            if stop {
                return Res::ok(bytes);
            }
            bytes
        } else {
            joined.into_bytes()
        };
        if newline {
            out.push(b'\n');
        }
        Res::ok(out)
    }

    /// Input for a filter: the named files, else what was piped in (nothing otherwise).
    pub(super) fn inputs(
        &self,
        tool: &str,
        files: &[&str],
        stdin: Option<Vec<u8>>,
        res: &mut Res,
    ) -> Vec<(String, Vec<u8>)> {
        if files.is_empty() {
            return stdin.map(|d| vec![(String::new(), d)]).unwrap_or_default();
        }
        let mut inputs = Vec::new();
        for f in files {
            match self.read(&self.resolve(f)) {
                Ok(d) => inputs.push(((*f).to_string(), d)),
                Err(e) => {
                    push_capped(&mut res.err, format!("{tool}: {f}: {e}\n").as_bytes());
                    res.status = 1;
                }
            }
        }
        inputs
    }

    pub(super) fn head_tail(&self, head: bool, args: &[String], stdin: Option<Vec<u8>>) -> Res {
        let (count, bytes, files) = count_and_files(args);
        let mut res = Res::default();
        for (_, data) in self.inputs(if head { "head" } else { "tail" }, &files, stdin, &mut res) {
            if bytes {
                let start = if head {
                    0
                } else {
                    data.len().saturating_sub(count)
                };
                let end = if head {
                    count.min(data.len())
                } else {
                    data.len()
                };
                push_capped(&mut res.out, data.get(start..end).unwrap_or_default());
                continue;
            }
            let lines = lines_of(&data);
            let skip = if head {
                0
            } else {
                lines.len().saturating_sub(count)
            };
            for l in lines.iter().skip(skip).take(count) {
                push_capped(&mut res.out, l);
            }
        }
        res
    }

    pub(super) fn grep(&self, args: &[String], stdin: Option<Vec<u8>>) -> Res {
        let flags: String = args
            .iter()
            .filter(|a| a.starts_with('-'))
            .flat_map(|a| a.chars().skip(1))
            .collect();
        let mut rest = args
            .iter()
            .filter(|a| !a.starts_with('-'))
            .map(String::as_str);
        let Some(pattern) = rest.next() else {
            return Res::fail(
                format!(
                    "{} multi-call binary.\n\nUsage: grep [-HhnlLoqvsriwFEz] [-m N] [-A/B/C N] PATTERN/-e PATTERN.../-f FILE [FILE]...\n",
                    self.busybox_version()
                ),
                2,
            );
        };
        let files: Vec<&str> = rest.collect();
        let (ignore, invert, count_only) = (
            flags.contains('i'),
            flags.contains('v'),
            flags.contains('c'),
        );
        let needle = if ignore {
            pattern.to_lowercase()
        } else {
            pattern.to_string()
        };
        let mut res = Res::default();
        let mut matched = 0usize;
        for (_, data) in self.inputs("grep", &files, stdin, &mut res) {
            for l in lines_of(&data) {
                let text = String::from_utf8_lossy(l);
                let hit = if ignore {
                    text.to_lowercase().contains(&needle)
                } else {
                    text.contains(&needle)
                };
                if hit != invert {
                    matched += 1;
                    if !count_only {
                        push_capped(&mut res.out, l);
                        if !l.ends_with(b"\n") {
                            push_capped(&mut res.out, b"\n");
                        }
                    }
                }
            }
        }
        if count_only {
            push_capped(&mut res.out, format!("{matched}\n").as_bytes());
        }
        if res.status == 0 && matched == 0 {
            res.status = 1;
        }
        res
    }

    pub(super) fn wc(&self, args: &[String], stdin: Option<Vec<u8>>) -> Res {
        let flags: String = args
            .iter()
            .filter(|a| a.starts_with('-'))
            .flat_map(|a| a.chars().skip(1))
            .collect();
        let files: Vec<&str> = args
            .iter()
            .filter(|a| !a.starts_with('-'))
            .map(String::as_str)
            .collect();
        let mut res = Res::default();
        let selected: Vec<char> = if flags.is_empty() {
            vec!['l', 'w', 'c']
        } else {
            ['l', 'w', 'c']
                .into_iter()
                .filter(|c| flags.contains(*c))
                .collect()
        };
        for (name, data) in self.inputs("wc", &files, stdin, &mut res) {
            let mut line = String::new();
            for c in &selected {
                let n = match c {
                    'l' => data.iter().filter(|&&b| b == b'\n').count(),
                    'w' => data
                        .split(|b| b.is_ascii_whitespace())
                        .filter(|w| !w.is_empty())
                        .count(),
                    _ => data.len(),
                };
                if selected.len() == 1 && name.is_empty() {
                    let _ = write!(line, "{n}");
                } else {
                    let _ = write!(line, "{}{n:>7}", if line.is_empty() { "" } else { " " });
                }
            }
            if !name.is_empty() {
                let _ = write!(line, " {name}");
            }
            line.push('\n');
            push_capped(&mut res.out, line.as_bytes());
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
    fn pipes_feed_filters() {
        let mut sh = root();
        let head = run(&mut sh, "cat /proc/cpuinfo | head -3");
        assert_eq!(head.lines().count(), 3);
        assert!(head.starts_with("system type"));
        assert_eq!(
            run(&mut sh, "cat /proc/cpuinfo | grep -c processor"),
            "4\r\n"
        );
        assert_eq!(
            run(&mut sh, "grep root /etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\r\n"
        );
        assert_eq!(
            run(&mut sh, "tail -n 1 /etc/passwd"),
            "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\r\n"
        );
        assert_eq!(run(&mut sh, "wc -l /etc/passwd"), "      4 /etc/passwd\r\n");
        assert_eq!(run(&mut sh, "head"), "");
        assert_eq!(sh.run_line("cat /bin/echo | head -c 4").text, b"\x7fELF");
        assert_eq!(run(&mut sh, "echo abcdef | tail -c 3"), "ef\r\n");
        assert_eq!(run(&mut sh, "nproc"), "4\r\n");
    }
}
