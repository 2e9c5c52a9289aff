//! The compound commands bots use, over the simple commands [`super::lexer`] splits out:
//! `while`/`until` loops, `for x in ...`, `if`/`elif`/`else`, `{ ...; }` groups, with
//! redirections and pipes after `done`/`fi`/`}` (`while read l; do ...; done < file`), and
//! command substitution (`$(...)`, backticks) in simple commands. Everything is bounded: the
//! nesting depth, the iterations of a loop, and (through [`Shell`]'s step budget) the simple
//! commands run; no input loops forever.

use super::lexer::{Lexer, Sep, split_pieces};
use super::{MAX_DEPTH, MAX_EXPANDED, Res, Shell, Term};

/// Most iterations of one loop.
const MAX_ITERATIONS: u32 = 1000;
/// Deepest nesting of compound commands in one script.
const MAX_NESTING: u8 = 16;

/// One token of a script: a simple command, or a reserved word starting or ending a compound
/// command, with the separator after it.
#[derive(Debug, Clone, Copy)]
enum Tok<'a> {
    Simple(&'a str, Sep),
    /// `while`, `until`, `if`, `elif`, `then`, `else`, `do`, `{`.
    Open(&'static str),
    /// `for NAME [in WORDS]`: its header.
    For(&'a str),
    /// `done`, `fi`, `}` with what follows on its piece (redirections) and the separator.
    Close(&'static str, &'a str, Sep),
}

const OPENERS: [&str; 8] = ["while", "until", "if", "elif", "then", "else", "do", "{"];
const CLOSERS: [&str; 3] = ["done", "fi", "}"];

/// The first word of `text` if it is `word`, and the rest.
fn strip_word<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(word)?;
    if rest.is_empty() {
        return Some(rest);
    }
    rest.starts_with([' ', '\t', '\n', '\r', ';', '<', '>', '|', '&'])
        .then(|| rest.trim_start())
}

fn tokenize(text: &str) -> Vec<Tok<'_>> {
    let mut toks = Vec::new();
    for (piece, sep) in split_pieces(text) {
        let mut rest = piece;
        'piece: loop {
            if rest.is_empty() {
                break;
            }
            for kw in CLOSERS {
                if let Some(after) = strip_word(rest, kw) {
                    toks.push(Tok::Close(kw, after, sep));
                    break 'piece;
                }
            }
            if strip_word(rest, "for").is_some() {
                toks.push(Tok::For(rest));
                break;
            }
            for kw in OPENERS {
                if let Some(after) = strip_word(rest, kw) {
                    toks.push(Tok::Open(kw));
                    rest = after;
                    continue 'piece;
                }
            }
            toks.push(Tok::Simple(rest, sep));
            break;
        }
    }
    toks
}

/// A command in a pipeline.
#[derive(Debug)]
enum Cmd<'a> {
    Simple(&'a str),
    Loop {
        until: bool,
        cond: List<'a>,
        body: List<'a>,
    },
    For {
        header: &'a str,
        body: List<'a>,
    },
    If {
        arms: Vec<(List<'a>, List<'a>)>,
        otherwise: Option<List<'a>>,
    },
    Group(List<'a>),
}

/// A command, the redirections after a compound one, and the separator after it.
#[derive(Debug)]
struct Item<'a> {
    cmd: Cmd<'a>,
    redirs: &'a str,
    sep: Sep,
}

/// Pipelines joined by `&&`/`||` (the connector before each), run one after another.
type List<'a> = Vec<(Sep, Vec<Item<'a>>)>;

struct Parser<'t, 'a> {
    toks: &'t [Tok<'a>],
    pos: usize,
}

/// What stopped a parse: the unexpected word, or the end while expecting one.
type Syntax = String;

