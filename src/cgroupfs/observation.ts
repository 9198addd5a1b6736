// What the watcher ranks its candidates by: a cgroup of the live tree (tree.ts) with a finite effective limit.

/** One cgroup of the live tree with its usage read now (the watcher's reconcile hands these to observe()). */
export interface CgroupObservation {
  /** As /proc/PID/cgroup prints it. */
  path: string;
  /** Its directory under --path.sysfs. */
  dir: string;
  usageBytes: number | undefined;
  /**
   * The limit that applies: the tightest of its own and its ancestors' (capped by the host's RAM); undefined when
   * no cgroup on the way up has a limit (a cgroup bounded only by the machine's RAM has nothing to warn about).
   */
  effectiveLimitBytes: number | undefined;
}
