//! greenfetch's HTTP/1.1 client: one request and its answer, over green connections.
//!
//! [`Client::send`] sends one request (no redirects: the caller follows them, hop by hop, so
//! that credentials, cookies, proxies and robots.txt are decided for every hop) and returns the
//! answer's head; [`Response::read_body`] reads the body, undoing its content codings
//! ([`decode`]). Connections are `may` sockets (TLS by rustls on top), so a blocking call parks
//! only the calling green thread; finished ones are pooled per scheme, host, port and proxy.
//!
//! What it does that `ureq` 3 (which [`greenfetch_runtime::green::ureq`] adapts for library users) could not
//! be made to do: send the absolute form of a request to an HTTP proxy and choose the proxy per
//! hop ([`proxy`]); read response heads of any number of header lines up to curl's limits (100
//! KiB a line, 300 KiB in all); send request heads of any size; decode deflate (raw too), br and
//! zstd; and keep every error typed.
//!
//! Layer: networking.
//!
//! # Examples
//!
//! ```
//! use greenfetch_web::client::{Client, ClientConfig, Request};
//! use greenfetch_web::error::ErrorKind;
//!
//! let client = Client::new(ClientConfig::default());
//! let url = url::Url::parse("http://127.0.0.1:9/").unwrap(); // the discard port: refused
//! let err = greenfetch_runtime::spawn(move || client.send(&Request::get(&url)).map(|_| ()))
//!     .wait()
//!     .unwrap()
//!     .unwrap_err();
//! assert_eq!(err.kind, ErrorKind::Connect);
//! assert_eq!(err.message, "connection refused by 127.0.0.1:9");
//! ```

mod conn;
pub mod decode;
pub mod proxy;
mod wire;

use std::fmt;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderMap;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConnection, StreamOwned};
use url::Url;

use crate::error::{Error, ErrorKind};
use conn::{Conn, Pool, PoolSettings, Stream};
use greenfetch_runtime::Semaphore;
use greenfetch_runtime::green::stream::GreenStream;
use greenfetch_runtime::green::ureq::{AddressPolicy, Forbidden, GreenResolver};
use proxy::{Proxies, ProxyError, ProxyScheme, ProxyUrl, SocksTarget};
use wire::{BodyReader, Framing, HeadError, HeadLimits};

/// How a [`Client`] connects.
///
/// ```
/// let cfg = greenfetch_web::client::ClientConfig { insecure: true, ..Default::default() };
/// assert_eq!(cfg.max_head, 300 * 1024);
/// ```
#[derive(Clone)]
pub struct ClientConfig {
    /// Limit on establishing a connection (TCP, the proxy's handshake, TLS).
    pub connect_timeout: Option<Duration>,
    /// Idle keep-alive connections kept per host (and proxy).
    pub max_idle_per_host: usize,
    /// Idle keep-alive connections kept over all hosts.
    pub max_idle_total: usize,
    /// How long an idle connection is kept.
    pub max_idle_age: Duration,
    /// Connects in flight at once (a storm of them overflows the peer's accept backlog).
    pub connect_limit: usize,
    /// Trust roots (DER) for `https`. Empty: the web's roots (Mozilla's list, built in).
    pub roots: Vec<Vec<u8>>,
    /// Accept any server certificate (curl's `-k`): the connection is encrypted but the peer
    /// is not authenticated.
    pub insecure: bool,
    /// The resolver (shared cache); replace it to map names in tests.
    pub resolver: GreenResolver,
    /// Which addresses may be connected to (default: all). With a proxy, the proxy's address
    /// is what is checked; a restrictive policy is for direct connections.
    pub address_policy: AddressPolicy,
    /// Which proxy each URL goes through (default: none).
    pub proxies: Proxies,
    /// The largest response head, in bytes.
    pub max_head: usize,
    /// The longest header line of a response, in bytes.
    pub max_header_line: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Some(Duration::from_secs(10)),
            max_idle_per_host: 256,
            max_idle_total: 1024,
            max_idle_age: Duration::from_secs(30),
            connect_limit: 512,
            roots: Vec::new(),
            insecure: false,
            resolver: GreenResolver::new(),
            address_policy: AddressPolicy::default(),
            proxies: Proxies::none(),
            max_head: 300 * 1024,
            max_header_line: 100 * 1024,
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("connect_timeout", &self.connect_timeout)
            .field("max_idle_per_host", &self.max_idle_per_host)
            .field("connect_limit", &self.connect_limit)
            .field("roots", &self.roots.len())
            .field("insecure", &self.insecure)
            .field("address_policy", &self.address_policy)
            .field("proxies", &self.proxies)
            .finish()
    }
}

