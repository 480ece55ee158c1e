//! HTTP/1.1 on the wire: the request head, the response head (with curl's size limits), and
//! the body's framing (Content-Length, chunked, or until the connection closes).
//!
//! Layer: networking.

use std::fmt;
use std::io::{self, Read};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::conn::Conn;

/// A response head as parsed.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) reason: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub(crate) version: u8,
    pub(crate) headers: HeaderMap,
    /// The head's bytes as received, when asked for.
    pub(crate) raw: Option<Vec<u8>>,
}

/// Why a head could not be read. `Io` carries the stream's error; the rest are the peer's
/// fault.
#[derive(Debug)]
pub(crate) enum HeadError {
    Io(io::Error),
    /// The stream ended before any byte of an answer.
    NoAnswer,
    /// The stream ended inside the head.
    Cut(usize),
    TooLarge(usize),
    LineTooLong(usize),
    Malformed(String),
}

/// Size limits on a response head (curl's: 100 KiB a header line, 300 KiB in all).
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadLimits {
    pub(crate) total: usize,
    pub(crate) line: usize,
}

fn parser() -> httparse::ParserConfig {
    let mut p = httparse::ParserConfig::default();
    p.allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_response_status_delimiters(true);
    p
}

enum Parsed {
    Partial,
    Done(usize, Head),
}

/// Kept out of line: its 64 header slots (2 KiB) would otherwise be in `read_head`'s frame
/// through every wait for an answer.
#[inline(never)]
fn parse(bytes: &[u8], limits: HeadLimits, keep_raw: bool) -> Result<Parsed, HeadError> {
    let mut small = [httparse::EMPTY_HEADER; 64];
    let mut big;
    let mut resp = httparse::Response::new(&mut small);
    let mut r = parser().parse_response(&mut resp, bytes);
    if matches!(r, Err(httparse::Error::TooManyHeaders)) {
        let lines = memchr::memchr_iter(b'\n', bytes).count() + 1;
        big = vec![httparse::EMPTY_HEADER; lines];
        resp = httparse::Response::new(&mut big);
        r = parser().parse_response(&mut resp, bytes);
    }
    let n = match r {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(e) => {
            return Err(HeadError::Malformed(format!(
                "not an HTTP/1 response ({e}): {:?}",
                shown(bytes)
            )));
        }
    };
    let status = resp.code.unwrap_or(0);
    if status < 100 {
        return Err(HeadError::Malformed(format!(
            "not an HTTP/1 response (status code {status:03}, not 100 to 999)"
        )));
    }
    let mut headers = HeaderMap::with_capacity(resp.headers.len());
    for h in resp.headers.iter() {
        let line = h.name.len() + h.value.len() + 2;
        if line > limits.line {
            return Err(HeadError::LineTooLong(line));
        }
        // A name or value http cannot hold (a space in a name, a control byte) is dropped.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) {
            headers.append(name, value);
        }
    }
    Ok(Parsed::Done(
        n,
        Head {
            status,
            reason: resp.reason.unwrap_or("").to_owned(),
            version: resp.version.unwrap_or(1),
            headers,
            raw: keep_raw.then(|| bytes[..n].to_vec()),
        },
    ))
}

/// Whether `bytes` hold a head's end: a line feed followed by CRLF or by another line feed.
fn head_ends(bytes: &[u8]) -> bool {
    memchr::memchr_iter(b'\n', bytes)
        .any(|i| matches!(&bytes[i + 1..], [b'\n', ..] | [b'\r', b'\n', ..]))
}

/// Whether `have`, the first bytes of an answer, cannot be an HTTP/1 status line: after the
/// blank lines a parser skips, they do not begin (or cannot go on to begin) with `HTTP/`. An
/// HTTP/0.9 answer, a banner of another protocol or binary noise is refused at once, instead
/// of being read until a blank line or the head limit that may never come.
fn not_http(have: &[u8]) -> bool {
    let start = have.iter().position(|&b| b != b'\r' && b != b'\n');
    let Some(start) = start else { return false };
    let rest = &have[start..];
    let n = rest.len().min(5);
    rest[..n] != b"HTTP/"[..n]
}

/// Shown in a message: the start of an answer, control characters as spaces.
fn shown(bytes: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    s.trim_end().to_owned()
}

