#!/usr/bin/env bash
# The README's Slurm array job, run for real on a one-node Slurm cluster on this machine (not
# CI: it installs packages, runs daemons as root and takes a few minutes).
#
# What it does:
#   1. installs Debian's slurm-wlm and munge if they are missing (apt-get; needs root);
#   2. takes greenfetch from $GREENFETCH, or builds it into a private target dir under the
#      scratch dir (CARGO_TARGET_DIR, so the repo's own target/ is left alone);
#   3. starts munged, slurmctld and slurmd (in the foreground, as background jobs of this script)
#      with their key, config, state, spool and logs in a mktemp -d scratch dir, and greenfetch's
#      fixture server. All of it runs in a network namespace of its own whose only interface is
#      loopback (unshare --net), when this machine allows it: nothing can listen anywhere else
#      and no name lookup can leave the machine. Without that, the daemons are bound to
#      127.0.0.1 (CommunicationParameters=NoCtldInAddrAny,NoInAddrAny) and the listeners checked;
#   4. writes urls.txt: 400 feed URLs on 16 host names (hK.test, all pinned to 127.0.0.1 with
#      --resolve, so no name is ever looked up), every 5th a slow /delay URL whose delay grows
#      with its line, so every task writes its lines over about 20 seconds;
#   5. submits the README's job as written (sbatch --array=0-7; the binary's path absolute and
#      the --resolve flags added), and once task 3 is running and has written 20 of its 50
#      lines, requeues it (scontrol requeue JOB_3): the rerun resumes from its journal;
#   6. waits for every task, merges the shard outputs with `greenfetch merge` and compares the
#      records (without their timings) with one unsharded run of the same list; it also checks
#      that the requeued task ran twice and that its rerun wrote exactly what the journal did
#      not name yet.
# It prints each phase's duration, the counts and PASS or FAIL (exit status 0 or 1). Every wait
# is bounded; on any exit it cancels the job, stops every process it started by PID and removes
# the scratch dir.
#
#   scripts/slurm_array.sh                                  # as root; builds greenfetch first
#   GREENFETCH=/path/to/greenfetch scripts/slurm_array.sh   # skips the (several minute) build
#   KEEP=1 scripts/slurm_array.sh        # keeps the scratch dir (logs, outputs) for a look
#   NETNS=0 scripts/slurm_array.sh       # no network namespace: daemons bound to 127.0.0.1
#
# Knobs (environment): URLS (400), DELAY_STEP_MS (50: line N of a slow URL waits N*50 ms),
# REQUEUE_TASK (3), REQUEUE_AFTER (20: lines it has written), JOB_LIMIT (600 s for the whole
# array job), BUILD_LIMIT (1800 s for the build).
set -euo pipefail

URLS=${URLS:-400}
DELAY_STEP_MS=${DELAY_STEP_MS:-50}
REQUEUE_TASK=${REQUEUE_TASK:-3}
REQUEUE_AFTER=${REQUEUE_AFTER:-20}
JOB_LIMIT=${JOB_LIMIT:-600}
BUILD_LIMIT=${BUILD_LIMIT:-1800}
TASKS=8     # the README's array: --array=0-7, --shard K/8
HOSTS=16    # host names hK.test the URLs are spread over

say() { printf 'slurm_array: %s\n' "$*"; }
die() { printf 'slurm_array: error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
# since START: seconds from START (a `now`) to now.
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }
# phase NAME START: records how long the phase NAME took (for the table at the end).
phase() { printf '%s\t%s\n' "$1" "$(since "$2")" >> "$scratch/phases.tsv"; }

