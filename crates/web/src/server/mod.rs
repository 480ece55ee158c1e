//! Servers built on the green runtime: the [`Server`] handle they share, the [`fixture`] server
//! that tests and benchmarks fetch from, the hardened [`http`] layer for services that face
//! strangers, and the [`dispatch`] service (`greenfetch serve`) on it.
//!
//! A server is one green thread that accepts on a `may` listener and one green thread per
//! connection. [`Server`] is the handle to a running one: its bound address (port 0 works), its
//! counters, and [`Server::stop`] (also run on `Drop`).
//!
//! Layer: apps (uses the runtime's [`spawn`](greenfetch_runtime::spawn) / [`sleep`](greenfetch_runtime::sleep), `may`'s
//! sockets and `socket2` for socket options).
//!
//! # Why not `may_minihttp`
//!
//! `may_minihttp` (0.1.11) cannot report the address of a port-0 bind, stream or drip a body,
//! send a `Content-Length` that differs from the body, reset a connection, or close one on
//! `Connection: close` / HTTP/1.0. The fixture needs every one of those.
//!
//! The dispatch service faces strangers, and there `may_minihttp` fails in its connection loop,
//! which is private and which no wrapper of its `HttpService` can reach (each checked against
//! 0.1.11 with a probe): a request that does not parse (garbage, a 17th header, a chunked body)
//! closes the connection without an answer; a non-numeric `Content-Length` panics the
//! connection's coroutine (an `unwrap` in `Request::content_length`), again without an answer;
//! the request head is buffered without bound (64 MiB of header accepted); nothing times out a
//! client that sends half a head and stays; a service error is always a `500`. So the servers
//! here speak HTTP/1.1 themselves over `may::net` sockets with `httparse`, the parser
//! `may_minihttp` uses: [`http`] keeps `may_minihttp`'s shape (a service called with a whole
//! request, one green thread per connection) and adds the limits.
//!
//! # Examples
//!
//! ```
//! use std::io::{Read, Write};
//! use greenfetch_web::server::FixtureServer;
//!
//! let server = FixtureServer::start("127.0.0.1:0")?;
//! let mut conn = std::net::TcpStream::connect(server.addr())?; // a plain thread: std is fine
//! conn.write_all(b"GET /bytes/4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
//! let mut reply = String::new();
//! conn.read_to_string(&mut reply)?;
//! assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(reply.ends_with("\r\n\r\nABCD"));
//! assert_eq!(server.hits(), 1);
//! server.stop();
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod dispatch;
pub mod fixture;
mod head;
pub mod http;

pub use fixture::{FixtureServer, run_fixture};

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use may::net::{TcpListener, TcpStream};

use greenfetch_runtime::{Event, GreenThread};

/// The listen backlog asked for; Linux clamps it to `net.core.somaxconn`.
const BACKLOG: i32 = 65_535;

/// A running server: its address, its counters, and the way to stop it.
///
/// Returned by [`FixtureServer::start`]. Dropping the handle stops the server like
/// [`stop`](Server::stop).
///
/// ```
/// let server = greenfetch_web::server::FixtureServer::start("127.0.0.1:0")?;
/// assert_ne!(server.addr().port(), 0);
/// assert_eq!(server.connections(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Server {
    addr: SocketAddr,
    state: Arc<ServerState>,
    acceptor: Option<GreenThread<()>>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("hits", &self.hits())
            .field("connections", &self.connections())
            .field("open_connections", &self.open_connections())
            .finish()
    }
}

impl Server {
    /// Binds `addr`, then serves each accepted connection with `handler` in its own green
    /// thread until the server stops.
    ///
    /// The listener is bound by `may` (SO_REUSEADDR, SO_REUSEPORT, backlog 1024); the backlog
    /// is then raised to `net.core.somaxconn` by listening again.
    pub(crate) fn start<H>(addr: &str, handler: H) -> io::Result<Server>
    where
        H: Fn(TcpStream, &ServerState) -> io::Result<()> + Send + Sync + 'static,
    {
        Server::start_counted(addr, Arc::default(), handler)
    }

    /// [`Server::start`], counting connections into `counts`, which the caller can read as
    /// well (serve's `/metrics`).
    pub(crate) fn start_counted<H>(
        addr: &str,
        counts: Arc<ConnCounts>,
        handler: H,
    ) -> io::Result<Server>
    where
        H: Fn(TcpStream, &ServerState) -> io::Result<()> + Send + Sync + 'static,
    {
        greenfetch_runtime::hub::ensure_started();
        refuse_shared_port(addr)?;
        let listener = TcpListener::bind(addr)?;
        socket2::SockRef::from(listener.inner()).listen(BACKLOG)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(ServerState {
            counts,
            ..ServerState::default()
        });
        let handler = Arc::new(handler);
        let st = state.clone();
        let started = Event::new();
        let tell = started.clone();
        let acceptor = greenfetch_runtime::spawn(move || {
            let _ = tell.send(());
            accept_loop(&listener, &st, &handler)
        });
        // Once running, a kill unwinds the task (dropping the listener) before `kill` returns;
        // a task killed before it starts would drop its listener later, on its own worker.
        started.wait();
        Ok(Server {
            addr,
            state,
            acceptor: Some(acceptor),
        })
    }

