//! [`GreenPile`]: spawn a batch of tasks, then iterate their results in spawn order.
//!
//! eventlet: `eventlet.greenpool.GreenPile`. A pile that was never spawned into is an empty
//! sequence (eventlet issue #53's fix), and a wait for the next result that is interrupted (a
//! [`Timeout`](crate::Timeout) or a kill) loses nothing: the result stays at the head of the
//! pile (eventlet issue #91). Several piles may share one pool; each sees only its own results.
//!
//! Layer: primitives (uses [`greenpool`](crate::greenpool), [`greenthread`](crate::greenthread)).
//!
//! # Examples
//!
//! eventlet's feedscraper shape: one pool caps the work, a pile per batch gathers it in order.
//!
//! ```
//! use greenfetch_runtime::{GreenPile, GreenPool};
//!
//! let pool = GreenPool::new(10);
//! let pile = GreenPile::with_pool(&pool);
//! for url in ["a", "bb", "ccc"] {
//!     pile.spawn(move || url.len());
//! }
//! let lengths: Vec<usize> = pile.map(Result::unwrap).collect();
//! assert_eq!(lengths, [1, 2, 3]);
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::greenpool::GreenPool;
use crate::greenthread::{GreenThread, Shared, WaitError};
use crate::wait::{Waiter, lock};

struct State<T> {
    /// Spawned and not yet consumed (eventlet's `counter`), including spawns in progress.
    counter: usize,
    handles: VecDeque<Arc<Shared<T>>>,
    /// Readers waiting for a counted spawn to queue its handle.
    readers: Vec<Arc<Waiter>>,
}

impl<T> State<T> {
    fn wake_readers(&mut self) -> Vec<Arc<Waiter>> {
        std::mem::take(&mut self.readers)
    }
}

fn notify_all(ws: Vec<Arc<Waiter>>) {
    for w in ws {
        w.notify();
    }
}

/// An ordered collection of running tasks; iterating it yields their results in spawn order.
///
/// `spawn` blocks while the pool is full. Iteration ends when every spawned result has been
/// taken. `&GreenPile` is an iterator too, so a pile shared by reference (or in an `Arc`) can be
/// fed by one green thread and read by another.
///
/// ```
/// let pile = greenfetch_runtime::GreenPile::new(2);
/// for i in 0..5 { pile.spawn(move || i * 2); }
/// let v: Vec<i32> = pile.map(Result::unwrap).collect();
/// assert_eq!(v, [0, 2, 4, 6, 8]);
/// ```
pub struct GreenPile<T> {
    pool: GreenPool,
    state: Mutex<State<T>>,
}

impl<T> fmt::Debug for GreenPile<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GreenPile")
            .field("pool", &self.pool)
            .field("counter", &lock(&self.state).counter)
            .finish()
    }
}

impl<T: Send + 'static> Default for GreenPile<T> {
    /// A pile over its own pool of 1000.
    fn default() -> Self {
        GreenPile::with_pool(&GreenPool::default())
    }
}

impl<T: Send + 'static> GreenPile<T> {
    /// A pile over a new pool of `size`.
    ///
    /// ```
    /// let pile: greenfetch_runtime::GreenPile<()> = greenfetch_runtime::GreenPile::new(4);
    /// assert_eq!(pile.pool().size(), 4);
    /// ```
    pub fn new(size: usize) -> Self {
        GreenPile::with_pool(&GreenPool::new(size))
    }

    /// A pile whose tasks run in `pool` (shared with its other users).
    ///
    /// ```
    /// let pool = greenfetch_runtime::GreenPool::new(8);
    /// let a: greenfetch_runtime::GreenPile<u8> = greenfetch_runtime::GreenPile::with_pool(&pool);
    /// let b: greenfetch_runtime::GreenPile<u8> = greenfetch_runtime::GreenPile::with_pool(&pool);
    /// assert_eq!(a.pool().size(), b.pool().size());
    /// ```
    pub fn with_pool(pool: &GreenPool) -> Self {
        GreenPile {
            pool: pool.clone(),
            state: Mutex::new(State {
                counter: 0,
                handles: VecDeque::new(),
                readers: Vec::new(),
            }),
        }
    }

    /// The pool the pile's tasks run in.
    ///
    /// ```
    /// let pile: greenfetch_runtime::GreenPile<u8> = greenfetch_runtime::GreenPile::new(3);
    /// assert_eq!(pile.pool().free(), 3);
    /// ```
    pub fn pool(&self) -> &GreenPool {
        &self.pool
    }

    /// Results spawned and not yet taken.
    ///
    /// ```
    /// let pile = greenfetch_runtime::GreenPile::new(1);
    /// pile.spawn(|| ());
    /// assert_eq!(pile.counter(), 1);
    /// ```
    pub fn counter(&self) -> usize {
        lock(&self.state).counter
    }

    /// Runs `f` in the pile's pool (blocking while it is full) and queues its result.
    ///
    /// If the spawn is interrupted while blocked (a timeout, a kill), the pile is left as if it
    /// had never been called.
    ///
    /// ```
    /// let pile = greenfetch_runtime::GreenPile::new(1);
    /// pile.spawn(|| "x");
    /// assert_eq!(pile.into_iter().next(), Some(Ok("x")));
    /// ```
    pub fn spawn<F>(&self, f: F)
    where
        F: FnOnce() -> T + Send + 'static,
    {
        lock(&self.state).counter += 1;
        let undo = Undo(&self.state);
        let gt = self.pool.spawn(f);
        std::mem::forget(undo);
        let mut st = lock(&self.state);
        st.handles.push_back(gt.shared().clone());
        let readers = st.wake_readers();
        drop(st);
        notify_all(readers);
    }

    /// Waits for the next result in spawn order; `None` once every result was taken.
    fn next_result(&self) -> Option<Result<T, WaitError>> {
        loop {
            let (head, reader) = {
                let mut st = lock(&self.state);
                if st.counter == 0 {
                    return None;
                }
                match st.handles.front().cloned() {
                    Some(h) => (Some(h), None),
                    None => {
                        let w = Waiter::new();
                        st.readers.push(w.clone());
                        (None, Some(w))
                    }
                }
            };
            match head {
                Some(shared) => {
                    // Wait without dequeuing: an interrupted wait leaves the head in place.
                    shared.wait_done(None);
                    let mut st = lock(&self.state);
                    if st.handles.front().is_some_and(|h| Arc::ptr_eq(h, &shared)) {
                        st.handles.pop_front();
                        st.counter -= 1;
                        drop(st);
                        return Some(GreenThread::from_shared(shared).wait());
                    }
                    // Another reader took it; go round again.
                }
                None => {
                    // A spawn is in progress (counted, not yet queued): wait for it.
                    if let Some(w) = reader {
                        w.wait(None);
                    }
                }
            }
        }
    }
}

/// Undoes the count of a spawn that unwound while blocked on the pool.
struct Undo<'a, T>(&'a Mutex<State<T>>);

impl<T> Drop for Undo<'_, T> {
    fn drop(&mut self) {
        let mut st = lock(self.0);
        st.counter -= 1;
        let readers = st.wake_readers();
        drop(st);
        notify_all(readers);
    }
}

impl<T: Send + 'static> Iterator for GreenPile<T> {
    type Item = Result<T, WaitError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_result()
    }
}

impl<T: Send + 'static> Iterator for &GreenPile<T> {
    type Item = Result<T, WaitError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_result()
    }
}
