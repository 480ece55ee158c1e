//! Fetching one URL well: input-line checks, politeness (per-host limit, rate), retries with
//! backoff and jitter that honour `Retry-After`, a body-size cap, and a typed outcome.
//!
//! This is eventlet's `fetch(url)` function of the client pattern, grown up: a plain blocking
//! function over a green agent, so concurrency stays with the caller (a `GreenPool`).
//!
//! Layer: domain (uses [`client`](crate::client), the runtime's primitives, [`error`](crate::error)).
//!
//! # Examples
//!
//! ```
//! use greenfetch_web::fetch::{parse_line, Fetcher, FetchConfig};
//! use greenfetch_web::error::ErrorKind;
//!
//! assert_eq!(parse_line(b"https://example.test/a\r\n").unwrap(), "https://example.test/a");
//! assert_eq!(parse_line(b"ftp://example.test/").unwrap_err().kind, ErrorKind::UnsupportedScheme);
//!
//! let fetcher = Fetcher::new(FetchConfig { retries: 0, ..FetchConfig::default() });
//! let out = greenfetch_runtime::spawn(move || fetcher.fetch("http://127.0.0.1:9/")).wait().unwrap();
//! let err = out.error.unwrap(); // the discard port: refused
//! assert_eq!(err.kind, ErrorKind::Connect);
//! assert_eq!(err.message, "connection refused by 127.0.0.1:9");
//! ```

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use url::Url;

use crate::client::{Client, ClientConfig, Request, decode};
use crate::error::{Error, ErrorKind};
use cookies::Cookies;
use greenfetch_runtime::wait::lock;
use hosts::{HostSlot, HostSlots, SharedPacer};
use robots::{Robots, RobotsFile};

pub mod cookies;
mod hosts;
pub mod robots;

/// The longest URL line accepted, in bytes. Servers refuse far shorter request lines (nginx
/// past 8 KiB by default, unless configured otherwise), so this limit is the input's, not the
/// web's.
pub const MAX_URL_LEN: usize = 64 * 1024;

/// Checks one input line and returns the URL in it.
///
/// Trailing CR/LF and surrounding spaces are trimmed. Errors are typed: `invalid_utf8`,
/// `nul_byte`, `line_too_long`, `not_a_url`, `unsupported_scheme`. (Blank lines and `#`
/// comments are the reader's business: they are not inputs.)
///
/// ```
/// use greenfetch_web::fetch::parse_line;
/// use greenfetch_web::error::ErrorKind;
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
/// assert_eq!(greenfetch_web::fetch::host_of("http://Example.TEST:8080/x").as_deref(), Some("example.test"));
/// ```
pub fn host_of(url: &str) -> Option<String> {
    let uri: ureq::http::Uri = url.parse().ok()?;
    uri.host().map(|h| h.to_ascii_lowercase())
}

