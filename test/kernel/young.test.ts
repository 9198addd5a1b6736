// Issue 14 on the real kernel (cgroup v1): cgroups watched from birth by the live cgroup tree.
// - young cgroup: a cgroup made, its 256 MiB limit written, and an allocator started 200 ms later at 1 GiB/s: both
//   threshold crossings (0.9, 0.95) are published before the OOM kill, and the kill links a snapshot taken before
//   it. Same with the limit written 100 ms after the allocator started. A crossing whose signal memlens handles only
//   after the kill (a JS thread late under load) is still published, marked late.
// - late: the JS thread held from the start of such a ramp until the kernel has killed the allocator (every signal
//   handled after the memory was freed): both crossings are still published, marked late, with the high-water mark.
//   And one that passes 0.9 and is killed below 0.95 while the thread is held: 0.9 is published late, 0.95 is not.
// - burst: 200 cgroups made at once (mkdir and limit back to back), the last one (24 MiB) ramped at 1 GiB/s as soon
//   as its allocator joins: both crossings are published before the kill, though its eventfds may be armed only
//   hundreds of ms after its mkdir (it is polled until then).
// - churn: 200 cgroups made and removed (every other one limited, with a process above both thresholds) while
//   /metrics is scraped: the process's fd count comes back to its baseline, the kernel's inotify watch count
//   (/proc/self/fdinfo) equals the tree's one-per-live-cgroup (others' cgroups come and go on a shared host) with none
//   of the removed cgroups left, and every limited cgroup had both crossings published.
// The exporter runs for real (startExporter: kernel loop, tree, watcher, snapshots, /dev/kmsg). Needs root, a
// writable v1 memory controller, /dev/kmsg and gcc: skipped on a laptop, failing under CI=true.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type Config } from '../../src/config/load.js';
import { startExporter, type Running } from '../../src/main.js';
import { createLogger } from '../../src/log.js';
import type { OomKillRecord } from '../../src/oom/store.js';
import type { WatchEvent } from '../../src/watch/bus.js';
import { missingCgroupV1, missingKmsg, skipOrFail } from '../helpers/capability.js';
import { freePort } from '../helpers/exposition.js';
import { makeCgroup, ownCgroup, removeStale, removeTree, uniqueName, writeCg, type TestCgroup } from './helpers/cgroup.js';
import { compileRampAllocator, compileWorkload, haveGcc, startWorkload, stopWorkload, uniqueComm, type Workload } from './helpers/workload.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const LIMIT = 256 * MiB;

const missing = missingCgroupV1() ?? missingKmsg() ?? (haveGcc() ? undefined : 'gcc not found');
const skip = skipOrFail(missing);

function config(argv: string[]): Config {
  const parsed = loadConfig(argv, {});
  assert.equal(parsed.kind, 'run');
  return parsed.config;
}


const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function pidsIn(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter((l) => l !== '').map(Number);
  } catch {
    return [];
  }
}

async function emptyAndRemove(cg: TestCgroup): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const pids = pidsIn(cg.dir);
    if (pids.length === 0) break;
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await sleep(20);
  }
  await removeTree(cg.dir, 10_000);
}

