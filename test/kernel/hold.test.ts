// The hold (--snapshot.hold, cgroup v1 only) on a real kernel.
//
// 1. A cgroup limited to 256 MiB and an allocator as fast as one process can fault pages in
//    (transparent huge pages, no pacing: 5-8 GiB/s here), the exporter running in-process with
//    --snapshot.hold true and one threshold, 0.5 (the hold applies from the top threshold; at
//    that speed 0.95 -> 1.0 takes about 2 ms, less than a crossing can take to reach a busy JS
//    thread, see bench/RESULTS.md; 0.5 leaves ~20 ms): when the crossing reaches the bus,
//    oom_kill_disable is 1 and .hold.json in --snapshot.dir names what was changed; after the kill
//    the snapshot linked to it ended before the kill, holds the victim's status and smaps_rollup,
//    records the hold (set, restored, no error), oom_kill_disable is back to 0 and .hold.json gone.
// 2. Crash: memlens as a child process (bin/memlens.js) takes a snapshot with the hold whose
//    capture lasts (a rule command sleeping 30 s, --snapshot.hold-max 10s) on an allocator that
//    stops at 250 MiB; SIGKILLed mid-hold it leaves oom_kill_disable 1 and .hold.json behind; a
//    memlens started again on the same --snapshot.dir restores oom_kill_disable 0 at start and
//    removes the record.
// Whatever happens, the test itself writes oom_kill_disable 0, kills what it started and removes
// its cgroups.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type Config } from '../../src/config/load.js';
import { startExporter, type Running } from '../../src/main.js';
import { createLogger } from '../../src/log.js';
import type { OomKillRecord } from '../../src/oom/store.js';
import { HOLD_STATE_FILE } from '../../src/forensics/hold.js';
import { missingCgroupV1, missingKmsg, skipOrFail } from '../helpers/capability.js';
import { freePort } from '../helpers/exposition.js';
import { makeCgroup, ownCgroup, removeStale, removeTree, uniqueName, writeCg, type TestCgroup } from './helpers/cgroup.js';
import { haveGcc } from './helpers/workload.js';
import { waitFor } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const LIMIT = 256 * MiB;
const TOP = 0.5;
const repo = join(import.meta.dirname, '..', '..', '..');

// argv: cgroup.procs, MiB per second (0: no pacing), stop at MiB (0: never, until killed).
const ALLOC_C = String.raw`
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#define MIB (1L << 20)
#define REGION (2048L * MIB)
int main(int argc, char **argv) {
  if (argc != 4) return 2;
  FILE *cg = fopen(argv[1], "w");
  if (cg == NULL || fprintf(cg, "%d\n", (int)getpid()) < 0 || fclose(cg) != 0) { perror("join"); return 1; }
  long rate = atol(argv[2]), stop = atol(argv[3]) * MIB;
  char *m = mmap(NULL, REGION + 2 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) { perror("mmap"); return 1; }
  volatile char *p = (char *)(((unsigned long)m + 2 * MIB - 1) & ~(2 * MIB - 1));
  madvise((void *)p, REGION, MADV_HUGEPAGE);
  printf("ready\n"); fflush(stdout);
  char go; if (read(0, &go, 1) != 1) return 0;
  struct timespec next; clock_gettime(CLOCK_MONOTONIC, &next);
  for (long off = 0; off < REGION; off += MIB) {
    if (stop > 0 && off >= stop) { printf("parked\n"); fflush(stdout); while (read(0, &go, 1) > 0) {} return 0; }
    for (long i = 0; i < MIB; i += 4096) p[off + i] = 1;
    if (rate > 0) {
      next.tv_nsec += 1000000000L / rate;
      while (next.tv_nsec >= 1000000000L) { next.tv_sec++; next.tv_nsec -= 1000000000L; }
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
  }
  return 3;
}
`;

const missing = missingCgroupV1() ?? missingKmsg() ?? (haveGcc() ? undefined : 'gcc not found') ?? (existsSync(join(repo, 'bin/memlens.js')) ? undefined : 'bin/memlens.js not found');
const skip = skipOrFail(missing);

