// The snapshot taker: when to capture (an upward threshold crossing, debounced per cgroup; an API
// request; the CLI), where it goes (the store), the optional hold, the metrics, and the link
// between an OOM kill and the newest snapshot of its cgroup (or an ancestor) taken before it.
// A snapshot that fails (full disk, read-only dir, the cgroup gone) is counted and logged once
// per failure; nothing else stops.
import type { KubeRef } from '../kubernetes/kubelet.js';
import { stopRunningCommands } from './hooks.js';
import type { HostFs } from '../host/hostFs.js';
import type { MemoryHierarchy } from '../cgroupfs/discover.js';
import { CgroupTree } from '../cgroupfs/tree.js';
import type { Logger } from '../log.js';
import type { Config } from '../config/load.js';
import type { OomKillRecord } from '../oom/store.js';
import * as c from '../model/catalog.js';
import { ConfigError, describe, errnoCode } from '../errors.js';
import { ensurePrivateDir } from './privateDir.js';
import { memoryCgroupPath, parseProcCgroup } from '../procfs/procCgroup.js';
import { captureSnapshot, type CaptureOptions, type HoldRecord, type SnapshotDoc } from './capture.js';
import { SnapshotStore, isUnder, newSnapshotId, type SnapshotMeta } from './store.js';
import { OomHold } from './hold.js';
import { setImmediate as turn } from 'node:timers/promises';
import { statfsSync } from 'node:fs';

/** What the early-warning watcher publishes (src/watch/bus.ts WatchEvent, structurally). */
export interface CrossingEvent {
  readonly cgroup: string;
  /** The fraction of the limit crossed upward; null for kernel events (not a reason to snapshot here). */
  readonly threshold: number | null;
  readonly usageBytes: number | null;
  readonly limitBytes: number | null;
  readonly source: string;
}

/** The trigger source: the watcher's bus, or anything that can call back on a crossing. */
export interface CrossingSource {
  on(fn: (ev: CrossingEvent) => void): () => void;
}

export type TriggerKind = 'threshold' | 'api' | 'cli';

export type SnapshotOutcome =
  | { ok: true; meta: SnapshotMeta; doc: SnapshotDoc }
  | {
      ok: false;
      /** refused: not allowed (root, too many processes); busy: --snapshot.max-concurrent reached; no-space: under --snapshot.min-free. */
      status: 'not-found' | 'error' | 'debounced' | 'unsupported' | 'refused' | 'busy' | 'no-space';
      error: string;
      /** debounced: when the next request for this cgroup would be taken. */
      retryAfterSeconds?: number;
    };

/** Defaults for the limits a Config built by hand may leave out (loadConfig always sets them). */
export const SNAPSHOT_LIMIT_DEFAULTS = { maxConcurrent: 4, apiMaxProcesses: 1000, apiAllowRoot: false, maxHookOutputBytes: 8 * 1024 * 1024, minFreeBytes: 0 } as const;

/**
 * A cgroup path as given to the API, made canonical (`/a//b/` -> `/a/b`), so that one cgroup has
 * one key for debouncing and sharing a capture in flight. undefined: not a cgroup path (relative,
 * `.` or `..`, control characters, longer than the kernel's PATH_MAX).
 */
export function canonicalCgroupPath(p: string): string | undefined {
  if (p.length > 4096 || !p.startsWith('/') || /[\u0000-\u001f\u007f]/.test(p)) return undefined;
  const parts = p.split('/').filter((x) => x !== '');
  if (parts.some((x) => x === '.' || x === '..')) return undefined;
  return `/${parts.join('/')}`;
}

export interface SnapshotServiceOptions {
  host: HostFs;
  hierarchy: MemoryHierarchy | undefined;
  /** The exporter's live cgroup tree (of `hierarchy`); without one a static tree of `hierarchy` is used. */
  tree?: CgroupTree | undefined;
  config: Config['snapshot'];
  log: Logger;
  /** Crossings of this fraction or above get the hold (with --snapshot.hold): the watcher's top threshold. */
  holdFromThreshold?: number;
  /** The pod and container of a cgroup (the kubelet cache, with --kubernetes.kubelet). */
  kubeNames?: (cgroup: string) => KubeRef | undefined;
}

