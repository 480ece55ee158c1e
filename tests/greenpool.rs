//! `GreenPool`: spawn into a bounded pool, re-entrancy, resize, failures, `imap`, `waitall`.
//!
//! Ported from eventlet/eventlet's tests (MIT licence), tests/greenpool_test.py, and rewritten
//! for greenfetch. eventlet's `starmap(f, tuples)` and `imap(None, ...)` are `imap` with a
//! closure that destructures or returns its tuple; `imap(f, a, b)` is `imap` over
//! `a.zip(b)`. The cases that need one worker (test_spawn_n, test_waiting,
//! test_multiple_coros, test_spawn_n_2) are in single_worker.rs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use greenfetch::{Event, GreenPool, InsidePool, Queue, WaitError, with_timeout};

use crate::util::{LONG, TICK, expected, expected_panic, green, pseudo_random};

/// eventlet's `passthru(a)`: sleeps 10 ms and returns its argument.
fn passthru<T>(a: T) -> T {
    greenfetch::sleep(Duration::from_millis(10));
    a
}

/// eventlet's `passthru2(a, b)`.
fn passthru2<A, B>(a: A, b: B) -> (A, B) {
    greenfetch::sleep(Duration::from_millis(10));
    (a, b)
}

/// eventlet's `assert_pool_has_free`: exactly `num_free` spawns go through without blocking,
/// and one more would block. (eventlet spawns under `Timeout(1)` then `Timeout(0)`;
/// `try_spawn` is the same question without the clock.)
fn assert_pool_has_free(pool: &GreenPool, num_free: usize) {
    assert_eq!(pool.free(), num_free as isize);
    let evt: Event<()> = Event::new();
    let mut held = Vec::new();
    for n in 0..num_free {
        let e = evt.clone();
        match pool.try_spawn(move || e.wait()) {
            Ok(gt) => held.push(gt),
            Err(_) => panic!("the pool had {n} free, not {num_free}"),
        }
    }
    let e = evt.clone();
    assert!(
        pool.try_spawn(move || e.wait()).is_err(),
        "the pool had more than {num_free} free"
    );
    evt.send(()).unwrap();
    for gt in held {
        gt.wait().unwrap();
    }
}

// eventlet tests/greenpool_test.py:20 test_spawn
//
// The pool must both reach its limit and never pass it: the first tasks wait (up to LONG)
// until four run at once, so a pool that ran its tasks one at a time fails instead of passing.
#[test]
fn spawn() {
    green(|| {
        let p = GreenPool::new(4);
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let full: Event<()> = Event::new();
        let waiters: Vec<_> = (0..10)
            .map(|i| {
                let (now, most, full) = (now.clone(), most.clone(), full.clone());
                p.spawn(move || {
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(n, Ordering::SeqCst);
                    if n == 4 {
                        let _ = full.send(()); // the first time four run at once
                    } else {
                        full.wait_timeout(LONG);
                    }
                    let r = passthru(i);
                    now.fetch_sub(1, Ordering::SeqCst);
                    r
                })
            })
            .collect();
        let results: Vec<i32> = waiters.into_iter().map(|w| w.wait().unwrap()).collect();
        assert_eq!(results, (0..10).collect::<Vec<_>>());
        assert_eq!(
            most.load(Ordering::SeqCst),
            4,
            "not exactly 4 at once at the most"
        );
    })
}

// eventlet tests/greenpool_test.py:107 test_reentrant
#[test]
fn reentrant() {
    green(|| {
        let pool = GreenPool::new(1);
        let p = pool.clone();
        // A task of a full pool of one spawns into it: runs inline instead of deadlocking.
        let outer = pool.spawn(move || {
            let waiter = p.spawn(|| "reenter");
            waiter.wait()
        });
        assert_eq!(outer.wait(), Ok(Ok("reenter")));

        let evt = Event::new();
        let inner_ran = Event::new();
        let (p, e, ran) = (pool.clone(), evt.clone(), inner_ran.clone());
        pool.spawn_n(move || {
            p.spawn_n(move || ran.send("reenter").unwrap());
            e.send("done").unwrap();
        });
        assert_eq!(evt.wait(), "done");
        assert_eq!(
            inner_ran.poll(),
            Some("reenter"),
            "ran inline, before spawn_n returned"
        );
    })
}

// eventlet tests/greenpool_test.py:155 test_resize
#[test]
fn resize() {
    green(|| {
        let pool = GreenPool::new(2);
        let evt: Event<()> = Event::new();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let e = evt.clone();
                pool.spawn(move || e.wait())
            })
            .collect();
        assert_eq!(pool.free(), 0);
        assert_eq!(pool.running(), 2);
        assert_pool_has_free(&pool, 0);

        // Shrinking kills nothing: free() goes negative until the excess finishes.
        pool.resize(1);
        assert_eq!(pool.free(), -1);
        assert_eq!(pool.running(), 2);

        evt.send(()).unwrap();
        for t in tasks {
            t.wait().unwrap();
        }
        assert_eq!(pool.free(), 1);
        assert_eq!(pool.running(), 0);
        assert_pool_has_free(&pool, 1);

        // Growing gives more free slots.
        pool.resize(2);
        assert_eq!(pool.free(), 2);
        assert_eq!(pool.running(), 0);
        assert_pool_has_free(&pool, 2);
    })
}

