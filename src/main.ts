// Wiring only: config -> host -> kernel loop -> cgroup tree -> collectors -> runner -> sinks -> http.
import type { Server } from 'node:http';
import * as c from './model/catalog.js';
import type { Config } from './config/load.js';
import { HostFs } from './host/hostFs.js';
import type { Logger } from './log.js';
import { MemlensError, describe } from './errors.js';
import { parseMountinfo } from './procfs/mountinfo.js';
import { findMemoryHierarchy, type MemoryHierarchy } from './cgroupfs/discover.js';
import type { Collector } from './collectors/collector.js';
import { ProcessCollector } from './collectors/process.js';
import { CgroupCollector } from './collectors/cgroup.js';
import { HostCollector } from './collectors/host.js';
import { Runner } from './collectors/runner.js';
import { PrometheusSink } from './sinks/prometheus.js';
import { createApp, listen } from './http/server.js';
import { oomRouter } from './http/api.js';
import { OomStore } from './oom/store.js';
import { OomMonitor } from './oom/monitor.js';
import { OomCollector } from './collectors/oom.js';
import { KernelEventLoop } from './kernel/eventLoop.js';
import { setupWatch, type WatchSetup } from './watch/setup.js';
import { eventsRouter } from './http/api.js';
import { CgroupTree } from './cgroupfs/tree.js';
import { raiseOpenFileLimit } from './kernel/rlimit.js';
import { VERSION } from './version.js';
import { SnapshotService } from './forensics/snapshots.js';
import { snapshotsRouter } from './http/snapshots.js';

/** The memory cgroup hierarchy as this host mounts it (v1, v2, or none). Throws when procfs is unreadable. */
export function discoverHierarchy(host: HostFs): MemoryHierarchy | undefined {
  const path = host.proc('self/mountinfo');
  let text: string;
  try {
    text = host.read(path);
  } catch (err) {
    throw new MemlensError('MEMLENS_ERR_CONFIG', `--path.procfs: cannot read ${path}: ${describe(err)}`, { path, cause: err });
  }
  const mounts = parseMountinfo(text, path).value;
  return findMemoryHierarchy(mounts, (mp) => host.tryRead(`${host.hostPath(mp)}/cgroup.controllers`));
}

export function buildCollectors(
  cfg: Config,
  hierarchy: MemoryHierarchy | undefined,
  oom?: { store: OomStore; monitor: OomMonitor },
  /** The live cgroup tree; without one, a static tree of `hierarchy` rescanned before each collection. */
  tree?: CgroupTree,
): Collector[] {
  const cgTree = tree ?? (hierarchy === undefined ? undefined : new CgroupTree({ host: new HostFs(cfg.procRoot, cfg.sysRoot), hierarchy, maxDepth: cfg.cgroup.maxDepth }));
  const all: Collector[] = [
    new ProcessCollector({ ...cfg.process, cgroupMode: hierarchy?.mode ?? 'v2' }),
    new CgroupCollector(cgTree, cfg.cgroup, oom === undefined ? undefined : (m) => oom.monitor.observeCgroupCounts(m)),
    new HostCollector(),
  ];
  if (oom !== undefined) all.push(new OomCollector(oom.store, oom.monitor));
  return all.filter((col) => !cfg.disabledCollectors.includes(col.name));
}

export interface Running {
  server: Server;
  runner: Runner;
  store: OomStore;
  monitor: OomMonitor;
  /** Early warning: the event bus (subscribe with watch.bus.on), the watcher and its metrics. */
  watch: WatchSetup;
  snapshots: SnapshotService;
  /** The live memory cgroup tree; undefined without a memory cgroup hierarchy. */
  tree: CgroupTree | undefined;
  close(): Promise<void>;
}

