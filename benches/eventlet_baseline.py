"""eventlet baseline for benches/primitives.rs: the same five operations, timed per operation.

Modelled on eventlet's benchmarks/spawn.py (spawn, spawn_n and GreenPool.spawn of a trivial
``dummy``, timed from the main greenlet, best of several runs); this script adds imap and a
Queue ping-pong, repeats each measurement like ``timeit`` and reports the median per operation.

    /tmp/evenv/bin/python benches/eventlet_baseline.py [--runs 5] [--tsv]
"""
import argparse
import statistics
import time

import eventlet
import eventlet.queue

POOL_SIZE, IMAP_ITEMS, BATCH = 1000, 100_000, 1000


def dummy(i=None):
    return i


def spawn_wait(n):
    for i in range(n):
        eventlet.spawn(dummy, i).wait()


def spawn_n(n):
    # Batches of BATCH tasks count down; the last one sends the Event the spawner waits on.
    while n > 0:
        k, left, done = min(n, BATCH), [min(n, BATCH)], eventlet.Event()

        def task(i):
            left[0] -= 1
            if left[0] == 0:
                done.send()
        for i in range(k):
            eventlet.spawn_n(task, i)
        done.wait()
        n -= k


def pool_spawn(n):
    pool = eventlet.GreenPool(POOL_SIZE)
    for i in range(n):
        pool.spawn(dummy, i)
    pool.waitall()


def imap_100k(n):
    pool = eventlet.GreenPool(POOL_SIZE)
    for _ in range(n // IMAP_ITEMS):
        for _ in pool.imap(dummy, range(IMAP_ITEMS)):
            pass


def queue_ping_pong(n):
    ping, pong = eventlet.queue.Queue(), eventlet.queue.Queue()

    def echo():
        for _ in range(n):
            pong.put(ping.get())
    gt = eventlet.spawn(echo)
    for i in range(n):
        ping.put(i)
        pong.get()
    gt.wait()


# name -> (function, operations per run); n is the number of operations timed together.
BENCHES = {
    "spawn_wait": (spawn_wait, 20_000),
    "spawn_n": (spawn_n, 20_000),
    "pool_spawn": (pool_spawn, 20_000),
    "queue_ping_pong": (queue_ping_pong, 20_000),
    "imap_100k": (imap_100k, IMAP_ITEMS),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="timed runs per operation (median taken)")
    ap.add_argument("--tsv", action="store_true", help="print name<TAB>ns-per-op lines only")
    args = ap.parse_args()
    if not args.tsv:
        print(f"{'operation':<16} {'median/op':>12} {'min/op':>12}   (n/run, runs)")
    for name, (fn, n) in BENCHES.items():
        fn(n // 10)  # warm-up
        per_op = []
        for _ in range(args.runs):
            eventlet.sleep(0)  # let stragglers of the last run finish outside the timing
            t0 = time.perf_counter()
            fn(n)
            per_op.append((time.perf_counter() - t0) / n * 1e9)
        med = statistics.median(per_op)
        if args.tsv:
            print(f"{name}\t{med:.1f}")
        else:
            print(f"{name:<16} {med:>9.0f} ns {min(per_op):>9.0f} ns   ({n}, {args.runs})")


if __name__ == "__main__":
    main()