/** The inotify fd of this process and how many watches the kernel holds on it (fdinfo "inotify wd:" lines). */
function inotifyWatches(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== 'anon_inode:inotify') continue;
    try {
      n += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

const fdCount = (): number => readdirSync('/proc/self/fd').length;

describe('kernel: cgroups watched from birth (issue 14)', { skip }, () => {
  let tmp = '';
  let group: TestCgroup | undefined;
  let running: Running | undefined;
  let port = 0;
  let allocBin = '';
  const children: ChildProcess[] = [];
  const events: WatchEvent[] = [];
  const killAll = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };

  before(async () => {
    process.once('exit', killAll);
    const own = ownCgroup();
    await removeStale(own);
    tmp = mkdtempSync(join(tmpdir(), `memlens-young-${process.pid}-`));
    group = makeCgroup(own, uniqueName());
    allocBin = compileRampAllocator(tmp, 'mlyoung');
    port = await freePort();
    running = await startExporter(
      config([
        '--web.listen-address', `127.0.0.1:${port}`, '--snapshot.dir', join(tmp, 'snapshots'), '--log.level', 'error',
        '--collectors.disabled', 'process', '--snapshot.min-interval', '1s', '--cgroup.include', `^${esc(group.path)}/`,
        '--collect.min-interval', '0s',
      ]),
      createLogger('error'),
    );
    running.watch.bus.on((ev) => events.push(ev));
  });

  after(async () => {
    killAll();
    await running?.close();
    if (group !== undefined) {
      for (const name of readdirSync(group.dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name)) {
        await emptyAndRemove({ path: `${group.path}/${name}`, dir: join(group.dir, name) });
      }
      await removeTree(group.dir, 10_000);
    }
    process.off('exit', killAll);
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  });

  /** Starts the allocator joined to cg; resolves when it has joined and waits for the go byte. */
  async function allocator(cg: TestCgroup, mibPerS: number): Promise<ChildProcess & { stdin: NonNullable<ChildProcess['stdin']> }> {
    const child = spawn(allocBin, [join(cg.dir, 'cgroup.procs'), String(mibPerS)], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/ready/.test(out)) resolve();
      });
      child.once('exit', (code, sig) => reject(new Error(`allocator exited (${code ?? sig}) before ready`)));
    });
    return child as ChildProcess & { stdin: NonNullable<ChildProcess['stdin']> };
  }

  async function killAndCheck(t: TestContext, cg: TestCgroup, pid: number, t0: number): Promise<void> {
    const r = running!;
    const rec = await waitFor<OomKillRecord>('the OOM record of the allocator', () => r.store.list({ cgroup: cg.path }).find((k) => k.victim.pid === pid), 30_000);
    const mine = events.filter((e) => e.cgroup === cg.path && e.threshold !== null);
    const at = (th: number): number | undefined => mine.find((e) => e.threshold === th)?.timeMs;
    const by = (th: number): string => mine.find((e) => e.threshold === th)?.source ?? '-';
    const late = mine.filter((e) => e.late === true).map((e) => e.threshold);
    t.diagnostic(`crossings 0.9 at +${(at(0.9) ?? NaN) - t0} ms by ${by(0.9)}, 0.95 at +${(at(0.95) ?? NaN) - t0} ms by ${by(0.95)}${late.length > 0 ? ` (late: ${late.join(', ')})` : ''}; kill at +${(rec.timeMs - t0).toFixed(0)} ms`);
    // Both published (issue 14). The JS thread may be late under load (the kill comes ~12 ms after 0.95 at 1 GiB/s): a
    // crossing handled after the kill is still published (marked late when usage had fallen back); the warning that
    // has to come before the kill is the snapshot, checked below.
    assert.ok(at(0.9) !== undefined, 'no 0.9 crossing published');
    assert.ok(at(0.95) !== undefined, 'no 0.95 crossing published');
    const snapshotId = await waitFor('the kill linked to a snapshot', () => r.store.list({ cgroup: cg.path }).find((k) => k.id === rec.id)?.snapshotId, 5_000);
    const doc = r.snapshots.get(snapshotId);
    assert.ok(doc !== undefined, `snapshot ${snapshotId} not in the store`);
    t.diagnostic(`snapshot taken at +${doc.timeMs - t0} ms, capture ended ${(rec.timeMs - doc.captureEndMs).toFixed(1)} ms before the kill`);
    assert.ok(doc.timeMs <= rec.timeMs, 'the linked snapshot was taken after the kill');
    assert.ok(doc.processes.some((p) => p.pid === pid), 'the victim is not in the snapshot');
  }

  /** Time from `sinceMs` until the watcher lists `cg` (diagnostic only: the 50 ms target is a benchmark figure). */
  async function armedAfter(cg: TestCgroup, sinceMs: number): Promise<number> {
    await waitFor('the cgroup watched', () => (running!.watch.watcher!.list().some((w) => w.path === cg.path) ? true : undefined), 5_000);
    return Date.now() - sinceMs;
  }

  test('made, limit written, allocator at 1 GiB/s 200 ms later: both crossings and a snapshot before the kill', async (t) => {
    const cg = makeCgroup(group!, 'young-a');
    writeCg(cg, 'memory.limit_in_bytes', String(LIMIT));
    const t0 = Date.now();
    const armedMs = await armedAfter(cg, t0);
    const alloc = await allocator(cg, 1024);
    const wait = 200 - (Date.now() - t0);
    if (wait > 0) await sleep(wait);
    const goMs = Date.now();
    alloc.stdin.write('g');
    t.diagnostic(`watched ${armedMs} ms after the limit write; allocator started ${goMs - t0} ms after it`);
    await killAndCheck(t, cg, alloc.pid!, goMs);
    await emptyAndRemove(cg);
  });

  test('made, allocator at 1 GiB/s, limit written 100 ms after it started: both crossings and a snapshot before the kill', async (t) => {
    const cg = makeCgroup(group!, 'young-b');
    const alloc = await allocator(cg, 1024);
    const goMs = Date.now();
    alloc.stdin.write('g');
    await sleep(100);
    writeCg(cg, 'memory.limit_in_bytes', String(LIMIT));
    const limitMs = Date.now();
    const armedMs = await armedAfter(cg, limitMs);
    t.diagnostic(`limit written ${limitMs - goMs} ms after the start; watched ${armedMs} ms after the write; usage then ${readFileSync(join(cg.dir, 'memory.usage_in_bytes'), 'utf8').trim()} B`);
    await killAndCheck(t, cg, alloc.pid!, goMs);
    await emptyAndRemove(cg);
  });

  test('late: JS thread held from the start of a 1 GiB/s ramp until the OOM kill: both crossings still published, marked late', async (t) => {
    const r = running!;
    const cg = makeCgroup(group!, 'late');
    // Removed whatever the outcome: the churn test below starts from a group without children.
    t.after(() => emptyAndRemove(cg));
    writeCg(cg, 'memory.limit_in_bytes', String(LIMIT));
    // Its eventfds in place (not the polling of its first milliseconds): the kernel signals, memlens reads late.
    await waitFor('the eventfds armed', () => (r.watch.watcher!.list().some((w) => w.path === cg.path && w.via === 'v1-eventfd' && !w.arming) ? true : undefined), 10_000);
    const lateBefore = r.watch.stats.lateCrossings;
    const alloc = await allocator(cg, 1024);
    // libuv writes to an idle pipe at once: the go byte is out before the thread is held.
    alloc.stdin.write('g');
    const goMs = Date.now();
    // Held (no callback runs: the kernel loop's wake-ups queue) until the kernel has killed the allocator and its
    // memory is uncharged (below both thresholds).
    const oomKills = (): number => Number(/^oom_kill (\d+)$/m.exec(readFileSync(join(cg.dir, 'memory.oom_control'), 'utf8'))?.[1] ?? 0);
    const usage = (): number => Number(readFileSync(join(cg.dir, 'memory.usage_in_bytes'), 'utf8').trim());
    const cell = new Int32Array(new SharedArrayBuffer(4));
    while ((oomKills() === 0 || usage() >= 0.9 * LIMIT) && Date.now() - goMs < 30_000) Atomics.wait(cell, 0, 0, 2);
    const heldMs = Date.now() - goMs;
    assert.ok(oomKills() >= 1 && usage() < 0.9 * LIMIT, `the allocator was not killed and its memory freed in the ${heldMs} ms the thread was held`);
    const rec = await waitFor<OomKillRecord>('the OOM record of the allocator', () => r.store.list({ cgroup: cg.path }).find((k) => k.victim.pid === alloc.pid), 30_000);
    const crossing = (th: number): WatchEvent | undefined => events.find((e) => e.cgroup === cg.path && e.threshold === th);
    await waitFor('both crossings', () => (crossing(0.9) !== undefined && crossing(0.95) !== undefined ? true : undefined), 5_000).catch(() => undefined);
    const mine = events.filter((e) => e.cgroup === cg.path && e.threshold !== null);
    t.diagnostic(`thread held ${heldMs} ms; kill at +${(rec.timeMs - goMs).toFixed(0)} ms; crossings ${mine.map((e) => `${e.threshold} at +${e.timeMs - goMs} ms (usage ${e.usageBytes}, peak ${e.peakBytes ?? '-'}, late ${e.late ?? false})`).join(', ')}`);
    for (const th of [0.9, 0.95]) {
      const e = crossing(th);
      assert.ok(e !== undefined, `no ${th} crossing published`);
      assert.equal(e.late, true, `the ${th} crossing is not marked late`);
      assert.ok(e.usageBytes !== null && e.usageBytes < th * LIMIT, `usage ${e.usageBytes} read for a late ${th} crossing`);
      assert.ok(e.peakBytes !== undefined && e.peakBytes >= Math.floor(th * LIMIT), `peak ${e.peakBytes} for the ${th} crossing`);
    }
    assert.equal(mine.length, 2, 'each crossing published once');
    assert.equal(r.watch.stats.lateCrossings - lateBefore, 2);
  });

  test('late, never made up: JS thread held while usage passes 0.9 and falls back (the process killed below 0.95): only 0.9 published', async (t) => {
    const r = running!;
    const cg = makeCgroup(group!, 'late-below');
    // Removed whatever the outcome: the churn test below starts from a group without children.
    t.after(() => emptyAndRemove(cg));
    writeCg(cg, 'memory.limit_in_bytes', String(LIMIT));
    await waitFor('the eventfds armed', () => (r.watch.watcher!.list().some((w) => w.path === cg.path && w.via === 'v1-eventfd' && !w.arming) ? true : undefined), 10_000);
    // 64 MiB/s: 0.9 to 0.95 of 256 MiB takes 200 ms, room for the held thread to kill it in between. Killed 3 MiB past
    // 0.9: the kernel checks thresholds every 128 page events per CPU (mm/memcontrol-v1.c), so a crossing undone within
    // less may never be signalled at all.
    const alloc = await allocator(cg, 64);
    const read = (f: string): number => Number(readFileSync(join(cg.dir, f), 'utf8').trim());
    alloc.stdin.write('g');
    const goMs = Date.now();
    const cell = new Int32Array(new SharedArrayBuffer(4));
    while (read('memory.usage_in_bytes') < 0.9 * LIMIT + 3 * MiB && Date.now() - goMs < 30_000) Atomics.wait(cell, 0, 0, 1);
    alloc.kill('SIGKILL');
    while (pidsIn(cg.dir).length > 0 && Date.now() - goMs < 30_000) Atomics.wait(cell, 0, 0, 1);
    const peak = read('memory.max_usage_in_bytes');
    const heldMs = Date.now() - goMs;
    assert.ok(peak >= 0.9 * LIMIT && peak < 0.95 * LIMIT, `the peak ${peak} is not between the thresholds: the test did not do what it means to`);
    await waitFor('the 0.9 crossing', () => events.find((e) => e.cgroup === cg.path && e.threshold === 0.9), 5_000).catch(() => undefined);
    // Every signal the kernel sent is handled by now (the 0.9 one was): nothing else may come.
    await sleep(200);
    const mine = events.filter((e) => e.cgroup === cg.path && e.threshold !== null);
    t.diagnostic(`thread held ${heldMs} ms, peak ${peak} B (${(peak / LIMIT).toFixed(3)}); crossings ${mine.map((e) => `${e.threshold} (usage ${e.usageBytes}, peak ${e.peakBytes ?? '-'}, late ${e.late ?? false})`).join(', ')}`);
    assert.deepEqual(mine.map((e) => [e.threshold, e.late]), [[0.9, true]]);
  });

  test('burst: 200 cgroups made at once, the last one ramped right after its mkdir: both crossings published, a snapshot before the kill', async (t) => {
    // Each cgroup's eventfds wait for RCU grace periods in the kernel (KERNEL.md); made at once, the last ones are
    // registered hundreds of ms later, and are polled until then. The ramped one's limit is small (24 MiB at 128 MiB/s:
    // 0.9 is reached about 0.17 s after the start), so its crossings come while the burst is still being armed: they
    // must be published, and before the kill. The rate is set, not "as fast as it goes": polling reads a cgroup near a
    // threshold every 2 ms at the least (README "Early warning"), and 0.95 of 24 MiB is 1.2 MiB below the limit, which
    // 128 MiB/s covers in 9 ms; a host where the allocator reached 1 GiB/s covered it in 1.2 ms, faster than polling
    // is built to see.
    const small = 24 * MiB;
    const burst: TestCgroup[] = [];
    try {
      const t0 = Date.now();
      for (let i = 0; i < 199; i++) {
        const cg = makeCgroup(group!, `burst-${i}`);
        burst.push(cg);
        writeCg(cg, 'memory.limit_in_bytes', String(LIMIT));
      }
      const cg = makeCgroup(group!, 'burst-ramped');
      burst.push(cg);
      writeCg(cg, 'memory.limit_in_bytes', String(small));
      const limitMs = Date.now();
      const alloc = await allocator(cg, 128);
      const goMs = Date.now();
      alloc.stdin.write('g');
      const w = running!.watch.watcher!.list().find((x) => x.path === cg.path);
      t.diagnostic(`200 cgroups made in ${limitMs - t0} ms; the last one's allocator started ${goMs - limitMs} ms after its limit write; `
        + `it was then ${w === undefined ? 'not watched' : w.arming ? 'polled, its eventfds not yet armed' : `watched by ${w.via}`}`);
      // What issue 14 asks, as the other young tests check it (killAndCheck): both crossings published, and the kill
      // linked to a snapshot taken before it. Not "every crossing published before the kill": 0.95 comes 9 ms before the
      // kill here, and a JS thread held that long (CI, the whole suite on 2 cores) published it 4 ms after (0.9 at
      // +181, 0.95 at +199, kill at +195 ms).
      await killAndCheck(t, cg, alloc.pid!, goMs);
    } finally {
      for (const cg of burst.reverse()) await emptyAndRemove(cg);
    }
  });

  test('churn: 200 cgroups made and removed while /metrics is scraped: fds and inotify watches back to baseline, no crossing lost', async (t) => {
    const r = running!;
    const comm = uniqueComm();
    const bin = compileWorkload(tmp, comm);
    const file = join(tmp, 'one-page');
    writeFileSync(file, 'x'.repeat(4096));
    // A settled baseline: the tree watches the group and its earlier children are gone.
    await waitFor('the tree settled', () => (r.watch.watcher!.list().length === 0 ? true : undefined), 10_000);
    const baseFds = fdCount();
    const baseWatches = inotifyWatches();
    assert.equal(baseWatches, r.tree!.watchCount(), 'at baseline the kernel holds exactly the tree\'s watches');
    let scrapes = 0;
    let scraping = true;
    const scraper = (async () => {
      while (scraping) {
        // One connection per scrape, closed after it: no keep-alive socket to blur the fd count.
        const status = await new Promise<number>((resolve, reject) => {
          get({ host: '127.0.0.1', port, path: '/metrics', agent: false, headers: { connection: 'close' } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          }).on('error', reject);
        });
        assert.equal(status, 200);
        scrapes++;
      }
    })();
    const limited: TestCgroup[] = [];
    const n = 200;
    const batch = 20;
    // Thresholds 0.9/0.95 of 30 MiB: the workload holds 29 MiB anonymous (usage about 29.3 MiB, above 28.5 MiB by more
    // than the 512 KiB the kernel's threshold check may lag: it runs every 128 page events, mm/memcontrol-v1.c).
    for (let b = 0; b < n; b += batch) {
      const made: Array<{ cg: TestCgroup; w: Workload | undefined }> = [];
      for (let i = b; i < b + batch; i++) {
        const cg = makeCgroup(group!, `churn-${i}`);
        if (i % 2 === 0) {
          writeCg(cg, 'memory.limit_in_bytes', String(30 * MiB));
          limited.push(cg);
        }
        made.push({ cg, w: undefined });
      }
      await Promise.all(made.map(async (m, j) => {
        if ((b + j) % 2 === 0) m.w = await startWorkload(bin, m.cg.dir, 29, file);
      }));
      await waitFor('both crossings of every limited cgroup of the batch', () => made.every((m, j) => (b + j) % 2 !== 0 || [0.9, 0.95].every((th) => events.some((e) => e.cgroup === m.cg.path && e.threshold === th))) ? true : undefined, 20_000);
      for (const m of made) {
        if (m.w !== undefined) await stopWorkload(m.w);
        await removeTree(m.cg.dir, 10_000);
      }
    }
    scraping = false;
    await scraper;
    const afterFds = await waitFor('fds back to baseline', () => (fdCount() <= baseFds ? fdCount() : undefined), 10_000).catch(() => fdCount());
    // Other cgroups of this shared host come and go meanwhile: the kernel's count must equal the tree's (one watch per
    // live cgroup directory, none left for a removed one), and nothing of the group's children may be left in the tree.
    const under = (): number => r.tree!.nodes().filter((n) => n.path.startsWith(`${group!.path}/`)).length;
    const afterWatches = await waitFor('inotify watches back to one per live cgroup', () => (under() === 0 && inotifyWatches() === r.tree!.watchCount() ? inotifyWatches() : undefined), 10_000).catch(() => inotifyWatches());
    t.diagnostic(`${scrapes} scrapes; fds ${baseFds} -> ${afterFds}; inotify watches ${baseWatches} -> ${afterWatches}`);
    assert.ok(scrapes > 0);
    assert.ok(afterFds <= baseFds, `fds ${baseFds} -> ${afterFds}`);
    assert.equal(under(), 0, 'removed cgroups left in the tree');
    assert.equal(afterWatches, r.tree!.watchCount(), `kernel inotify watches ${afterWatches}, the tree's ${r.tree!.watchCount()} (baseline ${baseWatches})`);
    const lost = limited.filter((cg) => ![0.9, 0.95].every((th) => events.some((e) => e.cgroup === cg.path && e.threshold === th)));
    assert.deepEqual(lost.map((c) => c.path), []);
    assert.equal(r.watch.watcher!.list().length, 0);
  });
});
