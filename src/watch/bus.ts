// The in-process event bus of the early-warning watcher: every upward threshold crossing and every kernel memory
// event of a watched cgroup is published here once. Subscribers (the snapshot taker, `memlens watch`, the
// /api/v1/events route) get the events synchronously, in order; a bounded list of recent events is kept for the API.
//
// This is a stable API: other modules depend on WatchEvent and WatchBus.on/emit/recent.

/**
 * Where an event came from:
 * - `v1-threshold`: a cgroup v1 usage threshold eventfd (cgroup.event_control on memory.usage_in_bytes);
 * - `v1-oom`: the cgroup v1 memory.oom_control eventfd (the cgroup hit OOM);
 * - `v1-poll`: memory.usage_in_bytes polled, when cgroup.event_control could not be written (no write access to cgroupfs);
 * - `v2-poll`: memory.current polled adaptively (watch/pollSchedule.ts);
 * - `v2-events`: inotify on memory.events (a high, max, oom or oom_kill counter moved);
 * - `psi`: a PSI trigger on the cgroup's memory.pressure fired.
 */
export type WatchSource = 'v1-threshold' | 'v1-oom' | 'v1-poll' | 'v2-poll' | 'v2-events' | 'psi';

export interface WatchEvent {
  /** Increasing within this process, from 1: a subscriber can tell events apart and order them. */
  readonly id: number;
  /** Wall-clock ms when the event was handled (published). */
  readonly timeMs: number;
  /** The cgroup path as /proc/PID/cgroup prints it. */
  readonly cgroup: string;
  readonly source: WatchSource;
  /**
   * For usage crossings (v1-threshold, v1-poll, v2-poll): the fraction of the effective limit that was crossed
   * upward (0.9). null for kernel events (v1-oom, v2-events, psi): `event` says what happened.
   */
  readonly threshold: number | null;
  /** Usage read when the notification was handled (v1 memory.usage_in_bytes, v2 memory.current); null if unreadable. */
  readonly usageBytes: number | null;
  /**
   * Usage crossings only, v1 eventfds: true when usage had already fallen back below the threshold by the time memlens
   * read it (the notification was handled late: typically after the OOM kill freed the memory), and the crossing is
   * known from the kernel's high-water mark instead: memory.max_usage_in_bytes grew past the threshold since the
   * previous reading, which was below it. `peakBytes` is that mark. Absent otherwise.
   */
  readonly late?: true;
  /** With `late`: memory.max_usage_in_bytes as read, at or above the threshold. */
  readonly peakBytes?: number;
  /** The effective limit the thresholds are fractions of. */
  readonly limitBytes: number | null;
  /** Kernel events only: `oom` (v1 oom_control signal or v2 memory.events oom), `oom_kill`, `max`, `high`, `psi_some`. */
  readonly event?: string;
  /** How much the kernel counter moved (v2-events), or the eventfd count (v1). */
  readonly count?: number;
  /** From the notification reaching memlens to this event being published (see memlens_watch_notification_latency_seconds). */
  readonly latencySeconds: number;
}

/** What the publisher supplies; the bus assigns the id. */
export type WatchEventInput = Omit<WatchEvent, 'id'>;

export type WatchListener = (ev: WatchEvent) => void;

export interface RecentQuery {
  cgroup?: string | undefined;
  /** Only events at or after this wall-clock ms. */
  sinceMs?: number | undefined;
  /** Most recent first, at most this many. */
  limit?: number | undefined;
}

export interface WatchBusOptions {
  /** How many recent events are kept for recent() (default 1000). */
  recentMax?: number;
  /** Receives exceptions thrown by listeners (default: rethrown on nextTick, after every listener ran). */
  onListenerError?: (err: unknown) => void;
}

export class WatchBus {
  private readonly listeners = new Set<WatchListener>();
  private readonly ring: WatchEvent[] = [];
  private readonly recentMax: number;
  private readonly onListenerError: ((err: unknown) => void) | undefined;
  private nextId = 1;

  constructor(opts: WatchBusOptions = {}) {
    this.recentMax = Math.max(1, Math.floor(opts.recentMax ?? 1000));
    this.onListenerError = opts.onListenerError;
  }

  /** Subscribes; returns the function that unsubscribes. A listener added during an emit sees the next event. */
  on(listener: WatchListener): () => void {
    const wrapped: WatchListener = (ev) => listener(ev);
    this.listeners.add(wrapped);
    return () => {
      this.listeners.delete(wrapped);
    };
  }

  /** Publishes: assigns the id, keeps the event in the recent list, calls every listener in subscription order. */
  emit(input: WatchEventInput): WatchEvent {
    const ev: WatchEvent = Object.freeze({ id: this.nextId++, ...input });
    this.ring.push(ev);
    if (this.ring.length > this.recentMax) this.ring.splice(0, this.ring.length - this.recentMax);
    for (const l of [...this.listeners]) {
      try {
        l(ev);
      } catch (err) {
        if (this.onListenerError !== undefined) this.onListenerError(err);
        else
          process.nextTick(() => {
            throw err;
          });
      }
    }
    return ev;
  }

  /** Recent events, newest first, filtered. */
  recent(q: RecentQuery = {}): WatchEvent[] {
    const out: WatchEvent[] = [];
    const limit = q.limit ?? this.recentMax;
    for (let i = this.ring.length - 1; i >= 0 && out.length < limit; i--) {
      const ev = this.ring[i]!;
      if (q.sinceMs !== undefined && ev.timeMs < q.sinceMs) continue;
      if (q.cgroup !== undefined && ev.cgroup !== q.cgroup) continue;
      out.push(ev);
    }
    return out;
  }
}