/// A stable 64-bit hash (FNV-1a) of a host name: the same on every machine and release, so
/// `--shard K/N` splits a list the same way everywhere.
///
/// ```
/// assert_eq!(greenfetch_web::fetch::stable_hash("example.test"), greenfetch_web::fetch::stable_hash("example.test"));
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
/// let cfg = greenfetch_web::fetch::FetchConfig { retries: 0, ..Default::default() };
/// assert_eq!(cfg.retries, 0);
/// ```
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// How connections are made (connect timeout, TLS roots, proxies, resolver, pool sizes).
    pub client: ClientConfig,
    /// Limit on one attempt: connect, send, every redirect hop, headers and body (`None`: no
    /// limit).
    pub timeout: Option<Duration>,
    /// Redirects followed before `too_many_redirects` (0: none followed, the 3xx is the
    /// answer).
    pub max_redirects: u32,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Retries after a transient failure (network trouble, 429, 502, 503, 504).
    pub retries: u32,
    /// First backoff; doubles each retry, with full jitter, capped by `retry_cap`.
    pub retry_base: Duration,
    /// The longest wait between two attempts (a longer `Retry-After` is cut to this).
    pub retry_cap: Duration,
    /// The largest body accepted (after decoding); larger is `body_too_large`.
    pub max_body: u64,
    /// Extra request headers, sent as given. One named like a header greenfetch sends itself
    /// (`User-Agent`, `Accept`, ...) replaces it; one with an empty value removes it. With
    /// `cookies`, a `Cookie` header joins the engine's in one line, after its cookies (RFC
    /// 6265 5.4: one `Cookie` line a request), and an empty one sends no `Cookie` at all.
    pub headers: Vec<(String, String)>,
    /// The method (`None`: GET, POST when there is a body, HEAD with `head_only`).
    pub method: Option<String>,
    /// The request body, sent with every request of the run.
    pub body: Option<Arc<[u8]>>,
    /// `Content-Type` for the body, unless `headers` has one.
    pub content_type: Option<String>,
    /// `Accept` (default `*/*`), unless `headers` has one.
    pub accept: Option<String>,
    /// Ask for the head only (curl's `-I`): the outcome's body is the head of every answer
    /// of the redirect chain, as received.
    pub head_only: bool,
    /// Basic credentials (`--user`), sent to the URL's own scheme, host and port only (unless
    /// `location_trusted`).
    pub credentials: Option<(String, String)>,
    /// Send credentials (`--user`, the URL's, and `Authorization`/`Cookie` headers) on
    /// redirects to other hosts too (curl's `--location-trusted`).
    pub location_trusted: bool,
    /// Undo content codings and name them in `Accept-Encoding` (off: curl's `--raw`, the
    /// bytes as sent and no `Accept-Encoding`).
    pub decode: bool,
    /// At most this many requests in flight per host.
    pub per_host: Option<usize>,
    /// Requests to one host start at least 1/N s apart (no initial burst).
    pub per_host_rate: Option<f64>,
    /// At most this many requests started per second, over all hosts.
    pub rate: Option<f64>,
    /// Keep the body in the outcome (off: count it and drop it).
    pub keep_body: bool,
    /// Obey robots.txt (`--robots`): a URL it disallows is not fetched (`robots`).
    pub robots: Option<Arc<Robots>>,
    /// Keep every request sent and its answer's head in [`Fetched::trace`] (curl's `-v`).
    pub trace: bool,
    /// The run's cookie engine (`-b`, `--cookie-jar`; `None`: no cookies kept or sent but a
    /// `-H Cookie`). Every answer's `Set-Cookie` headers, redirects' too, are stored for its
    /// URL, and every request carries the `Cookie` header the engine gives for its URL
    /// (robots.txt requests neither send nor keep cookies).
    pub cookies: Option<Arc<Cookies>>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            client: ClientConfig::default(),
            timeout: Some(Duration::from_secs(30)),
            max_redirects: 10,
            user_agent: format!("greenfetch/{}", env!("CARGO_PKG_VERSION")),
            retries: 2,
            retry_base: Duration::from_millis(250),
            retry_cap: Duration::from_secs(30),
            max_body: 256 * 1024 * 1024,
            headers: Vec::new(),
            method: None,
            body: None,
            content_type: None,
            accept: None,
            head_only: false,
            credentials: None,
            location_trusted: false,
            decode: true,
            per_host: None,
            per_host_rate: None,
            rate: None,
            keep_body: true,
            robots: None,
            trace: false,
            cookies: None,
        }
    }
}

/// The outcome of one fetch: success with status and body, or a typed error.
///
/// ```
/// let f = greenfetch_web::fetch::Fetched::failed("x:", greenfetch_web::error::Error::new(
///     greenfetch_web::error::ErrorKind::NotAUrl, "no"));
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
    /// The final answer's `Content-Type` (of several, the last, as curl reports it).
    pub content_type: Option<String>,
    /// The final answer's `Content-Encoding`, as sent.
    pub content_encoding: Option<String>,
    /// The response's `Link` headers, joined with `, ` (feed autodiscovery reads them).
    pub link: Option<String>,
    /// The body (empty when `keep_body` is off; the heads with `head_only`).
    pub body: Vec<u8>,
    /// Bytes of body received (after decoding).
    pub bytes: u64,
    /// Bytes of the final answer's body as they came over the wire (before decoding).
    pub wire_bytes: u64,
    /// Redirects followed in the last attempt.
    pub redirects: u32,
    /// With [`FetchConfig::trace`]: every request sent and the head of its answer, in order,
    /// over every attempt.
    pub trace: Vec<Exchange>,
    /// The proxy the last request went through (no credentials), if any.
    pub proxy: Option<String>,
    /// Attempts made (1 without retries).
    pub attempts: u32,
    /// Time from the first attempt to the end.
    pub elapsed: Duration,
    /// Time to the response headers of the last attempt's first request.
    pub ttfb: Option<Duration>,
    /// Why the fetch failed, if it did.
    pub error: Option<Error>,
}

