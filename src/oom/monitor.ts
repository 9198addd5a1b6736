// Follows the kernel log, turns OOM reports into records in the store, logs each kill as one
// JSON line. Without /dev/kmsg it counts kills from the cgroups' own oom_kill counters.
import type { Logger } from '../log.js';
import { KmsgFollower, type KmsgState } from '../kmsg/source.js';
import { OomReportParser } from '../kmsg/oomReport.js';
import type { KernelEventLoop } from '../kernel/eventLoop.js';
import type { OomStore } from './store.js';

export interface OomMonitorOptions {
  kmsgPath: string;
  loop: KernelEventLoop | undefined;
  store: OomStore;
  log: Logger;
  /** Wall-clock ms at boot: /dev/kmsg stamps records in monotonic microseconds. */
  bootTimeMs?: number;
}

/** Boot time from the monotonic clock, taken once. */
export function bootTimeMs(): number {
  return Date.now() - Number(process.hrtime.bigint() / 1_000_000n);
}

const MAX_REMEMBERED_CGROUPS = 20_000;

export class OomMonitor {
  private readonly follower: KmsgFollower;
  private readonly parser = new OomReportParser();
  private readonly bootMs: number;
  private readonly prevCounts = new Map<string, number>();
  private loggedDown = false;

  constructor(private readonly opts: OomMonitorOptions) {
    this.bootMs = opts.bootTimeMs ?? bootTimeMs();
    this.follower = new KmsgFollower({
      path: opts.kmsgPath,
      loop: opts.loop,
      onRecord: (rec, beforeStart) => {
        for (const kill of this.parser.push(rec)) {
          const timeMs = kill.usecMonotonic === undefined ? Date.now() : this.bootMs + kill.usecMonotonic / 1000;
          const r = this.opts.store.addFromKmsg(kill, timeMs, beforeStart);
          this.opts.log.warn({ event: 'oom_kill', oom: r }, `OOM kill: pid ${r.victim.pid} (${r.victim.comm}) in ${r.cgroup ?? '?'}`);
        }
      },
    });
  }

  get state(): KmsgState {
    return this.follower.state;
  }

  start(): void {
    this.follower.start();
    if (!this.follower.state.up) this.logDown();
  }

  close(): void {
    this.follower.close();
  }

  /**
   * Each collection's per-cgroup oom_kill counters (local to the cgroup: v1 memory.oom_control,
   * v2 memory.events.local). Only while /dev/kmsg is down are their increases counted as kills.
   */
  observeCgroupCounts(counts: ReadonlyMap<string, number>, nowMs = Date.now()): void {
    const down = !this.follower.state.up;
    if (down) this.logDown();
    for (const [cgroup, n] of counts) {
      const prev = this.prevCounts.get(cgroup);
      // First sight of a cgroup while down: kills it already had count too (a restarted exporter
      // still shows them). A count below the last one is a new cgroup under the same path.
      const delta = prev === undefined || n < prev ? n : n - prev;
      if (down && delta > 0) this.opts.store.addFromCounter(cgroup, delta, nowMs);
      this.prevCounts.delete(cgroup); // re-insert: the map stays in least-recently-seen order
      this.prevCounts.set(cgroup, n);
    }
    // Cgroups missing from one collection keep their last count (a cgroup that could not be read
    // once must not be counted twice); the least recently seen are forgotten past the bound.
    for (const cgroup of this.prevCounts.keys()) {
      if (this.prevCounts.size <= MAX_REMEMBERED_CGROUPS) break;
      this.prevCounts.delete(cgroup);
    }
  }

  private logDown(): void {
    if (this.loggedDown) return;
    this.loggedDown = true;
    this.opts.log.warn({ source: 'kmsg', reason: this.follower.state.reason }, 'kernel log unreadable: OOM kills are counted from cgroup counters, without victim details');
  }
}
