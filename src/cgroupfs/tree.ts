// The live model of the memory cgroup tree (v1 and v2): every cgroup's path, directory, own limit and effective
// limit, kept current by inotify. The cgroup collector enumerates it, the watcher arms thresholds from its changes,
// snapshot capture reads paths and effective limits from it: one tree, no separate walks.
//
// How it stays current (inotify(7); cgroupfs is kernfs, whose mkdir/rmdir and writes go through the VFS, so the
// usual events are raised):
// - one inotify watch per cgroup directory, mask IN_CREATE | IN_DELETE | IN_MODIFY: IN_CREATE/IN_DELETE with
//   IN_ISDIR name a child cgroup made or removed; IN_MODIFY names a file of the directory that was written, of which
//   the limit files count here (v1 memory.limit_in_bytes; v2 memory.max and memory.high). A watch on the directory
//   covers its files, so a cgroup costs one watch and no fd (the loop's one inotify fd is shared).
// - a new directory is watched first and listed second, so a grandchild made in between is found by the listing.
//   Its limit is likewise read after its watch exists: a write before the watch is seen by the read, one after it
//   raises IN_MODIFY.
// - full rescans are the safety net: at start, on IN_Q_OVERFLOW (events were lost), and every `rescanIntervalMs`;
//   each counted by reason. When inotify watches run out (ENOSPC: fs.inotify.max_user_watches) or no kernel event
//   loop exists, the tree is not live: memlens says so once, counts it, and rescans every `degradedRescanMs` and
//   before every collection instead.
//
// Effective limit: the tightest of the cgroup's own limit and every ancestor's up to the mount's root. On v1 that is
// what memory.stat's hierarchical_memory_limit reports under use_hierarchy=1, which kernels since 5.16 always use
// (Documentation/admin-guide/cgroup-v1/memory.rst §6); on v2 it is how memory.max applies (cgroup-v2.rst "Memory
// Interface Files"). The host's RAM is not folded in here (the collector caps it): a cgroup limited only by the
// machine has an unlimited effective limit in the tree.
import type { HostFs } from '../host/hostFs.js';
import type { Logger } from '../log.js';
import { describe, errnoCode, isGone, MemlensError } from '../errors.js';
import type { KernelEventLoop, Watch } from '../kernel/eventLoop.js';
import { IN_CREATE, IN_DELETE, IN_IGNORED, IN_ISDIR, IN_MODIFY, IN_ONLYDIR, IN_Q_OVERFLOW } from '../kernel/sys.js';
import type { InotifyEvent } from '../kernel/sys.js';
import type { MemoryHierarchy } from './discover.js';
import { parseLimit, tighter, UNLIMITED, type Limit } from './limit.js';

export interface CgroupNode {
  /** As /proc/PID/cgroup prints it. */
  readonly path: string;
  /** Its directory under --path.sysfs. */
  readonly dir: string;
  /** 0 for the mount's root. */
  readonly depth: number;
  readonly parent: CgroupNode | undefined;
  readonly children: Map<string, CgroupNode>;
  /** memory.limit_in_bytes (v1) or memory.max (v2); UNLIMITED when the file is absent (the v2 root) or unreadable. */
  ownLimit: Limit;
  /** v2 memory.high; undefined on v1. */
  highLimit: Limit | undefined;
  /** Tightest of ownLimit and every ancestor's (host RAM not included). */
  effectiveLimit: Limit;
  /** Date.now() when the tree learned of the cgroup. */
  readonly seenMs: number;
  /** False once removed from the tree. */
  present: boolean;
  /** @internal its directory watch */
  watch: Watch | undefined;
}

export type TreeChange =
  | { kind: 'added'; node: CgroupNode }
  | { kind: 'removed'; node: CgroupNode }
  /** The effective limit changed (the cgroup's own limit or an ancestor's was written). */
  | { kind: 'limit'; node: CgroupNode; before: Limit }
  /** A full rescan ended (after its added/removed/limit changes). */
  | { kind: 'rescanned'; reason: RescanReason };

