//! [`GreenPool`]: a bounded set of green threads, and [`Imap`]/[`ImapUnordered`], its lazy
//! ordered map.
//!
//! eventlet: `eventlet.greenpool.GreenPool`, with its defects fixed: `waitall` never hangs (and
//! refuses to run from inside the pool instead of asserting), `resize` up admits blocked
//! spawners at once, blocked spawners are admitted first come first served, and `imap` runs on
//! the pool's own slots (as gevent's does), so `running`, `free` and `waitall` account for it.
//! `starmap` is not ported: a closure destructures its tuple.
//!
//! Layer: primitives (uses [`greenthread`], [`queue`](crate::queue)).
//!
//! # Examples
//!
//! ```
//! use greenfetch_runtime::GreenPool;
//!
//! let pool = GreenPool::new(4);
//! let squares: Vec<u64> = pool.imap(|n: u64| n * n, 0..10).map(Result::unwrap).collect();
//! assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::greenthread::{self, GreenThread, Shared, WaitError, panic_message};
use crate::queue::Queue;
use crate::wait::{Waiter, deadline, lock};

/// eventlet's default pool size.
pub const DEFAULT_POOL_SIZE: usize = 1000;

static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

struct PoolState {
    size: usize,
    running: usize,
    spawners: VecDeque<Arc<Waiter>>,
    idle: Vec<Arc<Waiter>>,
}

struct PoolInner {
    id: u64,
    state: Mutex<PoolState>,
}

impl PoolInner {
    /// Admits blocked spawners while there is room; wakes `waitall` when nothing runs.
    fn admit(&self, st: &mut PoolState) -> Vec<Arc<Waiter>> {
        let mut wake = Vec::new();
        while st.running < st.size {
            match st.spawners.pop_front() {
                Some(w) => {
                    st.running += 1;
                    wake.push(w);
                }
                None => break,
            }
        }
        if st.running == 0 {
            wake.append(&mut st.idle);
        }
        wake
    }

    fn release(&self) {
        let wake = {
            let mut st = lock(&self.state);
            st.running -= 1;
            self.admit(&mut st)
        };
        for w in wake {
            w.notify();
        }
    }
}

/// Gives a slot back to the pool when dropped: when the task ends, unwinds, or is killed before
/// it starts (its closure, which owns the guard, is then dropped unrun).
struct Slot(Arc<PoolInner>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.release();
    }
}

enum Admission {
    Slot(Slot),
    Inline,
}

/// `waitall` was called from a task of the same pool, which would wait for itself forever.
///
/// ```
/// let pool = greenfetch_runtime::GreenPool::new(2);
/// let p = pool.clone();
/// let r = pool.spawn(move || p.waitall()).wait().unwrap();
/// assert_eq!(r, Err(greenfetch_runtime::InsidePool));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InsidePool;

impl fmt::Display for InsidePool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("waitall called from inside the pool it waits for")
    }
}

impl std::error::Error for InsidePool {}

/// A pool of at most `size` concurrently running green threads.
///
/// Spawning into a full pool blocks the caller until a slot frees (first come, first served);
/// a task of the pool that spawns into its own full pool runs the function inline instead of
/// deadlocking. `GreenPool::new(0)` is legal: every spawn blocks until a `resize`. Cloning
/// gives another handle to the same pool.
///
/// ```
/// use greenfetch_runtime::GreenPool;
/// let pool = GreenPool::new(2);
/// let a = pool.spawn(|| 1);
/// let b = pool.spawn(|| 2);
/// assert_eq!(a.wait().unwrap() + b.wait().unwrap(), 3);
/// pool.waitall().unwrap();
/// assert_eq!(pool.free(), 2);
/// ```
#[derive(Clone)]
pub struct GreenPool {
    inner: Arc<PoolInner>,
}

impl fmt::Debug for GreenPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.inner.state);
        f.debug_struct("GreenPool")
            .field("size", &st.size)
            .field("running", &st.running)
            .field("waiting", &st.spawners.len())
            .finish()
    }
}

