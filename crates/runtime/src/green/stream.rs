//! [`GreenStream`]: a may TCP stream with read and write deadlines, the one way greenfetch's
//! clients and servers do socket I/O.
//!
//! A may socket parks the green thread, not the worker, but three chores come with it, and
//! this wrapper does them so that no caller does: a read or write is held to a *deadline* (an
//! instant, not a per-call timeout, so a peer that trickles a byte at a time cannot stretch
//! it), turned into may's socket timeouts only when they no longer fit (a socket option is a
//! system call); after may's timer has resumed the green thread with a timeout, it is moved
//! back onto a worker before anything else runs ([`wait::rehome`](crate::wait::rehome): may
//! resumes it on its timer thread); and `Interrupted` is tried again. A read or write that
//! meets its deadline fails with `io::ErrorKind::TimedOut`.
//!
//! TLS goes on top (`rustls::StreamOwned<_, GreenStream>`), so a handshake and every record
//! keep the same deadlines.
//!
//! Layer: networking (uses `may::net` and [`wait`](crate::wait)).
//!
//! # Examples
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::{Duration, Instant};
//! use greenfetch_runtime::green::stream::GreenStream;
//!
//! let listener = greenfetch_runtime::listen("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let quiet = greenfetch_runtime::spawn(move || {
//!     let (sock, _) = listener.accept().unwrap();
//!     let mut s = GreenStream::new(sock);
//!     s.write_all(b"hi").unwrap();
//!     let mut rest = Vec::new();
//!     let _ = s.read_to_end(&mut rest); // until the client goes
//! });
//! let client = greenfetch_runtime::spawn(move || {
//!     let mut s = GreenStream::connect(&addr, Some(Duration::from_secs(5)))?;
//!     s.set_read_deadline(Some(Instant::now() + Duration::from_millis(20)));
//!     let mut buf = [0u8; 2];
//!     s.read_exact(&mut buf)?;
//!     assert_eq!(&buf, b"hi");
//!     // Nothing more comes: the read fails at its deadline.
//!     let e = s.read(&mut buf).unwrap_err();
//!     assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
//!     Ok::<_, std::io::Error>(())
//! });
//! client.wait().unwrap()?;
//! quiet.wait().unwrap();
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use may::net::TcpStream;

/// The error of a read or write whose deadline passed.
///
/// ```
/// let e = greenfetch_runtime::green::stream::deadline_passed();
/// assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
/// ```
pub fn deadline_passed() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "deadline passed")
}

/// Whether `e` says that may's timer ended the wait (a socket timeout).
fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// `d` rounded up to whole milliseconds: may keeps a socket timeout in whole milliseconds,
/// truncated, and takes 0 for none, so a timeout under 1 ms would never fire and one of 1.5 ms
/// would fire early.
fn whole_millis(d: Duration) -> Duration {
    let ms = d.as_millis() as u64;
    let up = u64::from(Duration::from_millis(ms) < d);
    Duration::from_millis(ms + up)
}

/// One direction's deadline, and the socket timeout armed for it.
#[derive(Debug, Clone, Copy, Default)]
struct Limit {
    deadline: Option<Instant>,
    /// The socket timeout in force for this direction.
    armed: Option<Duration>,
}

