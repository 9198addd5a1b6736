#!/usr/bin/env node
// bench/poll-idle: what adaptive v2 polling costs when nothing happens (issue 14).
//
// usage (after `npx tsc -p .`; no root needed, nothing of the host's cgroups is touched):
//   node bench/poll-idle/run.mjs [--cgroups 500] [--seconds 60] [--fractions 0.06,0.8] [--runs 1]
//        [--builds label=DIR[:flag=value ...],...]   (default: this checkout, default flags)
//
// A cgroup v2 fixture tree in a temporary directory (memory controller at its root, the procfs files of
// test/fixtures/v2/proc): N cgroups /workloads/cg-<i>, each memory.max 256 MiB and memory.current at `fraction` of
// it (0.06: idle, far from the 0.9 threshold, read every --watch.poll-interval; 0.8: 25 MiB below it, read about
// every 25 ms). For each fraction, memlens (bin/memlens.js, default flags, nothing scraping it) runs twice: with
// --watch.enabled=false (the exporter idle: the baseline) and with the watcher on. CPU = utime + stime from
// /proc/PID/stat over `seconds` after a 5 s warm-up; the watcher's cost = watch-on minus baseline, as % of one
// core; wake-ups: the main thread's voluntary context switches, minus the baseline's. One /metrics scrape at the end checks that the N cgroups were watched by polling. Reads per second: the
// read syscalls of /proc/PID/io (syscr) over the same window, minus the baseline's (reads batched through Linux AIO are
// not read syscalls: such a build's row takes the reads/s of a pread build's row in the same run, same schedule).
// --tree v1-kernfs (root, cgroup v1 memory controller): the same reads on real kernel files instead of the fixture's
// regular files. N empty v1 cgroups (children of a memlens-poll-idle-<pid> cgroup under this process's own) with
// limits set so that each is read as often as a fixture cgroup at `fraction` (usage 0, limit (0.9 - fraction) / 0.9 x
// 256 MiB: the same distance to the 0.9 threshold); memlens runs in a private mount namespace where this process's
// own memory cgroup is bind-mounted read-only at /sys/fs/cgroup/memory, so it walks only these cgroups and, refused
// cgroup.event_control (EROFS), polls memory.usage_in_bytes through held fds on the schedule v2 uses (one pread per
// read, the same code path). The cgroups are removed at the end.
// --builds compares checkouts (each with `npx tsc -p .` done) and flag sets in the same run, interleaved: for each
// fraction and run, each checkout's baseline (watch off, measured before its first watch-on run) and each build with
// the watcher on, e.g.
//   --builds main=/tmp/base,this=.,this-100ms=.:--watch.poll-interval=100ms
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, shortCommit } from '../lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const arg = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i >= 0 ? process.argv[i + 1] : d; };
const N = Number(arg('cgroups', '500'));
const SECONDS = Number(arg('seconds', '60'));
const FRACTIONS = arg('fractions', '0.06,0.8').split(',').map(Number);
const RUNS = Number(arg('runs', '1'));
const LIMIT = 256 * 2 ** 20;
const TREE = arg('tree', 'fixture');
if (!['fixture', 'v1-kernfs'].includes(TREE)) throw new Error(`--tree: fixture or v1-kernfs, not ${TREE}`);
const MEMROOT = '/sys/fs/cgroup/memory';
const TICK = 100; // sysconf(_SC_CLK_TCK) on Linux
const BUILDS = arg('builds', `this=${repo}`).split(',').map((b) => {
  const [label, rest] = b.split('=', 2).length === 2 ? [b.slice(0, b.indexOf('=')), b.slice(b.indexOf('=') + 1)] : [b, repo];
  const [dir, ...flags] = rest.split(':');
  return { label, dir: dir === '.' ? repo : dir, flags };
});

