// Issue 13 on a real kernel (cgroup v1) with a real memlens, real OOM kills and a real browser.
// Under the test's own cgroup:
//   -i13a  limit 96 MiB, watched (--watch.thresholds 0.6): a flat process holding 24 MiB and an
//          allocator that grows at 20 MiB/s until the OOM killer takes it. The 60 % crossing
//          takes a snapshot; the kill is linked to it.
//   -i13b  limit 64 MiB, NOT watched (--cgroup.exclude): an allocator killed there has no snapshot.
//   -i13n  limit 64 MiB, a process holding 52 MiB: a cgroup near its limit (about 82 %).
// memlens is scraped as Prometheus would (more often), which feeds its ring of recent samples.
// Shown: the explanation (API and `memlens explain --last`) names the allocator as the process
// that grew, the limit that was hit and the snapshot; the kill without a snapshot says why; and
// the page (Debian's chromium through playwright-core): the near-limit cgroup at the top with the
// right percentage, its page listing its process, the kill with its explanation naming the
// allocator and a working snapshot link, no console errors, no failed requests, and one request
// per refresh with 10 cgroups as with 200. MEMLENS_SCREENSHOTS=DIR saves a screenshot of each view.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { startExporter, type Running } from '../../src/main.js';
import { createLogger } from '../../src/log.js';
import type { Explanation } from '../../src/forensics/explain.js';
import type { OomKillRecord } from '../../src/oom/store.js';
import { missingCgroupV1, missingKmsg, skipOrFail } from '../helpers/capability.js';
import { freePort } from '../helpers/exposition.js';
import { waitFor } from '../helpers/wait.js';
import { cleanupSteps } from '../helpers/cleanup.js';
import { makeCgroup, ownCgroup, readCgInt, removeStale, removeTree, uniqueName, writeCg, type TestCgroup } from './helpers/cgroup.js';
import { haveGcc } from './helpers/workload.js';

const MiB = 1 << 20;
const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const CHROMIUM = '/usr/bin/chromium';

// argv: cgroup.procs, MiB to hold at start, MiB/s to grow by once a byte arrives on stdin (0: stay flat).
const HOG_C = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
static void touch(long mib) {
  for (long m = 0; m < mib; m++) {
    char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(1); }
    for (int i = 0; i < (1 << 20); i += 4096) p[i] = 1;
  }
}
int main(int argc, char **argv) {
  if (argc != 4) return 2;
  FILE *cg = fopen(argv[1], "w");
  if (cg == NULL || fprintf(cg, "%d\n", (int)getpid()) < 0 || fclose(cg) != 0) { perror("join"); return 1; }
  touch(atol(argv[2]));
  long rate = atol(argv[3]);
  printf("ready\n"); fflush(stdout);
  char go[8];
  if (read(0, go, 1) != 1) return 0;
  if (rate == 0) { while (read(0, go, 1) > 0) {} return 0; }
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (;;) {
    touch(1);
    next.tv_nsec += 1000000000L / rate;
    if (next.tv_nsec >= 1000000000L) { next.tv_sec++; next.tv_nsec -= 1000000000L; }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
  }
}
`;

const missing = missingCgroupV1() ?? missingKmsg() ?? (haveGcc() ? undefined : 'gcc not found') ?? (existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found (apt-get install chromium)`);
const skip = skipOrFail(missing);

interface Hog {
  child: ChildProcessWithoutNullStreams;
  pid: number;
}

