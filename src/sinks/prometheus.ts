// The Prometheus sink: hands a snapshot's samples to prom-client and renders the exposition.
// One Registry per format: prom-client renames counters in place while rendering OpenMetrics
// (registry.js standardizeCounterName), so the two formats cannot share metric objects.
//
// The metrics are collect-time objects (the form prom-client's Registry accepts besides its own
// classes: name, help, type and get()): each holds the samples of the snapshot being rendered, as
// they are. Measured at 1000 cgroups (bench/RESULTS.md, cgroup scale), Gauge.set per series (a
// label hash per call) after a reset() of every metric cost more than reading the cgroup files;
// the exposition text is still written by prom-client, so it is byte for byte what it was.
import { Registry, collectDefaultMetrics, type Metric, type RegistryContentType } from 'prom-client';
import type { Labels, MetricDesc, Sample } from '../model/types.js';

interface ExpoValue {
  metricName?: string;
  labels: Readonly<Record<string, string | number>>;
  value: number;
}

/** One metric family of the snapshot being rendered, in the shape prom-client's Registry renders. */
class SnapshotMetric {
  readonly aggregator = 'sum';
  values: ExpoValue[] = [];

  constructor(
    /** Not readonly: the Registry rewrites a counter's name while rendering OpenMetrics. */
    public name: string,
    readonly help: string,
    readonly type: 'gauge' | 'counter' | 'histogram',
    private readonly buckets: readonly number[] = [],
  ) {}

  /** A sample is its own exposition value: prom-client reads labels and value, nothing is copied. */
  add(s: Sample): void {
    if (s.histogram === undefined) {
      this.values.push(s);
      return;
    }
    // A histogram whose state lives elsewhere (the watcher keeps it) arrives as one sample.
    const labels = s.labels;
    const { bucketCounts, sum, count } = s.histogram;
    this.buckets.forEach((le, i) => {
      this.values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: bucketCounts[i] ?? count });
    });
    this.values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: count });
    this.values.push({ metricName: `${this.name}_sum`, labels, value: sum });
    this.values.push({ metricName: `${this.name}_count`, labels, value: count });
  }

  get(): Promise<{ name: string; help: string; type: string; values: ExpoValue[]; aggregator: string }> {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values: this.values, aggregator: this.aggregator });
  }
}

/** An empty label value means "absent" in Prometheus: leave it out rather than print `x=""`. */
function withoutEmpty(labels: Labels): Labels {
  for (const k in labels) {
    if (labels[k] === '') {
      const out: Record<string, string> = {};
      for (const [key, v] of Object.entries(labels)) if (v !== '') out[key] = v;
      return out;
    }
  }
  return labels;
}

export type Format = 'prometheus' | 'openmetrics';

class FormatSink {
  readonly registry: Registry<RegistryContentType>;
  private readonly metrics = new Map<MetricDesc, SnapshotMetric>();
  private rendered: { snapshot: unknown; text: Promise<string> } | undefined;

  constructor(format: Format, descs: readonly MetricDesc[]) {
    this.registry = new Registry();
    if (format === 'openmetrics') this.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    for (const d of descs) {
      const m = new SnapshotMetric(d.prom, d.help, d.kind, d.buckets);
      // The registry renders any object with name/help/type/get(); its type names only its own four classes.
      this.registry.registerMetric(m as unknown as Metric);
      this.metrics.set(d, m);
    }
    collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Renders a snapshot; the same snapshot asked for twice is rendered once. */
  render(snapshot: object, samples: readonly Sample[]): Promise<string> {
    if (this.rendered?.snapshot === snapshot) return this.rendered.text;
    // Every collection is a fresh set of series: departed pids and cgroups disappear.
    for (const m of this.metrics.values()) m.values = [];
    for (const s of samples) {
      const m = this.metrics.get(s.desc);
      // NaN/Infinity never mean anything here ("unknown" is an absent sample), and prom-client
      // would print NaN as "Nan", which Prometheus rejects.
      if (m === undefined || !Number.isFinite(s.value)) continue;
      const labels = withoutEmpty(s.labels);
      m.add(labels === s.labels ? s : { ...s, labels });
    }
    // prom-client prints NaN as "Nan" (its default nodejs_eventloop_lag_* before the first
    // sample): both formats spell it NaN.
    // (A regex over the whole text cost 40 ms per scrape at 1000 cgroups: look first.)
    const text = this.registry.metrics().then((t) => (t.includes(' Nan\n') ? t.replace(/ Nan$/gm, ' NaN') : t));
    this.rendered = { snapshot, text };
    return text;
  }
}

export class PrometheusSink {
  private readonly sinks: Record<Format, FormatSink>;

  constructor(descs: readonly MetricDesc[]) {
    this.sinks = { prometheus: new FormatSink('prometheus', descs), openmetrics: new FormatSink('openmetrics', descs) };
  }

  /** The format a scraper asked for in its Accept header. */
  static negotiate(accept: string | undefined): Format {
    return accept !== undefined && accept.includes('application/openmetrics-text') ? 'openmetrics' : 'prometheus';
  }

  contentType(format: Format): string {
    return this.sinks[format].contentType;
  }

  render(format: Format, snapshot: object, samples: readonly Sample[]): Promise<string> {
    return this.sinks[format].render(snapshot, samples);
  }
}
