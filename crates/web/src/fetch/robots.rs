//! `--robots`: obeying robots.txt (RFC 9309) with one fetch per origin for the whole run.
//!
//! [`Robots`] is the run's cache, shared by every green thread through an `Arc`. Before each
//! request (and each redirect hop) the fetcher calls [`Robots::check`] with the URL and a closure
//! that fetches a robots.txt URL and says what came back ([`RobotsFile`]). The closure runs at
//! most once per origin (scheme, host, port) while the entry is cached; green threads asking for
//! an origin whose file is being fetched park on a [`greenfetch_runtime::Event`] until that one answer comes.
//!
//! What an answer means (RFC 9309 2.3.1): a 2xx body gives rules; "unavailable" (4xx) allows
//! everything; "unreachable" (5xx, a network failure, too many redirects) disallows everything.
//!
//! The file is parsed by this module's own small matcher (no crate): it keeps only the rules of
//! the groups for this run's product token (or of the `*` groups when none names it), picks the
//! longest matching rule (Allow wins a tie), supports `*` and a final `$`, and normalises
//! percent-encoding on both sides before comparing (RFC 9309 2.2.2). Only the first
//! [`MAX_BODY`] bytes of a file are parsed (RFC 9309 2.5).
//!
//! Why no crate: the two RFC 9309 parsers on crates.io were tried on RFC 9309's examples.
//! `texting_robots` 0.2.2 and `robotstxt` 0.3.0 (a port of Google's parser) both get longest
//! match, Allow on a tie, `*`, `$`, group merging and case-insensitive agents right, and both
//! fail the percent-encoding table of RFC 9309 2.2.2 (`Disallow: /foo/bar/%62%61%7A` does not
//! match `/foo/bar/baz`). Besides, `robotstxt` parses the whole file again for every URL
//! asked about, `texting_robots` brings six dependencies (anyhow, bstr 0.2, lazy_static,
//! nom 7, regex, thiserror 1), and neither says which rule matched, which the message for
//! the user names. Neither enforces the 500 KiB limit itself.
//!
//! Memory: at most [`MAX_ORIGINS`] (10,000) origins are cached, holding about
//! [`MAX_RULE_BYTES`] (64 MiB) of rules between them at most (a rule is counted as its pattern,
//! its line's text and its struct; a 500 KiB file keeps a few MiB at worst); past either limit
//! the oldest entries (by when their fetch began) are dropped first. An entry is used
//! for at most [`MAX_AGE`] (24 h, RFC 9309 2.4) and then fetched again.
//!
//! Layer: domain (uses [`Event`], [`error`](crate::error) and `url`).
//!
//! # Examples
//!
//! ```
//! use greenfetch_web::fetch::robots::{Robots, RobotsFile};
//! use url::Url;
//!
//! let robots = Robots::new("greenfetch/0.1.0");
//! let file = || RobotsFile::Found(b"User-agent: *\nDisallow: /private\n".to_vec());
//! let ok = Url::parse("http://127.0.0.1:8080/public").unwrap();
//! let no = Url::parse("http://127.0.0.1:8080/private/x").unwrap();
//! assert!(robots.check(&ok, |_| file()).is_ok());
//! let err = robots.check(&no, |_| unreachable!("fetched once per origin")).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "robots.txt of http://127.0.0.1:8080 disallows /private/x for greenfetch \
//!      (rule: Disallow: /private)"
//! );
//! assert_eq!(robots.len(), 1);
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use url::Url;

use crate::error::{Error, ErrorKind};
use greenfetch_runtime::Event;
use greenfetch_runtime::wait::lock;

/// The most origins the cache holds at once (oldest dropped first).
///
/// ```
/// assert_eq!(greenfetch_web::fetch::robots::MAX_ORIGINS, 10_000);
/// ```
pub const MAX_ORIGINS: usize = 10_000;

/// The most bytes of rules (patterns and their lines' text) the cache holds for all origins.
///
/// ```
/// assert_eq!(greenfetch_web::fetch::robots::MAX_RULE_BYTES, 64 << 20);
/// ```
pub const MAX_RULE_BYTES: usize = 64 << 20;

/// How long an origin's answer is used before robots.txt is fetched again (RFC 9309 2.4).
///
/// ```
/// assert_eq!(greenfetch_web::fetch::robots::MAX_AGE.as_secs(), 24 * 60 * 60);
/// ```
pub const MAX_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// How much of a robots.txt body is parsed: 500 KiB, RFC 9309 2.5's minimum; the rest is ignored.
///
/// ```
/// assert_eq!(greenfetch_web::fetch::robots::MAX_BODY, 500 * 1024);
/// ```
pub const MAX_BODY: usize = 500 * 1024;

