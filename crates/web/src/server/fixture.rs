//! The fixture server: deterministic HTTP endpoints to test and benchmark fetching against.
//!
//! Sized bodies, delays, status codes, feeds with known titles, redirects, slow drips and
//! faults, over HTTP/1.1 keep-alive (pipelining tolerated) and HTTP/1.0, one green thread per
//! connection. Its bodies match the benchmark's independent fixture server
//! (`bench/fixture-server`), so `bench/check.py` accepts what is fetched from either.
//!
//! Layer: apps (uses [`Server`], the runtime's [`sleep`](greenfetch_runtime::sleep) and `may`'s sockets).
//!
//! # Endpoints
//!
//! Any method is served like `GET`; `HEAD` gets the same head without the body. A request body
//! with `Content-Length` is read and discarded (`Expect: 100-continue` is answered); a chunked
//! request body gets `501` and the connection is closed. Unparseable requests get `400` and a
//! close; unknown paths `404`, with the list of endpoints. Every response has `Content-Type` and, faults aside,
//! `Content-Length` (`204` and `304` have neither body nor length).
//!
//! | path | answer |
//! |---|---|
//! | `/bytes/{n}` | `n` bytes (`n` ≤ 1 GiB) of the repeating pattern `A-Za-z0-9+/`, `application/octet-stream` |
//! | `/delay/{ms}/{tag}` | after `ms` ≤ 600000 milliseconds (only this green thread sleeps), the body `{tag}\n` |
//! | `/status/{code}` | status `code` (200–599), body `status {code}\n`; `?retry-after=N` adds `Retry-After: N` (meant for 429 and 503) |
//! | `/feed/{rss\|atom\|json}/{id}` | a valid RSS 2.0 / Atom / JSON Feed 1.1 document titled `Feed {id}` with entries `Entry {id}.1` to `Entry {id}.3`; `id` is `[A-Za-z0-9_-]+` |
//! | `/page/{id}` | an HTML page titled `Page {id}` (`text/html`) advertising `/feed/{kind}/{id}` in a `<link rel="alternate">`, where `?feed=` is `rss` (the default), `atom` or `json`; `?feed=header` advertises the Atom feed in a `Link` header instead, `?feed=broken` advertises `/status/404`, `?feed=none` nothing |
//! | `/redirect/{n}` | `302` to `/redirect/{n-1}`; `/redirect/0` is `200 redirected\n` |
//! | `/slow/{bytes}/{ms}` | the full `Content-Length` at once, then the pattern dripped in chunks (at most one per 10 ms) over `ms` |
//! | `/fault/reset` | no response: the socket is closed with `SO_LINGER` 0, so the client gets a reset |
//! | `/fault/truncate` | `Content-Length: 1000`, 100 bytes, then a clean close |
//! | `/fault/lie` | `Content-Length: 10`, then 1,000 bytes, and the connection kept open: a client that reuses it reads the rest as the next answer unless it sees it is not clean |
//! | `/fault/loop` | `302` to `/fault/loop` |
//! | `/fault/hang` | no response; the connection stays open, parked at no CPU cost, until the client closes it or the server stops |
//! | `/fault/headers` | `200` with 20,000 header lines (`X-Filler-{i}`, about 430 KB: past curl's 300 KiB), then `ok\n` |
//! | `/fault/chunked` | `200`, chunked, a valid chunk then a chunk size that is not hexadecimal; then a close |
//! | `/fault/gzip/{n}` | `Content-Encoding: gzip`: a small body (about n/160 bytes) that inflates to `n` ≤ 1 GiB zero bytes: a gzip bomb for any `n` past the client's cap |
//! | `/fault/deflate/{n}` | the same in `deflate` (zlib-wrapped) |
//! | `/fault/br/{n}` | the same in `br`, about 13 bytes per 16 MiB |
//! | `/fault/zstd/{n}` | the same in `zstd`, 4 bytes per 128 KiB |
//! | `/fault/endless` | `200`, chunked, 16 KiB chunks forever (close-delimited for HTTP/1.0) until the client goes away or the server stops |
//! | `/stats` | `{"hits":H,"connections":C,"open_connections":O}` (this request included), `application/json` |
//!
//! `Connection: close` and HTTP/1.0 (without `Connection: keep-alive`) close the connection
//! after the response. `/delay` answers `{tag}\n`, not `ok {tag}\n`: that is the body the
//! benchmark's checker expects.
//!
//! # Example
//!
//! ```
//! use std::io::{Read, Write};
//! use greenfetch_web::server::FixtureServer;
//!
//! let server = FixtureServer::start("127.0.0.1:0")?;
//! let mut conn = std::net::TcpStream::connect(server.addr())?; // a plain thread: std is fine
//! conn.write_all(b"GET /delay/20/hello HTTP/1.0\r\n\r\n")?;
//! let mut reply = String::new();
//! conn.read_to_string(&mut reply)?;
//! assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(reply.ends_with("\r\n\r\nhello\n"));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Performance
//!
//! The fast path copies no request data but the path (into a buffer reused for the
//! connection's life), coalesces pipelined responses into one write, serves small bodies from
//! a static pattern and sets `TCP_NODELAY`. The listen backlog is raised from may's 1024 to
//! `net.core.somaxconn`. A connection starts with a 1 KiB read buffer and a 256 B write buffer.
//!
//! What it holds up to (10,000 connections at once, requests/s under wrk) is measured in
//! benches/README.md, "The fixture server".

