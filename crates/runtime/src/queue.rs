//! [`Queue`]: a FIFO for passing values between green threads, unbounded, bounded or a
//! rendezvous channel (size 0); with [`LifoQueue`] and [`PriorityQueue`] beside it.
//!
//! eventlet: `eventlet.queue.Queue` (`LightQueue` plus `task_done`/`join`). Blocked getters and
//! putters are served first come, first served (eventlet keeps them in sets, in no order); a
//! getter that times out or is killed never consumes an item. Each operation has its own small
//! error that hands back what could not be delivered ([`Full`], [`Empty`]).
//!
//! Layer: primitives (uses [`wait`](crate::wait)).
//!
//! # Examples
//!
//! ```
//! use greenfetch_runtime::Queue;
//!
//! let q = Queue::bounded(2);
//! let tx = q.clone();
//! let producer = greenfetch_runtime::spawn(move || for i in 0..5 { tx.put(i) });
//! let got: Vec<i32> = (0..5).map(|_| q.get()).collect();
//! producer.wait().unwrap();
//! assert_eq!(got, [0, 1, 2, 3, 4]);
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::wait::{Waiter, deadline, lock};

/// `put_nowait` (or a timed `put`) found the queue full; the item comes back.
///
/// ```
/// let q = greenfetch_runtime::Queue::bounded(1);
/// q.put_nowait(1).unwrap();
/// assert_eq!(q.put_nowait(2), Err(greenfetch_runtime::Full(2)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full<T>(pub T);

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue is full")
    }
}

impl<T: fmt::Debug> std::error::Error for Full<T> {}

/// `get_nowait` (or a timed `get`) found the queue empty.
///
/// ```
/// let q: greenfetch_runtime::Queue<u8> = greenfetch_runtime::Queue::unbounded();
/// assert_eq!(q.get_nowait(), Err(greenfetch_runtime::Empty));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Empty;

impl fmt::Display for Empty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue is empty")
    }
}

impl std::error::Error for Empty {}

/// `task_done` was called more times than items were put.
///
/// ```
/// let q: greenfetch_runtime::Queue<u8> = greenfetch_runtime::Queue::unbounded();
/// assert_eq!(q.task_done(), Err(greenfetch_runtime::TooManyTaskDone));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyTaskDone;

impl fmt::Display for TooManyTaskDone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called too many times")
    }
}

impl std::error::Error for TooManyTaskDone {}

/// The order items leave in.
trait Store<T>: Send {
    fn push(&mut self, item: T);
    fn pop(&mut self) -> Option<T>;
    fn len(&self) -> usize;
    /// Puts back an item that was popped (or handed out) and not taken: the next `pop` returns
    /// it (the heap's order decides for a priority queue).
    fn unpop(&mut self, item: T);
}

struct Fifo<T>(VecDeque<T>);
struct Lifo<T>(Vec<T>);
struct Lowest<T: Ord>(BinaryHeap<Reverse<T>>);

impl<T: Send> Store<T> for Fifo<T> {
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn unpop(&mut self, item: T) {
        self.0.push_front(item);
    }
}