/// One request. `headers` are sent as given, after `Host` (the client adds `Host`,
/// `Content-Length` for a body, and `Proxy-Authorization` for a proxy with credentials).
///
/// ```
/// let url = url::Url::parse("http://127.0.0.1:8080/a?b").unwrap();
/// let req = greenfetch_web::client::Request::get(&url);
/// assert_eq!(req.method, "GET");
/// ```
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The method, as sent.
    pub method: &'a str,
    /// The URL (`http` or `https`).
    pub url: &'a Url,
    /// Header lines, in order.
    pub headers: &'a [(String, String)],
    /// The body, sent with a `Content-Length`.
    pub body: Option<&'a [u8]>,
    /// Everything, body included, must be done by then.
    pub deadline: Option<Instant>,
    /// Keep the response head's bytes as received ([`Response::raw_head`]).
    pub keep_head: bool,
}

impl<'a> Request<'a> {
    /// A plain GET with no extra headers and no deadline.
    ///
    /// ```
    /// let url = url::Url::parse("http://127.0.0.1:8080/").unwrap();
    /// assert!(greenfetch_web::client::Request::get(&url).body.is_none());
    /// ```
    pub fn get(url: &'a Url) -> Self {
        Request {
            method: "GET",
            url,
            headers: &[],
            body: None,
            deadline: None,
            keep_head: false,
        }
    }
}

/// An answer's head, with its body still on the connection.
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The HTTP version: `"HTTP/1.0"` or `"HTTP/1.1"`.
    pub version: &'static str,
    /// The header fields.
    pub headers: HeaderMap,
    /// The proxy the request went through (no credentials), if any.
    pub proxy: Option<String>,
    raw_head: Option<Vec<u8>>,
    body: BodyReader,
    keep_alive: bool,
    pool: Arc<Pool>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("version", &self.version)
            .field("proxy", &self.proxy)
            .finish()
    }
}

/// A body as read: the bytes (decoded unless asked not to) and their count.
#[derive(Debug, Clone, Default)]
pub struct Body {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// True when the content codings were undone.
    pub decoded: bool,
    /// Body bytes as they came over the wire, before decoding (chunk framing not counted):
    /// curl's `size_download`.
    pub wire_bytes: u64,
}

impl Response {
    /// The head as received (status line to the blank line), if the request asked for it.
    ///
    /// See the [module example](self) for a request.
    pub fn raw_head(&self) -> Option<&[u8]> {
        self.raw_head.as_deref()
    }

