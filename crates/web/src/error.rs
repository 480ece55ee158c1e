//! The domain error: what went wrong with one input, as a stable kind plus a message.
//!
//! Every input line gets exactly one outcome; when it is a failure, [`Error::kind`] says which
//! kind in words a script can match on (`dns`, `connect`, `timeout`, `http_status`, ...), and the
//! message says it for a person. The kinds are the `error.kind` field of `--format jsonl`.
//!
//! Layer: domain.
//!
//! # Examples
//!
//! ```
//! use greenfetch_web::error::{Error, ErrorKind};
//! let e = Error::new(ErrorKind::UnsupportedScheme, "file:///etc/passwd: only http and https");
//! assert_eq!(e.kind.as_str(), "unsupported_scheme");
//! assert_eq!(e.to_string(), "unsupported_scheme: file:///etc/passwd: only http and https");
//! ```

use std::fmt;
use std::io;
use std::sync::Arc;

use greenfetch_runtime::green::ureq::Forbidden;

/// What kind of failure an input met. `as_str` gives its stable name.
///
/// ```
/// assert_eq!(greenfetch_web::error::ErrorKind::Dns.as_str(), "dns");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The line is not a URL.
    NotAUrl,
    /// A URL whose scheme is not http or https (`file:`, `ftp:`, ...).
    UnsupportedScheme,
    /// The line is longer than the longest URL accepted.
    LineTooLong,
    /// The line is not valid UTF-8.
    InvalidUtf8,
    /// The line contains a NUL byte.
    NulByte,
    /// The host name could not be resolved.
    Dns,
    /// The connection was refused or could not be made.
    Connect,
    /// A time limit (connect or total) passed.
    Timeout,
    /// The TLS handshake failed (untrusted certificate, not TLS on the other end, ...).
    Tls,
    /// The peer reset or closed the connection mid-exchange.
    ConnectionReset,
    /// The body ended before its announced length.
    Truncated,
    /// The peer broke the HTTP protocol.
    Protocol,
    /// Redirects went on past the limit (or looped).
    TooManyRedirects,
    /// The body is larger than `--max-body`.
    BodyTooLarge,
    /// The server answered with a status of 400 or more.
    HttpStatus,
    /// The target is refused by policy (for example a private address in `serve`).
    Forbidden,
    /// The proxy could not be reached, refused the tunnel, or broke its protocol.
    Proxy,
    /// The body's content coding is unknown, or the body does not decode.
    Decoding,
    /// robots.txt disallows the URL (`--robots`); it was not fetched.
    Robots,
    /// The fetch was cancelled (interrupted run).
    Cancelled,
    /// The document is not a feed.
    NotAFeed,
    /// The feed is malformed.
    Malformed,
    /// The feed has no title.
    NoTitle,
    /// Any other I/O failure.
    Io,
    /// A bug: a task died unexpectedly.
    Internal,
}

impl ErrorKind {
    /// The kind's stable name, as in `--format jsonl`.
    ///
    /// ```
    /// assert_eq!(greenfetch_web::error::ErrorKind::HttpStatus.as_str(), "http_status");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotAUrl => "not_a_url",
            ErrorKind::UnsupportedScheme => "unsupported_scheme",
            ErrorKind::LineTooLong => "line_too_long",
            ErrorKind::InvalidUtf8 => "invalid_utf8",
            ErrorKind::NulByte => "nul_byte",
            ErrorKind::Dns => "dns",
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::ConnectionReset => "connection_reset",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Protocol => "protocol",
            ErrorKind::TooManyRedirects => "too_many_redirects",
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Proxy => "proxy",
            ErrorKind::Decoding => "decoding",
            ErrorKind::Robots => "robots",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::NotAFeed => "not_a_feed",
            ErrorKind::Malformed => "malformed",
            ErrorKind::NoTitle => "no_title",
            ErrorKind::Io => "io",
            ErrorKind::Internal => "internal",
        }
    }

    /// Whether a retry may succeed (network trouble, not a bad input or a definite answer).
    ///
    /// ```
    /// use greenfetch_web::error::ErrorKind;
    /// assert!(ErrorKind::Timeout.is_transient());
    /// assert!(!ErrorKind::Dns.is_transient());
    /// ```
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorKind::Connect
                | ErrorKind::Timeout
                | ErrorKind::ConnectionReset
                | ErrorKind::Truncated
                | ErrorKind::Io
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The typed error under an [`Error`], shared by its clones.
type Source = Arc<dyn std::error::Error + Send + Sync>;

/// One input's failure: its kind and a message for people, and the error it came from, when
/// there was one ([`source`](std::error::Error::source)).
///
/// Two errors are equal when their kind and message are; the source is context.
///
/// ```
/// use greenfetch_web::error::{Error, ErrorKind};
/// let e = Error::new(ErrorKind::Dns, "nowhere.test: no such host");
/// assert_eq!(e.kind, ErrorKind::Dns);
/// ```
#[derive(Debug, Clone)]
pub struct Error {
    /// The kind, for scripts.
    pub kind: ErrorKind,
    /// What happened, for people.
    pub message: String,
    source: Option<Source>,
}

impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for Error {}

