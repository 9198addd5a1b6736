// Real-kernel tests of the early-warning watcher on cgroup v1 (issue 4): a cgroup limited to 128 MiB and a C process
// ramping its memory at about 100 MiB/s (1 MiB touched every 10 ms): the 0.9 and 0.95 events arrive in order, before
// the OOM kill, each with usage >= its threshold; ramp down and up fires again; a changed limit moves the thresholds;
// rmdir drops the watch; 200 cgroups created and removed leave no fd behind.
// The watched set comes from the live cgroup tree over the host's hierarchy (include = the test cgroup), as in the
// exporter. Needs root and a writable v1 memory controller: skipped on a laptop, failing under CI=true.
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { HostFs } from '../../src/host/hostFs.js';
import { discoverHierarchy } from '../../src/cgroupfs/hierarchy.js';
import { CgroupTree } from '../../src/cgroupfs/tree.js';
import { KernelEventLoop } from '../../src/kernel/eventLoop.js';
import { WatchBus } from '../../src/watch/bus.js';
import type { WatchEvent } from '../../src/watch/bus.js';
import { WatchStats } from '../../src/watch/stats.js';
import { CgroupWatcher } from '../../src/watch/watcher.js';
import { missingCgroupV1, skipOrFail } from '../helpers/capability.js';
import { makeCgroup, ownCgroup, removeStale, removeTree, uniqueName, writeCg, type TestCgroup } from './helpers/cgroup.js';
import { haveGcc } from './helpers/workload.js';
import { until } from '../helpers/wait.js';

const MiB = 2 ** 20;
const missing = missingCgroupV1() ?? (haveGcc() ? undefined : 'no gcc to build the ramp workload');
const skip = skipOrFail(missing);

// Joins the cgroup, then obeys stdin lines: "up N" touches N more MiB, one MiB every STEP_MS ms (one mmap per MiB);
// "down N" unmaps the last N MiB. Prints "at <MiB held>" after each command; each MiB's completion time is not needed.
const RAMP_C = String.raw`
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#define MAXMIB 4096
static void *blocks[MAXMIB];
int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s CGROUP_PROCS STEP_MS\n", argv[0]); return 2; }
  FILE *cg = fopen(argv[1], "w");
  if (cg == NULL || fprintf(cg, "%d\n", (int)getpid()) < 0 || fclose(cg) != 0) { perror("join cgroup"); return 1; }
  long stepMs = atol(argv[2]);
  struct timespec step = { stepMs / 1000, (stepMs % 1000) * 1000000L };
  int held = 0;
  char line[64];
  printf("ready\n"); fflush(stdout);
  while (fgets(line, sizeof line, stdin) != NULL) {
    int n = 0;
    if (sscanf(line, "up %d", &n) == 1) {
      for (int i = 0; i < n && held < MAXMIB; i++) {
        char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { perror("mmap"); return 1; }
        memset(p, 1 + (held & 127), 1 << 20);
        blocks[held++] = p;
        nanosleep(&step, NULL);
      }
    } else if (sscanf(line, "down %d", &n) == 1) {
      for (int i = 0; i < n && held > 0; i++) munmap(blocks[--held], 1 << 20);
    }
    printf("at %d\n", held); fflush(stdout);
  }
  return 0;
}
`;

interface Ramp {
  child: ChildProcessWithoutNullStreams;
  exit: Promise<{ atNs: bigint; signal: NodeJS.Signals | null; code: number | null }>;
  /** Sends a command and waits for its "at N" line. */
  cmd(line: string, timeoutMs?: number): Promise<number>;
}

let workDir = '';
let rampBin = '';
let parent: TestCgroup;
const created: TestCgroup[] = [];
const ramps = new Set<ChildProcessWithoutNullStreams>();

