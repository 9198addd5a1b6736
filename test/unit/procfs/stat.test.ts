import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStat } from '../../../src/procfs/stat.js';
import { kernelMemoryAccounted } from '../../../src/procfs/cmdline.js';
import { fixture, PID } from './fixtures.js';

/** Field n (1-based, as proc(5) counts) of a stat line whose comm has no spaces: the test's own reading. */
function field(text: string, n: number): number {
  return Number(text.trim().split(' ')[n - 1]);
}

test('stat (v1 and v2 captures): minflt, majflt, starttime are the file\'s fields 10, 12, 22', () => {
  for (const tree of ['v1', 'v2'] as const) {
    const [text, path] = fixture(tree, `proc/${PID[tree]}/stat`);
    const r = parseStat(text, path);
    assert.deepEqual(r.problems, []);
    assert.ok(r.value !== undefined);
    assert.equal(r.value.minorFaults, field(text, 10), `${tree} minflt`);
    assert.equal(r.value.majorFaults, field(text, 12), `${tree} majflt`);
    assert.equal(r.value.startTimeTicks, field(text, 22), `${tree} starttime`);
    assert.equal(r.value.pid, field(text, 1));
    assert.equal(r.value.state, 'R');
  }
  // The numbers themselves, so that a wrong field count cannot pass on both sides.
  const v1 = parseStat(...fixture('v1', `proc/${PID.v1}/stat`)).value;
  assert.deepEqual([v1?.comm, v1?.minorFaults, v1?.majorFaults, v1?.startTimeTicks], ['cat', 160, 0, 37535]);
  const v2 = parseStat(...fixture('v2', `proc/${PID.v2}/stat`)).value;
  assert.deepEqual([v2?.comm, v2?.minorFaults, v2?.majorFaults, v2?.startTimeTicks], ['cp', 149, 0, 2444]);
});

test('stat: a comm with spaces and parentheses runs to the last ")"', () => {
  const tail = 'S 1 1 1 0 -1 4194560 1234 99 56 7 0 0 0 0 20 0 1 0 4242 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n';
  for (const comm of ['a) b (c', ') )', 'sd-pam)', '(x)', 'two words']) {
    const r = parseStat(`77 (${comm}) ${tail}`, '/proc/77/stat');
    assert.deepEqual(r.problems, [], comm);
    assert.deepEqual(r.value, { pid: 77, comm, state: 'S', minorFaults: 1234, majorFaults: 56, startTimeTicks: 4242 }, comm);
  }
});

test('stat: truncated or damaged lines give undefined and a problem with the path, never a throw or a wrong number', () => {
  const good = '77 (x) S 1 1 1 0 -1 4194560 1234 99 56 7 0 0 0 0 20 0 1 0 4242 1000\n';
  assert.equal(parseStat(good, 'p').value?.majorFaults, 56);
  for (const bad of ['', '\n', '77 x S 1', '77 (x)', '77 (x) S 1 1 1 0 -1 4194560 1234', 'x7 (x) S', good.replace('1234', '12a4'),
    good.replace('4242', '-4242'), good.replace(' 56 ', '  56 '), '77 (x)S 1 1 1 0 -1 4194560 1234 99 56 7 0 0 0 0 20 0 1 0 4242 1000']) {
    const r = parseStat(bad, '/proc/77/stat');
    assert.equal(r.value, undefined, JSON.stringify(bad));
    assert.equal(r.problems.length, 1, JSON.stringify(bad));
    assert.equal(r.problems[0]?.path, '/proc/77/stat');
  }
});

test('cmdline: cgroup.memory=nokmem (alone or among options) turns v1 kernel memory accounting off', () => {
  assert.equal(kernelMemoryAccounted('BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro quiet\n'), true);
  assert.equal(kernelMemoryAccounted(''), true);
  assert.equal(kernelMemoryAccounted('root=/dev/vda1 cgroup.memory=nokmem'), false);
  assert.equal(kernelMemoryAccounted('cgroup.memory=nosocket,nokmem quiet\n'), false);
  assert.equal(kernelMemoryAccounted('cgroup.memory=nosocket cgroup.memory=nokmem'), false);
  assert.equal(kernelMemoryAccounted('cgroup.memory=nosocket xcgroup.memory=nokmem nokmem'), true);
});
