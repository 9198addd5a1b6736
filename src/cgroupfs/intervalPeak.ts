// memlens_cgroup_memory_interval_peak_bytes: the highest usage since the previous collection.
// cgroup v2 memory.peak, read through an fd memlens holds open per cgroup; writing to that fd
// resets the watermark for reads through the same fd only, so other readers of memory.peak are
// not disturbed (David Finkel's per-fd reset, merged for Linux 6.12; Documentation/admin-guide/
// cgroup-v2.rst "memory.peak"). Older kernels answer EINVAL to the write: then the metric is
// absent, said once through a problem, and no fd is kept.
import type { HostFs } from '../host/hostFs.js';
import { describe, errnoCode, isGone } from '../errors.js';
import type { Problem } from '../model/types.js';

export class IntervalPeaks {
  private readonly fds = new Map<string, { fd: number; reset: boolean }>();
  /** undefined until the first reset was tried; false on kernels without the per-fd reset. */
  private supported: boolean | undefined;

  constructor(private readonly maxCgroups = 2000) {}

  /**
   * The peak since the previous call for this cgroup dir, or undefined (first call for the cgroup,
   * unsupported kernel, cgroup gone). Call `sweep` after each collection with the dirs visited.
   */
  read(host: HostFs, dir: string, problems: Problem[]): number | undefined {
    if (this.supported === false) return undefined;
    // Writing "reset" to a plain file (a fixture tree, a copy of /sys) would overwrite it.
    if (this.supported === undefined && !host.isCgroup2(dir)) {
      this.supported = false;
      return undefined;
    }
    let held = this.fds.get(dir);
    try {
      if (held === undefined) {
        if (this.fds.size >= this.maxCgroups) return undefined;
        held = { fd: host.openReadWrite(`${dir}/memory.peak`), reset: false };
        this.fds.set(dir, held);
      }
      // Before the first reset through this fd, a read gives the all-time peak: not an interval.
      const value = held.reset ? Number(host.preadText(held.fd).trim()) : undefined;
      host.writeFd(held.fd, 'reset\n');
      held.reset = true;
      this.supported = true;
      return value !== undefined && Number.isFinite(value) ? value : undefined;
    } catch (err) {
      if (held !== undefined) this.drop(host, dir);
      if (isGone(err)) return undefined; // no memory.peak (before 5.19) or cgroup removed
      if (errnoCode(err) === 'EINVAL' && this.supported === undefined) {
        this.supported = false;
        problems.push({ reason: 'interval_peak_unsupported', message: `memory.peak has no per-fd reset on this kernel (6.12+): ${describe(err)}`, path: `${dir}/memory.peak` });
        this.closeAll(host);
        return undefined;
      }
      problems.push({ reason: 'read', message: describe(err), path: `${dir}/memory.peak` });
      return undefined;
    }
  }

  /** Closes the fds of cgroups not visited in the last collection. */
  sweep(host: HostFs, visited: ReadonlySet<string>): void {
    for (const dir of [...this.fds.keys()]) if (!visited.has(dir)) this.drop(host, dir);
  }

  closeAll(host: HostFs): void {
    for (const dir of [...this.fds.keys()]) this.drop(host, dir);
  }

  get openFds(): number {
    return this.fds.size;
  }

  private drop(host: HostFs, dir: string): void {
    const held = this.fds.get(dir);
    this.fds.delete(dir);
    if (held !== undefined) host.closeFd(held.fd);
  }
}
