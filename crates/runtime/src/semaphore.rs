//! [`Semaphore`] and [`BoundedSemaphore`]: a counter of permits that green threads acquire and
//! release, blocking while there is none; [`SemaphoreGuard`] gives its permit back on drop.
//!
//! eventlet: `eventlet.semaphore.Semaphore` and `BoundedSemaphore`, with `acquire(blocking,
//! timeout)` as three methods, the way [`Queue`](crate::Queue) splits `put` and `get`:
//! [`acquire`](Semaphore::acquire) blocks, [`acquire_timeout`](Semaphore::acquire_timeout) and
//! [`acquire_nowait`](Semaphore::acquire_nowait) (eventlet's `blocking=False`) say whether they
//! got a permit. `counter`, `balance` and `locked` are eventlet's. A `BoundedSemaphore` released
//! more often than acquired refuses with [`TooManyReleases`] (eventlet's `ValueError`).
//!
//! Blocked acquirers are served first come, first served, and a release hands its permit
//! straight to the first of them: a green thread that releases and at once acquires again
//! queues behind the others instead of taking the permit back (eventlet's fairness fix for
//! issue #136, `tests/semaphore_test.py` `test_semaphore_contention`). An acquirer that times
//! out or is killed takes nothing. `release` never switches: the acquirer it wakes runs when
//! the releaser next yields.
//!
//! Layer: primitives (uses [`wait`](crate::wait)).
//!
//! # Examples
//!
//! At most two green threads in the critical section at once:
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::time::Duration;
//! use greenfetch_runtime::Semaphore;
//!
//! let sem = Semaphore::new(2);
//! let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
//! let tasks: Vec<_> = (0..6)
//!     .map(|_| {
//!         let (sem, now, most) = (sem.clone(), now.clone(), most.clone());
//!         greenfetch_runtime::spawn(move || {
//!             let _permit = sem.acquire_guard();
//!             most.fetch_max(now.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
//!             greenfetch_runtime::sleep(Duration::from_millis(1));
//!             now.fetch_sub(1, Ordering::SeqCst);
//!         })
//!     })
//!     .collect();
//! for t in tasks {
//!     t.wait().unwrap();
//! }
//! assert!(most.load(Ordering::SeqCst) <= 2);
//! assert_eq!(sem.counter(), 2);
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::wait::{Waiter, deadline, lock};

/// A [`BoundedSemaphore`] was released when its counter was already at its bound: a release
/// with no acquire to match it (eventlet's `ValueError("Semaphore released too many times")`).
///
/// ```
/// let sem = greenfetch_runtime::BoundedSemaphore::new(1);
/// assert_eq!(sem.release(), Err(greenfetch_runtime::TooManyReleases));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyReleases;

impl fmt::Display for TooManyReleases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore released too many times")
    }
}

impl std::error::Error for TooManyReleases {}

struct State {
    /// Free permits. Never above 0 while someone waits: a release hands its permit to the
    /// first waiter instead.
    counter: usize,
    /// Blocked acquirers, first come first served.
    waiters: VecDeque<Arc<Waiter>>,
}

struct Inner {
    state: Mutex<State>,
    /// A `BoundedSemaphore`'s bound (its initial value).
    bound: Option<usize>,
}

impl Inner {
    /// A permit comes back: to the first waiter, else to the counter. At the bound (a bounded
    /// semaphore released too often) nothing changes.
    fn release(&self) -> Result<(), TooManyReleases> {
        let mut st = lock(&self.state);
        if self.bound.is_some_and(|b| st.counter >= b) {
            return Err(TooManyReleases);
        }
        match st.waiters.pop_front() {
            Some(w) => w.notify(),
            None => st.counter += 1,
        }
        Ok(())
    }

