#!/usr/bin/env node
// bench/poll-idle/micro.mjs: the CPU of one poll read in the v2 watcher, split into the pread itself and the JS around
// it (issue 14). Builds bench/poll-idle's fixture tree (N cgroups of 256 MiB at `fraction` of it) in a temporary
// directory, arms a CgroupWatcher (v2, the kernel event loop, default thresholds) on it, then alternates, ROUNDS times:
//   pread: the same koffi pread of the same N held fds, nothing else (the floor);
//   poll:  watcher.pollOnce(true): every cgroup read, parsed, tracked and rescheduled, as the poll timer does;
//   due:   watcher.pollOnce(false) right after a poll: the wake-up's walk with no read due (what a wake-up costs
//          beyond its reads).
// Then SPREAD bursts GAP ms apart, pread and poll alternately (the idle exporter's shape: caches cooled between bursts).
// CPU per read from process.cpuUsage (user + system), medians over rounds. No root; removes the tree.
// usage (after `npx tsc -p .`): node bench/poll-idle/micro.mjs [--cgroups 500] [--rounds 400] [--fraction 0.06]
//        [--spread 100] [--gap-ms 100] [--build DIR]   (another checkout's build/, e.g. /work/base-48350ca, for an A/B in the same process run)
import { mkdtempSync, rmSync, openSync, closeSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (n, d) => { const i = process.argv.indexOf(`--${n}`); return i >= 0 ? process.argv[i + 1] : d; };
const N = Number(arg('cgroups', '500'));
const ROUNDS = Number(arg('rounds', '400'));
const FRACTION = Number(arg('fraction', '0.06'));
const BUILD = arg('build', join(here, '..', '..'));
const SPREAD = Number(arg('spread', '100'));
const GAP = Number(arg('gap-ms', '100'));
const imp = (p) => import(pathToFileURL(join(BUILD, 'build/src', p)).href);
const { KernelEventLoop } = await imp('kernel/eventLoop.js');
const { WatchBus } = await imp('watch/bus.js');
const { WatchStats } = await imp('watch/stats.js');
const { CgroupWatcher } = await imp('watch/watcher.js');
const { sys } = await imp('kernel/sys.js');
const { pino } = await import('pino');

const root = mkdtempSync(join(tmpdir(), 'memlens-poll-micro-'));
const LIMIT = 256 * 2 ** 20;
const loop = new KernelEventLoop();
const log = pino({ level: 'warn' }, new Writable({ write(_c, _e, cb) { cb(); } }));
const watcher = new CgroupWatcher({ mode: 'v2', loop, bus: new WatchBus(), stats: new WatchStats(), log, thresholds: [0.9, 0.95],
  pollIntervalMs: 15000, maxCgroups: 100000, include: undefined, exclude: undefined });
const fds = [];
try {
  const b = spawnSync(process.execPath, [join(here, 'run.mjs'), '--build-only', root, '--cgroups', String(N), '--fractions', String(FRACTION)], { stdio: 'inherit' });
  if (b.status !== 0) throw new Error('fixture build failed');
  const cg = join(root, 'sys/fs/cgroup/workloads');
  const obs = [];
  for (let i = 0; i < N; i++) {
    obs.push({ path: `/workloads/cg-${i}`, dir: join(cg, `cg-${i}`), usageBytes: Math.floor(FRACTION * LIMIT), effectiveLimitBytes: LIMIT });
    fds.push(openSync(join(cg, `cg-${i}`, 'memory.current'), 'r'));
  }
  watcher.observe(obs);
  if (watcher.heldFdCount() !== N) throw new Error(`watching ${watcher.heldFdCount()} of ${N}`);
  const buf = Buffer.alloc(64);
  const cpu = (f) => { const c0 = process.cpuUsage(); f(); const c = process.cpuUsage(c0); return c.user + c.system; };
  const pread = () => { for (const fd of fds) if (sys.pread(fd, buf, 64, 0) < 0) throw new Error('pread'); };
  const poll = () => watcher.pollOnce(true);
  const due = () => watcher.pollOnce(false);
  for (let i = 0; i < 100; i++) { pread(); poll(); due(); } // JIT
  const t = { pread: [], poll: [], due: [] };
  for (let i = 0; i < ROUNDS; i++) { t.pread.push(cpu(pread) / N); t.poll.push(cpu(poll) / N); t.due.push(cpu(due)); }
  // The idle exporter's shape: a burst every GAP ms, caches cooled by whatever runs in between.
  const s = { pread: [], poll: [] };
  for (let i = 0; i < SPREAD; i++) {
    await sleep(GAP);
    if (i % 2 === 0) s.pread.push(cpu(pread) / N); else s.poll.push(cpu(poll) / N);
  }
  const med = (a) => { const x = [...a].sort((p, q) => p - q); return x[Math.floor(x.length / 2)]; };
  const r = { build: BUILD, cgroups: N, rounds: ROUNDS, usPerReadPread: med(t.pread), usPerReadPoll: med(t.poll), usWakeupWalkNoneDue: med(t.due),
    spreadBursts: SPREAD, gapMs: GAP, spreadUsPerReadPread: med(s.pread), spreadUsPerReadPoll: med(s.poll), load1: loadavg()[0] };
  r.usPerReadJs = r.usPerReadPoll - r.usPerReadPread;
  r.spreadUsPerReadJs = r.spreadUsPerReadPoll - r.spreadUsPerReadPread;
  console.log(JSON.stringify(r));
} finally {
  watcher.close?.();
  loop.close?.();
  for (const fd of fds) closeSync(fd);
  rmSync(root, { recursive: true, force: true });
}
