//! Reply and record templates of the rules plug-in: literal text with `{...}` values and
//! `|filter`s, parsed once when the instance is built ([`Template::parse`]) into a small list
//! of pieces, and rendered per line ([`Template::render`]) without parsing again.
//!
//! A value is a capture group of the rule's pattern (`{1}`, `{user}`), the line (`{line}`), a
//! session variable (`{var.NAME}`), an address (`{peer_ip}`, `{peer_port}`, `{local_ip}`,
//! `{local_port}`, `{local_ip_commas}`), the session id (`{session}`), the state (`{state}`) or
//! the passive data port (`{passive_port}`, `{passive_p1}`, `{passive_p2}`). `{{` and `}}` are
//! literal braces. Filters: `base64` (decode; invalid input is kept as it is), `nul:N` (the
//! N-th NUL-separated field), `lower`, `upper`.

use std::net::{IpAddr, SocketAddr};

/// A session variable (`set`, `append`): its value up to the instance's `max_var_bytes`, and
/// how many bytes did not fit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Var {
    /// Its name.
    pub name: String,
    /// What it holds.
    pub value: Vec<u8>,
    /// Bytes appended past the bound, not kept.
    pub dropped: u64,
}

impl Var {
    /// The value as templates see it: what it holds, then `...(+N bytes)` when N did not fit
    /// (as raw input is shown), so that a cut is never silent.
    pub fn shown(&self) -> Vec<u8> {
        let mut out = self.value.clone();
        if self.dropped > 0 {
            out.extend_from_slice(format!("...(+{} bytes)", self.dropped).as_bytes());
        }
        out
    }
}

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A numbered capture group (0 is the whole match).
    Group(usize),
    /// A named capture group.
    Named(String),
    /// The line received (cut at `max_line`).
    Line,
    /// A session variable (`set`/`append`); empty when never set.
    Var(String),
    /// The attacker's address.
    PeerIp,
    /// The attacker's port.
    PeerPort,
    /// The sensor's address the attacker reached.
    LocalIp,
    /// The sensor's port.
    LocalPort,
    /// The sensor's IPv4 address with commas (`127,0,0,1`) for FTP's PASV reply.
    LocalIpCommas,
    /// The session id.
    Session,
    /// The state the line arrived in.
    State,
    /// The passive data listener's port.
    PassivePort,
    /// The passive port / 256.
    PassiveP1,
    /// The passive port % 256.
    PassiveP2,
    /// N random upper-case hexadecimal digits, new at every use (`{random:10}`: a queue id, so
    /// that no two messages get the same one, which would give the honeypot away).
    Random(usize),
}

/// A transformation of a value's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Base64 decoding; input that is not base64 is left as it is.
    Base64,
    /// The N-th field (from 0) when the value is split at NUL bytes; empty when there is none.
    Nul(usize),
    /// ASCII lower case.
    Lower,
    /// ASCII upper case.
    Upper,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Value(Source, Vec<Filter>),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// What a template's capture references are checked against: the rule's pattern (its group
/// count and names), or none (a greeting has no captures).
#[derive(Debug, Clone, Copy)]
pub struct Groups<'a> {
    /// The regex, when the template belongs to a rule.
    pub pattern: Option<&'a regex_lite::Regex>,
}

/// What values are rendered from.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    /// The line (as matched).
    pub line: &'a str,
    /// The captures of the rule that matched.
    pub captures: Option<&'a regex_lite::Captures<'a>>,
    /// The session's variables.
    pub vars: &'a [Var],
    /// The attacker's address.
    pub peer: SocketAddr,
    /// The sensor's address.
    pub local: SocketAddr,
    /// The session id.
    pub session: &'a str,
    /// The current state's name.
    pub state: &'a str,
    /// The passive listener's port, when there is one.
    pub passive_port: Option<u16>,
}

impl Template {
    /// A template of literal text only.
    pub fn literal(text: &str) -> Template {
        Template {
            pieces: vec![Piece::Text(text.to_owned())],
        }
    }

