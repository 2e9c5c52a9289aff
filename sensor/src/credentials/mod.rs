//! The credential policy every plug-in that logs users in (telnet, SSH) asks whether a
//! username and password are accepted.
//!
//! A device that takes any password at once gives a brute-forcer one credential and a
//! honeypot detector its first tell. The policy instead:
//! 1. asks the user database ([`userdb`], Cowrie's format), if one is configured: the first
//!    rule that matches decides;
//! 2. refuses the empty password (unless `refuse_empty_password = false`);
//! 3. refuses the first N distinct credentials from a source, N drawn per source between
//!    `accept_after[0]` and `accept_after[1]` (a fixed N would itself be a tell), and accepts
//!    the next one;
//! 4. remembers, per source: the credential that was accepted keeps working, and every one
//!    refused keeps being refused (as on a real device, where one password is right). Once a
//!    source got in, a credential it has not tried before is refused.
//!
//! `accept_after = [0, 0]` accepts every credential (but the empty password, by default): the
//! old behaviour, and a tell; tests use it.
//!
//! Memory is bounded: at most `max_sources` sources (IPv6 by /64, as the connection limits
//! count them), the least recently seen evicted first (and counted); per source the accepted
//! credential and at most `max_credentials_per_source` refused ones (only those the count
//! refused: once a source is in, everything else is refused anyway; beyond the allowance a
//! refused credential tried again counts again). Credentials are kept as 64-bit keyed hashes
//! (SipHash with a random key per process), never as the strings. The memory is the running
//! instance's: a restart or a reload of the configuration forgets it.

pub mod userdb;

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

use crate::limits::source_key;
use crate::plugin::OptionProblem;
use crate::plugins::options::read_options;
pub use userdb::{UserDb, UserDbError};

/// The policy's decision on one login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The credential logs in.
    Accepted,
    /// The credential is refused.
    Refused,
}

impl LoginOutcome {
    /// `accepted` or `refused`, as recorded in the `outcome` field.
    pub fn as_str(self) -> &'static str {
        match self {
            LoginOutcome::Accepted => "accepted",
            LoginOutcome::Refused => "refused",
        }
    }

    /// Whether the login succeeded.
    pub fn is_accepted(self) -> bool {
        self == LoginOutcome::Accepted
    }
}

/// Logins the policy decided, by outcome (`recce7_logins_total`).
#[derive(Debug, Default)]
pub struct LoginCounters {
    accepted: AtomicU64,
    refused: AtomicU64,
}

