//! [`AddressPolicy`]: which addresses a green agent may connect to, checked on the address
//! actually being connected.
//!
//! A service that fetches URLs strangers send (server-side request forgery is the attack) must
//! not let them reach the machine itself, its private network or a cloud metadata endpoint.
//! Checking the URL's host name is not enough: a name can resolve to `127.0.0.1`, resolve to a
//! public address once and a private one the next time (DNS rebinding), or redirect there. So
//! the green transport checks every `SocketAddr` it is about to connect to, after resolution,
//! for every connection it opens: literal addresses, every redirect hop and every advertised
//! feed are covered alike, because ureq connects once per hop. A refused address is an I/O error
//! carrying a [`Forbidden`] (greenfetch-web's error type makes it the kind `forbidden`, never
//! retried).
//!
//! What [`AddressPolicy::public_only`] refuses ([`non_global_reason`] says why, per address):
//!
//! | IPv4 | IPv6 |
//! |---|---|
//! | `0.0.0.0/8` (unspecified, "this network") | `::` (unspecified), `::1` (loopback) |
//! | `127.0.0.0/8` loopback | `::ffff:0:0/96` IPv4-mapped: judged as the IPv4 address inside |
//! | `10/8`, `172.16/12`, `192.168/16` private (RFC 1918) | `::/96` IPv4-compatible (deprecated) |
//! | `100.64.0.0/10` shared address space (CGNAT) | `64:ff9b::/96` NAT64: judged as the IPv4 address inside; `64:ff9b:1::/48` local-use NAT64 |
//! | `169.254.0.0/16` link-local (cloud metadata `169.254.169.254` included) | `fe80::/10` link-local, `fec0::/10` site-local (deprecated) |
//! | `192.0.0.0/24` IETF protocol assignments | `2001::/23` IETF protocol assignments (Teredo included) |
//! | `192.0.2/24`, `198.51.100/24`, `203.0.113/24` documentation | `2001:db8::/32`, `3fff::/20` documentation |
//! | `198.18.0.0/15` benchmarking | `100::/64` discard-only, `5f00::/16` SRv6 |
//! | `192.88.99.0/24` 6to4 relay anycast (deprecated) | `2002::/16` 6to4: judged as the IPv4 address inside |
//! | `224.0.0.0/4` multicast, `240.0.0.0/4` reserved, `255.255.255.255` broadcast | `fc00::/7` unique-local, `ff00::/8` multicast |
//!
//! Exceptions are exact socket addresses ([`AddressPolicy::allow`]), for a known internal
//! service, or a test server on loopback.
//!
//! Layer: networking.
//!
//! # Examples
//!
//! ```
//! use std::net::SocketAddr;
//! use greenfetch_runtime::green::ureq::AddressPolicy;
//!
//! let policy = AddressPolicy::public_only();
//! let metadata: SocketAddr = "169.254.169.254:80".parse().unwrap();
//! assert_eq!(
//!     policy.check(metadata).unwrap_err().to_string(),
//!     "169.254.169.254 is a link-local address (cloud metadata)"
//! );
//! assert!(policy.check("93.184.215.14:443".parse().unwrap()).is_ok());
//! assert!(AddressPolicy::allow_all().check(metadata).is_ok());
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Which addresses an agent may connect to. The default allows every address (what
/// `greenfetch fetch` and `titles` need: they fetch what their own user asks for).
///
/// ```
/// use greenfetch_runtime::green::ureq::{AddressPolicy, AgentConfig};
///
/// let cfg = AgentConfig {
///     address_policy: AddressPolicy::public_only(),
///     ..AgentConfig::default()
/// };
/// assert!(cfg.address_policy.is_restrictive());
/// assert!(!AddressPolicy::default().is_restrictive());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    deny_non_global: bool,
    deny_global: bool,
    allowed: Vec<SocketAddr>,
}

impl AddressPolicy {
    /// Every address is allowed (the default).
    ///
    /// ```
    /// let p = greenfetch_runtime::green::ureq::AddressPolicy::allow_all();
    /// assert!(p.check("127.0.0.1:80".parse().unwrap()).is_ok());
    /// ```
    pub fn allow_all() -> Self {
        AddressPolicy::default()
    }

