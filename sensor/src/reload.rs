//! Reloading a running sensor's configuration (SIGHUP, `systemctl reload`): the plug-in
//! instances change without a restart, and everything else waits for one.
//!
//! A reload is all or nothing. The new configuration was validated before it gets here (an
//! invalid file never reaches [`SensorControl::reload`]); then every port the new instances need
//! and the sensor does not hold yet is bound, and the store creates or migrates their tables.
//! Only when both succeeded does anything change:
//! - a listener whose port no instance uses any more stops accepting (removed instances);
//! - a listener whose port is still used serves the instance that now has it, rebuilt from the
//!   new file (changed options, a changed script), for new connections only;
//! - new ports start accepting.
//!
//! Live sessions are never touched: each holds the plug-in it started with, and records into
//! the table its instance had when it started (the store keeps a removed instance's table
//! routed). Settings outside `[[plugin]]` (the database, `[limits]`, `[hpfeeds]`, ...) are
//! reported as needing a restart and keep their running values.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::SensorError;
use crate::config::{Instance, ValidConfig};
use crate::session::InstanceInfo;

/// Where a listener was asked to listen: an address of `[sensor] listen` (none: every
/// address) and an instance's port. Listeners are kept by this key, so that a port passed from
/// one instance to another keeps its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct BindKey {
    /// The configured address; `None` for all addresses.
    pub ip: Option<IpAddr>,
    /// The port.
    pub port: u16,
}

impl BindKey {
    /// The keys of `port` on the configured addresses (`listen` empty: all addresses).
    pub(crate) fn all(listen: &[IpAddr], port: u16) -> Vec<BindKey> {
        if listen.is_empty() {
            vec![BindKey { ip: None, port }]
        } else {
            listen
                .iter()
                .map(|ip| BindKey {
                    ip: Some(*ip),
                    port,
                })
                .collect()
        }
    }
}

/// What a listener serves: an instance and what its sessions share. A reload replaces it for
/// new connections.
pub(crate) struct Served {
    /// The instance.
    pub instance: Instance,
    /// Its sessions' shared info.
    pub info: Arc<InstanceInfo>,
}

/// A running listener: how to stop it and how to change what it serves.
pub(crate) struct ListenerSlot {
    /// Stops its accept loop (and closes the socket); sessions go on.
    pub stop: CancellationToken,
    /// What it serves.
    pub served: watch::Sender<Arc<Served>>,
}

/// The running listeners, by key.
pub(crate) type Slots = HashMap<BindKey, ListenerSlot>;

/// The outcome of a reload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    /// Instances new in the file, with their ports.
    pub added: Vec<(String, u16)>,
    /// Instances no longer in the file (or disabled): their ports closed.
    pub removed: Vec<String>,
    /// Instances in both: rebuilt from the file, for new connections.
    pub reloaded: Vec<String>,
    /// Settings that changed but apply only after a restart (`sensor.database`, `limits`, ...).
    pub needs_restart: Vec<&'static str>,
}

impl fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |names: Vec<String>| {
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        };
        write!(
            f,
            "configuration reloaded: added {}; removed {}; reloaded {}",
            list(
                self.added
                    .iter()
                    .map(|(name, port)| format!("{name} (port {port})"))
                    .collect()
            ),
            list(self.removed.clone()),
            list(self.reloaded.clone()),
        )?;
        if !self.needs_restart.is_empty() {
            write!(
                f,
                "; changed but kept until a restart: {}",
                self.needs_restart.join(", ")
            )?;
        }
        Ok(())
    }
}

/// A request to the running sensor.
pub(crate) struct ReloadRequest {
    /// The validated new configuration.
    pub config: Box<ValidConfig>,
    /// Where the outcome goes.
    pub reply: oneshot::Sender<Result<ReloadReport, SensorError>>,
}

/// Reloads applied and refused, for `/metrics`.
#[derive(Debug, Default)]
pub struct ReloadCounters {
    /// Reloads that changed the running configuration.
    pub applied: AtomicU64,
    /// Reloads refused: a file with problems, a port that cannot be bound, a failed migration.
    pub refused: AtomicU64,
}

/// A handle on a running sensor that reloads its configuration ([`crate::Sensor::control`]).
#[derive(Clone)]
pub struct SensorControl {
    pub(crate) tx: mpsc::Sender<ReloadRequest>,
    pub(crate) counters: Arc<ReloadCounters>,
}

impl SensorControl {
    /// Applies a validated configuration to the running sensor (see the module's doc): all or
    /// nothing. An error (a port that cannot be bound, a table that cannot be migrated) leaves
    /// the running configuration as it was.
    pub async fn reload(&self, config: ValidConfig) -> Result<ReloadReport, SensorError> {
        let (reply, answer) = oneshot::channel();
        let outcome = match self
            .tx
            .send(ReloadRequest {
                config: Box::new(config),
                reply,
            })
            .await
        {
            Ok(()) => answer.await.unwrap_or_else(|_| Err(stopped())),
            Err(_) => Err(stopped()),
        };
        match &outcome {
            Ok(_) => self.counters.applied.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.counters.refused.fetch_add(1, Ordering::Relaxed),
        };
        outcome
    }

