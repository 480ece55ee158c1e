//! `Timeout` and `with_timeout`: deadlines around a block of green work.
//!
//! Ported from eventlet/eventlet's tests (MIT licence), tests/timeout_test.py and
//! tests/timeout_with_statement_test.py, and rewritten for greenfetch. eventlet's
//! `with Timeout(s):` is `Timeout::new(s).run(block)` returning `Err(TimedOut)` on expiry; the
//! silent `with Timeout(s, False):` is `run_silent`. A timeout that must fire uses `TICK`, one
//! that must not uses `LONG`, so no test depends on two timers racing each other.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use greenfetch::{TimedOut, Timeout, sleep};

use crate::util::{LONG, TICK, green};

/// Sets its flag when dropped: proves that a killed block unwound.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

// eventlet tests/timeout_test.py:40 test_with_timeout
#[test]
fn with_timeout() {
    green(|| {
        // Raises on expiry...
        assert_eq!(
            greenfetch::with_timeout(TICK, || sleep(LONG)),
            Err(TimedOut)
        );
        // ...gives `timeout_value` when one is given...
        let r = greenfetch::with_timeout(TICK, || {
            sleep(LONG);
            "slept"
        })
        .unwrap_or("X");
        assert_eq!(r, "X");
        // ...and the function's value when it is fast.
        assert_eq!(greenfetch::with_timeout(LONG, || sleep(TICK)), Ok(()));
    })
}

// eventlet tests/timeout_test.py:48 test_with_outer_timer
#[test]
fn with_outer_timer() {
    green(|| {
        let longer_timeout = || {
            // This must not catch the outer timeout.
            greenfetch::with_timeout(LONG, || {
                sleep(LONG * 2);
                "a"
            })
            .unwrap_or("b")
        };
        assert_eq!(
            greenfetch::with_timeout(TICK, longer_timeout),
            Err(TimedOut)
        );
    })
}

// eventlet tests/timeout_with_statement_test.py:21 test_cancellation
#[test]
fn cancellation() {
    green(|| {
        let t = Timeout::new(LONG);
        assert!(t.pending());
        let inside = t.clone();
        let r = t.run(move || {
            let pending = inside.pending();
            sleep(TICK);
            pending
        });
        assert_eq!(r, Ok(true), "pending inside the block");
        // The block finished first: its exit cancelled the timer.
        assert!(!t.pending());
    })
}

// eventlet tests/timeout_with_statement_test.py:33 test_raising_self
// (and :43 test_raising_self_true: greenfetch has one error, `TimedOut`)
#[test]
fn raising_self() {
    green(|| {
        let t = Timeout::new(TICK);
        assert_eq!(t.run(|| sleep(LONG)), Err(TimedOut));
        assert!(!t.pending(), "a timeout that fired is no longer pending");
    })
}

// eventlet tests/timeout_with_statement_test.py:83 test_cancel_timer_inside_block
#[test]
fn cancel_timer_inside_block() {
    green(|| {
        let timer = Timeout::new(TICK);
        let inside = timer.clone();
        let r = timer.run(move || {
            inside.cancel();
            sleep(TICK * 2);
            "finished"
        });
        assert_eq!(r, Ok("finished"));
        assert!(!timer.pending());
    })
}

// eventlet tests/timeout_with_statement_test.py:89 test_silent_block
#[test]
fn silent_block() {
    green(|| {
        let (finished, unwound) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let (f, u) = (finished.clone(), unwound.clone());
        let r = Timeout::new(TICK).run_silent(move || {
            let _guard = SetOnDrop(u);
            sleep(LONG);
            f.store(true, Ordering::SeqCst);
        });
        // No error, and the block ended early: it was cut at the deadline and has unwound.
        assert_eq!(r, None);
        assert!(!finished.load(Ordering::SeqCst));
        assert!(
            unwound.load(Ordering::SeqCst),
            "the block has unwound when run_silent returns"
        );
    })
}

// eventlet tests/timeout_with_statement_test.py:99 test_dummy_timer
#[test]
fn dummy_timer() {
    green(|| {
        let t = Timeout::never();
        assert!(!t.pending(), "Timeout(None) schedules nothing");
        assert_eq!(
            t.run(|| {
                sleep(TICK);
                1
            }),
            Ok(1)
        );
        sleep(TICK);
        assert!(!t.pending());
    })
}

// eventlet tests/timeout_with_statement_test.py:114 test_nested_timeout
#[test]
fn nested_timeout() {
    green(|| {
        // Silent inside silent: the outer one fires and ends its whole block quietly.
        let reached = Arc::new(AtomicBool::new(false));
        let r = reached.clone();
        let outer = Timeout::new(TICK).run_silent(move || {
            Timeout::new(LONG).run_silent(|| sleep(LONG * 2));
            r.store(true, Ordering::SeqCst); // "should not get there"
        });
        assert_eq!(outer, None);
        assert!(!reached.load(Ordering::SeqCst));

        // The outer one fires: it is the one raised, it passes through the inner block, and the
        // inner one stops being pending when its (unwound) block exits.
        let (t1, t2) = (Timeout::new(TICK), Timeout::new(LONG));
        let inner_result = Arc::new(std::sync::Mutex::new(None));
        let (i2, ir) = (t2.clone(), inner_result.clone());
        let r = t1.run(move || {
            let got = i2.run(|| sleep(LONG * 2));
            *ir.lock().unwrap() = Some(got);
        });
        assert_eq!(r, Err(TimedOut));
        assert_eq!(
            *inner_result.lock().unwrap(),
            None,
            "the inner block saw nothing"
        );
        assert!(!t1.pending());
        assert!(!t2.pending());

        // The inner one fires: the inner block sees it, the outer one stays pending until its
        // own block exits.
        let (t1, t2) = (Timeout::new(LONG), Timeout::new(TICK));
        let (o1, i2) = (t1.clone(), t2.clone());
        let r = t1.run(move || {
            let got = i2.run(|| sleep(LONG * 2));
            (got, o1.pending(), i2.pending())
        });
        assert_eq!(r, Ok((Err(TimedOut), true, false)));
        assert!(!t1.pending());
    })
}