    /// Takes a permit, waiting up to `timeout` (`None`: for ever) when `block`.
    fn acquire(&self, timeout: Option<Duration>, block: bool) -> bool {
        let w = {
            let mut st = lock(&self.state);
            if st.counter > 0 {
                st.counter -= 1;
                return true;
            }
            if !block {
                return false;
            }
            let w = Waiter::new();
            st.waiters.push_back(w.clone());
            w
        };
        let guard = LeaveLine {
            inner: self,
            waiter: &w,
        };
        let got = w.wait(deadline(timeout));
        std::mem::forget(guard);
        if got {
            return true;
        }
        // Timed out: leave the line, unless the permit came at the last moment.
        let mut st = lock(&self.state);
        if w.is_ready() {
            return true;
        }
        st.waiters.retain(|x| !Arc::ptr_eq(x, &w));
        false
    }
}

/// An acquirer whose wait unwinds (a kill, a `Timeout` around it) leaves the line; a permit
/// already handed to it goes on to the next in line.
struct LeaveLine<'a> {
    inner: &'a Inner,
    waiter: &'a Arc<Waiter>,
}

impl Drop for LeaveLine<'_> {
    fn drop(&mut self) {
        let mut st = lock(&self.inner.state);
        if self.waiter.is_ready() {
            drop(st);
            // The permit was ours: it cannot overflow a bound it came from.
            let _ = self.inner.release();
        } else {
            st.waiters.retain(|x| !Arc::ptr_eq(x, self.waiter));
        }
    }
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.state);
        f.debug_struct("Semaphore")
            .field("counter", &st.counter)
            .field("waiting", &st.waiters.len())
            .field("bound", &self.bound)
            .finish()
    }
}

/// A counter of permits shared by green threads (eventlet's `Semaphore(value)`); clones are
/// handles to the same semaphore.
///
/// `release` may be called by any green thread, and as often as it likes: the counter has no
/// upper bound (see [`BoundedSemaphore`] for one that refuses). `Semaphore::default()` is
/// eventlet's `Semaphore()`, one permit: a lock.
///
/// ```
/// let sem = greenfetch_runtime::Semaphore::new(1);
/// sem.acquire();
/// assert!(sem.locked());
/// assert!(!sem.acquire_nowait());
/// sem.release();
/// assert!(sem.acquire_nowait());
/// ```
#[derive(Clone)]
pub struct Semaphore {
    inner: Arc<Inner>,
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Default for Semaphore {
    fn default() -> Self {
        Semaphore::new(1)
    }
}

impl Semaphore {
    /// A semaphore with `value` permits (0 is legal: every acquire waits for a release).
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::Semaphore::new(3).counter(), 3);
    /// ```
    pub fn new(value: usize) -> Self {
        Semaphore::with_bound(value, None)
    }

