#!/bin/bash
# memprofile.sh   the memory profile of memlens at N cgroups + P processes, variants interleaved
#
# Where memlens's resident memory goes, measured, for several variants at once (builds, node flags,
# environment) on the same tree and load:
#   idle      VmRSS right after start (nothing scraped yet), split into anon and file (the node binary)
#   per round each variant is scraped SCRAPES_PER_ROUND times in turn (--collect.min-interval 0s),
#             then its VmHWM (peak), VmRSS, RssAnon, RssFile are read from /proc/PID/status, and
#             bench/memprobe.mjs (preloaded with node --import) gives the V8 heap (used, total, old
#             space, large objects), external and ArrayBuffer memory now and at their highest
#             during the round's scrapes; CPU per scrape from /proc/PID/stat (all threads)
#   end       /proc/PID/smaps of each variant summed by mapping: the node binary, [heap] (glibc's
#             main arena), the other anonymous mappings (V8's heap pages, glibc's thread arenas, stacks)
#
# Variants: VARIANTS is a list separated by ';' of  label=COMMAND  where COMMAND runs memlens with
# the flags the script appends (listen address, --collect.min-interval 0s, --snapshot.dir) and may
# start with environment assignments, e.g.
#   VARIANTS='main=/work/main-build/bin/memlens.js;new=bin/memlens.js;arena2=env MALLOC_ARENA_MAX=2 bin/memlens.js'
# Default: this checkout's bin/memlens.js (as shipped: its shebang's node flags).
#
# Cgroups: N children (each with a limit, no processes) of a memlens-memprof-<pid> cgroup made
# under this shell's own v1 memory cgroup, as bench/cgscale.sh makes them; every cgroup of the host
# is walked too (the script prints how many). Processes: bench/loadgen.sh start PROCS (0: none).
#
# ISOLATE=1 runs each memlens in a private mount namespace where this shell's own memory cgroup is
# bind-mounted at /sys/fs/cgroup/memory: memlens then walks only the N bench cgroups and the loadgen
# one (as in a container), whatever other cgroups a shared host makes and removes during the run.
#
# Knobs: N=1000 PROCS=1000 ISOLATE=0 ROUNDS=5 SCRAPES_PER_ROUND=3 PORT=21150 RESULTS=bench/run/memprof-<stamp>
# Output: $RESULTS/memprofile.txt (RESULT lines) and a markdown table (bench/memprofile-table.mjs) on stdout.
# Needs: root, cgroup v1 memory controller at /sys/fs/cgroup/memory, node 20, curl, ss.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)
N=${N:-1000}
PROCS=${PROCS:-1000}
ROUNDS=${ROUNDS:-5}
SCRAPES_PER_ROUND=${SCRAPES_PER_ROUND:-3}
PORT=${PORT:-21150}
VARIANTS=${VARIANTS:-"this=$REPO/bin/memlens.js"}
RESULTS=${RESULTS:-$BENCH/run/memprof-$(date -u +%Y%m%dT%H%M%SZ)}
MEMROOT=/sys/fs/cgroup/memory
mkdir -p "$RESULTS"
OUT="$RESULTS/memprofile.txt"
: >"$OUT"
say() { echo "$*" | tee -a "$OUT" >&2; }

OWN=$(awk -F: '$2=="memory"{print $3}' /proc/self/cgroup)
PARENT="$MEMROOT${OWN%/}/memlens-memprof-$$"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
  if [ -d "$PARENT" ]; then
    find "$PARENT" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
    rmdir "$PARENT" 2>/dev/null || echo "could not remove $PARENT" >&2
  fi
  if [ "$PROCS" -gt 0 ]; then "$BENCH/loadgen.sh" stop "$PROCS" >&2 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$PARENT"
for ((i = 0; i < N; i++)); do
  d=$(printf '%s/c%05d' "$PARENT" "$i")
  mkdir "$d"
  echo $((64 * 1048576 + i * 4096)) >"$d/memory.limit_in_bytes"
done
[ "$PROCS" -gt 0 ] && say "# $("$BENCH/loadgen.sh" start "$PROCS")"
say "# memprofile date=$(date -u +%Y-%m-%dT%H:%M:%SZ) host=$(uname -r) nproc=$(nproc) node=$(node --version) memlens=$(git -C "$REPO" rev-parse --short HEAD) N=$N memory_cgroups_walked=$(if [ "${ISOLATE:-0}" = 1 ]; then find "$MEMROOT${OWN%/}" -type d | wc -l; else find "$MEMROOT" -type d | wc -l; fi) isolate=${ISOLATE:-0} pids=$(ls /proc | grep -c '^[0-9]') rounds=$ROUNDS scrapes_per_round=$SCRAPES_PER_ROUND loadavg=$(cut -d' ' -f1 /proc/loadavg)"