/// What fetching an origin's `/robots.txt` gave; the caller fetches, [`Robots`] interprets.
///
/// The caller follows up to 5 redirects (RFC 9309 2.3.1.2) and maps the outcome:
///
/// ```
/// use greenfetch_web::fetch::robots::RobotsFile;
/// fn outcome(status: u16, body: Vec<u8>) -> RobotsFile {
///     match status {
///         200..=299 => RobotsFile::Found(body),
///         400..=499 => RobotsFile::Unavailable,
///         _ => RobotsFile::Unreachable(format!("HTTP {status}")),
///     }
/// }
/// assert!(matches!(outcome(404, Vec::new()), RobotsFile::Unavailable));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RobotsFile {
    /// A 2xx answer, with its body (only its first [`MAX_BODY`] bytes are parsed, so a caller
    /// need read no more).
    Found(Vec<u8>),
    /// A 4xx answer: no robots.txt, so everything is allowed (RFC 9309 2.3.1.3). (RFC 9309
    /// counts 429 here too; a caller that would rather wait on 429 maps it to `Unreachable`.)
    Unavailable,
    /// A 5xx answer, a network failure or too many redirects, with a few words on which (for
    /// example `HTTP 503`): everything is disallowed (RFC 9309 2.3.1.4).
    Unreachable(String),
}

/// Why a URL may not be fetched: robots.txt disallows it, or could not be fetched.
///
/// Its `Display` is the message for people; `From<Disallowed> for Error` gives the kind
/// `robots`.
///
/// ```
/// use greenfetch_web::fetch::robots::{Robots, RobotsFile};
/// use greenfetch_web::error::{Error, ErrorKind};
///
/// let robots = Robots::new("greenfetch/0.1.0");
/// let url = url::Url::parse("http://127.0.0.1:8080/a").unwrap();
/// let no = robots.check(&url, |_| RobotsFile::Unreachable("HTTP 503".into())).unwrap_err();
/// assert_eq!(no.rule(), None);
/// assert_eq!(
///     no.to_string(),
///     "robots.txt of http://127.0.0.1:8080 could not be fetched (HTTP 503): \
///      everything disallowed, RFC 9309 2.3.1.4"
/// );
/// assert_eq!(Error::from(no).kind, ErrorKind::Robots);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disallowed {
    message: String,
    rule: Option<String>,
}

impl Disallowed {
    /// The robots.txt line that disallowed the URL (`Disallow: /private`), if a rule did.
    ///
    /// ```
    /// use greenfetch_web::fetch::robots::{Robots, RobotsFile};
    /// let robots = Robots::new("greenfetch");
    /// let url = url::Url::parse("http://h/x").unwrap();
    /// let no = robots
    ///     .check(&url, |_| RobotsFile::Found(b"User-agent: *\nDisallow: /\n".to_vec()))
    ///     .unwrap_err();
    /// assert_eq!(no.rule(), Some("Disallow: /"));
    /// ```
    pub fn rule(&self) -> Option<&str> {
        self.rule.as_deref()
    }
}

impl fmt::Display for Disallowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Disallowed {}

impl From<Disallowed> for Error {
    fn from(d: Disallowed) -> Error {
        Error::new(ErrorKind::Robots, d.message)
    }
}

/// The robots.txt URL for `origin_of`'s origin (scheme, host, port; no userinfo).
///
/// ```
/// use greenfetch_web::fetch::robots::robots_url;
/// let u = url::Url::parse("http://user:pw@h:8080/a/b?c").unwrap();
/// assert_eq!(robots_url(&u), "http://h:8080/robots.txt");
/// let u = url::Url::parse("https://[::1]:443/").unwrap();
/// assert_eq!(robots_url(&u), "https://[::1]/robots.txt");
/// ```
pub fn robots_url(origin_of: &Url) -> String {
    format!("{}/robots.txt", origin_of.origin().ascii_serialization())
}

/// One Allow or Disallow line of the groups that apply to this run.
#[derive(Debug)]
struct Rule {
    allow: bool,
    /// The normalised pattern (see `normalise`).
    pattern: Vec<u8>,
    /// The line as written, for messages (`Disallow: /private`).
    line: String,
}

/// What an origin's robots.txt means for this run.
#[derive(Debug)]
enum Answer {
    /// The rules for this run's product token (empty: everything allowed).
    Rules(Vec<Rule>),
    /// Unavailable (4xx): everything allowed.
    AllowAll,
    /// Unreachable: everything disallowed, with why.
    DisallowAll(String),
}

impl Answer {
    /// Approximate heap bytes, for the cache's byte bound.
    fn bytes(&self) -> usize {
        match self {
            Answer::Rules(rules) => rules
                .iter()
                .map(|r| r.pattern.len() + r.line.len() + std::mem::size_of::<Rule>())
                .sum(),
            Answer::AllowAll => 0,
            Answer::DisallowAll(why) => why.len(),
        }
    }
}

enum Slot {
    /// Being fetched by one green thread; the others wait on the event.
    Pending(Event<Arc<Answer>>),
    Ready {
        answer: Arc<Answer>,
        fetched: Instant,
    },
}

struct Entry {
    slot: Slot,
    /// Which insertion this is, so a stale `order` record or a late fetcher never touches a
    /// newer entry for the same origin.
    generation: u64,
    bytes: usize,
}

struct Cache {
    map: HashMap<String, Entry>,
    /// Origins in insertion order, with the generation inserted (oldest first); records whose
    /// generation no longer matches the map are stale and skipped.
    order: VecDeque<(String, u64)>,
    next_generation: u64,
    bytes: usize,
}

