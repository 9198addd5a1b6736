import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { discoverHierarchy } from '../../../src/cgroupfs/hierarchy.js';
import { MemlensError } from '../../../src/errors.js';
import { hostOf, scratchTree, treeRoot } from './trees.js';

test('discoverHierarchy: v1 tree (hybrid: unified v2 without memory) is v1 at /sys/fs/cgroup/memory', () => {
  assert.deepEqual(discoverHierarchy(hostOf(treeRoot('v1'))), { mode: 'v1', mountPoint: '/sys/fs/cgroup/memory', root: '/' });
});

test('discoverHierarchy: v2 tree reads cgroup.controllers under --path.sysfs', () => {
  assert.deepEqual(discoverHierarchy(hostOf(treeRoot('v2'))), { mode: 'v2', mountPoint: '/sys/fs/cgroup', root: '/' });
});

test('discoverHierarchy: v2 without cgroup.controllers under the sysfs root: no hierarchy', () => {
  const t = scratchTree('v2');
  try {
    rmSync(`${t.root}/sys/fs/cgroup/cgroup.controllers`);
    assert.equal(discoverHierarchy(hostOf(t.root)), undefined);
  } finally {
    t.dispose();
  }
});

test('discoverHierarchy: an unreadable procfs root is a config error naming the path', () => {
  assert.throws(() => discoverHierarchy(hostOf('/nonexistent/memlens')), (err: unknown) => {
    assert.ok(err instanceof MemlensError);
    assert.equal(err.code, 'MEMLENS_ERR_CONFIG');
    assert.equal(err.path, '/nonexistent/memlens/proc/self/mountinfo');
    return true;
  });
});
