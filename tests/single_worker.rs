//! Tests that rely on eventlet's single thread, run with one may worker.
//!
//! Ported from eventlet/eventlet's tests (MIT licence, Copyright (c) 2005-2006 Bob Ippolito,
//! 2007-2010 Linden Research, Inc., 2008-2010 Eventlet Contributors) and rewritten for
//! greenfetch. With one worker and each test body running as a green thread (like eventlet's
//! main greenlet), greenfetch keeps eventlet's guarantees: a spawned task does not start until
//! its spawner yields, tasks start in spawn order, `sleep(Duration::ZERO)` lets every runnable
//! task run once, and nothing preempts a task between two yields. Other tests' green threads
//! share the worker, which changes none of that for a test's own tasks.
//!
//! Acceptance cases (reference/eventlet-semantics.md): 2, 3, 4, 9, 24, 27, 28, 46, 60 (timer
//! ordering); plus three behaviours eventlet has without a test of them (spawn order; an
//! Event's send and a Semaphore's release do not switch) and two defects that need a precise interleaving (killing a
//! pool task before it starts; a getter killed after an item was handed to it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use greenfetch::{Event, GreenPile, GreenPool, Queue, Semaphore, WaitError, spawn, spawn_after};

use util::{EXPECTED, Log, expected_panic, green, pseudo_random};

/// The whole binary runs on one worker thread, like eventlet's hub.
const WORKERS: usize = 1;

mod util;

/// eventlet's cooperative yield, `sleep(0)`.
fn yield_now() {
    greenfetch::sleep(Duration::ZERO);
}

// eventlet tests/greenpool_test.py:28 test_spawn_n
#[test]
fn spawn_n() {
    green(|| {
        let p = GreenPool::new(4);
        let results_closure = Log::new();
        for i in 0..10 {
            let r = results_closure.clone();
            // (eventlet's test uses `spawn` here too.)
            let _ = p.spawn(move || {
                greenfetch::sleep(Duration::from_millis(10));
                r.push(i);
            });
        }
        p.waitall().unwrap();
        // Equal delays: they finish in spawn order.
        assert_eq!(results_closure.get(), (0..10).collect::<Vec<_>>());
    })
}

// eventlet tests/greenpool_test.py:41 test_waiting
#[test]
fn waiting() {
    green(|| {
        let pool = GreenPool::new(1);
        let done: Event<()> = Event::new();
        let waiter = |pool: &GreenPool, done: &Event<()>| {
            let (pool, done) = (pool.clone(), done.clone());
            spawn(move || {
                let gt = pool.spawn(move || done.wait());
                gt.wait().unwrap();
            })
        };
        let mut waiters = Vec::new();
        assert_eq!(pool.running(), 0);
        waiters.push(waiter(&pool, &done));
        yield_now();
        assert_eq!(pool.waiting(), 0);
        waiters.push(waiter(&pool, &done));
        yield_now();
        assert_eq!(pool.waiting(), 1);
        waiters.push(waiter(&pool, &done));
        yield_now();
        assert_eq!(pool.waiting(), 2);
        assert_eq!(pool.running(), 1);
        done.send(()).unwrap();
        for w in waiters {
            w.wait().unwrap();
        }
        assert_eq!(pool.waiting(), 0);
        assert_eq!(pool.running(), 0);
    })
}

// eventlet tests/greenpool_test.py:70 test_multiple_coros
#[test]
fn multiple_coros() {
    green(|| {
        let evt: Event<()> = Event::new();
        let results = Log::new();
        let (e, r) = (evt.clone(), results.clone());
        let producer = move || {
            r.push("prod");
            e.send(()).unwrap();
        };
        let (e, r) = (evt.clone(), results.clone());
        let consumer = move || {
            r.push("cons1");
            e.wait();
            r.push("cons2");
        };
        let pool = GreenPool::new(2);
        let done = pool.spawn(consumer);
        pool.spawn_n(producer);
        done.wait().unwrap();
        assert_eq!(results.get(), ["cons1", "prod", "cons2"]);
    })
}

// eventlet tests/greenpool_test.py:226 test_spawn_n_2
#[test]
fn spawn_n_2() {
    green(|| {
        let p = GreenPool::new(2);
        assert_eq!(p.free(), 2);
        let r = Log::new();
        let foo = |r: &Log<i32>, a: i32| {
            let r = r.clone();
            move || r.push(a)
        };
        let gt = p.spawn(foo(&r, 1));
        assert_eq!(p.free(), 1);
        gt.wait().unwrap();
        assert_eq!(r.get(), [1]);
        yield_now();
        assert_eq!(p.free(), 2);

        // Once the pool is exhausted, spawning forces a yield.
        p.spawn_n(foo(&r, 2));
        assert_eq!(p.free(), 1);
        assert_eq!(r.get(), [1]);

        p.spawn_n(foo(&r, 3));
        assert_eq!(p.free(), 0);
        assert_eq!(r.get(), [1]);

        p.spawn_n(foo(&r, 4));
        let mut seen = r.get();
        seen.sort_unstable();
        assert_eq!(seen, [1, 2, 3]);
        yield_now();
        let mut seen = r.get();
        seen.sort_unstable();
        assert_eq!(seen, [1, 2, 3, 4]);
    })
}