impl LoginCounters {
    /// Logins accepted.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Logins refused.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    fn count(&self, outcome: LoginOutcome) {
        let counter = match outcome {
            LoginOutcome::Accepted => &self.accepted,
            LoginOutcome::Refused => &self.refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// `[plugin.options.credentials]` of a plug-in that logs users in; every key is optional.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CredentialOptions {
    /// A Cowrie-format user database (`user:x:password` lines), relative to the config file's
    /// directory. Its rules win over the rest of the policy. Default: none.
    pub userdb: Option<String>,
    /// `[min, max]`: a source's first N distinct credentials are refused, N drawn per source in
    /// this range (inclusive), and the next is accepted. Default: `[3, 8]`.
    pub accept_after: Vec<u32>,
    /// Whether the empty password is refused (before the count). Default: true.
    pub refuse_empty_password: bool,
    /// Sources remembered at most; the least recently seen is forgotten first. Default: 10000.
    pub max_sources: usize,
    /// Credentials remembered per source at most. Default: 64.
    pub max_credentials_per_source: usize,
    /// How long a refused login waits before it says so, in milliseconds (BusyBox `login`
    /// sleeps 3 s). Default: 3000.
    pub failure_delay_ms: u64,
}

/// The largest `accept_after` bound: more would let nothing in.
pub const MAX_ACCEPT_AFTER: u32 = 1000;
/// The largest `max_sources`.
pub const MAX_SOURCES: usize = 1_000_000;
/// The largest `max_credentials_per_source`.
pub const MAX_CREDENTIALS_PER_SOURCE: usize = 4096;
/// The longest `failure_delay_ms`.
pub const MAX_FAILURE_DELAY_MS: u64 = 60_000;

impl Default for CredentialOptions {
    fn default() -> CredentialOptions {
        CredentialOptions {
            userdb: None,
            accept_after: vec![3, 8],
            refuse_empty_password: true,
            max_sources: 10_000,
            max_credentials_per_source: 64,
            failure_delay_ms: 3000,
        }
    }
}

impl CredentialOptions {
    /// Checks the values; every problem, by key (`credentials.accept_after`).
    pub fn validate(&self) -> Vec<OptionProblem> {
        let mut problems = Vec::new();
        let key = |k: &str| format!("credentials.{k}");
        match self.accept_after.as_slice() {
            [min, max] if min <= max && *max <= MAX_ACCEPT_AFTER => {}
            [min, max] if min > max => problems.push(OptionProblem::new(
                key("accept_after"),
                format!("min ({min}) is greater than max ({max})"),
            )),
            [_, _] => problems.push(OptionProblem::new(
                key("accept_after"),
                format!("must be at most {MAX_ACCEPT_AFTER}"),
            )),
            _ => problems.push(OptionProblem::new(
                key("accept_after"),
                "must be [min, max], two numbers",
            )),
        }
        if self.max_sources == 0 || self.max_sources > MAX_SOURCES {
            problems.push(OptionProblem::new(
                key("max_sources"),
                format!("must be 1 to {MAX_SOURCES}"),
            ));
        }
        if self.max_credentials_per_source == 0
            || self.max_credentials_per_source > MAX_CREDENTIALS_PER_SOURCE
        {
            problems.push(OptionProblem::new(
                key("max_credentials_per_source"),
                format!("must be 1 to {MAX_CREDENTIALS_PER_SOURCE}"),
            ));
        }
        if self.failure_delay_ms > MAX_FAILURE_DELAY_MS {
            problems.push(OptionProblem::new(
                key("failure_delay_ms"),
                format!("must be at most {MAX_FAILURE_DELAY_MS}"),
            ));
        }
        if let Some(path) = &self.userdb
            && path.trim().is_empty()
        {
            problems.push(OptionProblem::new(key("userdb"), "must not be empty"));
        }
        problems
    }
}

/// Reads `[plugin.options.credentials]` (`table`), checks it and builds the policy, loading
/// the user database relative to `config_dir`. Problems are keyed `credentials.<key>`, every
/// one of them. A plug-in that logs users in keeps the table raw in its own options
/// (`credentials: toml::Table`, as `TelnetOptions` does) and hands it here from its `build`.
pub fn build(
    table: &toml::Table,
    config_dir: &Path,
) -> Result<CredentialPolicy, Vec<OptionProblem>> {
    let (options, problems) = read_options::<CredentialOptions>(table);
    let mut problems: Vec<OptionProblem> = problems
        .into_iter()
        .map(|p| OptionProblem::new(format!("credentials.{}", p.key), p.reason))
        .collect();
    problems.extend(options.validate());
    if !problems.is_empty() {
        return Err(problems);
    }
    let userdb = match &options.userdb {
        Some(path) => Some(
            UserDb::load(&config_dir.join(path))
                .map_err(|e| vec![OptionProblem::new("credentials.userdb", e.to_string())])?,
        ),
        None => None,
    };
    Ok(CredentialPolicy::new(&options, userdb))
}

/// What the policy remembers of one source.
#[derive(Debug)]
struct SourceMemory {
    /// Distinct credentials refused before one is accepted (drawn once).
    need: u32,
    /// Distinct credentials refused by the count so far.
    refused_count: u32,
    /// The keyed hash of the credential accepted: one, as one password is right.
    accepted: Option<u64>,
    /// Keyed hashes of the credentials the count refused (a short list, searched in order;
    /// nothing is added once the source got in, as everything else is refused then).
    refused: Vec<u64>,
    /// When it was last seen (the policy's clock), its key in [`State::by_age`].
    seen: u64,
}

#[derive(Debug, Default)]
struct State {
    sources: HashMap<IpAddr, SourceMemory>,
    /// The sources by when they were last seen, oldest first.
    by_age: BTreeMap<u64, IpAddr>,
    /// A counter that orders the checks.
    clock: u64,
    /// Sources forgotten to keep within `max_sources`.
    evicted: u64,
}

/// The policy of one plug-in instance; see the module documentation. Cheap to ask (one
/// mutex, a hash and a few map operations) and safe to share between sessions.
#[derive(Debug)]
pub struct CredentialPolicy {
    userdb: Option<UserDb>,
    min: u32,
    max: u32,
    refuse_empty_password: bool,
    max_sources: usize,
    max_credentials_per_source: usize,
    failure_delay: Duration,
    key: RandomState,
    state: Mutex<State>,
    counters: Arc<LoginCounters>,
}

impl CredentialPolicy {
    /// A policy with these options (checked by [`CredentialOptions::validate`]) and user
    /// database.
    pub fn new(options: &CredentialOptions, userdb: Option<UserDb>) -> CredentialPolicy {
        let (min, max) = match options.accept_after.as_slice() {
            [min, max] => ((*min).min(*max), (*min).max(*max)),
            _ => (3, 8),
        };
        CredentialPolicy {
            userdb,
            min,
            max,
            refuse_empty_password: options.refuse_empty_password,
            max_sources: options.max_sources.max(1),
            max_credentials_per_source: options.max_credentials_per_source.max(1),
            failure_delay: Duration::from_millis(options.failure_delay_ms),
            key: RandomState::new(),
            state: Mutex::new(State::default()),
            counters: Arc::default(),
        }
    }

