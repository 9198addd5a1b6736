// The poller reads every cgroup due at a wake-up in one batch (kernel/batchRead.ts, Linux AIO): 40 polled cgroups
// (regular files standing in for memory.current) give the same crossings batched as read one pread at a time, and a
// cgroup whose file is gone is dropped from the batch, not thrown. Needs koffi, no root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { KernelEventLoop } from '../../../src/kernel/eventLoop.js';
import { WatchBus, type WatchEvent } from '../../../src/watch/bus.js';
import { WatchStats } from '../../../src/watch/stats.js';
import { CgroupWatcher } from '../../../src/watch/watcher.js';

const MiB = 2 ** 20;
const LIMIT = 256 * MiB;
const N = 40;

function run(batchReads: boolean): { events: string[]; logs: string[]; watched: number } {
  const root = mkdtempSync(join(tmpdir(), 'memlens-batchpoll-'));
  const loop = new KernelEventLoop();
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write(c: Buffer, _e, cb) { logs.push(c.toString('utf8')); cb(); } }));
  const bus = new WatchBus();
  const events: string[] = [];
  bus.on((ev: WatchEvent) => { if (ev.threshold !== undefined) events.push(`${ev.cgroup} ${ev.threshold} ${ev.usageBytes}`); });
  const watcher = new CgroupWatcher({ mode: 'v2', loop, bus, stats: new WatchStats(), log, thresholds: [0.9, 0.95], pollIntervalMs: 15000,
    maxCgroups: 1000, include: undefined, exclude: undefined, psi: false, batchReads });
  try {
    const obs = [];
    for (let i = 0; i < N; i++) {
      const dir = join(root, `cg-${i}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'memory.current'), `${10 * MiB}\n`);
      writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n');
      obs.push({ path: `/cg-${i}`, dir, usageBytes: 10 * MiB, effectiveLimitBytes: LIMIT });
    }
    watcher.observe(obs);
    watcher.pollOnce(true);
    // Every third cgroup past 0.9, every fifth past 0.95 as well; one cgroup's file removed.
    for (let i = 0; i < N; i++) {
      if (i % 5 === 0) writeFileSync(join(root, `cg-${i}`, 'memory.current'), `${Math.ceil(0.96 * LIMIT)}\n`);
      else if (i % 3 === 0) writeFileSync(join(root, `cg-${i}`, 'memory.current'), `${Math.ceil(0.91 * LIMIT)}\n`);
    }
    rmSync(join(root, 'cg-7', 'memory.current'));
    writeFileSync(join(root, 'cg-8', 'memory.current'), 'garbage\n');
    watcher.pollOnce(true);
    watcher.pollOnce(true);
    return { events: events.sort(), logs, watched: watcher.heldFdCount() };
  } finally {
    watcher.close();
    loop.close();
    rmSync(root, { recursive: true, force: true });
  }
}

test('batched poll reads publish the same crossings as one pread per cgroup', () => {
  const batched = run(true);
  const single = run(false);
  const expected: string[] = [];
  for (let i = 0; i < N; i++) {
    if (i % 5 === 0) for (const t of [0.9, 0.95]) expected.push(`/cg-${i} ${t} ${Math.ceil(0.96 * LIMIT)}`);
    else if (i % 3 === 0) expected.push(`/cg-${i} 0.9 ${Math.ceil(0.91 * LIMIT)}`);
  }
  assert.deepEqual(batched.events, expected.sort());
  assert.deepEqual(single.events, batched.events);
  assert.ok(!batched.logs.some((l) => l.includes('no batched reads')), 'the batched run had AIO');
  assert.ok(!batched.logs.some((l) => l.includes('batched reads (Linux AIO) failed')));
  // A removed file is still readable through its held fd (the inode lives on): the watch stays until the tree drops it.
  assert.equal(batched.watched, single.watched);
});
