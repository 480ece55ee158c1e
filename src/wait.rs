//! The one way greenfetch's primitives block: a [`Waiter`] parked until notified or a deadline.
//!
//! Every primitive keeps its waiters in FIFO order under its own short `std` mutex (never held
//! across a yield) and hands a permit, an item or a wake-up to the waiter at the front: that is
//! what makes spawners, queue getters and putters first come, first served. A waiter parks with
//! may's [`Blocker`], which parks a coroutine in a coroutine and the thread on a plain thread.
//!
//! Layer: runtime (internal; uses `may::sync` and `std`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use may::sync::Blocker;

/// Locks a std mutex, ignoring poisoning: every critical section in the crate leaves its state
/// consistent before anything that could panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A parked caller and the value handed to it.
#[derive(Debug)]
pub(crate) struct Waiter<V = ()> {
    blocker: Blocker,
    ready: AtomicBool,
    slot: Mutex<Option<V>>,
}

impl<V> Waiter<V> {
    /// A waiter for the current context (a coroutine or a thread).
    pub(crate) fn new() -> Arc<Self> {
        crate::hub::ensure_started();
        Arc::new(Waiter {
            blocker: Blocker::new(false),
            ready: AtomicBool::new(false),
            slot: Mutex::new(None),
        })
    }

    /// Hands `v` to the waiter and wakes it. Call it at most once per waiter.
    pub(crate) fn notify_with(&self, v: V) {
        *lock(&self.slot) = Some(v);
        self.ready.store(true, Ordering::Release);
        self.blocker.unpark();
    }

    /// Whether the waiter has been notified.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Takes the value handed over by `notify_with`.
    pub(crate) fn take(&self) -> Option<V> {
        lock(&self.slot).take()
    }

    /// Parks until notified (true) or until `deadline` passes (false).
    ///
    /// A cancelled coroutine unwinds out of here (may's cancel panics at the park); callers keep
    /// a guard that takes the waiter out of their queue on the way out.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        loop {
            if self.is_ready() {
                return true;
            }
            if std::thread::panicking() {
                // A coroutine unwinding from a kill cannot park again (may would return at
                // once, forever): give up the wait instead of spinning.
                return false;
            }
            let timeout = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return self.is_ready(),
                },
            };
            if self.blocker.park(timeout).is_err() {
                // may resumes timed-out parks on its timer thread: hop back to a worker
                // before running any more of the caller's code.
                rehome();
            }
        }
    }
}

impl Waiter<()> {
    /// Wakes the waiter with no value.
    pub(crate) fn notify(&self) {
        self.notify_with(());
    }
}

/// Turns an optional timeout into a deadline.
pub(crate) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now().checked_add(t).unwrap_or_else(far_future))
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600)
}

/// After may's timer thread resumed the current coroutine, moves it back onto a worker thread.
pub(crate) fn rehome() {
    if may::coroutine::is_coroutine() {
        may::coroutine::yield_now();
    }
}
