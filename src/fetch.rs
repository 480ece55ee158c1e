//! Fetching one URL well: input-line checks, politeness (per-host limit, rate), retries with
//! backoff and jitter that honour `Retry-After`, a body-size cap, and a typed outcome.
//!
//! This is eventlet's `fetch(url)` function of the client pattern, grown up: a plain blocking
//! function over a green agent, so concurrency stays with the caller (a `GreenPool`).
//!
//! Layer: domain (uses [`green::ureq`](crate::green::ureq), the primitives, [`error`](crate::error)).
//!
//! # Examples
//!
//! ```
//! use greenfetch::fetch::{parse_line, Fetcher, FetchConfig};
//! use greenfetch::error::ErrorKind;
//!
//! assert_eq!(parse_line(b"https://example.test/a\r\n").unwrap(), "https://example.test/a");
//! assert_eq!(parse_line(b"ftp://example.test/").unwrap_err().kind, ErrorKind::UnsupportedScheme);
//!
//! let fetcher = Fetcher::new(FetchConfig::default());
//! let out = fetcher.fetch("http://127.0.0.1:9/"); // the discard port: refused
//! assert_eq!(out.error.unwrap().kind, ErrorKind::Connect);
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use ureq::ResponseExt;

use crate::error::{Error, ErrorKind};
use crate::green::ureq::{agent, AgentConfig, GreenAgent};
use crate::wait::lock;
use crate::Queue;

/// The longest URL line accepted, in bytes.
pub const MAX_URL_LEN: usize = 8 * 1024;

/// Checks one input line and returns the URL in it.
///
/// Trailing CR/LF and surrounding spaces are trimmed. Errors are typed: `invalid_utf8`,
/// `nul_byte`, `line_too_long`, `not_a_url`, `unsupported_scheme`. (Blank lines and `#`
/// comments are the reader's business: they are not inputs.)
///
/// ```
/// use greenfetch::fetch::parse_line;
/// use greenfetch::error::ErrorKind;
/// assert!(parse_line(b"http://127.0.0.1:8080/x").is_ok());
/// assert_eq!(parse_line(b"not a url").unwrap_err().kind, ErrorKind::NotAUrl);
/// assert_eq!(parse_line(b"file:///etc/passwd").unwrap_err().kind, ErrorKind::UnsupportedScheme);
/// assert_eq!(parse_line(b"http://a\0b/").unwrap_err().kind, ErrorKind::NulByte);
/// assert_eq!(parse_line(b"http://\xff/").unwrap_err().kind, ErrorKind::InvalidUtf8);
/// ```
pub fn parse_line(line: &[u8]) -> Result<String, Error> {
    if line.len() > MAX_URL_LEN {
        return Err(Error::new(
            ErrorKind::LineTooLong,
            format!("line of {} bytes; a URL may have {MAX_URL_LEN}", line.len()),
        ));
    }
    if line.contains(&0) {
        return Err(Error::new(ErrorKind::NulByte, "line contains a NUL byte"));
    }
    let text = std::str::from_utf8(line)
        .map_err(|e| Error::new(ErrorKind::InvalidUtf8, format!("line is not UTF-8 ({e})")))?;
    let text = text.trim();
    let shown = || {
        let mut s: String = text.chars().take(80).collect();
        if s.len() < text.len() {
            s.push('…');
        }
        s
    };
    let Some((scheme, rest)) = text.split_once(':') else {
        return Err(Error::new(
            ErrorKind::NotAUrl,
            format!("{:?} is not a URL", shown()),
        ));
    };
    let scheme_ok = !scheme.is_empty()
        && scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok || text.chars().any(char::is_whitespace) {
        return Err(Error::new(
            ErrorKind::NotAUrl,
            format!("{:?} is not a URL", shown()),
        ));
    }
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(Error::new(
            ErrorKind::UnsupportedScheme,
            format!("{scheme}: is not supported (only http and https)"),
        ));
    }
    let uri: ureq::http::Uri = text
        .parse()
        .map_err(|e| Error::new(ErrorKind::NotAUrl, format!("{:?}: {e}", shown())))?;
    match uri.host() {
        Some(h) if !h.is_empty() && rest.starts_with("//") => Ok(text.to_owned()),
        _ => Err(Error::new(
            ErrorKind::NotAUrl,
            format!("{:?} has no host", shown()),
        )),
    }
}

