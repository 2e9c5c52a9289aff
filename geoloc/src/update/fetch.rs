//! Downloading with the system's `curl` (no TLS stack in the binary, which must stay small and
//! cross-build to ARMv6): the argument vector, never a shell; the URL templates with their
//! month placeholders; and streaming curl's output through the capped gunzip.

use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use time::{Date, Month};

/// The month placeholders a URL template may hold.
const YEAR: &str = "{YYYY}";
/// The month, two digits.
const MONTH: &str = "{MM}";

/// curl's exit code for an HTTP answer of 400 or more under `--fail`.
const CURL_HTTP_ERROR: i32 = 22;

/// The most of curl's standard error kept for a message.
const CURL_STDERR_BYTES: u64 = 4096;

/// Checks a `--url`: `http://` or `https://`, no white space or control characters.
pub fn check_url(url: &str) -> Result<(), String> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err("must start with https:// or http://".into());
    }
    if url.len() > 2048 {
        return Err("is longer than 2048 bytes".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not hold white space or control characters".into());
    }
    Ok(())
}

/// The URLs to try, in order: a template with `{YYYY}`/`{MM}` gives `today`'s month, then the
/// month before (DB-IP publishes a month's file early in that month, so for the first days it
/// may not be there yet); a fixed URL is tried alone.
pub fn candidate_urls(template: &str, today: Date) -> Vec<String> {
    if !template.contains(YEAR) && !template.contains(MONTH) {
        return vec![template.to_owned()];
    }
    let this = (today.year(), today.month());
    let before = match today.month() {
        Month::January => (today.year() - 1, Month::December),
        m => (today.year(), m.previous()),
    };
    [this, before]
        .into_iter()
        .map(|(year, month)| {
            template
                .replace(YEAR, &format!("{year:04}"))
                .replace(MONTH, &format!("{:02}", u8::from(month)))
        })
        .collect()
}

/// The limits of one download.
#[derive(Debug, Clone)]
pub struct FetchLimits {
    /// The most curl downloads (the compressed size), bytes.
    pub max_download_bytes: u64,
    /// The most the download may unpack to, bytes.
    pub max_unpacked_bytes: u64,
    /// The longest the whole transfer may take, seconds.
    pub max_time_secs: u64,
}

/// curl's arguments for `url`: its config files ignored, errors for HTTP errors, redirects
/// followed only to HTTPS (at most 5), only HTTP(S), bounded in time and size; the body on
/// standard output.
pub fn curl_args(url: &str, limits: &FetchLimits) -> Vec<String> {
    [
        "--disable", // first: ignore ~/.curlrc
        "--silent",
        "--show-error",
        "--fail",
        "--location",
        "--max-redirs",
        "5",
        "--proto",
        "=https,http",
        "--proto-redir",
        "=https",
        "--connect-timeout",
        "30",
        "--max-time",
        &limits.max_time_secs.to_string(),
        "--max-filesize",
        &limits.max_download_bytes.to_string(),
        "--output",
        "-",
        "--url",
        url,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// How one download ended.
#[derive(Debug)]
pub enum Fetched {
    /// Unpacked into the file: this many bytes.
    Unpacked(u64),
    /// The server answered with an HTTP error (curl's exit 22): worth trying another month.
    HttpError(String),
    /// curl failed otherwise (or could not be started).
    Failed(String),
    /// curl succeeded but the body did not unpack.
    NotUnpacked(String),
}

/// Runs `curl` for `url` and gunzips its output into `out` (at most the cap), then flushes it.
pub fn download(curl: &Path, url: &str, limits: &FetchLimits, out: &mut std::fs::File) -> Fetched {
    let mut child = match Command::new(curl)
        .args(curl_args(url, limits))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            return Fetched::Failed(format!(
                "cannot run {}: {e} (install curl: apt-get install curl, or dnf install curl)",
                curl.display()
            ));
        }
    };
    let stderr = child.stderr.take().map(|mut err| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = (&mut err).take(CURL_STDERR_BYTES).read_to_string(&mut text);
            // Keep draining, so that curl never blocks on a full pipe.
            let _ = std::io::copy(&mut err, &mut std::io::sink());
            text
        })
    });
    let unpacked = {
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut writer = BufWriter::with_capacity(256 * 1024, &mut *out);
        let downloaded = Capped {
            inner: stdout,
            left: limits.max_download_bytes.saturating_add(1),
            cap: limits.max_download_bytes,
        };
        let result =
            super::unpack::gunzip_capped(downloaded, &mut writer, limits.max_unpacked_bytes);
        let flushed = writer
            .flush()
            .map_err(|e| format!("cannot write the unpacked file: {e}"));
        result.and_then(|n| flushed.map(|()| n))
    };
    // The body is unpacked or refused and curl's output closed: curl ends by itself (done,
    // cut off, or a write error once the body was refused); one that does not within the grace
    // (a stalled server after a refusal) is stopped.
    let status = wait_or_kill(&mut child, CURL_GRACE);
    let said = stderr
        .and_then(|t| t.join().ok())
        .map(|t| crate::update::one_line(&t))
        .unwrap_or_default();
    let status = match status {
        Ok(status) => status,
        Err(e) => return Fetched::Failed(format!("waiting for curl: {e}")),
    };
    match (status.success(), status.code(), unpacked) {
        (true, _, Ok(n)) => Fetched::Unpacked(n),
        (true, _, Err(reason)) => Fetched::NotUnpacked(reason),
        (false, Some(CURL_HTTP_ERROR), _) => Fetched::HttpError(said),
        // curl could not write (23) or was stopped because the body was refused: the body's
        // reason is the one to give.
        (false, Some(CURL_WRITE_ERROR) | None, Err(reason)) => Fetched::NotUnpacked(reason),
        (false, _, _) if said.is_empty() => Fetched::Failed(format!("curl {status}")),
        (false, _, _) => Fetched::Failed(said),
    }
}

