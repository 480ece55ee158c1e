//! `GreenPile`: results in spawn order, a spawn that times out, the empty pile, piles sharing a
//! pool.
//!
//! Ported from eventlet/eventlet's tests (MIT licence), tests/greenpool_test.py, and rewritten
//! for greenfetch. A pile shared with another green thread lives in an `Arc`; `&GreenPile` is an
//! iterator. The stress case (spawn_order_check, three producers feeding one pile) needs one
//! worker and is in single_worker.rs.

use std::sync::Arc;
use std::time::Duration;

use greenfetch::{Event, GreenPile, GreenPool, TimedOut, spawn, with_timeout};

use crate::util::{TICK, green};

/// eventlet's `passthru(a)`: sleeps 10 ms and returns its argument.
fn passthru<T>(a: T) -> T {
    greenfetch::sleep(Duration::from_millis(10));
    a
}

// eventlet tests/greenpool_test.py:327 test_pile
#[test]
fn pile() {
    green(|| {
        let p = GreenPile::new(4);
        for i in 0..10 {
            p.spawn(move || passthru(i));
        }
        let result_list: Vec<i32> = p.map(Result::unwrap).collect();
        assert_eq!(result_list, (0..10).collect::<Vec<_>>());
    })
}

// eventlet tests/greenpool_test.py:334 test_pile_spawn_times_out
#[test]
fn pile_spawn_times_out() {
    green(|| {
        let p = Arc::new(GreenPile::new(4));
        // Four tasks that stay pending until the gate opens: the pool is full.
        let gate: Event<()> = Event::new();
        for i in 0..4 {
            let g = gate.clone();
            p.spawn(move || {
                g.wait();
                i
            });
        }
        // So this spawn blocks, and its timeout aborts it.
        let (p2, g) = (p.clone(), gate.clone());
        let aborted = with_timeout(TICK, move || {
            p2.spawn(move || {
                g.wait();
                -1
            })
        });
        assert_eq!(aborted, Err(TimedOut));
        assert_eq!(p.counter(), 4, "the aborted spawn is not counted");
        assert_eq!(
            p.pool().waiting(),
            0,
            "the aborted spawner left the pool's line"
        );

        // The sequence goes on and terminates properly.
        gate.send(()).unwrap();
        for i in 4..10 {
            p.spawn(move || passthru(i));
        }
        let result_list: Vec<i32> = (&*p).map(Result::unwrap).collect();
        assert_eq!(result_list, (0..10).collect::<Vec<_>>());
    })
}

// eventlet tests/greenpool_test.py:347 test_empty_pile
#[test]
fn empty_pile() {
    green(|| {
        let p: GreenPile<i32> = GreenPile::new(4);
        // No spawn()s. If this hangs, `green`'s limit fails the test.
        assert_eq!(p.counter(), 0);
        assert_eq!(p.collect::<Vec<_>>(), []);
    })
}

// eventlet tests/greenpool_test.py:353 test_constructing_from_pool
#[test]
fn constructing_from_pool() {
    green(|| {
        let pool = GreenPool::new(2);
        let pile1 = Arc::new(GreenPile::with_pool(&pool));
        let pile2 = Arc::new(GreenPile::with_pool(&pool));
        let bunch_of_work = |pile: Arc<GreenPile<i32>>, unique: i32| {
            spawn(move || {
                for i in 0..10 {
                    pile.spawn(move || passthru(i + unique));
                }
            })
        };
        // Two feeders share the pool of 2, so their tasks interleave in it.
        let w1 = bunch_of_work(pile1.clone(), 0);
        let w2 = bunch_of_work(pile2.clone(), 100);
        // eventlet's `sleep(0)` lets the feeders start; here they finish spawning (an
        // iteration that overtakes its feeder ends early, by design).
        w1.wait().unwrap();
        w2.wait().unwrap();
        let from2: Vec<i32> = (&*pile2).map(Result::unwrap).collect();
        let from1: Vec<i32> = (&*pile1).map(Result::unwrap).collect();
        assert_eq!(from2, (100..110).collect::<Vec<_>>());
        assert_eq!(from1, (0..10).collect::<Vec<_>>());
    })
}