/// The host of a URL (lower-cased), for sharding and per-host limits.
///
/// ```
/// assert_eq!(greenfetch::fetch::host_of("http://Example.TEST:8080/x").as_deref(), Some("example.test"));
/// ```
pub fn host_of(url: &str) -> Option<String> {
    let uri: ureq::http::Uri = url.parse().ok()?;
    uri.host().map(|h| h.to_ascii_lowercase())
}

/// A stable 64-bit hash (FNV-1a) of a host name: the same on every machine and release, so
/// `--shard K/N` splits a list the same way everywhere.
///
/// ```
/// assert_eq!(greenfetch::fetch::stable_hash("example.test"), greenfetch::fetch::stable_hash("example.test"));
/// ```
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// How [`Fetcher`] fetches.
///
/// ```
/// let cfg = greenfetch::fetch::FetchConfig { retries: 0, ..Default::default() };
/// assert_eq!(cfg.retries, 0);
/// ```
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// The HTTP agent's settings (timeouts, redirects, user agent, TLS roots, resolver).
    pub agent: AgentConfig,
    /// Retries after a transient failure (network trouble, 429, 502, 503, 504).
    pub retries: u32,
    /// First backoff; doubles each retry, with full jitter, capped by `retry_cap`.
    pub retry_base: Duration,
    /// The longest wait between two attempts (a longer `Retry-After` is cut to this).
    pub retry_cap: Duration,
    /// The largest body accepted (after decompression); larger is `body_too_large`.
    pub max_body: u64,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// At most this many requests in flight per host.
    pub per_host: Option<usize>,
    /// At most this many requests started per second, over all hosts.
    pub rate: Option<f64>,
    /// Keep the body in the outcome (off: count it and drop it).
    pub keep_body: bool,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            agent: AgentConfig::default(),
            retries: 2,
            retry_base: Duration::from_millis(250),
            retry_cap: Duration::from_secs(30),
            max_body: 256 * 1024 * 1024,
            headers: Vec::new(),
            per_host: None,
            rate: None,
            keep_body: true,
        }
    }
}

/// The outcome of one fetch: success with status and body, or a typed error.
///
/// ```
/// let f = greenfetch::fetch::Fetched::failed("x:", greenfetch::error::Error::new(
///     greenfetch::error::ErrorKind::NotAUrl, "no"));
/// assert!(!f.is_ok());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    /// The URL asked for.
    pub url: String,
    /// The URL answered, after redirects.
    pub final_url: Option<String>,
    /// The final HTTP status.
    pub status: Option<u16>,
    /// The response's `Content-Type`.
    pub content_type: Option<String>,
    /// The response's `Link` headers, joined with `, ` (feed autodiscovery reads them).
    pub link: Option<String>,
    /// The body (empty when `keep_body` is off).
    pub body: Vec<u8>,
    /// Bytes of body received (after decompression).
    pub bytes: u64,
    /// Attempts made (1 without retries).
    pub attempts: u32,
    /// Time from the first attempt to the end.
    pub elapsed: Duration,
    /// Time to the response headers of the last attempt.
    pub ttfb: Option<Duration>,
    /// Why the fetch failed, if it did.
    pub error: Option<Error>,
}

impl Fetched {
    /// A fetch that failed before any request (a bad line).
    ///
    /// ```
    /// let e = greenfetch::error::Error::new(greenfetch::error::ErrorKind::NulByte, "nul");
    /// assert_eq!(greenfetch::fetch::Fetched::failed("u", e).attempts, 0);
    /// ```
    pub fn failed(url: impl Into<String>, error: Error) -> Self {
        Fetched {
            url: url.into(),
            error: Some(error),
            ..Fetched::default()
        }
    }

