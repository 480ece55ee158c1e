//! Connections: a green TCP stream (TLS by rustls on top) held to the request's deadline, its
//! read buffer, and the pool of idle ones, one list per key (scheme, host, port and the proxy it
//! goes through).
//!
//! Layer: networking.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustls::{ClientConnection, StreamOwned};

use greenfetch_runtime::green::stream::GreenStream;
use greenfetch_runtime::wait::lock;

/// A green TCP stream, plain or under TLS.
pub(crate) enum Stream {
    Tcp(GreenStream),
    Tls(Box<StreamOwned<ClientConnection, GreenStream>>),
}

impl Stream {
    fn green(&self) -> &GreenStream {
        match self {
            Stream::Tcp(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }

    fn green_mut(&mut self) -> &mut GreenStream {
        match self {
            Stream::Tcp(s) => s,
            Stream::Tls(s) => s.get_mut(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Tls(s) => match s.read(buf) {
                // A peer that closes without close_notify (many servers do) ends the stream.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                r => r,
            },
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// The first read buffer a connection gets; it grows for a large head or chunk line.
const FIRST_BUFFER: usize = 4 * 1024;
/// An idle connection keeps its buffer only up to this size.
const IDLE_BUFFER: usize = 16 * 1024;

/// One connection: the stream, and what has been read and not consumed.
pub(crate) struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The last read from the socket took less than it had room for: the socket was drained
    /// then, so anything that arrived since has raised a readiness event.
    drained: bool,
    /// Taken from the pool (a failure before any answer may be a stale connection).
    pub(crate) reused: bool,
    pub(crate) key: String,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("key", &self.key)
            .field("buffered", &(self.end - self.start))
            .finish()
    }
}

impl Conn {
    pub(crate) fn new(stream: Stream, key: String) -> Self {
        Conn {
            stream,
            buf: Vec::new(),
            start: 0,
            end: 0,
            drained: false,
            reused: false,
            key,
        }
    }

    /// Holds later reads and writes to `deadline` (`None`: no limit).
    pub(crate) fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.stream.green_mut().set_deadline(deadline);
    }

    /// Writes all of `bytes`.
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// The bytes read and not yet consumed.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` buffered bytes as consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more into the buffer (growing it when full, up to `limit` bytes buffered).
    /// Returns the number of bytes read: 0 at the end of the stream.
    pub(crate) fn fill(&mut self, limit: usize) -> io::Result<usize> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let grown = (self.buf.len() * 2).clamp(FIRST_BUFFER, limit.max(FIRST_BUFFER));
                if grown <= self.buf.len() {
                    return Err(io::Error::other("read buffer limit reached"));
                }
                self.buf.resize(grown, 0);
            }
        }
        let room = self.buf.len() - self.end;
        let n = self.stream.read(&mut self.buf[self.end..])?;
        self.drained = n < room;
        self.end += n;
        Ok(n)
    }

    /// Reads into `out`: buffered bytes first, else straight from the stream (a large body is
    /// not copied through the buffer).
    pub(crate) fn read_into(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let have = self.buffered();
        if !have.is_empty() {
            let n = have.len().min(out.len());
            out[..n].copy_from_slice(&have[..n]);
            self.consume(n);
            return Ok(n);
        }
        let n = self.stream.read(out)?;
        self.drained = n < out.len();
        Ok(n)
    }

    /// Whether the peer has certainly sent nothing (no data, no close) since this connection's
    /// last read, known without a system call: that read drained the socket, and may's event
    /// loop has flagged no readiness to read since (its edge-triggered epoll flags every
    /// arrival). A flag raised by the last answer's own bytes, or a stream under TLS, makes
    /// this false, and the caller asks the socket instead.
    fn quiet(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            use may::io::AsIoData;
            // EPOLLIN | EPOLLPRI | EPOLLERR | EPOLLHUP | EPOLLRDHUP.
            const READ_EVENTS: usize = 0x001 | 0x002 | 0x008 | 0x010 | 0x2000;
            if let Stream::Tcp(s) = &self.stream {
                let flags = s
                    .get_ref()
                    .as_io_data()
                    .io_flag
                    .load(std::sync::atomic::Ordering::Acquire);
                return self.drained && flags & READ_EVENTS == 0;
            }
        }
        false
    }

    /// Whether the peer is still there and quiet: a non-blocking peek says "would block". Must
    /// not yield (it runs under the pool's lock).
    fn is_open(&self) -> bool {
        let mut one = [0u8; 1];
        matches!(self.stream.green().get_ref().inner().peek(&mut one), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Ready to wait in the pool: no leftover input, and a modest buffer.
    fn idle(&mut self) -> bool {
        if self.start != self.end {
            return false;
        }
        if self.buf.len() > IDLE_BUFFER {
            self.buf = Vec::new();
        }
        self.set_deadline(None);
        true
    }
}

/// Sizes and limits of the pool.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolSettings {
    pub(crate) max_idle_per_host: usize,
    pub(crate) max_idle_total: usize,
    pub(crate) max_idle_age: Duration,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

struct PoolState {
    idle: HashMap<String, Vec<Idle>>,
    total: usize,
    swept: Instant,
    opened: u64,
}

/// Idle keep-alive connections, one list per key: a checkout is a hash lookup and a pop.
pub(crate) struct Pool {
    state: Mutex<PoolState>,
    settings: PoolSettings,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").field("idle", &self.idle()).finish()
    }
}

