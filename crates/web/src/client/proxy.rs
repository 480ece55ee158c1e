//! Proxies as curl reads and uses them: which proxy a URL goes through ([`Proxies`]), and the
//! handshakes that open a path through one ([`http_connect`], [`socks5_connect`],
//! [`socks4_connect`]).
//!
//! Which proxy, by curl's rules:
//!
//! - From the environment: `http_proxy` for `http://` URLs, in lower case only (curl ignores
//!   `HTTP_PROXY`, which a CGI environment lets a client set through a `Proxy:` request
//!   header); `https_proxy` or `HTTPS_PROXY` for `https://`; `all_proxy` or `ALL_PROXY` for
//!   either when its own variable is unset. An empty variable counts as unset.
//! - `no_proxy`/`NO_PROXY` (or `--noproxy`, which replaces it) lists hosts reached directly:
//!   `*` for all; a name matches itself and its subdomains (a leading `.` is ignored); an IP
//!   address matches itself, a CIDR range (`10.0.0.0/8`, `::1/128`) the addresses in it.
//!   Entries are separated by commas or spaces.
//! - `-x/--proxy URL` replaces the environment's proxies for every URL (the no-proxy list
//!   still applies, as in curl); `--proxy ''` turns proxies off altogether.
//!
//! A proxy URL is `[SCHEME://][USER[:PASSWORD]@]HOST[:PORT]`: `http` (the default),
//! `socks5` (names resolved here), `socks5h` (names resolved by the proxy), `socks4` and
//! `socks4a`; the port defaults to 1080 as in curl. Credentials are percent-decoded; they are
//! sent as `Proxy-Authorization: Basic` to an HTTP proxy and as RFC 1929 username/password to
//! a SOCKS5 one, and never shown: a proxy's [`Display`](fmt::Display) has no credentials.
//!
//! Layer: networking.
//!
//! # Examples
//!
//! ```
//! use greenfetch_web::client::proxy::Proxies;
//!
//! let env = |name: &str| match name {
//!     "http_proxy" => Some("127.0.0.1:3128".to_owned()),
//!     "HTTP_PROXY" => Some("http://127.0.0.1:9".to_owned()), // ignored, as curl does
//!     "NO_PROXY" => Some("localhost, .internal.test, 10.0.0.0/8".to_owned()),
//!     _ => None,
//! };
//! let proxies = Proxies::from_env(env).unwrap();
//! let p = proxies.for_url(false, "127.0.0.2").unwrap();
//! assert_eq!(p.to_string(), "http://127.0.0.1:3128");
//! assert!(proxies.for_url(true, "127.0.0.2").is_none()); // no https_proxy, no all_proxy
//! assert!(proxies.for_url(false, "a.internal.test").is_none());
//! assert!(proxies.for_url(false, "10.1.2.3").is_none());
//!
//! let off = proxies.with_overrides(Some(""), None).unwrap();
//! assert!(off.for_url(false, "127.0.0.2").is_none());
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};

/// The kind of proxy.
///
/// ```
/// use greenfetch_web::client::proxy::{ProxyScheme, ProxyUrl};
/// assert_eq!(ProxyUrl::parse("socks5h://127.0.0.1").unwrap().scheme(), ProxyScheme::Socks5h);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyScheme {
    /// An HTTP proxy: absolute-form requests for `http://`, `CONNECT` tunnels for `https://`.
    Http,
    /// SOCKS5, target names resolved here.
    Socks5,
    /// SOCKS5, target names resolved by the proxy.
    Socks5h,
    /// SOCKS4, target names resolved here (IPv4 only).
    Socks4,
    /// SOCKS4a, target names resolved by the proxy.
    Socks4a,
}

impl ProxyScheme {
    fn as_str(self) -> &'static str {
        match self {
            ProxyScheme::Http => "http",
            ProxyScheme::Socks5 => "socks5",
            ProxyScheme::Socks5h => "socks5h",
            ProxyScheme::Socks4 => "socks4",
            ProxyScheme::Socks4a => "socks4a",
        }
    }
}

/// One proxy: its kind, address and credentials.
///
/// ```
/// use greenfetch_web::client::proxy::ProxyUrl;
/// let p = ProxyUrl::parse("http://me:s%40cret@127.0.0.1:8080").unwrap();
/// assert_eq!((p.host(), p.port()), ("127.0.0.1", 8080));
/// assert_eq!(p.to_string(), "http://127.0.0.1:8080"); // no credentials shown
/// assert_eq!(p.authorization().as_deref(), Some("Basic bWU6c0BjcmV0"));
/// assert!(ProxyUrl::parse("ftp://127.0.0.1").is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    scheme: ProxyScheme,
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyUrl")
            .field("url", &self.to_string())
            .field("credentials", &self.credentials.is_some())
            .finish()
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)
    }
}

