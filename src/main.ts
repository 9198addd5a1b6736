// Wiring only: config -> host -> collectors -> runner -> sinks -> http.
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
import type { CgroupObservation } from './watch/thresholds.js';
import { VERSION } from './version.js';
import { SnapshotService } from './forensics/snapshots.js';
import { snapshotsRouter } from './http/snapshots.js';
import type { ExportStats, OtlpMetricsSink, Signal } from './sinks/otlp.js';
import type { OtlpLogSink } from './sinks/otlpLogs.js';

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
  onCgroups?: (cgroups: CgroupObservation[]) => void,
): Collector[] {
  const all: Collector[] = [
    new ProcessCollector({ ...cfg.process, cgroupMode: hierarchy?.mode ?? 'v2' }),
    new CgroupCollector(hierarchy, cfg.cgroup, oom === undefined ? undefined : (m) => oom.monitor.observeCgroupCounts(m), onCgroups),
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
  /** OTLP push, when configured (--otlp.endpoint, OTEL_*). */
  otlp: { metrics: OtlpMetricsSink | undefined; logs: OtlpLogSink | undefined };
  close(): Promise<void>;
}

/** The OTLP sinks the configuration asks for; the log sink is fed kills (after their snapshot link) and crossings. */
async function otlpSinks(cfg: Config, host: HostFs, log: Logger): Promise<{ stats: ExportStats | undefined; logs: OtlpLogSink | undefined; metrics: (runner: Runner) => OtlpMetricsSink | undefined }> {
  const { metrics, logs } = cfg.otlp;
  const signals: Signal[] = [...(metrics === undefined ? [] : ['metrics' as const]), ...(logs === undefined ? [] : ['logs' as const])];
  if (signals.length === 0) return { stats: undefined, logs: undefined, metrics: () => undefined };
  // Loaded only when pushing: the OpenTelemetry SDK and protobufjs cost about 7 MiB of resident memory.
  const { ExportStats, OtlpMetricsSink, otlpResource } = await import('./sinks/otlp.js');
  const { OtlpLogSink } = await import('./sinks/otlpLogs.js');
  const otlpLog = log.child({ area: 'otlp' });
  const stats = new ExportStats(otlpLog, signals);
  const resource = otlpResource(cfg.otlp.resource, VERSION);
  const bootId = host.tryRead(host.proc('sys/kernel/random/boot_id'))?.trim();
  return {
    stats,
    logs: logs === undefined ? undefined : new OtlpLogSink({ config: logs, resource, version: VERSION, stats, log: otlpLog, stateDir: cfg.snapshot.dir, bootId }),
    metrics: (runner) => metrics === undefined ? undefined : new OtlpMetricsSink({ source: runner, catalog: c.catalog, config: metrics, resource, version: VERSION, stats, log: otlpLog }),
  };
}

export async function startExporter(cfg: Config, log: Logger): Promise<Running> {
  const host = new HostFs(cfg.procRoot, cfg.sysRoot);
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
  const watch = setupWatch(cfg, hierarchy, host, loop, log);
  // Snapshots: taken on crossings, API and CLI; each OOM kill is linked to the newest one before it.
  // The hold (--snapshot.hold) applies from the top --watch.thresholds fraction only.
  const topThreshold = cfg.watch.thresholds.length > 0 ? Math.max(...cfg.watch.thresholds) : undefined;
  const snapshots = new SnapshotService({
    host, hierarchy, config: cfg.snapshot, log: log.child({ area: 'snapshot' }), ...(topThreshold === undefined ? {} : { holdFromThreshold: topThreshold }),
  });
  snapshots.start();
  snapshots.subscribe(watch.bus); // every upward crossing, debounced per cgroup by --snapshot.min-interval
  store.onKill((r) => snapshots.linkKill(r));
  const otlp = await otlpSinks(cfg, host, log);
  const otlpLogs = otlp.logs;
  if (otlpLogs !== undefined) {
    store.onKill((r) => otlpLogs.kill(r)); // after linkKill: the record carries its snapshot id
    watch.bus.on((ev) => otlpLogs.crossing(ev));
  }
  const collectors = [...buildCollectors(cfg, hierarchy, oomEnabled ? { store, monitor } : undefined, watch.onCgroups), snapshots.collector()];
  const build = [{ desc: c.buildInfo, labels: { version: VERSION }, value: 1 }];
  const runner = new Runner(collectors, host, { timeoutMs: cfg.collectTimeoutMs, minIntervalMs: cfg.collectMinIntervalMs, seriesBudget: 200_000 }, log, () => [...build, ...watch.samples(), ...(otlp.stats?.samples() ?? [])]);
  const otlpMetrics = otlp.metrics(runner);
  const sink = cfg.disableMetrics ? undefined : new PrometheusSink(c.catalog);
  const app = createApp({ runner, sink, telemetryPath: cfg.telemetryPath, log, routers: [oomRouter(store), eventsRouter(watch.bus), snapshotsRouter(snapshots)] });
  let server: Server;
  try {
    server = await listen(app, cfg.listen);
  } catch (err) {
    await otlpLogs?.close();
    await snapshots.close();
    await loop?.close();
    throw err;
  }
  otlpMetrics?.start();
  // Event sources start only once the port is ours: nothing half-started on a bad start.
  if (oomEnabled) monitor.start();
  void watch.start(); // resolves after the first cgroup walk; failures are logged there
  const addr = server.address();
  log.info({ address: typeof addr === 'object' && addr !== null ? `${addr.address}:${addr.port}` : addr, path: cfg.telemetryPath, version: VERSION }, 'memlens listening');
  return {
    server,
    runner,
    store,
    monitor,
    watch,
    snapshots,
    otlp: { metrics: otlpMetrics, logs: otlpLogs },
    close: async () => {
      monitor.close();
      watch.close();
      await Promise.all([otlpMetrics?.close(), otlpLogs?.close()]);
      await snapshots.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await loop?.close();
    },
  };
}