    fn with_bound(value: usize, bound: Option<usize>) -> Self {
        Semaphore {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    counter: value,
                    waiters: VecDeque::new(),
                }),
                bound,
            }),
        }
    }

    /// Takes a permit, blocking this green thread while there is none (eventlet's
    /// `acquire()`). Blocked acquirers get permits in the order they came.
    ///
    /// ```
    /// let sem = greenfetch_runtime::Semaphore::new(0);
    /// let releaser = sem.clone();
    /// greenfetch_runtime::spawn_n(move || releaser.release());
    /// sem.acquire(); // returns once the other green thread has released
    /// ```
    pub fn acquire(&self) {
        self.inner.acquire(None, true);
    }

    /// Takes a permit, waiting at most `timeout`: true if it got one (eventlet's
    /// `acquire(timeout=t)`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = greenfetch_runtime::Semaphore::new(0);
    /// assert!(!sem.acquire_timeout(Duration::from_millis(5)));
    /// sem.release();
    /// assert!(sem.acquire_timeout(Duration::from_millis(5)));
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        self.inner.acquire(Some(timeout), true)
    }

    /// Takes a permit if one is free now: true if it got one (eventlet's
    /// `acquire(blocking=False)`).
    ///
    /// ```
    /// let sem = greenfetch_runtime::Semaphore::new(1);
    /// assert!(sem.acquire_nowait());
    /// assert!(!sem.acquire_nowait());
    /// ```
    pub fn acquire_nowait(&self) -> bool {
        self.inner.acquire(None, false)
    }

    /// Gives a permit back: to the first blocked acquirer if there is one, else to the
    /// counter. Never blocks and never switches.
    ///
    /// ```
    /// let sem = greenfetch_runtime::Semaphore::new(0);
    /// sem.release();
    /// sem.release(); // no bound: the counter goes past its initial value
    /// assert_eq!(sem.counter(), 2);
    /// ```
    pub fn release(&self) {
        let _ = self.inner.release();
    }

    /// Takes a permit like [`acquire`](Self::acquire), as a guard that releases it when
    /// dropped (eventlet's `with sem:`). The guard owns a handle to the semaphore, so it can
    /// be kept anywhere, a map of per-host limits included.
    ///
    /// ```
    /// let sem = greenfetch_runtime::Semaphore::new(1);
    /// {
    ///     let _held = sem.acquire_guard();
    ///     assert!(sem.locked());
    /// }
    /// assert!(!sem.locked());
    /// ```
    pub fn acquire_guard(&self) -> SemaphoreGuard {
        self.acquire();
        SemaphoreGuard {
            inner: self.inner.clone(),
        }
    }

    /// Takes a permit like [`acquire_timeout`](Self::acquire_timeout), as a guard; `None` if
    /// none came within `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = greenfetch_runtime::Semaphore::new(1);
    /// let held = sem.acquire_guard_timeout(Duration::from_millis(5));
    /// assert!(held.is_some());
    /// assert!(sem.acquire_guard_timeout(Duration::from_millis(5)).is_none());
    /// ```
    pub fn acquire_guard_timeout(&self, timeout: Duration) -> Option<SemaphoreGuard> {
        self.acquire_timeout(timeout).then(|| SemaphoreGuard {
            inner: self.inner.clone(),
        })
    }

    /// Free permits now (eventlet's `counter`).
    ///
    /// ```
    /// let sem = greenfetch_runtime::Semaphore::new(2);
    /// sem.acquire();
    /// assert_eq!(sem.counter(), 1);
    /// ```
    pub fn counter(&self) -> usize {
        lock(&self.inner.state).counter
    }

    /// Free permits less blocked acquirers (eventlet's `balance`): positive, the acquires that
    /// would not block; negative, the releases needed before an acquire would not block.
    ///
    /// ```
    /// let sem = greenfetch_runtime::Semaphore::new(0);
    /// assert_eq!(sem.balance(), 0);
    /// sem.release();
    /// assert_eq!(sem.balance(), 1);
    /// ```
    pub fn balance(&self) -> isize {
        let st = lock(&self.inner.state);
        st.counter as isize - st.waiters.len() as isize
    }

    /// Whether an acquire would block now (eventlet's `locked()`).
    ///
    /// ```
    /// assert!(greenfetch_runtime::Semaphore::new(0).locked());
    /// ```
    pub fn locked(&self) -> bool {
        lock(&self.inner.state).counter == 0
    }
}

/// A [`Semaphore`] whose counter may not go past its initial value (eventlet's
/// `BoundedSemaphore(value)`): a release with no acquire to match it is refused with
/// [`TooManyReleases`], which is how a bug that releases twice shows. Clones are handles to the
/// same semaphore.
///
/// ```
/// use greenfetch_runtime::{BoundedSemaphore, TooManyReleases};
/// let sem = BoundedSemaphore::new(2);
/// sem.acquire();
/// assert_eq!(sem.release(), Ok(()));
/// assert_eq!(sem.release(), Err(TooManyReleases));
/// assert_eq!(sem.counter(), 2);
/// ```
#[derive(Clone)]
pub struct BoundedSemaphore {
    sem: Semaphore,
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.sem.inner.fmt(f)
    }
}

impl Default for BoundedSemaphore {
    fn default() -> Self {
        BoundedSemaphore::new(1)
    }
}

