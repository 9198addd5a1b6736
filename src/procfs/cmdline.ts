// /proc/cmdline: the kernel's boot parameters (Documentation/admin-guide/kernel-parameters.txt).
// memlens asks one thing of it: whether cgroup v1 accounts kernel memory. `cgroup.memory=nokmem`
// ("Disable kernel memory accounting", 4.6+) leaves memory.kmem.usage_in_bytes in place but at 0,
// so a 0 there would be a wrong number, not an absent one. Pure: no IO, never throws.

/** False when a `cgroup.memory=` parameter lists `nokmem` (options are comma-separated; every occurrence counts). */
export function kernelMemoryAccounted(cmdline: string): boolean {
  for (const word of cmdline.split(/\s+/)) {
    if (!word.startsWith('cgroup.memory=')) continue;
    if (word.slice('cgroup.memory='.length).split(',').includes('nokmem')) return false;
  }
  return true;
}
