//! A small HTTP/1.1 server for services that face strangers: each complete request is handed
//! to a [`Service`], and everything a stranger can get wrong or do on purpose is answered or
//! bounded here, before the service sees it.
//!
//! This is greenfetch's stand-in for `may_minihttp` (see [`server`](super) for why it is not
//! used as is): the same shape (a service called with a request, returning a response, one
//! green thread per connection), hardened.
//!
//! | what a client does | what it gets |
//! |---|---|
//! | a request that does not parse (garbage, a bad `Content-Length`, a bad target) | `400`, then the connection is closed |
//! | a well-formed HTTP version other than 1.0 and 1.1 (`HTTP/2.0`) | `505`, closed |
//! | a head over [`HttpConfig::max_head`] bytes, or more than 64 headers | `431`, closed |
//! | a body over [`HttpConfig::max_body`] | `413` (before the body is read; `Expect: 100-continue` is honoured, so a polite client never sends it), closed |
//! | a chunked body (`Transfer-Encoding: chunked`) | read like any other, within [`HttpConfig::max_body`] (`413` past it, `400` for a broken chunk), closed after an error |
//! | another transfer coding, or `chunked` twice | `501`, closed |
//! | `Transfer-Encoding` with `Content-Length`, or in HTTP/1.0 | `400` (a request-smuggling shape), closed |
//! | an HTTP/1.1 request without `Host`, or any request with two `Host` headers or one that is not `host[:port]` | `400` (RFC 9112 §3.2; HTTP/1.0 may leave `Host` out), closed |
//! | an `Expect` other than `100-continue` | `417`, closed |
//! | a head and body that take longer than [`HttpConfig::client_timeout`] to arrive | `408`, closed |
//! | a connection idle for [`HttpConfig::idle_timeout`] before (or between) requests | closed quietly |
//! | a request cut short: the client ends its side inside a head or a body | `400` (it can still read after a half-close), closed |
//! | a response it does not read within `client_timeout` | closed |
//! | more than [`HttpConfig::max_connections_per_client`] connections from one IP address | `503`, closed |
//! | a connection beyond [`HttpConfig::max_connections`] | the connection that has waited longest for its client (idle, or in a slow request) is closed to make room; if every connection is busy serving a request, `503` with `Retry-After: 1`, closed |
//! | a service that panics | `500` (the panic is logged on stderr), closed |
//!
//! Every response has `Content-Length`; a closing one says `Connection: close`, is followed
//! by a bounded lingering close (what the client still sends is read and dropped for a moment,
//! so the kernel does not reset the response away), and is never a silent drop. Errors are
//! `text/plain`, or `{"error":{"kind":...,"message":...}}` when the request's `Accept` prefers
//! `application/json`. Keep-alive (HTTP/1.1 by default, HTTP/1.0 when asked) and pipelining
//! work; `HEAD` gets the head of the `GET` answer. [`Server::stop`](super::Server::stop) closes
//! the connections that are waiting for their client at once, and the others after the
//! response in progress.
//!
//! Each connection costs a green thread, a read buffer that starts at 1 KiB and grows to
//! `max_head`, the body (at most `max_body`), and two file descriptors (the socket, and a
//! duplicate kept so that `stop` and eviction can shut it from outside).
//!
//! Layer: apps (uses [`Server`], `may`'s sockets, `httparse`).
//!
//! # Examples
//!
//! ```
//! use std::io::{Read, Write};
//! use greenfetch_web::server::http::{HttpConfig, HttpServer, Request, Response};
//!
//! let server = HttpServer::start("127.0.0.1:0", HttpConfig::default(), |req: &Request| {
//!     Response::text(200, format!("{} bytes to {}\n", req.body().len(), req.path()))
//! })?;
//! let mut conn = std::net::TcpStream::connect(server.addr())?; // a plain thread: std is fine
//! conn.write_all(b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")?;
//! let mut reply = String::new();
//! conn.read_to_string(&mut reply)?;
//! assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(reply.ends_with("\r\n\r\n3 bytes to /x\n"));
//!
//! let mut conn = std::net::TcpStream::connect(server.addr())?;
//! conn.write_all(b"\x16\x03\x01 not http\r\n\r\n")?;
//! let mut reply = String::new();
//! conn.read_to_string(&mut reply)?;
//! assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use may::net::TcpStream;

use greenfetch_runtime::green::stream::GreenStream;

use super::{Fmt, Server, ServerState, reason};
use greenfetch_runtime::greenthread::panic_message;
use greenfetch_runtime::wait::lock;

/// Most request headers accepted.
const MAX_HEADERS: usize = 64;
/// First size of a connection's read buffer.
const READ_BUF: usize = 1024;
/// Most bytes read and dropped in a lingering close.
const LINGER_BYTES: usize = 1 << 20;
/// Longest lingering close.
const LINGER_TIME: Duration = Duration::from_secs(2);

/// Limits and timeouts of an [`HttpServer`].
///
/// ```
/// use std::time::Duration;
/// let cfg = greenfetch_web::server::http::HttpConfig {
///     max_body: 1024,
///     client_timeout: Duration::from_secs(5),
///     ..Default::default()
/// };
/// assert_eq!(cfg.max_head, 16 * 1024);
/// ```
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request head (request line and headers), in bytes: more is `431`.
    pub max_head: usize,
    /// Largest request body, in bytes: more is `413`.
    pub max_body: u64,
    /// A request's head and body must arrive within this from its first byte (`408`
    /// otherwise); a response must be taken by the client within it too.
    pub client_timeout: Duration,
    /// How long a connection may wait for a request (the first, or the next with keep-alive).
    pub idle_timeout: Duration,
    /// Connections served at once; beyond, the longest-waiting idle one is closed, or `503`.
    pub max_connections: usize,
    /// Connections from one IP address at once; beyond, `503`.
    pub max_connections_per_client: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_head: 16 * 1024,
            max_body: 64 * 1024,
            client_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_connections: 1024,
            max_connections_per_client: 128,
        }
    }
}

/// A complete request: its head, its whole body, and who sent it.
///
/// ```
/// let req = greenfetch_web::server::http::Request::new("POST", "/titles?x=1", b"http://a.test/\n".to_vec())
///     .with_header("Accept", "application/json");
/// assert_eq!(req.path(), "/titles");
/// assert_eq!(req.query(), Some("x=1"));
/// assert_eq!(req.header("accept"), Some("application/json"));
/// assert_eq!(req.body(), b"http://a.test/\n");
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    path: String,
    query: Option<String>,
    /// The authority of an absolute-form target (`GET http://a.test/ HTTP/1.1`).
    authority: Option<String>,
    version: u8,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    peer: SocketAddr,
}

impl Request {
    /// A request built by hand (to call a [`Service`] directly, in tests): HTTP/1.1, no
    /// headers, from `0.0.0.0:0`. `target` is a path with an optional `?query`.
    ///
    /// ```
    /// let req = greenfetch_web::server::http::Request::new("GET", "/healthz", Vec::new());
    /// assert_eq!(req.method(), "GET");
    /// ```
    pub fn new(method: &str, target: &str, body: Vec<u8>) -> Self {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (target.to_owned(), None),
        };
        Request {
            method: method.to_owned(),
            path,
            query,
            authority: None,
            version: 1,
            headers: Vec::new(),
            body,
            peer: SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }

