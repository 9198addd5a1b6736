// bench/oom-race on cgroup v2, inside the qemu VM (issue 14): does the snapshot beat the OOM killer when the
// adaptive v2 poller is all that watches? The v1 harness (run.mjs) needs cgroup v1 and gcc; this one runs in the
// guest, where only node is:
//
//   npx tsc -p . && node test/vm/run-vm.mjs --test build/bench/oom-race/v2guest.js --timeout 1500 \
//     --append "memlens.env.MEMLENS_RACE_RUNS=20 memlens.env.MEMLENS_RACE_RATES=100,0 memlens.env.MEMLENS_RACE_AGES=young,old"
//
// The exporter runs in the guest test process (startExporter, default flags but the process collector off,
// --snapshot.min-interval 1s so back-to-back runs are not debounced, --cgroup.include ^/mlr-). Per cell
// (age x rate) MEMLENS_RACE_RUNS kills: a node allocator (test/v2/guest.ts WORK, started paused outside the
// cgroup) is moved into a 256 MiB cgroup and allocates 1 MiB buffers, paced to the rate by deadline (0: as fast as
// it can), until the kernel kills it. young: a new cgroup per run, made and limited 200 ms before the ramp; old: one
// cgroup made and watched before the runs. Complete, as in run.mjs: the kill record links a snapshot holding the
// victim with status and smaps_rollup, whose captureEndMs is before the kill. Each run is a diagnostic line
// (`race {...}`), the table comes last (`race-table` lines).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startExporter, type Running } from '../../src/main.js';
import { createLogger } from '../../src/log.js';
import type { OomKillRecord } from '../../src/oom/store.js';
import type { WatchEvent } from '../../src/watch/bus.js';
import { freePort } from '../../test/helpers/exposition.js';
import { MiB, exporterConfig, makeCgroup, moveAndGo, readInt, removeTree, skip, startWorkload, stopWorkload, writeCg } from '../../test/v2/guest.js';
import { waitFor } from '../../test/helpers/wait.js';

const LIMIT = 256 * MiB;
const YOUNG_MS = 200;
const RUNS = Number(process.env['MEMLENS_RACE_RUNS'] ?? '20');
const RATES = (process.env['MEMLENS_RACE_RATES'] ?? '100,0').split(',').map(Number);
const AGES = (process.env['MEMLENS_RACE_AGES'] ?? 'young,old').split(',');

interface Run {
  age: string;
  rate: number;
  run: number;
  madeBeforeMs: number | null;
  killAtMs: number;
  crossings: Array<{ threshold: number; atMs: number; usageMiB: number | null; source: string }>;
  linked: boolean;
  snapStartMs: number | null;
  captureEndMs: number | null;
  captureMs: number | null;
  victimStage: string | null;
  complete: boolean;
  /** MiB/s from go to the 0.9 crossing's usage reading, and 256 MiB over go -> kill. */
  rampTo09MiBs: number | null;
  rampToKillMiBs: number;
}

let running: Running | undefined;
const events: WatchEvent[] = [];

before(async () => {
  if (skip !== false) return;
  running = await startExporter(
    exporterConfig(await freePort(), ['--collectors.disabled', 'process', '--snapshot.min-interval', '1s', '--cgroup.include', '^/mlr-']),
    createLogger('warn'),
  );
  running.watch.bus.on((ev) => events.push(ev));
});

after(async () => {
  await running?.close();
});