/// Reads one response head from `conn`, skipping interim (1xx) answers other than 101; the
/// interim heads count toward the head limit, so an endless stream of them is refused.
///
/// The head is parsed only once its blank line has arrived, so a head dripped a byte at a time
/// costs one parse, not one per read.
pub(crate) fn read_head(
    conn: &mut Conn,
    limits: HeadLimits,
    keep_raw: bool,
) -> Result<Head, HeadError> {
    let mut seen_any = false;
    // Bytes of the buffer already searched for the blank line.
    let mut searched: usize = 0;
    // Bytes of the interim heads skipped so far.
    let mut interim: usize = 0;
    loop {
        let have = conn.buffered();
        if !have.is_empty() {
            seen_any = true;
            if not_http(have) {
                return Err(HeadError::Malformed(format!(
                    "not an HTTP/1 response (no status line): {:?}",
                    shown(have)
                )));
            }
            let from = searched.saturating_sub(3);
            let ended = head_ends(&have[from..]);
            searched = have.len();
            if ended {
                match parse(have, limits, keep_raw)? {
                    Parsed::Done(n, head) => {
                        conn.consume(n);
                        searched = 0;
                        if (100..200).contains(&head.status) && head.status != 101 {
                            interim += n;
                            if interim > limits.total {
                                return Err(HeadError::TooLarge(interim));
                            }
                            continue;
                        }
                        return Ok(head);
                    }
                    Parsed::Partial => {}
                }
            }
            if interim + have.len() > limits.total {
                return Err(HeadError::TooLarge(interim + have.len()));
            }
        }
        match conn.fill(limits.total + 1) {
            Ok(0) if !seen_any => return Err(HeadError::NoAnswer),
            Ok(0) => return Err(HeadError::Cut(conn.buffered().len())),
            Ok(_) => {}
            Err(e) => return Err(HeadError::Io(e)),
        }
    }
}

/// Writes a request head into `out`. `target` is the request-target (origin form, or the
/// absolute form for a proxy).
pub(crate) fn write_head(
    out: &mut Vec<u8>,
    method: &str,
    target: &str,
    host: &str,
    headers: &[(String, String)],
    body_len: Option<usize>,
) {
    let extra: usize = headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    out.reserve(method.len() + target.len() + host.len() + extra + 64);
    for part in [method, " ", target, " HTTP/1.1\r\nHost: ", host, "\r\n"] {
        out.extend_from_slice(part.as_bytes());
    }
    for (k, v) in headers {
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(n) = body_len {
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(n.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// How a body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    Length(u64),
    Chunked,
    /// Until the peer closes.
    Close,
}

/// Why a response's body cannot be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FramingError {
    /// The framing headers contradict themselves (`protocol`).
    Protocol(String),
    /// A transfer coding other than chunked, which greenfetch does not decode (`decoding`):
    /// reading the body as it came would hand over encoded bytes as the body.
    Coding(String),
}

/// The body's framing and whether the connection can carry another request after it
/// (RFC 9112 6.3 and 9.3).
pub(crate) fn framing(method: &str, head: &Head) -> Result<(Framing, bool), FramingError> {
    let h = &head.headers;
    let tokens = |name: &str| -> Vec<String> {
        h.get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect()
    };
    let connection = tokens("connection");
    let mut keep = if head.version == 0 {
        connection.iter().any(|t| t == "keep-alive")
    } else {
        !connection.iter().any(|t| t == "close")
    };
    if method == "HEAD" || (100..200).contains(&head.status) || matches!(head.status, 204 | 304) {
        return Ok((Framing::Empty, keep));
    }
    // `identity` (from RFC 2616, since withdrawn) changes nothing; any other coding but one
    // final `chunked` would need decoding that greenfetch does not do (it never asks for one).
    let te: Vec<String> = tokens("transfer-encoding")
        .into_iter()
        .filter(|t| t != "identity")
        .collect();
    match te.as_slice() {
        [] => {}
        [only] if only == "chunked" => {
            // A Content-Length beside it is ignored, and the connection not trusted again.
            return Ok((Framing::Chunked, keep && h.get("content-length").is_none()));
        }
        _ => {
            let other = te.iter().find(|t| *t != "chunked").unwrap_or(&te[0]);
            return Err(FramingError::Coding(format!(
                "unsupported transfer coding {other:?} (Transfer-Encoding: {}): greenfetch \
                 decodes chunked only",
                te.join(", ")
            )));
        }
    }
    let mut length = None;
    for v in h.get_all("content-length") {
        for part in v.to_str().unwrap_or("x").split(',') {
            let n: u64 = part.trim().parse().map_err(|_| {
                FramingError::Protocol(format!(
                    "bad Content-Length {:?}",
                    String::from_utf8_lossy(v.as_bytes())
                ))
            })?;
            if length.is_some_and(|l| l != n) {
                return Err(FramingError::Protocol(
                    "two different Content-Lengths".to_owned(),
                ));
            }
            length = Some(n);
        }
    }
    match length {
        Some(n) => Ok((Framing::Length(n), keep)),
        None => {
            keep = false;
            Ok((Framing::Close, keep))
        }
    }
}

/// The body ended before its framing said it would.
#[derive(Debug)]
pub(crate) struct Cut(pub(crate) String);

impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Cut {}

/// The body's framing is broken (a bad chunk size line).
#[derive(Debug)]
pub(crate) struct BadFraming(pub(crate) String);

impl fmt::Display for BadFraming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadFraming {}

fn cut(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, Cut(msg))
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, BadFraming(msg.into()))
}