use std::fmt::{self as stdfmt, Write as _};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use may::net::TcpStream;

use super::head::{Expect, HeadFields, LengthError, TransferCoding};
use super::{Fmt, Server, ServerState, reason};
use crate::client::decode::Coding;

/// Largest `/bytes` and `/slow` body.
const MAX_BYTES: u64 = 1 << 30;
/// Longest `/delay` and `/slow` duration, in milliseconds.
const MAX_MS: u64 = 600_000;
/// A request head larger than this gets `431`.
const MAX_HEAD: usize = 64 * 1024;
/// Initial read buffer of a connection; it doubles up to [`MAX_HEAD`] for large heads.
const READ_BUF: usize = 1024;
/// Most input read and dropped after a response that closes the connection.
const LINGER_BYTES: usize = 1 << 20;
/// Most request headers accepted.
const MAX_HEADERS: usize = 64;
/// Responses to pipelined requests are held until this many bytes are buffered, or until the
/// connection would wait for more input.
const FLUSH_AT: usize = 32 * 1024;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// Bodies up to this size are copied after the head into one write; larger ones are written
/// from [`PATTERN`] directly.
const INLINE: u64 = 16 * 1024;

/// 16 KiB of the repeating 64-byte pattern (a multiple of 64, so slices join up).
static PATTERN: [u8; 16 * 1024] = pattern();

const fn pattern() -> [u8; 16 * 1024] {
    let mut p = [0u8; 16 * 1024];
    let mut i = 0;
    while i < p.len() {
        p[i] = ALPHABET[i % 64];
        i += 1;
    }
    p
}

/// Up to `max` pattern bytes starting at body offset `pos`.
fn pattern_at(pos: u64, max: u64) -> &'static [u8] {
    let start = (pos % 64) as usize;
    let len = (PATTERN.len() - start).min(usize::try_from(max).unwrap_or(usize::MAX));
    &PATTERN[start..start + len]
}

/// The fixture server: start one with [`FixtureServer::start`].
///
/// ```
/// let server = greenfetch_web::server::FixtureServer::start("127.0.0.1:0")?;
/// println!("fixture at {}", server.url("/"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct FixtureServer;

impl FixtureServer {
    /// Binds `addr` (`"127.0.0.1:0"` picks a free port) and serves the fixture endpoints in
    /// green threads until the returned [`Server`] is stopped or dropped.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let server = greenfetch_web::server::FixtureServer::start("127.0.0.1:0")?;
    /// let mut conn = std::net::TcpStream::connect(server.addr())?; // a plain thread: std is fine
    /// conn.write_all(b"GET /feed/rss/7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    /// let mut reply = String::new();
    /// conn.read_to_string(&mut reply)?;
    /// assert!(reply.contains("Content-Type: application/rss+xml\r\n"));
    /// assert!(reply.contains("<title>Feed 7</title>"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start(addr: &str) -> io::Result<Server> {
        Server::start(addr, serve_connection)
    }
}

/// Runs the fixture server on `listen` for the rest of the process: prints
/// `listening on http://ADDR` (the bound address) to stdout, then blocks forever. Returns only
/// if the server cannot start.
///
/// For the `greenfetch fixture` command:
///
/// ```no_run
/// greenfetch_web::server::run_fixture("127.0.0.1:8080")?; // never returns
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// A bad address is an error, not a hang:
///
/// ```
/// assert!(greenfetch_web::server::run_fixture("not an address").is_err());
/// ```
pub fn run_fixture(listen: &str) -> io::Result<()> {
    let server = FixtureServer::start(listen)?;
    let mut out = io::stdout().lock();
    writeln!(out, "listening on http://{}", server.addr())?;
    out.flush()?;
    drop(out);
    loop {
        greenfetch_runtime::sleep(Duration::from_secs(3600));
    }
}

/// The endpoints, as a 404 lists them.
const ENDPOINTS: &str = "endpoints:
  /bytes/{n}  /delay/{ms}/{tag}  /status/{code}[?retry-after=N]
  /feed/{rss|atom|json}/{id}  /page/{id}[?feed=rss|atom|json|header|broken|none]
  /redirect/{n}  /slow/{bytes}/{ms}  /stats
  /fault/{reset|truncate|lie|loop|hang|endless|headers|chunked}
  /fault/{gzip|deflate|br|zstd}/{n}
";

/// What a parsed request needs after its head has been consumed.
struct Request {
    /// Bytes of the head in the read buffer.
    head_len: usize,
    /// Bytes of body to discard.
    body_len: u64,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    version: u8,
    /// Whether the connection stays open after the response.
    keep_alive: bool,
    /// `HEAD`: the response has no body.
    head_only: bool,
    /// `Expect: 100-continue` was sent.
    expect_continue: bool,
}

enum Parsed {
    Complete(Request),
    Partial,
    Bad(&'static str),
    ChunkedBody,
}

/// Parses one request head from `buf`, copying its target into `path`.
fn parse(buf: &[u8], path: &mut String) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Bad("bad request: too many headers\n");
        }
        Err(_) => return Parsed::Bad("bad request: malformed request\n"),
    };
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Parsed::Bad("bad request: malformed request\n");
    };
    let fields = match HeadFields::read(req.headers.iter().map(|h| (h.name, h.value))) {
        Ok(f) => f,
        Err(LengthError::Bad) => return Parsed::Bad("bad request: bad Content-Length\n"),
        Err(LengthError::Conflicting) => {
            return Parsed::Bad("bad request: conflicting Content-Length\n");
        }
    };
    if fields.transfer != TransferCoding::None {
        return Parsed::ChunkedBody;
    }
    let (close, keep) = (fields.close, fields.keep_alive);
    let (body_len, expect_continue) = (fields.content_length, fields.expect == Expect::Continue);
    path.clear();
    path.push_str(target);
    Parsed::Complete(Request {
        head_len,
        body_len: body_len.unwrap_or(0),
        version,
        keep_alive: !close && (version == 1 || keep),
        head_only: method == "HEAD",
        expect_continue: expect_continue && version == 1,
    })
}

