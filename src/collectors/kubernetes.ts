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
import type { CgroupTree } from '../cgroupfs/tree.js';
import type { KubeletNames } from '../kubernetes/kubelet.js';
import type { Collector } from './collector.js';
import { cgroupLabels, type CgroupFilter } from './cgroup.js';
import { SampleSink } from './samples.js';
import { YieldPoint } from './yieldPoint.js';

export const KUBERNETES_METRICS: readonly MetricDesc[] = [c.cgroupKubernetesInfo];

export class KubernetesCollector implements Collector {
  readonly name = 'kubernetes';
  readonly metrics = KUBERNETES_METRICS;

  constructor(
    /** The live cgroup tree (cgroupfs/tree.ts); undefined without a memory cgroup hierarchy. */
    private readonly tree: CgroupTree | undefined,
    private readonly filter: CgroupFilter,
    private readonly names: KubeletNames,
    private readonly waitMs = 2000,
  ) {}

  async collect(host: HostFs, signal: AbortSignal): Promise<CollectResult> {
    const tree = this.tree;
    if (tree === undefined) throw new MemlensError('MEMLENS_ERR_UNSUPPORTED', 'no cgroup memory controller found in mountinfo');
    const out = new SampleSink();
    const yp = new YieldPoint(signal);
    const found: Array<[string, KubeIds]> = [];
    host.list(host.hostPath(tree.hierarchy.mountPoint)); // the hierarchy itself unreadable fails the area
    tree.ensureFresh();
    // The same cgroups, filter and depth as the cgroup collector, so every info series has series to join.
    for (const node of tree.nodes()) {
      await yp.maybeYield();
      if (!node.present || node.depth > this.filter.maxDepth) continue;
      const path = node.path;
      const ids = kubeIds(path);
      const exported = (this.filter.include?.test(path) ?? true) && !(this.filter.exclude?.test(path) ?? false);
      if (exported && ids.podUid !== undefined) found.push([path, ids]);
    }

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
