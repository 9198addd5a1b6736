#!/bin/bash
# pss-scale.sh: PSS for every process on every scrape (issue 15: "at N = 1000 processes at most
# 1.3x the bare read"), memlens against the bare C read of exactly the files it reads, this build
# and a base build in the same rounds, with and without bench cgroups beside.
#
# For each count in CGROUPS (bench cgroups, v1, each with a limit, no processes; the run grows
# 0 -> 1000), ROUNDS rounds of, in an order shuffled per round:
#   rawcg          bin/rawcg over the whole memory hierarchy (the v1 files the cgroup collector reads)
#   raw-ss         bin/rawread -f status-stat          (what the default configuration reads per pid)
#   raw-ssr        bin/rawread -f status-stat-rollup   (what pss-all reads per pid)
#   each exporter  SCRAPES full scrapes (--collect.min-interval 0s); CPU from /proc/PID/stat, user
#                  and system apart (utime, stime of all threads)
# The exporters (builds x CONFIGS) run all along, one process each, idle while another is scraped.
# The order of the columns is shuffled from round to round, so that none always comes right after the
# same other column; the table gives medians over rounds. User and system time are reported apart: the
# system time of the reads is the same work on both sides and moves with the machine's load,
# the user time is what memlens adds.
#
# Knobs (environment):
#   PROCS=1000            processes started by loadgen.sh (0: none; use the host's as they are)
#   CGROUPS="0 1000"      bench cgroup counts
#   ROUNDS=9 PASSES=3 SCRAPES=3
#   CONFIGS="pss-all default"
#   MEMLENS_DIR=d         a built memlens (default: `git archive HEAD` built in bench/run/memlens-<sha>)
#   BASE_DIR=d            a second build, measured in the same rounds as "base-<config>"
#   EXTRA_FLAGS="..."     more flags for every exporter (e.g. --collectors.disabled cgroup)
#   ML_PORT=21250         first port; each exporter takes the next one
#   WARMUP=25             scrapes of each exporter before the rounds (JIT, first walk): an exporter's user time
#                         per scrape falls for its first 20-30 scrapes while V8 optimises (bench/RESULTS.md, "PSS
#                         for every process at N = 1000", 2026-12-02 13:00); before 2026-12-02 13:20 this was 2,
#                         which counted that warm-up in the rounds (round 1 most)
#   ISOLATE=1             exporters and bare readers run in a private mount namespace where this shell's own
#                         memory cgroup is bind-mounted at /sys/fs/cgroup/memory (as memprofile.sh): both walk
#                         only the bench cgroups and the loadgen one, whatever cgroups other users of a shared
#                         host make meanwhile (processes stay the host's)
#   RESULTS=dir           default bench/run/pss-scale-<UTC stamp>
# Output: $RESULTS/pss-scale.txt (RESULT lines) and the markdown table on stdout.
# Needs: root, the v1 memory controller at /sys/fs/cgroup/memory, gcc, node 20, curl, ss.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)
PROCS=${PROCS:-1000}
read -r -a CGS <<<"${CGROUPS:-0 1000}"
ROUNDS=${ROUNDS:-9}
PASSES=${PASSES:-3}
SCRAPES=${SCRAPES:-3}
read -r -a CONFIGS <<<"${CONFIGS:-pss-all default}"
ML_PORT=${ML_PORT:-21250}
RESULTS=${RESULTS:-$BENCH/run/pss-scale-$(date -u +%Y%m%dT%H%M%SZ)}
MEMROOT=/sys/fs/cgroup/memory
mkdir -p "$RESULTS" "$BENCH/run"
OUT="$RESULTS/pss-scale.txt"
: >"$OUT"
"$BENCH/build.sh" >&2

# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
BUILDS=("$(build_of "${MEMLENS_DIR:-}")"); LABELS=("")
# Every v1 file the measured build's cgroup collector reads per cgroup (until 2026-12-03 a fixed list of 8 of its 11
# here: no memory.kmem.usage_in_bytes, memory.soft_limit_in_bytes, memory.memsw.limit_in_bytes).
[ -n "${RAWCG_FILES:-}" ] || RAWCG_FILES=$(rawcg_files_of "${BUILDS[0]}" "$MEMROOT")
if [ -n "${BASE_DIR:-}" ]; then BUILDS+=("$(build_of "$BASE_DIR")"); LABELS+=("base-"); fi

