//! Blocking libraries made coroutine-aware: eventlet's `green` package, the Rust way.
//!
//! eventlet patches the standard library's sockets at run time (`monkey_patch`). Rust has
//! nothing to patch: a library is "green" when its I/O goes through may's cooperative sockets,
//! which park the calling green thread instead of the worker thread. This module adapts the
//! blocking HTTP client `ureq` 3 that way ([`ureq`]: a transport over
//! `may::net::TcpStream`, a resolver that keeps DNS off the workers, a per-host connection pool)
//! and gives eventlet's `wrap_ssl` ([`tls`]: rustls over may sockets). Under them, and under
//! greenfetch's own client and servers, [`stream`]: a may TCP stream held to read and write
//! deadlines.
//!
//! Every adapter here keeps may's rules: nothing blocks a worker thread, and nothing that yields
//! runs while a `std` lock is held.
//!
//! Layer: networking (uses the runtime and primitives, `may::net`, `ureq::unversioned`,
//! `rustls`).

pub mod stream;
pub mod tls;
pub mod ureq;
