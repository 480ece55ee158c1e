//! Green threads: [`spawn`], [`spawn_n`], [`spawn_after`], [`sleep`] and the [`GreenThread`]
//! handle. The only file of the crate with `unsafe` code.
//!
//! eventlet: `eventlet.greenthread`. A green thread here is a may coroutine with a 256 KiB stack
//! (see [`hub`](crate::hub)); `wait` returns a `Result` instead of re-raising, `kill` unwinds the
//! task at its next yield point (its `Drop`s run), and a task killed before it started never
//! runs. With one worker, a task spawned from a coroutine starts only after its spawner yields,
//! in spawn order, as in eventlet.
//!
//! Layer: runtime (uses `may`, `std` and [`wait`](crate::wait)).
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//!
//! let gt = greenfetch_runtime::spawn(|| 6 * 7);
//! assert_eq!(gt.wait(), Ok(42));
//!
//! let late = greenfetch_runtime::spawn_after(Duration::from_millis(5), || "later");
//! assert_eq!(late.wait(), Ok("later"));
//! ```
#![allow(unsafe_code)]

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::wait::{Waiter, lock};

/// Why [`GreenThread::wait`] has no value to give.
///
/// ```
/// let gt = greenfetch_runtime::spawn(|| -> u8 { panic!("boom") });
/// assert_eq!(gt.wait(), Err(greenfetch_runtime::WaitError::Panicked("boom".into())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitError {
    /// The task was killed (eventlet's `GreenletExit`), before or while it ran.
    Killed,
    /// The task panicked; the panic message, if it was a string.
    Panicked(String),
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::Killed => f.write_str("green thread was killed"),
            WaitError::Panicked(m) => write!(f, "green thread panicked: {m}"),
        }
    }
}

impl std::error::Error for WaitError {}

/// The message of a panic's payload (a `&str` or a `String`; anything else gives
/// `"non-string panic payload"`), as [`WaitError::Panicked`] carries it.
///
/// ```
/// let p = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
/// assert_eq!(greenfetch_runtime::greenthread::panic_message(&*p), "boom 1");
/// ```
pub fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

type Link<T> = Box<dyn FnOnce(&Result<T, WaitError>) + Send>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Spawned; the body has not started.
    Pending,
    /// The body is running.
    Running,
    /// The body ended; links are running.
    Finishing,
    /// Links ran; waiters may take the result.
    Done,
}

struct State<T> {
    status: Status,
    kill_requested: bool,
    result: Option<Result<T, WaitError>>,
    links: Vec<Link<T>>,
    waiters: Vec<Arc<Waiter>>,
    coroutine: Option<may::coroutine::Coroutine>,
}

/// What a task and its handles share.
pub(crate) struct Shared<T> {
    state: Mutex<State<T>>,
}

impl<T> Shared<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Shared {
            state: Mutex::new(State {
                status: Status::Pending,
                kill_requested: false,
                result: None,
                links: Vec::new(),
                waiters: Vec::new(),
                coroutine: None,
            }),
        })
    }

    /// Called by the task as it starts: false if it was killed first.
    fn start(&self) -> bool {
        let mut st = lock(&self.state);
        if st.status == Status::Pending {
            st.status = Status::Running;
            true
        } else {
            false
        }
    }

    /// Stores the outcome, runs the links (outside the lock, in the calling context), then wakes
    /// the waiters.
    fn finish(&self, result: Result<T, WaitError>) {
        loop {
            let links = {
                let mut st = lock(&self.state);
                st.status = Status::Finishing;
                if st.links.is_empty() {
                    st.status = Status::Done;
                    st.result = Some(result);
                    st.coroutine = None;
                    let waiters = std::mem::take(&mut st.waiters);
                    drop(st);
                    for w in waiters {
                        w.notify();
                    }
                    return;
                }
                std::mem::take(&mut st.links)
            };
            for link in links {
                // eventlet: a link that raises skips the remaining links, and wait() still
                // returns the task's own result.
                let ran = catch_unwind(AssertUnwindSafe(|| link(&result)));
                if ran.is_err() {
                    lock(&self.state).links.clear();
                    break;
                }
            }
            // A link may have added links: they run in the next pass, exactly once.
        }
    }

    /// Blocks until the task is done, or until `deadline`; true if it is done.
    pub(crate) fn wait_done(&self, deadline: Option<Instant>) -> bool {
        let w = {
            let mut st = lock(&self.state);
            if st.status == Status::Done {
                return true;
            }
            let w = Waiter::new();
            st.waiters.push(w.clone());
            w
        };
        let guard = DropWaiter(&self.state, &w);
        let done = w.wait(deadline);
        drop(guard);
        done
    }

    pub(crate) fn is_done(&self) -> bool {
        lock(&self.state).status == Status::Done
    }

    /// Takes the result of a finished task (None if taken already or not done).
    pub(crate) fn take_result(&self) -> Option<Result<T, WaitError>> {
        lock(&self.state).result.take()
    }
}