    /// Parses `text`, checking every name, group and filter; the reason for the first problem.
    pub fn parse(text: &str, groups: Groups<'_>) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(at) = rest.find(['{', '}']) {
            literal.push_str(&rest[..at]);
            let tail = &rest[at..];
            if let Some(after) = tail.strip_prefix("{{") {
                literal.push('{');
                rest = after;
            } else if let Some(after) = tail.strip_prefix("}}") {
                literal.push('}');
                rest = after;
            } else if tail.starts_with('}') {
                return Err("a lone `}` (write `}}` for a brace)".into());
            } else {
                let Some(end) = tail.find('}') else {
                    return Err("a `{` without its `}` (write `{{` for a brace)".into());
                };
                let inside = &tail[1..end];
                if !literal.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                }
                pieces.push(parse_value(inside, groups)?);
                rest = &tail[end + 1..];
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template { pieces })
    }

    /// Whether the template is empty (renders to nothing).
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Whether the template uses the passive port.
    pub fn uses_passive_port(&self) -> bool {
        self.pieces.iter().any(|p| {
            matches!(
                p,
                Piece::Value(
                    Source::PassivePort | Source::PassiveP1 | Source::PassiveP2,
                    _
                )
            )
        })
    }

    /// Appends the rendered template to `out`. With `for_reply`, control bytes (CR, LF, NUL,
    /// ...) are dropped from every value, so that what an attacker sent cannot start a new
    /// protocol line in a reply; literal text is kept as written.
    pub fn render(&self, values: &Values<'_>, for_reply: bool, out: &mut Vec<u8>) {
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.extend_from_slice(text.as_bytes()),
                Piece::Value(source, filters) => {
                    let mut value = lookup(source, values);
                    for filter in filters {
                        value = apply(*filter, value);
                    }
                    if for_reply {
                        out.extend(value.iter().copied().filter(|b| !b.is_ascii_control()));
                    } else {
                        out.extend_from_slice(&value);
                    }
                }
            }
        }
    }

    /// The template rendered into a new buffer.
    pub fn to_bytes(&self, values: &Values<'_>, for_reply: bool) -> Vec<u8> {
        let mut out = Vec::new();
        self.render(values, for_reply, &mut out);
        out
    }
}

/// `1`, `name|base64|nul:1`, `var.user|lower`.
fn parse_value(inside: &str, groups: Groups<'_>) -> Result<Piece, String> {
    let mut parts = inside.split('|');
    let name = parts.next().unwrap_or_default().trim();
    let source = parse_source(name, groups)?;
    let mut filters = Vec::new();
    for filter in parts {
        let filter = filter.trim();
        filters.push(match filter {
            "base64" => Filter::Base64,
            "lower" => Filter::Lower,
            "upper" => Filter::Upper,
            _ => match filter.strip_prefix("nul:").map(str::parse::<usize>) {
                Some(Ok(n)) if n < 256 => Filter::Nul(n),
                Some(_) => return Err(format!("`{filter}`: nul:N takes N from 0 to 255")),
                None => {
                    return Err(format!(
                        "unknown filter `{filter}` (known: base64, nul:N, lower, upper)"
                    ));
                }
            },
        });
    }
    Ok(Piece::Value(source, filters))
}

/// The names a template may use besides captures and `var.NAME`.
const NAMES: &str = "line, var.NAME, peer_ip, peer_port, local_ip, local_port, local_ip_commas, \
                     session, state, passive_port, passive_p1, passive_p2, random:N, or a capture group";

fn parse_source(name: &str, groups: Groups<'_>) -> Result<Source, String> {
    let source = match name {
        "line" => Source::Line,
        "peer_ip" => Source::PeerIp,
        "peer_port" => Source::PeerPort,
        "local_ip" => Source::LocalIp,
        "local_port" => Source::LocalPort,
        "local_ip_commas" => Source::LocalIpCommas,
        "session" => Source::Session,
        "state" => Source::State,
        "passive_port" => Source::PassivePort,
        "passive_p1" => Source::PassiveP1,
        "passive_p2" => Source::PassiveP2,
        _ => {
            if let Some(n) = name.strip_prefix("random:") {
                return match n.parse::<usize>() {
                    Ok(n) if (1..=64).contains(&n) => Ok(Source::Random(n)),
                    _ => Err(format!("`{{{name}}}`: random:N takes N from 1 to 64")),
                };
            }
            if let Some(var) = name.strip_prefix("var.") {
                if !is_var_name(var) {
                    return Err(format!(
                        "`{{{name}}}`: a variable name is letters, digits and _"
                    ));
                }
                return Ok(Source::Var(var.to_owned()));
            }
            return capture(name, groups);
        }
    };
    Ok(source)
}