/** A capture in flight: shared by triggers of the same cgroup; a hold can join it while it reads. */
interface Flight {
  promise: Promise<SnapshotOutcome> | undefined;
  /** The cgroup's directory once resolved (the hold's oom_control is there). */
  dir: string | undefined;
  /** Still capturing (/proc reads, then rule commands): a hold set now still helps. */
  capturing: boolean;
  opts: CaptureOptions | undefined;
  hold: { record: HoldRecord; release: () => void } | undefined;
  /**
   * With --snapshot.hold, a capture started on a lower crossing takes the hold itself once usage
   * reaches this (the top threshold in bytes), checked between capture steps: on a starved CPU the
   * top crossing's notification can arrive after the kill (bench/oom-race).
   */
  holdAtBytes: number | undefined;
}

interface Pending {
  id: string;
  cgroup: string;
  timeMs: number;
  kills: string[];
}

export class SnapshotService {
  readonly store: SnapshotStore;
  private readonly hold: OomHold;
  private readonly lastTrigger = new Map<string, number>();
  /** Last API capture per cgroup: API requests are debounced among themselves, never a crossing's capture. */
  private readonly lastApi = new Map<string, number>();
  private readonly limits: { maxConcurrent: number; apiMaxProcesses: number; apiAllowRoot: boolean; maxHookOutputBytes: number; minFreeBytes: number };
  /** Last crossing that asked for the hold, per cgroup: hold crossings are debounced among themselves. */
  private readonly lastHoldTrigger = new Map<string, number>();
  private readonly inFlight = new Map<string, Flight>();
  private readonly pending = new Map<string, Pending>();
  private readonly counts = new Map<string, { reason: string; result: string; n: number }>();
  /** Recent failed captures and writes (bounded), for the OOM explanations' "why no snapshot". */
  private readonly failed: { cgroup: string; timeMs: number; error: string }[] = [];
  private lastDurationSeconds: number | undefined;
  private killsWithSnapshot = 0;
  private unsubscribe: (() => void) | undefined;
  private closed = false;

  constructor(private readonly opts: SnapshotServiceOptions) {
    const c = opts.config;
    const d = SNAPSHOT_LIMIT_DEFAULTS;
    this.limits = {
      maxConcurrent: c.maxConcurrent ?? d.maxConcurrent, apiMaxProcesses: c.apiMaxProcesses ?? d.apiMaxProcesses, apiAllowRoot: c.apiAllowRoot ?? d.apiAllowRoot,
      maxHookOutputBytes: c.maxHookOutputBytes ?? d.maxHookOutputBytes, minFreeBytes: c.minFreeBytes ?? d.minFreeBytes,
    };
    this.store = new SnapshotStore(opts.config.dir, { maxCount: opts.config.maxCount, maxBytes: opts.config.maxBytes, maxAgeMs: opts.config.maxAgeMs }, opts.log);
    this.hold = new OomHold(opts.host, opts.config.dir, opts.log, opts.hierarchy?.mode === 'v1' ? opts.host.hostPath(opts.hierarchy.mountPoint) : undefined);
  }

  /**
   * Makes the dir private (throws ConfigError when it exists but cannot be trusted: exit 2),
   * indexes it and restores holds a killed memlens left in place. A dir that cannot be created
   * (read-only filesystem) is logged: each snapshot then fails, nothing else does.
   */
  start(): void {
    try {
      ensurePrivateDir(this.opts.config.dir);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      this.opts.log.error({ dir: this.opts.config.dir, err: describe(err) }, 'snapshot directory cannot be created: snapshots will fail');
    }
    this.store.init();
    if (this.opts.hierarchy?.mode === 'v1') this.hold.restoreLeftovers();
  }

  /**
   * Runs the capture once over memlens's own cgroup and process, without writing anything: the first capture after
   * start otherwise pays for compiling the capture, the /proc parsers and the document's serialization (a capture that
   * took 484 ms in the v2 VM where the later ones took 67-103, and lost the race with the OOM killer; bench/RESULTS.md).
   * Started by main after start(); resolves to the document (not stored) when done, never rejects (a failure is logged
   * at debug: nothing depends on it).
   */
  async warmUp(): Promise<SnapshotDoc | undefined> {
    const h = this.opts.hierarchy;
    if (h === undefined || this.closed) return undefined;
    const t0 = performance.now();
    try {
      const own = ownCgroupPath(this.opts.host.tryRead(this.opts.host.proc('self/cgroup')), h.mode);
      if (own === undefined) return undefined;
      const timeMs = Date.now();
      const doc = await captureSnapshot(this.opts.host, this.tree(h), own, 'warm-up', {
        id: newSnapshotId(timeMs), cmdline: this.opts.config.cmdline, rules: [], onlyPid: process.pid,
      });
      freeBytes(this.store.dir);
      JSON.stringify({ ...doc, oomKills: [] });
      this.opts.log.debug({ cgroup: own, processes: doc.processes.length, ms: Math.round(performance.now() - t0) }, 'snapshot capture warmed up');
      return doc;
    } catch (err) {
      this.opts.log.debug({ err: describe(err) }, 'snapshot capture warm-up failed');
      return undefined;
    }
  }