    /// Adds a header (builder style, for requests built by hand).
    ///
    /// ```
    /// let req = greenfetch_web::server::http::Request::new("GET", "/", Vec::new())
    ///     .with_header("X-A", "1");
    /// assert_eq!(req.header("x-a"), Some("1"));
    /// ```
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The method, as sent (`GET`, `POST`, ...).
    ///
    /// ```
    /// assert_eq!(greenfetch_web::server::http::Request::new("POST", "/", vec![]).method(), "POST");
    /// ```
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path, without the query (an absolute-form target is reduced to its path).
    ///
    /// ```
    /// assert_eq!(greenfetch_web::server::http::Request::new("GET", "/a?b", vec![]).path(), "/a");
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query, without its `?`.
    ///
    /// ```
    /// assert_eq!(greenfetch_web::server::http::Request::new("GET", "/a", vec![]).query(), None);
    /// ```
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    ///
    /// ```
    /// assert_eq!(greenfetch_web::server::http::Request::new("GET", "/", vec![]).version(), 1);
    /// ```
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The first header called `name` (case-insensitive); a value that is not UTF-8 has been
    /// decoded lossily.
    ///
    /// ```
    /// let req = greenfetch_web::server::http::Request::new("GET", "/", vec![]).with_header("Host", "h");
    /// assert_eq!(req.header("HOST"), Some("h"));
    /// assert_eq!(req.header("accept"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The host the request is for, port included, as sent: the authority of an absolute-form
    /// target (`GET http://a.test/ HTTP/1.1`, which RFC 9112 says wins over the header), else
    /// the `Host` header. `None` only for HTTP/1.0, which may leave it out (the server answers
    /// an HTTP/1.1 request without one with `400`), or for a request built by hand.
    ///
    /// ```
    /// use greenfetch_web::server::http::Request;
    /// let req = Request::new("GET", "/", vec![]).with_header("Host", "localhost:8080");
    /// assert_eq!(req.host(), Some("localhost:8080"));
    /// assert_eq!(Request::new("GET", "/", vec![]).host(), None);
    /// ```
    pub fn host(&self) -> Option<&str> {
        self.authority.as_deref().or_else(|| self.header("host"))
    }

    /// Every header, in the order sent.
    ///
    /// ```
    /// let req = greenfetch_web::server::http::Request::new("GET", "/", vec![]).with_header("A", "1");
    /// assert_eq!(req.headers().count(), 1);
    /// ```
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The whole body (at most [`HttpConfig::max_body`] bytes).
    ///
    /// ```
    /// assert!(greenfetch_web::server::http::Request::new("GET", "/", vec![]).body().is_empty());
    /// ```
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The client's address.
    ///
    /// ```
    /// assert_eq!(greenfetch_web::server::http::Request::new("GET", "/", vec![]).peer().port(), 0);
    /// ```
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }
}

/// A response: status, headers and a body in memory. `Content-Length` and `Connection` are
/// the server's business and are added when it is written.
///
/// ```
/// use greenfetch_web::server::http::Response;
/// let r = Response::text(404, "no such page\n").with_header("X-Why", "gone");
/// assert_eq!(r.status(), 404);
/// assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
/// assert_eq!(r.body(), b"no such page\n");
/// ```
#[derive(Debug, Clone)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    close: bool,
}

impl Response {
    /// A response with `status`, no headers and no body.
    ///
    /// ```
    /// assert!(greenfetch_web::server::http::Response::new(204).body().is_empty());
    /// ```
    pub fn new(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            close: false,
        }
    }

    /// A `text/plain; charset=utf-8` response.
    ///
    /// ```
    /// let r = greenfetch_web::server::http::Response::text(200, "ok\n");
    /// assert_eq!(r.body(), b"ok\n");
    /// ```
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::new(status).with_body("text/plain; charset=utf-8", body.into().into_bytes())
    }

    /// A response with `body` of type `content_type`.
    ///
    /// ```
    /// let r = greenfetch_web::server::http::Response::new(200).with_body("application/json", b"[]".to_vec());
    /// assert_eq!(r.header("Content-Type"), Some("application/json"));
    /// ```
    pub fn with_body(mut self, content_type: &str, body: Vec<u8>) -> Self {
        self.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        self.headers
            .push(("Content-Type".to_owned(), content_type.to_owned()));
        self.body = body;
        self
    }

    /// An error: `{"error":{"kind":KIND,"message":MESSAGE}}` if `json`, else `MESSAGE` and a
    /// newline as text.
    ///
    /// ```
    /// use greenfetch_web::server::http::Response;
    /// let r = Response::error(413, "too_many_urls", "3 URLs; at most 2", true);
    /// assert_eq!(r.body(), br#"{"error":{"kind":"too_many_urls","message":"3 URLs; at most 2"}}"#);
    /// assert_eq!(Response::error(404, "not_found", "no", false).body(), b"no\n");
    /// ```
    pub fn error(status: u16, kind: &str, message: &str, json: bool) -> Self {
        if json {
            let body = serde_json::json!({"error": {"kind": kind, "message": message}});
            Response::new(status).with_body("application/json", body.to_string().into_bytes())
        } else {
            Response::text(status, format!("{message}\n"))
        }
    }

    /// Adds a header (`Content-Length` and `Connection` are ignored: the server writes those).
    ///
    /// ```
    /// let r = greenfetch_web::server::http::Response::new(405).with_header("Allow", "POST");
    /// assert_eq!(r.header("allow"), Some("POST"));
    /// ```
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Closes the connection after this response.
    ///
    /// ```
    /// let _r = greenfetch_web::server::http::Response::new(400).closing();
    /// ```
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// The status code.
    ///
    /// ```
    /// assert_eq!(greenfetch_web::server::http::Response::new(201).status(), 201);
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first header called `name` (case-insensitive).
    ///
    /// ```
    /// assert_eq!(greenfetch_web::server::http::Response::new(200).header("x"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body.
    ///
    /// ```
    /// assert_eq!(greenfetch_web::server::http::Response::text(200, "x").body(), b"x");
    /// ```
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// Which `Host` values a service answers: the guard of a service on loopback against DNS
/// rebinding.
///
/// A web page cannot read a cross-origin answer, but it can make its own name resolve first to
/// its server and then to `127.0.0.1` (DNS rebinding): the browser then sends the page's
/// requests to the local service, as same-origin, with the page's name in `Host`. So the
/// default, [`local`](Self::local), accepts only what no such page can have as its name: an
/// IP literal (`127.0.0.1`, `[::1]`; a browser never looks those up) and `localhost`, each with
/// or without a port, in any case, with or without a trailing dot. Every other name is
/// refused unless [`allow`](Self::allow)ed; [`any`](Self::any) turns the check off, for a
/// service behind a reverse proxy that checks `Host` itself. A request without `Host` (HTTP/1.0
/// may leave it out; no browser does) is not this check's business.
///
/// ```
/// use greenfetch_web::server::http::HostCheck;
///
/// let local = HostCheck::default();
/// for host in ["127.0.0.1:8080", "[::1]:8080", "10.0.0.5", "localhost", "LOCALHOST.:8080"] {
///     assert!(local.allows(host), "{host}");
/// }
/// for host in ["evil.test", "evil.test:8080", "localhost.evil.test", "127.0.0.1.evil.test", ""] {
///     assert!(!local.allows(host), "{host}");
/// }
/// let named = HostCheck::local().allow("Feeds.Example.org")?;
/// assert!(named.allows("feeds.example.org.:443") && !named.allows("example.org"));
/// assert!(HostCheck::any().allows("evil.test"));
/// assert!(HostCheck::local().allow("feeds.example.org:443").is_err()); // names, not ports
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCheck {
    any: bool,
    /// Extra names, lowercase, without a trailing dot.
    names: Vec<String>,
}