impl<'a> Parser<'_, 'a> {
    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.pos).copied()
    }

    fn stops(&self, stop: &[&str]) -> bool {
        match self.peek() {
            None => true,
            Some(Tok::Open(k) | Tok::Close(k, ..)) => stop.contains(&k),
            _ => false,
        }
    }

    fn list(&mut self, stop: &[&str], depth: u8) -> Result<List<'a>, Syntax> {
        let mut list = List::new();
        let mut connector = Sep::Seq;
        while !self.stops(stop) {
            let mut pipeline = Vec::new();
            loop {
                let item = self.command(depth)?;
                let sep = item.sep;
                pipeline.push(item);
                if sep != Sep::Pipe || self.stops(stop) {
                    break;
                }
            }
            let next = pipeline.last().map_or(Sep::Seq, |i| i.sep);
            list.push((connector, pipeline));
            connector = next;
        }
        Ok(list)
    }

    fn expect(&mut self, word: &str) -> Result<(&'a str, Sep), Syntax> {
        match self.peek() {
            Some(Tok::Open(k)) if k == word => {
                self.pos += 1;
                Ok(("", Sep::Seq))
            }
            Some(Tok::Close(k, redirs, sep)) if k == word => {
                self.pos += 1;
                Ok((redirs, sep))
            }
            Some(Tok::Open(k) | Tok::Close(k, ..)) => Err(format!("unexpected \"{k}\"")),
            Some(Tok::For(_)) => Err("unexpected \"for\"".into()),
            Some(Tok::Simple(..)) => Err(format!("unexpected word (expecting \"{word}\")")),
            None => Err(format!("unexpected end of file (expecting \"{word}\")")),
        }
    }

    fn command(&mut self, depth: u8) -> Result<Item<'a>, Syntax> {
        if depth >= MAX_NESTING {
            return Err("nesting too deep".into());
        }
        let d = depth + 1;
        let tok = self.peek().ok_or("unexpected end of file")?;
        self.pos += 1;
        let (cmd, (redirs, sep)) = match tok {
            Tok::Simple(text, sep) => (Cmd::Simple(text), ("", sep)),
            Tok::Open(kw @ ("while" | "until")) => {
                let cond = self.list(&["do"], d)?;
                self.expect("do")?;
                let body = self.list(&["done"], d)?;
                let end = self.expect("done")?;
                let until = kw == "until";
                (Cmd::Loop { until, cond, body }, end)
            }
            Tok::For(header) => {
                self.expect("do")?;
                let body = self.list(&["done"], d)?;
                let end = self.expect("done")?;
                (Cmd::For { header, body }, end)
            }
            Tok::Open("if") => {
                let mut arms = Vec::new();
                let mut otherwise = None;
                loop {
                    let cond = self.list(&["then"], d)?;
                    self.expect("then")?;
                    let body = self.list(&["elif", "else", "fi"], d)?;
                    arms.push((cond, body));
                    match self.peek() {
                        Some(Tok::Open("elif")) => self.pos += 1,
                        Some(Tok::Open("else")) => {
                            self.pos += 1;
                            otherwise = Some(self.list(&["fi"], d)?);
                            break;
                        }
                        _ => break,
                    }
                }
                let end = self.expect("fi")?;
                (Cmd::If { arms, otherwise }, end)
            }
            Tok::Open("{") => {
                let body = self.list(&["}"], d)?;
                let end = self.expect("}")?;
                (Cmd::Group(body), end)
            }
            Tok::Open(k) | Tok::Close(k, ..) => return Err(format!("unexpected \"{k}\"")),
        };
        Ok(Item { cmd, redirs, sep })
    }
}

/// Where `$(` or a backtick at `start` of `text` ends: (inner text, index after the end).
fn substitution_at(text: &str, start: usize) -> Option<(String, usize)> {
    let rest = text.get(start..)?;
    if let Some(body) = rest.strip_prefix("$(") {
        let mut depth = 1u32;
        let (mut single, mut double, mut escaped) = (false, false, false);
        for (i, c) in body.char_indices() {
            if escaped {
                escaped = false;
                continue;
            }
            match c {
                '\\' if !single => escaped = true,
                '\'' if !double => single = !single,
                '"' if !single => double = !double,
                '(' if !single && !double => depth += 1,
                ')' if !single && !double => {
                    depth -= 1;
                    if depth == 0 {
                        return Some((body.get(..i)?.to_string(), start + 2 + i + 1));
                    }
                }
                _ => {}
            }
        }
        None
    } else {
        let body = rest.strip_prefix('`')?;
        let mut inner = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '`' => return Some((inner, start + 1 + i + 1)),
                '\\' => match chars.next() {
                    Some((_, e @ ('`' | '\\' | '$'))) => inner.push(e),
                    Some((_, e)) => {
                        inner.push('\\');
                        inner.push(e);
                    }
                    None => inner.push('\\'),
                },
                _ => inner.push(c),
            }
        }
        None
    }
}

/// Quotes a substitution's output so the lexer takes it as text: split on blanks when
/// unquoted, kept whole inside double quotes.
fn quote_output(out: &str, in_double: bool, into: &mut String) {
    for c in out.chars() {
        let special = if in_double {
            matches!(c, '"' | '\\' | '$' | '`')
        } else {
            !matches!(c, ' ' | '\t' | '\n')
                && !c.is_alphanumeric()
                && !matches!(c, '/' | '.' | '-' | '_' | '=' | ':' | ',')
        };
        if special {
            into.push('\\');
        }
        if !in_double && c == '\n' {
            into.push(' ');
        } else {
            into.push(c);
        }
    }
}

