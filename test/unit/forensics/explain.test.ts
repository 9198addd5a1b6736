// Issue 13: the explanation of an OOM kill, on constructed records. It names the limit that was
// hit (own, ancestor, the host), how fast usage grew, the process that grew (not merely the
// biggest, not the victim by default), the memory.stat shares, the signals sent, the snapshot;
// and when there is no snapshot it says why (before start, watch off, not watched, too fast,
// failed, removed by retention).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OomKillRecord } from '../../../src/oom/store.js';
import type { ProcessEvidence, SnapshotDoc } from '../../../src/forensics/capture.js';
import { Explainer, explainKill, type KillContext, type ExplainSettings } from '../../../src/forensics/explain.js';
import { RecentSamples, type ProcessLatest } from '../../../src/forensics/recent.js';
import * as c from '../../../src/model/catalog.js';
import type { Sample } from '../../../src/model/types.js';

const MiB = 1 << 20;
const T = 1_800_000_000_000;
const CG = '/pod/app';
const settings: ExplainSettings = { thresholds: [0.9, 0.95], linkWindowMs: 600_000, snapshotMinIntervalMs: 30_000 };

function kill(over: Partial<OomKillRecord> = {}): OomKillRecord {
  return {
    id: 'oom-1', time: new Date(T).toISOString(), timeMs: T, beforeStart: false, source: 'kmsg', victim: { pid: 200, comm: 'alloc', uid: 0 }, cgroup: CG, oomCgroup: CG,
    constraint: 'CONSTRAINT_MEMCG', totalVmBytes: 300 * MiB, anonRssBytes: 250 * MiB, fileRssBytes: 2 * MiB, shmemRssBytes: 0, pageTablesBytes: 600_000,
    oomScoreAdj: 0, memcg: { usageBytes: 256 * MiB, limitBytes: 256 * MiB, failcnt: 42 }, invoker: undefined, kernelSeq: 9, snapshotId: undefined, ...over,
  };
}

function proc(pid: number, comm: string, rss: number, readAtMs: number, extra: Partial<ProcessEvidence> = {}): ProcessEvidence {
  return {
    pid, cgroup: CG, comm, argv0: comm, cmdline: undefined, stage: 'smaps', goneAt: undefined,
    status: { name: comm, residentBytes: rss, residentAnonBytes: rss - MiB, residentFileBytes: MiB, residentShmemBytes: 0, residentPeakBytes: rss, virtualBytes: rss * 2, swapBytes: 0, pageTablesBytes: 4096, state: 'R', threads: 1 },
    oomScore: 500, oomScoreAdj: 0, smapsRollup: { rssBytes: rss, pssBytes: rss - 100_000, pssAnonBytes: rss - MiB, pssFileBytes: MiB, pssShmemBytes: 0, ussBytes: rss - 200_000, swapBytes: 0, swapPssBytes: 0, anonymousBytes: rss - MiB },
    topMappings: [{ name: '[anon]', vmas: 3, sizeBytes: rss, rssBytes: rss - MiB, pssBytes: rss - MiB, anonymousBytes: rss - MiB, swapBytes: 0 }], vmaCount: 10,
    readAtMs: { status: readAtMs }, actions: [], errors: [], ...extra,
  };
}

function snapshot(processes: ProcessEvidence[], stat: Record<string, number> = { anon: 200 * MiB, file: 20 * MiB, shmem: 0 }): SnapshotDoc {
  return {
    format: 1, id: 'snap-1-abcdef', time: new Date(T - 3000).toISOString(), timeMs: T - 3000, reason: 'threshold: 90 % threshold crossed upward', cgroup: CG, mode: 'v1',
    captureEndMs: T - 2900, captureDurationMs: 100, finishedMs: T - 2900,
    cgroups: [{ path: CG, usageBytes: 230 * MiB, limitBytes: 256 * MiB, effectiveLimitBytes: 256 * MiB, peakBytes: 230 * MiB, swapBytes: 0, stat, events: {}, underOom: 0, pressure: undefined, pids: processes.map((p) => p.pid), problems: [] }],
    processes, truncated: { cgroups: false, processes: false, smapsProcesses: processes.length }, hold: undefined, oomKills: ['oom-1'],
  };
}

function latest(pid: number, comm: string, rss: number): ProcessLatest {
  return {
    pid, comm, cgroup: CG, atMs: T - 15_000, rssBytes: rss, rssAnonBytes: rss, rssFileBytes: 0, rssShmemBytes: 0, swapBytes: 0, pssBytes: undefined, pssAnonBytes: undefined,
    pssFileBytes: undefined, pssShmemBytes: undefined, ussBytes: undefined, oomScore: undefined, oomScoreAdj: undefined,
  };
}

