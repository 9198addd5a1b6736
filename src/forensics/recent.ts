// A small, bounded in-memory record of the recent past: per cgroup its usage over the last
// --window (30 min by default) and the latest of everything else the last collection saw, per
// selected process (the --process.top and --process.include ones) its resident memory over the
// same window. It is fed the samples of collections memlens makes anyway (Prometheus scrapes,
// OTLP exports, the page's own bounded refresh): it never reads a file itself. The page's JSON
// API reads the latest state and the sparklines from here; an OOM kill's explanation reads how
// usage and each process grew before the kill.
//
// Bounds: at most `maxCgroups` cgroups and `maxProcesses` processes, each with at most `points`
// points (see Series: two kept points apart are at least `stepMs` apart; the newest point always
// holds the newest reading).
// A series whose newest point is older than the window is dropped; when full, the series updated
// longest ago goes first. Defaults: 240 points, step 15 s (at least 30 min), 2000 cgroups, 1000
// processes (selected ones: --process.top + --process.include). What it holds when every series is
// full, measured by bench/recent-bytes.mjs (points, latest values, paths, maps): 8.4 MiB at those
// bounds (3000 series x 240 points x 8 bytes = 5.5 MiB of it), 2.8 MiB with 1000 cgroups and the
// default 10 processes.
import * as c from '../model/catalog.js';
import type { Sample } from '../model/types.js';

export interface RecentOptions {
  stepMs: number;
  points: number;
  maxCgroups: number;
  maxProcesses: number;
}

export const DEFAULT_RECENT: RecentOptions = { stepMs: 15_000, points: 240, maxCgroups: 2000, maxProcesses: 1000 };

export interface Point {
  tMs: number;
  value: number;
}

/**
 * Fixed-capacity time series. The newest point always holds the newest reading; it becomes a
 * kept point once it is at least `stepMs` after the point before it (so any two kept points two
 * apart are at least `stepMs` apart, and `capacity` points span at least (capacity - 1) / 2 steps).
 * The first reading of a burst is kept: growth is measured from it.
 *
 * 8 bytes a point in one buffer: times as whole ms after the series' base (Uint32: 49 days; the
 * base moves up to the oldest kept point before that, and kept points span about an hour), values
 * as Float32 (7 significant digits: enough for a chart and a growth figure). The buffer starts
 * small and doubles up to `capacity`, so a short-lived cgroup or process never holds a full one.
 */
const MAX_OFFSET_MS = 0xffff_ffff;

export class Series {
  private static readonly FIRST_CAPACITY = 16;
  private t: Uint32Array;
  private v: Float32Array;
  private baseMs = 0;
  private start = 0;
  private n = 0;

  constructor(
    private readonly capacity: number,
    private readonly stepMs: number,
  ) {
    [this.t, this.v] = Series.buffers(Math.min(capacity, Series.FIRST_CAPACITY));
  }

  private static buffers(size: number): [Uint32Array, Float32Array] {
    const buf = new ArrayBuffer(size * 8);
    return [new Uint32Array(buf, 0, size), new Float32Array(buf, size * 4, size)];
  }

  private at(i: number): number {
    return (this.start + i) % this.t.length;
  }

  private timeAt(k: number): number {
    return this.baseMs + this.t[k]!;
  }

  private set(k: number, tMs: number, value: number): void {
    this.t[k] = Math.round(tMs - this.baseMs);
    this.v[k] = value;
  }

  /** Moves the base up to the oldest kept point so that tMs fits; points 49 days older than tMs are dropped. */
  private rebase(tMs: number): void {
    const newBase = this.timeAt(this.at(0));
    if (tMs - newBase > MAX_OFFSET_MS) {
      this.n = 0;
      this.start = 0;
      return;
    }
    const shift = newBase - this.baseMs;
    for (let i = 0; i < this.n; i++) {
      const k = this.at(i);
      this.t[k] = this.t[k]! - shift;
    }
    this.baseMs = newBase;
  }

