// Per-process memory for the selected processes (top N by RSS, plus --process.include) and
// per-group sums over every process. status is cheap (~11 us) and read every collection;
// smaps_rollup walks the process's page table (~35-65 ns per resident 4 KiB page, the process
// waits meanwhile), so it is read for selected processes only, on its own slower interval,
// skipped above --process.smaps-max-rss unless included by name, and its time is counted.
// /proc/PID/stat (page faults) is read beside status for every process with memory of its own:
// one more small single-show read per process (measured in bench/RESULTS.md, "Page faults").
//
// The per-process files are single-show seq_files: the kernel writes the whole file in one show()
// call into its seq_file buffer and the first read returns all of it (HostFs's `oneShow`):
// status, stat (fs/proc/base.c tgid_base_stuff: ONE("status", proc_pid_status), ONE("stat",
// proc_tgid_stat), ONE("oom_score", proc_oom_score), ONE("cgroup", proc_cgroup_show), all
// proc_single_open -> single_open) and smaps_rollup (fs/proc/task_mmu.c smaps_rollup_open ->
// single_open(file, show_smaps_rollup, priv), 4.14+). oom_score_adj is not a seq_file
// (oom_score_adj_read, simple_read_from_buffer) and is read the ordinary way.
//
// With PSS for every process (--process.smaps-scope all) a collection reads three files per
// process; what it costs beyond the bare read of those files is measured in bench/RESULTS.md
// ("PSS for every process at N = 1000"). So the loop over /proc makes no object and no string per
// process beyond its comm: the files are scanned as bytes into reused records, groups are summed
// on the way, and only the top N (and the included) are kept for their per-pid series; the
// rollups follow in a pass of their own.
import * as c from '../model/catalog.js';
import type { DirHandle, HostFs } from '../host/hostFs.js';
import type { CollectResult, Labels, MetricDesc } from '../model/types.js';
import type { ParseError } from '../errors.js';
import { describe, isGone } from '../errors.js';
import { emptyStatus, scanStatus, type ProcStatus } from '../procfs/status.js';
import { rollupOf, rollupPss, rollupUss, scanSmapsRollup, type SmapsRollup } from '../procfs/smapsRollup.js';
import { memoryCgroupPath, parseProcCgroup } from '../procfs/procCgroup.js';
import { parseSingleInt } from '../procfs/common.js';
import { scanStat, type StatFaults } from '../procfs/stat.js';
import type { CgroupMode } from '../cgroupfs/discover.js';
import type { GroupRule } from '../config/load.js';
import type { Collector } from './collector.js';
import { openFileLimit } from '../kernel/rlimit.js';
import { SampleSink } from './samples.js';
import { YieldPoint } from './yieldPoint.js';

export interface ProcessOptions {
  top: number;
  include: RegExp | undefined;
  smapsIntervalMs: number;
  smapsMaxRssBytes: number;
  smapsScope: 'selected' | 'all' | 'none';
  groups: readonly GroupRule[];
  /** Which /proc/PID/cgroup line names the memory cgroup. */
  cgroupMode: CgroupMode;
}

/** A process kept for its per-pid series (top N or included): the only per-process object. */
interface Kept {
  /** Position in the /proc listing: per-pid series come out in listing order. */
  seq: number;
  pid: number;
  /** Its /proc/PID directory (ProcDirs). */
  dir: DirHandle;
  comm: string;
  status: ProcStatus;
  /** undefined when /proc/PID/stat could not be read or parsed: no fault samples for it. */
  faults: { minor: number; major: number } | undefined;
  /** smaps_rollup when read in the loop (--process.smaps-scope all). */
  rollup: SmapsRollup | undefined;
}

/** The fault counters of a process when last seen (starttime tells a reused pid from the same process). */
interface SeenFaults {
  startTimeTicks: number;
  minor: number;
  major: number;
  /** The collection that last saw the pid: older ones are forgotten at the end of a collection. */
  gen: number;
}

interface Group {
  n: number;
  /** Per GROUP_FIELDS entry; NaN until a process of the group has the field. */
  sums: Float64Array;
  pss: number;
  uss: number;
  pssCount: number;
  /** The group's entry of groupFaults (looked up once per collection, not per process); undefined until it has one. */
  faults: { minor: number; major: number } | undefined;
}