impl Cache {
    /// Drops the oldest entries while over either limit, and compacts `order` when stale records
    /// make up more than half of it.
    fn evict(&mut self, max_origins: usize, max_bytes: usize) {
        while self.map.len() > max_origins || self.bytes > max_bytes {
            let Some((key, generation)) = self.order.pop_front() else {
                break;
            };
            if self
                .map
                .get(&key)
                .is_some_and(|e| e.generation == generation)
            {
                if let Some(e) = self.map.remove(&key) {
                    self.bytes -= e.bytes;
                }
            }
        }
        if self.order.len() > 2 * self.map.len() + 16 {
            let map = &self.map;
            self.order
                .retain(|(k, g)| map.get(k).is_some_and(|e| e.generation == *g));
        }
    }
}

/// The run's robots.txt cache and matcher; `Send + Sync`, shared through an `Arc`.
///
/// ```
/// use std::sync::Arc;
/// use greenfetch_web::fetch::robots::{Robots, RobotsFile};
///
/// let robots = Arc::new(Robots::new("greenfetch/0.1.0 (+https://example.test/bot)"));
/// assert_eq!(robots.product_token(), "greenfetch");
/// let r = robots.clone();
/// let gt = greenfetch_runtime::spawn(move || {
///     let url = url::Url::parse("http://h/a").unwrap();
///     r.check(&url, |_| RobotsFile::Unavailable).is_ok()
/// });
/// assert!(gt.wait().unwrap());
/// ```
pub struct Robots {
    token: String,
    max_origins: usize,
    max_bytes: usize,
    max_age: Duration,
    cache: Mutex<Cache>,
    /// Tests: one item put by each check that is about to wait for another's fetch.
    #[cfg(test)]
    waiting: greenfetch_runtime::Queue<()>,
}

impl fmt::Debug for Robots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Robots")
            .field("product_token", &self.token)
            .field("origins", &self.len())
            .finish()
    }
}

/// What `check` does after looking in the cache.
enum Step {
    Done(Arc<Answer>),
    Wait(Event<Arc<Answer>>),
    Fetch(Event<Arc<Answer>>, u64),
}

/// Answers the waiters of a fetch even if the fetching closure panics (as unreachable), and
/// drops the pending entry then, so a later check fetches again.
struct Fetching<'a> {
    robots: &'a Robots,
    key: &'a str,
    event: Event<Arc<Answer>>,
    generation: u64,
    done: bool,
}

impl Fetching<'_> {
    fn finish(mut self, answer: Arc<Answer>) {
        self.done = true;
        let bytes = answer.bytes();
        {
            let mut cache = lock(&self.robots.cache);
            let cache = &mut *cache;
            if let Some(e) = cache.map.get_mut(self.key) {
                if e.generation == self.generation {
                    e.slot = Slot::Ready {
                        answer: answer.clone(),
                        fetched: Instant::now(),
                    };
                    e.bytes = bytes;
                    cache.bytes += bytes;
                }
            }
            cache.evict(self.robots.max_origins, self.robots.max_bytes);
        }
        let _ = self.event.send(answer);
    }
}

impl Drop for Fetching<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        {
            let mut cache = lock(&self.robots.cache);
            if cache
                .map
                .get(self.key)
                .is_some_and(|e| e.generation == self.generation)
            {
                cache.map.remove(self.key);
            }
        }
        let why = "the robots.txt fetch failed unexpectedly".to_string();
        let _ = self.event.send(Arc::new(Answer::DisallowAll(why)));
    }
}

impl Robots {
    /// A cache for a run whose User-Agent is `user_agent`, with the default limits
    /// ([`MAX_ORIGINS`], [`MAX_RULE_BYTES`], [`MAX_AGE`]).
    ///
    /// The product token matched against robots.txt's `User-agent` lines is the first word of
    /// `user_agent` up to any `/`, compared case-insensitively (RFC 9309 2.2.1).
    ///
    /// ```
    /// let robots = greenfetch_web::fetch::robots::Robots::new("GreenFetch/0.1.0 extra");
    /// assert_eq!(robots.product_token(), "greenfetch");
    /// ```
    pub fn new(user_agent: &str) -> Robots {
        Robots::with_limits(user_agent, MAX_ORIGINS, MAX_RULE_BYTES, MAX_AGE)
    }

    /// Like [`new`](Self::new) with other limits: at most `max_origins` origins and `max_bytes`
    /// of rules cached, each answer used for at most `max_age`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenfetch_web::fetch::robots::{Robots, RobotsFile};
    /// let robots = Robots::with_limits("greenfetch", 1, 1 << 20, Duration::from_secs(60));
    /// for host in ["a", "b", "c"] {
    ///     let url = url::Url::parse(&format!("http://{host}/")).unwrap();
    ///     robots.check(&url, |_| RobotsFile::Unavailable).unwrap();
    /// }
    /// assert_eq!(robots.len(), 1);
    /// ```
    pub fn with_limits(
        user_agent: &str,
        max_origins: usize,
        max_bytes: usize,
        max_age: Duration,
    ) -> Robots {
        let word = user_agent.split_whitespace().next().unwrap_or("");
        let token = word.split('/').next().unwrap_or("").to_ascii_lowercase();
        Robots {
            token,
            max_origins,
            max_bytes,
            max_age,
            cache: Mutex::new(Cache {
                map: HashMap::new(),
                order: VecDeque::new(),
                next_generation: 0,
                bytes: 0,
            }),
            #[cfg(test)]
            waiting: greenfetch_runtime::Queue::unbounded(),
        }
    }

