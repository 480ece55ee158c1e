//! The title of a URL: fetch it, read the feed's title, and for an HTML page follow its
//! advertised feed (autodiscovery) once.
//!
//! This is the work of eventlet's feedscraper example for one URL, as a plain blocking function
//! over a [`Fetcher`]: concurrency stays with the caller (a `GreenPool::imap` in `greenfetch
//! titles`, a `GreenPile` per request in `greenfetch serve`).
//!
//! What [`title_of`] does:
//!
//! 1. fetches the URL (retries, limits and caps are the fetcher's);
//! 2. reads it as a feed with [`feed::title_only`] (or [`feed::title_from_bytes`] when the
//!    entries are wanted, [`TitleOptions::entries`]): a feed gives `kind: feed`;
//! 3. if it is not a feed and discovery is on, looks for the first advertised feed
//!    ([`feed::discover`]: `<link rel="alternate">` in the page, then the `Link` header),
//!    fetches that feed once (a discovered feed is never itself discovered from) and gives its
//!    title, `kind: feed`, with `feed_url` saying where it came from;
//! 4. otherwise (discovery off, or a page that advertises no feed) gives the page's HTML
//!    `<title>`, `kind: html`;
//! 5. anything else is a typed error: the network kinds from fetch, `not_a_feed`, `malformed`,
//!    `no_title`.
//!
//! Layer: domain (uses [`fetch`](crate::fetch) and [`feed`]).
//!
//! # Examples
//!
//! ```
//! use greenfetch_web::error::ErrorKind;
//! use greenfetch_web::fetch::{FetchConfig, Fetcher};
//! use greenfetch_web::server::FixtureServer;
//! use greenfetch_web::titles::{title_of, TitleKind};
//!
//! let server = FixtureServer::start("127.0.0.1:0")?;
//! let fetcher = Fetcher::new(FetchConfig::default());
//!
//! let t = title_of(&fetcher, &server.url("/feed/atom/news"), true);
//! assert_eq!(t.title.as_deref(), Some("Feed news"));
//! assert_eq!(t.kind, Some(TitleKind::Feed));
//! assert_eq!(t.format.unwrap().as_str(), "atom10");
//!
//! let t = title_of(&fetcher, &server.url("/status/404"), true);
//! assert_eq!(t.error.unwrap().kind, ErrorKind::HttpStatus);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind};
use crate::feed::{self, FeedKind};
use crate::fetch::{Fetched, Fetcher};

/// Where a title came from.
///
/// ```
/// assert_eq!(greenfetch_web::titles::TitleKind::Html.as_str(), "html");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TitleKind {
    /// A feed's title: the URL was a feed, or advertised one.
    Feed,
    /// An HTML page's `<title>`.
    Html,
}

impl TitleKind {
    /// `feed` or `html`, as the jsonl and JSON outputs spell it.
    ///
    /// ```
    /// assert_eq!(greenfetch_web::titles::TitleKind::Feed.as_str(), "feed");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            TitleKind::Feed => "feed",
            TitleKind::Html => "html",
        }
    }
}

/// The outcome of [`title_of`]: a title and where it came from, or a typed error.
///
/// ```
/// let t = greenfetch_web::titles::Titled::failed("x", greenfetch_web::error::Error::new(
///     greenfetch_web::error::ErrorKind::NotAUrl, "no"));
/// assert!(!t.is_ok());
/// assert_eq!(t.title, None);
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Titled {
    /// The URL asked for.
    pub url: String,
    /// The title, plain text with whitespace collapsed; `None` on error.
    pub title: Option<String>,
    /// Feed or HTML page; `None` on error.
    pub kind: Option<TitleKind>,
    /// The feed's URL (after redirects) when the title is a feed's: the URL itself, or the
    /// feed a page advertised.
    pub feed_url: Option<String>,
    /// The feed's format, feedparser's name for it via [`FeedKind::as_str`].
    pub format: Option<FeedKind>,
    /// The feed's entry titles, in document order.
    pub entries: Vec<String>,
    /// The feed was not well-formed but its title was read anyway: what was wrong.
    pub bozo: Option<String>,
    /// The final HTTP status of the last fetch made.
    pub status: Option<u16>,
    /// Requests made in all (retries and the discovered feed included).
    pub attempts: u32,
    /// Wall time from the first request to the end.
    pub elapsed: Duration,
    /// Why there is no title.
    pub error: Option<Error>,
}

impl Titled {
    /// An outcome with no fetch at all (a bad input line, a refused request).
    ///
    /// ```
    /// use greenfetch_web::error::{Error, ErrorKind};
    /// let t = greenfetch_web::titles::Titled::failed("u", Error::new(ErrorKind::NulByte, "nul"));
    /// assert_eq!(t.attempts, 0);
    /// ```
    pub fn failed(url: impl Into<String>, error: Error) -> Self {
        Titled {
            url: url.into(),
            error: Some(error),
            ..Titled::default()
        }
    }

