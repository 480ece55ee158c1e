#!/usr/bin/env bash
# Load check for the fixture server (not CI): N (default 10,000) concurrent keep-alive
# connections, one /delay/MS/x request (default 1000 ms) on each, against a release build.
# Reports the client's line (successes, wall time, latency percentiles, the server's /stats
# while every connection is open), the server's peak RSS (VmHWM) and the kernel's listen
# overflows during the run. Stops by itself: the client is bounded by `timeout`, and the
# server is killed by PID on exit.
#
#   scripts/fixture_10k.sh                 # N=10000 DELAY_MS=1000
#   N=2000 DELAY_MS=100 scripts/fixture_10k.sh
#
# Each run leaves N client sockets in TIME_WAIT: wait about a minute between runs.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-10000}
DELAY_MS=${DELAY_MS:-1000}

# Each process needs N descriptors and a few more.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" -lt $((N + 64)) ]; then
  echo "fixture_10k: ulimit -n is $(ulimit -n), need $((N + 64)); raise the hard limit" >&2
  exit 2
fi
echo "somaxconn=$(cat /proc/sys/net/core/somaxconn) ulimit_n=$(ulimit -n)"

cargo build --quiet --release --example fixture_load
bin=target/release/examples/fixture_load

listen_overflows() {
  awk '/^TcpExt:/ { if (!seen) { for (i = 1; i <= NF; i++) col[$i] = i; seen = 1 }
                    else print $col["ListenOverflows"] }' /proc/net/netstat
}

log=$(mktemp)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  rm -f "$log"
}
trap cleanup EXIT

"$bin" serve 127.0.0.1:0 >"$log" &
server=$!
for _ in $(seq 1 100); do
  grep -q '^listening on' "$log" && break
  sleep 0.1
done
addr=$(sed -n 's|^listening on http://||p' "$log")
[ -n "$addr" ] || { echo "fixture_10k: the server did not start" >&2; exit 1; }
echo "server pid=$server addr=$addr"

before=$(listen_overflows)
status=0
timeout 180 "$bin" client "$addr" "$N" "/delay/$DELAY_MS/x" || status=$?
after=$(listen_overflows)

echo "server_$(grep VmHWM /proc/"$server"/status | tr -s ' \t' ' ')"
# utime + stime of the server so far, in seconds.
awk -v hz="$(getconf CLK_TCK)" '{ printf "server_cpu_s=%.2f\n", ($14 + $15) / hz }' /proc/"$server"/stat
echo "listen_overflows=$((after - before))"
kill "$server"
wait "$server" 2>/dev/null || true
server=
exit "$status"
