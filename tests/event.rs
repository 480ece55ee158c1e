//! `Event`: one value (or error) for any number of waiters; reset; waits with a timeout.
//!
//! Ported from eventlet/eventlet's tests (MIT licence), tests/event_test.py, and rewritten for
//! greenfetch. eventlet's `send(exc=...)` is `send_exception` on an `Event<Result<T, E>>`, its
//! `AssertionError`s are `AlreadySent`/`NotSent`, and `wait(timeout)` is `wait_timeout`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use greenfetch::{AlreadySent, Event, NotSent, spawn_n};

use crate::util::{LONG, TICK, expected_panic, green, wait_until};

// eventlet tests/event_test.py:7 test_waiting_for_event
#[test]
fn waiting_for_event() {
    green(|| {
        let evt = Event::new();
        let tx = evt.clone();
        spawn_n(move || tx.send("some stuff").unwrap());
        assert_eq!(evt.wait(), "some stuff");
    })
}

/// eventlet's `_test_multiple_waiters`: five waiters, one send; each waiter then reports on its
/// own event, and may fail afterwards.
fn multiple_waiters_case(fail_after_waking: bool) {
    let evt: Event<()> = Event::new();
    let woken = Arc::new(AtomicUsize::new(0));
    let waiting = Arc::new(AtomicUsize::new(0));
    let count = 5;
    let mut done = Vec::new();
    for _ in 0..count {
        let i_am_done: Event<()> = Event::new();
        done.push(i_am_done.clone());
        let (evt, woken, waiting) = (evt.clone(), woken.clone(), waiting.clone());
        spawn_n(move || {
            waiting.fetch_add(1, Ordering::SeqCst);
            evt.wait();
            woken.fetch_add(1, Ordering::SeqCst);
            i_am_done.send(()).unwrap();
            if fail_after_waking {
                expected_panic("a waiter fails after waking");
            }
        });
    }
    // eventlet: `sleep()` to let the waiters start.
    wait_until("all waiters have started", || {
        waiting.load(Ordering::SeqCst) == count
    });
    assert_eq!(
        woken.load(Ordering::SeqCst),
        0,
        "nobody wakes before the send"
    );
    evt.send(()).unwrap();
    for d in &done {
        d.wait();
    }
    assert_eq!(woken.load(Ordering::SeqCst), count);
}

// eventlet tests/event_test.py:16 test_multiple_waiters
#[test]
fn multiple_waiters() {
    green(|| multiple_waiters_case(false))
}

// eventlet tests/event_test.py:19 test_multiple_waiters_with_exception
#[test]
fn multiple_waiters_with_exception() {
    green(|| multiple_waiters_case(true))
}

// eventlet tests/event_test.py:46 test_reset
#[test]
fn reset() {
    green(|| {
        let evt = Event::new();
        // Reset before send is an error.
        assert_eq!(evt.reset(), Err(NotSent));

        let tx = evt.clone();
        spawn_n(move || tx.send("some stuff").unwrap());
        assert_eq!(evt.wait(), "some stuff");

        // The same value again, and no second send without a reset.
        assert_eq!(evt.send("second stuff"), Err(AlreadySent("second stuff")));
        assert_eq!(evt.wait(), "some stuff");

        // After a reset, a new send and wait work.
        evt.reset().unwrap();
        assert!(!evt.ready());
        let tx = evt.clone();
        spawn_n(move || tx.send("second stuff").unwrap());
        assert_eq!(evt.wait(), "second stuff");
    })
}

// eventlet tests/event_test.py:73 test_double_exception
#[test]
fn double_exception() {
    green(|| {
        let evt: Event<Result<(), String>> = Event::new();
        evt.send_exception("from test_double_exception".to_string())
            .unwrap();
        assert!(evt.has_exception());
        assert_eq!(evt.wait(), Err("from test_double_exception".to_string()));
        // Every wait re-raises it.
        assert_eq!(evt.wait(), Err("from test_double_exception".to_string()));
        evt.reset().unwrap();
        // Not seen again: the wait blocks (and times out) instead.
        assert_eq!(evt.wait_timeout(TICK), None);
        assert!(!evt.has_exception());
    })
}

// eventlet tests/event_test.py:84 test_wait_timeout_ok
#[test]
fn wait_timeout_ok() {
    green(|| {
        let evt = Event::new();
        let tx = evt.clone();
        spawn_n(move || {
            greenfetch::sleep(TICK);
            tx.send(true).unwrap();
        });
        assert_eq!(evt.wait_timeout(LONG), Some(true));
    })
}

// eventlet tests/event_test.py:96 test_wait_timeout_exceed
#[test]
fn wait_timeout_exceed() {
    green(|| {
        let evt: Event<bool> = Event::new();
        let tx = evt.clone();
        let late = greenfetch::spawn_after(LONG, move || tx.send(true));
        let t0 = Instant::now();
        // An empty value, not an error.
        assert_eq!(evt.wait_timeout(TICK), None);
        assert!(t0.elapsed() >= TICK, "gave up before the timeout");
        assert!(!evt.ready());
        late.cancel();
    })
}
