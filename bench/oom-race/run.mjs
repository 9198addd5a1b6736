#!/usr/bin/env node
// bench/oom-race: does the snapshot beat the OOM killer? (issue 5)
//
// usage (root, cgroup v1 memory writable, /dev/kmsg readable, gcc; after `npx tsc -p .`):
//   node bench/oom-race/run.mjs [--runs 20] [--rates 100,1024,0] [--modes nohold,hold] [--thresholds 0.9,0.95]
//        [--ages old,young]   (young: a fresh cgroup per run, made and limited 200 ms before the ramp)
//
// For each mode (without / with --snapshot.hold) one real exporter (node bin/memlens.js) runs with
// --cgroup.include on one test cgroup (256 MiB, under this process's own memory cgroup) and
// --snapshot.min-interval 1s (the default 30 s would debounce back-to-back runs). For each rate
// (MiB/s; 0 = as fast as one process can fault pages in) `--runs` times: an allocator (alloc.c,
// compiled here) joins the cgroup and ramps until the OOM killer takes it. A kill counts as
// "complete" when its /api/v1/oom-kills record has a snapshotId, and /api/v1/snapshots/:id holds
// the victim pid with status and smaps_rollup, and the snapshot's captureEndMs < the kill's timeMs.
// Per run it also keeps the crossing events (/api/v1/events), the snapshot's start, end and hold,
// so a miss says where the time went. Writes bench/oom-race/results-<time>.json and prints the
// markdown table (appended to bench/RESULTS.md by hand).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { arg, freePort, ownMemoryCgroup } from '../lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const MiB = 1024 * 1024;
const LIMIT = 256 * MiB;

const RUNS = Number(arg('runs', '20'));
const RATES = arg('rates', '100,1024,0').split(',').map(Number);
const MODES = arg('modes', 'nohold,hold').split(',');
const THRESHOLDS = arg('thresholds', '0.9,0.95');
const HOLD_MAX = arg('hold-max', '2s');
// old: one cgroup made (and watched) before the runs; young: a new cgroup per run, made and limited 200 ms before the
// ramp starts (issue 14), removed after its kill.
const AGES = arg('ages', 'old').split(',');
const YOUNG_MS = 200;

async function getJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

async function waitFor(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

function pidsOf(dir) {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter((l) => l.trim() !== '').map(Number);
  } catch {
    return [];
  }
}

const MEM = '/sys/fs/cgroup/memory';
const own = ownMemoryCgroup().path;
const tmp = mkdtempSync(join(tmpdir(), 'memlens-oom-race-'));
const bin = join(tmp, 'oomrace-alloc');
const cc = spawnSync('gcc', ['-O2', '-Wall', '-Werror', '-o', bin, join(here, 'alloc.c')], { encoding: 'utf8' });
if (cc.status !== 0) throw new Error(`gcc: ${cc.stderr}`);
if (!existsSync(join(repo, 'build/src/cli.js'))) throw new Error('build first: npx tsc -p .');
const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8' }).stdout.trim();
const dirty = spawnSync('git', ['status', '--porcelain', 'src'], { cwd: repo, encoding: 'utf8' }).stdout.trim() !== '';

const cleanups = [];
let exporter;
async function cleanup() {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()();
    } catch (err) {
      console.error(`cleanup: ${err.message}`);
    }
  }
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