    /// Counts a reload refused before it reached the sensor (a file with problems).
    pub fn refused(&self) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
    }
}

fn stopped() -> SensorError {
    SensorError::Io(std::io::Error::other("the sensor has stopped"))
}

/// The settings outside `[[plugin]]` that differ between the running and the new
/// configuration, by their keys: they keep their running values until a restart.
pub(crate) fn needs_restart(running: &ValidConfig, new: &ValidConfig) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let mut check = |key: &'static str, same: bool| {
        if !same {
            changed.push(key);
        }
    };
    check("sensor.name", running.name == new.name);
    check("sensor.listen", running.listen == new.listen);
    check("sensor.database", running.database == new.database);
    check("sensor.log_level", running.log_level == new.log_level);
    check(
        "sensor.queue_capacity",
        running.queue_capacity == new.queue_capacity,
    );
    check(
        "sensor.shutdown_grace_secs",
        running.shutdown_grace == new.shutdown_grace,
    );
    check("sensor.geoip", running.geoip == new.geoip);
    check(
        "sensor.geoip_check_secs",
        running.geoip_check_secs == new.geoip_check_secs,
    );
    check(
        "sensor.metrics_listen",
        running.metrics_listen == new.metrics_listen,
    );
    check("limits", running.limits == new.limits);
    check("hpfeeds", running.hpfeeds == new.hpfeeds);
    check("retention", running.retention == new.retention);
    check("capture", running.capture == new.capture);
    changed
}

/// What a reload does with the instances: which are added, removed and kept (by name), in file
/// order.
pub(crate) fn plan(running: &[Instance], new: &[Instance]) -> ReloadReport {
    let added = new
        .iter()
        .filter(|n| !running.iter().any(|r| r.name == n.name))
        .map(|n| (n.name.clone(), n.port))
        .collect();
    let removed = running
        .iter()
        .filter(|r| !new.iter().any(|n| n.name == r.name))
        .map(|r| r.name.clone())
        .collect();
    let reloaded = new
        .iter()
        .filter(|n| running.iter().any(|r| r.name == n.name))
        .map(|n| n.name.clone())
        .collect();
    ReloadReport {
        added,
        removed,
        reloaded,
        needs_restart: Vec::new(),
    }
}

/// A listening socket bound at start-up or by a reload, for instance `instance`.
pub(crate) struct BoundListener {
    /// The index of its instance in the configuration.
    pub instance: usize,
    /// Its key.
    pub key: BindKey,
    /// The socket.
    pub listener: std::net::TcpListener,
    /// The address it is bound to.
    pub addr: SocketAddr,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> ValidConfig {
        crate::config::parse(text, "t.toml").expect("a valid config")
    }

    const BASE: &str = "[sensor]\ndatabase = \"x.sqlite\"\n";

    fn banner(name: &str, port: u16) -> String {
        format!(
            "\n[[plugin]]\nname = \"{name}\"\nkind = \"banner\"\nport = {port}\ntable = \"{name}\"\n"
        )
    }

    #[test]
    fn the_plan_names_added_removed_and_reloaded_instances_in_file_order() {
        let running = config(&format!("{BASE}{}{}", banner("a", 2001), banner("b", 2002)));
        let new = config(&format!("{BASE}{}{}", banner("c", 2002), banner("a", 2003)));
        let report = plan(&running.instances, &new.instances);
        assert_eq!(report.added, vec![("c".to_string(), 2002)]);
        assert_eq!(report.removed, vec!["b".to_string()]);
        assert_eq!(report.reloaded, vec!["a".to_string()]);
        assert_eq!(
            report.to_string(),
            "configuration reloaded: added c (port 2002); removed b; reloaded a"
        );
    }

    #[test]
    fn settings_outside_the_plugins_are_reported_as_needing_a_restart() {
        let running = config(&format!("{BASE}{}", banner("a", 2001)));
        let same = config(&format!("{BASE}{}", banner("a", 2005)));
        assert!(needs_restart(&running, &same).is_empty());
        let new = config(&format!(
            "[sensor]\ndatabase = \"y.sqlite\"\nname = \"other\"\n[limits]\nmax_connections = 700\n{}",
            banner("a", 2001)
        ));
        assert_eq!(
            needs_restart(&running, &new),
            ["sensor.name", "sensor.database", "limits"]
        );
        let mut report = plan(&running.instances, &new.instances);
        report.needs_restart = needs_restart(&running, &new);
        assert!(
            report.to_string().ends_with(
                "; changed but kept until a restart: sensor.name, sensor.database, limits"
            ),
            "{report}"
        );
    }

    #[test]
    fn listeners_are_keyed_by_configured_address_and_port() {
        assert_eq!(BindKey::all(&[], 23), vec![BindKey { ip: None, port: 23 }]);
        let ips: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
        assert_eq!(BindKey::all(&ips, 23).len(), 2);
    }
}
