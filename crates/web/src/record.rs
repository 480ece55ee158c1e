//! The records of outcomes, as scripts read them: one serializable shape for a fetch
//! ([`FetchRecord`], of a [`Fetched`]), one for a title ([`TitleRecord`], of a [`Titled`]), and
//! their error ([`ErrorRecord`]).
//!
//! `greenfetch fetch -f jsonl` writes a [`FetchRecord`] a line, `greenfetch titles -f jsonl` a
//! [`TitleRecord`] a line, and `greenfetch serve` answers a JSON array of [`TitleRecord`]s: the
//! same fields, in the same order, with the same values, wherever they are written. Field names
//! and values are stable: scripts depend on them. Times are milliseconds, rounded to the
//! microsecond ([`millis`]); a field that does not apply is `null`, except the few that are left
//! out unless asked for (said on each).
//!
//! Layer: domain (uses [`fetch`](crate::fetch), [`titles`](crate::titles) and `serde`).
//!
//! # Examples
//!
//! ```
//! use greenfetch_web::error::{Error, ErrorKind};
//! use greenfetch_web::record::TitleRecord;
//! use greenfetch_web::titles::Titled;
//!
//! let t = Titled::failed("ftp://a.test/", Error::new(ErrorKind::UnsupportedScheme, "ftp: no"));
//! let json = serde_json::to_string(&TitleRecord::new(3, &t.url, &t)).unwrap();
//! assert_eq!(
//!     json,
//!     r#"{"index":3,"url":"ftp://a.test/","kind":null,"title":null,"feed_url":null,"format":null,"status":null,"attempts":0,"timings":{"total_ms":0.0},"error":{"kind":"unsupported_scheme","message":"ftp: no"}}"#
//! );
//! ```

use std::time::Duration;

use serde::Serialize;

use crate::error::Error;
use crate::fetch::Fetched;
use crate::titles::Titled;

/// `d` in milliseconds, rounded to the microsecond: how every record gives a time.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(greenfetch_web::record::millis(Duration::from_nanos(12_345_678)), 12.346);
/// ```
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Why an outcome failed: the `error` field of every record (`null` on success).
///
/// ```
/// use greenfetch_web::error::{Error, ErrorKind};
/// let e = Error::new(ErrorKind::Dns, "nowhere.test: no such host");
/// let json = serde_json::to_string(&greenfetch_web::record::ErrorRecord::from(&e)).unwrap();
/// assert_eq!(json, r#"{"kind":"dns","message":"nowhere.test: no such host"}"#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorRecord<'a> {
    /// The kind's stable name ([`ErrorKind::as_str`](crate::error::ErrorKind::as_str)):
    /// `dns`, `timeout`, `http_status`, `not_a_feed`, ...
    pub kind: &'a str,
    /// What happened, for people: the kind is not repeated at its start.
    pub message: &'a str,
}

impl<'a> From<&'a Error> for ErrorRecord<'a> {
    fn from(e: &'a Error) -> Self {
        ErrorRecord {
            kind: e.kind.as_str(),
            message: &e.message,
        }
    }
}

/// The times of a fetch: the `timings` field of a [`FetchRecord`].
///
/// ```
/// let t = greenfetch_web::record::FetchTimings { total_ms: 1.5, ttfb_ms: None };
/// assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"total_ms":1.5,"ttfb_ms":null}"#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FetchTimings {
    /// From the first request to the end, retries and redirects included.
    pub total_ms: f64,
    /// To the response head of the last attempt's first request; `null` when no answer came.
    pub ttfb_ms: Option<f64>,
}

/// One fetch, as `greenfetch fetch -f jsonl` writes it (a line each, in input order).
///
/// ```
/// use greenfetch_web::fetch::Fetched;
/// use greenfetch_web::record::FetchRecord;
///
/// let f = Fetched { url: "http://a.test/".into(), status: Some(200), bytes: 5, attempts: 1, ..Default::default() };
/// let rec = FetchRecord::new(0, &f.url, &f);
/// assert_eq!(
///     serde_json::to_string(&rec).unwrap(),
///     r#"{"index":0,"url":"http://a.test/","final_url":null,"status":200,"bytes":5,"content_type":null,"proxy":null,"timings":{"total_ms":0.0,"ttfb_ms":null},"attempts":1,"error":null}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FetchRecord<'a> {
    /// The input line's position in the whole input (0-based; blank and `#` lines count), so
    /// the outputs of shards and of resumed runs merge back by it.
    pub index: u64,
    /// The URL asked for (the line as given when it is not a URL).
    pub url: &'a str,
    /// The URL answered, after redirects; `null` when nothing answered.
    pub final_url: Option<&'a str>,
    /// The final HTTP status; `null` when nothing answered.
    pub status: Option<u16>,
    /// Bytes of body received, after decoding.
    pub bytes: u64,
    /// The final answer's `Content-Type` (of several, the last, as curl reports it).
    pub content_type: Option<&'a str>,
    /// The proxy the last request went through, without credentials; `null` for none.
    pub proxy: Option<&'a str>,
    /// How long it took.
    pub timings: FetchTimings,
    /// Requests made (1 without retries; 0 for a line that was not fetched).
    pub attempts: u32,
    /// The file the body was written to (`-o DIR`); left out when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Why the fetch failed; `null` on success.
    pub error: Option<ErrorRecord<'a>>,
}

