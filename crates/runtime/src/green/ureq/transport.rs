//! The green transport: TCP over `may::net::TcpStream`, TLS (rustls) chained on top, and a
//! connection pool with one idle list per host.
//!
//! ureq's own pool is one list scanned linearly under one mutex, and pruned on every request;
//! with 10,000 idle connections that scan dominated the CPU. [`GreenConnector`] keeps ureq's
//! pool empty and pools finished connections itself, keyed by scheme, host and port: a checkout
//! is a hash lookup and a pop. It learns that ureq considers a connection reusable from the one
//! place ureq says so: ureq calls `Transport::is_open` exactly when it is about to put a cleanly
//! finished connection back. A connection that was never declared reusable is closed on drop.
//!
//! Every address is checked against the agent's [`AddressPolicy`] just before it is connected
//! to; a refusal is an `io::Error` of kind `PermissionDenied` carrying a [`Forbidden`].
//!
//! Layer: networking.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, RustlsConnector, Transport,
};

use super::policy::{AddressPolicy, Forbidden};
use crate::Semaphore;
use crate::green::stream::GreenStream;
use crate::wait::lock;

/// Sizes and limits of the green transport.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TransportSettings {
    pub(crate) input_buffer: usize,
    pub(crate) output_buffer: usize,
    pub(crate) max_idle_per_host: usize,
    /// Idle connections kept over all hosts.
    pub(crate) max_idle_total: usize,
    pub(crate) max_idle_age: Duration,
    pub(crate) connect_limit: usize,
}

/// A plain TCP connection over a green stream.
pub(crate) struct MayTcp {
    stream: GreenStream,
    buffers: LazyBuffers,
}

impl fmt::Debug for MayTcp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MayTcp")
            .field("peer", &self.stream.get_ref().peer_addr().ok())
            .finish()
    }
}

/// ureq's next timeout as a deadline (`None`: none).
fn deadline(t: &NextTimeout) -> Option<Instant> {
    t.not_zero().and_then(|d| Instant::now().checked_add(*d))
}

fn io_to_ureq(e: io::Error, reason: ureq::Timeout) -> ureq::Error {
    if e.kind() == io::ErrorKind::TimedOut {
        ureq::Error::Timeout(reason)
    } else {
        ureq::Error::Io(e)
    }
}

impl Transport for MayTcp {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let t = timeout.for_write();
        if t.after.is_zero() {
            return Err(ureq::Error::Timeout(t.reason));
        }
        self.stream.set_write_deadline(deadline(&t));
        let output = &self.buffers.output()[..amount];
        self.stream
            .write_all(output)
            .map_err(|e| io_to_ureq(e, t.reason))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let t = timeout.for_read();
        if t.after.is_zero() {
            return Err(ureq::Error::Timeout(t.reason));
        }
        self.stream.set_read_deadline(deadline(&t));
        let n = self
            .stream
            .read(self.buffers.input_append_buf())
            .map_err(|e| io_to_ureq(e, t.reason))?;
        self.buffers.input_appended(n);
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        // Called under ureq's pool mutex: must not yield. A non-blocking peek on the raw socket
        // (may keeps it non-blocking) says "open and quiet" by WouldBlock.
        let mut one = [0u8; 1];
        matches!(self.stream.get_ref().inner().peek(&mut one), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }
}

/// The pool key: scheme, lower-cased host and port.
type Key = (bool, String, u16);

fn key_of(details: &ConnectionDetails<'_>) -> Option<Key> {
    let authority = details.uri.authority()?;
    let tls = details.needs_tls();
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    Some((tls, authority.host().to_ascii_lowercase(), port))
}

struct Idle {
    transport: Box<dyn Transport>,
    since: Instant,
}

struct PoolState {
    idle: HashMap<Key, Vec<Idle>>,
    /// Idle connections over all hosts.
    total: usize,
    /// When idle connections were last swept for age.
    swept: Instant,
    /// Connections opened so far (for statistics and tests).
    opened: u64,
}

pub(crate) struct Pool {
    state: Mutex<PoolState>,
    settings: TransportSettings,
}