    /// The product token matched against `User-agent` lines (lower case).
    ///
    /// ```
    /// let robots = greenfetch_web::fetch::robots::Robots::new("curl/8.0");
    /// assert_eq!(robots.product_token(), "curl");
    /// ```
    pub fn product_token(&self) -> &str {
        &self.token
    }

    /// How many origins are cached (fetched or being fetched).
    ///
    /// ```
    /// let robots = greenfetch_web::fetch::robots::Robots::new("greenfetch");
    /// assert_eq!(robots.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        lock(&self.cache).map.len()
    }

    /// Whether no origin is cached.
    ///
    /// ```
    /// assert!(greenfetch_web::fetch::robots::Robots::new("greenfetch").is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether robots.txt lets this run fetch `url`.
    ///
    /// `fetch` is called with the robots.txt URL ([`robots_url`]) when the origin has no fresh
    /// answer cached and no other green thread is fetching it; otherwise this waits for that
    /// other fetch (parking the green thread, not the OS thread) or uses the cached answer. If
    /// `fetch` panics, the panic goes on in this caller, and those waiting are answered as if
    /// the file were unreachable. A URL without a host (no origin to ask) is allowed without a
    /// fetch; `/robots.txt` itself is always allowed (RFC 9309 2.2.2).
    ///
    /// `fetch` must not call `check` for the origin it is fetching: that call would wait for
    /// its own answer. (The robots.txt request and its redirect hops are not themselves
    /// checked.)
    ///
    /// ```
    /// use greenfetch_web::fetch::robots::{Robots, RobotsFile};
    /// let robots = Robots::new("greenfetch");
    /// let url = url::Url::parse("http://h/private").unwrap();
    /// let mut asked = Vec::new();
    /// let no = robots.check(&url, |u| {
    ///     asked.push(u.to_string());
    ///     RobotsFile::Found(b"User-agent: greenfetch\nDisallow: /private\n".to_vec())
    /// });
    /// assert!(no.is_err());
    /// assert_eq!(asked, ["http://h/robots.txt"]);
    /// ```
    pub fn check<F>(&self, url: &Url, fetch: F) -> Result<(), Disallowed>
    where
        F: FnOnce(&str) -> RobotsFile,
    {
        if !url.origin().is_tuple() {
            return Ok(());
        }
        let origin = url.origin().ascii_serialization();
        let answer = self.answer(&origin, url, fetch);
        self.verdict(&origin, url, &answer)
    }

    fn answer<F>(&self, origin: &str, url: &Url, fetch: F) -> Arc<Answer>
    where
        F: FnOnce(&str) -> RobotsFile,
    {
        let step = {
            let mut cache = lock(&self.cache);
            let cache = &mut *cache;
            match cache.map.get(origin).map(|e| &e.slot) {
                Some(Slot::Ready { answer, fetched }) if fetched.elapsed() < self.max_age => {
                    Step::Done(answer.clone())
                }
                Some(Slot::Pending(event)) => Step::Wait(event.clone()),
                _ => {
                    let event = Event::new();
                    let generation = cache.next_generation;
                    cache.next_generation += 1;
                    if let Some(old) = cache.map.insert(
                        origin.to_string(),
                        Entry {
                            slot: Slot::Pending(event.clone()),
                            generation,
                            bytes: 0,
                        },
                    ) {
                        cache.bytes -= old.bytes;
                    }
                    cache.order.push_back((origin.to_string(), generation));
                    cache.evict(self.max_origins, self.max_bytes);
                    Step::Fetch(event, generation)
                }
            }
        };
        match step {
            Step::Done(answer) => answer,
            Step::Wait(event) => {
                #[cfg(test)]
                self.waiting.put(());
                event.wait()
            }
            Step::Fetch(event, generation) => {
                let guard = Fetching {
                    robots: self,
                    key: origin,
                    event,
                    generation,
                    done: false,
                };
                let file = fetch(&robots_url(url));
                let answer = Arc::new(match file {
                    RobotsFile::Found(body) => Answer::Rules(parse(&body, &self.token)),
                    RobotsFile::Unavailable => Answer::AllowAll,
                    RobotsFile::Unreachable(why) => Answer::DisallowAll(why),
                });
                guard.finish(answer.clone());
                answer
            }
        }
    }

    fn verdict(&self, origin: &str, url: &Url, answer: &Answer) -> Result<(), Disallowed> {
        let rules = match answer {
            Answer::AllowAll => return Ok(()),
            Answer::DisallowAll(why) => {
                return Err(Disallowed {
                    message: format!(
                        "robots.txt of {origin} could not be fetched ({why}): everything \
                         disallowed, RFC 9309 2.3.1.4"
                    ),
                    rule: None,
                });
            }
            Answer::Rules(rules) => rules,
        };
        let mut target = url.path().to_string();
        if let Some(q) = url.query() {
            target.push('?');
            target.push_str(q);
        }
        match decide(rules, &target) {
            Some(rule) if !rule.allow => Err(Disallowed {
                message: format!(
                    "robots.txt of {origin} disallows {target} for {} (rule: {})",
                    self.token, rule.line
                ),
                rule: Some(rule.line.clone()),
            }),
            _ => Ok(()),
        }
    }
}