/** One collection's state, handed from batch to batch (one object per collection). */
interface Pass {
  readonly out: SampleSink;
  readonly gen: number;
  readonly nowMs: number;
  /** --process.smaps-scope all. */
  readonly all: boolean;
  readonly groups: Map<string, Group>;
  /**
   * The top N by resident memory, largest first (ties: the earlier in the listing first, as a stable sort of every
   * process would have them).
   */
  readonly topN: Kept[];
  /** The processes included by name. */
  readonly included: Kept[];
  /** With --process.smaps-scope all: the processes with memory, in listing order, for the rollup pass. */
  readonly withMm: {
    seq: number[]; pid: number[]; dir: DirHandle[]; comm: string[]; rss: number[]; included: boolean[]; group: Group[];
  };
}

/**
 * Groups whose fault counters are kept after their last process exited (so the counter resumes
 * where it was if the group comes back). Beyond this many groups, those with no live process are
 * forgotten, oldest first: a group that then comes back starts again from its processes' counts,
 * which Prometheus's rate() reads as a counter reset.
 */
const MAX_FAULT_GROUPS = 10_000;

interface CachedRollup {
  comm: string;
  readAtMs: number;
  value: SmapsRollup;
  gen: number;
}

/**
 * The /proc/PID directories of the processes seen, kept open (O_PATH) from one collection to the next, so that
 * reading a process's status, stat and smaps_rollup opens each by its name in the directory (HostFs.readAtInto)
 * instead of walking /proc/PID/... three times per process per collection (bench/RESULTS.md, "PSS for every
 * process at N = 1000"). An O_PATH descriptor opens no file: the kernel keeps a struct file (about 256 bytes)
 * and the directory's dentry, and no seq_file buffer (a kept-open status or stat would hold 4 KiB each).
 *
 * A handle names the process it was opened for, never a later one with the same pid: once that process is gone
 * (reaped), opening a name in its directory fails with ENOENT (fs/proc/base.c proc_pident_lookup: no task for the
 * directory's pid; a cached dentry fails pid_revalidate first). So a held handle that finds nothing is dropped and
 * the pid looked up afresh once: the pid may have been reused. Directories of pids no longer listed are closed at
 * the end of each collection. At most `max` are held (an eighth of the soft open-file limit, at most 4096): the
 * watcher needs descriptors too; beyond it a process's files are read by path, as before.
 */
class ProcDirs {
  /** By pid (a number key: no string hashed per process and collection). */
  private readonly held = new Map<number, HeldDir>();
  private host: HostFs | undefined;

  constructor(private readonly max: number) {}

  /** Whether the handle the last get() returned was held from an earlier collection (no object per call). */
  wasHeld = false;

  /** The handle of /proc/`name` (`pid` = Number(name); held or new), marked as seen in collection `gen`; see wasHeld. */
  get(host: HostFs, name: string, pid: number, gen: number): HeldDir {
    if (host !== this.host) {
      this.close();
      this.host = host;
    }
    const h = this.held.get(pid);
    this.wasHeld = h !== undefined;
    if (h !== undefined) {
      h.gen = gen;
      return h;
    }
    return this.open(host, name, pid, gen);
  }

  /** Drops a held handle that found nothing and opens /proc/`name` again (the pid may name another process now). */
  reopen(host: HostFs, name: string, pid: number, gen: number): HeldDir {
    this.drop(host, pid);
    return this.open(host, name, pid, gen);
  }

  /** Closes the handle of a pid that is gone. */
  drop(host: HostFs, pid: number): void {
    const h = this.held.get(pid);
    if (h === undefined) return;
    host.closeDir(h.dir);
    this.held.delete(pid);
  }

  /** Closes the handles of pids not seen in collection `gen`. */
  sweep(gen: number): void {
    const host = this.host;
    if (host === undefined) return;
    for (const [pid, h] of this.held) {
      if (h.gen === gen) continue;
      host.closeDir(h.dir);
      this.held.delete(pid);
    }
  }

  close(): void {
    if (this.host !== undefined) for (const h of this.held.values()) this.host.closeDir(h.dir);
    this.held.clear();
    this.host = undefined;
  }

  get size(): number {
    return this.held.size;
  }

