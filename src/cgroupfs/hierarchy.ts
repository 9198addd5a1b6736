// The memory cgroup hierarchy as this host mounts it, read through HostFs (the IO beside the pure
// parsers of mountinfo and cgroup.controllers).
import type { HostFs } from '../host/hostFs.js';
import { MemlensError, describe } from '../errors.js';
import { parseMountinfo } from '../procfs/mountinfo.js';
import { findMemoryHierarchy, type MemoryHierarchy } from './discover.js';

/** v1, v2, or none (undefined). Throws a configuration error when procfs is unreadable (--path.procfs is wrong). */
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
