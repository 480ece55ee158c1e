//! The one way greenfetch's primitives block: a `Waiter` parked until notified or a deadline.
//!
//! Every primitive keeps its waiters in FIFO order under its own short `std` mutex (never held
//! across a yield) and hands a permit, an item or a wake-up to the waiter at the front: that is
//! what makes spawners, queue getters and putters first come, first served. A waiter parks with
//! may's [`Blocker`], which parks a coroutine in a coroutine and the thread on a plain thread.
//!
//! Deadlines are kept by greenfetch's own timer thread (see `Alarm`), never by may's timed
//! park: every park here waits for an unpark.
//!
//! Layer: runtime (uses `may::sync` and `std`). Internal but for [`lock`], which green code
//! outside this crate needs too, and [`rehome`], for code that uses may's socket timeouts
//! itself rather than through [`GreenStream`](crate::green::stream::GreenStream), which calls
//! it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, PoisonError, Weak};
use std::time::{Duration, Instant};

use may::coroutine::ParkError;
use may::sync::Blocker;

/// Locks a std mutex, ignoring poisoning: every critical section in greenfetch leaves its
/// state consistent before anything that could panic. Hold the guard across no yield.
///
/// ```
/// let m = std::sync::Mutex::new(1);
/// *greenfetch_runtime::wait::lock(&m) += 1;
/// assert_eq!(*m.lock().unwrap(), 2);
/// ```
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A parked caller and the value handed to it.
#[derive(Debug)]
pub(crate) struct Waiter<V = ()> {
    /// Shared (weakly) with the timer thread, which unparks it at the deadline.
    /// Always `Some` until the waiter is dropped (its drop hands the blocker on).
    blocker: Option<Arc<Blocker>>,
    ready: AtomicBool,
    slot: Mutex<Option<V>>,
}

/// Batches of blockers let go of by their waiters, for the timer thread to drop (see
/// `Drop for Waiter`).
static SPENT: Mutex<Vec<Vec<Arc<Blocker>>>> = Mutex::new(Vec::new());
/// Blockers gathered per OS thread before a batch goes to the timer thread: one lock and one
/// wake-up per batch, not per waiter.
const SPENT_BATCH: usize = 4096;