    /// The last value of header `name` (duplicates: the last wins, as curl reports them).
    ///
    /// See the [module example](self) for a request.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(name)
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
    }

    /// Reads the whole body, at most `limit` bytes of it (after decoding when `decode`), and
    /// gives the connection back to the pool when it can carry another request.
    ///
    /// Errors: `body_too_large` past the limit, `decoding` for an unknown coding or a body that
    /// does not decode, and the network's kinds (`truncated`, `timeout`, ...).
    ///
    /// See the [module example](self) for a request.
    pub fn read_body(self, limit: u64, decode: bool) -> Result<Body, Error> {
        let parsed = if decode {
            // A value that is not text names no coding greenfetch knows: lossy keeps it an
            // unknown coding rather than no coding.
            let values: Vec<String> = self
                .headers
                .get_all("content-encoding")
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            decode::codings(values.iter().map(String::as_str))
        } else {
            Ok(Vec::new())
        };
        let hint = self
            .header("content-length")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(0, |n| n.min(limit).min(64 << 20) as usize);
        let Response {
            mut body,
            keep_alive,
            pool,
            ..
        } = self;
        let codings = match parsed {
            Ok(c) => c,
            Err(e) => {
                // Codings greenfetch cannot undo matter only when there is a body to undo
                // them on: an empty one (a HEAD answer, a 204) is empty whatever they are.
                let mut probe = [0u8; 1];
                return match body.read(&mut probe) {
                    Ok(0) => {
                        if keep_alive && body.done {
                            pool.checkin(body.conn);
                        }
                        Ok(Body::default())
                    }
                    Ok(_) => Err(Error::new(ErrorKind::Decoding, e.to_string())),
                    Err(io) => Err(body_error(io)),
                };
            }
        };
        let identity = codings.is_empty();
        let mut bytes = Vec::with_capacity(if identity { hint } else { 0 });
        // The cap counts decoded bytes: a decoder stops being read one byte past it.
        let read = if identity {
            (&mut body).take(limit + 1).read_to_end(&mut bytes)
        } else {
            decode::decoder(&codings, &mut body)
                .take(limit + 1)
                .read_to_end(&mut bytes)
        };
        if let Err(e) = read {
            return Err(body_error(e));
        }
        if bytes.len() as u64 > limit {
            return Err(Error::new(
                ErrorKind::BodyTooLarge,
                format!("body larger than {limit} bytes"),
            ));
        }
        // A decoder that reached its end has read the body to its end (bytes after a
        // compressed stream are its error), so the connection can carry another request.
        if keep_alive && body.done {
            pool.checkin(body.conn);
        }
        Ok(Body {
            bytes,
            decoded: !identity,
            wire_bytes: body.read,
        })
    }

    /// Reads and drops up to `limit` bytes of body so the connection can be used again (a
    /// redirect's body, say); a longer body closes the connection instead.
    ///
    /// See the [module example](self) for a request.
    pub fn discard(mut self, limit: u64) {
        let mut sink = [0u8; 4096];
        let mut seen = 0u64;
        while !self.body.done && seen <= limit {
            match self.body.read(&mut sink) {
                Ok(0) => break,
                Ok(n) => seen += n as u64,
                Err(_) => return,
            }
        }
        if self.keep_alive && self.body.done {
            self.pool.checkin(self.body.conn);
        }
    }
}

/// What a failure while reading a body is (the I/O error its source).
fn body_error(e: io::Error) -> Error {
    let kind_of = |e: &io::Error| {
        if let Some(d) = decode::decode_error(e) {
            return Error::new(ErrorKind::Decoding, d.to_string());
        }
        if let Some(c) = e.get_ref().and_then(|i| i.downcast_ref::<wire::Cut>()) {
            return Error::new(ErrorKind::Truncated, c.0.clone());
        }
        if let Some(b) = e
            .get_ref()
            .and_then(|i| i.downcast_ref::<wire::BadFraming>())
        {
            return Error::new(ErrorKind::Protocol, b.0.clone());
        }
        body_io_error(e)
    };
    kind_of(&e).with_source(e)
}

/// A body's read failed in the network.
fn body_io_error(e: &io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::TimedOut => {
            Error::new(ErrorKind::Timeout, "the body did not arrive in time")
        }
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => Error::new(
            ErrorKind::ConnectionReset,
            "connection reset while reading the body",
        ),
        _ => Error::new(ErrorKind::Io, format!("reading the body: {e}")),
    }
}

/// Sends requests over pooled green connections. Share it between green threads with an `Arc`
/// (or clone it: clones share the pool).
#[derive(Clone)]
pub struct Client {
    cfg: Arc<ClientConfig>,
    /// The TLS settings, or why the given roots are unusable (every https request fails).
    tls: Result<Arc<rustls::ClientConfig>, String>,
    pool: Arc<Pool>,
    /// Connects in flight at once: a permit each.
    gate: Semaphore,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("cfg", &self.cfg)
            .field("opened", &self.pool.opened())
            .field("idle", &self.pool.idle())
            .finish()
    }
}

