// Early warning: watches the cgroups closest to their limit and turns upward crossings of --watch.thresholds (and the
// kernel's own memory events) into WatchEvents on the bus (DESIGN.md "Seeing the OOM coming", KERNEL.md).
//
// Which cgroups: those of the live cgroup tree (cgroupfs/tree.ts) with an effective limit, filtered by
// include/exclude, at most maxCgroups, tightest headroom first. The tree's changes arm at once: a cgroup made (or a
// limit written) is watched in the same turn of the event loop as its inotify event, a changed effective limit
// re-registers the thresholds, a removed cgroup releases its fds and watches. After each full rescan of the tree
// observe() reconciles the whole set by headroom (reading each candidate's usage once).
//
// cgroup v1: one eventfd per threshold on memory.usage_in_bytes through cgroup.event_control, plus one on
//   memory.oom_control, registered off the JS thread (the kernel waits for an RCU grace period in each), at start, for a
//   new cgroup and when the limit changes; until they are in place the cgroup is polled as on v2. The kernel signals
//   crossings in both directions (and once on rmdir): each signal re-reads the usage and only upward crossings become
//   events. A signal handled late (after the OOM kill freed the memory) still shows its crossing through
//   memory.max_usage_in_bytes, the kernel's high-water mark (v1Reading). Without write access to cgroup.event_control
//   (EACCES, EPERM, EROFS: an unprivileged container) v1 falls back to polling memory.usage_in_bytes, said once.
// cgroup v2 (no usage thresholds in the kernel): memory.current polled through a held fd (one pread per cgroup),
//   adaptively (pollSchedule.ts): each cgroup's next read comes when, allocating at allocRateBytesPerS (or faster, if it
//   was seen faster), it could reach its next threshold; a few ms near a threshold, pollIntervalMs at most. inotify on
//   memory.events (high/max/oom/oom_kill deltas), and a PSI trigger on memory.pressure
//   where the kernel takes one (else said once, and done without).
// Without a kernel event loop (koffi unavailable) both fall back to polling.
//
// The held poll fds and the one-shot file reads use node:fs directly rather than HostFs: the paths are already
// under --path.sysfs (they come from the collector), and HostFs has no held-fd read.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import type { Logger } from '../log.js';
import type { CgroupMode } from '../cgroupfs/discover.js';
import { describe, errnoCode, isGone } from '../errors.js';
import { parseFlatKeyed } from '../procfs/common.js';
import type { KernelEventLoop, PsiFire, V1Signal, Watch } from '../kernel/eventLoop.js';
import { IN_IGNORED, IN_MODIFY, IN_Q_OVERFLOW, errnoException, lastErrno, sys } from '../kernel/sys.js';
import type { InotifyEvent } from '../kernel/sys.js';
import type { CgroupNode, CgroupTree, TreeChange } from '../cgroupfs/tree.js';
import type { WatchBus, WatchEvent, WatchEventInput, WatchSource } from './bus.js';
import type { WatchStats } from './stats.js';
import { CrossingTracker, V2_EVENT_KEYS, counterDeltas, selectWatched } from './thresholds.js';
import type { CgroupObservation } from '../cgroupfs/observation.js';
import { FAST_ALLOC_BYTES_PER_S, nextReadAtMs, safeDelayMs } from './pollSchedule.js';
import { BatchReader } from '../kernel/batchRead.js';


export interface PsiTriggerSpec {
  stallUs: number;
  windowUs: number;
}

/** 150 ms of stall in 1 s (the kernel falls back to a 2 s window without CAP_SYS_RESOURCE). */
export const DEFAULT_PSI_TRIGGER: PsiTriggerSpec = { stallUs: 150_000, windowUs: 1_000_000 };

export interface WatcherOptions {
  mode: CgroupMode;
  /** The exporter's one kernel event loop; undefined: everything is polled. */
  loop: KernelEventLoop | undefined;
  bus: WatchBus;
  stats: WatchStats;
  log: Logger;
  /** Fractions of the effective limit, ascending. */
  thresholds: readonly number[];
  /** Longest gap between two reads of a polled cgroup. */
  pollIntervalMs: number;
  /** The allocation rate polling is sized for (default FAST_ALLOC_BYTES_PER_S). */
  allocRateBytesPerS?: number;
  maxCgroups: number;
  include: RegExp | undefined;
  exclude: RegExp | undefined;
  /** v2 PSI trigger on memory.pressure; false: none. */
  psi?: PsiTriggerSpec | false;
  /** false: every poll read is a pread (tests, bench A/B); default: batched through Linux AIO where the kernel allows. */
  batchReads?: boolean;
}

/** How a watched cgroup is being watched (for tests and `memlens watch`'s start-up line). */
export interface WatchedInfo {
  path: string;
  dir: string;
  limitBytes: number;
  thresholdsBytes: readonly number[];
  /** v1 with eventfds, or polled (v2 always; v1 without cgroup.event_control; v1 while its eventfds are being armed). */
  via: 'v1-eventfd' | 'poll';
  /** v1: polled until its eventfds, being registered, are armed. */
  arming: boolean;
  /** Watches in the kernel event loop (threshold and oom eventfds, inotify, PSI). */
  loopWatches: number;
  psi: boolean;
}

