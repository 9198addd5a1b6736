// The capture warm-up at start (issue 14: a cold first capture lost a race with the OOM killer): it runs the capture
// over memlens's own cgroup and process only, on this host's real /proc and cgroupfs, and writes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostFs } from '../../../src/host/hostFs.js';
import { discoverHierarchy } from '../../../src/cgroupfs/hierarchy.js';
import type { Config } from '../../../src/config/load.js';
import { SnapshotService, ownCgroupPath } from '../../../src/forensics/snapshots.js';
import { createLogger } from '../../../src/log.js';

test('ownCgroupPath: the v1 line with the memory controller, or v2\'s 0:: line; nothing on odd text', () => {
  const v1 = '12:pids:/user.slice\n7:cpu,cpuacct:/x\n4:memory:/user.slice/session-1.scope\n0::/user.slice/session-1.scope\n';
  assert.equal(ownCgroupPath(v1, 'v1'), '/user.slice/session-1.scope');
  assert.equal(ownCgroupPath('3:memory,hugetlb:/a/b\n', 'v1'), '/a/b');
  assert.equal(ownCgroupPath('0::/system.slice/memlens.service\n', 'v2'), '/system.slice/memlens.service');
  assert.equal(ownCgroupPath('0::/\n', 'v2'), '/');
  assert.equal(ownCgroupPath('4:memory:/a\n', 'v2'), undefined);
  assert.equal(ownCgroupPath('0::/a\n', 'v1'), undefined);
  for (const odd of [undefined, '', 'garbage', '4:memory', '4:memory:relative', '\0\0:\n::']) assert.equal(ownCgroupPath(odd, 'v1'), undefined);
});

test('warmUp captures this process in its own cgroup and writes nothing', async (t) => {
  const host = new HostFs('/proc', '/sys');
  const hierarchy = discoverHierarchy(host);
  if (hierarchy === undefined) {
    t.skip('no memory cgroup hierarchy on this host');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'memlens-warmup-'));
  const config: Config['snapshot'] = { dir, minIntervalMs: 30_000, cmdline: false, maxCount: 100, maxBytes: 1 << 30, maxAgeMs: 1e12, linkWindowMs: 60_000, hold: false, holdMaxMs: 2000, rules: [] };
  const svc = new SnapshotService({ host, hierarchy, config, log: createLogger('silent') });
  try {
    svc.start();
    const doc = await svc.warmUp();
    assert.ok(doc !== undefined, 'no warm-up document');
    assert.equal(doc.cgroups.length, 1, 'descendants walked');
    assert.deepEqual(doc.processes.map((p) => p.pid), [process.pid]);
    assert.equal(doc.processes[0]!.stage, 'smaps', JSON.stringify(doc.processes[0]!.errors));
    assert.deepEqual(readdirSync(dir), [], 'the warm-up wrote a file');
    assert.deepEqual(svc.list({}), []);
    assert.deepEqual(svc.metricValues().counts, []);
  } finally {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