/// curl's default proxy port, whatever the kind.
const DEFAULT_PORT: u16 = 1080;

impl ProxyUrl {
    /// Parses a proxy URL (see the [module docs](self) for the forms accepted).
    ///
    /// ```
    /// use greenfetch_web::client::proxy::ProxyUrl;
    /// assert_eq!(ProxyUrl::parse("127.0.0.1").unwrap().to_string(), "http://127.0.0.1:1080");
    /// assert_eq!(ProxyUrl::parse("socks5://[::1]:9050").unwrap().host(), "[::1]");
    /// assert!(ProxyUrl::parse("http://").is_err());
    /// assert!(ProxyUrl::parse("http://a b").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<ProxyUrl, String> {
        let text = text.trim();
        let (scheme, rest) = match text.split_once("://") {
            Some((s, rest)) => {
                let scheme = match s.to_ascii_lowercase().as_str() {
                    "http" => ProxyScheme::Http,
                    "socks5" => ProxyScheme::Socks5,
                    "socks5h" => ProxyScheme::Socks5h,
                    "socks4" => ProxyScheme::Socks4,
                    "socks4a" => ProxyScheme::Socks4a,
                    "https" => {
                        return Err(format!(
                            "{text:?}: proxies spoken to over TLS (https://) are not supported; \
                             use http://, socks5:// or socks5h://"
                        ));
                    }
                    other => {
                        return Err(format!(
                            "{text:?}: unknown proxy scheme {other:?} (http, socks5, socks5h, \
                             socks4, socks4a)"
                        ));
                    }
                };
                (scheme, rest)
            }
            None => (ProxyScheme::Http, text),
        };
        // A trailing path (`http://host:3128/`) is allowed and ignored, as curl does.
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        // A scheme with no default port, so that the port given (even 80) is the one read.
        let url = url::Url::parse(&format!("proxy://{hostport}/"))
            .map_err(|e| format!("{text:?} is not a proxy URL ({e})"))?;
        let host = match url.host() {
            Some(url::Host::Ipv6(a)) => format!("[{a}]"),
            Some(h) => h.to_string().to_ascii_lowercase(),
            None => String::new(),
        };
        if host.is_empty() {
            return Err(format!("{text:?} has no host"));
        }
        let port = url.port().unwrap_or(DEFAULT_PORT);
        let credentials = userinfo.map(|u| {
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            match u.split_once(':') {
                Some((user, pass)) => (dec(user), dec(pass)),
                None => (dec(u), String::new()),
            }
        });
        Ok(ProxyUrl {
            scheme,
            host,
            port,
            credentials,
        })
    }

    /// The kind of proxy.
    ///
    /// See [`ProxyUrl::parse`].
    pub fn scheme(&self) -> ProxyScheme {
        self.scheme
    }

    /// The proxy's host: a name, an IPv4 address, or an IPv6 address in brackets.
    ///
    /// See [`ProxyUrl::parse`].
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    ///
    /// See [`ProxyUrl::parse`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `Proxy-Authorization` value for an HTTP proxy with credentials.
    ///
    /// See [`ProxyUrl`].
    pub fn authorization(&self) -> Option<String> {
        use base64::Engine;
        let (user, pass) = self.credentials.as_ref()?;
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        ))
    }
}

/// One entry of a no-proxy list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bypass {
    /// `*`: every host.
    All,
    /// A name and its subdomains (lower case, no leading or trailing dot).
    Name(String),
    /// An address range: the network and its prefix length.
    Net(IpAddr, u8),
}

/// Hosts reached without a proxy (curl's `NO_PROXY`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct NoProxy(Vec<Bypass>);

