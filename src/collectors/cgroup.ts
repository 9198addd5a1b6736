// Per-cgroup memory, v1 or v2, for every cgroup of the live tree (cgroupfs/tree.ts), parents first; each cgroup's
// effective limit is the tree's (the tightest of its own and its ancestors') capped by the host's RAM.
import * as c from '../model/catalog.js';
import type { HostFs } from '../host/hostFs.js';
import type { CollectResult, Labels, MetricDesc } from '../model/types.js';
import { extendLabels, type ExtraLabel } from '../model/labels.js';
import { MemlensError } from '../errors.js';
import { kubeIds } from '../cgroupfs/discover.js';
import type { CgroupNode, CgroupTree } from '../cgroupfs/tree.js';
import { tighter, UNLIMITED, type Limit } from '../cgroupfs/limit.js';
import { MemoryReader } from '../cgroupfs/memory.js';
import { statItemSelector, type StatItemSelector } from '../config/statItems.js';
import { kernelMemoryAccounted } from '../procfs/cmdline.js';
import { IntervalPeaks } from '../cgroupfs/intervalPeak.js';
import { parseMeminfo } from '../procfs/meminfo.js';
import type { Collector } from './collector.js';
import { SampleSink } from './samples.js';
import { YieldPoint } from './yieldPoint.js';

export interface CgroupFilter {
  include: RegExp | undefined;
  exclude: RegExp | undefined;
  maxDepth: number;
  /** memory.stat items to export (--cgroup.stat-items), byte items and event counters alike; all when absent. */
  statItems?: readonly string[];
}

/** A limit's bytes, or undefined when it is absent, unlimited, or (for protections) 0, i.e. none. */
function limitSample(limit: Limit | undefined, zeroIsNone = false): number | undefined {
  if (limit === undefined || limit.unlimited) return undefined;
  return zeroIsNone && limit.bytes === 0 ? undefined : limit.bytes;
}

export function cgroupLabels(path: string): Labels {
  const ids = kubeIds(path);
  const labels: Record<string, string> = { cgroup: path };
  if (ids.podUid !== undefined) labels['pod_uid'] = ids.podUid;
  if (ids.containerId !== undefined) labels['container_id'] = ids.containerId;
  return labels;
}

/**
 * Names (memory.stat items, memory.events events) numbered in the order first seen, each with its label (`item` or
 * `event`) shared by every cgroup's set: the kernel prints a few dozen, so a cgroup's label sets are kept in arrays by
 * number rather than in a Map per cgroup (two Maps per cgroup were ~0.6 MiB at 1000 cgroups, for good:
 * bench/RESULTS.md, "Peak resident memory", session 4).
 */
class NameNumbers {
  private readonly numbers = new Map<string, number>();
  private readonly extras: ExtraLabel[] = [];

  constructor(private readonly key: string) {}

  of(name: string): number {
    let n = this.numbers.get(name);
    if (n === undefined) {
      n = this.numbers.size;
      this.numbers.set(name, n);
      this.extras.push({ key: this.key, value: name });
    }
    return n;
  }

  /** The label of number `n` (from of()). */
  extra(n: number): ExtraLabel {
    return this.extras[n]!;
  }
}

const KINDS: [ExtraLabel, ExtraLabel] = [{ key: 'kind', value: 'some' }, { key: 'kind', value: 'full' }];

/**
 * A cgroup's label sets, made the first time the cgroup is collected and reused by every collection after (a
 * tree node stands for one cgroup for its whole life, and its labels never change): at a thousand cgroups and
 * ~25 series each, no label object is made per scrape, and a sink that formats a label set once per object
 * (sinks/prometheus.ts) formats each once for the cgroup's life. The sets with one more label are made by
 * model/labels.ts's extendLabels: the sink keeps the cgroup's text and the extra label's, not one per set.
 */
