//! [`Timeout`] and [`with_timeout`]: a deadline around a block of green work.
//!
//! eventlet: `eventlet.timeout.Timeout` raises into the green thread that made it at its next
//! yield. may cannot resume a coroutine after interrupting it, so greenfetch runs the block in a
//! child green thread and, when the deadline passes first, kills the child (it unwinds at its
//! next yield point, its `Drop`s run) and returns [`TimedOut`]. Consequences worth knowing:
//!
//! - the block must be `Send + 'static` (it moves into the child; share state with `Arc`);
//! - the clock starts when the `Timeout` is made, as in eventlet;
//! - an outer, shorter timeout is never swallowed by an inner one: when the outer fires, the
//!   whole child tree unwinds and only the outer `run` returns `Err`;
//! - the silent form, eventlet's `Timeout(s, False)`, is [`Timeout::run_silent`];
//! - a block that never yields cannot be interrupted (nor can it in eventlet).
//!
//! Layer: primitives (uses [`greenthread`], [`wait`](crate::wait)).
//!
//! # Examples
//!
//! A silent deadline around a read that may never come (eventlet's `with Timeout(5, False)`):
//!
//! ```
//! use std::time::Duration;
//! use greenfetch_runtime::{Queue, Timeout};
//!
//! let replies: Queue<String> = Queue::unbounded();
//! let q = replies.clone();
//! let reply = Timeout::new(Duration::from_millis(20)).run_silent(move || q.get());
//! assert_eq!(reply, None); // nobody answered in time, and no error was raised
//! ```
//!
//! The same with an error, and with a fallback value (eventlet's `timeout_value`):
//!
//! ```
//! use std::time::Duration;
//! use greenfetch_runtime::{sleep, with_timeout, TimedOut};
//!
//! let slow = with_timeout(Duration::from_millis(10), || { sleep(Duration::from_secs(10)); 1 });
//! assert_eq!(slow, Err(TimedOut));
//! let fast = with_timeout(Duration::from_secs(10), || 2).unwrap_or(0);
//! assert_eq!(fast, 2);
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::greenthread::{self, GreenThread, Shared, WaitError};
use crate::wait::{Waiter, lock};

/// The deadline passed before the block finished.
///
/// ```
/// assert_eq!(greenfetch_runtime::TimedOut.to_string(), "timed out");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimedOut;

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out")
    }
}

impl std::error::Error for TimedOut {}

const ARMED: u8 = 0;
const CANCELLED: u8 = 1;
const FIRED: u8 = 2;

struct Inner {
    deadline: Option<Instant>,
    seconds: Option<Duration>,
    state: AtomicU8,
    /// The `run` waiting on this deadline, woken by `cancel`.
    runner: Mutex<Option<Arc<Waiter>>>,
}

/// A deadline, started when made, for the block given to [`run`](Self::run).
///
/// Clones share the deadline, so the block can hold one and [`cancel`](Self::cancel) it.
///
/// ```
/// use std::time::Duration;
/// // The block must start, and cancel, before the deadline. The clock starts here, before the
/// // hub's start-up (the first spawn): leave room for that on a busy machine.
/// let t = greenfetch_runtime::Timeout::new(Duration::from_millis(300));
/// assert!(t.pending());
/// let inside = t.clone();
/// let r = t.run(move || { inside.cancel(); greenfetch_runtime::sleep(Duration::from_millis(400)); "done" });
/// assert_eq!(r, Ok("done"));
/// assert!(!t.pending());
/// ```
#[derive(Clone)]
pub struct Timeout {
    inner: Arc<Inner>,
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("seconds", &self.inner.seconds)
            .field("pending", &self.pending())
            .finish()
    }
}

impl fmt::Display for Timeout {
    /// eventlet's wording: `1 second`, `0.5 seconds`, `never`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.seconds {
            None => f.write_str("never"),
            Some(d) if d == Duration::from_secs(1) => f.write_str("1 second"),
            Some(d) => write!(f, "{} seconds", d.as_secs_f64()),
        }
    }
}

impl Timeout {
    /// A deadline `after` from now.
    ///
    /// ```
    /// let t = greenfetch_runtime::Timeout::new(std::time::Duration::from_secs(1));
    /// assert_eq!(t.to_string(), "1 second");
    /// ```
    pub fn new(after: Duration) -> Self {
        Timeout::make(Some(after))
    }

    /// A timeout that never fires (eventlet's `Timeout(None)`).
    ///
    /// ```
    /// let t = greenfetch_runtime::Timeout::never();
    /// assert!(!t.pending());
    /// assert_eq!(t.run(|| 5), Ok(5));
    /// ```
    pub fn never() -> Self {
        Timeout::make(None)
    }

    fn make(after: Option<Duration>) -> Self {
        Timeout {
            inner: Arc::new(Inner {
                deadline: crate::wait::deadline(after),
                seconds: after,
                state: AtomicU8::new(ARMED),
                runner: Mutex::new(None),
            }),
        }
    }

    /// True while the deadline is set and has neither passed, fired nor been cancelled, and
    /// the block run under it has not ended.
    ///
    /// ```
    /// let t = greenfetch_runtime::Timeout::new(std::time::Duration::from_secs(60));
    /// assert!(t.pending());
    /// t.cancel();
    /// assert!(!t.pending());
    /// ```
    pub fn pending(&self) -> bool {
        self.inner.state.load(Ordering::Acquire) == ARMED
            && self.inner.deadline.is_some_and(|d| Instant::now() < d)
    }

