//! A minimal SFTP (version 3) server for uploads, as a pure state machine: enough of the
//! protocol for OpenSSH's `sftp put` and `scp` (which speaks SFTP by default since OpenSSH 9) to
//! upload a file, which is recorded as a [`Written`] and never stored. Directories are those of
//! the device's usual layout; reads of files the client did not upload fail with "No such file".
//! Every buffer is bounded.

use sha2::{Digest, Sha256};

use super::scp::{MAX_FILES, Written};

/// Largest packet accepted (OpenSSH writes 32 KiB chunks, plus headers).
const MAX_PACKET: usize = 64 * 1024 + 1024;

/// Files open for writing at once.
const MAX_OPEN: usize = 4;

const INIT: u8 = 1;
const VERSION: u8 = 2;
const OPEN: u8 = 3;
const CLOSE: u8 = 4;
const WRITE: u8 = 6;
const LSTAT: u8 = 7;
const FSTAT: u8 = 8;
const SETSTAT: u8 = 9;
const FSETSTAT: u8 = 10;
const MKDIR: u8 = 14;
const REALPATH: u8 = 16;
const STAT: u8 = 17;
const STATUS: u8 = 101;
const HANDLE: u8 = 102;
const NAME: u8 = 104;
const ATTRS: u8 = 105;

const OK: u32 = 0;
const NO_SUCH_FILE: u32 = 2;
const FAILURE: u32 = 4;
const BAD_MESSAGE: u32 = 5;
const OP_UNSUPPORTED: u32 = 8;

/// `SSH_FXF_WRITE`.
const FXF_WRITE: u32 = 0x2;

/// Directories that exist on the device (where uploads land).
const DIRS: &[&str] = &[
    "/", "/tmp", "/var", "/var/tmp", "/root", "/home", "/mnt", "/dev/shm",
];

/// A file being uploaded.
struct Upload {
    path: Vec<u8>,
    size: u64,
    sha: Box<Sha256>,
    kept: Vec<u8>,
}

/// One SFTP session.
pub struct SftpServer {
    buf: Vec<u8>,
    open: Vec<Option<Upload>>,
    files: usize,
    cap: usize,
    home: String,
    failed: bool,
}