impl NoProxy {
    fn parse(list: &str) -> NoProxy {
        let mut out = Vec::new();
        for entry in list.split([',', ' ', '\t']).map(str::trim) {
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                out.push(Bypass::All);
                continue;
            }
            let bare = entry.trim_start_matches('[');
            let (addr, bits) = match bare.split_once('/') {
                Some((a, b)) => (a.trim_end_matches(']'), b.parse::<u8>().ok()),
                None => (bare.trim_end_matches(']'), None),
            };
            if let Ok(ip) = addr.parse::<IpAddr>() {
                let max = if ip.is_ipv4() { 32 } else { 128 };
                out.push(Bypass::Net(ip, bits.unwrap_or(max).min(max)));
                continue;
            }
            let name = entry.trim_start_matches('.').trim_end_matches('.');
            if !name.is_empty() {
                out.push(Bypass::Name(name.to_ascii_lowercase()));
            }
        }
        NoProxy(out)
    }

    fn matches(&self, host: &str) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.0.iter().any(|b| match (b, ip) {
            (Bypass::All, _) => true,
            (Bypass::Net(net, bits), Some(ip)) => in_network(ip, *net, *bits),
            (Bypass::Net(..), None) => false,
            (Bypass::Name(n), _) => {
                host == *n
                    || (host.len() > n.len()
                        && host.ends_with(n.as_str())
                        && host.as_bytes()[host.len() - n.len() - 1] == b'.')
            }
        })
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Which proxy each URL goes through: the environment's (curl's variables) or the command
/// line's, and the hosts reached directly.
///
/// ```
/// use greenfetch_web::client::proxy::Proxies;
/// let p = Proxies::none().with_overrides(Some("socks5h://127.0.0.1:9050"), Some("127.0.0.1")).unwrap();
/// assert_eq!(p.for_url(true, "[::1]").unwrap().to_string(), "socks5h://127.0.0.1:9050");
/// assert!(p.for_url(true, "127.0.0.1").is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxies {
    http: Option<ProxyUrl>,
    https: Option<ProxyUrl>,
    no_proxy: NoProxy,
}

impl Proxies {
    /// No proxy for any URL.
    ///
    /// ```
    /// assert!(greenfetch_web::client::proxy::Proxies::none().is_none());
    /// ```
    pub fn none() -> Self {
        Proxies::default()
    }

    /// True when no URL goes through a proxy.
    ///
    /// ```
    /// assert!(greenfetch_web::client::proxy::Proxies::none().is_none());
    /// ```
    pub fn is_none(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }

    /// The proxies curl would take from the environment, read through `var` (pass
    /// `|n| std::env::var(n).ok()`). A variable that holds no usable proxy URL is an error
    /// naming it.
    ///
    /// See the [module example](self).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |names: &[&str]| -> Result<Option<ProxyUrl>, String> {
            for name in names {
                if let Some(v) = var(name).filter(|v| !v.trim().is_empty()) {
                    return ProxyUrl::parse(&v)
                        .map(Some)
                        .map_err(|e| format!("{name}: {e}"));
                }
            }
            Ok(None)
        };
        let all = get(&["all_proxy", "ALL_PROXY"])?;
        let http = get(&["http_proxy"])?.or_else(|| all.clone());
        let https = get(&["https_proxy", "HTTPS_PROXY"])?.or(all);
        let no_proxy = ["no_proxy", "NO_PROXY"]
            .iter()
            .find_map(|n| var(n).filter(|v| !v.trim().is_empty()))
            .map(|v| NoProxy::parse(&v))
            .unwrap_or_default();
        Ok(Proxies {
            http,
            https,
            no_proxy,
        })
    }

    /// The command line over the environment: `proxy` (`-x`) replaces every proxy (`""`: none
    /// at all), `no_proxy` (`--noproxy`) replaces the no-proxy list.
    ///
    /// See the [module example](self).
    pub fn with_overrides(
        mut self,
        proxy: Option<&str>,
        no_proxy: Option<&str>,
    ) -> Result<Self, String> {
        match proxy.map(str::trim) {
            Some("") => {
                self.http = None;
                self.https = None;
            }
            Some(p) => {
                let p = ProxyUrl::parse(p)?;
                self.http = Some(p.clone());
                self.https = Some(p);
            }
            None => {}
        }
        if let Some(list) = no_proxy {
            self.no_proxy = NoProxy::parse(list);
        }
        Ok(self)
    }

    /// The proxy for a URL with this scheme (`https` or not) and host (as in the URL: an IPv6
    /// address in brackets), or `None` to connect directly.
    ///
    /// See the [module example](self).
    pub fn for_url(&self, https: bool, host: &str) -> Option<&ProxyUrl> {
        let proxy = if https { &self.https } else { &self.http };
        let proxy = proxy.as_ref()?;
        (!self.no_proxy.matches(host)).then_some(proxy)
    }
}

/// What a proxy handshake failed at. `io` holds the socket's error when there was one (a
/// timeout, a reset), for the caller to classify.
#[derive(Debug)]
pub struct ProxyError {
    message: String,
    io: Option<io::Error>,
}