// eventlet tests/greenpool_test.py:187 test_pool_smash
#[test]
fn pool_smash() {
    green(|| {
        let pool = GreenPool::new(1);
        // eventlet's TokenPool(max_size=1) with its one token taken: gets block.
        let tp: Queue<&str> = Queue::bounded(1);

        let t = tp.clone();
        // The pooled task waits for a token, but times out first.
        let e1 = pool
            .spawn(move || with_timeout(TICK, move || t.get()).map_or("timed out", |_| "received"));
        assert_eq!(e1.wait(), Ok("timed out"));

        // The token pool can get an item back...
        let t = tp.clone();
        let gt = greenfetch::spawn(move || t.put("wakeup"));
        // ...the green pool runs something else, unaffected...
        let e2 = pool.spawn(|| "resumed");
        assert_eq!(e2.wait(), Ok("resumed"));
        // ...and the item is there: the timed-out getter took nothing.
        assert_eq!(tp.get(), "wakeup");
        gt.wait().unwrap();
        assert_eq!(pool.free(), 1);
    })
}

// eventlet tests/greenpool_test.py:255 test_exceptions
#[test]
fn exceptions() {
    green(|| {
        let p = GreenPool::new(2);

        // spawn: an ordinary error.
        assert_pool_has_free(&p, 2);
        let gate: Event<()> = Event::new();
        let g = gate.clone();
        let gt = p.spawn(move || -> u8 {
            g.wait();
            expected_panic("RuntimeError")
        });
        assert_pool_has_free(&p, 1);
        gate.send(()).unwrap();
        p.waitall().unwrap();
        assert_eq!(
            gt.wait(),
            Err(WaitError::Panicked(expected("RuntimeError")))
        );
        assert_pool_has_free(&p, 2);

        // spawn: the exit signal (GreenletExit), i.e. a kill.
        let started = Event::new();
        let s = started.clone();
        let gt = p.spawn(move || {
            s.send(()).unwrap();
            greenfetch::sleep(LONG);
        });
        started.wait();
        assert_pool_has_free(&p, 1);
        gt.kill();
        p.waitall().unwrap();
        assert_eq!(gt.wait(), Err(WaitError::Killed));
        assert_pool_has_free(&p, 2);

        // spawn_n: an ordinary error. (A spawn_n task has no handle, so it cannot be killed.)
        let gate: Event<()> = Event::new();
        let g = gate.clone();
        p.spawn_n(move || {
            g.wait();
            expected_panic("RuntimeError");
        });
        assert_pool_has_free(&p, 1);
        gate.send(()).unwrap();
        p.waitall().unwrap();
        assert_pool_has_free(&p, 2);
    })
}

// eventlet tests/greenpool_test.py:268 test_imap
#[test]
fn imap() {
    green(|| {
        let p = GreenPool::new(4);
        // Later items finish first: item i sleeps (10 - i) * 3 ms.
        let results: Vec<u64> = p
            .imap(
                |i: u64| {
                    greenfetch::sleep(Duration::from_millis((10 - i) * 3));
                    i
                },
                0..10,
            )
            .map(Result::unwrap)
            .collect();
        assert_eq!(results, (0..10).collect::<Vec<_>>());
    })
}

// eventlet tests/greenpool_test.py:273 test_empty_imap
#[test]
fn empty_imap() {
    green(|| {
        let p = GreenPool::new(4);
        let mut result_iter = p.imap(passthru::<i32>, Vec::new());
        assert_eq!(result_iter.next(), None);
        assert_eq!(result_iter.next(), None);
    })
}

// eventlet tests/greenpool_test.py:278 test_imap_nonefunc
#[test]
fn imap_nonefunc() {
    green(|| {
        let p = GreenPool::new(4);
        // `imap(None, it)` yields the argument tuples: the identity on 1-tuples.
        let result_list: Vec<(i32,)> = p
            .imap(|args: (i32,)| args, (0..10).map(|x| (x,)))
            .map(Result::unwrap)
            .collect();
        assert_eq!(result_list, (0..10).map(|x| (x,)).collect::<Vec<_>>());
    })
}

// eventlet tests/greenpool_test.py:283 test_imap_multi_args
#[test]
fn imap_multi_args() {
    green(|| {
        let p = GreenPool::new(4);
        let result_list: Vec<(i32, i32)> = p
            .imap(|(a, b)| passthru2(a, b), (0..10).zip(10..20))
            .map(Result::unwrap)
            .collect();
        assert_eq!(result_list, (0..10).zip(10..20).collect::<Vec<_>>());
    })
}