function buildTree(root, fraction) {
  cpSync(join(repo, 'test/fixtures/v2/proc'), join(root, 'proc'), { recursive: true });
  const cg = join(root, 'sys/fs/cgroup');
  const demo = join(repo, 'test/fixtures/v2/sys/fs/cgroup/workloads/job-42c9/oomdemo');
  mkdirSync(join(cg, 'workloads'), { recursive: true });
  writeFileSync(join(cg, 'cgroup.controllers'), 'cpu io memory pids\n');
  writeFileSync(join(cg, 'cgroup.procs'), '');
  writeFileSync(join(cg, 'workloads/cgroup.procs'), '');
  writeFileSync(join(cg, 'workloads/memory.max'), 'max\n');
  writeFileSync(join(cg, 'workloads/memory.current'), `${Math.floor(fraction * LIMIT) * N}\n`);
  for (let i = 0; i < N; i++) {
    const d = join(cg, `workloads/cg-${i}`);
    mkdirSync(d);
    for (const f of ['memory.stat', 'memory.events', 'memory.pressure', 'memory.peak', 'memory.swap.current']) cpSync(join(demo, f), join(d, f));
    writeFileSync(join(d, 'memory.max'), `${LIMIT}\n`);
    writeFileSync(join(d, 'memory.high'), 'max\n');
    writeFileSync(join(d, 'memory.current'), `${Math.floor(fraction * LIMIT)}\n`);
    writeFileSync(join(d, 'cgroup.procs'), '');
  }
}

/** v1-kernfs: the cgroups of the current run ({ ownDir, parent }), removed after it. */
let v1Tree;

/** v1-kernfs: N empty cgroups under our own memory cgroup, read as often as fixture cgroups at `fraction`. */
function buildV1Tree(fraction) {
  const own = /^\d+:memory:(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
  if (own === undefined) throw new Error('--tree v1-kernfs: no cgroup v1 memory controller in /proc/self/cgroup');
  const ownDir = join(MEMROOT, own);
  const parent = join(ownDir, `memlens-poll-idle-${process.pid}`);
  mkdirSync(parent);
  const limit = Math.floor(((0.9 - fraction) / 0.9) * LIMIT / 4096) * 4096;
  for (let i = 0; i < N; i++) {
    const d = join(parent, `cg-${i}`);
    mkdirSync(d);
    writeFileSync(join(d, 'memory.limit_in_bytes'), String(limit));
  }
  return { ownDir, parent };
}

function removeV1Tree(parent) {
  for (let i = 0; i < N; i++) try { rmdirSync(join(parent, `cg-${i}`)); } catch {}
  rmdirSync(parent);
}

function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime, stime (fields 14, 15)
}

/** Wake-ups of the main (JS) thread: its voluntary context switches (each sleep in libuv's epoll_wait that ends). */
function wakeups(pid) {
  return Number(/^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

function readSyscalls(pid) {
  return Number(/^syscr: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? NaN);
}

async function measure(root, watch, build) {
  const port = await freePort();
  const common = ['--web.listen-address', `127.0.0.1:${port}`, '--path.kmsg', '/dev/null', '--snapshot.dir', join(root, 'snapshots'),
    '--log.level', 'warn', `--watch.enabled=${watch}`, ...build.flags];
  // v1-kernfs: unshare execs sh, which execs node: the child's pid is memlens's.
  const child = TREE === 'fixture'
    ? spawn(process.execPath, [join(build.dir, 'bin/memlens.js'), '--path.procfs', join(root, 'proc'), '--path.sysfs', join(root, 'sys'), ...common], { stdio: ['ignore', 'ignore', 'inherit'] })
    : spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
      `mount --bind "$0" ${MEMROOT} && mount -o remount,bind,ro ${MEMROOT} && exec "$@"`, v1Tree.ownDir,
      process.execPath, join(build.dir, 'bin/memlens.js'), ...common], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`memlens exited ${child.exitCode}`);
      try { if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break; } catch {}
      if (i > 600) throw new Error('memlens did not come up');
      await sleep(50);
    }
    await sleep(5000);
    const t0 = cpuTicks(child.pid); const r0 = readSyscalls(child.pid); const k0 = wakeups(child.pid); const w0 = performance.now(); const l0 = loadavg()[0];
    await sleep(SECONDS * 1000);
    const t1 = cpuTicks(child.pid); const r1 = readSyscalls(child.pid); const k1 = wakeups(child.pid); const w1 = performance.now();
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const polled = Number(/^memlens_watch_cgroups\{via="poll"\} (\d+)/m.exec(text)?.[1] ?? 0);
    return { cpuPct: ((t1 - t0) / TICK) / ((w1 - w0) / 1000) * 100, readsPerS: (r1 - r0) / ((w1 - w0) / 1000), wakeupsPerS: (k1 - k0) / ((w1 - w0) / 1000), polled, load1: l0 };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
  }
}