impl Limit {
    /// What the socket timeout should be before an operation, if it must change: `Err` when
    /// the deadline has passed. The timeout in force is kept while it is no shorter than what
    /// is left and at most a tenth longer (an operation that completes after the deadline,
    /// within that, is not failed): a deadline far off costs one system call now and then, not
    /// one an operation.
    fn rearm(&self) -> io::Result<Option<Option<Duration>>> {
        let want = match self.deadline {
            None => None,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(deadline_passed());
                }
                Some(whole_millis(left))
            }
        };
        let fits = match (self.armed, want) {
            (None, None) => true,
            (Some(have), Some(left)) => {
                have >= left && have <= left + left / 10 + Duration::from_millis(1)
            }
            _ => false,
        };
        Ok((!fits).then_some(want))
    }

    fn passed(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// A may TCP stream with a read deadline and a write deadline (see the [module
/// docs](self)). `Read` and `Write` go through it; a TLS stream can sit on top.
///
/// ```
/// use std::time::{Duration, Instant};
/// let listener = greenfetch_runtime::listen("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let gt = greenfetch_runtime::spawn(move || {
///     let mut s = greenfetch_runtime::green::stream::GreenStream::connect(&addr, None)?;
///     s.set_deadline(Some(Instant::now() + Duration::from_secs(5)));
///     assert!(s.read_deadline().is_some() && s.write_deadline().is_some());
///     Ok::<_, std::io::Error>(s.get_ref().peer_addr()?)
/// });
/// assert_eq!(gt.wait().unwrap()?, addr);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct GreenStream {
    stream: TcpStream,
    read: Limit,
    write: Limit,
}

impl fmt::Debug for GreenStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenStream")
            .field("peer", &self.stream.peer_addr().ok())
            .field("read_deadline", &self.read.deadline)
            .field("write_deadline", &self.write.deadline)
            .finish()
    }
}

impl From<TcpStream> for GreenStream {
    fn from(stream: TcpStream) -> Self {
        GreenStream::new(stream)
    }
}

