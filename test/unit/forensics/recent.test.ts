// The recent-samples ring: bounded points per series (no closer than the step, the newest point
// always the newest reading), bounded series, stale series dropped, a pid reused by another
// program starting afresh, and the sparkline grid keeping each bucket's highest reading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentSamples, Series } from '../../../src/forensics/recent.js';
import * as c from '../../../src/model/catalog.js';
import type { Sample } from '../../../src/model/types.js';

test('Series: the first reading kept, the newest floating until a step after the one before it, capacity bounded', () => {
  const s = new Series(4, 10);
  s.push(0, 1);
  s.push(3, 2);
  s.push(5, 3); // 5 - 0 < 10: replaces the newest; the first reading stays
  assert.deepEqual(s.points(), [{ tMs: 0, value: 1 }, { tMs: 5, value: 3 }]);
  s.push(12, 4); // 12 - 0 >= 10: 5 is kept, 12 is the newest
  s.push(30, 5);
  s.push(45, 6); // capacity 4: the oldest goes
  assert.deepEqual(s.points().map((p) => p.value), [3, 4, 5, 6]);
  s.push(40, 9); // out of order: ignored
  assert.deepEqual(s.points(31, 100).map((p) => p.value), [6]);
  assert.equal(s.length, 4);
  // Float32 values: a growth figure of a few bytes in 256 MiB is not what this is for, MiB are exact.
  const big = new Series(2, 1);
  big.push(0, 255 * 2 ** 20);
  assert.equal(big.points()[0]?.value, 255 * 2 ** 20);
});

test('Series: the buffer starts small and doubles up to capacity (8 bytes a point), points intact across each growth', () => {
  const s = new Series(240, 10);
  s.push(0, 0);
  assert.equal(s.bytes, 16 * 8);
  for (let i = 1; i < 1000; i++) s.push(i * 10, i);
  assert.equal(s.bytes, 240 * 8);
  assert.equal(s.length, 240);
  const pts = s.points();
  assert.deepEqual(pts.map((p) => p.value), Array.from({ length: 240 }, (_, i) => 760 + i));
  assert.deepEqual(pts.map((p) => p.tMs), Array.from({ length: 240 }, (_, i) => (760 + i) * 10));
  // Wall-clock times (ms since 1970) keep their whole ms.
  const w = new Series(4, 10);
  w.push(1_796_195_872_228, 1);
  w.push(1_796_195_872_239, 2);
  assert.deepEqual(w.points().map((p) => p.tMs), [1_796_195_872_228, 1_796_195_872_239]);
});

test('Series: times beyond 2^32 ms after the base move the base up to the oldest kept point; points 49 days older go', () => {
  const s = new Series(2, 1);
  s.push(0, 1);
  s.push(2 ** 31, 2);
  s.push(2 ** 31 + 10, 3); // capacity 2: the point at 0 goes
  s.push(2 ** 32 + 2 ** 30, 4); // 2^32 + 2^30 after the base (0): rebased on 2^31
  assert.deepEqual(s.points(), [{ tMs: 2 ** 31 + 10, value: 3 }, { tMs: 2 ** 32 + 2 ** 30, value: 4 }]);
  assert.equal(s.newestMs(), 2 ** 32 + 2 ** 30);
  s.push(2 ** 34, 5); // more than 2^32 ms after every kept point: they are dropped
  assert.deepEqual(s.points(), [{ tMs: 2 ** 34, value: 5 }]);
});

function cg(path: string, usage: number, limit?: number): Sample[] {
  const out: Sample[] = [{ desc: c.cgroupUsage, labels: { cgroup: path }, value: usage }];
  if (limit !== undefined) out.push({ desc: c.cgroupEffectiveLimit, labels: { cgroup: path }, value: limit });
  return out;
}

test('ingest: latest state per cgroup and process; only the newest collection is current', () => {
  const r = new RecentSamples({ stepMs: 1000, points: 10 });
  r.ingest([
    ...cg('/a', 100, 1000),
    { desc: c.cgroupStat, labels: { cgroup: '/a', item: 'anon' }, value: 90 },
    { desc: c.processResident, labels: { pid: '7', comm: 'x', cgroup: '/a/b' }, value: 50 },
    { desc: c.processPss, labels: { pid: '7', comm: 'x', cgroup: '/a/b' }, value: 40 },
    { desc: c.collectorSuccess, labels: { collector: 'cgroup' }, value: 1 },
  ], 1000);
  r.ingest([...cg('/a', 200, 1000), { desc: c.processResident, labels: { pid: '7', comm: 'x', cgroup: '/a/b' }, value: 60 }], 3000);
  r.ingest(cg('/c', 5), 5000);
  assert.deepEqual(r.currentCgroupList().map((x) => x.path), ['/c']);
  assert.deepEqual(r.cgroupSeries('/a').map((p) => p.value), [100, 200]);
  assert.equal(r.cgroup('/a')?.effectiveLimitBytes, 1000);
  assert.deepEqual(r.currentProcessesUnder('/a'), [], 'pid 7 was not in the newest collection');
  const ps = r.processesUnder('/a');
  assert.equal(ps.length, 1);
  assert.deepEqual(ps[0]?.rss.map((p) => p.value), [50, 60]);
  assert.equal(r.updatedMs, 5000);
});

test('a reused pid with another comm starts a new series', () => {
  const r = new RecentSamples({ stepMs: 1, points: 10 });
  r.ingest([{ desc: c.processResident, labels: { pid: '7', comm: 'old', cgroup: '/' }, value: 1 }], 1);
  r.ingest([{ desc: c.processResident, labels: { pid: '7', comm: 'new', cgroup: '/' }, value: 2 }], 2);
  const p = r.processesUnder('/');
  assert.equal(p.length, 1);
  assert.equal(p[0]?.latest.comm, 'new');
  assert.deepEqual(p[0]?.rss.map((x) => x.value), [2]);
});

test('bounded: stale series are dropped and at most maxCgroups/maxProcesses are kept', () => {
  const r = new RecentSamples({ stepMs: 10, points: 10, maxCgroups: 5, maxProcesses: 2 }); // window 50 ms
  const many: Sample[] = [];
  for (let i = 0; i < 20; i++) many.push(...cg(`/g${i}`, i));
  for (let i = 0; i < 5; i++) many.push({ desc: c.processResident, labels: { pid: String(i + 1), comm: 'p', cgroup: '/' }, value: i });
  r.ingest(many, 0);
  assert.equal(r.processesUnder('/').length, 2);
  r.ingest(cg('/new', 1), 1000); // everything else is older than the window now
  assert.deepEqual(r.currentCgroupList().map((x) => x.path), ['/new']);
  assert.equal(r.cgroupSeries('/g3').length, 0);
  assert.equal(r.processesUnder('/').length, 0);
});

test('sparklines: one fixed grid for every cgroup, the highest reading per bucket, null where none', () => {
  const r = new RecentSamples({ stepMs: 1, points: 100 });
  r.ingest(cg('/a', 10), 0);
  r.ingest(cg('/a', 30), 1);
  r.ingest(cg('/a', 20), 2);
  r.ingest(cg('/a', 5), 9);
  const s = r.sparklines(10, 5, 10); // buckets [0,2) [2,4) ... [8,10)
  assert.equal(s.stepMs, 2);
  assert.deepEqual(s.values.get('/a'), [30, 20, null, null, 5]);
});