    /// Only globally reachable addresses are allowed: loopback, private, link-local,
    /// unique-local, multicast and the other ranges in the [module table](self) are refused.
    ///
    /// ```
    /// let p = greenfetch_runtime::green::ureq::AddressPolicy::public_only();
    /// let e = p.check("10.0.0.1:80".parse().unwrap()).unwrap_err();
    /// assert_eq!(e.to_string(), "10.0.0.1 is a private address");
    /// ```
    pub fn public_only() -> Self {
        AddressPolicy {
            deny_non_global: true,
            deny_global: false,
            allowed: Vec::new(),
        }
    }

    /// No address is allowed but the [`allow`](Self::allow) exceptions: an agent that can
    /// reach only a list of known servers (or none, for tests and fuzzing that must never
    /// leave the machine).
    ///
    /// ```
    /// use greenfetch_runtime::green::ureq::AddressPolicy;
    /// let p = AddressPolicy::deny_all().allow("127.0.0.1:8080".parse().unwrap());
    /// assert!(p.check("127.0.0.1:8080".parse().unwrap()).is_ok());
    /// let e = p.check("93.184.215.14:80".parse().unwrap()).unwrap_err();
    /// assert_eq!(e.to_string(), "93.184.215.14 is an address not on the allowed list");
    /// ```
    pub fn deny_all() -> Self {
        AddressPolicy {
            deny_non_global: true,
            deny_global: true,
            allowed: Vec::new(),
        }
    }

    /// Also allows `addr` (an exception to `public_only`). Port 0 matches every port of the
    /// address.
    ///
    /// ```
    /// use greenfetch_runtime::green::ureq::AddressPolicy;
    /// let p = AddressPolicy::public_only().allow("127.0.0.1:8080".parse().unwrap());
    /// assert!(p.check("127.0.0.1:8080".parse().unwrap()).is_ok());
    /// assert!(p.check("127.0.0.1:8081".parse().unwrap()).is_err());
    /// let any_port = AddressPolicy::public_only().allow("10.1.2.3:0".parse().unwrap());
    /// assert!(any_port.check("10.1.2.3:443".parse().unwrap()).is_ok());
    /// ```
    pub fn allow(mut self, addr: SocketAddr) -> Self {
        self.allowed.push(addr);
        self
    }

    /// True when some address would be refused.
    ///
    /// ```
    /// assert!(greenfetch_runtime::green::ureq::AddressPolicy::public_only().is_restrictive());
    /// ```
    pub fn is_restrictive(&self) -> bool {
        self.deny_non_global
    }

    /// Whether the agent may connect to `addr`; the refusal says why.
    ///
    /// An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is judged as the IPv4 address it
    /// carries, and so is an exception for it.
    ///
    /// ```
    /// let p = greenfetch_runtime::green::ureq::AddressPolicy::public_only();
    /// let e = p.check("[::ffff:127.0.0.1]:80".parse().unwrap()).unwrap_err();
    /// assert_eq!(e.to_string(), "::ffff:127.0.0.1 is a loopback address");
    /// ```
    pub fn check(&self, addr: SocketAddr) -> Result<(), Forbidden> {
        if !self.deny_non_global {
            return Ok(());
        }
        let reason = match non_global_reason(addr.ip()) {
            Some(reason) => reason,
            None if self.deny_global => "an address not on the allowed list",
            None => return Ok(()),
        };
        let ip = canonical(addr.ip());
        let excepted = self
            .allowed
            .iter()
            .any(|a| canonical(a.ip()) == ip && (a.port() == 0 || a.port() == addr.port()));
        if excepted {
            Ok(())
        } else {
            Err(Forbidden { addr, reason })
        }
    }
}

/// The IPv4 address inside an IPv4-mapped IPv6 address; any other address as it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A connection refused by an [`AddressPolicy`]: the address, and what kind of address it is.
///
/// ```
/// let p = greenfetch_runtime::green::ureq::AddressPolicy::public_only();
/// let e = p.check("[fd00::1]:443".parse().unwrap()).unwrap_err();
/// assert_eq!(e.reason, "a unique-local address");
/// assert_eq!(e.addr.port(), 443);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forbidden {
    /// The address that was about to be connected to.
    pub addr: SocketAddr,
    /// What kind of address it is ("a private address", "a loopback address", ...).
    pub reason: &'static str,
}

impl fmt::Display for Forbidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is {}", self.addr.ip(), self.reason)
    }
}