/// Where a connection goes, and through what.
struct Route<'a> {
    https: bool,
    host: &'a str,
    port: u16,
    proxy: Option<&'a ProxyUrl>,
}

impl Client {
    /// A client. If `roots` holds something that is not a certificate, every https request
    /// fails with `tls` saying so ([`Client::tls_problem`] tells beforehand).
    ///
    /// See the [module example](self).
    pub fn new(cfg: ClientConfig) -> Self {
        greenfetch_runtime::hub::ensure_started();
        let tls = tls_config(&cfg.roots, cfg.insecure);
        let gate = Semaphore::new(cfg.connect_limit.max(1));
        let pool = Arc::new(Pool::new(PoolSettings {
            max_idle_per_host: cfg.max_idle_per_host,
            max_idle_total: cfg.max_idle_total,
            max_idle_age: cfg.max_idle_age,
        }));
        Client {
            cfg: Arc::new(cfg),
            tls,
            pool,
            gate,
        }
    }

    /// Why https requests would fail whatever the server: the trust roots given are unusable.
    ///
    /// ```
    /// let cfg = greenfetch_web::client::ClientConfig { roots: vec![b"junk".to_vec()], ..Default::default() };
    /// assert!(greenfetch_web::client::Client::new(cfg).tls_problem().is_some());
    /// ```
    pub fn tls_problem(&self) -> Option<&str> {
        self.tls.as_ref().err().map(String::as_str)
    }

    /// The settings.
    ///
    /// ```
    /// let c = greenfetch_web::client::Client::new(Default::default());
    /// assert!(!c.config().insecure);
    /// ```
    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    /// Connections opened so far (a measure of keep-alive reuse).
    ///
    /// ```
    /// assert_eq!(greenfetch_web::client::Client::new(Default::default()).connections_opened(), 0);
    /// ```
    pub fn connections_opened(&self) -> u64 {
        self.pool.opened()
    }

    /// Idle keep-alive connections held now.
    ///
    /// ```
    /// assert_eq!(greenfetch_web::client::Client::new(Default::default()).idle_connections(), 0);
    /// ```
    pub fn idle_connections(&self) -> usize {
        self.pool.idle()
    }

    /// The proxy `url` would go through, if any.
    ///
    /// ```
    /// let c = greenfetch_web::client::Client::new(Default::default());
    /// assert!(c.proxy_for(&url::Url::parse("http://127.0.0.1/").unwrap()).is_none());
    /// ```
    pub fn proxy_for(&self, url: &Url) -> Option<&ProxyUrl> {
        let host = url.host_str()?;
        self.cfg.proxies.for_url(url.scheme() == "https", host)
    }

