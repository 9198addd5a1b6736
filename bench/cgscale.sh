#!/bin/bash
# cgscale.sh [N ...]   (default: 100 1000 3000)
#
# The cgroup-scale bench: memlens's CPU per scrape and resident memory against the bare C read of
# every file it reads, with N cgroup-v1 memory cgroups (each with a memory limit, no processes) under
# a bench parent beside the host's own, plus P processes (loadgen.sh, default 1000) -- all in one run.
#
# For each N (cgroups are added to the same parent, so the run grows 100 -> 1000 -> 3000), ROUNDS
# rounds interleave these columns, in an order shuffled per round (bench/lib.sh shuffled):
#   rawcg     bin/rawcg -1 over the whole memory hierarchy memlens walks, with exactly the v1 files the
#             cgroup collector reads on this host (RAWCG_FILES, by default asked of the measured build:
#             cgroupfs/memory.ts memoryFiles, with kernel memory accounting read from /proc/cmdline as
#             memlens reads it and memsw.* when swap accounting is on), each with one read() as memlens
#             reads it (every file but cgroup.procs is a single-show seq_file); then the same without -1
#             (every file read until read() returns 0: one more read per file) as rawcg-eof
#   status    bin/rawread -f status-stat: exactly the per-pid files the default process collector
#             reads (status of every pid, stat of those with memory, 3 small files of the top 10)
#   both      bin/rawread -f status-stat-rollup: the same + smaps_rollup of every pid with memory
#             (what pss-all reads)
#   memlens   each configuration in CONFIGS, SCRAPES_PER_ROUND full scrapes (--collect.min-interval 0s),
#             CPU from /proc/PID/stat ticks of all its threads
# so that a change in the machine's load moves every column alike. The exporters run all along
# (started once per N, one process per configuration); the raw readers' figures are the median of
# their passes within the round; the table gives the median over rounds of each column.
#
# Output: $RESULTS/cgscale.txt (RESULT lines + context) and the markdown table on stdout.
#
# Knobs (environment):
#   PROCS=1000          processes started by loadgen.sh for the whole run (0: none)
#   ROUNDS=7 PASSES=3 SCRAPES_PER_ROUND=3
#   WARMUP=25           scrapes of each exporter before the rounds: user time per scrape falls for the first
#                       20-30 scrapes while V8 optimises (bench/pss-scale.sh); 2 before 2026-12-02 13:40 UTC
#   CONFIGS="default pss-all"   memlens configurations (default flags; pss-all adds
#                       --process.smaps-scope all --process.smaps-interval 0s; to see where the time goes:
#                       cgroup-only / process-only turn the other collector off and are compared with the
#                       cgroup / process bare read alone; any of them @semiN runs node with
#                       --max-semi-space-size=N instead of the 1 of bin/memlens.js, e.g. default@semi8)
#   MEMLENS_DIR=d       a built memlens checkout (default: `git archive HEAD` built in bench/run/memlens-<sha>)
#   BASE_DIR=d          optional second build, measured in the same rounds as "base-<config>" (before/after)
#   ML_PORT=21500       first port; each exporter takes the next one
#   EXTRA_FLAGS="..."   more memlens flags for every exporter (e.g. --collect.timeout 60s on a loaded host)
#   RESULTS=dir         default bench/run/cgscale-<UTC stamp>
# Needs: root, cgroup v1 memory controller at /sys/fs/cgroup/memory, gcc, node 20, curl, ss.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)
NS=("$@"); [ ${#NS[@]} -gt 0 ] || NS=(100 1000 3000)
PROCS=${PROCS:-1000}
ROUNDS=${ROUNDS:-7}
PASSES=${PASSES:-3}
SCRAPES_PER_ROUND=${SCRAPES_PER_ROUND:-3}
WARMUP=${WARMUP:-25}
read -r -a CONFIGS <<<"${CONFIGS:-default pss-all}"
ML_PORT=${ML_PORT:-21500}
RESULTS=${RESULTS:-$BENCH/run/cgscale-$(date -u +%Y%m%dT%H%M%SZ)}
MEMROOT=/sys/fs/cgroup/memory
mkdir -p "$RESULTS" "$BENCH/run"
OUT="$RESULTS/cgscale.txt"
: >"$OUT"

"$BENCH/build.sh" >&2

# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
MEMLENS_DIR=$(build_of "${MEMLENS_DIR:-}")
# The v1 files the cgroup collector reads in each cgroup on this host, from the measured build itself.
[ -n "${RAWCG_FILES:-}" ] || RAWCG_FILES=$(rawcg_files_of "$MEMLENS_DIR" "$MEMROOT")
BUILDS=("$MEMLENS_DIR"); LABELS=("")
if [ -n "${BASE_DIR:-}" ]; then BUILDS+=("$(build_of "$BASE_DIR")"); LABELS+=("base-"); fi

OWN=$(awk -F: '$2=="memory"{print $3}' /proc/self/cgroup)
PARENT="$MEMROOT${OWN%/}/memlens-cgscale-$$"
STARTED=()
cleanup() {
  for p in "${STARTED[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${STARTED[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  if [ -d "$PARENT" ]; then
    find "$PARENT" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
    rmdir "$PARENT" 2>/dev/null || echo "could not remove $PARENT" >&2
  fi
  [ "$PROCS" -gt 0 ] && "$BENCH/loadgen.sh" stop "$PROCS" >&2 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "$*" | tee -a "$OUT" >&2; }
stat_now() { head -1 /proc/stat | cut -d' ' -f2-; }
busy_since() { # machine busy % since a stat_now snapshot (one busy core of 2 = 50 %)
  local a=($1) b=($(stat_now)) tot=0 i
  for i in 0 1 2 3 4 5 6 7; do tot=$((tot + b[i] - a[i])); done
  local idle=$(( (b[3] - a[3]) + (b[4] - a[4]) ))
  echo $(( tot > 0 ? 100 * (tot - idle) / tot : 0 ))
}
ticks() { sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
TCK=$(getconf CLK_TCK)
ncg() { find "$MEMROOT" -type d | wc -l; }


start_memlens() { # BUILD CONFIG PORT -> pid
  local extra=() node=()
  case "${2%@*}" in
    pss-all) extra=(--process.smaps-scope all --process.smaps-interval 0s) ;;
    cgroup-only) extra=(--collectors.disabled process) ;;
    process-only) extra=(--collectors.disabled cgroup) ;;
  esac
  # CONFIG@semiN: V8's young generation at N MiB instead of bin/memlens.js's --max-semi-space-size=1
  [[ "$2" == *@semi* ]] && node=(node "--max-semi-space-size=${2##*@semi}")
  "${node[@]}" "$1/bin/memlens.js" "--web.listen-address=127.0.0.1:$3" --collect.min-interval 0s --snapshot.dir "$RESULTS/snapshots-$3" \
    ${EXTRA_FLAGS:-} "${extra[@]}" >"$RESULTS/memlens-$3.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { echo "memlens exited, log:" >&2; tail -5 "$RESULTS/memlens-$3.log" >&2; exit 1; }
    ss -ltnH "sport = :$3" | grep -q . && break
    sleep 0.1
  done
  echo "$pid"
}