  private open(host: HostFs, name: string, pid: number, gen: number): HeldDir {
    const path = host.proc(name);
    if (this.held.size >= this.max) return { dir: { path, fd: -1 }, gen, comm: undefined }; // read by path
    const dir = host.openDir(path);
    const h: HeldDir = { dir, gen, comm: undefined };
    if (dir.fd >= 0) this.held.set(pid, h);
    return h;
  }
}

/** A /proc/PID directory handle and what is known of its process (ProcDirs). */
interface HeldDir {
  readonly dir: DirHandle;
  /** The collection that last saw the pid. */
  gen: number;
  /**
   * The process's comm when its status was last read through this handle: scanStatus returns this same string when
   * the Name line still says it (no string made, and its hash is kept for the group lookup).
   */
  comm: string | undefined;
}

/** How many /proc/PID directories ProcDirs may hold: an eighth of the soft RLIMIT_NOFILE, at most 4096. */
function procDirBudget(): number {
  try {
    const l = openFileLimit();
    return 'error' in l ? 0 : Math.min(4096, Math.floor(l.soft / 8));
  } catch {
    return 0;
  }
}

const GROUP_FIELDS = [
  [c.groupResident, 'residentBytes'],
  [c.groupResidentAnon, 'residentAnonBytes'],
  [c.groupResidentFile, 'residentFileBytes'],
  [c.groupResidentShmem, 'residentShmemBytes'],
  [c.groupVirtual, 'virtualBytes'],
  [c.groupSwap, 'swapBytes'],
  [c.groupPageTables, 'pageTablesBytes'],
] as const;

export const PROCESS_METRICS: readonly MetricDesc[] = [
  c.processResident, c.processResidentAnon, c.processResidentFile, c.processResidentShmem, c.processResidentPeak,
  c.processVirtual, c.processSwap, c.processPageTables, c.processPss, c.processPssAnon, c.processPssFile,
  c.processPssShmem, c.processUss, c.processSwapPss, c.processOomScore, c.processOomScoreAdj,
  c.processSmapsReadSeconds, c.processSmapsSkipped,
  c.processMinorFaults, c.processMajorFaults,
  ...GROUP_FIELDS.map(([d]) => d), c.groupPss, c.groupUss, c.groupMinorFaults, c.groupMajorFaults, c.groupProcesses,
];

export class ProcessCollector implements Collector {
  readonly name = 'process';
  readonly metrics = PROCESS_METRICS;

  private readonly rollups = new Map<number, CachedRollup>();
  /** Per pid, the fault counters last seen; per group, the faults accumulated from them (process-exporter's way). */
  private readonly seenFaults = new Map<number, SeenFaults>();
  private readonly groupFaults = new Map<string, { minor: number; major: number }>();
  private smapsReadSeconds = 0;
  private smapsSkipped = 0;
  private readonly needCmdline: boolean;
  private gen = 0;
  // Reused for every process of every collection: no object per process.
  private readonly status = emptyStatus();
  private readonly stat: StatFaults = { pid: 0, minorFaults: 0, majorFaults: 0, startTimeTicks: 0 };
  private readonly problems: ParseError[] = [];
  // What readRollup read last.
  private rolledPss = NaN;
  private rolledUss = NaN;
  private rolled: SmapsRollup | undefined;
  private readonly dirs: ProcDirs;

  constructor(
    private readonly opts: ProcessOptions,
    private readonly now: () => number = Date.now,
    /** How many /proc/PID directories to keep open between collections (default: from the open-file limit). */
    heldDirs: number = procDirBudget(),
  ) {
    this.needCmdline = opts.groups.some((g) => g.cmdline !== undefined);
    this.dirs = new ProcDirs(heldDirs);
  }

  /** Closes the /proc/PID directories held between collections (the next collection opens them again). */
  close(): void {
    this.dirs.close();
  }

  /** How many /proc/PID directories are held open now (tests). */
  get heldDirs(): number {
    return this.dirs.size;
  }

