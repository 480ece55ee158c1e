//! Criterion benchmarks of the green primitives, mirroring eventlet's `benchmarks/spawn.py`.
//!
//! Five operations, each measured *inside* a green thread (eventlet's benchmarks run in the
//! main greenlet; spawning from a plain OS thread takes may's slower cross-thread path):
//!
//! | bench | one iteration is |
//! |---|---|
//! | `spawn_wait` | `spawn` a trivial task and `wait` for its value |
//! | `spawn_n` | `spawn_n` a trivial task; batches of 1000 count down a shared counter and the last one sends an `Event` the spawner waits on |
//! | `pool_spawn` | `GreenPool::spawn` of a trivial task into a pool of 1000 (handle dropped), with a `waitall` at the end |
//! | `imap_100k` | `GreenPool::imap` over 100,000 trivial items at pool size 1000 (divide by 100,000 for per item) |
//! | `queue_ping_pong` | one round trip between two green threads over two unbounded `Queue`s |
//!
//! The hub runs one worker by default, the fair match for single-threaded eventlet; set
//! `GREENFETCH_BENCH_WORKERS=default` for may's default (one worker per CPU). The group name
//! says which (`1_worker`, `2_workers`, ...). `benches/compare.sh` runs both and puts the
//! numbers beside eventlet's; `benches/README.md` has the results.
//!
//! ```text
//! cargo bench --bench primitives -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use greenfetch::hub::{self, Settings};
use greenfetch::{Event, GreenPool, Queue};

/// Pool size for `pool_spawn` and `imap_100k` (eventlet's default).
const POOL_SIZE: usize = 1000;
/// Items per `imap_100k` iteration.
const IMAP_ITEMS: u64 = 100_000;
/// `spawn_n` tasks in flight at once: one batch fits may's stack pool, and it keeps the number
/// of live coroutine stacks (2 mappings each) far below `vm.max_map_count`.
const SPAWN_N_BATCH: u64 = 1000;

/// Runs a measured body inside a green thread and returns the time it measured.
fn green<F>(body: F) -> Duration
where
    F: FnOnce() -> Duration + Send + 'static,
{
    greenfetch::spawn(body)
        .wait()
        .expect("benchmark body panicked")
}

/// (a) `spawn` + `wait` of a trivial task.
fn spawn_wait(iters: u64) -> Duration {
    green(move || {
        let t0 = Instant::now();
        for i in 0..iters {
            let gt = greenfetch::spawn(move || black_box(i));
            black_box(gt.wait().unwrap());
        }
        t0.elapsed()
    })
}

/// (b) `spawn_n` of a trivial task; each batch's last task signals an `Event`.
fn spawn_n(iters: u64) -> Duration {
    green(move || {
        let t0 = Instant::now();
        let mut left = iters;
        while left > 0 {
            let n = left.min(SPAWN_N_BATCH);
            let count = Arc::new(AtomicU64::new(n));
            let all_ran = Event::new();
            for i in 0..n {
                let (count, all_ran) = (count.clone(), all_ran.clone());
                greenfetch::spawn_n(move || {
                    black_box(i);
                    if count.fetch_sub(1, Ordering::AcqRel) == 1 {
                        all_ran.send(()).unwrap();
                    }
                });
            }
            all_ran.wait();
            left -= n;
        }
        t0.elapsed()
    })
}

/// (c) `GreenPool::spawn` into a pool of 1000, then `waitall`.
fn pool_spawn(iters: u64) -> Duration {
    green(move || {
        let pool = GreenPool::new(POOL_SIZE);
        let t0 = Instant::now();
        for i in 0..iters {
            // Detached, as eventlet's `run_pool_spawn` drops its GreenThread.
            drop(pool.spawn(move || black_box(i)));
        }
        pool.waitall().unwrap();
        t0.elapsed()
    })
}

/// (d) `imap` over 100,000 trivial items at pool size 1000, consumed in order.
fn imap_100k(iters: u64) -> Duration {
    green(move || {
        let pool = GreenPool::new(POOL_SIZE);
        let t0 = Instant::now();
        for _ in 0..iters {
            for r in pool.imap(|x: u64| black_box(x), 0..IMAP_ITEMS) {
                black_box(r.unwrap());
            }
        }
        t0.elapsed()
    })
}

/// (e) Queue ping-pong: one round trip = put on `ping`, the echo task gets it and puts it on
/// `pong`, the measuring task gets it back.
fn queue_ping_pong(iters: u64) -> Duration {
    green(move || {
        let (ping, pong) = (Queue::unbounded(), Queue::unbounded());
        let (rx, tx) = (ping.clone(), pong.clone());
        let echo = greenfetch::spawn(move || {
            for _ in 0..iters {
                tx.put(rx.get());
            }
        });
        let t0 = Instant::now();
        for i in 0..iters {
            ping.put(i);
            black_box(pong.get());
        }
        let elapsed = t0.elapsed();
        echo.wait().unwrap();
        elapsed
    })
}

fn benches(c: &mut Criterion, workers: usize) {
    let name = if workers == 1 {
        "1_worker".to_owned()
    } else {
        format!("{workers}_workers")
    };
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    g.bench_function("spawn_wait", |b| b.iter_custom(spawn_wait));
    g.bench_function("spawn_n", |b| b.iter_custom(spawn_n));
    g.bench_function("pool_spawn", |b| b.iter_custom(pool_spawn));
    g.bench_function("queue_ping_pong", |b| b.iter_custom(queue_ping_pong));
    g.throughput(Throughput::Elements(IMAP_ITEMS));
    g.sampling_mode(SamplingMode::Flat).sample_size(10);
    g.bench_function("imap_100k", |b| b.iter_custom(imap_100k));
    g.finish();
}

fn main() {
    let settings = match std::env::var("GREENFETCH_BENCH_WORKERS").as_deref() {
        Ok("default") => Settings::default(),
        Ok(n) => Settings::default().workers(
            n.parse()
                .expect("GREENFETCH_BENCH_WORKERS: a number or `default`"),
        ),
        Err(_) => Settings::default().workers(1),
    };
    hub::configure(settings).expect("the hub is configured once, before any spawn");
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    benches(&mut c, hub::settings().workers);
    c.final_summary();
}
