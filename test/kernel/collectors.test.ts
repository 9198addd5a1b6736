// Foundation kernel test: the real exporter (startExporter, HTTP, prom-client) over a real cgroup
// v1 memory hierarchy. A child cgroup with a 256 MiB limit under the test's own memory cgroup, a
// grandchild without a limit of its own, one workload process in each (known anonymous memory,
// plus one file both map MAP_SHARED so that PSS < RSS). Every value the exporter serves is
// compared with the kernel file it comes from, read just before and just after the scrape.
// Needs root and a writable cgroup v1 memory controller (skipped on a laptop, a failure in CI).
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/load.js';
import { startExporter, type Running } from '../../src/main.js';
import { createLogger } from '../../src/log.js';
import { missingCgroupV1, skipOrFail } from '../helpers/capability.js';
import { freePort, parseExposition, scrape, select, valueOf, type ExpoSample } from '../helpers/exposition.js';
import { makeCgroup, ownCgroup, readCgInt, readCgStat, removeStale, removeTree, uniqueName, writeCg, type TestCgroup } from './helpers/cgroup.js';
import { compileWorkload, haveGcc, startWorkload, stopWorkload, uniqueComm, type Workload } from './helpers/workload.js';
import { cleanupSteps } from '../helpers/cleanup.js';

const MiB = 1024 * 1024;
const LIMIT = 256 * MiB; // 268435456
const CHILD_ANON_MIB = 64;
const GRAND_ANON_MIB = 32;
const FILE_MIB = 16;
const TOLERANCE_PCT = 2;

const missing = missingCgroupV1() ?? (haveGcc() ? undefined : 'gcc not found (the workload is compiled at test time)');
const skip = skipOrFail(missing);

const TMP_PREFIX = 'memlens-kernel-';