    /// True when there is a title.
    ///
    /// ```
    /// assert!(greenfetch_web::titles::Titled::default().is_ok());
    /// ```
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Fetches `url` (already checked by [`parse_line`](crate::fetch::parse_line)) and names it;
/// `discover` follows an HTML page's advertised feed. Never panics on network input; every
/// failure is in [`Titled::error`]. See the [module docs](self) for the steps.
///
/// The fetcher should keep bodies (`FetchConfig::keep_body`, the default); the bodies are
/// dropped before this returns.
///
/// ```
/// use greenfetch_web::fetch::{FetchConfig, Fetcher};
/// use greenfetch_web::titles::title_of;
/// let fetcher = Fetcher::new(FetchConfig { retries: 0, ..FetchConfig::default() });
/// let t = title_of(&fetcher, "http://127.0.0.1:9/feed.xml", true); // refused
/// assert_eq!(t.error.unwrap().kind, greenfetch_web::error::ErrorKind::Connect);
/// ```
pub fn title_of(fetcher: &Fetcher, url: &str, discover: bool) -> Titled {
    title_with(
        fetcher,
        url,
        TitleOptions {
            discover,
            ..TitleOptions::default()
        },
    )
}

/// What [`title_with`] does besides reading the title.
///
/// ```
/// let o = greenfetch_web::titles::TitleOptions::default();
/// assert!(o.discover && !o.entries);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TitleOptions {
    /// Follow an HTML page's advertised feed (`--no-discover` turns it off). Default on.
    pub discover: bool,
    /// Read the entry titles into [`Titled::entries`] (`--entries`). Default off: a feed is
    /// then read only as far as its title needs ([`feed::title_only`]), which is several times
    /// faster.
    pub entries: bool,
}

impl Default for TitleOptions {
    fn default() -> Self {
        TitleOptions {
            discover: true,
            entries: false,
        }
    }
}

/// [`title_of`] with every option: the entries too, when `options.entries` says so.
///
/// ```
/// use greenfetch_web::fetch::{FetchConfig, Fetcher};
/// use greenfetch_web::server::FixtureServer;
/// use greenfetch_web::titles::{title_with, TitleOptions};
///
/// let server = FixtureServer::start("127.0.0.1:0")?;
/// let fetcher = Fetcher::new(FetchConfig::default());
/// let url = server.url("/feed/rss/news");
/// let with = TitleOptions { entries: true, ..TitleOptions::default() };
/// let t = title_with(&fetcher, &url, with);
/// assert_eq!(t.title.as_deref(), Some("Feed news"));
/// assert!(!t.entries.is_empty());
/// assert!(title_with(&fetcher, &url, TitleOptions::default()).entries.is_empty());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn title_with(fetcher: &Fetcher, url: &str, options: TitleOptions) -> Titled {
    let read = if options.entries {
        feed::title_from_bytes
    } else {
        feed::title_only
    };
    let start = Instant::now();
    let page = fetcher.fetch(url);
    let mut out = Titled {
        url: url.to_owned(),
        status: page.status,
        attempts: page.attempts,
        ..Titled::default()
    };
    if let Some(e) = page.error {
        out.error = Some(e);
        out.elapsed = start.elapsed();
        return out;
    }
    let ct = page.content_type.as_deref();
    let page_url = page.final_url.as_deref().unwrap_or(url);
    match read(&page.body, ct) {
        Ok(info) => set_feed(&mut out, info, page_url),
        Err(e) if e.kind == ErrorKind::NotAFeed => {
            let advertised = if options.discover {
                feed::discover(&page.body, ct, page_url, page.link.as_deref())
            } else {
                None
            };
            match advertised {
                Some(feed_url) => follow(fetcher, &mut out, &feed_url, read),
                None => match feed::html_title(&page.body, ct) {
                    Some(title) if looks_like_html(&page) => {
                        out.title = Some(title);
                        out.kind = Some(TitleKind::Html);
                    }
                    _ => out.error = Some(e),
                },
            }
        }
        Err(e) => out.error = Some(e),
    }
    out.elapsed = start.elapsed();
    out
}

/// Fetches the feed a page advertised, once, and takes its title.
fn follow(fetcher: &Fetcher, out: &mut Titled, feed_url: &str, read: Reader) {
    let f = fetcher.fetch(feed_url);
    out.attempts += f.attempts;
    out.status = f.status;
    let found = match f.error {
        Some(e) => Err(e),
        None => read(&f.body, f.content_type.as_deref()),
    };
    match found {
        Ok(info) => set_feed(out, info, f.final_url.as_deref().unwrap_or(feed_url)),
        Err(e) => {
            out.feed_url = Some(feed_url.to_owned());
            out.error = Some(Error::new(
                e.kind,
                format!("advertised feed {feed_url}: {}", e.message),
            ));
        }
    }
}

/// [`feed::title_only`] or [`feed::title_from_bytes`].
type Reader = fn(&[u8], Option<&str>) -> Result<feed::FeedInfo, Error>;

fn set_feed(out: &mut Titled, info: feed::FeedInfo, feed_url: &str) {
    out.title = Some(info.title);
    out.kind = Some(TitleKind::Feed);
    out.feed_url = Some(feed_url.to_owned());
    out.format = Some(info.kind);
    out.entries = info.entries;
    out.bozo = info.bozo;
}

/// An HTML title is only taken from something that is HTML: its Content-Type says so, or it
/// has none and the body has a `<title>` (the caller checked that).
fn looks_like_html(page: &Fetched) -> bool {
    match page.content_type.as_deref() {
        None => true,
        Some(ct) => {
            let mime = ct.split(';').next().unwrap_or("").trim();
            mime.eq_ignore_ascii_case("text/html")
                || mime.eq_ignore_ascii_case("application/xhtml+xml")
                || mime.is_empty()
        }
    }
}