say "# cgscale date=$(date -u +%Y-%m-%dT%H:%M:%SZ) host=$(uname -r) nproc=$(nproc) node=$(node --version) memlens=$(git -C "$REPO" rev-parse --short HEAD) builds=${BUILDS[*]} rounds=$ROUNDS passes=$PASSES scrapes_per_round=$SCRAPES_PER_ROUND warmup=$WARMUP"
say "# rawcg files per cgroup: $RAWCG_FILES"
say "# before: loadavg $(cut -d' ' -f1-3 /proc/loadavg) memory cgroups $(ncg)"
[ "$PROCS" -gt 0 ] && say "# $("$BENCH/loadgen.sh" start "$PROCS")"

for N in "${NS[@]}"; do
  grow_to "$PARENT" "$N"
  say "# N=$N bench cgroups, $(ncg) memory cgroups in the hierarchy, $(ls /proc | grep -c '^[0-9]') pids, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
  # one exporter per build x configuration, all up for the whole N
  NAMES=(); PIDS=(); PORTS=()
  port=$ML_PORT
  for b in "${!BUILDS[@]}"; do
    for cfg in "${CONFIGS[@]}"; do
      pid=$(start_memlens "${BUILDS[$b]}" "$cfg" "$port")
      STARTED+=("$pid"); NAMES+=("${LABELS[$b]}$cfg"); PIDS+=("$pid"); PORTS+=("$port")
      port=$((port + 1))
    done
  done
  sleep 2
  for i in "${!PIDS[@]}"; do # WARMUP cold scrapes (JIT, first walk) outside the measurement
    for _ in $(seq 2 "$WARMUP"); do curl -sS -o /dev/null "http://127.0.0.1:${PORTS[$i]}/metrics"; done
    curl -sS -o "$RESULTS/N$N-${NAMES[$i]}.prom" "http://127.0.0.1:${PORTS[$i]}/metrics"
  done
  for r in $(seq 1 "$ROUNDS"); do
    s0=$(stat_now)
    # Every column in an order shuffled per round (seeded by N and the round). Until 2026-12-03 the bare readers ran
    # first and `shuf --random-source=<(yes "$N$r")` ordered the exporters: shuf reads only the first bytes of that
    # source, the same for every round, so the pss-all exporter came right after the bare rollup reader in every round
    # (1.42x where bench/pss-scale.sh measured 1.06x; bench/RESULTS.md, sessions 6-7).
    for col in $(shuffled $((N * 7919 + r * 104729)) rawcg-1 rawcg raw-ss raw-ssr "${!PIDS[@]}"); do
      case "$col" in
        rawcg-1) say "RESULT N=$N round=$r $("$BENCH/bin/rawcg" -1 -i "$PASSES" -f "$RAWCG_FILES" "$MEMROOT")" ;;
        rawcg) say "RESULT N=$N round=$r $("$BENCH/bin/rawcg" -i "$PASSES" -f "$RAWCG_FILES" "$MEMROOT")" ;;
        raw-ss) say "RESULT N=$N round=$r $("$BENCH/bin/rawread" -i $((PASSES + 1)) -f status-stat)" ;;
        raw-ssr) say "RESULT N=$N round=$r $("$BENCH/bin/rawread" -i $((PASSES + 1)) -f status-stat-rollup)" ;;
        *)
          i=$col
          t0=$(ticks "${PIDS[$i]}")
          for _ in $(seq 1 "$SCRAPES_PER_ROUND"); do curl -sS -o "$RESULTS/N$N-${NAMES[$i]}.prom" "http://127.0.0.1:${PORTS[$i]}/metrics"; done
          t1=$(ticks "${PIDS[$i]}")
          # a collector that timed out (success 0) makes a scrape cheaper: say so on the line
          ok=$(awk '/^memlens_collector_success\{collector="cgroup"\}/ {print $2}' "$RESULTS/N$N-${NAMES[$i]}.prom")
          say "RESULT N=$N round=$r memlens-${NAMES[$i]} cpu_ms_per_scrape $(( (t1 - t0) * 1000 / TCK / SCRAPES_PER_ROUND )) rss_mb $(( $(kb "${PIDS[$i]}" VmRSS) / 1024 )) hwm_mb $(( $(kb "${PIDS[$i]}" VmHWM) / 1024 )) cgroup_success ${ok:-none}"
          ;;
      esac
    done
    say "# N=$N round=$r machine busy % during the round: $(busy_since "$s0")"
  done
  for i in "${!PIDS[@]}"; do
    say "# N=$N memlens-${NAMES[$i]} exposition (last measured scrape) $(wc -c <"$RESULTS/N$N-${NAMES[$i]}.prom") bytes $(grep -vc '^#' "$RESULTS/N$N-${NAMES[$i]}.prom") series"
    kill "${PIDS[$i]}"; wait "${PIDS[$i]}" 2>/dev/null || true
  done
  STARTED=()
done
say "# after: loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
node "$BENCH/cgscale-table.mjs" "$OUT"