function context(over: Partial<KillContext> = {}): KillContext {
  return {
    atMs: T + 10, watchEnabled: true, watched: { path: CG, limitBytes: 256 * MiB, via: 'v1-eventfd' }, watchedCount: 3,
    usage: [{ tMs: T - 30_000, value: 60 * MiB }, { tMs: T - 15_000, value: 120 * MiB }], usageCgroup: CG,
    processes: [
      // The flat one is the biggest early on; the allocator starts small.
      { latest: latest(100, 'flat', 80 * MiB), rss: [{ tMs: T - 30_000, value: 80 * MiB }, { tMs: T - 15_000, value: 80 * MiB }] },
      { latest: latest(200, 'alloc', 40 * MiB), rss: [{ tMs: T - 30_000, value: 10 * MiB }, { tMs: T - 15_000, value: 40 * MiB }] },
    ],
    crossings: [{ timeMs: T - 3100, cgroup: CG, source: 'v1-threshold', threshold: 0.9, usageBytes: 231 * MiB, limitBytes: 256 * MiB }],
    lastCollectionMs: T - 15_000, snapshotFailures: [], stat: { anon: 100 * MiB, file: 10 * MiB }, ...over,
  };
}

test('a kill with its snapshot and samples: the limit, the growth, the allocator as the one that grew, the snapshot', () => {
  const doc = snapshot([proc(100, 'flat', 80 * MiB, T - 2950), proc(200, 'alloc', 150 * MiB, T - 2950)]);
  const e = explainKill({ kill: kill({ snapshotId: doc.id }), snapshot: doc, context: context(), settings });
  assert.equal(e.limit.kind, 'own');
  assert.equal(e.limit.limitBytes, 256 * MiB);
  assert.equal(e.limit.cgroup, CG);
  assert.equal(e.grew?.pid, 200);
  assert.equal(e.grew?.comm, 'alloc');
  assert.equal(e.grew?.bytes, 252 * MiB - 10 * MiB); // first sample 10 MiB -> the kill report's anon + file + shmem
  assert.equal(e.grew?.victim, true);
  const flat = e.processes.find((p) => p.pid === 100);
  assert.equal(flat?.growth?.bytes, 0);
  assert.equal(e.processes[0]?.pid, 200, 'largest first');
  assert.equal(e.snapshot?.id, doc.id);
  assert.ok(Math.abs((e.snapshot?.secondsBeforeKill ?? 0) - 3) < 1e-9);
  assert.equal(e.snapshot?.captureEndedBeforeKill, true);
  assert.ok(e.growth !== undefined && e.growth.fromBytes === 60 * MiB && e.growth.toBytes === 256 * MiB);
  assert.ok(Math.abs(e.growth.bytesPerSecond - (196 * MiB) / 30) < 1);
  assert.match(e.summary, /alloc \(pid 200, 252\.0 MiB resident\) was killed/);
  assert.match(e.summary, /own cgroup \/pod\/app hit its limit of 256\.0 MiB/);
  assert.match(e.summary, /alloc \(pid 200\) grew the most: \+242\.0 MiB/);
  assert.match(e.summary, /Snapshot snap-1-abcdef was started 3\.0 s before the kill \(2 processes\)\./);
  // A capture the kill overtook says so.
  const late = explainKill({ kill: kill({ snapshotId: doc.id }), snapshot: { ...doc, captureEndMs: T + 15 }, context: context(), settings });
  assert.equal(late.snapshot?.captureEndedBeforeKill, false);
  assert.match(late.summary, /still reading when the kill came \(15 ms after it\)/);
  assert.equal(e.missing.find((m) => m.what === 'snapshot'), undefined);
  assert.equal(e.memory?.source, 'snapshot');
  assert.ok(e.memory?.fileShare !== undefined && Math.abs(e.memory.fileShare - 20 / 230) < 1e-9);
  assert.equal(e.crossings.length, 1);
  assert.equal(e.processes.find((p) => p.pid === 200)?.topMappings[0]?.name, '[anon]');
});

test('the process that grew is named even when another is bigger and is the victim', () => {
  // The victim is the big flat process (highest badness); the one that grew is small.
  const ctx = context({
    processes: [
      { latest: latest(100, 'cache', 180 * MiB), rss: [{ tMs: T - 60_000, value: 180 * MiB }, { tMs: T - 15_000, value: 180 * MiB }] },
      { latest: latest(300, 'leaky', 70 * MiB), rss: [{ tMs: T - 60_000, value: 5 * MiB }, { tMs: T - 15_000, value: 70 * MiB }] },
    ],
  });
  const k = kill({ victim: { pid: 100, comm: 'cache', uid: 0 }, anonRssBytes: 180 * MiB, fileRssBytes: 0, shmemRssBytes: 0 });
  const e = explainKill({ kill: k, snapshot: undefined, context: ctx, settings });
  assert.equal(e.grew?.pid, 300);
  assert.equal(e.grew?.victim, false);
  assert.match(e.summary, /leaky \(pid 300\) grew the most: \+65\.0 MiB .*not the victim/);
});

