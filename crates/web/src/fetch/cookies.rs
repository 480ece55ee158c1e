//! Cookies for one run (`-b/--cookie`, `--cookie-jar`): one RFC 6265 cookie engine shared by
//! every green thread, so that a login redirect chain (a `POST` answered with a `302` and a
//! `Set-Cookie`, then a `GET` that needs the cookie) works.
//!
//! [`Cookies`] keeps the cookies in a [`cookie_store::CookieStore`], which applies RFC 6265's
//! rules: domain and path matching, host-only cookies, `Secure` cookies only over https (or to
//! a loopback host, which RFC 6265bis counts as secure, as curl does), `HttpOnly`, expiry by
//! `Expires` or `Max-Age`, and a cookie sent again already expired removes it. The fetcher
//! stores the `Set-Cookie` headers of every answer, redirects included, for that hop's URL
//! ([`Cookies::store`]) and asks for each request's `Cookie` header ([`Cookies::header`]).
//!
//! Two more sources, as curl has them: fixed `NAME=VALUE` pairs ([`Cookies::add_pairs`], from
//! `-b 'NAME=VALUE; ...'`), sent on every request of the run to every host, after the engine's
//! cookies in the same header line, and never kept in the jar; and a cookie file
//! ([`Cookies::load`], from `-b FILE`) in the Netscape format curl reads and writes, or of raw
//! `Set-Cookie:` lines. [`Cookies::save`] writes every cookie that has not expired, session
//! cookies too, in that format (`--cookie-jar FILE`).
//!
//! The Netscape format, one cookie a line, seven fields separated by TABs: the domain (a
//! leading dot for a domain cookie), `TRUE` if subdomains match too, the path, `TRUE` if the
//! cookie is `Secure`, when it expires (seconds since 1970; `0` for a session cookie), the
//! name, the value. A line starting with `#HttpOnly_` is an `HttpOnly` cookie; other lines
//! starting with `#`, and blank ones, are comments.
//!
//! No public suffix list: a `Domain` attribute naming a public suffix (`co.uk`) is taken at its
//! word, as by a curl built without libpsl. The cookies live for one run of one user's
//! command, sent only to the hosts that user's URLs and their redirects reach.
//!
//! The engine's lock is held only while cookies are looked up or stored in memory, never
//! across anything that blocks or yields.
//!
//! Memory: at most [`MAX_COOKIES`] (3,000, Firefox's `network.cookie.maxNumber`) cookies are
//! kept, expired ones included until they are pushed out; past that the cookie stored first is
//! dropped first. A crawl over millions of hosts that each set a cookie keeps the last 3,000.
//!
//! Layer: domain (uses `cookie_store`, `url`).
//!
//! # Examples
//!
//! ```
//! use greenfetch_web::fetch::cookies::Cookies;
//! use url::Url;
//!
//! let jar = Cookies::new();
//! let login = Url::parse("http://127.0.0.1:8080/login").unwrap();
//! jar.store(&login, [&b"session=s3cr3t; Path=/; HttpOnly"[..], b"theme=dark; Path=/login"]);
//! let private = Url::parse("http://127.0.0.1:8080/private").unwrap();
//! assert_eq!(jar.header(&private).as_deref(), Some("session=s3cr3t"));
//! assert_eq!(jar.header(&login).as_deref(), Some("theme=dark; session=s3cr3t"));
//! assert_eq!(jar.header(&Url::parse("http://127.0.0.2/").unwrap()), None);
//!
//! let text = jar.to_netscape();
//! assert!(text.starts_with("# Netscape HTTP Cookie File\n"));
//! assert!(text.contains("#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\ts3cr3t\n"));
//! let again = Cookies::new();
//! assert_eq!(again.load(&text), Ok(2));
//! assert_eq!(again.header(&private).as_deref(), Some("session=s3cr3t"));
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

use cookie_store::{
    CookieDomain, CookieError, CookieExpiration, CookieResult, CookieStore, RawCookie, StoreAction,
};
use time::OffsetDateTime;
use url::Url;

use greenfetch_runtime::wait::lock;

/// The latest expiry kept, in seconds since 1970 (the last second of the year 9999); a later
/// one in a cookie file is cut to it.
const LATEST_EXPIRY: i64 = 253_402_300_799;

/// The first line of a Netscape cookie file, which curl writes and looks for.
const NETSCAPE_HEADER: &str = "# Netscape HTTP Cookie File";