/** start; overflow: IN_Q_OVERFLOW; timer: the slow safety-net timer; unwatched: the tree is not live (no inotify). */
export type RescanReason = 'start' | 'overflow' | 'timer' | 'unwatched';

export interface CgroupTreeOptions {
  host: HostFs;
  hierarchy: MemoryHierarchy;
  /** The kernel event loop for inotify; undefined: a static tree, rescanned before each collection. */
  loop?: KernelEventLoop | undefined;
  /** Cgroups deeper than this below the mount's root are not in the tree (--cgroup.max-depth). */
  maxDepth: number;
  log?: Logger | undefined;
  /** The safety-net rescan while live (default 60 s; 0: none). */
  rescanIntervalMs?: number;
  /** Rescans while not live (watches exhausted): default 5 s. */
  degradedRescanMs?: number;
}

const DIR_MASK = IN_CREATE | IN_DELETE | IN_MODIFY | IN_ONLYDIR;
const MAX_DEPTH_HARD = 64;
/** A limit that could not be read for want of fds is read again after this. */
const RETRY_MS = 50;
/** A yielding rescan gives the event loop a turn this often. */
const YIELD_EVERY_MS = 2;

function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

function sameLimit(a: Limit, b: Limit): boolean {
  return a.unlimited ? b.unlimited : !b.unlimited && a.bytes === b.bytes;
}

export class CgroupTree {
  readonly mode: 'v1' | 'v2';
  private readonly base: string;
  private root: CgroupNode | undefined;
  private readonly byPath = new Map<string, CgroupNode>();
  /** nodes(), until a cgroup is added or removed. */
  private order: CgroupNode[] | undefined;
  private readonly listeners = new Set<(c: TreeChange) => void>();
  private readonly rescans = new Map<RescanReason, number>();
  private readonly watchFailures = new Map<string, number>();
  private readonly saidOnce = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly retry = new Set<CgroupNode>();
  private overflowPending = false;
  /** False without a loop, or after inotify_add_watch failed (watches exhausted): then rescans keep it current. */
  private liveNow: boolean;
  private closed = false;
  private rescanning = false;
  private readonly ownFile: string;

  constructor(private readonly opts: CgroupTreeOptions) {
    this.mode = opts.hierarchy.mode;
    this.base = opts.host.hostPath(opts.hierarchy.mountPoint);
    this.liveNow = opts.loop !== undefined;
    this.ownFile = this.mode === 'v1' ? 'memory.limit_in_bytes' : 'memory.max';
  }

  /** The hierarchy this tree models. */
  get hierarchy(): MemoryHierarchy {
    return this.opts.hierarchy;
  }

  /** True while inotify keeps the tree current (a loop, and every directory watched). */
  get live(): boolean {
    return this.liveNow && !this.closed;
  }

  /** The first scan (counted as `start`) and the timers. Throws when the hierarchy's root cannot be read. */
  start(): void {
    this.opts.host.list(this.base);
    if (this.root === undefined) this.rescan('start'); // else a collection came first and scanned it
    this.schedule();
  }