impl Default for HostCheck {
    /// [`HostCheck::local`].
    fn default() -> Self {
        HostCheck::local()
    }
}

impl HostCheck {
    /// IP literals and `localhost` only (the default).
    ///
    /// ```
    /// assert!(greenfetch_web::server::http::HostCheck::local().allows("127.0.0.1:80"));
    /// ```
    pub fn local() -> Self {
        HostCheck {
            any: false,
            names: Vec::new(),
        }
    }

    /// Every `Host`: no check (for a service behind a proxy that checks `Host` itself).
    ///
    /// ```
    /// assert!(greenfetch_web::server::http::HostCheck::any().allows("anything.test"));
    /// ```
    pub fn any() -> Self {
        HostCheck {
            any: true,
            names: Vec::new(),
        }
    }

    /// Accepts `name` too, on any port. Case and one trailing dot do not matter; an IP
    /// literal or `localhost` is accepted already. Names are matched whole: allowing
    /// `example.org` does not allow `feeds.example.org`. An error (a message) if `name` is not
    /// a host name, or comes with a port.
    ///
    /// ```
    /// use greenfetch_web::server::http::HostCheck;
    /// let check = HostCheck::local().allow("feeds.example.org")?;
    /// assert!(check.allows("FEEDS.example.org:8080"));
    /// assert!(HostCheck::local().allow("not a name").is_err());
    /// # Ok::<(), String>(())
    /// ```
    pub fn allow(mut self, name: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            Err(format!(
                "{name:?} {why}: expected a host name such as feeds.example.org, without a port"
            ))
        };
        match parse_host(name) {
            Some((_, Some(_))) => bad("has a port"),
            Some((HostKind::Ip, None)) => Ok(self), // accepted anyway
            Some((HostKind::Name(n), None)) => {
                let n = n.strip_suffix('.').unwrap_or(n);
                if n.is_empty() {
                    return bad("is empty");
                }
                if n.contains('*') {
                    return bad("is a wildcard (HostCheck::any accepts every Host)");
                }
                if !dns_name(n) {
                    return bad("is not a host name");
                }
                let n = n.to_ascii_lowercase();
                if !self.names.contains(&n) {
                    self.names.push(n);
                }
                Ok(self)
            }
            None => bad("is not a host name"),
        }
    }

    /// Whether a request with this `Host` value (port included) is answered.
    ///
    /// See the [type's example](Self).
    pub fn allows(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        match parse_host(host) {
            Some((HostKind::Ip, _)) => true,
            Some((HostKind::Name(n), _)) => {
                let n = n.strip_suffix('.').unwrap_or(n);
                n.eq_ignore_ascii_case("localhost")
                    || self.names.iter().any(|a| a.eq_ignore_ascii_case(n))
            }
            None => false,
        }
    }
}

/// The host part of a `Host` value or an authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostKind<'a> {
    /// An IPv4 address (a trailing dot allowed), or an IPv6 address in brackets.
    Ip,
    /// A registered name, as sent (any case, maybe a trailing dot, maybe empty).
    Name(&'a str),
}

/// Splits `uri-host [":" port]` (RFC 9110 §7.2) into the host and the port (`None` without a
/// `:`); `None` if it is not that: a character a host name cannot have, an IPv6 address out of
/// brackets or not an address inside them, a port that is not one.
fn parse_host(value: &str) -> Option<(HostKind<'_>, Option<&str>)> {
    let value = value.trim_matches([' ', '\t']);
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        inside.parse::<Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (HostKind::Ip, port)
    } else {
        let (name, port) = match value.rsplit_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (value, None),
        };
        // reg-name: unreserved, pct-encoded, sub-delims (so no `:`, `@`, `/`, space, `<`).
        let ok = |b: u8| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b);
        if !name.bytes().all(ok) {
            return None;
        }
        let bare = name.strip_suffix('.').unwrap_or(name);
        if bare.parse::<Ipv4Addr>().is_ok() {
            (HostKind::Ip, port)
        } else {
            (HostKind::Name(name), port)
        }
    };
    if let Some(p) = port {
        let digits = p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
        if !digits || p.parse::<u32>().is_ok_and(|n| n > 65535) {
            return None;
        }
    }
    Some((host, port))
}

/// Made of what DNS names are made of: a reg-name's `%`, `!`, `(` ... would be nothing to
/// allow (no client sends them).
fn dns_name(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

/// The name that [`HostCheck::allow`] would take to accept this `Host` (`--allow-host NAME`):
/// the host without its port and trailing dot; `None` for an IP literal, an empty name, or
/// one `allow` would not take.
pub(crate) fn host_name(value: &str) -> Option<&str> {
    match parse_host(value)? {
        (HostKind::Name(n), _) => {
            let n = n.strip_suffix('.').unwrap_or(n);
            (!n.is_empty() && dns_name(n)).then_some(n)
        }
        (HostKind::Ip, _) => None,
    }
}

/// What an [`HttpServer`] runs for each complete request. Closures
/// `Fn(&Request) -> Response` are services.
///
/// `call` runs in the connection's green thread and may block (green I/O, a `GreenPile`): other
/// connections go on. A panic becomes a `500` and is logged.
///
/// ```
/// use greenfetch_web::server::http::{Request, Response, Service};
///
/// struct Hello;
/// impl Service for Hello {
///     fn call(&self, _req: &Request) -> Response {
///         Response::text(200, "hello\n")
///     }
/// }
/// assert_eq!(Hello.call(&Request::new("GET", "/", vec![])).body(), b"hello\n");
/// ```
pub trait Service: Send + Sync + 'static {
    /// Answers one request.
    fn call(&self, req: &Request) -> Response;

    /// Told about every response the server wrote without calling the service (a bad or
    /// too-large request, a timeout, a full server, a panic): its status, and the request's
    /// path when the head was read. For metrics and logs; does nothing by default.
    fn rejected(&self, _status: u16, _path: Option<&str>) {}
}

impl<F> Service for F
where
    F: Fn(&Request) -> Response + Send + Sync + 'static,
{
    fn call(&self, req: &Request) -> Response {
        self(req)
    }
}

/// Connection counters of an [`HttpServer`].
#[derive(Debug, Default)]
pub(crate) struct ConnStats {
    /// Connections open now.
    pub(crate) open: AtomicU64,
    /// Connections accepted so far.
    pub(crate) accepted: AtomicU64,
    /// Connections turned away with `503` (server full of busy connections, or too many from
    /// one client).
    pub(crate) refused: AtomicU64,
    /// Idle connections closed to make room for a new one.
    pub(crate) evicted: AtomicU64,
    /// Requests that took longer than `client_timeout` to arrive.
    pub(crate) timed_out: AtomicU64,
    /// Connections waiting for their client now (idle, or in a request still arriving).
    pub(crate) waiting: AtomicU64,
    /// Connections with a request being served now.
    pub(crate) busy: AtomicU64,
}

/// What every connection of a server shares.
struct Shared<S> {
    cfg: HttpConfig,
    service: S,
    stats: Arc<ConnStats>,
    per_client: Mutex<HashMap<IpAddr, usize>>,
}

