//! The `Host` check ([`HostCheck`]): which names and addresses a request may say it is for
//! (DNS rebinding), and the parser of a `Host` value.
//!
//! Layer: apps (part of [`http`](super)).

use super::*;

/// Which `Host` values a service answers: the guard of a service on loopback against DNS
/// rebinding.
///
/// A web page cannot read a cross-origin answer, but it can make its own name resolve first to
/// its server and then to `127.0.0.1` (DNS rebinding): the browser then sends the page's
/// requests to the local service, as same-origin, with the page's name in `Host`. So the
/// default, [`local`](Self::local), accepts only what no such page can have as its name: an
/// IP literal (`127.0.0.1`, `[::1]`; a browser never looks those up) and `localhost`, each with
/// or without a port, in any case, with or without a trailing dot. Every other name is
/// refused unless [`allow`](Self::allow)ed; [`any`](Self::any) turns the check off, for a
/// service behind a reverse proxy that checks `Host` itself. A request without `Host` (HTTP/1.0
/// may leave it out; no browser does) is not this check's business.
///
/// ```
/// use greenfetch_web::server::http::HostCheck;
///
/// let local = HostCheck::default();
/// for host in ["127.0.0.1:8080", "[::1]:8080", "10.0.0.5", "localhost", "LOCALHOST.:8080"] {
///     assert!(local.allows(host), "{host}");
/// }
/// for host in ["evil.test", "evil.test:8080", "localhost.evil.test", "127.0.0.1.evil.test", ""] {
///     assert!(!local.allows(host), "{host}");
/// }
/// let named = HostCheck::local().allow("Feeds.Example.org")?;
/// assert!(named.allows("feeds.example.org.:443") && !named.allows("example.org"));
/// assert!(HostCheck::any().allows("evil.test"));
/// assert!(HostCheck::local().allow("feeds.example.org:443").is_err()); // names, not ports
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCheck {
    pub(super) any: bool,
    /// Extra names, lowercase, without a trailing dot.
    pub(super) names: Vec<String>,
}

impl Default for HostCheck {
    /// [`HostCheck::local`].
    fn default() -> Self {
        HostCheck::local()
    }
}

impl HostCheck {
    /// IP literals and `localhost` only (the default).
    ///
    /// ```
    /// assert!(greenfetch_web::server::http::HostCheck::local().allows("127.0.0.1:80"));
    /// ```
    pub fn local() -> Self {
        HostCheck {
            any: false,
            names: Vec::new(),
        }
    }

    /// Every `Host`: no check (for a service behind a proxy that checks `Host` itself).
    ///
    /// ```
    /// assert!(greenfetch_web::server::http::HostCheck::any().allows("anything.test"));
    /// ```
    pub fn any() -> Self {
        HostCheck {
            any: true,
            names: Vec::new(),
        }
    }

    /// Accepts `name` too, on any port. Case and one trailing dot do not matter; an IP
    /// literal or `localhost` is accepted already. Names are matched whole: allowing
    /// `example.org` does not allow `feeds.example.org`. An error (a message) if `name` is not
    /// a host name, or comes with a port.
    ///
    /// ```
    /// use greenfetch_web::server::http::HostCheck;
    /// let check = HostCheck::local().allow("feeds.example.org")?;
    /// assert!(check.allows("FEEDS.example.org:8080"));
    /// assert!(HostCheck::local().allow("not a name").is_err());
    /// # Ok::<(), String>(())
    /// ```
    pub fn allow(mut self, name: &str) -> Result<Self, String> {
        let bad = |why: &str| {
            Err(format!(
                "{name:?} {why}: expected a host name such as feeds.example.org, without a port"
            ))
        };
        match parse_host(name) {
            Some((_, Some(_))) => bad("has a port"),
            Some((HostKind::Ip, None)) => Ok(self), // accepted anyway
            Some((HostKind::Name(n), None)) => {
                let n = n.strip_suffix('.').unwrap_or(n);
                if n.is_empty() {
                    return bad("is empty");
                }
                if n.contains('*') {
                    return bad("is a wildcard (HostCheck::any accepts every Host)");
                }
                if !dns_name(n) {
                    return bad("is not a host name");
                }
                let n = n.to_ascii_lowercase();
                if !self.names.contains(&n) {
                    self.names.push(n);
                }
                Ok(self)
            }
            None => bad("is not a host name"),
        }
    }

    /// Whether a request with this `Host` value (port included) is answered.
    ///
    /// See the [type's example](Self).
    pub fn allows(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        match parse_host(host) {
            Some((HostKind::Ip, _)) => true,
            Some((HostKind::Name(n), _)) => {
                let n = n.strip_suffix('.').unwrap_or(n);
                n.eq_ignore_ascii_case("localhost")
                    || self.names.iter().any(|a| a.eq_ignore_ascii_case(n))
            }
            None => false,
        }
    }
}

/// The host part of a `Host` value or an authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HostKind<'a> {
    /// An IPv4 address (a trailing dot allowed), or an IPv6 address in brackets.
    Ip,
    /// A registered name, as sent (any case, maybe a trailing dot, maybe empty).
    Name(&'a str),
}

/// Splits `uri-host [":" port]` (RFC 9110 §7.2) into the host and the port (`None` without a
/// `:`); `None` if it is not that: a character a host name cannot have, an IPv6 address out of
/// brackets or not an address inside them, a port that is not one.
pub(super) fn parse_host(value: &str) -> Option<(HostKind<'_>, Option<&str>)> {
    let value = value.trim_matches([' ', '\t']);
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        inside.parse::<Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (HostKind::Ip, port)
    } else {
        let (name, port) = match value.rsplit_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (value, None),
        };
        // reg-name: unreserved, pct-encoded, sub-delims (so no `:`, `@`, `/`, space, `<`).
        let ok = |b: u8| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b);
        if !name.bytes().all(ok) {
            return None;
        }
        let bare = name.strip_suffix('.').unwrap_or(name);
        if bare.parse::<Ipv4Addr>().is_ok() {
            (HostKind::Ip, port)
        } else {
            (HostKind::Name(name), port)
        }
    };
    if let Some(p) = port {
        let digits = p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
        if !digits || p.parse::<u32>().is_ok_and(|n| n > 65535) {
            return None;
        }
    }
    Some((host, port))
}

/// Made of what DNS names are made of: a reg-name's `%`, `!`, `(` ... would be nothing to
/// allow (no client sends them).
pub(super) fn dns_name(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
}

/// The name that [`HostCheck::allow`] would take to accept this `Host` (`--allow-host NAME`):
/// the host without its port and trailing dot; `None` for an IP literal, an empty name, or
/// one `allow` would not take.
pub(crate) fn host_name(value: &str) -> Option<&str> {
    match parse_host(value)? {
        (HostKind::Name(n), _) => {
            let n = n.strip_suffix('.').unwrap_or(n);
            (!n.is_empty() && dns_name(n)).then_some(n)
        }
        (HostKind::Ip, _) => None,
    }
}