OWN=$(awk -F: '$2=="memory"{print $3}' /proc/self/cgroup)
PARENT="$MEMROOT${OWN%/}/memlens-proc-pss-$$"
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
TCK=$(getconf CLK_TCK)
WRAP=()
[ "${ISOLATE:-0}" = 1 ] && WRAP=(unshare -m --propagation private sh -c 'mount --bind "$0" /sys/fs/cgroup/memory && exec "$@"' "$MEMROOT${OWN%/}")
start_memlens() { # BUILD CONFIG PORT -> pid
  local extra=()
  [ "$2" = pss-all ] && extra=(--process.smaps-scope all --process.smaps-interval 0s)
  # shellcheck disable=SC2086
  "${WRAP[@]}" "$1/bin/memlens.js" "--web.listen-address=127.0.0.1:$3" --collect.min-interval 0s --collect.timeout 60s \
    --snapshot.dir "$RESULTS/snapshots-$3" ${EXTRA_FLAGS:-} "${extra[@]}" >"$RESULTS/memlens-$3.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { echo "memlens exited, log:" >&2; tail -5 "$RESULTS/memlens-$3.log" >&2; exit 1; }
    ss -ltnH "sport = :$3" | grep -q . && break
    sleep 0.1
  done
  echo "$pid"
}
raw() { # COLUMN: one bare reader, RESULT line with its CPU split
  local r
  case "$1" in
    rawcg) r=$("${WRAP[@]}" "$BENCH/bin/rawcg" -i "$PASSES" -f "$RAWCG_FILES" "$MEMROOT") ;;
    raw-ss) r=$("${WRAP[@]}" "$BENCH/bin/rawread" -i $((PASSES + 1)) -f status-stat) ;;
    raw-ssr) r=$("${WRAP[@]}" "$BENCH/bin/rawread" -i $((PASSES + 1)) -f status-stat-rollup) ;;
  esac
  say "RESULT cg=$CG round=$ROUND col=$1 $r"
}

say "# pss-scale date=$(date -u +%Y-%m-%dT%H:%M:%SZ) host=$(uname -r) nproc=$(nproc) node=$(node --version) memlens=$(git -C "$REPO" rev-parse --short HEAD) builds=${BUILDS[*]} rounds=$ROUNDS passes=$PASSES scrapes=$SCRAPES warmup=${WARMUP:-25} isolate=${ISOLATE:-0} extra_flags=${EXTRA_FLAGS:-}"
say "# rawcg files per cgroup: $RAWCG_FILES"
[ "$PROCS" -gt 0 ] && say "# $("$BENCH/loadgen.sh" start "$PROCS")"
for CG in "${CGS[@]}"; do
  grow_to "$PARENT" "$CG"
  say "# cg=$CG: $("${WRAP[@]}" find "$MEMROOT" -type d | wc -l) memory cgroups, $(ls /proc | grep -c '^[0-9]') pids, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
  NAMES=(); PIDS=(); PORTS=(); port=$ML_PORT
  for b in "${!BUILDS[@]}"; do
    for cfg in "${CONFIGS[@]}"; do
      pid=$(start_memlens "${BUILDS[$b]}" "$cfg" "$port")
      STARTED+=("$pid"); NAMES+=("${LABELS[$b]}$cfg"); PIDS+=("$pid"); PORTS+=("$port"); port=$((port + 1))
    done
  done
  sleep 2
  for i in "${!PIDS[@]}"; do for _ in $(seq 1 "${WARMUP:-25}"); do curl -sS -o /dev/null "http://127.0.0.1:${PORTS[$i]}/metrics"; done; done # JIT, first walk
  COLS=(rawcg raw-ss raw-ssr "${!PIDS[@]}")
  for ROUND in $(seq 1 "$ROUNDS"); do
    # A fresh order every round (shuffled, the same for a given round number): a rotation keeps neighbours, and
    # with 7 columns the first exporter always ran right after raw-ssr (the page walk of every process), which cost
    # it 5-25 % in every round (bench/RESULTS.md, 2026-12-02 13:15, the builds swapped).
    read -r -a ORDER <<<"$(shuffled $((ROUND * 7919)) "${COLS[@]}")"
    for col in "${ORDER[@]}"; do
      case "$col" in
        raw*) raw "$col" ;;
        *)
          read -r u0 s0 < <(utst "${PIDS[$col]}")
          for _ in $(seq 1 "$SCRAPES"); do curl -sS -o "$RESULTS/cg$CG-${NAMES[$col]}.prom" "http://127.0.0.1:${PORTS[$col]}/metrics"; done
          read -r u1 s1 < <(utst "${PIDS[$col]}")
          ok=$(awk '/^memlens_collector_success\{/ && $2 != 1 {bad = bad $1 " "} END {print bad == "" ? "all" : bad}' "$RESULTS/cg$CG-${NAMES[$col]}.prom")
          say "RESULT cg=$CG round=$ROUND col=memlens-${NAMES[$col]} user_ms $(((u1 - u0) * 1000 / TCK / SCRAPES)) sys_ms $(((s1 - s0) * 1000 / TCK / SCRAPES)) collectors_ok $ok"
          ;;
      esac
    done
    say "# cg=$CG round=$ROUND loadavg $(cut -d' ' -f1-3 /proc/loadavg) pids $(ls /proc | grep -c '^[0-9]') memory cgroups $("${WRAP[@]}" find "$MEMROOT" -type d | wc -l)"
  done
  for i in "${!PIDS[@]}"; do kill "${PIDS[$i]}"; wait "${PIDS[$i]}" 2>/dev/null || true; done
  STARTED=()
