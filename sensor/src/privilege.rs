//! Dropping root after the listeners are bound and the store is open.
//!
//! Two supported ways to serve privileged ports (23, 80): start as root with `--user NAME` (this
//! module switches to that user's uid, gid and groups, and refuses to go on if it cannot), or run
//! unprivileged with `CAP_NET_BIND_SERVICE` (systemd `AmbientCapabilities=`, or `setcap`).

use nix::unistd::{Gid, Uid, User, getgid, getuid, setgid, setgroups, setuid};

use crate::SensorError;

/// Switches the whole process to `user` (uid, primary gid, no supplementary groups), then checks
/// that root cannot be regained. Needs root; a no-op error otherwise.
pub fn drop_to(user: &str) -> Result<(Uid, Gid), SensorError> {
    let fail = |reason: String| SensorError::Privileges {
        user: user.to_owned(),
        reason,
    };
    let entry = User::from_name(user)
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| fail("no such user".into()))?;
    if !getuid().is_root() {
        return Err(fail(format!(
            "only root can switch users (running as uid {})",
            getuid()
        )));
    }
    setgroups(&[entry.gid]).map_err(|e| fail(format!("setgroups: {e}")))?;
    setgid(entry.gid).map_err(|e| fail(format!("setgid: {e}")))?;
    setuid(entry.uid).map_err(|e| fail(format!("setuid: {e}")))?;
    if !entry.uid.is_root() && setuid(Uid::from_raw(0)).is_ok() {
        return Err(fail("root could be regained after dropping it".into()));
    }
    Ok((getuid(), getgid()))
}