    /// The address the server is bound to (the real port when started on port 0).
    ///
    /// ```
    /// let server = greenfetch_web::server::FixtureServer::start("127.0.0.1:0")?;
    /// assert_eq!(server.addr().ip().to_string(), "127.0.0.1");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// An `http://` URL for `path` on this server (`path` with or without its leading `/`).
    /// A server bound to an unspecified address (`0.0.0.0`, `[::]`) is named by loopback.
    ///
    /// ```
    /// let server = greenfetch_web::server::FixtureServer::start("127.0.0.1:0")?;
    /// let port = server.addr().port();
    /// assert_eq!(server.url("/bytes/10"), format!("http://127.0.0.1:{port}/bytes/10"));
    /// assert_eq!(server.url("stats"), format!("http://127.0.0.1:{port}/stats"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn url(&self, path: &str) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        format!("http://{addr}/{}", path.strip_prefix('/').unwrap_or(path))
    }

    /// Requests served so far (every parsed request, whatever its status).
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// let server = greenfetch_web::server::FixtureServer::start("127.0.0.1:0")?;
    /// let mut conn = std::net::TcpStream::connect(server.addr())?; // a plain thread: std is fine
    /// conn.write_all(b"GET /nope HTTP/1.0\r\n\r\n")?;
    /// conn.read_to_end(&mut Vec::new())?;
    /// assert_eq!(server.hits(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn hits(&self) -> u64 {
        self.state.hits.load(Ordering::Relaxed)
    }

    /// Connections accepted so far.
    ///
    /// ```
    /// use std::io::Read;
    /// let server = greenfetch_web::server::FixtureServer::start("127.0.0.1:0")?;
    /// let mut conn = std::net::TcpStream::connect(server.addr())?; // a plain thread: std is fine
    /// conn.shutdown(std::net::Shutdown::Write)?;
    /// conn.read_to_end(&mut Vec::new())?; // EOF once the server has seen ours
    /// assert_eq!(server.connections(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connections(&self) -> u64 {
        self.state.counts.accepted.load(Ordering::Relaxed)
    }

    /// Connections open right now (accepted and not yet closed by either side).
    ///
    /// ```
    /// use std::io::Read;
    /// let server = greenfetch_web::server::FixtureServer::start("127.0.0.1:0")?;
    /// let mut conn = std::net::TcpStream::connect(server.addr())?; // a plain thread: std is fine
    /// conn.shutdown(std::net::Shutdown::Write)?;
    /// conn.read_to_end(&mut Vec::new())?;
    /// while server.open_connections() != 0 {
    ///     std::thread::sleep(std::time::Duration::from_millis(1)); // a plain thread
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open_connections(&self) -> u64 {
        self.state.counts.open.load(Ordering::Relaxed)
    }

    /// Stops the server: the accept loop ends and the listener is closed (new connects are
    /// refused), connections parked in `/fault/hang` are shut down, and every other connection
    /// closes at its next request boundary or when its client goes away. Returns once the
    /// listener is closed. Dropping the handle does the same.
    ///
    /// ```
    /// let server = greenfetch_web::server::FixtureServer::start("127.0.0.1:0")?;
    /// let addr = server.addr();
    /// server.stop();
    /// assert!(std::net::TcpStream::connect(addr).is_err()); // a plain thread
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.state.stopped.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            // Unwinds the accept loop out of `accept`; its listener drops, closing the socket.
            acceptor.kill();
        }
        let parked = std::mem::take(&mut *self.state.parked.lock_or_recover());
        for stream in parked.into_values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let waiting =
            std::mem::take(&mut greenfetch_runtime::wait::lock(&self.state.waiting).by_age);
        for stream in waiting.into_values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A server's connections: counted once, by the accept loop, for every kind of server, and
/// shared with what reports them.
#[derive(Debug, Default)]
pub(crate) struct ConnCounts {
    /// Connections accepted so far.
    pub(crate) accepted: AtomicU64,
    /// Connections open now (accepted, and their green thread not yet finished).
    pub(crate) open: AtomicU64,
}

/// What a server's connections share: counters, the stop flag, and the connections parked
/// until the server stops.
#[derive(Default)]
pub(crate) struct ServerState {
    pub(crate) hits: AtomicU64,
    /// Connections accepted and open, counted here only (at the accept loop).
    pub(crate) counts: Arc<ConnCounts>,
    stopped: AtomicBool,
    next_parked: AtomicU64,
    parked: may::sync::Mutex<HashMap<u64, TcpStream>>,
    /// Connections waiting for their client (see [`ServerState::wait_insert`]).
    waiting: std::sync::Mutex<Waiting>,
}

/// Connections waiting for their client, oldest first.
#[derive(Default)]
struct Waiting {
    by_age: BTreeMap<u64, std::net::TcpStream>,
    next: u64,
}