/// One request as it was sent, and the head of its answer as received (`-v`).
#[derive(Debug, Clone, Default)]
pub struct Exchange {
    /// The method.
    pub method: String,
    /// The URL asked for.
    pub url: String,
    /// The header lines greenfetch sent, in order, after the `Host` line the client adds
    /// (and before its `Content-Length` for a body).
    pub headers: Vec<(String, String)>,
    /// The body's length, when there was one.
    pub body_len: Option<usize>,
    /// The proxy the request went through (no credentials), if any.
    pub proxy: Option<String>,
    /// The answer's head as received; `None` when no answer came.
    pub response_head: Option<Vec<u8>>,
}

impl Fetched {
    /// A fetch that failed before any request (a bad line).
    ///
    /// ```
    /// let e = greenfetch_web::error::Error::new(greenfetch_web::error::ErrorKind::NulByte, "nul");
    /// assert_eq!(greenfetch_web::fetch::Fetched::failed("u", e).attempts, 0);
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
    /// assert!(greenfetch_web::fetch::Fetched::default().is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Fetches URLs with one shared client, politeness limits, redirects and retries. Share it
/// between green threads with an `Arc`.
pub struct Fetcher {
    client: Client,
    cfg: FetchConfig,
    /// `--per-host`: only the hosts with a request waiting or in flight.
    hosts: Option<HostSlots>,
    next_start: Mutex<Instant>,
    /// `--per-host-rate`: only the hosts whose next turn is ahead, at most 100,000.
    host_starts: Option<SharedPacer>,
    /// The request headers for a URL without credentials and no cookie engine, by
    /// `trusted * 2 + with_body`.
    fixed_headers: [Vec<(String, String)>; 4],
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher")
            .field("client", &self.client)
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

/// Request headers greenfetch sets itself, which a `-H` of the same name replaces.
const OWN_HEADERS: [&str; 6] = [
    "user-agent",
    "accept",
    "accept-encoding",
    "authorization",
    "cookie",
    "content-type",
];

/// Headers that carry credentials: kept on a redirect only to the same scheme, host and port
/// (or everywhere with `location_trusted`).
const CREDENTIAL_HEADERS: [&str; 2] = ["authorization", "cookie"];

/// The largest robots.txt read (its first 500 KiB are parsed, RFC 9309 2.5).
const ROBOTS_BODY_LIMIT: u64 = 2 * 1024 * 1024;

/// A redirect body read and dropped to keep the connection; longer ones close it.
const REDIRECT_BODY_DRAIN: u64 = 64 * 1024;

/// Scheme, host and port: the unit credentials are kept within.
fn origin(u: &Url) -> (String, Option<String>, Option<u16>) {
    (
        u.scheme().to_owned(),
        u.host_str().map(str::to_ascii_lowercase),
        u.port_or_known_default(),
    )
}

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// The credentials written in a URL (`http://user:pass@host/`), percent-decoded.
fn url_credentials(u: &Url) -> Option<(String, String)> {
    if u.username().is_empty() && u.password().is_none() {
        return None;
    }
    let dec = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    Some((dec(u.username()), dec(u.password().unwrap_or(""))))
}

impl Fetcher {
    /// A fetcher with its own client.
    ///
    /// ```
    /// let f = greenfetch_web::fetch::Fetcher::new(Default::default());
    /// assert_eq!(f.client().connections_opened(), 0);
    /// ```
    pub fn new(cfg: FetchConfig) -> Self {
        let mut f = Fetcher {
            client: Client::new(cfg.client.clone()),
            hosts: cfg.per_host.map(HostSlots::new),
            next_start: Mutex::new(Instant::now()),
            host_starts: cfg.per_host_rate.filter(|r| *r > 0.0).map(SharedPacer::new),
            fixed_headers: Default::default(),
            cfg,
        };
        if f.cfg.cookies.is_none() {
            // Any URL without credentials gives the same headers.
            let plain = Url::parse("http://greenfetch.invalid/").expect("a valid URL");
            f.fixed_headers = [(false, false), (false, true), (true, false), (true, true)]
                .map(|(trusted, with_body)| f.make_headers(&plain, trusted, with_body));
        }
        f
    }