/// How a connection goes on after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Read the next request.
    KeepAlive,
    /// Flush, send FIN, close.
    Close,
    /// Close at once, without flushing or FIN (the socket may be set to reset).
    Abort,
}

/// One connection's write side and scratch space.
struct Conn<'s> {
    stream: TcpStream,
    /// Responses not yet written to the socket.
    out: Vec<u8>,
    /// Formatted bodies (reused).
    scratch: Vec<u8>,
    state: &'s ServerState,
}

/// Serves one connection until it closes, errs, or the server stops.
fn serve_connection(stream: TcpStream, state: &ServerState) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        stream,
        out: Vec::with_capacity(256),
        scratch: Vec::new(),
        state,
    };
    let mut buf = vec![0u8; READ_BUF];
    let (mut start, mut end) = (0usize, 0usize);
    let mut path = String::new();
    let flow = loop {
        let parsed = if start < end {
            parse(&buf[start..end], &mut path)
        } else {
            Parsed::Partial
        };
        let req = match parsed {
            Parsed::Complete(req) => req,
            Parsed::Partial => {
                conn.flush()?;
                if start > 0 {
                    buf.copy_within(start..end, 0);
                    (start, end) = (0, end - start);
                }
                if end == buf.len() {
                    if buf.len() >= MAX_HEAD {
                        conn.plain(431, b"request head too large\n");
                        break Flow::Close;
                    }
                    buf.resize(buf.len() * 2, 0);
                }
                let n = conn.stream.read(&mut buf[end..])?;
                if n == 0 {
                    break Flow::Close;
                }
                end += n;
                continue;
            }
            Parsed::Bad(why) => {
                conn.plain(400, why.as_bytes());
                break Flow::Close;
            }
            Parsed::ChunkedBody => {
                conn.plain(501, b"chunked request bodies are not supported\n");
                break Flow::Close;
            }
        };
        state
            .hits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        start += req.head_len;
        // Discard the body: first what is buffered, then the rest from the socket (keeping
        // whatever follows it, which is the next pipelined request).
        let buffered = ((end - start) as u64).min(req.body_len);
        start += buffered as usize;
        let mut left = req.body_len - buffered;
        if left > 0 {
            if req.expect_continue {
                conn.out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
            conn.flush()?;
            (start, end) = (0, 0);
            while left > 0 {
                let n = conn.stream.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                if n as u64 > left {
                    (start, end) = (left as usize, n);
                    left = 0;
                } else {
                    left -= n as u64;
                }
            }
        }
        if start == end {
            (start, end) = (0, 0);
        }
        match conn.respond(&req, &path)? {
            Flow::KeepAlive if !state.stopped() => {
                if conn.out.len() >= FLUSH_AT {
                    conn.flush()?;
                }
            }
            Flow::KeepAlive => break Flow::Close,
            other => break other,
        }
    };
    if flow == Flow::Close {
        conn.flush()?;
        let _ = conn.stream.shutdown(Shutdown::Write);
        // Lingering close: closing a socket with unread input makes the kernel send a reset,
        // which can destroy the response in flight (say a 400 to a request whose rest is
        // still arriving). Read and drop what the client still sends, up to a bound, until
        // it closes its side.
        let mut left = LINGER_BYTES;
        while left > 0 {
            match conn.stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    }
    Ok(())
}

/// A feed or page id: `[A-Za-z0-9_-]+` (it goes into URLs and markup unescaped).
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn num(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl Conn<'_> {
    fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out)?;
            self.out.clear();
        }
        Ok(())
    }

    /// Writes a status line and the common headers; the caller adds its own headers and
    /// ends the head with [`end_head`](Self::end_head).
    fn start_head(&mut self, keep_alive: bool, version: u8, code: u16, ctype: &str) {
        let mut w = Fmt(&mut self.out);
        let _ = write!(
            w,
            "HTTP/1.1 {code} {}\r\nServer: greenfetch-fixture\r\nContent-Type: {ctype}\r\n",
            reason(code)
        );
        if !keep_alive || self.state.stopped() {
            let _ = w.write_str("Connection: close\r\n");
        } else if version == 0 {
            let _ = w.write_str("Connection: keep-alive\r\n");
        }
    }

    /// Ends the head, with `Content-Length` when `len` is given.
    fn end_head(&mut self, len: Option<u64>) {
        if let Some(len) = len {
            let _ = write!(Fmt(&mut self.out), "Content-Length: {len}\r\n");
        }
        self.out.extend_from_slice(b"\r\n");
    }

    /// A complete `text/plain` response to a request that could not be parsed; the
    /// connection closes after it.
    fn plain(&mut self, code: u16, body: &[u8]) {
        self.start_head(false, 1, code, "text/plain");
        self.end_head(Some(body.len() as u64));
        self.out.extend_from_slice(body);
    }

    /// A complete response to `req` with a body in memory; `extra` is a header line without
    /// its CRLF.
    fn body(
        &mut self,
        req: &Request,
        code: u16,
        ctype: &str,
        extra: stdfmt::Arguments<'_>,
        body: &[u8],
    ) -> Flow {
        self.start_head(req.keep_alive, req.version, code, ctype);
        let _ = Fmt(&mut self.out).write_fmt(extra);
        let no_body = code == 204 || code == 304;
        self.end_head(if no_body {
            None
        } else {
            Some(body.len() as u64)
        });
        if !req.head_only && !no_body {
            self.out.extend_from_slice(body);
        }
        if req.keep_alive {
            Flow::KeepAlive
        } else {
            Flow::Close
        }
    }

    /// A `text/plain` response whose body is formatted from `args`.
    fn text(
        &mut self,
        req: &Request,
        code: u16,
        extra: stdfmt::Arguments<'_>,
        args: stdfmt::Arguments<'_>,
    ) -> Flow {
        let mut body = std::mem::take(&mut self.scratch);
        body.clear();
        let _ = Fmt(&mut body).write_fmt(args);
        let flow = self.body(req, code, "text/plain", extra, &body);
        self.scratch = body;
        flow
    }

    /// Routes `req` for `target` and writes (or buffers) the response.
    fn respond(&mut self, req: &Request, target: &str) -> io::Result<Flow> {
        let (route, query) = target.split_once('?').unwrap_or((target, ""));
        let mut seg = route.strip_prefix('/').unwrap_or(route).split('/');
        let parts = (seg.next(), seg.next(), seg.next(), seg.next());
        let none = format_args!("");
        Ok(match parts {
            (Some("bytes"), Some(n), None, None) => match num(n) {
                Some(n) if n <= MAX_BYTES => self.pattern_body(req, n)?,
                _ => self.text(
                    req,
                    400,
                    none,
                    format_args!("bad request: n must be an integer <= 1 GiB\n"),
                ),
            },
            (Some("delay"), Some(ms), Some(tag), None) => match num(ms) {
                Some(ms) if ms <= MAX_MS => {
                    self.flush()?;
                    greenfetch_runtime::sleep(Duration::from_millis(ms));
                    self.text(req, 200, none, format_args!("{tag}\n"))
                }
                _ => self.text(
                    req,
                    400,
                    none,
                    format_args!("bad request: ms must be an integer <= 600000\n"),
                ),
            },
            (Some("status"), Some(code), None, None) => self.status(req, code, query),
            (Some("feed"), Some(kind), Some(id), None) => self.feed(req, kind, id),
            (Some("page"), Some(id), None, None) => self.page(req, id, query),
            (Some("redirect"), Some(n), None, None) => match num(n) {
                Some(0) => self.text(req, 200, none, format_args!("redirected\n")),
                Some(n) => self.text(
                    req,
                    302,
                    format_args!("Location: /redirect/{}\r\n", n - 1),
                    format_args!("redirecting to /redirect/{}\n", n - 1),
                ),
                None => self.text(
                    req,
                    400,
                    none,
                    format_args!("bad request: n must be an integer\n"),
                ),
            },
            (Some("slow"), Some(n), Some(ms), None) => match (num(n), num(ms)) {
                (Some(n), Some(ms)) if n <= MAX_BYTES && ms <= MAX_MS => self.slow(req, n, ms)?,
                _ => self.text(
                    req,
                    400,
                    none,
                    format_args!("bad request: bytes <= 1 GiB and ms <= 600000\n"),
                ),
            },
            (Some("fault"), Some(which), None, None) => match which {
                "reset" => self.reset()?,
                "truncate" => self.truncate(req)?,
                "lie" => self.lie(req),
                "loop" => self.text(
                    req,
                    302,
                    format_args!("Location: /fault/loop\r\n"),
                    format_args!("redirect loop\n"),
                ),
                "hang" => {
                    self.flush()?;
                    self.state.park_until_closed(&mut self.stream)?;
                    Flow::Abort
                }
                "endless" => self.endless(req)?,
                "headers" => self.many_headers(req),
                "chunked" => self.bad_chunked(req)?,
                _ => self.not_found(req, route),
            },
            (Some("fault"), Some(coding @ ("gzip" | "deflate" | "br" | "zstd")), Some(n), None) => {
                match num(n) {
                    Some(n) if n <= MAX_BYTES => self.bomb(req, coding, n),
                    _ => self.text(
                        req,
                        400,
                        none,
                        format_args!("bad request: n must be an integer <= 1 GiB\n"),
                    ),
                }
            }
            (Some("stats"), None, None, None) => {
                use std::sync::atomic::Ordering::Relaxed;
                let (hits, conns, open) = (
                    self.state.hits.load(Relaxed),
                    self.state.counts.accepted.load(Relaxed),
                    self.state.counts.open.load(Relaxed),
                );
                let mut body = std::mem::take(&mut self.scratch);
                body.clear();
                let _ = writeln!(
                    Fmt(&mut body),
                    "{{\"hits\":{hits},\"connections\":{conns},\"open_connections\":{open}}}"
                );
                let flow = self.body(req, 200, "application/json", none, &body);
                self.scratch = body;
                flow
            }
            _ => self.not_found(req, route),
        })
    }

    fn not_found(&mut self, req: &Request, route: &str) -> Flow {
        self.text(
            req,
            404,
            format_args!(""),
            format_args!("no such endpoint: {route}\n{ENDPOINTS}"),
        )
    }

    /// Writes `n` pattern bytes from body offset `pos`, straight to the socket.
    fn write_pattern(&mut self, mut pos: u64, n: u64) -> io::Result<()> {
        let end = pos + n;
        while pos < end {
            let piece = pattern_at(pos, end - pos);
            self.stream.write_all(piece)?;
            pos += piece.len() as u64;
        }
        Ok(())
    }

    fn pattern_body(&mut self, req: &Request, n: u64) -> io::Result<Flow> {
        self.start_head(req.keep_alive, req.version, 200, "application/octet-stream");
        self.end_head(Some(n));
        if !req.head_only {
            if n <= INLINE {
                self.out.extend_from_slice(pattern_at(0, n));
            } else {
                self.flush()?;
                self.write_pattern(0, n)?;
            }
        }
        Ok(if req.keep_alive {
            Flow::KeepAlive
        } else {
            Flow::Close
        })
    }

    fn status(&mut self, req: &Request, code: &str, query: &str) -> Flow {
        let none = format_args!("");
        let code = match num(code) {
            Some(c @ 200..=599) => c as u16,
            _ => {
                return self.text(
                    req,
                    400,
                    none,
                    format_args!("bad request: code must be 200..=599\n"),
                );
            }
        };
        let retry = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("retry-after="));
        match retry {
            None => self.text(req, code, none, format_args!("status {code}\n")),
            Some(secs) if num(secs).is_some() && secs.len() <= 10 => self.text(
                req,
                code,
                format_args!("Retry-After: {secs}\r\n"),
                format_args!("status {code}\n"),
            ),
            Some(_) => self.text(
                req,
                400,
                none,
                format_args!("bad request: retry-after must be a number of seconds\n"),
            ),
        }
    }

    fn feed(&mut self, req: &Request, kind: &str, id: &str) -> Flow {
        let none = format_args!("");
        if !valid_id(id) {
            return self.text(
                req,
                400,
                none,
                format_args!("bad request: feed id must be [A-Za-z0-9_-]+\n"),
            );
        }
        let host = match self.stream.local_addr() {
            Ok(a) => a.to_string(),
            Err(_) => "127.0.0.1".to_owned(),
        };
        let base = format!("http://{host}/feed/{kind}/{id}");
        let mut body = std::mem::take(&mut self.scratch);
        body.clear();
        let mut w = Fmt(&mut body);
        let ctype = match kind {
            "rss" => {
                let _ = write!(
                    w,
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
                     <title>Feed {id}</title><link>{base}</link>\
                     <description>Fixture feed {id}</description>\n"
                );
                for k in 1..=3 {
                    let _ = writeln!(
                        w,
                        "<item><title>Entry {id}.{k}</title><link>{base}/{k}</link>\
                         <guid isPermaLink=\"false\">urn:fixture:{id}:{k}</guid>\
                         <pubDate>Mon, 01 Jan 2024 00:0{k}:00 +0000</pubDate>\
                         <description>Entry {k} of feed {id}.</description></item>"
                    );
                }
                let _ = w.write_str("</channel></rss>\n");
                "application/rss+xml"
            }
            "atom" => {
                let _ = write!(
                    w,
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
                     <feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Feed {id}</title>\
                     <id>urn:fixture:{id}</id><updated>2024-01-01T00:03:00Z</updated>\
                     <author><name>fixture</name></author><link href=\"{base}\"/>\n"
                );
                for k in 1..=3 {
                    let _ = writeln!(
                        w,
                        "<entry><title>Entry {id}.{k}</title><link href=\"{base}/{k}\"/>\
                         <id>urn:fixture:{id}:{k}</id><updated>2024-01-01T00:0{k}:00Z</updated>\
                         <summary>Entry {k} of feed {id}.</summary></entry>"
                    );
                }
                let _ = w.write_str("</feed>\n");
                "application/atom+xml"
            }
            "json" => {
                let _ = write!(
                    w,
                    "{{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"Feed {id}\",\
                     \"home_page_url\":\"{base}\",\"feed_url\":\"{base}\",\"items\":["
                );
                for k in 1..=3 {
                    let sep = if k == 1 { "" } else { "," };
                    let _ = write!(
                        w,
                        "{sep}\n{{\"id\":\"urn:fixture:{id}:{k}\",\"url\":\"{base}/{k}\",\
                         \"title\":\"Entry {id}.{k}\",\"content_text\":\"Entry {k} of feed {id}.\",\
                         \"date_published\":\"2024-01-01T00:0{k}:00Z\"}}"
                    );
                }
                let _ = w.write_str("\n]}\n");
                "application/feed+json"
            }
            _ => {
                self.scratch = body;
                return self.text(
                    req,
                    400,
                    none,
                    format_args!("bad request: feed kind must be rss, atom or json\n"),
                );
            }
        };
        let flow = self.body(req, 200, ctype, none, &body);
        self.scratch = body;
        flow
    }

    /// An HTML page titled `Page {id}` that advertises a feed as `?feed=` says.
    fn page(&mut self, req: &Request, id: &str, query: &str) -> Flow {
        let none = format_args!("");
        if !valid_id(id) {
            return self.text(
                req,
                400,
                none,
                format_args!("bad request: page id must be [A-Za-z0-9_-]+\n"),
            );
        }
        let which = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("feed="))
            .unwrap_or("rss");
        let (link, header) = match which {
            "rss" => (Some(("application/rss+xml", "rss")), false),
            "atom" => (Some(("application/atom+xml", "atom")), false),
            "json" => (Some(("application/feed+json", "json")), false),
            "header" => (Some(("application/atom+xml", "atom")), true),
            "broken" | "none" => (None, false),
            _ => {
                return self.text(
                    req,
                    400,
                    none,
                    format_args!(
                        "bad request: feed must be rss, atom, json, header, broken or none\n"
                    ),
                );
            }
        };
        let mut body = std::mem::take(&mut self.scratch);
        body.clear();
        let mut w = Fmt(&mut body);
        let _ = write!(
            w,
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<title>Page {id}</title>\n"
        );
        match (link, header, which) {
            (Some((ctype, kind)), false, _) => {
                let _ = writeln!(
                    w,
                    "<link rel=\"alternate\" type=\"{ctype}\" href=\"/feed/{kind}/{id}\">"
                );
            }
            (_, _, "broken") => {
                let _ = writeln!(
                    w,
                    "<link rel=\"alternate\" type=\"application/rss+xml\" href=\"/status/404\">"
                );
            }
            _ => {}
        }
        let _ = writeln!(w, "</head><body><p>Fixture page {id}.</p></body></html>");
        let mut extra = String::new();
        if let (Some((ctype, kind)), true) = (link, header) {
            extra = format!("Link: </feed/{kind}/{id}>; rel=\"alternate\"; type=\"{ctype}\"\r\n");
        }
        let flow = self.body(
            req,
            200,
            "text/html; charset=utf-8",
            format_args!("{extra}"),
            &body,
        );
        self.scratch = body;
        flow
    }

    /// `n` pattern bytes in at most one chunk per 10 ms, the last one about `ms` after the
    /// head (the schedule of the benchmark's fixture server).
    fn slow(&mut self, req: &Request, n: u64, ms: u64) -> io::Result<Flow> {
        self.start_head(req.keep_alive, req.version, 200, "application/octet-stream");
        self.end_head(Some(n));
        self.flush()?;
        if !req.head_only {
            let parts = (ms / 10).clamp(1, n.max(1));
            let chunk = n.div_ceil(parts);
            let gap = Duration::from_millis(ms) / u32::try_from(parts).unwrap_or(u32::MAX);
            let mut pos = 0;
            for _ in 0..parts {
                greenfetch_runtime::sleep(gap);
                let len = chunk.min(n - pos);
                self.write_pattern(pos, len)?;
                pos += len;
            }
        }
        Ok(if req.keep_alive {
            Flow::KeepAlive
        } else {
            Flow::Close
        })
    }

    /// Closes with `SO_LINGER` 0, so the kernel answers with RST instead of FIN.
    fn reset(&mut self) -> io::Result<Flow> {
        self.flush()?;
        socket2::SockRef::from(self.stream.inner()).set_linger(Some(Duration::ZERO))?;
        Ok(Flow::Abort)
    }

    /// Promises 1000 bytes, sends 100, closes.
    fn truncate(&mut self, req: &Request) -> io::Result<Flow> {
        self.start_head(req.keep_alive, req.version, 200, "application/octet-stream");
        self.end_head(Some(1000));
        if !req.head_only {
            self.out.extend_from_slice(pattern_at(0, 100));
        }
        Ok(Flow::Close)
    }

    /// `Content-Length: 10`, then 1,000 bytes, and the connection kept open: the 990 the
    /// length does not cover are in the way of whatever the client sends next on it.
    fn lie(&mut self, req: &Request) -> Flow {
        self.start_head(req.keep_alive, req.version, 200, "application/octet-stream");
        self.end_head(Some(10));
        if !req.head_only {
            self.out.extend_from_slice(pattern_at(0, 1000));
        }
        if req.keep_alive {
            Flow::KeepAlive
        } else {
            Flow::Close
        }
    }

    /// A 200 with 10,000 header lines before its small body.
    fn many_headers(&mut self, req: &Request) -> Flow {
        self.start_head(req.keep_alive, req.version, 200, "text/plain");
        for i in 0..20_000 {
            let _ = write!(Fmt(&mut self.out), "X-Filler-{i}: {i}\r\n");
        }
        self.end_head(Some(3));
        if !req.head_only {
            self.out.extend_from_slice(b"ok\n");
        }
        if req.keep_alive {
            Flow::KeepAlive
        } else {
            Flow::Close
        }
    }

    /// A chunked body whose second chunk size is not hexadecimal; the connection closes.
    fn bad_chunked(&mut self, req: &Request) -> io::Result<Flow> {
        self.start_head(false, req.version, 200, "text/plain");
        self.out
            .extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        self.end_head(None);
        if !req.head_only {
            self.out
                .extend_from_slice(b"5\r\nhello\r\nzz\r\nnot a chunk\r\n0\r\n\r\n");
        }
        Ok(Flow::Close)
    }

    /// `Content-Encoding: {coding}`: a small body that decodes to `n` zero bytes.
    fn bomb(&mut self, req: &Request, coding: &str, n: u64) -> Flow {
        let Some(c) = Coding::parse(coding) else {
            return self.not_found(req, coding);
        };
        let body = bomb(c, n);
        self.body(
            req,
            200,
            "application/octet-stream",
            format_args!("Content-Encoding: {}\r\n", c.name()),
            &body,
        )
    }

    /// Chunks of 16 KiB until a write fails (the client went away) or the server stops.
    fn endless(&mut self, req: &Request) -> io::Result<Flow> {
        let chunked = req.version == 1;
        self.start_head(
            req.keep_alive && chunked,
            req.version,
            200,
            "application/octet-stream",
        );
        if chunked {
            self.out
                .extend_from_slice(b"Transfer-Encoding: chunked\r\n");
        }
        self.end_head(None);
        self.flush()?;
        if req.head_only {
            return Ok(if chunked && req.keep_alive {
                Flow::KeepAlive
            } else {
                Flow::Close
            });
        }
        if chunked {
            let _ = write!(Fmt(&mut self.out), "{:x}\r\n", PATTERN.len());
        }
        self.out.extend_from_slice(&PATTERN);
        if chunked {
            self.out.extend_from_slice(b"\r\n");
        }
        while !self.state.stopped() {
            self.stream.write_all(&self.out)?;
            greenfetch_runtime::sleep(Duration::ZERO);
        }
        self.out.clear();
        Ok(Flow::Abort)
    }
}

