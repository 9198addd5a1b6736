import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVmstat } from '../../../src/procfs/vmstat.js';
import { fixture } from './fixtures.js';

test('vmstat: real files: oom_kill (1 on the v1 host after the kill, 0 on v2), ~200 unknown keys ignored', () => {
  const v1 = parseVmstat(...fixture('v1', 'proc/vmstat'));
  assert.deepEqual(v1, { value: { oomKill: 1 }, problems: [] });
  const v2 = parseVmstat(...fixture('v2', 'proc/vmstat'));
  assert.deepEqual(v2, { value: { oomKill: 0 }, problems: [] });
});

test('vmstat: no oom_kill line before 4.13: undefined, not 0', () => {
  assert.deepEqual(parseVmstat('nr_free_pages 5\npgfault 10\n', '/proc/vmstat'), { value: { oomKill: undefined }, problems: [] });
});

test('vmstat: a malformed line is a problem with the path and line; the rest still parses', () => {
  const { value, problems } = parseVmstat('nr_free_pages 5\noom_kill\noom_kill 3\n', '/proc/vmstat');
  assert.equal(value.oomKill, 3);
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.path, '/proc/vmstat');
  assert.equal(problems[0]?.line, 2);
});