/// Removes a waiter from a task's list if the waiting side leaves early (timeout or unwind).
struct DropWaiter<'a, T>(&'a Mutex<State<T>>, &'a Arc<Waiter>);

impl<T> Drop for DropWaiter<'_, T> {
    fn drop(&mut self) {
        if !self.1.is_ready() {
            lock(self.0).waiters.retain(|w| !Arc::ptr_eq(w, self.1));
        }
    }
}

/// A handle to a spawned task: wait for its value, kill it, or link a callback to its end.
///
/// Created by [`spawn`], [`spawn_after`] and `GreenPool::spawn`. Dropping the handle detaches
/// the task; it runs to completion regardless.
///
/// ```
/// let gt = greenfetch_runtime::spawn(|| "done");
/// gt.link(|r| assert_eq!(r, &Ok("done")));
/// assert_eq!(gt.wait(), Ok("done"));
/// ```
#[must_use = "dropping a GreenThread detaches the task; call wait() to get its result"]
pub struct GreenThread<T> {
    shared: Arc<Shared<T>>,
}

impl<T> fmt::Debug for GreenThread<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.shared.state);
        f.debug_struct("GreenThread")
            .field("status", &st.status)
            .finish()
    }
}

impl<T: Send + 'static> GreenThread<T> {
    /// Blocks until the task ends and returns its value, or why there is none.
    ///
    /// Never hangs for a task killed before it ran: such a task is already done.
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::spawn(|| 1 + 1).wait(), Ok(2));
    /// ```
    pub fn wait(self) -> Result<T, WaitError> {
        self.shared.wait_done(None);
        self.shared.take_result().unwrap_or(Err(WaitError::Killed))
    }

    /// Like [`wait`](Self::wait) with a time limit; gives the handle back if the task is still
    /// running when `timeout` passes.
    ///
    /// ```
    /// use std::time::Duration;
    /// let gt = greenfetch_runtime::spawn(|| greenfetch_runtime::sleep(Duration::from_secs(5)));
    /// let gt = gt.wait_timeout(Duration::from_millis(1)).unwrap_err();
    /// gt.kill();
    /// ```
    pub fn wait_timeout(self, timeout: Duration) -> Result<Result<T, WaitError>, Self> {
        if self.shared.wait_done(crate::wait::deadline(Some(timeout))) {
            Ok(self.wait())
        } else {
            Err(self)
        }
    }

    /// Whether the task has ended (links included).
    ///
    /// ```
    /// let gt = greenfetch_runtime::spawn(|| ());
    /// gt.kill();
    /// assert!(gt.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.shared.is_done()
    }

    /// Ends the task: if it has not started it never will; if it is running it unwinds at its
    /// next yield point (its `Drop`s run) and `kill` returns once it has ended. A no-op on a
    /// task that has ended. `wait` then reports [`WaitError::Killed`].
    ///
    /// A task that never yields cannot be killed until it does (as in eventlet). Killing the
    /// current task from inside itself makes it unwind at its next yield, without waiting.
    ///
    /// ```
    /// use std::time::Duration;
    /// let gt = greenfetch_runtime::spawn(|| greenfetch_runtime::sleep(Duration::from_secs(60)));
    /// greenfetch_runtime::sleep(Duration::from_millis(1));
    /// gt.kill();
    /// assert_eq!(gt.wait(), Err(greenfetch_runtime::WaitError::Killed));
    /// ```
    pub fn kill(&self) {
        kill_shared(&self.shared, false);
    }

    /// Kills the task only if it has not started yet; otherwise does nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// let gt = greenfetch_runtime::spawn_after(Duration::from_secs(60), || 1);
    /// gt.cancel();
    /// assert_eq!(gt.wait(), Err(greenfetch_runtime::WaitError::Killed));
    /// ```
    pub fn cancel(&self) {
        kill_shared(&self.shared, true);
    }

    /// Runs `f` with the task's outcome when it ends, inside the ending task, before any waiter
    /// resumes; or right away in the caller if it has already ended. Links run once each, in
    /// the order they were added; a link added by a link runs too. A link must not block.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// let seen = Arc::new(AtomicBool::new(false));
    /// let s = seen.clone();
    /// let gt = greenfetch_runtime::spawn(|| 3);
    /// gt.link(move |r| s.store(r == &Ok(3), Ordering::SeqCst));
    /// gt.wait().unwrap();
    /// assert!(seen.load(Ordering::SeqCst));
    /// ```
    pub fn link<F>(&self, f: F)
    where
        F: FnOnce(&Result<T, WaitError>) + Send + 'static,
    {
        let mut st = lock(&self.shared.state);
        if st.status == Status::Done {
            let result = st.result.take();
            drop(st);
            if let Some(r) = result {
                f(&r);
                let mut st = lock(&self.shared.state);
                if st.result.is_none() {
                    st.result = Some(r);
                }
            } else {
                // The result was already taken by a waiter: report the kill-free default.
                f(&Err(WaitError::Killed));
            }
        } else {
            st.links.push(Box::new(f));
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared<T>> {
        &self.shared
    }

    pub(crate) fn from_shared(shared: Arc<Shared<T>>) -> Self {
        GreenThread { shared }
    }

    /// A handle to an already finished task (used when a full pool runs a task inline).
    pub(crate) fn finished(result: Result<T, WaitError>) -> Self {
        let shared = Shared::new();
        shared.finish(result);
        GreenThread { shared }
    }
}

fn kill_shared<T>(shared: &Arc<Shared<T>>, only_if_pending: bool) {
    let mut st = lock(&shared.state);
    match st.status {
        Status::Pending => {
            st.status = Status::Finishing;
            let co = st.coroutine.take();
            drop(st);
            if let Some(co) = co {
                // SAFETY: the coroutine has not entered the task body; it is parked in the
                // wrapper below (queued, or sleeping for spawn_after), which holds no locks and
                // catches the cancel unwind.
                unsafe { co.cancel() };
            }
            shared.finish(Err(WaitError::Killed));
        }
        Status::Running if !only_if_pending => {
            st.kill_requested = true;
            let co = st.coroutine.clone();
            drop(st);
            if let Some(co) = co {
                // SAFETY: may's cancel makes the coroutine panic at its next yield point; the
                // task wrapper catches that unwind, so every `Drop` of the task runs and the
                // scheduler is left consistent (may documents cancel as dropping the
                // coroutine's resources, which is exactly what we want for a kill).
                unsafe { co.cancel() };
            }
            let me_too = may::coroutine::is_coroutine()
                && CURRENT.with(|c| c.get()).task == Arc::as_ptr(shared) as *const () as usize;
            if !me_too {
                shared.wait_done(None);
            }
        }
        _ => {}
    }
}

/// Who the running coroutine is, for the few checks that need to know: its task (the address
/// of the task's `Shared`; 0 for `spawn_n`) and its pool (0 for none).
///
/// One coroutine-local, written once per task: may keeps coroutine-locals in a per-coroutine
/// map of boxed values, so every key costs allocations on every spawn (two keys were 18% of
/// the instructions of an `imap` item).
#[derive(Debug, Clone, Copy, Default)]
struct Current {
    task: usize,
    pool: u64,
}

may::coroutine_local!(static CURRENT: Cell<Current> = Cell::new(Current::default()));

/// The id of the `GreenPool` the current task belongs to (0 for none).
pub(crate) fn current_pool() -> u64 {
    if may::coroutine::is_coroutine() {
        CURRENT.with(|c| c.get()).pool
    } else {
        0
    }
}

/// Spawns the raw coroutine. From a coroutine the child is queued behind its spawner on the
/// same worker (so it starts only after the spawner yields, in spawn order); from a thread it
/// goes to may's global queue.
fn spawn_coroutine<F>(f: F) -> may::coroutine::Coroutine
where
    F: FnOnce() + Send + 'static,
{
    crate::hub::ensure_started();
    let builder = may::coroutine::Builder::new();
    let handle = if may::coroutine::is_coroutine() {
        // SAFETY: `spawn_local` runs the new coroutine on this thread until its first yield;
        // the wrapper's first act is that yield (see `task_body`), so no task code runs before
        // the spawner yields. The closure is `Send + 'static`, the same bounds as may's `go!`.
        // Stack overflow is the remaining hazard of may's spawn: the hub's default stack is
        // sized for the deepest real work (TLS + feed parse), see tests.
        unsafe {
            builder.spawn_local(move || {
                // A kill before the first run cancels the coroutine here: stop quietly.
                if catch_unwind(may::coroutine::yield_now).is_ok() {
                    f();
                }
            })
        }
    } else {
        // SAFETY: as above: `Send + 'static` closure, stack sized by the hub.
        unsafe { builder.spawn(f) }
    };
    crate::hub::spawned();
    match handle {
        Ok(h) => h.coroutine().clone(),
        // may only fails here when the OS refuses a stack mapping.
        Err(e) => panic!("greenfetch: cannot create a coroutine: {e}"),
    }
}

/// Runs `f` as a task that reports to `shared`, as a member of pool `pool_id`.
pub(crate) fn spawn_shared<T, F>(
    shared: Arc<Shared<T>>,
    pool_id: u64,
    delay: Option<Duration>,
    f: F,
) -> GreenThread<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let theirs = shared.clone();
    // Hold the lock across the spawn so the task cannot start before its handle is recorded.
    let mut st = lock(&shared.state);
    let co = spawn_coroutine(move || task_body(theirs, pool_id, delay, f));
    st.coroutine = Some(co);
    drop(st);
    GreenThread { shared }
}

