import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMountinfo } from '../../../src/procfs/mountinfo.js';
import { fixture } from './fixtures.js';

test('mountinfo: real v1 (hybrid) file: 19 mounts, the memory controller and the unified v2 mount', () => {
  const { value, problems } = parseMountinfo(...fixture('v1', 'proc/self/mountinfo'));
  assert.deepEqual(problems, []);
  assert.equal(value.length, 19);
  assert.deepEqual(value.find((m) => m.mountPoint === '/sys/fs/cgroup/memory'), {
    mountId: 35, parentId: 31, root: '/', mountPoint: '/sys/fs/cgroup/memory', fsType: 'cgroup', source: 'cgroup', superOptions: ['rw', 'memory'],
  });
  assert.deepEqual(value.find((m) => m.fsType === 'cgroup2'), {
    mountId: 41, parentId: 31, root: '/', mountPoint: '/sys/fs/cgroup/unified', fsType: 'cgroup2', source: 'cgroup2', superOptions: ['rw'],
  });
});

test('mountinfo: v2 tree: optional fields (shared:N) before the separator', () => {
  const { value, problems } = parseMountinfo(...fixture('v2', 'proc/self/mountinfo'));
  assert.deepEqual(problems, []);
  const cg = value.find((m) => m.fsType === 'cgroup2');
  assert.equal(cg?.mountPoint, '/sys/fs/cgroup');
  assert.deepEqual(cg?.superOptions, ['rw', 'nsdelegate', 'memory_recursiveprot']);
});

test('mountinfo: the proc.rst example, several optional fields, octal escapes', () => {
  const t = '36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n'
    + '40 36 0:40 /a\\040dir /mnt/with\\040space\\011tab rw shared:3 master:2 unbindable - tmpfs my\\134src rw\n';
  const { value, problems } = parseMountinfo(t, '/proc/self/mountinfo');
  assert.deepEqual(problems, []);
  assert.deepEqual(value[0], { mountId: 36, parentId: 35, root: '/mnt1', mountPoint: '/mnt2', fsType: 'ext3', source: '/dev/root', superOptions: ['rw', 'errors=continue'] });
  assert.equal(value[1]?.root, '/a dir');
  assert.equal(value[1]?.mountPoint, '/mnt/with space\ttab');
  assert.equal(value[1]?.source, 'my\\src');
  assert.equal(value[1]?.fsType, 'tmpfs');
});

test('mountinfo: a cgroup namespace shows the container\'s cgroup as the mount root', () => {
  const t = '1200 1100 0:27 /kubepods.slice/kubepods-pod1.slice /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw\n';
  assert.equal(parseMountinfo(t, 'p').value[0]?.root, '/kubepods.slice/kubepods-pod1.slice');
});

test('mountinfo: malformed lines are problems with path and line; the good lines are kept', () => {
  const t = '22 27 0:21 / /proc rw,relatime - proc proc rw\ngarbage\n23 27 0:22 / /sys rw,relatime shared:1 sysfs sysfs rw\n';
  const { value, problems } = parseMountinfo(t, '/proc/self/mountinfo');
  assert.equal(value.length, 1);
  assert.deepEqual(problems.map((p) => [p.path, p.line]), [['/proc/self/mountinfo', 2], ['/proc/self/mountinfo', 3]]);
});
