// Wiring of the early-warning watcher, shared by `memlens serve` and `memlens watch`: the bus, the stats, the
// watcher, and its own cgroup discovery (a cgroup-only walk) for when no scrape hands it the list.
import type { Config } from '../config/load.js';
import type { HostFs } from '../host/hostFs.js';
import type { Logger } from '../log.js';
import type { Sample } from '../model/types.js';
import type { MemoryHierarchy } from '../cgroupfs/discover.js';
import type { KernelEventLoop } from '../kernel/eventLoop.js';
import { WatchBus } from './bus.js';
import { WatchStats } from './stats.js';
import { CgroupWatcher } from './watcher.js';
import type { CgroupObservation } from '../cgroupfs/observation.js';

export interface WatchSetup {
  bus: WatchBus;
  stats: WatchStats;
  /** undefined when --watch.enabled=false or there is no memory cgroup hierarchy. */
  watcher: CgroupWatcher | undefined;
  /** For the cgroup collector of the exporter: hands each collection's cgroups to the watcher. */
  onCgroups: ((cgroups: CgroupObservation[]) => void) | undefined;
  /** The watch metrics for the runner (none when the watcher is off). */
  samples(): Sample[];
  /** Starts the periodic re-discovery; resolves after the first walk (never rejects: failures are logged). */
  start(): Promise<void>;
  close(): void;
}

/** A walk of the hierarchy that ends by handing every cgroup to `onCgroups` (main.ts passes the cgroup collector). */
export type WalkerFactory = (onCgroups: (cgroups: CgroupObservation[]) => void) => { collect(host: HostFs, signal: AbortSignal): Promise<unknown> };

export function setupWatch(cfg: Config, hierarchy: MemoryHierarchy | undefined, host: HostFs, loop: KernelEventLoop | undefined, log: Logger, makeWalker: WalkerFactory): WatchSetup {
  const bus = new WatchBus({ onListenerError: (err) => log.error({ err: String(err) }, 'watch: an event listener threw') });
  const stats = new WatchStats();
  if (!cfg.watch.enabled || hierarchy === undefined) {
    if (cfg.watch.enabled) log.warn('watch: no cgroup memory hierarchy: nothing to watch');
    return { bus, stats, watcher: undefined, onCgroups: undefined, samples: () => [], start: () => Promise.resolve(), close: () => undefined };
  }
  const wlog = log.child({ component: 'watch' });
  const watcher = new CgroupWatcher({
    mode: hierarchy.mode,
    loop,
    bus,
    stats,
    log: wlog,
    thresholds: cfg.watch.thresholds,
    pollIntervalMs: cfg.watch.pollIntervalMs,
    maxCgroups: cfg.watch.maxCgroups,
    include: cfg.cgroup.include,
    exclude: cfg.cgroup.exclude,
  });
  const onCgroups = (cgroups: CgroupObservation[]): void => watcher.observe(cgroups);
  const walker = makeWalker(onCgroups);
  return {
    bus,
    stats,
    watcher,
    onCgroups,
    samples: () => stats.samples(),
    start: () =>
      watcher.startRefresh(async () => {
        const ac = new AbortController();
        const timer = setTimeout(() => ac.abort(), cfg.collectTimeoutMs);
        try {
          await walker.collect(host, ac.signal);
        } finally {
          clearTimeout(timer);
        }
      }, cfg.watch.refreshIntervalMs),
    close: () => watcher.close(),
  };
}
