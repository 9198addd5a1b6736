// host/selfFds.ts against prom-client's own count (the listing of /proc/self/fd, minus the fd the listing holds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync } from 'node:fs';
import { openFds, openFdsByListing, openFdsByStat } from '../../../src/host/selfFds.js';

const kernelCounts = (openFdsByStat() ?? 0) > 0;

test('openFds is the listing count, and follows fds opened and closed', () => {
  const before = openFdsByListing()!;
  assert.ok(before > 2);
  assert.equal(openFds(), before);
  const fds = Array.from({ length: 25 }, () => openSync('/proc/self/status', 'r'));
  try {
    assert.equal(openFdsByListing(), before + 25);
    assert.equal(openFds(), before + 25);
  } finally {
    for (const fd of fds) closeSync(fd);
  }
  assert.equal(openFds(), before);
});

test('on Linux 6.2+ stat() of /proc/self/fd gives the listing count without a listing', { skip: kernelCounts ? false : 'kernel before 6.2: stat size is 0, openFds lists' }, () => {
  const fds = Array.from({ length: 100 }, () => openSync('/proc/self/stat', 'r'));
  try {
    assert.equal(openFdsByStat(), openFdsByListing());
  } finally {
    for (const fd of fds) closeSync(fd);
  }
});