fn capture(name: &str, groups: Groups<'_>) -> Result<Source, String> {
    let is_number = !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit());
    let is_group_name = is_var_name(name);
    if !is_number && !is_group_name {
        return Err(format!("unknown value `{{{name}}}` (known: {NAMES})"));
    }
    let Some(pattern) = groups.pattern else {
        if is_number {
            return Err(format!(
                "`{{{name}}}`: only a rule's templates have capture groups"
            ));
        }
        return Err(format!("unknown value `{{{name}}}` (known: {NAMES})"));
    };
    if is_number {
        let n: usize = name.parse().unwrap_or(usize::MAX);
        if n >= pattern.captures_len() {
            return Err(format!(
                "`{{{name}}}`: the pattern has {} capture group(s)",
                pattern.captures_len() - 1
            ));
        }
        return Ok(Source::Group(n));
    }
    if pattern.capture_names().flatten().any(|n| n == name) {
        Ok(Source::Named(name.to_owned()))
    } else {
        Err(format!(
            "unknown value `{{{name}}}`: not a group of the pattern (known: {NAMES})"
        ))
    }
}

/// A variable or group name: ASCII letters, digits and `_`, 1 to 64 bytes.
pub fn is_var_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn lookup(source: &Source, values: &Values<'_>) -> Vec<u8> {
    let group = |m: Option<regex_lite::Match<'_>>| m.map(|m| m.as_str().as_bytes().to_vec());
    let port = |p: Option<u16>, f: fn(u16) -> u16| p.map(|p| f(p).to_string().into_bytes());
    let found = match source {
        Source::Group(n) => values.captures.and_then(|c| group(c.get(*n))),
        Source::Named(name) => values.captures.and_then(|c| group(c.name(name))),
        Source::Line => Some(values.line.as_bytes().to_vec()),
        Source::Var(name) => values.vars.iter().find(|v| v.name == *name).map(Var::shown),
        Source::PeerIp => Some(values.peer.ip().to_string().into_bytes()),
        Source::PeerPort => Some(values.peer.port().to_string().into_bytes()),
        Source::LocalIp => Some(values.local.ip().to_string().into_bytes()),
        Source::LocalPort => Some(values.local.port().to_string().into_bytes()),
        Source::LocalIpCommas => Some(ip_commas(values.local.ip()).into_bytes()),
        Source::Session => Some(values.session.as_bytes().to_vec()),
        Source::State => Some(values.state.as_bytes().to_vec()),
        Source::PassivePort => port(values.passive_port, |p| p),
        Source::PassiveP1 => port(values.passive_port, |p| p / 256),
        Source::PassiveP2 => port(values.passive_port, |p| p % 256),
        Source::Random(n) => Some(random_hex(*n)),
    };
    found.unwrap_or_default()
}

/// `n` random upper-case hexadecimal digits (zeros if the system has no randomness to give).
fn random_hex(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n.div_ceil(2)];
    let _ = getrandom::fill(&mut bytes);
    let mut out = crate::encoding::hex(&bytes)
        .to_ascii_uppercase()
        .into_bytes();
    out.truncate(n);
    out
}

/// `127,0,0,1`; an IPv6 address that is not IPv4-mapped gives `0,0,0,0` (PASV has no IPv6
/// form: clients use EPSV there).
fn ip_commas(ip: IpAddr) -> String {
    let v4 = match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
    };
    let [a, b, c, d] = v4.octets();
    format!("{a},{b},{c},{d}")
}

