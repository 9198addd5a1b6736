// The per-fd memory.peak reset writes to the file: it must never touch a plain file (a fixture
// tree, a copy of /sys). On a real cgroup2 it is exercised in the v2 VM suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostFs } from '../../../src/host/hostFs.js';
import { IntervalPeaks } from '../../../src/cgroupfs/intervalPeak.js';
import type { Problem } from '../../../src/model/types.js';

test('interval peak: a memory.peak that is not on cgroup2 is never written and gives no value', () => {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-peak-'));
  try {
    writeFileSync(join(dir, 'memory.peak'), '67108864\n');
    const peaks = new IntervalPeaks();
    const host = new HostFs('/proc', '/sys');
    const problems: Problem[] = [];
    assert.equal(peaks.read(host, dir, problems), undefined);
    assert.equal(peaks.read(host, dir, problems), undefined);
    assert.equal(readFileSync(join(dir, 'memory.peak'), 'utf8'), '67108864\n');
    assert.equal(peaks.openFds, 0);
    assert.deepEqual(problems, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