interface Watched {
  path: string;
  dir: string;
  limitBytes: number;
  tracker: CrossingTracker;
  /** v1 threshold eventfds (re-registered when the limit changes). */
  thresholdWatches: Watch[];
  /**
   * v1, the limit moved: the previous limit's threshold eventfds, kept until the new ones are armed (closed then, or
   * when the registration fails or the cgroup is dropped) so that a limit written over many cgroups does not close
   * them all in one turn of the JS thread.
   */
  retiring: Watch[];
  /** Everything else in the loop: v1 oom_control, v2 inotify and PSI. */
  otherWatches: Watch[];
  psi: boolean;
  /** Held fd of the usage file, for polling; undefined when the kernel signals (v1 eventfds). */
  pollFd: number | undefined;
  /** pollFd's slot in the watcher's BatchReader, -1 when it is read with pread (no reader, or the file refused AIO). */
  aioSlot: number;
  /** Polled by path (open, read, close each time): no fd could be held for it (EMFILE). */
  pollByPath: boolean;
  /** Adaptive polling: when the next read is due (performance.now() ms), and the last reading. */
  nextPollMs: number;
  lastUsage: number | undefined;
  lastReadMs: number;
  usageFile: 'memory.usage_in_bytes' | 'memory.current';
  eventsPrev: Map<string, number> | undefined;
  dropped: boolean;
  /**
   * v1, a cgroup the tree just added (or just limited): polled through pollFd while its eventfds are registered off the
   * JS thread; the generation of that registration (a limit moved meanwhile starts a new one), 0 when none is pending.
   */
  arming: number;
  /**
   * v1 with its eventfds armed: memory.max_usage_in_bytes read just after the tracker's last reading (see v1Reading);
   * undefined while the cgroup is polled or being armed, or when the file could not be read.
   */
  peakBase: number | undefined;
}

const USAGE_READ_BYTES = 64;
/** memory.events is ~100 bytes. */
const TEXT_READ_BYTES = 4096;
/**
 * v1 cgroups whose eventfds are registered at the same time (each one's thresholds one after the other: the kernel
 * holds the cgroup's thresholds lock across its grace period). The libuv pool has 4 threads and the kernel loop's
 * epoll_wait holds one.
 */
const ARMING_IN_FLIGHT = 3;
/** errnos of running out of file descriptors: the cgroup is polled by path instead, counted. */
const OUT_OF_FDS = new Set(['EMFILE', 'ENFILE']);
/** errnos that mean "not allowed to write cgroup.event_control": fall back to polling for every v1 cgroup. */
const NO_WRITE_ACCESS = new Set(['EACCES', 'EPERM', 'EROFS']);

/** A decimal usage file ("12345\n") read into buf[0, n): the number, or undefined when it is not one. */
function parseUsageBytes(buf: Buffer, start: number, n: number): number | undefined {
  let v = 0;
  let digits = 0;
  const end = start + n;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c >= 48 && c <= 57) {
      v = v * 10 + (c - 48);
      digits++;
    } else if (c === 10 && i === end - 1) break;
    else return undefined;
  }
  return digits > 0 && digits < 17 ? v : undefined;
}

function parseUsage(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : undefined;
}

export class CgroupWatcher {
  private readonly watched = new Map<string, Watched>();
  private readonly readBuf = Buffer.alloc(USAGE_READ_BYTES);
  private readonly textBuf = Buffer.alloc(TEXT_READ_BYTES);
  /**
   * Batched reads of the held poll fds (Linux AIO: two system calls for every read due at a wake-up instead of one
   * each); undefined until the first poll fd, null when the kernel or a seccomp profile refuses it (pread then).
   */
  private batch: BatchReader | null | undefined;
  /** The cgroups read in the current batch, and their slots (reused between wake-ups). */
  private batchDue: Watched[] = [];
  private batchSlots = new Int32Array(64);
  private pollTimer: NodeJS.Timeout | undefined;
  private v1EventControl = true;
  private psiSpec: PsiTriggerSpec | false;
  private closed = false;
  private readonly saidOnce = new Set<string>();
  private pollDueMs = Number.POSITIVE_INFINITY;
  private readonly allocRate: number;
  private tree: CgroupTree | undefined;
  private detachTree: (() => void) | undefined;
  /** v1 cgroups polled until their eventfds are registered (startV1Polled), in the order the tree added them. */
  private readonly armQueue: Watched[] = [];
  private armingInFlight = 0;
  private armGeneration = 0;
  /** errno -> cgroups polled because the kernel registration (or the poll fd) failed. */
  readonly pollFallbacks = new Map<string, number>();

  constructor(private readonly opts: WatcherOptions) {
    this.psiSpec = opts.psi ?? DEFAULT_PSI_TRIGGER;
    this.allocRate = opts.allocRateBytesPerS ?? FAST_ALLOC_BYTES_PER_S;
    if (opts.loop === undefined) this.once('no-loop', () => opts.log.warn('no kernel event loop: watched cgroups are polled'));
  }

  /** Reconciles the watched set with these cgroups (every limited cgroup of the tree, with its usage). */
  observe(cgroups: readonly CgroupObservation[]): void {
    if (this.closed) return;
    const selected = selectWatched(cgroups, { include: this.opts.include, exclude: this.opts.exclude, maxCgroups: this.opts.maxCgroups });
    const keep = new Set(selected.map((o) => o.path));
    for (const w of [...this.watched.values()]) if (!keep.has(w.path)) this.drop(w, 'left the watched set');
    for (const o of selected) {
      const limitBytes = o.effectiveLimitBytes;
      if (limitBytes === undefined) continue;
      const w = this.watched.get(o.path);
      if (w !== undefined && w.dir === o.dir && w.limitBytes === limitBytes) continue;
      if (w !== undefined && w.dir === o.dir) this.rearm(w, limitBytes);
      else {
        if (w !== undefined) this.drop(w, 'directory changed');
        this.start(o.path, o.dir, limitBytes);
      }
    }
    this.schedulePoll();
  }

  /**
   * Follows the live cgroup tree: its changes arm, re-arm and release watches at once, and each of its full rescans
   * (the first one included) reconciles the whole set by headroom. Reconciles now.
   */
  attach(tree: CgroupTree): void {
    this.detachTree?.();
    this.tree = tree;
    this.detachTree = tree.onChange((c) => this.onTreeChange(c));
    this.reconcile();
  }