  /** Snapshots on every upward crossing (debounced per cgroup). */
  subscribe(source: CrossingSource): void {
    this.unsubscribe?.();
    this.unsubscribe = source.on((ev) => this.onCrossing(ev));
  }

  onCrossing(ev: CrossingEvent): void {
    if (ev.threshold === null || this.closed) return;
    const now = Date.now();
    const top = this.opts.holdFromThreshold;
    const hold = this.opts.config.hold && this.opts.hierarchy?.mode === 'v1' && top !== undefined && ev.threshold >= top;
    // The top crossing comes moments after the lower ones (in the same reading on a fast ramp): a
    // lower crossing's snapshot must not debounce away the one that gets the hold, so crossings
    // that get the hold are debounced only by an earlier one that got it.
    const seen = hold ? this.lastHoldTrigger : this.lastTrigger;
    const last = seen.get(ev.cgroup);
    if (last !== undefined && now - last < this.opts.config.minIntervalMs) {
      this.count('threshold', 'debounced');
      return;
    }
    for (const m of hold ? [this.lastTrigger, this.lastHoldTrigger] : [this.lastTrigger]) {
      m.set(ev.cgroup, now);
      if (m.size > 10_000) m.delete(m.keys().next().value as string);
    }
    const usage = ev.usageBytes === null ? '' : `, usage ${ev.usageBytes} of ${ev.limitBytes ?? '?'} bytes`;
    const holdAtBytes = this.opts.config.hold && this.opts.hierarchy?.mode === 'v1' && top !== undefined && ev.limitBytes !== null ? top * ev.limitBytes : undefined;
    const o = holdAtBytes === undefined ? { hold } : { hold, holdAtBytes };
    this.snapshot(ev.cgroup, 'threshold', `${Math.round(ev.threshold * 100)} % threshold crossed upward (${ev.source}${usage})`, o).catch((err: unknown) => {
      this.opts.log.error({ cgroup: ev.cgroup, err: describe(err) }, 'snapshot failed');
    });
  }

  /**
   * Captures `cgroup` now (a capture of it already in flight is shared) and writes it to the
   * store. Never rejects for IO reasons: the outcome says what failed. With `hold`, a capture
   * in flight without the hold gets it from now until it ends.
   */
  snapshot(cgroup: string, kind: TriggerKind, detail: string, o: { hold?: boolean; holdAtBytes?: number } = {}): Promise<SnapshotOutcome> {
    const running = this.inFlight.get(cgroup);
    if (running?.promise !== undefined) {
      if (o.hold === true) this.joinHold(cgroup, running);
      return running.promise;
    }
    if (this.inFlight.size >= this.limits.maxConcurrent) {
      this.count(kind, 'refused');
      this.opts.log.warn({ cgroup, reason: kind, inFlight: this.inFlight.size }, 'snapshot refused: --snapshot.max-concurrent captures already running');
      return Promise.resolve({ ok: false, status: 'busy', error: `${this.inFlight.size} captures already running (--snapshot.max-concurrent)` });
    }
    const flight: Flight = { promise: undefined, dir: undefined, capturing: true, opts: undefined, hold: undefined, holdAtBytes: o.holdAtBytes };
    const p = this.doSnapshot(cgroup, kind, detail, o.hold === true, flight).finally(() => this.inFlight.delete(cgroup));
    flight.promise = p;
    this.inFlight.set(cgroup, flight);
    return p;
  }