  push(tMs: number, value: number): void {
    if (this.n > 0 && tMs < this.timeAt(this.at(this.n - 1))) return; // out of order: ignore
    if (this.n > 0 && tMs - this.baseMs > MAX_OFFSET_MS) this.rebase(tMs);
    if (this.n === 0) this.baseMs = tMs;
    if (this.n >= 2 && tMs - this.timeAt(this.at(this.n - 2)) < this.stepMs) {
      this.set(this.at(this.n - 1), tMs, value);
      return;
    }
    if (this.n === this.t.length && this.n < this.capacity) {
      // Not yet wrapped (start is 0 until the buffer is full at capacity): copy into one twice as big.
      const [t, v] = Series.buffers(Math.min(this.capacity, this.n * 2));
      t.set(this.t);
      v.set(this.v);
      this.t = t;
      this.v = v;
    }
    if (this.n < this.t.length) {
      this.set(this.at(this.n), tMs, value);
      this.n++;
    } else {
      this.set(this.start, tMs, value);
      this.start = (this.start + 1) % this.t.length;
    }
  }

  get length(): number {
    return this.n;
  }

  /** Bytes of its point buffer (it grows with the points, up to capacity x 8). */
  get bytes(): number {
    return this.t.length * 8;
  }

  newestMs(): number {
    return this.n === 0 ? 0 : this.timeAt(this.at(this.n - 1));
  }

  /** Oldest first, optionally only points within [fromMs, toMs]. */
  points(fromMs = -Infinity, toMs = Infinity): Point[] {
    const out: Point[] = [];
    for (let i = 0; i < this.n; i++) {
      const k = this.at(i);
      const tMs = this.timeAt(k);
      if (tMs >= fromMs && tMs <= toMs) out.push({ tMs, value: this.v[k]! });
    }
    return out;
  }
}

export interface CgroupLatest {
  path: string;
  atMs: number;
  usageBytes: number | undefined;
  /** Own limit; undefined when unlimited. */
  limitBytes: number | undefined;
  /** Tightest of own, ancestors' and the host's RAM. */
  effectiveLimitBytes: number | undefined;
  workingSetBytes: number | undefined;
  peakBytes: number | undefined;
  swapBytes: number | undefined;
  stat: Record<string, number>;
  events: Record<string, number>;
  oomKills: number | undefined;
  processes: number | undefined;
}

export interface ProcessLatest {
  pid: number;
  comm: string;
  cgroup: string;
  atMs: number;
  rssBytes: number | undefined;
  rssAnonBytes: number | undefined;
  rssFileBytes: number | undefined;
  rssShmemBytes: number | undefined;
  swapBytes: number | undefined;
  pssBytes: number | undefined;
  pssAnonBytes: number | undefined;
  pssFileBytes: number | undefined;
  pssShmemBytes: number | undefined;
  ussBytes: number | undefined;
  oomScore: number | undefined;
  oomScoreAdj: number | undefined;
}

interface CgroupEntry {
  latest: CgroupLatest;
  usage: Series;
}

interface ProcessEntry {
  latest: ProcessLatest;
  rss: Series;
}

const PROCESS_FIELDS = new Map<object, keyof ProcessLatest>([
  [c.processResident, 'rssBytes'],
  [c.processResidentAnon, 'rssAnonBytes'],
  [c.processResidentFile, 'rssFileBytes'],
  [c.processResidentShmem, 'rssShmemBytes'],
  [c.processSwap, 'swapBytes'],
  [c.processPss, 'pssBytes'],
  [c.processPssAnon, 'pssAnonBytes'],
  [c.processPssFile, 'pssFileBytes'],
  [c.processPssShmem, 'pssShmemBytes'],
  [c.processUss, 'ussBytes'],
  [c.processOomScore, 'oomScore'],
  [c.processOomScoreAdj, 'oomScoreAdj'],
]);

/** `p` is `c` or below it (cgroup paths). */
function under(p: string, cg: string): boolean {
  return p === cg || cg === '/' || p.startsWith(`${cg}/`);
}