/// Reads SFTP's big-endian fields from a packet.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.0.split_at_checked(4)?;
        self.0 = rest;
        Some(u32::from_be_bytes([head[0], head[1], head[2], head[3]]))
    }

    fn u64(&mut self) -> Option<u64> {
        let high = u64::from(self.u32()?);
        let low = u64::from(self.u32()?);
        Some(high << 32 | low)
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        let (s, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(s)
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_u32(out, u32::try_from(s.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(s);
}

/// Appends one packet (`length, type, body`).
fn packet(out: &mut Vec<u8>, kind: u8, body: &[u8]) {
    put_u32(out, u32::try_from(body.len() + 1).unwrap_or(u32::MAX));
    out.push(kind);
    out.extend_from_slice(body);
}

fn status(out: &mut Vec<u8>, id: u32, code: u32, message: &str) {
    let mut body = Vec::new();
    put_u32(&mut body, id);
    put_u32(&mut body, code);
    put_string(&mut body, message.as_bytes());
    put_string(&mut body, b"");
    packet(out, STATUS, &body);
}

/// Attributes: size, uid/gid 0, permissions, times.
fn attrs(body: &mut Vec<u8>, size: u64, mode: u32) {
    put_u32(body, 0x1 | 0x2 | 0x4 | 0x8);
    body.extend_from_slice(&size.to_be_bytes());
    put_u32(body, 0);
    put_u32(body, 0);
    put_u32(body, mode);
    put_u32(body, 1_489_029_519);
    put_u32(body, 1_489_029_519);
}

impl SftpServer {
    /// A server for a user whose home is `home`; `cap`: bytes kept of each file.
    pub fn new(home: &str, cap: usize) -> SftpServer {
        SftpServer {
            buf: Vec::new(),
            open: Vec::new(),
            files: 0,
            cap,
            home: home.to_owned(),
            failed: false,
        }
    }

    /// True once the client broke the protocol (the channel should close).
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Feeds the client's bytes; appends answers to `out` and closed uploads to `written`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>, written: &mut Vec<Written>) {
        if self.failed {
            return;
        }
        self.buf.extend_from_slice(input);
        loop {
            let Some(len) = self.buf.get(..4) else {
                return;
            };
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            if len == 0 || len > MAX_PACKET {
                self.failed = true;
                self.buf = Vec::new();
                return;
            }
            if self.buf.len() < 4 + len {
                return;
            }
            let rest = self.buf.split_off(4 + len);
            let packet = std::mem::replace(&mut self.buf, rest);
            let body = packet.get(4..).unwrap_or_default();
            if let Some((&kind, body)) = body.split_first() {
                self.request(kind, body, out, written);
            }
        }
    }

    /// The absolute path a client's path names.
    fn absolute(&self, path: &[u8]) -> Vec<u8> {
        let path = String::from_utf8_lossy(path);
        let joined = if path.starts_with('/') {
            path.into_owned()
        } else if path.is_empty() || path == "." {
            self.home.clone()
        } else {
            format!("{}/{path}", self.home)
        };
        let mut parts: Vec<&str> = Vec::new();
        for part in joined.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        format!("/{}", parts.join("/")).into_bytes()
    }

    fn request(&mut self, kind: u8, body: &[u8], out: &mut Vec<u8>, written: &mut Vec<Written>) {
        let mut r = Reader(body);
        if kind == INIT {
            let mut reply = Vec::new();
            put_u32(&mut reply, 3);
            packet(out, VERSION, &reply);
            return;
        }
        let Some(id) = r.u32() else {
            self.failed = true;
            return;
        };
        let bad = |out: &mut Vec<u8>| status(out, id, BAD_MESSAGE, "Bad message");
        match kind {
            REALPATH => {
                let Some(path) = r.string() else {
                    return bad(out);
                };
                let path = self.absolute(path);
                let mut reply = Vec::new();
                put_u32(&mut reply, id);
                put_u32(&mut reply, 1);
                put_string(&mut reply, &path);
                put_string(&mut reply, &path);
                put_u32(&mut reply, 0);
                packet(out, NAME, &reply);
            }
            STAT | LSTAT => {
                let Some(path) = r.string() else {
                    return bad(out);
                };
                let path = self.absolute(path);
                let is_dir = DIRS.iter().any(|d| d.as_bytes() == path.as_slice())
                    || path == self.home.as_bytes();
                if is_dir {
                    let mut reply = Vec::new();
                    put_u32(&mut reply, id);
                    attrs(&mut reply, 0, 0o040_755);
                    packet(out, ATTRS, &reply);
                } else {
                    status(out, id, NO_SUCH_FILE, "No such file");
                }
            }
            FSTAT => {
                let size = r
                    .string()
                    .and_then(handle_index)
                    .and_then(|i| self.open.get(i)?.as_ref())
                    .map(|u| u.size);
                match size {
                    Some(size) => {
                        let mut reply = Vec::new();
                        put_u32(&mut reply, id);
                        attrs(&mut reply, size, 0o100_644);
                        packet(out, ATTRS, &reply);
                    }
                    None => status(out, id, FAILURE, "Failure"),
                }
            }
            OPEN => {
                let (Some(path), Some(flags)) = (r.string(), r.u32()) else {
                    return bad(out);
                };
                if flags & FXF_WRITE == 0 {
                    return status(out, id, NO_SUCH_FILE, "No such file");
                }
                let open = self.open.iter().filter(|u| u.is_some()).count();
                if self.files >= MAX_FILES || open >= MAX_OPEN {
                    return status(out, id, FAILURE, "No space left on device");
                }
                self.files += 1;
                let upload = Upload {
                    path: self.absolute(path),
                    size: 0,
                    sha: Box::new(Sha256::new()),
                    kept: Vec::new(),
                };
                let index = match self.open.iter().position(Option::is_none) {
                    Some(i) => {
                        if let Some(slot) = self.open.get_mut(i) {
                            *slot = Some(upload);
                        }
                        i
                    }
                    None => {
                        self.open.push(Some(upload));
                        self.open.len() - 1
                    }
                };
                let mut reply = Vec::new();
                put_u32(&mut reply, id);
                put_string(&mut reply, &u32::try_from(index).unwrap_or(0).to_be_bytes());
                packet(out, HANDLE, &reply);
            }
            WRITE => {
                let (Some(handle), Some(offset), Some(data)) = (r.string(), r.u64(), r.string())
                else {
                    return bad(out);
                };
                let cap = self.cap;
                let Some(upload) =
                    handle_index(handle).and_then(|i| self.open.get_mut(i)?.as_mut())
                else {
                    return status(out, id, FAILURE, "Bad handle");
                };
                // OpenSSH writes in order; a write elsewhere is refused rather than guessed.
                if offset != upload.size {
                    return status(out, id, FAILURE, "Failure");
                }
                upload.sha.update(data);
                let room = cap.saturating_sub(upload.kept.len());
                upload
                    .kept
                    .extend_from_slice(data.get(..room).unwrap_or(data));
                upload.size += data.len() as u64;
                status(out, id, OK, "Success");
            }
            CLOSE => {
                let Some(handle) = r.string() else {
                    return bad(out);
                };
                let upload = handle_index(handle).and_then(|i| self.open.get_mut(i)?.take());
                if let Some(upload) = upload {
                    written.push(Written {
                        truncated: (upload.kept.len() as u64) < upload.size,
                        path: upload.path,
                        size: upload.size,
                        sha256: upload
                            .sha
                            .finalize()
                            .iter()
                            .map(|b| format!("{b:02x}"))
                            .collect(),
                        data: upload.kept,
                    });
                }
                status(out, id, OK, "Success");
            }
            SETSTAT | FSETSTAT | MKDIR => status(out, id, OK, "Success"),
            _ => status(out, id, OP_UNSUPPORTED, "Operation unsupported"),
        }
    }
}

/// The index a handle (4 bytes, big-endian) names.
fn handle_index(handle: &[u8]) -> Option<usize> {
    let h: [u8; 4] = handle.try_into().ok()?;
    Some(u32::from_be_bytes(h) as usize)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn req(kind: u8, id: Option<u32>, fields: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        if let Some(id) = id {
            put_u32(&mut body, id);
        }
        for f in fields {
            body.extend_from_slice(f);
        }
        let mut out = Vec::new();
        packet(&mut out, kind, &body);
        out
    }

    fn s(v: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        put_string(&mut out, v);
        out
    }

    #[test]
    fn an_upload_in_pieces_is_recorded_on_close() {
        let mut server = SftpServer::new("/root", 3);
        let (mut out, mut written) = (Vec::new(), Vec::new());
        let mut input = req(INIT, None, &[&3u32.to_be_bytes()]);
        input.extend(req(REALPATH, Some(1), &[&s(b".")]));
        input.extend(req(STAT, Some(2), &[&s(b"/tmp/")]));
        input.extend(req(
            OPEN,
            Some(3),
            &[
                &s(b"/tmp/../tmp/x"),
                &0x1au32.to_be_bytes(),
                &0u32.to_be_bytes(),
            ],
        ));
        input.extend(req(
            WRITE,
            Some(4),
            &[&s(&0u32.to_be_bytes()), &0u64.to_be_bytes(), &s(b"hel")],
        ));
        input.extend(req(
            WRITE,
            Some(5),
            &[&s(&0u32.to_be_bytes()), &3u64.to_be_bytes(), &s(b"lo\n")],
        ));
        input.extend(req(CLOSE, Some(6), &[&s(&0u32.to_be_bytes())]));
        for chunk in input.chunks(7) {
            server.push(chunk, &mut out, &mut written);
        }
        assert!(!server.failed());
        assert_eq!(written.len(), 1);
        let w = &written[0];
        assert_eq!((w.path.as_slice(), w.size), (&b"/tmp/x"[..], 6));
        assert_eq!(
            w.sha256,
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!((w.data.as_slice(), w.truncated), (&b"hel"[..], true));
        // VERSION, NAME /root, ATTRS, HANDLE, three STATUS.
        let kinds: Vec<u8> = {
            let mut kinds = Vec::new();
            let mut rest = out.as_slice();
            while let Some(len) = rest.get(..4) {
                let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
                kinds.push(rest[4]);
                rest = &rest[4 + len..];
            }
            kinds
        };
        assert_eq!(
            kinds,
            [VERSION, NAME, ATTRS, HANDLE, STATUS, STATUS, STATUS]
        );
    }

    #[test]
    fn junk_fails_and_reads_find_nothing() {
        let mut server = SftpServer::new("/root", 3);
        let (mut out, mut written) = (Vec::new(), Vec::new());
        server.push(
            &req(OPEN, Some(1), &[&s(b"/etc/passwd"), &1u32.to_be_bytes()]),
            &mut out,
            &mut written,
        );
        assert_eq!(out[4], STATUS);
        assert_eq!(&out[9..13], &NO_SUCH_FILE.to_be_bytes());
        server.push(&[0xff; 8], &mut out, &mut written);
        assert!(server.failed());
    }
}
