// Every collector memlens has, once: its name (also the `collector` label and the word in
// --collectors.disabled / --collectors.enabled), whether it runs by default, one line of help, the
// metrics it may emit, and how to build it from what main.ts wired. main.ts builds from this list,
// the CLI's help and the README's collector table are written from it, and a test runs every
// collector and fails on a sample whose metric is not in its entry. Plain imports, no side-effect
// registration: adding a collector is adding an entry here.
import type { Config } from '../config/load.js';
import { ConfigError } from '../errors.js';
import type { MemoryHierarchy } from '../cgroupfs/discover.js';
import type { MetricDesc, Sample } from '../model/types.js';
import type { OomStore } from '../oom/store.js';
import type { OomMonitor } from '../oom/monitor.js';
import { CgroupTree } from '../cgroupfs/tree.js';
import { HostFs } from '../host/hostFs.js';
import type { Collector } from './collector.js';
import { PROCESS_METRICS, ProcessCollector } from './process.js';
import { CGROUP_METRICS, CgroupCollector } from './cgroup.js';
import { HOST_METRICS, HostCollector } from './host.js';
import { OOM_METRICS, OomCollector } from './oom.js';
import { SNAPSHOT_METRICS, SnapshotCollector, type SnapshotValues } from './snapshot.js';
import { WATCH_METRICS, WatchCollector } from './watch.js';
import { BUILD_METRICS, BuildInfoCollector } from './build.js';
import { KUBERNETES_METRICS, KubernetesCollector } from './kubernetes.js';
import type { KubeletNames } from '../kubernetes/kubelet.js';

/** What main.ts wired; a collector whose part is not wired (a test, the watch command) is not built. */
export interface CollectorContext {
  cfg: Config;
  hierarchy: MemoryHierarchy | undefined;
  version: string;
  oom?: { store: OomStore; monitor: OomMonitor };
  /** The live cgroup tree (cgroupfs/tree.ts); without one, the cgroup collectors use a static tree of `hierarchy`. */
  tree?: CgroupTree;
  snapshots?: { metricValues(): SnapshotValues };
  watchStats?: { samples(): Sample[] };
  /** Pod names from the kubelet (--kubernetes.kubelet). */
  kubelet?: KubeletNames;
}

export interface CollectorEntry {
  readonly name: string;
  readonly defaultEnabled: boolean;
  readonly help: string;
  readonly metrics: readonly MetricDesc[];
  /** undefined when what it reads is not wired in this context. */
  create(ctx: CollectorContext): Collector | undefined;
}

const staticTrees = new WeakMap<CollectorContext, CgroupTree>();

/** The context's tree, or one static tree of its hierarchy (rescanned before each collection) shared by its collectors. */
function treeOf(ctx: CollectorContext): CgroupTree | undefined {
  if (ctx.tree !== undefined) return ctx.tree;
  if (ctx.hierarchy === undefined) return undefined;
  let t = staticTrees.get(ctx);
  if (t === undefined) {
    t = new CgroupTree({ host: new HostFs(ctx.cfg.procRoot, ctx.cfg.sysRoot), hierarchy: ctx.hierarchy, maxDepth: ctx.cfg.cgroup.maxDepth });
    staticTrees.set(ctx, t);
  }
  return t;
}