    /// The client underneath.
    ///
    /// ```
    /// let f = greenfetch_web::fetch::Fetcher::new(Default::default());
    /// assert_eq!(f.client().idle_connections(), 0);
    /// ```
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The settings.
    ///
    /// ```
    /// assert_eq!(greenfetch_web::fetch::Fetcher::new(Default::default()).config().retries, 2);
    /// ```
    pub fn config(&self) -> &FetchConfig {
        &self.cfg
    }

    /// Fetches `url` (already checked by [`parse_line`]), following redirects and retrying
    /// transient failures. Never panics on network input; every failure is in
    /// `Fetched::error`.
    ///
    /// See the [module example](self).
    pub fn fetch(&self, url: &str) -> Fetched {
        match Url::parse(url) {
            Ok(u) => self.fetch_inner(url, &u),
            Err(e) => Fetched {
                attempts: 1,
                ..Fetched::failed(url, Error::new(ErrorKind::NotAUrl, format!("{url:?}: {e}")))
            },
        }
    }

    /// [`fetch`](Self::fetch) for a URL already parsed (a caller fetching the same URL many
    /// times parses it once); the outcome's `url` is the URL as `Url` writes it.
    ///
    /// ```
    /// let f = greenfetch_web::fetch::Fetcher::new(greenfetch_web::fetch::FetchConfig {
    ///     retries: 0,
    ///     ..Default::default()
    /// });
    /// let url = url::Url::parse("http://127.0.0.1:9/").unwrap(); // the discard port: refused
    /// let out = greenfetch_runtime::spawn(move || f.fetch_url(&url)).wait().unwrap();
    /// assert_eq!(out.error.unwrap().kind, greenfetch_web::error::ErrorKind::Connect);
    /// ```
    pub fn fetch_url(&self, url: &Url) -> Fetched {
        self.fetch_inner(url.as_str(), url)
    }

