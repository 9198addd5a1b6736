import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLimit, tighter, UNLIMITED, type Limit } from '../../../src/cgroupfs/limit.js';
import { fixture } from '../procfs/fixtures.js';

const V1 = 'sys/fs/cgroup/memory/workloads/job-7f3a';
const V2 = 'sys/fs/cgroup/workloads/job-42c9';

test('limit: real files: v1 64 MiB and the v1 unlimited sentinel, v2 64 MiB and max', () => {
  assert.deepEqual(parseLimit(...fixture('v1', `${V1}/oomdemo/memory.limit_in_bytes`)), { value: { unlimited: false, bytes: 67108864 }, problems: [] });
  assert.deepEqual(parseLimit(...fixture('v1', `${V1}/memory.limit_in_bytes`)), { value: UNLIMITED, problems: [] }); // 9223372036854771712
  assert.deepEqual(parseLimit(...fixture('v1', `${V1}/memory.memsw.limit_in_bytes`)).value, UNLIMITED);
  assert.deepEqual(parseLimit(...fixture('v2', `${V2}/oomdemo/memory.max`)), { value: { unlimited: false, bytes: 67108864 }, problems: [] });
  assert.deepEqual(parseLimit(...fixture('v2', `${V2}/memory.max`)), { value: UNLIMITED, problems: [] }); // "max"
  assert.deepEqual(parseLimit(...fixture('v2', `${V2}/oomdemo/memory.swap.max`)).value, { unlimited: false, bytes: 0 });
});

test('limit: unlimited is a value of its own, never a huge number', () => {
  for (const t of ['max', 'max\n', '9223372036854771712\n', '9223372036854710272' /* 64 KiB pages */, '9223372036854775807', String(2n ** 62n)]) {
    const r = parseLimit(t, 'p');
    assert.deepEqual(r.value, { unlimited: true }, t);
    assert.deepEqual(r.problems, []);
  }
  assert.deepEqual(parseLimit(' 4096 \n', 'p').value, { unlimited: false, bytes: 4096 });
  assert.deepEqual(parseLimit('0', 'p').value, { unlimited: false, bytes: 0 }); // 0 is a limit, not "none"
});

test('limit: garbage is a problem with the path, value undefined', () => {
  for (const t of ['', '-1', 'unlimited', '64M', '1.5', 'max max']) {
    const r = parseLimit(t, '/sys/fs/cgroup/x/memory.max');
    assert.equal(r.value, undefined, t);
    assert.equal(r.problems.length, 1);
    assert.equal(r.problems[0]?.path, '/sys/fs/cgroup/x/memory.max');
  }
});

test('tighter: unlimited loses to any limit, the smaller limit wins', () => {
  const l = (bytes: number): Limit => ({ unlimited: false, bytes });
  assert.deepEqual(tighter(UNLIMITED, UNLIMITED), UNLIMITED);
  assert.deepEqual(tighter(UNLIMITED, l(5)), l(5));
  assert.deepEqual(tighter(l(5), UNLIMITED), l(5));
  assert.deepEqual(tighter(l(5), l(3)), l(3));
  assert.deepEqual(tighter(l(3), l(5)), l(3));
  assert.deepEqual(tighter(l(0), UNLIMITED), l(0));
});
