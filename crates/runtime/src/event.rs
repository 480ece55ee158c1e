//! [`Event`]: a value sent once and received by any number of waiting green threads.
//!
//! eventlet: `eventlet.event.Event`. An exception sent to waiters becomes an
//! `Event<Result<T, E>>` with [`Event::send_exception`]; a second `send` is an error
//! ([`AlreadySent`], eventlet's `AssertionError`), `wait_timeout` returns `None` on timeout, and
//! `send` never switches to a waiter: waiters run when the sender next yields.
//!
//! Layer: primitives (uses [`wait`](crate::wait)).
//!
//! # Examples
//!
//! A waiter receives a value sent by another green thread (eventlet's docstring example):
//!
//! ```
//! use greenfetch_runtime::Event;
//!
//! let evt = Event::new();
//! let waiter = evt.clone();
//! let gt = greenfetch_runtime::spawn(move || {
//!     let value = waiter.wait();
//!     format!("got {value}")
//! });
//! evt.send("hi").unwrap();
//! assert_eq!(gt.wait().unwrap(), "got hi");
//! ```
//!
//! An error sent to every waiter, who each receive it on every `wait`:
//!
//! ```
//! use greenfetch_runtime::Event;
//!
//! let evt: Event<Result<u32, String>> = Event::new();
//! let waiters: Vec<_> = (0..3)
//!     .map(|_| { let e = evt.clone(); greenfetch_runtime::spawn(move || e.wait()) })
//!     .collect();
//! evt.send_exception("the feed is gone".to_string()).unwrap();
//! for w in waiters {
//!     assert_eq!(w.wait().unwrap(), Err("the feed is gone".to_string()));
//! }
//! assert_eq!(evt.wait(), Err("the feed is gone".to_string()));
//! ```

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::wait::{Waiter, deadline, lock};

/// `send` on an event that already holds a value; the unsent value comes back.
///
/// ```
/// let e = greenfetch_runtime::Event::new();
/// e.send(1).unwrap();
/// assert_eq!(e.send(2), Err(greenfetch_runtime::AlreadySent(2)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadySent<T>(pub T);

impl<T> fmt::Display for AlreadySent<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("event already sent; reset() it first")
    }
}

impl<T: fmt::Debug> std::error::Error for AlreadySent<T> {}

/// `reset` on an event that was never sent (eventlet asserts the same).
///
/// ```
/// let e: greenfetch_runtime::Event<u8> = greenfetch_runtime::Event::new();
/// assert_eq!(e.reset(), Err(greenfetch_runtime::NotSent));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotSent;

impl fmt::Display for NotSent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("reset() on an event that was never sent")
    }
}

impl std::error::Error for NotSent {}

struct State<T> {
    value: Option<T>,
    waiters: Vec<Arc<Waiter>>,
}

/// A one-shot value for any number of waiters. Clones are handles to the same event.
///
/// ```
/// let e = greenfetch_runtime::Event::new();
/// assert!(!e.ready());
/// e.send(3).unwrap();
/// assert_eq!((e.ready(), e.wait()), (true, 3));
/// ```
pub struct Event<T> {
    inner: Arc<Mutex<State<T>>>,
}

impl<T> Clone for Event<T> {
    fn clone(&self) -> Self {
        Event {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for Event<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.inner);
        f.debug_struct("Event")
            .field("ready", &st.value.is_some())
            .field("waiters", &st.waiters.len())
            .finish()
    }
}

impl<T: Clone + Send + 'static> Default for Event<T> {
    fn default() -> Self {
        Event::new()
    }
}