  async collect(host: HostFs, signal: AbortSignal): Promise<CollectResult> {
    const yp = new YieldPoint(signal);
    const all = this.opts.smapsScope === 'all';
    const p: Pass = {
      out: new SampleSink(),
      gen: ++this.gen,
      nowMs: this.now(),
      all,
      groups: new Map(),
      topN: [],
      included: [],
      withMm: { seq: [], pid: [], dir: [], comm: [], rss: [], included: [], group: [] },
    };
    const { out, groups, withMm } = p;

    // The loops run in batches of synchronous calls (statusBatch, rollupBatch), each until the time slice is used
    // up: the per-process code is then small hot functions that V8 optimises within a few collections, where the
    // same code inline in this async function stayed in baseline code for 30-40 collections and then took TurboFan
    // 150-200 ms to compile (bench/RESULTS.md, "session 4, pss").
    // /proc itself unreadable is the one failure of this area: let it throw.
    const pids = host.list(host.procRoot);
    for (let seq = 0; seq < pids.length; ) {
      // A promise per pid costs more than the check: await only when the time slice is used up.
      if (yp.due()) await yp.turn();
      seq = this.statusBatch(host, p, pids, seq, yp);
    }

    const selected = new Set(p.topN);
    for (const k of p.included) selected.add(k);
    const kept = [...selected].sort((a, b) => a.seq - b.seq);
    if (all) {
      // smaps_rollup of every process in a pass of its own after status and stat: reading it
      // between the status and stat reads of the next processes cost 4-8 % more system time
      // (bench/RESULTS.md). Only the kept processes need the rollup as an object.
      const cursor = { i: 0, kept: 0 };
      while (cursor.i < withMm.pid.length) {
        if (yp.due()) await yp.turn();
        this.rollupBatch(host, p, kept, cursor, yp);
      }
    }
    const include = this.opts.include;
    for (const k of kept) {
      if (this.opts.smapsScope === 'selected') {
        if (yp.due()) await yp.turn();
        if (this.readRollup(host, k.pid, k.dir, k.comm, k.status.residentBytes!, include?.test(k.comm) ?? false, p.nowMs, p.gen, true, out)) k.rollup = this.rolled;
        host.flushReleased();
      }
      this.emitProcess(host, k, out);
    }

    // What was kept for processes that were not seen in this collection goes.
    const gen = p.gen;
    this.dirs.sweep(gen);
    for (const [pid, r] of this.rollups) if (r.gen !== gen) this.rollups.delete(pid);
    for (const [pid, f] of this.seenFaults) if (f.gen !== gen) this.seenFaults.delete(pid);
    if (this.groupFaults.size > MAX_FAULT_GROUPS) {
      for (const name of this.groupFaults.keys()) {
        if (this.groupFaults.size <= MAX_FAULT_GROUPS) break;
        if (!groups.has(name)) this.groupFaults.delete(name);
      }
    }

    for (const [group, g] of groups) {
      const l = { group };
      for (let i = 0; i < GROUP_FIELDS.length; i++) {
        const v = g.sums[i]!;
        if (!Number.isNaN(v)) out.add(GROUP_FIELDS[i]![0], l, v);
      }
      if (all && g.pssCount > 0) {
        out.add(c.groupPss, l, g.pss);
        out.add(c.groupUss, l, g.uss);
      }
      const faults = g.faults;
      if (faults !== undefined) {
        out.add(c.groupMinorFaults, l, faults.minor);
        out.add(c.groupMajorFaults, l, faults.major);
      }
      out.add(c.groupProcesses, l, g.n);
    }
    out.add(c.processSmapsReadSeconds, {}, this.smapsReadSeconds);
    out.add(c.processSmapsSkipped, {}, this.smapsSkipped);
    return out.result();
  }

  /** scanProcess from pids[seq] on, until the time slice is used up (at least one entry): the next seq. */
  private statusBatch(host: HostFs, p: Pass, pids: readonly string[], seq: number, yp: YieldPoint): number {
    try {
      do {
        const name = pids[seq]!;
        const c0 = name.charCodeAt(0);
        if (c0 >= 48 && c0 <= 57) this.scanProcess(host, p, name, seq);
      } while (++seq < pids.length && !yp.due());
    } finally {
      host.flushReleased(); // nothing stays open across a turn of the event loop
    }
    return seq;
  }

