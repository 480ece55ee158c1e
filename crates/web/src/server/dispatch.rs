//! The dispatch service (`greenfetch serve`): eventlet's feedscraper example, made fit to face
//! strangers. `POST /titles` with a list of URLs answers their titles, in order.
//!
//! The shape is eventlet's: **one shared [`GreenPool`] caps the fetches of all requests
//! together**, and each request gets its own [`GreenPile`] on that pool, spawns one
//! [`title_of`] per URL into it and joins the results in order. Blocked spawners are served
//! first come, first served, so concurrent requests take turns at the pool's free slots.
//!
//! # Endpoints
//!
//! | request | answer |
//! |---|---|
//! | `POST /titles`, body: URLs, one a line | `200`: the titles in input order, one a line, an empty line for a URL that failed (`text/plain`); or, when `Accept` prefers `application/json`, a JSON array with one record per URL |
//! | `GET /healthz` | `200 ok` |
//! | `GET /metrics` | Prometheus text exposition format 0.0.4 (names below) |
//!
//! The body of `POST /titles` is read like `greenfetch titles` input: lines split on `\n`
//! (CRLF tolerated), blank lines and `#` comments skipped, every other line checked with
//! [`parse_line`]. A line that is not a usable URL gets its error in place (`not_a_url`,
//! `unsupported_scheme`, ...): every line gets exactly one answer. Accepted request types:
//! none given, `text/plain`, `text/uri-list`, `application/octet-stream`, and
//! `application/x-www-form-urlencoded` (what `curl --data-binary @urls.txt` sends; the body is
//! still read as lines, not decoded as a form). Anything else is `415`.
//!
//! A JSON record is a [`TitleRecord`], the record `greenfetch titles --format jsonl` writes:
//! `index` (the URL's position among the URL lines), `url`, `kind` (`feed` or `html`), `title`,
//! `feed_url`, `format`, `bozo` (only for a feed that was broken but readable), `status`,
//! `attempts`, `timings.total_ms`, and `error` (`null`, or `{kind, message}` with the kinds of
//! [`ErrorKind`], `forbidden` among them):
//!
//! ```json
//! [{"index":0,"url":"http://127.0.0.1:8080/feed/rss/1","kind":"feed","title":"Feed 1",
//!   "feed_url":"http://127.0.0.1:8080/feed/rss/1","format":"rss20","status":200,"attempts":1,
//!   "timings":{"total_ms":1.2},"error":null},
//!  {"index":1,"url":"http://10.0.0.1/","kind":null,"title":null,"feed_url":null,"format":null,
//!   "status":null,"attempts":1,"timings":{"total_ms":0.1},
//!   "error":{"kind":"forbidden","message":"10.0.0.1 is a private address"}}]
//! ```
//!
//! Errors about the request as a whole are `4xx` with a one-line message (or
//! `{"error":{"kind","message"}}` when the client accepts JSON): `421` a `Host` that is not
//! accepted and `403` a browser post from another site's page (see [Security](#security)), `404` unknown path, `405`
//! wrong method (with `Allow`), `406` an `Accept` that allows neither `text/plain` nor
//! `application/json`, `413` more URLs than [`DispatchConfig::max_urls`] (kind
//! `too_many_urls`) or a body over the size limit, `415` an unsupported `Content-Type`, and
//! the transport-level answers of [`http`](super::http) (`400`, `408`, `411`, `431`, `503`).
//!
//! # Security
//!
//! - Targets: [`DispatchConfig::default`] fetches with [`AddressPolicy::public_only`], checked
//!   on every address actually connected to, on every redirect hop and for every advertised
//!   feed: loopback, private, link-local (cloud metadata), unique-local, CGNAT, multicast and
//!   the other non-global ranges are refused with `forbidden`.
//! - Limits: at most `max_urls` URLs and `http.max_body` bytes a request; every fetch has the
//!   fetcher's timeouts, retries and body cap, and the whole request a deadline
//!   ([`DispatchConfig::request_timeout`]): URLs not done by then get `timeout`, and the answer
//!   goes out.
//! - Clients: the [`http`](super::http) layer bounds heads, bodies, reading and writing time,
//!   connections per client and in all; one client cannot hold the server or starve others.
//! - Browsers: a web page could reach a service on loopback through DNS rebinding (its own
//!   name made to resolve to `127.0.0.1`) and read the answers as its own. Every route,
//!   `/healthz` too, first checks `Host` against [`DispatchConfig::allowed_hosts`]: by default
//!   IP literals and `localhost` only, which no such page can have as its name; any other is
//!   `421` and the connection is closed. Probes that use the pod's or the machine's IP
//!   address pass; a probe or proxy that uses a name needs it allowed.
//! - Cross-site posts: a page on any site can make its visitor's browser send a form post
//!   (`text/plain` needs no CORS preflight) to `http://127.0.0.1:8080/titles`; it cannot read
//!   the answer, but it would spend the service's fetches. Browsers mark such posts with an
//!   `Origin` header: `POST /titles` with an `Origin` other than the service's own gets `403`
//!   (kind `forbidden_origin`) unless [`DispatchConfig::allowed_origins`] names it. Clients
//!   that are not browsers send no `Origin` and are not affected.
//!
//! # Metrics
//!
//! | name | type | what |
//! |---|---|---|
//! | `greenfetch_serve_requests_total{route,status}` | counter | answers, by route (`/titles`, `/healthz`, `/metrics`, `other`) and status (`421`: a refused `Host`) |
//! | `greenfetch_serve_request_duration_seconds` | histogram | time to answer `POST /titles` |
//! | `greenfetch_serve_urls_total` | counter | URL lines received |
//! | `greenfetch_serve_fetches_total` | counter | titles fetched (one per valid URL that got a pool slot) |
//! | `greenfetch_serve_errors_total{kind}` | counter | URLs answered without a title, by error kind |
//! | `greenfetch_serve_fetches_in_flight` | gauge | fetches running now |
//! | `greenfetch_serve_fetches_in_flight_max` | gauge | the most that ever ran at once |
//! | `greenfetch_serve_fetch_duration_seconds` | histogram | time per title (fetch, retries, advertised feed) |
//! | `greenfetch_serve_pool_size`, `_pool_running`, `_pool_waiting` | gauge | the shared pool: size, tasks running, requests blocked waiting for a slot |
//! | `greenfetch_serve_connections_open` | gauge | client connections open |
//! | `greenfetch_serve_connections_waiting` | gauge | of those, waiting for their client (idle, or a request still arriving) |
//! | `greenfetch_serve_connections_total` | counter | client connections accepted |
//! | `greenfetch_serve_connections_refused_total` | counter | turned away with `503` |
//! | `greenfetch_serve_connections_evicted_total` | counter | idle connections closed to make room |
//! | `greenfetch_serve_client_timeouts_total` | counter | requests that arrived too slowly (`408`) |
//!
//! Layer: apps (uses [`http`](super::http), [`titles`](crate::titles),
//! [`fetch`](crate::fetch), the primitives).
//!
//! # Examples
//!
//! ```
//! use std::io::{Read, Write};
//! use greenfetch_runtime::green::ureq::AddressPolicy;
//! use greenfetch_web::server::dispatch::{Dispatch, DispatchConfig};
//! use greenfetch_web::server::FixtureServer;
//!
//! let feeds = FixtureServer::start("127.0.0.1:0")?;
//! let mut cfg = DispatchConfig::default();
//! // The fixture server is on loopback, which the default policy refuses.
//! cfg.fetch.client.address_policy = AddressPolicy::allow_all();
//! let server = Dispatch::new(cfg).start("127.0.0.1:0")?;
//!
//! let body = format!("{}\n# a comment\n{}\nnot a url\n",
//!     feeds.url("/delay/50/slow"), feeds.url("/feed/atom/news"));
//! let mut conn = std::net::TcpStream::connect(server.addr())?; // a plain thread: std is fine
//! write!(conn, "POST /titles HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
//!     body.len())?;
//! let mut reply = String::new();
//! conn.read_to_string(&mut reply)?;
//! assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"));
//! // `/delay` answers plain text, not a feed: its line is empty; the bad line's too.
//! assert!(reply.ends_with("\r\n\r\n\nFeed news\n\n"), "{reply}");
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Server;
use super::http::{
    ConnStats, HostCheck, HttpConfig, HttpServer, Request, Response, Service, host_name, negotiate,
};
use crate::error::{Error, ErrorKind};
use crate::fetch::{FetchConfig, Fetcher, parse_line};
use crate::record::TitleRecord;
use crate::titles::{Titled, title_of};
use greenfetch_runtime::green::ureq::AddressPolicy;
use greenfetch_runtime::wait::lock;
use greenfetch_runtime::{GreenPile, GreenPool, Timeout};

