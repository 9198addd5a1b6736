// The kubelet's view of its node's pods (GET /pods on the kubelet's port: a core/v1 PodList, the
// same JSON as the API server's), reduced to what memlens names cgroups with: pod uid ->
// namespace, pod name and, per container id, the container's name. Pure: no IO, never throws;
// an item that does not fit is left out and counted, the rest is kept.
//
// Treated as hostile input: names must be what Kubernetes allows (DNS-1123 labels/subdomains,
// apimachinery/pkg/util/validation), ids must have the shapes kubeIds reads from cgroup paths,
// and the counts are capped, so label values stay few and short whatever the endpoint answers.
import { z } from 'zod';
import { ParseError } from '../errors.js';
import type { Parsed } from '../procfs/common.js';

export interface PodNames {
  namespace: string;
  pod: string;
  /** Container id (64 hex, runtime prefix removed) -> container name. */
  containers: Map<string, string>;
}

/** Pod uid (as kubeIds gives it: dashed UUID, or 32 hex for a static pod) -> names. */
export type PodIndex = Map<string, PodNames>;

/** A node runs at most --max-pods (110 by default, a few hundred in practice). */
export const MAX_PODS = 2000;
/** Containers, init containers, ephemeral containers and their previous instances, per pod. */
export const MAX_CONTAINERS_PER_POD = 200;

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const UID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/;
// containerStatuses[].containerID is `<runtime>://<id>`: containerd://, cri-o://, docker://.
const CONTAINER_ID = /^[a-z0-9-]{1,32}:\/\/([0-9a-f]{64})$/;

const status = z.object({
  name: z.string(),
  containerID: z.string().optional(),
  lastState: z.object({ terminated: z.object({ containerID: z.string().optional() }).optional() }).optional(),
});
const pod = z.object({
  metadata: z.object({ name: z.string(), namespace: z.string(), uid: z.string() }),
  status: z.object({
    containerStatuses: z.array(status).optional(),
    initContainerStatuses: z.array(status).optional(),
    ephemeralContainerStatuses: z.array(status).optional(),
  }).optional(),
});
const podList = z.object({ items: z.array(z.unknown()) });

export function parsePodList(text: string, source: string): Parsed<PodIndex> {
  const out: PodIndex = new Map();
  const problems: ParseError[] = [];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    problems.push(new ParseError(`not JSON: ${err instanceof Error ? err.message : String(err)}`, source));
    return { value: out, problems };
  }
  const list = podList.safeParse(json);
  if (!list.success) {
    problems.push(new ParseError('not a PodList (no items array)', source));
    return { value: out, problems };
  }
  const items = list.data.items;
  if (items.length > MAX_PODS) problems.push(new ParseError(`${items.length} pods: only the first ${MAX_PODS} are named`, source));
  for (const [i, raw] of items.slice(0, MAX_PODS).entries()) {
    const p = pod.safeParse(raw);
    if (!p.success) {
      problems.push(new ParseError(`items[${i}]: not a pod (${p.error.issues[0]?.message ?? 'invalid'})`, source));
      continue;
    }
    const { name, namespace, uid } = p.data.metadata;
    if (!DNS_SUBDOMAIN.test(name) || !DNS_LABEL.test(namespace) || !UID.test(uid)) {
      problems.push(new ParseError(`items[${i}]: name, namespace or uid not as Kubernetes allows`, source));
      continue;
    }
    const containers = new Map<string, string>();
    const st = p.data.status;
    for (const s of [...(st?.containerStatuses ?? []), ...(st?.initContainerStatuses ?? []), ...(st?.ephemeralContainerStatuses ?? [])]) {
      if (!DNS_LABEL.test(s.name)) continue;
      for (const ref of [s.containerID, s.lastState?.terminated?.containerID]) {
        const id = ref === undefined ? undefined : CONTAINER_ID.exec(ref)?.[1];
        if (id !== undefined && containers.size < MAX_CONTAINERS_PER_POD) containers.set(id, s.name);
      }
    }
    out.set(uid, { namespace, pod: name, containers });
  }
  return { value: out, problems };
}
