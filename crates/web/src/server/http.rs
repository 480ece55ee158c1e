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
//! The parts, one file each under src/server/http/: `message` ([`Request`], [`Response`]),
//! `host` ([`HostCheck`]), `negotiate` ([`negotiate`]); this file is the connection engine
//! (limits, admission, the head parser, bodies, keep-alive, lingering close).
//!
//! Layer: apps (uses [`Server`], [`GreenStream`], `httparse`).
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

use super::head::{Expect, HeadFields, LengthError, TransferCoding};
use super::{ConnCounts, Fmt, Server, ServerState, reason};
use greenfetch_runtime::greenthread::panic_message;
use greenfetch_runtime::wait::lock;

mod host;
mod message;
mod negotiate;

pub use host::HostCheck;
pub(crate) use host::host_name;
use host::*;
pub use message::{Request, Response};
pub use negotiate::negotiate;
use negotiate::*;

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
    /// Connections accepted and open now: the server's own count.
    pub(crate) counts: Arc<ConnCounts>,
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
        let counts = stats.counts.clone();
        let shared = Arc::new(Shared {
            cfg,
            service,
            stats,
            per_client: Mutex::new(HashMap::new()),
        });
        Server::start_counted(addr, counts, move |stream, state| {
            serve_connection(stream, state, &shared);
            Ok(())
        })
    }
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

/// Parses a request head; `Ok(None)` if it is not complete yet.
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
    let fields = HeadFields::read(
        req.headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
    )
    .map_err(|e| match e {
        LengthError::Bad => bad(400, "bad_request", "bad Content-Length"),
        LengthError::Conflicting => bad(400, "bad_request", "conflicting Content-Length headers"),
    })?;
    if fields.transfer == TransferCoding::Other {
        // Only `chunked`, once and alone (RFC 9112 §6.1): any other coding is 501.
        let mut r = bad(
            501,
            "not_implemented",
            "the only transfer coding accepted is chunked",
        );
        r.path = Some(req.path.clone());
        return Err(r);
    }
    if fields.expect == Expect::Other {
        let mut r = bad(
            417,
            "expectation_failed",
            "only Expect: 100-continue is supported",
        );
        r.path = Some(req.path.clone());
        return Err(r);
    }
    let (close, keep) = (fields.close, fields.keep_alive);
    let body_len = fields.content_length;
    let chunked = fields.transfer == TransferCoding::Chunked;
    let expect_continue = fields.expect == Expect::Continue && version == 1;
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
    if stats.counts.open.load(Ordering::Relaxed) > cfg.max_connections as u64 {
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