impl<T: Clone + Send + 'static> Event<T> {
    /// A new event, not yet sent.
    ///
    /// ```
    /// let e: greenfetch_runtime::Event<()> = greenfetch_runtime::Event::new();
    /// assert!(!e.ready());
    /// ```
    pub fn new() -> Self {
        Event {
            inner: Arc::new(Mutex::new(State {
                value: None,
                waiters: Vec::new(),
            })),
        }
    }

    /// Sends `value` to every current and future waiter. Never switches to a waiter.
    ///
    /// ```
    /// let e = greenfetch_runtime::Event::new();
    /// assert!(e.send("v").is_ok());
    /// ```
    pub fn send(&self, value: T) -> Result<(), AlreadySent<T>> {
        let waiters = {
            let mut st = lock(&self.inner);
            if st.value.is_some() {
                return Err(AlreadySent(value));
            }
            st.value = Some(value);
            std::mem::take(&mut st.waiters)
        };
        for w in waiters {
            w.notify();
        }
        Ok(())
    }

    /// Blocks until the event is sent, then returns (a clone of) its value, every time.
    ///
    /// ```
    /// let e = greenfetch_runtime::Event::new();
    /// let tx = e.clone();
    /// greenfetch_runtime::spawn_n(move || { tx.send(9).unwrap(); });
    /// assert_eq!(e.wait(), 9);
    /// assert_eq!(e.wait(), 9);
    /// ```
    pub fn wait(&self) -> T {
        loop {
            if let Some(v) = self.wait_until(None) {
                return v;
            }
        }
    }

    /// Like [`wait`](Self::wait), but gives up after `timeout` and returns `None` (no error).
    ///
    /// ```
    /// let e: greenfetch_runtime::Event<u8> = greenfetch_runtime::Event::new();
    /// assert_eq!(e.wait_timeout(std::time::Duration::from_millis(1)), None);
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Option<T> {
        self.wait_until(Some(timeout))
    }

    fn wait_until(&self, timeout: Option<Duration>) -> Option<T> {
        let w = {
            let mut st = lock(&self.inner);
            if let Some(v) = &st.value {
                return Some(v.clone());
            }
            let w = Waiter::new();
            st.waiters.push(w.clone());
            w
        };
        let guard = Leave {
            inner: &self.inner,
            waiter: &w,
        };
        w.wait(deadline(timeout));
        drop(guard);
        lock(&self.inner).value.clone()
    }

    /// Whether the event has been sent.
    ///
    /// ```
    /// assert!(!greenfetch_runtime::Event::<u8>::new().ready());
    /// ```
    pub fn ready(&self) -> bool {
        lock(&self.inner).value.is_some()
    }

    /// The value if sent, without blocking (eventlet's `poll`).
    ///
    /// ```
    /// let e = greenfetch_runtime::Event::new();
    /// assert_eq!(e.poll(), None);
    /// e.send(1).unwrap();
    /// assert_eq!(e.poll(), Some(1));
    /// ```
    pub fn poll(&self) -> Option<T> {
        lock(&self.inner).value.clone()
    }

    /// Makes a sent event unsent again, so it can be sent anew; an error if never sent.
    ///
    /// ```
    /// let e = greenfetch_runtime::Event::new();
    /// e.send(1).unwrap();
    /// e.reset().unwrap();
    /// e.send(2).unwrap();
    /// assert_eq!(e.wait(), 2);
    /// ```
    pub fn reset(&self) -> Result<(), NotSent> {
        let mut st = lock(&self.inner);
        match st.value.take() {
            Some(_) => Ok(()),
            None => Err(NotSent),
        }
    }
}

impl<T, E> Event<Result<T, E>>
where
    T: Clone + Send + 'static,
    E: Clone + Send + 'static,
{
    /// Sends an error to every waiter: each `wait` returns `Err(error)`, every time.
    ///
    /// ```
    /// let e: greenfetch_runtime::Event<Result<(), &str>> = greenfetch_runtime::Event::new();
    /// e.send_exception("boom").unwrap();
    /// assert_eq!(e.wait(), Err("boom"));
    /// assert!(e.has_exception());
    /// ```
    pub fn send_exception(&self, error: E) -> Result<(), AlreadySent<Result<T, E>>> {
        self.send(Err(error))
    }

    /// Whether the event was sent an error.
    ///
    /// ```
    /// let e: greenfetch_runtime::Event<Result<u8, ()>> = greenfetch_runtime::Event::new();
    /// e.send(Ok(1)).unwrap();
    /// assert!(!e.has_exception());
    /// ```
    pub fn has_exception(&self) -> bool {
        matches!(lock(&self.inner).value, Some(Err(_)))
    }
}

struct Leave<'a, T> {
    inner: &'a Arc<Mutex<State<T>>>,
    waiter: &'a Arc<Waiter>,
}

impl<T> Drop for Leave<'_, T> {
    fn drop(&mut self) {
        if !self.waiter.is_ready() {
            lock(self.inner)
                .waiters
                .retain(|w| !Arc::ptr_eq(w, self.waiter));
        }
    }
}