/// Starts HTTP servers (see the [module docs](self)).
///
/// ```
/// let server = greenfetch_web::server::http::HttpServer::start(
///     "127.0.0.1:0",
///     Default::default(),
///     |_req: &greenfetch_web::server::http::Request| greenfetch_web::server::http::Response::text(200, "hi\n"),
/// )?;
/// assert_ne!(server.addr().port(), 0);
/// server.stop();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpServer;

impl HttpServer {
    /// Binds `addr` (`"127.0.0.1:0"` picks a free port) and serves `service` until the returned
    /// [`Server`] is stopped or dropped.
    ///
    /// See the [module example](self).
    pub fn start<S: Service>(addr: &str, cfg: HttpConfig, service: S) -> io::Result<Server> {
        HttpServer::start_with_stats(addr, cfg, service, Arc::default())
    }

    /// [`start`](Self::start), counting connections into `stats`.
    pub(crate) fn start_with_stats<S: Service>(
        addr: &str,
        cfg: HttpConfig,
        service: S,
        stats: Arc<ConnStats>,
    ) -> io::Result<Server> {
        let shared = Arc::new(Shared {
            cfg,
            service,
            stats,
            per_client: Mutex::new(HashMap::new()),
        });
        Server::start(addr, move |stream, state| {
            serve_connection(stream, state, &shared);
            Ok(())
        })
    }
}

/// The best of `offered` (media types, in the server's order of preference) for an `Accept`
/// header: `None` when the header accepts none of them. No header, or an empty one, accepts
/// anything (the first offered). Between equal q-values, the more specific range wins, then
/// the one the client listed first, then the server's order.
///
/// ```
/// use greenfetch_web::server::http::negotiate;
/// let offered = ["text/plain", "application/json"];
/// assert_eq!(negotiate(None, &offered), Some("text/plain"));
/// assert_eq!(negotiate(Some("application/json"), &offered), Some("application/json"));
/// assert_eq!(negotiate(Some("text/*;q=0.5, application/json;q=0.9"), &offered), Some("application/json"));
/// assert_eq!(negotiate(Some("*/*"), &offered), Some("text/plain"));
/// assert_eq!(negotiate(Some("image/png"), &offered), None);
/// assert_eq!(negotiate(Some("application/json;q=0, */*"), &offered), Some("text/plain"));
/// ```
pub fn negotiate<'a>(accept: Option<&str>, offered: &[&'a str]) -> Option<&'a str> {
    let accept = accept.map(str::trim).unwrap_or("");
    if accept.is_empty() {
        return offered.first().copied();
    }
    // Each range: (type, subtype, q in thousandths, position).
    let ranges: Vec<(&str, &str, u32, usize)> = accept
        .split(',')
        .enumerate()
        .filter_map(|(pos, part)| {
            let mut params = part.split(';');
            let (t, s) = params.next()?.trim().split_once('/')?;
            let mut q = 1000;
            for p in params {
                if let Some((k, v)) = p.split_once('=') {
                    if k.trim().eq_ignore_ascii_case("q") {
                        q = v
                            .trim()
                            .parse::<f32>()
                            .map_or(0, |q| (q.clamp(0.0, 1.0) * 1000.0) as u32);
                    }
                }
            }
            Some((t.trim(), s.trim(), q, pos))
        })
        .collect();
    let mut best: Option<(&'a str, (u32, u8, usize))> = None;
    for &media in offered {
        let Some((mt, ms)) = media.split_once('/') else {
            continue;
        };
        // The most specific matching range decides this type's q.
        let matched = ranges
            .iter()
            .filter_map(|&(t, s, q, pos)| {
                let specificity = if t.eq_ignore_ascii_case(mt) && s.eq_ignore_ascii_case(ms) {
                    2
                } else if t.eq_ignore_ascii_case(mt) && s == "*" {
                    1
                } else if t == "*" && s == "*" {
                    0
                } else {
                    return None;
                };
                Some((specificity, q, pos))
            })
            .max_by_key(|&(specificity, _, pos)| (specificity, std::cmp::Reverse(pos)));
        let Some((specificity, q, pos)) = matched else {
            continue;
        };
        if q == 0 {
            continue;
        }
        // Higher q, then more specific, then listed earlier by the client, then our order.
        let key = (q, specificity, usize::MAX - pos);
        let better = match best {
            None => true,
            Some((_, k)) => (key.0, key.1, key.2) > (k.0, k.1, k.2),
        };
        if better {
            best = Some((media, key));
        }
    }
    best.map(|(m, _)| m)
}

/// Whether the server's own error answers should be JSON for this `Accept`.
fn wants_json(accept: Option<&str>) -> bool {
    negotiate(accept, &["text/plain", "application/json"]) == Some("application/json")
}

/// Gives a client's connection slot back.
struct ClientSlot<'a, S> {
    shared: &'a Shared<S>,
    ip: IpAddr,
}

impl<S> Drop for ClientSlot<'_, S> {
    fn drop(&mut self) {
        let mut map = lock(&self.shared.per_client);
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Counts a connection as busy with a request while it lives.
struct Busy<'a>(&'a ConnStats);

impl<'a> Busy<'a> {
    fn enter(stats: &'a ConnStats) -> Self {
        stats.busy.fetch_add(1, Ordering::Relaxed);
        Busy(stats)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts the connection as open until it ends.
struct OpenGuard<'a>(&'a ConnStats);

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<S> Shared<S> {
    fn admit_client(&self, ip: IpAddr) -> Option<ClientSlot<'_, S>> {
        let mut map = lock(&self.per_client);
        let n = map.entry(ip).or_insert(0);
        if *n >= self.cfg.max_connections_per_client {
            return None;
        }
        *n += 1;
        Some(ClientSlot { shared: self, ip })
    }
}

/// How reading a request ended.
enum Incoming {
    Request(Request, Framing),
    /// The client closed, went idle past the timeout, or the connection was evicted or stopped
    /// before a request began: close quietly.
    Closed,
    /// Answer this and close.
    Reject(Rejection),
}

/// A request the server answers itself.
struct Rejection {
    status: u16,
    kind: &'static str,
    message: String,
    json: bool,
    path: Option<String>,
}

impl Rejection {
    fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        Rejection {
            status,
            kind,
            message: message.into(),
            json: false,
            path: None,
        }
    }
}

/// What the head says about the connection and the response.
#[derive(Debug, Clone, Copy)]
struct Framing {
    keep_alive: bool,
    head_only: bool,
}

/// One connection: its socket, its read buffer, and its entry among the server's waiting
/// connections.
struct Conn<'a> {
    /// The socket, held to a read deadline for each wait and a write deadline for each write.
    stream: GreenStream,
    /// How long one write may wait for the client to take bytes.
    write_timeout: Duration,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// A duplicate of the socket, registered with the server while the connection waits for
    /// its client (so `stop` and eviction can shut it); held here while a request is served.
    /// Only ever shut down or closed: never read or written.
    handle: Option<std::net::TcpStream>,
    waiting_id: Option<u64>,
    state: &'a ServerState,
}

/// A read that ended.
enum ReadEnd {
    Data(usize),
    Eof,
    TimedOut,
}

