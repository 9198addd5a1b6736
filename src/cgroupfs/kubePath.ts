// Kubernetes pod uids and container runtime ids carried by cgroup paths. Pure: no IO, never
// throws. The shapes, with where each comes from:
//
// kubelet, cgroupfs driver (pkg/kubelet/cm/cgroup_manager_linux.go; same on v1 and v2):
//   /kubepods/pod<uid>/<ctr>                       Guaranteed QoS
//   /kubepods/burstable/pod<uid>/<ctr>             Burstable (besteffort alike)
// kubelet, systemd driver (the same names escaped for systemd: `-` in the uid becomes `_`,
// each level a slice that repeats its parents' names):
//   /kubepods.slice/kubepods-pod<uid_>.slice/<ctr>
//   /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/<ctr>
// kind and other nested kubelets put the same tree under a prefix (/kubelet.slice/kubelet-kubepods.slice/...).
//
// <ctr>, the container's own cgroup, as the runtime names it:
//   containerd, cgroupfs: <64 hex>        systemd: cri-containerd-<64 hex>.scope
//   CRI-O,      cgroupfs: crio-<64 hex>   systemd: crio-<64 hex>.scope   (its conmon: crio-conmon-<id>[.scope], not a container)
//   Docker (dockershim / cri-dockerd), cgroupfs: <64 hex>   systemd: docker-<64 hex>.scope
// Outside Kubernetes: /docker/<64 hex>, /system.slice/docker-<64 hex>.scope,
// /machine.slice/libpod-<64 hex>.scope (podman; its conmon: libpod-conmon-<id>.scope).
//
// The pod uid is a UUID for API pods, and 32 hex digits (an md5 of the manifest,
// pkg/kubelet/config/common.go) for static pods read from files by the kubelet.

export interface KubeIds {
  podUid?: string;
  containerId?: string;
}

const UUID = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}';
// `pod` starts a component or follows the QoS prefix's `-`; the uid ends it (or `.slice` does).
const POD = new RegExp(`^(?:[a-z0-9_-]*-)?pod(${UUID}|[0-9a-f]{32})(?:\\.slice)?$`);
const CONTAINER = /^(?:(?:cri-containerd|crio|docker|libpod)-)?([0-9a-f]{64})(?:\.scope)?$/;

/** Kubernetes and container runtime identifiers carried by a cgroup path, if any. */
export function kubeIds(path: string): KubeIds {
  const out: KubeIds = {};
  const parts = path.split('/');
  let podAt = -1;
  for (let i = 0; i < parts.length; i++) {
    const m = POD.exec(parts[i] ?? '');
    if (m?.[1] !== undefined) {
      out.podUid = m[1].replace(/_/g, '-');
      podAt = i;
    }
  }
  // Under a pod: its first container-shaped component (a child of a container cgroup is still
  // that container's). Elsewhere: the last component only, so a 64-hex directory name deep in an
  // unrelated tree is not taken for a container.
  const from = podAt >= 0 ? podAt + 1 : parts.length - 1;
  for (let i = from; i < parts.length; i++) {
    const m = CONTAINER.exec(parts[i] ?? '');
    if (m?.[1] !== undefined) {
      out.containerId = m[1];
      break;
    }
  }
  return out;
}