  /** Every cgroup of the tree with a finite effective limit, with its usage read now, handed to observe(). */
  reconcile(): void {
    const tree = this.tree;
    if (tree === undefined || this.closed) return;
    const usageFile = this.opts.mode === 'v1' ? 'memory.usage_in_bytes' : 'memory.current';
    const obs: CgroupObservation[] = [];
    const now = performance.now();
    for (const n of tree.nodes()) {
      const limit = finiteLimit(n);
      if (limit === undefined || !this.matches(n.path)) continue;
      // A polled cgroup's own reading, when it is at most a poll interval old, rather than a second read by path (a
      // CPU profile of the idle exporter with 500 polled cgroups had reconcile at 205 ms in 40 s, its start included).
      const w = this.watched.get(n.path);
      let usage: number | undefined;
      if (w !== undefined && w.dir === n.dir && w.pollFd !== undefined && w.lastUsage !== undefined && now - w.lastReadMs <= this.opts.pollIntervalMs) {
        usage = w.lastUsage;
      } else {
        try {
          usage = this.readUsageByPath(n.dir, usageFile);
        } catch {
          usage = undefined;
        }
      }
      obs.push({ path: n.path, dir: n.dir, usageBytes: usage, effectiveLimitBytes: limit });
    }
    this.observe(obs);
  }

  private matches(path: string): boolean {
    return (this.opts.include?.test(path) ?? true) && !(this.opts.exclude?.test(path) ?? false);
  }

  private onTreeChange(c: TreeChange): void {
    if (this.closed) return;
    if (c.kind === 'rescanned') {
      this.reconcile();
      return;
    }
    const w = this.watched.get(c.node.path);
    if (c.kind === 'removed') {
      if (w !== undefined && w.dir === c.node.dir) this.drop(w, 'cgroup removed');
      this.schedulePoll();
      return;
    }
    // added, or its effective limit moved.
    const limit = finiteLimit(c.node);
    if (limit === undefined || !this.matches(c.node.path) || c.node.depth === 0) {
      if (w !== undefined) this.drop(w, 'no limit');
    } else if (w !== undefined) {
      if (w.limitBytes !== limit) this.rearm(w, limit);
    } else if (this.watched.size < this.opts.maxCgroups) {
      this.start(c.node.path, c.node.dir, limit, true);
    }
    this.schedulePoll();
  }

  /** Watched cgroups, tightest headroom first as selected. */
  list(): WatchedInfo[] {
    return [...this.watched.values()].map((w) => ({
      path: w.path,
      dir: w.dir,
      limitBytes: w.limitBytes,
      thresholdsBytes: w.tracker.thresholdsBytes,
      via: w.pollFd === undefined && !w.pollByPath ? 'v1-eventfd' : 'poll',
      loopWatches: w.thresholdWatches.filter((x) => !x.closed).length + w.otherWatches.filter((x) => !x.closed).length,
      psi: w.psi,
      arming: w.arming !== 0,
    }));
  }

  /** Fds the watcher holds itself (the poll fds); the loop counts its own. */
  heldFdCount(): number {
    let n = 0;
    for (const w of this.watched.values()) if (w.pollFd !== undefined) n++;
    return n;
  }

  /** Reads every polled cgroup whose read is due (all of them with `all`); the poll timer calls it, tests may too. */
  pollOnce(all = true): void {
    const now = performance.now();
    // A reading a millisecond early costs nothing; a separate wake-up for it would.
    const horizon = now + 1;
    const due = this.batchDue;
    let count = 0;
    for (const w of this.watched.values()) {
      if ((w.pollFd === undefined && !w.pollByPath) || w.dropped) continue;
      if (!all && w.nextPollMs > horizon) continue;
      if (w.aioSlot >= 0) due[count++] = w;
      else this.pollOne(w, now);
    }
    if (count === 0) return;
    const batch = this.batch;
    if (count === 1 || batch === null || batch === undefined) {
      // One read: a pread is one system call where a batch takes two.
      for (let i = 0; i < count; i++) this.pollOne(due[i]!, now);
    } else {
      if (this.batchSlots.length < count) this.batchSlots = new Int32Array(count * 2);
      const slots = this.batchSlots;
      for (let i = 0; i < count; i++) slots[i] = due[i]!.aioSlot;
      if (batch.read(slots, count) < 0) {
        this.batchBroken(batch);
        for (let i = 0; i < count; i++) this.pollOne(due[i]!, now);
      } else {
        for (let i = 0; i < count; i++) {
          const w = due[i]!;
          const slot = w.aioSlot;
          if (batch.unsupported(slot)) {
            // This file takes no AIO read (an old kernel's file without read_iter): pread it from now on.
            batch.release(slot);
            w.aioSlot = -1;
            this.pollOne(w, now);
          } else this.pollRead(w, now, batch.result(slot), batch.data, batch.slotOffset(slot));
        }
      }
    }
    due.fill(undefined as unknown as Watched, 0, count);
  }

  /** One read of a polled cgroup: crossings published, its next read scheduled (or dropped when gone). */
  private pollOne(w: Watched, now: number): void {
    let usage: number | undefined;
    try {
      if (w.pollFd !== undefined) usage = this.readPollFd(w);
      else {
        usage = this.readUsageByPath(w.dir, w.usageFile);
        if (usage === undefined) {
          this.drop(w, 'cgroup removed');
          return;
        }
      }
    } catch (err) {
      this.pollFailed(w, now, err);
      return;
    }
    if (usage !== undefined) this.polled(w, now, usage);
  }

  /** A held fd's read: `n` bytes at buf[start], or -errno. */
  private pollRead(w: Watched, now: number, n: number, buf: Buffer, start: number): void {
    if (n < 0) {
      this.pollFailed(w, now, errnoException(-n, 'read'));
      return;
    }
    const usage = parseUsageBytes(buf, start, n);
    if (usage !== undefined) this.polled(w, now, usage);
  }

  private pollFailed(w: Watched, now: number, err: unknown): void {
    if (isGone(err)) this.drop(w, 'cgroup removed');
    else this.once(`poll-${errnoCode(err) ?? 'error'}`, () => this.opts.log.warn({ cgroup: w.path, err: describe(err) }, 'watch: cannot read usage'));
    w.nextPollMs = now + this.opts.pollIntervalMs;
  }