impl std::error::Error for Forbidden {}

/// Why `ip` is not a globally reachable address, or `None` if it is one (see the
/// [module table](self)).
///
/// ```
/// use greenfetch_runtime::green::ureq::non_global_reason;
/// assert_eq!(non_global_reason("192.168.1.1".parse().unwrap()), Some("a private address"));
/// assert_eq!(non_global_reason("fe80::1".parse().unwrap()), Some("a link-local address"));
/// assert_eq!(non_global_reason("1.1.1.1".parse().unwrap()), None);
/// assert_eq!(non_global_reason("2606:4700::1111".parse().unwrap()), None);
/// ```
pub fn non_global_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

/// Whether `ip` is in `net`/`len`.
fn in_v4(ip: Ipv4Addr, net: [u8; 4], len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 32, "an unspecified address"),
        ([0, 0, 0, 0], 8, "a \"this network\" address (0.0.0.0/8)"),
        ([127, 0, 0, 0], 8, "a loopback address"),
        ([10, 0, 0, 0], 8, "a private address"),
        ([172, 16, 0, 0], 12, "a private address"),
        ([192, 168, 0, 0], 16, "a private address"),
        ([100, 64, 0, 0], 10, "a shared (CGNAT) address"),
        (
            [169, 254, 169, 254],
            32,
            "a link-local address (cloud metadata)",
        ),
        ([169, 254, 0, 0], 16, "a link-local address"),
        ([192, 0, 0, 0], 24, "an IETF protocol address"),
        ([192, 0, 2, 0], 24, "a documentation address"),
        ([198, 51, 100, 0], 24, "a documentation address"),
        ([203, 0, 113, 0], 24, "a documentation address"),
        ([198, 18, 0, 0], 15, "a benchmarking address"),
        ([192, 88, 99, 0], 24, "a 6to4 relay address (deprecated)"),
        ([255, 255, 255, 255], 32, "the broadcast address"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([240, 0, 0, 0], 4, "a reserved address"),
    ];
    RANGES
        .iter()
        .find(|(net, len, _)| in_v4(ip, *net, *len))
        .map(|(_, _, why)| *why)
}

