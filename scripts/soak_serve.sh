#!/usr/bin/env bash
# Load and soak check for `greenfetch serve` (not CI): wrk posts 10 fixture feed URLs per
# request (RSS, Atom and JSON Feed, a fresh id each time) over CONNS connections for DURATION
# seconds; the service's RSS is sampled every EVERY seconds. Prints wrk's report (requests/s,
# latency percentiles, non-2xx answers, socket errors), the RSS curve, the service's peak RSS
# (VmHWM) and the 4xx/5xx answers its /metrics counted. Stops by itself: wrk is bounded by
# -d and `timeout`, both servers are killed by PID on exit.
#
#   scripts/soak_serve.sh                       # DURATION=60 CONNS=64 C=100
#   DURATION=20 scripts/soak_serve.sh           # the figure quoted in the README
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-60}
CONNS=${CONNS:-64}
C=${C:-100}
EVERY=${EVERY:-5}
command -v wrk > /dev/null || { echo "soak_serve: needs wrk (apt-get install wrk)" >&2; exit 2; }

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cargo build --quiet --release
bin=target/release/greenfetch

work=$(mktemp -d)
fixture=
serve=
cleanup() {
  if [ -n "$serve" ]; then kill "$serve" 2>/dev/null || true; fi
  if [ -n "$fixture" ]; then kill "$fixture" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

first_line() { # waits for a process's first line of output, then prints its third word
  for _ in $(seq 1 200); do
    [ -s "$1" ] && break
    sleep 0.05
  done
  awk '{print $3; exit}' "$1"
}

"$bin" fixture --listen 127.0.0.1:0 > "$work/fixture.out" &
fixture=$!
fixture_url=$(first_line "$work/fixture.out")
# The fixture server is on loopback, so the service must be allowed private targets.
"$bin" serve --listen 127.0.0.1:0 --allow-private -c "$C" > "$work/serve.out" 2> "$work/serve.err" &
serve=$!
serve_url=$(first_line "$work/serve.out")
echo "soak_serve: DURATION=${DURATION}s CONNS=$CONNS C=$C fixture=$fixture_url serve=$serve_url"

cat > "$work/post.lua" <<'EOF'
local base = os.getenv("FIXTURE")
local kinds = { "rss", "atom", "json" }
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"
request = function()
  n = n + 1
  local lines = {}
  for k = 0, 9 do
    lines[#lines + 1] = string.format("%s/feed/%s/%d-%d", base, kinds[k % 3 + 1], n, k)
  end
  return wrk.format(nil, "/titles", nil, table.concat(lines, "\n"))
end
EOF

rss() { awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$serve/status"; }
(
  t=0
  while kill -0 "$serve" 2>/dev/null; do
    echo "rss t=${t}s $(rss) MiB"
    sleep "$EVERY"
    t=$((t + EVERY))
  done
) > "$work/rss.log" &
sampler=$!
FIXTURE=$fixture_url timeout $((DURATION + 30)) \
  wrk -t2 -c"$CONNS" -d"${DURATION}s" --timeout 30s --latency -s "$work/post.lua" "$serve_url"
kill "$sampler" 2>/dev/null || true
cat "$work/rss.log"
echo "serve peak RSS (VmHWM): $(awk '/^VmHWM:/ {print int($2 / 1024)}' "/proc/$serve/status") MiB"
metrics=$(curl -s "$serve_url/metrics" || true)
echo "serve /metrics, answers by status:"
echo "$metrics" | grep -E '^greenfetch_serve_requests_total' || true