/// `n` zero bytes in content coding `c`, written by hand from the formats' definitions (no
/// compressor runs, so a large `n` costs the server next to nothing but the gzip and zlib
/// checksums; the connection's small coroutine stack holds no compressor state). What the
/// fixture server's `/fault/{coding}/{n}` bombs send:
///
/// - gzip (RFC 1952) and deflate (zlib-wrapped, RFC 1950): one fixed-Huffman deflate block of a
///   literal zero and then back-references of 258 bytes at distance 1, 13 bits each: about
///   160 to 1.
/// - br (RFC 7932): a 64 KiB window, then meta-blocks of up to 16 MiB, each one command (four
///   literal zeros and a copy of the rest at distance 4) under one-symbol prefix codes: about
///   13 bytes for 16 MiB.
/// - zstd (RFC 8878): a 128 KiB window and RLE blocks of 128 KiB of zeros, 4 bytes each.
///
/// ```
/// use std::io::Read;
/// use greenfetch_web::client::decode::{decoder, Coding};
/// use greenfetch_web::server::fixture::bomb;
///
/// for c in [Coding::Gzip, Coding::Deflate, Coding::Br, Coding::Zstd] {
///     let body = bomb(c, 20 << 20);
///     assert!(body.len() < 200 << 10);
///     let mut out = Vec::new();
///     decoder(&[c], &body[..]).read_to_end(&mut out)?;
///     assert_eq!(out.len(), 20 << 20);
///     assert!(out.iter().all(|b| *b == 0));
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn bomb(c: Coding, n: u64) -> Vec<u8> {
    match c {
        Coding::Gzip => gzip_zeros(n),
        Coding::Deflate => zlib_zeros(n),
        Coding::Br => br_zeros(n),
        Coding::Zstd => zstd_zeros(n),
    }
}