impl ProxyError {
    fn new(message: String) -> Self {
        ProxyError { message, io: None }
    }

    fn io(proxy: &ProxyUrl, doing: &str, e: io::Error) -> Self {
        let why = match e.kind() {
            io::ErrorKind::UnexpectedEof => "it closed the connection".to_owned(),
            io::ErrorKind::ConnectionReset => "it reset the connection".to_owned(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                "it did not answer in time".to_owned()
            }
            _ => e.to_string(),
        };
        ProxyError {
            message: format!("proxy {proxy}: {doing}: {why}"),
            io: Some(e),
        }
    }

    /// The socket error underneath, if any.
    ///
    /// See [`http_connect`].
    pub fn io_error(&self) -> Option<&io::Error> {
        self.io.as_ref()
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.io
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The largest answer head accepted from a proxy's `CONNECT`.
const MAX_CONNECT_HEAD: usize = 64 * 1024;

/// Opens a tunnel to `host:port` through an HTTP proxy (`CONNECT`), on `stream`, which is
/// connected to the proxy. On success the stream carries bytes to and from the target.
///
/// ```
/// use greenfetch_web::client::proxy::{http_connect, ProxyUrl};
/// // A stand-in for a socket: what the proxy answers, and a place for what is sent.
/// struct Wire(std::io::Cursor<Vec<u8>>, Vec<u8>);
/// impl std::io::Read for Wire {
///     fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> { self.0.read(b) }
/// }
/// impl std::io::Write for Wire {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.1.write(b) }
///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// }
/// let proxy = ProxyUrl::parse("http://127.0.0.1:3128").unwrap();
/// let mut ok = Wire(std::io::Cursor::new(b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec()), vec![]);
/// http_connect(&mut ok, &proxy, "127.0.0.1", 443, "greenfetch").unwrap();
/// assert!(ok.1.starts_with(b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n"));
///
/// let mut no = Wire(std::io::Cursor::new(b"HTTP/1.1 403 Forbidden\r\n\r\n".to_vec()), vec![]);
/// let err = http_connect(&mut no, &proxy, "127.0.0.1", 443, "greenfetch").unwrap_err();
/// assert_eq!(err.to_string(),
///     "proxy http://127.0.0.1:3128 refused the tunnel to 127.0.0.1:443: HTTP 403 Forbidden");
/// ```
pub fn http_connect<S: Read + Write>(
    stream: &mut S,
    proxy: &ProxyUrl,
    host: &str,
    port: u16,
    user_agent: &str,
) -> Result<(), ProxyError> {
    let target = format!("{host}:{port}");
    let mut req =
        format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: {user_agent}\r\n");
    if let Some(a) = proxy.authorization() {
        req.push_str("Proxy-Authorization: ");
        req.push_str(&a);
        req.push_str("\r\n");
    }
    req.push_str("Proxy-Connection: Keep-Alive\r\n\r\n");
    stream
        .write_all(req.as_bytes())
        .and_then(|()| stream.flush())
        .map_err(|e| ProxyError::io(proxy, "sending CONNECT", e))?;
    // The answer is read a byte at a time up to its blank line, so that nothing of the
    // tunnel's first bytes is taken from the stream (this happens once a connection).
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !(head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n")) {
        if head.len() >= MAX_CONNECT_HEAD {
            return Err(ProxyError::new(format!(
                "proxy {proxy}: its answer to CONNECT is over {} KiB",
                MAX_CONNECT_HEAD / 1024
            )));
        }
        match stream.read(&mut byte) {
            Ok(0) => {
                return Err(ProxyError::new(format!(
                    "proxy {proxy} closed the connection before answering CONNECT {target}"
                )));
            }
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ProxyError::io(proxy, "reading its answer to CONNECT", e)),
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => {
            let shown = String::from_utf8_lossy(&head[..head.len().min(60)]).into_owned();
            return Err(ProxyError::new(format!(
                "proxy {proxy} answered CONNECT with something that is not HTTP: {:?}",
                shown.trim_end()
            )));
        }
    }
    let code = resp.code.unwrap_or(0);
    if (200..300).contains(&code) {
        return Ok(());
    }
    let reason = resp.reason.unwrap_or("").trim();
    let what = if code == 407 {
        if proxy.credentials.is_some() {
            "rejected the credentials given for it".to_owned()
        } else {
            "wants credentials (give them in the proxy URL: http://USER:PASSWORD@HOST:PORT)"
                .to_owned()
        }
    } else {
        format!("refused the tunnel to {target}")
    };
    Err(ProxyError::new(
        format!("proxy {proxy} {what}: HTTP {code} {reason}")
            .trim_end()
            .to_owned(),
    ))
}

/// Where a SOCKS proxy should connect: a name it resolves, or an address resolved here.
#[derive(Debug, Clone, Copy)]
pub enum SocksTarget<'a> {
    /// A host name and port (the proxy resolves the name).
    Name(&'a str, u16),
    /// An address.
    Addr(SocketAddr),
}

impl fmt::Display for SocksTarget<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocksTarget::Name(h, p) => write!(f, "{h}:{p}"),
            SocksTarget::Addr(a) => write!(f, "{a}"),
        }
    }
}

