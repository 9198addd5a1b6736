// cgroup v2 guest test (issue 14): young cgroups. For each ramp (100 MiB/s, and as fast as the guest allocates):
// a cgroup /mly-<n> is made and given memory.max 256 MiB, and 200 ms later a node allocator (started paused outside
// it) is moved in and allocates 1 MiB buffers until the kernel kills it. Asserted: the exporter's adaptive v2 poller
// published both crossings (0.9 and 0.95) before the kill, the kill record is linked to a snapshot taken before the
// kill, with the victim in it. The rate reached (256 MiB over go -> kill) is printed.
// Runs only inside the VM (MEMLENS_IN_VM=1).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startExporter, type Running } from '../../src/main.js';
import { createLogger } from '../../src/log.js';
import type { OomKillRecord } from '../../src/oom/store.js';
import type { WatchEvent } from '../../src/watch/bus.js';
import { freePort } from '../helpers/exposition.js';
import { MiB, exporterConfig, makeCgroup, moveAndGo, removeTree, reportLingering, skip, startWorkload, stopWorkload, writeCg, type Workload } from './guest.js';
import { cleanupSteps } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/wait.js';

const LIMIT = 256 * MiB;
const YOUNG_MS = 200;


describe('v2 guest: young cgroups (made 200 ms before the ramp) get both crossings and a snapshot before the kill', { skip }, () => {
  let running: Running | undefined;
  const workloads: Workload[] = [];
  const made: string[] = [];
  const events: WatchEvent[] = [];

  before(async () => {
    const port = await freePort();
    running = await startExporter(
      exporterConfig(port, ['--collectors.disabled', 'process', '--snapshot.min-interval', '1s', '--cgroup.include', '^/mly-']),
      createLogger('warn'),
    );
    running.watch.bus.on((ev) => events.push(ev));
  });

  after(async () => {
    const { errors, attempt } = cleanupSteps();
    for (const w of workloads) await attempt(() => stopWorkload(w));
    await attempt(() => running?.close());
    for (const d of made) await attempt(() => removeTree(d));
    reportLingering('young');
    if (errors.length > 0) throw new AggregateError(errors, 'v2 young-cgroup test cleanup failed');
  });

  const cases: Array<{ name: string; env: Record<string, string> }> = [
    // 1 MiB buffers paced by deadline to 100 MiB/s (a fixed nap after each MiB added the MiB's own time: 39 MiB/s).
    { name: '100 MiB/s', env: { MLW_FOREVER: '1', MLW_RATE_MIB_S: '100' } },
    { name: 'as fast as the guest allocates', env: { MLW_FOREVER: '1' } },
  ];
  cases.forEach((c, i) => {
    test(`${c.name}: both crossings and a linked snapshot before the kill`, { timeout: 120_000 }, async (t) => {
      const r = running!;
      const w = await startWorkload(`mly-${i}`, c.env);
      workloads.push(w);
      const path = `/mly-${i}`;
      const dir = makeCgroup(`mly-${i}`);
      made.push(dir);
      writeCg(dir, 'memory.max', String(LIMIT));
      const madeMs = Date.now();
      await sleep(Math.max(0, YOUNG_MS - (Date.now() - madeMs)));
      const goMs = Date.now();
      await moveAndGo(w, dir, path, false);
      const exit = await Promise.race([w.exited, sleep(90_000, undefined, { ref: false }).then(() => undefined)]);
      assert.ok(exit !== undefined && exit.signal === 'SIGKILL', `allocator exit ${JSON.stringify(exit)}; stderr ${w.stderr()}`);
      const rec = await waitFor<OomKillRecord>('the kill record', () => r.store.list({ cgroup: path }).find((k) => k.victim.pid === w.pid), 10_000);
      const at = (th: number): WatchEvent | undefined => events.find((e) => e.cgroup === path && e.threshold === th);
      const rate = 256 / ((rec.timeMs - goMs) / 1000);
      t.diagnostic(`${c.name}: made ${goMs - madeMs} ms before the ramp; rate reached ${rate.toFixed(0)} MiB/s (256 MiB in ${(rec.timeMs - goMs).toFixed(0)} ms); ` +
        `0.9 at +${(at(0.9)?.timeMs ?? NaN) - goMs} ms, 0.95 at +${(at(0.95)?.timeMs ?? NaN) - goMs} ms (${at(0.95)?.source ?? '-'}), kill at +${(rec.timeMs - goMs).toFixed(0)} ms`);
      assert.ok(at(0.9) !== undefined && at(0.9)!.timeMs <= rec.timeMs, 'no 0.9 crossing before the kill');
      assert.ok(at(0.95) !== undefined && at(0.95)!.timeMs <= rec.timeMs, 'no 0.95 crossing before the kill');
      const snapshotId = await waitFor('the kill linked to a snapshot', () => r.store.list({ cgroup: path }).find((k) => k.id === rec.id)?.snapshotId, 10_000, 20);
      const doc = r.snapshots.get(snapshotId);
      assert.ok(doc !== undefined);
      t.diagnostic(`snapshot at +${doc.timeMs - goMs} ms, capture ${doc.captureDurationMs.toFixed(0)} ms, ended ${(rec.timeMs - doc.captureEndMs).toFixed(0)} ms before the kill`);
      assert.ok(doc.timeMs <= rec.timeMs, 'the linked snapshot was taken after the kill');
      assert.ok(doc.processes.some((p) => p.pid === w.pid), 'the victim is not in the snapshot');
      await removeTree(dir);
    });
  });
});
