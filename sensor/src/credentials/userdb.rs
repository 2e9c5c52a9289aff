//! A Cowrie-compatible user database (`etc/userdb.txt`): one rule a line, `user:x:password`.
//!
//! The semantics are Cowrie's (`cowrie/core/auth.py`, `UserDB`):
//! - the middle field is ignored (`x`, a uid, anything);
//! - a field is `*` (anything, the empty string too), `/regex/` or `/regex/i` (searched
//!   anywhere in the value, `i` for case-insensitive), or a literal compared byte for byte;
//! - a password that starts with `!` makes the rule refuse instead of accept (`!` alone refuses
//!   the empty password; `!*` refuses every password);
//! - rules are tried in file order and the first whose user *and* password both match decides;
//! - lines starting with `#`, and blank lines, are skipped.
//!
//! Two differences, both on lines Cowrie would misread: the password is everything after the
//! second `:` (Cowrie keeps only the third field, so `/a:b/` would be cut), and a line without
//! two `:` is an error naming the file and the line (Cowrie skips it silently). A line that no
//! rule matches is not refused here: the caller's policy decides
//! ([`super::CredentialPolicy::check`]); end the file with `*:x:!*` to refuse everything else
//! as Cowrie does.
//!
//! Regexes are compiled once, at load, by `regex-lite` with a bounded pattern length, compiled
//! size and nesting; they are matched against the attacker's bytes read as UTF-8 (invalid
//! sequences replaced), literals against the exact bytes.

use std::borrow::Cow;
use std::path::Path;

use regex_lite::{Regex, RegexBuilder};

/// The longest `/regex/` pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 256;
/// The most rules a user database may hold.
pub const MAX_RULES: usize = 10_000;
/// The largest user database file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// The compiled size a regex may reach (regex-lite's `size_limit`).
const REGEX_SIZE_LIMIT: usize = 64 * 1024;
/// How deeply a regex may nest groups and repetitions.
const REGEX_NEST_LIMIT: u32 = 16;

/// Why a user database could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserDbError {
    /// The file could not be read (missing, unreadable, too large, not UTF-8).
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// One line is wrong.
    #[error("{path}:{line}: {reason}")]
    Line {
        /// The file.
        path: String,
        /// The line number, from 1.
        line: usize,
        /// Why.
        reason: String,
    },
}

/// One side of a rule: user or password.
#[derive(Debug, Clone)]
enum Matcher {
    /// `*`: anything, the empty string too.
    Any,
    /// A literal, compared byte for byte.
    Exact(Vec<u8>),
    /// `/regex/` or `/regex/i`, searched anywhere.
    Pattern(Regex),
}

impl Matcher {
    /// Reads one field (`*`, `/re/`, `/re/i` or a literal); `Err` says why a regex is refused.
    fn parse(field: &str) -> Result<Matcher, String> {
        if field == "*" {
            return Ok(Matcher::Any);
        }
        // Cowrie: `/(.+)/(i)?$`: at least one character between the slashes.
        let (body, insensitive) = if let Some(body) = field
            .strip_prefix('/')
            .and_then(|rest| rest.strip_suffix("/i"))
            .filter(|b| !b.is_empty())
        {
            (body, true)
        } else if let Some(body) = field
            .strip_prefix('/')
            .and_then(|rest| rest.strip_suffix('/'))
            .filter(|b| !b.is_empty())
        {
            (body, false)
        } else {
            return Ok(Matcher::Exact(field.as_bytes().to_vec()));
        };
        if body.len() > MAX_PATTERN_BYTES {
            return Err(format!(
                "regex /{}.../ is longer than {MAX_PATTERN_BYTES} bytes",
                body.chars().take(16).collect::<String>()
            ));
        }
        RegexBuilder::new(body)
            .case_insensitive(insensitive)
            .size_limit(REGEX_SIZE_LIMIT)
            .nest_limit(REGEX_NEST_LIMIT)
            .build()
            .map(Matcher::Pattern)
            .map_err(|e| {
                let why = e.to_string();
                let why = why.lines().last().unwrap_or_default().trim().to_owned();
                format!("bad regex /{body}/: {why}")
            })
    }