impl Pool {
    fn checkout(&self, key: &Key) -> Option<Box<dyn Transport>> {
        loop {
            let idle = {
                let mut st = lock(&self.state);
                let list = st.idle.get_mut(key)?;
                let idle = list.pop()?;
                if list.is_empty() {
                    // A key holds an entry only while it has an idle connection.
                    st.idle.remove(key);
                }
                st.total -= 1;
                idle
            };
            let mut t = idle.transport;
            // Stale or closed by the peer meanwhile: drop it (outside the lock) and look again.
            if idle.since.elapsed() < self.settings.max_idle_age && t.is_open() {
                return Some(t);
            }
        }
    }

    /// Keeps a reusable connection, within the per-host and total limits (else it is closed).
    ///
    /// A host that is never asked for again would keep its idle connections (and their file
    /// descriptors) for ever: a fetch list, or a service's strangers, can name any number of
    /// hosts. So once every `max_idle_age` the pool drops what has aged out, everywhere.
    ///
    /// greenfetch-web's client pool (client/conn.rs) has a deliberate copy of this, for its own
    /// connection type.
    fn checkin(&self, key: Key, transport: Box<dyn Transport>) {
        let s = &self.settings;
        let mut stale = Vec::new();
        let mut st = lock(&self.state);
        let now = Instant::now();
        if now.duration_since(st.swept) >= s.max_idle_age {
            st.swept = now;
            st.idle.retain(|_, list| {
                let (fresh, old): (Vec<Idle>, Vec<Idle>) = std::mem::take(list)
                    .into_iter()
                    .partition(|i| now.duration_since(i.since) < s.max_idle_age);
                *list = fresh;
                stale.extend(old);
                !list.is_empty()
            });
            st.total -= stale.len();
        }
        let room = st.total < s.max_idle_total.max(s.max_idle_per_host);
        if room {
            // No entry is made for a connection that is not kept.
            let list = st.idle.entry(key).or_default();
            if list.len() < s.max_idle_per_host {
                list.push(Idle {
                    transport,
                    since: now,
                });
                st.total += 1;
            }
        }
        drop(st);
        drop(stale); // closed outside the lock
    }
}

/// What ureq holds while it uses a connection: goes back to the pool on drop if ureq declared
/// it reusable.
pub(crate) struct Pooled {
    inner: Option<Box<dyn Transport>>,
    key: Key,
    pool: Arc<Pool>,
    reusable: bool,
}

impl fmt::Debug for Pooled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled")
            .field("key", &self.key)
            .field("reusable", &self.reusable)
            .finish()
    }
}

impl Pooled {
    fn inner(&mut self) -> &mut Box<dyn Transport> {
        self.inner
            .as_mut()
            .expect("a pooled transport holds its connection until dropped")
    }
}

impl Transport for Pooled {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner().buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.reusable = false;
        self.inner().transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.reusable = false;
        self.inner().await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        // ureq asks this only when it is about to keep a cleanly finished connection.
        let open = self.inner().is_open();
        self.reusable = open;
        open
    }

    fn is_tls(&self) -> bool {
        self.inner.as_ref().is_some_and(|t| t.is_tls())
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        // ureq checked that no input is left unconsumed before it called `is_open`.
        if self.reusable {
            if let Some(t) = self.inner.take() {
                self.pool.checkin(self.key.clone(), t);
            }
        }
    }
}

/// ureq's connector for green agents: pooled connection, or a new may TCP connection (with TLS
/// on top for `https`), with at most `connect_limit` connects in flight.
pub(crate) struct GreenConnector {
    pool: Arc<Pool>,
    tls: RustlsConnector,
    /// Connects in flight at once: a permit each.
    gate: Semaphore,
    policy: AddressPolicy,
}

impl fmt::Debug for GreenConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenConnector")
            .field("connects_free", &self.gate.counter())
            .finish()
    }
}

