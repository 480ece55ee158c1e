#!/usr/bin/env bash
# benches/compare.sh: greenfetch's criterion benches and eventlet's baseline, in one sitting,
# printed as one Markdown table (per-operation medians and the eventlet/greenfetch ratio).
#
# Usage: benches/compare.sh [--runs N]      (N: eventlet runs per operation, default 7)
# Env:   EVENTLET_PYTHON  python with eventlet installed (default /tmp/evenv/bin/python;
#                         created with `python3 -m venv` + pip if missing)
#        EVENTLET_VERSION pinned eventlet for a fresh venv (default 0.41.3)
# Runs one benchmark at a time, never in parallel: the machine is shared.
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=7
if [[ "${1:-}" == "--runs" ]]; then RUNS="$2"; fi
PY="${EVENTLET_PYTHON:-/tmp/evenv/bin/python}"
CRIT_ARGS=(--warm-up-time 1 --measurement-time 3)

if [[ ! -x "$PY" ]]; then
    venv="$(dirname "$(dirname "$PY")")"
    echo "creating $venv with eventlet ${EVENTLET_VERSION:-0.41.3}" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "eventlet==${EVENTLET_VERSION:-0.41.3}"
fi

TARGET="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
CRIT="$TARGET/criterion"
WORKERS="$(nproc)"
DEFAULT_GROUP="${WORKERS}_workers"
[[ "$WORKERS" == 1 ]] && DEFAULT_GROUP="1_worker"
# Stale estimates must not pass for fresh ones.
rm -rf "$CRIT/1_worker" "$CRIT/$DEFAULT_GROUP"

LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "== greenfetch, 1 worker" >&2
cargo bench -q --bench primitives -- "${CRIT_ARGS[@]}" >&2
if [[ "$DEFAULT_GROUP" != "1_worker" ]]; then
    echo "== greenfetch, default workers ($WORKERS)" >&2
    GREENFETCH_BENCH_WORKERS=default cargo bench -q --bench primitives -- "${CRIT_ARGS[@]}" 'spawn_wait|imap' >&2
fi
echo "== eventlet ($RUNS runs per operation)" >&2
EVENTLET_TSV="$("$PY" -W ignore benches/eventlet_baseline.py --runs "$RUNS" --tsv)"
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

VERSIONS="$("$PY" -c 'import sys, importlib.metadata as m; print("python %s, eventlet %s, greenlet %s" % (sys.version.split()[0], m.version("eventlet"), m.version("greenlet")))')"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average $LOAD_BEFORE before, $LOAD_AFTER after"
echo "$(rustc --version), may $(grep -A1 '^name = "may"$' Cargo.lock | sed -n 's/version = "\(.*\)"/\1/p'), criterion 0.8.2; $VERSIONS"
echo
CRIT="$CRIT" DEFAULT_GROUP="$DEFAULT_GROUP" EVENTLET_TSV="$EVENTLET_TSV" python3 - <<'EOF'
import json, os

crit, dgroup = os.environ["CRIT"], os.environ["DEFAULT_GROUP"]
eventlet = dict(line.split("\t") for line in os.environ["EVENTLET_TSV"].splitlines())
# bench id -> (label, operations per criterion iteration)
OPS = [
    ("spawn_wait", "spawn + wait", 1),
    ("spawn_n", "spawn_n (countdown + Event per 1000)", 1),
    ("pool_spawn", "GreenPool(1000).spawn, then waitall", 1),
    ("imap_100k", "imap, 100k items, pool 1000 (per item)", 100_000),
    ("queue_ping_pong", "Queue ping-pong (per round trip)", 1),
]

def median_ns(group, bench, per):
    path = os.path.join(crit, group, bench, "new", "estimates.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"] / per

def fmt(ns):
    return "—" if ns is None else (f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.0f} ns")

show_default = dgroup != "1_worker"
head = ["operation", "greenfetch, 1 worker"] + ([f"greenfetch, {dgroup.replace('_', ' ')}"] if show_default else []) + ["eventlet", "eventlet / greenfetch (1 worker)"]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
for bench, label, per in OPS:
    g1 = median_ns("1_worker", bench, per)
    gd = median_ns(dgroup, bench, per) if show_default else None
    ev = float(eventlet[bench])  # the baseline already reports per operation / per item
    row = [label, fmt(g1)] + ([fmt(gd)] if show_default else []) + [fmt(ev), f"{ev / g1:.1f}x" if g1 else "—"]
    print("| " + " | ".join(row) + " |")
EOF