    /// Sends `req` and reads the answer's head. A reused connection that turns out to have been
    /// closed by the peer before it answered is replaced once, transparently.
    ///
    /// See the [module example](self).
    pub fn send(&self, req: &Request<'_>) -> Result<Response, Error> {
        let url = req.url;
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            s => {
                return Err(Error::new(
                    ErrorKind::UnsupportedScheme,
                    format!("{s}: is not supported (only http and https)"),
                ));
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::new(ErrorKind::NotAUrl, format!("{url} has no host")))?;
        let port = url
            .port_or_known_default()
            .unwrap_or(if https { 443 } else { 80 });
        let route = Route {
            https,
            host,
            port,
            proxy: self.cfg.proxies.for_url(https, host),
        };
        let key = pool_key(&route);
        // The request head, made once for every try.
        let absolute = route.proxy.is_some_and(|p| p.scheme() == ProxyScheme::Http) && !https;
        let mut head = Vec::new();
        let target = if absolute {
            absolute_target(url)
        } else {
            origin_target(url)
        };
        let host_header = match url.port() {
            Some(p) => format!("{}:{p}", host_for_header(url)),
            None => host_for_header(url),
        };
        let mut headers: Vec<(String, String)>;
        let lines: &[(String, String)] =
            match (absolute, route.proxy.and_then(ProxyUrl::authorization)) {
                (true, auth) => {
                    headers = req.headers.to_vec();
                    if let Some(a) = auth {
                        headers.push(("Proxy-Authorization".into(), a));
                    }
                    headers.push(("Proxy-Connection".into(), "Keep-Alive".into()));
                    &headers
                }
                (false, _) => req.headers,
            };
        wire::write_head(
            &mut head,
            req.method,
            &target,
            &host_header,
            lines,
            req.body.map(<[u8]>::len),
        );
        let small_body = req.body.filter(|b| b.len() <= 64 * 1024);
        if let Some(b) = small_body {
            head.extend_from_slice(b);
        }
        let limits = HeadLimits {
            total: self.cfg.max_head,
            line: self.cfg.max_header_line,
        };
        let mut fresh_only = false;
        loop {
            let mut conn = match (!fresh_only).then(|| self.pool.checkout(&key)).flatten() {
                Some(c) => c,
                None => self.connect(&route, key.clone(), req)?,
            };
            conn.set_deadline(req.deadline);
            let sent = conn.write_all(&head).and_then(|()| match req.body {
                Some(b) if small_body.is_none() => conn.write_all(b),
                _ => Ok(()),
            });
            let answer = match sent {
                Ok(()) => wire::read_head(&mut conn, limits, req.keep_head),
                Err(e) => Err(HeadError::Io(e)),
            };
            let head = match answer {
                Ok(h) => h,
                Err(e) if conn.reused && stale(&e) => {
                    fresh_only = true;
                    continue;
                }
                Err(e) => return Err(head_error(e, &route, req)),
            };
            let (framing, keep_alive) = wire::framing(req.method, &head).map_err(|e| match e {
                wire::FramingError::Protocol(m) => Error::new(ErrorKind::Protocol, m),
                wire::FramingError::Coding(m) => Error::new(ErrorKind::Decoding, m),
            })?;
            return Ok(Response {
                status: head.status,
                reason: head.reason,
                version: if head.version == 0 {
                    "HTTP/1.0"
                } else {
                    "HTTP/1.1"
                },
                headers: head.headers,
                proxy: route.proxy.map(ToString::to_string),
                raw_head: head.raw,
                body: BodyReader::new(conn, framing),
                keep_alive: keep_alive && framing != Framing::Close,
                pool: self.pool.clone(),
            });
        }
    }

    /// A new connection along `route`: to the host, or through the proxy, then TLS for https.
    fn connect(&self, route: &Route<'_>, key: String, req: &Request<'_>) -> Result<Conn, Error> {
        let connect_by = soonest(
            req.deadline,
            self.cfg.connect_timeout.map(|t| Instant::now() + t),
        );
        let proxy = route.proxy;
        let mut tcp = match proxy {
            None => self.connect_tcp(route.host, route.port, connect_by, None)?,
            Some(p) => self.connect_tcp(p.host(), p.port(), connect_by, Some(p))?,
        };
        // The handshakes below run under the connect budget.
        tcp.set_deadline(connect_by);
        if let Some(p) = proxy {
            let agent = req
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
                .map_or("greenfetch", |(_, v)| v.as_str());
            let tunnel = match p.scheme() {
                ProxyScheme::Http if route.https => {
                    proxy::http_connect(&mut tcp, p, route.host, route.port, agent)
                }
                ProxyScheme::Http => Ok(()),
                ProxyScheme::Socks5h => {
                    proxy::socks5_connect(&mut tcp, p, SocksTarget::Name(route.host, route.port))
                }
                ProxyScheme::Socks4a => {
                    proxy::socks4_connect(&mut tcp, p, SocksTarget::Name(route.host, route.port))
                }
                ProxyScheme::Socks5 => {
                    let addr = self.resolve(route.host, route.port, connect_by)?[0];
                    proxy::socks5_connect(&mut tcp, p, SocksTarget::Addr(addr))
                }
                ProxyScheme::Socks4 => {
                    let addrs = self.resolve(route.host, route.port, connect_by)?;
                    let addr = addrs.iter().find(|a| a.is_ipv4()).unwrap_or(&addrs[0]);
                    proxy::socks4_connect(&mut tcp, p, SocksTarget::Addr(*addr))
                }
            };
            tunnel.map_err(|e| proxy_error(e, connect_by))?;
        }
        // `send` holds the connection to the request's deadline from here.
        if !route.https {
            return Ok(Conn::new(Stream::Tcp(tcp), key));
        }
        let tls = self.wrap_tls(tcp, route.host)?;
        Ok(Conn::new(Stream::Tls(Box::new(tls)), key))
    }

