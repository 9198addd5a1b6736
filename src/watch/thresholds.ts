// Pure parts of the watcher: which cgroups are watched, and which readings are upward crossings.
// No IO, no timers: the watcher feeds them readings.
import type { CgroupObservation } from '../cgroupfs/observation.js';


export interface WatchSelection {
  include: RegExp | undefined;
  exclude: RegExp | undefined;
  maxCgroups: number;
}

/** Headroom as a fraction of the limit (1 - usage/limit); the smaller, the closer to the OOM killer. */
function headroomRatio(o: CgroupObservation): number {
  if (o.effectiveLimitBytes === undefined || o.effectiveLimitBytes <= 0) return Number.POSITIVE_INFINITY;
  return 1 - (o.usageBytes ?? 0) / o.effectiveLimitBytes;
}

/**
 * The cgroups to watch: those with a usage and an effective limit, matching include and not exclude, at most
 * maxCgroups of them, tightest headroom first (ties: path order, so the choice is stable between collections).
 */
export function selectWatched(all: readonly CgroupObservation[], sel: WatchSelection): CgroupObservation[] {
  const eligible = all.filter(
    (o) =>
      o.usageBytes !== undefined &&
      o.effectiveLimitBytes !== undefined &&
      o.effectiveLimitBytes > 0 &&
      (sel.include?.test(o.path) ?? true) &&
      !(sel.exclude?.test(o.path) ?? false),
  );
  eligible.sort((a, b) => headroomRatio(a) - headroomRatio(b) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return eligible.slice(0, Math.max(0, sel.maxCgroups));
}

/** A threshold as bytes of a limit: floor(fraction x limit), never above the limit. */
export function thresholdBytes(fraction: number, limitBytes: number): number {
  return Math.min(limitBytes, Math.floor(fraction * limitBytes));
}

/**
 * Per-threshold above/below state of one cgroup. A reading at or above a threshold that was below is an upward
 * crossing; a reading below re-arms it, so a ramp down and up again crosses again. The first reading only sets the
 * state (a cgroup already above when the watch starts was not seen crossing).
 */
const NONE: readonly number[] = Object.freeze([]);

export class CrossingTracker {
  private readonly above: boolean[];
  readonly thresholdsBytes: readonly number[];
  /**
   * The band of readings that change nothing: [the highest threshold above, the lowest one below) (-Infinity /
   * Infinity when there is none). A reading inside it is no crossing and re-arms nothing, so update() returns at once
   * without touching the arrays (a poller's reading of an idle cgroup, thousands of times a second).
   */
  private bandLow = Number.NEGATIVE_INFINITY;
  private bandHigh = Number.POSITIVE_INFINITY;

  /** `fractions` ascending; `initialUsageBytes` undefined: every threshold starts below. */
  constructor(
    readonly fractions: readonly number[],
    readonly limitBytes: number,
    initialUsageBytes: number | undefined,
  ) {
    this.thresholdsBytes = fractions.map((f) => thresholdBytes(f, limitBytes));
    this.above = this.thresholdsBytes.map((t) => initialUsageBytes !== undefined && initialUsageBytes >= t);
    this.setBand();
  }

  /** The fractions crossed upward by this reading, ascending (one shared empty array when none: pollers call this thousands of times a second). */
  update(usageBytes: number): readonly number[] {
    if (usageBytes >= this.bandLow && usageBytes < this.bandHigh) return NONE;
    let crossed: number[] | undefined;
    const ts = this.thresholdsBytes;
    for (let i = 0; i < ts.length; i++) {
      const nowAbove = usageBytes >= ts[i]!;
      if (nowAbove && !this.above[i]) (crossed ??= []).push(this.fractions[i]!);
      this.above[i] = nowAbove;
    }
    this.setBand();
    return crossed ?? NONE;
  }

  /**
   * A reading together with a high-water mark reached after the previous reading and before this one (v1
   * memory.max_usage_in_bytes when it moved; undefined when it did not): the mark is taken as a reading of its own,
   * then the reading. Returns the fractions crossed upward, ascending, each `late` when the reading is already back
   * below it (the crossing is known from the mark alone). A mark never makes a crossing of a threshold the previous
   * reading was already above, nor of one the mark stays below.
   */
  updateWithPeak(peakBytes: number | undefined, usageBytes: number): Array<{ fraction: number; late: boolean }> {
    const out: Array<{ fraction: number; late: boolean }> = [];
    if (peakBytes !== undefined) {
      for (const fraction of this.update(peakBytes)) out.push({ fraction, late: usageBytes < this.thresholdsBytes[this.fractions.indexOf(fraction)]! });
    }
    for (const fraction of this.update(usageBytes)) out.push({ fraction, late: false });
    return out;
  }

  /**
   * The lowest threshold (bytes) not yet crossed, i.e. below which the last reading lies; Infinity when every one is
   * crossed. After update(u) this is the first threshold above u: the next one a poller must not miss.
   */
  get nextBytes(): number {
    return this.bandHigh;
  }

  private setBand(): void {
    let low = Number.NEGATIVE_INFINITY;
    let high = Number.POSITIVE_INFINITY;
    const ts = this.thresholdsBytes;
    for (let i = ts.length - 1; i >= 0; i--) {
      if (this.above[i]) {
        if (ts[i]! > low) low = ts[i]!;
      } else if (ts[i]! < high) high = ts[i]!;
    }
    this.bandLow = low;
    this.bandHigh = high;
  }

  isAbove(fraction: number): boolean {
    const i = this.fractions.indexOf(fraction);
    return i >= 0 && this.above[i] === true;
  }
}

/** memory.events deltas worth an event: the counters that mean the cgroup is at its limit. */
export const V2_EVENT_KEYS = ['high', 'max', 'oom', 'oom_kill'] as const;

/** The keys of `next` that grew since `prev` (a counter that went backwards or first seen: no delta). */
export function counterDeltas(prev: ReadonlyMap<string, number> | undefined, next: ReadonlyMap<string, number>, keys: readonly string[]): Array<[string, number]> {
  if (prev === undefined) return [];
  const out: Array<[string, number]> = [];
  for (const k of keys) {
    const a = prev.get(k);
    const b = next.get(k);
    if (a !== undefined && b !== undefined && b > a) out.push([k, b - a]);
  }
  return out;
}
