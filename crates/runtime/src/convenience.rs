//! [`listen`], [`connect`], [`serve`] and [`StopServe`]: eventlet's server and client helpers,
//! on may's cooperative sockets.
//!
//! The sockets are `may::net`'s: in a green thread their `accept`, `read` and `write` park the
//! green thread, not the OS thread.
//!
//! # Examples
//!
//! eventlet's server pattern: one green thread per client, at most `concurrency` at once, and a
//! handler that stops the server by returning [`StopServe`].
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use greenfetch_runtime::{connect, listen, serve, StopServe};
//!
//! # fn main() -> std::io::Result<()> {
//! let listener = listen("127.0.0.1:0")?; // port 0: the OS picks a free port
//! let addr = listener.local_addr()?;
//!
//! let client = greenfetch_runtime::spawn(move || -> std::io::Result<String> {
//!     let mut conn = connect(addr)?;
//!     conn.write_all(b"shout\n")?;
//!     let mut reply = String::new();
//!     BufReader::new(conn).read_line(&mut reply)?;
//!     Ok(reply)
//! });
//!
//! // Blocks until a handler returns StopServe (or fails).
//! serve(listener, |conn, _peer| {
//!     let mut line = String::new();
//!     let mut reader = BufReader::new(conn);
//!     reader.read_line(&mut line)?;
//!     reader.get_mut().write_all(line.to_uppercase().as_bytes())?;
//!     Err(StopServe.into())
//! }, 100)?;
//!
//! assert_eq!(client.wait().unwrap()?, "SHOUT\n");
//! # Ok(())
//! # }
//! ```
//!
//! eventlet: `eventlet.convenience`. Differences:
//!
//! - [`listen`] and [`connect`] take anything `ToSocketAddrs` (no `family` argument: the address
//!   decides) and return may's `TcpListener`/`TcpStream`. `listen` sets `SO_REUSEADDR` and
//!   `SO_REUSEPORT` (as may does, also for port 0) and uses may's backlog of 1024; there is no
//!   `bind` argument to `connect`.
//! - [`serve`] takes the listener by value (pass `listener.try_clone()?` to keep one) and a
//!   handler that returns a `Result`: `Err(StopServe.into())` is eventlet's `raise StopServe`,
//!   any other error (or a panic) makes `serve` return that error. It waits for a free slot
//!   *before* accepting, so no connection is accepted while `concurrency` handlers are busy.
//!   `concurrency` 0 is refused (eventlet would accept one client and hang).
//! - A host name is resolved with the system's blocking resolver: from a green thread, pass an
//!   IP address.
//!
//! **Known may 0.3.51 defects** (found while testing this module; greenfetch cannot fix them):
//!
//! - `TcpStream::connect`, which [`connect`] uses, has a rare race that can leave the
//!   connecting side parked forever or crash the process: about once in 100,000 connects in a
//!   stress test of concurrent connect-read-close rounds, and more often from a plain thread
//!   (where may goes through a per-thread proxy coroutine) than from a green thread. Connect
//!   from green threads.
//! - may's Unix sockets (`may::os::unix::net`) close their file descriptor before removing it
//!   from epoll, so dropping one can unregister a socket that another thread has just opened
//!   under the same descriptor number; that socket then never wakes up. Prefer TCP on loopback,
//!   or std's Unix sockets on plain threads.
//!
//! [`serve`] and [`backdoor_server`](crate::backdoor_server) do all their socket work in green
//! threads, whoever calls them.
//!
//! Layer: networking (uses [`greenthread`], [`greenpool`](crate::greenpool),
//! [`queue`](crate::queue) and `may::net`).

use std::error::Error;
use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};

use may::net::{TcpListener, TcpStream};

use crate::greenpool::GreenPool;
use crate::greenthread::{self, GreenThread, WaitError, panic_message};
use crate::queue::Queue;

/// What a [`serve`] handler returns on failure: any error, `Send` and `Sync`.
///
/// `?` converts `io::Error` and most other errors into it; `StopServe.into()` makes one that
/// stops the server cleanly.
///
/// ```
/// let e: greenfetch_runtime::HandlerError = greenfetch_runtime::StopServe.into();
/// assert!(e.is::<greenfetch_runtime::StopServe>());
/// ```
pub type HandlerError = Box<dyn Error + Send + Sync + 'static>;