/// eventlet's stress `pressure(arg)`: a few random short sleeps, then the token, or (one time
/// in five) an error carrying it. Seeded by the token, so every run is the same.
fn pressure(token: (usize, usize)) -> (usize, usize) {
    let seed = (token.0 * 1_000_000 + token.1) as u64 * 64;
    let mut k = 0;
    while pseudo_random(seed + k, 2) == 0 {
        k += 1;
        greenfetch::sleep(Duration::from_micros(pseudo_random(seed + k, 1000)));
    }
    if pseudo_random(seed + 63, 5) == 0 {
        expected_panic(&format!("stress {} {}", token.0, token.1));
    }
    token
}

/// The token carried by `pressure`'s error (eventlet's `exc.args[0]`).
fn token_of(e: &WaitError) -> (usize, usize) {
    let WaitError::Panicked(msg) = e else {
        panic!("unexpected {e:?}")
    };
    let rest = msg
        .strip_prefix(EXPECTED)
        .and_then(|m| m.strip_prefix("stress "))
        .unwrap_or_else(|| panic!("unexpected panic {msg:?}"));
    let mut parts = rest.split(' ').map(|n| n.parse::<usize>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap())
}

/// eventlet's `spawn_order_check`: three producers feed one pile while the test body reads
/// it; each producer's results, errors included, come out in that producer's spawn order.
fn spawn_order_check(concurrency: usize) {
    let p = Arc::new(GreenPile::new(concurrency));
    let iters = 1000;
    let makework = |count: usize, unique: usize| {
        let p = p.clone();
        spawn(move || {
            for i in 0..count {
                let token = (unique, i);
                p.spawn(move || pressure(token));
            }
        })
    };
    let producers = [makework(iters, 1), makework(iters, 2), makework(iters, 3)];
    p.spawn(|| pressure((0, 0)));
    let mut latest: [Option<usize>; 4] = [None; 4];
    let mut received = 0;
    for r in &*p {
        let (unique, order) = r.unwrap_or_else(|e| token_of(&e));
        received += 1;
        if received % 5 == 0 {
            greenfetch::sleep(Duration::from_micros(100));
        }
        assert!(
            latest[unique].is_none_or(|l| l < order),
            "producer {unique}: {order} after {:?}",
            latest[unique]
        );
        latest[unique] = Some(order);
    }
    for l in &latest[1..] {
        assert_eq!(*l, Some(iters - 1));
    }
    assert_eq!(received, 3 * iters + 1);
    for w in producers {
        w.wait().unwrap();
    }
}

// eventlet tests/greenpool_test.py:406 spawn_order_check (Stress.test_ordering_5)
#[test]
fn ordering_5() {
    green(|| spawn_order_check(5))
}

// eventlet tests/greenpool_test.py:406 spawn_order_check (Stress.test_ordering_50)
#[test]
fn ordering_50() {
    green(|| spawn_order_check(50))
}

// eventlet tests/greenthread_test.py:37 test_n
#[test]
fn n() {
    green(|| {
        let results = Log::new();
        let r = results.clone();
        greenfetch::spawn_n(move || r.push((2, 3)));
        // Not run yet: the spawner has not yielded.
        assert!(results.get().is_empty());
        yield_now();
        assert_eq!(results.get(), [(2, 3)]);
    })
}

// eventlet tests/greenthread_test.py:44 test_kill (and :53 test_kill_meth, the same call here)
#[test]
fn kill() {
    green(|| {
        let results = Log::new();
        let r = results.clone();
        let gt = spawn(move || r.push(6));
        gt.kill();
        assert!(gt.is_done(), "dead at once");
        greenfetch::sleep(Duration::from_millis(1));
        assert!(results.get().is_empty(), "the body never ran");
        // Killing again is a no-op.
        gt.kill();
        assert!(gt.is_done());
        assert_eq!(gt.wait(), Err(WaitError::Killed));
        assert!(results.get().is_empty());
    })
}

// eventlet tests/queue_test.py:184 test_channel_send
#[test]
fn channel_send() {
    green(|| {
        let channel = Queue::bounded(0);
        let events = Log::new();
        let (c, e) = (channel.clone(), events.clone());
        let another_greenlet = spawn(move || {
            e.push(c.get());
            e.push(c.get());
        });
        events.push("sending");
        channel.put("hello");
        events.push("sent hello");
        channel.put("world");
        events.push("sent world");
        assert_eq!(
            events.get(),
            ["sending", "hello", "sent hello", "world", "sent world"]
        );
        another_greenlet.wait().unwrap();
    })
}