/// A bit writer: bytes filled from their least significant bit, as deflate and brotli pack.
struct Bits {
    out: Vec<u8>,
    acc: u32,
    len: u32,
}

impl Bits {
    fn new(capacity: usize) -> Self {
        Bits {
            out: Vec::with_capacity(capacity),
            acc: 0,
            len: 0,
        }
    }

    /// Appends the `len` low bits of `code`, most significant first (deflate's Huffman codes).
    fn code(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.bit((code >> i) & 1);
        }
    }

    /// Appends the `len` low bits of `value`, least significant first (every other field).
    fn value(&mut self, value: u64, len: u32) {
        for i in 0..len {
            self.bit(((value >> i) & 1) as u32);
        }
    }

    fn bit(&mut self, b: u32) {
        self.acc |= b << self.len;
        self.len += 1;
        if self.len == 8 {
            self.out.push(self.acc as u8);
            self.acc = 0;
            self.len = 0;
        }
    }

    /// Pads the last byte with zero bits.
    fn align(&mut self) {
        if self.len > 0 {
            self.out.push(self.acc as u8);
            self.acc = 0;
            self.len = 0;
        }
    }
}

/// One fixed-Huffman deflate block of `n` zero bytes after whatever `w` holds.
fn deflate_zeros(w: &mut Bits, n: u64) {
    w.bit(1); // BFINAL
    w.value(1, 2); // BTYPE = 01, fixed Huffman
    let mut left = n;
    if left > 0 {
        w.code(0x30, 8); // literal 0
        left -= 1;
    }
    while left >= 258 {
        w.code(0xc5, 8); // length code 285: 258 bytes
        w.code(0, 5); // distance code 0: distance 1
        left -= 258;
    }
    for _ in 0..left {
        w.code(0x30, 8);
    }
    w.code(0, 7); // end of block (256)
    w.align();
}

