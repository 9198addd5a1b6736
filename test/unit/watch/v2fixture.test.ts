// The v2 watcher over a copy of the real v2 fixture tree (Ubuntu 24.04, 6.18): rewriting memory.current is seen by
// the poller (upward crossings only), rewriting memory.events by inotify (oom/oom_kill deltas); the PSI trigger is
// refused on a regular file (logged once, the watcher goes on); deleting the cgroup drops the watch and its fds.
// Needs koffi (epoll/inotify) but no root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { KernelEventLoop } from '../../../src/kernel/eventLoop.js';
import { WatchBus, type WatchEvent } from '../../../src/watch/bus.js';
import { WatchStats } from '../../../src/watch/stats.js';
import { CgroupWatcher } from '../../../src/watch/watcher.js';
import { eventsRouter } from '../../../src/http/api.js';
import express from 'express';
import { until } from '../../helpers/wait.js';

const MiB = 2 ** 20;
const CG = '/workloads/job-42c9/oomdemo';

test('v2 fixture tree: poller and inotify events, PSI refusal said once, removal drops the watch', async () => {
  const root = mkdtempSync(join(tmpdir(), 'memlens-v2watch-'));
  const loop = new KernelEventLoop();
  const logLines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'debug' }, new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') logLines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  }));
  const bus = new WatchBus();
  const stats = new WatchStats();
  const events: WatchEvent[] = [];
  bus.on((ev) => events.push(ev));
  const watcher = new CgroupWatcher({ mode: 'v2', loop, bus, stats, log, thresholds: [0.9, 0.95], pollIntervalMs: 20, maxCgroups: 10, include: undefined, exclude: undefined });
  try {
    cpSync('test/fixtures/v2/sys', join(root, 'sys'), { recursive: true });
    const dir = join(root, 'sys/fs/cgroup', CG);
    const limit = 64 * MiB; // the fixture's memory.max
    const baseLoop = loop.openFdCount();
    watcher.observe([
      { path: CG, dir, usageBytes: 327680, effectiveLimitBytes: limit },
      { path: '/workloads', dir: join(root, 'sys/fs/cgroup/workloads'), usageBytes: 1, effectiveLimitBytes: undefined },
    ]);
    const list = watcher.list();
    assert.deepEqual(list.map((w) => [w.path, w.via, w.psi]), [[CG, 'poll', false]]);
    assert.equal(watcher.heldFdCount(), 1);
    const psiLines = logLines.filter((l) => String(l['msg']).includes('PSI'));
    assert.equal(psiLines.length, 1, 'the refused PSI trigger is said once');

    writeFileSync(join(dir, 'memory.current'), String(Math.floor(0.92 * limit)));
    await until('0.9 by the poller', () => events.some((e) => e.threshold === 0.9), 2000);
    writeFileSync(join(dir, 'memory.current'), String(Math.floor(0.5 * limit)));
    await sleep(60);
    writeFileSync(join(dir, 'memory.current'), String(Math.floor(0.97 * limit)));
    await until('0.95 by the poller', () => events.some((e) => e.threshold === 0.95), 2000);
    const crossings = events.filter((e) => e.threshold !== null);
    assert.deepEqual(crossings.map((e) => [e.source, e.threshold, e.usageBytes, e.limitBytes]), [
      ['v2-poll', 0.9, Math.floor(0.92 * limit), limit],
      ['v2-poll', 0.9, Math.floor(0.97 * limit), limit],
      ['v2-poll', 0.95, Math.floor(0.97 * limit), limit],
    ]);
    assert.equal(stats.crossingCount(CG, 0.9), 2);

    // The fixture has max 42, oom 1, oom_kill 1: the kill of a second process.
    writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 45\noom 2\noom_kill 2\noom_group_kill 0\n');
    await until('memory.events by inotify', () => events.filter((e) => e.source === 'v2-events').length >= 3, 2000);
    await sleep(50);
    const kernel = events.filter((e) => e.source === 'v2-events');
    assert.deepEqual(kernel.map((e) => [e.event, e.count, e.threshold]).sort(), [['max', 3, null], ['oom', 1, null], ['oom_kill', 1, null]]);
    assert.ok(stats.latency.observations >= 6);
    assert.ok(kernel.every((e) => e.latencySeconds >= 0 && e.latencySeconds < 0.5));

    // The API: newest first, filtered.
    const app = express().use(eventsRouter(bus));
    const server = app.listen(0);
    try {
      await new Promise<void>((r) => server.once('listening', () => r()));
      const addr = server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      const body = (await (await fetch(`http://127.0.0.1:${port}/api/v1/events?cgroup=${encodeURIComponent(CG)}&limit=2`)).json()) as { events: Array<{ id: number; time: string }> };
      assert.equal(body.events.length, 2);
      assert.ok(body.events[0]!.id > body.events[1]!.id);
      assert.match(body.events[0]!.time, /^\d{4}-\d\d-\d\dT/);
      const bad = await fetch(`http://127.0.0.1:${port}/api/v1/events?limit=0`);
      assert.equal(bad.status, 400);
    } finally {
      server.close();
    }

    // The cgroup goes away: inotify's IN_IGNORED drops the watch, the poll fd is closed.
    rmSync(dir, { recursive: true });
    await until('the watch dropped', () => watcher.list().length === 0, 2000);
    assert.equal(watcher.heldFdCount(), 0);
    assert.equal(loop.openFdCount(), baseLoop);
    assert.deepEqual(logLines.filter((l) => Number(l['level']) >= 50), []);
  } finally {
    watcher.close();
    await loop.close();
    rmSync(root, { recursive: true, force: true });
  }
});
