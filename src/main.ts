// Wiring only: config -> host -> kernel loop -> cgroup tree -> collectors (from collectors/registry.ts) -> runner -> sinks -> http.
import type { Server } from 'node:http';
import * as c from './model/catalog.js';
import type { Config } from './config/load.js';
import { HostFs } from './host/hostFs.js';
import type { Logger } from './log.js';
import { ConfigError, describe } from './errors.js';
import { ensurePrivateDir } from './forensics/privateDir.js';
import { discoverHierarchy } from './cgroupfs/hierarchy.js';
import { buildCollectors, enabledCollectors, isEnabled } from './collectors/registry.js';
import { CgroupTree } from './cgroupfs/tree.js';
import { raiseOpenFileLimit } from './kernel/rlimit.js';
import { Runner } from './collectors/runner.js';
import { PrometheusSink } from './sinks/prometheus.js';
import { createApp, listen } from './http/server.js';
import { oomRouter } from './http/api.js';
import { OomStore } from './oom/store.js';
import { OomMonitor } from './oom/monitor.js';
import { KernelEventLoop } from './kernel/eventLoop.js';
import { setupWatch, type WatchSetup } from './watch/setup.js';
import { eventsRouter } from './http/api.js';
import { VERSION } from './version.js';
import { SnapshotService } from './forensics/snapshots.js';
import { snapshotsRouter } from './http/snapshots.js';
import { WebSecurity } from './http/webAuth.js';
import type { ExportStats, OtlpMetricsSink, Signal } from './sinks/otlp.js';
import type { OtlpLogSink } from './sinks/otlpLogs.js';
import { KubeletNames } from './kubernetes/kubelet.js';