fn task_body<T, F>(shared: Arc<Shared<T>>, pool_id: u64, delay: Option<Duration>, f: F)
where
    F: FnOnce() -> T,
{
    if let Some(d) = delay {
        // A kill during this sleep cancels the coroutine: the unwind stops here.
        if catch_unwind(AssertUnwindSafe(|| sleep(d))).is_err() {
            return;
        }
    }
    if !shared.start() {
        return; // killed before it started
    }
    let me = Current {
        task: Arc::as_ptr(&shared) as *const () as usize,
        pool: pool_id,
    };
    CURRENT.with(|c| c.set(me));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    let result = match outcome {
        Ok(v) => Ok(v),
        Err(p) => {
            if lock(&shared.state).kill_requested {
                Err(WaitError::Killed)
            } else {
                Err(WaitError::Panicked(panic_message(&*p)))
            }
        }
    };
    shared.finish(result);
}

/// Starts `f` in a new green thread and returns its handle.
///
/// eventlet: `spawn(func, *args)`; arguments are captured by the closure.
///
/// ```
/// let (a, b) = (1, 2);
/// assert_eq!(greenfetch_runtime::spawn(move || a + b).wait(), Ok(3));
/// ```
pub fn spawn<T, F>(f: F) -> GreenThread<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    spawn_shared(Shared::new(), 0, None, f)
}