/// The most cookies the engine keeps (Firefox's `network.cookie.maxNumber`); the one stored
/// first goes first.
///
/// ```
/// assert_eq!(greenfetch_web::fetch::cookies::MAX_COOKIES, 3000);
/// ```
pub const MAX_COOKIES: usize = 3000;

/// The engine's store and the order its cookies came in, for the cap.
struct Jar {
    store: CookieStore,
    /// (domain, path, name) of every cookie in the store, first stored first: one record a
    /// cookie, since a cookie leaves the store only through the cap.
    order: VecDeque<(String, String, String)>,
    cap: usize,
}

impl Default for Jar {
    fn default() -> Self {
        Jar {
            store: CookieStore::default(),
            order: VecDeque::new(),
            cap: MAX_COOKIES,
        }
    }
}

impl Jar {
    /// Stores one cookie from `url` by RFC 6265's rules, then drops the oldest past the cap.
    fn insert(&mut self, raw: &RawCookie<'_>, url: &Url) -> Result<StoreAction, CookieError> {
        let cookie: CookieResult<'_> = cookie_store::Cookie::try_from_raw_cookie(raw, url);
        let cookie = cookie?.into_owned();
        let key = (
            String::from(&cookie.domain),
            String::from(&cookie.path),
            cookie.name().to_owned(),
        );
        let action = self.store.insert(cookie, url)?;
        if action == StoreAction::Inserted {
            self.order.push_back(key);
            while self.order.len() > self.cap {
                let Some((domain, path, name)) = self.order.pop_front() else {
                    break;
                };
                self.store.remove(&domain, &path, &name);
            }
        }
        Ok(action)
    }
}

/// A run's cookies: the RFC 6265 engine, and the fixed pairs sent on every request. Share it
/// between green threads with an `Arc`.
///
/// See the [module example](self).
#[derive(Default)]
pub struct Cookies {
    store: Mutex<Jar>,
    /// `NAME=VALUE; ...` pairs sent on every request, after the engine's cookies.
    fixed: String,
}

impl fmt::Debug for Cookies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cookies")
            .field("kept", &self.len())
            .field("fixed", &!self.fixed.is_empty())
            .finish()
    }
}

/// A line of a cookie file that is not a cookie.
///
/// ```
/// let err = greenfetch_web::fetch::cookies::Cookies::new().load("# ok\nnot a cookie\n").unwrap_err();
/// assert_eq!(err.line, 2);
/// assert!(err.to_string().starts_with("line 2: "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieFileError {
    /// The line's number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for CookieFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for CookieFileError {}

impl Cookies {
    /// An empty engine with no fixed pairs.
    ///
    /// See the [module example](self).
    pub fn new() -> Self {
        Cookies::default()
    }

    /// Adds `NAME=VALUE; ...` pairs (curl's `-b` with a `=`) to send on every request of the
    /// run, to every host, after the engine's cookies. They are sent as given and are not
    /// kept by the engine.
    ///
    /// ```
    /// let mut jar = greenfetch_web::fetch::cookies::Cookies::new();
    /// jar.add_pairs(" lang=en; ab=b ;").unwrap();
    /// jar.add_pairs("x=1").unwrap();
    /// let anywhere = url::Url::parse("https://127.0.0.1/").unwrap();
    /// assert_eq!(jar.header(&anywhere).as_deref(), Some("lang=en; ab=b; x=1"));
    /// assert!(jar.add_pairs("a=1\r\nX-Evil: 1").is_err());
    /// ```
    pub fn add_pairs(&mut self, pairs: &str) -> Result<(), String> {
        if pairs.chars().any(|c| c.is_control() && c != '\t') {
            return Err(format!("{pairs:?}: control characters in cookies"));
        }
        let pairs = pairs.trim().trim_end_matches(';').trim_end();
        if pairs.is_empty() {
            return Ok(());
        }
        if !self.fixed.is_empty() {
            self.fixed.push_str("; ");
        }
        self.fixed.push_str(pairs);
        Ok(())
    }

