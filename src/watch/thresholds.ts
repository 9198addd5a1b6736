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

  /** `fractions` ascending; `initialUsageBytes` undefined: every threshold starts below. */
  constructor(
    readonly fractions: readonly number[],
    readonly limitBytes: number,
    initialUsageBytes: number | undefined,
  ) {
    this.thresholdsBytes = fractions.map((f) => thresholdBytes(f, limitBytes));
    this.above = this.thresholdsBytes.map((t) => initialUsageBytes !== undefined && initialUsageBytes >= t);
  }

  /** The fractions crossed upward by this reading, ascending (one shared empty array when none: pollers call this thousands of times a second). */
  update(usageBytes: number): readonly number[] {
    let crossed: number[] | undefined;
    const ts = this.thresholdsBytes;
    for (let i = 0; i < ts.length; i++) {
      const nowAbove = usageBytes >= ts[i]!;
      if (nowAbove && !this.above[i]) (crossed ??= []).push(this.fractions[i]!);
      this.above[i] = nowAbove;
    }
    return crossed ?? NONE;
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