/// A gzip member of `n` zero bytes.
fn gzip_zeros(n: u64) -> Vec<u8> {
    let mut w = Bits::new((n / 150) as usize + 32);
    // The gzip header: magic, deflate, no flags, no time, no extra flags, unknown OS.
    w.out
        .extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    deflate_zeros(&mut w, n);
    let mut crc = crc32fast::Hasher::new();
    let zeros = [0u8; 64 * 1024];
    let mut left = n;
    while left > 0 {
        let k = left.min(zeros.len() as u64) as usize;
        crc.update(&zeros[..k]);
        left -= k as u64;
    }
    w.out.extend_from_slice(&crc.finalize().to_le_bytes());
    w.out.extend_from_slice(&(n as u32).to_le_bytes());
    w.out
}

/// A zlib stream of `n` zero bytes.
fn zlib_zeros(n: u64) -> Vec<u8> {
    let mut w = Bits::new((n / 150) as usize + 32);
    // Deflate with a 32 KiB window, no dictionary; 0x7801 is a multiple of 31.
    w.out.extend_from_slice(&[0x78, 0x01]);
    deflate_zeros(&mut w, n);
    // Adler-32 of zeros: the byte sum stays 1, and the sum of sums grows by 1 a byte.
    let adler = ((n % 65_521) << 16) | 1;
    w.out.extend_from_slice(&(adler as u32).to_be_bytes());
    w.out
}