    /// Disarms the deadline (idempotent): a running block then runs to its end.
    ///
    /// ```
    /// let t = greenfetch_runtime::Timeout::new(std::time::Duration::from_millis(1));
    /// t.cancel();
    /// t.cancel();
    /// assert_eq!(t.run(|| { greenfetch_runtime::sleep(std::time::Duration::from_millis(5)); 1 }), Ok(1));
    /// ```
    pub fn cancel(&self) {
        if self
            .inner
            .state
            .compare_exchange(ARMED, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            if let Some(w) = lock(&self.inner.runner).take() {
                w.notify();
            }
        }
    }

    /// Runs `f` in a child green thread under this deadline: `Ok` with its value, or
    /// `Err(TimedOut)` if the deadline passed first (the child is killed and has unwound when
    /// this returns). A panic in `f` is re-raised here. When `run` returns (or unwinds), the
    /// deadline is over: `pending()` is false, as after eventlet's `with` block.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = greenfetch_runtime::Timeout::new(Duration::from_millis(5))
    ///     .run(|| greenfetch_runtime::sleep(Duration::from_secs(5)));
    /// assert_eq!(r, Err(greenfetch_runtime::TimedOut));
    /// ```
    pub fn run<T, F>(&self, f: F) -> Result<T, TimedOut>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        // Leaving `run`, however it ends (a value, this deadline, or an unwind from an outer
        // timeout or a kill), ends the deadline, as eventlet's `__exit__` cancels its timer:
        // `pending()` is false afterwards, and a nested timeout stops being pending when the
        // outer one's expiry unwinds its block.
        let _disarm = Disarm(&self.inner);
        // The block is the caller's own work: its green thread counts as a member of the
        // caller's pool (eventlet runs a `with Timeout` block in the same green thread), so a
        // pool task that spawns into its own full pool under a timeout still runs the function
        // inline instead of blocking on its own slot, and its `waitall` is still refused.
        let child = greenthread::spawn_shared(Shared::new(), greenthread::current_pool(), None, f);
        // If this caller unwinds (an outer timeout, a kill), take the child down with it.
        let guard = KillOnUnwind(&child);
        let outcome = self.wait_child(&child);
        std::mem::forget(guard);
        match outcome {
            Some(r) => Ok(unwrap_child(r)),
            None => {
                child.kill();
                // The child may have finished just as the deadline passed.
                match child.wait() {
                    Ok(v) => Ok(v),
                    Err(WaitError::Killed) => Err(TimedOut),
                    Err(WaitError::Panicked(m)) => panic!("{m}"),
                }
            }
        }
    }

    /// eventlet's silent form, `with Timeout(s, False)`: `Some` with the block's value, or
    /// `None` if the deadline passed first, without an error.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = greenfetch_runtime::Timeout::new(Duration::from_millis(5));
    /// assert_eq!(t.run_silent(|| greenfetch_runtime::sleep(Duration::from_secs(5))), None);
    /// ```
    pub fn run_silent<T, F>(&self, f: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.run(f).ok()
    }

    /// Waits for the child; `None` if this deadline fired first.
    fn wait_child<T: Send + 'static>(
        &self,
        child: &GreenThread<T>,
    ) -> Option<Result<T, WaitError>> {
        // One waiter, woken by whichever comes first: the child's end (a link) or `cancel`.
        let w = Waiter::new();
        *lock(&self.inner.runner) = Some(w.clone());
        {
            let w = w.clone();
            child.link(move |_| w.notify());
        }
        let armed = self.inner.state.load(Ordering::Acquire) == ARMED;
        let woken = !armed || w.wait(self.inner.deadline);
        let fired = !woken
            && self
                .inner
                .state
                .compare_exchange(ARMED, FIRED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok();
        lock(&self.inner.runner).take();
        if fired {
            return None;
        }
        child.shared().wait_done(None);
        Some(
            child
                .shared()
                .take_result()
                .unwrap_or(Err(WaitError::Killed)),
        )
    }
}

fn unwrap_child<T>(r: Result<T, WaitError>) -> T {
    match r {
        Ok(v) => v,
        Err(WaitError::Panicked(m)) => panic!("{m}"),
        // Killed by someone else than this deadline: report it as the caller being killed.
        Err(WaitError::Killed) => std::panic::panic_any(WaitError::Killed),
    }
}

/// Ends a deadline when its `run` ends (unless it fired or was cancelled already).
struct Disarm<'a>(&'a Inner);

impl Drop for Disarm<'_> {
    fn drop(&mut self) {
        let _ =
            self.0
                .state
                .compare_exchange(ARMED, CANCELLED, Ordering::AcqRel, Ordering::Acquire);
    }
}

struct KillOnUnwind<'a, T: Send + 'static>(&'a GreenThread<T>);

impl<T: Send + 'static> Drop for KillOnUnwind<'_, T> {
    fn drop(&mut self) {
        // While unwinding, `kill` only cancels the child (an unwinding coroutine cannot wait).
        self.0.kill();
    }
}

/// Runs `f` with a deadline of `after`: `Err(TimedOut)` if it passes first.
///
/// eventlet's `with_timeout(seconds, func, timeout_value=v)` is
/// `with_timeout(d, f).unwrap_or(v)`; an outer, shorter timeout is never swallowed.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(greenfetch_runtime::with_timeout(Duration::from_secs(1), || 7), Ok(7));
/// ```
pub fn with_timeout<T, F>(after: Duration, f: F) -> Result<T, TimedOut>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    Timeout::new(after).run(f)
}
