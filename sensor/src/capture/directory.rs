//! Which session a captured SYN opened. The capture task and the accept loops meet here: the
//! SYN is usually fingerprinted before its connection is accepted, but not always (the two are
//! different tasks), so whichever side comes second gets the pair and records the fingerprint.
//! Both maps are bounded: live sessions by the sensor's connection limit, waiting
//! fingerprints by [`MAX_WAITING`] and [`WAIT`].

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fingerprint::p0f::SynFingerprint;

use crate::session::InstanceInfo;

/// A connection by its two ends, as the accept loop and the packet both see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// The attacker's address and port.
    pub peer: SocketAddr,
    /// The sensor's address and port.
    pub local: SocketAddr,
}

/// A live session, as the capture task needs it to record the SYN's fingerprint for it.
#[derive(Clone)]
pub struct SessionLink {
    /// The session's id (its `sessions` row).
    pub id: Arc<str>,
    /// Its instance.
    pub info: Arc<InstanceInfo>,
}

/// A fingerprint and the session it belongs to: record it.
pub struct Pairing {
    /// The SYN's fingerprint.
    pub fingerprint: Arc<SynFingerprint>,
    /// Its OS label, shared with every session of the same OS.
    pub os: Option<Arc<str>>,
    /// Its session.
    pub session: SessionLink,
    /// The connection.
    pub key: FlowKey,
}

/// How long a fingerprint waits for its session before it counts as one that opened none.
pub const WAIT: Duration = Duration::from_secs(3);
/// Fingerprints waiting at most; past it the oldest is handed out as sessionless.
pub const MAX_WAITING: usize = 4096;

/// What a live session knows of its SYN: not seen yet, or seen with the OS p0f named (the text
/// shared between sessions: one allocation per label, not per connection).
#[derive(Clone)]
enum Syn {
    Awaited,
    Seen(Option<Arc<str>>),
}

/// OS labels kept for sharing at most (a signature file has a few hundred).
const MAX_LABELS: usize = 1024;

#[derive(Default)]
struct Inner {
    sessions: HashMap<FlowKey, (SessionLink, Syn)>,
    /// The OS labels seen, shared by the sessions that carry them.
    labels: HashMap<Box<str>, Arc<str>>,
    /// Sessions that ended before their SYN was fingerprinted (a connection opened and closed
    /// at once), kept [`WAIT`] for it, oldest first.
    closed: HashMap<FlowKey, (Instant, SessionLink)>,
    /// `closed`'s keys, oldest first (an entry whose time no longer matches is stale).
    closed_order: VecDeque<(Instant, FlowKey)>,
    waiting: HashMap<FlowKey, (Instant, Arc<SynFingerprint>)>,
    /// `waiting`'s keys oldest first, with the time they were put there (an entry whose time
    /// no longer matches is stale: its key was taken or put again).
    order: VecDeque<(Instant, FlowKey)>,
}

impl Inner {
    /// The shared text of `fp`'s OS.
    fn label(&mut self, fp: &SynFingerprint) -> Syn {
        let Some(os) = fp.os.as_deref() else {
            return Syn::Seen(None);
        };
        if let Some(shared) = self.labels.get(os) {
            return Syn::Seen(Some(shared.clone()));
        }
        let shared: Arc<str> = Arc::from(os);
        if self.labels.len() < MAX_LABELS {
            self.labels.insert(Box::from(os), shared.clone());
        }
        Syn::Seen(Some(shared))
    }

    /// Drops the stale entries at the front of the two queues (their keys were taken), so that
    /// connections accepted in the order their SYNs came leave nothing behind.
    fn trim(&mut self) {
        while let Some(&(t, k)) = self.order.front() {
            if self.waiting.get(&k).is_some_and(|(at, _)| *at == t) {
                break;
            }
            self.order.pop_front();
        }
        while let Some(&(t, k)) = self.closed_order.front() {
            if self.closed.get(&k).is_some_and(|(at, _)| *at == t) {
                break;
            }
            self.closed_order.pop_front();
        }
    }

    /// Takes the oldest waiting fingerprint, skipping stale entries.
    fn pop_oldest(&mut self, before: Option<Instant>) -> Option<(FlowKey, Arc<SynFingerprint>)> {
        while let Some(&(t, key)) = self.order.front() {
            if before.is_some_and(|b| t >= b) {
                return None;
            }
            self.order.pop_front();
            if self.waiting.get(&key).is_some_and(|(at, _)| *at == t) {
                return self.waiting.remove(&key).map(|(_, fp)| (key, fp));
            }
        }
        None
    }
}

/// The meeting point, shared by the accept loops, the sessions (for the TCP OS of their
/// connection) and the capture task.
#[derive(Default)]
pub struct SessionDirectory {
    inner: Mutex<Inner>,
}