export class RecentSamples {
  private readonly cgroups = new Map<string, CgroupEntry>();
  private readonly processes = new Map<number, ProcessEntry>();
  /** Paths and pids the newest collection saw (the page lists only these). */
  private currentCgroups: string[] = [];
  private currentPids: number[] = [];
  private lastAtMs: number | undefined;
  private collections = 0;
  readonly opts: RecentOptions;

  constructor(opts: Partial<RecentOptions> = {}) {
    this.opts = { ...DEFAULT_RECENT, ...opts };
  }

  /** How long a series is kept without a new reading. */
  get windowMs(): number {
    return (this.opts.stepMs * this.opts.points) / 2;
  }

  /** Wall-clock ms of the newest collection ingested, undefined before the first. */
  get updatedMs(): number | undefined {
    return this.lastAtMs;
  }

  get collectionCount(): number {
    return this.collections;
  }

  /** One collection's samples (the runner's snapshot): one pass, no IO. */
  ingest(samples: readonly Sample[], atMs: number): void {
    const cgs = new Map<string, CgroupLatest>();
    const procs = new Map<number, ProcessLatest>();
    const cg = (path: string): CgroupLatest => {
      let e = cgs.get(path);
      if (e === undefined) {
        e = {
          path, atMs, usageBytes: undefined, limitBytes: undefined, effectiveLimitBytes: undefined, workingSetBytes: undefined, peakBytes: undefined,
          swapBytes: undefined, stat: {}, events: {}, oomKills: undefined, processes: undefined,
        };
        cgs.set(path, e);
      }
      return e;
    };
    for (const s of samples) {
      const d = s.desc;
      const path = s.labels['cgroup'];
      if (path === undefined) continue;
      if (d === c.cgroupUsage) cg(path).usageBytes = s.value;
      else if (d === c.cgroupLimit) cg(path).limitBytes = s.value;
      else if (d === c.cgroupEffectiveLimit) cg(path).effectiveLimitBytes = s.value;
      else if (d === c.cgroupWorkingSet) cg(path).workingSetBytes = s.value;
      else if (d === c.cgroupPeak) cg(path).peakBytes = s.value;
      else if (d === c.cgroupSwap) cg(path).swapBytes = s.value;
      else if (d === c.cgroupStat) cg(path).stat[s.labels['item'] ?? '?'] = s.value;
      else if (d === c.cgroupEvents) cg(path).events[s.labels['event'] ?? '?'] = s.value;
      else if (d === c.cgroupOomKills) cg(path).oomKills = s.value;
      else if (d === c.cgroupProcesses) cg(path).processes = s.value;
      else {
        const field = PROCESS_FIELDS.get(d);
        const pidText = s.labels['pid'];
        if (field === undefined || pidText === undefined) continue;
        const pid = Number(pidText);
        let p = procs.get(pid);
        if (p === undefined) {
          p = {
            pid, comm: s.labels['comm'] ?? '', cgroup: path, atMs, rssBytes: undefined, rssAnonBytes: undefined, rssFileBytes: undefined,
            rssShmemBytes: undefined, swapBytes: undefined, pssBytes: undefined, pssAnonBytes: undefined, pssFileBytes: undefined,
            pssShmemBytes: undefined, ussBytes: undefined, oomScore: undefined, oomScoreAdj: undefined,
          };
          procs.set(pid, p);
        }
        (p as unknown as Record<string, number>)[field] = s.value;
      }
    }
    for (const [path, latest] of cgs) {
      let e = this.cgroups.get(path);
      if (e === undefined) {
        e = { latest, usage: new Series(this.opts.points, this.opts.stepMs) };
        this.cgroups.set(path, e);
      } else e.latest = latest;
      if (latest.usageBytes !== undefined) e.usage.push(atMs, latest.usageBytes);
    }
    for (const [pid, latest] of procs) {
      let e = this.processes.get(pid);
      // A pid reused by another program starts a new series.
      if (e === undefined || e.latest.comm !== latest.comm) {
        e = { latest, rss: new Series(this.opts.points, this.opts.stepMs) };
        this.processes.delete(pid);
        this.processes.set(pid, e);
      } else e.latest = latest;
      if (latest.rssBytes !== undefined) e.rss.push(atMs, latest.rssBytes);
    }
    this.currentCgroups = [...cgs.keys()];
    this.currentPids = [...procs.keys()];
    this.lastAtMs = atMs;
    this.collections++;
    this.prune(atMs);
  }

