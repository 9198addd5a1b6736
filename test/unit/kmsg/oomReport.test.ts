import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parseDmesgLine, parseKmsgRecord, splitKmsgRecords } from '../../../src/kmsg/record.js';
import { OomReportParser } from '../../../src/kmsg/oomReport.js';
import type { OomKill, OomRecordInput } from '../../../src/kmsg/oomReport.js';

const fixtures = new URL('../../../../test/fixtures/kmsg/', import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, fixtures), 'utf8');

function kmsgInputs(name: string): OomRecordInput[] {
  const out: OomRecordInput[] = [];
  for (const raw of splitKmsgRecords(read(name))) {
    const r = parseKmsgRecord(raw);
    assert.ok(r !== undefined, raw);
    out.push(r);
  }
  return out;
}
const dmesgInputs = (name: string): OomRecordInput[] => read(name).split('\n').map(parseDmesgLine);

function run(inputs: readonly OomRecordInput[]): OomKill[] {
  const p = new OomReportParser();
  const out: OomKill[] = [];
  for (const i of inputs) out.push(...p.push(i));
  return out;
}

test('real v1 report, Debian 12 kernel 6.18, /dev/kmsg records (every field from the file)', () => {
  assert.deepEqual(run(kmsgInputs('cgroup-v1-debian12-k6.18.kmsg_oom_raw.txt')), [
    {
      usecMonotonic: 66145947, // 3,423,66145947 Killed line
      seq: 423,
      victim: { pid: 2028, comm: 'python3', uid: 0 },
      cgroup: '/workloads/job-7f3a/oomdemo', // task_memcg=
      oomCgroup: '/workloads/job-7f3a/oomdemo', // oom_memcg=
      constraint: 'CONSTRAINT_MEMCG',
      message: 'Memory cgroup out of memory',
      totalVmBytes: 75176 * 1024,
      anonRssBytes: 65152 * 1024,
      fileRssBytes: 6636 * 1024,
      shmemRssBytes: 0,
      pageTablesBytes: 188 * 1024,
      oomScoreAdj: 0,
      form: '5.x+',
      memcg: { usageBytes: 65536 * 1024, limitBytes: 65536 * 1024, failcnt: 294 },
      invoker: { comm: 'python3', pid: 2028, gfpMask: 0xcc0, gfpFlags: 'GFP_KERNEL', order: 0, oomScoreAdj: 0 },
    },
  ]);
});

test('real v2 report, Ubuntu 24.04 kernel 6.18, dmesg form with the memory: lines cut out', () => {
  assert.deepEqual(run(dmesgInputs('cgroup-v2-ubuntu24.04-k6.18.dmesg_oom.txt')), [
    {
      usecMonotonic: 25895611,
      seq: undefined, // dmesg has no sequence numbers
      victim: { pid: 514, comm: 'python3', uid: 0 },
      cgroup: '/workloads/job-42c9/oomdemo',
      oomCgroup: '/workloads/job-42c9/oomdemo',
      constraint: 'CONSTRAINT_MEMCG',
      message: 'Memory cgroup out of memory',
      totalVmBytes: 80680 * 1024,
      anonRssBytes: 65280 * 1024,
      fileRssBytes: 7452 * 1024,
      shmemRssBytes: 0,
      pageTablesBytes: 192 * 1024,
      oomScoreAdj: 0,
      form: '5.x+',
      // no memcg: the capture's "--" elided the memory: usage line; it is not invented
      invoker: { comm: 'python3', pid: 514, gfpMask: 0xcc0, gfpFlags: 'GFP_KERNEL', order: 0, oomScoreAdj: 0 },
    },
  ]);
});

