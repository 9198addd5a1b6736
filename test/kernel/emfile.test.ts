// Issue 14 on the real kernel (cgroup v1): out of file descriptors. The soft RLIMIT_NOFILE of this process is lowered
// (prlimit) so that arming 8 limited cgroups runs into EMFILE part-way: memlens does not crash, the cgroups it could
// not arm are polled by path and counted, and a crossing in one of them is still published (v1-poll). Then
// raiseOpenFileLimit() puts the soft limit back at the hard one. Needs root and a writable v1 memory controller.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostFs } from '../../src/host/hostFs.js';
import { discoverHierarchy } from '../../src/cgroupfs/hierarchy.js';
import { KernelEventLoop } from '../../src/kernel/eventLoop.js';
import { openFileLimit, raiseOpenFileLimit, setOpenFileSoftLimit } from '../../src/kernel/rlimit.js';
import { CgroupTree } from '../../src/cgroupfs/tree.js';
import { WatchBus, type WatchEvent } from '../../src/watch/bus.js';
import { WatchStats } from '../../src/watch/stats.js';
import { CgroupWatcher } from '../../src/watch/watcher.js';
import { missingCgroupV1, skipOrFail } from '../helpers/capability.js';
import { makeCgroup, ownCgroup, removeStale, removeTree, uniqueName, writeCg, type TestCgroup } from './helpers/cgroup.js';
import { compileWorkload, haveGcc, startWorkload, stopWorkload, uniqueComm } from './helpers/workload.js';
import { memoryLogger } from '../unit/collectors/trees.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 2 ** 20;
const skip = skipOrFail(missingCgroupV1() ?? (haveGcc() ? undefined : 'gcc not found'));


describe('kernel: EMFILE degrades to polling (issue 14)', { skip }, () => {
  let group: TestCgroup | undefined;
  let tmp = '';
  const hard = (): number => {
    const l = openFileLimit();
    assert.ok(!('error' in l));
    return l.hard;
  };

  before(async () => {
    const own = ownCgroup();
    await removeStale(own);
    group = makeCgroup(own, uniqueName());
    tmp = mkdtempSync(join(tmpdir(), 'memlens-emfile-'));
  });

  after(async () => {
    raiseOpenFileLimit();
    if (group !== undefined) await removeTree(group.dir, 10_000);
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  });

  test('arming 8 cgroups with too few fds: the rest polled and counted, a crossing still seen, the limit raised back', async () => {
    const host = new HostFs('/proc', '/sys');
    const loop = new KernelEventLoop();
    const { log, lines } = memoryLogger();
    const tree = new CgroupTree({ host, hierarchy: discoverHierarchy(host)!, loop, maxDepth: 16, log });
    const bus = new WatchBus();
    const events: WatchEvent[] = [];
    bus.on((e) => events.push(e));
    const esc = group!.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const watcher = new CgroupWatcher({ mode: 'v1', loop, bus, stats: new WatchStats(), log, thresholds: [0.9, 0.95], pollIntervalMs: 50, maxCgroups: 500, include: new RegExp(`^${esc}/`), exclude: undefined });
    const bin = compileWorkload(tmp, uniqueComm());
    const file = join(tmp, 'one-page');
    writeFileSync(file, 'x'.repeat(4096));
    const kids: TestCgroup[] = [];
    try {
      tree.start();
      watcher.attach(tree);
      for (let i = 0; i < 8; i++) {
        const k = makeCgroup(group!, `c${i}`);
        writeCg(k, 'memory.limit_in_bytes', String(30 * MiB));
        kids.push(k);
      }
      // Room for about two cgroups' eventfds and files (3 each), no more.
      const open = readdirSync('/proc/self/fd').length;
      setOpenFileSoftLimit(open + 8);
      // The tree's inotify events arm them now, under the low limit.
      const list = await waitFor('all 8 watched one way or another', () => {
        const l = watcher.list().filter((w) => w.path.startsWith(`${group!.path}/`));
        // A cgroup the tree adds is polled until its eventfds are registered (off the JS thread): wait for that to end.
        return l.length === 8 && l.every((w) => !w.arming) ? l : undefined;
      }, 10_000).catch((err: unknown) => {
        throw new Error(`${String(err)}; watched ${JSON.stringify(watcher.list().map((x) => [x.path.slice(-3), x.via]))}; log ${JSON.stringify(lines.filter((l) => Number(l['level']) >= 40))}`);
      });
      const polled = list.filter((w) => w.via === 'poll');
      assert.ok(polled.length >= 1, `none polled: ${JSON.stringify(list.map((w) => w.via))}`);
      assert.ok(list.some((w) => w.via === 'v1-eventfd'), 'none armed at all');
      assert.ok((watcher.pollFallbacks.get('EMFILE') ?? 0) >= polled.length, JSON.stringify([...watcher.pollFallbacks]));
      assert.equal(lines.filter((l) => String(l['msg']).includes('out of file descriptors')).length, 1, 'said once');
      // The limit back (as at start), then a workload above both thresholds in a polled cgroup.
      const r = raiseOpenFileLimit();
      assert.ok(r.ok && r.after.soft === hard(), JSON.stringify(r));
      const target = kids.find((k) => polled.some((w) => w.path === k.path))!;
      const w = await startWorkload(bin, target.dir, 29, file);
      try {
        const ev = await waitFor('a crossing of the polled cgroup', () => events.find((e) => e.cgroup === target.path && e.threshold === 0.95), 10_000);
        assert.equal(ev.source, 'v1-poll');
      } finally {
        await stopWorkload(w);
      }
    } finally {
      raiseOpenFileLimit();
      watcher.close();
      tree.close();
      await loop.close();
      for (const k of kids) await removeTree(k.dir, 10_000);
    }
  });
});