impl<T: Send> Store<T> for Lifo<T> {
    fn push(&mut self, item: T) {
        self.0.push(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn unpop(&mut self, item: T) {
        self.0.push(item);
    }
}

impl<T: Ord + Send> Store<T> for Lowest<T> {
    fn push(&mut self, item: T) {
        self.0.push(Reverse(item));
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop().map(|Reverse(t)| t)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn unpop(&mut self, item: T) {
        self.0.push(Reverse(item));
    }
}

/// A blocked putter and the item it wants to put.
struct Putter<T> {
    waiter: Arc<Waiter>,
    item: Mutex<Option<T>>,
}

struct State<T> {
    items: Box<dyn Store<T>>,
    maxsize: Option<usize>,
    getters: VecDeque<Arc<Waiter<T>>>,
    putters: VecDeque<Arc<Putter<T>>>,
    unfinished: usize,
    joiners: Vec<Arc<Waiter>>,
}

impl<T> State<T> {
    fn has_room(&self) -> bool {
        self.maxsize.is_none_or(|m| self.items.len() < m)
    }

    /// Moves blocked putters' items in while there is room.
    fn admit_putters(&mut self) {
        while self.has_room() {
            let Some(p) = self.putters.pop_front() else {
                break;
            };
            if let Some(item) = lock(&p.item).take() {
                self.accept(item);
            }
            p.waiter.notify();
        }
    }

    /// An item enters the queue: straight to the first blocked getter, else into storage.
    fn accept(&mut self, item: T) {
        self.unfinished += 1;
        match self.getters.pop_front() {
            Some(g) => g.notify_with(item),
            None => self.items.push(item),
        }
    }

    /// Takes the next item, if any: from storage, or from a blocked putter (a channel).
    fn take(&mut self) -> Option<T> {
        if let Some(item) = self.items.pop() {
            self.admit_putters();
            return Some(item);
        }
        while let Some(p) = self.putters.pop_front() {
            let item = lock(&p.item).take();
            p.waiter.notify();
            if let Some(item) = item {
                self.unfinished += 1;
                return Some(item);
            }
        }
        None
    }
}

struct Inner<T> {
    state: Mutex<State<T>>,
}

/// A queue of items shared by green threads; clones are handles to the same queue.
///
/// `Queue::unbounded()`, `Queue::bounded(n)`, and `Queue::bounded(0)` (a channel: `put` waits
/// until a getter takes the item; the channel is both `empty()` and `full()`).
///
/// ```
/// let q = greenfetch_runtime::Queue::unbounded();
/// q.put("a");
/// assert_eq!(q.qsize(), 1);
/// assert_eq!(q.get(), "a");
/// ```
pub struct Queue<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = lock(&self.inner.state);
        f.debug_struct("Queue")
            .field("qsize", &st.items.len())
            .field("maxsize", &st.maxsize)
            .field("getting", &st.getters.len())
            .field("putting", &st.putters.len())
            .finish()
    }
}

impl<T: Send + 'static> Default for Queue<T> {
    fn default() -> Self {
        Queue::unbounded()
    }
}

impl<T: Send + 'static> Queue<T> {
    fn with_store(items: Box<dyn Store<T>>, maxsize: Option<usize>) -> Self {
        Queue {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    items,
                    maxsize,
                    getters: VecDeque::new(),
                    putters: VecDeque::new(),
                    unfinished: 0,
                    joiners: Vec::new(),
                }),
            }),
        }
    }

    /// A queue with no size limit: `put` never blocks.
    ///
    /// ```
    /// let q = greenfetch_runtime::Queue::unbounded();
    /// for i in 0..1000 { q.put(i); }
    /// assert_eq!(q.qsize(), 1000);
    /// ```
    pub fn unbounded() -> Self {
        Self::with_store(Box::new(Fifo(VecDeque::new())), None)
    }

    /// A queue holding at most `maxsize` items; `bounded(0)` is a rendezvous channel.
    ///
    /// ```
    /// let q = greenfetch_runtime::Queue::bounded(1);
    /// q.put(1);
    /// assert!(q.full());
    /// ```
    pub fn bounded(maxsize: usize) -> Self {
        Self::with_store(Box::new(Fifo(VecDeque::new())), Some(maxsize))
    }

    /// eventlet's constructor: `None` is unbounded.
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::Queue::<u8>::new(Some(3)).maxsize(), Some(3));
    /// ```
    pub fn new(maxsize: Option<usize>) -> Self {
        Self::with_store(Box::new(Fifo(VecDeque::new())), maxsize)
    }
}

