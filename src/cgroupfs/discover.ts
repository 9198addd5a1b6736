// Where the memory controller lives, from /proc/self/mountinfo:
// - v1: a `cgroup` mount whose super options include `memory`;
// - v2: a `cgroup2` mount whose cgroup.controllers lists `memory`;
// - hybrid (systemd's, and this project's test machine): v2 mounted at /sys/fs/cgroup/unified
//   without the memory controller, v1 memory at /sys/fs/cgroup/memory: v1 is the one to read.
import type { Mount } from '../procfs/mountinfo.js';

export type CgroupMode = 'v1' | 'v2';

export interface MemoryHierarchy {
  mode: CgroupMode;
  /** Mount point as the host sees it (before mapping under --path.sysfs). */
  mountPoint: string;
  /** The mount's root inside the hierarchy: `/` on the host, the container's cgroup in a cgroupns. */
  root: string;
}

export function findMemoryHierarchy(
  mounts: readonly Mount[],
  v2Controllers: (mountPoint: string) => string | undefined,
): MemoryHierarchy | undefined {
  const v1 = mounts.find((m) => m.fsType === 'cgroup' && m.superOptions.includes('memory'));
  if (v1 !== undefined) return { mode: 'v1', mountPoint: v1.mountPoint, root: v1.root };
  for (const m of mounts) {
    if (m.fsType !== 'cgroup2') continue;
    const controllers = v2Controllers(m.mountPoint);
    if (controllers !== undefined && controllers.split(/\s+/).includes('memory')) {
      return { mode: 'v2', mountPoint: m.mountPoint, root: m.root };
    }
  }
  return undefined;
}

// kubeIds moved to kubePath.ts (the path shapes of each runtime and driver, documented there).
export { kubeIds } from './kubePath.js';