# True while process $1 exists and is not a zombie.
alive() {
  local state
  state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# stop_pid PID NAME: SIGTERM, up to 10 s to go, then SIGKILL; reaps it if it is our child.
stop_pid() {
  local pid=$1 name=$2 i
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      say "$name (pid $pid) ignored SIGTERM for 10 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s until it succeeds; fails after
# SECONDS.
wait_for() {
  local limit=$1 what=$2 end
  shift 2
  end=$(( $(date +%s) + limit ))
  until "$@"; do
    [ "$(date +%s)" -lt "$end" ] || { echo "slurm_array: timed out after ${limit}s waiting for $what" >&2; return 1; }
    sleep 0.2
  done
}

# ---------------------------------------------------------------------------------------------
# The inner part: the cluster, the job and the checks. Runs in the loopback-only network
# namespace (or not, with NETNS=0); `$0 --inside SCRATCH BINARY`.
# ---------------------------------------------------------------------------------------------
inside() {
  scratch=$1
  gf=$2
  cd "$scratch"
  mkdir -p munge state spool log
  export SLURM_CONF=$scratch/slurm.conf

  # Globals, not locals: the EXIT trap needs them.
  munged_pid= ctld_pid= slurmd_pid= fixture_pid= jobid=
  # Every process started here, by PID, for the outer part's backstop.
  register() { echo "$1 $2" >> "$scratch/pids"; }

  cleanup_inside() {
    local rc=$? i
    trap - EXIT
    if [ -n "$jobid" ] && [ -n "$ctld_pid" ] && alive "$ctld_pid"; then
      if [ -n "$(squeue -h -j "$jobid" -o %i 2>/dev/null)" ]; then
        say "cancelling job $jobid"
        scancel "$jobid" 2>/dev/null || true
        for i in $(seq 150); do
          [ -z "$(squeue -h -j "$jobid" -o %i 2>/dev/null)" ] && break
          sleep 0.2
        done
        if [ -n "$(squeue -h -j "$jobid" -o %i 2>/dev/null)" ]; then
          # Still there after 30 s: stop the job's processes by PID.
          local pids
          pids=$(scontrol listpids "$jobid" 2>/dev/null | awk 'NR > 1 && $1 ~ /^[0-9]+$/ {print $1}')
          say "job $jobid still listed after scancel; killing its processes: ${pids:-none}"
          for i in $pids; do kill -KILL "$i" 2>/dev/null || true; done
        fi
      fi
    fi
    if [ "$rc" -ne 0 ]; then
      for f in log/slurmctld.log log/slurmd.log log/munged.err log/fixture.err; do
        [ -s "$f" ] && { echo "--- last lines of $f"; tail -n 15 "$f"; }
      done
    fi
    [ -n "$fixture_pid" ] && stop_pid "$fixture_pid" fixture
    [ -n "$slurmd_pid" ] && stop_pid "$slurmd_pid" slurmd
    [ -n "$ctld_pid" ] && stop_pid "$ctld_pid" slurmctld
    [ -n "$munged_pid" ] && stop_pid "$munged_pid" munged
    rm -f "$scratch/pids"
    exit "$rc"
  }
  trap cleanup_inside EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  local t
  t=$(now)
  if [ "${IN_NETNS:-0}" = 1 ]; then
    ip link set lo up
    say "network namespace of its own; interfaces: $(ip -o link show | awk -F': ' '{printf "%s ", $2}')"
  fi

  # --- munge: a fresh key, 0400 and owned by root, who runs munged.
  head -c 1024 /dev/urandom > munge/munge.key
  chmod 0400 munge/munge.key
  munged --foreground --force --socket="$scratch/munge/munge.sock" \
    --key-file="$scratch/munge/munge.key" --pid-file="$scratch/munge/munged.pid" \
    --seed-file="$scratch/munge/munged.seed" --log-file="$scratch/log/munged.log" \
    > log/munged.out 2> log/munged.err &
  munged_pid=$!
  register "$munged_pid" munged
  munge_ok() { munge -S "$scratch/munge/munge.sock" -n 2>/dev/null | unmunge -S "$scratch/munge/munge.sock" > /dev/null 2>&1; }
  wait_for 20 "munged to answer" munge_ok

  # --- slurm.conf: one node, two CPUs, everything on 127.0.0.1, nothing outside the scratch dir.
  local ports ctld_port slurmd_port
  ports=$(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
  read -r ctld_port slurmd_port <<< "$ports"
  # In a namespace whose only interface is loopback, getaddrinfo(AF_INET, AI_ADDRCONFIG) finds
  # nothing, not even 127.0.0.1, and Slurm asks just that unless IPv6 is enabled too (then it
  # asks AF_UNSPEC, which works).
  local comm=NoCtldInAddrAny,NoInAddrAny
  [ "${IN_NETNS:-0}" = 1 ] && comm=$comm,EnableIPv6
  cat > slurm.conf <<EOF
# A one-node cluster for scripts/slurm_array.sh; everything under $scratch.
ClusterName=greenfetch
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
CommunicationParameters=$comm
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also sets how long a requeued job waits before it may start again (120 s by
# default); 10 s keeps the run short.
AuthInfo=socket=$scratch/munge/munge.sock,cred_expire=10
StateSaveLocation=$scratch/state
SlurmdSpoolDir=$scratch/spool
SlurmctldPidFile=$scratch/slurmctld.pid
SlurmdPidFile=$scratch/slurmd.pid
SlurmctldLogFile=$scratch/log/slurmctld.log
SlurmdLogFile=$scratch/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$scratch/log/jobcomp.txt
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobRequeue=1
KillWait=5
MinJobAge=900
# Take CPUs=2 from here even where the machine has fewer.
SlurmdParameters=config_overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

  slurmctld -D -i -f "$SLURM_CONF" > log/slurmctld.out 2>&1 &
  ctld_pid=$!
  register "$ctld_pid" slurmctld
  ctld_up() { alive "$ctld_pid" && scontrol ping 2>/dev/null | grep -q 'is UP'; }
  wait_for 60 "slurmctld to answer" ctld_up

  slurmd -D -N localhost -f "$SLURM_CONF" > log/slurmd.out 2>&1 &
  slurmd_pid=$!
  register "$slurmd_pid" slurmd
  node_idle() { alive "$slurmd_pid" && [ "$(sinfo -h -n localhost -o %T 2>/dev/null)" = idle ]; }
  wait_for 60 "node localhost to be idle" node_idle
  say "slurm up: slurmctld pid $ctld_pid on 127.0.0.1:$ctld_port, slurmd pid $slurmd_pid on 127.0.0.1:$slurmd_port, munged pid $munged_pid"
  phase "start munge + slurm" "$t"

  # --- the fixture server.
  t=$(now)
  "$gf" fixture --listen 127.0.0.1:0 > fixture.out 2> log/fixture.err &
  fixture_pid=$!
  register "$fixture_pid" fixture
  fixture_addr() {
    sed -n '1s#^\(listening on \)\{0,1\}http://\(127\.0\.0\.1:[0-9][0-9]*\)/\{0,1\}[[:space:]]*$#\2#p' fixture.out
  }
  has_addr() { alive "$fixture_pid" && [ -n "$(fixture_addr)" ]; }
  wait_for 20 "the fixture server's address" has_addr
  local port
  port=$(fixture_addr | cut -d: -f2)
  say "fixture server pid $fixture_pid on 127.0.0.1:$port"
  phase "start fixture" "$t"

  # Every listening TCP socket of these processes must be on loopback.
  python3 - "$munged_pid" "$ctld_pid" "$slurmd_pid" "$fixture_pid" <<'EOF'
import os, sys
owner = {}
for pid in sys.argv[1:]:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        continue
    for fd in fds:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            owner[link[8:-1]] = pid
bad, seen = [], []
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        rows = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for row in rows:
        f = row.split()
        if len(f) < 10 or f[3] != "0A" or f[9] not in owner:  # 0A: LISTEN
            continue
        addr, port = f[1].split(":")
        port = int(port, 16)
        if len(addr) == 8:
            ip = ".".join(str(int(addr[i:i + 2], 16)) for i in (6, 4, 2, 0))
            loop = ip.startswith("127.")
        else:
            ip = "[v6 " + addr + "]"
            loop = addr == "00000000000000000000000001000000" or (
                addr[:24] == "0000000000000000FFFF0000" and addr[30:32] == "7F")
        seen.append(f"pid {owner[f[9]]} {ip}:{port}")
        if not loop:
            bad.append(seen[-1])
print("slurm_array: listening sockets:", ", ".join(seen) or "none found")
if bad:
    sys.exit("slurm_array: error: listening off loopback: " + ", ".join(bad))
EOF

  # --- urls.txt and the job.
  local resolve=() k n
  for k in $(seq 0 $((HOSTS - 1))); do resolve+=(--resolve "h$k.test:$port:127.0.0.1"); done
  for n in $(seq 0 $((URLS - 1))); do
    if [ $((n % 5)) = 4 ]; then
      echo "http://h$((n % HOSTS)).test:$port/delay/$((n * DELAY_STEP_MS))/$n"
    else
      echo "http://h$((n % HOSTS)).test:$port/feed/rss/$n"
    fi
  done > urls.txt

  cat > job.sh <<EOF
#!/bin/sh
#SBATCH --job-name=greenfetch-titles
#SBATCH --output=slurm-%A_%a.out
#SBATCH --open-mode=append
# The README's array job (sbatch --array=0-7 job.sh), as written; only the binary's path is
# absolute, and --resolve pins the test host names to the fixture server on 127.0.0.1.
echo "run start \$(date +%s.%N) restart=\${SLURM_RESTART_COUNT:-0} job=\$SLURM_JOB_ID" >&2
$gf titles -q -f jsonl --shard "\$SLURM_ARRAY_TASK_ID/8" \\
  --journal "titles.\$SLURM_ARRAY_TASK_ID.journal" --resume urls.txt \\
  ${resolve[*]} \\
  >> "titles.\$SLURM_ARRAY_TASK_ID.jsonl"
status=\$?
echo "run end \$(date +%s.%N) exit=\$status" >&2
exit \$status
EOF
  chmod +x job.sh

  t=$(now)
  local t_job=$t
  jobid=$(sbatch --parsable --array=0-$((TASKS - 1)) --chdir="$scratch" job.sh)
  jobid=${jobid%%;*}
  say "submitted array job $jobid: $URLS URLs, $TASKS tasks on 2 CPUs"

  # --- requeue task REQUEUE_TASK mid-run.
  local rq=${jobid}_$REQUEUE_TASK
  local rq_out=titles.$REQUEUE_TASK.jsonl rq_journal=titles.$REQUEUE_TASK.journal
  task_field() { scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
  lines_of() { if [ -f "$1" ]; then grep -c -v '^#' "$1" || true; else echo 0; fi; }
  running_with_output() {
    local state
    state=$(task_field "$rq" JobState)
    case $state in
      RUNNING) [ "$(lines_of "$rq_out")" -ge "$REQUEUE_AFTER" ] ;;
      PENDING|CONFIGURING|"") return 1 ;;
      *) die "task $rq is $state before it could be requeued" ;;
    esac
  }
  wait_for "$JOB_LIMIT" "task $rq to run and write $REQUEUE_AFTER lines" running_with_output
  local before_lines before_journal
  before_lines=$(lines_of "$rq_out")
  before_journal=$(lines_of "$rq_journal")
  say "task $rq running, $before_lines lines written, $before_journal in its journal: scontrol requeue $rq"
  scontrol requeue "$rq"
  local t_rq
  t_rq=$(now)
  # Back to PENDING once its processes are gone (the requeue waits cred_expire to start it).
  requeued() {
    [ "$(task_field "$rq" JobState)" = PENDING ] && [ "$(task_field "$rq" Restarts)" != "" ] && [ "$(task_field "$rq" Restarts)" -ge 1 ]
  }
  wait_for 120 "task $rq to be requeued" requeued
  local first_lines first_journal
  first_lines=$(lines_of "$rq_out")
  first_journal=$(lines_of "$rq_journal")
  say "task $rq requeued: PENDING, Restarts=$(task_field "$rq" Restarts), reason $(task_field "$rq" Reason);" \
    "its first run left $first_lines lines, $first_journal journal entries"
  rerunning() {
    local state
    state=$(task_field "$rq" JobState)
    [ "$state" != PENDING ] && [ "$state" != REQUEUED ]
  }
  wait_for 300 "task $rq to start again" rerunning
  say "task $rq started again $(since "$t_rq") s after the requeue"

  # --- wait for the whole array.
  all_done() { [ -z "$(squeue -h -j "$jobid" -o %i 2>/dev/null)" ]; }
  local left=$(( JOB_LIMIT - ($(date +%s) - ${t_job%.*}) ))
  [ "$left" -gt 0 ] || left=1
  wait_for "$left" "job $jobid to finish (JOB_LIMIT=${JOB_LIMIT}s)" all_done
  phase "array job (submit to last task done)" "$t_job"
  local final_lines final_journal
  final_lines=$(lines_of "$rq_out")
  final_journal=$(lines_of "$rq_journal")
  scontrol -o show job "$jobid" > tasks.txt
  echo "--- slurm-${jobid}_$REQUEUE_TASK.out (the requeued task's stderr, both runs):"
  grep -v '^$' "slurm-${jobid}_$REQUEUE_TASK.out" || true
  echo "---"

  # --- merge, and one unsharded run of the same list.
  t=$(now)
  local rc=0
  timeout 300 "$gf" titles -q -f jsonl "${resolve[@]}" urls.txt > single.jsonl 2> single.err || rc=$?
  [ "$rc" -le 1 ] || die "the unsharded run exited $rc: $(head -n 3 single.err)"
  phase "unsharded run" "$t"
  t=$(now)
  local shard_files=()
  for k in $(seq 0 $((TASKS - 1))); do shard_files+=("titles.$k.jsonl"); done
  rc=0
  timeout 120 "$gf" merge "${shard_files[@]}" > merged.jsonl 2> merge.err || rc=$?
  [ "$rc" = 0 ] || die "greenfetch merge exited $rc: $(cat merge.err)"
  phase "merge" "$t"

  t=$(now)
  rc=0
  JOBID=$jobid RQ=$REQUEUE_TASK TASKS=$TASKS URLS=$URLS \
    BEFORE_LINES=$before_lines BEFORE_JOURNAL=$before_journal \
    FIRST_LINES=$first_lines FIRST_JOURNAL=$first_journal \
    FINAL_LINES=$final_lines FINAL_JOURNAL=$final_journal \
    python3 - <<'EOF' || rc=$?
import json, os, re, sys

env = os.environ
rq, tasks, urls = int(env["RQ"]), int(env["TASKS"]), int(env["URLS"])
fails = []

def check(ok, what):
    print(("  ok    " if ok else "  FAIL  ") + what)
    if not ok:
        fails.append(what)

def records(path):
    out = []
    for line in open(path, encoding="utf-8"):
        rec = json.loads(line)
        rec.pop("timings", None)
        out.append(rec)
    return out

# The tasks as Slurm reports them.
print("task  state       exit  restarts  lines  unique  journal")
states = {}
for line in open("tasks.txt"):
    f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    if "ArrayTaskId" in f:
        states[int(f["ArrayTaskId"])] = f
shard_unique = {}
for k in range(tasks):
    recs = records(f"titles.{k}.jsonl")
    idx = [r["index"] for r in recs]
    shard_unique[k] = len(set(idx))
    journal = sum(1 for l in open(f"titles.{k}.journal") if not l.startswith("#"))
    f = states.get(k, {})
    print(f"{k:>4}  {f.get('JobState', '?'):<10}  {f.get('ExitCode', '?'):<4}  {f.get('Restarts', '?'):>8}"
          f"  {len(recs):>5}  {len(set(idx)):>6}  {journal:>7}")
print("(exit 1:0 is greenfetch's 'some inputs failed': the /delay URLs are not feeds)")

single = records("single.jsonl")
merged = records("merged.jsonl")
merge_err = open("merge.err").read()
m = re.search(r"merged (\d+) records from (\d+) files; (\d+) duplicates dropped; (\d+) missing", merge_err)
print("merge said:", merge_err.strip())
total_lines = sum(sum(1 for _ in open(f"titles.{k}.jsonl")) for k in range(tasks))
dups = total_lines - len(merged)

ok_states = all(states.get(k, {}).get("JobState") in ("COMPLETED", "FAILED")
                and states[k].get("ExitCode") in ("0:0", "1:0") for k in range(tasks))
check(ok_states, f"all {tasks} tasks ended with greenfetch exit 0 or 1")
check(all(shard_unique[k] > 0 for k in range(tasks)), "every shard had work")
check(len(single) == urls and [r["index"] for r in single] == list(range(urls)),
      f"the unsharded run has {urls} records, in input order")
check(merged == single, f"merge of the shards == the unsharded run ({len(merged)} records, timings aside)")
check(m is not None and int(m.group(1)) == len(merged) and int(m.group(3)) == dups and int(m.group(4)) == 0,
      f"merge's counts: {len(merged)} written, {dups} duplicates dropped, 0 missing")
check(states.get(rq, {}).get("Restarts") == "1", f"task {rq} was requeued once (Restarts=1)")
runs = [l for l in open(f"slurm-{env['JOBID']}_{rq}.out") if l.startswith("run start")]
check(len(runs) == 2 and "restart=1" in runs[1], f"task {rq} ran twice, the second time with SLURM_RESTART_COUNT=1")
# Slurm's own record (jobcomp/filetxt; there is no slurmdbd for sacct): one line per run.
rq_jobid = states.get(rq, {}).get("JobId")
comp = []
for line in open("log/jobcomp.txt"):
    f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    if f.get("JobId") == rq_jobid:
        comp.append(f"{f.get('JobState')} {f.get('StartTime', '?')[11:]}-{f.get('EndTime', '?')[11:]}")
print(f"job completion log, task {rq} (JobId={rq_jobid}): " + "; ".join(comp))
check(len(comp) == 2, f"Slurm's job completion log has two runs of task {rq}")
first_lines, first_journal = int(env["FIRST_LINES"]), int(env["FIRST_JOURNAL"])
final_lines, final_journal = int(env["FINAL_LINES"]), int(env["FINAL_JOURNAL"])
n = shard_unique[rq]
check(0 < first_journal < n, f"task {rq}'s first run was cut short: {first_journal} of {n} journaled")
check(final_lines - first_lines == n - first_journal,
      f"task {rq}'s rerun wrote only what the journal did not name: {final_lines - first_lines} = {n} - {first_journal}")
check(final_journal == n, f"task {rq}'s journal names each of its {n} inputs once ({final_journal})")
check(final_lines - n == first_lines - first_journal,
      f"task {rq}'s duplicates are the records written but not yet journaled at the requeue ({first_lines - first_journal})")

feeds = sum(1 for r in single if r["error"] is None)
kinds = {}
for r in single:
    if r["error"] is not None:
        kinds[r["error"]["kind"]] = kinds.get(r["error"]["kind"], 0) + 1
print(f"records: {len(single)} ({feeds} feed titles, errors: {kinds}); shard outputs {total_lines} lines,"
      f" {dups} duplicates dropped by merge")
print(f"task {rq}: journal {env['BEFORE_JOURNAL']} entries / output {env['BEFORE_LINES']} lines when requeued,"
      f" {first_journal} / {first_lines} once its first run was gone, {final_journal} / {final_lines} at the end")
sys.exit(1 if fails else 0)
EOF
  phase "compare" "$t"
  return "$rc"
}

if [ "${1:-}" = --inside ]; then
  inside "$2" "$3"
  exit $?
fi

# ---------------------------------------------------------------------------------------------
# The outer part: packages, scratch dir, binary, then the inner part.
# ---------------------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "run as root (it installs packages and runs the Slurm daemons as root)"
# Nothing may go through a proxy: greenfetch honours these, and the job inherits them.
unset http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
self=$(readlink -f "${BASH_SOURCE[0]}")
repo=$(cd "$(dirname "$self")/.." && pwd)
t_all=$(now)
scratch=$(mktemp -d /tmp/greenfetch-slurm.XXXXXX)
inner=
cleanup() {
  local rc=$? pid name
  trap - EXIT
  if [ -n "$inner" ] && alive "$inner"; then
    kill -TERM "$inner" 2>/dev/null || true
    for _ in $(seq 600); do alive "$inner" || break; sleep 0.1; done
    alive "$inner" && kill -KILL "$inner" 2>/dev/null || true
  fi
  # Backstop: whatever the inner part started and did not stop (it was killed).
  if [ -f "$scratch/pids" ]; then
    while read -r pid name; do
      alive "$pid" && { say "stopping leftover $name (pid $pid)"; kill -KILL "$pid" 2>/dev/null || true; }
    done < "$scratch/pids"
  fi
  if [ "${KEEP:-0}" = 1 ]; then
    say "kept $scratch"
  else
    rm -rf "$scratch"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT
trap 'say terminated; exit 143' TERM

t=$(now)
if ! command -v slurmctld > /dev/null || ! command -v slurmd > /dev/null \
  || ! command -v sbatch > /dev/null || ! command -v munged > /dev/null; then
  say "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  timeout 900 apt-get install -y --no-install-recommends slurm-wlm munge \
    || { timeout 600 apt-get update && timeout 900 apt-get install -y --no-install-recommends slurm-wlm munge; } \
    || die "could not install slurm-wlm and munge"
fi
say "$(slurmctld -V), munge $(munged -V 2>&1 | awk '{print $1; exit}')"
phase "install" "$t"

t=$(now)
if [ -n "${GREENFETCH:-}" ]; then
  gf=$(readlink -f "$GREENFETCH")
  [ -x "$gf" ] || die "GREENFETCH=$GREENFETCH is not an executable"
else
  say "building greenfetch into $scratch/target"
  CARGO_TARGET_DIR=$scratch/target timeout "$BUILD_LIMIT" \
    cargo build --quiet --release --manifest-path "$repo/Cargo.toml"
  gf=$scratch/target/release/greenfetch
fi
say "greenfetch: $gf"
phase "build" "$t"

netns=${NETNS:-auto}
if [ "$netns" = auto ]; then
  if command -v ip > /dev/null && unshare --net -- ip link set lo up 2> /dev/null; then netns=1; else netns=0; fi
fi
if [ "$netns" = 1 ]; then
  IN_NETNS=1 unshare --net -- bash "$self" --inside "$scratch" "$gf" &
else
  say "no network namespace: the daemons bind 127.0.0.1 only (checked below)"
  bash "$self" --inside "$scratch" "$gf" &
fi
inner=$!
rc=0
wait "$inner" || rc=$?
inner=

echo "--- phases"
while IFS=$'\t' read -r name secs; do printf '  %-40s %7.1f s\n' "$name" "$secs"; done < "$scratch/phases.tsv"
printf '  %-40s %7.1f s\n' total "$(since "$t_all")"
if [ "$rc" = 0 ]; then
  echo "PASS"
else
  echo "FAIL (exit $rc)"
  exit 1
fi
