#!/bin/bash
# profile.sh N [default|pss-all ...]: memlens under `node --cpu-prof` on the loadgen.sh load of N
# processes; SCRAPES (20) full collections (--collect.min-interval 0s), then the profile summary
# (prof-summary.mjs) per configuration. Profiles go to $OUT (default bench/run/prof-N<N>).
# NODE_FLAGS: extra node flags (e.g. --max-semi-space-size=2) to try runtime settings.
# MEMLENS_DIR as in run.sh (default: the build run.sh made of HEAD).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
N=${1:?usage: profile.sh N [default|pss-all ...]}; shift
CONFIGS=("$@"); [ ${#CONFIGS[@]} -gt 0 ] || CONFIGS=(default pss-all)
SCRAPES=${SCRAPES:-20}
PORT=${ML_PORT:-19966}
MEMLENS_DIR=${MEMLENS_DIR:-$BENCH/run/memlens-$(git -C "$BENCH/.." rev-parse --short HEAD)}
[ -f "$MEMLENS_DIR/build/src/cli.js" ] || { echo "no build in $MEMLENS_DIR (run run.sh once, or set MEMLENS_DIR)" >&2; exit 1; }
OUT=${OUT:-$BENCH/run/prof-N$N}
mkdir -p "$OUT"
PID=""
TCK=$(getconf CLK_TCK)
ticks() { sed -E 's/^.*\) //' "$1" | awk '{print $12 + $13}'; }
busy() { # two /proc/stat cpu lines -> % busy between them
  awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x, " "); split(b, y, " "); t = 0
    for (i = 2; i <= 9; i++) t += y[i] - x[i]; idle = (y[5] - x[5]) + (y[6] - x[6]); printf "%d", (t > 0 ? 100 * (t - idle) / t : 0) }'
}
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; "$BENCH/loadgen.sh" stop "$N" >&2 || true' EXIT
"$BENCH/loadgen.sh" start "$N" >&2
for cfg in "${CONFIGS[@]}"; do
  extra=(); [ "$cfg" = pss-all ] && extra=(--process.smaps-scope all --process.smaps-interval 0s)
  rm -rf "$OUT/$cfg"; mkdir -p "$OUT/$cfg"
  # shellcheck disable=SC2086
  node ${NODE_FLAGS:-} --cpu-prof --cpu-prof-dir "$OUT/$cfg" "$MEMLENS_DIR/bin/memlens.js" "--web.listen-address=127.0.0.1:$PORT" \
    --collect.min-interval 0s "${extra[@]}" >"$OUT/$cfg.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do ss -ltnH "sport = :$PORT" | grep -q . && break; sleep 0.1; done
  sleep 1
  curl -s -o /dev/null "http://127.0.0.1:$PORT/metrics"   # cold scrape (JIT), also in the profile
  # CPU of the whole process and of its main (JS) thread over the warm scrapes: the rest is V8's
  # helper threads (concurrent GC marking/sweeping, TurboFan compiles) and libuv
  all0=$(ticks "/proc/$PID/stat"); main0=$(ticks "/proc/$PID/task/$PID/stat"); st0=$(head -1 /proc/stat)
  for _ in $(seq 1 "$SCRAPES"); do curl -s -o "$OUT/$cfg.prom" "http://127.0.0.1:$PORT/metrics"; done
  all1=$(ticks "/proc/$PID/stat"); main1=$(ticks "/proc/$PID/task/$PID/stat"); st1=$(head -1 /proc/stat)
  hwm=$(awk '$1=="VmHWM:"{print $2}' "/proc/$PID/status")
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
  echo "## memlens $cfg, N=$N, $((SCRAPES + 1)) scrapes"
  echo "CPU per warm scrape (from /proc stat ticks): process $(( (all1 - all0) * 1000 / TCK / SCRAPES )) ms, main thread $(( (main1 - main0) * 1000 / TCK / SCRAPES )) ms; VmHWM $((hwm / 1024)) MiB; machine busy during the scrapes $(busy "$st0" "$st1") %"
  echo "V8 heap after the scrapes (memlens's own nodejs_* series, MiB): $(awk '/^nodejs_heap_size_(total|used)_bytes|^nodejs_external_memory_bytes|^nodejs_heap_space_size_total_bytes/ {printf "%s=%.1f ", $1, $2 / 1048576}' "$OUT/$cfg.prom")"
  echo "(the profile samples wall time while the main thread is not idle: under contention from other tenants its ms are inflated; use its shares, scaled to the main-thread CPU above)"
  node "$BENCH/prof-summary.mjs" "$OUT/$cfg"/*.cpuprofile --scrapes=$((SCRAPES + 1)) --top=30
  echo
done