  /**
   * POST /api/v1/snapshots (only with --web.enable-snapshot-api): `cgroup` must be canonical
   * (canonicalCgroupPath). Refused: the root cgroup unless --snapshot.api-allow-root, a cgroup
   * holding more than --snapshot.api-max-processes processes, a request within
   * --snapshot.min-interval of the last API capture of the same cgroup (a capture still running
   * is shared instead). Then as snapshot(): the global cap and the free-space floor apply.
   */
  apiSnapshot(cgroup: string, detail: string): Promise<SnapshotOutcome> {
    const h = this.opts.hierarchy;
    const running = this.inFlight.get(cgroup);
    if (running?.promise !== undefined) return running.promise;
    if (h !== undefined && (cgroup === '/' || cgroup === h.root) && !this.limits.apiAllowRoot) {
      this.count('api', 'refused');
      return Promise.resolve({ ok: false, status: 'refused', error: 'the root cgroup (every process of the host) is refused unless --snapshot.api-allow-root' });
    }
    const now = Date.now();
    const last = this.lastApi.get(cgroup);
    if (last !== undefined && now - last < this.opts.config.minIntervalMs) {
      this.count('api', 'debounced');
      const retryAfterSeconds = Math.ceil((this.opts.config.minIntervalMs - (now - last)) / 1000);
      return Promise.resolve({ ok: false, status: 'debounced', error: `a snapshot of this cgroup was taken less than --snapshot.min-interval ago`, retryAfterSeconds });
    }
    if (h !== undefined) {
      let n: number | undefined;
      try {
        n = countProcesses(this.opts.host, this.tree(h).dirOf(cgroup), this.limits.apiMaxProcesses);
      } catch (err) {
        this.opts.log.debug({ err: describe(err) }, 'cannot count the processes of the cgroup');
      }
      // Not found: answered without a log line (the path is the client's, of any length).
      if (n === undefined) {
        this.count('api', 'error');
        return Promise.resolve({ ok: false, status: 'not-found', error: 'no such cgroup' });
      }
      if (n > this.limits.apiMaxProcesses) {
        this.count('api', 'refused');
        return Promise.resolve({ ok: false, status: 'refused', error: `the cgroup holds more than ${this.limits.apiMaxProcesses} processes (--snapshot.api-max-processes)` });
      }
    }
    const p = this.snapshot(cgroup, 'api', detail);
    if (this.inFlight.has(cgroup)) {
      // Only a capture that started counts for the interval (not one refused as busy).
      this.lastApi.set(cgroup, now);
      if (this.lastApi.size > 10_000) this.lastApi.delete(this.lastApi.keys().next().value as string);
    }
    return p;
  }

  /** Between capture steps: usage at the top threshold while no hold is set yet: set it now. */
  private maybeJoinHold(cgroup: string, f: Flight): void {
    if (f.hold !== undefined || f.holdAtBytes === undefined || f.dir === undefined) return;
    let usage: number;
    try {
      usage = Number(this.opts.host.tryRead(`${f.dir}/memory.usage_in_bytes`)?.trim());
    } catch (err) {
      this.opts.log.debug({ cgroup, err: describe(err) }, 'usage unreadable during capture');
      return;
    }
    if (Number.isFinite(usage) && usage >= f.holdAtBytes) this.joinHold(cgroup, f);
  }

  /** Sets the hold for a capture already running (it started on a lower threshold). */
  private joinHold(cgroup: string, f: Flight): void {
    if (f.hold !== undefined || !f.capturing || f.dir === undefined || this.opts.hierarchy?.mode !== 'v1') return;
    const held = this.hold.acquire(cgroup, f.dir, this.opts.config.holdMaxMs);
    if (held === undefined) return;
    f.hold = held;
    if (f.opts !== undefined) f.opts.hold = held.record;
  }

  private staticTree: CgroupTree | undefined;

  /** The tree capture reads paths and effective limits from. */
  private tree(h: MemoryHierarchy): CgroupTree {
    if (this.opts.tree !== undefined) return this.opts.tree;
    this.staticTree ??= new CgroupTree({ host: this.opts.host, hierarchy: h, maxDepth: 0 });
    return this.staticTree;
  }

