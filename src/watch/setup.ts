// Wiring of the early-warning watcher, shared by `memlens serve` and `memlens watch`: the bus, the stats and the
// watcher following the live cgroup tree (cgroupfs/tree.ts), which main builds and starts.
import type { Config } from '../config/load.js';
import type { Logger } from '../log.js';
import * as c from '../model/catalog.js';
import type { Sample } from '../model/types.js';
import type { CgroupTree } from '../cgroupfs/tree.js';
import type { KernelEventLoop } from '../kernel/eventLoop.js';
import { WatchBus } from './bus.js';
import { WatchStats } from './stats.js';
import { CgroupWatcher } from './watcher.js';

export interface WatchSetup {
  bus: WatchBus;
  stats: WatchStats;
  /** undefined when --watch.enabled=false or there is no memory cgroup hierarchy. */
  watcher: CgroupWatcher | undefined;
  /** The watch and cgroup tree metrics for the runner. */
  samples(): Sample[];
  /** Follows the tree (which must be started) and arms the watches of its limited cgroups. Never rejects. */
  start(): Promise<void>;
  close(): void;
}

/** The tree's own metrics (rescans, watch failures, size). */
export function treeSamples(tree: CgroupTree | undefined): Sample[] {
  if (tree === undefined) return [];
  const out: Sample[] = [{ desc: c.treeCgroups, labels: {}, value: tree.size }];
  const { rescans, watchFailures } = tree.counts();
  for (const reason of ['start', 'overflow', 'timer', 'unwatched'] as const) {
    out.push({ desc: c.treeRescans, labels: { reason }, value: rescans.get(reason) ?? 0 });
  }
  for (const [errno, n] of watchFailures) out.push({ desc: c.treeWatchFailures, labels: { errno }, value: n });
  return out;
}

export function setupWatch(cfg: Config, tree: CgroupTree | undefined, loop: KernelEventLoop | undefined, log: Logger): WatchSetup {
  const bus = new WatchBus({ onListenerError: (err) => log.error({ err: String(err) }, 'watch: an event listener threw') });
  const stats = new WatchStats();
  if (!cfg.watch.enabled || tree === undefined) {
    if (cfg.watch.enabled) log.warn('watch: no cgroup memory hierarchy: nothing to watch');
    return { bus, stats, watcher: undefined, samples: () => treeSamples(tree), start: () => Promise.resolve(), close: () => undefined };
  }
  const wlog = log.child({ component: 'watch' });
  const watcher = new CgroupWatcher({
    mode: tree.mode,
    loop,
    bus,
    stats,
    log: wlog,
    thresholds: cfg.watch.thresholds,
    pollIntervalMs: cfg.watch.pollIntervalMs,
    allocRateBytesPerS: cfg.watch.allocRateBytesPerS,
    maxCgroups: cfg.watch.maxCgroups,
    include: cfg.cgroup.include,
    exclude: cfg.cgroup.exclude,
  });
  return {
    bus,
    stats,
    watcher,
    samples: () => {
      const via = watcher.countsByVia();
      const out = [
        ...stats.samples(),
        ...treeSamples(tree),
        { desc: c.watchCgroups, labels: { via: 'v1-eventfd' }, value: via.eventfd },
        { desc: c.watchCgroups, labels: { via: 'poll' }, value: via.poll },
      ];
      for (const [errno, n] of watcher.pollFallbacks) out.push({ desc: c.watchPollFallbacks, labels: { errno }, value: n });
      return out;
    },
    start: () => {
      try {
        watcher.attach(tree);
      } catch (err) {
        wlog.error({ err: String(err) }, 'watch: cannot follow the cgroup tree');
      }
      return Promise.resolve();
    },
    close: () => watcher.close(),
  };
}
