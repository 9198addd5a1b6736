#!/bin/bash
# bench/notify-latency: cgroup v1 threshold notification latency of memlens (see README.md).
#   bench/notify-latency/run.sh [idle] [loaded] [v2]      (default: all three)
# Builds bin/alloc and bin/kobs (gcc) and a clean memlens from git HEAD (run/memlens-<sha>), then runs measure.mjs:
#   idle:   memlens with default flags, no scraping;
#   loaded: bench/loadgen.sh start 1000, memlens with --collect.min-interval 0s --process.smaps-scope all
#           --process.smaps-interval 0s, a curl loop on /metrics for the whole run; loadgen stopped at the end;
#   v2:     v2measure.mjs (poller on a fixture tree rewritten by a writer process).
# Results: run/<label>.json, summarised by report.mjs into run/report.md.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RUNS=("$@"); [ ${#RUNS[@]} -gt 0 ] || RUNS=(idle loaded v2)
mkdir -p "$HERE/bin" "$HERE/run"
gcc -O2 -Wall -o "$HERE/bin/alloc" "$HERE/alloc.c"
gcc -O2 -Wall -o "$HERE/bin/kobs" "$HERE/kobs.c"
SHA=$(git -C "$REPO" rev-parse --short HEAD)
ML="$HERE/run/memlens-$SHA"
if [ ! -f "$ML/build/src/cli.js" ]; then
  rm -rf "$ML"; mkdir -p "$ML"
  git -C "$REPO" archive HEAD | tar -x -C "$ML"
  ln -s "$REPO/node_modules" "$ML/node_modules"
  (cd "$ML" && npm run -s build) >&2
fi
echo "$SHA" > "$HERE/run/memlens-sha"
LOADGEN="$REPO/bench/loadgen.sh"
"$REPO/bench/build.sh" >&2
LOAD_ON=""
cleanup() { [ -n "$LOAD_ON" ] && "$LOADGEN" stop 1000 >&2 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM
for r in "${RUNS[@]}"; do
  case "$r" in
  idle) node "$HERE/measure.mjs" --label idle --memlens "$ML" --port 19971 --out "$HERE/run" ;;
  loaded)
    "$LOADGEN" start 1000 >&2; LOAD_ON=1
    node "$HERE/measure.mjs" --label loaded --memlens "$ML" --port 19972 --out "$HERE/run" --scrape -- \
      --collect.min-interval 0s --process.smaps-scope all --process.smaps-interval 0s
    "$LOADGEN" stop 1000 >&2; LOAD_ON="" ;;
  v2) node "$HERE/v2measure.mjs" --memlens "$ML" --port 19973 --out "$HERE/run" ;;
  *) echo "unknown run $r" >&2; exit 2 ;;
  esac
done
node "$HERE/report.mjs" "$HERE/run" > "$HERE/run/report.md"
