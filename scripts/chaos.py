#!/usr/bin/env python3
"""A chaos run: the fixture server's faults mixed at random into many URLs, through one
`greenfetch fetch -f jsonl` at high concurrency, for minutes. Not CI: a long, bounded job.

    cargo build --release
    python3 scripts/chaos.py                      # 100,000 URLs, -c 1000, about 10 minutes
    python3 scripts/chaos.py --urls 5000 --rate 0 # a quick one

What it checks, and prints at the end (exit 1 if any check fails):
- every input line gets exactly one record, in input order (index 0..N-1, the URL echoed);
- each fault gets its own error kind (a reset is connection_reset, a hang a timeout, a bomb in
  any content coding body_too_large, ...) and every healthy URL succeeds with the right size;
- RSS stays flat: the peak after the first minute is within 25% (and 32 MiB) of the peak of
  the first minute;
- no file descriptor is leaked: the URLs go in through a FIFO held open, so after the last
  record the process is still alive, idle, waiting for more input; its open descriptors are
  counted then (/proc/PID/fd) and compared with the count before the first URL plus the
  idle keep-alive connections it may keep, which are the connections the fixture server still
  has open (its /stats).

The fixture server runs as a separate process (`greenfetch fixture`), stopped by PID at the
end. Every address is on 127.0.0.1.
"""
import argparse
import json
import os
import urllib.request
import random
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# path template -> the error kind it must give (None: success). {i} is the line's number.
FAULTS = [
    ("/fault/reset?{i}", "connection_reset"),
    ("/fault/truncate?{i}", "truncated"),
    ("/fault/hang?{i}", "timeout"),
    ("/fault/endless?{i}", "body_too_large"),
    ("/fault/gzip/100000000?{i}", "body_too_large"),
    ("/fault/deflate/100000000?{i}", "body_too_large"),
    ("/fault/br/100000000?{i}", "body_too_large"),
    ("/fault/zstd/100000000?{i}", "body_too_large"),
    ("/fault/headers?{i}", "protocol"),
    ("/fault/chunked?{i}", "protocol"),
    ("/fault/loop?{i}", "too_many_redirects"),
    ("/fault/lie?{i}", None),
    ("/status/503?{i}", "http_status"),
    ("/slow/2000/200?{i}", None),
    ("not a url {i}", "not_a_url"),
]
HEALTHY = [
    ("/bytes/512?{i}", None),
    ("/delay/20/{i}", None),
    ("/feed/rss/{i}", None),
]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--urls", type=int, default=100_000)
    ap.add_argument("-c", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=170.0,
                    help="URLs started per second (0: as fast as they go); 170 makes 100,000 last ~10 min")
    ap.add_argument("--fault-share", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/greenfetch"))
    a = ap.parse_args()
    rng = random.Random(a.seed)

    fixture = subprocess.Popen([a.bin, "fixture", "--listen", "127.0.0.1:0"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    base = fixture.stdout.readline().split()[-1].rstrip("/")
    assert base.startswith("http://127.0.0.1:"), base
    lines, want = [], []
    for i in range(a.urls):
        path, kind = rng.choice(FAULTS) if rng.random() < a.fault_share else rng.choice(HEALTHY)
        p = path.format(i=i)
        lines.append(p if p.startswith("not a url") else base + p)
        want.append((path, kind))

    tmp = tempfile.mkdtemp(prefix="greenfetch-chaos-")
    fifo = os.path.join(tmp, "urls")
    os.mkfifo(fifo)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    args = [a.bin, "fetch", "-q", "-f", "jsonl", "-c", str(a.c), "--retries", "0",
            "--timeout", "5s", "--max-body", "1MiB", fifo]
    if a.rate > 0:
        args[-1:-1] = ["--rate", str(a.rate)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    writer = open(fifo, "w")  # opens once greenfetch opens its end
    time.sleep(0.5)
    fd_before = fds(proc.pid)
    samples = []  # (seconds, RSS KiB, fds)
    t0 = time.time()
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            try:
                samples.append((time.time() - t0, rss_kib(proc.pid), fds(proc.pid)))
            except FileNotFoundError:
                return
            stop.wait(2)

    threading.Thread(target=sample, daemon=True).start()

    def feed():
        for line in lines:
            writer.write(line + "\n")
        writer.flush()

    threading.Thread(target=feed, daemon=True).start()
    failures, counts = [], {}
    n = 0
    for raw in proc.stdout:
        r = json.loads(raw)
        path, kind = want[n]
        got = (r.get("error") or {}).get("kind")
        counts[(path, got)] = counts.get((path, got), 0) + 1
        if r["index"] != n:
            failures.append(f"record {n} has index {r['index']}")
        if got != kind:
            failures.append(f"#{n} {lines[n]}: kind {got}, expected {kind} ({r.get('error')})")
        n += 1
        if n == a.urls:
            break
    elapsed = time.time() - t0
    time.sleep(1)  # the last connections are dropped as the last records go out
    fd_after = fds(proc.pid)
    with urllib.request.urlopen(base + "/stats", timeout=10) as resp:
        pooled = json.load(resp)["open_connections"] - 1  # less the /stats request's own
    stop.set()
    writer.close()  # end of input: greenfetch exits
    code = proc.wait(timeout=60)
    fixture.terminate()
    fixture.wait(timeout=10)
    os.remove(fifo)
    os.rmdir(tmp)

    first = [s for s in samples if s[0] <= 60] or samples[:1]
    later = [s for s in samples if s[0] > 60]
    peak_first = max(s[1] for s in first)
    peak_later = max((s[1] for s in later), default=peak_first)
    flat = peak_later <= max(peak_first * 1.25, peak_first + 32 * 1024)
    print(f"{n} of {a.urls} records in {elapsed:.0f} s at -c {a.c}; greenfetch exit {code}")
    print(f"RSS peak: first minute {peak_first / 1024:.1f} MiB, after it {peak_later / 1024:.1f} MiB"
          f" -> {'flat' if flat else 'GROWING'}")
    minutes = {}
    for t, rss, _ in samples:
        m = int(t // 60)
        lo, hi, last = minutes.get(m, (rss, rss, rss))
        minutes[m] = (min(lo, rss), max(hi, rss), rss)
    print("RSS by minute (MiB, min/max/last):",
          "  ".join(f"{m}:{lo / 1024:.0f}/{hi / 1024:.0f}/{last / 1024:.0f}"
                    for m, (lo, hi, last) in sorted(minutes.items())))
    print(f"open descriptors: {fd_before} before the first URL, {fd_after} after the last record"
          f" ({pooled} of them idle keep-alive connections, open at the server too),"
          f" peak {max(s[2] for s in samples)}")
    for (path, kind), c in sorted(counts.items(), key=lambda kv: str(kv[0])):
        print(f"  {c:7d}  {path:32s} {kind}")
    leaked = fd_after - fd_before - pooled
    ok = n == a.urls and not failures and flat and leaked <= 0
    for f in failures[:20]:
        print("FAIL", f)
    if len(failures) > 20:
        print(f"... and {len(failures) - 20} more")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
