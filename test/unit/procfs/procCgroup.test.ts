import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryCgroupPath, parseProcCgroup } from '../../../src/procfs/procCgroup.js';
import { fixture, PID } from './fixtures.js';

test('proc cgroup: real v1 (hybrid) file: 10 hierarchies, memory and the v2 line', () => {
  const { value, problems } = parseProcCgroup(...fixture('v1', `proc/${PID.v1}/cgroup`));
  assert.deepEqual(problems, []);
  assert.equal(value.length, 10);
  assert.deepEqual(value[0], { hierarchyId: 9, controllers: ['name=systemd'], path: '/' });
  assert.deepEqual(value[5], { hierarchyId: 4, controllers: ['memory'], path: '/workloads/job-7f3a' });
  assert.deepEqual(value[9], { hierarchyId: 0, controllers: [], path: '/' });
  assert.equal(memoryCgroupPath(value, 'v1'), '/workloads/job-7f3a');
  assert.equal(memoryCgroupPath(value, 'v2'), '/');
});

test('proc cgroup: v2 tree file', () => {
  const { value, problems } = parseProcCgroup(...fixture('v2', `proc/${PID.v2}/cgroup`));
  assert.deepEqual(problems, []);
  assert.equal(memoryCgroupPath(value, 'v2'), '/workloads/job-42c9');
  assert.equal(memoryCgroupPath(value, 'v1'), undefined);
});

test('proc cgroup: co-mounted controllers, colons inside the path, a removed cgroup', () => {
  const t = '4:cpu,cpuacct,memory:/a:b\n0::/gone (deleted)\n';
  const { value, problems } = parseProcCgroup(t, 'p');
  assert.deepEqual(problems, []);
  assert.deepEqual(value[0], { hierarchyId: 4, controllers: ['cpu', 'cpuacct', 'memory'], path: '/a:b' });
  assert.equal(memoryCgroupPath(value, 'v1'), '/a:b');
  assert.equal(memoryCgroupPath(value, 'v2'), '/gone (deleted)');
});

test('proc cgroup: malformed lines are problems with path and line', () => {
  const { value, problems } = parseProcCgroup('x:memory:/a\n4:memory\n1:cpu:/\n', '/proc/5/cgroup');
  assert.equal(value.length, 1);
  assert.deepEqual(problems.map((p) => [p.path, p.line]), [['/proc/5/cgroup', 1], ['/proc/5/cgroup', 2]]);
  assert.equal(memoryCgroupPath([], 'v1'), undefined);
});
