import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePressure } from '../../../src/procfs/pressure.js';
import { fixture } from './fixtures.js';

test('pressure: real /proc/pressure/memory (v1 host): totals in seconds', () => {
  const { value, problems } = parsePressure(...fixture('v1', 'proc/pressure/memory'));
  assert.deepEqual(problems, []);
  assert.deepEqual(value, {
    some: { avg10: 0, avg60: 0, avg300: 0, totalSeconds: 0.085623 }, // total=85623 us
    full: { avg10: 0, avg60: 0, avg300: 0, totalSeconds: 0.085111 },
  });
});

test('pressure: real cgroup v2 memory.pressure of the OOM-killed cgroup', () => {
  const { value, problems } = parsePressure(...fixture('v2', 'sys/fs/cgroup/workloads/job-42c9/oomdemo/memory.pressure'));
  assert.deepEqual(problems, []);
  assert.equal(value.some?.totalSeconds, 318e-6);
  assert.equal(value.full?.totalSeconds, 318e-6);
});

test('pressure: averages are kept as printed', () => {
  const { value } = parsePressure('some avg10=1.25 avg60=0.50 avg300=12.00 total=2000000\n', 'p');
  assert.deepEqual(value.some, { avg10: 1.25, avg60: 0.5, avg300: 12, totalSeconds: 2 });
});

test('pressure: no full line: full is undefined, not zeros', () => {
  const { value, problems } = parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n', 'p');
  assert.deepEqual(problems, []);
  assert.equal(value.full, undefined);
  assert.deepEqual(parsePressure('', 'p').value, { some: undefined, full: undefined });
});

test('pressure: a malformed line is a problem with the path and line; the good line is kept', () => {
  const { value, problems } = parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00 total=7\nfull avg10=x total=1\n', '/sys/fs/cgroup/a/memory.pressure');
  assert.equal(value.some?.totalSeconds, 7e-6);
  assert.equal(value.full, undefined);
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.path, '/sys/fs/cgroup/a/memory.pressure');
  assert.equal(problems[0]?.line, 2);
});