/// The longest chunk-size or trailer line accepted.
const MAX_CHUNK_LINE: usize = 16 * 1024;

enum Chunk {
    /// Before a chunk-size line.
    Size,
    /// Inside a chunk: bytes left.
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk: trailer lines up to an empty one.
    Trailers,
    Done,
}

/// Reads a body off its connection by its framing; `done` says it was read to its end, so the
/// connection may carry another request.
pub(crate) struct BodyReader {
    pub(crate) conn: Conn,
    framing: Framing,
    left: u64,
    /// Body bytes read so far, as they came (before content decoding; chunk framing not
    /// counted).
    pub(crate) read: u64,
    chunk: Chunk,
    pub(crate) done: bool,
}

impl BodyReader {
    pub(crate) fn new(conn: Conn, framing: Framing) -> Self {
        let (left, done) = match framing {
            Framing::Empty => (0, true),
            Framing::Length(n) => (n, n == 0),
            Framing::Chunked | Framing::Close => (0, false),
        };
        BodyReader {
            conn,
            framing,
            left,
            read: 0,
            chunk: Chunk::Size,
            done,
        }
    }

    /// One line (without CRLF) from the buffer, reading more as needed.
    fn line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', self.conn.buffered()) {
                let raw = &self.conn.buffered()[..i];
                let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                let line = String::from_utf8_lossy(raw).into_owned();
                self.conn.consume(i + 1);
                return Ok(line);
            }
            if self.conn.buffered().len() > MAX_CHUNK_LINE {
                return Err(bad("chunk line too long"));
            }
            if self.conn.fill(MAX_CHUNK_LINE + 2)? == 0 {
                return Err(cut(format!(
                    "connection closed inside the chunked body, after {} bytes",
                    self.read
                )));
            }
        }
    }

    fn read_chunked(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.chunk {
                Chunk::Size => {
                    let line = self.line()?;
                    let size = line.split(';').next().unwrap_or("").trim();
                    let n = u64::from_str_radix(size, 16)
                        .map_err(|_| bad(format!("bad chunk size line {line:?}")))?;
                    self.chunk = if n == 0 {
                        Chunk::Trailers
                    } else {
                        Chunk::Data(n)
                    };
                }
                Chunk::Data(left) => {
                    let want = out.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                    let n = self.conn.read_into(&mut out[..want])?;
                    if n == 0 {
                        return Err(cut(format!(
                            "connection closed inside a chunk, after {} bytes of body",
                            self.read
                        )));
                    }
                    let left = left - n as u64;
                    self.chunk = if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    };
                    return Ok(n);
                }
                Chunk::DataEnd => {
                    let line = self.line()?;
                    if !line.is_empty() {
                        return Err(bad("chunk data longer than its size"));
                    }
                    self.chunk = Chunk::Size;
                }
                Chunk::Trailers => {
                    if self.line()?.is_empty() {
                        self.chunk = Chunk::Done;
                    }
                }
                Chunk::Done => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.done || out.is_empty() {
            return Ok(0);
        }
        let n = match self.framing {
            Framing::Empty => 0,
            Framing::Length(total) => {
                let want = out
                    .len()
                    .min(usize::try_from(self.left).unwrap_or(usize::MAX));
                let n = self.conn.read_into(&mut out[..want])?;
                if n == 0 {
                    return Err(cut(format!(
                        "connection closed after {} of {total} body bytes",
                        self.read
                    )));
                }
                self.left -= n as u64;
                if self.left == 0 {
                    self.done = true;
                }
                n
            }
            Framing::Chunked => self.read_chunked(out)?,
            Framing::Close => {
                let n = self.conn.read_into(out)?;
                if n == 0 {
                    self.done = true;
                }
                n
            }
        };
        self.read += n as u64;
        Ok(n)
    }
}