// eventlet tests/queue_test.py:202 test_channel_wait
#[test]
fn channel_wait() {
    green(|| {
        let channel = Queue::bounded(0);
        let events = Log::new();
        let (c, e) = (channel.clone(), events.clone());
        let another_greenlet = spawn(move || {
            e.push("sending hello");
            c.put("hello");
            e.push("sending world");
            c.put("world");
            e.push("sent world");
        });
        events.push("waiting");
        events.push(channel.get());
        events.push(channel.get());
        assert_eq!(
            events.get(),
            [
                "waiting",
                "sending hello",
                "hello",
                "sending world",
                "world"
            ]
        );
        yield_now();
        assert_eq!(
            events.get(),
            [
                "waiting",
                "sending hello",
                "hello",
                "sending world",
                "world",
                "sent world"
            ]
        );
        another_greenlet.wait().unwrap();
    })
}

// eventlet tests/hub_test.py:147 test_ordering
#[test]
fn ordering() {
    green(|| {
        let delay = Duration::from_millis(20);
        let lst = Log::new();
        let at = |after: Duration, v: i32| {
            let l = lst.clone();
            spawn_after(after, move || l.push(v))
        };
        let timers = [at(delay * 2, 3), at(delay, 1), at(delay, 2)];
        for t in timers {
            t.wait().unwrap();
        }
        // Deadline order, and FIFO for equal delays.
        assert_eq!(lst.get(), [1, 2, 3]);
    })
}

// eventlet greenthread.py:50-63: children start in spawn order [obs]
#[test]
fn spawn_order() {
    green(|| {
        let started = Log::new();
        let tasks: Vec<_> = (0..5)
            .map(|i| {
                let s = started.clone();
                spawn(move || s.push(i))
            })
            .collect();
        assert!(
            started.get().is_empty(),
            "nothing starts before the spawner yields"
        );
        yield_now();
        assert_eq!(started.get(), [0, 1, 2, 3, 4]);
        for t in tasks {
            t.wait().unwrap();
        }
    })
}

// eventlet event.py:134-168: `send` never switches; waiters resume when the sender next yields
// (observed `['after-send', 'v']`).
#[test]
fn send_never_switches() {
    green(|| {
        let evt = Event::new();
        let log = Log::new();
        let (e, l) = (evt.clone(), log.clone());
        let waiter = spawn(move || l.push(e.wait()));
        yield_now(); // the waiter blocks
        evt.send("v").unwrap();
        log.push("after-send");
        waiter.wait().unwrap();
        assert_eq!(log.get(), ["after-send", "v"]);
    })
}

// Defect (eventlet greenthread.py:331-347): a pool task killed before it starts never runs and
// gives its slot back, so `waitall` returns and the slot can be used again.
#[test]
fn kill_before_start_frees_the_pool_slot() {
    green(|| {
        let pool = GreenPool::new(1);
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let gt = pool.spawn(move || r.store(true, Ordering::SeqCst));
        gt.kill(); // the spawner has not yielded: the task has not started
        assert_eq!(gt.wait(), Err(WaitError::Killed));
        pool.waitall().unwrap();
        assert_eq!(pool.free(), 1);
        assert!(!ran.load(Ordering::SeqCst));
        assert_eq!(pool.spawn(|| "next").wait(), Ok("next"));
    })
}

// Defect check (eventlet queue.py keeps items FIFO whatever happens to getters): a getter that
// is killed after an item was handed to it, before it took it, gives the item back at the head
// of the queue, not behind the items put since.
#[test]
fn killed_getter_gives_its_item_back_first() {
    green(|| {
        let q = Queue::unbounded();
        let rx = q.clone();
        let getter = spawn(move || rx.get());
        yield_now();
        assert_eq!(q.getting(), 1, "the getter is blocked");
        q.put("a"); // handed straight to the getter, which has not run since
        q.put("b"); // nobody else waits: stored
        getter.kill();
        assert_eq!(getter.wait(), Err(WaitError::Killed));
        assert_eq!(q.get_nowait(), Ok("a"));
        assert_eq!(q.get_nowait(), Ok("b"));
        assert_eq!(q.unfinished_tasks(), 2);
    })
}

// eventlet eventlet/semaphore.py `Semaphore.release`: a release hands the permit on through a
// 0-second timer and returns; the releaser goes on, and the acquirer runs at the releaser's
// next yield (as `Event.send` does, above).
#[test]
fn a_release_does_not_switch_to_the_acquirer() {
    green(|| {
        let sem = Semaphore::new(0);
        let log = Log::new();
        let (s, l) = (sem.clone(), log.clone());
        let acquirer = spawn(move || {
            s.acquire();
            l.push("acquired");
        });
        yield_now(); // the acquirer runs, and blocks
        assert_eq!(sem.balance(), -1);
        sem.release();
        log.push("released");
        yield_now();
        assert_eq!(log.get(), ["released", "acquired"]);
        acquirer.wait().unwrap();
    })
}
