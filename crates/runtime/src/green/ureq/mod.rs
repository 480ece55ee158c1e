//! A green `ureq` 3 agent: eventlet's `monkey_patch` for an HTTP client, done by construction.
//!
//! [`agent`] builds a `ureq::Agent` whose connections are `may::net::TcpStream`s (TLS by rustls
//! chained on top), whose names are resolved off the worker threads ([`GreenResolver`]), and
//! whose idle connections are pooled per host ([`transport`](self) docs say why). Blocking calls
//! on it (`agent.get(url).call()`, reading the body) park only the calling green thread, so a
//! `GreenPool` of 10,000 can have 10,000 requests in flight on two worker threads.
//!
//! An agent can be told which addresses it may connect to ([`AddressPolicy`], checked on every
//! address the transport connects to, after resolution and on every redirect hop): `greenfetch
//! serve` refuses loopback, private and link-local targets that way.
//!
//! **Semver note.** This adapter implements ureq's `unversioned` transport traits, which ureq
//! may change in a minor release; greenfetch pins `ureq = "=3.5.2"`. Treat a ureq bump as a port.
//!
//! # Examples
//!
//! ```no_run
//! use greenfetch_runtime::{green, GreenPool};
//!
//! let agent = green::ureq::agent(green::ureq::AgentConfig::default());
//! let pool = GreenPool::new(100);
//! let urls = vec!["http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b"];
//! for len in pool.imap(move |url| {
//!     agent.get(url).call().and_then(|mut r| r.body_mut().read_to_vec()).map(|b| b.len())
//! }, urls) {
//!     println!("{:?}", len);
//! }
//! ```

pub mod policy;
pub mod resolver;
mod transport;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use policy::{AddressPolicy, Forbidden, non_global_reason};
pub use resolver::{GreenResolver, LookupFn};
use transport::{GreenConnector, TransportSettings};
use ureq::Agent;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// How a green agent behaves. `Default` suits a fetch pipeline of up to a few hundred
/// concurrent requests; set the idle limit to your concurrency for more.
///
/// ```
/// use std::time::Duration;
/// let cfg = greenfetch_runtime::green::ureq::AgentConfig {
///     timeout: Some(Duration::from_secs(5)),
///     ..Default::default()
/// };
/// let _agent = greenfetch_runtime::green::ureq::agent(cfg);
/// ```
#[derive(Clone)]
pub struct AgentConfig {
    /// Whole-request limit: connect, send, headers and body (`None`: no limit).
    pub timeout: Option<Duration>,
    /// Limit on establishing the TCP (and TLS) connection.
    pub connect_timeout: Option<Duration>,
    /// Redirects followed before `TooManyRedirects` (0: none followed, the 3xx is returned).
    pub max_redirects: u32,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Idle keep-alive connections kept per host.
    pub max_idle_per_host: usize,
    /// Idle keep-alive connections kept over all hosts (at least `max_idle_per_host`). Idle
    /// connections older than `max_idle_age` are also dropped everywhere, every
    /// `max_idle_age`, so hosts never visited again do not keep theirs.
    pub max_idle_total: usize,
    /// How long an idle connection is kept.
    pub max_idle_age: Duration,
    /// Connects in flight at once (a storm of them overflows the peer's accept backlog).
    pub connect_limit: usize,
    /// Bytes of read buffer per connection (memory per in-flight request).
    pub input_buffer: usize,
    /// Bytes of write buffer per connection.
    pub output_buffer: usize,
    /// Trust roots (DER certificates) for `https`. Empty: the web's roots (Mozilla's list,
    /// built in). Non-empty: exactly these (a private CA, or a test certificate).
    pub roots: Vec<Vec<u8>>,
    /// The resolver (shared cache); replace it to map names in tests.
    pub resolver: GreenResolver,
    /// Which addresses may be connected to (default: all), checked on the target's own
    /// address: a green agent connects directly and reads no proxy from the environment (for
    /// proxies, use greenfetch-web's `client`).
    pub address_policy: AddressPolicy,
}

