#!/bin/bash
# cgprofile.sh DIR [flags...]: the memlens build in DIR under `node --cpu-prof`, SCRAPES (20) full scrapes
# (--collect.min-interval 0s) of whatever cgroups and processes exist now, then prof-summary.mjs of the
# profile and the CPU per scrape from /proc/PID/stat. Profiles go to $OUT (default bench/run/cgprof).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
DIR=$(cd "${1:?usage: cgprofile.sh MEMLENS_DIR [flags...]}" && pwd); shift
SCRAPES=${SCRAPES:-20}
PORT=${ML_PORT:-21590}
OUT=${OUT:-$BENCH/run/cgprof}
rm -rf "$OUT"; mkdir -p "$OUT"
TCK=$(getconf CLK_TCK)
ticks() { sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
node --max-semi-space-size=1 --cpu-prof --cpu-prof-dir "$OUT" "$DIR/bin/memlens.js" "--web.listen-address=127.0.0.1:$PORT" \
  --collect.min-interval 0s --snapshot.dir "$OUT/snapshots" "$@" >"$OUT/memlens.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do ss -ltnH "sport = :$PORT" | grep -q . && break; sleep 0.1; done
curl -s -o /dev/null "http://127.0.0.1:$PORT/metrics"; curl -s -o /dev/null "http://127.0.0.1:$PORT/metrics"
t0=$(ticks $PID)
for _ in $(seq 1 "$SCRAPES"); do curl -s -o "$OUT/last.prom" "http://127.0.0.1:$PORT/metrics"; done
t1=$(ticks $PID)
hwm=$(awk '$1=="VmHWM:"{print $2}' "/proc/$PID/status")
kill $PID; wait $PID 2>/dev/null || true
echo "CPU per scrape $(( (t1 - t0) * 1000 / TCK / SCRAPES )) ms, VmHWM $((hwm / 1024)) MiB, $(grep -vc '^#' "$OUT/last.prom") series, $(wc -c <"$OUT/last.prom") bytes"
node "$BENCH/prof-summary.mjs" "$OUT"/*.cpuprofile --scrapes=$((SCRAPES + 2)) --top=30
