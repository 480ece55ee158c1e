//! greenfetch-runtime: eventlet's green threads on may's stackful coroutines, and the green
//! transport under greenfetch.
//!
//! This crate is the runtime alone: the hub, green threads, eventlet's primitives (pool, pile,
//! event, queue, semaphore, timeout), `listen`/`connect`/`serve`, the backdoor console, and the
//! green stream, `ureq` agent and `wrap_ssl` (`green`). It needs `may`, `ureq` and `rustls`, and
//! nothing of greenfetch's fetch, feed and server toolkit (`greenfetch-web`) or its command line
//! (`greenfetch`). Depend on it under greenfetch's name to keep eventlet's paths as the
//! "Coming from eventlet" table gives them:
//!
//! ```toml
//! [dependencies]
//! greenfetch = { package = "greenfetch-runtime", path = "crates/runtime" }
//! ```
//!
//! # Hello, world!
//!
//! eventlet's client pattern: a pool caps the concurrency, `imap` runs a plain blocking
//! function over the inputs, and the results come back **in input order**.
//!
//! ```
//! use std::time::Duration;
//! use greenfetch_runtime::GreenPool;
//!
//! fn fetch(url: &'static str) -> usize {
//!     // Stands in for green I/O: sleeping parks this green thread, not the OS thread.
//!     greenfetch_runtime::sleep(Duration::from_millis(10 * (4 - url.len() as u64 % 4)));
//!     url.len()
//! }
//!
//! let urls = ["http://a.test/", "http://bb.test/", "http://ccc.test/"];
//! let pool = GreenPool::new(200);
//! for (url, len) in urls.iter().zip(pool.imap(fetch, urls)) {
//!     println!("{url}: {} bytes", len.unwrap());
//! }
//! ```
//!
//! # Coming from eventlet
//!
//! | eventlet | greenfetch |
//! |---|---|
//! | `eventlet.spawn(f, *args)` | [`spawn`]`(move \|\| f(args))` → [`GreenThread<T>`] |
//! | `spawn_n`, `spawn_after(s, f)`, `sleep(s)` | [`spawn_n`], [`spawn_after`]`(Duration, f)`, [`sleep`]`(Duration)` |
//! | `gt.wait()` raises | [`GreenThread::wait`] returns `Result<T, WaitError>` |
//! | `gt.kill()`, `gt.cancel()`, `gt.link(f)` | [`GreenThread::kill`], [`GreenThread::cancel`], [`GreenThread::link`] |
//! | `GreenPool(size=1000)` | [`GreenPool::new`]`(size)`, `GreenPool::default()` |
//! | `pool.imap(f, it)` | [`GreenPool::imap`]: yields `Result` per item, in order; plus [`GreenPool::imap_unordered`] |
//! | `pool.starmap(f, tuples)` | `pool.imap(\|(a, b)\| f(a, b), tuples)` |
//! | `GreenPile(size_or_pool)` | [`GreenPile::new`]`(size)`, [`GreenPile::with_pool`]`(&pool)`; an `Iterator` |
//! | `Event().send(v)`, `send_exception(e)` | [`Event::send`], [`Event::send_exception`] on `Event<Result<T, E>>` |
//! | `Event.wait(timeout)` → `None` | [`Event::wait_timeout`] → `Option<T>` |
//! | `Queue(maxsize)`, `LightQueue` | [`Queue::bounded`], [`Queue::unbounded`], [`Queue::new`]`(Option<usize>)` |
//! | `queue.Full`, `queue.Empty` | [`Full<T>`] (gives the item back), [`Empty`] |
//! | `LifoQueue`, `PriorityQueue` | [`LifoQueue`], [`PriorityQueue`] |
//! | `Semaphore(n)`, `BoundedSemaphore(n)` | [`Semaphore::new`]`(n)`, [`BoundedSemaphore::new`]`(n)` |
//! | `sem.acquire(blocking, timeout)` | [`Semaphore::acquire`], [`Semaphore::acquire_timeout`]`(d)` → `bool`, [`Semaphore::acquire_nowait`] → `bool` |
//! | `with sem:` | [`Semaphore::acquire_guard`] → [`SemaphoreGuard`], released on drop |
//! | `BoundedSemaphore.release()` raises `ValueError` | [`BoundedSemaphore::release`] → `Err(`[`TooManyReleases`]`)` |
//! | `with Timeout(s):` | [`Timeout::new`]`(d).run(\|\| ...)` → `Result<T, TimedOut>` |
//! | `with Timeout(s, False):` | [`Timeout::run_silent`] → `Option<T>` |
//! | `with_timeout(s, f, timeout_value=v)` | [`with_timeout`]`(d, f).unwrap_or(v)` |
//! | `listen(addr)`, `connect(addr)` | [`listen`], [`connect`] → may's `TcpListener`, `TcpStream` |
//! | `serve(sock, handle, concurrency)` | [`serve`]`(listener, handler, concurrency)` → `io::Result<()>` |
//! | `raise StopServe` in a handler | `return Err(StopServe.into())`: [`StopServe`], [`HandlerError`] |
//! | `backdoor_server(sock, locals)` | [`backdoor_server`]`(listener, commands)`, loopback only |
//! | `backdoor((conn, addr), locals)` | [`backdoor()`]`(stream, &commands)`: runs the console in the caller |
//! | backdoor `locals` | [`Commands`]: named `Fn(&str) -> String` with one-line descriptions |
//! | `eventlet.hubs.use_hub()` | [`hub::configure`] (workers, stack size) |
//! | `monkey_patch()` | nothing to patch: all I/O goes through may's cooperative sockets |
//!
//! # Caveats (may's rules)
//!
//! - **Several workers run at once.** eventlet runs every green thread on one OS thread; may
//!   runs them on `hub::Settings::workers` threads. eventlet's guarantees (a spawned task does
//!   not start before its spawner yields; two tasks never run at the same instant, so shared
//!   state needs no lock) hold only with `hub::configure(Settings::default().workers(1))`.
//!   Everything handed between tasks is `Send`; share state with atomics or `Mutex`.
//! - **Never block a worker thread** inside a green thread: no `std::thread::sleep`,
//!   `std::net`, `std::sync::mpsc`, blocking DNS, or long CPU work without a
//!   [`sleep`]`(Duration::ZERO)` now and then. Use [`sleep`], [`Queue`], [`Event`] and
//!   `may::net`.
//! - **Stacks are fixed.** Each green thread gets `hub::Settings::stack_size` bytes (256 KiB by
//!   default, enough for a TLS handshake plus a feed parse). An overflow is caught by a guard
//!   page but not unwound: the task's locks stay held. Don't recurse deeply.
//! - **Thread-locals are shared** by the green threads of a worker, and a green thread may
//!   move to another worker at every yield: never keep a thread-local reference, or a
//!   `std::sync::MutexGuard`, across a yield.
//! - **A kill takes effect at the next yield point**, like eventlet's; the victim unwinds
//!   (its `Drop`s run). A task that never yields cannot be killed or timed out.
#![deny(missing_docs)]

pub mod backdoor;
pub mod convenience;
pub mod event;
pub mod green;
pub mod greenpile;
pub mod greenpool;
pub mod greenthread;
pub mod hub;
pub mod queue;
pub mod semaphore;
pub mod timeout;
pub mod wait;

pub use backdoor::{Commands, backdoor, backdoor_server};
pub use convenience::{HandlerError, StopServe, connect, listen, serve};
pub use event::{AlreadySent, Event, NotSent};
pub use greenpile::GreenPile;
pub use greenpool::{GreenPool, Imap, ImapUnordered, InsidePool};
pub use greenthread::{GreenThread, WaitError, sleep, spawn, spawn_after, spawn_n};
pub use queue::{Empty, Full, LifoQueue, PriorityQueue, Queue, TooManyTaskDone};
pub use semaphore::{BoundedSemaphore, Semaphore, SemaphoreGuard, TooManyReleases};
pub use timeout::{TimedOut, Timeout, with_timeout};