ticks() { sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
TCK=$(getconf CLK_TCK)
status_mb() { awk '/^(VmHWM|VmRSS|RssAnon|RssFile):/{sub(":", "", $1); printf "%s %.1f ", $1, $2 / 1024}' "/proc/$1/status"; }

IFS=';' read -r -a SPECS <<<"$VARIANTS"
LABELS=(); PORTS=(); PROBES=()
port=$PORT
for spec in "${SPECS[@]}"; do
  label=${spec%%=*}; cmd=${spec#*=}
  say "# variant $label: $cmd"
  probe="$RESULTS/probe-$label.jsonl"
  wrap=()
  [ "${ISOLATE:-0}" = 1 ] && wrap=(unshare -m --propagation private sh -c 'mount --bind "$0" /sys/fs/cgroup/memory && exec "$@"' "$MEMROOT${OWN%/}")
  # shellcheck disable=SC2086 # COMMAND is split on purpose (env assignments, flags)
  MEMPROBE_OUT=$probe NODE_OPTIONS="--import=$BENCH/memprobe.mjs" "${wrap[@]}" $cmd "--web.listen-address=127.0.0.1:$port" \
    --collect.min-interval 0s --snapshot.dir "$RESULTS/snapshots-$label" >"$RESULTS/memlens-$label.log" 2>&1 &
  pid=$!
  PIDS+=("$pid"); LABELS+=("$label"); PORTS+=("$port"); PROBES+=("$probe")
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { echo "memlens $label exited:" >&2; tail -5 "$RESULTS/memlens-$label.log" >&2; exit 1; }
    ss -ltnH "sport = :$port" | grep -q . && break
    sleep 0.1
  done
  port=$((port + 1))
done
sleep 2
for i in "${!PIDS[@]}"; do
  say "RESULT variant=${LABELS[$i]} idle $(status_mb "${PIDS[$i]}")"
  kill -USR2 "${PIDS[$i]}" # the probe's first line: the idle heap
done

last_probe() { # wait for the probe line of the last SIGUSR2, print its figures
  local f=$1 n=$2
  for _ in $(seq 1 100); do [ "$(wc -l <"$f" 2>/dev/null || echo 0)" -ge "$n" ] && break; sleep 0.05; done
  tail -1 "$f" | node -e '
    const l = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const M = (x) => (x / 1048576).toFixed(1);
    const f = (o, p) => ["heapUsed", "heapTotal", "old_space", "large_object_space", "external", "arrayBuffers"].map((k) => `${p}${k} ${M(o[k] ?? 0)}`).join(" ");
    const g = l.gc ?? {};
    console.log(`${f(l.now, "")} ${f(l.peak, "peak_")} gc_minor ${g.minorCount ?? 0} gc_minor_ms ${(g.minorMs ?? 0).toFixed(1)} gc_major ${g.majorCount ?? 0} gc_major_ms ${(g.majorMs ?? 0).toFixed(1)}`);'
}

for r in $(seq 1 "$ROUNDS"); do
  for i in "${!PIDS[@]}"; do
    t0=$(ticks "${PIDS[$i]}")
    for _ in $(seq 1 "$SCRAPES_PER_ROUND"); do
      curl -sS -o "$RESULTS/last-${LABELS[$i]}.prom" "http://127.0.0.1:${PORTS[$i]}/metrics"
    done
    t1=$(ticks "${PIDS[$i]}")
    kill -USR2 "${PIDS[$i]}"
    say "RESULT variant=${LABELS[$i]} round=$r cpu_ms_per_scrape $(( (t1 - t0) * 1000 / TCK / SCRAPES_PER_ROUND )) $(status_mb "${PIDS[$i]}") $(last_probe "${PROBES[$i]}" $((r + 1))) exposition_bytes $(wc -c <"$RESULTS/last-${LABELS[$i]}.prom")"
  done
done

for i in "${!PIDS[@]}"; do
  # shellcheck disable=SC2016
  say "RESULT variant=${LABELS[$i]} smaps $(awk '
    /^[0-9a-f]+-[0-9a-f]+ / { name = $6; if (name == "") name = "anon"; else if (name ~ /\/node$/) name = "node_binary"; else if (name == "[heap]") name = "brk_heap"; else if (name ~ /^\[stack/) name = "stack"; else if (name ~ /^\//) name = "other_files"; else name = "other" }
    /^Rss:/ { rss[name] += $2 }
    END { for (n in rss) printf "%s %.1f ", n, rss[n] / 1024 }' "/proc/${PIDS[$i]}/smaps") threads $(awk '/^Threads:/{print $2}' "/proc/${PIDS[$i]}/status")"
done
say "# after: loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
node "$BENCH/memprofile-table.mjs" "$OUT"