/// Reads into `dst`, waiting at most `limit` (the stream re-homes after a timed-out wait and
/// retries `Interrupted`); any error but the timeout ends the connection as an end of input.
fn read_within(stream: &mut GreenStream, dst: &mut [u8], limit: Duration) -> ReadEnd {
    stream.set_read_deadline(Some(Instant::now() + limit));
    match stream.read(dst) {
        Ok(0) => ReadEnd::Eof,
        Ok(n) => ReadEnd::Data(n),
        Err(e) if e.kind() == io::ErrorKind::TimedOut => ReadEnd::TimedOut,
        Err(_) => ReadEnd::Eof,
    }
}

impl Conn<'_> {
    /// Reads into the buffer's free space, waiting at most `limit`.
    fn read_more(&mut self, limit: Duration) -> ReadEnd {
        let end = read_within(&mut self.stream, &mut self.buf[self.end..], limit);
        if let ReadEnd::Data(n) = end {
            self.end += n;
        }
        end
    }

    /// Registers the connection as waiting for its client. False if the server is stopping.
    fn begin_wait(&mut self, stats: &ConnStats) -> bool {
        if let Some(h) = self.handle.take() {
            self.waiting_id = Some(self.state.wait_insert(h));
            stats.waiting.fetch_add(1, Ordering::Relaxed);
        }
        !self.state.stopped()
    }

    /// Takes the connection back from the waiting list; false if it was evicted or stopped
    /// meanwhile (its socket is shut).
    fn end_wait(&mut self, stats: &ConnStats) -> bool {
        if self.waiting_id.is_some() {
            stats.waiting.fetch_sub(1, Ordering::Relaxed);
        }
        match self.waiting_id.take() {
            Some(id) => match self.state.wait_take(id) {
                Some(h) => {
                    self.handle = Some(h);
                    true
                }
                None => false,
            },
            None => self.handle.is_some(),
        }
    }

    /// Reads one request: head, checks, body.
    fn read_request(&mut self, cfg: &HttpConfig, stats: &ConnStats) -> Incoming {
        // The request's clock starts at its first byte (now, if pipelined bytes are waiting).
        let mut started = (self.start < self.end).then(Instant::now);
        let (head_len, head) = loop {
            if self.start < self.end {
                match parse_head(&self.buf[self.start..self.end], cfg) {
                    Ok(Some(done)) => break done,
                    Ok(None) => {}
                    Err(r) => return Incoming::Reject(r),
                }
                if self.end - self.start >= cfg.max_head {
                    return Incoming::Reject(Rejection::new(
                        431,
                        "head_too_large",
                        format!("request head larger than {} bytes", cfg.max_head),
                    ));
                }
            }
            // Room for more: compact, then grow up to max_head.
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.end == self.buf.len() {
                let grown = (self.buf.len() * 2).clamp(READ_BUF, cfg.max_head.max(READ_BUF));
                self.buf.resize(grown, 0);
            }
            let limit = match started {
                None => cfg.idle_timeout,
                Some(t0) => cfg.client_timeout.saturating_sub(t0.elapsed()),
            };
            match self.read_more(limit) {
                ReadEnd::Data(_) => {
                    started.get_or_insert_with(Instant::now);
                }
                // A client that ends its side inside a head still gets an answer (it can read
                // after a half-close); one that sent nothing, or only blank lines, does not.
                ReadEnd::Eof
                    if self.buf[self.start..self.end]
                        .iter()
                        .any(|b| !matches!(b, b'\r' | b'\n')) =>
                {
                    return Incoming::Reject(Rejection::new(
                        400,
                        "bad_request",
                        "the request ended before its head was complete",
                    ));
                }
                ReadEnd::Eof => return Incoming::Closed,
                ReadEnd::TimedOut if started.is_none() => return Incoming::Closed,
                ReadEnd::TimedOut => {
                    stats.timed_out.fetch_add(1, Ordering::Relaxed);
                    return Incoming::Reject(Rejection::new(
                        408,
                        "timeout",
                        format!(
                            "the request head did not arrive within {:?}",
                            cfg.client_timeout
                        ),
                    ));
                }
            }
        };
        let started = started.unwrap_or_else(Instant::now);
        self.start += head_len;
        let Head {
            mut req,
            body: body_framing,
            expect_continue,
            framing,
        } = head;
        let reject = |status, kind, message: String, req: &Request| {
            let mut r = Rejection::new(status, kind, message);
            r.json = wants_json(req.header("accept"));
            r.path = Some(req.path.clone());
            Incoming::Reject(r)
        };
        let body_len = match body_framing {
            BodyFraming::Length(n) => n,
            BodyFraming::Chunked => {
                if expect_continue
                    && self.start == self.end
                    && self.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err()
                {
                    return Incoming::Closed;
                }
                return match self.read_chunked(cfg, started) {
                    Ok(body) => {
                        req.body = body;
                        Incoming::Request(req, framing)
                    }
                    Err(ChunkedEnd::Closed) => reject(
                        400,
                        "bad_request",
                        "the chunked request body ended before its last chunk".to_owned(),
                        &req,
                    ),
                    Err(ChunkedEnd::TimedOut) => {
                        stats.timed_out.fetch_add(1, Ordering::Relaxed);
                        reject(
                            408,
                            "timeout",
                            format!(
                                "the request body did not arrive within {:?}",
                                cfg.client_timeout
                            ),
                            &req,
                        )
                    }
                    Err(ChunkedEnd::TooLarge) => reject(
                        413,
                        "body_too_large",
                        format!("request body over {} bytes", cfg.max_body),
                        &req,
                    ),
                    Err(ChunkedEnd::Bad(why)) => reject(400, "bad_request", why, &req),
                };
            }
        };
        if body_len > cfg.max_body {
            return reject(
                413,
                "body_too_large",
                format!(
                    "request body of {body_len} bytes; at most {} accepted",
                    cfg.max_body
                ),
                &req,
            );
        }
        let body_len = body_len as usize;
        let buffered = (self.end - self.start).min(body_len);
        let mut body = Vec::with_capacity(body_len);
        body.extend_from_slice(&self.buf[self.start..self.start + buffered]);
        self.start += buffered;
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        if body.len() < body_len {
            if expect_continue && self.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                return Incoming::Closed;
            }
            // The rest of the body, read straight into it (the buffer holds nothing now).
            body.resize(body_len, 0);
            let mut got = buffered;
            while got < body_len {
                let limit = cfg.client_timeout.saturating_sub(started.elapsed());
                match read_within(&mut self.stream, &mut body[got..], limit) {
                    ReadEnd::Data(n) => got += n,
                    ReadEnd::Eof => {
                        return reject(
                            400,
                            "bad_request",
                            format!("the request body ended after {got} of {body_len} bytes"),
                            &req,
                        );
                    }
                    ReadEnd::TimedOut => {
                        stats.timed_out.fetch_add(1, Ordering::Relaxed);
                        return reject(
                            408,
                            "timeout",
                            format!(
                                "the request body did not arrive within {:?}",
                                cfg.client_timeout
                            ),
                            &req,
                        );
                    }
                }
            }
        }
        req.body = body;
        Incoming::Request(req, framing)
    }

    /// Reads a chunked body (RFC 9112 §7.1) of at most `max_body` bytes, by the request's
    /// deadline; chunk extensions and trailer fields are read and dropped.
    fn read_chunked(&mut self, cfg: &HttpConfig, started: Instant) -> Result<Vec<u8>, ChunkedEnd> {
        let mut body = Vec::new();
        let mut trailer_bytes = 0usize;
        loop {
            let line = self.chunk_line(cfg, started)?;
            let size = line.split(|&b| b == b';').next().unwrap_or_default();
            let size = std::str::from_utf8(size)
                .unwrap_or("")
                .trim_matches([' ', '\t']);
            let n = (!size.is_empty() && size.len() <= 16)
                .then(|| u64::from_str_radix(size, 16).ok())
                .flatten()
                .ok_or_else(|| {
                    ChunkedEnd::Bad(format!(
                        "bad chunk size line {:?}",
                        String::from_utf8_lossy(&line)
                    ))
                })?;
            if n == 0 {
                break;
            }
            if body.len() as u64 + n > cfg.max_body {
                return Err(ChunkedEnd::TooLarge);
            }
            let mut left = n as usize;
            while left > 0 {
                if self.start == self.end {
                    self.fill_buffer(cfg, started)?;
                }
                let take = left.min(self.end - self.start);
                body.extend_from_slice(&self.buf[self.start..self.start + take]);
                self.start += take;
                left -= take;
            }
            if !self.chunk_line(cfg, started)?.is_empty() {
                return Err(ChunkedEnd::Bad("chunk data longer than its size".into()));
            }
        }
        // Trailer fields, up to the empty line; bounded like a head.
        loop {
            let line = self.chunk_line(cfg, started)?;
            if line.is_empty() {
                break;
            }
            trailer_bytes += line.len() + 2;
            if trailer_bytes > cfg.max_head {
                return Err(ChunkedEnd::Bad("trailer fields too large".into()));
            }
        }
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
        Ok(body)
    }

    /// One CRLF- (or LF-) terminated line of a chunked body, without its end.
    fn chunk_line(&mut self, cfg: &HttpConfig, started: Instant) -> Result<Vec<u8>, ChunkedEnd> {
        loop {
            let have = &self.buf[self.start..self.end];
            if let Some(i) = have.iter().position(|&b| b == b'\n') {
                let line = have[..i].strip_suffix(b"\r").unwrap_or(&have[..i]).to_vec();
                self.start += i + 1;
                return Ok(line);
            }
            if have.len() > MAX_CHUNK_LINE {
                return Err(ChunkedEnd::Bad("chunk line too long".into()));
            }
            self.fill_buffer(cfg, started)?;
        }
    }

    /// Reads more of the request into the buffer (compacted, grown up to a chunk line's room).
    fn fill_buffer(&mut self, cfg: &HttpConfig, started: Instant) -> Result<(), ChunkedEnd> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).clamp(READ_BUF, (2 * MAX_CHUNK_LINE).max(READ_BUF));
            if grown <= self.buf.len() {
                return Err(ChunkedEnd::Bad("chunk line too long".into()));
            }
            self.buf.resize(grown, 0);
        }
        match self.read_more(cfg.client_timeout.saturating_sub(started.elapsed())) {
            ReadEnd::Data(_) => Ok(()),
            ReadEnd::Eof => Err(ChunkedEnd::Closed),
            ReadEnd::TimedOut => Err(ChunkedEnd::TimedOut),
        }
    }

    /// Writes all of `bytes`, each write waiting at most the write timeout for the client to
    /// take some.
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut rest = bytes;
        while !rest.is_empty() {
            self.stream
                .set_write_deadline(Some(Instant::now() + self.write_timeout));
            match self.stream.write(rest)? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => rest = &rest[n..],
            }
        }
        Ok(())
    }

    /// Writes `resp`; `keep_alive` false adds `Connection: close`.
    fn respond(&mut self, resp: &Response, head_only: bool, keep_alive: bool) -> io::Result<()> {
        let mut out = Vec::with_capacity(160 + resp.body.len());
        let mut w = Fmt(&mut out);
        let _ = write!(
            w,
            "HTTP/1.1 {} {}\r\nServer: greenfetch\r\n",
            resp.status,
            reason(resp.status)
        );
        for (k, v) in &resp.headers {
            if k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("connection") {
                continue;
            }
            let _ = write!(w, "{k}: {v}\r\n");
        }
        let _ = write!(w, "Content-Length: {}\r\n", resp.body.len());
        if !keep_alive {
            let _ = w.write_str("Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !head_only {
            out.extend_from_slice(&resp.body);
        }
        self.write_all(&out)
    }

    /// Sends FIN, then reads and drops what the client still sends (bounded in bytes and
    /// time), so that closing does not reset the response away.
    fn linger(&mut self) {
        let _ = self.stream.get_ref().shutdown(Shutdown::Write);
        let until = Instant::now() + LINGER_TIME;
        let mut left = LINGER_BYTES;
        if self.buf.len() < READ_BUF {
            self.buf.resize(READ_BUF, 0);
        }
        while left > 0 {
            (self.start, self.end) = (0, 0);
            match self.read_more(until.saturating_duration_since(Instant::now())) {
                ReadEnd::Data(n) => left = left.saturating_sub(n),
                ReadEnd::Eof | ReadEnd::TimedOut => break,
            }
        }
    }

    /// Answers a request the service never sees, then closes.
    fn reject<S: Service>(&mut self, r: Rejection, shared: &Shared<S>) {
        let mut resp = Response::error(r.status, r.kind, &r.message, r.json);
        if r.status == 503 {
            resp = resp.with_header("Retry-After", "1");
        }
        shared.service.rejected(r.status, r.path.as_deref());
        if self.respond(&resp, false, false).is_ok() {
            self.linger();
        }
    }
}