impl GreenConnector {
    pub(crate) fn new(settings: TransportSettings, policy: AddressPolicy) -> Self {
        let gate = Semaphore::new(settings.connect_limit.max(1));
        GreenConnector {
            pool: Arc::new(Pool {
                state: Mutex::new(PoolState {
                    idle: HashMap::new(),
                    total: 0,
                    swept: Instant::now(),
                    opened: 0,
                }),
                settings,
            }),
            tls: RustlsConnector::default(),
            gate,
            policy,
        }
    }

    pub(crate) fn pool_handle(&self) -> Arc<Pool> {
        self.pool.clone()
    }

    fn connect_tcp(&self, details: &ConnectionDetails<'_>) -> Result<MayTcp, ureq::Error> {
        let timeout = details.timeout.not_zero().map(|t| *t);
        // The policy sees the resolved addresses, for this hop: a name that resolves to a
        // private address, and a redirect to one, are refused alike.
        let mut refused = None;
        let mut allowed = Vec::with_capacity(details.addrs.len());
        for addr in &details.addrs {
            match self.policy.check(*addr) {
                Ok(()) => allowed.push(*addr),
                Err(f) => {
                    refused.get_or_insert(f);
                }
            }
        }
        if let (true, Some(f)) = (allowed.is_empty(), refused) {
            return Err(forbidden(f));
        }
        let _permit = self.gate.acquire_guard();
        let mut last = None;
        for addr in &allowed {
            match GreenStream::connect(addr, timeout) {
                Ok(stream) => {
                    stream.get_ref().set_nodelay(details.config.no_delay())?;
                    lock(&self.pool.state).opened += 1;
                    let s = &self.pool.settings;
                    return Ok(MayTcp {
                        stream,
                        buffers: LazyBuffers::new(s.input_buffer, s.output_buffer),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    last = Some(ureq::Error::Timeout(ureq::Timeout::Connect));
                }
                Err(e) => last = Some(ureq::Error::Io(e)),
            }
        }
        Err(last.unwrap_or(ureq::Error::HostNotFound))
    }

    /// TLS on top of a new TCP connection. Kept out of line: rustls hands its connection back
    /// by value, and inlined into `connect` that space (4 KiB) was part of the stack of every
    /// plain-HTTP connect too, whose deepest point it was; a page of stack more, resident for
    /// as long as each green thread lives.
    #[inline(never)]
    fn wrap_tls(
        &self,
        details: &ConnectionDetails<'_>,
        tcp: MayTcp,
    ) -> Result<Box<dyn Transport>, ureq::Error> {
        match self.tls.connect(details, Some(tcp))? {
            Some(t) => Ok(Box::new(t)),
            None => Err(ureq::Error::ConnectionFailed),
        }
    }
}

/// A policy refusal as ureq carries it: an I/O error wrapping the [`Forbidden`].
fn forbidden(f: Forbidden) -> ureq::Error {
    ureq::Error::Io(io::Error::new(io::ErrorKind::PermissionDenied, f))
}

impl Connector<()> for GreenConnector {
    type Out = Pooled;

    fn connect(
        &self,
        details: &ConnectionDetails<'_>,
        _chained: Option<()>,
    ) -> Result<Option<Pooled>, ureq::Error> {
        let key = key_of(details).ok_or_else(|| ureq::Error::BadUri(details.uri.to_string()))?;
        if let Some(t) = self.pool.checkout(&key) {
            return Ok(Some(Pooled {
                inner: Some(t),
                key,
                pool: self.pool.clone(),
                reusable: false,
            }));
        }
        let tcp = self.connect_tcp(details)?;
        let transport: Box<dyn Transport> = if details.needs_tls() {
            self.wrap_tls(details, tcp)?
        } else {
            Box::new(tcp)
        };
        Ok(Some(Pooled {
            inner: Some(transport),
            key,
            pool: self.pool.clone(),
            reusable: false,
        }))
    }
}

impl Pool {
    /// Connections opened so far.
    pub(crate) fn opened(&self) -> u64 {
        lock(&self.state).opened
    }

    /// Idle connections held now.
    pub(crate) fn idle(&self) -> usize {
        lock(&self.state).total
    }
}
