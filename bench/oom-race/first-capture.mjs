#!/usr/bin/env node
// bench/oom-race/first-capture.mjs: how long the first snapshot capture after memlens starts takes, against the
// captures after it (issue 14: a cold first capture of 484 ms in the v2 VM lost one race where the others took 67-103).
//
// usage (root, cgroup v1 or v2 memory controller writable; each build with `npx tsc -p .` done):
//   node bench/oom-race/first-capture.mjs [--rounds 8] [--victim-mib 200] [--wait-ms 1500] [--builds label=DIR,...]
//        [--count-compile]
//
// A cgroup made here (under this process's own memory cgroup) holds a victim: a node process with `--victim-mib` MiB
// touched (a node process, like the VM race's allocator, so its smaps has a few hundred mappings). For each round and
// each build, interleaved: a new node process starts that build's exporter in-process (startExporter, default flags but
// the process collector off, a fresh --snapshot.dir), waits `--wait-ms` (memlens is up and idle, as before a crossing),
// then takes 3 snapshots of the cgroup one after the other (the API's path: SnapshotService.snapshot). Per snapshot:
// the capture's own duration (captureDurationMs: what races the OOM killer), the whole call (capture + write), and
// the CPU time of the whole call (process.cpuUsage: less blurred by the host's load than wall time; where the CPU is
// the bottleneck, as in the emulated VM, it is what a cold start adds).
// Prints medians per build and capture index; writes first-capture-<time>.json here.
// --count-compile: each child runs under `node --log-function-events`, and each snapshot also gets V8's compile work
// inside it, a count the host's load does not blur: functions run for the first time and compile events (parse,
// preparse, bytecode, baseline, optimizing) with the sum of their logged durations (nested events, e.g. a full-parse in
// a parse-function, are both summed: an upper bound), in the capture proper (up to the store's write, whose first run
// marks it) and in the whole call. The windows are found by the first run of no-op functions the child calls at each
// snapshot's start and end (mlcapture_start_i, mlcapture_end_i).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { arg, ownMemoryCgroup, shortCommit } from '../lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const ROUNDS = Number(arg('rounds', '8'));
const VICTIM_MIB = Number(arg('victim-mib', '200'));
const WAIT_MS = Number(arg('wait-ms', '1500'));
const COUNT_COMPILE = process.argv.includes('--count-compile');
const BUILDS = arg('builds', `this=${repo}`).split(',').map((b) => {
  const i = b.indexOf('=');
  const dir = i < 0 ? repo : b.slice(i + 1);
  return { label: i < 0 ? b : b.slice(0, i), dir: dir === '.' ? repo : dir };
});

if (process.argv[2] === '--child') {
  // The exporter of one build, in this process; prints one JSON line.
  const [, , , dir, cgroupPath, snapDir, waitMs] = process.argv;
  const { loadConfig } = await import(join(dir, 'build/src/config/load.js'));
  const { startExporter } = await import(join(dir, 'build/src/main.js'));
  const { createLogger } = await import(join(dir, 'build/src/log.js'));
  const esc = cgroupPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const parsed = loadConfig(['--web.listen-address', '127.0.0.1:0', '--snapshot.dir', snapDir, '--log.level', 'error', '--collectors.disabled', 'process',
    '--cgroup.include', `^${esc}(/.*)?$`, '--snapshot.min-interval', '0s'], {});
  const running = await startExporter(parsed.config, createLogger('error'));
  await sleep(Number(waitMs));
  const caps = [];
  // Named no-ops called at each capture's start and end: with node --log-function-events their first-execution
  // events mark the captures' windows in V8's log (--count-compile).
  const mark = (name) => new Function(`return function ${name}() { return 0; }`)()();
  for (let i = 0; i < 3; i++) {
    mark(`mlcapture_start_${i}`);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const r = await running.snapshots.snapshot(cgroupPath, 'api', 'bench');
    const c = process.cpuUsage(c0);
    caps.push({ ok: r.ok, captureMs: r.doc?.captureDurationMs, totalMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, processes: r.doc?.processes.length, startMs: t0, endMs: performance.now() });
    mark(`mlcapture_end_${i}`);
  }
  await running.close();
  process.stdout.write(`${JSON.stringify(caps)}\n`);
  process.exit(0);
}

/** V8's compile work inside each snapshot's window of a --log-function-events log (see --count-compile). */
function compileWork(log) {
  const ev = readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('function,')).map((l) => {
    const f = l.split(',');
    return { kind: f[1], ms: Number(f[5]), atUs: Number(f[6]), name: f.slice(7).join(',') };
  });
  const at = (name) => ev.find((e) => e.kind === 'first-execution' && e.name === name)?.atUs;
  const count = (xs) => {
    const compile = xs.filter((x) => x.kind !== 'first-execution');
    return { firstExecutions: xs.filter((x) => x.kind === 'first-execution').length, compileEvents: compile.length, compileMs: compile.reduce((a, x) => a + x.ms, 0) };
  };
  return [0, 1, 2].map((i) => {
    const s = at(`mlcapture_start_${i}`);
    const e = at(`mlcapture_end_${i}`);
    if (s === undefined || e === undefined) throw new Error(`no markers for snapshot ${i} in ${log}`);
    const inWin = ev.filter((x) => x.atUs > s && x.atUs < e && !x.name.startsWith('mlcapture_'));
    const w = inWin.find((x) => x.kind === 'first-execution' && x.name === 'writePrivateFileAtomic')?.atUs ?? e;
    return { ...count(inWin), capture: count(inWin.filter((x) => x.atUs < w)) };
  });
}