    /// How long a refused login waits before it says so.
    pub fn failure_delay(&self) -> Duration {
        self.failure_delay
    }

    /// Its decisions so far, by outcome.
    pub fn counters(&self) -> Arc<LoginCounters> {
        self.counters.clone()
    }

    /// Sources forgotten so far to keep within `max_sources`.
    pub fn evicted_sources(&self) -> u64 {
        self.lock().evicted
    }

    /// Sources remembered now.
    pub fn remembered_sources(&self) -> usize {
        self.lock().sources.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The keyed hash of a credential (the user's length first, so that `ab`+`c` and
    /// `a`+`bc` differ).
    fn credential_hash(&self, user: &[u8], password: &[u8]) -> u64 {
        let mut h = self.key.build_hasher();
        h.write_usize(user.len());
        h.write(user);
        h.write(password);
        h.finish()
    }

    /// A number drawn uniformly in `[min, max]` (the OS's random source; the low bits of the
    /// clock if it fails, which only makes N less random).
    fn draw(&self, fallback: u64) -> u32 {
        let span = u64::from(self.max - self.min) + 1;
        let r = getrandom::u64().unwrap_or(fallback);
        self.min + u32::try_from(r % span).unwrap_or(0)
    }

    /// Whether `user` with `password` logs in from `source` (and counted).
    pub fn check(&self, source: IpAddr, user: &[u8], password: &[u8]) -> LoginOutcome {
        let outcome = self.decide(source, user, password);
        self.counters.count(outcome);
        outcome
    }

    fn decide(&self, source: IpAddr, user: &[u8], password: &[u8]) -> LoginOutcome {
        if let Some(accept) = self.userdb.as_ref().and_then(|db| db.check(user, password)) {
            return if accept {
                LoginOutcome::Accepted
            } else {
                LoginOutcome::Refused
            };
        }
        if self.refuse_empty_password && password.is_empty() {
            return LoginOutcome::Refused;
        }
        if self.max == 0 {
            return LoginOutcome::Accepted;
        }
        let credential = self.credential_hash(user, password);
        let source = source_key(source);
        let mut guard = self.lock();
        let state = &mut *guard;
        state.clock += 1;
        let now = state.clock;
        let fresh = !state.sources.contains_key(&source);
        if fresh
            && state.sources.len() >= self.max_sources
            && let Some((_, oldest)) = state.by_age.pop_first()
        {
            state.sources.remove(&oldest);
            state.evicted += 1;
        }
        let need = if fresh { self.draw(now) } else { 0 };
        let memory = match state.sources.entry(source) {
            Entry::Occupied(e) => {
                let memory = e.into_mut();
                state.by_age.remove(&memory.seen);
                memory
            }
            Entry::Vacant(e) => e.insert(SourceMemory {
                need,
                refused_count: 0,
                accepted: None,
                refused: Vec::new(),
                seen: now,
            }),
        };
        memory.seen = now;
        state.by_age.insert(now, source);
        match memory.accepted {
            Some(accepted) if accepted == credential => return LoginOutcome::Accepted,
            // The source got in with another: this one is wrong, as on a real device.
            Some(_) => return LoginOutcome::Refused,
            None => {}
        }
        if memory.refused.contains(&credential) {
            return LoginOutcome::Refused;
        }
        if memory.refused_count < memory.need {
            memory.refused_count = memory.refused_count.saturating_add(1);
            if memory.refused.len() < self.max_credentials_per_source {
                memory.refused.push(credential);
            }
            return LoginOutcome::Refused;
        }
        memory.accepted = Some(credential);
        LoginOutcome::Accepted
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn policy(min: u32, max: u32) -> CredentialPolicy {
        CredentialPolicy::new(
            &CredentialOptions {
                accept_after: vec![min, max],
                ..CredentialOptions::default()
            },
            None,
        )
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Tries `pw0`, `pw1`, ... from `source` as `root` until one is accepted; its index.
    fn attempts_until_accepted(p: &CredentialPolicy, source: IpAddr) -> usize {
        (0..1000)
            .find(|i| {
                p.check(source, b"root", format!("pw{i}").as_bytes())
                    .is_accepted()
            })
            .unwrap()
    }

    fn problems(table: &str) -> Vec<String> {
        let table: toml::Table = toml::from_str(table).unwrap();
        match build(&table, Path::new(".")) {
            Ok(_) => Vec::new(),
            Err(problems) => problems
                .iter()
                .map(|p| format!("{}: {}", p.key, p.reason))
                .collect(),
        }
    }

    #[test]
    fn refuses_n_then_accepts_with_n_drawn_in_range() {
        let p = policy(3, 5);
        let mut seen = std::collections::HashSet::new();
        for i in 0..200u32 {
            let source = IpAddr::from([10, 0, (i >> 8) as u8, i as u8]);
            let n = attempts_until_accepted(&p, source);
            assert!((3..=5).contains(&n), "{n}");
            seen.insert(n);
        }
        assert_eq!(seen.len(), 3, "every N in the range is drawn: {seen:?}");
        let fixed = policy(4, 4);
        assert_eq!(attempts_until_accepted(&fixed, ip("192.0.2.1")), 4);
    }

    #[test]
    fn memory_per_source() {
        let p = policy(2, 2);
        let a = ip("192.0.2.1");
        assert_eq!(p.check(a, b"root", b"one"), LoginOutcome::Refused);
        assert_eq!(
            p.check(a, b"root", b"one"),
            LoginOutcome::Refused,
            "a retry is not counted"
        );
        assert_eq!(p.check(a, b"root", b"two"), LoginOutcome::Refused);
        assert_eq!(p.check(a, b"root", b"three"), LoginOutcome::Accepted);
        assert_eq!(
            p.check(a, b"root", b"three"),
            LoginOutcome::Accepted,
            "keeps working"
        );
        assert_eq!(
            p.check(a, b"root", b"one"),
            LoginOutcome::Refused,
            "keeps failing"
        );
        assert_eq!(
            p.check(a, b"root", b"four"),
            LoginOutcome::Refused,
            "one password is right"
        );
        assert_eq!(
            p.check(a, b"admin", b"three"),
            LoginOutcome::Refused,
            "user and password"
        );
        // Another source has its own count.
        let b = ip("192.0.2.2");
        assert_eq!(p.check(b, b"root", b"three"), LoginOutcome::Refused);
        // The split between user and password is part of the credential.
        let c = ip("192.0.2.3");
        let q = policy(1, 1);
        assert_eq!(q.check(c, b"ro", b"otpw"), LoginOutcome::Refused);
        assert_eq!(q.check(c, b"root", b"pw"), LoginOutcome::Accepted);
    }

    #[test]
    fn empty_password_refused_by_default_and_not_counted() {
        let p = policy(1, 1);
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            assert_eq!(p.check(a, b"root", b""), LoginOutcome::Refused);
        }
        assert_eq!(p.check(a, b"root", b"x"), LoginOutcome::Refused);
        assert_eq!(p.check(a, b"root", b"y"), LoginOutcome::Accepted);
        let open = CredentialPolicy::new(
            &CredentialOptions {
                accept_after: vec![0, 0],
                refuse_empty_password: false,
                ..CredentialOptions::default()
            },
            None,
        );
        assert_eq!(open.check(a, b"root", b""), LoginOutcome::Accepted);
    }

    #[test]
    fn zero_accepts_everything_but_the_empty_password() {
        let p = policy(0, 0);
        let a = ip("192.0.2.1");
        assert_eq!(p.check(a, b"root", b"x"), LoginOutcome::Accepted);
        assert_eq!(p.check(a, b"admin", b"y"), LoginOutcome::Accepted);
        assert_eq!(p.check(a, b"admin", b""), LoginOutcome::Refused);
        assert_eq!(p.remembered_sources(), 0, "nothing to remember");
    }

    #[test]
    fn userdb_wins_over_the_policy() {
        let db = UserDb::parse("u", "root:x:!admin\nroot:x:vizxv\nguest:x:\n").unwrap();
        let p = CredentialPolicy::new(
            &CredentialOptions {
                accept_after: vec![0, 0],
                ..CredentialOptions::default()
            },
            Some(db),
        );
        let a = ip("192.0.2.1");
        assert_eq!(p.check(a, b"root", b"admin"), LoginOutcome::Refused);
        assert_eq!(p.check(a, b"root", b"vizxv"), LoginOutcome::Accepted);
        assert_eq!(
            p.check(a, b"guest", b""),
            LoginOutcome::Accepted,
            "explicit empty"
        );
        assert_eq!(
            p.check(a, b"root", b"other"),
            LoginOutcome::Accepted,
            "the policy: [0, 0]"
        );
        assert_eq!(
            p.check(a, b"root", b""),
            LoginOutcome::Refused,
            "the policy: empty"
        );
    }

    #[test]
    fn sources_are_capped_oldest_evicted_and_counted() {
        let p = CredentialPolicy::new(
            &CredentialOptions {
                accept_after: vec![1, 1],
                max_sources: 3,
                ..CredentialOptions::default()
            },
            None,
        );
        let [a, b, c, d] = [1u8, 2, 3, 4].map(|i| IpAddr::from([192, 0, 2, i]));
        assert_eq!(p.check(a, b"root", b"x"), LoginOutcome::Refused);
        assert_eq!(p.check(b, b"root", b"x"), LoginOutcome::Refused);
        assert_eq!(p.check(c, b"root", b"x"), LoginOutcome::Refused);
        // `a` seen again: `b` is now the oldest.
        assert_eq!(p.check(a, b"root", b"y"), LoginOutcome::Accepted);
        assert_eq!(p.check(d, b"root", b"x"), LoginOutcome::Refused);
        assert_eq!(p.evicted_sources(), 1);
        assert_eq!(p.remembered_sources(), 3);
        assert_eq!(
            p.check(a, b"root", b"y"),
            LoginOutcome::Accepted,
            "a is remembered"
        );
        // `b` was forgotten: its refused credential counts afresh (and is refused again).
        assert_eq!(p.check(b, b"root", b"z"), LoginOutcome::Refused);
        assert_eq!(
            p.check(b, b"root", b"x"),
            LoginOutcome::Accepted,
            "forgotten"
        );
        assert_eq!(p.evicted_sources(), 2, "c went for b");
        let state = p.lock();
        assert_eq!(state.sources.len(), state.by_age.len());
    }

    #[test]
    fn credentials_per_source_are_capped_and_the_accepted_one_kept() {
        let p = CredentialPolicy::new(
            &CredentialOptions {
                accept_after: vec![5, 5],
                max_credentials_per_source: 2,
                ..CredentialOptions::default()
            },
            None,
        );
        let a = ip("192.0.2.1");
        for pw in [b"1", b"2", b"3", b"4", b"5"] {
            assert_eq!(p.check(a, b"root", pw), LoginOutcome::Refused);
        }
        assert_eq!(p.check(a, b"root", b"6"), LoginOutcome::Accepted);
        assert_eq!(p.check(a, b"root", b"6"), LoginOutcome::Accepted);
        assert_eq!(
            p.check(a, b"root", b"1"),
            LoginOutcome::Refused,
            "remembered"
        );
        // "3" was beyond the allowance, not remembered; still refused: the source is in.
        assert_eq!(p.check(a, b"root", b"3"), LoginOutcome::Refused);
        let state = p.lock();
        let memory = state.sources.values().next().unwrap();
        assert_eq!(memory.refused.len(), 2);
        assert!(memory.accepted.is_some());
        drop(state);
        // Beyond the allowance, a refused credential tried again counts again.
        let q = CredentialPolicy::new(
            &CredentialOptions {
                accept_after: vec![3, 3],
                max_credentials_per_source: 1,
                ..CredentialOptions::default()
            },
            None,
        );
        assert_eq!(q.check(a, b"root", b"a"), LoginOutcome::Refused);
        assert_eq!(q.check(a, b"root", b"b"), LoginOutcome::Refused);
        assert_eq!(q.check(a, b"root", b"b"), LoginOutcome::Refused);
        assert_eq!(
            q.check(a, b"root", b"a"),
            LoginOutcome::Refused,
            "remembered"
        );
        assert_eq!(q.check(a, b"root", b"c"), LoginOutcome::Accepted);
    }

    #[test]
    fn a_source_costs_little() {
        // A map entry, an age index entry and 8 bytes per refused credential: 10,000 sources
        // in about 3 MB (docs/credentials.md).
        let entry = std::mem::size_of::<(IpAddr, SourceMemory)>();
        let p = policy(8, 8);
        for i in 0..10_000u32 {
            let source = IpAddr::from(i.to_be_bytes());
            for pw in [b"a", b"b", b"c", b"d", b"e"] {
                p.check(source, b"root", pw);
            }
        }
        let state = p.lock();
        let heap = state.sources.capacity() * (entry + 1)
            + state
                .sources
                .values()
                .map(|m| m.refused.capacity() * 8 + 16)
                .sum::<usize>()
            + state.by_age.len() * 40;
        println!("entry {entry} B, 10,000 sources with 5 refused each: {heap} B");
        assert!(entry <= 96, "{entry}");
        assert!(heap < 3_000_000, "{heap}");
    }

    #[test]
    fn ipv6_sources_by_64() {
        let p = policy(2, 2);
        assert_eq!(
            p.check(ip("2001:db8:1:2::1"), b"root", b"a"),
            LoginOutcome::Refused
        );
        assert_eq!(
            p.check(ip("2001:db8:1:2::ff"), b"root", b"b"),
            LoginOutcome::Refused
        );
        assert_eq!(
            p.check(ip("2001:db8:1:2:ffff::9"), b"root", b"c"),
            LoginOutcome::Accepted,
            "the same /64"
        );
        assert_eq!(
            p.check(ip("2001:db8:1:3::1"), b"root", b"c"),
            LoginOutcome::Refused
        );
        // IPv4-mapped is IPv4.
        assert_eq!(
            p.check(ip("192.0.2.7"), b"root", b"a"),
            LoginOutcome::Refused
        );
        assert_eq!(
            p.check(ip("::ffff:192.0.2.7"), b"root", b"a"),
            LoginOutcome::Refused
        );
        assert_eq!(
            p.check(ip("::ffff:192.0.2.7"), b"root", b"b"),
            LoginOutcome::Refused
        );
        assert_eq!(
            p.check(ip("192.0.2.7"), b"root", b"c"),
            LoginOutcome::Accepted
        );
        assert_eq!(p.remembered_sources(), 3);
    }

    #[test]
    fn the_policy_is_shared_between_sessions() {
        fn shared<T: Send + Sync>() {}
        shared::<CredentialPolicy>();
        let p = std::sync::Arc::new(policy(2, 2));
        let threads: Vec<_> = (0..4u8)
            .map(|t| {
                let p = p.clone();
                std::thread::spawn(move || {
                    let source = IpAddr::from([192, 0, 2, t]);
                    (0..10)
                        .map(|i| p.check(source, b"root", &[i]))
                        .filter(|o| o.is_accepted())
                        .count()
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), 1, "one accepted per source");
        }
    }

    #[test]
    fn hashes_are_keyed_per_policy() {
        let (p, q) = (policy(1, 1), policy(1, 1));
        assert_ne!(
            p.credential_hash(b"root", b"pw"),
            q.credential_hash(b"root", b"pw")
        );
        assert_ne!(
            p.credential_hash(b"ro", b"otpw"),
            p.credential_hash(b"root", b"pw")
        );
    }

    #[test]
    fn options_every_problem_by_key() {
        assert!(problems("").is_empty());
        assert!(problems("accept_after = [0, 0]\nfailure_delay_ms = 10").is_empty());
        assert_eq!(
            problems(concat!(
                "accept_after = [9, 2]\nmax_sources = 0\nmax_credentials_per_source = 5000\n",
                "failure_delay_ms = 60001\nuserdb = ' '\nother = 1\n",
            )),
            [
                "credentials.other: unknown option (known: userdb, accept_after, \
                 refuse_empty_password, max_sources, max_credentials_per_source, \
                 failure_delay_ms)",
                "credentials.accept_after: min (9) is greater than max (2)",
                "credentials.max_sources: must be 1 to 1000000",
                "credentials.max_credentials_per_source: must be 1 to 4096",
                "credentials.failure_delay_ms: must be at most 60000",
                "credentials.userdb: must not be empty",
            ]
        );
        assert_eq!(
            problems("accept_after = [1]"),
            ["credentials.accept_after: must be [min, max], two numbers"]
        );
        assert_eq!(
            problems("accept_after = [1, 1001]"),
            ["credentials.accept_after: must be at most 1000"]
        );
        assert_eq!(
            problems("refuse_empty_password = 'no'"),
            ["credentials.refuse_empty_password: expected a boolean, found string"]
        );
        let missing = problems("userdb = 'no-such-userdb.txt'");
        assert_eq!(missing.len(), 1);
        assert!(
            missing[0].starts_with("credentials.userdb: ./no-such-userdb.txt: "),
            "{missing:?}"
        );
    }

    #[test]
    fn userdb_is_found_beside_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("userdb.txt"), "root:x:vizxv\n").unwrap();
        let table: toml::Table = toml::from_str("userdb = 'userdb.txt'").unwrap();
        let p = build(&table, dir.path()).unwrap();
        assert!(p.check(ip("192.0.2.1"), b"root", b"vizxv").is_accepted());
        assert_eq!(p.failure_delay(), Duration::from_millis(3000));
        assert!(!p.check(ip("192.0.2.1"), b"root", b"x").is_accepted());
        let counters = p.counters();
        assert_eq!((counters.accepted(), counters.refused()), (1, 1));
    }

    #[test]
    fn shipped_example_userdb_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/userdb.txt");
        let db = UserDb::load(&path).unwrap();
        assert!(!db.is_empty());
    }
}