  onChange(fn: (c: TreeChange) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Every cgroup, parents before children, siblings in name order (the order the collector exports them in). The
   * array is made (and every sibling list sorted) once per change of the tree, not per call: every scrape asks.
   * Callers must not change it; a later change of the tree makes a new one, so one being iterated stays as it was.
   */
  nodes(): readonly CgroupNode[] {
    if (this.order !== undefined) return this.order;
    const out: CgroupNode[] = [];
    const visit = (n: CgroupNode): void => {
      out.push(n);
      for (const name of [...n.children.keys()].sort()) visit(n.children.get(name)!);
    };
    if (this.root !== undefined) visit(this.root);
    this.order = out;
    return out;
  }

  get size(): number {
    return this.byPath.size;
  }

  get(path: string): CgroupNode | undefined {
    return this.byPath.get(path);
  }

  /**
   * Rescans now when the tree is not live (no inotify, or watches exhausted), counted as `unwatched`; when live,
   * handles the inotify events already queued. The collectors call it before each collection so that the tree is
   * as fresh as a walk would be.
   */
  ensureFresh(): void {
    // Live: the inotify events already queued (a mkdir an instant ago) are handled now, so a collection sees every
    // cgroup made before it started, whatever the order in which the JS thread takes the waiter's wake-up.
    if (this.root !== undefined && this.live) this.opts.loop?.flushInotify();
    if (this.root === undefined || !this.live) {
      if (this.root === undefined) this.opts.host.list(this.base); // the hierarchy unreadable fails the caller
      this.rescan(this.root === undefined ? 'start' : 'unwatched');
    }
  }

  /** A cgroup path as /proc/PID/cgroup prints it -> its directory under the sysfs root. Throws on a path not of this mount. */
  dirOf(path: string): string {
    if (!path.startsWith('/') || path.split('/').some((s) => s === '..' || s === '.')) {
      throw new MemlensError('MEMLENS_ERR_INVALID_INPUT', `not a cgroup path: ${JSON.stringify(path)}`);
    }
    const known = this.byPath.get(path);
    if (known !== undefined) return known.dir;
    const h = this.opts.hierarchy;
    const root = h.root === '/' ? '' : h.root;
    let rel: string;
    if (root === '') rel = path === '/' ? '' : path;
    else if (path === root) rel = '';
    else if (path.startsWith(`${root}/`)) rel = path.slice(root.length);
    else throw new MemlensError('MEMLENS_ERR_NOT_FOUND', `cgroup ${path} is outside this mount's root ${h.root}`);
    return `${this.base}${rel.replace(/\/+$/, '')}`;
  }

  /**
   * The effective limit of any cgroup path: the tree's when it holds the cgroup, else the nearest ancestor's in the
   * tree tightened by the own limits read on the way down (a cgroup deeper than --cgroup.max-depth, or one made an
   * instant ago). undefined when the path is not of this mount.
   */
  effectiveLimitOf(path: string): Limit | undefined {
    const known = this.byPath.get(path);
    if (known !== undefined) return known.effectiveLimit;
    let dir: string;
    try {
      dir = this.dirOf(path);
    } catch {
      return undefined;
    }
    const missing: string[] = [];
    let p = path;
    let anchor: CgroupNode | undefined;
    for (let i = 0; i < MAX_DEPTH_HARD && anchor === undefined; i++) {
      missing.push(p);
      if (p === '/' || p === this.opts.hierarchy.root) break;
      p = p.slice(0, p.lastIndexOf('/')) || '/';
      anchor = this.byPath.get(p);
    }
    let eff = anchor?.effectiveLimit ?? UNLIMITED;
    for (const q of missing.reverse()) {
      const d = q === path ? dir : this.dirOf(q);
      eff = tighter(eff, this.readLimit(`${d}/${this.ownFile}`));
    }
    return eff;
  }

  /** Rescans by reason, inotify watch failures by errno, for the metrics. */
  counts(): { rescans: ReadonlyMap<RescanReason, number>; watchFailures: ReadonlyMap<string, number> } {
    return { rescans: this.rescans, watchFailures: this.watchFailures };
  }

  /** inotify watches the tree holds (one per watched directory). */
  watchCount(): number {
    let n = 0;
    for (const node of this.byPath.values()) if (node.watch !== undefined && !node.watch.closed) n++;
    return n;
  }

  /**
   * Walks the hierarchy and reconciles: new cgroups added (and watched), vanished ones removed, every limit re-read.
   * Emits the changes, then `rescanned`. Counted by reason.
   */
  rescan(reason: RescanReason): void {
    if (!this.beginRescan(reason)) return;
    const stack = [this.root!];
    while (stack.length > 0) stack.push(...this.syncNode(stack.pop()!));
    this.emit({ kind: 'rescanned', reason });
  }

  /**
   * The same rescan, giving the event loop a turn every 2 ms: the timer's and the overflow's, which run while kernel
   * events are handled (a thousand cgroups take a few hundred ms on a busy host). inotify events handled in between
   * are consistent with it: adding or removing a cgroup twice is a no-op.
   */
  async rescanYielding(reason: RescanReason): Promise<void> {
    if (this.rescanning || !this.beginRescan(reason)) return;
    this.rescanning = true;
    try {
      const stack = [this.root!];
      let slice = performance.now();
      while (stack.length > 0 && !this.closed) {
        const node = stack.pop()!;
        if (!node.present) continue;
        stack.push(...this.syncNode(node));
        if (performance.now() - slice > YIELD_EVERY_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          slice = performance.now();
        }
      }
      if (!this.closed) this.emit({ kind: 'rescanned', reason });
    } finally {
      this.rescanning = false;
    }
  }

  private beginRescan(reason: RescanReason): boolean {
    if (this.closed) return false;
    this.rescans.set(reason, (this.rescans.get(reason) ?? 0) + 1);
    // A rescan while degraded retries the watches: room may have been freed.
    if (this.opts.loop !== undefined && !this.opts.loop.closed) this.liveNow = true;
    if (this.root === undefined) {
      this.root = this.makeNode(undefined, this.opts.hierarchy.root, this.base, 0);
      this.order = undefined;
      this.emit({ kind: 'added', node: this.root });
    }
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    this.timer = undefined;
    for (const n of this.byPath.values()) n.watch?.close();
  }

  // ---- internals ----

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    const every = this.live ? (this.opts.rescanIntervalMs ?? 60_000) : (this.opts.degradedRescanMs ?? 5_000);
    if (every <= 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.rescanYielding(this.live ? 'timer' : 'unwatched')
        .catch((err: unknown) => this.opts.log?.error({ err: describe(err) }, 'cgroup tree: rescan failed'))
        .finally(() => this.schedule());
    }, every);
    this.timer.unref();
  }

  private once(key: string, fn: () => void): void {
    if (this.saidOnce.has(key)) return;
    this.saidOnce.add(key);
    fn();
  }

  private emit(c: TreeChange): void {
    for (const fn of this.listeners) {
      try {
        fn(c);
      } catch (err) {
        this.opts.log?.error({ err: describe(err) }, 'cgroup tree: a listener threw');
      }
    }
  }

  /** The limit in `file`; UNLIMITED when absent; undefined when it could not be read now (out of fds: retried). */
  private readLimitOrRetry(file: string): Limit | undefined {
    let text: string | undefined;
    try {
      text = this.opts.host.tryRead(file);
    } catch (err) {
      const code = errnoCode(err);
      this.once(`read-${code ?? 'error'}`, () => this.opts.log?.warn({ file, err: describe(err) }, 'cgroup tree: cannot read a limit'));
      if (code === 'EMFILE' || code === 'ENFILE') return undefined;
      return UNLIMITED;
    }
    if (text === undefined) return UNLIMITED;
    return parseLimit(text, file).value ?? UNLIMITED;
  }

  private readLimit(file: string): Limit {
    let text: string | undefined;
    try {
      text = this.opts.host.tryRead(file);
    } catch (err) {
      this.once(`read-${errnoCode(err) ?? 'error'}`, () => this.opts.log?.warn({ file, err: describe(err) }, 'cgroup tree: cannot read a limit'));
      return UNLIMITED;
    }
    if (text === undefined) return UNLIMITED;
    return parseLimit(text, file).value ?? UNLIMITED;
  }

  private makeNode(parent: CgroupNode | undefined, path: string, dir: string, depth: number): CgroupNode {
    const node: CgroupNode = {
      path, dir, depth, parent, children: new Map(), ownLimit: UNLIMITED, highLimit: undefined,
      effectiveLimit: parent?.effectiveLimit ?? UNLIMITED, seenMs: Date.now(), present: true, watch: undefined,
    };
    this.byPath.set(path, node);
    parent?.children.set(path.slice(path.lastIndexOf('/') + 1), node);
    this.order = undefined;
    // Watch first, read second: a limit written in between is seen by the read, one after raises IN_MODIFY.
    this.watchDir(node);
    this.readLimits(node);
    return node;
  }

  private readLimits(node: CgroupNode): void {
    const own = this.readLimitOrRetry(`${node.dir}/${this.ownFile}`);
    if (own === undefined) this.retryLater(node);
    else node.ownLimit = own;
    if (this.mode === 'v2') node.highLimit = this.readLimit(`${node.dir}/memory.high`);
    node.effectiveLimit = node.parent === undefined ? node.ownLimit : tighter(node.parent.effectiveLimit, node.ownLimit);
  }

  /** Out of fds for a limit read: read it again shortly (the cgroup would otherwise look unlimited until a rescan). */
  private retryLater(node: CgroupNode): void {
    this.retry.add(node);
    if (this.retryTimer !== undefined || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      const nodes = [...this.retry];
      this.retry.clear();
      for (const n of nodes) if (n.present) this.limitWritten(n);
    }, RETRY_MS);
    this.retryTimer.unref();
  }

  private watchDir(node: CgroupNode): void {
    const loop = this.opts.loop;
    if (loop === undefined || !this.liveNow || (node.watch !== undefined && !node.watch.closed)) return;
    try {
      node.watch = loop.watchInotify(node.dir, DIR_MASK, (ev) => this.onDirEvent(node, ev));
    } catch (err) {
      const code = errnoCode(err) ?? 'error';
      if (code === 'ENOENT' || code === 'ENOTDIR') return; // removed before we got to it: the parent's IN_DELETE follows
      this.watchFailures.set(code, (this.watchFailures.get(code) ?? 0) + 1);
      this.liveNow = false;
      this.once(`watch-${code}`, () =>
        this.opts.log?.warn(
          { errno: code, cgroup: node.path, watched: this.watchCount(), rescanMs: this.opts.degradedRescanMs ?? 5_000 },
          code === 'ENOSPC'
            ? 'cgroup tree: inotify watches exhausted (fs.inotify.max_user_watches): new cgroups are found by periodic rescans instead'
            : 'cgroup tree: cannot watch a cgroup directory: new cgroups are found by periodic rescans instead',
        ),
      );
      this.schedule();
    }
  }

  /**
   * Re-reads node's limits, lists its directory and reconciles its children: new ones added (with their subtrees),
   * vanished ones removed. Returns the children that were already known, for the caller to visit.
   */
  private syncNode(node: CgroupNode): CgroupNode[] {
    this.watchDir(node);
    const before = node.effectiveLimit;
    const beforeOwn = node.ownLimit;
    this.readLimits(node);
    if (!sameLimit(before, node.effectiveLimit) || !sameLimit(beforeOwn, node.ownLimit)) this.emit({ kind: 'limit', node, before });
    if (node.depth >= Math.min(this.opts.maxDepth, MAX_DEPTH_HARD)) return [];
    let names: string[];
    try {
      names = this.opts.host.subdirs(node.dir);
    } catch (err) {
      this.once(`list-${errnoCode(err) ?? 'error'}`, () => this.opts.log?.warn({ cgroup: node.path, err: describe(err) }, 'cgroup tree: cannot list a cgroup'));
      return [];
    }
    const seen = new Set(names);
    for (const [name, child] of [...node.children]) if (!seen.has(name)) this.remove(child);
    const known: CgroupNode[] = [];
    for (const name of names.sort().reverse()) {
      const existing = node.children.get(name);
      if (existing !== undefined) known.push(existing);
      else this.addChild(node, name);
    }
    return known;
  }

  private addChild(parent: CgroupNode, name: string): CgroupNode | undefined {
    if (parent.children.has(name) || name.includes('/')) return parent.children.get(name);
    const child = this.makeNode(parent, childPath(parent.path, name), `${parent.dir}/${name}`, parent.depth + 1);
    this.emit({ kind: 'added', node: child });
    // Children made before the watch existed are found here; those made after raise IN_CREATE.
    if (child.present) this.syncChildren(child);
    return child;
  }

  private syncChildren(node: CgroupNode): void {
    if (node.depth >= Math.min(this.opts.maxDepth, MAX_DEPTH_HARD)) return;
    let names: string[];
    try {
      names = this.opts.host.subdirs(node.dir);
    } catch (err) {
      if (!isGone(err)) this.once(`list-${errnoCode(err) ?? 'error'}`, () => this.opts.log?.warn({ cgroup: node.path, err: describe(err) }, 'cgroup tree: cannot list a cgroup'));
      return;
    }
    for (const name of names.sort()) if (!node.children.has(name)) this.addChild(node, name);
  }

  private remove(node: CgroupNode): void {
    if (!node.present) return;
    for (const child of [...node.children.values()]) this.remove(child);
    node.present = false;
    node.watch?.close();
    node.watch = undefined;
    this.byPath.delete(node.path);
    node.parent?.children.delete(node.path.slice(node.path.lastIndexOf('/') + 1));
    this.order = undefined;
    this.emit({ kind: 'removed', node });
  }

  /** Own limit re-read; the subtree's effective limits recomputed; a change emitted per cgroup whose limit moved. */
  private limitWritten(node: CgroupNode): void {
    const beforeOwn = node.ownLimit;
    const beforeHigh = node.highLimit;
    const visit = (n: CgroupNode, reread: boolean): void => {
      const before = n.effectiveLimit;
      if (reread) this.readLimits(n);
      else n.effectiveLimit = n.parent === undefined ? n.ownLimit : tighter(n.parent.effectiveLimit, n.ownLimit);
      const changed = !sameLimit(before, n.effectiveLimit);
      if (changed || (reread && (!sameLimit(beforeOwn, n.ownLimit) || beforeHigh?.unlimited !== n.highLimit?.unlimited))) {
        this.emit({ kind: 'limit', node: n, before });
      }
      if (changed || reread) for (const c of n.children.values()) visit(c, false);
    };
    visit(node, true);
  }

  private onDirEvent(node: CgroupNode, ev: InotifyEvent): void {
    if (this.closed) return;
    if ((ev.mask & IN_Q_OVERFLOW) !== 0) {
      // Delivered to every watch: one rescan for the lot, once the batch is handled.
      if (!this.overflowPending) {
        this.overflowPending = true;
        setImmediate(() => {
          this.overflowPending = false;
          this.once('overflow', () => this.opts.log?.warn('cgroup tree: inotify queue overflowed: rescanning (counted in memlens_cgroup_tree_rescans_total{reason="overflow"})'));
          void this.rescanYielding('overflow').catch((err: unknown) => this.opts.log?.error({ err: describe(err) }, 'cgroup tree: rescan failed'));
        });
      }
      return;
    }
    if (!node.present) return;
    if ((ev.mask & IN_IGNORED) !== 0) {
      // The directory itself is gone (its parent's IN_DELETE usually came first).
      node.watch = undefined;
      if (node.parent !== undefined && this.opts.host.subdirs(node.parent.dir).includes(node.dir.slice(node.dir.lastIndexOf('/') + 1)) === false) {
        this.remove(node);
      }
      return;
    }
    const name = ev.name;
    if (name === undefined) return;
    if ((ev.mask & IN_ISDIR) !== 0) {
      if ((ev.mask & IN_CREATE) !== 0) {
        if (node.depth < Math.min(this.opts.maxDepth, MAX_DEPTH_HARD)) this.addChild(node, name);
      } else if ((ev.mask & IN_DELETE) !== 0) {
        const child = node.children.get(name);
        if (child !== undefined) this.remove(child);
      }
      return;
    }
    if ((ev.mask & IN_MODIFY) !== 0 && (name === this.ownFile || (this.mode === 'v2' && name === 'memory.high'))) {
      this.limitWritten(node);
    }
  }
}