test('pre-5.0 memcg: 4.19 format strings (mm/oom_kill.c dump_header/oom_kill_process, mm/memcontrol.c mem_cgroup_print_oom_info)', () => {
  assert.deepEqual(run(dmesgInputs('k4.19-memcg-v1.dmesg.txt')), [
    {
      usecMonotonic: 8123457321,
      seq: undefined,
      victim: { pid: 4242, comm: 'java', uid: undefined }, // 4.19 prints no UID on the Killed line
      cgroup: '/kubepods/burstable/pod-7c1e/app', // "Task in X"
      oomCgroup: '/kubepods/burstable/pod-7c1e', // "limit of Y"
      constraint: undefined, // no oom-kill: summary before 5.0
      message: 'Memory cgroup out of memory', // from "... : Kill process 4242 (java) score 1975 or sacrifice child"
      totalVmBytes: 3249380 * 1024,
      anonRssBytes: 513916 * 1024,
      fileRssBytes: 0,
      shmemRssBytes: 0,
      pageTablesBytes: undefined,
      oomScoreAdj: undefined,
      form: 'pre-5.0',
      memcg: { usageBytes: 524288 * 1024, limitBytes: 524288 * 1024, failcnt: 1873 },
      invoker: { comm: 'java', pid: 4242, gfpMask: 0x6000c0, gfpFlags: 'GFP_KERNEL', order: 0, oomScoreAdj: 0 },
    },
  ]);
});

test('pre-5.0 global: 4.14 format (two spaces before order=), child sacrificed for its parent', () => {
  assert.deepEqual(run(dmesgInputs('k4.14-global.dmesg.txt')), [
    {
      usecMonotonic: 51234100412,
      seq: undefined,
      victim: { pid: 3310, comm: 'stress', uid: undefined },
      cgroup: undefined,
      oomCgroup: undefined,
      constraint: undefined,
      message: 'Out of memory',
      totalVmBytes: 1946048 * 1024,
      anonRssBytes: 1912004 * 1024,
      fileRssBytes: 0,
      shmemRssBytes: 0,
      pageTablesBytes: undefined,
      oomScoreAdj: undefined,
      form: 'pre-5.0',
      invoker: { comm: 'stress', pid: 3310, gfpMask: 0x14280ca, gfpFlags: 'GFP_HIGHUSER_MOVABLE|__GFP_ZERO', order: 0, oomScoreAdj: 0 },
    },
  ]);
});

test('5.x global OOM: CONSTRAINT_NONE, global_oom, "Out of memory: Killed process" (5.4+ fields)', () => {
  assert.deepEqual(run(kmsgInputs('k5.15-global.kmsg.txt')), [
    {
      usecMonotonic: 812345679400,
      seq: 90223,
      victim: { pid: 8812, comm: 'chrome', uid: 1000 },
      cgroup: '/user.slice/user-1000.slice/session-2.scope',
      oomCgroup: undefined, // global_oom
      constraint: 'CONSTRAINT_NONE',
      message: 'Out of memory',
      totalVmBytes: 36493824 * 1024,
      anonRssBytes: 6401380 * 1024,
      fileRssBytes: 8000 * 1024,
      shmemRssBytes: 0,
      pageTablesBytes: 14000 * 1024,
      oomScoreAdj: 300,
      form: '5.x+',
      invoker: { comm: 'chrome', pid: 8812, gfpMask: 0x1100cca, gfpFlags: 'GFP_HIGHUSER_MOVABLE', order: 0, oomScoreAdj: 300 },
    },
  ]);
});

test('interleaved reports: victims and cgroups tied by pid; unattributable header lines dropped', () => {
  const kills = run(kmsgInputs('interleaved-two-memcg.kmsg.txt'));
  assert.deepEqual(kills, [
    {
      usecMonotonic: 1000000100, seq: 711,
      victim: { pid: 3001, comm: 'python3', uid: 0 },
      cgroup: '/workloads/a', oomCgroup: '/workloads/a', constraint: 'CONSTRAINT_MEMCG',
      message: 'Memory cgroup out of memory',
      totalVmBytes: 75176 * 1024, anonRssBytes: 65152 * 1024, fileRssBytes: 6636 * 1024, shmemRssBytes: 0,
      pageTablesBytes: 188 * 1024, oomScoreAdj: 0, form: '5.x+',
    },
    {
      usecMonotonic: 1000000110, seq: 712,
      victim: { pid: 3100, comm: 'node', uid: 1000 },
      cgroup: '/workloads/b/web', oomCgroup: '/workloads/b', constraint: 'CONSTRAINT_MEMCG',
      message: 'Memory cgroup out of memory',
      totalVmBytes: 1048576 * 1024, anonRssBytes: 130000 * 1024, fileRssBytes: 1072 * 1024, shmemRssBytes: 4 * 1024,
      pageTablesBytes: 400 * 1024, oomScoreAdj: 500, form: '5.x+',
    },
  ]);
});