  private async doSnapshot(cgroup: string, kind: TriggerKind, detail: string, wantHold: boolean, flight: Flight): Promise<SnapshotOutcome> {
    const h = this.opts.hierarchy;
    const log = this.opts.log;
    if (h === undefined) {
      this.count(kind, 'error');
      return { ok: false, status: 'unsupported', error: 'no cgroup memory controller found' };
    }
    let dir: string;
    try {
      dir = this.tree(h).dirOf(cgroup);
    } catch (err) {
      this.count(kind, 'error');
      return { ok: false, status: 'not-found', error: describe(err) };
    }
    const free = freeBytes(this.store.dir);
    if (free !== undefined && free < this.limits.minFreeBytes) {
      this.count(kind, 'refused');
      log.warn({ cgroup, reason: kind, freeBytes: free, minFreeBytes: this.limits.minFreeBytes }, 'snapshot refused: the snapshot filesystem is under --snapshot.min-free');
      return { ok: false, status: 'no-space', error: `${free} bytes free on the snapshot filesystem, under --snapshot.min-free` };
    }
    const timeMs = Date.now();
    const id = newSnapshotId(timeMs);
    const pend: Pending = { id, cgroup, timeMs, kills: [] };
    this.pending.set(id, pend);
    const t0 = performance.now();
    let firstWrite: Error | undefined;
    flight.dir = dir;
    const capture = async (): Promise<SnapshotDoc> => {
      const opts: CaptureOptions = {
        id,
        cmdline: this.opts.config.cmdline,
        rules: this.opts.config.rules,
        maxHookOutputBytes: this.limits.maxHookOutputBytes,
        yieldTurn: async () => {
          this.maybeJoinHold(cgroup, flight);
          await turn();
        },
        onCaptured: (d) => {
          // Evidence first: a copy on disk before the rule commands finish.
          try {
            this.store.write({ ...d, oomKills: [...pend.kills] });
          } catch (err) {
            firstWrite = err instanceof Error ? err : new Error(String(err));
          }
        },
      };
      if (flight.hold !== undefined) opts.hold = flight.hold.record;
      const kube = this.opts.kubeNames?.(cgroup);
      if (kube !== undefined) opts.kubernetes = kube;
      flight.opts = opts;
      try {
        const d = await captureSnapshot(this.opts.host, this.tree(h), cgroup, `${kind}: ${detail}`, opts);
        // A hold joined after the document was built (while rule commands ran).
        if (d.hold === undefined && flight.hold !== undefined) d.hold = flight.hold.record;
        return d;
      } finally {
        flight.capturing = false;
        flight.hold?.release(); // before the store write: the document records the restore time
      }
    };
    try {
      let doc: SnapshotDoc;
      try {
        if (wantHold && h.mode === 'v1') flight.hold = this.hold.acquire(cgroup, dir, this.opts.config.holdMaxMs);
        doc = await capture();
      } catch (err) {
        this.count(kind, 'error');
        const gone = errnoCode(err) === 'ENOENT' || /not found/.test(describe(err));
        log.warn({ cgroup, reason: kind, err: describe(err) }, 'snapshot not taken');
        this.fail(cgroup, describe(err));
        return { ok: false, status: gone ? 'not-found' : 'error', error: describe(err) };
      }
      doc.oomKills = [...pend.kills];
      let meta: SnapshotMeta;
      try {
        meta = this.store.write(doc);
      } catch (err) {
        this.count(kind, 'error');
        log.error({ cgroup, reason: kind, dir: this.store.dir, err: describe(err), first: firstWrite?.message }, 'snapshot could not be written');
        this.fail(cgroup, `cannot write to ${this.store.dir}: ${describe(err)}`);
        return { ok: false, status: 'error', error: `cannot write to ${this.store.dir}: ${describe(err)}` };
      }
      this.lastDurationSeconds = (performance.now() - t0) / 1000;
      this.count(kind, 'ok');
      log.info({ event: 'snapshot', id, cgroup, reason: kind, processes: doc.processes.length, captureMs: Math.round(doc.captureDurationMs), file: meta.file }, 'snapshot taken');
      // Kills that arrived while the document was being written were added to the store copy by linkKill.
      return { ok: true, meta, doc };
    } finally {
      this.pending.delete(id);
    }
  }