    /// True when the fetch succeeded.
    ///
    /// ```
    /// assert!(greenfetch::fetch::Fetched::default().is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Fetches URLs with one shared green agent, politeness limits and retries. Share it between
/// green threads with an `Arc`.
pub struct Fetcher {
    agent: GreenAgent,
    cfg: FetchConfig,
    hosts: Mutex<HashMap<String, Queue<()>>>,
    next_start: Mutex<Instant>,
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher")
            .field("agent", &self.agent)
            .field("cfg", &self.cfg)
            .finish()
    }
}

enum Attempt {
    Done(Fetched),
    Retry {
        result: Fetched,
        wait: Option<Duration>,
    },
}

impl Attempt {
    /// A failed attempt: worth another try when the failure is transient.
    fn failed(mut out: Fetched, err: Error) -> Attempt {
        let transient = err.kind.is_transient();
        out.error = Some(err);
        if transient {
            Attempt::Retry {
                result: out,
                wait: None,
            }
        } else {
            Attempt::Done(out)
        }
    }
}

impl Fetcher {
    /// A fetcher with its own green agent.
    ///
    /// ```
    /// let f = greenfetch::fetch::Fetcher::new(Default::default());
    /// assert_eq!(f.agent().connections_opened(), 0);
    /// ```
    pub fn new(cfg: FetchConfig) -> Self {
        Fetcher {
            agent: agent(cfg.agent.clone()),
            cfg,
            hosts: Mutex::new(HashMap::new()),
            next_start: Mutex::new(Instant::now()),
        }
    }

    /// The green agent underneath.
    ///
    /// ```
    /// let f = greenfetch::fetch::Fetcher::new(Default::default());
    /// assert_eq!(f.agent().idle_connections(), 0);
    /// ```
    pub fn agent(&self) -> &GreenAgent {
        &self.agent
    }

    /// The settings.
    ///
    /// ```
    /// assert_eq!(greenfetch::fetch::Fetcher::new(Default::default()).config().retries, 2);
    /// ```
    pub fn config(&self) -> &FetchConfig {
        &self.cfg
    }

    /// Fetches `url` (already checked by [`parse_line`]), retrying transient failures.
    /// Never panics on network input; every failure is in `Fetched::error`.
    ///
    /// See the [module example](self).
    pub fn fetch(&self, url: &str) -> Fetched {
        let start = Instant::now();
        let host = if self.cfg.per_host.is_some() {
            host_of(url).unwrap_or_default()
        } else {
            String::new()
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = {
                let _token = self.host_token(&host);
                self.pace();
                self.attempt(url)
            };
            match outcome {
                Attempt::Done(mut f) => {
                    f.attempts = attempt;
                    f.elapsed = start.elapsed();
                    return f;
                }
                Attempt::Retry { mut result, wait } => {
                    if attempt > self.cfg.retries {
                        result.attempts = attempt;
                        result.elapsed = start.elapsed();
                        return result;
                    }
                    crate::sleep(wait.unwrap_or_else(|| self.backoff(attempt)));
                }
            }
        }
    }

