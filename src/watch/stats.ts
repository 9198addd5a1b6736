// What the watcher counts, as samples for the runner: crossings per {cgroup, threshold} and the notification
// latency histogram. Counters outlive the cgroup's watch (a counter must not go backwards while it exists), bounded
// by a cap on label sets: past it, the least recently incremented label set is dropped (a reset to Prometheus).
import * as c from '../model/catalog.js';
import type { MetricDesc, Sample } from '../model/types.js';

export const MAX_CROSSING_LABEL_SETS = 5000;

/** A cumulative histogram over fixed bucket bounds (seconds). */
export class HistogramState {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(readonly bounds: readonly number[]) {
    this.counts = bounds.map(() => 0);
  }

  observe(v: number): void {
    if (!Number.isFinite(v)) return;
    this.sum += v;
    this.count++;
    // Cumulative buckets: every bound at or above v.
    for (let i = 0; i < this.bounds.length; i++) if (v <= this.bounds[i]!) this.counts[i]!++;
  }

  get observations(): number {
    return this.count;
  }

  sample(desc: MetricDesc): Sample {
    return { desc, labels: {}, value: this.count, histogram: { bucketCounts: [...this.counts], sum: this.sum, count: this.count } };
  }
}

export class WatchStats {
  readonly latency = new HistogramState(c.watchLatency.buckets);
  /** `${cgroup}\0${threshold}` -> count; Map order = least recently incremented first. */
  private readonly crossings = new Map<string, number>();
  labelSetsDropped = 0;
  /** Crossings seen only through the high-water mark, after usage had fallen back (WatchEvent.late). */
  lateCrossings = 0;

  countCrossing(cgroup: string, threshold: number): void {
    const key = `${cgroup}\0${threshold}`;
    const n = (this.crossings.get(key) ?? 0) + 1;
    this.crossings.delete(key);
    this.crossings.set(key, n);
    while (this.crossings.size > MAX_CROSSING_LABEL_SETS) {
      const oldest = this.crossings.keys().next().value;
      if (oldest === undefined) break;
      this.crossings.delete(oldest);
      this.labelSetsDropped++;
    }
  }

  crossingCount(cgroup: string, threshold: number): number {
    return this.crossings.get(`${cgroup}\0${threshold}`) ?? 0;
  }

  samples(): Sample[] {
    const out: Sample[] = [];
    for (const [key, n] of this.crossings) {
      const [cgroup, threshold] = key.split('\0') as [string, string];
      out.push({ desc: c.watchCrossings, labels: { cgroup, threshold }, value: n });
    }
    out.push(this.latency.sample(c.watchLatency));
    out.push({ desc: c.watchLabelSetsDropped, labels: {}, value: this.labelSetsDropped });
    out.push({ desc: c.watchLateCrossings, labels: {}, value: this.lateCrossings });
    return out;
  }
}