export async function startExporter(cfg: Config, log: Logger): Promise<Running> {
  const host = new HostFs(cfg.procRoot, cfg.sysRoot);
  // Watching 500 v1 cgroups holds about 3000 fds: soft RLIMIT_NOFILE up to the hard one (Node usually has already).
  const nofile = raiseOpenFileLimit();
  if (nofile.ok) log.debug({ before: nofile.before, after: nofile.after }, 'open file limit');
  else log.warn({ err: nofile.error }, 'cannot raise the open file limit');
  const hierarchy = discoverHierarchy(host);
  if (hierarchy === undefined) log.warn('no cgroup memory controller found: the cgroup collector reports success 0');
  else log.info({ mode: hierarchy.mode, mountPoint: hierarchy.mountPoint, root: hierarchy.root }, 'cgroup memory hierarchy');
  // One epoll set, one waiting thread, for every kernel event source (DESIGN.md).
  let loop: KernelEventLoop | undefined;
  try {
    loop = new KernelEventLoop({ onError: (err) => log.error({ err: describe(err) }, 'kernel event loop error') });
  } catch (err) {
    log.warn({ err: describe(err) }, 'no kernel event loop (epoll through koffi): event sources are off');
  }
  const store = new OomStore();
  const monitor = new OomMonitor({ kmsgPath: cfg.kmsgPath, loop, store, log });
  const oomEnabled = !cfg.disabledCollectors.includes('oom');
  // The one live model of the memory cgroup tree, kept current by inotify on the loop; collector, watcher and
  // snapshots all read it.
  const tree = hierarchy === undefined ? undefined : new CgroupTree({
    host, hierarchy, loop, maxDepth: cfg.cgroup.maxDepth, log: log.child({ area: 'cgroup-tree' }), rescanIntervalMs: cfg.watch.refreshIntervalMs,
  });
  const watch = setupWatch(cfg, tree, loop, log);
  // Snapshots: taken on crossings, API and CLI; each OOM kill is linked to the newest one before it.
  // The hold (--snapshot.hold) applies from the top --watch.thresholds fraction only.
  const topThreshold = cfg.watch.thresholds.length > 0 ? Math.max(...cfg.watch.thresholds) : undefined;
  const snapshots = new SnapshotService({
    host, hierarchy, tree, config: cfg.snapshot, log: log.child({ area: 'snapshot' }), ...(topThreshold === undefined ? {} : { holdFromThreshold: topThreshold }),
  });
  snapshots.start();
  snapshots.subscribe(watch.bus); // every upward crossing, debounced per cgroup by --snapshot.min-interval
  store.onKill((r) => snapshots.linkKill(r));
  const collectors = [...buildCollectors(cfg, hierarchy, oomEnabled ? { store, monitor } : undefined, tree), snapshots.collector()];
  const build = [{ desc: c.buildInfo, labels: { version: VERSION }, value: 1 }];
  const runner = new Runner(collectors, host, { timeoutMs: cfg.collectTimeoutMs, minIntervalMs: cfg.collectMinIntervalMs, seriesBudget: 200_000 }, log, () => [...build, ...watch.samples()]);
  const sink = new PrometheusSink(c.catalog);
  const app = createApp({ runner, sink, telemetryPath: cfg.telemetryPath, log, routers: [oomRouter(store), eventsRouter(watch.bus), snapshotsRouter(snapshots)] });
  let server: Server;
  try {
    server = await listen(app, cfg.listen);
  } catch (err) {
    await snapshots.close();
    await loop?.close();
    throw err;
  }
  // Event sources start only once the port is ours: nothing half-started on a bad start.
  if (oomEnabled) monitor.start();
  try {
    tree?.start();
  } catch (err) {
    log.error({ err: describe(err) }, 'cgroup tree: the hierarchy cannot be read; the cgroup collector will say so');
  }
  void watch.start(); // arms the watches of the tree's limited cgroups; failures are logged there
  const addr = server.address();
  log.info({ address: typeof addr === 'object' && addr !== null ? `${addr.address}:${addr.port}` : addr, path: cfg.telemetryPath, version: VERSION }, 'memlens listening');
  return {
    server,
    runner,
    store,
    monitor,
    watch,
    snapshots,
    tree,
    close: async () => {
      monitor.close();
      watch.close();
      tree?.close();
      await snapshots.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await loop?.close();
    },
  };
}