    fn fetch_inner(&self, text: &str, url: &Url) -> Fetched {
        let start = Instant::now();
        let host = if self.cfg.per_host.is_some() {
            host_of(text).unwrap_or_default()
        } else {
            String::new()
        };
        let mut attempt = 0;
        let mut trace = Vec::new();
        loop {
            attempt += 1;
            let outcome = {
                let _token = self.host_token(&host);
                self.pace();
                self.attempt(text, url)
            };
            match outcome {
                Attempt::Done(mut f) => {
                    f.attempts = attempt;
                    f.elapsed = start.elapsed();
                    trace.append(&mut f.trace);
                    f.trace = trace;
                    return f;
                }
                Attempt::Retry { mut result, wait } => {
                    trace.append(&mut result.trace);
                    if attempt > self.cfg.retries {
                        result.attempts = attempt;
                        result.elapsed = start.elapsed();
                        result.trace = trace;
                        return result;
                    }
                    greenfetch_runtime::sleep(wait.unwrap_or_else(|| self.backoff(attempt)));
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
    fn host_token<'a>(&'a self, host: &'a str) -> Option<HostSlot<'a>> {
        self.hosts.as_ref().map(|h| h.take(host))
    }

    /// Hosts the per-host tables hold now: `--per-host`'s (hosts with a request waiting or in
    /// flight) and `--per-host-rate`'s (hosts whose next turn is ahead). Both stay bounded
    /// however many hosts a run visits.
    ///
    /// ```
    /// let f = greenfetch_web::fetch::Fetcher::new(Default::default());
    /// assert_eq!(f.hosts_held(), (0, 0));
    /// ```
    pub fn hosts_held(&self) -> (usize, usize) {
        (
            self.hosts.as_ref().map_or(0, HostSlots::len),
            self.host_starts.as_ref().map_or(0, SharedPacer::len),
        )
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
            greenfetch_runtime::sleep(wait);
        }
    }

    /// Waits for this request's turn at its host under `per_host_rate`: the first request to a
    /// host goes at once, each next one 1/N s after the one before.
    fn pace_host(&self, host: &str) {
        if let Some(p) = &self.host_starts {
            p.wait_turn(host);
        }
    }

    /// The headers of one hop's request: without cookies or credentials in the URL, the ones
    /// made once when the fetcher was.
    fn headers_for(
        &self,
        url: &Url,
        trusted: bool,
        with_body: bool,
    ) -> std::borrow::Cow<'_, [(String, String)]> {
        if self.cfg.cookies.is_none() && url.username().is_empty() && url.password().is_none() {
            return std::borrow::Cow::Borrowed(
                &self.fixed_headers[usize::from(trusted) * 2 + usize::from(with_body)],
            );
        }
        std::borrow::Cow::Owned(self.make_headers(url, trusted, with_body))
    }

    /// The headers of one hop's request, made for it.
    fn make_headers(&self, url: &Url, trusted: bool, with_body: bool) -> Vec<(String, String)> {
        let given = |name: &str| {
            self.cfg
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case(name))
        };
        let mut h: Vec<(String, String)> = Vec::with_capacity(4 + self.cfg.headers.len());
        if !given("user-agent") {
            h.push(("User-Agent".into(), self.cfg.user_agent.clone()));
        }
        if !given("accept") {
            h.push((
                "Accept".into(),
                self.cfg.accept.clone().unwrap_or_else(|| "*/*".into()),
            ));
        }
        if self.cfg.decode && !given("accept-encoding") {
            h.push(("Accept-Encoding".into(), decode::ACCEPT_ENCODING.into()));
        }
        if trusted && !given("authorization") {
            let creds = url_credentials(url).or_else(|| self.cfg.credentials.clone());
            if let Some((user, pass)) = creds {
                h.push(("Authorization".into(), basic(&user, &pass)));
            }
        }
        if with_body && !given("content-type") {
            if let Some(ct) = &self.cfg.content_type {
                h.push(("Content-Type".into(), ct.clone()));
            }
        }
        if let Some(jar) = &self.cfg.cookies {
            h.extend(self.cookie_header(jar, url, trusted));
        }
        for (k, v) in &self.cfg.headers {
            let lower = k.to_ascii_lowercase();
            if v.is_empty() && OWN_HEADERS.contains(&lower.as_str()) {
                continue; // `-H 'Accept:'` removes the header
            }
            if lower == "cookie" && self.cfg.cookies.is_some() {
                continue; // in the engine's line
            }
            if !trusted && CREDENTIAL_HEADERS.contains(&lower.as_str()) {
                continue;
            }
            h.push((k.clone(), v.clone()));
        }
        h
    }

    /// The `Cookie` header with the cookie engine on: one line, the engine's cookies for `url`
    /// and the fixed `-b` pairs, then the values of `-H Cookie` headers (dropped, like every
    /// credential, on a hop off the first origin unless trusted); `-H 'Cookie:'` sends none.
    /// (curl 7.88 sends a `-H Cookie` as a second line, and drops `-b`'s pairs beside it.)
    fn cookie_header(&self, jar: &Cookies, url: &Url, trusted: bool) -> Option<(String, String)> {
        let given = self
            .cfg
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"));
        if given.clone().any(|(_, v)| v.is_empty()) {
            return None;
        }
        let mut line = jar.header(url).unwrap_or_default();
        for (_, v) in given.filter(|_| trusted) {
            if !line.is_empty() {
                line.push_str("; ");
            }
            line.push_str(v);
        }
        (!line.is_empty()).then(|| ("Cookie".to_owned(), line))
    }

    /// One attempt: the request and every redirect hop after it, under one deadline.
    fn attempt(&self, url: &str, first: &Url) -> Attempt {
        let mut out = Fetched {
            url: url.to_owned(),
            ..Fetched::default()
        };
        let t0 = Instant::now();
        let deadline = self.cfg.timeout.map(|t| t0 + t);
        let home = origin(first);
        let mut current = first.clone();
        let mut body = self.cfg.body.clone();
        let mut method: String = match (&self.cfg.method, self.cfg.head_only, &body) {
            (Some(m), _, _) => m.clone(),
            (None, true, _) => "HEAD".into(),
            (None, false, Some(_)) => "POST".into(),
            (None, false, None) => "GET".into(),
        };
        let mut heads: Vec<u8> = Vec::new();
        let mut hop = 0u32;
        loop {
            if let Some(robots) = &self.cfg.robots {
                if let Err(no) = robots.check(&current, |at| self.fetch_robots(at)) {
                    out.final_url = Some(effective(&current));
                    return Attempt::Done(Self::fail(out, ErrorKind::Robots, no.to_string()));
                }
            }
            let trusted = self.cfg.location_trusted || origin(&current) == home;
            let headers = self.headers_for(&current, trusted, body.is_some());
            if let Some(h) = current.host_str() {
                self.pace_host(h);
            }
            let req = Request {
                method: &method,
                url: &current,
                headers: &headers,
                body: body.as_deref(),
                deadline,
                keep_head: self.cfg.head_only || self.cfg.trace,
            };
            let sent = self.cfg.trace.then(|| Exchange {
                method: method.clone(),
                url: current.to_string(),
                headers: headers.to_vec(),
                body_len: body.as_ref().map(|b| b.len()),
                ..Exchange::default()
            });
            let resp = self.client.send(&req);
            if let Some(mut x) = sent {
                if let Ok(r) = &resp {
                    x.proxy = r.proxy.clone();
                    x.response_head = r.raw_head().map(<[u8]>::to_vec);
                }
                out.trace.push(x);
            }
            let resp = match resp {
                Ok(r) => r,
                Err(e) => {
                    out.final_url = Some(effective(&current));
                    return Attempt::failed(out, e);
                }
            };
            if let Some(jar) = &self.cfg.cookies {
                let set = resp.headers.get_all("set-cookie");
                jar.store(&current, set.iter().map(http::HeaderValue::as_bytes));
            }
            if out.ttfb.is_none() {
                out.ttfb = Some(t0.elapsed());
            }
            let status = resp.status;
            out.status = Some(status);
            out.proxy = resp.proxy.clone();
            if let Some(h) = resp.raw_head() {
                heads.extend_from_slice(h);
            }
            // An empty Location is no Location (curl's reading): the 3xx is the answer.
            let location = resp
                .header("location")
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned);
            let follows = matches!(status, 300..=303 | 307 | 308) && self.cfg.max_redirects > 0;
            if let (true, Some(loc)) = (follows, location) {
                let next = match current.join(loc.trim()) {
                    Ok(u) => u,
                    Err(e) => {
                        out.final_url = Some(effective(&current));
                        return Attempt::Done(Self::fail(
                            out,
                            ErrorKind::Protocol,
                            format!(
                                "HTTP {status} with a Location that is not a URL ({loc:?}: {e})"
                            ),
                        ));
                    }
                };
                if !matches!(next.scheme(), "http" | "https") {
                    out.final_url = Some(effective(&current));
                    return Attempt::Done(Self::fail(
                        out,
                        ErrorKind::UnsupportedScheme,
                        format!("redirect to {next}: only http and https are followed"),
                    ));
                }
                if hop >= self.cfg.max_redirects {
                    out.final_url = Some(effective(&current));
                    return Attempt::Done(Self::fail(
                        out,
                        ErrorKind::TooManyRedirects,
                        format!("more than {} redirects", self.cfg.max_redirects),
                    ));
                }
                resp.discard(REDIRECT_BODY_DRAIN);
                // curl's rules: 303 turns anything but HEAD into GET; 301 and 302 turn POST
                // into GET; 307 and 308 keep the method and the body.
                if (status == 303 && method != "HEAD")
                    || (matches!(status, 301 | 302) && method == "POST")
                {
                    method = "GET".into();
                    body = None;
                }
                current = next;
                hop += 1;
                out.redirects = hop;
                continue;
            }
            out.final_url = Some(effective(&current));
            out.content_type = resp.header("content-type").map(str::to_owned);
            out.content_encoding = resp.header("content-encoding").map(str::to_owned);
            let mut links = resp
                .headers
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
                .header("retry-after")
                .and_then(parse_retry_after)
                .map(|d| d.min(self.cfg.retry_cap));
            let reason = resp.reason.clone();
            match resp.read_body(self.cfg.max_body, self.cfg.decode) {
                Ok(b) => {
                    out.bytes = b.bytes.len() as u64;
                    out.wire_bytes = b.wire_bytes;
                    if self.cfg.head_only {
                        out.body = heads;
                    } else if self.cfg.keep_body {
                        out.body = b.bytes;
                    }
                }
                Err(e) => return Attempt::failed(out, e),
            }
            if status >= 400 {
                let reason = if reason.is_empty() {
                    http::StatusCode::from_u16(status)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("")
                        .to_owned()
                } else {
                    reason
                };
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
            }
            return Attempt::Done(out);
        }
    }