  private polled(w: Watched, now: number, usage: number): void {
    const crossed = w.tracker.update(usage);
    if (crossed.length > 0) {
      const readAtNs = process.hrtime.bigint();
      const source: WatchSource = this.opts.mode === 'v1' ? 'v1-poll' : 'v2-poll';
      for (const threshold of crossed) this.publish(w, { source, threshold, usageBytes: usage, count: 1 }, readAtNs);
    }
    w.nextPollMs = nextReadAtMs(now, this.safeDelayMs(w, usage, now), this.opts.pollIntervalMs);
    w.lastUsage = usage;
    w.lastReadMs = now;
  }

  /** The batch reader failed as a whole: every cgroup goes back to pread, said once. */
  private batchBroken(batch: BatchReader): void {
    this.batch = null;
    for (const w of this.watched.values()) w.aioSlot = -1;
    this.once('aio-broken', () => this.opts.log.warn('watch: batched reads (Linux AIO) failed: reading each cgroup with pread'));
    if (!batch.broken) batch.close();
  }

  /** pollSchedule.safeDelayMs towards the next threshold not yet crossed (the limit when every one is). */
  private safeDelayMs(w: Watched, usage: number, now: number): number {
    let seen = 0;
    if (w.lastUsage !== undefined && now > w.lastReadMs && usage > w.lastUsage) seen = ((usage - w.lastUsage) * 1000) / (now - w.lastReadMs);
    // update(usage) has just run: the tracker's lowest threshold not crossed is the first one above usage.
    const t = w.tracker.nextBytes;
    return safeDelayMs(usage, t < w.limitBytes ? t : w.limitBytes, this.allocRate, seen);
  }