impl Shell {
    /// Runs a line or script; returns whether `exit` ran. Output goes to `term`.
    pub(super) fn run_script(&mut self, text: &str, depth: u8, term: &mut Term) -> bool {
        let toks = tokenize(text);
        let mut parser = Parser {
            toks: &toks,
            pos: 0,
        };
        let list = match parser.list(&[], 0) {
            Ok(list) if parser.pos >= toks.len() => list,
            Ok(_) => {
                let word = match parser.peek() {
                    Some(Tok::Open(k) | Tok::Close(k, ..)) => k,
                    _ => "word",
                };
                return self.syntax_error(&format!("unexpected \"{word}\""), term);
            }
            Err(e) => return self.syntax_error(&e, term),
        };
        let exit = self.run_list(&list, depth, None, term);
        // `break` outside a loop does nothing more.
        self.jump = 0;
        exit
    }

    fn syntax_error(&mut self, what: &str, term: &mut Term) -> bool {
        term.push_res(format!("-sh: syntax error: {what}\n").as_bytes(), b"", &[]);
        self.status = 2;
        false
    }

    /// Runs a list; `input` is what `read` reads (a loop's redirected input or pipe).
    fn run_list(
        &mut self,
        list: &List<'_>,
        depth: u8,
        input: Option<&mut Vec<u8>>,
        term: &mut Term,
    ) -> bool {
        let mut input = input;
        for (connector, pipeline) in list {
            let run = match connector {
                Sep::And => self.status == 0,
                Sep::Or => self.status != 0,
                _ => true,
            };
            if run && self.run_items(pipeline, depth, input.as_deref_mut(), term) {
                return true;
            }
            if self.jump != 0 {
                break;
            }
        }
        false
    }