trait LockOrRecover<T> {
    fn lock_or_recover(&self) -> may::sync::MutexGuard<'_, T>;
}

impl<T> LockOrRecover<T> for may::sync::Mutex<T> {
    /// Locks; a panic while the lock was held leaves a map that is still consistent.
    fn lock_or_recover(&self) -> may::sync::MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ServerState {
    /// Registers a connection that now waits for its client (for a request, or the rest of
    /// one), by a duplicate of its socket that is only ever shut down or closed, never read or
    /// written (so holding a `std` socket in a green thread blocks nothing). [`Server::stop`]
    /// shuts every registered connection, and [`evict_oldest_waiting`](Self::evict_oldest_waiting)
    /// the one that has waited longest. Returns the key to [`wait_take`](Self::wait_take) it
    /// back with.
    pub(crate) fn wait_insert(&self, handle: std::net::TcpStream) -> u64 {
        let mut w = greenfetch_runtime::wait::lock(&self.waiting);
        let id = w.next;
        w.next += 1;
        w.by_age.insert(id, handle);
        id
    }

    /// Takes a waiting connection's handle back; `None` if it was evicted or the server
    /// stopped meanwhile (its socket has been shut).
    pub(crate) fn wait_take(&self, id: u64) -> Option<std::net::TcpStream> {
        greenfetch_runtime::wait::lock(&self.waiting)
            .by_age
            .remove(&id)
    }

    /// Shuts the connection that has waited longest for its client; false if none waits.
    pub(crate) fn evict_oldest_waiting(&self) -> bool {
        let oldest = greenfetch_runtime::wait::lock(&self.waiting)
            .by_age
            .pop_first();
        match oldest {
            Some((_, stream)) => {
                let _ = stream.shutdown(Shutdown::Both);
                true
            }
            None => false,
        }
    }

    /// Whether [`Server::stop`] has been called (or the handle dropped).
    pub(crate) fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// Parks the calling green thread until the peer closes `stream` (or resets it) or the
    /// server stops. Anything the peer sends meanwhile is read and dropped. Costs no CPU while
    /// parked: the green thread sleeps in a read, which `stop` ends by shutting the socket.
    pub(crate) fn park_until_closed(&self, stream: &mut TcpStream) -> io::Result<()> {
        let id = self.next_parked.fetch_add(1, Ordering::Relaxed);
        self.parked
            .lock_or_recover()
            .insert(id, stream.try_clone()?);
        // Checked after registering, so a concurrent stop either sees us or we see it.
        if !self.stopped() {
            let mut sink = [0u8; 512];
            while let Ok(n) = stream.read(&mut sink) {
                if n == 0 {
                    break;
                }
            }
        }
        self.parked.lock_or_recover().remove(&id);
        Ok(())
    }
}

/// Fails with `AddrInUse` if something already listens on `addr`'s port.
///
/// `may` binds with SO_REUSEPORT, so a second server on a busy port would bind without error
/// and the kernel would split the connections between the two. A trial bind without
/// SO_REUSEPORT catches that (port 0 needs no check). The trial socket is closed before `may`
/// binds, so a rival that binds in between is not caught.
fn refuse_shared_port(addr: &str) -> io::Result<()> {
    use socket2::{Domain, Socket, Type};
    for sa in addr.to_socket_addrs()? {
        if sa.port() == 0 {
            continue;
        }
        let trial = Socket::new(Domain::for_address(sa), Type::STREAM, None)?;
        trial.set_reuse_address(true)?;
        trial.bind(&sa.into())?;
    }
    Ok(())
}

/// Decrements the open-connection count when a connection's green thread ends, however it
/// ends.
struct OpenGuard<'a>(&'a ServerState);

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0.counts.open.fetch_sub(1, Ordering::Relaxed);
    }
}

fn accept_loop<H>(listener: &TcpListener, state: &Arc<ServerState>, handler: &Arc<H>)
where
    H: Fn(TcpStream, &ServerState) -> io::Result<()> + Send + Sync + 'static,
{
    loop {
        match listener.accept() {
            Ok((stream, _peer)) => {
                state.counts.accepted.fetch_add(1, Ordering::Relaxed);
                state.counts.open.fetch_add(1, Ordering::Relaxed);
                let (state, handler) = (state.clone(), handler.clone());
                greenfetch_runtime::spawn_n(move || {
                    let _open = OpenGuard(&state);
                    let _ = handler(stream, &state);
                });
            }
            // EMFILE and friends: back off instead of spinning; the kill ends this loop.
            Err(_) => greenfetch_runtime::sleep(Duration::from_millis(10)),
        }
    }
}

/// `fmt::Write` into a byte vector, so `write!` into a response buffer needs no io `Result`
/// plumbing (both servers build their heads this way).
pub(crate) struct Fmt<'a>(pub(crate) &'a mut Vec<u8>);

impl fmt::Write for Fmt<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// The reason phrase of a status code (both servers' status lines).
pub(crate) fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => match code / 100 {
            1 => "Informational",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            _ => "Server Error",
        },
    }
}