impl<'a> FetchRecord<'a> {
    /// The record of `f`, the input at `index`, reported under `url`.
    ///
    /// See the [type's example](FetchRecord).
    pub fn new(index: u64, url: &'a str, f: &'a Fetched) -> Self {
        FetchRecord {
            index,
            url,
            final_url: f.final_url.as_deref(),
            status: f.status,
            bytes: f.bytes,
            content_type: f.content_type.as_deref(),
            proxy: f.proxy.as_deref(),
            timings: FetchTimings {
                total_ms: millis(f.elapsed),
                ttfb_ms: f.ttfb.map(millis),
            },
            attempts: f.attempts,
            path: None,
            error: f.error.as_ref().map(ErrorRecord::from),
        }
    }

    /// The same record, with the file its body was written to.
    ///
    /// ```
    /// let f = greenfetch_web::fetch::Fetched::default();
    /// let rec = greenfetch_web::record::FetchRecord::new(0, "u", &f).with_path(Some("out/0".into()));
    /// assert!(serde_json::to_string(&rec).unwrap().contains(r#""path":"out/0""#));
    /// ```
    #[must_use]
    pub fn with_path(mut self, path: Option<String>) -> Self {
        self.path = path;
        self
    }
}

/// The time of a title: the `timings` field of a [`TitleRecord`].
///
/// ```
/// let t = greenfetch_web::record::TitleTimings { total_ms: 2.0 };
/// assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"total_ms":2.0}"#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TitleTimings {
    /// From the first request to the end, the discovered feed's fetch included.
    pub total_ms: f64,
}

/// One URL's title, as `greenfetch titles -f jsonl` writes it and `greenfetch serve` answers
/// it in JSON.
///
/// ```
/// use greenfetch_web::record::TitleRecord;
/// use greenfetch_web::titles::Titled;
///
/// let mut t = Titled::default();
/// t.bozo = Some("not well-formed".into());
/// let json = serde_json::to_string(&TitleRecord::new(1, "http://a.test/", &t)).unwrap();
/// assert!(json.contains(r#""bozo":"not well-formed""#));
/// assert!(!json.contains("entries")); // left out unless asked for
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TitleRecord<'a> {
    /// The input line's position: in the whole input for `titles` (as [`FetchRecord::index`]),
    /// among the URL lines of the request's body for `serve`.
    pub index: u64,
    /// The URL asked for (the line as given when it is not a URL).
    pub url: &'a str,
    /// `feed` (a feed's title: the URL's, or the one its page advertised) or `html` (a page's
    /// `<title>`); `null` on error.
    pub kind: Option<&'a str>,
    /// The title, plain text with its white space collapsed; `null` on error.
    pub title: Option<&'a str>,
    /// The feed the title came from, after redirects; `null` for an HTML title or an error
    /// before any feed was read.
    pub feed_url: Option<&'a str>,
    /// The feed's format, as feedparser names it: `rss20`, `atom10`, `json11`, ...
    pub format: Option<&'a str>,
    /// The feed's entry titles, in document order (`titles --entries`); left out otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<&'a [String]>,
    /// What was wrong with a feed that was broken but readable (feedparser's bozo); left out
    /// when it was well-formed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bozo: Option<&'a str>,
    /// The HTTP status of the last fetch made; `null` when nothing answered.
    pub status: Option<u16>,
    /// Requests made in all, retries and the discovered feed included.
    pub attempts: u32,
    /// How long it took.
    pub timings: TitleTimings,
    /// Why there is no title; `null` on success.
    pub error: Option<ErrorRecord<'a>>,
}

impl<'a> TitleRecord<'a> {
    /// The record of `t`, the input at `index`, reported under `url`; no `entries`.
    ///
    /// See the [type's example](TitleRecord).
    pub fn new(index: u64, url: &'a str, t: &'a Titled) -> Self {
        TitleRecord {
            index,
            url,
            kind: t.kind.map(|k| k.as_str()),
            title: t.title.as_deref(),
            feed_url: t.feed_url.as_deref(),
            format: t.format.map(|f| f.as_str()),
            entries: None,
            bozo: t.bozo.as_deref(),
            status: t.status,
            attempts: t.attempts,
            timings: TitleTimings {
                total_ms: millis(t.elapsed),
            },
            error: t.error.as_ref().map(ErrorRecord::from),
        }
    }

    /// The same record, with the feed's entry titles (`titles --entries`).
    ///
    /// ```
    /// let mut t = greenfetch_web::titles::Titled::default();
    /// t.entries = vec!["One".into()];
    /// let rec = greenfetch_web::record::TitleRecord::new(0, "u", &t).with_entries(&t.entries);
    /// assert!(serde_json::to_string(&rec).unwrap().contains(r#""entries":["One"]"#));
    /// ```
    #[must_use]
    pub fn with_entries(mut self, entries: &'a [String]) -> Self {
        self.entries = Some(entries);
        self
    }
}