/// The rule that decides `target` (a path with its query): the matching rule with the longest
/// pattern, Allow winning a tie (RFC 9309 2.2.2); `None` if none matches, which allows.
fn decide<'r>(rules: &'r [Rule], target: &str) -> Option<&'r Rule> {
    if target == "/robots.txt" {
        return None;
    }
    let path = normalise(target.as_bytes());
    let mut best: Option<&Rule> = None;
    for rule in rules.iter().filter(|r| matches(&r.pattern, &path)) {
        let better = match best {
            None => true,
            Some(b) => {
                rule.pattern.len() > b.pattern.len()
                    || (rule.pattern.len() == b.pattern.len() && rule.allow && !b.allow)
            }
        };
        if better {
            best = Some(rule);
        }
    }
    best
}

/// Normalises a path or pattern for comparison (RFC 9309 2.2.2): octets outside printable
/// ASCII are percent-encoded, `%XX` of an unreserved character (RFC 3986: letters, digits,
/// `-._~`) is decoded, and other `%XX` get upper-case hex digits.
fn normalise(s: &[u8]) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'%' && i + 2 < s.len() {
            if let (Some(h), Some(l)) = (hex(s[i + 1]), hex(s[i + 2])) {
                let c = h << 4 | l;
                if c.is_ascii_alphanumeric() || b"-._~".contains(&c) {
                    out.push(c);
                } else {
                    out.extend_from_slice(&[b'%', HEX[usize::from(h)], HEX[usize::from(l)]]);
                }
                i += 3;
                continue;
            }
        }
        if b <= b' ' || b >= 0x7f {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        } else {
            out.push(b);
        }
        i += 1;
    }
    out
}

