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

/// Until the credential policy is plugged in: the empty password is refused, any other
/// accepted.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnyNonEmpty;

impl LoginDecision for AnyNonEmpty {
    fn accept(&self, _peer: std::net::IpAddr, _user: &[u8], password: &[u8]) -> bool {
        !password.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_empty_password_is_refused() {
        let peer = std::net::IpAddr::from([127, 0, 0, 1]);
        assert!(!AnyNonEmpty.accept(peer, b"root", b""));
        assert!(AnyNonEmpty.accept(peer, b"root", b"xc3511"));
    }
}
