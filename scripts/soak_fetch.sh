#!/usr/bin/env bash
# Soak check for `greenfetch fetch` (not CI): N fixture URLs (default 1,000,000) streamed
# through one run, sampling the fetching process's RSS as the input grows, to show memory stays
# flat however long the input is. Prints one line per sample: seconds, records written so far,
# RSS in MiB; then the totals, the peak RSS (VmHWM) and whether every record arrived in order.
# Stops by itself: the run is bounded by `timeout`, the fixture server is killed by PID on exit.
#
#   scripts/soak_fetch.sh                       # N=1000000 C=100 PATH_=/bytes/64
#   N=200000 C=500 scripts/soak_fetch.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-1000000}
C=${C:-100}
ENDPOINT=${ENDPOINT:-/bytes/64}
LIMIT=${LIMIT:-900}      # seconds the fetch may run at most
EVERY=${EVERY:-2}        # seconds between samples

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cargo build --quiet --release
bin=target/release/greenfetch

work=$(mktemp -d)
server=
client=
cleanup() {
  if [ -n "$client" ]; then kill "$client" 2>/dev/null || true; fi
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" fixture --listen 127.0.0.1:0 > "$work/fixture.out" &
server=$!
for _ in $(seq 1 100); do
  [ -s "$work/fixture.out" ] && break
  sleep 0.05
done
base=$(awk '{print $3; exit}' "$work/fixture.out")
echo "soak_fetch: N=$N C=$C endpoint=$ENDPOINT fixture=$base"

# The input is generated as it is read, so it never sits in memory or on disk.
start=$(date +%s.%N)
seq 0 $((N - 1)) | sed "s|^|$base$ENDPOINT?i=|" \
  | timeout "$LIMIT" "$bin" fetch -q -f summary -c "$C" --retries 0 > "$work/out" &
client=$!
# `$!` is the last command of the pipeline: timeout, whose child is greenfetch.
sleep 0.3
gf=$(pgrep -P "$client" | head -1 || true)
printf '%8s %10s %9s\n' seconds records rss_MiB
peak=0
while kill -0 "$client" 2>/dev/null; do
  now=$(date +%s.%N)
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$gf/status" 2>/dev/null || echo 0)
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$gf/status" 2>/dev/null || echo 0)
  [ "${hwm:-0}" -gt "$peak" ] && peak=$hwm
  done_n=$(wc -l < "$work/out")
  printf '%8.1f %10d %9.1f\n' "$(echo "$now - $start" | bc)" "$done_n" "$(echo "${rss:-0} / 1024" | bc -l)"
  sleep "$EVERY"
done
wait "$client" && rc=0 || rc=$?
client=
end=$(date +%s.%N)
records=$(wc -l < "$work/out")
errors=$(awk -F'\t' '$2 != "200"' "$work/out" | wc -l)
ordered=$(awk -F'\t' 'BEGIN {ok = 1} $1 != NR - 1 {ok = 0} END {print ok ? "yes" : "no"}' "$work/out")
echo "soak_fetch: exit $rc, $records records of $N, $errors errors, in order: $ordered," \
  "$(echo "$end - $start" | bc) s, peak RSS $(echo "$peak / 1024" | bc) MiB"