impl Default for GreenPool {
    /// A pool of 1000, eventlet's default.
    fn default() -> Self {
        GreenPool::new(DEFAULT_POOL_SIZE)
    }
}

impl GreenPool {
    /// A pool that runs at most `size` tasks at once.
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::GreenPool::new(3).size(), 3);
    /// ```
    pub fn new(size: usize) -> Self {
        GreenPool {
            inner: Arc::new(PoolInner {
                id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
                state: Mutex::new(PoolState {
                    size,
                    running: 0,
                    spawners: VecDeque::new(),
                    idle: Vec::new(),
                }),
            }),
        }
    }

    /// The pool's size.
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::GreenPool::default().size(), 1000);
    /// ```
    pub fn size(&self) -> usize {
        lock(&self.inner.state).size
    }

    /// Tasks running in the pool now.
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::GreenPool::new(1).running(), 0);
    /// ```
    pub fn running(&self) -> usize {
        lock(&self.inner.state).running
    }

    /// Slots free now: `size - running`, negative after shrinking below `running`.
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::GreenPool::new(5).free(), 5);
    /// ```
    pub fn free(&self) -> isize {
        let st = lock(&self.inner.state);
        st.size as isize - st.running as isize
    }

    /// Callers blocked in `spawn`/`spawn_n`, waiting for a slot.
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::GreenPool::new(1).waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        lock(&self.inner.state).spawners.len()
    }

    /// Changes the size. Shrinking kills nothing (the excess tasks finish); growing admits
    /// blocked spawners at once.
    ///
    /// ```
    /// let pool = greenfetch_runtime::GreenPool::new(1);
    /// pool.resize(3);
    /// assert_eq!(pool.free(), 3);
    /// ```
    pub fn resize(&self, size: usize) {
        let wake = {
            let mut st = lock(&self.inner.state);
            st.size = size;
            self.inner.admit(&mut st)
        };
        for w in wake {
            w.notify();
        }
    }

    fn admission(&self, block: bool) -> Option<Admission> {
        let w = {
            let mut st = lock(&self.inner.state);
            if st.running < st.size && st.spawners.is_empty() {
                st.running += 1;
                return Some(Admission::Slot(Slot(self.inner.clone())));
            }
            if greenthread::current_pool() == self.inner.id {
                return Some(Admission::Inline);
            }
            if !block {
                return None;
            }
            let w = Waiter::new();
            st.spawners.push_back(w.clone());
            w
        };
        // If the wait unwinds (the caller was killed or timed out), give the place back.
        let guard = LeaveQueue {
            pool: &self.inner,
            waiter: &w,
        };
        w.wait(None);
        std::mem::forget(guard);
        Some(Admission::Slot(Slot(self.inner.clone())))
    }

    /// Runs `f` in a green thread of the pool, blocking while the pool is full.
    ///
    /// Called from a task of this pool while it is full, `f` runs inline and the returned
    /// handle is already finished (eventlet's re-entrancy rule: no deadlock).
    ///
    /// ```
    /// let pool = greenfetch_runtime::GreenPool::new(1);
    /// assert_eq!(pool.spawn(|| "hi").wait(), Ok("hi"));
    /// ```
    pub fn spawn<T, F>(&self, f: F) -> GreenThread<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        match self.admission(true) {
            Some(Admission::Slot(slot)) => self.spawn_in(slot, f),
            _ => run_inline(f),
        }
    }

    /// Like [`spawn`](Self::spawn) but never blocks: gives `f` back if the pool is full.
    ///
    /// ```
    /// let pool = greenfetch_runtime::GreenPool::new(0);
    /// assert!(pool.try_spawn(|| 1).is_err());
    /// ```
    pub fn try_spawn<T, F>(&self, f: F) -> Result<GreenThread<T>, F>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        match self.admission(false) {
            Some(Admission::Slot(slot)) => Ok(self.spawn_in(slot, f)),
            Some(Admission::Inline) => Ok(run_inline(f)),
            None => Err(f),
        }
    }

    fn spawn_in<T, F>(&self, slot: Slot, f: F) -> GreenThread<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        greenthread::spawn_shared(Shared::new(), self.inner.id, None, move || {
            let _slot = slot;
            f()
        })
    }

    /// Like [`spawn`](Self::spawn), without a handle. A panic in `f` is caught, reported by the
    /// panic hook, and frees the slot.
    ///
    /// ```
    /// let pool = greenfetch_runtime::GreenPool::new(2);
    /// pool.spawn_n(|| ());
    /// pool.waitall().unwrap();
    /// ```
    pub fn spawn_n<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        match self.admission(true) {
            Some(Admission::Slot(slot)) => greenthread::spawn_n_in_pool(self.inner.id, move || {
                let _slot = slot;
                f()
            }),
            _ => {
                let _ = catch_unwind(AssertUnwindSafe(f));
            }
        }
    }

    /// Blocks until no task of the pool is running. Returns at once on an idle pool, never
    /// hangs because of blocked spawners, and refuses to run from a task of the pool itself.
    ///
    /// ```
    /// let pool = greenfetch_runtime::GreenPool::new(3);
    /// for _ in 0..10 { pool.spawn_n(|| greenfetch_runtime::sleep(std::time::Duration::from_millis(1))); }
    /// pool.waitall().unwrap();
    /// assert_eq!(pool.running(), 0);
    /// ```
    pub fn waitall(&self) -> Result<(), InsidePool> {
        self.waitall_until(None).map(|_| ())
    }

    /// Like [`waitall`](Self::waitall) with a time limit: `Ok(true)` if the pool went idle.
    ///
    /// ```
    /// let pool = greenfetch_runtime::GreenPool::new(1);
    /// pool.spawn_n(|| greenfetch_runtime::sleep(std::time::Duration::from_secs(1)));
    /// assert_eq!(pool.waitall_timeout(std::time::Duration::from_millis(1)), Ok(false));
    /// ```
    pub fn waitall_timeout(&self, timeout: Duration) -> Result<bool, InsidePool> {
        self.waitall_until(Some(timeout))
    }

    fn waitall_until(&self, timeout: Option<Duration>) -> Result<bool, InsidePool> {
        if greenthread::current_pool() == self.inner.id {
            return Err(InsidePool);
        }
        let w = {
            let mut st = lock(&self.inner.state);
            if st.running == 0 {
                return Ok(true);
            }
            let w = Waiter::new();
            st.idle.push(w.clone());
            w
        };
        let done = w.wait(deadline(timeout));
        if !done {
            lock(&self.inner.state).idle.retain(|x| !Arc::ptr_eq(x, &w));
        }
        Ok(done)
    }

    /// Maps `f` over `inputs` on the pool's slots and yields the results **in input order**.
    ///
    /// Lazy and bounded: a producer green thread spawns tasks as slots free, at most `size`
    /// results wait unread, so memory stays O(size) whatever the input length. A task that
    /// panics yields `Err` at its own position and iteration goes on. If the input iterator
    /// itself panics, the consumer gets one `Err` and the iteration ends (no hang).
    ///
    /// ```
    /// let pool = greenfetch_runtime::GreenPool::new(3);
    /// let out: Vec<_> = pool
    ///     .imap(|x: i32| if x == 2 { panic!("bad") } else { x }, 0..4)
    ///     .map(|r| r.ok())
    ///     .collect();
    /// assert_eq!(out, [Some(0), Some(1), None, Some(3)]);
    /// ```
    pub fn imap<I, T, F>(&self, f: F, inputs: I) -> Imap<T>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        T: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
    {
        let window = self.size().max(1);
        let queue: Queue<Ordered<T>> = Queue::bounded(window);
        let stop = Arc::new(AtomicBool::new(false));
        let (q, s, pool, f) = (queue.clone(), stop.clone(), self.clone(), Arc::new(f));
        let mut inputs = inputs.into_iter();
        // The producer works for the caller: if the caller is a task of this pool, so is the
        // producer, and it runs items inline when the pool is full instead of waiting for the
        // slot its own consumer holds (imap from a task of a full pool of one deadlocked).
        greenthread::spawn_n_in_pool(greenthread::current_pool(), move || {
            loop {
                let item = match catch_unwind(AssertUnwindSafe(|| inputs.next())) {
                    Ok(Some(item)) => item,
                    Ok(None) => break,
                    Err(p) => {
                        q.put(Ordered::InputFailed(WaitError::Panicked(panic_message(
                            &*p,
                        ))));
                        return;
                    }
                };
                if s.load(Ordering::Acquire) {
                    return;
                }
                let f = f.clone();
                q.put(Ordered::Task(pool.spawn(move || f(item))));
                if s.load(Ordering::Acquire) {
                    return;
                }
            }
            q.put(Ordered::End);
        });
        Imap {
            queue,
            stop,
            head: None,
            finished: None,
            done: false,
        }
    }

    /// Like [`imap`](Self::imap), but yields results as they complete.
    ///
    /// ```
    /// let pool = greenfetch_runtime::GreenPool::new(4);
    /// let mut out: Vec<i32> = pool.imap_unordered(|x: i32| x * 10, 0..5).map(Result::unwrap).collect();
    /// out.sort();
    /// assert_eq!(out, [0, 10, 20, 30, 40]);
    /// ```
    pub fn imap_unordered<I, T, F>(&self, f: F, inputs: I) -> ImapUnordered<T>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        T: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
    {
        let queue: Queue<Unordered<T>> = Queue::bounded(self.size().max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let (q, s, pool, f) = (queue.clone(), stop.clone(), self.clone(), Arc::new(f));
        let mut inputs = inputs.into_iter();
        // As in `imap`: the producer counts as a member of the caller's pool.
        greenthread::spawn_n_in_pool(greenthread::current_pool(), move || {
            let mut count = 0;
            loop {
                let item = match catch_unwind(AssertUnwindSafe(|| inputs.next())) {
                    Ok(Some(item)) => item,
                    Ok(None) => break,
                    Err(p) => {
                        q.put(Unordered::Item(Err(WaitError::Panicked(panic_message(
                            &*p,
                        )))));
                        count += 1;
                        break;
                    }
                };
                if s.load(Ordering::Acquire) {
                    return;
                }
                let (f, q2) = (f.clone(), q.clone());
                pool.spawn_n(move || {
                    let r = catch_unwind(AssertUnwindSafe(|| f(item)))
                        .map_err(|p| WaitError::Panicked(panic_message(&*p)));
                    q2.put(Unordered::Item(r));
                });
                count += 1;
            }
            q.put(Unordered::End(count));
        });
        ImapUnordered {
            queue,
            stop,
            received: 0,
            total: None,
        }
    }
}