test('truncated reports: seq gap drops the open header; a lone tail and a summary-less report', () => {
  const kills = run(kmsgInputs('truncated.kmsg.txt'));
  assert.equal(kills.length, 2);
  assert.deepEqual(kills[0], {
    usecMonotonic: 2000900010, seq: 1501,
    victim: { pid: 5200, comm: 'cruncher', uid: 0 },
    cgroup: '/batch/job-2', oomCgroup: '/batch/job-2', constraint: 'CONSTRAINT_MEMCG',
    message: 'Memory cgroup out of memory',
    totalVmBytes: 300000 * 1024, anonRssBytes: 260000 * 1024, fileRssBytes: 1000 * 1024, shmemRssBytes: 0,
    pageTablesBytes: 600 * 1024, oomScoreAdj: 0, form: '5.x+',
  });
  assert.deepEqual(kills[1], {
    usecMonotonic: 2001000030, seq: 1505,
    victim: { pid: 5301, comm: 'sort', uid: 0 },
    cgroup: undefined, oomCgroup: undefined, constraint: undefined,
    message: 'Memory cgroup out of memory',
    totalVmBytes: 40000 * 1024, anonRssBytes: 32000 * 1024, fileRssBytes: 500 * 1024, shmemRssBytes: 0,
    pageTablesBytes: 100 * 1024, oomScoreAdj: 0, form: '5.x+',
    memcg: { usageBytes: 32768 * 1024, limitBytes: 32768 * 1024, failcnt: 3 },
    invoker: { comm: 'sort', pid: 5300, gfpMask: 0xcc0, gfpFlags: 'GFP_KERNEL', order: 0, oomScoreAdj: 0 },
  });
});

test('older Killed line without shmem-rss (3.x: "Killed process %d (%s) total-vm:%lukB, anon-rss:%lukB, file-rss:%lukB")', () => {
  // Format string from a 3.x oom_kill_task() (kpatsakis/primevul 36821.c); line quoted in a real log.
  const [k] = run([{ text: 'Killed process 2603 (flasherav) total-vm:1498536kB, anon-rss:721784kB, file-rss:4228kB' }]);
  assert.equal(k?.victim.pid, 2603);
  assert.equal(k?.anonRssBytes, 721784 * 1024);
  assert.equal(k?.shmemRssBytes, undefined);
  assert.equal(k?.form, 'pre-5.0');
  assert.equal(k?.invoker, undefined);
});

test('memcg limit printed as PAGE_COUNTER_MAX becomes "max"; oom_reaper lines are not kills', () => {
  const kills = run([
    { text: 'a invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0' },
    { text: 'memory: usage 65536kB, limit 9007199254740988kB, failcnt 0' },
    { text: 'oom_reaper: reaped process 7 (a), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB' },
    { text: 'Memory cgroup out of memory: Killed process 7 (a) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0' },
  ]);
  assert.equal(kills.length, 1);
  assert.deepEqual(kills[0]?.memcg, { usageBytes: 65536 * 1024, limitBytes: 'max', failcnt: 0 });
});