/// How the dispatch service fetches and what it accepts.
///
/// The default is the safe one for a service that strangers can reach: only public addresses
/// are fetched ([`AddressPolicy::public_only`]), bodies of at most 16 MiB a fetch, 50 fetches at
/// once, 100 URLs and 64 KiB a request, 60 s a request, and only requests whose `Host` is an IP
/// literal or `localhost` are answered ([`HostCheck::local`]).
///
/// ```
/// use greenfetch_web::server::http::HostCheck;
/// let cfg = greenfetch_web::server::dispatch::DispatchConfig::default();
/// assert!(cfg.fetch.client.address_policy.is_restrictive());
/// assert_eq!((cfg.concurrency, cfg.max_urls, cfg.http.max_body), (50, 100, 64 * 1024));
/// assert_eq!(cfg.allowed_hosts, HostCheck::local());
/// ```
#[derive(Debug, Clone)]
pub struct DispatchConfig {
    /// How each URL is fetched (agent, address policy, timeouts, retries, body cap).
    pub fetch: FetchConfig,
    /// Fetches running at once, over all requests: the shared pool's size.
    pub concurrency: usize,
    /// Follow an HTML page's advertised feed (`titles`' autodiscovery).
    pub discover: bool,
    /// URL lines accepted in one request; more is `413`.
    pub max_urls: usize,
    /// A request's deadline, from its arrival: URLs not done by then answer `timeout`.
    pub request_timeout: Duration,
    /// The HTTP layer's limits (request body size, client timeouts, connection caps).
    pub http: HttpConfig,
    /// The `Host` values answered, on every route (the guard against DNS rebinding). Any other
    /// gets `421 Misdirected Request`, a text line saying how to allow it, and the connection
    /// closed. `421`, not `403`: the request is not for a resource this server keeps from the
    /// client, but for another name, which this server does not serve (RFC 9110 §15.5.20 lets
    /// a client retry it on another connection, which is why that connection is closed).
    ///
    /// ```
    /// use greenfetch_web::server::dispatch::{Dispatch, DispatchConfig};
    /// use greenfetch_web::server::http::{HostCheck, Request, Service};
    ///
    /// let cfg = DispatchConfig {
    ///     allowed_hosts: HostCheck::local().allow("feeds.example.org")?,
    ///     ..DispatchConfig::default()
    /// };
    /// let service = Dispatch::new(cfg);
    /// let get = |host: &str| {
    ///     service.call(&Request::new("GET", "/healthz", vec![]).with_header("Host", host))
    /// };
    /// assert_eq!(get("127.0.0.1:8080").status(), 200);
    /// assert_eq!(get("feeds.example.org").status(), 200);
    /// let refused = get("evil.test:8080");
    /// assert_eq!(refused.status(), 421);
    /// assert!(String::from_utf8_lossy(refused.body()).contains("--allow-host evil.test"));
    /// # Ok::<(), String>(())
    /// ```
    pub allowed_hosts: HostCheck,
    /// The web origins whose pages may `POST /titles` through a visitor's browser. A request
    /// with no `Origin` (curl, scripts, servers) or from the service's own origin always may;
    /// a browser's post from any other page gets `403` (kind `forbidden_origin`), so that a
    /// site a user visits cannot make their browser use a serve on their machine or network.
    ///
    /// ```
    /// use greenfetch_web::server::dispatch::{Dispatch, DispatchConfig, OriginCheck};
    /// use greenfetch_web::server::http::{Request, Service};
    ///
    /// let cfg = DispatchConfig {
    ///     allowed_origins: OriginCheck::none().allow("https://feeds.example.org")?,
    ///     ..DispatchConfig::default()
    /// };
    /// let service = Dispatch::new(cfg);
    /// let post = |origin: &str| {
    ///     let req = Request::new("POST", "/titles", b"not a url\n".to_vec())
    ///         .with_header("Host", "127.0.0.1:8080")
    ///         .with_header("Origin", origin);
    ///     service.call(&req).status()
    /// };
    /// assert_eq!(post("https://feeds.example.org"), 200);
    /// assert_eq!(post("http://127.0.0.1:8080"), 200); // its own origin
    /// assert_eq!(post("https://evil.test"), 403);
    /// assert_eq!(post("null"), 403); // a sandboxed page or a local file
    /// # Ok::<(), String>(())
    /// ```
    pub allowed_origins: OriginCheck,
}