fn run_inline<T, F>(f: F) -> GreenThread<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let r = catch_unwind(AssertUnwindSafe(f)).map_err(|p| WaitError::Panicked(panic_message(&*p)));
    GreenThread::finished(r)
}

/// Takes a blocked spawner out of the queue if its wait unwinds; if it was admitted meanwhile,
/// the slot it was given goes back to the pool.
struct LeaveQueue<'a> {
    pool: &'a Arc<PoolInner>,
    waiter: &'a Arc<Waiter>,
}

impl Drop for LeaveQueue<'_> {
    fn drop(&mut self) {
        let mut st = lock(&self.pool.state);
        if self.waiter.is_ready() {
            drop(st);
            self.pool.release();
        } else {
            st.spawners.retain(|w| !Arc::ptr_eq(w, self.waiter));
        }
    }
}

enum Ordered<T> {
    Task(GreenThread<T>),
    InputFailed(WaitError),
    End,
}

enum Unordered<T> {
    Item(Result<T, WaitError>),
    End(usize),
}

/// The iterator returned by [`GreenPool::imap`]: results in input order.
///
/// Dropping it stops the producer; tasks already running finish on their own.
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Imap<T> {
    queue: Queue<Ordered<T>>,
    stop: Arc<AtomicBool>,
    /// The task at the head of the order, kept when a timed wait for it gave up.
    head: Option<GreenThread<T>>,
    /// What the iteration ended with (an input failure to report, or nothing).
    finished: Option<Option<Result<T, WaitError>>>,
    done: bool,
}

