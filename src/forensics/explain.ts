// "Why was it killed": an explanation of one OOM kill, computed from what memlens already holds:
// the kernel's own report (the kill record), the snapshot linked to it (every process of the
// cgroup just before the kill), the threshold crossings the watcher published, and the recent
// samples (./recent.ts) of the cgroup and of the selected processes. No file is read for it
// except the linked snapshot document. Every statement says where it comes from; what could not
// be known is listed under `missing`, with the reason, never guessed.
//
// explainKill() is pure (constructed records in, explanation out); the Explainer keeps, for each
// kill as it arrives, the evidence that would otherwise age out of the ring (the last 10 minutes
// of samples of the cgroup and its processes, the crossings, whether the cgroup was watched).
import type { OomKillRecord } from '../oom/store.js';
import type { ProcessEvidence, SnapshotDoc, CgroupEvidence } from './capture.js';
import type { Point, ProcessLatest, RecentSamples } from './recent.js';
import { isUnder } from './store.js';
import { describe } from '../errors.js';

/** How far before the kill samples and crossings count as "before the kill". */
export const GROWTH_WINDOW_MS = 10 * 60_000;
/** A process grew when it gained at least this much (and 5 % of where it started). */
const MIN_GROWTH_BYTES = 1 << 20;
const MAX_PROCESSES = 10;
const MAX_CONTEXT_PROCESSES = 30;

/** A watcher event as the bus publishes it (src/watch/bus.ts WatchEvent, structurally). */
export interface CrossingLike {
  readonly timeMs: number;
  readonly cgroup: string;
  readonly source: string;
  readonly threshold: number | null;
  readonly usageBytes: number | null;
  readonly limitBytes: number | null;
  readonly event?: string;
}

export interface SnapshotFailure {
  cgroup: string;
  timeMs: number;
  error: string;
}

/** Evidence frozen when the kill arrived (the ring keeps 30 minutes; an explanation may be asked for days later). */
export interface KillContext {
  /** When memlens handled the kill record. */
  atMs: number;
  watchEnabled: boolean;
  /** The watched cgroup (the limited one, the victim's, or an ancestor) at the time of the kill; undefined: none was. */
  watched: { path: string; limitBytes: number; via: string } | undefined;
  /** How many cgroups were watched then (0 also when the watcher had not walked yet). */
  watchedCount: number;
  /** Usage samples of the limited cgroup (or the victim's) in the window before the kill. */
  usage: Point[];
  usageCgroup: string | undefined;
  processes: { latest: ProcessLatest; rss: Point[] }[];
  crossings: CrossingLike[];
  /** The newest collection before the kill (samples feed the ring only when memlens collects). */
  lastCollectionMs: number | undefined;
  snapshotFailures: SnapshotFailure[];
  /** The memory.stat of the limited cgroup from the last collection. */
  stat: Record<string, number> | undefined;
}

export interface ExplainSettings {
  thresholds: readonly number[];
  linkWindowMs: number;
  snapshotMinIntervalMs: number;
}

export interface ExplainInput {
  kill: OomKillRecord;
  /** The linked snapshot document; undefined when there is none or it is gone from the store. */
  snapshot: SnapshotDoc | undefined;
  context: KillContext | undefined;
  settings: ExplainSettings;
}

export interface ExplainedProcess {
  pid: number;
  comm: string;
  cgroup: string;
  victim: boolean;
  /** Resident memory at the latest evidence (the kill record for the victim, else the snapshot or the last sample). */
  rssBytes: number | undefined;
  anonBytes: number | undefined;
  fileBytes: number | undefined;
  shmemBytes: number | undefined;
  swapBytes: number | undefined;
  pssBytes: number | undefined;
  ussBytes: number | undefined;
  oomScoreAdj: number | undefined;
  /** Where rssBytes comes from. */
  source: 'kill-report' | 'snapshot' | 'samples';
  topMappings: { name: string; rssBytes: number; anonymousBytes: number }[];
  /** Growth from the earliest evidence in the window to the latest (undefined: only one point in time known). */
  growth: { fromBytes: number; toBytes: number; bytes: number; seconds: number; from: string; to: string } | undefined;
}

