//! `Queue`: bounded, unbounded and channel (size 0) queues; blocked getters and putters;
//! resize; timeouts; `task_done`/`join`; the `_nowait` forms.
//!
//! Ported from eventlet/eventlet's tests (MIT licence), tests/queue_test.py, and rewritten for
//! greenfetch. eventlet's `queue.Full`/`queue.Empty` are `Full(item)`/`Empty`. Where eventlet
//! uses `sleep(0)` to let a putter or getter block, these tests wait until `putting()` or
//! `getting()` shows it blocked, so they hold with several workers. The channel ordering cases
//! (test_channel_send, test_channel_wait) need one worker and are in single_worker.rs.

use greenfetch::{Empty, Event, Full, Queue, spawn, with_timeout};

use crate::util::{LONG, Log, TICK, green, wait_until};

/// eventlet's `do_bail`: a getter whose timeout fires while it waits.
fn do_bail(q: &Queue<&'static str>) -> &'static str {
    let q = q.clone();
    with_timeout(TICK, move || q.get()).unwrap_or("timed out")
}

// eventlet tests/queue_test.py:33 test_max_size
#[test]
fn max_size() {
    green(|| {
        let q = Queue::bounded(2);
        let results = Log::new();
        let (tx, r) = (q.clone(), results.clone());
        let gt = spawn(move || {
            for item in ['a', 'b', 'c'] {
                tx.put(item);
                r.push(item);
            }
        });
        wait_until("the putter is blocked", || q.putting() == 1);
        // a and b went in without blocking; c waits for room.
        assert_eq!(results.get(), ['a', 'b']);
        assert_eq!(q.qsize(), 2);
        assert_eq!(q.get(), 'a');
        gt.wait().unwrap();
        assert_eq!(results.get(), ['a', 'b', 'c']);
        assert_eq!(q.get(), 'b');
        assert_eq!(q.get(), 'c');
    })
}

// eventlet tests/queue_test.py:55 test_zero_max_size
#[test]
fn zero_max_size() {
    green(|| {
        let q = Queue::bounded(0);
        let evt = Event::new();
        let (tx, e) = (q.clone(), evt.clone());
        let sender = spawn(move || {
            tx.put("hi");
            e.send("done").unwrap();
        });
        wait_until("the sender is blocked", || q.putting() == 1);
        // No getter yet: the put has not completed.
        assert!(!evt.ready());
        assert_eq!(q.qsize(), 0);
        let rx = q.clone();
        let receiver = spawn(move || rx.get());
        assert_eq!(receiver.wait(), Ok("hi"));
        assert_eq!(evt.wait(), "done");
        sender.wait().unwrap();
    })
}

/// eventlet's test_resize_up / test_resize_to_Unlimited: a sender blocked on a channel is
/// released by growing the channel to `new_size`.
fn resize_releases_putter(new_size: Option<usize>) {
    let q = Queue::bounded(0);
    let evt = Event::new();
    let (tx, e) = (q.clone(), evt.clone());
    let sender = spawn(move || {
        tx.put("hi");
        e.send("done").unwrap();
    });
    wait_until("the sender is blocked", || q.putting() == 1);
    assert!(!evt.ready());
    q.resize(new_size);
    assert_eq!(evt.wait_timeout(LONG), Some("done"));
    sender.wait().unwrap();
    assert_eq!(q.putting(), 0);
    assert_eq!(q.qsize(), 1, "the item is stored in the grown queue");
    assert_eq!(q.get_nowait(), Ok("hi"));
}

// eventlet tests/queue_test.py:75 test_resize_up
#[test]
fn resize_up() {
    green(|| resize_releases_putter(Some(1)))
}

// eventlet tests/queue_test.py:102 test_resize_to_Unlimited
#[test]
fn resize_to_unlimited() {
    green(|| resize_releases_putter(None))
}

// eventlet tests/queue_test.py:91 test_resize_down
#[test]
fn resize_down() {
    green(|| {
        let q = Queue::bounded(5);
        for i in 0..5 {
            q.put(i);
        }
        assert_eq!(q.qsize(), 5);
        q.resize(Some(1));
        greenfetch::sleep(std::time::Duration::ZERO);
        // Nothing queued is lost, and the order is kept.
        assert_eq!(q.qsize(), 5);
        assert!(q.full());
        let drained: Vec<i32> = (0..5).map(|_| q.get_nowait().unwrap()).collect();
        assert_eq!(drained, [0, 1, 2, 3, 4]);
        assert_eq!(q.maxsize(), Some(1));
    })
}

// eventlet tests/queue_test.py:136 test_waiters_that_cancel
#[test]
fn waiters_that_cancel() {
    green(|| {
        let q = Queue::unbounded();
        let q2 = q.clone();
        let gt = spawn(move || do_bail(&q2));
        assert_eq!(gt.wait(), Ok("timed out"));
        assert_eq!(q.getting(), 0, "the cancelled getter left the line");
        q.put("hi");
        assert_eq!(q.qsize(), 1, "nobody consumed the item");
        assert_eq!(q.get(), "hi");
    })
}

// eventlet tests/queue_test.py:151 test_two_waiters_one_dies
#[test]
fn two_waiters_one_dies() {
    green(|| {
        let q = Queue::unbounded();
        let q2 = q.clone();
        let dying = spawn(move || do_bail(&q2));
        wait_until("the dying getter is blocked", || q.getting() == 1);
        let q3 = q.clone();
        let waiting = spawn(move || q3.get());
        // (Under heavy load the dying getter may time out before the other one blocks.)
        wait_until("both getters are blocked", || {
            q.getting() == 2 || dying.is_done()
        });
        assert_eq!(dying.wait(), Ok("timed out"));
        q.put("hi");
        assert_eq!(waiting.wait(), Ok("hi"));
        assert_eq!(q.qsize(), 0);
    })
}

// eventlet tests/queue_test.py:163 test_two_bogus_waiters
#[test]
fn two_bogus_waiters() {
    green(|| {
        let q = Queue::unbounded();
        let (a, b) = (q.clone(), q.clone());
        let gt1 = spawn(move || do_bail(&a));
        let gt2 = spawn(move || do_bail(&b));
        wait_until("both getters are blocked", || {
            q.getting() == 2 || gt1.is_done() || gt2.is_done()
        });
        assert_eq!(gt1.wait(), Ok("timed out"));
        assert_eq!(gt2.wait(), Ok("timed out"));
        q.put("sent");
        assert_eq!(q.qsize(), 1);
        assert_eq!(q.get(), "sent");
    })
}

// eventlet tests/queue_test.py:173 test_waiting
#[test]
fn waiting() {
    green(|| {
        let q = Queue::unbounded();
        let rx = q.clone();
        let gt1 = spawn(move || rx.get());
        wait_until("the getter is blocked", || q.getting() == 1);
        assert_eq!(q.getting(), 1);
        q.put("hi");
        // The item went straight to the getter, which left the line.
        assert_eq!(q.getting(), 0);
        assert_eq!(gt1.wait(), Ok("hi"));
        assert_eq!(q.getting(), 0);
    })
}

// eventlet tests/queue_test.py:224 test_channel_waiters
#[test]
fn channel_waiters() {
    green(|| {
        let c = Queue::bounded(0);
        let getters: Vec<_> = (0..3)
            .map(|_| {
                let c = c.clone();
                spawn(move || c.get())
            })
            .collect();
        wait_until("three getters are blocked", || c.getting() == 3);
        let senders: Vec<_> = (1..=3)
            .map(|i| {
                let c = c.clone();
                spawn(move || c.put(i))
            })
            .collect();
        for s in senders {
            s.wait().unwrap();
        }
        assert_eq!(c.getting(), 0);
        // Everything is delivered; which getter got which item is not promised.
        let mut results: Vec<i32> = getters.into_iter().map(|g| g.wait().unwrap()).collect();
        results.sort_unstable();
        assert_eq!(results, [1, 2, 3]);
    })
}

// eventlet tests/queue_test.py:243 test_channel_sender_timing_out
#[test]
fn channel_sender_timing_out() {
    green(|| {
        let c = Queue::bounded(0);
        assert_eq!(c.put_timeout("hi", TICK), Err(Full("hi")));
        assert_eq!(c.putting(), 0, "the timed-out sender left the line");
        assert_eq!(c.get_nowait(), Err(Empty));
    })
}

// eventlet tests/queue_test.py:248 test_task_done
#[test]
fn task_done() {
    green(|| {
        let channel = Queue::bounded(0);
        let tx = channel.clone();
        let gt = spawn(move || tx.put("X"));
        assert_eq!(channel.get(), "X");
        assert_eq!(channel.unfinished_tasks(), 1);
        channel.task_done().unwrap();
        assert_eq!(channel.unfinished_tasks(), 0);
        gt.wait().unwrap();
    })
}

// eventlet tests/queue_test.py:259 test_join_doesnt_block_when_queue_is_already_empty
#[test]
fn join_doesnt_block_when_queue_is_already_empty() {
    green(|| {
        let queue: Queue<u8> = Queue::unbounded();
        let q = queue.clone();
        // Joined in a task of its own, so that a hang shows as a timeout here.
        assert_eq!(with_timeout(LONG, move || q.join()), Ok(()));
        assert_eq!(queue.unfinished_tasks(), 0);
    })
}

// eventlet tests/queue_test.py:291 TestNoWait.test_put_nowait_simple
#[test]
fn put_nowait_simple() {
    green(|| {
        let q = Queue::bounded(1);
        assert_eq!(q.put_nowait(2), Ok(()));
        assert_eq!(q.put_nowait(3), Err(Full(3)));
        assert_eq!(q.get_nowait(), Ok(2));
    })
}

// eventlet tests/queue_test.py:303 TestNoWait.test_get_nowait_simple
#[test]
fn get_nowait_simple() {
    green(|| {
        let q = Queue::bounded(1);
        q.put(4);
        assert_eq!(q.get_nowait(), Ok(4));
        assert_eq!(q.get_nowait(), Err(Empty));
    })
}