/// Returned (as `Err(StopServe.into())`) by a [`serve`] handler to make `serve` return `Ok(())`.
///
/// eventlet: `raise StopServe`.
///
/// ```
/// use greenfetch_runtime::{HandlerError, StopServe};
///
/// fn handler(_conn: may::net::TcpStream, _peer: std::net::SocketAddr) -> Result<(), HandlerError> {
///     Err(StopServe.into())
/// }
/// assert_eq!(StopServe.to_string(), "stop serving");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StopServe;

impl fmt::Display for StopServe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stop serving")
    }
}

impl Error for StopServe {}

/// Binds a TCP listener to `addr`, with `SO_REUSEADDR` set, ready for `accept`.
///
/// Port 0 asks the OS for a free port; `local_addr()` tells which one. Every address `addr`
/// resolves to is tried in turn; the last error is returned if none binds.
///
/// ```
/// let listener = greenfetch_runtime::listen("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// assert!(addr.ip().is_loopback());
/// assert_ne!(addr.port(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn listen(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    crate::hub::ensure_started();
    each_addr(addr, TcpListener::bind)
}

/// Opens a TCP connection to `addr`, trying each address it resolves to in turn.
///
/// In a green thread the connect parks the green thread only.
///
/// ```
/// use std::io::{Read, Write};
///
/// let listener = greenfetch_runtime::listen("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let server = greenfetch_runtime::spawn(move || -> std::io::Result<Vec<u8>> {
///     let (mut conn, _peer) = listener.accept()?;
///     let mut got = Vec::new();
///     conn.read_to_end(&mut got)?;
///     Ok(got)
/// });
/// let client = greenfetch_runtime::spawn(move || -> std::io::Result<()> {
///     let mut conn = greenfetch_runtime::connect(addr)?;
///     conn.write_all(b"hello")
/// });
/// client.wait().unwrap()?;
/// assert_eq!(server.wait().unwrap()?, b"hello");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
    crate::hub::ensure_started();
    each_addr(addr, TcpStream::connect)
}

fn each_addr<T>(
    addr: impl ToSocketAddrs,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match f(a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket address",
        )
    }))
}

/// Why [`serve`] stopped.
enum Outcome {
    Stop,
    Failed(io::Error),
}

/// Accepts connections on `listener` forever and runs `handler(conn, peer)` for each, in a green
/// thread of a private [`GreenPool`] of `concurrency`. Blocks the caller.
///
/// - No connection is accepted while `concurrency` handlers are busy: the loop waits for a free
///   slot first, so extra clients wait in the listen backlog.
/// - The client socket is closed when the handler returns, fails or panics (the handler owns
///   it; it stays open only if the handler moved it elsewhere).
/// - A handler returning `Err` holding [`StopServe`] makes `serve` return `Ok(())`.
/// - Any other handler error makes `serve` return it as an `io::Error` (an `io::Error` is
///   passed through as is, anything else is wrapped with kind `Other`); a handler panic is
///   returned as an `io::Error` wrapping [`WaitError::Panicked`]. An accept error is returned
///   too. Either way `serve` returns promptly: it stops accepting (the listener is closed) and
///   does not wait for the other handlers, which run on to their end.
///
/// `concurrency` 0 is refused with `ErrorKind::InvalidInput`.
///
/// eventlet: `serve(sock, handle, concurrency=1000)`.
///
/// ```
/// use std::io::Read;
/// use greenfetch_runtime::{connect, listen, serve};
///
/// let listener = listen("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// greenfetch_runtime::spawn_n(move || { let _ = connect(addr); });
///
/// let err = serve(listener, |_conn, _peer| Err("the disk is full".into()), 10).unwrap_err();
/// assert_eq!(err.to_string(), "the disk is full");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn serve<H>(listener: TcpListener, handler: H, concurrency: usize) -> io::Result<()>
where
    H: Fn(TcpStream, SocketAddr) -> Result<(), HandlerError> + Send + Sync + 'static,
{
    if concurrency == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "serve needs a concurrency of at least 1",
        ));
    }
    crate::hub::ensure_started();
    let outcomes: Queue<Outcome> = Queue::unbounded();
    let report = outcomes.clone();
    let acceptor = KillOnDrop(greenthread::spawn(move || {
        accept_loop(listener, handler, concurrency, report)
    }));
    let outcome = outcomes.get();
    // Stop accepting: the accept loop unwinds at its accept (or while waiting for a slot),
    // closing the listener and giving back its reserved slot. Handlers are left running.
    // (If the caller is killed while waiting above, the guard's drop stops the loop too.)
    drop(acceptor);
    match outcome {
        Outcome::Stop => Ok(()),
        Outcome::Failed(e) => Err(e),
    }
}