    /// Stores the `Set-Cookie` values of an answer from `url`, by RFC 6265's rules: a cookie
    /// whose `Domain` does not match the host is ignored, and one that comes already expired
    /// removes the cookie it names. A value that is not UTF-8 or not a cookie is skipped, and so
    /// is a cookie with a control character (a tab included) in its name or value, as RFC
    /// 6265bis 5.6 and curl have it: it could not go into a `Cookie` line or a jar line whole.
    ///
    /// ```
    /// let jar = greenfetch_web::fetch::cookies::Cookies::new();
    /// let url = url::Url::parse("http://127.0.0.1/").unwrap();
    /// jar.store(&url, [&b"a\x08=1"[..], b"b=x\ty", b"c=ok"]);
    /// assert_eq!(jar.header(&url).as_deref(), Some("c=ok"));
    /// ```
    pub fn store<'a>(&self, url: &Url, set_cookies: impl IntoIterator<Item = &'a [u8]>) {
        let clean = |c: &RawCookie<'_>| {
            !c.name().is_empty()
                && !c
                    .name()
                    .chars()
                    .chain(c.value().chars())
                    .any(char::is_control)
        };
        let parsed: Vec<RawCookie<'static>> = set_cookies
            .into_iter()
            .filter_map(|v| std::str::from_utf8(v).ok())
            .filter_map(|v| RawCookie::parse(v.to_owned()).ok())
            .filter(clean)
            .collect();
        if parsed.is_empty() {
            return;
        }
        let mut jar = lock(&self.store);
        for c in &parsed {
            // A cookie the rules refuse (another domain, already expired) is ignored.
            let _ = jar.insert(c, url);
        }
    }

    /// The `Cookie` header for a request to `url`: the engine's cookies that match it (longer
    /// paths first, as RFC 6265 5.4 asks), then the fixed pairs; `None` when there is neither.
    ///
    /// See the [module example](self).
    pub fn header(&self, url: &Url) -> Option<String> {
        let mut line = String::new();
        {
            let jar = lock(&self.store);
            let mut matching = jar.store.matches(url);
            matching.sort_by(|a, b| {
                let path = |c: &cookie_store::Cookie<'_>| c.path.as_ref().len();
                path(b)
                    .cmp(&path(a))
                    .then_with(|| a.name().cmp(b.name()))
                    .then_with(|| a.value().cmp(b.value()))
            });
            for c in matching {
                if !line.is_empty() {
                    line.push_str("; ");
                }
                line.push_str(c.name());
                line.push('=');
                line.push_str(c.value());
            }
        }
        if !self.fixed.is_empty() {
            if !line.is_empty() {
                line.push_str("; ");
            }
            line.push_str(&self.fixed);
        }
        (!line.is_empty()).then_some(line)
    }

    /// How many cookies the engine keeps that have not expired.
    ///
    /// ```
    /// let jar = greenfetch_web::fetch::cookies::Cookies::new();
    /// assert_eq!(jar.len(), 0);
    /// jar.store(&url::Url::parse("http://127.0.0.1/").unwrap(), [&b"a=1"[..]]);
    /// assert_eq!(jar.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        lock(&self.store).store.iter_unexpired().count()
    }

    /// True when the engine keeps no cookie.
    ///
    /// ```
    /// assert!(greenfetch_web::fetch::cookies::Cookies::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads a cookie file's text into the engine: Netscape lines (curl's format) or
    /// `Set-Cookie:` lines, which need a `Domain` attribute (there is no answer to take the
    /// host from). Cookies already expired are skipped. Returns how many were kept; the first
    /// line that is neither a cookie, a comment nor blank is an error.
    ///
    /// ```
    /// let jar = greenfetch_web::fetch::cookies::Cookies::new();
    /// let file = "# Netscape HTTP Cookie File\n\
    ///             .example.test\tTRUE\t/\tTRUE\t0\tid\t42\n\
    ///             Set-Cookie: lang=en; Domain=example.test; Path=/docs\n";
    /// assert_eq!(jar.load(file), Ok(2));
    /// let docs = url::Url::parse("https://www.example.test/docs/a").unwrap();
    /// assert_eq!(jar.header(&docs).as_deref(), Some("lang=en; id=42"));
    /// // Secure: not over plain http to a host that is not loopback.
    /// let plain = url::Url::parse("http://example.test/docs/").unwrap();
    /// assert_eq!(jar.header(&plain).as_deref(), Some("lang=en"));
    /// ```
    pub fn load(&self, text: &str) -> Result<usize, CookieFileError> {
        let mut kept = 0;
        let mut jar = lock(&self.store);
        for (i, line) in text.lines().enumerate() {
            let fail = |message: String| CookieFileError {
                line: i + 1,
                message,
            };
            let line = line.strip_suffix('\r').unwrap_or(line);
            let (http_only, line) = match line.strip_prefix("#HttpOnly_") {
                Some(rest) => (true, rest),
                None => (false, line),
            };
            if !http_only && (line.trim().is_empty() || line.starts_with('#')) {
                continue;
            }
            let (cookie, url) = if let Some(header) = strip_prefix_ignore_case(line, "set-cookie:")
            {
                set_cookie_line(header.trim())
            } else {
                netscape_line(line, http_only)
            }
            .map_err(fail)?;
            match jar.insert(&cookie, &url) {
                Ok(_) => kept += 1,
                Err(CookieError::Expired) => {}
                Err(e) => return Err(fail(format!("the cookie is refused: {e}"))),
            }
        }
        Ok(kept)
    }

    /// Every cookie the engine keeps that has not expired, session cookies too, in the
    /// Netscape format (curl's `-b FILE` reads it), sorted by domain, path and name.
    ///
    /// See the [module example](self).
    pub fn to_netscape(&self) -> String {
        let mut lines: Vec<(String, String, String, String)> = {
            let jar = lock(&self.store);
            jar.store
                .iter_unexpired()
                .map(|c| {
                    let (domain, subdomains) = match &c.domain {
                        // An address has no subdomains: curl writes such a cookie host-only.
                        CookieDomain::Suffix(d) if is_address(d) => (d.clone(), "FALSE"),
                        CookieDomain::Suffix(d) => (format!(".{d}"), "TRUE"),
                        CookieDomain::HostOnly(h) => (h.clone(), "FALSE"),
                        CookieDomain::NotPresent | CookieDomain::Empty => (String::new(), "FALSE"),
                    };
                    let expires = match c.expires {
                        CookieExpiration::AtUtc(t) => t.unix_timestamp().max(1),
                        CookieExpiration::SessionEnd => 0,
                    };
                    let path: &str = c.path.as_ref();
                    let line = format!(
                        "{}{domain}\t{subdomains}\t{path}\t{}\t{expires}\t{}\t{}\n",
                        if c.http_only() == Some(true) {
                            "#HttpOnly_"
                        } else {
                            ""
                        },
                        if c.secure() == Some(true) {
                            "TRUE"
                        } else {
                            "FALSE"
                        },
                        c.name(),
                        c.value()
                    );
                    (domain, path.to_owned(), c.name().to_owned(), line)
                })
                .filter(|(domain, ..)| !domain.is_empty())
                .collect()
        };
        lines.sort();
        let mut out = format!(
            "{NETSCAPE_HEADER}\n# Written by greenfetch {}: every cookie of the run, session \
             cookies with expiry 0.\n\n",
            env!("CARGO_PKG_VERSION")
        );
        for (.., line) in lines {
            out.push_str(&line);
        }
        out
    }

    /// Writes [`Cookies::to_netscape`] to `path` atomically: a new file beside it (mode 0600
    /// on Unix: cookies are credentials), then renamed over it, so a reader sees the old jar
    /// or the new one, never half of one.
    ///
    /// ```
    /// let jar = greenfetch_web::fetch::cookies::Cookies::new();
    /// jar.store(&url::Url::parse("http://127.0.0.1/").unwrap(), [&b"a=1"[..]]);
    /// let path = std::env::temp_dir().join(format!("greenfetch-doc-jar-{}", std::process::id()));
    /// jar.save(&path)?;
    /// let again = greenfetch_web::fetch::cookies::Cookies::new();
    /// assert_eq!(again.load(&std::fs::read_to_string(&path)?), Ok(1));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let text = self.to_netscape();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
        let temp = dir.join(format!(
            ".{}.greenfetch-{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let written = write_new(&temp, text.as_bytes()).and_then(|()| std::fs::rename(&temp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written
    }
}