test('v2 oom-race: young and old cgroups, 20 kills per cell', { skip, timeout: 3_600_000 }, async (t) => {
  const r = running!;
  const runs: Run[] = [];
  for (const age of AGES) {
    let oldDir: string | undefined;
    if (age === 'old') {
      oldDir = makeCgroup('mlr-old');
      writeCg(oldDir, 'memory.max', String(LIMIT));
      await waitFor('the old cgroup watched', () => (r.watch.watcher?.list().some((w) => w.path === '/mlr-old') ? true : undefined), 20_000);
      await sleep(1000);
    }
    for (const rate of RATES) {
      for (let run = 0; run < RUNS; run++) {
        const name = age === 'old' ? 'mlr-old' : `mlr-${rate}-${run}`;
        const path = `/${name}`;
        const w = await startWorkload(`mlr${run}`, rate > 0 ? { MLW_FOREVER: '1', MLW_RATE_MIB_S: String(rate) } : { MLW_FOREVER: '1' });
        try {
          let dir = oldDir;
          let madeMs = 0;
          if (dir === undefined) {
            dir = makeCgroup(name);
            writeCg(dir, 'memory.max', String(LIMIT));
            madeMs = Date.now();
            await sleep(Math.max(0, YOUNG_MS - (Date.now() - madeMs)));
          } else {
            await waitFor('usage back down', () => (readInt(`${dir}/memory.current`) < 16 * MiB ? true : undefined), 20_000);
          }
          const goMs = Date.now();
          await moveAndGo(w, dir, path, false);
          const exit = await Promise.race([w.exited, sleep(120_000, undefined, { ref: false }).then(() => undefined)]);
          assert.ok(exit !== undefined && exit.signal === 'SIGKILL', `allocator exit ${JSON.stringify(exit)}; stderr ${w.stderr()}`);
          const rec = await waitFor<OomKillRecord>('the kill record', () => r.store.list({ cgroup: path }).find((k) => k.victim.pid === w.pid), 10_000);
          // The link is made when the kill record arrives; a capture still running then links on its end.
          let snapshotId: string | undefined;
          try {
            snapshotId = await waitFor('a linked snapshot', () => r.store.list({ cgroup: path }).find((k) => k.id === rec.id)?.snapshotId, 3_000, 20);
          } catch {
            snapshotId = undefined;
          }
          const doc = snapshotId === undefined ? undefined : r.snapshots.get(snapshotId);
          const victim = doc?.processes.find((p) => p.pid === w.pid);
          const crossings = events
            .filter((e) => e.cgroup === path && e.threshold !== null && e.timeMs >= goMs)
            .map((e) => ({ threshold: e.threshold!, atMs: e.timeMs - goMs, usageMiB: e.usageBytes === null ? null : e.usageBytes / MiB, source: e.source }));
          const c09 = crossings.find((c) => c.threshold === 0.9);
          const res: Run = {
            age, rate, run,
            madeBeforeMs: madeMs === 0 ? null : goMs - madeMs,
            killAtMs: rec.timeMs - goMs,
            crossings,
            linked: snapshotId !== undefined,
            snapStartMs: doc === undefined ? null : doc.timeMs - goMs,
            captureEndMs: doc === undefined ? null : doc.captureEndMs - goMs,
            captureMs: doc?.captureDurationMs ?? null,
            victimStage: victim?.stage ?? (doc === undefined ? null : 'absent'),
            complete: doc !== undefined && victim?.status !== undefined && victim.smapsRollup !== undefined && doc.captureEndMs < rec.timeMs,
            rampTo09MiBs: c09 === undefined || c09.usageMiB === null || c09.atMs <= 0 ? null : c09.usageMiB / (c09.atMs / 1000),
            rampToKillMiBs: 256 / ((rec.timeMs - goMs) / 1000),
          };
          runs.push(res);
          t.diagnostic(`race ${JSON.stringify(res)}`);
          if (age !== 'old') await removeTree(dir);
        } finally {
          await stopWorkload(w);
        }
        await sleep(1100); // --snapshot.min-interval 1s since the last capture
      }
    }
    if (oldDir !== undefined) await removeTree(oldDir);
  }
  const median = (xs: Array<number | null>): number => {
    const s = xs.filter((x): x is number => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
    return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
  };
  t.diagnostic('race-table | cgroup | ramp asked | complete | linked | both crossings before the kill | median 1st crossing -> kill | median capture | median capture end -> kill | median ramp to 0.9 (MiB/s) | median ramp to kill (MiB/s) |');
  t.diagnostic('race-table |---|---|---|---|---|---|---|---|---|---|');
  for (const age of AGES) for (const rate of RATES) {
    const rs = runs.filter((x) => x.age === age && x.rate === rate);
    const ok = rs.filter((x) => x.complete).length;
    const both = rs.filter((x) => [0.9, 0.95].every((th) => x.crossings.some((c) => c.threshold === th && c.atMs <= x.killAtMs))).length;
    t.diagnostic(`race-table | ${age === 'young' ? `young (made ${YOUNG_MS} ms before)` : 'old'} | ${rate === 0 ? 'as fast as the guest allocates' : `${rate} MiB/s`} | **${ok}/${rs.length}** | ${rs.filter((x) => x.linked).length}/${rs.length} | ${both}/${rs.length} | ` +
      `${median(rs.map((x) => (x.crossings[0] === undefined ? null : x.killAtMs - x.crossings[0].atMs))).toFixed(1)} ms | ${median(rs.map((x) => x.captureMs)).toFixed(1)} ms | ` +
      `${median(rs.map((x) => (x.captureEndMs === null ? null : x.killAtMs - x.captureEndMs))).toFixed(1)} ms | ${median(rs.map((x) => x.rampTo09MiBs)).toFixed(0)} | ${median(rs.map((x) => x.rampToKillMiBs)).toFixed(0)} |`);
  }
  assert.ok(runs.length > 0);
});