/// Starts `f` in a new green thread and returns nothing: the cheapest way to run a task.
///
/// A panic in `f` is caught and printed to stderr by the panic hook, then dropped.
///
/// ```
/// let ev = greenfetch_runtime::Event::new();
/// let tx = ev.clone();
/// greenfetch_runtime::spawn_n(move || { tx.send(5).unwrap(); });
/// assert_eq!(ev.wait(), 5);
/// ```
pub fn spawn_n<F>(f: F)
where
    F: FnOnce() + Send + 'static,
{
    spawn_n_in_pool(0, f);
}

pub(crate) fn spawn_n_in_pool<F>(pool_id: u64, f: F)
where
    F: FnOnce() + Send + 'static,
{
    spawn_coroutine(move || {
        if pool_id != 0 {
            let me = Current {
                task: 0,
                pool: pool_id,
            };
            CURRENT.with(|c| c.set(me));
        }
        let _ = catch_unwind(AssertUnwindSafe(f));
    });
}

/// Starts `f` in a new green thread after `delay`. The returned handle can [`cancel`] it before
/// it starts.
///
/// [`cancel`]: GreenThread::cancel
///
/// ```
/// use std::time::{Duration, Instant};
/// let t0 = Instant::now();
/// let gt = greenfetch_runtime::spawn_after(Duration::from_millis(20), || 7);
/// assert_eq!(gt.wait(), Ok(7));
/// assert!(t0.elapsed() >= Duration::from_millis(20));
/// ```
pub fn spawn_after<T, F>(delay: Duration, f: F) -> GreenThread<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    spawn_shared(Shared::new(), 0, Some(delay), f)
}