/// Writes `bytes` to a new file at `path` and flushes it to disk.
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// True for an IP address (an IPv6 one in brackets or not).
fn is_address(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>().is_ok()
}

/// A URL on `host` that a cookie of that host can be stored for.
fn url_for(host: &str, secure: bool) -> Result<Url, String> {
    let bad = || format!("{host:?} is not a host name");
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let host_part = if bare.parse::<std::net::Ipv6Addr>().is_ok() {
        format!("[{bare}]")
    } else if bare.is_empty() || bare.contains(|c: char| "/?#@:[]\\ ".contains(c) || c.is_control())
    {
        return Err(bad());
    } else {
        bare.to_owned()
    };
    let scheme = if secure { "https" } else { "http" };
    let url = Url::parse(&format!("{scheme}://{host_part}/")).map_err(|_| bad())?;
    if url.host_str().is_none() {
        return Err(bad());
    }
    Ok(url)
}

/// One Netscape line (its `#HttpOnly_` already taken off) as a cookie and the URL to store it
/// for.
fn netscape_line(line: &str, http_only: bool) -> Result<(RawCookie<'static>, Url), String> {
    const FIELDS: &str = "7 fields separated by TABs (domain, TRUE/FALSE for subdomains, path, \
                          TRUE/FALSE for secure, expiry in seconds since 1970, name, value)";
    let fields: Vec<&str> = line.split('\t').collect();
    // curl writes a cookie without a value as six fields.
    let [domain, subdomains, path, secure, expires, name, rest @ ..] = fields.as_slice() else {
        return Err(format!(
            "not a cookie: expected {FIELDS}, found {}",
            fields.len()
        ));
    };
    let value = match rest {
        [] => "",
        [v] => v,
        _ => {
            return Err(format!(
                "not a cookie: expected {FIELDS}, found {}",
                fields.len()
            ));
        }
    };
    let flag = |field: &str, what: &str| match field {
        f if f.eq_ignore_ascii_case("TRUE") => Ok(true),
        f if f.eq_ignore_ascii_case("FALSE") => Ok(false),
        f => Err(format!("the {what} field is {f:?}, not TRUE or FALSE")),
    };
    let subdomains = flag(subdomains, "subdomains")?;
    let secure = flag(secure, "secure")?;
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return Err("control characters in the line".to_owned());
    }
    let host = domain.strip_prefix('.').unwrap_or(domain);
    if host.is_empty() {
        return Err("no domain".to_owned());
    }
    if !path.starts_with('/') {
        return Err(format!("the path {path:?} does not start with /"));
    }
    let expires: i64 = expires
        .trim()
        .parse()
        .map_err(|_| format!("the expiry {expires:?} is not a number of seconds"))?;
    if name.is_empty() || name.contains([';', '=']) || name.trim() != *name {
        return Err(format!("{name:?} is not a cookie name"));
    }
    if value.contains(';') {
        return Err(format!("the value of {name} holds a ';'"));
    }
    let mut cookie = RawCookie::new((*name).to_owned(), value.to_owned());
    cookie.set_path((*path).to_owned());
    if subdomains {
        cookie.set_domain(host.to_owned());
    }
    cookie.set_secure(secure);
    cookie.set_http_only(http_only);
    if expires != 0 {
        let at = OffsetDateTime::from_unix_timestamp(expires.clamp(1, LATEST_EXPIRY))
            .map_err(|e| format!("the expiry {expires}: {e}"))?;
        cookie.set_expires(at);
    }
    Ok((cookie, url_for(host, secure)?))
}

