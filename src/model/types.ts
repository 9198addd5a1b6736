// The model every collector produces and every sink consumes. Sinks see these types only.

export type Kind = 'gauge' | 'counter' | 'histogram';

/** A label and why its number of values stays bounded (STYLE.md section 2). */
export interface LabelDesc {
  readonly name: string;
  readonly bound: string;
}

export interface MetricDesc {
  readonly key: string;
  /** Full Prometheus name. */
  readonly prom: string;
  /** OpenTelemetry name (dotted, unit not in the name). */
  readonly otel: string;
  /** UCUM unit: By, s, 1, {event}, ... */
  readonly unit: string;
  readonly kind: Kind;
  readonly help: string;
  readonly labels: readonly LabelDesc[];
  /** Where the value comes from (v1 / v2 / procfs), for the README table. */
  readonly source: string;
  /** Histograms only: the upper bounds of the buckets, ascending (the +Inf bucket is implied). */
  readonly buckets?: readonly number[];
}

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly desc: MetricDesc;
  /**
   * Never changed once the sample is made: a collector may share one object among series and collections (the
   * cgroup collector keeps a cgroup's for its life), and sinks cache what they make of it per object.
   */
  readonly labels: Labels;
  /** For a histogram: the count of observations (the buckets are in `histogram`). */
  readonly value: number;
  /** Histograms only: cumulative counts per bucket of desc.buckets (same order), plus the sum. */
  readonly histogram?: HistogramValue;
}

export interface HistogramValue {
  /** Cumulative: bucketCounts[i] = observations <= desc.buckets[i]. */
  readonly bucketCounts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/** Something that went wrong for part of an area: counted, success stays 1. */
export interface Problem {
  readonly reason: string;
  readonly path?: string;
  readonly message: string;
}

export interface CollectResult {
  samples: Sample[];
  problems: Problem[];
}

/** How one collector did in one collection. */
export interface CollectorState {
  name: string;
  success: boolean;
  durationSeconds: number;
  error: string | undefined;
}

/** One collector's samples from one collection (the runner's own samples are the group `runner`). */
export interface SampleGroup {
  readonly collector: string;
  readonly samples: readonly Sample[];
}

/** What one collection produced: what every sink translates. */
export interface Snapshot {
  /** Wall-clock ms when the collection started. */
  readonly atMs: number;
  /** Per collector, in collector order, then the runner's own group: a sink can isolate one collector's samples. */
  readonly groups: readonly SampleGroup[];
  /** Every group's samples, flattened in the same order. */
  readonly samples: readonly Sample[];
  readonly collectors: readonly CollectorState[];
}