    fn resolve(
        &self,
        host: &str,
        port: u16,
        by: Option<Instant>,
    ) -> Result<Vec<SocketAddr>, Error> {
        let limit = by.map_or(Duration::from_secs(30), |d| {
            d.saturating_duration_since(Instant::now())
        });
        self.cfg
            .resolver
            .lookup_within(host, port, limit)
            .map_err(|e| Error::new(ErrorKind::Dns, format!("could not resolve {host} ({e})")))
    }

    /// A TCP connection to `host:port` (the target, or the proxy named by `proxy`).
    fn connect_tcp(
        &self,
        host: &str,
        port: u16,
        by: Option<Instant>,
        proxy: Option<&ProxyUrl>,
    ) -> Result<GreenStream, Error> {
        let as_proxy = |e: Error| match proxy {
            Some(p) if e.kind != ErrorKind::Timeout => Error::new(
                ErrorKind::Proxy,
                format!("proxy {p} cannot be reached: {}", e.message),
            ),
            Some(p) => Error::new(ErrorKind::Timeout, format!("proxy {p}: {}", e.message)),
            None => e,
        };
        let addrs = self.resolve(host, port, by).map_err(as_proxy)?;
        // The policy sees the resolved addresses: a name that resolves to a refused address
        // and a redirect to one are refused alike.
        let mut refused: Option<Forbidden> = None;
        let allowed: Vec<SocketAddr> = addrs
            .iter()
            .copied()
            .filter(|a| match self.cfg.address_policy.check(*a) {
                Ok(()) => true,
                Err(f) => {
                    refused.get_or_insert(f);
                    false
                }
            })
            .collect();
        if let (true, Some(f)) = (allowed.is_empty(), refused) {
            return Err(Error::new(ErrorKind::Forbidden, f.to_string()));
        }
        let _permit = self.gate.acquire_guard();
        let mut last = None;
        for addr in allowed.iter().take(16) {
            let left = by.map(|d| d.saturating_duration_since(Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                break;
            }
            match GreenStream::connect(addr, left) {
                Ok(stream) => {
                    let _ = stream.get_ref().set_nodelay(true);
                    self.pool.opened_one();
                    return Ok(stream);
                }
                Err(e) => last = Some(connect_error(e, *addr, self.cfg.connect_timeout)),
            }
        }
        Err(as_proxy(last.unwrap_or_else(|| {
            Error::new(
                ErrorKind::Timeout,
                format!("connecting to {host}:{port} took longer than the time left"),
            )
        })))
    }

    /// TLS on a new connection, under the deadline the connection has. Kept out of line:
    /// rustls's connection is large, and inlined into `connect` its space would be part of
    /// every plain-HTTP connect's stack too.
    #[inline(never)]
    fn wrap_tls(
        &self,
        mut tcp: GreenStream,
        host: &str,
    ) -> Result<StreamOwned<ClientConnection, GreenStream>, Error> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(bare.to_owned()).map_err(|e| {
            Error::new(
                ErrorKind::Tls,
                format!("{host} is not a name TLS can check: {e}"),
            )
        })?;
        let config = self
            .tls
            .clone()
            .map_err(|e| Error::new(ErrorKind::Tls, e))?;
        let mut tls = ClientConnection::new(config, name)
            .map_err(|e| Error::new(ErrorKind::Tls, format!("TLS with {host}: {e}")))?;
        while tls.is_handshaking() {
            if let Err(e) = tls.complete_io(&mut tcp) {
                if e.kind() == io::ErrorKind::TimedOut {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!("the TLS handshake with {host} timed out"),
                    )
                    .with_source(e));
                }
                return Err(tls_error(e, host));
            }
        }
        Ok(StreamOwned::new(tls, tcp))
    }
}