function startRamp(cg: TestCgroup, stepMs: number): Promise<Ramp> {
  const child = spawn(rampBin, [join(cg.dir, 'cgroup.procs'), String(stepMs)], { stdio: ['pipe', 'pipe', 'pipe'] });
  ramps.add(child);
  const exit = new Promise<{ atNs: bigint; signal: NodeJS.Signals | null; code: number | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ atNs: process.hrtime.bigint(), signal, code })),
  );
  let buf = '';
  const waiters: Array<(line: string) => void> = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      waiters.shift()?.(line);
    }
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const nextLine = (timeoutMs: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`ramp: no line within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
      waiters.push((l) => {
        clearTimeout(timer);
        resolve(l);
      });
      void exit.then((e) => {
        clearTimeout(timer);
        reject(new Error(`ramp exited (${e.code ?? e.signal}); stderr: ${stderr}`));
      });
    });
  return nextLine(10_000).then((l) => {
    assert.equal(l, 'ready');
    return {
      child,
      exit,
      cmd: async (line: string, timeoutMs = 30_000) => {
        const p = nextLine(timeoutMs);
        child.stdin.write(`${line}\n`);
        const at = /^at (\d+)$/.exec(await p);
        assert.ok(at !== null);
        return Number(at[1]);
      },
    };
  });
}

async function killRamp(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await gone;
  }
  ramps.delete(child);
}

function newCgroup(limitBytes?: number): TestCgroup {
  const cg = makeCgroup(parent, uniqueName());
  created.push(cg);
  if (limitBytes !== undefined) {
    writeCg(cg, 'memory.limit_in_bytes', String(limitBytes));
    // No swap here, but set memsw too so the OOM comes at the limit on a host that has some.
    if (existsSync(join(cg.dir, 'memory.memsw.limit_in_bytes'))) writeCg(cg, 'memory.memsw.limit_in_bytes', String(limitBytes));
  }
  return cg;
}

async function removeCg(cg: TestCgroup): Promise<void> {
  await removeTree(cg.dir, 10_000);
  const i = created.indexOf(cg);
  if (i >= 0) created.splice(i, 1);
}

interface Harness {
  loop: KernelEventLoop;
  bus: WatchBus;
  stats: WatchStats;
  watcher: CgroupWatcher;
  events: Array<WatchEvent & { atNs: bigint }>;
  logLines: Array<Record<string, unknown>>;
  tree: CgroupTree;
  /** One full rescan of the live tree, which ends in the watcher's reconcile. */
  collect(): Promise<void>;
  close(): Promise<void>;
}

function harness(include: RegExp, opts: { maxCgroups?: number } = {}): Harness {
  const loop = new KernelEventLoop();
  const bus = new WatchBus();
  const stats = new WatchStats();
  const logLines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') logLines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const watcher = new CgroupWatcher({
    mode: 'v1', loop, bus, stats, log, thresholds: [0.9, 0.95], pollIntervalMs: 100, maxCgroups: opts.maxCgroups ?? 500, include, exclude: undefined,
  });
  const events: Array<WatchEvent & { atNs: bigint }> = [];
  bus.on((ev) => events.push({ ...ev, atNs: process.hrtime.bigint() }));
  const host = new HostFs('/proc', '/sys');
  const hierarchy = discoverHierarchy(host);
  assert.equal(hierarchy?.mode, 'v1');
  const tree = new CgroupTree({ host, hierarchy: hierarchy!, loop, maxDepth: 16, log });
  tree.start();
  watcher.attach(tree);
  return {
    loop, bus, stats, watcher, events, logLines, tree,
    collect: async () => {
      tree.rescan('timer');
      // Eventfds are registered off the JS thread (polled meanwhile): wait until every watched cgroup has them.
      await until('eventfds registered', () => watcher.list().every((w) => !w.arming), 10_000);
    },
    close: async () => {
      watcher.close();
      tree.close();
      await loop.close();
    },
  };
}

function crossings(h: Harness, threshold: number): Array<WatchEvent & { atNs: bigint }> {
  return h.events.filter((e) => e.threshold === threshold);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function procSelfFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** The kernel's OOM-kill line for pid (from /dev/kmsg, read non-blocking from the start of the ring), monotonic µs. */
function kmsgKillUsec(pid: number): number | undefined {
  const r = spawnSync('dmesg', ['--raw', '--kernel', '--level=err,warn,notice,info'], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  // dmesg --raw prints "<prio>[ seconds.micro] text"
  const re = new RegExp(String.raw`\[\s*(\d+)\.(\d{6})\][^\n]*Killed process ${pid} `);
  const m = re.exec(r.stdout);
  return m === null ? undefined : Number(m[1]) * 1e6 + Number(m[2]);
}

describe('early warning on the real kernel (cgroup v1)', { skip }, () => {
  before(async () => {
    parent = ownCgroup();
    await removeStale(parent);
    workDir = mkdtempSync(join(tmpdir(), 'memlens-watch-'));
    rampBin = join(workDir, 'mlramp');
    writeFileSync(join(workDir, 'ramp.c'), RAMP_C);
    const r = spawnSync('gcc', ['-O1', '-Wall', '-Werror', '-o', rampBin, join(workDir, 'ramp.c')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  after(async () => {
    for (const c of [...ramps]) await killRamp(c);
    for (const cg of [...created].reverse()) await removeCg(cg);
    if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
  });

  test('ramp at ~100 MiB/s into a 128 MiB limit: 0.9 then 0.95, both before the OOM kill, usage >= threshold', async (t: TestContext) => {
    const limit = 128 * MiB;
    const cg = newCgroup(limit);
    const h = harness(new RegExp(`^${escape(cg.path)}$`));
    try {
      await h.collect();
      assert.deepEqual(h.watcher.list().map((w) => [w.path, w.via, w.limitBytes, w.loopWatches]), [[cg.path, 'v1-eventfd', limit, 3]]);
      const ramp = await startRamp(cg, 8);
      const startNs = process.hrtime.bigint();
      const monoStartUs = Number(process.hrtime.bigint() / 1000n);
      ramp.child.stdin.write('up 400\n');
      const ex = await Promise.race([ramp.exit, sleep(20_000).then(() => undefined)]);
      assert.ok(ex !== undefined, 'the ramp was not OOM-killed within 20 s');
      assert.equal(ex.signal, 'SIGKILL');
      ramps.delete(ramp.child);
      await sleep(100);
      const c90 = crossings(h, 0.9);
      const c95 = crossings(h, 0.95);
      const shown = JSON.stringify(h.events.map((e) => ({ ...e, atNs: String(e.atNs) })));
      assert.equal(c90.length, 1, shown);
      assert.equal(c95.length, 1, shown);
      const e90 = c90[0]!;
      const e95 = c95[0]!;
      assert.ok(e90.id < e95.id, '0.9 before 0.95');
      assert.ok(e90.atNs <= e95.atNs);
      assert.ok(e90.usageBytes !== null && e90.usageBytes >= Math.floor(0.9 * limit), `0.9 event usage ${e90.usageBytes}`);
      assert.ok(e95.usageBytes !== null && e95.usageBytes >= Math.floor(0.95 * limit), `0.95 event usage ${e95.usageBytes}`);
      assert.ok(e95.atNs < ex.atNs, '0.95 event before the process was seen dead');
      for (const e of [e90, e95]) assert.equal(e.source, 'v1-threshold');
      const oom = h.events.filter((e) => e.source === 'v1-oom');
      assert.ok(oom.length >= 1, 'the oom_control eventfd fired');
      assert.equal(h.stats.crossingCount(cg.path, 0.9), 1);
      assert.equal(h.stats.crossingCount(cg.path, 0.95), 1);
      const logged = h.logLines.filter((l) => l['event'] === 'threshold_crossing');
      assert.equal(logged.length, 2);
      assert.equal(logged[0]?.['level'], 40);

      const ms = (ns: bigint): string => (Number(ns - startNs) / 1e6).toFixed(1);
      const killUs = ramp.child.pid === undefined ? undefined : kmsgKillUsec(ramp.child.pid);
      // Event handling times in the kernel's monotonic clock (the same clock as dmesg's timestamps).
      const monoOf = (ns: bigint): number => monoStartUs + Number(ns - startNs) / 1000;
      if (killUs !== undefined) {
        assert.ok(monoOf(e95.atNs) < killUs + 2000, `0.95 event (${monoOf(e95.atNs)} µs) after the kernel's kill line (${killUs} µs)`);
      }
      t.diagnostic(
        `from "up": 0.9 at ${ms(e90.atNs)} ms (usage ${(e90.usageBytes / MiB).toFixed(1)} MiB, latency ${(e90.latencySeconds * 1e3).toFixed(3)} ms), ` +
          `0.95 at ${ms(e95.atNs)} ms (usage ${(e95.usageBytes / MiB).toFixed(1)} MiB, latency ${(e95.latencySeconds * 1e3).toFixed(3)} ms), ` +
          `oom event at ${ms(oom[0]!.atNs)} ms, ` +
          (killUs === undefined ? 'no kill line in dmesg, ' : `kernel kill line at ${((killUs - monoStartUs) / 1000).toFixed(1)} ms, `) +
          `exit seen at ${ms(ex.atNs)} ms`,
      );
    } finally {
      await h.close();
      await removeCg(cg);
    }
  });

  test('a ramp down and up again fires again (only upward crossings count)', async (t: TestContext) => {
    const limit = 128 * MiB;
    const cg = newCgroup(limit);
    const h = harness(new RegExp(`^${escape(cg.path)}$`));
    let ramp: Ramp | undefined;
    try {
      await h.collect();
      ramp = await startRamp(cg, 2);
      // 120 MiB is above 0.9 (115.2 MiB) and below 0.95 (121.6 MiB).
      await ramp.cmd('up 120');
      await until('first 0.9 crossing', () => crossings(h, 0.9).length >= 1, 5_000);
      await ramp.cmd('down 50');
      await sleep(300); // the kernel's downward signal re-arms the threshold
      assert.equal(crossings(h, 0.9).length, 1, 'no event on the way down');
      await ramp.cmd('up 50');
      await until('second 0.9 crossing', () => crossings(h, 0.9).length >= 2, 5_000);
      await sleep(200);
      assert.equal(crossings(h, 0.9).length, 2);
      assert.equal(crossings(h, 0.95).length, 0);
      assert.equal(h.stats.crossingCount(cg.path, 0.9), 2);
      for (const e of crossings(h, 0.9)) assert.ok((e.usageBytes ?? 0) >= Math.floor(0.9 * limit));
      t.diagnostic(`0.9 events at usage ${crossings(h, 0.9).map((e) => `${((e.usageBytes ?? 0) / MiB).toFixed(1)} MiB`).join(', ')}`);
    } finally {
      if (ramp !== undefined) await killRamp(ramp.child);
      await h.close();
      await removeCg(cg);
    }
  });

  test('changing the limit moves the thresholds (re-registered at the next collection)', async (t: TestContext) => {
    const cg = newCgroup(128 * MiB);
    const h = harness(new RegExp(`^${escape(cg.path)}$`));
    let ramp: Ramp | undefined;
    try {
      await h.collect();
      assert.deepEqual(h.watcher.list()[0]?.thresholdsBytes, [Math.floor(0.9 * 128 * MiB), Math.floor(0.95 * 128 * MiB)]);
      ramp = await startRamp(cg, 2);
      await ramp.cmd('up 100'); // 78 % of 128 MiB
      await sleep(100);
      assert.equal(h.events.length, 0);
      const newLimit = 108 * MiB; // now 100 MiB is 92.6 %: above 0.9 (97.2 MiB), below 0.95 (102.6 MiB)
      writeCg(cg, 'memory.limit_in_bytes', String(newLimit));
      writeCg(cg, 'memory.memsw.limit_in_bytes', String(newLimit));
      await h.collect();
      const w = h.watcher.list()[0];
      assert.equal(w?.limitBytes, newLimit);
      assert.deepEqual(w?.thresholdsBytes, [Math.floor(0.9 * newLimit), Math.floor(0.95 * newLimit)]);
      assert.equal(w?.loopWatches, 3, 'old threshold eventfds closed, new ones registered');
      assert.equal(h.events.length, 0, 'already above 0.9 when the limit moved: not a crossing seen');
      await ramp.cmd('up 4'); // 104 MiB: above 0.95 of 108 MiB
      await until('0.95 of the new limit', () => crossings(h, 0.95).length >= 1, 5_000);
      const e = crossings(h, 0.95)[0]!;
      assert.equal(e.limitBytes, newLimit);
      assert.ok((e.usageBytes ?? 0) >= Math.floor(0.95 * newLimit));
      t.diagnostic(`after the limit moved to 108 MiB: 0.95 event at ${((e.usageBytes ?? 0) / MiB).toFixed(1)} MiB`);
    } finally {
      if (ramp !== undefined) await killRamp(ramp.child);
      await h.close();
      await removeCg(cg);
    }
  });

  test('a parent\'s limit lowered over 100 armed cgroups: re-armed off the JS thread (polled meanwhile), thresholds follow (issue 14)', async (t: TestContext) => {
    const n = 100;
    const group = newCgroup(512 * MiB);
    const kids: TestCgroup[] = [];
    for (let i = 0; i < n; i++) kids.push(makeCgroup(group, `r${i}`)); // no limit of their own: the group's applies
    const h = harness(new RegExp(`^${escape(group.path)}/`));
    let ramp: Ramp | undefined;
    try {
      await h.collect();
      assert.equal(h.watcher.list().length, n);
      assert.deepEqual(new Set(h.watcher.list().map((w) => `${w.via} ${w.limitBytes}`)), new Set([`v1-eventfd ${512 * MiB}`]));
      const newLimit = 64 * MiB;
      const want = [Math.floor(0.9 * newLimit), Math.floor(0.95 * newLimit)];
      writeCg(group, 'memory.limit_in_bytes', String(newLimit));
      // The tree's inotify event handled here, on this thread: the watcher re-arms the 100 cgroups within this call. Each
      // threshold registration waits for an RCU grace period in the kernel, so none may happen in it.
      const flushStart = performance.now();
      h.loop.flushInotify();
      const flushMs = performance.now() - flushStart;
      const right = h.watcher.list();
      assert.equal(right.length, n);
      assert.deepEqual(right.filter((w) => w.limitBytes !== newLimit || w.thresholdsBytes.join() !== want.join()).map((w) => w.path), [], 'thresholds not moved at once');
      assert.deepEqual(right.filter((w) => !(w.arming && w.via === 'poll')).map((w) => `${w.path} ${w.via}`), [], 'registered on the JS thread');
      // Meanwhile the thread is free: the longest gap between 1 ms timer ticks (a diagnostic; bench/arming measures).
      let last = performance.now();
      let maxGapMs = 0;
      const tick = setInterval(() => {
        const now = performance.now();
        maxGapMs = Math.max(maxGapMs, now - last);
        last = now;
      }, 1);
      const t0 = performance.now();
      await until('every eventfd re-registered', () => h.watcher.list().every((w) => !w.arming), 30_000);
      clearInterval(tick);
      t.diagnostic(`the limit write handled on this thread in ${flushMs.toFixed(1)} ms; ${n} cgroups re-armed ${(performance.now() - t0).toFixed(0)} ms later; longest timer gap meanwhile ${maxGapMs.toFixed(1)} ms`);
      // Two threshold eventfds on the new limit and the oom_control one kept (not registered twice).
      assert.deepEqual(new Set(h.watcher.list().map((w) => `${w.via} ${w.loopWatches} ${w.thresholdsBytes.join()}`)), new Set([`v1-eventfd 3 ${want.join()}`]));
      // A crossing of the new thresholds, by the kernel's new eventfds: 59 MiB is above 0.9 of 64 MiB, below 0.95.
      ramp = await startRamp(kids[0]!, 2);
      await ramp.cmd('up 59');
      await until('0.9 of the new limit', () => crossings(h, 0.9).length >= 1, 5_000);
      const e = crossings(h, 0.9)[0]!;
      assert.equal(e.cgroup, kids[0]!.path);
      assert.equal(e.source, 'v1-threshold');
      assert.equal(e.limitBytes, newLimit);
      assert.equal(crossings(h, 0.95).length, 0);
      assert.deepEqual(h.logLines.filter((l) => Number(l['level']) >= 40 && l['event'] === undefined), [], 'warnings other than the crossing');
    } finally {
      if (ramp !== undefined) await killRamp(ramp.child);
      await h.close();
      for (const k of kids) await removeTree(k.dir);
      await removeCg(group);
    }
  });

  test('removing a watched cgroup drops the watch, without error, fds back to baseline', async () => {
    const cg = newCgroup(64 * MiB);
    const h = harness(new RegExp(`^${escape(cg.path)}$`));
    try {
      const baseLoop = 3; // epoll, the control eventfd, the shared inotify fd (the cgroup was armed at attach)
      await h.collect();
      assert.equal(h.watcher.list().length, 1);
      assert.equal(h.loop.openFdCount(), baseLoop + 6);
      await removeCg(cg);
      await until('the watch dropped', () => h.watcher.list().length === 0, 5_000);
      assert.equal(h.loop.openFdCount(), baseLoop);
      await h.collect(); // the next collection no longer lists it: nothing to do, nothing thrown
      assert.equal(h.watcher.list().length, 0);
      assert.deepEqual(h.logLines.filter((l) => Number(l['level']) >= 40), []);
      assert.equal(h.events.length, 0, 'a removal is not an event');
    } finally {
      await h.close();
    }
  });

  test('cgroups that exist at start are polled at once and get their eventfds off the JS thread', async (t: TestContext) => {
    const n = 50;
    const group = newCgroup();
    const kids: TestCgroup[] = [];
    for (let i = 0; i < n; i++) {
      const k = makeCgroup(group, `s${i}`);
      kids.push(k);
      writeCg(k, 'memory.limit_in_bytes', String((32 + i) * MiB));
    }
    // harness() starts the tree and attaches the watcher in one synchronous run: what is armed by its end was armed
    // on the JS thread. Each registration waits for an RCU grace period, so none must be.
    const h = harness(new RegExp(`^${escape(group.path)}/`));
    try {
      const atAttach = h.watcher.list();
      assert.equal(atAttach.length, n);
      assert.deepEqual(atAttach.filter((w) => w.via !== 'poll' || !w.arming).map((w) => [w.path, w.via]), [], 'armed on the JS thread at attach');
      await until('every eventfd registered', () => h.watcher.list().every((w) => !w.arming), 30_000);
      assert.deepEqual(new Set(h.watcher.list().map((w) => `${w.via} ${w.loopWatches}`)), new Set(['v1-eventfd 3']));
      t.diagnostic(`${n} cgroups found at start: polled at attach, eventfds registered after`);
    } finally {
      await h.close();
      for (const k of kids) await removeTree(k.dir);
      await removeCg(group);
    }
  });

  test('200 cgroups created, watched and removed leave no fd behind', async (t: TestContext) => {
    const n = 200;
    const group = newCgroup();
    const h = harness(new RegExp(`^${escape(group.path)}/`));
    const baseProc = procSelfFdCount();
    const baseLoop = h.loop.openFdCount();
    const kids: TestCgroup[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const k = makeCgroup(group, `c${i}`);
        kids.push(k);
        writeCg(k, 'memory.limit_in_bytes', String((32 + (i % 7)) * MiB));
      }
      await h.collect();
      assert.equal(h.watcher.list().length, n);
      // Cgroups the tree adds are polled until their eventfds are registered (off the JS thread).
      await until('every eventfd registered', () => h.watcher.list().every((w) => !w.arming), 30_000);
      assert.equal(h.loop.openFdCount(), baseLoop + n * 6);
      assert.equal(procSelfFdCount(), baseProc + n * 6);
      // Half removed while watched (the kernel's rmdir signal drops them), half dropped by the next collection first.
      for (let i = 0; i < n; i += 2) await removeTree(kids[i]!.dir);
      await until('removal signals', () => h.watcher.list().length === n / 2, 10_000);
      await h.collect();
      assert.equal(h.watcher.list().length, n / 2);
      for (let i = 1; i < n; i += 2) await removeTree(kids[i]!.dir);
      await h.collect();
      await until('all dropped', () => h.watcher.list().length === 0, 10_000);
      await sleep(100);
      assert.equal(h.loop.openFdCount(), baseLoop);
      assert.equal(procSelfFdCount(), baseProc);
      assert.deepEqual(h.logLines.filter((l) => Number(l['level']) >= 40), []);
      t.diagnostic(`${n} cgroups x 6 fds opened and released; /proc/self/fd back to ${baseProc}`);
    } finally {
      await h.close();
      for (const k of kids) await removeTree(k.dir);
      await removeCg(group);
    }
  });
});