impl<T> fmt::Debug for Imap<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Imap").field("done", &self.done).finish()
    }
}

impl<T: Send + 'static> Imap<T> {
    /// Like `next`, but waits at most `timeout`: `Err(TimedOut)` if the next result in order is
    /// not ready by then (nothing is lost: a later call returns it).
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = greenfetch_runtime::GreenPool::new(2);
    /// let mut it = pool.imap(|ms: u64| { greenfetch_runtime::sleep(Duration::from_millis(ms)); ms }, [200, 0]);
    /// assert!(it.next_timeout(Duration::from_millis(1)).is_err());
    /// assert_eq!(it.next(), Some(Ok(200)));
    /// assert_eq!(it.next_timeout(Duration::from_secs(5)), Ok(Some(Ok(0))));
    /// ```
    pub fn next_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<Result<T, WaitError>>, crate::TimedOut> {
        let deadline = std::time::Instant::now() + timeout;
        if self.done {
            return Ok(None);
        }
        let gt = match self.head.take() {
            Some(gt) => gt,
            None => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                match self.queue.get_timeout(left) {
                    Ok(msg) => match self.take_message(msg) {
                        Some(gt) => gt,
                        None => return Ok(self.finished.take().flatten()),
                    },
                    Err(_) => return Err(crate::TimedOut),
                }
            }
        };
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match gt.wait_timeout(left) {
            Ok(r) => Ok(Some(r)),
            Err(gt) => {
                self.head = Some(gt);
                Err(crate::TimedOut)
            }
        }
    }

    /// Turns a queue message into the next task, or records the end of the iteration.
    fn take_message(&mut self, msg: Ordered<T>) -> Option<GreenThread<T>> {
        match msg {
            Ordered::Task(gt) => Some(gt),
            Ordered::InputFailed(e) => {
                self.done = true;
                self.finished = Some(Some(Err(e)));
                None
            }
            Ordered::End => {
                self.done = true;
                self.finished = Some(None);
                None
            }
        }
    }
}

