//! Limits every session lives under, and the admission gate that caps connections globally and
//! per source address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Limits in force for every connection (built from the `[limits]` table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once, all plug-ins together.
    pub max_connections: usize,
    /// Connections open at once from one source address (IPv6: one /64).
    pub max_connections_per_source: usize,
    /// A session with no input for this long is closed.
    pub idle_timeout: Duration,
    /// A session is closed after this long whatever it does.
    pub session_timeout: Duration,
    /// The longest line a line-oriented plug-in accepts.
    pub max_line_bytes: usize,
    /// The largest request (HTTP head plus body) or unconsumed input accepted.
    pub max_request_bytes: usize,
    /// Bytes read from one session at most.
    pub max_session_bytes: u64,
    /// The most bytes of unparseable input kept per raw record.
    pub max_raw_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 1024,
            max_connections_per_source: 32,
            idle_timeout: Duration::from_secs(60),
            session_timeout: Duration::from_secs(600),
            max_line_bytes: 1024,
            max_request_bytes: 64 * 1024,
            max_session_bytes: 1024 * 1024,
            max_raw_bytes: 4096,
        }
    }
}

/// Why a connection was refused at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `max_connections` reached.
    Total,
    /// `max_connections_per_source` reached for this address.
    PerSource,
}

impl Refusal {
    /// The close reason stored for the refused session.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Total => "limit: total connections",
            Refusal::PerSource => "limit: connections per source",
        }
    }
}

/// Counts open connections, globally and per source. The map only holds addresses with open
/// connections, so it is bounded by `max_connections`.
#[derive(Debug)]
pub struct Gate {
    max_total: usize,
    max_per_source: usize,
    open: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    total: usize,
    per_source: HashMap<IpAddr, usize>,
}

/// Proof of admission; releases the slot when dropped.
#[derive(Debug)]
pub struct Admission {
    gate: Arc<Gate>,
    source: IpAddr,
}

impl Gate {
    /// A gate for these limits.
    pub fn new(limits: &Limits) -> Arc<Gate> {
        Arc::new(Gate {
            max_total: limits.max_connections,
            max_per_source: limits.max_connections_per_source,
            open: Mutex::new(GateState::default()),
        })
    }

    /// Admits a connection from `source`, or says which limit refuses it. IPv6 sources are
    /// counted per /64: one host usually holds a whole /64 and could otherwise take a fresh
    /// allowance for every address in it.
    pub fn admit(self: &Arc<Gate>, source: IpAddr) -> Result<Admission, Refusal> {
        let source = source_key(source);
        let mut state = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if state.total >= self.max_total {
            return Err(Refusal::Total);
        }
        let count = state.per_source.entry(source).or_insert(0);
        if *count >= self.max_per_source {
            return Err(Refusal::PerSource);
        }
        *count += 1;
        state.total += 1;
        Ok(Admission {
            gate: self.clone(),
            source,
        })
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).total
    }
}

/// The address a source is counted under: IPv4 as it is, IPv6 cut to its /64 (IPv4-mapped
/// addresses as IPv4).
pub fn source_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut state = self.gate.open.lock().unwrap_or_else(|p| p.into_inner());
        state.total = state.total.saturating_sub(1);
        if let Some(count) = state.per_source.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                state.per_source.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_total_and_per_source_and_releases() {
        let gate = Gate::new(&Limits {
            max_connections: 3,
            max_connections_per_source: 2,
            ..Limits::default()
        });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let a1 = gate.admit(a).unwrap();
        let _a2 = gate.admit(a).unwrap();
        assert_eq!(gate.admit(a).unwrap_err(), Refusal::PerSource);
        let _b1 = gate.admit(b).unwrap();
        assert_eq!(gate.admit(b).unwrap_err(), Refusal::Total);
        drop(a1);
        assert_eq!(gate.open_connections(), 2);
        let _b2 = gate.admit(b).unwrap();
        assert_eq!(gate.open.lock().unwrap().per_source.len(), 2);
    }

    #[test]
    fn ipv6_sources_are_counted_per_64() {
        let gate = Gate::new(&Limits {
            max_connections: 10,
            max_connections_per_source: 2,
            ..Limits::default()
        });
        let _a = gate.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        let _b = gate.admit("2001:db8:1:2:ffff::9".parse().unwrap()).unwrap();
        assert_eq!(
            gate.admit("2001:db8:1:2::3".parse().unwrap()).unwrap_err(),
            Refusal::PerSource,
            "same /64"
        );
        assert!(
            gate.admit("2001:db8:1:3::1".parse().unwrap()).is_ok(),
            "another /64"
        );
        assert_eq!(
            source_key("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }
}