/// A brotli stream of `n` zero bytes.
fn br_zeros(n: u64) -> Vec<u8> {
    /// The largest meta-block.
    const MAX_MLEN: u64 = 1 << 24;
    /// The shortest copy of copy length code 23, whose 24 extra bits reach past `MAX_MLEN`.
    const COPY_BASE: u64 = 2118;
    let mut w = Bits::new((n / MAX_MLEN) as usize * 16 + 64);
    w.bit(0); // WBITS = 16: a 64 KiB window
    let mut left = n;
    while left > 0 {
        let mlen = left.min(MAX_MLEN);
        left -= mlen;
        w.bit(0); // ISLAST
        // MNIBBLES: 4, 5 or 6 nibbles of MLEN - 1, the fewest that hold it.
        let nibbles = match mlen - 1 {
            0..=0xffff => 4,
            0x1_0000..=0xf_ffff => 5,
            _ => 6,
        };
        w.value(nibbles - 4, 2);
        w.value(mlen - 1, nibbles as u32 * 4);
        if mlen < 4 + COPY_BASE {
            // Too short for the one command: stored as it is.
            w.bit(1); // ISUNCOMPRESSED
            w.align();
            w.out.resize(w.out.len() + mlen as usize, 0);
            continue;
        }
        w.bit(0); // ISUNCOMPRESSED
        w.value(0, 3); // one block type each for literals, commands and distances
        w.value(0, 2); // NPOSTFIX
        w.value(0, 4); // NDIRECT
        w.value(0, 2); // the literal context mode (any: one prefix code)
        w.value(0, 2); // NTREESL = 1, NTREESD = 1
        // Three simple prefix codes of one symbol each, so every symbol takes no bits:
        // literal 0; insert-and-copy 423 (insert code 4: 4 literals; copy code 23; an
        // explicit distance); distance code 0 (the last distance, 4 at the start).
        for (symbol, alphabet_bits) in [(0, 8), (423, 10), (0, 6)] {
            w.value(1, 2); // a simple prefix code
            w.value(0, 2); // of one symbol
            w.value(symbol, alphabet_bits);
        }
        // The command: the copy length's 24 extra bits; the literals and the distance take
        // none.
        w.value(mlen - 4 - COPY_BASE, 24);
    }
    w.value(0b11, 2); // ISLAST, ISLASTEMPTY
    w.align();
    w.out
}