export interface Explanation {
  killId: string;
  time: string;
  summary: string;
  victim: { pid: number; comm: string; cgroup: string | undefined; rssBytes: number | undefined; anonRssBytes: number | undefined; fileRssBytes: number | undefined; shmemRssBytes: number | undefined; oomScoreAdj: number | undefined };
  limit: {
    /** own: the victim's cgroup's limit; ancestor: a parent's; host: the whole machine (no cgroup constraint); unknown: the report did not say. */
    kind: 'own' | 'ancestor' | 'host' | 'unknown';
    cgroup: string | undefined;
    limitBytes: number | undefined;
    usageBytes: number | undefined;
    failcnt: number | undefined;
    constraint: string | undefined;
    text: string;
  };
  growth: { fromMs: number; fromBytes: number; toMs: number; toBytes: number; bytesPerSecond: number; basis: string; text: string } | undefined;
  processes: ExplainedProcess[];
  /** The process that grew the most before the kill. */
  grew: { pid: number; comm: string; bytes: number; seconds: number; victim: boolean } | undefined;
  memory: {
    source: 'snapshot' | 'samples';
    cgroup: string;
    usageBytes: number | undefined;
    anonBytes: number | undefined;
    fileBytes: number | undefined;
    shmemBytes: number | undefined;
    kernelBytes: number | undefined;
    fileShare: number | undefined;
    kernelShare: number | undefined;
    notes: string[];
  } | undefined;
  signals: { pid: number; comm: string | undefined; rule: string; action: string; done: boolean; detail: string }[];
  /**
   * secondsBeforeKill: from the start of the capture to the kill; captureEndedBeforeKill: false
   * when the OOM killer struck while the capture was still reading (what was read is kept).
   */
  snapshot: { id: string; time: string; secondsBeforeKill: number; captureEndedBeforeKill: boolean; reason: string; processes: number; captureMs: number } | undefined;
  crossings: { time: string; threshold: number | null; event: string | undefined; usageBytes: number | null; limitBytes: number | null; source: string }[];
  missing: { what: string; why: string }[];
}