if (process.argv.includes('--build-only')) { buildTree(arg('build-only'), FRACTIONS[0]); process.exit(0); }
const rows = [];
for (const fraction of FRACTIONS) {
  for (let r = 0; r < RUNS; r++) {
    const root = mkdtempSync(join(tmpdir(), 'memlens-poll-idle-'));
    try {
      if (TREE === 'fixture') buildTree(root, fraction);
      else v1Tree = buildV1Tree(fraction);
      // Each checkout's watcher is measured against its own exporter idle (builds differ in more than the watcher:
      // e.g. how often the exporter wakes with nothing to do); flag sets of one checkout share that baseline.
      const baselines = new Map();
      for (const build of BUILDS) {
        let base = baselines.get(build.dir);
        if (base === undefined) baselines.set(build.dir, (base = await measure(root, false, { ...build, flags: [] })));
        const on = await measure(root, true, build);
        const row = {
          build: build.label, flags: build.flags.join(' '), tree: TREE, cgroups: N, fraction, seconds: SECONDS, baselineCpuPct: base.cpuPct, watchCpuPct: on.cpuPct,
          watcherCostPct: on.cpuPct - base.cpuPct, readsPerS: on.readsPerS - base.readsPerS, wakeupsPerS: on.wakeupsPerS - base.wakeupsPerS, polled: on.polled, load1: [base.load1, on.load1],
        };
        // Reads batched through Linux AIO (io_submit) are not counted by syscr: such a row (fewer read syscalls than a
        // tenth of the schedule's) takes the reads/s of a row of the same fraction and run that preads, whose schedule
        // is the same (same tree, same limits), and says so.
        if (row.readsPerS < 0.1 * N) {
          const peer = rows.find((r) => r.fraction === fraction && r.readsPerS >= 0.1 * N && !r.readsFrom);
          if (peer !== undefined) { row.syscrReadsPerS = row.readsPerS; row.readsPerS = peer.readsPerS; row.readsFrom = peer.build; }
        }
        row.usPerRead = (row.watcherCostPct / 100) * 1e6 / row.readsPerS;
        rows.push(row);
        console.error(JSON.stringify(row));
      }
    } finally {
      if (v1Tree !== undefined) removeV1Tree(v1Tree.parent);
      v1Tree = undefined;
      rmSync(root, { recursive: true, force: true });
    }
  }
}
const out = join(here, `results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(out, JSON.stringify({ cgroups: N, seconds: SECONDS, builds: BUILDS.map((b) => ({ ...b, commit: shortCommit(b.dir) })), rows }, null, 1));
console.log(`tree: ${TREE}`);
console.log(`| build | cgroups | usage / limit | polled | exporter idle (CPU % of a core) | with the watcher | watcher's cost | reads/s | main-thread wake-ups/s | µs per read | load1 |`);
console.log(`|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|`);
for (const r of rows) console.log(`| ${r.build}${r.flags ? ` (${r.flags})` : ''} | ${r.cgroups} | ${r.fraction} | ${r.polled} | ${r.baselineCpuPct.toFixed(2)} | ${r.watchCpuPct.toFixed(2)} | ${r.watcherCostPct.toFixed(2)} | ${r.readsPerS.toFixed(0)}${r.readsFrom ? ` (${r.readsFrom}'s: batched)` : ''} | ${r.wakeupsPerS.toFixed(0)} | ${r.usPerRead.toFixed(2)} | ${r.load1.map((x) => x.toFixed(1)).join(', ')} |`);
console.log(`written ${out}`);