impl<T> Queue<T> {
    /// The size limit (`None`: unbounded).
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::Queue::<u8>::unbounded().maxsize(), None);
    /// ```
    pub fn maxsize(&self) -> Option<usize> {
        lock(&self.inner.state).maxsize
    }

    /// Items in the queue now.
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::Queue::<u8>::bounded(0).qsize(), 0);
    /// ```
    pub fn qsize(&self) -> usize {
        lock(&self.inner.state).items.len()
    }

    /// Whether the queue holds no item.
    ///
    /// ```
    /// assert!(greenfetch_runtime::Queue::<u8>::unbounded().empty());
    /// ```
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// Whether a `put` would block now (always true for a channel).
    ///
    /// ```
    /// assert!(greenfetch_runtime::Queue::<u8>::bounded(0).full());
    /// ```
    pub fn full(&self) -> bool {
        !lock(&self.inner.state).has_room()
    }

    /// Green threads blocked in `get`.
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::Queue::<u8>::unbounded().getting(), 0);
    /// ```
    pub fn getting(&self) -> usize {
        lock(&self.inner.state).getters.len()
    }

    /// Green threads blocked in `put`.
    ///
    /// ```
    /// assert_eq!(greenfetch_runtime::Queue::<u8>::unbounded().putting(), 0);
    /// ```
    pub fn putting(&self) -> usize {
        lock(&self.inner.state).putters.len()
    }

    /// Changes the size limit. Growing (or `None`) admits blocked putters at once; shrinking
    /// keeps every item already queued.
    ///
    /// ```
    /// let q = greenfetch_runtime::Queue::bounded(2);
    /// q.put(1); q.put(2);
    /// q.resize(Some(1));
    /// assert_eq!(q.qsize(), 2);
    /// ```
    pub fn resize(&self, maxsize: Option<usize>) {
        let mut st = lock(&self.inner.state);
        st.maxsize = maxsize;
        st.admit_putters();
    }

    /// Puts `item`, blocking while the queue is full (for a channel: until a getter takes it).
    ///
    /// ```
    /// let q = greenfetch_runtime::Queue::unbounded();
    /// q.put(1);
    /// ```
    pub fn put(&self, item: T) {
        // With no deadline the put cannot fail.
        let _ = self.put_until(item, None, true);
    }

    /// Puts `item`, waiting at most `timeout` for room; gives it back as [`Full`] otherwise.
    ///
    /// ```
    /// let q = greenfetch_runtime::Queue::bounded(0);
    /// let r = q.put_timeout(1, std::time::Duration::from_millis(1));
    /// assert_eq!(r, Err(greenfetch_runtime::Full(1)));
    /// ```
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), Full<T>> {
        self.put_until(item, Some(timeout), true)
    }

    /// Puts `item` if that needs no waiting (a channel accepts it when a getter is waiting).
    ///
    /// ```
    /// let q = greenfetch_runtime::Queue::bounded(1);
    /// assert!(q.put_nowait(1).is_ok());
    /// assert!(q.put_nowait(2).is_err());
    /// ```
    pub fn put_nowait(&self, item: T) -> Result<(), Full<T>> {
        self.put_until(item, None, false)
    }

    fn put_until(&self, item: T, timeout: Option<Duration>, block: bool) -> Result<(), Full<T>> {
        let p = {
            let mut st = lock(&self.inner.state);
            if !st.getters.is_empty() || st.has_room() {
                let rendezvous = st.maxsize == Some(0);
                st.accept(item);
                drop(st);
                if rendezvous && block {
                    // A channel's put completes when a getter has taken the item (eventlet's
                    // put on a channel always waits for the getter). The item went straight to
                    // a waiting getter: let it run before the sender goes on, so that with one
                    // worker the sender resumes after the receiver, as in eventlet
                    // (tests/queue_test.py:184 test_channel_send, :202 test_channel_wait).
                    crate::greenthread::sleep(Duration::ZERO);
                }
                return Ok(());
            }
            if !block {
                return Err(Full(item));
            }
            let p = Arc::new(Putter {
                waiter: Waiter::new(),
                item: Mutex::new(Some(item)),
            });
            st.putters.push_back(p.clone());
            p
        };
        let guard = LeavePutters {
            inner: &self.inner,
            putter: &p,
        };
        let done = p.waiter.wait(deadline(timeout));
        drop(guard);
        if done {
            return Ok(());
        }
        let item = lock(&p.item).take();
        match item {
            Some(item) => Err(Full(item)),
            None => Ok(()), // taken just as the deadline passed
        }
    }

    /// Takes the next item, blocking until there is one.
    ///
    /// ```
    /// let q = greenfetch_runtime::Queue::unbounded();
    /// q.put(5);
    /// assert_eq!(q.get(), 5);
    /// ```
    pub fn get(&self) -> T {
        match self.get_until(None, true) {
            Ok(item) => item,
            Err(Empty) => unreachable!("a get with no deadline waits for an item"),
        }
    }

    /// Takes the next item, waiting at most `timeout`.
    ///
    /// ```
    /// let q: greenfetch_runtime::Queue<u8> = greenfetch_runtime::Queue::unbounded();
    /// assert!(q.get_timeout(std::time::Duration::from_millis(1)).is_err());
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Empty> {
        self.get_until(Some(timeout), true)
    }

    /// Takes the next item if there is one now (on a channel: from a blocked putter).
    ///
    /// ```
    /// let q = greenfetch_runtime::Queue::unbounded();
    /// q.put('x');
    /// assert_eq!(q.get_nowait(), Ok('x'));
    /// ```
    pub fn get_nowait(&self) -> Result<T, Empty> {
        self.get_until(None, false)
    }

    fn get_until(&self, timeout: Option<Duration>, block: bool) -> Result<T, Empty> {
        let w = {
            let mut st = lock(&self.inner.state);
            if let Some(item) = st.take() {
                return Ok(item);
            }
            if !block {
                return Err(Empty);
            }
            let w = Waiter::new();
            st.getters.push_back(w.clone());
            w
        };
        let guard = LeaveGetters {
            inner: &self.inner,
            getter: &w,
        };
        let got = w.wait(deadline(timeout));
        std::mem::forget(guard);
        if got {
            if let Some(item) = w.take() {
                return Ok(item);
            }
        }
        // Timed out: leave the line, unless an item arrived at the last moment.
        let mut st = lock(&self.inner.state);
        match w.take() {
            Some(item) => Ok(item),
            None => {
                st.getters.retain(|g| !Arc::ptr_eq(g, &w));
                Err(Empty)
            }
        }
    }

    /// Items put and not yet marked done with [`task_done`](Self::task_done).
    ///
    /// ```
    /// let q = greenfetch_runtime::Queue::unbounded();
    /// q.put(1);
    /// assert_eq!(q.unfinished_tasks(), 1);
    /// ```
    pub fn unfinished_tasks(&self) -> usize {
        lock(&self.inner.state).unfinished
    }

    /// Marks one item as processed; [`join`](Self::join) returns when all are.
    ///
    /// ```
    /// let q = greenfetch_runtime::Queue::unbounded();
    /// q.put(1);
    /// q.get();
    /// q.task_done().unwrap();
    /// q.join();
    /// ```
    pub fn task_done(&self) -> Result<(), TooManyTaskDone> {
        let joiners = {
            let mut st = lock(&self.inner.state);
            if st.unfinished == 0 {
                return Err(TooManyTaskDone);
            }
            st.unfinished -= 1;
            if st.unfinished > 0 {
                return Ok(());
            }
            std::mem::take(&mut st.joiners)
        };
        for j in joiners {
            j.notify();
        }
        Ok(())
    }

    /// Blocks until every item put has been marked done; returns at once if none is pending.
    ///
    /// ```
    /// greenfetch_runtime::Queue::<u8>::unbounded().join();
    /// ```
    pub fn join(&self) {
        let w = {
            let mut st = lock(&self.inner.state);
            if st.unfinished == 0 {
                return;
            }
            let w = Waiter::new();
            st.joiners.push(w.clone());
            w
        };
        w.wait(None);
    }
}