test('an ancestor\'s limit and a global OOM are told apart from the cgroup\'s own', () => {
  const a = explainKill({ kill: kill({ cgroup: `${CG}/worker`, oomCgroup: CG }), snapshot: undefined, context: context(), settings });
  assert.equal(a.limit.kind, 'ancestor');
  assert.match(a.limit.text, /an ancestor, \/pod\/app, hit its limit/);
  const g = explainKill({ kill: kill({ constraint: 'CONSTRAINT_NONE', oomCgroup: undefined, memcg: undefined }), snapshot: undefined, context: context(), settings });
  assert.equal(g.limit.kind, 'host');
  assert.match(g.summary, /whole machine ran out of memory/);
});

test('no snapshot: each reason is told', () => {
  const why = (k: OomKillRecord, ctx: KillContext | undefined): string => explainKill({ kill: k, snapshot: undefined, context: ctx, settings }).missing.find((m) => m.what === 'snapshot')?.why ?? '';
  assert.match(why(kill({ beforeStart: true }), undefined), /before this memlens started/);
  assert.match(why(kill(), context({ watchEnabled: false })), /--watch\.enabled=false/);
  assert.match(why(kill(), context({ watched: undefined })), /not watched: .*--cgroup\.include\/--cgroup\.exclude/);
  assert.match(why(kill(), context({ crossings: [] })), /too fast: \/pod\/app was watched \(v1-eventfd\) but no crossing of 90 %/);
  assert.match(why(kill(), context({ snapshotFailures: [{ cgroup: CG, timeMs: T - 2000, error: 'cannot write to /var/snap: ENOSPC: no space left on device' }] })), /attempted 2\.0 s before the kill but failed: .*ENOSPC/);
  assert.match(why(kill({ snapshotId: 'snap-9-zzzzzz' }), context()), /no longer in --snapshot\.dir/);
  assert.match(why(kill(), context()), /a crossing was seen 3\.1 s before the kill but no snapshot/);
  const e = explainKill({ kill: kill(), snapshot: undefined, context: context({ watched: undefined }), settings });
  assert.match(e.summary, /No snapshot: the cgroup was not watched/);
});

test('without samples or a snapshot the missing evidence says what and why; nothing is invented', () => {
  const e = explainKill({ kill: kill({ memcg: undefined }), snapshot: undefined, context: context({ usage: [], processes: [], crossings: [], stat: undefined, lastCollectionMs: undefined }), settings });
  assert.equal(e.grew, undefined);
  assert.equal(e.growth, undefined);
  assert.equal(e.memory, undefined);
  const what = e.missing.map((m) => m.what);
  for (const w of ['usage and limit at the kill', 'snapshot', 'which process grew', 'how fast usage grew', 'page cache and kernel memory shares (memory.stat)']) assert.ok(what.includes(w), `${w} in ${what.join('; ')}`);
  assert.match(e.missing.find((m) => m.what === 'how fast usage grew')?.why ?? '', /no collection before the kill/);
  // The victim is still described from the kernel's own report.
  assert.equal(e.victim.rssBytes, 252 * MiB);
  assert.equal(e.processes.length, 1);
});

test('page cache, kernel memory and shmem shares are flagged when large', () => {
  const doc = snapshot([proc(200, 'alloc', 100 * MiB, T - 2950)], { anon: 100 * MiB, file: 100 * MiB, shmem: 30 * MiB });
  const e = explainKill({ kill: kill({ snapshotId: doc.id }), snapshot: doc, context: context(), settings });
  assert.match(e.memory?.notes.join('\n') ?? '', /page cache was 43 % of usage .*large share/);
  assert.match(e.memory?.notes.join('\n') ?? '', /shared memory \/ tmpfs held 30\.0 MiB/);
  // v1: kernel memory is what usage holds beyond anon + page cache: 230 - 200 = 30 MiB = 13 %.
  assert.equal(e.memory?.kernelBytes, 30 * MiB);
  assert.match(e.memory?.notes.join('\n') ?? '', /kernel memory .* 13 % of usage/);
});

