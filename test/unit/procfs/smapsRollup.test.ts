import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSmapsRollup } from '../../../src/procfs/smapsRollup.js';
import { fixture, kB, PID } from './fixtures.js';

test('smaps_rollup: real v1 file: every catalog field in bytes, header line skipped silently', () => {
  const { value, problems } = parseSmapsRollup(...fixture('v1', `proc/${PID.v1}/smaps_rollup`));
  assert.deepEqual(problems, []);
  assert.deepEqual(value, {
    rssBytes: kB(1632),
    pssBytes: 285696, // Pss: 279 kB
    pssAnonBytes: kB(108),
    pssFileBytes: kB(171),
    pssShmemBytes: 0,
    ussBytes: kB(40 + 108), // Private_Clean + Private_Dirty (+ Private_Hugetlb 0)
    swapBytes: 0,
    swapPssBytes: 0,
    anonymousBytes: kB(108),
  });
});

test('smaps_rollup: real v2 file: every catalog field in bytes', () => {
  const { value, problems } = parseSmapsRollup(...fixture('v2', `proc/${PID.v2}/smaps_rollup`));
  assert.deepEqual(problems, []);
  assert.deepEqual(value, {
    rssBytes: kB(2492),
    pssBytes: kB(907),
    pssAnonBytes: kB(152),
    pssFileBytes: kB(755),
    pssShmemBytes: 0,
    ussBytes: 520192, // 356 + 152 kB
    swapBytes: 0,
    swapPssBytes: 0,
    anonymousBytes: kB(152),
  });
});

test('smaps_rollup: Private_Hugetlb counts into USS', () => {
  const t = 'Rss: 10 kB\nPrivate_Clean: 1 kB\nPrivate_Dirty: 2 kB\nPrivate_Hugetlb: 2048 kB\n';
  assert.equal(parseSmapsRollup(t, 'p').value.ussBytes, kB(2051));
});

test('smaps_rollup: before 5.3 there is no Pss_Anon/Pss_File/Pss_Shmem: undefined, not 0', () => {
  // 4.19 layout: the same file without the Pss_* split (and without Pss_Dirty).
  const t = [
    '00400000-7ffd1b5fe000 ---p 00000000 00:00 0                          [rollup]',
    'Rss:                 884 kB', 'Pss:                 200 kB', 'Shared_Clean:        700 kB', 'Shared_Dirty:          0 kB',
    'Private_Clean:        84 kB', 'Private_Dirty:       100 kB', 'Referenced:          884 kB', 'Anonymous:           100 kB',
    'LazyFree:              0 kB', 'AnonHugePages:         0 kB', 'ShmemPmdMapped:        0 kB', 'Shared_Hugetlb:        0 kB',
    'Private_Hugetlb:       0 kB', 'Swap:                  0 kB', 'SwapPss:               0 kB', 'Locked:                0 kB', '',
  ].join('\n');
  const { value, problems } = parseSmapsRollup(t, '/proc/9/smaps_rollup');
  assert.deepEqual(problems, []);
  assert.equal(value.pssBytes, kB(200));
  assert.equal(value.pssAnonBytes, undefined);
  assert.equal(value.pssFileBytes, undefined);
  assert.equal(value.pssShmemBytes, undefined);
  assert.equal(value.ussBytes, kB(184));
});

test('smaps_rollup: USS is undefined when either Private_ line is missing; unknown keys ignored', () => {
  const { value } = parseSmapsRollup('Rss: 4 kB\nPrivate_Clean: 4 kB\nFutureThing: 7 kB\n', 'p');
  assert.equal(value.ussBytes, undefined);
  assert.equal(value.rssBytes, 4096);
  assert.equal(parseSmapsRollup('', 'p').value.rssBytes, undefined);
});

test('smaps_rollup: a malformed value line is a problem with the path', () => {
  const { value, problems } = parseSmapsRollup('Rss: 4 kB\nPss: garbage kB\n', '/proc/7/smaps_rollup');
  assert.equal(value.pssBytes, undefined);
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.path, '/proc/7/smaps_rollup');
  assert.equal(problems[0]?.line, 2);
});