    /// Full jitter: a random wait in [0, min(cap, base·2^(n-1))].
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .cfg
            .retry_base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let ceiling = exp.min(self.cfg.retry_cap);
        ceiling.mul_f64(jitter())
    }

    /// Waits for a per-host slot, if there is a per-host limit.
    fn host_token(&self, host: &str) -> Option<HostToken> {
        let n = self.cfg.per_host?;
        let q = {
            let mut hosts = lock(&self.hosts);
            hosts
                .entry(host.to_owned())
                .or_insert_with(|| {
                    let q = Queue::unbounded();
                    for _ in 0..n.max(1) {
                        q.put(());
                    }
                    q
                })
                .clone()
        };
        q.get();
        Some(HostToken(q))
    }

    /// Waits for this request's turn under `rate` (evenly spaced starts).
    fn pace(&self) {
        let Some(rate) = self.cfg.rate.filter(|r| *r > 0.0) else {
            return;
        };
        let gap = Duration::from_secs_f64(1.0 / rate);
        let at = {
            let mut next = lock(&self.next_start);
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + gap;
            at
        };
        let wait = at.saturating_duration_since(Instant::now());
        if !wait.is_zero() {
            crate::sleep(wait);
        }
    }

    fn attempt(&self, url: &str) -> Attempt {
        let t0 = Instant::now();
        let mut req = self.agent.get(url);
        for (k, v) in &self.cfg.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut out = Fetched {
            url: url.to_owned(),
            ..Fetched::default()
        };
        let mut resp = match req.call() {
            Ok(r) => r,
            Err(e) => return Attempt::failed(out, Error::from(e)),
        };
        out.ttfb = Some(t0.elapsed());
        let status = resp.status().as_u16();
        out.status = Some(status);
        // Most answers come from the URL asked for: format the URI only after a redirect.
        out.final_url = Some(
            if resp.get_redirect_history().is_some_and(|h| h.len() > 1) {
                resp.get_uri().to_string()
            } else {
                url.to_owned()
            },
        );
        out.content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut links = resp
            .headers()
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok());
        if let Some(first) = links.next() {
            let mut all = first.to_owned();
            for more in links {
                all.push_str(", ");
                all.push_str(more);
            }
            out.link = Some(all);
        }
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after)
            .map(|d| d.min(self.cfg.retry_cap));
        // Size the buffer from Content-Length (capped): a large body is then read in place
        // instead of through a series of doubling copies.
        let hint = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(0, |n| n.min(self.cfg.max_body).min(64 << 20) as usize);
        let body = {
            use std::io::Read;
            let mut buf = Vec::with_capacity(hint);
            resp.body_mut()
                .with_config()
                .limit(self.cfg.max_body)
                .reader()
                .read_to_end(&mut buf)
                .map(|_| buf)
                .map_err(ureq::Error::from)
        };
        match body {
            Ok(b) => {
                out.bytes = b.len() as u64;
                if self.cfg.keep_body {
                    out.body = b;
                }
            }
            Err(e) => {
                let mut err = Error::from(e);
                if err.kind == ErrorKind::BodyTooLarge {
                    err.message = format!("body larger than {} bytes", self.cfg.max_body);
                }
                return Attempt::failed(out, err);
            }
        }
        if status >= 400 {
            let reason = resp.status().canonical_reason().unwrap_or("");
            out.error = Some(Error::new(
                ErrorKind::HttpStatus,
                format!("HTTP {status} {reason}").trim_end().to_owned(),
            ));
            if matches!(status, 429 | 502 | 503 | 504) {
                return Attempt::Retry {
                    result: out,
                    wait: retry_after,
                };
            }
        } else if (300..400).contains(&status) && self.cfg.agent.max_redirects > 0 {
            // ureq hands back a redirect it could not follow (no Location): say so.
            out.error = Some(Error::new(
                ErrorKind::Protocol,
                format!("HTTP {status} without a usable Location"),
            ));
        }
        Attempt::Done(out)
    }
}

/// Gives a per-host slot back.
struct HostToken(Queue<()>);

impl Drop for HostToken {
    fn drop(&mut self) {
        self.0.put(());
    }
}

/// `Retry-After`: delta-seconds or an HTTP-date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// A number in [0, 1) from a small, lock-free generator (jitter needs no quality).
fn jitter() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x853c_49e6_748f_ea9b);
    let mut x = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn jitter_is_in_range() {
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j));
        }
    }

    #[test]
    fn line_checks() {
        assert_eq!(parse_line(b"  http://h/ \r\n").unwrap(), "http://h/");
        assert_eq!(parse_line(b"http:/h").unwrap_err().kind, ErrorKind::NotAUrl);
        assert_eq!(
            parse_line(b"mailto:x@y").unwrap_err().kind,
            ErrorKind::UnsupportedScheme
        );
        let long = vec![b'a'; 100_000];
        assert_eq!(parse_line(&long).unwrap_err().kind, ErrorKind::LineTooLong);
    }
}