export function fmtBytes(n: number | undefined | null): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return '?';
  const a = Math.abs(n);
  if (a < 1024) return `${n} B`;
  if (a < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (a < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function fmtSeconds(s: number): string {
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function sum(...xs: (number | undefined)[]): number | undefined {
  return xs.every((x) => x === undefined) ? undefined : xs.reduce<number>((a, x) => a + (x ?? 0), 0);
}

function describeLimit(k: OomKillRecord): Explanation['limit'] {
  const memcg = k.memcg;
  const limitBytes = memcg === undefined || memcg.limitBytes === 'max' ? undefined : memcg.limitBytes;
  const base = { limitBytes, usageBytes: memcg?.usageBytes, failcnt: memcg?.failcnt, constraint: k.constraint };
  const c = k.constraint;
  if (c === 'CONSTRAINT_NONE' || (c === undefined && k.oomCgroup === undefined && k.cgroup !== undefined && memcg === undefined)) {
    return { ...base, kind: 'host', cgroup: undefined, text: 'the whole machine ran out of memory (no cgroup limit was the constraint: a global OOM)' };
  }
  if (c !== undefined && c !== 'CONSTRAINT_MEMCG') {
    return { ...base, kind: 'host', cgroup: undefined, text: `the kernel's constraint was ${c} (a cpuset or memory policy ran out, not a cgroup limit)` };
  }
  const oc = k.oomCgroup;
  if (oc === undefined) return { ...base, kind: 'unknown', cgroup: undefined, text: 'the kernel report did not name the cgroup whose limit was hit' };
  const own = k.cgroup === undefined || k.cgroup === oc;
  const amount = limitBytes === undefined ? '' : ` of ${fmtBytes(limitBytes)} (usage ${fmtBytes(memcg?.usageBytes)}, failcnt ${memcg?.failcnt ?? '?'})`;
  return {
    ...base,
    kind: own ? 'own' : 'ancestor',
    cgroup: oc,
    text: own ? `its own cgroup ${oc} hit its limit${amount}` : `an ancestor, ${oc}, hit its limit${amount}: the victim's cgroup ${k.cgroup ?? '?'} is below it`,
  };
}

function processFromSnapshot(p: ProcessEvidence): Omit<ExplainedProcess, 'victim' | 'growth'> {
  const s = p.status;
  return {
    pid: p.pid, comm: p.comm ?? '?', cgroup: p.cgroup, rssBytes: s?.residentBytes, anonBytes: s?.residentAnonBytes, fileBytes: s?.residentFileBytes,
    shmemBytes: s?.residentShmemBytes, swapBytes: s?.swapBytes, pssBytes: p.smapsRollup?.pssBytes, ussBytes: p.smapsRollup?.ussBytes,
    oomScoreAdj: p.oomScoreAdj, source: 'snapshot',
    topMappings: (p.topMappings ?? []).slice(0, 3).map((m) => ({ name: m.name, rssBytes: m.rssBytes, anonymousBytes: m.anonymousBytes })),
  };
}

function processFromSamples(l: ProcessLatest): Omit<ExplainedProcess, 'victim' | 'growth'> {
  return {
    pid: l.pid, comm: l.comm, cgroup: l.cgroup, rssBytes: l.rssBytes, anonBytes: l.rssAnonBytes, fileBytes: l.rssFileBytes, shmemBytes: l.rssShmemBytes,
    swapBytes: l.swapBytes, pssBytes: l.pssBytes, ussBytes: l.ussBytes, oomScoreAdj: l.oomScoreAdj, source: 'samples', topMappings: [],
  };
}

/** The snapshot's evidence for the limited cgroup (or the nearest one it holds). */
function snapshotCgroup(doc: SnapshotDoc, want: string | undefined): CgroupEvidence | undefined {
  if (want !== undefined) {
    const exact = doc.cgroups.find((c) => c.path === want);
    if (exact !== undefined) return exact;
  }
  return doc.cgroups[0];
}

function memoryOf(stat: Record<string, number>, usage: number | undefined, cgroup: string, source: 'snapshot' | 'samples', mode: 'v1' | 'v2' | undefined): Explanation['memory'] {
  const anon = stat['anon'];
  const file = stat['file'];
  const shmem = stat['shmem'];
  // v2 has a `kernel` item (5.18+), older v2 kernels its parts; v1's memory.stat has no kernel
  // memory: what usage holds beyond anon + page cache is kernel memory (kmem) there.
  let kernel = stat['kernel'] ?? sum(stat['slab'], stat['kernel_stack'], stat['pagetables'], stat['sock'], stat['percpu'], stat['vmalloc']);
  if (kernel === undefined && mode !== 'v2' && usage !== undefined && anon !== undefined && file !== undefined) kernel = Math.max(0, usage - anon - file);
  const share = (x: number | undefined): number | undefined => (x === undefined || usage === undefined || usage <= 0 ? undefined : x / usage);
  const fileShare = share(file);
  const kernelShare = share(kernel);
  const notes: string[] = [];
  if (fileShare !== undefined) {
    notes.push(
      fileShare >= 0.25
        ? `page cache was ${Math.round(fileShare * 100)} % of usage (${fmtBytes(file)}): a large share at an OOM kill means the kernel could not reclaim it fast enough (dirty, under writeback, mapped, or shmem/tmpfs)`
        : `page cache was ${Math.round(fileShare * 100)} % of usage (${fmtBytes(file)}): not the cause`,
    );
  }
  if (kernelShare !== undefined && kernelShare >= 0.1) notes.push(`kernel memory (slab, stacks, page tables, sockets) was ${Math.round(kernelShare * 100)} % of usage (${fmtBytes(kernel)}): a large share`);
  if (shmem !== undefined && usage !== undefined && shmem / usage >= 0.1) notes.push(`shared memory / tmpfs held ${fmtBytes(shmem)}: it is charged to the cgroup and cannot be reclaimed without swap`);
  return { source, cgroup, usageBytes: usage, anonBytes: anon, fileBytes: file, shmemBytes: shmem, kernelBytes: kernel, fileShare, kernelShare, notes };
}

/** Where a runtime writes the dump a signal asks for (the conventions of the README's rule examples). */
function dumpGoesTo(signal: string, comm: string | undefined): string {
  if (signal === 'SIGQUIT') return 'a JVM prints its thread dump to its stdout (the container log)';
  if (signal === 'SIGUSR2' && comm === 'node') return 'Node writes a diagnostic report into its --report-directory (default: its working directory)';
  if (signal === 'SIGUSR1' && comm?.startsWith('python') === true) return 'Python writes the traceback to the file given to faulthandler.register';
  return 'the process writes its own dump where its runtime is configured to';
}

function whyNoSnapshot(kill: OomKillRecord, ctx: KillContext | undefined, settings: ExplainSettings): string {
  if (kill.beforeStart) return 'the kill happened before this memlens started (it was read from the kernel log at start): nothing could be captured';
  if (kill.cgroup === undefined && kill.oomCgroup === undefined) return 'the kernel report names no cgroup, so no snapshot can be linked to it';
  if (ctx === undefined) return 'no record of the watch state at the time of this kill is held any more';
  if (!ctx.watchEnabled) return 'early warning is off (--watch.enabled=false): snapshots are taken when a watched cgroup crosses a --watch.thresholds fraction';
  const fails = ctx.snapshotFailures;
  if (fails.length > 0) {
    const f = fails[fails.length - 1]!;
    return `a snapshot of ${f.cgroup} was attempted ${fmtSeconds((kill.timeMs - f.timeMs) / 1000)} before the kill but failed: ${f.error}`;
  }
  if (ctx.watched === undefined) {
    if (kill.constraint === 'CONSTRAINT_NONE') return 'a global OOM (the machine ran out of memory): memlens snapshots cgroups that approach their own limit';
    return ctx.watchedCount === 0
      ? 'memlens was watching no cgroup at the time (no cgroup with a memory limit found yet, or the watcher had not started)'
      : `the cgroup was not watched: memlens watches cgroups with an effective limit that match --cgroup.include/--cgroup.exclude, the --watch.max-cgroups tightest (${ctx.watchedCount} were watched)`;
  }
  const ups = ctx.crossings.filter((e) => e.threshold !== null);
  const lowest = settings.thresholds.length > 0 ? Math.min(...settings.thresholds) : undefined;
  if (ups.length === 0) {
    return `too fast: ${ctx.watched.path} was watched (${ctx.watched.via}) but no crossing of ${lowest === undefined ? 'a threshold' : `${Math.round(lowest * 100)} %`} of its limit was seen before the kill: usage jumped past the thresholds and hit the limit between two notifications`;
  }
  const first = ups[0]!;
  return `a crossing was seen ${fmtSeconds((kill.timeMs - first.timeMs) / 1000)} before the kill but no snapshot was stored before it: the capture had not been started (debounced by --snapshot.min-interval, ${fmtSeconds(settings.snapshotMinIntervalMs / 1000)}) or had not finished when the process was killed`;
}

export function explainKill(input: ExplainInput): Explanation {
  const { kill, snapshot: doc, context: ctx, settings } = input;
  const missing: Explanation['missing'] = [];
  const killMs = kill.timeMs;
  const limit = describeLimit(kill);
  const limited = kill.oomCgroup ?? kill.cgroup;
  const victimRss = sum(kill.anonRssBytes, kill.fileRssBytes, kill.shmemRssBytes);
  if (kill.memcg === undefined && limit.kind !== 'host') missing.push({ what: 'usage and limit at the kill', why: 'the kernel report had no "memory: usage ..., limit ..." line' });

  // Snapshot.
  let snapshot: Explanation['snapshot'];
  if (doc !== undefined) {
    snapshot = {
      id: doc.id, time: doc.time, secondsBeforeKill: (killMs - doc.timeMs) / 1000, captureEndedBeforeKill: doc.captureEndMs <= killMs, reason: doc.reason, processes: doc.processes.length,
      captureMs: Math.round(doc.captureDurationMs * 10) / 10,
    };
  } else if (kill.snapshotId !== undefined) {
    missing.push({ what: 'snapshot', why: `snapshot ${kill.snapshotId} was linked to this kill but is no longer in --snapshot.dir (removed by retention --snapshot.max-count/-bytes/-age, or by hand), or still being written` });
  } else {
    missing.push({ what: 'snapshot', why: whyNoSnapshot(kill, ctx, settings) });
  }

  // Processes: the snapshot's, else the samples'; the victim from the kill report.
  const byPid = new Map<number, ExplainedProcess>();
  for (const p of doc?.processes ?? []) byPid.set(p.pid, { ...processFromSnapshot(p), victim: false, growth: undefined });
  const samplesByPid = new Map<number, { latest: ProcessLatest; rss: Point[] }>();
  for (const p of ctx?.processes ?? []) {
    samplesByPid.set(p.latest.pid, p);
    if (!byPid.has(p.latest.pid)) byPid.set(p.latest.pid, { ...processFromSamples(p.latest), victim: false, growth: undefined });
  }
  const victimEntry = byPid.get(kill.victim.pid);
  const victim: ExplainedProcess = {
    ...(victimEntry ?? { pid: kill.victim.pid, comm: kill.victim.comm, cgroup: kill.cgroup ?? '?', pssBytes: undefined, ussBytes: undefined, swapBytes: undefined, topMappings: [] }),
    comm: kill.victim.comm,
    victim: true,
    rssBytes: victimRss ?? victimEntry?.rssBytes,
    anonBytes: kill.anonRssBytes ?? victimEntry?.anonBytes,
    fileBytes: kill.fileRssBytes ?? victimEntry?.fileBytes,
    shmemBytes: kill.shmemRssBytes ?? victimEntry?.shmemBytes,
    oomScoreAdj: kill.oomScoreAdj ?? victimEntry?.oomScoreAdj,
    source: victimRss !== undefined ? 'kill-report' : victimEntry?.source ?? 'kill-report',
    growth: undefined,
  };
  byPid.set(victim.pid, victim);

  // Growth of each process: earliest evidence in the window -> latest evidence at or before the kill.
  for (const p of byPid.values()) {
    const pts: { tMs: number; value: number; what: string }[] = [];
    for (const s of samplesByPid.get(p.pid)?.rss ?? []) if (s.tMs <= killMs && s.tMs >= killMs - GROWTH_WINDOW_MS) pts.push({ ...s, what: 'sample' });
    const snapProc = doc?.processes.find((x) => x.pid === p.pid);
    const snapRss = snapProc?.status?.residentBytes;
    if (snapRss !== undefined && doc !== undefined) pts.push({ tMs: snapProc?.readAtMs.status ?? doc.timeMs, value: snapRss, what: 'snapshot' });
    if (p.victim && victimRss !== undefined) pts.push({ tMs: killMs, value: victimRss, what: 'kill report' });
    pts.sort((a, b) => a.tMs - b.tMs);
    const first = pts[0];
    const last = pts[pts.length - 1];
    if (first !== undefined && last !== undefined && last.tMs > first.tMs) {
      p.growth = { fromBytes: first.value, toBytes: last.value, bytes: last.value - first.value, seconds: (last.tMs - first.tMs) / 1000, from: first.what, to: last.what };
    }
    if (!p.victim && p.source === 'snapshot' && last?.what === 'sample' && last.tMs > (snapProc?.readAtMs.status ?? 0)) {
      p.rssBytes = last.value;
      p.source = 'samples';
    }
  }
  const processes = [...byPid.values()].sort((a, b) => (b.rssBytes ?? 0) - (a.rssBytes ?? 0));
  const growers = processes
    .filter((p) => p.growth !== undefined && p.growth.bytes >= MIN_GROWTH_BYTES && p.growth.bytes >= 0.05 * Math.max(1, p.growth.fromBytes))
    .sort((a, b) => b.growth!.bytes - a.growth!.bytes);
  const top = growers[0];
  const grew = top === undefined ? undefined : { pid: top.pid, comm: top.comm, bytes: top.growth!.bytes, seconds: top.growth!.seconds, victim: top.victim };
  const shown = processes.slice(0, MAX_PROCESSES);
  if (top !== undefined && !shown.includes(top)) shown.push(top);
  if (doc === undefined && (ctx?.processes.length ?? 0) === 0) {
    missing.push({ what: 'the other processes of the cgroup', why: 'no snapshot, and no per-process samples of this cgroup: only --process.top processes by RSS and --process.include matches are sampled' });
  }
  if (grew === undefined) {
    const known = [...samplesByPid.values()].filter((p) => p.rss.some((s) => s.tMs <= killMs && s.tMs >= killMs - GROWTH_WINDOW_MS)).length;
    missing.push({
      what: 'which process grew',
      why: known === 0 && doc === undefined
        ? 'no earlier reading of any process of this cgroup: growth needs per-process samples (--process.top/--process.include, collected when memlens is scraped, exports OTLP or the page is open) or a snapshot'
        : 'no process gained at least 1 MiB between the earliest and the latest reading held (the memory may have been there before the window, or be in page cache or kernel memory)',
    });
  }
  for (const p of doc?.processes ?? []) {
    if (p.goneAt !== undefined && p.pid !== kill.victim.pid) missing.push({ what: `details of pid ${p.pid} (${p.comm ?? '?'})`, why: `it was gone at the ${p.goneAt} stage of the capture` });
  }
  if (doc?.truncated.processes === true) missing.push({ what: 'some processes', why: 'the snapshot stopped at its bound on processes' });

  // Usage growth of the limited cgroup before the kill.
  const usagePts: { tMs: number; value: number; what: string }[] = [];
  for (const s of ctx?.usage ?? []) if (s.tMs <= killMs && s.tMs >= killMs - GROWTH_WINDOW_MS) usagePts.push({ ...s, what: 'samples' });
  for (const e of ctx?.crossings ?? []) {
    if (e.usageBytes !== null && e.cgroup === ctx?.usageCgroup && e.timeMs <= killMs) usagePts.push({ tMs: e.timeMs, value: e.usageBytes, what: 'crossings' });
  }
  const snapCg = doc === undefined ? undefined : snapshotCgroup(doc, limited);
  if (doc !== undefined && snapCg?.usageBytes !== undefined && snapCg.path === limited) usagePts.push({ tMs: doc.timeMs, value: snapCg.usageBytes, what: 'snapshot' });
  if (kill.memcg !== undefined) usagePts.push({ tMs: killMs, value: kill.memcg.usageBytes, what: 'kill report' });
  usagePts.sort((a, b) => a.tMs - b.tMs);
  let growth: Explanation['growth'];
  const g0 = usagePts[0];
  const g1 = usagePts[usagePts.length - 1];
  if (g0 !== undefined && g1 !== undefined && g1.tMs > g0.tMs) {
    const seconds = (g1.tMs - g0.tMs) / 1000;
    const rate = (g1.value - g0.value) / seconds;
    const basis = [...new Set(usagePts.map((p) => p.what))].join(', ');
    growth = {
      fromMs: g0.tMs, fromBytes: g0.value, toMs: g1.tMs, toBytes: g1.value, bytesPerSecond: rate, basis,
      text: `usage went from ${fmtBytes(g0.value)} to ${fmtBytes(g1.value)} in the ${fmtSeconds(seconds)} before the kill (${fmtBytes(Math.round(rate))}/s; from ${basis})`,
    };
  } else {
    const why =
      ctx !== undefined && ctx.lastCollectionMs === undefined
        ? 'memlens had made no collection before the kill (it collects when scraped, when it exports OTLP, or while the page is open) and saw no crossing'
        : 'fewer than two readings of the cgroup\'s usage in the 10 minutes before the kill (no collection and no crossing in that time)';
    missing.push({ what: 'how fast usage grew', why });
  }

  // What kind of memory.
  let memory: Explanation['memory'];
  if (snapCg !== undefined && Object.keys(snapCg.stat).length > 0) memory = memoryOf(snapCg.stat, snapCg.usageBytes, snapCg.path, 'snapshot', doc?.mode);
  else if (ctx?.stat !== undefined && Object.keys(ctx.stat).length > 0 && ctx.usageCgroup !== undefined) {
    const u = ctx.usage[ctx.usage.length - 1]?.value;
    memory = memoryOf(ctx.stat, u, ctx.usageCgroup, 'samples', undefined);
  } else missing.push({ what: 'page cache and kernel memory shares (memory.stat)', why: 'neither a snapshot nor a collection of the cgroup before the kill' });

  // Signals and commands run by snapshot rules.
  const signals: Explanation['signals'] = [];
  for (const p of doc?.processes ?? []) {
    for (const a of p.actions) {
      if (a.kind === 'signal') {
        signals.push({
          pid: p.pid, comm: p.comm, rule: a.rule, action: a.signal, done: a.sent,
          detail: a.sent ? `sent at ${new Date(a.atMs).toISOString()}: ${dumpGoesTo(a.signal, p.comm)}` : `not sent: ${a.skipped ?? '?'}`,
        });
      } else {
        signals.push({
          pid: p.pid, comm: p.comm, rule: a.rule, action: a.argv.join(' '), done: a.error === undefined && a.exitCode === 0,
          detail: `${a.error ?? (a.timedOut ? 'timed out' : `exit ${a.exitCode ?? a.signal ?? '?'}`)}; ${a.outputBytes} bytes of output kept in snapshot ${doc?.id ?? '?'}${a.truncated ? ' (cut at max-output)' : ''}`,
        });
      }
    }
  }

  const crossings = (ctx?.crossings ?? []).map((e) => ({ time: new Date(e.timeMs).toISOString(), threshold: e.threshold, event: e.event, usageBytes: e.usageBytes, limitBytes: e.limitBytes, source: e.source }));

  // The summary: three or four plain sentences.
  const parts: string[] = [];
  parts.push(`${kill.victim.comm} (pid ${kill.victim.pid}${victimRss === undefined ? '' : `, ${fmtBytes(victimRss)} resident`}) was killed by the OOM killer because ${limit.text}.`);
  if (growth !== undefined) parts.push(`${growth.text.charAt(0).toUpperCase()}${growth.text.slice(1)}.`);
  if (grew !== undefined) {
    const who = grew.victim ? 'the victim itself' : `not the victim`;
    parts.push(`${grew.comm} (pid ${grew.pid}) grew the most: +${fmtBytes(grew.bytes)} in ${fmtSeconds(grew.seconds)} (${who}).`);
  }
  if (memory !== undefined) {
    const big = memory.notes.filter((n) => n.includes('large share') || n.includes('cannot be reclaimed'));
    if (big.length > 0) parts.push(`${big[0]!.charAt(0).toUpperCase()}${big[0]!.slice(1)}.`);
  }
  if (snapshot !== undefined) {
    const end = snapshot.captureEndedBeforeKill ? '' : `, and was still reading when the kill came (${fmtSeconds((doc!.captureEndMs - killMs) / 1000)} after it): what it read is kept`;
    parts.push(`Snapshot ${snapshot.id} was started ${fmtSeconds(Math.max(0, snapshot.secondsBeforeKill))} before the kill (${snapshot.processes} processes${end}).`);
  }
  else parts.push(`No snapshot: ${missing.find((m) => m.what === 'snapshot')?.why ?? 'none linked'}.`);

  return {
    killId: kill.id,
    time: kill.time,
    summary: parts.join(' '),
    victim: { pid: kill.victim.pid, comm: kill.victim.comm, cgroup: kill.cgroup, rssBytes: victimRss, anonRssBytes: kill.anonRssBytes, fileRssBytes: kill.fileRssBytes, shmemRssBytes: kill.shmemRssBytes, oomScoreAdj: kill.oomScoreAdj },
    limit,
    growth,
    processes: shown,
    grew,
    memory,
    signals,
    snapshot,
    crossings,
    missing,
  };
}

/** Where the explainer finds what it needs; main.ts wires these. */
export interface ExplainerDeps {
  recent: RecentSamples;
  /** Recent watcher events, newest first (the bus's recent()). */
  events: (q: { sinceMs: number }) => readonly CrossingLike[];
  /** The cgroups watched right now. */
  watched: () => readonly { path: string; limitBytes: number; via: string }[];
  watchEnabled: boolean;
  snapshotFailures: (sinceMs: number) => SnapshotFailure[];
  getSnapshot: (id: string) => SnapshotDoc | undefined;
  /** What changes when a stored snapshot is rewritten (its size, its kills), without reading it. */
  snapshotVersion?: (id: string) => string | undefined;
  getKill: (id: string) => OomKillRecord | undefined;
  settings: ExplainSettings;
  /** Kills whose evidence is kept (the newest). */
  maxContexts?: number;
}

export class Explainer {
  private readonly contexts = new Map<string, KillContext>();
  private readonly cache = new Map<string, { key: string; value: Explanation }>();

  constructor(private readonly deps: ExplainerDeps) {}

  /** store.onKill: freeze the evidence that the ring would age out. Cheap: copies a few series. */
  onKill(kill: OomKillRecord): void {
    if (kill.beforeStart) return; // the ring and the watcher know nothing of a kill before start
    const d = this.deps;
    const targets = [kill.oomCgroup, kill.cgroup].filter((x): x is string => x !== undefined);
    const fromMs = kill.timeMs - GROWTH_WINDOW_MS;
    const watchedList = d.watched();
    const watched = watchedList.find((w) => targets.some((t) => isUnder(t, w.path)));
    const usageCgroup = targets.find((t) => d.recent.cgroupSeries(t).length > 0) ?? targets[0];
    const related = (cg: string): boolean => targets.some((t) => isUnder(t, cg) || isUnder(cg, t));
    const crossings = d.events({ sinceMs: fromMs }).filter((e) => related(e.cgroup) && e.timeMs <= kill.timeMs + 1000).reverse();
    const scope = kill.oomCgroup ?? kill.cgroup;
    const processes = scope === undefined ? [] : d.recent.processesUnder(scope)
      .map((p) => ({ latest: p.latest, rss: p.rss.filter((s) => s.tMs >= fromMs) }))
      .filter((p) => p.rss.length > 0)
      .sort((a, b) => (b.latest.rssBytes ?? 0) - (a.latest.rssBytes ?? 0))
      .slice(0, MAX_CONTEXT_PROCESSES);
    if (scope !== undefined && !processes.some((p) => p.latest.pid === kill.victim.pid)) {
      const v = d.recent.processesUnder('/').find((p) => p.latest.pid === kill.victim.pid && p.latest.comm === kill.victim.comm);
      if (v !== undefined) processes.push({ latest: v.latest, rss: v.rss.filter((s) => s.tMs >= fromMs) });
    }
    const ctx: KillContext = {
      atMs: Date.now(),
      watchEnabled: d.watchEnabled,
      watched,
      watchedCount: watchedList.length,
      usage: usageCgroup === undefined ? [] : d.recent.cgroupSeries(usageCgroup, fromMs, kill.timeMs),
      usageCgroup,
      processes,
      crossings,
      lastCollectionMs: d.recent.updatedMs,
      snapshotFailures: d.snapshotFailures(fromMs).filter((f) => related(f.cgroup) && f.timeMs <= kill.timeMs),
      stat: usageCgroup === undefined ? undefined : d.recent.cgroup(usageCgroup)?.stat,
    };
    this.contexts.set(kill.id, ctx);
    const max = d.maxContexts ?? 200;
    while (this.contexts.size > max) this.contexts.delete(this.contexts.keys().next().value as string);
  }

  /** The explanation of a kill, or undefined when there is no such kill. */
  explain(id: string): Explanation | undefined {
    const kill = this.deps.getKill(id);
    if (kill === undefined) return undefined;
    // The evidence of a kill is settled once its snapshot is on disk: cached by what it depends
    // on, checked without reading the document (the kills view asks for 50 of them every refresh).
    const version = kill.snapshotId === undefined ? '' : this.deps.snapshotVersion?.(kill.snapshotId);
    const key = `${kill.snapshotId ?? ''}|${version ?? 'absent'}`;
    const hit = this.cache.get(id);
    if (hit !== undefined && hit.key === key && version !== undefined) return hit.value;
    let doc: SnapshotDoc | undefined;
    let unreadable: string | undefined;
    try {
      doc = kill.snapshotId === undefined ? undefined : this.deps.getSnapshot(kill.snapshotId);
    } catch (err) {
      unreadable = describe(err); // a damaged document: explained without it, and said so
    }
    const value = explainKill({ kill, snapshot: doc, context: this.contexts.get(id), settings: this.deps.settings });
    if (unreadable !== undefined) {
      const m = value.missing.find((x) => x.what === 'snapshot');
      if (m !== undefined) m.why = `snapshot ${kill.snapshotId ?? '?'} could not be read: ${unreadable}`;
    }
    this.cache.set(id, { key, value });
    while (this.cache.size > 200) this.cache.delete(this.cache.keys().next().value as string);
    return value;
  }
}