impl<T: Send + 'static> Iterator for Imap<T> {
    type Item = Result<T, WaitError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(gt) = self.head.take() {
            return Some(gt.wait());
        }
        if self.done {
            return None;
        }
        let msg = self.queue.get();
        match self.take_message(msg) {
            Some(gt) => Some(gt.wait()),
            None => self.finished.take().flatten(),
        }
    }
}

impl<T> Drop for Imap<T> {
    fn drop(&mut self) {
        if !self.done {
            self.stop.store(true, Ordering::Release);
            // Unblock a producer waiting for room; it sees `stop` and ends.
            self.queue.resize(None);
        }
    }
}

/// The iterator returned by [`GreenPool::imap_unordered`]: results in completion order.
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct ImapUnordered<T> {
    queue: Queue<Unordered<T>>,
    stop: Arc<AtomicBool>,
    received: usize,
    total: Option<usize>,
}

impl<T> fmt::Debug for ImapUnordered<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapUnordered")
            .field("received", &self.received)
            .field("total", &self.total)
            .finish()
    }
}

impl<T: Send + 'static> Iterator for ImapUnordered<T> {
    type Item = Result<T, WaitError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.total == Some(self.received) {
                return None;
            }
            match self.queue.get() {
                Unordered::Item(r) => {
                    self.received += 1;
                    return Some(r);
                }
                Unordered::End(n) => self.total = Some(n),
            }
        }
    }
}

impl<T> Drop for ImapUnordered<T> {
    fn drop(&mut self) {
        if self.total != Some(self.received) {
            self.stop.store(true, Ordering::Release);
            self.queue.resize(None);
        }
    }
}