/// Runs `f` in a green thread: right here if the caller is one, otherwise in a new one that
/// the calling thread waits for (on a plain thread may's sockets go through a proxy coroutine
/// per thread, its less reliable path). A panic in `f` is resumed in the caller.
pub(crate) fn in_green_thread<T, F>(f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    if may::coroutine::is_coroutine() {
        return f();
    }
    match greenthread::spawn(f).wait() {
        Ok(r) => r,
        Err(WaitError::Panicked(m)) => std::panic::resume_unwind(Box::new(m)),
        Err(e) => Err(io::Error::other(e)),
    }
}

/// Kills the accept loop when `serve` returns or unwinds.
struct KillOnDrop(GreenThread<()>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.0.kill();
    }
}

/// A pool slot held for the next accepted connection: the reserved task waits for the
/// connection, or for `None` if the accept loop ends first.
struct Reservation(Option<Queue<Option<(TcpStream, SocketAddr)>>>);

impl Reservation {
    fn fill(mut self, conn: (TcpStream, SocketAddr)) {
        if let Some(q) = self.0.take() {
            // Never blocks: the queue holds one item and this is the only put.
            let _ = q.put_nowait(Some(conn));
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(q) = self.0.take() {
            let _ = q.put_nowait(None);
        }
    }
}

fn accept_loop<H>(listener: TcpListener, handler: H, concurrency: usize, report: Queue<Outcome>)
where
    H: Fn(TcpStream, SocketAddr) -> Result<(), HandlerError> + Send + Sync + 'static,
{
    let pool = GreenPool::new(concurrency);
    let handler = std::sync::Arc::new(handler);
    loop {
        // Take a slot before accepting: `spawn_n` blocks while `concurrency` tasks are busy.
        let handoff: Queue<Option<(TcpStream, SocketAddr)>> = Queue::bounded(1);
        let (h, rep, conn) = (handler.clone(), report.clone(), handoff.clone());
        pool.spawn_n(move || {
            if let Some((stream, peer)) = conn.get() {
                handle(&*h, stream, peer, &rep);
            }
        });
        let reservation = Reservation(Some(handoff));
        match accept(&listener) {
            Ok(conn) => reservation.fill(conn),
            Err(e) => {
                report.put(Outcome::Failed(e));
                return;
            }
        }
    }
}

/// Accepts one connection, retrying the errors that only concern a client that already left
/// (the backdoor's accept loop uses it too).
pub(crate) fn accept(listener: &TcpListener) -> io::Result<(TcpStream, SocketAddr)> {
    loop {
        match listener.accept() {
            Ok(conn) => return Ok(conn),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::Interrupted
                        | io::ErrorKind::BrokenPipe
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

fn handle<H>(handler: &H, stream: TcpStream, peer: SocketAddr, report: &Queue<Outcome>)
where
    H: Fn(TcpStream, SocketAddr) -> Result<(), HandlerError>,
{
    // The stream moves into the handler and is dropped (closed) when it returns or unwinds.
    match catch_unwind(AssertUnwindSafe(|| handler(stream, peer))) {
        Ok(Ok(())) => {}
        Ok(Err(e)) if e.is::<StopServe>() => report.put(Outcome::Stop),
        Ok(Err(e)) => {
            let e = match e.downcast::<io::Error>() {
                Ok(io) => *io,
                Err(other) => io::Error::other(other),
            };
            report.put(Outcome::Failed(e));
        }
        Err(p) => report.put(Outcome::Failed(io::Error::other(WaitError::Panicked(
            panic_message(&*p),
        )))),
    }
}