impl fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentConfig")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_redirects", &self.max_redirects)
            .field("user_agent", &self.user_agent)
            .field("max_idle_per_host", &self.max_idle_per_host)
            .field("connect_limit", &self.connect_limit)
            .field("roots", &self.roots.len())
            .field("address_policy", &self.address_policy)
            .finish()
    }
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            timeout: Some(Duration::from_secs(30)),
            connect_timeout: Some(Duration::from_secs(10)),
            max_redirects: 10,
            user_agent: format!("greenfetch/{}", env!("CARGO_PKG_VERSION")),
            max_idle_per_host: 256,
            max_idle_total: 1024,
            max_idle_age: Duration::from_secs(30),
            connect_limit: 512,
            input_buffer: 16 * 1024,
            output_buffer: 4 * 1024,
            roots: Vec::new(),
            resolver: GreenResolver::new(),
            address_policy: AddressPolicy::default(),
        }
    }
}

/// A green agent plus a view of its connection pool.
///
/// Derefs to `ureq::Agent`; clones share connections.
///
/// ```
/// let agent = greenfetch_runtime::green::ureq::agent(Default::default());
/// assert_eq!(agent.connections_opened(), 0);
/// ```
#[derive(Clone)]
pub struct GreenAgent {
    agent: Agent,
    pool: Arc<transport::Pool>,
}

impl fmt::Debug for GreenAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenAgent")
            .field("opened", &self.pool.opened())
            .field("idle", &self.pool.idle())
            .finish()
    }
}

impl std::ops::Deref for GreenAgent {
    type Target = Agent;
    fn deref(&self) -> &Agent {
        &self.agent
    }
}

impl GreenAgent {
    /// TCP connections opened so far (a measure of keep-alive reuse).
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::green::ureq::agent(Default::default()).connections_opened(), 0);
    /// ```
    pub fn connections_opened(&self) -> u64 {
        self.pool.opened()
    }

    /// Idle keep-alive connections held now.
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::green::ureq::agent(Default::default()).idle_connections(), 0);
    /// ```
    pub fn idle_connections(&self) -> usize {
        self.pool.idle()
    }
}

/// Builds a green `ureq` agent (see the [module docs](self)).
///
/// ```
/// let agent = greenfetch_runtime::green::ureq::agent(greenfetch_runtime::green::ureq::AgentConfig::default());
/// let _ = agent.get("http://127.0.0.1:9/"); // nothing is sent until `call()`
/// ```
pub fn agent(cfg: AgentConfig) -> GreenAgent {
    crate::hub::ensure_started();
    let roots: Vec<Certificate<'static>> = cfg
        .roots
        .iter()
        .map(|der| Certificate::from_der(der).to_owned())
        .collect();
    let root_certs = if roots.is_empty() {
        RootCerts::WebPki
    } else {
        RootCerts::new_with_certs(&roots)
    };
    let tls = TlsConfig::builder().root_certs(root_certs).build();
    let mut config = Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(cfg.timeout)
        .timeout_connect(cfg.connect_timeout)
        .max_redirects(cfg.max_redirects)
        .max_redirects_will_error(true)
        .save_redirect_history(true)
        .user_agent(cfg.user_agent.as_str())
        .tls_config(tls)
        // Our connector pools per host; ureq's own pool stays empty (see `transport`).
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .input_buffer_size(cfg.input_buffer)
        .output_buffer_size(cfg.output_buffer);
    // The green connector connects to the target itself: ureq's proxy (read from the
    // environment by default) would only make it look up nothing and fail. Proxies are the
    // business of greenfetch-web's `client`.
    config = config.proxy(None);
    let config = config.build();
    let connector = GreenConnector::new(
        TransportSettings {
            input_buffer: cfg.input_buffer,
            output_buffer: cfg.output_buffer,
            max_idle_per_host: cfg.max_idle_per_host,
            max_idle_total: cfg.max_idle_total,
            max_idle_age: cfg.max_idle_age,
            connect_limit: cfg.connect_limit,
        },
        cfg.address_policy,
    );
    let pool = connector.pool_handle();
    GreenAgent {
        agent: Agent::with_parts(config, connector, cfg.resolver),
        pool,
    }
}
