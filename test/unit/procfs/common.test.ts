import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlatKeyed, parseKbFields, parseSingleInt, textField } from '../../../src/procfs/common.js';
import { fixture, PID } from './fixtures.js';

test('parseKbFields: kB values become bytes once, unit-less values stay as they are', () => {
  const { value, problems } = parseKbFields('A:  2 kB\nB:\t7\nC:  0 kB\n', 'p');
  assert.deepEqual(problems, []);
  assert.deepEqual([...value], [['A', 2048], ['B', 7], ['C', 0]]);
});

test('parseKbFields: with a wanted set only those keys are parsed; bad wanted values are problems with line', () => {
  const { value, problems } = parseKbFields('A: 1 kB\nB: x\nC: y\n', '/p', new Set(['A', 'C']));
  assert.deepEqual([...value], [['A', 1024]]);
  assert.equal(problems.length, 1);
  assert.deepEqual([problems[0]?.path, problems[0]?.line], ['/p', 3]);
});

test('parseFlatKeyed: the real v1 memory.oom_control; negatives; blank lines', () => {
  const [text, path] = fixture('v1', 'sys/fs/cgroup/memory/workloads/job-7f3a/oomdemo/memory.oom_control');
  assert.deepEqual([...parseFlatKeyed(text, path).value], [['oom_kill_disable', 0], ['under_oom', 0], ['oom_kill', 1]]);
  assert.deepEqual([...parseFlatKeyed('\n a -3 \n\n', 'p').value], [['a', -3]]);
});

test('parseSingleInt: real oom_score / oom_score_adj, negatives, garbage is a problem', () => {
  assert.deepEqual(parseSingleInt(...fixture('v1', `proc/${PID.v1}/oom_score`)), { value: 666, problems: [] });
  assert.deepEqual(parseSingleInt(...fixture('v2', `proc/${PID.v2}/oom_score_adj`)), { value: 0, problems: [] });
  assert.equal(parseSingleInt('-1000\n', 'p').value, -1000);
  const bad = parseSingleInt('max\n', '/x/memory.current');
  assert.equal(bad.value, undefined);
  assert.equal(bad.problems[0]?.path, '/x/memory.current');
  assert.equal(parseSingleInt('', 'p').value, undefined);
});

test('textField: first line, middle line, absent', () => {
  const [status] = fixture('v1', `proc/${PID.v1}/status`);
  assert.equal(textField(status, 'Name'), 'cat');
  assert.equal(textField(status, 'State'), 'R (running)');
  assert.equal(textField(status, 'Nope'), undefined);
  assert.equal(textField('Name:\tlast', 'Name'), 'last');
});