class NodeLabels {
  readonly base: Labels;
  /** By the item's or event's number (NameNumbers). */
  private readonly items: (Labels | undefined)[] = [];
  private readonly events: (Labels | undefined)[] = [];
  private kinds: [Labels, Labels] | undefined;

  constructor(path: string) {
    this.base = cgroupLabels(path);
  }

  /** memory.stat items (bytes and event counters alike): `item`, numbered by `names`. */
  item(n: number, names: NameNumbers): Labels {
    let l = this.items[n];
    if (l === undefined) {
      l = extendLabels(this.base, names.extra(n));
      this.items[n] = l;
    }
    return l;
  }

  event(n: number, names: NameNumbers): Labels {
    let l = this.events[n];
    if (l === undefined) {
      l = extendLabels(this.base, names.extra(n));
      this.events[n] = l;
    }
    return l;
  }

  /** Pressure: [some, full]. */
  pressure(): [Labels, Labels] {
    this.kinds ??= [extendLabels(this.base, KINDS[0]), extendLabels(this.base, KINDS[1])];
    return this.kinds;
  }
}

export const CGROUP_METRICS: readonly MetricDesc[] = [
  c.cgroupUsage, c.cgroupLimit, c.cgroupEffectiveLimit, c.cgroupWorkingSet, c.cgroupStat, c.cgroupPeak, c.cgroupSwap,
  c.cgroupEvents, c.cgroupOomKills, c.cgroupUnderOom, c.cgroupPressure, c.cgroupProcesses, c.cgroupIntervalPeak,
  c.cgroupStatEvents, c.cgroupHigh, c.cgroupLow, c.cgroupMin, c.cgroupSoftLimit, c.cgroupSwapLimit,
];

export class CgroupCollector implements Collector {
  readonly name = 'cgroup';
  readonly metrics = CGROUP_METRICS;

  private readonly intervalPeaks = new IntervalPeaks();
  private readonly statSelected: StatItemSelector;
  private readonly labels = new WeakMap<CgroupNode, NodeLabels>();
  private readonly itemNumbers = new NameNumbers('item');
  private readonly eventNumbers = new NameNumbers('event');

  constructor(
    /** The live cgroup tree; undefined when the host has no memory cgroup hierarchy. */
    private readonly tree: CgroupTree | undefined,
    private readonly filter: CgroupFilter,
    /** Receives each collection's local oom_kill counter per cgroup (the OOM monitor's fallback). */
    private readonly onOomCounts?: (counts: Map<string, number>) => void,
  ) {
    this.statSelected = statItemSelector(filter.statItems ?? ['all']);
  }