function config(argv: string[]): Config {
  const parsed = loadConfig(argv, {});
  assert.equal(parsed.kind, 'run');
  return parsed.config;
}

const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function oomKillDisable(cg: TestCgroup): number {
  const m = /^oom_kill_disable (\d)$/m.exec(readFileSync(join(cg.dir, 'memory.oom_control'), 'utf8'));
  assert.ok(m !== null, 'no oom_kill_disable line');
  return Number(m[1]);
}

function waitLine(child: ChildProcess, re: RegExp, what: string, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${what}: no ${String(re)} after ${timeoutMs} ms`)), timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      seen += d.toString();
      if (re.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? sig}) before ${String(re)}`));
    });
  });
}

function alive(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}

/** Direct children of `pid` (a memlens' rule commands), from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

describe('kernel: the OOM-killer hold (--snapshot.hold, v1)', { skip }, () => {
  let tmp = '';
  let bin = '';
  const cgroups: TestCgroup[] = [];
  const children: ChildProcess[] = [];
  const strays: number[] = [];
  let running: Running | undefined;
  const killAll = (): void => {
    for (const c of children) if (alive(c)) c.kill('SIGKILL');
    for (const p of strays) killPid(p);
  };

  before(async () => {
    process.once('exit', killAll);
    const own = ownCgroup();
    await removeStale(own);
    tmp = mkdtempSync(join(tmpdir(), `memlens-hold-${process.pid}-`));
    const src = join(tmp, 'alloc.c');
    writeFileSync(src, ALLOC_C);
    bin = join(tmp, 'mlhold');
    const cc = spawnSync('gcc', ['-O2', '-Wall', '-Werror', '-o', bin, src], { encoding: 'utf8' });
    assert.equal(cc.status, 0, cc.stderr);
  });

  after(async () => {
    // Restore first: a held cgroup with a task in its OOM waitqueue would never empty.
    for (const cg of cgroups) {
      try {
        writeFileSync(join(cg.dir, 'memory.oom_control'), '0');
      } catch (err) {
        console.error(`restoring oom_kill_disable in ${cg.dir}: ${String(err)}`);
      }
    }
    killAll();
    await running?.close();
    for (const cg of cgroups) {
      for (let i = 0; i < 100; i++) {
        const pids = readFileSync(join(cg.dir, 'cgroup.procs'), 'utf8').split('\n').filter((l) => l !== '');
        if (pids.length === 0) break;
        for (const p of pids) killPid(Number(p));
        await sleep(20);
      }
      await removeTree(cg.dir);
    }
    process.off('exit', killAll);
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  });

  function newCgroup(): TestCgroup {
    const cg = makeCgroup(ownCgroup(), uniqueName());
    cgroups.push(cg);
    writeCg(cg, 'memory.limit_in_bytes', String(LIMIT));
    return cg;
  }

  async function startAlloc(cg: TestCgroup, rate: number, stopMiB: number): Promise<ChildProcess> {
    const a = spawn(bin, [join(cg.dir, 'cgroup.procs'), String(rate), String(stopMiB)], { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(a);
    await waitLine(a, /ready/, 'allocator');
    return a;
  }

  test('full-speed allocator: the snapshot completes before the kill, the hold is recorded, restored and cleared', async (t: TestContext) => {
    const cg = newCgroup();
    const snapDir = join(tmp, 'snapshots-1');
    const port = await freePort();
    running = await startExporter(
      config([
        '--web.listen-address', `127.0.0.1:${port}`, '--snapshot.dir', snapDir, '--log.level', 'error', '--collectors.disabled', 'process',
        '--cgroup.include', `^${esc(cg.path)}$`, '--watch.thresholds', String(TOP), '--snapshot.hold', 'true', '--snapshot.hold-max', '2s',
      ]),
      createLogger('error'),
    );
    const r = running;
    await waitFor('the watcher on the test cgroup (v1 eventfds)', () => (r.watch.watcher?.list().some((w) => w.path === cg.path && w.via === 'v1-eventfd') === true ? true : undefined), 15_000);

    // What the hold looks like while it is in place, seen from the bus right after the snapshot taker (subscribed first) ran.
    let during: { threshold: number; oomKillDisable: number; record: string | undefined; atMs: number } | undefined;
    const crossings: string[] = [];
    r.watch.bus.on((ev) => {
      if (ev.cgroup !== cg.path || ev.threshold === null) return;
      crossings.push(`${ev.threshold}@${ev.usageBytes ?? '?'}`);
      if (ev.threshold < TOP || during !== undefined) return;
      const file = join(snapDir, HOLD_STATE_FILE);
      during = { threshold: ev.threshold, oomKillDisable: oomKillDisable(cg), record: existsSync(file) ? readFileSync(file, 'utf8') : undefined, atMs: ev.timeMs };
    });

    const alloc = await startAlloc(cg, 0, 0);
    const startMs = Date.now();
    alloc.stdin?.write('g');
    const rec = await waitFor<OomKillRecord>('the OOM record of the allocator', () => r.store.list({ cgroup: cg.path }).find((k) => k.victim.pid === alloc.pid), 30_000);
    await waitFor('the snapshot write', () => (r.snapshots.metricValues().held === 0 && r.snapshots.store.meta(rec.snapshotId ?? '') !== undefined ? true : undefined), 5000);
    t.diagnostic(`crossings ${crossings.join(', ')}; kill ${(rec.timeMs - startMs).toFixed(0)} ms after the start (${(256 / ((rec.timeMs - startMs) / 1000)).toFixed(0)} MiB/s on average)`);

    assert.ok(during !== undefined, `no ${TOP} crossing on the bus (crossings: ${crossings.join(', ')})`);
    assert.equal(during.oomKillDisable, 1, 'oom_kill_disable was not 1 while the snapshot ran');
    assert.ok(during.record !== undefined, `${HOLD_STATE_FILE} missing during the hold`);
    const entries = JSON.parse(during.record) as { file: string; cgroup: string; pid: number; setAtMs: number }[];
    assert.equal(entries.length, 1, during.record);
    assert.equal(entries[0]?.file, join(cg.dir, 'memory.oom_control'));
    assert.equal(entries[0]?.cgroup, cg.path);
    assert.equal(entries[0]?.pid, process.pid);

    assert.ok(rec.snapshotId !== undefined, 'the kill is not linked to a snapshot');
    const doc = r.snapshots.get(rec.snapshotId);
    assert.ok(doc !== undefined);
    const v = doc.processes.find((p) => p.pid === alloc.pid);
    const rel = (ms: number | undefined): string => (ms === undefined ? '-' : (ms - startMs).toFixed(1));
    t.diagnostic(`timeline (ms after the start): ${TOP} on the bus ${rel(during.atMs)}, snapshot ${rel(doc.timeMs)}, hold set ${rel(doc.hold?.setAtMs)}, victim status ${rel(v?.readAtMs.status)}, smaps_rollup ${rel(v?.readAtMs.smaps_rollup)} (gone at ${v?.goneAt ?? '-'}), capture end ${rel(doc.captureEndMs)}, hold restored ${rel(doc.hold?.restoredAtMs)}, kill ${rel(rec.timeMs)}`);
    assert.ok(v !== undefined, 'the victim is not in the snapshot');
    assert.ok(v.status?.residentBytes !== undefined, `victim: no status (stage ${v.stage})`);
    assert.ok(v.smapsRollup?.pssBytes !== undefined, `victim: no smaps_rollup (stage ${v.stage})`);
    assert.ok(doc.captureEndMs < rec.timeMs, `capture ended ${(doc.captureEndMs - rec.timeMs).toFixed(1)} ms after the kill`);
    assert.ok(doc.hold !== undefined, 'the snapshot linked to the kill does not record a hold');
    assert.equal(doc.hold.error, undefined, `hold error: ${doc.hold.error ?? ''}`);
    assert.ok(doc.hold.restoredAtMs !== undefined, 'the hold was not restored');
    assert.ok(doc.hold.restoredAtMs - doc.hold.setAtMs <= 2000 + 250, `held ${doc.hold.restoredAtMs - doc.hold.setAtMs} ms (hold-max 2 s)`);
    t.diagnostic(`hold set ${doc.hold.setAtMs - startMs} ms after the start, held ${doc.hold.restoredAtMs - doc.hold.setAtMs} ms; capture ${doc.captureDurationMs.toFixed(1)} ms, ended ${(rec.timeMs - doc.captureEndMs).toFixed(1)} ms before the kill; victim stage ${v.stage}`);

    // After: restored, record cleared.
    assert.equal(oomKillDisable(cg), 0, 'oom_kill_disable not back to 0');
    assert.equal(existsSync(join(snapDir, HOLD_STATE_FILE)), false, `${HOLD_STATE_FILE} left behind`);
    await running.close();
    running = undefined;
    assert.equal(oomKillDisable(cg), 0);
  });

  test('crash mid-hold: SIGKILL leaves oom_kill_disable 1 and the record; the next memlens on the dir restores it at start', async (t: TestContext) => {
    const cg = newCgroup();
    const snapDir = join(tmp, 'snapshots-2');
    const yaml = join(tmp, 'hold-crash.yaml');
    // The capture lasts as long as its rule command runs: the hold stays until --snapshot.hold-max.
    writeFileSync(yaml, ['snapshot:', '  rules:', '    - name: slow-dump', `      cgroup: '^${esc(cg.path)}$'`, '      command: sleep 30', '      timeout: 40s', ''].join('\n'));
    const startMemlens = async (name: string, hold: boolean): Promise<{ child: ChildProcess; out: () => string }> => {
      const port = await freePort();
      const child = spawn(process.execPath, [
        join(repo, 'bin/memlens.js'), '--config', yaml, '--web.listen-address', `127.0.0.1:${port}`, '--snapshot.dir', snapDir, '--log.level', 'info',
        '--collectors.disabled', 'process', '--cgroup.include', `^${esc(cg.path)}$`, '--watch.thresholds', '0.9,0.95', '--snapshot.min-interval', '1s',
        '--snapshot.hold', String(hold), '--snapshot.hold-max', '10s',
      ], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let out = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor(`${name} listening`, async () => {
        if (!alive(child)) throw new Error(`${name} exited: ${out}`);
        try {
          return (await fetch(`http://127.0.0.1:${port}/api/v1/snapshots`)).ok ? true : undefined;
        } catch {
          return undefined;
        }
      }, 20_000);
      return { child, out: () => out };
    };

    const first = await startMemlens('memlens #1', true);
    await sleep(3000); // its watcher's first cgroup walk registers the threshold eventfds
    const alloc = await startAlloc(cg, 200, 250); // 200 MiB/s up to 250 MiB (97.7 %), then parked: no OOM
    alloc.stdin?.write('g');
    const record = join(snapDir, HOLD_STATE_FILE);
    await waitFor('the hold (oom_kill_disable 1 and its record)', () => (oomKillDisable(cg) === 1 && existsSync(record) ? true : undefined), 20_000).catch((err: unknown) => {
      throw new Error(`${String(err)}; memlens #1 said: ${first.out()}`);
    });
    const heldAt = Date.now();
    const pid = first.child.pid!;
    strays.push(...childrenOf(pid)); // the rule command (sleep 30), in its own process group
    first.child.kill('SIGKILL');
    await new Promise<void>((resolve) => (alive(first.child) ? first.child.once('exit', () => resolve()) : resolve()));
    t.diagnostic(`memlens #1 SIGKILLed ${Date.now() - heldAt} ms into the hold (hold-max 10 s)`);
    for (const p of strays) killPid(p);
    assert.ok(Date.now() - heldAt < 10_000, 'not killed within hold-max: the test proves nothing');

    assert.equal(oomKillDisable(cg), 1, 'oom_kill_disable should still be 1 after the crash');
    const entries = JSON.parse(readFileSync(record, 'utf8')) as { file: string; cgroup: string; pid: number }[];
    assert.deepEqual(entries.map((e) => [e.file, e.cgroup, e.pid]), [[join(cg.dir, 'memory.oom_control'), cg.path, pid]]);

    const second = await startMemlens('memlens #2', false);
    // The restore runs before the port is taken: by now it is done.
    assert.equal(oomKillDisable(cg), 0, `memlens #2 did not restore oom_kill_disable; it said: ${second.out()}`);
    assert.equal(existsSync(record), false, `${HOLD_STATE_FILE} not removed`);
    await waitFor('the restore log line', () => (/restored oom_kill_disable=0 left by an earlier memlens/.test(second.out()) ? true : undefined), 5000);
    second.child.kill('SIGTERM');
    await new Promise<void>((resolve) => (alive(second.child) ? second.child.once('exit', () => resolve()) : resolve()));
  });
  test('SIGTERM mid-hold: memlens restores oom_kill_disable, clears the record and exits 0 within 5 s', async (t: TestContext) => {
    const cg = newCgroup();
    const snapDir = join(tmp, 'snapshots-3');
    const yaml = join(tmp, 'hold-term.yaml');
    // The capture lasts as long as its rule command runs: the hold is still on when SIGTERM lands.
    writeFileSync(yaml, ['snapshot:', '  rules:', '    - name: slow-dump', `      cgroup: '^${esc(cg.path)}$'`, '      command: sleep 30', '      timeout: 40s', ''].join('\n'));
    const port = await freePort();
    const child = spawn(process.execPath, [
      join(repo, 'bin/memlens.js'), '--config', yaml, '--web.listen-address', `127.0.0.1:${port}`, '--snapshot.dir', snapDir, '--log.level', 'info',
      '--collectors.disabled', 'process', '--cgroup.include', `^${esc(cg.path)}$`, '--watch.thresholds', '0.9,0.95', '--snapshot.min-interval', '1s',
      '--snapshot.hold', 'true', '--snapshot.hold-max', '10s',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; atMs: number }>((resolve) => child.once('exit', (code) => resolve({ code, atMs: Date.now() })));
    await waitFor('memlens listening', async () => {
      if (!alive(child)) throw new Error(`memlens exited: ${out}`);
      try {
        return (await fetch(`http://127.0.0.1:${port}/api/v1/snapshots`)).ok ? true : undefined;
      } catch {
        return undefined;
      }
    }, 20_000);
    await sleep(3000); // its watcher's first cgroup walk registers the threshold eventfds
    const alloc = await startAlloc(cg, 200, 250); // up to 250 MiB (97.7 %), then parked: no OOM
    alloc.stdin?.write('g');
    const record = join(snapDir, HOLD_STATE_FILE);
    await waitFor('the hold (oom_kill_disable 1 and its record)', () => (oomKillDisable(cg) === 1 && existsSync(record) ? true : undefined), 20_000).catch((err: unknown) => {
      throw new Error(`${String(err)}; memlens said: ${out}`);
    });
    strays.push(...childrenOf(child.pid!));
    const sentMs = Date.now();
    child.kill('SIGTERM');
    const { code, atMs } = await exited;
    t.diagnostic(`SIGTERM mid-hold to exit: ${atMs - sentMs} ms`);
    assert.equal(code, 0, `exit code; memlens said: ${out}`);
    assert.ok(atMs - sentMs < 5000, `stopped ${atMs - sentMs} ms after SIGTERM`);
    assert.equal(oomKillDisable(cg), 0, 'oom_kill_disable restored on the way out');
    assert.equal(existsSync(record), false, `${HOLD_STATE_FILE} removed`);
    for (const p of strays) killPid(p);
  });
});