    /// Fetches a robots.txt for [`Robots::check`]: with the run's proxy, timeout and
    /// politeness, following up to 5 redirects (RFC 9309 2.3.1.2); 4xx is "unavailable"
    /// (everything allowed), a 5xx, a 429 or a failure "unreachable" (everything disallowed).
    fn fetch_robots(&self, at: &str) -> RobotsFile {
        let Ok(mut url) = Url::parse(at) else {
            return RobotsFile::Unavailable;
        };
        let deadline = self.cfg.timeout.map(|t| Instant::now() + t);
        let headers = vec![
            ("User-Agent".to_owned(), self.cfg.user_agent.clone()),
            ("Accept".to_owned(), "text/plain, */*".to_owned()),
            (
                "Accept-Encoding".to_owned(),
                decode::ACCEPT_ENCODING.to_owned(),
            ),
        ];
        for _ in 0..=5 {
            if let Some(h) = url.host_str() {
                self.pace_host(h);
            }
            let req = Request {
                method: "GET",
                url: &url,
                headers: &headers,
                body: None,
                deadline,
                keep_head: false,
            };
            let resp = match self.client.send(&req) {
                Ok(r) => r,
                Err(e) => return RobotsFile::Unreachable(e.to_string()),
            };
            let status = resp.status;
            let next = resp
                .header("location")
                .filter(|l| matches!(status, 301..=303 | 307 | 308) && !l.trim().is_empty())
                .and_then(|l| url.join(l.trim()).ok());
            match (status, next) {
                (_, Some(n)) => {
                    resp.discard(REDIRECT_BODY_DRAIN);
                    url = n;
                }
                (200..=299, None) => {
                    return match resp.read_body(ROBOTS_BODY_LIMIT, true) {
                        Ok(b) => RobotsFile::Found(b.bytes),
                        Err(e) => RobotsFile::Unreachable(e.to_string()),
                    };
                }
                (429, None) | (500.., None) => {
                    resp.discard(REDIRECT_BODY_DRAIN);
                    return RobotsFile::Unreachable(format!("HTTP {status}"));
                }
                _ => {
                    resp.discard(REDIRECT_BODY_DRAIN);
                    return RobotsFile::Unavailable;
                }
            }
        }
        RobotsFile::Unreachable("more than 5 redirects".to_owned())
    }

    fn fail(mut out: Fetched, kind: ErrorKind, message: String) -> Fetched {
        out.error = Some(Error::new(kind, message));
        out
    }
}

/// A URL as curl reports it in `url_effective`: parsed and written back (a path of at least
/// `/`, dot segments resolved), without an empty query's `?` (which is still sent).
fn effective(u: &Url) -> String {
    if u.query() == Some("") {
        let mut shown = u.clone();
        shown.set_query(None);
        return shown.to_string();
    }
    u.to_string()
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

    /// Jitter stays in [0, 1) and spreads over it: a constant (0 included) fails, and so does
    /// a generator stuck in part of the range (tenths of the range each get some draws).
    #[test]
    fn jitter_is_in_range_and_spread() {
        let mut tenths = [0u32; 10];
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..1000 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
            tenths[(j * 10.0) as usize] += 1;
            distinct.insert(j.to_bits());
        }
        assert!(
            distinct.len() > 990,
            "{} distinct values of 1000",
            distinct.len()
        );
        // 1000 uniform draws put 100 in a tenth on average; 40 is beyond any fair chance.
        assert!(tenths.iter().all(|&n| n >= 40), "{tenths:?}");
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