/// A parsed head.
struct Head {
    req: Request,
    body: BodyFraming,
    expect_continue: bool,
    framing: Framing,
}

/// How a request's body is delimited.
#[derive(Debug, Clone, Copy)]
enum BodyFraming {
    Length(u64),
    Chunked,
}

/// The longest chunk-size or trailer line of a chunked request body.
const MAX_CHUNK_LINE: usize = 4096;

/// Why a chunked request body could not be read.
#[derive(Debug)]
enum ChunkedEnd {
    Closed,
    TimedOut,
    TooLarge,
    Bad(String),
}

/// Parses a request head; `Ok(None)` if it is not complete yet.
/// Whether the request line ends in a well-formed version that is just not 1.0 or 1.1
/// (`HTTP/2.0`, `HTTP/3`): that is a `505`; a mangled one (`HTTP/1.e`) is a bad request, `400`
/// (found by fuzzing: a client's garbage must not be answered with a 5xx).
fn names_a_version(buf: &[u8]) -> bool {
    let line_end = buf.iter().position(|&b| b == b'\r' || b == b'\n');
    let line = &buf[..line_end.unwrap_or(buf.len())];
    let version = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
    match version.strip_prefix(b"HTTP/") {
        Some([major]) => major.is_ascii_digit(),
        Some([major, b'.', minor]) => major.is_ascii_digit() && minor.is_ascii_digit(),
        _ => false,
    }
}