// eventlet tests/greenpool_test.py:288 test_imap_raises
#[test]
fn imap_raises() {
    green(|| {
        let p = GreenPool::new(4);
        let raiser = |item: i32| {
            if item == 1 || item == 7 {
                expected_panic("intentional error")
            }
            item
        };
        let results: Vec<Result<i32, WaitError>> = p.imap(raiser, 0..10).collect();
        let shape: Vec<Option<i32>> = results.iter().map(|r| r.clone().ok()).collect();
        let r = None;
        let expected_shape = [
            Some(0),
            r,
            Some(2),
            Some(3),
            Some(4),
            Some(5),
            Some(6),
            r,
            Some(8),
            Some(9),
        ];
        assert_eq!(shape, expected_shape);
        assert_eq!(
            results[1],
            Err(WaitError::Panicked(expected("intentional error")))
        );
        assert_eq!(
            results[7],
            Err(WaitError::Panicked(expected("intentional error")))
        );
    })
}

// eventlet tests/greenpool_test.py:311 test_starmap
#[test]
fn starmap() {
    green(|| {
        let p = GreenPool::new(4);
        let result_list: Vec<i32> = p
            .imap(|(x,): (i32,)| passthru(x), (0..10).map(|x| (x,)))
            .map(Result::unwrap)
            .collect();
        assert_eq!(result_list, (0..10).collect::<Vec<_>>());
    })
}

// eventlet tests/greenpool_test.py:316 test_waitall_on_nothing
#[test]
fn waitall_on_nothing() {
    green(|| {
        let p = GreenPool::default();
        assert_eq!(p.waitall(), Ok(()));
        assert_eq!(p.waitall_timeout(Duration::ZERO), Ok(true), "idle at once");
    })
}

// eventlet tests/greenpool_test.py:320 test_recursive_waitall
#[test]
fn recursive_waitall() {
    green(|| {
        let p = GreenPool::default();
        let p2 = p.clone();
        let gt = p.spawn(move || p2.waitall());
        // An error instead of eventlet's AssertionError, and no deadlock.
        assert_eq!(gt.wait(), Ok(Err(InsidePool)));
    })
}

// eventlet tests/greenpool_test.py:369 test_greenpool_type_check
// Sizes 0, 1 and 1e3 are accepted. A non-numeric size (TypeError) and -1 (ValueError) cannot
// be written in Rust: the size is a `usize`.
#[test]
fn greenpool_type_check() {
    green(|| {
        for size in [0, 1, 1000] {
            let p = GreenPool::new(size);
            assert_eq!(p.size(), size);
            assert_eq!(p.free(), size as isize);
            assert_eq!(p.running(), 0);
        }
        assert_eq!(GreenPool::default().size(), 1000);
    })
}

/// eventlet's stress `passthru`: a few random short sleeps (seeded by the item), then the item.
fn pressure_passthru(i: u64) -> u64 {
    let mut k = 0;
    while pseudo_random(i * 64 + k, 2) == 0 {
        k += 1;
        greenfetch::sleep(Duration::from_micros(pseudo_random(i * 64 + k, 1000)));
    }
    i
}

/// eventlet's `imap_memory_check`: over 1000 items, results are strictly ordered and the
/// producer never runs more than `concurrency + 1` tasks ahead of the consumer (greenfetch
/// counts started tasks where eventlet counted live objects).
fn imap_memory_check(concurrency: usize) {
    let p = GreenPool::new(concurrency);
    let count = 1000;
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let it = p.imap(
        move |i| {
            s.fetch_add(1, Ordering::SeqCst);
            pressure_passthru(i)
        },
        0..count,
    );
    let mut latest: Option<u64> = None;
    for (consumed, r) in it.enumerate() {
        let i = r.unwrap();
        assert!(latest.is_none_or(|l| i > l), "{i} came after {latest:?}");
        latest = Some(i);
        let ahead = started.load(Ordering::SeqCst) - (consumed + 1);
        assert!(
            ahead <= concurrency + 1,
            "{ahead} tasks ran ahead of the consumer (pool of {concurrency})"
        );
        if i % 5 == 0 {
            greenfetch::sleep(Duration::from_millis(1));
        }
    }
    // Make sure we got to the end.
    assert_eq!(latest, Some(count - 1));
    assert_eq!(started.load(Ordering::SeqCst), count as usize);
}

// eventlet tests/greenpool_test.py:445 imap_memory_check (Stress.test_imap_50)
#[test]
fn imap_50() {
    green(|| imap_memory_check(50))
}

// eventlet tests/greenpool_test.py:445 imap_memory_check (Stress.test_imap_500)
#[test]
fn imap_500() {
    green(|| imap_memory_check(500))
}