/// On unwind (a killed or timed-out green thread), a getter leaves the line; an item already
/// handed to it goes back into the queue, first in line: to the next getter, or to the head of
/// storage (it came before anything stored since, which `accept` would have put ahead of it).
struct LeaveGetters<'a, T> {
    inner: &'a Arc<Inner<T>>,
    getter: &'a Arc<Waiter<T>>,
}

impl<T> Drop for LeaveGetters<'_, T> {
    fn drop(&mut self) {
        let mut st = lock(&self.inner.state);
        st.getters.retain(|g| !Arc::ptr_eq(g, self.getter));
        if let Some(item) = self.getter.take() {
            // Still counted in `unfinished`: it was never taken.
            match st.getters.pop_front() {
                Some(g) => g.notify_with(item),
                None => st.items.unpop(item),
            }
        }
    }
}

/// A putter that leaves early (timeout or unwind) leaves the line with its item.
struct LeavePutters<'a, T> {
    inner: &'a Arc<Inner<T>>,
    putter: &'a Arc<Putter<T>>,
}

impl<T> Drop for LeavePutters<'_, T> {
    fn drop(&mut self) {
        if !self.putter.waiter.is_ready() {
            lock(&self.inner.state)
                .putters
                .retain(|p| !Arc::ptr_eq(p, self.putter));
        }
    }
}

