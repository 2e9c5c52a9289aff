//! The install's SSH host key: generated on first start, kept in a file beside the sensor's
//! database (mode 0600), and the same on every later start, as a real device's is.
//!
//! ECDSA on NIST P-256 only, one of the host keys Dropbear 2020.81 (the persona's daemon) offers.
//! An ECDSA key is generated in milliseconds on a Pi Zero, where a 2048-bit RSA key takes tens
//! of seconds and would need the `rsa` crate in the binary.

use std::io::Write;
use std::path::{Path, PathBuf};

use russh::keys::{Algorithm, EcdsaCurve, PrivateKey};

/// The key file's name in the database's directory.
pub const FILE_NAME: &str = "ssh_host_ecdsa_key";

/// Why the host key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum HostKeyError {
    /// The file exists and cannot be read.
    #[error("cannot read the SSH host key {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not an OpenSSH private key.
    #[error("the SSH host key {path} is not an OpenSSH private key: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A new key could not be generated or written.
    #[error("cannot create the SSH host key {path}: {reason}")]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The key in `path`, or a new one written there when the file does not exist.
pub fn load_or_create(path: &Path) -> Result<PrivateKey, HostKeyError> {
    match std::fs::read(path) {
        Ok(text) => PrivateKey::from_openssh(&text).map_err(|e| HostKeyError::Parse {
            path: path.to_owned(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(source) => Err(HostKeyError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

fn create(path: &Path) -> Result<PrivateKey, HostKeyError> {
    let fail = |reason: String| HostKeyError::Create {
        path: path.to_owned(),
        reason,
    };
    // The OS's generator (getrandom(2)); it fails only on kernels older than any the sensor
    // supports, where UnwrapErr would stop the sensor rather than make a weak key.
    let key = PrivateKey::random(
        &mut getrandom::rand_core::UnwrapErr(getrandom::SysRng),
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP256,
        },
    )
    .map_err(|e| fail(e.to_string()))?;
    let text = key
        .to_openssh(russh::keys::ssh_key::LineEnding::LF)
        .map_err(|e| fail(e.to_string()))?;
    // Written beside, then renamed: a crash never leaves half a key.
    let tmp = path.with_extension("tmp");
    let written = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    written.map_err(|e| fail(e.to_string()))?;
    Ok(key)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_created_once_with_mode_0600_and_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let first = load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(&path).unwrap();
        assert_eq!(first.public_key(), again.public_key());
        assert_eq!(
            first.algorithm(),
            Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256
            }
        );
        std::fs::write(&path, "junk").unwrap();
        assert!(matches!(
            load_or_create(&path),
            Err(HostKeyError::Parse { .. })
        ));
    }
}