/// A `Set-Cookie:` line of a cookie file (after the field name), which names its own domain.
fn set_cookie_line(header: &str) -> Result<(RawCookie<'static>, Url), String> {
    let cookie =
        RawCookie::parse(header.to_owned()).map_err(|e| format!("not a Set-Cookie value ({e})"))?;
    let Some(domain) = cookie.domain().filter(|d| !d.is_empty()) else {
        return Err(
            "a Set-Cookie line in a cookie file needs a Domain attribute: \
                    there is no answer to take the host from"
                .to_owned(),
        );
    };
    let url = url_for(domain, cookie.secure() == Some(true))?;
    Ok((cookie, url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn domain_path_secure_and_host_only_rules() {
        let jar = Cookies::new();
        jar.store(
            &url("http://www.shop.test/cart/view"),
            [
                &b"host=1"[..],                     // host-only, default path /cart
                b"dom=2; Domain=shop.test; Path=/", // shop.test and its subdomains
                b"sec=3; Secure; Path=/",           // never over plain http
                b"other=4; Domain=elsewhere.test",  // not this host's to set: ignored
                b"deep=5; Path=/cart/view/more",    // a longer path, listed first
            ],
        );
        assert_eq!(
            jar.header(&url("http://www.shop.test/cart/view/more/x"))
                .as_deref(),
            Some("deep=5; host=1; dom=2")
        );
        assert_eq!(
            jar.header(&url("https://www.shop.test/cart")).as_deref(),
            Some("host=1; dom=2; sec=3")
        );
        assert_eq!(
            jar.header(&url("http://api.shop.test/")).as_deref(),
            Some("dom=2")
        );
        assert_eq!(
            jar.header(&url("http://shop.test/cartx")).as_deref(),
            Some("dom=2")
        );
        assert_eq!(jar.header(&url("http://elsewhere.test/")), None);
        assert_eq!(jar.len(), 4);
    }

    #[test]
    fn an_expired_cookie_removes_the_one_it_names() {
        let jar = Cookies::new();
        let u = url("http://127.0.0.1:8080/");
        jar.store(&u, [&b"a=1"[..], b"b=2; Max-Age=3600"]);
        assert_eq!(jar.header(&u).as_deref(), Some("a=1; b=2"));
        jar.store(
            &u,
            [
                &b"a=; Max-Age=0"[..],
                b"b=gone; Expires=Thu, 01 Jan 1970 00:00:01 GMT",
            ],
        );
        assert_eq!(jar.header(&u), None);
        assert!(jar.is_empty());
        assert!(!jar.to_netscape().contains("\ta\t"));
    }

    #[test]
    fn the_netscape_format_round_trips_every_kind_of_cookie() {
        let jar = Cookies::new();
        jar.store(
            &url("https://app.example.test/a/b"),
            [
                &b"plain=v"[..],
                b"dom=d; Domain=example.test; Path=/",
                b"sec=s; Secure; HttpOnly; Path=/a",
                b"kept=k; Max-Age=86400",
                b"empty=",
                b"eq=a=b==",
            ],
        );
        let text = jar.to_netscape();
        let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(lines[0], NETSCAPE_HEADER);
        assert!(
            lines.contains(&".example.test\tTRUE\t/\tFALSE\t0\tdom\td"),
            "{text}"
        );
        assert!(
            lines.contains(&"#HttpOnly_app.example.test\tFALSE\t/a\tTRUE\t0\tsec\ts"),
            "{text}"
        );
        assert!(
            lines.contains(&"app.example.test\tFALSE\t/a\tFALSE\t0\tempty\t"),
            "{text}"
        );
        let kept = lines.iter().find(|l| l.ends_with("\tkept\tk")).unwrap();
        let expires: i64 = kept.split('\t').nth(4).unwrap().parse().unwrap();
        let now = OffsetDateTime::now_utc().unix_timestamp();
        assert!((now + 86_000..=now + 86_400).contains(&expires), "{kept}");

        let again = Cookies::new();
        assert_eq!(again.load(&text), Ok(6));
        assert_eq!(again.to_netscape(), text);
        for u in [
            "https://app.example.test/a/b",
            "http://x.example.test/",
            "http://app.example.test/",
        ] {
            assert_eq!(again.header(&url(u)), jar.header(&url(u)), "{u}");
        }
    }

    #[test]
    fn cookie_files_as_curl_writes_them_and_set_cookie_lines() {
        let file = "# Netscape HTTP Cookie File\r\n\
                    # https://curl.se/docs/http-cookies.html\n\
                    \n\
                    127.0.0.1\tFALSE\t/\tFALSE\t4102444800\tpers\tp\n\
                    #HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\tho\th\n\
                    127.0.0.1\tFALSE\t/\tTRUE\t0\tsec\ts\n\
                    127.0.0.1\tFALSE\t/\tFALSE\t0\tnovalue\n\
                    127.0.0.1\tFALSE\t/\tFALSE\t1\texpired\tlong ago\n\
                    set-cookie: lang=fr; Domain=127.0.0.1; Path=/\n";
        let jar = Cookies::new();
        assert_eq!(jar.load(file), Ok(5));
        // Loopback counts as secure (RFC 6265bis, curl).
        assert_eq!(
            jar.header(&url("http://127.0.0.1:9/")).as_deref(),
            Some("ho=h; lang=fr; novalue=; pers=p; sec=s")
        );
    }

    #[test]
    fn bad_cookie_files_name_the_line() {
        for (text, line, says) in [
            ("a.test\tFALSE\t/\tFALSE\t0\tname\n", 0, ""),
            ("# c\nnot a cookie\n", 2, "expected 7 fields"),
            ("a.test\tMAYBE\t/\tFALSE\t0\tn\tv\n", 1, "not TRUE or FALSE"),
            (
                "a.test\tFALSE\tnoslash\tFALSE\t0\tn\tv\n",
                1,
                "does not start with /",
            ),
            ("a.test\tFALSE\t/\tFALSE\tsoon\tn\tv\n", 1, "not a number"),
            (
                "\n\na.test\tFALSE\t/\tFALSE\t0\t\tv\n",
                3,
                "not a cookie name",
            ),
            ("a.test\tFALSE\t/\tFALSE\t0\tn\tv\tw\n", 1, "found 8"),
            ("a b\tFALSE\t/\tFALSE\t0\tn\tv\n", 1, "not a host name"),
            ("Set-Cookie: a=1; Path=/\n", 1, "needs a Domain"),
            ("Set-Cookie: =\n", 1, "not a Set-Cookie value"),
            (
                "a.test\tFALSE\t/\tFALSE\t0\tn\tv\u{1}\n",
                1,
                "control characters",
            ),
        ] {
            match Cookies::new().load(text) {
                Ok(_) if line == 0 => {}
                Ok(n) => panic!("{text:?}: loaded {n}"),
                Err(e) => {
                    assert_eq!(e.line, line, "{text:?}: {e}");
                    assert!(e.message.contains(says), "{text:?}: {e}");
                }
            }
        }
    }

    #[test]
    fn a_domain_cookie_on_an_address_is_written_host_only_as_curl_does() {
        let jar = Cookies::new();
        let u = url("http://127.0.0.1:8080/");
        jar.store(&u, [&b"dom=1; Domain=127.0.0.1; Path=/"[..]]);
        let text = jar.to_netscape();
        assert!(
            text.ends_with("\n127.0.0.1\tFALSE\t/\tFALSE\t0\tdom\t1\n"),
            "{text}"
        );
        let again = Cookies::new();
        assert_eq!(again.load(&text), Ok(1));
        assert_eq!(again.header(&u).as_deref(), Some("dom=1"));
    }

    #[test]
    fn fixed_pairs_follow_the_engines_cookies() {
        let mut jar = Cookies::new();
        jar.add_pairs("fixed=1").unwrap();
        jar.add_pairs("").unwrap();
        let u = url("http://127.0.0.1/");
        assert_eq!(jar.header(&u).as_deref(), Some("fixed=1"));
        jar.store(&u, [&b"got=2"[..]]);
        assert_eq!(jar.header(&u).as_deref(), Some("got=2; fixed=1"));
        assert!(
            !jar.to_netscape().contains("fixed"),
            "fixed pairs are not kept"
        );
    }

    #[test]
    fn save_replaces_the_file_whole() {
        let dir = std::env::temp_dir().join(format!("greenfetch-jar-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("jar.txt");
        std::fs::write(&path, "old contents\n").unwrap();
        let jar = Cookies::new();
        jar.store(&url("http://127.0.0.1/"), [&b"a=1"[..]]);
        jar.save(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), jar.to_netscape());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
        assert!(jar.save(&dir.join("no-such-dir").join("jar")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The jar keeps at most its cap, the newest cookies, however many hosts set one; a cookie
    /// updated in place takes no second place in the order.
    #[test]
    fn the_jar_is_bounded_in_hosts_oldest_first() {
        let jar = Cookies {
            store: Mutex::new(Jar {
                cap: 50,
                ..Jar::default()
            }),
            fixed: String::new(),
        };
        for i in 0..1000 {
            let u = url(&format!("http://h{i}.test/"));
            jar.store(&u, [&b"id=1"[..], b"again=2"]);
            jar.store(&u, [&b"id=3"[..]]); // an update, not a new cookie
            let held = lock(&jar.store).order.len();
            assert!(held <= 50, "{held} cookies held");
            assert!(jar.len() <= 50);
        }
        assert_eq!(jar.len(), 50);
        assert_eq!(
            jar.header(&url("http://h0.test/")),
            None,
            "the oldest went first"
        );
        assert_eq!(
            jar.header(&url("http://h999.test/")).as_deref(),
            Some("again=2; id=3")
        );
        // The default cap, through the public API.
        let jar = Cookies::new();
        for i in 0..MAX_COOKIES + 100 {
            jar.store(&url(&format!("http://h{i}.test/")), [&b"a=1"[..]]);
        }
        assert_eq!(jar.len(), MAX_COOKIES);
    }
}