/// The web origins allowed to post through a browser ([`DispatchConfig::allowed_origins`]).
///
/// ```
/// use greenfetch_web::server::dispatch::OriginCheck;
/// let check = OriginCheck::none().allow("HTTPS://Feeds.Example.org:443/")?;
/// assert!(check.allows("https://feeds.example.org", None));
/// assert!(!check.allows("https://feeds.example.org:8443", None));
/// assert!(OriginCheck::any().allows("null", None));
/// assert!(OriginCheck::none().allow("not an origin").is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OriginCheck {
    any: bool,
    /// Origins as browsers write them: `scheme://host[:port]`, lower case, no default port.
    allowed: Vec<String>,
}

impl OriginCheck {
    /// No other origin than the service's own (the default).
    ///
    /// See [`OriginCheck`].
    pub fn none() -> Self {
        OriginCheck::default()
    }

    /// Every origin (`--allow-origin '*'`): no guard against cross-site posts.
    ///
    /// See [`OriginCheck`].
    pub fn any() -> Self {
        OriginCheck {
            any: true,
            allowed: Vec::new(),
        }
    }

    /// This one origin too: `scheme://host[:port]` (a path is ignored; `*` means any).
    ///
    /// See [`OriginCheck`].
    pub fn allow(mut self, origin: &str) -> Result<Self, String> {
        let origin = origin.trim();
        if origin == "*" {
            return Ok(OriginCheck::any());
        }
        let url = url::Url::parse(origin)
            .map_err(|e| format!("{origin:?} is not an origin (scheme://host[:port]): {e}"))?;
        let o = url.origin();
        if !o.is_tuple() {
            return Err(format!(
                "{origin:?} is not an origin (scheme://host[:port])"
            ));
        }
        self.allowed.push(o.ascii_serialization());
        Ok(self)
    }

