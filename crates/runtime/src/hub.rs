//! Runtime settings over `may::config()`: worker threads and coroutine stack size.
//!
//! eventlet: `eventlet.hubs` chooses the event loop; greenfetch always runs on may's scheduler,
//! so the hub is only its settings. They must be fixed before the first coroutine, may socket or
//! may channel exists, because may reads them once when its scheduler starts.
//!
//! Every greenfetch entry point (spawn, the primitives, `listen`, `connect`, the green agent,
//! the servers) fixes the settings before it touches may. If you use may's own API first (a
//! `may::net` socket, `may::go!`), call [`settings`] (or [`configure`]) before it: otherwise may
//! starts with its own 32 KiB stacks, which a TLS handshake or a feed parse overflows.
//!
//! Layer: runtime (uses only `may` and `std`).
//!
//! # Examples
//!
//! ```
//! use greenfetch_runtime::hub;
//!
//! // Optional: without this call the first spawn applies `Settings::default()`.
//! hub::configure(hub::Settings::default().workers(2).stack_size(256 * 1024)).ok();
//! assert_eq!(hub::settings().stack_size, 256 * 1024);
//! ```

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// The default coroutine stack, in bytes: 256 KiB.
///
/// may's own default (32 KiB) overflows on a TLS handshake or a feed parse; only the pages a
/// coroutine touches become resident, so a larger stack costs address space, not memory.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// How the hub runs: the number of worker threads and the size of each coroutine's stack.
///
/// Built with `Settings::default()` and the setters, then given to [`configure`].
///
/// ```
/// let s = greenfetch_runtime::hub::Settings::default().workers(1);
/// assert_eq!(s.workers, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Worker threads that run coroutines (may's default is the number of CPUs).
    ///
    /// With one worker greenfetch keeps eventlet's single-thread guarantees: a spawned task
    /// does not run until its spawner yields, and no two tasks run at the same instant.
    pub workers: usize,
    /// Bytes of stack for every coroutine (rounded up to whole machine words).
    pub stack_size: usize,
    /// At most this many finished coroutines' stacks are kept for reuse (may's pool capacity;
    /// 0 means may's default, 1,000). Stacks are made as tasks need them, not in advance.
    ///
    /// greenfetch's default is 256. A kept stack keeps every page any task ever touched on it,
    /// so a pool of 1,000 behind a long run at high concurrency grows toward 1,000 times the
    /// deepest task's stack (a decoder, a TLS handshake) long after that task is gone; past the
    /// pool, a finished task's stack is unmapped and its pages go back. See benches/README.md
    /// ("Stacks kept for reuse").
    pub pool_capacity: usize,
    /// Pin each worker thread to a core (may's default is on; greenfetch turns it off, which
    /// behaves better on a machine shared with other processes).
    pub pin_workers: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            stack_size: DEFAULT_STACK_SIZE,
            pool_capacity: 256,
            pin_workers: false,
        }
    }
}

impl Settings {
    /// Sets the number of worker threads (at least 1).
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::hub::Settings::default().workers(0).workers, 1);
    /// ```
    #[must_use]
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }

    /// Sets the coroutine stack size in bytes (at least 16 KiB).
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::hub::Settings::default().stack_size(1 << 20).stack_size, 1 << 20);
    /// ```
    #[must_use]
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes.max(16 * 1024);
        self
    }

    /// Sets how many coroutine stacks are kept for reuse.
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::hub::Settings::default().pool_capacity(10).pool_capacity, 10);
    /// ```
    #[must_use]
    pub fn pool_capacity(mut self, n: usize) -> Self {
        self.pool_capacity = n;
        self
    }

    /// Pins (or not) each worker thread to a CPU core.
    ///
    /// ```
    /// assert!(greenfetch_runtime::hub::Settings::default().pin_workers(true).pin_workers);
    /// ```
    #[must_use]
    pub fn pin_workers(mut self, pin: bool) -> Self {
        self.pin_workers = pin;
        self
    }
}