const own = ownMemoryCgroup({ allowV2: true });
const mount = own.v2 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/memory';
const cgPath = `${own.path === '/' ? '' : own.path}/memlens-first-capture-${process.pid}`;
const cgDir = join(mount, cgPath);
mkdirSync(cgDir);
const victim = spawn(process.execPath, ['-e', `const b = Buffer.alloc(${VICTIM_MIB} * 2 ** 20, 1); process.stdout.write('ready\\n'); setInterval(() => b[0]++, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
const rows = [];
try {
  writeFileSync(join(cgDir, 'cgroup.procs'), String(victim.pid));
  await new Promise((resolve) => victim.stdout.once('data', resolve));
  for (let r = 0; r < ROUNDS; r++) {
    for (const b of BUILDS) {
      const snapDir = mkdtempSync(join(tmpdir(), 'memlens-first-capture-'));
      try {
        const load1 = loadavg()[0];
        const log = join(snapDir, 'v8.log');
        const v8 = COUNT_COMPILE ? ['--log-function-events', `--logfile=${log}`, '--no-logfile-per-isolate'] : [];
        const out = spawnSync(process.execPath, [...v8, fileURLToPath(import.meta.url), '--child', b.dir, cgPath, join(snapDir, 'snapshots'), String(WAIT_MS)], { encoding: 'utf8', timeout: 120_000 });
        const line = out.stdout.trim().split('\n').pop();
        if (out.status !== 0 || line === undefined || line === '') throw new Error(`child of ${b.label} failed (${out.status}): ${out.stderr.slice(-2000)}`);
        const caps = JSON.parse(line);
        if (COUNT_COMPILE) compileWork(log).forEach((c, i) => { caps[i].compile = c; });
        rows.push({ build: b.label, round: r, load1, caps });
        console.error(JSON.stringify(rows.at(-1)));
      } finally {
        rmSync(snapDir, { recursive: true, force: true });
      }
    }
  }
} finally {
  victim.kill('SIGKILL');
  await new Promise((r) => (victim.exitCode !== null || victim.signalCode !== null ? r() : victim.once('exit', r)));
  for (let i = 0; i < 100 && existsSync(cgDir); i++) { try { rmdirSync(cgDir); } catch { await sleep(50); } }
}
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const out = join(here, `first-capture-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(out, JSON.stringify({ rounds: ROUNDS, victimMib: VICTIM_MIB, waitMs: WAIT_MS, builds: BUILDS.map((b) => ({ ...b, commit: shortCommit(b.dir) })), rows }, null, 1));
console.log(`victim ${VICTIM_MIB} MiB node process; ${ROUNDS} rounds; load1 ${Math.min(...rows.map((r) => r.load1)).toFixed(1)}-${Math.max(...rows.map((r) => r.load1)).toFixed(1)}`);
console.log('| build | capture | median capture ms | max capture ms | median capture + write ms | median CPU ms (capture + write) |');
console.log('|---|---|---:|---:|---:|---:|');
for (const b of BUILDS) {
  for (let i = 0; i < 3; i++) {
    const xs = rows.filter((r) => r.build === b.label).map((r) => r.caps[i]);
    console.log(`| ${b.label} | ${['1st (cold)', '2nd', '3rd'][i]} | ${med(xs.map((x) => x.captureMs)).toFixed(1)} | ${Math.max(...xs.map((x) => x.captureMs)).toFixed(1)} | ${med(xs.map((x) => x.totalMs)).toFixed(1)} | ${med(xs.map((x) => x.cpuMs)).toFixed(1)} |`);
  }
}
if (COUNT_COMPILE) {
  console.log('| build | snapshot | functions run for the first time: capture / + write | compile events: capture / + write | compile ms logged: capture / + write |');
  console.log('|---|---|---:|---:|---:|');
  for (const b of BUILDS) {
    for (let i = 0; i < 3; i++) {
      const xs = rows.filter((r) => r.build === b.label).map((r) => r.caps[i].compile);
      const m = (f) => `${med(xs.map((x) => f(x.capture)))} / ${med(xs.map(f))}`;
      console.log(`| ${b.label} | ${['1st', '2nd', '3rd'][i]} | ${m((x) => x.firstExecutions)} | ${m((x) => x.compileEvents)} | ${med(xs.map((x) => x.capture.compileMs)).toFixed(1)} / ${med(xs.map((x) => x.compileMs)).toFixed(1)} |`);
    }
  }
}
console.log(`written ${out}`);