    /// Whether a request with this `Origin` may post, given its `Host` (its own origin always
    /// may).
    ///
    /// See [`OriginCheck`].
    pub fn allows(&self, origin: &str, host: Option<&str>) -> bool {
        if self.any {
            return true;
        }
        let Ok(url) = url::Url::parse(origin.trim()) else {
            return false; // `null` and anything else that is not an origin
        };
        let o = url.origin();
        if !o.is_tuple() {
            return false;
        }
        let shown = o.ascii_serialization();
        if self.allowed.contains(&shown) {
            return true;
        }
        // Same origin: the page was served by this very host and port.
        let authority = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => return false,
        };
        host.is_some_and(|h| h.eq_ignore_ascii_case(&authority)) && url.scheme() == "http"
    }
}

impl Default for DispatchConfig {
    fn default() -> Self {
        let mut fetch = FetchConfig {
            max_body: 16 * 1024 * 1024,
            ..FetchConfig::default()
        };
        fetch.client.address_policy = AddressPolicy::public_only();
        fetch.client.max_idle_per_host = 50;
        DispatchConfig {
            fetch,
            concurrency: 50,
            discover: true,
            max_urls: 100,
            request_timeout: Duration::from_secs(60),
            http: HttpConfig::default(),
            allowed_hosts: HostCheck::local(),
            allowed_origins: OriginCheck::none(),
        }
    }
}

/// The dispatch service: a [`Service`] for [`HttpServer`], with its shared pool and metrics.
/// Clones share everything.
///
/// ```
/// use greenfetch_web::server::dispatch::{Dispatch, DispatchConfig};
/// use greenfetch_web::server::http::{Request, Service};
///
/// let service = Dispatch::new(DispatchConfig::default());
/// assert_eq!(service.pool().size(), 50);
/// let r = service.call(&Request::new("GET", "/healthz", vec![]));
/// assert_eq!((r.status(), r.body()), (200, &b"ok\n"[..]));
/// let r = service.call(&Request::new("GET", "/titles", vec![]));
/// assert_eq!((r.status(), r.header("allow")), (405, Some("POST")));
/// ```
#[derive(Debug, Clone)]
pub struct Dispatch {
    inner: Arc<Inner>,
}

/// A snapshot of [`Dispatch`]'s counters (the `/metrics` text has them all).
///
/// ```
/// let s = greenfetch_web::server::dispatch::DispatchStats::default();
/// assert_eq!(s.errors, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DispatchStats {
    /// Requests answered (every route and status).
    pub requests: u64,
    /// URL lines received.
    pub urls: u64,
    /// Titles fetched.
    pub fetches: u64,
    /// URLs answered without a title.
    pub errors: u64,
    /// Fetches running now.
    pub in_flight: u64,
    /// The most fetches that ran at once.
    pub in_flight_max: u64,
    /// Requests being served now (their connection has a whole request and no answer yet).
    pub requests_in_flight: u64,
}

#[derive(Debug)]
struct Inner {
    fetcher: Arc<Fetcher>,
    pool: GreenPool,
    discover: bool,
    max_urls: usize,
    request_timeout: Duration,
    http: HttpConfig,
    allowed_hosts: HostCheck,
    allowed_origins: OriginCheck,
    metrics: Metrics,
    conns: Arc<ConnStats>,
    /// Set by [`Dispatch::drain`]: fetches still running then are cut short.
    drain_by: std::sync::Mutex<Option<Instant>>,
}

/// How often a running fetch looks whether a drain has begun (see [`Dispatch::drain`]).
const DRAIN_CHECK: Duration = Duration::from_millis(250);