fn read_exact<S: Read>(s: &mut S, buf: &mut [u8], proxy: &ProxyUrl) -> Result<(), ProxyError> {
    s.read_exact(buf)
        .map_err(|e| ProxyError::io(proxy, "reading its SOCKS answer", e))
}

fn send<S: Write>(s: &mut S, bytes: &[u8], proxy: &ProxyUrl) -> Result<(), ProxyError> {
    s.write_all(bytes)
        .and_then(|()| s.flush())
        .map_err(|e| ProxyError::io(proxy, "sending its SOCKS request", e))
}

/// Opens a path to `target` through a SOCKS5 proxy (RFC 1928; RFC 1929 username and password
/// when the proxy URL has credentials), on `stream`, which is connected to the proxy.
///
/// ```
/// use greenfetch_web::client::proxy::{socks5_connect, ProxyUrl, SocksTarget};
/// struct Wire(std::io::Cursor<Vec<u8>>, Vec<u8>);
/// impl std::io::Read for Wire {
///     fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> { self.0.read(b) }
/// }
/// impl std::io::Write for Wire {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.1.write(b) }
///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// }
/// let proxy = ProxyUrl::parse("socks5h://127.0.0.1:1080").unwrap();
/// // "no authentication", then "refused" (5) for the CONNECT.
/// let answer = vec![5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0];
/// let mut w = Wire(std::io::Cursor::new(answer), vec![]);
/// let err = socks5_connect(&mut w, &proxy, SocksTarget::Name("origin.test", 80)).unwrap_err();
/// assert_eq!(err.to_string(),
///     "proxy socks5h://127.0.0.1:1080 could not connect to origin.test:80: connection refused (SOCKS5 reply 5)");
/// ```
pub fn socks5_connect<S: Read + Write>(
    stream: &mut S,
    proxy: &ProxyUrl,
    target: SocksTarget<'_>,
) -> Result<(), ProxyError> {
    let creds = proxy.credentials.as_ref();
    let greeting: &[u8] = if creds.is_some() {
        &[5, 2, 0, 2]
    } else {
        &[5, 1, 0]
    };
    send(stream, greeting, proxy)?;
    let mut choice = [0u8; 2];
    read_exact(stream, &mut choice, proxy)?;
    if choice[0] != 5 {
        return Err(ProxyError::new(format!(
            "proxy {proxy} does not speak SOCKS5 (it answered {:#04x})",
            choice[0]
        )));
    }
    match (choice[1], creds) {
        (0, _) => {}
        (2, Some((user, pass))) => {
            if user.len() > 255 || pass.len() > 255 {
                return Err(ProxyError::new(format!(
                    "proxy {proxy}: a SOCKS5 user name or password has at most 255 bytes"
                )));
            }
            let mut auth = vec![1, user.len() as u8];
            auth.extend_from_slice(user.as_bytes());
            auth.push(pass.len() as u8);
            auth.extend_from_slice(pass.as_bytes());
            send(stream, &auth, proxy)?;
            let mut status = [0u8; 2];
            read_exact(stream, &mut status, proxy)?;
            if status[1] != 0 {
                return Err(ProxyError::new(format!(
                    "proxy {proxy} rejected the user name and password"
                )));
            }
        }
        (2, None) => {
            return Err(ProxyError::new(format!(
                "proxy {proxy} wants a user name and password (give them in the proxy URL: \
                 socks5://USER:PASSWORD@HOST:PORT)"
            )));
        }
        _ => {
            return Err(ProxyError::new(format!(
                "proxy {proxy} accepts none of the SOCKS5 authentication methods offered"
            )));
        }
    }
    let mut req = vec![5, 1, 0];
    let port = match target {
        SocksTarget::Name(host, port) => {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            match host.parse::<IpAddr>() {
                Ok(ip) => push_ip(&mut req, ip),
                Err(_) => {
                    if host.len() > 255 {
                        return Err(ProxyError::new(format!(
                            "proxy {proxy}: a host name of {} bytes is too long for SOCKS5",
                            host.len()
                        )));
                    }
                    req.push(3);
                    req.push(host.len() as u8);
                    req.extend_from_slice(host.as_bytes());
                }
            }
            port
        }
        SocksTarget::Addr(a) => {
            push_ip(&mut req, a.ip());
            a.port()
        }
    };
    req.extend_from_slice(&port.to_be_bytes());
    send(stream, &req, proxy)?;
    let mut reply = [0u8; 4];
    read_exact(stream, &mut reply, proxy)?;
    if reply[0] != 5 {
        return Err(ProxyError::new(format!(
            "proxy {proxy} broke the SOCKS5 protocol (reply version {:#04x})",
            reply[0]
        )));
    }
    if reply[1] != 0 {
        let why = match reply[1] {
            1 => "general failure",
            2 => "not allowed by its rules",
            3 => "network unreachable",
            4 => "host unreachable",
            5 => "connection refused",
            6 => "TTL expired",
            7 => "command not supported",
            8 => "address type not supported",
            _ => "unknown reply",
        };
        return Err(ProxyError::new(format!(
            "proxy {proxy} could not connect to {target}: {why} (SOCKS5 reply {})",
            reply[1]
        )));
    }
    // The bound address, whose length depends on its type, then the port.
    let rest = match reply[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => {
            let mut len = [0u8; 1];
            read_exact(stream, &mut len, proxy)?;
            usize::from(len[0]) + 2
        }
        t => {
            return Err(ProxyError::new(format!(
                "proxy {proxy} broke the SOCKS5 protocol (address type {t})"
            )));
        }
    };
    let mut skip = vec![0u8; rest];
    read_exact(stream, &mut skip, proxy)
}

