// memlens_cgroup_kubernetes_info: one series per cgroup whose path carries a pod uid the kubelet
// knows, with the pod's namespace and name and the container's name. The ids come from the path
// (cgroupfs/kubePath.ts); the names from the kubelet's cache (kubernetes/kubelet.ts), refreshed
// when a pod uid or container id it lacks shows up. The kubelet down or slow costs names, never
// the scrape: the request is awaited at most waitMs (it goes on in the background), its failure is
// a problem (memlens_collect_problems_total{collector="kubernetes",reason="kubelet"}).
import * as c from '../model/catalog.js';
import type { HostFs } from '../host/hostFs.js';
import type { CollectResult, MetricDesc } from '../model/types.js';
import { MemlensError } from '../errors.js';
import { kubeIds, type KubeIds } from '../cgroupfs/kubePath.js';
import type { MemoryHierarchy } from '../cgroupfs/discover.js';
import type { KubeletNames } from '../kubernetes/kubelet.js';
import type { Collector } from './collector.js';
import { cgroupLabels, joinCgroup, type CgroupFilter } from './cgroup.js';
import { SampleSink } from './samples.js';
import { YieldPoint } from './yieldPoint.js';

export const KUBERNETES_METRICS: readonly MetricDesc[] = [c.cgroupKubernetesInfo];

export class KubernetesCollector implements Collector {
  readonly name = 'kubernetes';
  readonly metrics = KUBERNETES_METRICS;

  constructor(
    private readonly hierarchy: MemoryHierarchy | undefined,
    private readonly filter: CgroupFilter,
    private readonly names: KubeletNames,
    private readonly waitMs = 2000,
  ) {}

  async collect(host: HostFs, signal: AbortSignal): Promise<CollectResult> {
    const h = this.hierarchy;
    if (h === undefined) throw new MemlensError('MEMLENS_ERR_UNSUPPORTED', 'no cgroup memory controller found in mountinfo');
    const out = new SampleSink();
    const yp = new YieldPoint(signal);
    const base = host.hostPath(h.mountPoint);
    const found: Array<[string, KubeIds]> = [];
    // The same cgroups, filter and depth as the cgroup collector, so every info series has series to join.
    const visit = async (rel: string, depth: number): Promise<void> => {
      await yp.maybeYield();
      const path = joinCgroup(h.root, rel);
      const ids = kubeIds(path);
      const exported = (this.filter.include?.test(path) ?? true) && !(this.filter.exclude?.test(path) ?? false);
      if (exported && ids.podUid !== undefined) found.push([path, ids]);
      if (depth >= this.filter.maxDepth) return;
      const dir = rel === '' ? base : `${base}/${rel}`;
      for (const child of host.subdirs(dir).sort()) await visit(rel === '' ? child : `${rel}/${child}`, depth + 1);
    };
    host.list(base); // the hierarchy itself unreadable fails the area
    await visit('', 0);

    const refresh = this.names.refreshFor(found.map(([, ids]) => ids));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([refresh, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.waitMs)))]);
    clearTimeout(timer);

    for (const [path, ids] of found) {
      const n = this.names.lookup(ids.podUid, ids.containerId);
      if (n === undefined) continue;
      const labels: Record<string, string> = { ...cgroupLabels(path), namespace: n.namespace, pod: n.pod };
      if (n.container !== undefined) labels['container'] = n.container;
      out.add(c.cgroupKubernetesInfo, labels, 1);
    }
    for (const p of this.names.drainProblems()) out.problems.push(p);
    return out.result();
  }
}