/// The request types `POST /titles` reads as lines.
const BODY_TYPES: &[&str] = &[
    "text/plain",
    "text/uri-list",
    "application/octet-stream",
    "application/x-www-form-urlencoded",
];

/// The answer types, in the server's order of preference.
const ANSWER_TYPES: [&str; 2] = ["text/plain", "application/json"];

impl Dispatch {
    /// A service with its own fetcher and shared pool (of `cfg.concurrency`).
    ///
    /// See the [module example](self).
    pub fn new(cfg: DispatchConfig) -> Self {
        let mut fetch = cfg.fetch;
        fetch.keep_body = true; // a title needs the body
        Dispatch {
            inner: Arc::new(Inner {
                fetcher: Arc::new(Fetcher::new(fetch)),
                pool: GreenPool::new(cfg.concurrency),
                discover: cfg.discover,
                max_urls: cfg.max_urls,
                request_timeout: cfg.request_timeout,
                http: cfg.http,
                allowed_hosts: cfg.allowed_hosts,
                allowed_origins: cfg.allowed_origins,
                metrics: Metrics::default(),
                conns: Arc::default(),
                drain_by: std::sync::Mutex::new(None),
            }),
        }
    }

    /// The shared pool every request's fetches run in (resize it to change the concurrency).
    ///
    /// ```
    /// let service = greenfetch_web::server::dispatch::Dispatch::new(Default::default());
    /// service.pool().resize(10);
    /// assert_eq!(service.pool().size(), 10);
    /// ```
    pub fn pool(&self) -> &GreenPool {
        &self.inner.pool
    }

    /// Serves this service on `addr` (port 0 picks a free port) with the configured HTTP
    /// limits, until the returned [`Server`] is stopped or dropped.
    ///
    /// See the [module example](self).
    pub fn start(&self, addr: &str) -> io::Result<Server> {
        HttpServer::start_with_stats(
            addr,
            self.inner.http.clone(),
            self.clone(),
            self.inner.conns.clone(),
        )
    }

    /// The metrics, in Prometheus text exposition format 0.0.4 (what `GET /metrics` answers).
    ///
    /// ```
    /// let service = greenfetch_web::server::dispatch::Dispatch::new(Default::default());
    /// let text = service.metrics();
    /// assert!(text.contains("# TYPE greenfetch_serve_fetches_in_flight gauge\n"));
    /// assert!(text.contains("greenfetch_serve_pool_size 50\n"));
    /// ```
    pub fn metrics(&self) -> String {
        self.inner.render_metrics()
    }

    /// A few of the counters, for a status line.
    ///
    /// ```
    /// let service = greenfetch_web::server::dispatch::Dispatch::new(Default::default());
    /// let s = service.stats();
    /// assert_eq!((s.requests, s.fetches, s.in_flight), (0, 0, 0));
    /// ```
    pub fn stats(&self) -> DispatchStats {
        let m = &self.inner.metrics;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DispatchStats {
            requests: lock(&m.requests).values().sum(),
            urls: load(&m.urls),
            fetches: load(&m.fetches),
            errors: lock(&m.errors).values().sum(),
            in_flight: load(&m.in_flight),
            in_flight_max: load(&m.in_flight_max),
            requests_in_flight: load(&self.inner.conns.busy),
        }
    }

    /// Shutting down: every fetch still running at `by` (of the requests in flight now, or
    /// any that arrive meanwhile) is cut short there and answers `timeout`, so each request
    /// in flight gets its whole answer by then. Stop the server (drop its handle) to stop
    /// accepting connections, then wait for `stats().requests_in_flight` to reach 0.
    ///
    /// ```
    /// let service = greenfetch_web::server::dispatch::Dispatch::new(Default::default());
    /// service.drain(std::time::Instant::now());
    /// assert_eq!(service.stats().requests_in_flight, 0);
    /// ```
    pub fn drain(&self, by: Instant) {
        *self
            .inner
            .drain_by
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(by);
    }

    /// `421` for a request whose `Host` is not allowed; `None` to go on (no `Host` at all is
    /// HTTP/1.0's right: the HTTP layer has already refused an HTTP/1.1 request without one).
    fn misdirected(&self, req: &Request) -> Option<Response> {
        let host = req.host()?;
        if self.inner.allowed_hosts.allows(host) {
            return None;
        }
        let json = negotiate(req.header("accept"), &ANSWER_TYPES) == Some("application/json");
        let how = match host_name(host) {
            Some(name) => format!("--allow-host {}", name.to_ascii_lowercase()),
            None => "--allow-any-host".to_owned(),
        };
        let message = format!(
            "Host {host:?} is not accepted here: only IP addresses, localhost and names allowed \
             at start are (a guard against DNS rebinding); to accept it, start the server with \
             {how}"
        );
        Some(Response::error(421, "misdirected_request", &message, json).closing())
    }

