// Issue 16 on the real kernel (cgroup v1): page-cache thrashing shows in major faults, per process
// and per cgroup, and the soft and memory+swap limits are exported. A child cgroup with a 32 MiB
// limit runs a small C program that maps a 64 MiB file (on the disk, not tmpfs) with readahead off
// and reads every page in a loop: each pass evicts what the previous one read, so nearly every
// page fault is a major fault (the page is read from disk again). Every value memlens serves is
// compared with the kernel's own file, read right before and right after the scrape: a counter
// must lie between the two readings.
// Needs root, a writable cgroup v1 memory controller and gcc (skipped on a laptop, a failure in CI).
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { startExporter, type Running } from '../../src/main.js';
import { createLogger } from '../../src/log.js';
import { missingCgroupV1, skipOrFail } from '../helpers/capability.js';
import { freePort, parseExposition, scrape, select, valueOf, type ExpoSample } from '../helpers/exposition.js';
import { cleanupSteps } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/wait.js';
import { makeCgroup, ownCgroup, readCg, readCgInt, readCgStat, removeTree, writeCg, type TestCgroup } from './helpers/cgroup.js';
import { haveGcc, uniqueComm } from './helpers/workload.js';

const MiB = 1024 * 1024;
const LIMIT = 32 * MiB;
const MEMSW = 48 * MiB;
const SOFT = 16 * MiB;
const FILE_MIB = 64;
const PREFIX = 'memlens-i16-';

const missing = missingCgroupV1() ?? (haveGcc() ? undefined : 'gcc not found (the thrasher is compiled at test time)');
const skip = skipOrFail(missing);

