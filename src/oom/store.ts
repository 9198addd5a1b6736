// OOM kills as the exporter keeps them: a bounded list of records (newest first, served at
// /api/v1/oom-kills) and counters per {cgroup, oom_cgroup, comm, constraint} that outlive the
// cgroup (a pod's cgroup vanishes with it; its kill count must not).
import type { OomKill } from '../kmsg/oomReport.js';
import type { KubeRef } from '../kubernetes/kubelet.js';

export interface OomKillRecord {
  id: string;
  /** Wall-clock time of the kill (boot time + the record's monotonic usec). */
  time: string;
  timeMs: number;
  /** Read from the kernel ring at start: the kill happened before this memlens started. */
  beforeStart: boolean;
  source: 'kmsg' | 'cgroup_counter';
  victim: { pid: number; comm: string; uid: number | undefined };
  cgroup: string | undefined;
  oomCgroup: string | undefined;
  constraint: string | undefined;
  totalVmBytes: number | undefined;
  anonRssBytes: number | undefined;
  fileRssBytes: number | undefined;
  shmemRssBytes: number | undefined;
  pageTablesBytes: number | undefined;
  oomScoreAdj: number | undefined;
  memcg: { usageBytes: number; limitBytes: number | 'max'; failcnt: number } | undefined;
  invoker: { comm: string; pid: number | undefined; gfpMask: string; order: number; oomScoreAdj: number } | undefined;
  kernelSeq: number | undefined;
  /** The snapshot taken before this kill, when one exists. */
  snapshotId: string | undefined;
  /** The victim's pod and container (ids from its cgroup path, names from the kubelet's cache), when on Kubernetes. */
  kubernetes?: KubeRef;
}

export interface CounterKey {
  cgroup: string;
  oom_cgroup: string;
  comm: string;
  constraint: string;
}

export interface OomQuery {
  cgroup?: string | undefined;
  sinceMs?: number | undefined;
  limit?: number | undefined;
}

/** `CONSTRAINT_MEMCG` -> `memcg` (the kernel's enum oom_constraint names). */
function constraintLabel(c: string | undefined): string {
  return c === undefined ? '' : c.replace(/^CONSTRAINT_/, '').toLowerCase();
}

export class OomStore {
  private readonly records: OomKillRecord[] = []; // oldest first
  private readonly counters = new Map<string, { key: CounterKey; count: number }>();
  private readonly lastKillMs = new Map<string, number>();
  private readonly listeners: ((r: OomKillRecord) => void)[] = [];
  private nextId = 1;
  /** Counter label sets dropped because of maxSeries. */
  seriesDropped = 0;

  constructor(
    private readonly maxRecords = 1000,
    private readonly maxSeries = 5000,
  ) {}

  /** Names each kill's cgroup (main wires the kubelet cache here when --kubernetes.kubelet is set). */
  nameWith(fn: (cgroup: string | undefined) => KubeRef | undefined): void {
    this.namer = fn;
  }

  private namer: ((cgroup: string | undefined) => KubeRef | undefined) | undefined;

  onKill(fn: (r: OomKillRecord) => void): void {
    this.listeners.push(fn);
  }

  addFromKmsg(k: OomKill, timeMs: number, beforeStart: boolean): OomKillRecord {
    const rec: OomKillRecord = {
      id: `oom-${timeMs.toFixed(0)}-${k.victim.pid}-${this.nextId++}`,
      time: new Date(timeMs).toISOString(),
      timeMs,
      beforeStart,
      source: 'kmsg',
      victim: { pid: k.victim.pid, comm: k.victim.comm, uid: k.victim.uid },
      cgroup: k.cgroup,
      oomCgroup: k.oomCgroup,
      constraint: k.constraint,
      totalVmBytes: k.totalVmBytes,
      anonRssBytes: k.anonRssBytes,
      fileRssBytes: k.fileRssBytes,
      shmemRssBytes: k.shmemRssBytes,
      pageTablesBytes: k.pageTablesBytes,
      oomScoreAdj: k.oomScoreAdj,
      memcg: k.memcg === undefined ? undefined : { ...k.memcg },
      invoker: k.invoker === undefined ? undefined : {
        comm: k.invoker.comm, pid: k.invoker.pid, gfpMask: `0x${k.invoker.gfpMask.toString(16)}`, order: k.invoker.order, oomScoreAdj: k.invoker.oomScoreAdj,
      },
      kernelSeq: k.seq,
      snapshotId: undefined,
    };
    const kube = this.namer?.(k.cgroup);
    if (kube !== undefined) rec.kubernetes = kube;
    this.count({ cgroup: k.cgroup ?? '', oom_cgroup: k.oomCgroup ?? '', comm: k.victim.comm, constraint: constraintLabel(k.constraint) }, 1, timeMs);
    this.push(rec);
    return rec;
  }

  /** Kills seen only as a cgroup counter's increase (no /dev/kmsg): counted without victim details. */
  addFromCounter(cgroup: string, kills: number, timeMs: number): void {
    this.count({ cgroup, oom_cgroup: '', comm: '', constraint: '' }, kills, timeMs);
  }

  private count(key: CounterKey, n: number, timeMs: number): void {
    const k = `${key.cgroup}\0${key.oom_cgroup}\0${key.comm}\0${key.constraint}`;
    const c = this.counters.get(k);
    if (c !== undefined) c.count += n;
    else if (this.counters.size < this.maxSeries) this.counters.set(k, { key, count: n });
    else this.seriesDropped++;
    if (key.cgroup !== '' && (this.lastKillMs.get(key.cgroup) ?? 0) < timeMs) {
      if (this.lastKillMs.has(key.cgroup) || this.lastKillMs.size < this.maxSeries) this.lastKillMs.set(key.cgroup, timeMs);
    }
  }

  private push(rec: OomKillRecord): void {
    this.records.push(rec);
    if (this.records.length > this.maxRecords) this.records.shift();
    for (const fn of this.listeners) fn(rec);
  }

  counterValues(): Iterable<{ key: CounterKey; count: number }> {
    return this.counters.values();
  }

  lastKills(): Iterable<[string, number]> {
    return this.lastKillMs.entries();
  }

  /** Newest first; `cgroup` matches the victim's or the limited cgroup, or any descendant of it. */
  list(q: OomQuery = {}): OomKillRecord[] {
    const cg = q.cgroup === undefined || q.cgroup === '/' ? q.cgroup : q.cgroup.replace(/\/+$/, '');
    const under = (p: string | undefined, c: string): boolean => p !== undefined && (p === c || p.startsWith(c.endsWith('/') ? c : `${c}/`));
    const out: OomKillRecord[] = [];
    for (let i = this.records.length - 1; i >= 0; i--) {
      const r = this.records[i]!;
      if (q.sinceMs !== undefined && r.timeMs < q.sinceMs) continue;
      if (cg !== undefined && !under(r.cgroup, cg) && !under(r.oomCgroup, cg)) continue;
      out.push(r);
      if (q.limit !== undefined && out.length >= q.limit) break;
    }
    return out;
  }

  get(id: string): OomKillRecord | undefined {
    return this.records.find((r) => r.id === id);
  }
}