fn soonest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn pool_key(route: &Route<'_>) -> String {
    let scheme = if route.https { "https" } else { "http" };
    match route.proxy {
        // Through an HTTP proxy, plain requests share the proxy's connections.
        Some(p) if p.scheme() == ProxyScheme::Http && !route.https => format!("proxy {p}"),
        Some(p) => format!("{scheme}://{}:{} via {p}", route.host, route.port),
        None => format!("{scheme}://{}:{}", route.host, route.port),
    }
}

/// The origin-form request-target: path and query.
fn origin_target(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    }
}

/// The absolute form, for an HTTP proxy: the URL without credentials or fragment.
fn absolute_target(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_fragment(None);
    u.to_string()
}

fn host_for_header(url: &Url) -> String {
    match url.host() {
        Some(url::Host::Ipv6(a)) => format!("[{a}]"),
        Some(h) => h.to_string(),
        None => String::new(),
    }
}

/// A reused connection the peer closed while it sat idle fails its first exchange this way.
fn stale(e: &HeadError) -> bool {
    match e {
        HeadError::NoAnswer => true,
        HeadError::Io(io) => matches!(
            io.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
        ),
        _ => false,
    }
}

fn head_error(e: HeadError, route: &Route<'_>, req: &Request<'_>) -> Error {
    let peer = match route.proxy {
        Some(p) => format!("{}:{} (through proxy {p})", route.host, route.port),
        None => format!("{}:{}", route.host, route.port),
    };
    match e {
        HeadError::NoAnswer => Error::new(
            ErrorKind::ConnectionReset,
            format!("{peer} closed the connection without answering"),
        ),
        HeadError::Cut(n) => Error::new(
            ErrorKind::Truncated,
            format!("{peer} closed the connection inside the response head, after {n} bytes"),
        ),
        HeadError::TooLarge(n) => Error::new(
            ErrorKind::Protocol,
            format!(
                "response head too large: over {} KiB (read {n} bytes)",
                n.max(1) / 1024
            ),
        ),
        HeadError::LineTooLong(n) => Error::new(
            ErrorKind::Protocol,
            format!("response head too large: a header line of {n} bytes"),
        ),
        HeadError::Malformed(m) => Error::new(ErrorKind::Protocol, m),
        HeadError::Io(io) => match io.kind() {
            io::ErrorKind::TimedOut => {
                let what = if req.deadline.is_some_and(|d| Instant::now() >= d) {
                    "no answer within the time limit (--timeout)"
                } else {
                    "timed out"
                };
                Error::new(ErrorKind::Timeout, format!("{peer}: {what}"))
            }
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Error::new(
                ErrorKind::ConnectionReset,
                format!("connection reset by {peer}"),
            ),
            _ if is_tls(&io) => return tls_error(io, route.host),
            _ => Error::new(ErrorKind::Io, format!("talking to {peer}: {io}")),
        }
        .with_source(io),
    }
}

fn is_tls(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<rustls::Error>())
}

/// A TLS failure (the I/O error its source).
fn tls_error(e: io::Error, host: &str) -> Error {
    if let Some(t) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        let why = tls_reason(t);
        return Error::new(ErrorKind::Tls, format!("TLS with {host}: {why}")).with_source(e);
    }
    let error = match e.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof => Error::new(
            ErrorKind::Tls,
            format!(
                "TLS with {host}: the peer closed the connection during the handshake (is it TLS?)"
            ),
        ),
        _ => Error::new(ErrorKind::Tls, format!("TLS with {host}: {e}")),
    };
    error.with_source(e)
}