  /**
   * One /proc entry: status (and stat when it has memory of its own) read and scanned, the process added to its
   * group, kept when it is in the top N or included, and queued for the rollup pass (--process.smaps-scope all).
   */
  private scanProcess(host: HostFs, p: Pass, name: string, seq: number): void {
    const { out, gen } = p;
    const st = this.status;
    const pid = Number(name);
    let h = this.dirs.get(host, name, pid, gen);
    const held = this.dirs.wasHeld;
    let dir = h.dir;
    let len: number;
    try {
      len = host.tryReadAtInto(dir, 'status', true);
      // A handle held from an earlier collection finds nothing once its process is gone: the pid may be another's now.
      if (len < 0 && held) {
        h = this.dirs.reopen(host, name, pid, gen);
        dir = h.dir;
        len = host.tryReadAtInto(dir, 'status', true);
      }
    } catch (err) {
      host.closeFiles(dir);
      out.problem('read_status', describe(err), host.proc(`${name}/status`));
      return;
    }
    if (len < 0) {
      this.dirs.drop(host, pid); // exited since the listing: normal
      return;
    }
    scanStatus(host.bytes, len, `${dir.path}/status`, st, this.problems, h.comm);
    h.comm = st.name;
    this.flush(this.problems, out);
    // Kernel threads have no memory of their own (no VmRSS line).
    const rssBytes = st.residentBytes;
    if (rssBytes === undefined) {
      host.closeFiles(dir);
      return;
    }
    const comm = st.name ?? '';
    const faults = this.readStat(host, dir, out);
    // status and stat: the directory stays open, its files do not; they are closed with other processes' files in
    // one close_range at the latest when this batch ends (HostFs.releaseFiles).
    host.releaseFiles(dir);

    const group = this.groupOf(host, pid, comm);
    let g = p.groups.get(group);
    if (g === undefined) {
      g = { n: 0, sums: nanSums(), pss: 0, uss: 0, pssCount: 0, faults: this.groupFaults.get(group) };
      p.groups.set(group, g);
    }
    g.n++;
    if (faults) this.countFaults(g, group, pid, gen);
    else this.markSeen(this.seenFaults.get(pid), gen); // unreadable this time: its counts are kept
    if (this.rollups.size > 0) this.markSeen(this.rollups.get(pid), gen); // live: its cached rollup is kept
    const sums = g.sums;
    // A field no process of the group has (RssAnon before 4.5) gives no sample, not 0.
    addTo(sums, 0, rssBytes);
    addTo(sums, 1, st.residentAnonBytes);
    addTo(sums, 2, st.residentFileBytes);
    addTo(sums, 3, st.residentShmemBytes);
    addTo(sums, 4, st.virtualBytes);
    addTo(sums, 5, st.swapBytes);
    addTo(sums, 6, st.pageTablesBytes);

    const { top, include } = this.opts;
    const topN = p.topN;
    const isTop = top > 0 && (topN.length < top || rssBytes > topN[topN.length - 1]!.status.residentBytes!);
    const isIncluded = include !== undefined && include.test(comm);
    if (isTop || isIncluded) {
      const kept: Kept = {
        seq, pid, dir, comm, status: { ...st },
        faults: faults ? { minor: this.stat.minorFaults, major: this.stat.majorFaults } : undefined,
        rollup: undefined,
      };
      if (isTop) insertTop(topN, kept, top);
      if (isIncluded) p.included.push(kept);
    }
    if (p.all) {
      const m = p.withMm;
      m.seq.push(seq);
      m.pid.push(pid);
      m.dir.push(dir);
      m.comm.push(comm);
      m.rss.push(rssBytes);
      m.included.push(isIncluded);
      m.group.push(g);
    }
  }

  /**
   * The rollups of p.withMm from cursor.i on, until the time slice is used up (at least one), added to their groups
   * and given to the kept processes (`kept` in listing order; cursor.kept walks it along, no lookup per process).
   */
  private rollupBatch(host: HostFs, p: Pass, kept: readonly Kept[], cursor: { i: number; kept: number }, yp: YieldPoint): void {
    const m = p.withMm;
    let i = cursor.i;
    let ki = cursor.kept;
    try {
      do {
        const seq = m.seq[i]!;
        while (ki < kept.length && kept[ki]!.seq < seq) ki++;
        const k = ki < kept.length && kept[ki]!.seq === seq ? kept[ki] : undefined;
        if (this.readRollup(host, m.pid[i]!, m.dir[i]!, m.comm[i]!, m.rss[i]!, m.included[i]!, p.nowMs, p.gen, k !== undefined, p.out)) {
          const g = m.group[i]!;
          if (!Number.isNaN(this.rolledPss)) g.pss += this.rolledPss;
          if (!Number.isNaN(this.rolledUss)) g.uss += this.rolledUss;
          g.pssCount++;
          if (k !== undefined) k.rollup = this.rolled;
        }
      } while (++i < m.pid.length && !yp.due());
    } finally {
      host.flushReleased(); // nothing stays open across a turn of the event loop
    }
    cursor.i = i;
    cursor.kept = ki;
  }

