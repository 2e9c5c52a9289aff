//! The file a download is unpacked into: created beside the database (so the final rename stays
//! on one file system and is atomic), under a fresh name that no one else holds (`O_EXCL`, so a
//! planted file or symlink is never written through), removed again unless it is installed.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A partial download in the database's folder; removed on drop unless [`PartFile::install`]ed.
#[derive(Debug)]
pub struct PartFile {
    path: PathBuf,
    file: File,
    installed: bool,
}

impl PartFile {
    /// Creates `.dbip-city-lite.<unique>.part` in `dir`, readable only by its owner until it
    /// is installed.
    pub fn create_in(dir: &Path) -> io::Result<PartFile> {
        let path = dir.join(format!(".dbip-city-lite.{}.part", store::new_id()));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        Ok(PartFile {
            path,
            file,
            installed: false,
        })
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file, to write into.
    pub fn file_mut(&mut self) -> &mut File {
        &mut self.file
    }

    /// Makes it readable by every role (the data is public), syncs it, renames it over
    /// `target` and syncs the folder, so that the rename survives a power cut.
    pub fn install(mut self, target: &Path) -> io::Result<()> {
        self.file
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
        self.file.sync_all()?;
        std::fs::rename(&self.path, target)?;
        self.installed = true;
        if let Some(dir) = target.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.installed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_part_is_removed_unless_installed() {
        let dir = tempfile::tempdir().unwrap();
        let part = PartFile::create_in(dir.path()).unwrap();
        assert_eq!(
            std::fs::metadata(part.path()).unwrap().permissions().mode() & 0o777,
            0o600
        );
        drop(part);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let target = dir.path().join("city.mmdb");
        std::fs::write(&target, b"old").unwrap();
        let mut part = PartFile::create_in(dir.path()).unwrap();
        part.file_mut().write_all(b"new").unwrap();
        part.install(&target).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(
            std::fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