/// Whether `ip` is in `net`/`len`.
fn in_v6(ip: Ipv6Addr, net: [u16; 8], len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    let bits = u128::from(ip);
    // Prefixes that carry an IPv4 address a gateway would connect to: judge that address.
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return v4_reason(Ipv4Addr::from(bits as u32));
    }
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        return v4_reason(Ipv4Addr::from((bits >> 80) as u32));
    }
    const RANGES: &[([u16; 8], u32, &str)] = &[
        ([0, 0, 0, 0, 0, 0, 0, 0], 128, "an unspecified address"),
        ([0, 0, 0, 0, 0, 0, 0, 1], 128, "a loopback address"),
        (
            [0, 0, 0, 0, 0, 0, 0, 0],
            96,
            "an IPv4-compatible address (deprecated)",
        ),
        (
            [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
            48,
            "a local-use NAT64 address",
        ),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "a discard-only address"),
        (
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
            32,
            "a documentation address",
        ),
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            23,
            "an IETF protocol address",
        ),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "a documentation address"),
        ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "an SRv6 address"),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "a unique-local address"),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "a link-local address"),
        (
            [0xfec0, 0, 0, 0, 0, 0, 0, 0],
            10,
            "a site-local address (deprecated)",
        ),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "a multicast address"),
    ];
    RANGES
        .iter()
        .find(|(net, len, _)| in_v6(ip, *net, *len))
        .map(|(_, _, why)| *why)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(s: &str) -> Option<&'static str> {
        non_global_reason(s.parse().unwrap())
    }

    #[test]
    fn every_ipv4_range_is_refused_at_both_ends() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "0.0.0.1",
                "0.255.255.255",
                "a \"this network\" address (0.0.0.0/8)",
            ),
            ("127.0.0.0", "127.255.255.255", "a loopback address"),
            ("10.0.0.0", "10.255.255.255", "a private address"),
            ("172.16.0.0", "172.31.255.255", "a private address"),
            ("192.168.0.0", "192.168.255.255", "a private address"),
            ("100.64.0.0", "100.127.255.255", "a shared (CGNAT) address"),
            ("169.254.0.0", "169.254.255.255", "a link-local address"),
            ("192.0.0.0", "192.0.0.255", "an IETF protocol address"),
            ("192.0.2.0", "192.0.2.255", "a documentation address"),
            ("198.51.100.0", "198.51.100.255", "a documentation address"),
            ("203.0.113.0", "203.0.113.255", "a documentation address"),
            ("198.18.0.0", "198.19.255.255", "a benchmarking address"),
            (
                "192.88.99.0",
                "192.88.99.255",
                "a 6to4 relay address (deprecated)",
            ),
            ("224.0.0.0", "239.255.255.255", "a multicast address"),
            ("240.0.0.0", "255.255.255.254", "a reserved address"),
        ];
        for (first, last, reason) in cases {
            assert_eq!(why(first), Some(*reason), "{first}");
            assert_eq!(why(last), Some(*reason), "{last}");
        }
        assert_eq!(why("0.0.0.0"), Some("an unspecified address"));
        assert_eq!(why("255.255.255.255"), Some("the broadcast address"));
        assert_eq!(
            why("169.254.169.254"),
            Some("a link-local address (cloud metadata)")
        );
    }

    #[test]
    fn neighbours_of_the_ipv4_ranges_are_global() {
        for ip in [
            "1.0.0.0",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.0.3.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "8.8.8.8",
        ] {
            assert_eq!(why(ip), None, "{ip}");
        }
    }

    #[test]
    fn every_ipv6_range_is_refused() {
        let cases: &[(&str, &str)] = &[
            ("::", "an unspecified address"),
            ("::1", "a loopback address"),
            ("::2", "an IPv4-compatible address (deprecated)"),
            ("::ffff:10.1.2.3", "a private address"),
            ("::ffff:127.0.0.1", "a loopback address"),
            (
                "::ffff:169.254.169.254",
                "a link-local address (cloud metadata)",
            ),
            ("64:ff9b::7f00:1", "a loopback address"),
            ("64:ff9b::a00:1", "a private address"),
            ("64:ff9b:1::1", "a local-use NAT64 address"),
            ("100::1", "a discard-only address"),
            ("2001::1", "an IETF protocol address"),
            ("2001:1ff:ffff::1", "an IETF protocol address"),
            ("2001:db8::1", "a documentation address"),
            ("2002:7f00:1::1", "a loopback address"),
            ("2002:c0a8:101::1", "a private address"),
            ("3fff::1", "a documentation address"),
            ("5f00::1", "an SRv6 address"),
            ("fc00::1", "a unique-local address"),
            ("fdff:ffff::1", "a unique-local address"),
            ("fe80::1", "a link-local address"),
            ("febf:ffff::1", "a link-local address"),
            ("fec0::1", "a site-local address (deprecated)"),
            ("ff02::1", "a multicast address"),
        ];
        for (ip, reason) in cases {
            assert_eq!(why(ip), Some(*reason), "{ip}");
        }
    }

    #[test]
    fn global_ipv6_addresses_pass() {
        for ip in [
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
            "2001:200::1",
            "2001:db7:ffff::1",
            "2001:db9::1",
            "64:ff9b::808:808", // NAT64 of 8.8.8.8
            "2002:808:808::1",  // 6to4 of 8.8.8.8
            "::ffff:8.8.8.8",
            "fbff:ffff::1",
            "fe00::1",
        ] {
            assert_eq!(why(ip), None, "{ip}");
        }
    }

    #[test]
    fn exceptions_match_address_and_port() {
        let p = AddressPolicy::public_only()
            .allow("127.0.0.1:8080".parse().unwrap())
            .allow("[::1]:0".parse().unwrap());
        assert!(p.check("127.0.0.1:8080".parse().unwrap()).is_ok());
        assert!(p.check("[::ffff:127.0.0.1]:8080".parse().unwrap()).is_ok());
        assert!(p.check("127.0.0.1:8081".parse().unwrap()).is_err());
        assert!(p.check("127.0.0.2:8080".parse().unwrap()).is_err());
        assert!(p.check("[::1]:1".parse().unwrap()).is_ok());
        assert!(p.check("[::1]:65535".parse().unwrap()).is_ok());
        let e = p.check("10.0.0.1:80".parse().unwrap()).unwrap_err();
        assert_eq!(e.to_string(), "10.0.0.1 is a private address");
    }
}