  private markSeen(entry: { gen: number } | undefined, gen: number): void {
    if (entry !== undefined) entry.gen = gen;
  }

  private flush(problems: ParseError[], out: SampleSink): void {
    if (problems.length === 0) return;
    out.parseProblems(problems);
    problems.length = 0;
  }

  /** Reads /proc/PID/stat into this.stat; false when it could not be read or parsed. */
  private readStat(host: HostFs, dir: DirHandle, out: SampleSink): boolean {
    let len: number;
    try {
      len = host.tryReadAtInto(dir, 'stat', true);
    } catch (err) {
      out.problem('read_stat', describe(err), `${dir.path}/stat`);
      return false;
    }
    if (len < 0) return false; // exited between status and stat: normal
    const ok = scanStat(host.bytes, len, `${dir.path}/stat`, this.stat, this.problems);
    this.flush(this.problems, out);
    return ok;
  }

  /**
   * Adds to the group what the process (this.stat) faulted since it was last seen: everything on
   * first sight (those faults happened in this group), the difference afterwards. A process that
   * exits takes nothing away, so the group counter never goes down; what it did between the last
   * collection and its exit is not seen (as with process-exporter).
   */
  private countFaults(g: Group, group: string, pid: number, gen: number): void {
    const stat = this.stat;
    const prev = this.seenFaults.get(pid);
    let minor = stat.minorFaults;
    let major = stat.majorFaults;
    if (prev === undefined) {
      this.seenFaults.set(pid, { startTimeTicks: stat.startTimeTicks, minor, major, gen });
    } else {
      if (prev.startTimeTicks === stat.startTimeTicks) {
        minor = Math.max(0, minor - prev.minor);
        major = Math.max(0, major - prev.major);
      }
      prev.startTimeTicks = stat.startTimeTicks;
      prev.minor = stat.minorFaults;
      prev.major = stat.majorFaults;
      prev.gen = gen;
    }
    const acc = g.faults;
    if (acc === undefined) {
      g.faults = { minor, major };
      this.groupFaults.set(group, g.faults);
    } else {
      acc.minor += minor;
      acc.major += major;
    }
  }

  private groupOf(host: HostFs, pid: number, comm: string): string {
    if (this.opts.groups.length === 0) return comm;
    let cmdline: string | undefined;
    if (this.needCmdline) {
      try {
        cmdline = host.tryRead(host.proc(`${pid}/cmdline`))?.replace(/\0/g, ' ').trim();
      } catch (err) {
        // Unreadable cmdline (EACCES, EIO on a zombie): rules on cmdline cannot match it; rules on comm still can.
        cmdline = isGone(err) ? undefined : '';
      }
    }
    for (const rule of this.opts.groups) {
      if (rule.comm !== undefined && !rule.comm.test(comm)) continue;
      if (rule.cmdline !== undefined && (cmdline === undefined || !rule.cmdline.test(cmdline))) continue;
      return rule.name;
    }
    return comm;
  }

  /**
   * The process's smaps_rollup, read or cached: false when skipped or unreadable. Its PSS and USS
   * go to rolledPss/rolledUss (NaN when absent) and, when `asObject` or when it is cached for
   * --process.smaps-interval, the whole record to `rolled` (else undefined).
   */
  private readRollup(
    host: HostFs, pid: number, dir: DirHandle, comm: string, rssBytes: number, includedByName: boolean,
    nowMs: number, gen: number, asObject: boolean, out: SampleSink,
  ): boolean {
    const interval = this.opts.smapsIntervalMs;
    const cached = interval > 0 ? this.rollups.get(pid) : undefined;
    if (cached !== undefined && cached.comm === comm && nowMs - cached.readAtMs < interval) {
      cached.gen = gen;
      const v = cached.value;
      this.rolledPss = v.pssBytes ?? NaN;
      this.rolledUss = v.ussBytes ?? NaN;
      this.rolled = v;
      return true;
    }
    if (rssBytes > this.opts.smapsMaxRssBytes && !includedByName) {
      this.smapsSkipped++;
      return false;
    }
    const t0 = performance.now();
    let len: number;
    try {
      len = host.tryReadAtInto(dir, 'smaps_rollup', true);
    } catch (err) {
      host.closeFiles(dir);
      // EACCES without CAP_SYS_PTRACE; the process keeps its status-based series.
      out.problem('read_smaps', describe(err), `${dir.path}/smaps_rollup`);
      this.smapsReadSeconds += (performance.now() - t0) / 1000;
      return false;
    }
    host.releaseFiles(dir); // closed with others' (HostFs.releaseFiles); the caller flushes
    this.smapsReadSeconds += (performance.now() - t0) / 1000;
    if (len < 0) return false;
    const v = scanSmapsRollup(host.bytes, len, `${dir.path}/smaps_rollup`, this.problems);
    this.flush(this.problems, out);
    this.rolledPss = rollupPss(v);
    this.rolledUss = rollupUss(v);
    this.rolled = undefined;
    if (!asObject && interval === 0) return true;
    const value = rollupOf(v);
    if (interval > 0) this.rollups.set(pid, { comm, readAtMs: nowMs, value, gen });
    this.rolled = value;
    return true;
  }