describe('kernel + browser: OOM kills explained, and the page', { skip }, () => {
  const tag = `${process.pid % 100_000}`;
  const growComm = `mlg-${tag}`;
  const flatComm = `mlf-${tag}`;
  const nearComm = `mln-${tag}`;
  let tmp = '';
  let parent: TestCgroup | undefined;
  let cgA: TestCgroup | undefined;
  let cgB: TestCgroup | undefined;
  let cgN: TestCgroup | undefined;
  const extra: TestCgroup[] = [];
  let running: Running | undefined;
  let base = '';
  const hogs: Hog[] = [];
  let killA: OomKillRecord | undefined;
  let killB: OomKillRecord | undefined;
  let growPid = 0;
  let flatPid = 0;
  const killAll = (): void => {
    for (const h of hogs) if (h.child.exitCode === null && h.child.signalCode === null) h.child.kill('SIGKILL');
  };

  function startHog(bin: string, cg: TestCgroup, holdMiB: number, rate: number): Promise<Hog> {
    const child = spawn(bin, [join(cg.dir, 'cgroup.procs'), String(holdMiB), String(rate)], { stdio: ['pipe', 'pipe', 'pipe'] });
    const hog = { child, pid: child.pid ?? -1 };
    hogs.push(hog);
    return new Promise((res, rej) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => rej(new Error(`${bin}: not ready after 20 s; stderr ${err}`)), 20_000);
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) {
          clearTimeout(timer);
          res(hog);
        }
      });
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        rej(new Error(`${bin} exited (${code ?? sig}) before ready; stderr ${err}`));
      });
    });
  }

  async function scrape(): Promise<void> {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    await res.text();
  }

  /** Scrapes every 250 ms (a zealous Prometheus) until `fn` gives a value. */
  async function scrapeUntil<T>(what: string, fn: () => T | undefined, timeoutMs: number): Promise<T> {
    let last = 0;
    return waitFor(what, async () => {
      if (Date.now() - last >= 250) {
        last = Date.now();
        await scrape();
      }
      return fn();
    }, timeoutMs);
  }

  /** The real CLI, as a user runs it (asynchronously: the memlens it asks lives in this process). */
  function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((res) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin/memlens.js'), 'explain', ...args, '--url', base], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('close', (status) => res({ status, stdout, stderr }));
    });
  }

  before(async () => {
    process.once('exit', killAll);
    const own = ownCgroup();
    await removeStale(own);
    tmp = mkdtempSync(join(tmpdir(), `memlens-i13-${process.pid}-`));
    parent = makeCgroup(own, `${uniqueName()}-i13`);
    cgA = makeCgroup(parent, 'i13a');
    writeCg(cgA, 'memory.limit_in_bytes', String(96 * MiB));
    cgB = makeCgroup(parent, 'i13b');
    writeCg(cgB, 'memory.limit_in_bytes', String(64 * MiB));
    cgN = makeCgroup(parent, 'i13n');
    writeCg(cgN, 'memory.limit_in_bytes', String(64 * MiB));
    const src = join(tmp, 'hog.c');
    writeFileSync(src, HOG_C);
    for (const comm of [growComm, flatComm, nearComm]) {
      const cc = spawnSync('gcc', ['-O1', '-o', join(tmp, comm), src], { encoding: 'utf8' });
      assert.equal(cc.status, 0, cc.stderr);
    }
    const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const parsed = loadConfig([
      '--web.listen-address', `127.0.0.1:${port}`, '--snapshot.dir', join(tmp, 'snapshots'), '--log.level', 'error',
      '--cgroup.include', `^${esc(parent.path)}`, '--cgroup.exclude', 'i13b$', '--watch.thresholds', '0.6',
      '--process.top', '0', '--process.include', `^ml[gfn]-${tag}$`, '--process.smaps-interval', '0s', '--collect.min-interval', '0s',
    ], {});
    assert.equal(parsed.kind, 'run');
    running = await startExporter(parsed.config, createLogger('error'));
  });

  after(async () => {
    const steps = cleanupSteps();
    await steps.attempt(() => killAll());
    await steps.attempt(async () => running?.close());
    for (const cg of [cgA, cgB, cgN, ...extra]) {
      if (cg === undefined) continue;
      await steps.attempt(async () => {
        await waitFor(`${cg.path} empty`, () => (readFileSync(join(cg.dir, 'cgroup.procs'), 'utf8').trim() === '' ? true : undefined), 10_000);
        await removeTree(cg.dir);
      });
    }
    if (parent !== undefined) await steps.attempt(() => removeTree(parent!.dir));
    process.off('exit', killAll);
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
    if (steps.errors.length > 0) throw steps.errors[0];
  });

  test('a real OOM kill: the explanation names the allocator as the one that grew, the limit hit and the snapshot', async () => {
    assert.ok(cgA !== undefined && running !== undefined);
    const r = running;
    const flat = await startHog(join(tmp, flatComm), cgA, 24, 0);
    const grow = await startHog(join(tmp, growComm), cgA, 4, 20);
    flatPid = flat.pid;
    growPid = grow.pid;
    // A baseline in the ring: both processes seen by a collection before the allocator grows.
    const cgPath = cgA.path;
    await scrapeUntil('both processes sampled', () => (r.recent.currentProcessesUnder(cgPath).length === 2 ? true : undefined), 30_000);
    const startedMs = Date.now();
    grow.child.stdin.write('g');
    killA = await scrapeUntil('the OOM kill of the allocator', () => r.store.list({ cgroup: cgPath }).find((k) => k.victim.pid === growPid && k.timeMs >= startedMs - 1000), 60_000);
    const id = killA.snapshotId;
    assert.ok(id !== undefined, 'the kill is linked to the snapshot of the 60 % crossing');
    await waitFor('the snapshot document', () => r.snapshots.get(id), 10_000);

    const res = await fetch(`${base}/api/v1/oom-kills/${killA.id}/explain`);
    assert.equal(res.status, 200);
    const e = (await res.json()) as Explanation;
    assert.equal(e.limit.kind, 'own');
    assert.equal(e.limit.cgroup, cgA.path);
    assert.equal(e.limit.limitBytes, 96 * MiB);
    assert.equal(e.victim.comm, growComm);
    assert.equal(e.grew?.comm, growComm, JSON.stringify(e.processes));
    assert.equal(e.grew?.pid, growPid);
    assert.ok((e.grew?.bytes ?? 0) > 40 * MiB, `grew ${e.grew?.bytes}`);
    const flatP = e.processes.find((p) => p.pid === flatPid);
    assert.ok(flatP !== undefined, 'the flat process is listed');
    assert.ok(Math.abs(flatP.growth?.bytes ?? 0) < 2 * MiB, `flat grew ${flatP.growth?.bytes}`);
    assert.equal(e.snapshot?.id, id);
    assert.ok((e.snapshot?.secondsBeforeKill ?? -1) > 0, 'the snapshot started before the kill');
    assert.ok(e.growth !== undefined && e.growth.bytesPerSecond > 0);
    assert.match(e.summary, new RegExp(`${growComm} \\(pid ${growPid}\\) grew the most`));
    assert.equal(e.missing.find((m) => m.what === 'snapshot'), undefined);
    // The unit of the API is the kill: an unknown id is a 404.
    assert.equal((await fetch(`${base}/api/v1/oom-kills/oom-0-0-0/explain`)).status, 404);
    flat.child.kill('SIGKILL');
  });

  test('memlens explain --last prints the victim, the limit that was hit, the process that grew and the snapshot', async () => {
    assert.ok(killA !== undefined && cgA !== undefined && parent !== undefined);
    // --last is the machine's newest kill (another session on this shared host may be killing
    // things right now): --cgroup keeps it to this test's cgroups.
    const out = await cli(['--last', '--cgroup', parent!.path]);
    assert.equal(out.status, 0, out.stderr);
    assert.ok(out.stdout.includes(`OOM kill ${killA.id}`), out.stdout);
    assert.match(out.stdout, new RegExp(`Victim +${growComm} \\(pid ${growPid}\\) in ${cgA.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(out.stdout, /Limit hit +its own cgroup .*i13a hit its limit of 96\.0 MiB/);
    assert.match(out.stdout, new RegExp(`Grew most +${growComm} \\(pid ${growPid}\\): \\+`));
    assert.match(out.stdout, new RegExp(`Snapshot +${killA.snapshotId ?? 'none'}`));
    const keep = process.env['MEMLENS_SCREENSHOTS'];
    if (keep !== undefined && keep !== '') writeFileSync(join(keep, 'explain-last.txt'), out.stdout);
    const bad = await cli([]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /needs a KILL-ID or --last/);
  });

  test('a kill in a cgroup that was not watched: no snapshot, and the explanation says why', async () => {
    assert.ok(cgB !== undefined && running !== undefined);
    const r = running;
    const grow = await startHog(join(tmp, growComm), cgB, 4, 40);
    const startedMs = Date.now();
    grow.child.stdin.write('g');
    const cgPath = cgB.path;
    killB = await scrapeUntil('the OOM kill in the unwatched cgroup', () => r.store.list({ cgroup: cgPath }).find((k) => k.victim.pid === grow.pid && k.timeMs >= startedMs - 1000), 60_000);
    assert.equal(killB.snapshotId, undefined);
    const e = (await (await fetch(`${base}/api/v1/oom-kills/${killB.id}/explain`)).json()) as Explanation;
    assert.match(e.missing.find((m) => m.what === 'snapshot')?.why ?? '', /the cgroup was not watched/);
    const out = await cli(['--last', '--cgroup', parent!.path]);
    assert.equal(out.status, 0, out.stderr);
    assert.ok(out.stdout.includes(`OOM kill ${killB.id}`), out.stdout);
    // The summary is a wrapped paragraph: where its lines break depends on the pid and the figures.
    assert.match(out.stdout, /No snapshot:\s+the\s+cgroup\s+was\s+not\s+watched/);
    assert.match(out.stdout, /Missing evidence\n {2}- snapshot: the cgroup was not watched/);
    const keep = process.env['MEMLENS_SCREENSHOTS'];
    if (keep !== undefined && keep !== '') writeFileSync(join(keep, 'explain-last-nosnapshot.txt'), out.stdout);
  });

  test('the page: cgroups by headroom, a cgroup\'s processes, the kill explained, its snapshot; no errors; one request per refresh', async (t) => {
    assert.ok(cgN !== undefined && parent !== undefined && killA !== undefined && running !== undefined);
    const { chromium } = await import('playwright-core');
    await startHog(join(tmp, nearComm), cgN, 52, 0);
    await scrape();
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    t.after(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${String(err)}`));
    page.on('requestfailed', (req) => problems.push(`failed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
    page.on('response', (res) => {
      if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
    });
    page.on('request', (req) => requests.push(req.url()));
    const shots = process.env['MEMLENS_SCREENSHOTS'];
    const shot = async (name: string): Promise<void> => {
      if (shots === undefined || shots === '') return;
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, `page-${name}.png`) });
    };

    // 1. Cgroups by headroom: the near-limit one first, with the percentage the kernel gives.
    await page.goto(`${base}/`);
    const first = page.locator('[data-testid=cgroup-row]').first();
    await first.waitFor({ timeout: 30_000 });
    assert.equal(await first.getAttribute('data-cgroup'), cgN.path);
    const shown = Number(((await first.locator('[data-testid=usage-pct]').textContent()) ?? '').replace(/[^\d.]/g, ''));
    const kernelPct = (readCgInt(cgN, 'memory.usage_in_bytes') / (64 * MiB)) * 100;
    assert.ok(Math.abs(shown - kernelPct) < 2, `page says ${shown} %, the kernel ${kernelPct.toFixed(1)} %`);
    assert.ok(shown > 75 && shown < 95, `near its limit: ${shown} %`);
    await shot('cgroups');
    // Dark mode: the page follows the system's colour scheme.
    const bg = (): Promise<string> => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const light = await bg();
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await bg();
    assert.notEqual(dark, light);
    assert.equal(dark, 'rgb(21, 24, 29)');
    await shot('cgroups-dark');
    await page.emulateMedia({ colorScheme: 'light' });

    // 2. Its page lists the process holding the memory.
    await first.locator('a').first().click();
    await page.locator(`[data-testid=processes] [data-testid=process-row][data-comm="${nearComm}"]`).waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('[data-testid=cgroup-title]').textContent(), cgN.path);
    await page.locator('[data-testid=memory-stat]').waitFor();
    await shot('cgroup');

    // 3. What killed it, from the killed cgroup's page (two clicks from the list): the kill,
    // explained, naming the allocator as the one that grew; then its snapshot. (The machine-wide
    // list holds the newest 50 kills: other sessions on this host may be killing things now.)
    assert.ok(cgA !== undefined);
    await page.goto(`${base}/#/cgroup/${encodeURIComponent(cgA.path)}`);
    await page.locator('[data-testid=kill-link]').first().click();
    const card = page.locator(`[data-testid=kill][data-kill="${killA.id}"]`);
    await card.waitFor({ timeout: 20_000 });
    const grew = (await card.locator('[data-testid=kill-grew]').textContent()) ?? '';
    assert.match(grew, new RegExp(`^${growComm} \\(pid ${growPid}\\): \\+`));
    assert.match((await card.locator('[data-testid=kill-summary]').textContent()) ?? '', /hit its limit of 96\.0 MiB/);
    await card.scrollIntoViewIfNeeded();
    await shot('kills');
    await card.locator('[data-testid=snapshot-link]').click();
    await page.locator(`[data-testid=snapshot-process][data-comm="${growComm}"]`).waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('[data-testid=snapshot-title]').textContent(), `Snapshot ${killA.snapshotId ?? ''}`);
    assert.equal(await page.locator(`[data-testid=snapshot-process][data-comm="${flatComm}"]`).count(), 1);
    await shot('snapshot');
    // The kill without a snapshot says why, on the page too.
    assert.ok(killB !== undefined && cgB !== undefined);
    await page.goto(`${base}/#/kills?cgroup=${encodeURIComponent(cgB.path)}`);
    const other = page.locator(`[data-testid=kill][data-kill="${killB.id}"]`);
    await other.waitFor({ timeout: 20_000 });
    assert.match((await other.locator('[data-testid=kill-missing]').textContent()) ?? '', /the cgroup was not watched/);

    // 4. Requests per refresh of the cgroups view, with 10 cgroups and with 200.
    const perRefresh = async (): Promise<{ requests: string[]; rows: number }> => {
      await page.goto(`${base}/#/`);
      await page.locator('[data-testid=cgroup-row]').first().waitFor({ timeout: 30_000 });
      await page.waitForResponse((res) => res.url().endsWith('/api/v1/cgroups'), { timeout: 20_000 }); // a refresh cycle settles
      await page.waitForTimeout(300);
      requests.length = 0;
      await page.waitForResponse((res) => res.url().endsWith('/api/v1/cgroups'), { timeout: 20_000 });
      await page.waitForTimeout(500);
      return { requests: [...requests], rows: await page.locator('[data-testid=cgroup-row]').count() };
    };
    const pathsNow = (): number => running!.recent.currentCgroupList().length;
    // The parent, -i13a and -i13n (-i13b is excluded), plus 7: 10 cgroups.
    for (let i = 0; i < 7; i++) extra.push(makeCgroup(parent, `x${i}`));
    await scrape();
    const small = await perRefresh();
    assert.equal(small.rows, 10);
    for (let i = 7; i < 200; i++) extra.push(makeCgroup(parent, `x${i}`));
    await scrape();
    assert.equal(pathsNow(), 203);
    const big = await perRefresh();
    assert.equal(big.rows, 200, 'the page shows the first 200 (a button shows all)');
    assert.deepEqual(small.requests.map((u) => new URL(u).pathname), ['/api/v1/cgroups']);
    assert.deepEqual(big.requests.map((u) => new URL(u).pathname), ['/api/v1/cgroups'], 'as many requests with 200 cgroups as with 10');

    assert.deepEqual(problems, [], 'no console errors, no failed requests');
  });
});