fn apply(filter: Filter, value: Vec<u8>) -> Vec<u8> {
    match filter {
        Filter::Base64 => crate::encoding::base64_decode(&value).unwrap_or(value),
        Filter::Nul(n) => value
            .split(|&b| b == 0)
            .nth(n)
            .map(<[u8]>::to_vec)
            .unwrap_or_default(),
        Filter::Lower => value.to_ascii_lowercase(),
        Filter::Upper => value.to_ascii_uppercase(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn values<'a>(
        line: &'a str,
        captures: Option<&'a regex_lite::Captures<'a>>,
        vars: &'a [Var],
    ) -> Values<'a> {
        Values {
            line,
            captures,
            vars,
            peer: "10.0.0.9:4444".parse().unwrap(),
            local: "127.0.0.1:2121".parse().unwrap(),
            session: "s-1",
            state: "auth",
            passive_port: Some(40_001),
        }
    }

    fn render(text: &str, pattern: &str, line: &str, reply: bool) -> String {
        let re = regex_lite::Regex::new(pattern).unwrap();
        let t = Template::parse(text, Groups { pattern: Some(&re) }).unwrap();
        let caps = re.captures(line);
        let vars = vec![Var {
            name: "user".to_owned(),
            value: b"bob\r\nx".to_vec(),
            dropped: 0,
        }];
        String::from_utf8(t.to_bytes(&values(line, caps.as_ref(), &vars), reply)).unwrap()
    }

    #[test]
    fn values_captures_and_braces() {
        assert_eq!(
            render(
                "331 {{ok}} {1} {who} [{line}] {state} {session}\r\n",
                "^USER (?P<who>.*)$",
                "USER anna",
                true
            ),
            "331 {ok} anna anna [USER anna] auth s-1\r\n"
        );
        assert_eq!(
            render(
                "{peer_ip}:{peer_port} {local_ip}:{local_port} ({local_ip_commas},{passive_p1},{passive_p2}) {passive_port}",
                "x",
                "x",
                true
            ),
            "10.0.0.9:4444 127.0.0.1:2121 (127,0,0,1,156,65) 40001"
        );
        // An unmatched optional group and an unset variable are empty.
        assert_eq!(render("[{1}][{var.none}]", "a(b)?", "a", true), "[][]");
    }

    #[test]
    fn replies_drop_control_bytes_of_values_but_records_keep_them() {
        assert_eq!(render("331 {var.user}\r\n", "x", "x", true), "331 bobx\r\n");
        assert_eq!(render("{var.user}", "x", "x", false), "bob\r\nx");
        assert_eq!(
            render("500 {1}\r\n", "^(.*)$", "a\u{7}b\u{0}c", true),
            "500 abc\r\n"
        );
    }

    #[test]
    fn filters() {
        // "\0user\0secret" as AUTH PLAIN sends it.
        let line = "AUTH PLAIN AHVzZXIAc2VjcmV0";
        let p = "^AUTH PLAIN (\\S+)$";
        assert_eq!(render("{1|base64|nul:1}", p, line, false), "user");
        assert_eq!(render("{1|base64|nul:2|upper}", p, line, false), "SECRET");
        assert_eq!(render("{1|base64|nul:7}", p, line, false), "");
        assert_eq!(render("{1|lower}", "(.*)", "MiXeD", false), "mixed");
        // Not base64: the text as it was, nothing decoded.
        assert_eq!(render("{1|base64}", "(.*)", "no*t b64", false), "no*t b64");
        assert_eq!(render("{1|base64}", "(.*)", "YWJj", false), "abc");
        assert_eq!(render("{1|base64}", "(.*)", "YWI=", false), "ab");
        assert_eq!(render("{1|base64}", "(.*)", "YQ", false), "a");
        assert_eq!(render("{1|base64}", "(.*)", "Y", false), "Y");
    }

    #[test]
    fn random_digits_are_new_at_every_use() {
        let a = render("queued as {random:10}", "", "", true);
        let b = render("queued as {random:10}", "", "", true);
        let id = a.strip_prefix("queued as ").unwrap();
        assert_eq!(id.len(), 10);
        assert!(
            id.bytes()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()),
            "{id}"
        );
        assert_ne!(a, b, "two messages, two queue ids");
        let re = regex_lite::Regex::new("").unwrap();
        let groups = Groups { pattern: Some(&re) };
        assert!(
            Template::parse("{random:0}", groups)
                .unwrap_err()
                .contains("random:N")
        );
        assert!(
            Template::parse("{random:65}", groups)
                .unwrap_err()
                .contains("random:N")
        );
    }

    #[test]
    fn bad_templates_are_refused_with_a_reason() {
        let re = regex_lite::Regex::new("^USER (?P<who>.*)$").unwrap();
        let rule = Groups { pattern: Some(&re) };
        let none = Groups { pattern: None };
        let err = |t: &str, g| Template::parse(t, g).unwrap_err();
        assert!(err("{nope}", rule).contains("unknown value `{nope}`"));
        assert!(err("{2}", rule).contains("the pattern has 1 capture group(s)"));
        assert!(err("{1}", none).contains("only a rule's templates"));
        assert!(err("{line|rot13}", rule).contains("unknown filter `rot13`"));
        assert!(err("{line|nul:x}", rule).contains("nul:N"));
        assert!(err("{line", rule).contains("without its `}`"));
        assert!(err("a } b", rule).contains("lone `}`"));
        assert!(err("{var.a-b}", rule).contains("variable name"));
        assert!(err("{peer ip}", rule).contains("unknown value"));
        assert!(Template::parse("{who} {0} {1}", rule).is_ok());
        assert!(Template::parse("220 hi {peer_ip}\r\n", none).is_ok());
    }
}