impl BoundedSemaphore {
    /// A semaphore with `value` permits that refuses to hold more.
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::BoundedSemaphore::new(4).bound(), 4);
    /// ```
    pub fn new(value: usize) -> Self {
        BoundedSemaphore {
            sem: Semaphore::with_bound(value, Some(value)),
        }
    }

    /// The bound: the initial value, which the counter may not exceed.
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::BoundedSemaphore::default().bound(), 1);
    /// ```
    pub fn bound(&self) -> usize {
        self.sem.inner.bound.unwrap_or_default()
    }

    /// [`Semaphore::acquire`].
    ///
    /// ```
    /// let sem = greenfetch_runtime::BoundedSemaphore::new(1);
    /// sem.acquire();
    /// assert!(sem.locked());
    /// ```
    pub fn acquire(&self) {
        self.sem.acquire();
    }

    /// [`Semaphore::acquire_timeout`].
    ///
    /// ```
    /// let sem = greenfetch_runtime::BoundedSemaphore::new(0);
    /// assert!(!sem.acquire_timeout(std::time::Duration::from_millis(1)));
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        self.sem.acquire_timeout(timeout)
    }

    /// [`Semaphore::acquire_nowait`].
    ///
    /// ```
    /// let sem = greenfetch_runtime::BoundedSemaphore::new(1);
    /// assert!(sem.acquire_nowait() && !sem.acquire_nowait());
    /// ```
    pub fn acquire_nowait(&self) -> bool {
        self.sem.acquire_nowait()
    }

    /// Gives a permit back, as [`Semaphore::release`] does; refused, changing nothing, when the
    /// counter is already at the bound.
    ///
    /// ```
    /// let sem = greenfetch_runtime::BoundedSemaphore::new(1);
    /// assert!(sem.release().is_err());
    /// sem.acquire();
    /// assert!(sem.release().is_ok());
    /// ```
    pub fn release(&self) -> Result<(), TooManyReleases> {
        self.sem.inner.release()
    }

    /// [`Semaphore::acquire_guard`].
    ///
    /// ```
    /// let sem = greenfetch_runtime::BoundedSemaphore::new(1);
    /// drop(sem.acquire_guard());
    /// assert_eq!(sem.counter(), 1);
    /// ```
    pub fn acquire_guard(&self) -> SemaphoreGuard {
        self.sem.acquire_guard()
    }

    /// [`Semaphore::acquire_guard_timeout`].
    ///
    /// ```
    /// let sem = greenfetch_runtime::BoundedSemaphore::new(0);
    /// assert!(sem.acquire_guard_timeout(std::time::Duration::from_millis(1)).is_none());
    /// ```
    pub fn acquire_guard_timeout(&self, timeout: Duration) -> Option<SemaphoreGuard> {
        self.sem.acquire_guard_timeout(timeout)
    }

    /// [`Semaphore::counter`].
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::BoundedSemaphore::new(2).counter(), 2);
    /// ```
    pub fn counter(&self) -> usize {
        self.sem.counter()
    }

    /// [`Semaphore::balance`].
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::BoundedSemaphore::new(2).balance(), 2);
    /// ```
    pub fn balance(&self) -> isize {
        self.sem.balance()
    }

    /// [`Semaphore::locked`].
    ///
    /// ```
    /// assert!(!greenfetch_runtime::BoundedSemaphore::new(1).locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.sem.locked()
    }
}

/// A permit held until the guard is dropped, from [`Semaphore::acquire_guard`] (or
/// [`BoundedSemaphore::acquire_guard`]). Dropping it releases the permit, also when the
/// green thread holding it unwinds (a kill, a panic, a `Timeout`).
///
/// A bounded semaphore's guard cannot be refused its release by the bound, except after a
/// stray [`BoundedSemaphore::release`] elsewhere filled the counter meanwhile; that release is
/// then dropped (a drop cannot fail).
///
/// ```
/// let sem = greenfetch_runtime::Semaphore::new(1);
/// let held = sem.acquire_guard();
/// let other = sem.clone();
/// let waiter = greenfetch_runtime::spawn(move || drop(other.acquire_guard()));
/// drop(held); // the waiter gets the permit
/// waiter.wait().unwrap();
/// assert_eq!(sem.counter(), 1);
/// ```
#[must_use = "dropping the guard releases the permit at once"]
pub struct SemaphoreGuard {
    inner: Arc<Inner>,
}

impl fmt::Debug for SemaphoreGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreGuard").finish_non_exhaustive()
    }
}

impl Drop for SemaphoreGuard {
    fn drop(&mut self) {
        let _ = self.inner.release();
    }
}