impl SessionDirectory {
    /// A session was accepted: the pairing if its SYN was fingerprinted already.
    pub fn session_opened(&self, key: FlowKey, link: SessionLink) -> Option<Pairing> {
        let mut inner = self.inner.lock().ok()?;
        let Some((_, fingerprint)) = inner.waiting.remove(&key) else {
            inner.sessions.insert(key, (link, Syn::Awaited));
            return None;
        };
        inner.trim();
        // Paired at once (the usual order): the session keeps the OS itself, and the directory
        // nothing, so that a live connection costs the directory no memory.
        let Syn::Seen(os) = inner.label(&fingerprint) else {
            return None;
        };
        Some(Pairing {
            fingerprint,
            os,
            session: link,
            key,
        })
    }

    /// A session ended at `now`. One whose SYN was not fingerprinted yet is kept [`WAIT`]
    /// longer for it.
    pub fn session_closed(&self, key: &FlowKey, now: Instant) {
        if let Ok(mut inner) = self.inner.lock()
            && let Some((link, Syn::Awaited)) = inner.sessions.remove(key)
        {
            while inner.closed.len() >= MAX_WAITING {
                let Some((t, k)) = inner.closed_order.pop_front() else {
                    break;
                };
                if inner.closed.get(&k).is_some_and(|(at, _)| *at == t) {
                    inner.closed.remove(&k);
                }
            }
            inner.closed.insert(*key, (now, link));
            inner.closed_order.push_back((now, *key));
        }
    }

    /// A SYN was fingerprinted at `now`: the pairing if its session is live already; otherwise
    /// it waits (and what [`MAX_WAITING`] pushes out is returned in `evicted`).
    pub fn syn_seen(
        &self,
        key: FlowKey,
        fingerprint: Arc<SynFingerprint>,
        now: Instant,
        evicted: &mut Vec<(FlowKey, Arc<SynFingerprint>)>,
    ) -> Option<Pairing> {
        let mut inner = self.inner.lock().ok()?;
        if let Some((link, Syn::Awaited)) = inner.sessions.get(&key) {
            let link = link.clone();
            let syn = inner.label(&fingerprint);
            inner.sessions.insert(key, (link.clone(), syn.clone()));
            let os = match syn {
                Syn::Seen(os) => os,
                Syn::Awaited => None,
            };
            return Some(Pairing {
                fingerprint,
                os,
                session: link,
                key,
            });
        }
        if inner.sessions.contains_key(&key) {
            // A retransmitted SYN of a session already fingerprinted.
            return None;
        }
        if let Some((_, link)) = inner.closed.remove(&key) {
            inner.trim();
            return Some(Pairing {
                fingerprint,
                os: None,
                session: link,
                key,
            });
        }
        if inner.waiting.len() >= MAX_WAITING
            && !inner.waiting.contains_key(&key)
            && let Some(oldest) = inner.pop_oldest(None)
        {
            evicted.push(oldest);
        }
        // Stale entries (taken by their sessions) are dropped as the queue turns over; this
        // bounds what they can add.
        if inner.order.len() >= 2 * MAX_WAITING {
            let Inner { waiting, order, .. } = &mut *inner;
            order.retain(|(t, k)| waiting.get(k).is_some_and(|(at, _)| at == t));
        }
        inner.order.push_back((now, key));
        inner.waiting.insert(key, (now, fingerprint));
        None
    }

    /// Fingerprints that waited [`WAIT`] for a session in vain: their SYNs opened none.
    pub fn expire(&self, now: Instant, out: &mut Vec<(FlowKey, Arc<SynFingerprint>)>) {
        let Some(before) = now.checked_sub(WAIT) else {
            return;
        };
        if let Ok(mut inner) = self.inner.lock() {
            while let Some(done) = inner.pop_oldest(Some(before)) {
                out.push(done);
            }
            while let Some(&(t, k)) = inner.closed_order.front() {
                if t >= before {
                    break;
                }
                inner.closed_order.pop_front();
                if inner.closed.get(&k).is_some_and(|(at, _)| *at == t) {
                    inner.closed.remove(&k);
                }
            }
        }
    }

    /// True while this connection's session is live and its SYN not yet fingerprinted.
    pub fn awaits_fingerprint(&self, key: &FlowKey) -> bool {
        self.inner
            .lock()
            .map(|i| matches!(i.sessions.get(key), Some((_, Syn::Awaited))))
            .unwrap_or(false)
    }

    /// The OS p0f named for the SYN of this connection, once known.
    pub fn tcp_os(&self, key: &FlowKey) -> Option<String> {
        let inner = self.inner.lock().ok()?;
        match inner.sessions.get(key)? {
            (_, Syn::Seen(Some(os))) => Some(os.to_string()),
            _ => None,
        }
    }