fn parse_head(buf: &[u8], cfg: &HttpConfig) -> Result<Option<(usize, Head)>, Rejection> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Rejection::new(
                431,
                "head_too_large",
                format!("more than {MAX_HEADERS} request headers"),
            ));
        }
        Err(httparse::Error::Version) if names_a_version(buf) => {
            return Err(Rejection::new(
                505,
                "bad_version",
                "only HTTP/1.0 and HTTP/1.1 are spoken here",
            ));
        }
        Err(e) => {
            return Err(Rejection::new(
                400,
                "bad_request",
                format!("malformed request ({e})"),
            ));
        }
    };
    if head_len > cfg.max_head {
        return Err(Rejection::new(
            431,
            "head_too_large",
            format!("request head larger than {} bytes", cfg.max_head),
        ));
    }
    let (Some(method), Some(target), Some(version)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Err(Rejection::new(400, "bad_request", "malformed request line"));
    };
    let mut req = Request::new(method, "/", Vec::new());
    req.version = version;
    req.headers = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let json = wants_json(req.header("accept"));
    let bad = |status, kind, message: &str| {
        let mut r = Rejection::new(status, kind, message);
        r.json = json;
        r
    };
    // The target: origin form, absolute form (reduced to its path; its authority kept), or `*`.
    let origin = if target.starts_with('/') || target == "*" {
        target
    } else if let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    {
        let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
        if parse_host(authority).is_none() {
            return Err(bad(400, "bad_request", "malformed request target"));
        }
        req.authority = Some(authority.to_owned());
        rest.find('/').map_or("/", |i| &rest[i..])
    } else {
        return Err(bad(400, "bad_request", "malformed request target"));
    };
    let (path, query) = match origin.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (origin, None),
    };
    req.path = path.to_owned();
    req.query = query;
    let (mut close, mut keep) = (false, false);
    let mut body_len: Option<u64> = None;
    let mut chunked = false;
    let mut expect_continue = false;
    for (name, value) in &req.headers {
        if name.eq_ignore_ascii_case("content-length") {
            let v = value.trim();
            let n = (!v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit()))
                .then(|| v.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| bad(400, "bad_request", "bad Content-Length"))?;
            if body_len.is_some_and(|m| m != n) {
                return Err(bad(
                    400,
                    "bad_request",
                    "conflicting Content-Length headers",
                ));
            }
            body_len = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Only `chunked`, once and alone (RFC 9112 §6.1): any other coding is 501.
            let codings: Vec<&str> = value
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect();
            let only_chunked = codings.len() == 1 && codings[0].eq_ignore_ascii_case("chunked");
            if chunked || !only_chunked {
                let mut r = bad(
                    501,
                    "not_implemented",
                    "the only transfer coding accepted is chunked",
                );
                r.path = Some(req.path.clone());
                return Err(r);
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',') {
                close |= token.trim().eq_ignore_ascii_case("close");
                keep |= token.trim().eq_ignore_ascii_case("keep-alive");
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if value.trim().eq_ignore_ascii_case("100-continue") {
                expect_continue = version == 1;
            } else {
                let mut r = bad(
                    417,
                    "expectation_failed",
                    "only Expect: 100-continue is supported",
                );
                r.path = Some(req.path.clone());
                return Err(r);
            }
        }
    }
    // RFC 9112 §3.2: one Host, of the right shape; HTTP/1.0 may leave it out.
    let mut hosts = req
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("host"));
    let host_error = match (hosts.next(), hosts.next()) {
        (None, _) if version == 1 => Some("an HTTP/1.1 request needs a Host header"),
        (Some(_), Some(_)) => Some("more than one Host header"),
        (Some((_, v)), None) if parse_host(v).is_none() => {
            Some("malformed Host header (expected host[:port])")
        }
        _ => None,
    };
    if let Some(message) = host_error {
        let mut r = bad(400, "bad_request", message);
        r.path = Some(req.path.clone());
        return Err(r);
    }
    if chunked && (body_len.is_some() || version == 0) {
        // Both framings at once is how requests are smuggled past a proxy (RFC 9112 §6.1);
        // HTTP/1.0 has no chunked coding.
        let mut r = bad(
            400,
            "bad_request",
            "Transfer-Encoding with Content-Length, or in HTTP/1.0",
        );
        r.path = Some(req.path.clone());
        return Err(r);
    }
    let framing = Framing {
        keep_alive: !close && (version == 1 || keep),
        head_only: method.eq_ignore_ascii_case("HEAD"),
    };
    Ok(Some((
        head_len,
        Head {
            req,
            body: if chunked {
                BodyFraming::Chunked
            } else {
                BodyFraming::Length(body_len.unwrap_or(0))
            },
            expect_continue,
            framing,
        },
    )))
}

/// Serves one connection until it closes, errs, times out, or the server stops.
fn serve_connection<S: Service>(stream: TcpStream, state: &ServerState, shared: &Shared<S>) {
    let stats = &shared.stats;
    let cfg = &shared.cfg;
    stats.accepted.fetch_add(1, Ordering::Relaxed);
    stats.open.fetch_add(1, Ordering::Relaxed);
    let _open = OpenGuard(stats);
    let peer = match stream.peer_addr() {
        Ok(p) => p,
        Err(_) => return, // already gone
    };
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        handle: stream.inner().try_clone().ok(),
        stream: GreenStream::new(stream),
        write_timeout: cfg.client_timeout,
        buf: vec![0; READ_BUF],
        start: 0,
        end: 0,
        waiting_id: None,
        state,
    };
    // Admission: a share per client, then room on the server.
    let Some(_client) = shared.admit_client(peer.ip()) else {
        stats.refused.fetch_add(1, Ordering::Relaxed);
        let r = Rejection::new(
            503,
            "busy",
            format!(
                "too many connections from {} (at most {})",
                peer.ip(),
                cfg.max_connections_per_client
            ),
        );
        conn.reject(r, shared);
        return;
    };
    // Over the cap: make room by closing the connection that has waited longest for its
    // client. If none waits, turn this one away only when the server is full of requests being
    // served (the others are just starting, and will wait or be served in a moment).
    if stats.open.load(Ordering::Relaxed) > cfg.max_connections as u64 {
        if state.evict_oldest_waiting() {
            stats.evicted.fetch_add(1, Ordering::Relaxed);
        } else if stats.busy.load(Ordering::Relaxed) >= cfg.max_connections as u64 {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            let r = Rejection::new(
                503,
                "busy",
                format!(
                    "the server is busy ({} connections, all with requests in progress)",
                    cfg.max_connections
                ),
            );
            conn.reject(r, shared);
            return;
        }
    }
    if conn.handle.is_none() {
        return; // no descriptor left for the duplicate: the server is out of them
    }
    loop {
        let incoming = if conn.begin_wait(stats) {
            conn.read_request(cfg, stats)
        } else {
            Incoming::Closed // stopping
        };
        if !conn.end_wait(stats) {
            break; // evicted or stopped while waiting: the socket is shut
        }
        let (req, framing) = match incoming {
            Incoming::Request(req, framing) => (req, framing),
            Incoming::Closed => break,
            Incoming::Reject(r) => {
                conn.reject(r, shared);
                return;
            }
        };
        state.hits.fetch_add(1, Ordering::Relaxed);
        let _busy = Busy::enter(stats);
        let mut req = req;
        req.peer = peer;
        let outcome = catch_unwind(AssertUnwindSafe(|| shared.service.call(&req)));
        let resp = match outcome {
            Ok(resp) => resp,
            Err(p) => {
                eprintln!(
                    "greenfetch: {} {}: the service panicked: {}",
                    req.method,
                    req.path,
                    panic_message(&*p)
                );
                let r = Rejection {
                    status: 500,
                    kind: "internal",
                    message: "internal error (the server's log has the details)".to_owned(),
                    json: wants_json(req.header("accept")),
                    path: Some(req.path.clone()),
                };
                conn.reject(r, shared);
                return;
            }
        };
        let keep_alive = framing.keep_alive && !resp.close && !state.stopped();
        if conn.respond(&resp, framing.head_only, keep_alive).is_err() {
            return;
        }
        if !keep_alive {
            conn.linger();
            return;
        }
    }
}