const THRASH_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) { fprintf(stderr, "usage: %s CGROUP_PROCS FILE\n", argv[0]); return 2; }
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
  FILE *cg = fopen(argv[1], "w");
  if (cg == NULL) { perror(argv[1]); return 1; }
  if (fprintf(cg, "%d\n", (int)getpid()) < 0 || fclose(cg) != 0) { perror("join cgroup"); return 1; }
  int fd = open(argv[2], O_RDONLY);
  if (fd < 0) { perror(argv[2]); return 1; }
  struct stat st;
  if (fstat(fd, &st) != 0) { perror("fstat"); return 1; }
  /* The test wrote the file: its pages are cached and charged to the test's cgroup. Drop them
     (clean after fdatasync) so that this cgroup reads, and is charged for, every page itself. */
  if (fdatasync(fd) != 0) { perror("fdatasync"); return 1; }
  if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0) { perror("fadvise"); return 1; }
  const volatile unsigned char *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) { perror("mmap"); return 1; }
  if (madvise((void *)m, (size_t)st.st_size, MADV_RANDOM) != 0) { perror("madvise"); return 1; } /* no readahead: a fault per page */
  long page = sysconf(_SC_PAGESIZE);
  printf("ready\n");
  fflush(stdout);
  unsigned long sum = 0;
  for (;;)
    for (off_t i = 0; i < st.st_size; i += page) sum += m[i];
  return (int)sum;
}
`;

/** Fields 1-based as proc(5) counts them; the comm (field 2) has no spaces here. */
function statFields(pid: number): { minflt: number; majflt: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').trim().split(' ');
  return { minflt: Number(f[9]), majflt: Number(f[11]) };
}

/** memlens-i16-* cgroups of dead runs (nothing in them any more). */
async function removeStaleOwn(own: TestCgroup): Promise<void> {
  for (const name of readdirSync(own.dir)) {
    const owner = new RegExp(`^${PREFIX}(\\d+)-`).exec(name)?.[1];
    if (owner === undefined || existsSync(`/proc/${owner}`)) continue;
    await removeTree(join(own.dir, name), 1000).catch(() => undefined);
  }
}

describe('kernel: page-cache thrashing and the v1 limits, through /metrics', { skip }, () => {
  let tmp: string | undefined;
  let cg: TestCgroup | undefined;
  let thrasher: ChildProcess | undefined;
  let running: Running | undefined;
  let url = '';
  const comm = uniqueComm();
  const memsw = existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'); // swap accounting on this kernel
  const kill = (): void => void thrasher?.kill('SIGKILL');

  before(async () => {
    process.once('exit', kill);
    const own = ownCgroup();
    await removeStaleOwn(own);
    // /var/tmp is on disk where /tmp may be tmpfs, whose pages could not be evicted without swap.
    tmp = mkdtempSync(join('/var/tmp', `${PREFIX}${process.pid}-`));
    const src = join(tmp, 'thrash.c');
    const bin = join(tmp, comm);
    writeFileSync(src, THRASH_C);
    const cc = spawnSync('gcc', ['-O1', '-Wall', '-Werror', '-o', bin, src], { encoding: 'utf8' });
    assert.equal(cc.status, 0, cc.stderr);
    const file = join(tmp, 'data.bin');
    writeFileSync(file, Buffer.alloc(FILE_MIB * MiB, 0x5a));

    cg = makeCgroup(own, `${PREFIX}${process.pid}-thrash`);
    writeCg(cg, 'memory.limit_in_bytes', String(LIMIT)); // before memsw: the kernel keeps memsw >= limit
    if (memsw) writeCg(cg, 'memory.memsw.limit_in_bytes', String(MEMSW));
    writeCg(cg, 'memory.soft_limit_in_bytes', String(SOFT));

    const port = await freePort();
    const parsed = loadConfig([
      '--web.listen-address', `127.0.0.1:${port}`,
      '--process.include', `^${comm}$`,
      '--process.smaps-scope', 'none',
      '--cgroup.include', `^${cg.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`,
      '--collect.min-interval', '0s',
      // The walk still visits every cgroup of the host (thousands while others run benchmarks here):
      // this test is about values, not speed.
      '--collect.timeout', '60s',
      '--watch.enabled=false',
      '--log.level', 'warn',
    ], {});
    assert.equal(parsed.kind, 'run');
    if (parsed.kind !== 'run') return;
    running = await startExporter(parsed.config, createLogger('warn'));
    url = `http://127.0.0.1:${port}/metrics`;

    const child = spawn(bin, [join(cg.dir, 'cgroup.procs'), file], { stdio: ['ignore', 'pipe', 'pipe'] });
    thrasher = child;
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    await waitFor('the thrasher to start', () => (/^ready$/m.test(out) ? true : child.exitCode !== null ? assert.fail(`thrasher exited: ${out}`) : undefined), 20_000);
    // More major faults than the cgroup can hold pages: it has evicted and re-read the file.
    await waitFor('major faults beyond a full pass over the file', () => (statFields(child.pid!).majflt > (FILE_MIB * MiB) / 4096 ? true : undefined), 120_000);
  });

  after(async () => {
    const { errors, attempt } = cleanupSteps();
    await attempt(() => running?.close());
    await attempt(async () => {
      const t = thrasher;
      if (t !== undefined && t.exitCode === null && t.signalCode === null) {
        const gone = new Promise((resolve) => t.once('exit', resolve));
        t.kill('SIGKILL');
        await gone;
      }
    });
    await attempt(async () => {
      if (cg !== undefined) await removeTree(cg.dir);
    });
    await attempt(() => {
      if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
    });
    process.removeListener('exit', kill);
    if (errors.length > 0) throw new AggregateError(errors, 'kernel test cleanup failed');
  });

  interface Reading { proc: { minflt: number; majflt: number }; stat: Map<string, number>; kmem: number }
  const read = (): Reading => ({ proc: statFields(thrasher!.pid!), stat: readCgStat(cg!), kmem: readCgInt(cg!, 'memory.kmem.usage_in_bytes') });

  const measure = async (): Promise<{ s: ExpoSample[]; before: Reading; after: Reading }> => {
    const b = read();
    const res = await scrape(url);
    const a = read();
    assert.equal(res.status, 200, res.body.slice(0, 300));
    return { s: parseExposition(res.body), before: b, after: a };
  };

  const between = (t: TestContext, what: string, v: number, lo: number, hi: number): void => {
    t.diagnostic(`${what}: kernel ${lo} .. memlens ${v} .. kernel ${hi}`);
    assert.ok(v >= lo && v <= hi, `${what}: memlens ${v} not between the kernel's ${lo} (before) and ${hi} (after)`);
  };

  test('major faults rise in the process\'s series and in its cgroup\'s, each equal to the kernel\'s count at the scrape', async (t) => {
    const pid = String(thrasher!.pid);
    const proc = { pid, comm, cgroup: cg!.path };
    const ev = (s: ExpoSample[], item: string): number => valueOf(s, 'memlens_cgroup_memory_stat_events_total', { cgroup: cg!.path, item });

    const m1 = await measure();
    between(t, 'process majflt', valueOf(m1.s, 'memlens_process_major_page_faults_total', proc), m1.before.proc.majflt, m1.after.proc.majflt);
    between(t, 'process minflt', valueOf(m1.s, 'memlens_process_minor_page_faults_total', proc), m1.before.proc.minflt, m1.after.proc.minflt);
    between(t, 'cgroup total_pgmajfault', ev(m1.s, 'pgmajfault'), m1.before.stat.get('total_pgmajfault')!, m1.after.stat.get('total_pgmajfault')!);
    between(t, 'cgroup total_pgfault', ev(m1.s, 'pgfault'), m1.before.stat.get('total_pgfault')!, m1.after.stat.get('total_pgfault')!);
    between(t, 'cgroup total_pgpgin', ev(m1.s, 'pgpgin'), m1.before.stat.get('total_pgpgin')!, m1.after.stat.get('total_pgpgin')!);
    // One process in the group: the group's count is the process's, read in the same collection.
    assert.equal(valueOf(m1.s, 'memlens_process_group_major_page_faults_total', { group: comm }), valueOf(m1.s, 'memlens_process_major_page_faults_total', proc));
    // The cgroup's count covers at least the process's faults (it joined the cgroup before its first fault).
    // Compared on a scrape with the thrasher stopped: the process and cgroup collectors read their files at
    // different moments of one collection, and a running thrasher faults in between (seen: process 17168,
    // cgroup 17147 in one scrape).
    const pidNum = thrasher!.pid!;
    thrasher!.kill('SIGSTOP');
    try {
      await waitFor('the thrasher stopped', () => (/^\d+ \(.*\) T /.test(readFileSync(`/proc/${pidNum}/stat`, 'utf8')) ? true : undefined), 10_000);
      const still = await measure();
      assert.equal(still.before.proc.majflt, still.after.proc.majflt, 'no fault while stopped');
      assert.ok(ev(still.s, 'pgmajfault') >= valueOf(still.s, 'memlens_process_major_page_faults_total', proc));
    } finally {
      thrasher!.kill('SIGCONT');
    }

    const p1 = valueOf(m1.s, 'memlens_process_major_page_faults_total', proc);
    const c1 = ev(m1.s, 'pgmajfault');
    const g1 = valueOf(m1.s, 'memlens_process_group_major_page_faults_total', { group: comm });
    const hasRefaults = m1.before.stat.has('total_workingset_refault_file');
    const r1 = hasRefaults ? ev(m1.s, 'workingset_refault_file') : 0;
    // Another pass over the file: the counters have grown by at least a few hundred faults.
    const m2 = await waitFor('major faults to rise by 500 in both series', async () => {
      const m = await measure();
      const p = valueOf(m.s, 'memlens_process_major_page_faults_total', proc);
      return p > p1 + 500 && ev(m.s, 'pgmajfault') > c1 + 500 ? m : undefined;
    }, 120_000);
    const p2 = valueOf(m2.s, 'memlens_process_major_page_faults_total', proc);
    between(t, 'process majflt (2nd)', p2, m2.before.proc.majflt, m2.after.proc.majflt);
    between(t, 'cgroup total_pgmajfault (2nd)', ev(m2.s, 'pgmajfault'), m2.before.stat.get('total_pgmajfault')!, m2.after.stat.get('total_pgmajfault')!);
    assert.ok(valueOf(m2.s, 'memlens_process_group_major_page_faults_total', { group: comm }) > g1 + 500, 'group sum rises');
    t.diagnostic(`rise: process ${p1} -> ${p2}, cgroup ${c1} -> ${ev(m2.s, 'pgmajfault')}`);
    if (hasRefaults) {
      // Evicted pages faulted back in while their shadow entries lived: the thrashing signal.
      assert.ok(ev(m2.s, 'workingset_refault_file') > r1, `workingset_refault_file ${r1} -> ${ev(m2.s, 'workingset_refault_file')}`);
    }
    // It thrashed within its limit: never more than it.
    assert.ok(valueOf(m2.s, 'memlens_cgroup_memory_usage_bytes', { cgroup: cg!.path }) <= LIMIT);
  });

  test('the limits: hard, soft, memory+swap (as swap alone); no v2-only limit; kernel memory', async (t) => {
    const { s, before: b, after: a } = await measure();
    const l = { cgroup: cg!.path };
    assert.equal(valueOf(s, 'memlens_cgroup_memory_limit_bytes', l), LIMIT);
    assert.equal(Number(readCg(cg!, 'memory.soft_limit_in_bytes').trim()), SOFT);
    assert.equal(valueOf(s, 'memlens_cgroup_memory_soft_limit_bytes', l), SOFT);
    if (memsw) {
      assert.equal(Number(readCg(cg!, 'memory.memsw.limit_in_bytes').trim()), MEMSW);
      assert.equal(valueOf(s, 'memlens_cgroup_memory_swap_limit_bytes', l), MEMSW - LIMIT);
    } else {
      t.diagnostic('no memory.memsw.* on this kernel (swap accounting off): no swap limit to export');
      assert.deepEqual(select(s, 'memlens_cgroup_memory_swap_limit_bytes', l), []);
    }
    for (const m of ['high', 'low', 'min']) assert.deepEqual(select(s, `memlens_cgroup_memory_${m}_bytes`, l), [], m);
    // memory.kmem.usage_in_bytes moves a little (page tables, slab); the scrape lies near the two readings.
    const kernel = valueOf(s, 'memlens_cgroup_memory_stat_bytes', { ...l, item: 'kernel' });
    t.diagnostic(`kernel: memlens ${kernel}, kmem.usage_in_bytes ${b.kmem} / ${a.kmem}`);
    assert.ok(kernel > 0, 'a running process has kernel memory charged (page tables, task stack)');
    assert.ok(kernel >= Math.min(b.kmem, a.kmem) - MiB && kernel <= Math.max(b.kmem, a.kmem) + MiB, `kernel ${kernel} far from ${b.kmem}/${a.kmem}`);
  });
});