impl Error {
    /// An error of `kind` saying `message`.
    ///
    /// ```
    /// let e = greenfetch_web::error::Error::new(greenfetch_web::error::ErrorKind::Io, "disk full");
    /// assert_eq!(e.message, "disk full");
    /// ```
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The same error, caused by `source` (what [`source`](std::error::Error::source) gives).
    ///
    /// ```
    /// use std::error::Error as _;
    /// use greenfetch_web::error::{Error, ErrorKind};
    /// let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    /// let e = Error::new(ErrorKind::Connect, "connection refused by 127.0.0.1:9").with_source(io);
    /// let cause = e.source().unwrap().downcast_ref::<std::io::Error>().unwrap();
    /// assert_eq!(cause.kind(), std::io::ErrorKind::ConnectionRefused);
    /// ```
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The kind of an I/O failure, from its `io::ErrorKind` and, for invalid data, the error it
/// carries: a rustls error is `tls`, anything else `protocol`.
fn io_kind(e: &io::Error) -> ErrorKind {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused | K::AddrNotAvailable | K::NetworkUnreachable | K::HostUnreachable => {
            ErrorKind::Connect
        }
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::NotConnected => {
            ErrorKind::ConnectionReset
        }
        K::UnexpectedEof => ErrorKind::Truncated,
        K::TimedOut | K::WouldBlock => ErrorKind::Timeout,
        K::InvalidData if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) => ErrorKind::Tls,
        K::InvalidData => ErrorKind::Protocol,
        _ => ErrorKind::Io,
    }
}

/// The green transport refused the address by policy (see
/// [`AddressPolicy`](greenfetch_runtime::green::ureq::AddressPolicy)).
fn forbidden(io: &io::Error) -> Option<&Forbidden> {
    io.get_ref()?.downcast_ref::<Forbidden>()
}

/// A policy refusal becomes `forbidden` with the refusal as its message (never retried: the
/// kind is not transient); the other ureq errors get the kind of their cause.
///
/// ```
/// use greenfetch_web::error::{Error, ErrorKind};
/// use greenfetch_runtime::green::ureq::AddressPolicy;
///
/// let refusal = AddressPolicy::public_only().check("10.0.0.1:80".parse().unwrap()).unwrap_err();
/// let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, refusal);
/// let e = Error::from(ureq::Error::Io(io));
/// assert_eq!(e.kind, ErrorKind::Forbidden);
/// assert_eq!(e.to_string(), "forbidden: 10.0.0.1 is a private address");
/// assert!(!e.kind.is_transient());
/// ```
impl From<ureq::Error> for Error {
    fn from(e: ureq::Error) -> Self {
        if let ureq::Error::Io(io) = &e {
            if let Some(f) = forbidden(io) {
                return Error::new(ErrorKind::Forbidden, f.to_string()).with_source(e);
            }
        }
        let kind = match &e {
            ureq::Error::HostNotFound => ErrorKind::Dns,
            ureq::Error::Timeout(_) => ErrorKind::Timeout,
            ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => {
                ErrorKind::TooManyRedirects
            }
            ureq::Error::BodyExceedsLimit(_) => ErrorKind::BodyTooLarge,
            ureq::Error::Tls(_) | ureq::Error::Rustls(_) => ErrorKind::Tls,
            ureq::Error::StatusCode(_) => ErrorKind::HttpStatus,
            ureq::Error::BadUri(_) | ureq::Error::Http(_) => ErrorKind::NotAUrl,
            ureq::Error::Protocol(_) | ureq::Error::LargeResponseHeader(_, _) => {
                ErrorKind::Protocol
            }
            ureq::Error::ConnectionFailed => ErrorKind::Connect,
            // A body cut short is `UnexpectedEof` (ureq's "peer disconnected"), `truncated`.
            ureq::Error::Io(io) => io_kind(io),
            _ => ErrorKind::Io,
        };
        Error::new(kind, e.to_string()).with_source(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kinds come from the error's type and `io::ErrorKind`, never from its words.
    #[test]
    fn io_failures_are_classified_by_type() {
        let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "Peer disconnected");
        assert_eq!(Error::from(ureq::Error::Io(eof)).kind, ErrorKind::Truncated);
        let tls = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType),
        );
        assert_eq!(Error::from(ureq::Error::Io(tls)).kind, ErrorKind::Tls);
        // Words that once chose a kind choose nothing.
        let worded = io::Error::new(io::ErrorKind::InvalidData, "bad certificate, EOF, closed");
        assert_eq!(
            Error::from(ureq::Error::Io(worded)).kind,
            ErrorKind::Protocol
        );
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(
            Error::from(ureq::Error::Io(refused)).kind,
            ErrorKind::Connect
        );
    }

    /// The ureq error stays reachable, and clones share it.
    #[test]
    fn the_source_is_kept_and_shared_by_clones() {
        use std::error::Error as _;
        let e = Error::from(ureq::Error::HostNotFound);
        let copy = e.clone();
        for e in [e, copy] {
            let cause = e.source().expect("a source");
            assert!(matches!(
                cause.downcast_ref::<ureq::Error>(),
                Some(ureq::Error::HostNotFound)
            ));
        }
    }
}