  private emitProcess(host: HostFs, p: Kept, out: SampleSink): void {
    const small = (file: string): string | undefined => {
      try {
        return host.tryRead(host.proc(`${p.pid}/${file}`));
      } catch (err) {
        out.problem(`read_${file}`, describe(err), host.proc(`${p.pid}/${file}`));
        return undefined;
      }
    };
    const cgText = small('cgroup');
    let cgroup: string | undefined;
    if (cgText !== undefined) {
      const parsed = parseProcCgroup(cgText, host.proc(`${p.pid}/cgroup`));
      out.parseProblems(parsed.problems);
      cgroup = memoryCgroupPath(parsed.value, this.opts.cgroupMode);
    }
    const l: Labels = { pid: String(p.pid), comm: p.comm, cgroup: cgroup ?? '' };
    const s = p.status;
    out.add(c.processResident, l, s.residentBytes);
    out.add(c.processResidentAnon, l, s.residentAnonBytes);
    out.add(c.processResidentFile, l, s.residentFileBytes);
    out.add(c.processResidentShmem, l, s.residentShmemBytes);
    out.add(c.processResidentPeak, l, s.residentPeakBytes);
    out.add(c.processVirtual, l, s.virtualBytes);
    out.add(c.processSwap, l, s.swapBytes);
    out.add(c.processPageTables, l, s.pageTablesBytes);
    out.add(c.processMinorFaults, l, p.faults?.minor);
    out.add(c.processMajorFaults, l, p.faults?.major);
    const rollup = p.rollup;
    if (rollup !== undefined) {
      out.add(c.processPss, l, rollup.pssBytes);
      out.add(c.processPssAnon, l, rollup.pssAnonBytes);
      out.add(c.processPssFile, l, rollup.pssFileBytes);
      out.add(c.processPssShmem, l, rollup.pssShmemBytes);
      out.add(c.processUss, l, rollup.ussBytes);
      out.add(c.processSwapPss, l, rollup.swapPssBytes);
    }
    for (const [desc, file] of [[c.processOomScore, 'oom_score'], [c.processOomScoreAdj, 'oom_score_adj']] as const) {
      const t = small(file);
      if (t === undefined) continue;
      const v = parseSingleInt(t, host.proc(`${p.pid}/${file}`));
      out.parseProblems(v.problems);
      out.add(desc, l, v.value);
    }
  }
}

/** A group's sums before its first process: NaN each (filled in a loop: TypedArray.prototype.fill is a builtin call). */
function nanSums(): Float64Array {
  const sums = new Float64Array(GROUP_FIELDS.length);
  for (let i = 0; i < sums.length; i++) sums[i] = NaN;
  return sums;
}

function addTo(sums: Float64Array, i: number, v: number | undefined): void {
  if (v === undefined) return;
  const s = sums[i]!;
  sums[i] = Number.isNaN(s) ? v : s + v;
}

/** Inserts into the top list (largest resident first, at most n): after every equal one, as a stable sort would. */
function insertTop(list: Kept[], k: Kept, n: number): void {
  const rss = k.status.residentBytes!;
  let i = list.length;
  while (i > 0 && list[i - 1]!.status.residentBytes! < rss) i--;
  list.splice(i, 0, k);
  if (list.length > n) list.pop();
}
