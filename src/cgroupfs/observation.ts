// What a walk of the memory hierarchy hands to whoever watches it (the cgroup collector to the watcher).

/** One cgroup as the last collection saw it (handed over by the cgroup collector's onCgroups hook). */
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
