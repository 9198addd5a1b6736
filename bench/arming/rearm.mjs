#!/usr/bin/env node
// bench/arming/rearm: what a limit written over many watched v1 cgroups costs the exporter's event loop (issue 14: "a
// limit lowered or raised re-arms thresholds"). A parent's limit moves the effective limit, so the thresholds, of every
// cgroup under it at once: each re-registration of a threshold in cgroup.event_control waits for an RCU grace period in
// the kernel.
//
// usage (root, cgroup v1 memory controller writable; after `npx tsc -p .`):
//   node bench/arming/rearm.mjs [--cgroups 200] [--runs 1] [--memlens DIR ...]
// With several --memlens, the builds run alternately, `--runs` times each (an interleaved A/B).
//
// For each run: a parent cgroup (under this process's own memory cgroup) limited to 512 MiB with `--cgroups` children
// of no limit of their own; the real exporter (DIR/bin/memlens.js, --cgroup.include on the children, the process
// collector off, --log.level debug) watches them. Once every child's eventfds are armed, GET /healthz is sent in a
// loop, one request after the other, and 300 ms later the parent's limit is written (512 -> 256 MiB), then back
// (256 -> 512 MiB) once the first re-arm is done. Per write:
//   healthz max / p99 = the slowest /healthz answers from the write until every child is re-armed in the kernel + 100 ms
//                       (the exporter's event loop held: nothing else is answered meanwhile);
//   kernel            = the write -> the last child's thresholds registered in the kernel ("watch: eventfds armed";
//                       a build that registers on the event loop logs "watch: limit changed, thresholds moved" after it,
//                       and that line is used).
// Everything made is removed. Prints a markdown table; writes rearm-results-<time>.json.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { arg, freePort, ownMemoryCgroup, pct, removeAll } from '../lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const builds = process.argv.flatMap((a, i) => (a === '--memlens' && process.argv[i + 1] !== undefined ? [process.argv[i + 1]] : []));
if (builds.length === 0) builds.push(repo);
const N = Number(arg('cgroups', '200'));
const RUNS = Number(arg('runs', '1'));
const MiB = 2 ** 20;
const MEM = '/sys/fs/cgroup/memory';

/** One GET /healthz on a fresh connection: ms until the answer ended. */
function healthz(port) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    request({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - t0));
    }).on('error', reject).end();
  });
}

async function oneRun(memlens, run) {
  const own = ownMemoryCgroup().path;
  const parentPath = `${own === '/' ? '' : own}/memlens-rearm-${process.pid}-${run}`;
  const parentDir = join(MEM, parentPath);
  mkdirSync(parentDir);
  writeFileSync(join(parentDir, 'memory.limit_in_bytes'), String(512 * MiB));
  const kids = [];
  for (let i = 0; i < N; i++) {
    mkdirSync(join(parentDir, `c${i}`));
    kids.push(`${parentPath}/c${i}`);
  }
  const port = await freePort();
  const esc = parentPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const child = spawn(process.execPath, [join(memlens, 'bin/memlens.js'), '--web.listen-address', `127.0.0.1:${port}`,
    '--snapshot.dir', `/tmp/memlens-rearm-${process.pid}`, '--cgroup.include', `^${esc}/.+$`, '--collectors.disabled', 'process',
    '--log.level', 'debug'], { stdio: ['ignore', 'ignore', 'pipe'] });
  // cgroup -> wall ms of its latest "eventfds armed" (or eventfd-armed "armed", or "limit changed") line.
  const inKernel = new Map();
  const changed = new Map();
  createInterface({ input: child.stderr }).on('line', (line) => {
    let o;
    try { o = JSON.parse(line); } catch { return; }
    const at = Date.parse(o.time);
    if (o.msg === 'watch: eventfds armed') inKernel.set(o.cgroup, at);
    else if (o.msg === 'watch: armed' && o.via === 'v1-eventfd') inKernel.set(o.cgroup, at);
    else if (o.msg === 'watch: limit changed, thresholds moved') changed.set(o.cgroup, at);
  });
  const until = async (what, fn, ms) => {
    const deadline = Date.now() + ms;
    while (!fn()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(20);
    }
  };
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`memlens exited ${child.exitCode}`);
      try { await healthz(port); break; } catch { /* not yet */ }
      if (i > 600) throw new Error('memlens did not come up');
      await sleep(50);
    }
    await until('every cgroup armed', () => kids.every((k) => inKernel.has(k)), 60_000);
    await sleep(1000);
    const out = [];
    for (const limit of [256 * MiB, 512 * MiB]) {
      const load = loadavg()[0];
      const probes = [];
      let probing = true;
      const prober = (async () => {
        while (probing) {
          const sentMs = Date.now();
          probes.push({ sentMs, ms: await healthz(port) });
        }
      })();
      await sleep(300);
      const writeMs = Date.now();
      writeFileSync(join(parentDir, 'memory.limit_in_bytes'), String(limit));
      // In the kernel: every child's "limit changed" line, and then, for a build that registers off the event loop, its
      // "eventfds armed" line; a build that registers on the loop writes none after a re-arm (its "limit changed" line
      // comes after the registration).
      const after = (m, k) => (m.get(k) ?? 0) >= writeMs;
      await until(`every cgroup's limit changed at ${limit / MiB} MiB`, () => kids.every((k) => after(changed, k)), 60_000);
      const offLoop = await until('an eventfds line', () => kids.some((k) => after(inKernel, k)), 1_000).then(() => true, () => false);
      if (offLoop) await until(`every cgroup's eventfds at ${limit / MiB} MiB`, () => kids.every((k) => after(inKernel, k)), 60_000);
      const kernelMs = Math.max(...kids.map((k) => (offLoop ? inKernel : changed).get(k))) - writeMs;
      await sleep(100);
      probing = false;
      await prober;
      const endMs = writeMs + kernelMs + 100;
      // A probe counts when it was in flight at some point between the write and the end.
      const during = probes.filter((p) => p.sentMs + p.ms >= writeMs && p.sentMs <= endMs).map((p) => p.ms);
      const before = probes.filter((p) => p.sentMs + p.ms < writeMs).map((p) => p.ms);
      out.push({ limitMiB: limit / MiB, kernelMs, offLoop, probes: during.length, healthzMaxMs: Math.max(...during), healthzP99Ms: pct(during, 99),
        healthzP50Ms: pct(during, 50), beforeMaxMs: Math.max(...before), load });
    }
    return out;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    await removeAll(parentDir);
    rmSync(`/tmp/memlens-rearm-${process.pid}`, { recursive: true, force: true });
  }
}

const results = [];
for (let r = 0; r < RUNS; r++) {
  for (const b of builds) results.push({ build: b, run: r, writes: await oneRun(b, r) });
}
const file = join(here, `rearm-results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ cgroups: N, results }, null, 1));
console.log(`${N} cgroups under one parent; the parent's limit written 512 -> 256 -> 512 MiB`);
console.log('| run | build | write | kernel ms | /healthz during: n | p50 ms | p99 ms | max ms | max before ms | load1 |');
console.log('|---:|---|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of results) {
  for (const w of r.writes) {
    console.log(`| ${r.run} | ${r.build} | -> ${w.limitMiB} MiB | ${w.kernelMs} | ${w.probes} | ${w.healthzP50Ms.toFixed(1)} | ${w.healthzP99Ms.toFixed(1)} | ${w.healthzMaxMs.toFixed(1)} | ${w.beforeMaxMs.toFixed(1)} | ${w.load.toFixed(1)} |`);
  }
}
console.log(`written ${file}`);
