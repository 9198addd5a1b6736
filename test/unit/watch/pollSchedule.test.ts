// Adaptive polling's schedule (src/watch/pollSchedule.ts): the read that sees a crossing is never later than the
// crossing itself (plus MIN_POLL_MS) for a ramp at the rate polling is sized for, whatever the ceiling; and the grid
// that lets reads share wake-ups only ever moves a read earlier.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAST_ALLOC_BYTES_PER_S, MIN_POLL_MS, nextReadAtMs, safeDelayMs } from '../../../src/watch/pollSchedule.js';

const MiB = 2 ** 20;

test('safeDelayMs: headroom over the rate, the seen rate when faster, at least MIN_POLL_MS', () => {
  assert.equal(safeDelayMs(0, 1024 * MiB, FAST_ALLOC_BYTES_PER_S), 1000);
  assert.equal(safeDelayMs(26 * MiB, 256 * MiB, FAST_ALLOC_BYTES_PER_S), (230 * 1000) / 1024);
  assert.equal(safeDelayMs(26 * MiB, 256 * MiB, FAST_ALLOC_BYTES_PER_S, 2 * FAST_ALLOC_BYTES_PER_S), (230 * 1000) / 2048, 'seen faster: that rate');
  assert.equal(safeDelayMs(26 * MiB, 256 * MiB, FAST_ALLOC_BYTES_PER_S, 100 * MiB), (230 * 1000) / 1024, 'seen slower: the design rate');
  assert.equal(safeDelayMs(256 * MiB, 256 * MiB, FAST_ALLOC_BYTES_PER_S), MIN_POLL_MS);
  assert.equal(safeDelayMs(300 * MiB, 256 * MiB, FAST_ALLOC_BYTES_PER_S), MIN_POLL_MS, 'past it: as often as allowed');
});

test('nextReadAtMs: never after the safe time nor (1 ms aside) the ceiling, never before MIN_POLL_MS, at most an eighth early below the ceiling', () => {
  let seed = 12345;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 20_000; i++) {
    const now = rnd() * 1e7;
    const ceiling = [10, 100, 250, 1000, 5000][i % 5]!;
    const safe = MIN_POLL_MS + rnd() * 3 * ceiling;
    const at = nextReadAtMs(now, safe, ceiling);
    assert.ok(at <= now + safe + 1e-9, `now ${now} safe ${safe} ceiling ${ceiling}: ${at - now} ms, after the safe time`);
    assert.ok(at <= now + ceiling + 1 + 1e-9, `now ${now} safe ${safe} ceiling ${ceiling}: ${at - now} ms, over the ceiling`);
    assert.ok(at >= now + MIN_POLL_MS, `now ${now} safe ${safe} ceiling ${ceiling}: ${at - now} ms < ${MIN_POLL_MS}`);
    if (safe < ceiling) assert.ok(at - now >= 0.875 * safe - 1e-9, `now ${now} safe ${safe}: ${at - now} ms, more than an eighth early`);
  }
});

test('nextReadAtMs: the grid step (the highest power of two not over an eighth of the delay) is exact, powers of two included', () => {
  // Below the ceiling and from 16 ms the read lands on a multiple of the step, the highest power of two not over
  // delay / 8, at most one step early: checked for delays that are powers of two, just under or over one, and random ones.
  const ceiling = 2 ** 26;
  const delays: number[] = [];
  for (let k = 4; k < 25; k++) delays.push(2 ** k, 2 ** k - 1e-9, 2 ** k + 0.5, 3 * 2 ** (k - 1));
  let seed = 7;
  for (let i = 0; i < 5000; i++) delays.push(16 + ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 1e6);
  for (const delay of delays.filter((d) => d >= 16)) {
    // (Not 2 ** Math.floor(Math.log2(delay / 8)), which the schedule used before: log2 rounds to the power of two
    // just under one, e.g. 2 ** 18 for delay / 8 = 262143.9999999999, a step over an eighth of the delay.)
    let step = 1;
    while (step * 2 <= delay / 8) step *= 2;
    const now = 1234567.25;
    const at = nextReadAtMs(now, delay, ceiling);
    assert.equal(at, Math.floor((now + delay) / step) * step, `delay ${delay}: step ${step}`);
  }
});

test('nextReadAtMs: far cgroups read at slightly different times share one ceiling grid point; near ones share a finer grid', () => {
  const ceiling = 1000;
  const far = [5000.2, 5000.9, 5003, 4999.5].map((now) => nextReadAtMs(now, 10 * ceiling, ceiling));
  assert.deepEqual(new Set(far), new Set([6000]));
  // 200 reads made at 200 moments of one second, each 210 ms from its threshold: on a 16 ms grid (210 / 8 -> 16).
  const near = Array.from({ length: 200 }, (_, i) => nextReadAtMs(7000 + i * 5 + 0.3, 210, ceiling));
  assert.ok(new Set(near).size <= 1000 / 16 + 1, `${new Set(near).size} wake-ups for 200 reads`);
  assert.ok(near.every((at) => at % 16 === 0));
  assert.equal(nextReadAtMs(100, 15, ceiling), 115, 'short delays are not gridded');
});

/** Simulated poller on one cgroup: usage idle at u0 until t0, then rising at `rate`; returns when the crossing was read. */
function detect(u0: number, t0: number, rate: number, threshold: number, ceilingMs: number, startMs: number): { crossMs: number; seenMs: number; reads: number } {
  const usageAt = (t: number): number => u0 + Math.max(0, t - t0) * (rate / 1000);
  const crossMs = t0 + ((threshold - u0) * 1000) / rate;
  let now = startMs;
  let last: { t: number; u: number } | undefined;
  for (let reads = 1; reads < 1_000_000; reads++) {
    const u = usageAt(now);
    if (u >= threshold) return { crossMs, seenMs: now, reads };
    const seen = last !== undefined && u > last.u ? ((u - last.u) * 1000) / (now - last.t) : 0;
    last = { t: now, u };
    now = nextReadAtMs(now, safeDelayMs(u, threshold, FAST_ALLOC_BYTES_PER_S, seen), ceilingMs);
  }
  throw new Error('never read past the threshold');
}

test('a ramp at up to 1 GiB/s is read within MIN_POLL_MS of its crossing, whatever the ceiling and the start', () => {
  const limit = 256 * MiB;
  const threshold = Math.floor(0.9 * limit);
  for (const ceiling of [100, 1000, 10_000]) {
    for (const rateMiB of [10, 100, 1024]) {
      for (let k = 0; k < 200; k++) {
        const t0 = 1000 + k * 37.3; // ramps starting at every phase of the grids
        const r = detect(0.06 * limit, t0, rateMiB * MiB, threshold, ceiling, 0);
        assert.ok(r.seenMs - r.crossMs <= MIN_POLL_MS + 1e-6, `ceiling ${ceiling} ms, ${rateMiB} MiB/s from ${t0} ms: crossing at ${r.crossMs.toFixed(1)}, read at ${r.seenMs.toFixed(1)}`);
      }
    }
  }
});

test('idle far from its threshold: the rate governs below the ceiling (a 256 MiB cgroup at 6 % is read about every 210 ms)', () => {
  const limit = 256 * MiB;
  const r = detect(0.06 * limit, 60_000, FAST_ALLOC_BYTES_PER_S, Math.floor(0.9 * limit), 1000, 0);
  const perSecond = (r.reads * 1000) / 60_000; // reads before the ramp starts dominate
  assert.ok(perSecond > 4.7 && perSecond < 5.5, `${perSecond.toFixed(2)} reads/s (210 ms apart: 4.8/s; at most an eighth early: 5.4/s)`);
});
