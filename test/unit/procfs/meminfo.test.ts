import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMeminfo } from '../../../src/procfs/meminfo.js';
import { fixture, kB } from './fixtures.js';

test('meminfo: real v1 host (24 GiB, no swap)', () => {
  const { value, problems } = parseMeminfo(...fixture('v1', 'proc/meminfo'));
  assert.deepEqual(problems, []);
  assert.deepEqual(value, { totalBytes: 25276514304, availableBytes: kB(24324516), swapTotalBytes: 0, swapFreeBytes: 0 });
});

test('meminfo: real v2 host (126 GiB, no swap)', () => {
  const { value, problems } = parseMeminfo(...fixture('v2', 'proc/meminfo'));
  assert.deepEqual(problems, []);
  assert.deepEqual(value, { totalBytes: kB(131981020), availableBytes: kB(131472348), swapTotalBytes: 0, swapFreeBytes: 0 });
});

test('meminfo: unknown keys and unit-less lines (HugePages_Total) are ignored', () => {
  const t = 'MemTotal: 100 kB\nHugePages_Total:       0\nBrandNew:   5 kB\nSwapTotal: 8 kB\nSwapFree: 4 kB\n';
  const { value, problems } = parseMeminfo(t, '/proc/meminfo');
  assert.deepEqual(problems, []);
  assert.deepEqual(value, { totalBytes: 102400, availableBytes: undefined, swapTotalBytes: 8192, swapFreeBytes: 4096 });
});

test('meminfo: MemAvailable is absent before 3.14: undefined, not 0', () => {
  assert.equal(parseMeminfo('MemTotal: 100 kB\nMemFree: 50 kB\n', 'p').value.availableBytes, undefined);
  assert.deepEqual(parseMeminfo('', 'p').value, { totalBytes: undefined, availableBytes: undefined, swapTotalBytes: undefined, swapFreeBytes: undefined });
});

test('meminfo: a malformed line is a problem with the path', () => {
  const { value, problems } = parseMeminfo('MemTotal: lots kB\nMemAvailable: 5 kB\n', '/proc/meminfo');
  assert.equal(value.totalBytes, undefined);
  assert.equal(value.availableBytes, 5120);
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.path, '/proc/meminfo');
  assert.equal(problems[0]?.line, 1);
});
