//! Green threads: `spawn`, `spawn_after`, `link`, `kill`, `cancel`, `sleep`.
//!
//! Ported from eventlet/eventlet's tests (MIT licence), tests/greenthread_test.py and
//! tests/hub_test.py, and rewritten for greenfetch. These hold with several workers; the
//! cases that need eventlet's single thread (test_n, test_kill) are in single_worker.rs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use greenfetch::{Event, GreenThread, WaitError, spawn, spawn_after};

use crate::util::{LONG, Log, TICK, expected, expected_panic, green, wait_until};

/// eventlet's `passthru(*args, **kw)`: records its arguments in `log` and returns them.
fn passthru(log: &Log<(i32, i32)>, a: i32, b: i32) -> (i32, i32) {
    log.push((a, b));
    (a, b)
}

// eventlet tests/greenthread_test.py:32 test_simple
#[test]
fn simple() {
    green(|| {
        let log = Log::new();
        let l = log.clone();
        // `spawn(passthru, 1, b=2)`: the arguments travel in the closure.
        let gt = spawn(move || passthru(&l, 1, 2));
        assert_eq!(gt.wait(), Ok((1, 2)));
        assert_eq!(log.get(), [(1, 2)]);
    })
}

// eventlet tests/greenthread_test.py:71 test_link
#[test]
fn link() {
    green(|| {
        let seen = Log::new();
        let gate = Event::new();
        let g = gate.clone();
        // The task cannot finish before the link is attached.
        let gt = spawn(move || {
            g.wait();
            5
        });
        // eventlet's curried arguments `link(link_func, 4, b=5)` are captured by the closure.
        let (s, a, b) = (seen.clone(), 4, 5);
        gt.link(move |r: &Result<i32, WaitError>| s.push((r.clone(), a, b)));
        assert!(
            seen.get().is_empty(),
            "a link runs when the task ends, not before"
        );
        gate.send(()).unwrap();
        assert_eq!(gt.wait(), Ok(5));
        // Links run before any waiter resumes.
        assert_eq!(seen.get(), [(Ok(5), 4, 5)]);
    })
}

// eventlet tests/greenthread_test.py:83 test_link_after_exited
#[test]
fn link_after_exited() {
    green(|| {
        let seen = Log::new();
        let gt = spawn(|| 5);
        wait_until("the task has ended", || gt.is_done());
        let (s, a, b) = (seen.clone(), 4, 5);
        gt.link(move |r: &Result<i32, WaitError>| s.push((r.clone(), a, b)));
        // Called at once, in the caller, with the result...
        assert_eq!(seen.get(), [(Ok(5), 4, 5)]);
        // ...which is still there for wait().
        assert_eq!(gt.wait(), Ok(5));
    })
}

// eventlet tests/greenthread_test.py:95 test_link_relinks
#[test]
fn link_relinks() {
    green(|| {
        let called = Arc::new(AtomicUsize::new(0));
        let gate = Event::new();
        let g = gate.clone();
        let gt = Arc::new(spawn(move || {
            g.wait();
            7
        }));
        let (inner, c) = (gt.clone(), called.clone());
        // A link that links again, from inside the ending task.
        gt.link(move |_| {
            let c = c.clone();
            inner.link(move |r| {
                assert_eq!(r, &Ok(7));
                c.fetch_add(1, Ordering::SeqCst);
            });
        });
        gate.send(()).unwrap();
        wait_until("the task has ended", || gt.is_done());
        assert_eq!(
            called.load(Ordering::SeqCst),
            1,
            "the relinked link ran once"
        );
        // Both links are gone (they held the other reference), and the result is intact.
        let gt: GreenThread<i32> = Arc::try_unwrap(gt).expect("links were dropped after running");
        assert_eq!(gt.wait(), Ok(7));
        assert_eq!(called.load(Ordering::SeqCst), 1);
    })
}

// eventlet tests/greenthread_test.py:112 SpawnAfter.test_basic
#[test]
fn basic() {
    green(|| {
        let delay = Duration::from_millis(100);
        let t0 = Instant::now();
        let gt = spawn_after(delay, || 20);
        assert_eq!(gt.wait(), Ok(20));
        assert!(t0.elapsed() >= delay, "ran before its delay");
    })
}

// eventlet tests/greenthread_test.py:116 SpawnAfter.test_cancel
#[test]
fn cancel() {
    green(|| {
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let gt = spawn_after(LONG, move || r.store(true, Ordering::SeqCst));
        gt.cancel();
        // assert_dead: done, and wait() reports the exit.
        assert!(gt.is_done());
        assert_eq!(gt.wait(), Err(WaitError::Killed));
        assert!(!ran.load(Ordering::SeqCst));
    })
}

// eventlet tests/greenthread_test.py:121 SpawnAfter.test_cancel_already_started
#[test]
fn cancel_already_started() {
    green(|| {
        let started = Event::new();
        let s = started.clone();
        let gt = spawn_after(Duration::ZERO, move || {
            s.send(()).unwrap();
            greenfetch::sleep(TICK);
            22
        });
        started.wait();
        gt.cancel();
        assert_eq!(gt.wait(), Ok(22));
    })
}

// eventlet tests/greenthread_test.py:127 SpawnAfter.test_kill_already_started
#[test]
fn kill_already_started() {
    green(|| {
        let started = Event::new();
        let finished = Arc::new(AtomicBool::new(false));
        let (s, f) = (started.clone(), finished.clone());
        let gt = spawn_after(Duration::ZERO, move || {
            s.send(()).unwrap();
            greenfetch::sleep(LONG);
            f.store(true, Ordering::SeqCst);
            22
        });
        started.wait();
        gt.kill();
        assert!(gt.is_done(), "kill returns once the task has ended");
        assert_eq!(gt.wait(), Err(WaitError::Killed));
        assert!(!finished.load(Ordering::SeqCst));
    })
}

// eventlet tests/hub_test.py:170 test_sleep
#[test]
fn sleep() {
    green(|| {
        let delay = Duration::from_millis(50);
        let t0 = Instant::now();
        greenfetch::sleep(delay);
        assert!(t0.elapsed() >= delay, "sleep returned early");

        // An error in a scheduled callback (eventlet: `schedule_call_global(0, fail)`).
        let failed = spawn_after(Duration::ZERO, || -> u8 { expected_panic("1 // 0") });
        assert_eq!(failed.wait(), Err(WaitError::Panicked(expected("1 // 0"))));

        let t0 = Instant::now();
        greenfetch::sleep(delay);
        assert!(
            t0.elapsed() >= delay,
            "sleep returned early after a failure"
        );
        assert_eq!(spawn(|| 1).wait(), Ok(1), "the hub still runs tasks");
    })
}