    fn route(&self, req: &Request) -> Response {
        let json = negotiate(req.header("accept"), &ANSWER_TYPES) == Some("application/json");
        let (method, path) = (req.method(), req.path());
        let not_allowed = |allow: &str| {
            Response::error(
                405,
                "method_not_allowed",
                &format!("{method} is not allowed on {path} (allowed: {allow})"),
                json,
            )
            .with_header("Allow", allow)
        };
        let is_get = method == "GET" || method == "HEAD";
        match path {
            "/titles" if method == "POST" => self.titles(req),
            "/titles" => not_allowed("POST"),
            "/healthz" if is_get => Response::text(200, "ok\n"),
            "/healthz" => not_allowed("GET, HEAD"),
            "/metrics" if is_get => Response::new(200).with_body(
                "text/plain; version=0.0.4; charset=utf-8",
                self.metrics().into_bytes(),
            ),
            "/metrics" => not_allowed("GET, HEAD"),
            _ => Response::error(
                404,
                "not_found",
                &format!(
                    "no such endpoint: {path} (the endpoints: POST /titles, GET /healthz, GET /metrics)"
                ),
                json,
            ),
        }
    }

    /// `POST /titles`.
    fn titles(&self, req: &Request) -> Response {
        let arrived = Instant::now();
        let inner = &self.inner;
        let Some(answer) = negotiate(req.header("accept"), &ANSWER_TYPES) else {
            return Response::error(
                406,
                "not_acceptable",
                "the answer is text/plain or application/json; Accept allows neither",
                false,
            );
        };
        let json = answer == "application/json";
        if let Some(origin) = req.header("origin") {
            if !inner.allowed_origins.allows(origin, req.host()) {
                let message = format!(
                    "Origin {origin:?} may not post here: a page on another site cannot use \
                     this service through a visitor's browser; to allow it, start the server \
                     with --allow-origin {}",
                    origin.trim()
                );
                return Response::error(403, "forbidden_origin", &message, json);
            }
        }
        if let Some(ct) = req.header("content-type") {
            let mime = ct.split(';').next().unwrap_or("").trim();
            if !BODY_TYPES.iter().any(|t| mime.eq_ignore_ascii_case(t)) {
                return Response::error(
                    415,
                    "unsupported_media_type",
                    &format!(
                        "a body of {mime} is not read here: send URLs one a line as text/plain"
                    ),
                    json,
                );
            }
        }
        let lines: Vec<&[u8]> = req
            .body()
            .split(|&b| b == b'\n')
            .filter(|l| {
                let t = l.trim_ascii();
                !t.is_empty() && !t.starts_with(b"#")
            })
            .collect();
        if lines.len() > inner.max_urls {
            return Response::error(
                413,
                "too_many_urls",
                &format!(
                    "{} URLs in the request; at most {} are accepted",
                    lines.len(),
                    inner.max_urls
                ),
                json,
            );
        }
        inner
            .metrics
            .urls
            .fetch_add(lines.len() as u64, Ordering::Relaxed);
        let inputs: Vec<(String, Result<String, Error>)> = lines
            .iter()
            .map(|l| {
                let shown = String::from_utf8_lossy(l.trim_ascii()).into_owned();
                (shown, parse_line(l))
            })
            .collect();
        let results = self.run(inputs, arrived + inner.request_timeout);
        for t in &results {
            if let Some(e) = &t.error {
                inner.metrics.error(e.kind);
            }
        }
        let resp = if json {
            let records: Vec<TitleRecord<'_>> = results
                .iter()
                .enumerate()
                .map(|(i, t)| TitleRecord::new(i as u64, &t.url, t))
                .collect();
            match serde_json::to_vec(&records) {
                Ok(body) => Response::new(200).with_body("application/json", body),
                Err(e) => Response::error(500, "internal", &e.to_string(), true),
            }
        } else {
            let mut body = String::new();
            for t in &results {
                if let Some(title) = &t.title {
                    body.push_str(title);
                }
                body.push('\n');
            }
            Response::text(200, body)
        };
        inner.metrics.request_latency.observe(arrived.elapsed());
        resp
    }