static YIELDS: AtomicU32 = AtomicU32::new(0);

/// Yields to other green threads for at least `d`; `sleep(Duration::ZERO)` is the cooperative
/// yield, letting every runnable green thread run once. Outside a coroutine it sleeps the thread.
///
/// ```
/// use std::time::{Duration, Instant};
/// let t0 = Instant::now();
/// greenfetch_runtime::sleep(Duration::from_millis(10));
/// assert!(t0.elapsed() >= Duration::from_millis(10));
/// ```
pub fn sleep(d: Duration) {
    crate::hub::ensure_started();
    if !may::coroutine::is_coroutine() {
        may::coroutine::sleep(d); // a plain thread: may sleeps the thread
        return;
    }
    if d.is_zero() {
        // may collects coroutines woken by other threads (timers, I/O on another worker) only
        // when a worker's local queue runs dry, so a loop of plain yields could starve them.
        // Every 64th zero sleep goes round greenfetch's timer, which queues it behind them.
        if YIELDS.fetch_add(1, Ordering::Relaxed) % 64 == 63 {
            crate::wait::round_the_timer();
        }
        may::coroutine::yield_now();
    } else {
        // Not `may::coroutine::sleep`: may's `Sleep` gives the coroutine to may's timer before
        // it has finished registering the coroutine's cancel hook, so a short sleep could be
        // resumed, run to its end and freed while the worker still wrote into it. That
        // corrupted the heap (`malloc(): unaligned fastbin chunk detected`) with sleeps of 0 or
        // a few microseconds under load. A waiter that nobody notifies sleeps on greenfetch's
        // timer instead (see `wait::Alarm`); a kill still unwinds it at once.
        let w: Arc<Waiter> = Waiter::new();
        w.wait(crate::wait::deadline(Some(d)));
    }
}