/// [`configure`] was called after the hub had already started.
///
/// ```
/// greenfetch_runtime::spawn(|| ()).wait().unwrap(); // starts the hub with whatever is configured
/// let again = greenfetch_runtime::hub::configure(greenfetch_runtime::hub::Settings::default());
/// assert!(again.is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyStarted {
    /// The settings the hub is running with.
    pub running: Settings,
}

impl fmt::Display for AlreadyStarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the hub has already started ({} workers, {} byte stacks); configure it before the first spawn",
            self.running.workers, self.running.stack_size
        )
    }
}

impl std::error::Error for AlreadyStarted {}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

/// Fixes the hub's settings. Call it once, before anything spawns a coroutine.
///
/// Returns [`AlreadyStarted`] if the settings were already fixed, by an earlier call or by the
/// first spawn (which applies `Settings::default()`).
///
/// ```
/// use greenfetch_runtime::hub::{self, Settings};
/// match hub::configure(Settings::default().workers(1)) {
///     Ok(()) => assert_eq!(hub::settings().workers, 1),
///     Err(e) => eprintln!("{e}"),
/// }
/// ```
pub fn configure(settings: Settings) -> Result<(), AlreadyStarted> {
    let mut applied = false;
    let running = *SETTINGS.get_or_init(|| {
        applied = true;
        apply(settings)
    });
    if applied {
        Ok(())
    } else {
        Err(AlreadyStarted { running })
    }
}

/// The settings the hub runs with (fixing the defaults if nothing was configured yet).
///
/// ```
/// assert!(greenfetch_runtime::hub::settings().workers >= 1);
/// ```
pub fn settings() -> Settings {
    *SETTINGS.get_or_init(|| apply(Settings::default()))
}

/// Makes sure may is configured with the hub's settings before its scheduler starts (code that
/// spawns coroutines or opens may sockets outside this crate calls it first); cheap after the
/// first call.
///
/// ```
/// greenfetch_runtime::hub::ensure_started();
/// assert!(greenfetch_runtime::hub::settings().workers >= 1);
/// ```
#[inline]
pub fn ensure_started() {
    if SETTINGS.get().is_none() {
        settings();
    }
}

fn apply(s: Settings) -> Settings {
    let word = std::mem::size_of::<usize>();
    // may counts the stack in machine words; an odd count makes it print stack usage.
    let mut words = s.stack_size.div_ceil(word);
    if words % 2 == 1 {
        words += 1;
    }
    // may fills its stack pool to capacity when its scheduler starts (at its first coroutine
    // or socket): two system calls a stack (mmap, mprotect), all before a command's first
    // fetch (benches/README.md, "stacks made on demand"). So the scheduler starts with room
    // for one, and the capacity is raised after the first spawn ([`spawned`]): may's pool
    // reads it on every `put`, so stacks are then made as tasks need them and kept up to the
    // cap.
    may::config()
        .set_workers(s.workers)
        .set_stack_size(words)
        .set_pool_capacity(1);
    may::config().set_worker_pin(s.pin_workers);
    Settings {
        stack_size: words * word,
        ..s
    }
}

static POOL_RAISED: AtomicBool = AtomicBool::new(false);

/// Called after every coroutine greenfetch spawns: the first call raises may's stack pool to
/// the configured capacity, now that the scheduler (and its pool of one stack) exists. The
/// spawner calls down into the hub, so the hub itself needs nothing above it.
#[inline]
pub(crate) fn spawned() {
    if !POOL_RAISED.load(Ordering::Relaxed) && !POOL_RAISED.swap(true, Ordering::Relaxed) {
        may::config().set_pool_capacity(settings().pool_capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scheduler starts with room for one stack (so none are made in advance), and the
    /// configured capacity is in force after the first spawn: were it left at one, every
    /// finished task's stack would be unmapped and the next task would map a new one.
    #[test]
    fn the_stack_pool_capacity_is_raised_after_the_first_spawn() {
        let s = settings();
        crate::spawn(|| ()).wait().unwrap();
        let expected = if s.pool_capacity == 0 {
            1000 // may's own default, which 0 stands for
        } else {
            s.pool_capacity
        };
        assert_eq!(may::config().get_pool_capacity(), expected);
    }
}