    fn matches(&self, value: &[u8]) -> bool {
        match self {
            Matcher::Any => true,
            Matcher::Exact(literal) => literal == value,
            Matcher::Pattern(re) => {
                let text: Cow<'_, str> = String::from_utf8_lossy(value);
                re.is_match(&text)
            }
        }
    }
}

/// One line of the database.
#[derive(Debug, Clone)]
struct Rule {
    user: Matcher,
    password: Matcher,
    accept: bool,
}

/// A loaded user database: its rules in file order.
#[derive(Debug, Clone, Default)]
pub struct UserDb {
    rules: Vec<Rule>,
}

impl UserDb {
    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<UserDb, UserDbError> {
        let name = path.display().to_string();
        let file_error = |reason: String| UserDbError::File {
            path: name.clone(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| file_error(e.to_string()))?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(file_error(format!(
                "larger than {MAX_FILE_BYTES} bytes ({} bytes)",
                meta.len()
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| file_error(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            file_error(format!(
                "not UTF-8 (byte {} is invalid)",
                e.utf8_error().valid_up_to()
            ))
        })?;
        UserDb::parse(&name, &text)
    }

    /// Parses the text of a user database; `name` names it in errors.
    pub fn parse(name: &str, text: &str) -> Result<UserDb, UserDbError> {
        let mut rules = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line_error = |reason: String| UserDbError::Line {
                path: name.to_owned(),
                line: i + 1,
                reason,
            };
            let line = raw.trim_end_matches(['\r', '\n']);
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.splitn(3, ':');
            let (Some(user), Some(_middle), Some(password)) =
                (fields.next(), fields.next(), fields.next())
            else {
                return Err(line_error(
                    "expected user:x:password (three fields separated by ':')".into(),
                ));
            };
            if user.is_empty() {
                return Err(line_error("the user field is empty".into()));
            }
            // Cowrie strips the password, not the user.
            let password = password.trim();
            let (accept, password) = match password.strip_prefix('!') {
                Some(rest) => (false, rest),
                None => (true, password),
            };
            let user = Matcher::parse(user).map_err(|why| line_error(format!("user: {why}")))?;
            let password =
                Matcher::parse(password).map_err(|why| line_error(format!("password: {why}")))?;
            if rules.len() >= MAX_RULES {
                return Err(line_error(format!("more than {MAX_RULES} rules")));
            }
            rules.push(Rule {
                user,
                password,
                accept,
            });
        }
        Ok(UserDb { rules })
    }

    /// The decision of the first rule whose user and password both match: `Some(true)` to
    /// accept, `Some(false)` to refuse, `None` when no rule matches.
    pub fn check(&self, user: &[u8], password: &[u8]) -> Option<bool> {
        self.rules
            .iter()
            .find(|rule| rule.user.matches(user) && rule.password.matches(password))
            .map(|rule| rule.accept)
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn db(text: &str) -> UserDb {
        UserDb::parse("userdb.txt", text).unwrap()
    }

    fn error(text: &str) -> String {
        UserDb::parse("userdb.txt", text).unwrap_err().to_string()
    }

    #[test]
    fn cowrie_defaults_in_order_first_match_wins() {
        // Cowrie's built-in default database.
        let d = db(
            "root:x:!root\nroot:x:!123456\nroot:x:!/honeypot/i\nroot:x:*\nphil:x:*\nphil:x:fout\n",
        );
        assert_eq!(d.len(), 6);
        assert_eq!(d.check(b"root", b"root"), Some(false));
        assert_eq!(d.check(b"root", b"123456"), Some(false));
        assert_eq!(d.check(b"root", b"MyHoneyPot1"), Some(false), "regex, /i");
        assert_eq!(d.check(b"root", b"admin"), Some(true));
        assert_eq!(
            d.check(b"root", b""),
            Some(true),
            "* matches the empty password"
        );
        assert_eq!(d.check(b"phil", b"anything"), Some(true));
        assert_eq!(
            d.check(b"admin", b"admin"),
            None,
            "no rule: the policy decides"
        );
    }

    #[test]
    fn every_rule_kind() {
        let d = db(concat!(
            "# a comment\n",
            "\n",
            "   \n",
            "admin:0:admin\n",
            "admin:x:!\n",
            "admin:x:!*\n",
            "/^sup(port)?$/:x:/^[0-9]{4}$/\n",
            "/^ubnt$/i:1000:ubnt\n",
            "guest:x:/a:b/\n",
            "*:x:!/^$/\n",
            "*:x:xc3511\n",
        ));
        assert_eq!(d.len(), 8);
        assert_eq!(d.check(b"admin", b"admin"), Some(true), "literal");
        assert_eq!(
            d.check(b"admin", b""),
            Some(false),
            "! alone: the empty password"
        );
        assert_eq!(d.check(b"admin", b"x"), Some(false), "!*");
        assert_eq!(
            d.check(b"support", b"1234"),
            Some(true),
            "regex user and password"
        );
        assert_eq!(d.check(b"sup", b"0000"), Some(true));
        assert_eq!(d.check(b"supp", b"1234"), None);
        assert_eq!(d.check(b"support", b"12345"), None);
        assert_eq!(
            d.check(b"UBNT", b"ubnt"),
            Some(true),
            "case-insensitive user"
        );
        assert_eq!(d.check(b"ubnt", b"UBNT"), None, "literal password is exact");
        assert_eq!(
            d.check(b"guest", b"xa:by"),
            Some(true),
            "':' inside the password"
        );
        assert_eq!(d.check(b"anyone", b""), Some(false));
        assert_eq!(d.check(b"anyone", b"xc3511"), Some(true), "* user");
        assert_eq!(
            d.check(b"\xff\xfe", b"xc3511"),
            Some(true),
            "non-UTF-8 user"
        );
    }

    #[test]
    fn literal_edge_cases_follow_cowrie() {
        // `//` and `/` are literals (Cowrie needs one character between the slashes); the
        // password is stripped, the user is not.
        let d = db("//:x:/\nroot:x:  pw  \n");
        assert_eq!(d.check(b"//", b"/"), Some(true));
        assert_eq!(d.check(b"root", b"pw"), Some(true));
        assert_eq!(d.check(b"root", b"  pw  "), None);
        assert_eq!(
            db("root:x:pw\r\n").check(b"root", b"pw"),
            Some(true),
            "CRLF"
        );
    }

    #[test]
    fn errors_name_the_file_line_and_reason() {
        assert_eq!(
            error("# ok\nroot:x:pw\nroot-pw\n"),
            "userdb.txt:3: expected user:x:password (three fields separated by ':')"
        );
        assert_eq!(error("root:pw\n"), error("root:pw"));
        assert_eq!(error(":x:pw"), "userdb.txt:1: the user field is empty");
        assert!(
            error("\nroot:x:/(unclosed/")
                .starts_with("userdb.txt:2: password: bad regex /(unclosed/"),
            "{}",
            error("\nroot:x:/(unclosed/")
        );
        let long = format!("/{}/:x:pw", "a".repeat(MAX_PATTERN_BYTES + 1));
        assert!(
            error(&long).contains("user: regex /aaaaaaaaaaaaaaaa.../ is longer than 256 bytes"),
            "{}",
            error(&long)
        );
        let deep = format!("root:x:/{}a{}/", "(".repeat(40), ")".repeat(40));
        assert!(error(&deep).starts_with("userdb.txt:1: password: bad regex"));
        let huge = "root:x:/a{1000}{1000}/";
        assert!(
            error(huge).starts_with("userdb.txt:1: password: bad regex"),
            "{}",
            error(huge)
        );
    }

    #[test]
    fn load_reads_a_file_and_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("userdb.txt");
        std::fs::write(&path, "root:x:vizxv\n").unwrap();
        assert_eq!(
            UserDb::load(&path).unwrap().check(b"root", b"vizxv"),
            Some(true)
        );
        std::fs::write(&path, "root:x:ok\nbad line\n").unwrap();
        assert_eq!(
            UserDb::load(&path).unwrap_err().to_string(),
            format!(
                "{}:2: expected user:x:password (three fields separated by ':')",
                path.display()
            )
        );
        std::fs::write(&path, b"root:x:\xff\n").unwrap();
        assert!(
            UserDb::load(&path)
                .unwrap_err()
                .to_string()
                .contains("not UTF-8")
        );
        let missing = dir.path().join("missing.txt");
        assert!(
            UserDb::load(&missing)
                .unwrap_err()
                .to_string()
                .starts_with(&missing.display().to_string())
        );
    }
}