std::thread_local! {
    static LOCAL_SPENT: std::cell::RefCell<Vec<Arc<Blocker>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// A waiter's blocker is never dropped where the waiter is: it goes to the timer thread.
///
/// may 0.3.51 can resume a coroutine that was unparked while it was still parking *inside*
/// its parking code (`Park::subscribe` runs it at once, nested), and the park stays marked
/// busy until that coroutine next yields; dropping a `Park` spins until it is not busy. The
/// last reference to a waiter is often let go by its notifier under a primitive's lock (a
/// queue consumer popping the putter it served); if the woken green thread meanwhile blocks
/// its worker on that same lock (its next `put`), neither can move. A `titles` run hung that
/// way about once in 60 runs. Dropped on the timer thread, under no lock, the spin only waits
/// for the green thread's next yield.
impl<V> Drop for Waiter<V> {
    fn drop(&mut self) {
        let mut blocker = self.blocker.take();
        // Gathered on this OS thread (no yield can come between the push and the take, so a
        // green thread moving between workers does not matter).
        let full = LOCAL_SPENT
            .try_with(|local| {
                let mut local = local.borrow_mut();
                local.extend(blocker.take());
                (local.len() >= SPENT_BATCH).then(|| std::mem::take(&mut *local))
            })
            .unwrap_or_else(|_| blocker.take().map(|b| vec![b])); // thread exiting
        if let Some(batch) = full {
            lock(&SPENT).push(batch);
            start_timer();
            TIMER.changed.notify_one();
        }
    }
}

impl<V> Waiter<V> {
    /// A waiter for the current context (a coroutine or a thread).
    pub(crate) fn new() -> Arc<Self> {
        crate::hub::ensure_started();
        Arc::new(Waiter {
            blocker: Some(Arc::new(Blocker::new(false))),
            ready: AtomicBool::new(false),
            slot: Mutex::new(None),
        })
    }

    fn blocker(&self) -> &Arc<Blocker> {
        self.blocker
            .as_ref()
            .expect("a waiter keeps its blocker until it is dropped")
    }

    /// Hands `v` to the waiter and wakes it. Call it at most once per waiter.
    pub(crate) fn notify_with(&self, v: V) {
        *lock(&self.slot) = Some(v);
        self.ready.store(true, Ordering::Release);
        self.blocker().unpark();
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
        if !may::coroutine::is_coroutine() {
            return self.wait_thread(deadline);
        }
        // The deadline is an alarm on greenfetch's timer, taken down however the wait ends.
        let _alarm = deadline.map(|at| Alarm::set(at, self.blocker()));
        loop {
            if self.is_ready() {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return self.is_ready();
            }
            // No may timeout: the notifier or the alarm unparks us (an unpark that comes first
            // is kept, so the park then returns at once). A wake-up for neither, such as the
            // alarm of an earlier wait on this blocker, just goes round again.
            if let Err(ParkError::Canceled) = self.blocker().park(None) {
                // This green thread was killed and is unwinding (a `Drop` is waiting): may
                // will not park it again, so give up the wait instead of spinning. (Not
                // `std::thread::panicking()`: that counts per OS thread, and another green
                // thread unwinding on this worker would make it true here.)
                return self.is_ready();
            }
        }
    }
}

impl<V> Waiter<V> {
    /// A plain thread's wait: may parks a thread on a condition variable, whose own timed wait
    /// is exact, so no alarm (and no wake-up of the timer thread) is needed.
    fn wait_thread(&self, deadline: Option<Instant>) -> bool {
        loop {
            if self.is_ready() {
                return true;
            }
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return self.is_ready(),
                },
            };
            let _ = self.blocker().park(left);
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

/// Parks the current coroutine until greenfetch's timer thread unparks it, which puts it on
/// may's global queue, behind the coroutines that other threads have woken. (If the unpark
/// comes first, the park returns at once.)
pub(crate) fn round_the_timer() {
    let blocker = Arc::new(Blocker::new(false));
    let _alarm = Alarm::set(Instant::now(), &blocker);
    let _ = blocker.park(None);
}

/// A deadline on greenfetch's timer thread: at `at`, the thread unparks the blocker (if it
/// still exists). Dropping the alarm takes it down.
///
/// Why not may's own timed park (`Blocker::park(Some(timeout))`)? Two defects in may 0.3.51:
///
/// - `Park` registers the timer before it stores the parked coroutine. A timer that fires in
///   between finds no coroutine, and the park then never times out: a 1 ms park hung forever
///   about once in 10^5 parks on this 2-core machine under load, so a `with_timeout` or a
///   `get_timeout` could hang.
/// - It keeps the timeout in whole milliseconds, truncated, and 0 means "none". A timed wait
///   woke up to 1 ms early, parked again for the sub-millisecond rest, and never woke up:
///   every timed wait in a coroutine that was not notified hung (`Event::wait_timeout` never
///   returned `None`).
///
/// A park with no timeout has neither problem: an unpark that races with the park is kept.
/// This thread also replaces may's `sleep` (see `greenthread::sleep`).
#[derive(Debug)]
pub(crate) struct Alarm {
    key: (Instant, u64),
}

struct Alarms {
    due: BTreeMap<(Instant, u64), Weak<Blocker>>,
    next_id: u64,
}

struct Timer {
    alarms: Mutex<Alarms>,
    changed: Condvar,
}

static TIMER: Timer = Timer {
    alarms: Mutex::new(Alarms {
        due: BTreeMap::new(),
        next_id: 0,
    }),
    changed: Condvar::new(),
};

static TIMER_THREAD: Once = Once::new();

impl Alarm {
    /// Sets an alarm that unparks `blocker` at `at` (at once if `at` has passed).
    pub(crate) fn set(at: Instant, blocker: &Arc<Blocker>) -> Alarm {
        start_timer();
        let mut alarms = lock(&TIMER.alarms);
        let key = (at, alarms.next_id);
        alarms.next_id += 1;
        let earliest = alarms.due.first_key_value().is_none_or(|(k, _)| key < *k);
        alarms.due.insert(key, Arc::downgrade(blocker));
        drop(alarms);
        if earliest {
            TIMER.changed.notify_one();
        }
        Alarm { key }
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        lock(&TIMER.alarms).due.remove(&self.key);
    }
}

/// Starts the timer thread, once.
fn start_timer() {
    TIMER_THREAD.call_once(|| {
        std::thread::Builder::new()
            .name("greenfetch-timer".into())
            .spawn(run_timer)
            .expect("greenfetch: cannot start the timer thread");
    });
}

/// The timer thread: unparks each blocker whose alarm is due, drops spent blockers (under no
/// lock), then sleeps until the next alarm or batch of spent blockers.
fn run_timer() {
    let mut alarms = lock(&TIMER.alarms);
    loop {
        let spent: Vec<Vec<Arc<Blocker>>> = std::mem::take(&mut *lock(&SPENT));
        if !spent.is_empty() {
            drop(alarms);
            drop(spent);
            alarms = lock(&TIMER.alarms);
        }
        let now = Instant::now();
        let mut due = Vec::new();
        while let Some(first) = alarms.due.first_entry() {
            if first.key().0 > now {
                break;
            }
            due.push(first.remove());
        }
        if !due.is_empty() {
            drop(alarms);
            for blocker in due.iter().filter_map(Weak::upgrade) {
                blocker.unpark();
            }
            drop(due);
            alarms = lock(&TIMER.alarms);
            continue;
        }
        alarms = match alarms.due.first_key_value() {
            Some((&(at, _), _)) => {
                let left = at.saturating_duration_since(now);
                TIMER
                    .changed
                    .wait_timeout(alarms, left)
                    .map(|(guard, _)| guard)
                    .unwrap_or_else(|e| e.into_inner().0)
            }
            None => TIMER
                .changed
                .wait(alarms)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

/// After may's own timer resumed the current coroutine (a may socket timeout: `TimedOut` or
/// `WouldBlock` from a read or write with a timeout set), moves it back onto a worker thread
/// before more of the caller's code runs there. Outside a coroutine it does nothing.
///
/// ```
/// greenfetch_runtime::wait::rehome(); // on a plain thread: nothing to do
/// ```
pub fn rehome() {
    if may::coroutine::is_coroutine() {
        may::coroutine::yield_now();
    }
}
