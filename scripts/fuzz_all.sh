#!/usr/bin/env bash
# Runs every cargo-fuzz target in turn, niced, for a set time each, and appends what each run
# did (target, seconds, executions, finds) to fuzz/log.tsv. Not CI: a long background job.
#
#   scripts/fuzz_all.sh                       # every target, 10 minutes each
#   MINUTES=60 scripts/fuzz_all.sh title robots
#
# A crash stops that target's run; its input is left in fuzz/artifacts/TARGET/ for a look, and
# the run goes on to the next target. Corpora grow in fuzz/corpus/TARGET/.
set -uo pipefail
cd "$(dirname "$0")/../fuzz"
MINUTES=${MINUTES:-10}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v greenfetch-fuzz)
fi
[ -f log.tsv ] || printf 'started\ttarget\tseconds\texecs\tresult\n' > log.tsv
nice -n 19 cargo fuzz build --sanitizer none -O >/dev/null 2>&1 || {
  echo "fuzz build failed"; exit 1; }
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  # Seeds: the feed fixtures for title; the regression inputs for every target.
  if [ "$t" = title ] && [ -z "$(ls -A corpus/title)" ]; then
    for f in ../fixtures/feeds/*; do { printf '\x01'; cat "$f"; } > "corpus/title/seed-$(basename "$f")"; done
  fi
  [ -d "regressions/$t" ] && cp -n regressions/"$t"/* "corpus/$t/" 2>/dev/null
  start=$(date -u +%FT%TZ)
  t0=$(date +%s)
  out=$(nice -n 19 cargo fuzz run --sanitizer none -O "$t" "corpus/$t" -- \
          -max_total_time=$((MINUTES * 60)) -print_final_stats=1 -close_fd_mask=1 2>&1)
  rc=$?
  secs=$(( $(date +%s) - t0 ))
  execs=$(printf '%s\n' "$out" | sed -n 's/^stat::number_of_executed_units: *//p' | tail -1)
  result=clean
  if [ $rc -ne 0 ]; then
    result="CRASH (exit $rc; see fuzz/artifacts/$t and fuzz/artifacts/$t/last-run.txt)"
    mkdir -p "artifacts/$t"
    printf '%s\n' "$out" | tail -n 60 > "artifacts/$t/last-run.txt"
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$start" "$t" "$secs" "${execs:-?}" "$result" >> log.tsv
done
