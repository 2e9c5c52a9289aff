//! The login decision, behind one trait so that the credential policy (shared with telnet)
//! plugs in without the SSH plug-in changing.

/// How a client tried to log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `password`.
    Password,
    /// `keyboard-interactive` (one prompt, answered with the password).
    KeyboardInteractive,
    /// `publickey` (recorded, always refused: the device holds no key of the attacker's).
    PublicKey,
}

impl Method {
    /// The method's SSH name, as recorded in `ssh.login`'s `method`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Password => "password",
            Method::KeyboardInteractive => "keyboard-interactive",
            Method::PublicKey => "publickey",
        }
    }
}

/// Decides whether a username and password log in.
pub trait LoginDecision: Send + Sync + std::fmt::Debug {
    /// True when `password` logs `user` in from `peer`.
    fn accept(&self, peer: std::net::IpAddr, user: &[u8], password: &[u8]) -> bool;
}

/// The credential policy shared with telnet ([`crate::credentials`]) decides SSH logins.
impl LoginDecision for crate::credentials::CredentialPolicy {
    fn accept(&self, peer: std::net::IpAddr, user: &[u8], password: &[u8]) -> bool {
        self.check(peer, user, password) == crate::credentials::LoginOutcome::Accepted
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_decides_and_remembers() {
        let table: toml::Table = toml::from_str("accept_after = [1, 1]").unwrap();
        let policy = crate::credentials::build(&table, std::path::Path::new(".")).unwrap();
        let peer = std::net::IpAddr::from([127, 0, 0, 1]);
        assert!(!policy.accept(peer, b"root", b""), "the empty password");
        assert!(
            !policy.accept(peer, b"root", b"123456"),
            "the first is refused"
        );
        assert!(policy.accept(peer, b"root", b"xc3511"));
        assert!(policy.accept(peer, b"root", b"xc3511"), "and keeps working");
        assert!(
            !policy.accept(peer, b"root", b"123456"),
            "and keeps failing"
        );
    }
}