fn push_ip(req: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            req.push(1);
            req.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            req.push(4);
            req.extend_from_slice(&a.octets());
        }
    }
}

/// Opens a path to `target` through a SOCKS4 proxy (SOCKS4a when `target` is a name), on
/// `stream`, which is connected to the proxy. SOCKS4 has no IPv6; the proxy URL's user name
/// is sent as the user id.
///
/// ```
/// use greenfetch_web::client::proxy::{socks4_connect, ProxyUrl, SocksTarget};
/// struct Wire(std::io::Cursor<Vec<u8>>, Vec<u8>);
/// impl std::io::Read for Wire {
///     fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> { self.0.read(b) }
/// }
/// impl std::io::Write for Wire {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.1.write(b) }
///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// }
/// let proxy = ProxyUrl::parse("socks4://127.0.0.1").unwrap();
/// let mut w = Wire(std::io::Cursor::new(vec![0, 90, 0, 0, 0, 0, 0, 0]), vec![]);
/// let to = "127.0.0.1:8080".parse().unwrap();
/// socks4_connect(&mut w, &proxy, SocksTarget::Addr(to)).unwrap();
/// assert_eq!(w.1, [4, 1, 0x1f, 0x90, 127, 0, 0, 1, 0]);
/// ```
pub fn socks4_connect<S: Read + Write>(
    stream: &mut S,
    proxy: &ProxyUrl,
    target: SocksTarget<'_>,
) -> Result<(), ProxyError> {
    let user = proxy.credentials.as_ref().map_or("", |(u, _)| u.as_str());
    let mut req = vec![4, 1];
    let mut name = None;
    match target {
        SocksTarget::Addr(SocketAddr::V4(a)) => {
            req.extend_from_slice(&a.port().to_be_bytes());
            req.extend_from_slice(&a.ip().octets());
        }
        SocksTarget::Addr(SocketAddr::V6(a)) => {
            return Err(ProxyError::new(format!(
                "proxy {proxy}: SOCKS4 cannot reach the IPv6 address {a}"
            )));
        }
        SocksTarget::Name(host, port) => {
            req.extend_from_slice(&port.to_be_bytes());
            req.extend_from_slice(&[0, 0, 0, 1]); // SOCKS4a: "the name follows"
            name = Some(host);
        }
    }
    req.extend_from_slice(user.as_bytes());
    req.push(0);
    if let Some(n) = name {
        req.extend_from_slice(n.as_bytes());
        req.push(0);
    }
    send(stream, &req, proxy)?;
    let mut reply = [0u8; 8];
    read_exact(stream, &mut reply, proxy)?;
    match reply[1] {
        90 => Ok(()),
        code => Err(ProxyError::new(format!(
            "proxy {proxy} could not connect to {target}: {} (SOCKS4 reply {code})",
            match code {
                91 => "request rejected or failed",
                92 | 93 => "the proxy could not check the user id",
                _ => "unknown reply",
            }
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |n| {
            pairs
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn curls_variables_and_their_precedence() {
        // HTTP_PROXY is never read; https_proxy wins over HTTPS_PROXY; the per-scheme
        // variable over all_proxy; empty variables are unset.
        let p = Proxies::from_env(env(&[
            ("HTTP_PROXY", "http://127.0.0.1:1"),
            ("https_proxy", "127.0.0.1:2"),
            ("HTTPS_PROXY", "127.0.0.1:3"),
            ("ALL_PROXY", "socks5://127.0.0.1:4"),
        ]))
        .unwrap();
        assert_eq!(
            p.for_url(false, "h").unwrap().to_string(),
            "socks5://127.0.0.1:4"
        );
        assert_eq!(
            p.for_url(true, "h").unwrap().to_string(),
            "http://127.0.0.1:2"
        );
        let p = Proxies::from_env(env(&[("HTTP_PROXY", "http://127.0.0.1:1")])).unwrap();
        assert!(p.is_none());
        let p =
            Proxies::from_env(env(&[("http_proxy", ""), ("all_proxy", "127.0.0.1:5")])).unwrap();
        assert_eq!(p.for_url(false, "h").unwrap().port(), 5);
        let p = Proxies::from_env(env(&[
            ("all_proxy", "127.0.0.1:5"),
            ("ALL_PROXY", "127.0.0.1:6"),
        ]))
        .unwrap();
        assert_eq!(p.for_url(true, "h").unwrap().port(), 5);
    }

    #[test]
    fn a_bad_variable_is_named() {
        let e = Proxies::from_env(env(&[("https_proxy", "ftp://127.0.0.1")])).unwrap_err();
        assert!(e.starts_with("https_proxy: "), "{e}");
        let e = Proxies::from_env(env(&[("http_proxy", "http://127.0.0.1:99999")])).unwrap_err();
        assert!(e.contains("port"), "{e}");
    }

    #[test]
    fn no_proxy_entries() {
        let n = NoProxy::parse(".Example.test, 10.0.0.0/8 ::1,192.168.1.7, [fd00::]/8, host.");
        for yes in [
            "example.test",
            "a.b.example.test",
            "EXAMPLE.TEST.",
            "10.200.3.4",
            "[::1]",
            "192.168.1.7",
            "[fd12::1]",
            "host",
        ] {
            assert!(n.matches(yes), "{yes}");
        }
        for no in [
            "badexample.test",
            "example.test.evil",
            "11.0.0.1",
            "192.168.1.8",
            "[::2]",
            "ahost",
        ] {
            assert!(!n.matches(no), "{no}");
        }
        assert!(NoProxy::parse("*").matches("anything.test"));
        assert!(!NoProxy::parse("").matches("anything.test"));
        assert!(NoProxy::parse("0.0.0.0/0").matches("8.8.8.8"));
    }

    #[test]
    fn overrides() {
        let base = Proxies::from_env(env(&[
            ("http_proxy", "127.0.0.1:1"),
            ("no_proxy", "a.test"),
        ]))
        .unwrap();
        let x = base
            .clone()
            .with_overrides(Some("socks5h://127.0.0.1:2"), None)
            .unwrap();
        assert_eq!(x.for_url(true, "b.test").unwrap().port(), 2);
        assert!(
            x.for_url(true, "a.test").is_none(),
            "NO_PROXY applies to -x too"
        );
        let x = base.clone().with_overrides(None, Some("")).unwrap();
        assert!(
            x.for_url(false, "a.test").is_some(),
            "--noproxy '' empties the list"
        );
        assert!(base.with_overrides(Some("bad scheme://x"), None).is_err());
    }

    #[test]
    fn proxy_urls() {
        let p = ProxyUrl::parse("HTTP://u@127.0.0.1:80/").unwrap();
        assert_eq!(
            (p.port(), p.authorization().as_deref()),
            (80, Some("Basic dTo="))
        );
        assert_eq!(
            ProxyUrl::parse("[::1]:3128").unwrap().to_string(),
            "http://[::1]:3128"
        );
        assert_eq!(ProxyUrl::parse("[::1]").unwrap().port(), 1080);
        assert_eq!(
            ProxyUrl::parse("socks4a://localhost").unwrap().scheme(),
            ProxyScheme::Socks4a
        );
        assert!(ProxyUrl::parse("https://127.0.0.1").is_err());
        assert!(ProxyUrl::parse("").is_err());
        assert!(ProxyUrl::parse("http://:8080").is_err());
    }

    struct Wire(io::Cursor<Vec<u8>>, Vec<u8>);
    impl Read for Wire {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            self.0.read(b)
        }
    }
    impl Write for Wire {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.1.write(b)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn socks5_with_credentials_and_a_name() {
        let proxy = ProxyUrl::parse("socks5h://me:pw@127.0.0.1").unwrap();
        let answer = vec![5, 2, 1, 0, 5, 0, 0, 3, 4, b'a', b'b', b'c', b'd', 0, 80];
        let mut w = Wire(io::Cursor::new(answer), vec![]);
        socks5_connect(&mut w, &proxy, SocksTarget::Name("h.test", 8080)).unwrap();
        let mut want = vec![5, 2, 0, 2, 1, 2, b'm', b'e', 2, b'p', b'w', 5, 1, 0, 3, 6];
        want.extend_from_slice(b"h.test");
        want.extend_from_slice(&8080u16.to_be_bytes());
        assert_eq!(w.1, want);
        // Everything the proxy sent was consumed: nothing of the tunnel is lost.
        assert_eq!(w.0.position() as usize, w.0.get_ref().len());
    }

    #[test]
    fn socks5_refusals() {
        let proxy = ProxyUrl::parse("socks5://127.0.0.1").unwrap();
        let mut w = Wire(io::Cursor::new(vec![5, 0xff]), vec![]);
        let e = socks5_connect(&mut w, &proxy, SocksTarget::Name("h", 1)).unwrap_err();
        assert!(
            e.to_string().contains("none of the SOCKS5 authentication"),
            "{e}"
        );
        let mut w = Wire(io::Cursor::new(vec![5, 2]), vec![]);
        let e = socks5_connect(&mut w, &proxy, SocksTarget::Name("h", 1)).unwrap_err();
        assert!(e.to_string().contains("wants a user name"), "{e}");
        let mut w = Wire(io::Cursor::new(b"HTTP/1.1 400".to_vec()), vec![]);
        let e = socks5_connect(&mut w, &proxy, SocksTarget::Name("h", 1)).unwrap_err();
        assert!(e.to_string().contains("does not speak SOCKS5"), "{e}");
        let mut w = Wire(io::Cursor::new(vec![5, 0, 5]), vec![]);
        let e = socks5_connect(&mut w, &proxy, SocksTarget::Name("h", 1)).unwrap_err();
        assert!(e.to_string().contains("it closed the connection"), "{e}");
        assert!(e.io_error().is_some());
    }

    #[test]
    fn connect_answers() {
        let proxy = ProxyUrl::parse("http://u:p@127.0.0.1:3128").unwrap();
        let mut w = Wire(
            io::Cursor::new(b"HTTP/1.0 200 OK\r\nX: y\r\n\r\n\x16\x03".to_vec()),
            vec![],
        );
        http_connect(&mut w, &proxy, "[::1]", 8443, "ua").unwrap();
        assert_eq!(w.0.position(), 25, "the tunnel's bytes stay on the stream");
        let sent = String::from_utf8(w.1).unwrap();
        assert!(
            sent.contains("Proxy-Authorization: Basic dTpw\r\n"),
            "{sent}"
        );
        assert!(
            sent.starts_with("CONNECT [::1]:8443 HTTP/1.1\r\n"),
            "{sent}"
        );
        let mut w = Wire(
            io::Cursor::new(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n".to_vec()),
            vec![],
        );
        let e = http_connect(&mut w, &proxy, "h", 443, "ua").unwrap_err();
        assert!(e.to_string().contains("rejected the credentials"), "{e}");
        let mut w = Wire(io::Cursor::new(b"SSH-2.0-OpenSSH\r\n\r\n".to_vec()), vec![]);
        let e = http_connect(&mut w, &proxy, "h", 443, "ua").unwrap_err();
        assert!(e.to_string().contains("not HTTP"), "{e}");
        let mut w = Wire(io::Cursor::new(b"HTTP/1.1 200 OK\r\n".to_vec()), vec![]);
        let e = http_connect(&mut w, &proxy, "h", 443, "ua").unwrap_err();
        assert!(
            e.to_string()
                .contains("closed the connection before answering"),
            "{e}"
        );
    }
}
