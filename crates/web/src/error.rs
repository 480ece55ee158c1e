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

/// One input's failure: its kind and a message for people.
///
/// ```
/// use greenfetch_web::error::{Error, ErrorKind};
/// let e = Error::new(ErrorKind::Dns, "nowhere.test: no such host");
/// assert_eq!(e.kind, ErrorKind::Dns);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The kind, for scripts.
    pub kind: ErrorKind,
    /// What happened, for people.
    pub message: String,
}

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
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for Error {}

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
        K::InvalidData if is_tls_message(&e.to_string()) => ErrorKind::Tls,
        K::InvalidData => ErrorKind::Protocol,
        _ => ErrorKind::Io,
    }
}

fn is_tls_message(m: &str) -> bool {
    let m = m.to_ascii_lowercase();
    [
        "certificate",
        "tls",
        "handshake",
        "alert",
        "corrupt message",
    ]
    .iter()
    .any(|w| m.contains(w))
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
                return Error::new(ErrorKind::Forbidden, f.to_string());
            }
        }
        let message = e.to_string();
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
            ureq::Error::Io(io) => {
                // ureq reports a body cut short as an I/O error wrapping its protocol error.
                if message.contains("EOF") || message.contains("closed") {
                    ErrorKind::Truncated
                } else {
                    io_kind(io)
                }
            }
            _ => ErrorKind::Io,
        };
        Error { kind, message }
    }
}
