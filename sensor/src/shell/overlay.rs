//! The session's writable overlay, accounted: every byte a session writes counts against its
//! own cap ([`MAX_FILE_SIZE`], a small tmpfs) and against a budget shared by all sessions
//! ([`OverlayBudget`]); past either, writes fail as tmpfs fails them (`No space left on
//! device`). What a session writes is intelligence: each file's settled content is reported
//! once ([`WrittenFile`]) and each URL named to a download tool ([`DownloadAttempt`]).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use sha2::{Digest, Sha256};

use super::fs::SessionEntry;
use super::{MAX_FILE_SIZE, Shell};

/// Most bytes of a written file kept in its [`WrittenFile::data`].
pub const MAX_RECORDED_BYTES: usize = 256 * 1024;
/// The process-wide budget's default size: 32 MiB of session files across all sessions.
pub const DEFAULT_BUDGET: usize = 32 * 1024 * 1024;
/// Most distinct contents remembered per session, so the same bytes copied around are
/// reported once.
const MAX_SEEN: usize = 128;

/// Bytes of session files all sessions may hold together, shared through an [`Arc`].
#[derive(Debug)]
pub struct OverlayBudget {
    used: AtomicUsize,
    cap: usize,
}

static SHARED: LazyLock<Arc<OverlayBudget>> =
    LazyLock::new(|| Arc::new(OverlayBudget::new(DEFAULT_BUDGET)));

impl OverlayBudget {
    /// A budget of `cap` bytes.
    pub fn new(cap: usize) -> OverlayBudget {
        OverlayBudget {
            used: AtomicUsize::new(0),
            cap,
        }
    }

    /// The process-wide budget every [`Shell`] uses unless given another (32 MiB).
    pub fn shared() -> Arc<OverlayBudget> {
        Arc::clone(&SHARED)
    }

    /// Bytes held now by all sessions.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Takes up to `want` bytes; returns how many were granted.
    fn take(&self, want: usize) -> usize {
        let mut granted = 0;
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                granted = want.min(self.cap.saturating_sub(used));
                Some(used + granted)
            });
        granted
    }

    fn give_back(&self, bytes: usize) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                Some(used.saturating_sub(bytes))
            });
    }
}

/// A file the session wrote, as it settled (when it was run, `chmod`ed, copied, moved,
/// removed or overwritten, or when the session ended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    /// Where it was written, absolute.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// The SHA-256 of all its bytes, lower-case hex.
    pub sha256: String,
    /// Its first bytes, at most [`MAX_RECORDED_BYTES`].
    pub data: Vec<u8>,
    /// `data` is not the whole file.
    pub truncated: bool,
    /// How it was written: `redirect` (`>`, `>>`), `cp`, `mv`, ...
    pub via: String,
}

/// A URL named to a download tool: recorded, never fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadAttempt {
    /// The URL as named (`tftp` and `ftpget` arguments are put in URL form).
    pub url: String,
    /// The tool: `wget`, `curl`, `tftp`, `ftpget`, ...
    pub command: String,
}

/// Lower-case hex SHA-256 of `data`.
pub(super) fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut hex = String::with_capacity(64);
    for b in digest.iter() {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

impl Shell {
    /// Grants up to `want` more bytes of session files: what the session's cap and the
    /// shared budget both allow.
    pub(super) fn charge(&mut self, want: usize) -> usize {
        let room = MAX_FILE_SIZE.saturating_sub(self.used).min(want);
        let granted = self.budget.take(room);
        self.used += granted;
        granted
    }

    /// Gives back bytes of session files.
    pub(super) fn release(&mut self, bytes: usize) {
        let bytes = bytes.min(self.used);
        self.used -= bytes;
        self.budget.give_back(bytes);
    }

    /// Gives back everything the session holds (at its end).
    pub(super) fn release_all(&mut self) {
        let used = self.used;
        self.release(used);
    }

    /// Reports the file at `path` if its content changed since it was last reported.
    pub(super) fn report_file(&mut self, path: &str) {
        let Some(SessionEntry::File {
            data, dirty, via, ..
        }) = self.files.get_mut(path)
        else {
            return;
        };
        if !*dirty {
            return;
        }
        *dirty = false;
        if data.is_empty() {
            return;
        }
        let sha256 = sha256_hex(data);
        if self.seen.contains(&sha256) {
            return;
        }
        let file = WrittenFile {
            path: path.to_string(),
            size: data.len() as u64,
            data: data.get(..MAX_RECORDED_BYTES).unwrap_or(data).to_vec(),
            truncated: data.len() > MAX_RECORDED_BYTES,
            via: (*via).to_string(),
            sha256: sha256.clone(),
        };
        if self.seen.len() < MAX_SEEN {
            self.seen.push(sha256);
        }
        self.found_files.push(file);
    }

    /// Reports every file not reported in its current content.
    pub(super) fn report_all(&mut self, _why: &str) {
        let dirty: Vec<String> = self
            .files
            .iter()
            .filter(|(_, e)| matches!(e, SessionEntry::File { dirty: true, .. }))
            .map(|(p, _)| p.clone())
            .collect();
        for path in dirty {
            self.report_file(&path);
        }
    }

    /// Removes a session file or directory: its content is reported first, its bytes given
    /// back.
    pub(super) fn remove_entry(&mut self, path: &str) {
        self.report_file(path);
        if let Some(SessionEntry::File { data, .. }) = self.files.remove(path) {
            self.release(data.len());
        }
    }

    /// Records a URL named to a download tool (bounded per line).
    pub(super) fn note_download(&mut self, command: &str, url: &str) {
        if self.found_downloads.len() < super::MAX_COMMANDS {
            self.found_downloads.push(DownloadAttempt {
                url: url.chars().take(2048).collect(),
                command: command.to_string(),
            });
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        self.release_all();
    }
}