impl GreenStream {
    /// Wraps `stream`, with no deadlines. Socket timeouts set on it are taken off before the
    /// first read or write that has no deadline (none is set by a wrap: a system call each).
    ///
    /// ```
    /// let listener = greenfetch_runtime::listen("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let gt = greenfetch_runtime::spawn(move || {
    ///     let sock = greenfetch_runtime::connect(addr)?;
    ///     Ok::<_, std::io::Error>(greenfetch_runtime::green::stream::GreenStream::new(sock).read_deadline())
    /// });
    /// assert_eq!(gt.wait().unwrap()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(stream: TcpStream) -> Self {
        // may reports the timeouts it keeps without a system call.
        let read = Limit {
            deadline: None,
            armed: stream.read_timeout().ok().flatten(),
        };
        let write = Limit {
            deadline: None,
            armed: stream.write_timeout().ok().flatten(),
        };
        GreenStream {
            stream,
            read,
            write,
        }
    }

    /// Connects to `addr`, giving up after `timeout` (`None`: the system's own limit). A
    /// connect that times out fails with `TimedOut`, back on a worker.
    ///
    /// ```
    /// let gt = greenfetch_runtime::spawn(|| {
    ///     // The discard port on loopback: nothing listens there.
    ///     greenfetch_runtime::green::stream::GreenStream::connect(&"127.0.0.1:9".parse().unwrap(), None)
    /// });
    /// assert_eq!(gt.wait().unwrap().unwrap_err().kind(), std::io::ErrorKind::ConnectionRefused);
    /// ```
    pub fn connect(addr: &SocketAddr, timeout: Option<Duration>) -> io::Result<GreenStream> {
        crate::hub::ensure_started();
        let attempt = match timeout {
            Some(t) => TcpStream::connect_timeout(addr, t),
            None => TcpStream::connect(addr),
        };
        match attempt {
            Ok(stream) => Ok(GreenStream::new(stream)),
            Err(e) => {
                if timed_out(&e) {
                    crate::wait::rehome();
                    return Err(io::Error::new(io::ErrorKind::TimedOut, e));
                }
                Err(e)
            }
        }
    }

    /// Holds later reads and writes to `deadline` (`None`: no limit).
    ///
    /// See the [type's example](GreenStream).
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.read.deadline = deadline;
        self.write.deadline = deadline;
    }

    /// Holds later reads to `deadline` (`None`: no limit).
    ///
    /// See the [module example](self).
    pub fn set_read_deadline(&mut self, deadline: Option<Instant>) {
        self.read.deadline = deadline;
    }

    /// Holds later writes to `deadline` (`None`: no limit).
    ///
    /// ```
    /// let listener = greenfetch_runtime::listen("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let gt = greenfetch_runtime::spawn(move || {
    ///     let mut s = greenfetch_runtime::green::stream::GreenStream::connect(&addr, None)?;
    ///     s.set_write_deadline(Some(std::time::Instant::now()));
    ///     Ok::<_, std::io::Error>(std::io::Write::write(&mut s, b"x").unwrap_err().kind())
    /// });
    /// assert_eq!(gt.wait().unwrap()?, std::io::ErrorKind::TimedOut);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_write_deadline(&mut self, deadline: Option<Instant>) {
        self.write.deadline = deadline;
    }

    /// The deadline reads are held to.
    ///
    /// See the [type's example](GreenStream).
    pub fn read_deadline(&self) -> Option<Instant> {
        self.read.deadline
    }

    /// The deadline writes are held to.
    ///
    /// See the [type's example](GreenStream).
    pub fn write_deadline(&self) -> Option<Instant> {
        self.write.deadline
    }

    /// The may socket (for its addresses, a non-blocking peek, a shutdown); read and write
    /// through the `GreenStream`.
    ///
    /// See the [type's example](GreenStream).
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }

    /// The may socket, given back with no deadlines (its socket timeouts may be set).
    ///
    /// ```
    /// let listener = greenfetch_runtime::listen("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let gt = greenfetch_runtime::spawn(move || {
    ///     let s = greenfetch_runtime::green::stream::GreenStream::connect(&addr, None)?;
    ///     s.into_inner().peer_addr()
    /// });
    /// assert_eq!(gt.wait().unwrap()?, addr);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_inner(self) -> TcpStream {
        self.stream
    }

    /// Runs one socket operation, a read or a write, under its deadline (see the module docs).
    fn io<T>(
        &mut self,
        reading: bool,
        mut op: impl FnMut(&mut TcpStream) -> io::Result<T>,
    ) -> io::Result<T> {
        loop {
            let limit = if reading { &self.read } else { &self.write };
            if let Some(want) = limit.rearm()? {
                if reading {
                    self.stream.set_read_timeout(want)?;
                    self.read.armed = want;
                } else {
                    self.stream.set_write_timeout(want)?;
                    self.write.armed = want;
                }
            }
            match op(&mut self.stream) {
                Ok(v) => return Ok(v),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if timed_out(&e) => {
                    // may's timer resumed us on its own thread: back onto a worker first.
                    crate::wait::rehome();
                    let limit = if reading {
                        &mut self.read
                    } else {
                        &mut self.write
                    };
                    if limit.deadline.is_none() {
                        return Err(e);
                    }
                    if limit.passed() {
                        return Err(deadline_passed());
                    }
                    // Woken a moment early (the clocks' grain): arm again for what is left.
                    limit.armed = None;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Read for GreenStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.io(true, |s| s.read(buf))
    }
}

impl Write for GreenStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io(false, |s| s.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.io(false, |s| s.flush())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A timeout under a millisecond is armed as one, never as may's 0 (none).
    #[test]
    fn timeouts_are_armed_in_whole_milliseconds_rounded_up() {
        assert_eq!(
            whole_millis(Duration::from_micros(1)),
            Duration::from_millis(1)
        );
        assert_eq!(
            whole_millis(Duration::from_micros(1500)),
            Duration::from_millis(2)
        );
        assert_eq!(
            whole_millis(Duration::from_millis(3)),
            Duration::from_millis(3)
        );
        let soon = Limit {
            deadline: Some(Instant::now() + Duration::from_micros(300)),
            armed: None,
        };
        match soon.rearm() {
            Ok(Some(Some(d))) => assert!(d >= Duration::from_millis(1)),
            Ok(other) => panic!("armed {other:?}"),
            // The deadline passed already on a slow machine: also never "no timeout".
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::TimedOut),
        }
    }
}