async function runMode(mode) {
  const hold = mode === 'hold';
  const path = `${own === '/' ? '' : own}/memlens-bench-${process.pid}-${mode}`;
  const dir = join(MEM, path);
  mkdirSync(dir);
  cleanups.push(async () => {
    writeFileSync(join(dir, 'memory.oom_control'), '0');
    for (let i = 0; i < 100 && pidsOf(dir).length > 0; i++) {
      for (const p of pidsOf(dir)) {
        try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
      }
      await sleep(20);
    }
    for (const sub of readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory())) {
      const sd = join(dir, sub.name);
      for (let i = 0; i < 100 && pidsOf(sd).length > 0; i++) {
        for (const p of pidsOf(sd)) {
          try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
        }
        await sleep(20);
      }
      for (let i = 0; i < 100; i++) {
        try { rmdirSync(sd); break; } catch (err) { if (err.code === 'ENOENT') break; await sleep(50); }
      }
    }
    for (let i = 0; i < 100; i++) {
      try { rmdirSync(dir); break; } catch (err) { if (err.code === 'ENOENT') break; await sleep(50); }
    }
  });
  const snapDir = join(tmp, `snapshots-${mode}`);
  const port = await freePort();
  const esc = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const logFile = join(tmp, `memlens-${mode}.log`);
  const out = createWriteStream(logFile);
  const args = [
    join(repo, 'bin/memlens.js'), '--web.listen-address', `127.0.0.1:${port}`, '--snapshot.dir', snapDir, '--cgroup.include', `^${esc}(/.*)?$`,
    '--collectors.disabled', 'process', '--snapshot.min-interval', '1s', '--watch.thresholds', THRESHOLDS, '--snapshot.hold', String(hold),
    '--snapshot.hold-max', HOLD_MAX, '--log.level', 'info',
  ];
  exporter = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  exporter.stdout.pipe(out);
  exporter.stderr.pipe(out);
  const ex = exporter;
  cleanups.push(async () => {
    if (ex.exitCode === null && ex.signalCode === null) {
      ex.kill('SIGTERM');
      await Promise.race([new Promise((r) => ex.once('exit', r)), sleep(5000)]);
      if (ex.exitCode === null && ex.signalCode === null) ex.kill('SIGKILL');
    }
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor('the exporter', async () => {
    try {
      await getJson(`${base}/api/v1/snapshots`);
      return true;
    } catch {
      return undefined;
    }
  }, 20_000);
  await sleep(1500); // the watcher's first cgroup walk registers the threshold eventfds

  const results = [];
  for (const age of AGES) for (const rate of RATES) {
    if (age === 'young') writeFileSync(join(dir, 'memory.limit_in_bytes'), '-1');
    for (let run = 0; run < RUNS; run++) {
      await waitFor('usage back down', () => (Number(readFileSync(join(dir, 'memory.usage_in_bytes'), 'utf8')) < 16 * MiB && pidsOf(dir).length === 0 ? true : undefined), 20_000);
      await sleep(1100); // --snapshot.min-interval 1s since the last crossing
      let cgPath = path;
      let cgDir = dir;
      let madeMs = 0;
      if (age === 'young') {
        cgPath = `${path}/young-${rate}-${run}`;
        cgDir = join(MEM, cgPath);
        mkdirSync(cgDir);
        writeFileSync(join(cgDir, 'memory.limit_in_bytes'), String(LIMIT));
        madeMs = Date.now();
      } else {
        writeFileSync(join(dir, 'memory.limit_in_bytes'), String(LIMIT));
        if (run === 0) await sleep(1500); // the limit just written is watched
      }
      const alloc = spawn(bin, [join(cgDir, 'cgroup.procs'), String(rate)], { stdio: ['pipe', 'pipe', 'pipe'] });
      const exited = new Promise((r) => alloc.once('exit', (code, sig) => r({ code, sig })));
      await new Promise((resolve, reject) => {
        let s = '';
        alloc.stdout.on('data', (d) => {
          s += d;
          if (s.includes('ready')) resolve();
        });
        alloc.once('exit', (code, sig) => reject(new Error(`allocator exited before ready (${code ?? sig})`)));
      });
      if (age === 'young' && Date.now() - madeMs < YOUNG_MS) await sleep(YOUNG_MS - (Date.now() - madeMs));
      const startMs = Date.now();
      alloc.stdin.write('g');
      const ex2 = await Promise.race([exited, sleep(60_000).then(() => undefined)]);
      if (ex2 === undefined) {
        alloc.kill('SIGKILL');
        throw new Error('allocator not killed within 60 s');
      }
      const exitMs = Date.now();
      const r = { mode, age, rate, run, pid: alloc.pid, startMs, exitMs, exit: ex2.sig ?? ex2.code, madeBeforeMs: age === 'young' ? startMs - madeMs : null };
      try {
        const kill = await waitFor('the OOM record', async () => (await getJson(`${base}/api/v1/oom-kills?cgroup=${encodeURIComponent(cgPath)}`)).kills.find((k) => k.victim.pid === alloc.pid), 5000);
        r.killMs = kill.timeMs;
        r.snapshotId = kill.snapshotId ?? null;
        const events = (await getJson(`${base}/api/v1/events?cgroup=${encodeURIComponent(cgPath)}&since=${new Date(startMs).toISOString()}`)).events.reverse();
        r.crossings = events.filter((e) => e.threshold !== null).map((e) => ({ threshold: e.threshold, atMs: e.timeMs - startMs, usageMiB: e.usageBytes / MiB, latencyMs: e.latencySeconds * 1000 }));
        if (kill.snapshotId !== undefined) {
          const doc = await getJson(`${base}/api/v1/snapshots/${kill.snapshotId}`);
          const v = doc.processes.find((p) => p.pid === alloc.pid);
          r.snapStartMs = doc.timeMs - startMs;
          r.captureEndMs = doc.captureEndMs - startMs;
          r.captureDurationMs = doc.captureDurationMs;
          r.victimStage = v?.stage ?? 'absent';
          r.victimGoneAt = v?.goneAt ?? null;
          r.hold = doc.hold === undefined ? null : { setMs: doc.hold.setAtMs - startMs, restoredMs: doc.hold.restoredAtMs === undefined ? null : doc.hold.restoredAtMs - startMs, error: doc.hold.error ?? null };
          r.complete = v !== undefined && v.status !== undefined && v.smapsRollup !== undefined && doc.captureEndMs < kill.timeMs;
        } else r.complete = false;
        r.killAtMs = kill.timeMs - startMs;
      } catch (err) {
        r.error = err.message;
        r.complete = false;
      }
      results.push(r);
      console.error(JSON.stringify(r));
      if (age === 'young') {
        for (let i = 0; i < 200; i++) {
          try { rmdirSync(cgDir); break; } catch (err) { if (err.code === 'ENOENT') break; await sleep(50); }
        }
      }
    }
  }
  return results;
}

const all = [];
try {
  for (const mode of MODES) {
    all.push(...(await runMode(mode)));
    await cleanup();
  }
} finally {
  await cleanup();
}

const rateName = (r) => (r === 0 ? 'full speed' : r >= 1024 ? `${r / 1024} GiB/s` : `${r} MiB/s`);
const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
};
const lines = [
  `| cgroup | ramp | hold | complete | linked | median: 1st crossing → kill | median capture | median capture end → kill | measured ramp (MiB/s, 0→kill) |`,
  '|---|---|---|---|---|---|---|---|---|',
];
for (const age of AGES) for (const rate of RATES) {
  for (const mode of MODES) {
    const rs = all.filter((r) => r.rate === rate && r.mode === mode && r.age === age);
    if (rs.length === 0) continue;
    const ok = rs.filter((r) => r.complete).length;
    const linked = rs.filter((r) => r.snapshotId).length;
    const cross = median(rs.map((r) => (r.crossings?.[0] === undefined ? NaN : r.killAtMs - r.crossings[0].atMs)));
    const cap = median(rs.map((r) => r.captureDurationMs));
    const margin = median(rs.map((r) => (r.captureEndMs === undefined ? NaN : r.killAtMs - r.captureEndMs)));
    const ramp = median(rs.map((r) => 256 / (r.killAtMs / 1000)));
    lines.push(`| ${age === 'young' ? `young (made ${YOUNG_MS} ms before)` : 'old'} | ${rateName(rate)} | ${mode === 'hold' ? 'on' : 'off'} | **${ok}/${rs.length} (${Math.round((100 * ok) / rs.length)} %)** | ${linked}/${rs.length} | ${cross.toFixed(1)} ms | ${cap.toFixed(1)} ms | ${margin.toFixed(1)} ms | ${ramp.toFixed(0)} |`);
  }
}
const table = lines.join('\n');
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const file = join(here, `results-${stamp}.json`);
writeFileSync(file, JSON.stringify({ commit, dirty, ages: AGES, thresholds: THRESHOLDS, holdMax: HOLD_MAX, runs: RUNS, kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(), results: all }, null, 1));
console.log(`commit ${commit}${dirty ? ' (src modified)' : ''}, thresholds ${THRESHOLDS}, hold-max ${HOLD_MAX}, ${RUNS} runs per cell; raw: ${file}\n`);
console.log(table);
console.log(`\nexporter logs and snapshots: ${tmp}`);