/// A rustls error in words a user can act on.
fn tls_reason(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    const TRUST: &str = "--cacert FILE trusts a CA; -k checks nothing";
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => {
                format!("certificate not trusted: its issuer is not a known authority ({TRUST})")
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "certificate not valid for this host name".to_owned()
            }
            C::Expired | C::ExpiredContext { .. } => "certificate has expired".to_owned(),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "certificate is not valid yet".to_owned()
            }
            C::Revoked => "certificate has been revoked".to_owned(),
            C::Other(o) if matches!(o.0.downcast_ref(), Some(webpki::Error::CaUsedAsEndEntity)) => {
                format!(
                    "certificate not trusted: the server presents a CA certificate as its own (self-signed?) ({TRUST})"
                )
            }
            other => format!("certificate not trusted: {other}"),
        },
        rustls::Error::InvalidMessage(_) => {
            "the server does not speak TLS on this port (plain HTTP?)".to_owned()
        }
        rustls::Error::AlertReceived(a) => format!("the server ended the handshake ({a:?})"),
        rustls::Error::PeerIncompatible(_) => {
            "no TLS version or cipher suite in common with the server".to_owned()
        }
        other => other.to_string(),
    }
}

/// A failed connect (the I/O error its source).
fn connect_error(e: io::Error, addr: SocketAddr, timeout: Option<Duration>) -> Error {
    let error = match e.kind() {
        io::ErrorKind::ConnectionRefused => {
            Error::new(ErrorKind::Connect, format!("connection refused by {addr}"))
        }
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Error::new(
            ErrorKind::Timeout,
            match timeout {
                Some(t) => format!("connecting to {addr} took longer than {t:?}"),
                None => format!("connecting to {addr} timed out"),
            },
        ),
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
            Error::new(ErrorKind::Connect, format!("{addr} is unreachable"))
        }
        io::ErrorKind::AddrNotAvailable => Error::new(
            ErrorKind::Connect,
            format!("cannot connect to {addr}: address not available"),
        ),
        _ => Error::new(ErrorKind::Connect, format!("cannot connect to {addr}: {e}")),
    };
    error.with_source(e)
}

fn proxy_error(e: ProxyError, by: Option<Instant>) -> Error {
    let timed_out = e
        .io_error()
        .is_some_and(|io| io.kind() == io::ErrorKind::TimedOut)
        || by.is_some_and(|d| Instant::now() >= d);
    let kind = if timed_out {
        ErrorKind::Timeout
    } else {
        ErrorKind::Proxy
    };
    Error::new(kind, e.to_string()).with_source(e)
}

/// The certificate checks of `-k` and `--cacert` (without either, rustls's own webpki
/// verifier with Mozilla's roots is used). The handshake's signatures are checked in every
/// case.
#[derive(Debug)]
struct Verifier {
    /// `--cacert`'s trust, as curl (OpenSSL) gives it: a chain to one of the given
    /// certificates, or the server's certificate being one of them exactly (a self-signed
    /// certificate given as its own CA, which webpki alone refuses as "a CA used as an end
    /// entity"); the name is checked either way. `None`: `-k`, any certificate.
    given: Option<(
        Arc<rustls::client::WebPkiServerVerifier>,
        Vec<CertificateDer<'static>>,
    )>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let Some((webpki, exact)) = &self.given else {
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        };
        match webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Ok(v) => Ok(v),
            Err(e) if exact.iter().any(|c| c.as_ref() == end_entity.as_ref()) => {
                let parsed =
                    rustls::server::ParsedCertificate::try_from(end_entity).map_err(|_| e)?;
                rustls::client::verify_server_name(&parsed, server_name)?;
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algs = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn tls_config(roots: &[Vec<u8>], insecure: bool) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map_err(|e| e.to_string())?;
    let given = if insecure {
        None
    } else if roots.is_empty() {
        let mut store = rustls::RootCertStore::empty();
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut cfg = builder.with_root_certificates(store).with_no_client_auth();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        return Ok(Arc::new(cfg));
    } else {
        let mut store = rustls::RootCertStore::empty();
        for der in roots {
            store
                .add(CertificateDer::from(der.clone()))
                .map_err(|e| format!("not a usable CA certificate: {e}"))?;
        }
        let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(store),
            provider.clone(),
        )
        .build()
        .map_err(|e| format!("not a usable CA certificate: {e}"))?;
        let exact = roots
            .iter()
            .map(|d| CertificateDer::from(d.clone()))
            .collect();
        Some((webpki, exact))
    };
    let mut cfg = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Verifier { given, provider }))
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