/// A zstd frame of `n` zero bytes.
fn zstd_zeros(n: u64) -> Vec<u8> {
    /// The largest block with a 128 KiB window.
    const BLOCK: u64 = 128 * 1024;
    let mut out = Vec::with_capacity((n / BLOCK) as usize * 4 + 16);
    out.extend_from_slice(&0xfd2f_b528u32.to_le_bytes());
    out.push(0); // no content size, no checksum, no dictionary: a window descriptor follows
    out.push(7 << 3); // window 2^(10+7) = 128 KiB
    let mut left = n;
    loop {
        let size = left.min(BLOCK);
        left -= size;
        let last = u32::from(left == 0);
        // Block header: last flag, type (1: RLE, or 0: an empty raw block), size.
        let kind = u32::from(size > 0);
        let header = last | kind << 1 | (size as u32) << 3;
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        if size > 0 {
            out.push(0);
        }
        if left == 0 {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::decode::decoder;

    /// Decodes `body` and returns how many bytes came out, all of which must be zero.
    fn zeros_in(c: Coding, body: &[u8]) -> u64 {
        let mut r = decoder(&[c], body);
        let mut buf = vec![0u8; 1 << 20];
        let mut total = 0u64;
        loop {
            match r.read(&mut buf) {
                Ok(0) => return total,
                Ok(k) => {
                    assert!(buf[..k].iter().all(|b| *b == 0), "{c:?}: a non-zero byte");
                    total += k as u64;
                }
                Err(e) => panic!("{c:?}: {e}"),
            }
        }
    }

    #[test]
    fn every_bomb_decodes_to_exactly_n_zeros_at_every_boundary() {
        let sizes = [
            0,
            1,
            257,
            258,
            259,
            2_121,
            2_122,
            2_123,
            65_536,
            65_537,
            128 * 1024,
            128 * 1024 + 1,
            1 << 20,
            (1 << 20) + 1,
            1 << 24,
            (1 << 24) + 1,
            (1 << 24) + 2_121,
            (2 << 24) + 3_000,
        ];
        for c in [Coding::Gzip, Coding::Deflate, Coding::Br, Coding::Zstd] {
            for n in sizes {
                assert_eq!(zeros_in(c, &bomb(c, n)), n, "{c:?} {n}");
            }
        }
    }

    #[test]
    fn bombs_are_small() {
        let n = 1u64 << 30;
        assert!(bomb(Coding::Br, n).len() < 1_000);
        assert!(bomb(Coding::Zstd, n).len() < 40 * 1024);
        for c in [Coding::Gzip, Coding::Deflate] {
            let len = bomb(c, 64 << 20).len() as u64;
            assert!(len < (64 << 20) / 150, "{c:?}: {len}");
        }
    }
}