/// The first header called `name` (case-insensitive) of a request's or a response's list.
fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(bytes: &[u8]) -> Result<Option<(usize, Head)>, Rejection> {
        parse_head(bytes, &HttpConfig::default())
    }

    #[test]
    fn heads_parse_or_are_rejected_with_a_status() {
        let raw = b"POST http://x.test/titles?a=1 HTTP/1.0\r\nContent-Length: 5\r\n\r\nbody";
        let (n, h) = head(raw).ok().flatten().unwrap();
        assert_eq!(n, raw.len() - "body".len());
        assert_eq!((h.req.path(), h.req.query()), ("/titles", Some("a=1")));
        assert!(matches!(h.body, BodyFraming::Length(5)));
        assert!(!h.framing.keep_alive);
        assert_eq!(h.req.host(), Some("x.test")); // the target's authority, HTTP/1.0 or not
        assert!(matches!(head(b"GET / HTTP/1.1\r\nHost: x\r\n"), Ok(None)));
        let status = |b: &[u8]| head(b).err().map(|r| r.status);
        assert_eq!(status(b"\x00\x01\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET / HTTP/2.0\r\n\r\n"), Some(505));
        assert_eq!(status(b"GET / HTTP/3\r\n\r\n"), Some(505));
        assert_eq!(status(b"GET / HTTP/1.e\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET / HTTPS/1.1\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET nope HTTP/1.1\r\n\r\n"), Some(400));
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
            Some(400)
        );
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            Some(400)
        );
        assert!(matches!(
            head(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"),
            Ok(Some((
                _,
                Head {
                    body: BodyFraming::Chunked,
                    ..
                }
            )))
        ));
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"),
            Some(501)
        );
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Some(501)
        );
        assert_eq!(
            status(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Some(400)
        );
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nExpect: magic\r\n\r\n"),
            Some(417)
        );
        let many: String = (0..70).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(
            status(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes()),
            Some(431)
        );
    }

    #[test]
    fn host_is_required_in_http_1_1_once_and_well_formed() {
        let status = |b: &[u8]| head(b).err().map(|r| r.status);
        let host = |b: &[u8]| {
            head(b)
                .ok()
                .flatten()
                .map(|(_, h)| h.req.host().map(str::to_owned))
        };
        assert_eq!(status(b"GET / HTTP/1.1\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET http://a.test/ HTTP/1.1\r\n\r\n"), Some(400));
        assert_eq!(host(b"GET / HTTP/1.0\r\n\r\n"), Some(None));
        assert_eq!(
            status(b"GET / HTTP/1.1\r\nHost: a\r\nhost: 127.0.0.1\r\n\r\n"),
            Some(400)
        );
        for bad in [
            "a b",
            "[::1",
            "[127.0.0.1]",
            "::1",
            "a:b",
            "a:99999",
            "a:123456",
            "u@a",
            "a/b",
            "a:1:2",
            "<a>",
        ] {
            let raw = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
            assert_eq!(status(raw.as_bytes()), Some(400), "{bad:?}");
        }
        for good in ["", "a", "a:", "a:8080", "[::1]:80", "127.0.0.1.", "x.test."] {
            let raw = format!("GET / HTTP/1.1\r\nHost: {good}\r\n\r\n");
            assert_eq!(
                host(raw.as_bytes()),
                Some(Some(good.to_owned())),
                "{good:?}"
            );
        }
        // An absolute-form target's authority wins over the header (RFC 9112 §3.2.2).
        let raw = b"GET http://evil.test:8080/metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
        assert_eq!(host(raw), Some(Some("evil.test:8080".to_owned())));
        let raw = b"GET http://user@a.test/ HTTP/1.1\r\nHost: localhost\r\n\r\n";
        assert_eq!(status(raw), Some(400));
    }

    #[test]
    fn the_host_check_accepts_ip_literals_and_localhost_only() {
        let local = HostCheck::local();
        for ok in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.0.0.1.",
            "127.0.0.1.:8080",
            "10.0.0.5:80",
            "[::1]",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:1",
            "localhost",
            "localhost:8080",
            "LOCALHOST",
            "LocalHost.:8080",
            "localhost.",
            "localhost:",
            " localhost ",
        ] {
            assert!(local.allows(ok), "{ok:?} is refused");
        }
        for refused in [
            "",
            ":8080",
            "evil.test",
            "evil.test:8080",
            "localhost.evil.test",
            "localhost.evil.test:8080",
            "127.0.0.1.evil.test",
            "127.0.0.1.nip.io",
            "evil-localhost",
            "xlocalhost",
            "localhost..",
            "sub.localhost",
            "127.1",
            "2130706433",
            "0x7f.0.0.1",
            "[::1",
            "::1",
            "[127.0.0.1]",
            "[fe80::1%25eth0]:80",
            "localhost:99999",
            "localhost:http",
            "loc%61lhost",
            "user@localhost",
        ] {
            assert!(!local.allows(refused), "{refused:?} is allowed");
        }
        // Extra names: whole names, any case and port, one trailing dot.
        let named = HostCheck::local()
            .allow("feeds.example.org.")
            .and_then(|c| c.allow("API.test"))
            .unwrap();
        for ok in [
            "feeds.example.org",
            "FEEDS.EXAMPLE.ORG.:443",
            "api.test:1",
            "localhost",
        ] {
            assert!(named.allows(ok), "{ok:?} is refused");
        }
        for refused in [
            "example.org",
            "x.feeds.example.org",
            "feeds.example.org.evil.test",
        ] {
            assert!(!named.allows(refused), "{refused:?} is allowed");
        }
        for bad in ["", ".", "a.test:80", "[::1]:80", "a b", "a/b", "*"] {
            assert!(HostCheck::local().allow(bad).is_err(), "{bad:?}");
        }
        assert_eq!(HostCheck::local().allow("10.0.0.1"), Ok(HostCheck::local()));
        assert!(HostCheck::any().allows(""));
        assert!(HostCheck::any().allows("evil.test:8080"));
        assert_eq!(host_name("Evil.Test.:8080"), Some("Evil.Test"));
        assert_eq!(host_name("[::1]:80"), None);
        assert_eq!(host_name(":80"), None);
        assert_eq!(host_name("e!vil.test"), None);
    }

    #[test]
    fn negotiation_prefers_q_then_specificity_then_client_order() {
        let offered = ["text/plain", "application/json"];
        assert_eq!(
            negotiate(Some("application/json, text/plain"), &offered),
            Some("application/json")
        );
        assert_eq!(
            negotiate(Some("text/plain, application/json"), &offered),
            Some("text/plain")
        );
        assert_eq!(
            negotiate(Some("*/*;q=0.1, application/*"), &offered),
            Some("application/json")
        );
        assert_eq!(
            negotiate(Some("text/html, */*;q=0.8"), &offered),
            Some("text/plain")
        );
        assert_eq!(negotiate(Some("garbage"), &offered), None);
        assert_eq!(negotiate(Some(" "), &offered), Some("text/plain"));
    }
}
