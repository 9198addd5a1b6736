// Linking an OOM kill to its evidence: the newest snapshot of the kill's cgroup (or an ancestor)
// taken before the kill and within --snapshot.link-window; never one taken after the kill, never
// one of a sibling or a descendant, never one older than the window. The link goes both ways
// (the record's snapshotId, the document's oomKills).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { HostFs } from '../../../src/host/hostFs.js';
import type { Config } from '../../../src/config/load.js';
import type { SnapshotDoc } from '../../../src/forensics/capture.js';
import { SnapshotService } from '../../../src/forensics/snapshots.js';
import type { OomKillRecord } from '../../../src/oom/store.js';
import { createLogger } from '../../../src/log.js';

const WINDOW = 60_000;
const T = 1_800_000_000_000;

function service(dir: string): SnapshotService {
  const config: Config['snapshot'] = { dir, minIntervalMs: 30_000, cmdline: false, maxCount: 100, maxBytes: 1 << 30, maxAgeMs: 1e12, linkWindowMs: WINDOW, hold: false, holdMaxMs: 2000, rules: [] };
  return new SnapshotService({ host: new HostFs('/proc', '/sys'), hierarchy: { mode: 'v1', mountPoint: '/sys/fs/cgroup/memory', root: '/' }, config, log: createLogger('silent') });
}

function doc(id: string, timeMs: number, cgroup: string): SnapshotDoc {
  return {
    format: 1, id, time: new Date(timeMs).toISOString(), timeMs, reason: 'test', cgroup, mode: 'v1', captureEndMs: timeMs + 5, captureDurationMs: 5, finishedMs: timeMs + 5,
    cgroups: [], processes: [], truncated: { cgroups: false, processes: false, smapsProcesses: 0 }, hold: undefined, oomKills: [],
  };
}

function kill(timeMs: number, cgroup: string | undefined, oomCgroup: string | undefined = cgroup): OomKillRecord {
  return {
    id: `oom-${timeMs}-7-1`, time: new Date(timeMs).toISOString(), timeMs, beforeStart: false, source: 'kmsg', victim: { pid: 7, comm: 'x', uid: 0 }, cgroup, oomCgroup,
    constraint: 'CONSTRAINT_MEMCG', totalVmBytes: undefined, anonRssBytes: undefined, fileRssBytes: undefined, shmemRssBytes: undefined, pageTablesBytes: undefined,
    oomScoreAdj: undefined, memcg: undefined, invoker: undefined, kernelSeq: undefined, snapshotId: undefined,
  };
}

function withService(fn: (svc: SnapshotService, dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'memlens-link-'));
    const svc = service(dir);
    svc.start();
    try {
      await fn(svc, dir);
    } finally {
      await svc.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('the newest snapshot of the cgroup taken before the kill; not the one after it', withService(async (svc, dir) => {
  svc.store.write(doc('snap-1-aaaaaa', T - 20_000, '/pod/app'));
  svc.store.write(doc('snap-2-bbbbbb', T - 5_000, '/pod/app'));
  svc.store.write(doc('snap-3-cccccc', T + 1, '/pod/app')); // after the kill
  const rec = kill(T, '/pod/app');
  svc.linkKill(rec);
  assert.equal(rec.snapshotId, 'snap-2-bbbbbb');
  await turn(); // the document rewrite runs on the next turn
  await turn();
  const onDisk = JSON.parse(readFileSync(join(dir, 'snap-2-bbbbbb.json'), 'utf8')) as SnapshotDoc;
  assert.deepEqual(onDisk.oomKills, [rec.id]);
  assert.deepEqual(svc.get('snap-3-cccccc')?.oomKills, []);
  assert.equal(svc.metricValues().killsWithSnapshot, 1);
}));

test('a snapshot of an ancestor counts (the newest wins over an older one of the cgroup itself)', withService(async (svc) => {
  svc.store.write(doc('snap-1-aaaaaa', T - 9_000, '/pod/app/worker'));
  svc.store.write(doc('snap-2-bbbbbb', T - 3_000, '/pod'));
  const rec = kill(T, '/pod/app/worker');
  svc.linkKill(rec);
  assert.equal(rec.snapshotId, 'snap-2-bbbbbb');
  // The root is an ancestor of everything.
  svc.store.write(doc('snap-3-cccccc', T - 1_000, '/'));
  const rec2 = kill(T + 1, '/pod/app/worker');
  svc.linkKill(rec2);
  assert.equal(rec2.snapshotId, 'snap-3-cccccc');
}));

test('the OOM cgroup (the one at its limit) links too when the victim sits below it', withService(async (svc) => {
  svc.store.write(doc('snap-1-aaaaaa', T - 1_000, '/pod'));
  const rec = kill(T, '/pod/app/worker', '/pod');
  svc.linkKill(rec);
  assert.equal(rec.snapshotId, 'snap-1-aaaaaa');
}));

test('never a descendant, a sibling or a name prefix', withService(async (svc) => {
  svc.store.write(doc('snap-1-aaaaaa', T - 1_000, '/pod/app/worker')); // below the kill's cgroup
  svc.store.write(doc('snap-2-bbbbbb', T - 1_000, '/pod/other')); // a sibling
  svc.store.write(doc('snap-3-cccccc', T - 1_000, '/pod/ap')); // a prefix of the name, not an ancestor
  const rec = kill(T, '/pod/app');
  svc.linkKill(rec);
  assert.equal(rec.snapshotId, undefined);
  assert.equal(svc.metricValues().killsWithSnapshot, 0);
}));

test('outside the link window: not linked; at its edge: linked', withService(async (svc) => {
  svc.store.write(doc('snap-1-aaaaaa', T - WINDOW - 1, '/pod'));
  const rec = kill(T, '/pod');
  svc.linkKill(rec);
  assert.equal(rec.snapshotId, undefined);
  svc.store.write(doc('snap-2-bbbbbb', T - WINDOW, '/pod'));
  const rec2 = kill(T, '/pod');
  svc.linkKill(rec2);
  assert.equal(rec2.snapshotId, 'snap-2-bbbbbb');
}));

test('a kill without a cgroup links to nothing', withService(async (svc) => {
  svc.store.write(doc('snap-1-aaaaaa', T - 1_000, '/'));
  const rec = kill(T, undefined, undefined);
  svc.linkKill(rec);
  assert.equal(rec.snapshotId, undefined);
}));