/// Whether a normalised `pattern` matches a normalised `path`: the pattern is anchored at the
/// start, `*` matches any run of octets, and a final `$` anchors it at the end.
fn matches(pattern: &[u8], path: &[u8]) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix(b"$") {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let mut pieces = pattern.split(|&b| b == b'*');
    let first = pieces.next().unwrap_or(b"");
    if !path.starts_with(first) {
        return false;
    }
    let rest: Vec<&[u8]> = pieces.collect();
    let Some((last, middle)) = rest.split_last() else {
        // No `*`: a prefix match, or the whole path with `$`.
        return !anchored || path.len() == first.len();
    };
    let mut at = first.len();
    // Each middle piece at its leftmost place after the one before leaves the most room for
    // the rest, so a greedy search finds a match whenever one exists.
    for piece in middle {
        match find(&path[at..], piece) {
            Some(i) => at += i + piece.len(),
            None => return false,
        }
    }
    if anchored {
        path.len() - at >= last.len() && path.ends_with(last)
    } else {
        find(&path[at..], last).is_some()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

/// The rules of `body` that apply to `token` (lower case): those of every group with a
/// `User-agent` line naming it, merged, or else those of every `*` group (RFC 9309 2.2.1).
///
/// A group is one or more `User-agent` lines and the rules after them, up to the next
/// `User-agent` line that follows a rule. Lines are split at CR, LF or both; `#` starts a
/// comment; other records (Sitemap, Crawl-delay ...) are ignored; rules before any
/// `User-agent` line and rules with an empty pattern are ignored. Only the first [`MAX_BODY`]
/// bytes are read.
fn parse(body: &[u8], token: &str) -> Vec<Rule> {
    let body = &body[..body.len().min(MAX_BODY)];
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    let mut named = Vec::new();
    let mut star = Vec::new();
    let mut any_named = false;
    // Whether the current group names the token / is a `*` group.
    let (mut for_us, mut for_star) = (false, false);
    let mut after_rule = true;
    for line in body.split(|&b| b == b'\n' || b == b'\r') {
        let line = match line.iter().position(|&b| b == b'#') {
            Some(i) => &line[..i],
            None => line,
        };
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let key = line[..colon].trim_ascii();
        let value = line[colon + 1..].trim_ascii();
        if key.eq_ignore_ascii_case(b"user-agent") {
            if after_rule {
                (for_us, for_star) = (false, false);
                after_rule = false;
            }
            if value == b"*" {
                for_star = true;
            } else {
                let end = value
                    .iter()
                    .position(|&b| !(b.is_ascii_alphabetic() || b == b'-' || b == b'_'))
                    .unwrap_or(value.len());
                if !token.is_empty() && value[..end].eq_ignore_ascii_case(token.as_bytes()) {
                    for_us = true;
                    any_named = true;
                }
            }
            continue;
        }
        let allow = if key.eq_ignore_ascii_case(b"allow") {
            true
        } else if key.eq_ignore_ascii_case(b"disallow") {
            false
        } else {
            continue;
        };
        after_rule = true;
        if value.is_empty() || !(for_us || for_star) {
            continue;
        }
        let rule = || Rule {
            allow,
            pattern: normalise(value),
            line: format!(
                "{}: {}",
                if allow { "Allow" } else { "Disallow" },
                String::from_utf8_lossy(value)
            ),
        };
        if for_us {
            named.push(rule());
        }
        if for_star && !any_named {
            star.push(rule());
        }
    }
    if any_named { named } else { star }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const LIMIT: Duration = Duration::from_secs(20);

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    /// The value of a green thread that must end within [`LIMIT`] without panicking.
    fn joined<T: Send + 'static>(gt: greenfetch_runtime::GreenThread<T>) -> T {
        match gt.wait_timeout(LIMIT) {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => panic!("green thread failed: {e}"),
            Err(_) => panic!("green thread still running after {LIMIT:?}: it hung"),
        }
    }

    /// Whether `robots.txt` body `txt` lets `agent` fetch `target` (a path on http://h).
    fn allowed(txt: &str, agent: &str, target: &str) -> bool {
        let robots = Robots::new(agent);
        let u = url(&format!("http://h{target}"));
        robots
            .check(&u, |_| RobotsFile::Found(txt.as_bytes().to_vec()))
            .is_ok()
    }

    // RFC 9309 5.1, the simple example: a `*` group, a named group and a group of two agents.
    const RFC_5_1: &str = "User-Agent: *\n\
        Disallow: *.gif$\n\
        Disallow: /example/\n\
        Allow: /publications/\n\
        \n\
        User-Agent: foobot\n\
        Disallow:/\n\
        Allow:/example/page.html\n\
        Allow:/example/allowed.gif\n\
        \n\
        User-Agent: barbot\n\
        User-Agent: bazbot\n\
        Disallow: /example/page.html\n\
        \n\
        User-Agent: quxbot\n";

    #[test]
    fn rfc_5_1_simple_example() {
        // Unknown agents use the `*` group.
        assert!(!allowed(RFC_5_1, "greenfetch/0.1", "/example/x"));
        assert!(!allowed(RFC_5_1, "greenfetch/0.1", "/a.gif"));
        assert!(allowed(RFC_5_1, "greenfetch/0.1", "/a.gif?x"));
        assert!(allowed(RFC_5_1, "greenfetch/0.1", "/publications/x"));
        // foobot: its own group only; longest match wins.
        assert!(!allowed(RFC_5_1, "FooBot/1.0", "/anything"));
        assert!(allowed(RFC_5_1, "foobot", "/example/page.html"));
        assert!(allowed(RFC_5_1, "foobot", "/example/allowed.gif"));
        // barbot and bazbot share one group.
        assert!(!allowed(RFC_5_1, "bazbot", "/example/page.html"));
        assert!(allowed(RFC_5_1, "barbot", "/example/x"));
        // quxbot's group has no rules: everything allowed, the `*` group not used.
        assert!(allowed(RFC_5_1, "quxbot", "/example/x"));
    }

    // RFC 9309 5.2, longest match: the Disallow is the longer (more octets) match.
    #[test]
    fn rfc_5_2_longest_match() {
        let txt =
            "User-Agent: foobot\nAllow: /example/page/\nDisallow: /example/page/disallowed.gif\n";
        assert!(allowed(txt, "foobot", "/example/page/"));
        assert!(!allowed(txt, "foobot", "/example/page/disallowed.gif"));
    }

    // RFC 9309 2.2.2: "If an allow rule and a disallow rule are equivalent, then the allow rule
    // SHOULD be used."
    #[test]
    fn allow_wins_a_tie() {
        let txt = "User-agent: *\nDisallow: /page\nAllow: /page\n";
        assert!(allowed(txt, "greenfetch", "/page"));
        assert!(allowed(txt, "greenfetch", "/page/x"));
    }

    // RFC 9309 2.2.3, special characters, and its examples.
    #[test]
    fn wildcards() {
        let txt = "User-agent: *\nDisallow: /path*.php$\nDisallow: /*/x\nDisallow: /end$\n";
        assert!(!allowed(txt, "g", "/path/file.php"));
        assert!(!allowed(txt, "g", "/pathfile.php"));
        assert!(allowed(txt, "g", "/path/file.php5"));
        assert!(!allowed(txt, "g", "/a/b/x"));
        assert!(allowed(txt, "g", "/ax"));
        assert!(!allowed(txt, "g", "/end"));
        assert!(allowed(txt, "g", "/endless"));
        // `$` anchors only at the end of the pattern.
        assert!(matches(b"/a*b*c$", b"/aXbYbc"));
        assert!(!matches(b"/a*b*c$", b"/aXbYbcd"));
        assert!(matches(b"/a$b", b"/a$bc"));
        assert!(matches(b"*", b"/"));
        assert!(!matches(b"/ab*b$", b"/ab"));
    }

    // RFC 9309 2.2.2's table of paths and how they are matched.
    #[test]
    fn percent_encoding_is_normalised() {
        for (rule, target) in [
            ("/foo/bar?baz=quz", "/foo/bar?baz=quz"),
            (
                "/foo/bar?baz=https://foo.bar",
                "/foo/bar?baz=https://foo.bar",
            ),
            ("/foo/bar/\u{30c4}", "/foo/bar/%E3%83%84"),
            ("/foo/bar/%E3%83%84", "/foo/bar/\u{30c4}"),
            ("/foo/bar/%e3%83%84", "/foo/bar/%E3%83%84"),
            ("/foo/bar/%62%61%7A", "/foo/bar/baz"),
            ("/foo/bar/baz", "/foo/bar/%62%61%7A"),
        ] {
            let txt = format!("User-agent: *\nDisallow: {rule}\n");
            assert!(!allowed(&txt, "g", target), "{rule} should match {target}");
        }
        // A reserved character stays encoded: %2F is not `/`.
        assert!(allowed("User-agent: *\nDisallow: /a/b\n", "g", "/a%2Fb"));
    }

    // RFC 9309 2.2.1: groups naming the same agent are merged; matching is case-insensitive;
    // the `*` groups are used only when no group names the agent.
    #[test]
    fn groups() {
        let txt = "user-agent: a\ndisallow: /x\n\nuser-agent: b\ndisallow: /\n\nUSER-AGENT: A\nDISALLOW: /y\n";
        assert!(!allowed(txt, "a", "/x"));
        assert!(!allowed(txt, "A/2", "/y"));
        assert!(allowed(txt, "a", "/z"));
        let txt = "User-agent: *\nDisallow: /\n\nUser-agent: greenfetch\nDisallow: /private\n";
        assert!(allowed(txt, "greenfetch/0.1.0", "/public"));
        assert!(!allowed(txt, "other/1", "/public"));
        // A product token with a version in the file still names the agent.
        assert!(!allowed(
            "User-agent: greenfetch/1.0\nDisallow: /\n",
            "greenfetch",
            "/a"
        ));
        // ... but a longer name does not.
        assert!(allowed(
            "User-agent: greenfetchbot\nDisallow: /\n",
            "greenfetch",
            "/a"
        ));
    }

    #[test]
    fn odd_files() {
        // Empty Disallow allows; comments, CR line ends, a BOM, unknown records and rules
        // outside any group are handled.
        assert!(allowed("User-agent: *\nDisallow:\n", "g", "/a"));
        assert!(!allowed(
            "\u{feff}Disallow: /b\r\nUser-agent: * # all\rSitemap: http://h/s.xml\r\nDisallow: /a # no\r\n",
            "g",
            "/a"
        ));
        assert!(allowed("Disallow: /\n", "g", "/a"));
        assert!(allowed("not a robots file at all", "g", "/a"));
        assert!(allowed("\u{0}\u{ff}garbage", "g", "/a"));
        // /robots.txt itself is always allowed.
        assert!(allowed("User-agent: *\nDisallow: /\n", "g", "/robots.txt"));
    }

    // RFC 9309 2.5: at least 500 KiB are parsed; here, exactly that much.
    #[test]
    fn parse_limit() {
        let mut txt = "User-agent: *\n".to_string();
        txt.push_str(&"#".repeat(MAX_BODY - txt.len() - 1));
        txt.push('\n');
        let past = format!("{txt}Disallow: /\n");
        assert!(allowed(&past, "g", "/a"), "a rule past 500 KiB is ignored");
        let mut within = "User-agent: *\nDisallow: /\n".to_string();
        within.push_str(&"#".repeat(MAX_BODY));
        assert!(!allowed(&within, "g", "/a"));
    }

    // RFC 9309 2.3.1.3 and 2.3.1.4.
    #[test]
    fn unavailable_allows_unreachable_disallows() {
        let robots = Robots::new("greenfetch/0.1.0");
        let u = url("http://127.0.0.1:8080/a");
        assert!(robots.check(&u, |_| RobotsFile::Unavailable).is_ok());
        let u = url("http://127.0.0.1:8081/a");
        let no = robots
            .check(&u, |_| RobotsFile::Unreachable("HTTP 503".into()))
            .unwrap_err();
        assert_eq!(
            no.to_string(),
            "robots.txt of http://127.0.0.1:8081 could not be fetched (HTTP 503): everything \
             disallowed, RFC 9309 2.3.1.4"
        );
        assert_eq!(robots.len(), 2);
    }

    #[test]
    fn message_names_the_rule() {
        let robots = Robots::new("greenfetch/0.1.0");
        let u = url("http://127.0.0.1:8080/private/x?q=1");
        let no = robots
            .check(&u, |_| {
                RobotsFile::Found(
                    b"User-agent: *\nDisallow: /private\nDisallow: /\nAllow: /p\n".to_vec(),
                )
            })
            .unwrap_err();
        assert_eq!(
            no.to_string(),
            "robots.txt of http://127.0.0.1:8080 disallows /private/x?q=1 for greenfetch \
             (rule: Disallow: /private)"
        );
        assert_eq!(no.rule(), Some("Disallow: /private"));
    }

    #[test]
    fn one_fetch_per_origin() {
        let robots = Robots::new("greenfetch");
        let calls = AtomicUsize::new(0);
        let fetch = |u: &str| {
            calls.fetch_add(1, Ordering::SeqCst);
            assert!(u.ends_with("/robots.txt"));
            RobotsFile::Unavailable
        };
        for u in ["http://h/a", "http://h/b", "http://h:80/c", "http://H/d"] {
            robots.check(&url(u), fetch).unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        for u in ["https://h/a", "http://h:8080/a", "http://g/a"] {
            robots.check(&url(u), fetch).unwrap();
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            4,
            "scheme, port and host each count"
        );
        assert_eq!(robots.len(), 4);
    }

    /// Several green threads check one origin while its fetch is held open: the closure runs
    /// once, and every other check waits for its answer (each has said it is waiting before
    /// the fetch is let go).
    #[test]
    fn concurrent_checks_share_one_fetch() {
        const OTHERS: usize = 7;
        let robots = Arc::new(Robots::new("greenfetch"));
        let calls = Arc::new(AtomicUsize::new(0));
        let release: Event<()> = Event::new();
        let started: Event<()> = Event::new();
        let check = |path: &'static str| {
            let (robots, calls, release, started) = (
                robots.clone(),
                calls.clone(),
                release.clone(),
                started.clone(),
            );
            greenfetch_runtime::spawn(move || {
                robots.check(&url(&format!("http://h{path}")), |_| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    started.send(()).unwrap();
                    release.wait();
                    RobotsFile::Found(b"User-agent: *\nDisallow: /no\n".to_vec())
                })
            })
        };
        let first = check("/no");
        started.wait();
        let others: Vec<_> = (0..OTHERS)
            .map(|i| check(if i % 2 == 0 { "/no/x" } else { "/yes" }))
            .collect();
        for n in 0..OTHERS {
            // A check that fetched for itself instead would block on `release` and never say so.
            let said = robots.waiting.get_timeout(LIMIT);
            assert!(
                said.is_ok(),
                "only {n} of {OTHERS} checks waited for the one fetch"
            );
        }
        release.send(()).unwrap();
        let result = joined;
        assert!(result(first).is_err());
        for (i, gt) in others.into_iter().enumerate() {
            assert_eq!(result(gt).is_ok(), i % 2 == 1);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// A fetch that panics answers its waiters (as unreachable) and leaves no entry, so the
    /// next check fetches again.
    #[test]
    fn a_panicking_fetch_does_not_strand_waiters() {
        let robots = Arc::new(Robots::new("greenfetch"));
        let release: Event<()> = Event::new();
        let started: Event<()> = Event::new();
        let fetcher = {
            let (robots, release, started) = (robots.clone(), release.clone(), started.clone());
            greenfetch_runtime::spawn(move || {
                robots.check(&url("http://h/a"), |_| -> RobotsFile {
                    started.send(()).unwrap();
                    release.wait();
                    panic!("fetch blew up (expected by this test)")
                })
            })
        };
        started.wait();
        let waiter = {
            let robots = robots.clone();
            greenfetch_runtime::spawn(move || robots.check(&url("http://h/b"), |_| unreachable!()))
        };
        assert!(
            robots.waiting.get_timeout(LIMIT).is_ok(),
            "the check did not wait"
        );
        release.send(()).unwrap();
        match fetcher.wait_timeout(LIMIT) {
            Ok(r) => assert!(r.is_err(), "the fetch's panic goes on in its caller"),
            Err(_) => panic!("hung"),
        }
        let no = joined(waiter);
        assert!(no.unwrap_err().to_string().contains("could not be fetched"));
        assert_eq!(robots.len(), 0);
        assert!(
            robots
                .check(&url("http://h/c"), |_| RobotsFile::Unavailable)
                .is_ok()
        );
    }

    #[test]
    fn cache_is_bounded_oldest_first() {
        let robots = Robots::with_limits("g", 3, MAX_RULE_BYTES, MAX_AGE);
        let calls = AtomicUsize::new(0);
        let fetch = |_: &str| {
            calls.fetch_add(1, Ordering::SeqCst);
            RobotsFile::Unavailable
        };
        for i in 0..100 {
            robots.check(&url(&format!("http://h{i}/")), fetch).unwrap();
            assert!(robots.len() <= 3);
        }
        assert_eq!(robots.len(), 3);
        // The newest three are kept; the oldest was dropped and is fetched anew.
        robots.check(&url("http://h99/"), fetch).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 100);
        robots.check(&url("http://h0/"), fetch).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 101);
        assert!(lock(&robots.cache).order.len() <= 2 * 3 + 16);
    }

    #[test]
    fn cache_is_bounded_in_bytes() {
        let robots = Robots::with_limits("g", 100, 4096, MAX_AGE);
        let body = format!("User-agent: *\n{}", "Disallow: /0123456789\n".repeat(20));
        for i in 0..50 {
            let u = url(&format!("http://h{i}/a"));
            robots
                .check(&u, |_| RobotsFile::Found(body.clone().into_bytes()))
                .unwrap();
            assert!(lock(&robots.cache).bytes <= 4096);
        }
        assert!(robots.len() < 50 && !robots.is_empty());
    }

    /// The docs' worst case: a 500 KiB file of the shortest rules keeps a few MiB.
    #[test]
    fn worst_case_file_is_a_few_mib() {
        let mut txt = "User-agent: *\n".to_string();
        while txt.len() + 8 <= MAX_BODY {
            txt.push_str("Allow:*\n");
        }
        let answer = Answer::Rules(parse(txt.as_bytes(), "g"));
        let Answer::Rules(rules) = &answer else {
            unreachable!()
        };
        assert_eq!(rules.len(), (MAX_BODY - 14) / 8);
        assert!(answer.bytes() < 8 << 20, "{} bytes", answer.bytes());
    }

    #[test]
    fn entries_expire() {
        let robots = Robots::with_limits("g", 10, MAX_RULE_BYTES, Duration::ZERO);
        let calls = AtomicUsize::new(0);
        let fetch = |_: &str| {
            calls.fetch_add(1, Ordering::SeqCst);
            RobotsFile::Unavailable
        };
        for _ in 0..3 {
            robots.check(&url("http://h/"), fetch).unwrap();
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "a zero max age fetches every time"
        );
        assert_eq!(robots.len(), 1);
        let cache = lock(&robots.cache);
        assert_eq!(cache.bytes, 0);
    }

    #[test]
    fn robots_is_send_and_sync() {
        fn both<T: Send + Sync>() {}
        both::<Robots>();
    }
}