  async collect(host: HostFs, signal: AbortSignal): Promise<CollectResult> {
    const tree = this.tree;
    if (tree === undefined) throw new MemlensError('MEMLENS_ERR_UNSUPPORTED', 'no cgroup memory controller found in mountinfo');
    const mode = tree.mode;
    const out = new SampleSink();
    const yp = new YieldPoint(signal);
    const memPath = host.proc('meminfo');
    const hostRam = parseMeminfo(host.tryRead(memPath) ?? '', memPath).value.totalBytes;
    const hostLimit: Limit = hostRam === undefined ? UNLIMITED : { unlimited: false, bytes: hostRam };
    host.list(host.hostPath(tree.hierarchy.mountPoint)); // the hierarchy itself unreadable fails the area
    tree.ensureFresh(); // a tree that inotify does not keep current is rescanned first
    const oomCounts = new Map<string, number>();
    const peakDirs = new Set<string>();
    // v1 booted with cgroup.memory=nokmem keeps memory.kmem.usage_in_bytes at 0: not a number to export.
    const kmemAccounted = mode === 'v1' ? kernelMemoryAccounted(host.tryRead(host.proc('cmdline')) ?? '') : false;

    const reader = new MemoryReader(host, mode, kmemAccounted);

    for (const node of tree.nodes()) {
      if (yp.due()) await yp.turn();
      if (!node.present || node.depth > this.filter.maxDepth) continue;
      const { path, dir } = node;
      const cg = reader.read(dir, out.problems);
      if (cg.oomKillsLocal !== undefined) oomCounts.set(path, cg.oomKillsLocal);
      const own = cg.limit ?? UNLIMITED;
      // v1: the kernel's own hierarchical_memory_limit when memory.stat has it; else (and on v2) the tree's.
      const effective = tighter(mode === 'v1' ? cg.hierarchicalLimit ?? tighter(node.effectiveLimit, own) : tighter(node.effectiveLimit, own), hostLimit);
      const exported = (this.filter.include?.test(path) ?? true) && !(this.filter.exclude?.test(path) ?? false);
      if (exported && (cg.usageBytes !== undefined || cg.processes !== undefined)) {
        let nl = this.labels.get(node);
        if (nl === undefined) {
          nl = new NodeLabels(path);
          this.labels.set(node, nl);
        }
        const l = nl.base;
        out.add(c.cgroupUsage, l, cg.usageBytes);
        if (cg.limit !== undefined && !cg.limit.unlimited) out.add(c.cgroupLimit, l, cg.limit.bytes);
        // The root cgroup has no usage on v2: then there is no limit to speak of either.
        if (cg.usageBytes !== undefined && !effective.unlimited) out.add(c.cgroupEffectiveLimit, l, effective.bytes);
        if (cg.usageBytes !== undefined && cg.inactiveFileBytes !== undefined) {
          out.add(c.cgroupWorkingSet, l, Math.max(0, cg.usageBytes - cg.inactiveFileBytes));
        }
        const { stat, statEvents, events } = cg;
        for (let i = 0; i < stat.size; i++) {
          const item = stat.keyAt(i);
          if (this.statSelected(item)) out.add(c.cgroupStat, nl.item(this.itemNumbers.of(item), this.itemNumbers), stat.valueAt(i));
        }
        for (let i = 0; i < statEvents.size; i++) {
          const item = statEvents.keyAt(i);
          if (this.statSelected(item)) out.add(c.cgroupStatEvents, nl.item(this.itemNumbers.of(item), this.itemNumbers), statEvents.valueAt(i));
        }
        out.add(c.cgroupHigh, l, limitSample(cg.high));
        out.add(c.cgroupLow, l, limitSample(cg.low, true));
        out.add(c.cgroupMin, l, limitSample(cg.min, true));
        out.add(c.cgroupSoftLimit, l, limitSample(cg.softLimit));
        out.add(c.cgroupSwapLimit, l, limitSample(cg.swapLimit));
        out.add(c.cgroupPeak, l, cg.peakBytes);
        out.add(c.cgroupSwap, l, cg.swapBytes);
        for (let i = 0; i < events.size; i++) {
          const event = events.keyAt(i);
          out.add(c.cgroupEvents, nl.event(this.eventNumbers.of(event), this.eventNumbers), events.valueAt(i));
        }
        out.add(c.cgroupOomKills, l, cg.oomKills);
        out.add(c.cgroupUnderOom, l, cg.underOom);
        if (cg.pressure !== undefined) {
          const [some, full] = nl.pressure();
          out.add(c.cgroupPressure, some, cg.pressure.some?.totalSeconds);
          out.add(c.cgroupPressure, full, cg.pressure.full?.totalSeconds);
        }
        out.add(c.cgroupProcesses, l, cg.processes);
        // v2 only, and not the root (it has no memory.peak).
        if (mode === 'v2' && node.depth > 0) {
          peakDirs.add(dir);
          out.add(c.cgroupIntervalPeak, l, this.intervalPeaks.read(host, dir, out.problems));
        }
      }
    }
    this.intervalPeaks.sweep(host, peakDirs);
    this.onOomCounts?.(oomCounts);
    return out.result();
  }
}
