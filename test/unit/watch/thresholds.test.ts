import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CrossingTracker, counterDeltas, selectWatched, thresholdBytes } from '../../../src/watch/thresholds.js';
import { parseThresholds } from '../../../src/config/thresholds.js';
import type { CgroupObservation } from '../../../src/cgroupfs/observation.js';
import { WatchBus } from '../../../src/watch/bus.js';
import { HistogramState, WatchStats, MAX_CROSSING_LABEL_SETS } from '../../../src/watch/stats.js';
import { watchLatency, watchCrossings, watchLabelSetsDropped } from '../../../src/model/catalog.js';

const MiB = 2 ** 20;

function obs(path: string, usageMiB: number | undefined, limitMiB: number | undefined): CgroupObservation {
  return { path, dir: `/sys/fs/cgroup/memory${path}`, usageBytes: usageMiB === undefined ? undefined : usageMiB * MiB, effectiveLimitBytes: limitMiB === undefined ? undefined : limitMiB * MiB };
}

test('selectWatched: limited cgroups only, include/exclude, tightest headroom first, bounded', () => {
  const all = [obs('/a', 10, 100), obs('/b', 90, 100), obs('/c', 50, undefined), obs('/d', undefined, 100), obs('/e', 60, 64), obs('/x/f', 99, 100)];
  assert.deepEqual(selectWatched(all, { include: undefined, exclude: undefined, maxCgroups: 10 }).map((o) => o.path), ['/x/f', '/e', '/b', '/a']);
  assert.deepEqual(selectWatched(all, { include: undefined, exclude: /^\/x\//, maxCgroups: 2 }).map((o) => o.path), ['/e', '/b']);
  assert.deepEqual(selectWatched(all, { include: /^\/[ab]$/, exclude: undefined, maxCgroups: 10 }).map((o) => o.path), ['/b', '/a']);
  assert.deepEqual(selectWatched(all, { include: undefined, exclude: undefined, maxCgroups: 0 }), []);
});

test('CrossingTracker: only upward crossings, re-armed below, first reading sets state silently', () => {
  const t = new CrossingTracker([0.9, 0.95], 100 * MiB, 50 * MiB);
  assert.deepEqual(t.thresholdsBytes, [thresholdBytes(0.9, 100 * MiB), thresholdBytes(0.95, 100 * MiB)]);
  assert.deepEqual(t.update(89 * MiB), []);
  assert.deepEqual(t.update(91 * MiB), [0.9]);
  assert.deepEqual(t.update(92 * MiB), [], 'still above: no second event');
  assert.deepEqual(t.update(99 * MiB), [0.95]);
  assert.deepEqual(t.update(80 * MiB), [], 'downward: nothing');
  assert.deepEqual(t.update(100 * MiB), [0.9, 0.95], 'a jump over both gives both, ascending');
  const already = new CrossingTracker([0.9], 100 * MiB, 95 * MiB);
  assert.deepEqual(already.update(96 * MiB), [], 'already above at start: not a crossing seen');
  assert.equal(already.isAbove(0.9), true);
  assert.deepEqual(new CrossingTracker([0.9], 100 * MiB, undefined).update(95 * MiB), [0.9]);
  assert.deepEqual(t.update(Math.floor(0.9 * 100 * MiB) - 1), []);
  assert.deepEqual(t.update(Math.floor(0.9 * 100 * MiB)), [0.9], 'at the threshold counts as reached');
});

test('CrossingTracker: the fast path for readings that change nothing agrees with a tracker that checks every threshold; nextBytes is the first threshold above the reading', () => {
  // Reference: the state per threshold kept naively, every reading checked against every threshold.
  let seed = 99;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (const fractions of [[0.9], [0.9, 0.95], [0.5, 0.8, 0.9, 0.95, 1]]) {
    const limit = 256 * MiB;
    for (const initial of [undefined, 0, 0.85 * limit, 0.97 * limit, limit]) {
      const t = new CrossingTracker(fractions, limit, initial);
      const ts = fractions.map((f) => thresholdBytes(f, limit));
      const above = ts.map((b) => initial !== undefined && initial >= b);
      for (let i = 0; i < 3000; i++) {
        // Mostly small moves around the thresholds, sometimes a jump anywhere.
        const u = rnd() < 0.1 ? Math.floor(rnd() * 1.1 * limit) : Math.floor(ts[i % ts.length]! + (rnd() - 0.5) * 2 * MiB);
        const want: number[] = [];
        for (let k = 0; k < ts.length; k++) {
          if (u >= ts[k]! && !above[k]) want.push(fractions[k]!);
          above[k] = u >= ts[k]!;
        }
        assert.deepEqual([...t.update(u)], want, `${fractions} from ${initial}: reading ${u}`);
        const next = ts.find((b) => b > u) ?? Number.POSITIVE_INFINITY;
        assert.equal(t.nextBytes, next, `${fractions}: next threshold above ${u}`);
        for (let k = 0; k < ts.length; k++) assert.equal(t.isAbove(fractions[k]!), above[k]);
      }
    }
  }
});

test('CrossingTracker.updateWithPeak (issue 14): a mark that moved past a threshold the previous reading was below is a crossing, late when the reading is back below; never one that did not happen, never twice', () => {
  const MiB = 2 ** 20;
  const t = new CrossingTracker([0.9, 0.95], 256 * MiB, 10 * MiB); // 0.9: 230.4 MiB, 0.95: 243.2 MiB
  // The mark did not move: a reading below proves nothing.
  assert.deepEqual(t.updateWithPeak(undefined, 5 * MiB), []);
  // It moved, but below both thresholds.
  assert.deepEqual(t.updateWithPeak(200 * MiB, 5 * MiB), []);
  // Up to the limit and back (the OOM kill): both, late.
  assert.deepEqual(t.updateWithPeak(256 * MiB, 1 * MiB), [{ fraction: 0.9, late: true }, { fraction: 0.95, late: true }]);
  assert.equal(t.isAbove(0.9), false, 'the reading sets the state: below again');
  // Past 0.9 only, back below: 0.9 alone.
  assert.deepEqual(t.updateWithPeak(235 * MiB, 1 * MiB), [{ fraction: 0.9, late: true }]);
  // Past both, still above 0.9: 0.9 as an ordinary crossing, 0.95 late.
  assert.deepEqual(t.updateWithPeak(250 * MiB, 232 * MiB), [{ fraction: 0.9, late: false }, { fraction: 0.95, late: true }]);
  // The previous reading (232 MiB) was above 0.9 already: a higher mark crosses 0.95 only.
  assert.deepEqual(t.updateWithPeak(250 * MiB, 240 * MiB), [{ fraction: 0.95, late: true }]);
  // The same mark again (it did not move): nothing twice.
  assert.deepEqual(t.updateWithPeak(undefined, 240 * MiB), []);
  // A mark above both while the reading stays above both: crossed by the reading, not late.
  assert.deepEqual(t.updateWithPeak(255 * MiB, 250 * MiB), [{ fraction: 0.95, late: false }]);
  assert.deepEqual(t.updateWithPeak(256 * MiB, 250 * MiB), [], 'already above both: a higher mark is no crossing');
  // No mark, a reading above: ordinary crossings.
  const u = new CrossingTracker([0.9, 0.95], 256 * MiB, 0);
  assert.deepEqual(u.updateWithPeak(undefined, 250 * MiB), [{ fraction: 0.9, late: false }, { fraction: 0.95, late: false }]);
});

test('counterDeltas: grown keys only, nothing on first sight or on a counter going backwards', () => {
  const a = new Map([['oom', 1], ['oom_kill', 1], ['max', 5], ['low', 0]]);
  const b = new Map([['oom', 2], ['oom_kill', 1], ['max', 3], ['low', 9], ['high', 4]]);
  assert.deepEqual(counterDeltas(undefined, b, ['oom']), []);
  assert.deepEqual(counterDeltas(a, b, ['high', 'max', 'oom', 'oom_kill']), [['oom', 1]]);
});

test('parseThresholds: fractions in (0, 1], sorted, deduplicated; messages otherwise', () => {
  assert.deepEqual(parseThresholds(['0.95', '0.9', '0.9']), [0.9, 0.95]);
  assert.deepEqual(parseThresholds(['1']), [1]);
  for (const bad of [[], ['0'], ['1.5'], ['90%'], ['x'], ['-0.5']]) assert.equal(typeof parseThresholds(bad), 'string', JSON.stringify(bad));
});

test('WatchBus: ids, order, unsubscribe, bounded recent list with filters, a throwing listener does not stop the others', () => {
  const errors: unknown[] = [];
  const bus = new WatchBus({ recentMax: 3, onListenerError: (e) => errors.push(e) });
  const seen: number[] = [];
  const off = bus.on((ev) => seen.push(ev.id));
  bus.on(() => {
    throw new Error('boom');
  });
  const base = { source: 'v2-poll' as const, threshold: 0.9, usageBytes: 1, limitBytes: 2, latencySeconds: 0 };
  for (let i = 0; i < 5; i++) bus.emit({ ...base, timeMs: 1000 * i, cgroup: i % 2 === 0 ? '/a' : '/b' });
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  assert.equal(errors.length, 5);
  off();
  bus.emit({ ...base, timeMs: 5000, cgroup: '/a' });
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  assert.deepEqual(bus.recent().map((e) => e.id), [6, 5, 4]);
  assert.deepEqual(bus.recent({ cgroup: '/a' }).map((e) => e.id), [6, 5]);
  assert.deepEqual(bus.recent({ sinceMs: 4500 }).map((e) => e.id), [6]);
  assert.deepEqual(bus.recent({ limit: 1 }).map((e) => e.id), [6]);
});

test('HistogramState: cumulative buckets, sum and count as a sample; WatchStats bounds its label sets', () => {
  const h = new HistogramState([0.001, 0.01, 0.1]);
  for (const v of [0.0005, 0.002, 0.002, 0.5]) h.observe(v);
  const s = h.sample(watchLatency);
  assert.deepEqual(s.histogram?.bucketCounts, [1, 3, 3]);
  assert.equal(s.histogram?.count, 4);
  assert.equal(s.value, 4);
  assert.ok(Math.abs((s.histogram?.sum ?? 0) - 0.5045) < 1e-12);
  const st = new WatchStats();
  st.countCrossing('/a', 0.9);
  st.countCrossing('/a', 0.9);
  st.countCrossing('/a', 0.95);
  assert.deepEqual(st.samples().filter((x) => x.desc === watchCrossings).map((x) => [x.labels, x.value]), [
    [{ cgroup: '/a', threshold: '0.9' }, 2],
    [{ cgroup: '/a', threshold: '0.95' }, 1],
  ]);
  for (let i = 0; i < MAX_CROSSING_LABEL_SETS + 10; i++) st.countCrossing(`/c${i}`, 0.9);
  assert.equal(st.samples().filter((x) => x.desc === watchCrossings).length, MAX_CROSSING_LABEL_SETS);
  assert.equal(st.labelSetsDropped, 12);
  // The drops are exported, not only counted.
  assert.equal(st.samples().find((x) => x.desc === watchLabelSetsDropped)?.value, 12);
});