    /// eventlet's feedscraper for one request: a pile on the shared pool, a title per URL,
    /// joined in order; nothing outlives `deadline` by more than a moment.
    fn run(&self, inputs: Vec<(String, Result<String, Error>)>, deadline: Instant) -> Vec<Titled> {
        let mut out: Vec<Option<Titled>> = Vec::with_capacity(inputs.len());
        let mut jobs: Vec<(usize, String)> = Vec::new();
        for (i, (shown, url)) in inputs.into_iter().enumerate() {
            match url {
                Ok(url) => {
                    jobs.push((i, url));
                    out.push(None);
                }
                Err(e) => out.push(Some(Titled::failed(shown, e))),
            }
        }
        let pile = Arc::new(GreenPile::with_pool(&self.inner.pool));
        // Spawning blocks while the shared pool is full; the request waits for slots at most
        // until its deadline (a spawn interrupted there leaves the pile as it was).
        let urls: Vec<String> = jobs.iter().map(|(_, u)| u.clone()).collect();
        let (feeder, me) = (pile.clone(), self.clone());
        let wait = deadline.saturating_duration_since(Instant::now());
        let _ = Timeout::new(wait).run(move || {
            for url in urls {
                let me = me.clone();
                feeder.spawn(move || me.fetch_one(url, deadline));
            }
        });
        // The first `counter` URLs were spawned, in order.
        let spawned = pile.counter();
        for ((i, url), r) in jobs.iter().zip(&*pile) {
            out[*i] = Some(r.unwrap_or_else(|e| {
                Titled::failed(url.as_str(), Error::new(ErrorKind::Internal, e.to_string()))
            }));
        }
        for (i, url) in &jobs[spawned.min(jobs.len())..] {
            out[*i] = Some(Titled::failed(
                url.as_str(),
                Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "the request's deadline ({:?}) passed before a fetch slot was free",
                        self.inner.request_timeout
                    ),
                ),
            ));
        }
        out.into_iter()
            .map(|t| {
                t.unwrap_or_else(|| Titled::failed("", Error::new(ErrorKind::Internal, "lost")))
            })
            .collect()
    }

    /// One URL's title, in a pool slot, cut short at the request's deadline.
    fn fetch_one(&self, url: String, deadline: Instant) -> Titled {
        let inner = &self.inner;
        let _flight = InFlight::enter(&inner.metrics);
        let t0 = Instant::now();
        let wait = deadline.saturating_duration_since(t0);
        let late = || {
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "the request's deadline ({:?}) passed",
                    inner.request_timeout
                ),
            )
        };
        if wait.is_zero() {
            return Titled::failed(url, late());
        }
        inner.metrics.fetches.fetch_add(1, Ordering::Relaxed);
        let (fetcher, discover, u) = (inner.fetcher.clone(), inner.discover, url.clone());
        // The fetch runs under the request's deadline, looked at again every DRAIN_CHECK, so
        // that a drain (shutdown) that starts meanwhile cuts it short at the drain's deadline.
        let mut fetch = greenfetch_runtime::spawn(move || title_of(&fetcher, &u, discover));
        let titled = loop {
            let drain_by = *inner.drain_by.lock().unwrap_or_else(|e| e.into_inner());
            let cut = drain_by.map_or(deadline, |d| d.min(deadline));
            let now = Instant::now();
            if now >= cut {
                fetch.kill();
                break match fetch.wait() {
                    // It finished just as the time ran out.
                    Ok(t) => t,
                    Err(_) if cut < deadline => Titled::failed(
                        url,
                        Error::new(
                            ErrorKind::Timeout,
                            "the service stopped before this fetch was done",
                        ),
                    ),
                    Err(_) => Titled::failed(url, late()),
                };
            }
            match fetch.wait_timeout((cut - now).min(DRAIN_CHECK)) {
                Ok(Ok(t)) => break t,
                Ok(Err(e)) => {
                    break Titled::failed(url, Error::new(ErrorKind::Internal, e.to_string()));
                }
                Err(still) => fetch = still,
            }
        };
        inner.metrics.fetch_latency.observe(t0.elapsed());
        titled
    }
}

impl Service for Dispatch {
    fn call(&self, req: &Request) -> Response {
        let resp = self.misdirected(req).unwrap_or_else(|| self.route(req));
        self.inner
            .metrics
            .request(route_label(Some(req.path())), resp.status());
        resp
    }

    fn rejected(&self, status: u16, path: Option<&str>) {
        self.inner.metrics.request(route_label(path), status);
    }
}

fn route_label(path: Option<&str>) -> &'static str {
    match path {
        Some("/titles") => "/titles",
        Some("/healthz") => "/healthz",
        Some("/metrics") => "/metrics",
        _ => "other",
    }
}