/** Temp dirs (workload binary, 16 MiB file) of earlier runs that died before their cleanup. */
function removeStaleTmp(): void {
  for (const name of readdirSync(tmpdir())) {
    const owner = new RegExp(`^${TMP_PREFIX}(\\d+)-`).exec(name)?.[1];
    if (owner === undefined || existsSync(`/proc/${owner}`)) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

function config(argv: string[]): Config {
  const parsed = loadConfig(argv, {});
  assert.equal(parsed.kind, 'run');
  return parsed.config;
}

function pctDiff(actual: number, expected: number): number {
  return (Math.abs(actual - expected) / expected) * 100;
}

/** actual within TOLERANCE_PCT of each kernel reading (taken just before and just after the scrape). */
function assertNear(t: TestContext, what: string, actual: number, readings: readonly number[]): void {
  const diffs = readings.map((r) => pctDiff(actual, r));
  t.diagnostic(`${what}: memlens ${actual} vs kernel ${readings.join(' / ')} (${diffs.map((d) => d.toFixed(3)).join(' / ')} %)`);
  for (const [i, r] of readings.entries()) {
    assert.ok(diffs[i]! <= TOLERANCE_PCT, `${what}: memlens says ${actual}, the kernel ${r}: ${diffs[i]!.toFixed(3)} % apart (> ${TOLERANCE_PCT} %)`);
  }
}

/** A `Key:   123 kB` field of /proc/PID/status or smaps_rollup, in bytes. */
function kbField(text: string, key: string, where: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
  if (m?.[1] === undefined) throw new Error(`${where}: no ${key} line`);
  return Number(m[1]) * 1024;
}

interface KernelReading {
  childUsage: number;
  childInactiveFile: number;
  grandUsage: number;
  grandInactiveFile: number;
  rss: Map<number, number>;
  pss: Map<number, number>;
}

describe('kernel: collectors over a real cgroup v1 hierarchy, through /metrics', { skip }, () => {
  let tmp: string | undefined;
  let own: TestCgroup;
  let child: TestCgroup | undefined;
  let grand: TestCgroup | undefined;
  let comm = '';
  const workloads: Workload[] = [];
  let running: Running | undefined;
  let url = '';
  const killAll = (): void => {
    for (const w of workloads) w.child.kill('SIGKILL');
  };

  before(async () => {
    process.once('exit', killAll); // the runner dying mid-test: no process is left (they also exit on stdin EOF)
    own = ownCgroup();
    await removeStale(own);
    removeStaleTmp();
    tmp = mkdtempSync(join(tmpdir(), `${TMP_PREFIX}${process.pid}-`));
    comm = uniqueComm();
    const bin = compileWorkload(tmp, comm);
    const file = join(tmp, 'shared.bin');
    writeFileSync(file, Buffer.alloc(FILE_MIB * MiB, 0x5a));

    child = makeCgroup(own, uniqueName());
    writeCg(child, 'memory.limit_in_bytes', String(LIMIT));
    grand = makeCgroup(child, 'grandchild');
    workloads.push(await startWorkload(bin, child.dir, CHILD_ANON_MIB, file));
    workloads.push(await startWorkload(bin, grand.dir, GRAND_ANON_MIB, file));

    const port = await freePort();
    running = await startExporter(
      config([
        '--web.listen-address', `127.0.0.1:${port}`,
        '--process.include', `^${comm}$`,
        '--process.smaps-interval', '0s',
        '--collect.min-interval', '0s',
        '--log.level', 'warn',
      ]),
      createLogger('warn'),
    );
    url = `http://127.0.0.1:${port}/metrics`;
  });

  after(async () => {
    const { errors, attempt } = cleanupSteps();
    await attempt(() => running?.close());
    for (const w of workloads) await attempt(() => stopWorkload(w));
    await attempt(async () => {
      if (grand !== undefined) await removeTree(grand.dir);
    });
    await attempt(async () => {
      if (child !== undefined) await removeTree(child.dir);
    });
    await attempt(() => {
      if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
    });
    process.removeListener('exit', killAll);
    if (errors.length > 0) throw new AggregateError(errors, 'kernel test cleanup failed');
  });

  const readKernel = (): KernelReading => {
    const c = child!;
    const g = grand!;
    const rss = new Map<number, number>();
    const pss = new Map<number, number>();
    for (const w of workloads) {
      rss.set(w.pid, kbField(readFileSync(`/proc/${w.pid}/status`, 'utf8'), 'VmRSS', `/proc/${w.pid}/status`));
      pss.set(w.pid, kbField(readFileSync(`/proc/${w.pid}/smaps_rollup`, 'utf8'), 'Pss', `/proc/${w.pid}/smaps_rollup`));
    }
    return {
      childUsage: readCgInt(c, 'memory.usage_in_bytes'),
      childInactiveFile: readCgStat(c).get('total_inactive_file') ?? Number.NaN,
      grandUsage: readCgInt(g, 'memory.usage_in_bytes'),
      grandInactiveFile: readCgStat(g).get('total_inactive_file') ?? Number.NaN,
      rss,
      pss,
    };
  };

  /** One scrape, with the kernel's own files read right before and right after it. */
  const measure = async (): Promise<{ samples: ExpoSample[]; readings: [KernelReading, KernelReading] }> => {
    const r0 = readKernel();
    const res = await scrape(url);
    const r1 = readKernel();
    assert.equal(res.status, 200, res.body.slice(0, 500));
    return { samples: parseExposition(res.body), readings: [r0, r1] };
  };

  test('every collector succeeds', async () => {
    const { samples } = await measure();
    for (const collector of ['process', 'cgroup', 'host']) {
      assert.equal(valueOf(samples, 'memlens_collector_success', { collector }), 1, collector);
    }
  });

  test('the workloads run where they were put', () => {
    const [a, b] = workloads;
    assert.ok(a !== undefined && b !== undefined);
    const memLine = (pid: number): string | undefined =>
      readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes('memory'));
    assert.equal(memLine(a.pid)?.split(':')[2], child!.path);
    assert.equal(memLine(b.pid)?.split(':')[2], grand!.path);
    assert.equal(readFileSync(`/proc/${a.pid}/comm`, 'utf8').trim(), comm);
  });

  test('child cgroup: usage, own and effective limit, working set', async (t) => {
    const { samples, readings } = await measure();
    const l = { cgroup: child!.path };
    const usage = valueOf(samples, 'memlens_cgroup_memory_usage_bytes', l);
    assertNear(t, 'child usage vs memory.usage_in_bytes', usage, readings.map((r) => r.childUsage));
    assert.ok(usage >= (CHILD_ANON_MIB + GRAND_ANON_MIB) * MiB, `usage ${usage} below the anonymous memory touched in the subtree`);
    assert.ok(usage <= LIMIT, `usage ${usage} above the limit`);
    assert.equal(valueOf(samples, 'memlens_cgroup_memory_limit_bytes', l), 268435456);
    assert.equal(valueOf(samples, 'memlens_cgroup_memory_effective_limit_bytes', l), 268435456);
    const ws = valueOf(samples, 'memlens_cgroup_memory_working_set_bytes', l);
    assertNear(t, 'child working set vs usage - total_inactive_file', ws, readings.map((r) => r.childUsage - r.childInactiveFile));
  });

  test('grandchild: inherits the parent\'s limit as its effective limit, has no limit sample', async (t) => {
    const { samples, readings } = await measure();
    const l = { cgroup: grand!.path };
    assert.deepEqual(select(samples, 'memlens_cgroup_memory_limit_bytes', l), [], 'no limit of its own: no limit sample');
    assert.equal(valueOf(samples, 'memlens_cgroup_memory_effective_limit_bytes', l), 268435456);
    const usage = valueOf(samples, 'memlens_cgroup_memory_usage_bytes', l);
    assertNear(t, 'grandchild usage vs memory.usage_in_bytes', usage, readings.map((r) => r.grandUsage));
    assert.ok(usage >= GRAND_ANON_MIB * MiB, `usage ${usage} below the anonymous memory touched`);
    const ws = valueOf(samples, 'memlens_cgroup_memory_working_set_bytes', l);
    assertNear(t, 'grandchild working set vs usage - total_inactive_file', ws, readings.map((r) => r.grandUsage - r.grandInactiveFile));
  });

  test('memlens_cgroup_processes counts the processes directly in each cgroup', async () => {
    const { samples } = await measure();
    assert.equal(valueOf(samples, 'memlens_cgroup_processes', { cgroup: child!.path }), 1);
    assert.equal(valueOf(samples, 'memlens_cgroup_processes', { cgroup: grand!.path }), 1);
  });

  test('per process: resident vs VmRSS, resident anon, PSS vs smaps_rollup, cgroup label', async (t) => {
    const { samples, readings } = await measure();
    const expected = [
      { w: workloads[0]!, anonMiB: CHILD_ANON_MIB, cgroup: child!.path },
      { w: workloads[1]!, anonMiB: GRAND_ANON_MIB, cgroup: grand!.path },
    ];
    for (const { w, anonMiB, cgroup } of expected) {
      const pid = String(w.pid);
      const found = select(samples, 'memlens_process_resident_bytes', { pid });
      assert.equal(found.length, 1, `one resident sample for pid ${pid}`);
      assert.deepEqual(found[0]!.labels, { pid, comm, cgroup }, 'labels pid, comm, cgroup (the path /proc/PID/cgroup prints)');
      const l = { pid, comm, cgroup };
      const rss = valueOf(samples, 'memlens_process_resident_bytes', l);
      assertNear(t, `pid ${pid} resident vs VmRSS`, rss, readings.map((r) => r.rss.get(w.pid)!));
      const anon = valueOf(samples, 'memlens_process_resident_anon_bytes', l);
      assert.ok(anon >= anonMiB * MiB, `pid ${pid}: resident_anon ${anon} < touched ${anonMiB} MiB`);
      const fileRss = valueOf(samples, 'memlens_process_resident_file_bytes', l);
      assert.ok(fileRss >= FILE_MIB * MiB, `pid ${pid}: resident_file ${fileRss} < the ${FILE_MIB} MiB file it read`);
      const pss = valueOf(samples, 'memlens_process_pss_bytes', l);
      assertNear(t, `pid ${pid} pss vs smaps_rollup Pss`, pss, readings.map((r) => r.pss.get(w.pid)!));
      assert.ok(pss < rss, `pid ${pid}: pss ${pss} not below resident ${rss}`);
      // The file's pages are mapped by both workloads: each is charged half of them in PSS.
      assert.ok(rss - pss >= 0.95 * (FILE_MIB / 2) * MiB, `pid ${pid}: resident - pss = ${rss - pss}, expected about ${FILE_MIB / 2} MiB or more`);
      t.diagnostic(`pid ${pid}: resident ${rss}, resident_anon ${anon}, resident_file ${fileRss}, pss ${pss}`);
    }
  });

  test('process group sums over the workload comm', async (t) => {
    const { samples, readings } = await measure();
    const group = { group: comm };
    assert.equal(valueOf(samples, 'memlens_process_group_processes', group), 2);
    const perProcess = select(samples, 'memlens_process_resident_bytes', { comm }).reduce((s, x) => s + x.value, 0);
    const groupRss = valueOf(samples, 'memlens_process_group_resident_bytes', group);
    assert.equal(groupRss, perProcess, 'the group sum is the sum of the per-process values of the same collection');
    assertNear(t, 'group resident vs sum of VmRSS', groupRss, readings.map((r) => [...r.rss.values()].reduce((s, x) => s + x, 0)));
    const groupAnon = valueOf(samples, 'memlens_process_group_resident_anon_bytes', group);
    assert.ok(groupAnon >= (CHILD_ANON_MIB + GRAND_ANON_MIB) * MiB, `group resident_anon ${groupAnon}`);
  });
});

describe('kernel: the exporter with --path.sysfs on an empty directory', { skip }, () => {
  let running: Running | undefined;
  let empty: string | undefined;

  after(async () => {
    await running?.close();
    if (empty !== undefined) rmSync(empty, { recursive: true, force: true });
  });

  // Regression: an empty --path.sysfs used to give cgroup success 1 with no samples.
  test('/metrics answers 200, the cgroup collector reports failure, process metrics are there', async () => {
    empty = mkdtempSync(join(tmpdir(), 'memlens-empty-sys-'));
    const port = await freePort();
    running = await startExporter(
      config(['--web.listen-address', `127.0.0.1:${port}`, '--path.sysfs', empty, '--log.level', 'warn']),
      createLogger('warn'),
    );
    const res = await scrape(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    const samples = parseExposition(res.body);
    assert.equal(valueOf(samples, 'memlens_collector_success', { collector: 'process' }), 1);
    assert.ok(select(samples, 'memlens_process_resident_bytes').length > 0, 'per-process samples');
    assert.ok(select(samples, 'memlens_process_group_processes').length > 0, 'process group samples');
    assert.equal(valueOf(samples, 'memlens_collector_success', { collector: 'cgroup' }), 0);
    assert.deepEqual(select(samples, 'memlens_cgroup_memory_usage_bytes'), [], 'no cgroup samples');
  });
});