  /** store.onKill: attach the newest snapshot of the kill's cgroup (or an ancestor) taken before it. */
  linkKill(rec: OomKillRecord): void {
    const targets = [rec.cgroup, rec.oomCgroup].filter((x): x is string => x !== undefined);
    if (targets.length === 0) return;
    const matches = (snapCgroup: string): boolean => targets.some((t) => isUnder(t, snapCgroup));
    const notBefore = rec.timeMs - this.opts.config.linkWindowMs;
    let best: { id: string; timeMs: number; pending: Pending | undefined } | undefined;
    for (const p of this.pending.values()) {
      if (p.timeMs <= rec.timeMs && p.timeMs >= notBefore && matches(p.cgroup) && (best === undefined || p.timeMs > best.timeMs)) best = { id: p.id, timeMs: p.timeMs, pending: p };
    }
    const stored = this.store.newest(matches, rec.timeMs, notBefore);
    if (stored !== undefined && (best === undefined || stored.timeMs > best.timeMs)) best = { id: stored.id, timeMs: stored.timeMs, pending: this.pending.get(stored.id) };
    if (best === undefined) return;
    rec.snapshotId = best.id;
    this.killsWithSnapshot++;
    if (best.pending !== undefined) {
      best.pending.kills.push(rec.id);
      if (this.store.meta(best.id) === undefined) return; // written with its kills when the capture ends
    }
    const id = best.id;
    // The document rewrite is file IO: off the kernel-log handler's turn.
    setImmediate(() => {
      try {
        this.store.addKill(id, rec.id);
      } catch (err) {
        this.opts.log.error({ id, oom: rec.id, err: describe(err) }, 'cannot record the OOM kill in its snapshot');
      }
    });
  }

  get(id: string): SnapshotDoc | undefined {
    return this.store.get(id);
  }

  list(q: { cgroup?: string | undefined; limit?: number | undefined }): SnapshotMeta[] {
    return this.store.list(q);
  }

  /** Failed snapshots (capture or write) at or after `sinceMs`, oldest first. */
  failures(sinceMs: number): { cgroup: string; timeMs: number; error: string }[] {
    return this.failed.filter((f) => f.timeMs >= sinceMs);
  }

  private fail(cgroup: string, error: string): void {
    this.failed.push({ cgroup, timeMs: Date.now(), error });
    if (this.failed.length > 100) this.failed.shift();
  }

  private count(reason: string, result: string): void {
    const k = `${reason}\0${result}`;
    const e = this.counts.get(k);
    if (e !== undefined) e.n++;
    else this.counts.set(k, { reason, result, n: 1 });
  }

  metricValues(): { counts: { reason: string; result: string; n: number }[]; lastDurationSeconds: number | undefined; killsWithSnapshot: number; stored: { count: number; bytes: number }; held: number } {
    return { counts: [...this.counts.values()], lastDurationSeconds: this.lastDurationSeconds, killsWithSnapshot: this.killsWithSnapshot, stored: this.store.totals(), held: this.hold.heldCount() };
  }

  /** Stops triggering, waits for captures in flight, restores any hold. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    // Stopping must not wait on a rule command (a dump can run for its whole timeout) nor leave
    // the OOM killer held: restore first, kill the commands, then let the captures write.
    this.hold.releaseAll('close');
    stopRunningCommands();
    await Promise.allSettled([...this.inFlight.values()]);
    this.hold.releaseAll('close');
  }
}

/**
 * memlens's own memory cgroup as /proc/self/cgroup prints it: the v1 line whose controllers include memory, or v2's
 * `0::` line. Undefined when there is none.
 */
export function ownCgroupPath(text: string | undefined, mode: 'v1' | 'v2'): string | undefined {
  if (text === undefined) return undefined;
  const path = memoryCgroupPath(parseProcCgroup(text, '/proc/self/cgroup').value, mode);
  return path?.startsWith('/') === true ? path : undefined;
}

/** Free bytes for an unprivileged writer on the filesystem of `dir`; undefined when unknown. */
function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined; // unknown: the write itself will say what is wrong
  }
}

/** Processes in the cgroup at `dir` and below, counting stops past `max` (bounded walk); undefined: no such cgroup. */
function countProcesses(host: HostFs, dir: string, max: number): number | undefined {
  if (host.tryRead(`${dir}/cgroup.procs`) === undefined) return undefined;
  let n = 0;
  const queue = [dir];
  for (let walked = 0; queue.length > 0 && walked < 10_000; walked++) {
    const d = queue.shift()!;
    const procs = host.tryRead(`${d}/cgroup.procs`);
    if (procs === undefined) continue;
    for (const line of procs.split('\n')) if (line !== '') n++;
    if (n > max) return n;
    for (const name of host.subdirs(d)) queue.push(`${d}/${name}`);
  }
  return n;
}