  private prune(nowMs: number): void {
    const cutoff = nowMs - this.windowMs;
    const drop = <T extends { latest: { atMs: number } }>(m: Map<string | number, T>, max: number, series: (e: T) => Series): void => {
      for (const [k, e] of m) if (Math.max(series(e).newestMs(), e.latest.atMs) < cutoff) m.delete(k);
      if (m.size <= max) return;
      const byAge = [...m.entries()].sort((a, b) => a[1].latest.atMs - b[1].latest.atMs);
      for (const [k] of byAge.slice(0, m.size - max)) m.delete(k);
    };
    drop(this.cgroups as Map<string | number, CgroupEntry>, this.opts.maxCgroups, (e) => e.usage);
    drop(this.processes as Map<string | number, ProcessEntry>, this.opts.maxProcesses, (e) => e.rss);
  }

  /** The cgroups of the newest collection. */
  currentCgroupList(): CgroupLatest[] {
    const out: CgroupLatest[] = [];
    for (const p of this.currentCgroups) {
      const e = this.cgroups.get(p);
      if (e !== undefined) out.push(e.latest);
    }
    return out;
  }

  cgroup(path: string): CgroupLatest | undefined {
    return this.cgroups.get(path)?.latest;
  }

  cgroupSeries(path: string, fromMs?: number, toMs?: number): Point[] {
    return this.cgroups.get(path)?.usage.points(fromMs, toMs) ?? [];
  }

  /** Processes of the newest collection in `cgroup` or below it, by RSS (largest first). */
  currentProcessesUnder(cgroup: string): ProcessLatest[] {
    const out: ProcessLatest[] = [];
    for (const pid of this.currentPids) {
      const e = this.processes.get(pid);
      if (e !== undefined && under(e.latest.cgroup, cgroup)) out.push(e.latest);
    }
    return out.sort((a, b) => (b.rssBytes ?? 0) - (a.rssBytes ?? 0));
  }

  /** Every process with a series (gone ones too, until their series ages out) in `cgroup` or below it. */
  processesUnder(cgroup: string): { latest: ProcessLatest; rss: Point[] }[] {
    const out: { latest: ProcessLatest; rss: Point[] }[] = [];
    for (const e of this.processes.values()) if (under(e.latest.cgroup, cgroup)) out.push({ latest: e.latest, rss: e.rss.points() });
    return out;
  }

  /** Usage of every current cgroup on a fixed grid (one request serves every sparkline): null where nothing was seen. */
  sparklines(nowMs: number, buckets: number, spanMs: number): { fromMs: number; stepMs: number; values: Map<string, (number | null)[]> } {
    const stepMs = spanMs / buckets;
    const fromMs = nowMs - spanMs;
    const values = new Map<string, (number | null)[]>();
    for (const path of this.currentCgroups) {
      const e = this.cgroups.get(path);
      if (e === undefined) continue;
      const row: (number | null)[] = new Array<number | null>(buckets).fill(null);
      for (const p of e.usage.points(fromMs, nowMs)) {
        const i = Math.min(buckets - 1, Math.floor((p.tMs - fromMs) / stepMs));
        // The highest reading in each bucket: a sparkline must not hide a spike.
        if (i >= 0 && (row[i] === null || p.value > row[i]!)) row[i] = p.value;
      }
      values.set(path, row);
    }
    return { fromMs, stepMs, values };
  }
}
