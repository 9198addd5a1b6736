#!/bin/bash
# interval-scrape.sh: CPU per scrape when scrapes come GAP seconds apart, as Prometheus sends them, not back to back.
# cgscale.sh and pss-scale.sh scrape in short bursts; between scrapes spaced 10-15 s apart V8 shrinks its heap
# (the memory reducer) and the JIT's and caches' state cools, so a lone scrape costs more (bench/RESULTS.md,
# sessions 6-7). Each variant runs one exporter: WARMUP back-to-back scrapes, then N scrapes GAP s apart. It reports
# the CPU of the scrapes themselves and of the whole cycle (the scrapes and everything between them: the watcher's
# polls, timers, GCs while idle) per scrape, and resident memory at the end.
#
# Knobs (environment):
#   VARIANTS="default=;noreducer=--no-memory-reducer"   name=extra node flags, ';'-separated (the launcher's other
#                         flags and malloc tunables always come first, as bin/memlens.js sets them)
#   GAP=15 N=6 WARMUP=25
#   CONFIG=default|pss-all   memlens flags (pss-all: --process.smaps-scope all --process.smaps-interval 0s)
#   CGROUPS=0             limited v1 bench cgroups made beside the host's for the run (removed after)
#   PROCS=0               processes started by loadgen.sh for the run (0: none; use the host's as they are)
#   MEMLENS_DIR=d         a built memlens (default: `git archive HEAD` built in bench/run/memlens-<sha>)
#   ML_PORT=21330
# Output: RESULT lines on stdout (and in $RESULTS/interval-scrape.txt, RESULTS default bench/run/interval-<stamp>).
# Needs: root, node 20, curl, ss; the v1 memory controller for CGROUPS > 0.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)
GAP=${GAP:-15}; N=${N:-6}; WARMUP=${WARMUP:-25}; CONFIG=${CONFIG:-default}; CGROUPS=${CGROUPS:-0}; PROCS=${PROCS:-0}
ML_PORT=${ML_PORT:-21330}
RESULTS=${RESULTS:-$BENCH/run/interval-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$RESULTS"
OUT="$RESULTS/interval-scrape.txt"
: >"$OUT"
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
DIR=$(build_of "${MEMLENS_DIR:-}")
# The launcher's line: GLIBC_TUNABLES and node's flags from bin/memlens.js's shebang.
SHEBANG=$(head -1 "$DIR/bin/memlens.js")
TUNABLES=$(sed -E 's/^.*GLIBC_TUNABLES=(\S+) node.*$/\1/' <<<"$SHEBANG")
read -r -a BASE_FLAGS <<<"$(sed -E 's/^.* node //' <<<"$SHEBANG" | sed -E 's/ ?--no-memory-reducer//')"
MEMROOT=/sys/fs/cgroup/memory
OWN=$(awk -F: '$2=="memory"{print $3}' /proc/self/cgroup 2>/dev/null || true)
PARENT="$MEMROOT${OWN%/}/memlens-interval-$$"
PID=
cleanup() {
  [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
  if [ -d "$PARENT" ]; then find "$PARENT" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true; rmdir "$PARENT" 2>/dev/null || true; fi
  [ "$PROCS" -gt 0 ] && "$BENCH/loadgen.sh" stop "$PROCS" >&2 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say() { echo "$*" | tee -a "$OUT"; }
TCK=$(getconf CLK_TCK)
ms() { echo $(($1 * 1000 / TCK / N)); } # ticks over the N scrapes -> ms per scrape

[ "$CGROUPS" -gt 0 ] && grow_to "$PARENT" "$CGROUPS"
[ "$PROCS" -gt 0 ] && say "# $("$BENCH/loadgen.sh" start "$PROCS")"
say "# interval-scrape date=$(date -u +%Y-%m-%dT%H:%M:%SZ) host=$(uname -r) nproc=$(nproc) node=$(node --version) build=$DIR gap=$GAP n=$N warmup=$WARMUP config=$CONFIG cgroups=$CGROUPS pids=$(ls /proc | grep -c '^[0-9]') launcher flags=${BASE_FLAGS[*]}"
extra_ml=()
[ "$CONFIG" = pss-all ] && extra_ml=(--process.smaps-scope all --process.smaps-interval 0s)
IFS=';' read -r -a VARS <<<"${VARIANTS:-default=;noreducer=--no-memory-reducer}"
for v in "${VARS[@]}"; do
  name=${v%%=*}; read -r -a flags <<<"${v#*=}"
  # shellcheck disable=SC2068
  GLIBC_TUNABLES=$TUNABLES node ${BASE_FLAGS[@]} ${flags[@]} "$DIR/bin/memlens.js" "--web.listen-address=127.0.0.1:$ML_PORT" \
    --collect.min-interval 0s --collect.timeout 60s --snapshot.dir "$RESULTS/snapshots" "${extra_ml[@]}" >"$RESULTS/memlens-$name.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 300); do kill -0 "$PID" 2>/dev/null || { tail -5 "$RESULTS/memlens-$name.log" >&2; exit 1; }; ss -ltnH "sport = :$ML_PORT" | grep -q . && break; sleep 0.1; done
  for _ in $(seq 1 "$WARMUP"); do curl -sS -o /dev/null "http://127.0.0.1:$ML_PORT/metrics"; done
  sleep "$GAP"
  read -r U0 S0 < <(utst "$PID"); su=0; ss=0
  for _ in $(seq 1 "$N"); do
    read -r u0 s0 < <(utst "$PID"); curl -sS -o /dev/null "http://127.0.0.1:$ML_PORT/metrics"; read -r u1 s1 < <(utst "$PID")
    su=$((su + u1 - u0)); ss=$((ss + s1 - s0))
    sleep "$GAP"
  done
  read -r U1 S1 < <(utst "$PID")
  say "RESULT variant=$name flags='${flags[*]}' scrape_user_ms $(ms $su) scrape_sys_ms $(ms $ss) cycle_user_ms $(ms $((U1 - U0))) cycle_sys_ms $(ms $((S1 - S0))) rss_mb $(($(kb "$PID" VmRSS) / 1024)) hwm_mb $(($(kb "$PID" VmHWM) / 1024))"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
done
