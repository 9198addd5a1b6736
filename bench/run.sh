#!/bin/bash
# run.sh [N ...]   (default: 200 1000 3000)
#
# For each N, in one run on the same load: the bare C read of exactly the per-pid files memlens
# reads (rawread -f status-stat-rollup for pss-all, -f status-stat for the default; see
# src/rawread.c), the bare read of process-exporter's own file set (rawread -f pe), Debian's prometheus-process-exporter (smaps on) and memlens in two configurations
# (default; pss-all = --process.smaps-scope all --process.smaps-interval 0s), both memlens
# runs with --collect.min-interval 0s so that every scrape is a full collection.
# Exporters are started one at a time (never two at once), scraped with scrape-bench.sh,
# and killed by PID. The load (loadgen.sh, cgroup perfbase_N) is removed after each N.
#
# Output: $RESULTS/N<N>.txt (RESULT lines + context), and the markdown table of each N
# on stdout (./format.sh $RESULTS/N<N>.txt prints it again).
#
# Knobs (environment):
#   ITER=21        rawread passes (first one reported apart as "cold")
#   SCRAPES=20     scrapes per exporter after one cold scrape
#   RESULTS=dir    default bench/run/results-<UTC stamp>
#   MEMLENS_DIR=d  a built memlens checkout to run (default: `git archive HEAD` of this repo,
#                  built into bench/run/memlens-<sha>, so others' uncommitted edits do not leak in)
#   QUIET_PCT=15 QUIET_MAX=90  before each row wait up to QUIET_MAX s for the machine (2 s windows)
#                  to be below QUIET_PCT % busy; every row records that figure ("before") and the
#                  machine's busy % during the row ("during"; one busy core of 2 = 50 %)
#   PROFILE=1      also run memlens pss-all and default under `node --cpu-prof` (profiles in $RESULTS)
#   PE_PORT=19256 ML_PORT=19966
# Needs: gcc, node 20, curl, ss, bc, prometheus-process-exporter (installed if missing).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)
NS=("$@"); [ ${#NS[@]} -gt 0 ] || NS=(200 1000 3000)
ITER=${ITER:-21}
SCRAPES=${SCRAPES:-20}
PE_PORT=${PE_PORT:-19256}
ML_PORT=${ML_PORT:-19966}
RESULTS=${RESULTS:-$BENCH/run/results-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$RESULTS" "$BENCH/run"

"$BENCH/build.sh"

if ! command -v prometheus-process-exporter >/dev/null; then
  apt-get install -y prometheus-process-exporter >&2
  # the package enables a systemd unit: undo that, we start it by hand on 127.0.0.1 only
  systemctl disable prometheus-process-exporter >&2 2>/dev/null || rm -f /etc/systemd/system/multi-user.target.wants/prometheus-process-exporter.service
fi
PE_VERSION=$(dpkg-query -W -f='${Version}' prometheus-process-exporter 2>/dev/null || echo '?')

# memlens: a clean build of HEAD unless MEMLENS_DIR is given
if [ -z "${MEMLENS_DIR:-}" ]; then
  SHA=$(git -C "$REPO" rev-parse --short HEAD)
  MEMLENS_DIR="$BENCH/run/memlens-$SHA"
  if [ ! -f "$MEMLENS_DIR/build/src/cli.js" ]; then
    rm -rf "$MEMLENS_DIR"; mkdir -p "$MEMLENS_DIR"
    git -C "$REPO" archive HEAD | tar -x -C "$MEMLENS_DIR"
    ln -s "$REPO/node_modules" "$MEMLENS_DIR/node_modules"
    (cd "$MEMLENS_DIR" && npm run -s build) >&2
  fi
  MEMLENS_REV="$SHA (git archive of HEAD)"
else
  MEMLENS_DIR=$(cd "$MEMLENS_DIR" && pwd)
  case "$(basename "$MEMLENS_DIR")" in
    memlens-*) MEMLENS_REV="${MEMLENS_DIR##*/memlens-} (an earlier git archive build, $MEMLENS_DIR)" ;;
    *) MEMLENS_REV="$MEMLENS_DIR, as found (git: $(git -C "$MEMLENS_DIR" describe --always --dirty 2>/dev/null || echo '?'))" ;;
  esac
fi

STARTED=()          # PIDs of exporters we started (killed on exit)
LOAD_N=""           # N of the running load (stopped on exit)
cleanup() {
  for p in "${STARTED[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -n "$LOAD_N" ] && "$BENCH/loadgen.sh" stop "$LOAD_N" >&2 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Share of the machine's CPU that was busy over 2 s (all CPUs, everything but idle+iowait).
bg_busy() {
  local a b
  a=($(head -1 /proc/stat)); sleep 2; b=($(head -1 /proc/stat))
  local tot=0 idle i
  for i in 1 2 3 4 5 6 7 8; do tot=$((tot + b[i] - a[i])); done
  idle=$(( (b[4] - a[4]) + (b[5] - a[5]) ))
  echo $(( tot > 0 ? 100 * (tot - idle) / tot : 0 ))
}
# machine busy % between two /proc/stat snapshots (stat_now; ...; busy_since "$snap")
stat_now() { head -1 /proc/stat | cut -d' ' -f2-; }
busy_since() {
  local a=($1) b=($(stat_now)) tot=0 i
  for i in 0 1 2 3 4 5 6 7; do tot=$((tot + b[i] - a[i])); done
  local idle=$(( (b[3] - a[3]) + (b[4] - a[4]) ))
  echo $(( tot > 0 ? 100 * (tot - idle) / tot : 0 ))
}
# QUIET_PCT=15 QUIET_MAX=90: before each row wait (up to QUIET_MAX s) until the machine is below QUIET_PCT busy
quiet() {
  local b t0=$SECONDS
  while :; do
    b=$(bg_busy)
    [ "$b" -lt "${QUIET_PCT:-15}" ] || [ $((SECONDS - t0)) -ge "${QUIET_MAX:-90}" ] && break
  done
  echo "$b"
}
npids() { ls /proc | grep -c '^[0-9]'; }

wait_port() { # PID PORT: wait until PID listens on PORT (or dies)
  for _ in $(seq 1 300); do
    kill -0 "$1" 2>/dev/null || return 1
    ss -ltnH "sport = :$2" | grep -q . && return 0
    sleep 0.1
  done
  return 1
}

stop_pid() { # PID: TERM, wait, KILL
  local p=$1
  kill "$p" 2>/dev/null || return 0
  for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  STARTED=("${STARTED[@]/$p}")
}

# bench_exporter LABEL LOG CMD...: start, wait for the port, 3 s idle, scrape-bench, stop.
bench_exporter() {
  local label=$1 log=$2 port=$3; shift 3
  "$@" >"$log" 2>&1 &
  local pid=$!
  STARTED+=("$pid")
  if ! wait_port "$pid" "$port"; then echo "$label did not start, log:" >&2; tail -5 "$log" >&2; exit 1; fi
  sleep 3
  local idle_kb; idle_kb=$(awk '$1=="VmRSS:"{print $2}' "/proc/$pid/status")
  local bg; bg=$(quiet)
  local np; np=$(npids)
  local s0; s0=$(stat_now)
  local r; r=$(LABEL=$label "$BENCH/scrape-bench.sh" "http://127.0.0.1:$port/metrics" "$SCRAPES" "$pid")
  say "$r idle_rss_mb $(echo "scale=1; $idle_kb/1024" | bc) bg_cpu_busy_pct $bg busy_during_pct $(busy_since "$s0") pids $np"
  stop_pid "$pid"
}

ML=("$MEMLENS_DIR/bin/memlens.js" "--web.listen-address=127.0.0.1:$ML_PORT" --collect.min-interval 0s)
ML_PSS=(--process.smaps-scope all --process.smaps-interval 0s)

say() { echo "$*" | tee -a "$OUT" >&2; }

for N in "${NS[@]}"; do
  OUT="$RESULTS/N$N.txt"
  : >"$OUT"
  say "# N=$N date=$(date -u +%Y-%m-%dT%H:%M:%SZ) host=$(uname -r) nproc=$(nproc) node=$(node --version) memlens=$MEMLENS_REV process-exporter=$PE_VERSION iter=$ITER scrapes=$SCRAPES"
  say "# before load: bg_cpu_busy_pct $(bg_busy) pids $(npids) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
  LOAD_N=$N
  say "# $("$BENCH/loadgen.sh" start "$N")"
  sleep 2
  for f in status-stat-rollup status-stat pe; do
    bg=$(quiet); s0=$(stat_now); r=$("$BENCH/bin/rawread" -i "$ITER" -f "$f")
    say "$r bg_cpu_busy_pct $bg busy_during_pct $(busy_since "$s0") pids $(npids)"
  done
  bench_exporter process-exporter-smaps "$BENCH/run/pe_$N.log" "$PE_PORT" \
    prometheus-process-exporter -config.path "$BENCH/process-exporter.yml" \
    -web.listen-address "127.0.0.1:$PE_PORT" -threads=false -gather-smaps=true
  PROF=()
  [ "${PROFILE:-0}" = 1 ] && PROF=(--cpu-prof --cpu-prof-dir "$RESULTS/prof-N$N-default")
  bench_exporter memlens-default "$BENCH/run/memlens_default_$N.log" "$ML_PORT" \
    "${ML[0]}" "${PROF[@]}" "${ML[@]:1}"
  [ "${PROFILE:-0}" = 1 ] && PROF=(--cpu-prof --cpu-prof-dir "$RESULTS/prof-N$N-pss-all")
  bench_exporter memlens-pss-all "$BENCH/run/memlens_pssall_$N.log" "$ML_PORT" \
    "${ML[0]}" "${PROF[@]}" "${ML[@]:1}" "${ML_PSS[@]}"
  # the bare read once more at the end: shows drift of the load/machine during the run
  bg=$(quiet); s0=$(stat_now); r=$("$BENCH/bin/rawread" -i "$ITER" -f status-stat-rollup | sed 's/^RESULT raw-status-stat-rollup/RESULT raw-status-stat-rollup-end/')
  say "$r bg_cpu_busy_pct $bg busy_during_pct $(busy_since "$s0") pids $(npids)"
  say "# $("$BENCH/loadgen.sh" stop "$N")"
  LOAD_N=""
  "$BENCH/format.sh" "$OUT"
  echo
done