  /** Cgroups watched by each way, for memlens_watch_cgroups. */
  countsByVia(): { eventfd: number; poll: number } {
    let eventfd = 0;
    let poll = 0;
    for (const w of this.watched.values()) if (w.pollFd === undefined && !w.pollByPath) eventfd++; else poll++;
    return { eventfd, poll };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.pollTimer);
    this.detachTree?.();
    this.pollTimer = undefined;
    for (const w of [...this.watched.values()]) this.drop(w, 'watcher closed');
    if (this.batch !== null && this.batch !== undefined && !this.batch.broken) this.batch.close();
    this.batch = null;
  }

  /** The batch reader, opened with the first poll fd; null when it cannot be had (said once, pread then). */
  private batchReader(): BatchReader | null {
    if (this.batch !== undefined) return this.batch;
    if (this.opts.loop === undefined || this.opts.batchReads === false) return (this.batch = null);
    const opened = BatchReader.open();
    if (opened.reader === undefined) {
      this.opts.log.info({ reason: opened.reason }, 'watch: no batched reads (Linux AIO): polled cgroups are read one pread at a time');
      return (this.batch = null);
    }
    return (this.batch = opened.reader);
  }

  // ---- internals ----

  private once(key: string, fn: () => void): void {
    if (this.saidOnce.has(key)) return;
    this.saidOnce.add(key);
    fn();
  }

  /**
   * A small file (memory.events) as latin1 text, read into one reused buffer rather than readFileSync's 8 KiB buffer
   * per call (see readUsageByPath); one that fills the buffer is read again whole.
   */
  private readText(path: string): string {
    const fd = openSync(path, 'r');
    let n = 0;
    try {
      for (;;) {
        const r = readSync(fd, this.textBuf, n, this.textBuf.length - n, null);
        if (r === 0) break;
        n += r;
        if (n === this.textBuf.length) return readFileSync(path, 'latin1');
      }
    } finally {
      closeSync(fd);
    }
    return this.textBuf.toString('latin1', 0, n);
  }

  /**
   * Into the watcher's one read buffer, not readFileSync: that makes an 8 KiB buffer per call for a file whose size
   * the kernel does not give, and a rescan reads every limited cgroup's usage at once (7.8 MiB of buffers at 1000
   * cgroups, freed only by a later GC and left in malloc's heap: bench/RESULTS.md, "Peak resident memory", session 5).
   */
  private readUsageByPath(dir: string, file: string): number | undefined {
    try {
      const fd = openSync(`${dir}/${file}`, 'r');
      let n: number;
      try {
        n = readSync(fd, this.readBuf, 0, this.readBuf.length, 0);
      } finally {
        closeSync(fd);
      }
      // A usage file is one number: a longer text is none (and would not fit the buffer).
      return n < this.readBuf.length ? parseUsage(this.readBuf.toString('latin1', 0, n)) : undefined;
    } catch (err) {
      if (isGone(err)) return undefined;
      throw err;
    }
  }

  /**
   * `fresh`: the cgroup was just made or just got its limit (a tree event, not a rescan): a reading already above a
   * threshold at arming is a crossing (it happened in the milliseconds before the watch existed), published as a
   * poll reading. Otherwise the first reading only sets the state.
   */
  private start(path: string, dir: string, limitBytes: number, fresh = false): void {
    const usageFile = this.opts.mode === 'v1' ? 'memory.usage_in_bytes' : 'memory.current';
    let usage: number | undefined;
    try {
      usage = this.readUsageByPath(dir, usageFile);
    } catch (err) {
      const code = errnoCode(err);
      if (code === undefined || !OUT_OF_FDS.has(code)) {
        this.once(`start-${code ?? 'error'}`, () => this.opts.log.warn({ cgroup: path, err: describe(err) }, 'watch: cannot read usage'));
        return;
      }
      // Out of fds even for one read: arm anyway (it falls back to polling by path), from a zero reading.
      usage = 0;
      fresh = true;
    }
    if (usage === undefined) return; // gone between the collection and now
    const w: Watched = {
      path, dir, limitBytes, tracker: new CrossingTracker(this.opts.thresholds, limitBytes, fresh ? 0 : usage),
      thresholdWatches: [], retiring: [], otherWatches: [], psi: false, pollFd: undefined, aioSlot: -1, pollByPath: false, nextPollMs: 0,
      lastUsage: usage, lastReadMs: performance.now(), usageFile, eventsPrev: undefined, dropped: false, arming: 0, peakBase: undefined,
    };
    this.watched.set(path, w);
    if (this.opts.mode === 'v1') {
      // Polled at once and its eventfds registered off the JS thread, whether the tree just made it or memlens just
      // started: each registration waits for an RCU grace period in the kernel, and 500 cgroups armed in turn on the JS
      // thread held it 28 s at start (no scrape, no /healthz answered meanwhile; bench/RESULTS.md, session 4).
      if (this.opts.loop !== undefined && this.v1EventControl) this.startV1Polled(w);
      else this.openPollFd(w); // no kernel event loop, or cgroup.event_control not writable: polled
    } else this.startV2(w);
    if (w.dropped) {
      this.watched.delete(path);
      return;
    }
    // bench/arming measures mkdir (or limit write) -> this line.
    this.opts.log.debug({ cgroup: path, limitBytes, via: w.pollFd === undefined && !w.pollByPath ? 'v1-eventfd' : 'poll', fresh }, 'watch: armed');
    if (fresh) {
      // Read again now that the kernel watches: whatever was charged before registration is seen here.
      let now: number | undefined;
      try {
        now = this.readUsageByPath(dir, usageFile);
      } catch {
        now = usage;
      }
      const readAtNs = process.hrtime.bigint();
      if (now === undefined) return;
      const source: WatchSource = this.opts.mode === 'v1' ? 'v1-poll' : 'v2-poll';
      for (const threshold of w.tracker.update(now)) this.publish(w, { source, threshold, usageBytes: now, count: 1 }, readAtNs);
    }
  }

  /**
   * A cgroup the tree just added (or just limited), v1: polled through a held fd on memory.usage_in_bytes from now on
   * (the same rate-governed schedule as v2), and its eventfds registered off the JS thread (armNext); once they are, one
   * last read through the fd catches a crossing made before the kernel watched, and the polling stops. A burst of new
   * cgroups is thus watched as fast as the tree reports them: the kernel's RCU wait in each registration (0.4-17 ms
   * on the bench host, bench/RESULTS.md "Arming a burst") no longer holds the JS thread, the tree's events or the polling.
   */
  private startV1Polled(w: Watched): void {
    this.openPollFd(w);
    if (w.dropped) return;
    this.queueArming(w);
  }

  private queueArming(w: Watched): void {
    w.arming = ++this.armGeneration;
    this.armQueue.push(w);
    this.armNext();
  }

  private armNext(): void {
    while (this.armingInFlight < ARMING_IN_FLIGHT && this.armQueue.length > 0 && !this.closed) {
      const w = this.armQueue.shift()!;
      if (w.dropped || w.arming === 0) continue;
      if (!this.v1EventControl) {
        // Another registration found cgroup.event_control not writable (said once): this one stays polled.
        w.arming = 0;
        this.closeRetiring(w);
        continue;
      }
      this.armingInFlight++;
      void this.armV1(w, w.arming).finally(() => {
        this.armingInFlight--;
        this.armNext();
      });
    }
  }

  private async armV1(w: Watched, generation: number): Promise<void> {
    const loop = this.opts.loop!;
    const made: Watch[] = [];
    const current = (): boolean => !this.closed && !w.dropped && w.arming === generation;
    // A re-arm (the limit moved) keeps the cgroup's oom_control eventfd: only the thresholds depend on the limit.
    const withOom = !w.otherWatches.some((x) => !x.closed);
    try {
      for (const bytes of w.tracker.thresholdsBytes) {
        made.push(await loop.registerV1Async(w.dir, bytes, (sig) => this.onV1Threshold(w, sig)));
        if (!current()) break;
      }
      if (current() && withOom) made.push(await loop.registerV1Async(w.dir, undefined, (sig) => this.onV1Oom(w, sig)));
    } catch (err) {
      for (const x of made) x.close();
      if (current()) this.armingFailed(w, err);
      return;
    }
    if (!current()) {
      // Dropped, closed, or its limit moved (a newer registration is queued): these thresholds are not wanted.
      for (const x of made) x.close();
      return;
    }
    if (withOom) w.otherWatches.push(made.pop()!);
    w.thresholdWatches = made;
    this.closeRetiring(w);
    w.arming = 0;
    // The kernel watches from here: a last read for what was charged since the previous one, then no more polling.
    if (w.pollFd !== undefined) {
      this.pollOne(w, performance.now());
      this.closePollFd(w);
    }
    if (w.dropped) return;
    w.pollByPath = false;
    // The high-water mark after that last reading: from here a signal handled late still shows its crossing.
    w.peakBase = this.readPeakBytes(w);
    // bench/arming measures mkdir (or limit write) -> this line too.
    this.opts.log.debug({ cgroup: w.path, limitBytes: w.limitBytes, via: 'v1-eventfd' }, 'watch: eventfds armed');
    this.schedulePoll();
  }

  /** The registration of a polled cgroup failed: it stays polled (or is dropped when gone). */
  private armingFailed(w: Watched, err: unknown): void {
    w.arming = 0;
    this.closeRetiring(w);
    const outcome = this.v1RegistrationFailed(w, err);
    if (outcome === 'gone' || isGone(err)) this.drop(w, 'cgroup removed');
    else if (outcome === 'by-path' && w.pollFd !== undefined) {
      this.closePollFd(w);
      w.pollByPath = true;
    }
    this.schedulePoll();
  }

  /**
   * A v1 registration failed (its partial watches closed): says so (once per errno), counts the fallback, and tells
   * how the cgroup is watched from now: not at all (it is gone), polled by path (out of fds: holding a fd for it would
   * take the last ones from every other reader), or polled through a held fd.
   */
  private v1RegistrationFailed(w: Watched, err: unknown): 'gone' | 'by-path' | 'poll' {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENODEV') return 'gone';
    if (code !== undefined && OUT_OF_FDS.has(code)) {
      this.countFallback(code);
      this.once(`v1-register-${code}`, () =>
        this.opts.log.warn({ cgroup: w.path, errno: code }, 'watch: out of file descriptors: polling the cgroups that cannot be armed (counted in memlens_watch_poll_fallbacks_total)'),
      );
      return 'by-path';
    }
    if (code !== undefined && NO_WRITE_ACCESS.has(code)) {
      this.v1EventControl = false;
      this.opts.log.warn(
        { cgroup: w.path, errno: code, pollIntervalMs: this.opts.pollIntervalMs },
        'watch: cannot register in cgroup.event_control (needs write access to cgroupfs): polling memory.usage_in_bytes instead',
      );
    } else {
      this.countFallback(code ?? 'error');
      this.once(`v1-register-${code ?? 'error'}`, () =>
        this.opts.log.warn({ cgroup: w.path, err: describe(err) }, 'watch: v1 event registration failed: polling this cgroup'),
      );
    }
    return 'poll';
  }

  private startV2(w: Watched): void {
    this.openPollFd(w);
    if (w.dropped) return;
    const loop = this.opts.loop;
    if (loop === undefined) return;
    const eventsPath = `${w.dir}/memory.events`;
    try {
      w.eventsPrev = parseFlatKeyed(this.readText(eventsPath), eventsPath).value;
      w.otherWatches.push(loop.watchInotify(eventsPath, IN_MODIFY, (ev) => this.onV2Events(w, ev)));
    } catch (err) {
      if (isGone(err) || errnoCode(err) === 'ENOENT') {
        this.drop(w, 'cgroup removed');
        return;
      }
      this.once(`inotify-${errnoCode(err) ?? 'error'}`, () =>
        this.opts.log.warn({ cgroup: w.path, err: describe(err) }, 'watch: no inotify on memory.events: only polling memory.current'),
      );
    }
    this.startPsi(loop, w);
  }

  private startPsi(loop: KernelEventLoop, w: Watched): void {
    const spec = this.psiSpec;
    if (spec === false) return;
    const path = `${w.dir}/memory.pressure`;
    let reason: string;
    try {
      const r = loop.watchPsiTrigger(path, 'some', spec.stallUs, spec.windowUs, (fire) => this.onPsi(w, fire));
      if (r.ok) {
        w.otherWatches.push(r.watch);
        w.psi = true;
        if (r.usedFallbackWindow) {
          this.once('psi-fallback', () =>
            this.opts.log.info({ stallUs: r.stallUs, windowUs: r.windowUs, attempts: r.attempts }, 'watch: PSI trigger window widened to what the kernel accepts'),
          );
        }
        return;
      }
      reason = `${r.reason}: ${r.message}`;
    } catch (err) {
      // epoll refuses a file that is not a pressure file (a regular file in a fixture tree): EPERM.
      reason = describe(err);
    }
    this.psiSpec = false;
    this.opts.log.info({ cgroup: w.path, reason }, 'watch: the kernel takes no PSI trigger on memory.pressure: going on without');
  }

  private countFallback(code: string): void {
    this.pollFallbacks.set(code, (this.pollFallbacks.get(code) ?? 0) + 1);
  }

  private openPollFd(w: Watched): void {
    try {
      w.pollFd = openSync(`${w.dir}/${w.usageFile}`, 'r');
      w.aioSlot = this.batchReader()?.add(w.pollFd) ?? -1;
    } catch (err) {
      const code = errnoCode(err);
      if (code !== undefined && OUT_OF_FDS.has(code)) {
        // No fd to hold: read by path on each poll (it needs one only for the moment of the read).
        w.pollByPath = true;
        if (w.thresholdWatches.length === 0 && this.opts.mode === 'v2') this.countFallback(code);
        return;
      }
      if (!isGone(err)) this.once(`open-${errnoCode(err) ?? 'error'}`, () => this.opts.log.warn({ cgroup: w.path, err: describe(err) }, 'watch: cannot open usage file'));
      w.dropped = true;
    }
  }

  /**
   * The cgroup's effective limit moved: a new tracker on the new thresholds. v1 with eventfds: the threshold eventfds
   * are closed and the cgroup is polled at once while the new ones are registered off the JS thread, as at start
   * (queueArming; the oom_control eventfd stays). Registered here, one after another, each would hold the JS thread for
   * an RCU grace period, and a parent's limit moves the thresholds of every cgroup under it in one turn.
   */
  private rearm(w: Watched, limitBytes: number): void {
    const before = w.tracker.thresholdsBytes;
    const toPoll = w.arming === 0 && this.opts.mode === 'v1' && w.pollFd === undefined && !w.pollByPath && this.opts.loop !== undefined;
    if (toPoll) {
      this.openPollFd(w);
      if (w.dropped) {
        // Not openable, and not for want of fds: gone, or said once.
        w.dropped = false;
        this.drop(w, 'cannot open usage file');
        return;
      }
    }
    let usage: number | undefined;
    try {
      // Through the poll fd when there is one: a read by path costs an open, a stat and a close more (half of a
      // re-arm's time on the JS thread in a profile of 100 cgroups re-armed at once).
      usage = w.pollFd !== undefined ? this.readPollFd(w) : this.readUsageByPath(w.dir, w.usageFile);
    } catch (err) {
      if (!isGone(err)) this.once(`rearm-${errnoCode(err) ?? 'error'}`, () => this.opts.log.warn({ cgroup: w.path, err: describe(err) }, 'watch: cannot read usage'));
    }
    if (usage === undefined) {
      this.drop(w, 'cgroup removed');
      return;
    }
    w.limitBytes = limitBytes;
    w.tracker = new CrossingTracker(this.opts.thresholds, limitBytes, usage);
    // Their signals feed the new tracker (a reading is a reading) until the new eventfds replace them.
    w.retiring.push(...w.thresholdWatches);
    w.thresholdWatches = [];
    w.peakBase = undefined;
    if (w.arming !== 0) {
      // Still polled while its first registration runs: register the new thresholds instead (the pending ones are closed).
      this.queueArming(w);
    } else if (toPoll) {
      w.nextPollMs = 0;
      w.lastUsage = usage;
      w.lastReadMs = performance.now();
      this.queueArming(w);
    }
    this.opts.log.info({ cgroup: w.path, limitBytes, thresholdsBytes: w.tracker.thresholdsBytes, beforeBytes: before }, 'watch: limit changed, thresholds moved');
  }

  /** The usage through the cgroup's held poll fd (one pread); undefined when the text is not a number. */
  private readPollFd(w: Watched): number | undefined {
    const n = sys.pread(w.pollFd!, this.readBuf, this.readBuf.length, 0);
    if (n < 0) throw errnoException(lastErrno(), 'pread');
    return parseUsageBytes(this.readBuf, 0, n);
  }

  private drop(w: Watched, why: string): void {
    if (w.dropped && !this.watched.has(w.path)) return;
    w.dropped = true;
    for (const x of [...w.thresholdWatches, ...w.otherWatches]) x.close();
    w.thresholdWatches = [];
    w.otherWatches = [];
    this.closeRetiring(w);
    this.closePollFd(w);
    if (this.watched.get(w.path) === w) this.watched.delete(w.path);
    this.opts.log.debug({ cgroup: w.path, why }, 'watch: cgroup no longer watched');
  }

  private closeRetiring(w: Watched): void {
    for (const x of w.retiring) x.close();
    w.retiring = [];
  }

  /** Closes the cgroup's poll fd, if it holds one (a failure is logged, not thrown). */
  private closePollFd(w: Watched): void {
    if (w.pollFd === undefined) return;
    if (w.aioSlot >= 0) this.batch?.release(w.aioSlot);
    w.aioSlot = -1;
    try {
      closeSync(w.pollFd);
    } catch (err) {
      this.opts.log.warn({ cgroup: w.path, err: describe(err) }, 'watch: closing a poll fd failed');
    }
    w.pollFd = undefined;
  }

  /** One timer for every polled cgroup, set to the earliest read due. */
  private schedulePoll(): void {
    if (this.closed) return;
    let due = Number.POSITIVE_INFINITY;
    for (const w of this.watched.values()) if ((w.pollFd !== undefined || w.pollByPath) && !w.dropped && w.nextPollMs < due) due = w.nextPollMs;
    if (due === Number.POSITIVE_INFINITY) {
      clearTimeout(this.pollTimer);
      this.pollTimer = undefined;
      this.pollDueMs = due;
      return;
    }
    if (this.pollTimer !== undefined && this.pollDueMs <= due) return;
    clearTimeout(this.pollTimer);
    this.pollDueMs = due;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      this.pollDueMs = Number.POSITIVE_INFINITY;
      this.pollOnce(false);
      this.schedulePoll();
    }, Math.max(0, due - performance.now()));
    this.pollTimer.unref();
  }

  private arrivedNs(): bigint {
    const t = this.opts.loop?.lastWaitReturnedNs ?? 0n;
    return t === 0n ? process.hrtime.bigint() : t;
  }

  private onV1Threshold(w: Watched, sig: V1Signal): void {
    const arrivedNs = this.arrivedNs();
    if (sig.cgroupRemoved) {
      this.drop(w, 'cgroup removed');
      return;
    }
    if (w.dropped) return;
    const atWake = parseUsage(sig.fileText);
    if (atWake === undefined) return;
    const count = Number(sig.count);
    const r = w.peakBase === undefined ? undefined : this.v1Reading(w);
    if (r === undefined) {
      // Not armed yet (polled meanwhile), or memory.max_usage_in_bytes unreadable: the reading made at the wake-up.
      w.peakBase = undefined;
      for (const threshold of w.tracker.update(atWake)) this.publish(w, { source: 'v1-threshold', threshold, usageBytes: atWake, count }, arrivedNs);
      return;
    }
    w.peakBase = r.nextBase;
    // The kernel signals both directions; the tracker turns the mark (if it moved) and the reading into upward
    // crossings only, those the reading no longer shows marked late.
    for (const { fraction: threshold, late } of w.tracker.updateWithPeak(r.peakMoved ? r.peak : undefined, r.usage)) {
      this.publish(w, { source: 'v1-threshold', threshold, usageBytes: r.usage, count, ...(late ? { late, peakBytes: r.peak } : {}) }, arrivedNs);
    }
  }

  /**
   * A reading of an armed v1 cgroup with the kernel's high-water mark around it: memory.max_usage_in_bytes, then
   * memory.usage_in_bytes, then memory.max_usage_in_bytes again (each by path). The kernel raises the mark with every
   * charge that takes the usage above it (page_counter_try_charge, mm/page_counter.c; the same counter that
   * memory.usage_in_bytes and the thresholds read), and a write to the file resets it to the usage of that moment
   * (mem_cgroup_reset, mm/memcontrol-v1.c): either way the mark is a usage the cgroup had. So when the first read
   * differs from w.peakBase, read just after the tracker's previous reading, usage reached that mark between the
   * previous reading and this one: the tracker takes it as a reading of its own before this one, and a threshold it
   * passes that the previous reading was below was crossed upward, though the usage may be back below it now (a signal
   * handled after the OOM kill). The second read is the base for the next signal (a mark moved between the usage read
   * and it is missed, never counted twice). Only this shows that a crossing happened: a reading below a threshold
   * does not (the kernel also signals downward crossings), memory.failcnt grows at up to a charge batch (or a huge page)
   * below the limit, so it does not tell which thresholds were passed, nor does an OOM kill.
   * undefined when a file could not be read.
   */
  private v1Reading(w: Watched): { peak: number; peakMoved: boolean; usage: number; nextBase: number } | undefined {
    const peak = this.readPeakBytes(w);
    let usage: number | undefined;
    try {
      usage = this.readUsageByPath(w.dir, 'memory.usage_in_bytes');
    } catch {
      usage = undefined;
    }
    const nextBase = this.readPeakBytes(w);
    if (peak === undefined || usage === undefined || nextBase === undefined) return undefined;
    return { peak, peakMoved: peak !== w.peakBase, usage, nextBase };
  }

  /** v1 memory.max_usage_in_bytes of the cgroup, or undefined when it cannot be read (gone: the rmdir signal follows). */
  private readPeakBytes(w: Watched): number | undefined {
    try {
      return this.readUsageByPath(w.dir, 'memory.max_usage_in_bytes');
    } catch (err) {
      this.once(`peak-${errnoCode(err) ?? 'error'}`, () => this.opts.log.warn({ cgroup: w.path, err: describe(err) }, 'watch: cannot read memory.max_usage_in_bytes: late crossings are not seen'));
      return undefined;
    }
  }

  private onV1Oom(w: Watched, sig: V1Signal): void {
    const arrivedNs = this.arrivedNs();
    if (sig.cgroupRemoved) {
      this.drop(w, 'cgroup removed');
      return;
    }
    if (w.dropped) return;
    let usage: number | undefined;
    try {
      usage = this.readUsageByPath(w.dir, 'memory.usage_in_bytes');
    } catch (err) {
      this.once('oom-usage', () => this.opts.log.warn({ cgroup: w.path, err: describe(err) }, 'watch: cannot read usage'));
    }
    this.publish(w, { source: 'v1-oom', threshold: null, event: 'oom', usageBytes: usage ?? null, count: Number(sig.count) }, arrivedNs);
  }

  private onV2Events(w: Watched, ev: InotifyEvent): void {
    const arrivedNs = this.arrivedNs();
    if ((ev.mask & IN_IGNORED) !== 0) {
      // memory.events is gone: the cgroup was removed (the loop has closed the inotify watch).
      this.drop(w, 'cgroup removed');
      return;
    }
    if (w.dropped || ((ev.mask & (IN_MODIFY | IN_Q_OVERFLOW)) === 0)) return;
    const path = `${w.dir}/memory.events`;
    let next: Map<string, number>;
    try {
      next = parseFlatKeyed(this.readText(path), path).value;
    } catch (err) {
      if (isGone(err)) this.drop(w, 'cgroup removed');
      else this.once('events-read', () => this.opts.log.warn({ cgroup: w.path, err: describe(err) }, 'watch: cannot read memory.events'));
      return;
    }
    const deltas = counterDeltas(w.eventsPrev, next, V2_EVENT_KEYS);
    // Merged, not replaced: a reader racing a writer of a regular file (a fixture tree) can see it truncated.
    w.eventsPrev = new Map([...(w.eventsPrev ?? []), ...next]);
    if (deltas.length === 0) return;
    let usage: number | undefined;
    try {
      usage = this.readUsageByPath(w.dir, w.usageFile);
    } catch (err) {
      this.once('events-usage', () => this.opts.log.warn({ cgroup: w.path, err: describe(err) }, 'watch: cannot read usage'));
    }
    for (const [event, delta] of deltas) {
      this.publish(w, { source: 'v2-events', threshold: null, event, usageBytes: usage ?? null, count: delta }, arrivedNs);
    }
  }

  private onPsi(w: Watched, fire: PsiFire): void {
    const arrivedNs = this.arrivedNs();
    if (fire.gone) {
      w.psi = false;
      return;
    }
    if (w.dropped) return;
    let usage: number | undefined;
    try {
      usage = this.readUsageByPath(w.dir, w.usageFile);
    } catch (err) {
      this.once('psi-usage', () => this.opts.log.warn({ cgroup: w.path, err: describe(err) }, 'watch: cannot read usage'));
    }
    this.publish(w, { source: 'psi', threshold: null, event: 'psi_some', usageBytes: usage ?? null, count: 1 }, arrivedNs);
  }

  /** Counted (crossings), latency observed, published on the bus, then logged as one JSON line. */
  private publish(
    w: Watched,
    ev: Pick<WatchEventInput, 'source' | 'threshold' | 'usageBytes' | 'count'> & { event?: string; late?: true; peakBytes?: number },
    arrivedNs: bigint,
  ): WatchEvent {
    const latencySeconds = Number(process.hrtime.bigint() - arrivedNs) / 1e9;
    if (ev.threshold !== null) this.opts.stats.countCrossing(w.path, ev.threshold);
    if (ev.late === true) this.opts.stats.lateCrossings++;
    this.opts.stats.latency.observe(latencySeconds);
    const input: WatchEventInput = {
      timeMs: Date.now(),
      cgroup: w.path,
      source: ev.source,
      threshold: ev.threshold,
      usageBytes: ev.usageBytes,
      limitBytes: w.limitBytes,
      ...(ev.late === true ? { late: true, ...(ev.peakBytes === undefined ? {} : { peakBytes: ev.peakBytes }) } : {}),
      ...(ev.event === undefined ? {} : { event: ev.event }),
      ...(ev.count === undefined ? {} : { count: ev.count }),
      latencySeconds,
    };
    const published = this.opts.bus.emit(input);
    const fields = {
      cgroup: w.path, source: ev.source, usageBytes: ev.usageBytes, limitBytes: w.limitBytes, latencySeconds, id: published.id,
    };
    if (ev.threshold !== null) {
      const late = ev.late === true ? { late: true, peakBytes: ev.peakBytes } : {};
      this.opts.log.warn({ event: 'threshold_crossing', threshold: ev.threshold, ...fields, ...late }, `cgroup ${w.path} crossed ${ev.threshold * 100}% of its memory limit`);
    } else {
      this.opts.log.warn({ event: 'memory_event', kind: ev.event, count: ev.count, ...fields }, `cgroup ${w.path}: memory event ${ev.event ?? '?'}`);
    }
    return published;
  }
}

/** The effective limit of a tree node in bytes, or undefined when unlimited. */
function finiteLimit(n: CgroupNode): number | undefined {
  return n.effectiveLimit.unlimited ? undefined : n.effectiveLimit.bytes;
}