export const COLLECTORS: readonly CollectorEntry[] = [
  {
    name: 'process', defaultEnabled: true, metrics: PROCESS_METRICS,
    help: 'Per-process and per-group memory from /proc/PID/status and smaps_rollup.',
    create: (ctx) => new ProcessCollector({ ...ctx.cfg.process, cgroupMode: ctx.hierarchy?.mode ?? 'v2' }),
  },
  {
    name: 'cgroup', defaultEnabled: true, metrics: CGROUP_METRICS,
    help: 'Per-cgroup memory (usage, limits, memory.stat, events, pressure), v1 or v2.',
    create: (ctx) => {
      const monitor = ctx.oom?.monitor;
      return new CgroupCollector(treeOf(ctx), ctx.cfg.cgroup, monitor === undefined ? undefined : (m) => monitor.observeCgroupCounts(m));
    },
  },
  {
    name: 'host', defaultEnabled: true, metrics: HOST_METRICS,
    help: 'Host memory, swap, OOM kills and pressure from /proc/meminfo, vmstat and pressure/memory.',
    create: () => new HostCollector(),
  },
  {
    name: 'oom', defaultEnabled: true, metrics: OOM_METRICS,
    help: 'OOM kills read from /dev/kmsg, kept per cgroup beyond the cgroup\'s life.',
    create: (ctx) => (ctx.oom === undefined ? undefined : new OomCollector(ctx.oom.store, ctx.oom.monitor)),
  },
  {
    name: 'watch', defaultEnabled: true, metrics: WATCH_METRICS,
    help: 'Early-warning threshold crossings and their notification latency (--watch.*).',
    create: (ctx) => (ctx.watchStats === undefined ? undefined : new WatchCollector(ctx.watchStats)),
  },
  {
    name: 'snapshot', defaultEnabled: true, metrics: SNAPSHOT_METRICS,
    help: 'Snapshots taken, their duration, the store, and OOM kills linked to one.',
    create: (ctx) => (ctx.snapshots === undefined ? undefined : new SnapshotCollector(ctx.snapshots)),
  },
  {
    name: 'kubernetes', defaultEnabled: true, metrics: KUBERNETES_METRICS,
    help: 'memlens_cgroup_kubernetes_info: pod and container names of cgroups, from the kubelet (only with --kubernetes.kubelet).',
    create: (ctx) => (ctx.kubelet === undefined ? undefined : new KubernetesCollector(treeOf(ctx), ctx.cfg.cgroup, ctx.kubelet)),
  },
  {
    name: 'build', defaultEnabled: true, metrics: BUILD_METRICS,
    help: 'memlens_build_info: the running version.',
    create: (ctx) => new BuildInfoCollector(ctx.version),
  },
];

/** The collectors a configuration turns on: the default ones, minus --collectors.disabled, plus --collectors.enabled. */
export function enabledCollectors(cfg: Pick<Config, 'disabledCollectors' | 'enabledCollectors'>): CollectorEntry[] {
  const known = COLLECTORS.map((e) => e.name);
  for (const [flag, names] of [['--collectors.disabled', cfg.disabledCollectors], ['--collectors.enabled', cfg.enabledCollectors]] as const) {
    const unknown = names.find((n) => !known.includes(n));
    if (unknown !== undefined) throw new ConfigError(`${flag}: unknown collector ${JSON.stringify(unknown)} (known: ${known.join(', ')})`);
  }
  return COLLECTORS.filter((e) => (e.defaultEnabled || cfg.enabledCollectors.includes(e.name)) && !cfg.disabledCollectors.includes(e.name));
}

export function isEnabled(cfg: Pick<Config, 'disabledCollectors' | 'enabledCollectors'>, name: string): boolean {
  return enabledCollectors(cfg).some((e) => e.name === name);
}

/** Builds every enabled collector whose part is wired, in the registry's order. */
export function buildCollectors(ctx: CollectorContext): Collector[] {
  const out: Collector[] = [];
  for (const e of enabledCollectors(ctx.cfg)) {
    const col = e.create(ctx);
    if (col !== undefined) out.push(col);
  }
  return out;
}

/** The README's collector table (a test keeps it in sync). */
export function collectorsMarkdown(): string {
  const rows = COLLECTORS.map((e) => `| \`${e.name}\` | ${e.defaultEnabled ? 'on' : 'off'} | ${e.help} | ${e.metrics.map((m) => `\`${m.prom}\``).join(', ')} |`);
  return ['| collector | default | what | metrics |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** The collector lines of `memlens --help`. */
export function collectorsHelp(): string[] {
  return COLLECTORS.map((e) => `  ${e.name.padEnd(10)} ${e.defaultEnabled ? 'on ' : 'off'}  ${e.help}`);
}