/// A reader that fails once more than `cap` bytes have come through: curl's `--max-filesize`
/// only acts on a size the server announces (before curl 8.4), and a stream of empty deflate
/// blocks unpacks to nothing however long it is.
struct Capped<R> {
    inner: R,
    /// Bytes that may still come, plus one.
    left: u64,
    cap: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let most = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..most])?;
        self.left -= n as u64;
        if self.left == 0 {
            return Err(std::io::Error::other(format!(
                "the download is larger than {} bytes (the cap)",
                self.cap
            )));
        }
        Ok(n)
    }
}

/// How long curl may take to end once its output is closed.
const CURL_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// curl's exit code when it cannot write its output (we stopped reading).
const CURL_WRITE_ERROR: i32 = 23;

/// Waits for `child` up to `grace`, then kills it and waits.
fn wait_or_kill(
    child: &mut std::process::Child,
    grace: std::time::Duration,
) -> std::io::Result<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait()
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    const TEMPLATE: &str = "https://example.org/free/dbip-city-lite-{YYYY}-{MM}.mmdb.gz";

    #[test]
    fn a_template_gives_this_month_then_the_one_before() {
        assert_eq!(
            candidate_urls(TEMPLATE, date!(2026 - 12 - 07)),
            [
                "https://example.org/free/dbip-city-lite-2026-12.mmdb.gz",
                "https://example.org/free/dbip-city-lite-2026-11.mmdb.gz"
            ]
        );
        assert_eq!(
            candidate_urls(TEMPLATE, date!(2027 - 01 - 01)),
            [
                "https://example.org/free/dbip-city-lite-2027-01.mmdb.gz",
                "https://example.org/free/dbip-city-lite-2026-12.mmdb.gz"
            ]
        );
        assert_eq!(
            candidate_urls("http://mirror.test/city.mmdb.gz", date!(2026 - 12 - 07)),
            ["http://mirror.test/city.mmdb.gz"]
        );
    }

    #[test]
    fn only_plain_http_urls_are_taken() {
        assert!(check_url("https://example.org/a.gz").is_ok());
        assert!(check_url("HTTP://127.0.0.1:8080/a.gz").is_ok());
        for bad in [
            "file:///etc/shadow",
            "ftp://example.org/a",
            "-o/etc/passwd",
            "https://example.org/a b",
            "https://example.org/a\nb",
            "",
        ] {
            assert!(check_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_download_is_capped_before_unpacking() {
        let mut capped = Capped {
            inner: &[7u8; 10][..],
            left: 6,
            cap: 5,
        };
        let mut out = Vec::new();
        let err = capped.read_to_end(&mut out).unwrap_err();
        assert!(err.to_string().contains("larger than 5 bytes"), "{err}");
        let mut exact = Capped {
            inner: &[7u8; 5][..],
            left: 6,
            cap: 5,
        };
        let mut out = Vec::new();
        assert_eq!(exact.read_to_end(&mut out).unwrap(), 5);
    }

    #[test]
    fn curl_is_bounded_and_the_url_is_an_option_value() {
        let limits = FetchLimits {
            max_download_bytes: 512 << 20,
            max_unpacked_bytes: 1 << 30,
            max_time_secs: 1800,
        };
        let args = curl_args("https://example.org/x.gz", &limits);
        assert_eq!(
            args[0], "--disable",
            "curlrc is ignored (it must come first)"
        );
        let after = |flag: &str| {
            let i = args.iter().position(|a| a == flag).unwrap();
            args[i + 1].as_str()
        };
        assert_eq!(after("--proto"), "=https,http");
        assert_eq!(after("--proto-redir"), "=https");
        assert_eq!(after("--max-filesize"), "536870912");
        assert_eq!(after("--max-time"), "1800");
        assert_eq!(after("--url"), "https://example.org/x.gz");
        assert!(args.contains(&"--fail".to_owned()) && args.contains(&"--location".to_owned()));
    }
}