/** How long a stop waits for scrapes in flight before closing their connections. */
export const SHUTDOWN_GRACE_MS = 3000;
import { RecentSamples } from './forensics/recent.js';
import { Explainer } from './forensics/explain.js';
import { pageRouter } from './http/page.js';

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
  /** OTLP push, when configured (--otlp.endpoint, OTEL_*). */
  otlp: { metrics: OtlpMetricsSink | undefined; logs: OtlpLogSink | undefined };
  /** Recent samples of every collection (the page's data, the explanations' growth). */
  recent: RecentSamples;
  explainer: Explainer;
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
  enabledCollectors(cfg); // unknown names in --collectors.* fail here, before anything starts
  // An untrusted snapshot dir (another owner, group/other-writable, a symlink) stops memlens
  // before anything starts (ConfigError: exit 2); one that cannot be created only fails snapshots.
  try {
    ensurePrivateDir(cfg.snapshot.dir);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    // Not creatable (read-only filesystem, a path under /proc): SnapshotService.start() logs it and snapshots fail.
  }
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
  // Pod names from the kubelet (--kubernetes.kubelet): the info metric, kill records, snapshots.
  const kubelet = cfg.kubernetes === undefined ? undefined : new KubeletNames({
    url: cfg.kubernetes.kubelet, tokenFile: cfg.kubernetes.tokenFile, caFile: cfg.kubernetes.caFile,
    insecureSkipVerify: cfg.kubernetes.insecureSkipVerify, refreshMinIntervalMs: cfg.kubernetes.refreshMinIntervalMs, timeoutMs: 5000,
  }, (p) => host.tryRead(p), log.child({ area: 'kubernetes' }));
  const store = new OomStore();
  if (kubelet !== undefined) store.nameWith((cg) => kubelet.ref(cg));
  const monitor = new OomMonitor({ kmsgPath: cfg.kmsgPath, loop, store, log });
  const oomEnabled = isEnabled(cfg, 'oom');
  // The one live model of the memory cgroup tree, kept current by inotify on the loop; collectors, watcher and
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
    ...(kubelet === undefined ? {} : { kubeNames: (cg: string) => kubelet.ref(cg) }),
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
  const collectors = buildCollectors({
    cfg, hierarchy, version: VERSION, oom: { store, monitor }, snapshots, watchStats: { samples: () => watch.samples() },
    ...(tree === undefined ? {} : { tree }),
    ...(kubelet === undefined ? {} : { kubelet }),
  });
  // The OTLP exporter's own counters come with every snapshot (the runner's extra samples).
  const runner = new Runner(collectors, host, { timeoutMs: cfg.collectTimeoutMs, minIntervalMs: cfg.collectMinIntervalMs, seriesBudget: 200_000 }, log, () => otlp.stats?.samples() ?? []);
  const otlpMetrics = otlp.metrics(runner);
  // The ring is fed by the collections memlens makes anyway; it never reads a file itself.
  const recent = new RecentSamples();
  runner.onCollected((snap) => recent.ingest(snap.samples, snap.atMs));
  const explainer = new Explainer({
    recent,
    events: (q) => watch.bus.recent(q),
    watched: () => watch.watcher?.list() ?? [],
    watchEnabled: watch.watcher !== undefined,
    snapshotFailures: (sinceMs) => snapshots.failures(sinceMs),
    getSnapshot: (id) => snapshots.get(id),
    snapshotVersion: (id) => {
      const m = snapshots.store.meta(id);
      return m === undefined ? undefined : `${m.bytes}/${m.oomKills.length}`;
    },
    getKill: (id) => store.get(id),
    settings: { thresholds: cfg.watch.thresholds, linkWindowMs: cfg.snapshot.linkWindowMs, snapshotMinIntervalMs: cfg.snapshot.minIntervalMs },
  });
  store.onKill((r) => explainer.onKill(r)); // after linkKill: the record carries its snapshotId
  const sink = cfg.disableMetrics ? undefined : new PrometheusSink(c.catalog);
  if (cfg.disableMetrics && otlpMetrics === undefined) log.warn('--web.disable-metrics without an OTLP metrics endpoint: metrics are neither served nor pushed');
  const web = cfg.web.configFile === undefined || cfg.web.config === undefined ? undefined : new WebSecurity(cfg.web.configFile, cfg.web.config, log.child({ area: 'web' }));
  const routers = [
    oomRouter(store, (id) => explainer.explain(id)), eventsRouter(watch.bus), snapshotsRouter(snapshots, { enabled: cfg.web.enableSnapshotApi }),
    pageRouter({ runner, recent, explainer, store, bus: watch.bus, snapshots }),
  ];
  const app = createApp({ runner, sink, telemetryPath: cfg.telemetryPath, log, routers, ...(web === undefined ? {} : { guard: web.middleware() }) });
  let server: Server;
  try {
    server = await listen(app, cfg.listen, { https: web?.httpsOptions(), maxConnections: cfg.web.maxConnections, onServer: (s) => web?.attach(s) });
  } catch (err) {
    await otlpLogs?.close();
    await snapshots.close();
    await loop?.close();
    throw err;
  }
  otlpMetrics?.start();
  // Event sources start only once the port is ours: nothing half-started on a bad start.
  if (oomEnabled) monitor.start();
  try {
    tree?.start();
  } catch (err) {
    log.error({ err: describe(err) }, 'cgroup tree: the hierarchy cannot be read; the cgroup collector will say so');
  }
  void watch.start(); // arms the watches of the tree's limited cgroups; failures are logged there
  void snapshots.warmUp(); // one capture of memlens itself, not written: the first real one is then as fast as the next
  const addr = server.address();
  log.info(
    { address: typeof addr === 'object' && addr !== null ? `${addr.address}:${addr.port}` : addr, path: cfg.telemetryPath, version: VERSION, tls: web?.tlsEnabled ?? false, basicAuth: (cfg.web.config?.users.size ?? 0) > 0, snapshotApi: cfg.web.enableSnapshotApi },
    'memlens listening',
  );
  return {
    server,
    runner,
    store,
    monitor,
    watch,
    snapshots,
    tree,
    otlp: { metrics: otlpMetrics, logs: otlpLogs },
    recent,
    explainer,
    close: async () => {
      monitor.close();
      watch.close();
      tree?.close();
      await Promise.all([otlpMetrics?.close(), otlpLogs?.close()]);
      await snapshots.close();
      // Stop accepting, let a scrape in flight finish (idle keep-alive connections close now),
      // and cut whatever is still open after SHUTDOWN_GRACE_MS: the whole stop stays under 5 s.
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      kubelet?.close();
      await loop?.close();
    },
  };
}