done

node - "$OUT" <<'EOF'
const fs = require('node:fs');
const rows = new Map(); // cg -> col -> {cpu:[], user:[]}
const put = (cg, col, cpu, user) => {
  if (!rows.has(cg)) rows.set(cg, new Map());
  const m = rows.get(cg);
  if (!m.has(col)) m.set(col, { cpu: [], user: [] });
  m.get(col).cpu.push(cpu); m.get(col).user.push(user);
};
for (const line of fs.readFileSync(process.argv[2], 'utf8').split('\n')) {
  let m = /^RESULT cg=(\d+) round=\d+ col=(rawcg) RESULT rawcg .*? cpu_ms ([\d.]+)/.exec(line);
  if (m) { put(m[1], m[2], +m[3], NaN); continue; }
  m = /^RESULT cg=(\d+) round=\d+ col=(raw-ssr?) RESULT \S+ .*? cpu_ms ([\d.]+) .*? sys_share ([\d.]+)/.exec(line);
  if (m) { put(m[1], m[2], +m[3], +m[3] * (1 - +m[4])); continue; }
  m = /^RESULT cg=(\d+) round=\d+ col=(memlens-\S+) user_ms (\d+) sys_ms (\d+)/.exec(line);
  if (m) put(m[1], m[2], +m[3] + +m[4], +m[3]);
}
const med = (a) => { const s = a.filter(Number.isFinite).sort((x, y) => x - y); const n = s.length; return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
console.log('| bench cgroups | column | CPU ms per scrape / pass (median) | of which user ms | bare read it is compared with | ratio |');
console.log('|---:|---|---:|---:|---|---:|');
for (const [cg, cols] of rows) {
  const g = (c) => med(cols.get(c)?.cpu ?? []);
  for (const [col, v] of cols) {
    let bare = '', ratio = NaN;
    if (col.startsWith('memlens-')) {
      const pss = col.endsWith('pss-all');
      const raw = pss ? 'raw-ssr' : 'raw-ss';
      bare = `rawcg + ${raw} = ${f(g('rawcg') + g(raw), 1)}`;
      ratio = med(v.cpu) / (g('rawcg') + g(raw));
    }
    console.log(`| ${cg} | ${col} | ${f(med(v.cpu), 1)} | ${f(med(v.user), 1)} | ${bare} | ${f(ratio, 2)} |`);
  }
}
EOF