    /// Sessions waiting for their SYN, and fingerprints waiting for their session (the
    /// latter is `recce7_capture_tracked{state="fingerprint"}`).
    pub fn sizes(&self) -> (usize, usize) {
        self.inner
            .lock()
            .map(|i| (i.sessions.len(), i.waiting.len()))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fingerprint::p0f::MatchQuality;

    fn key(port: u16) -> FlowKey {
        FlowKey {
            peer: SocketAddr::from(([203, 0, 113, 7], port)),
            local: SocketAddr::from(([192, 0, 2, 1], 23)),
        }
    }

    fn link(id: &str) -> SessionLink {
        SessionLink {
            id: Arc::from(id),
            info: Arc::new(InstanceInfo {
                sensor: Arc::from("s"),
                plugin: Arc::from("telnet"),
                protocol: Arc::from("telnet"),
                table: Arc::from("telnet"),
                lost: Arc::default(),
                persona: Default::default(),
            }),
        }
    }

    fn fp(os: &str) -> Arc<SynFingerprint> {
        Arc::new(SynFingerprint {
            raw_signature: "4:64+0:0:1460:mss*44,7:mss,sok,ts,nop,ws:df,id+:0".into(),
            os: Some(os.into()),
            os_class: Some("unix".into()),
            quality: MatchQuality::Exact,
            distance: 0,
        })
    }

    #[test]
    fn whichever_comes_second_pairs_them() {
        let d = SessionDirectory::default();
        let t0 = Instant::now();
        let mut evicted = Vec::new();
        // The SYN first (the usual order), then the session.
        assert!(d.syn_seen(key(1), fp("Linux"), t0, &mut evicted).is_none());
        let p = d
            .session_opened(key(1), link("a"))
            .expect("paired at accept");
        assert_eq!(&*p.session.id, "a");
        assert_eq!(p.os.as_deref(), Some("Linux"), "the session keeps it");
        assert!(!d.awaits_fingerprint(&key(1)));
        assert_eq!(
            d.sizes(),
            (0, 0),
            "nothing held for a session paired at once"
        );
        // The session first, then the SYN.
        assert!(d.session_opened(key(2), link("b")).is_none());
        assert!(d.awaits_fingerprint(&key(2)));
        let p = d
            .syn_seen(key(2), fp("Windows"), t0, &mut evicted)
            .expect("paired at the SYN");
        assert_eq!(&*p.session.id, "b");
        assert_eq!(p.os.as_deref(), Some("Windows"));
        assert_eq!(d.tcp_os(&key(2)).as_deref(), Some("Windows"));
        assert_eq!(d.tcp_os(&key(2)).as_deref(), Some("Windows"));
        // A retransmitted SYN of a paired session is not recorded twice.
        assert!(
            d.syn_seen(key(2), fp("Windows"), t0, &mut evicted)
                .is_none()
        );
        assert!(evicted.is_empty());
    }

    #[test]
    fn a_session_closed_before_its_syn_was_seen_still_gets_it_within_the_wait() {
        let d = SessionDirectory::default();
        let t0 = Instant::now();
        let mut evicted = Vec::new();
        d.session_opened(key(1), link("quick"));
        d.session_closed(&key(1), t0);
        let p = d
            .syn_seen(
                key(1),
                fp("Linux"),
                t0 + Duration::from_millis(10),
                &mut evicted,
            )
            .expect("the closed session is remembered");
        assert_eq!(&*p.session.id, "quick");
        // Past the wait it is forgotten: a later SYN on the same ports waits as sessionless.
        d.session_opened(key(2), link("gone"));
        d.session_closed(&key(2), t0);
        let mut expired = Vec::new();
        d.expire(t0 + WAIT + Duration::from_millis(1), &mut expired);
        assert!(
            d.syn_seen(key(2), fp("Linux"), t0 + WAIT * 2, &mut evicted)
                .is_none()
        );
        assert_eq!(d.sizes(), (0, 1));
    }

    #[test]
    fn fingerprints_wait_a_bounded_time_and_number() {
        let d = SessionDirectory::default();
        let t0 = Instant::now();
        let mut evicted = Vec::new();
        for port in 0..(MAX_WAITING as u16 + 10) {
            d.syn_seen(key(port), fp("Linux"), t0, &mut evicted);
        }
        assert_eq!(d.sizes().1, MAX_WAITING);
        assert_eq!(evicted.len(), 10, "the oldest are handed out");
        assert_eq!(evicted[0].0, key(0));
        let mut expired = Vec::new();
        d.expire(t0 + WAIT / 2, &mut expired);
        assert!(expired.is_empty(), "not yet");
        d.expire(t0 + WAIT + Duration::from_millis(1), &mut expired);
        assert_eq!(expired.len(), MAX_WAITING);
        assert_eq!(d.sizes(), (0, 0));
    }
}