/// A [`Queue`] that hands out the most recently put item first (a stack).
///
/// ```
/// let q = greenfetch_runtime::LifoQueue::new(None);
/// q.put(1); q.put(2);
/// assert_eq!(q.get(), 2);
/// ```
#[derive(Debug)]
pub struct LifoQueue<T>(Queue<T>);

impl<T: Send + 'static> LifoQueue<T> {
    /// A LIFO queue; `None` is unbounded.
    ///
    /// ```
    /// let q: greenfetch_runtime::LifoQueue<u8> = greenfetch_runtime::LifoQueue::new(Some(4));
    /// assert_eq!(q.maxsize(), Some(4));
    /// ```
    pub fn new(maxsize: Option<usize>) -> Self {
        LifoQueue(Queue::with_store(Box::new(Lifo(Vec::new())), maxsize))
    }
}

impl<T> Clone for LifoQueue<T> {
    fn clone(&self) -> Self {
        LifoQueue(self.0.clone())
    }
}

impl<T> Deref for LifoQueue<T> {
    type Target = Queue<T>;
    fn deref(&self) -> &Queue<T> {
        &self.0
    }
}

/// A [`Queue`] that hands out the lowest item first (a min-heap).
///
/// ```
/// let q = greenfetch_runtime::PriorityQueue::new(None);
/// q.put(3); q.put(1); q.put(2);
/// assert_eq!((q.get(), q.get(), q.get()), (1, 2, 3));
/// ```
#[derive(Debug)]
pub struct PriorityQueue<T>(Queue<T>);

impl<T: Ord + Send + 'static> PriorityQueue<T> {
    /// A priority queue; `None` is unbounded.
    ///
    /// ```
    /// let q: greenfetch_runtime::PriorityQueue<u8> = greenfetch_runtime::PriorityQueue::new(None);
    /// assert!(q.empty());
    /// ```
    pub fn new(maxsize: Option<usize>) -> Self {
        PriorityQueue(Queue::with_store(
            Box::new(Lowest(BinaryHeap::new())),
            maxsize,
        ))
    }
}

impl<T> Clone for PriorityQueue<T> {
    fn clone(&self) -> Self {
        PriorityQueue(self.0.clone())
    }
}

impl<T> Deref for PriorityQueue<T> {
    type Target = Queue<T>;
    fn deref(&self) -> &Queue<T> {
        &self.0
    }
}
