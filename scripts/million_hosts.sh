#!/usr/bin/env bash
# One URL on each of N distinct host names (default 1,000,000), fetched by `greenfetch fetch`
# with every per-host table in use (--per-host, --per-host-rate, --robots, the cookie engine,
# the resolver's cache and the connection pool), while its resident memory is sampled every
# second: the state a run keeps must not grow with the number of hosts.
#
#   scripts/million_hosts.sh [N]            # from the repository root, after cargo build --release
#
# Every name is sent to the fixture server by `--resolve '*:PORT:127.0.0.1'`. The run happens
# in a network namespace of its own (`unshare -n`: only a loopback interface, brought up here,
# with the fixture server started inside it), so a name that slipped past --resolve would fail
# to resolve instead of becoming a lookup that leaves the machine. Needs root (or user
# namespaces) for unshare. Bounded: N URLs, at most TMO seconds (default 1200), then it stops.
#
# Environment: BIN (default target/release/greenfetch), C (concurrency, default 500),
# GF_ARGS (more options for `greenfetch fetch`, e.g. `--workers 1`),
# TMO (seconds, default 1200), OUT (directory for rss.tsv and the logs, default a new one under
# /tmp). Prints the RSS curve (hosts done, RSS in MiB) and PASS or FAIL: PASS when every input
# got one outcome, in order, each a 200, and the RSS after the last host is within 10% (or
# 8 MiB) of the RSS after the first 10,000.
set -euo pipefail
N=${1:-1000000}
BIN=${BIN:-target/release/greenfetch}
C=${C:-500}
TMO=${TMO:-1200}
if [[ -z ${GREENFETCH_IN_NETNS:-} ]]; then
  [[ -x $BIN ]] || { echo "no $BIN: cargo build --release first" >&2; exit 2; }
  exec unshare -n env GREENFETCH_IN_NETNS=1 BIN="$BIN" C="$C" TMO="$TMO" OUT="${OUT:-}" \
    GF_ARGS="${GF_ARGS:-}" "$0" "$N"
fi

ip link set lo up
# Only loopback in here; anything else means the namespace is not ours.
if ip -o link show | awk -F': ' '{ print $2 }' | grep -vqx lo; then
  echo "FAIL: this namespace has interfaces besides lo" >&2
  exit 2
fi
# One client address to one server port: every host is a new connection, so allow the whole
# port range and the reuse of ports in TIME_WAIT (settings of this namespace only).
sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
sysctl -qw net.ipv4.tcp_tw_reuse=1
ulimit -n 65536 2>/dev/null || true

OUT=${OUT:-$(mktemp -d /tmp/million-hosts.XXXXXX)}
mkdir -p "$OUT"
"$BIN" fixture --listen 127.0.0.1:0 >"$OUT/fixture.out" 2>"$OUT/fixture.err" &
FIX=$!
cleanup() {
  if [[ -n ${GF:-} ]]; then kill "$GF" 2>/dev/null || true; fi
  kill "$FIX" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do
  ADDR=$(grep -oE '127\.0\.0\.1:[0-9]+' "$OUT/fixture.out" | head -1 || true)
  [[ -n $ADDR ]] && break
  sleep 0.05
done
[[ -n ${ADDR:-} ]] || { echo "FAIL: the fixture server did not start" >&2; exit 2; }
PORT=${ADDR##*:}

# The URLs are generated as they are read; the checker reads the summary lines (index, status,
# bytes, time, URL), checks order and status, and writes its count for the sampler.
echo 0 >"$OUT/done"
mkfifo "$OUT/urls" "$OUT/summary"
awk -v n="$N" -v p="$PORT" 'BEGIN { for (i = 0; i < n; i++) printf "http://h%d.test:%d/bytes/64\n", i, p }' \
  >"$OUT/urls" &
awk -v out="$OUT/done" '
  { if ($1 != NR - 1) bad_order++; if ($2 != "200") bad_status++
    if (NR % 10000 == 0) { print NR > out; close(out) } }
  END { print NR > out; close(out); printf "%d %d %d\n", NR, bad_order + 0, bad_status + 0 }' \
  <"$OUT/summary" >"$OUT/check" &
PIPE=$!
"$BIN" fetch -q -f summary -c "$C" --retries 0 --timeout 20s \
  --resolve "*:$PORT:127.0.0.1" --per-host 2 --per-host-rate 20/s --robots -b '' ${GF_ARGS:-} \
  <"$OUT/urls" >"$OUT/summary" 2>"$OUT/fetch.err" &
GF=$!

printf 'seconds\thosts_done\trss_mib\n' >"$OUT/rss.tsv"
t=0
while kill -0 "$GF" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$GF/status" 2>/dev/null || true)
  [[ -n $rss ]] && printf '%d\t%s\t%s\n' "$t" "$(cat "$OUT/done")" "$rss" >>"$OUT/rss.tsv"
  if ((t >= TMO)); then
    echo "stopped after $TMO s" >&2
    kill "$GF"
  fi
  sleep 1
  t=$((t + 1))
done
wait "$GF" || true
GF=
wait "$PIPE" || true
read -r got bad_order bad_status <"$OUT/check"
peak=$(awk -F'\t' 'NR > 1 && $3 > m { m = $3 } END { print m + 0 }' "$OUT/rss.tsv")
echo "hosts done, RSS MiB (every 100,000 hosts):"
awk -F'\t' 'NR > 1 { k = int($2 / 100000); if (!(k in seen)) { seen[k] = 1; printf "  %9d  %6.1f\n", $2, $3 } }' "$OUT/rss.tsv"
first=$(awk -F'\t' 'NR > 1 && $2 >= 10000 { print $3; exit }' "$OUT/rss.tsv")
last=$(awk -F'\t' 'NR > 1 { r = $3 } END { print r }' "$OUT/rss.tsv")
echo "inputs $N, outcomes $got, out of order $bad_order, not 200 $bad_status;" \
  "RSS after 10,000 hosts ${first:-?} MiB, at the end ${last:-?} MiB, peak $peak MiB ($OUT)"
if [[ $got == "$N" && $bad_order == 0 && $bad_status == 0 && -n ${first:-} ]] &&
  awk -v a="$first" -v b="$peak" 'BEGIN { exit !(b <= a * 1.1 || b <= a + 8) }'; then
  echo PASS
else
  echo FAIL
  exit 1
fi