test('an oom-kill summary never joins a Killed line of another pid or comm', () => {
  const kills = run([
    { text: 'oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/x,task_memcg=/x,task=a,pid=10,uid=0' },
    { text: 'Memory cgroup out of memory: Killed process 11 (a) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB' },
    { text: 'oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/y,task_memcg=/y,task=b,pid=12,uid=0' },
    { text: 'Memory cgroup out of memory: Killed process 12 (c) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB' },
  ]);
  assert.deepEqual(kills.map((k) => [k.victim.pid, k.cgroup]), [[11, undefined], [12, undefined]]);
});

test('a stale open report is dropped after maxAgeRecords', () => {
  const p = new OomReportParser({ maxAgeRecords: 3 });
  p.push({ text: 'x invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0' });
  for (let i = 0; i < 5; i++) p.push({ text: 'noise' });
  const [k] = p.push({ text: 'Killed process 5 (y) total-vm:1kB, anon-rss:1kB, file-rss:0kB, shmem-rss:0kB' });
  assert.equal(k?.invoker, undefined);
});

// Every line of every fixture, as input for the property test.
const corpus: OomRecordInput[] = [
  ...kmsgInputs('cgroup-v1-debian12-k6.18.kmsg_oom_raw.txt'),
  ...dmesgInputs('cgroup-v2-ubuntu24.04-k6.18.dmesg_oom.txt'),
  ...dmesgInputs('k4.19-memcg-v1.dmesg.txt'),
  ...dmesgInputs('k4.14-global.dmesg.txt'),
  ...kmsgInputs('k5.15-global.kmsg.txt'),
  ...kmsgInputs('interleaved-two-memcg.kmsg.txt'),
  ...kmsgInputs('truncated.kmsg.txt'),
];

const KILLED = /Killed process (\d+) \((.*)\)(?:, UID \d+,)? total-vm:/;
function victimsIn(inputs: readonly OomRecordInput[]): Set<string> {
  const s = new Set<string>();
  for (const i of inputs) {
    const m = KILLED.exec(i.text);
    // Number(): a mutation can leave a pid like "001", which the parser reads as 1.
    if (m !== null) s.add(`${Number(m[1])}/${m[2]}`);
  }
  return s;
}

const mutate = fc.oneof(
  fc.constant((t: string) => t),
  fc.nat().map((n) => (t: string) => t.slice(0, n % (t.length + 1))),
  fc.tuple(fc.nat(), fc.string({ maxLength: 4 })).map(([n, ins]) => (t: string) => {
    const i = n % (t.length + 1);
    return t.slice(0, i) + ins + t.slice(i);
  }),
  fc.nat().map((n) => (t: string) => {
    const i = n % (t.length + 1);
    return t.slice(0, i) + t.slice(i + 1);
  }),
);

test('property: shuffled, truncated, mutated fixture lines: never throws, victims come from Killed lines', () => {
  fc.assert(
    fc.property(
      fc.shuffledSubarray(corpus.map((_, i) => i), { minLength: 0 }),
      fc.array(mutate, { minLength: 1, maxLength: 8 }),
      fc.boolean(),
      (order, muts, keepSeq) => {
        const inputs: OomRecordInput[] = order.map((idx, j) => {
          const rec = corpus[idx] ?? { text: '' };
          const f = muts[j % muts.length] ?? ((t: string) => t);
          return keepSeq ? { ...rec, rawText: undefined, text: f(rec.text) } : { text: f(rec.text), usecMonotonic: rec.usecMonotonic };
        });
        const allowed = victimsIn(inputs);
        for (const k of run(inputs)) {
          assert.ok(allowed.has(`${k.victim.pid}/${k.victim.comm}`), JSON.stringify(k.victim));
        }
      },
    ),
    { numRuns: 500 },
  );
});

test('property: random strings and random kmsg-shaped records never throw', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 200 }), { maxLength: 40 }), (texts) => {
      const p = new OomReportParser();
      for (const t of texts) {
        p.push({ text: t });
        const r = parseKmsgRecord(t);
        if (r !== undefined) p.push(r);
        p.push(parseDmesgLine(t));
      }
    }),
    { numRuns: 500 },
  );
});
