#!/usr/bin/env node
// bench/oom-race/compile-in-capture.mjs: V8's compile work inside each of the first three captures after memlens starts
// (a count, not a time: it does not depend on the host's load). Companion of first-capture.mjs.
//
// usage (root, as first-capture.mjs):
//   node bench/oom-race/compile-in-capture.mjs [--rounds 3] [--victim-mib 200] [--builds label=DIR,...]
//
// Runs first-capture.mjs's child (the exporter in-process, 3 captures of a cgroup holding a node process) under
// `node --log-function-events`, finds each capture's window by the first execution of the no-op functions the child
// calls at its start and end (mlcapture_start_i, mlcapture_end_i), and counts in it the functions executed for the first
// time and the compile events (parse, preparse, bytecode, baseline, optimizing) with the sum of their logged durations
// (nested events, e.g. a full-parse inside a parse-function, are both summed: an upper bound), in the capture proper
// (up to the store's write, whose first run marks it) and in the whole snapshot call.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const arg = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : d; };
const ROUNDS = Number(arg('rounds', '3'));
const VICTIM_MIB = Number(arg('victim-mib', '200'));
const BUILDS = arg('builds', `this=${repo}`).split(',').map((b) => {
  const i = b.indexOf('=');
  const dir = i < 0 ? repo : b.slice(i + 1);
  return { label: i < 0 ? b : b.slice(0, i), dir: dir === '.' ? repo : dir };
});

function windows(log) {
  const ev = readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('function,')).map((l) => {
    const f = l.split(',');
    return { kind: f[1], ms: Number(f[5]), atUs: Number(f[6]), name: f.slice(7).join(',') };
  });
  const at = (name) => ev.find((e) => e.kind === 'first-execution' && e.name === name)?.atUs;
  const out = [];
  for (let i = 0; i < 3; i++) {
    const s = at(`mlcapture_start_${i}`);
    const e = at(`mlcapture_end_${i}`);
    if (s === undefined || e === undefined) throw new Error(`no markers for capture ${i} in ${log}`);
    const inWin = ev.filter((x) => x.atUs > s && x.atUs < e && !x.name.startsWith('mlcapture_'));
    // The capture proper ends where the store's write starts (its first run in this window, if it is one).
    const w = inWin.find((x) => x.kind === 'first-execution' && x.name === 'writePrivateFileAtomic')?.atUs ?? e;
    const count = (xs) => {
      const compile = xs.filter((x) => x.kind !== 'first-execution');
      return { firstExecutions: xs.filter((x) => x.kind === 'first-execution').length, compileEvents: compile.length, compileMs: compile.reduce((a, x) => a + x.ms, 0) };
    };
    out.push({ ...count(inWin), capture: count(inWin.filter((x) => x.atUs < w)) });
  }
  return out;
}

const own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').map((l) => l.split(':')).find(([h, c]) => c !== undefined && (c.split(',').includes('memory') || (h === '0' && c === '')));
if (own === undefined) throw new Error('no memory cgroup in /proc/self/cgroup');
const v2 = own[0] === '0' && own[1] === '';
const cgPath = `${own[2] === '/' ? '' : own[2]}/memlens-compile-capture-${process.pid}`;
const cgDir = join(v2 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/memory', cgPath);
mkdirSync(cgDir);
const victim = spawn(process.execPath, ['-e', `const b = Buffer.alloc(${VICTIM_MIB} * 2 ** 20, 1); process.stdout.write('ready\\n'); setInterval(() => b[0]++, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
const rows = [];
try {
  writeFileSync(join(cgDir, 'cgroup.procs'), String(victim.pid));
  await new Promise((resolve) => victim.stdout.once('data', resolve));
  for (let r = 0; r < ROUNDS; r++) {
    for (const b of BUILDS) {
      const tmp = mkdtempSync(join(tmpdir(), 'memlens-compile-capture-'));
      try {
        const log = join(tmp, 'v8.log');
        const out = spawnSync(process.execPath, ['--log-function-events', `--logfile=${log}`, '--no-logfile-per-isolate', join(here, 'first-capture.mjs'), '--child', b.dir, cgPath, join(tmp, 'snapshots'), '1500'], { encoding: 'utf8', timeout: 120_000 });
        if (out.status !== 0) throw new Error(`child of ${b.label} failed (${out.status}): ${out.stderr.slice(-2000)}`);
        const caps = JSON.parse(out.stdout.trim().split('\n').pop());
        rows.push({ build: b.label, round: r, load1: loadavg()[0], caps: caps.map((c, i) => ({ captureMs: c.captureMs, ...windows(log)[i] })) });
        console.error(JSON.stringify(rows.at(-1)));
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    }
  }
} finally {
  victim.kill('SIGKILL');
  await new Promise((r) => (victim.exitCode !== null || victim.signalCode !== null ? r() : victim.once('exit', r)));
  for (let i = 0; i < 100 && existsSync(cgDir); i++) { try { rmdirSync(cgDir); } catch { await sleep(50); } }
}
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const commit = (dir) => spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).stdout.trim() || '?';
const file = join(here, `compile-in-capture-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ rounds: ROUNDS, victimMib: VICTIM_MIB, builds: BUILDS.map((b) => ({ ...b, commit: commit(b.dir) })), rows }, null, 1));
console.log('| build | snapshot | functions run for the first time: capture / capture + write | compile events: capture / capture + write | compile ms (logged, nested events summed): capture / capture + write | capture ms |');
console.log('|---|---|---:|---:|---:|---:|');
for (const b of BUILDS) {
  for (let i = 0; i < 3; i++) {
    const xs = rows.filter((r) => r.build === b.label).map((r) => r.caps[i]);
    console.log(`| ${b.label} | ${['1st', '2nd', '3rd'][i]} | ${med(xs.map((x) => x.capture.firstExecutions))} / ${med(xs.map((x) => x.firstExecutions))} | ${med(xs.map((x) => x.capture.compileEvents))} / ${med(xs.map((x) => x.compileEvents))} | ${med(xs.map((x) => x.capture.compileMs)).toFixed(1)} / ${med(xs.map((x) => x.compileMs)).toFixed(1)} | ${med(xs.map((x) => x.captureMs)).toFixed(1)} |`);
  }
}
console.log(`written ${file}`);