test('signals sent and commands run by the rules are listed with where their output went', () => {
  const p = proc(200, 'java', 150 * MiB, T - 2950, {
    actions: [
      { rule: 'jvm-thread-dump', kind: 'signal', signal: 'SIGQUIT', sent: true, atMs: T - 2990, skipped: undefined },
      { rule: 'hist', kind: 'command', argv: ['jcmd', '200', 'GC.class_histogram'], startedMs: T - 2990, durationMs: 50, exitCode: 0, signal: null, timedOut: false, truncated: false, outputBytes: 1234, output: '...', error: undefined },
      { rule: 'usr1', kind: 'signal', signal: 'SIGUSR1', sent: false, atMs: T - 2990, skipped: 'no handler for SIGUSR1' },
    ],
  });
  const doc = snapshot([p]);
  const e = explainKill({ kill: kill({ snapshotId: doc.id, victim: { pid: 200, comm: 'java', uid: 0 } }), snapshot: doc, context: context(), settings });
  assert.equal(e.signals.length, 3);
  assert.match(e.signals[0]!.detail, /a JVM prints its thread dump to its stdout \(the container log\)/);
  assert.match(e.signals[1]!.detail, /1234 bytes of output kept in snapshot snap-1-abcdef/);
  assert.equal(e.signals[2]!.done, false);
  assert.match(e.signals[2]!.detail, /no handler/);
});

function samples(atMs: number, procs: [number, string, number][], usage: number): Sample[] {
  const out: Sample[] = [
    { desc: c.cgroupUsage, labels: { cgroup: CG }, value: usage },
    { desc: c.cgroupEffectiveLimit, labels: { cgroup: CG }, value: 256 * MiB },
    { desc: c.cgroupStat, labels: { cgroup: CG, item: 'anon' }, value: usage - MiB },
    { desc: c.cgroupStat, labels: { cgroup: CG, item: 'file' }, value: MiB },
  ];
  for (const [pid, comm, rss] of procs) out.push({ desc: c.processResident, labels: { pid: String(pid), comm, cgroup: CG }, value: rss });
  void atMs;
  return out;
}

test('the Explainer freezes the ring\'s evidence when the kill arrives and explains from it later', () => {
  const recent = new RecentSamples({ stepMs: 1000, points: 100 });
  recent.ingest(samples(T - 20_000, [[100, 'flat', 50 * MiB], [200, 'alloc', 5 * MiB]], 60 * MiB), T - 20_000);
  recent.ingest(samples(T - 10_000, [[100, 'flat', 50 * MiB], [200, 'alloc', 100 * MiB]], 160 * MiB), T - 10_000);
  const k = kill();
  const explainer = new Explainer({
    recent, events: () => [], watched: () => [], watchEnabled: true, snapshotFailures: () => [], getSnapshot: () => undefined, getKill: (id) => (id === k.id ? k : undefined), settings,
  });
  explainer.onKill(k);
  // Later collections (after the kill, the victim gone) do not change what the kill is explained by.
  recent.ingest(samples(T + 5000, [[100, 'flat', 50 * MiB]], 55 * MiB), T + 5000);
  const e = explainer.explain(k.id);
  assert.ok(e !== undefined);
  assert.equal(e.grew?.pid, 200);
  assert.equal(e.grew?.bytes, 252 * MiB - 5 * MiB);
  assert.equal(e.processes.find((p) => p.pid === 100)?.growth?.bytes, 0);
  assert.equal(e.growth?.fromBytes, 60 * MiB);
  assert.match(e.missing.find((m) => m.what === 'snapshot')?.why ?? '', /memlens was watching no cgroup/);
  assert.equal(explainer.explain('nope'), undefined);
});

test('the Explainer reads a linked snapshot once while it is unchanged, again when it is rewritten, and says so when it is unreadable', () => {
  const doc = snapshot([proc(200, 'alloc', 150 * MiB, T - 2950)]);
  const k = kill({ snapshotId: doc.id });
  let reads = 0;
  let version = '100/1';
  let broken = false;
  const explainer = new Explainer({
    recent: new RecentSamples(), events: () => [], watched: () => [], watchEnabled: true, snapshotFailures: () => [], getKill: () => k, settings,
    getSnapshot: () => {
      reads++;
      if (broken) throw new Error('Unexpected end of JSON input');
      return doc;
    },
    snapshotVersion: () => version,
  });
  for (let i = 0; i < 5; i++) assert.equal(explainer.explain(k.id)?.snapshot?.id, doc.id);
  assert.equal(reads, 1);
  version = '120/2';
  broken = true;
  const e = explainer.explain(k.id);
  assert.equal(reads, 2);
  assert.match(e?.missing.find((m) => m.what === 'snapshot')?.why ?? '', /could not be read: Unexpected end of JSON input/);
});