/// Upper bounds of the latency histograms' buckets, in seconds.
const BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// A latency histogram with Prometheus' cumulative buckets.
#[derive(Debug, Default)]
struct Histogram {
    /// Observations per bucket (not cumulative; the last is above every bound).
    buckets: [AtomicU64; BOUNDS.len() + 1],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BOUNDS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            d.as_micros().min(u128::from(u64::MAX)) as u64,
            Ordering::Relaxed,
        );
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        // Read the count first: the buckets then add up to at least it, never less.
        let count = self.count.load(Ordering::Relaxed);
        let mut cumulative = 0;
        for (i, b) in BOUNDS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {}", cumulative.min(count));
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// The service's counters.
#[derive(Debug, Default)]
struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    urls: AtomicU64,
    fetches: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    in_flight: AtomicU64,
    in_flight_max: AtomicU64,
    fetch_latency: Histogram,
    request_latency: Histogram,
}

impl Metrics {
    fn request(&self, route: &'static str, status: u16) {
        *lock(&self.requests).entry((route, status)).or_insert(0) += 1;
    }

    fn error(&self, kind: ErrorKind) {
        *lock(&self.errors).entry(kind.as_str()).or_insert(0) += 1;
    }
}

/// Counts a fetch as in flight while it lives.
struct InFlight<'a>(&'a Metrics);

impl<'a> InFlight<'a> {
    fn enter(m: &'a Metrics) -> Self {
        let now = m.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        m.in_flight_max.fetch_max(now, Ordering::Relaxed);
        InFlight(m)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

impl Inner {
    fn render_metrics(&self) -> String {
        let m = &self.metrics;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP greenfetch_serve_requests_total HTTP requests answered, by route and status.\n\
             # TYPE greenfetch_serve_requests_total counter\n",
        );
        for ((route, status), n) in lock(&m.requests).iter() {
            let _ = writeln!(
                out,
                "greenfetch_serve_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        m.request_latency.render(
            &mut out,
            "greenfetch_serve_request_duration_seconds",
            "Time to answer POST /titles.",
        );
        metric(
            &mut out,
            "greenfetch_serve_urls_total",
            "counter",
            "URL lines received in POST /titles.",
            load(&m.urls),
        );
        metric(
            &mut out,
            "greenfetch_serve_fetches_total",
            "counter",
            "Titles fetched (one per valid URL that got a pool slot).",
            load(&m.fetches),
        );
        out.push_str(
            "# HELP greenfetch_serve_errors_total URLs answered without a title, by error kind.\n\
             # TYPE greenfetch_serve_errors_total counter\n",
        );
        for (kind, n) in lock(&m.errors).iter() {
            let _ = writeln!(out, "greenfetch_serve_errors_total{{kind=\"{kind}\"}} {n}");
        }
        metric(
            &mut out,
            "greenfetch_serve_fetches_in_flight",
            "gauge",
            "Fetches running now.",
            load(&m.in_flight),
        );
        metric(
            &mut out,
            "greenfetch_serve_fetches_in_flight_max",
            "gauge",
            "The most fetches that ran at once since the start.",
            load(&m.in_flight_max),
        );
        m.fetch_latency.render(
            &mut out,
            "greenfetch_serve_fetch_duration_seconds",
            "Time per title: fetch, retries and the advertised feed.",
        );
        let pool = &self.pool;
        for (name, help, v) in [
            ("size", "The shared fetch pool's size.", pool.size()),
            (
                "running",
                "Tasks running in the shared pool.",
                pool.running(),
            ),
            (
                "waiting",
                "Requests blocked waiting for a slot in the shared pool.",
                pool.waiting(),
            ),
        ] {
            metric(
                &mut out,
                &format!("greenfetch_serve_pool_{name}"),
                "gauge",
                help,
                v as u64,
            );
        }
        let c = &self.conns;
        metric(
            &mut out,
            "greenfetch_serve_connections_open",
            "gauge",
            "Client connections open.",
            load(&c.counts.open),
        );
        metric(
            &mut out,
            "greenfetch_serve_connections_waiting",
            "gauge",
            "Client connections waiting for their client (idle, or a request still arriving).",
            load(&c.waiting),
        );
        metric(
            &mut out,
            "greenfetch_serve_connections_total",
            "counter",
            "Client connections accepted.",
            load(&c.counts.accepted),
        );
        metric(
            &mut out,
            "greenfetch_serve_connections_refused_total",
            "counter",
            "Client connections turned away with 503 (server full, or too many from one client).",
            load(&c.refused),
        );
        metric(
            &mut out,
            "greenfetch_serve_connections_evicted_total",
            "counter",
            "Idle client connections closed to make room for a new one.",
            load(&c.evicted),
        );
        metric(
            &mut out,
            "greenfetch_serve_client_timeouts_total",
            "counter",
            "Requests that took longer than the client timeout to arrive (408).",
            load(&c.timed_out),
        );
        out
    }
}