impl Pool {
    pub(crate) fn new(settings: PoolSettings) -> Self {
        Pool {
            state: Mutex::new(PoolState {
                idle: HashMap::new(),
                total: 0,
                swept: Instant::now(),
                opened: 0,
            }),
            settings,
        }
    }

    /// An idle connection for `key` that is still open, if there is one.
    pub(crate) fn checkout(&self, key: &str) -> Option<Conn> {
        loop {
            let idle = {
                let mut st = lock(&self.state);
                let list = st.idle.get_mut(key)?;
                let idle = list.pop()?;
                if list.is_empty() {
                    // A key holds an entry only while it has an idle connection: a run over
                    // millions of hosts leaves none behind.
                    st.idle.remove(key);
                }
                st.total -= 1;
                idle
            };
            // Stale or closed by the peer meanwhile: drop it (outside the lock), look again.
            if idle.since.elapsed() < self.settings.max_idle_age
                && (idle.conn.quiet() || idle.conn.is_open())
            {
                let mut c = idle.conn;
                c.reused = true;
                return Some(c);
            }
        }
    }

    /// Keeps a connection whose exchange ended cleanly, within the per-key and total limits
    /// (else it is closed). Once every `max_idle_age` what has aged out goes, everywhere, so
    /// hosts never visited again do not keep their connections.
    ///
    /// A deliberate copy of the green ureq transport's `checkin` (greenfetch-runtime,
    /// green/ureq/transport.rs): the same limits over another connection type, in a crate the
    /// runtime cannot name; the runtime keeps its pool internal rather than export it for this.
    pub(crate) fn checkin(&self, mut conn: Conn) {
        if !conn.idle() {
            return;
        }
        let s = self.settings;
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
            let idle = Idle { conn, since: now };
            match st.idle.get_mut(&idle.conn.key) {
                Some(list) if list.len() < s.max_idle_per_host => {
                    list.push(idle);
                    st.total += 1;
                }
                Some(_) => {}
                None => {
                    let key = idle.conn.key.clone();
                    st.idle.insert(key, vec![idle]);
                    st.total += 1;
                }
            }
        }
        drop(st);
        drop(stale); // closed outside the lock
    }

    pub(crate) fn opened_one(&self) {
        lock(&self.state).opened += 1;
    }

    pub(crate) fn opened(&self) -> u64 {
        lock(&self.state).opened
    }

    pub(crate) fn idle(&self) -> usize {
        lock(&self.state).total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pool holds at most `max_idle_total` connections, and a key only while it has one:
    /// checking in connections to ever more hosts never grows it past its cap, and checking
    /// them out leaves no key behind.
    #[test]
    fn the_pool_is_bounded_in_hosts_and_keeps_no_empty_keys() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let pool = Pool::new(PoolSettings {
            max_idle_per_host: 2,
            max_idle_total: 8,
            max_idle_age: Duration::from_secs(3600),
        });
        let mut peers = Vec::new();
        for i in 0..40 {
            let tcp = may::net::TcpStream::connect(addr).unwrap();
            peers.push(listener.accept().unwrap().0);
            pool.checkin(Conn::new(
                Stream::Tcp(GreenStream::new(tcp)),
                format!("http://h{i}.test:80"),
            ));
            let st = lock(&pool.state);
            assert!(st.total <= 8 && st.idle.len() <= 8, "{} idle", st.total);
        }
        assert_eq!(pool.idle(), 8);
        for i in 0..40 {
            let _ = pool.checkout(&format!("http://h{i}.test:80"));
        }
        let st = lock(&pool.state);
        assert_eq!((st.total, st.idle.len()), (0, 0));
    }
}
