// Issue 9: the snapshot limits that apply whatever the trigger: the free-space floor
// (--snapshot.min-free) and the global cap (--snapshot.max-concurrent), on a fake v1 cgroup.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostFs } from '../../../src/host/hostFs.js';
import type { Config } from '../../../src/config/load.js';
import { SnapshotService } from '../../../src/forensics/snapshots.js';
import { createLogger } from '../../../src/log.js';

const log = createLogger('silent');
const tmp = mkdtempSync(join(tmpdir(), 'memlens-limits-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const sysRoot = join(tmp, 'sys');
for (const name of ['a', 'b', 'c']) {
  const dir = join(sysRoot, 'fs/cgroup/memory', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cgroup.procs'), '');
  writeFileSync(join(dir, 'memory.usage_in_bytes'), '4096\n');
}

function service(dir: string, extra: Partial<Config['snapshot']>): SnapshotService {
  const config: Config['snapshot'] = { dir, minIntervalMs: 30_000, cmdline: false, maxCount: 100, maxBytes: 1 << 30, maxAgeMs: 1e12, linkWindowMs: 60_000, hold: false, holdMaxMs: 2000, rules: [], ...extra };
  const svc = new SnapshotService({ host: new HostFs('/proc', sysRoot), hierarchy: { mode: 'v1', mountPoint: '/sys/fs/cgroup/memory', root: '/' }, config, log });
  svc.start();
  return svc;
}

test('under --snapshot.min-free no snapshot is taken (counted as refused); with room it is', async () => {
  const dir = join(tmp, 'floor');
  const svc = service(dir, { minFreeBytes: Number.MAX_SAFE_INTEGER });
  const r = await svc.snapshot('/a', 'threshold', 'test');
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.status, 'no-space');
  assert.deepEqual(readdirSync(dir), []);
  assert.deepEqual(svc.metricValues().counts, [{ reason: 'threshold', result: 'refused', n: 1 }]);
  await svc.close();
  const ok = service(dir, { minFreeBytes: 1 });
  assert.equal((await ok.snapshot('/a', 'threshold', 'test')).ok, true);
  await ok.close();
});

test('--snapshot.max-concurrent caps captures of different cgroups; the same cgroup shares its capture', async () => {
  const svc = service(join(tmp, 'cap'), { maxConcurrent: 1 });
  const first = svc.snapshot('/a', 'api', 'test');
  const same = svc.snapshot('/a', 'api', 'test');
  const other = await svc.snapshot('/b', 'threshold', 'test');
  assert.equal(!other.ok && other.status, 'busy');
  const [r1, r2] = await Promise.all([first, same]);
  assert.equal(r1.ok && r2.ok && r1.meta.id === r2.meta.id, true, 'one capture for both');
  assert.equal((await svc.snapshot('/c', 'threshold', 'test')).ok, true, 'free again once it ended');
  await svc.close();
});