    fn run_items(
        &mut self,
        items: &[Item<'_>],
        depth: u8,
        mut input: Option<&mut Vec<u8>>,
        term: &mut Term,
    ) -> bool {
        let mut stdin: Option<Vec<u8>> = None;
        let last = items.len().saturating_sub(1);
        for (i, item) in items.iter().enumerate() {
            if self.steps_left == 0 {
                return false;
            }
            let res = match &item.cmd {
                Cmd::Simple(text) => {
                    self.steps_left -= 1;
                    let piped = stdin.take();
                    if piped.is_none() && text.starts_with("read") {
                        self.run_read(text, input.as_deref_mut())
                    } else {
                        self.run_simple(text, piped, depth)
                    }
                }
                compound => self.run_compound(compound, item.redirs, stdin.take(), depth),
            };
            self.status = res.status;
            if i == last {
                term.push_res(&res.err, &res.out, &res.pauses);
            } else {
                let at = res.err.len();
                let pauses: Vec<_> = res.pauses.iter().map(|&(_, w)| (at, w)).collect();
                term.push_res(&res.err, b"", &pauses);
                stdin = Some(res.out);
            }
            if res.exit {
                return true;
            }
        }
        false
    }

    /// Runs a compound command with its redirections, capturing what it prints.
    fn run_compound(
        &mut self,
        cmd: &Cmd<'_>,
        redirs: &str,
        stdin: Option<Vec<u8>>,
        depth: u8,
    ) -> Res {
        let (_, _, redirs) = Lexer::new(self).lex(redirs);
        let mut streams = match self.redirect(&redirs, stdin) {
            Ok(streams) => streams,
            Err(failed) => return failed,
        };
        let mut input = streams.stdin.take().unwrap_or_default();
        let mut term = Term::default();
        let exit = self.run_cmd(cmd, depth, &mut input, &mut term);
        let mut res = term.into_res(self.status);
        res.exit = exit;
        self.route(res, &streams, "")
    }

    fn run_cmd(&mut self, cmd: &Cmd<'_>, depth: u8, input: &mut Vec<u8>, term: &mut Term) -> bool {
        match cmd {
            Cmd::Simple(_) => false,
            Cmd::Group(body) => self.run_list(body, depth, Some(input), term),
            Cmd::Loop { until, cond, body } => {
                let mut status = 0;
                for _ in 0..MAX_ITERATIONS {
                    // Each round costs a step, so that empty loops nested cannot multiply.
                    if self.steps_left == 0 {
                        break;
                    }
                    self.steps_left -= 1;
                    if self.run_list(cond, depth, Some(input), term) {
                        return true;
                    }
                    if (self.status == 0) == *until {
                        break;
                    }
                    if self.run_list(body, depth, Some(input), term) {
                        return true;
                    }
                    status = self.status;
                    if self.leave_loop() {
                        break;
                    }
                }
                self.status = status;
                false
            }
            Cmd::For { header, body } => {
                let (words, globs, _) = Lexer::new(self).lex(header);
                let words = self.expand_globs(words, &globs);
                let mut words = words.into_iter().skip(1);
                let name = words.next().unwrap_or_default();
                let values: Vec<String> = match words.next().as_deref() {
                    Some("in") => words.collect(),
                    _ => Vec::new(),
                };
                self.status = 0;
                for v in values.iter().take(MAX_ITERATIONS as usize) {
                    if self.steps_left == 0 {
                        break;
                    }
                    self.steps_left -= 1;
                    self.set_var(&name, v);
                    if self.run_list(body, depth, Some(input), term) {
                        return true;
                    }
                    if self.leave_loop() {
                        break;
                    }
                }
                false
            }
            Cmd::If { arms, otherwise } => {
                for (cond, body) in arms {
                    if self.run_list(cond, depth, Some(input), term) {
                        return true;
                    }
                    if self.status == 0 {
                        return self.run_list(body, depth, Some(input), term);
                    }
                }
                match otherwise {
                    Some(body) => self.run_list(body, depth, Some(input), term),
                    None => {
                        self.status = 0;
                        false
                    }
                }
            }
        }
    }

    /// After a loop's body: whether a `break` or `continue` ends this loop (a `continue 1`
    /// only ends the round); the jump is used up or passed to the enclosing loop.
    fn leave_loop(&mut self) -> bool {
        match self.jump {
            0 => false,
            -1 => {
                self.jump = 0;
                false
            }
            1 => {
                self.jump = 0;
                true
            }
            n if n > 1 => {
                self.jump = n - 1;
                true
            }
            n => {
                self.jump = n + 1;
                true
            }
        }
    }

    /// `read [-r] NAME...`: a line of `input` split into the names (the last takes the
    /// rest); status 1 at the end of the input, as at EOF.
    fn run_read(&mut self, text: &str, input: Option<&mut Vec<u8>>) -> Res {
        let (words, _, redirs) = Lexer::new(self).lex(text);
        if words.first().map(String::as_str) != Some("read") {
            return self.run_simple(text, None, 0);
        }
        let names: Vec<&String> = words
            .iter()
            .skip(1)
            .filter(|w| !w.starts_with('-'))
            .collect();
        let mut redirected = match self.redirect(&redirs, None) {
            Ok(mut streams) => streams.stdin.take(),
            Err(failed) => return failed,
        };
        let input = match redirected.as_mut() {
            Some(data) => Some(data),
            None => input,
        };
        let Some(input) = input.filter(|i| !i.is_empty()) else {
            return Res::fail("", 1);
        };
        let end = input.iter().position(|&b| b == b'\n');
        let line: Vec<u8> = match end {
            Some(n) => input.drain(..=n).take(n).collect(),
            None => std::mem::take(input),
        };
        let line = String::from_utf8_lossy(&line).into_owned();
        let mut rest = line.trim_start();
        let default = "REPLY".to_string();
        let names = if names.is_empty() {
            vec![&default]
        } else {
            names
        };
        let count = names.len();
        for (i, name) in names.into_iter().enumerate() {
            if i + 1 == count {
                self.set_var(name, rest.trim_end());
            } else {
                let (word, after) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
                self.set_var(name, word);
                rest = after.trim_start();
            }
        }
        Res::default()
    }

    /// Replaces `$(...)` and backticks in a simple command by what they print (trailing
    /// newlines removed), quoted so that only blanks split it, as ash's field splitting does.
    /// The substitutions' waits are returned, to happen before the command.
    pub(super) fn substitute(
        &mut self,
        text: &str,
        depth: u8,
    ) -> (String, Vec<(usize, std::time::Duration)>) {
        let mut out = String::with_capacity(text.len());
        let mut pauses = Vec::new();
        if !text.contains("$(") && !text.contains('`') {
            out.push_str(text);
            return (out, pauses);
        }
        let (mut single, mut double, mut escaped) = (false, false, false);
        let mut i = 0;
        while let Some(c) = text.get(i..).and_then(|r| r.chars().next()) {
            if escaped {
                escaped = false;
                out.push(c);
                i += c.len_utf8();
                continue;
            }
            let start_sub = !single
                && (c == '`'
                    || (c == '$' && text.get(i + 1..).is_some_and(|r| r.starts_with('('))));
            if start_sub && let Some((inner, next)) = substitution_at(text, i) {
                if depth < MAX_DEPTH && self.steps_left > 0 {
                    let mut term = Term::default();
                    self.run_script(&inner, depth + 1, &mut term);
                    pauses.extend(term.pauses.iter().map(|&(_, w)| (0, w)));
                    let printed = String::from_utf8_lossy(&term.text).into_owned();
                    let printed = printed.trim_end_matches('\n');
                    if out.len() + printed.len() < MAX_EXPANDED {
                        quote_output(printed, double, &mut out);
                    }
                }
                i = next;
                continue;
            }
            match c {
                '\\' if !single => escaped = true,
                '\'' if !double => single = !single,
                '"' if !single => double = !double,
                _ => {}
            }
            out.push(c);
            i += c.len_utf8();
        }
        (out, pauses)
    }
}
