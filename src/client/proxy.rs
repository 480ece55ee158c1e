//! TEMPORARY stand-in (replaced by the proxy helper's module).
#![allow(missing_docs, dead_code)]
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyScheme {
    Http,
    Socks5,
    Socks5h,
}
#[derive(Debug, Clone)]
pub struct ProxyUrl {
    scheme: ProxyScheme,
    host: String,
    port: u16,
}
impl ProxyUrl {
    pub fn scheme(&self) -> ProxyScheme {
        self.scheme
    }
    pub fn host(&self) -> &str {
        &self.host
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn authorization(&self) -> Option<String> {
        None
    }
}
impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}:{}", self.host, self.port)
    }
}
#[derive(Debug, Clone, Default)]
pub struct Proxies;
impl Proxies {
    pub fn none() -> Self {
        Proxies
    }
    pub fn from_env(_g: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        Ok(Proxies)
    }
    pub fn with_overrides(self, _p: Option<&str>, _n: Option<&str>) -> Result<Self, String> {
        Ok(self)
    }
    pub fn for_url(&self, _https: bool, _host: &str) -> Option<&ProxyUrl> {
        None
    }
}
#[derive(Debug)]
pub enum Socks5Target<'a> {
    Name(&'a str, u16),
    Addr(SocketAddr),
}
#[derive(Debug)]
pub struct ProxyError {
    message: String,
    io: Option<io::Error>,
}
impl ProxyError {
    pub fn io(&self) -> Option<&io::Error> {
        self.io.as_ref()
    }
}
impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
pub fn http_connect<S: Read + Write>(
    _s: &mut S,
    _p: &ProxyUrl,
    _h: &str,
    _port: u16,
    _ua: &str,
) -> Result<(), ProxyError> {
    Ok(())
}
pub fn socks5_connect<S: Read + Write>(
    _s: &mut S,
    _p: &ProxyUrl,
    _t: Socks5Target<'_>,
) -> Result<(), ProxyError> {
    Ok(())
}
