// The Prometheus sink: writes a snapshot into prom-client metrics and renders the exposition.
// One Registry per format: prom-client renames counters in place while rendering OpenMetrics
// (registry.js standardizeCounterName), so the two formats cannot share metric objects.
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric, type RegistryContentType } from 'prom-client';
import type { Labels, MetricDesc, Sample, Snapshot } from '../model/types.js';
import type { ExpositionSink } from './sink.js';

interface ExpoValue {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/**
 * A histogram whose state lives elsewhere (the watcher keeps it) and arrives as samples: prom-client's own Histogram
 * can only observe, not be set, so this is the custom-metric form the registry also accepts (an object with get()).
 */
class SnapshotHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private values: ExpoValue[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
  ) {}

  reset(): void {
    this.values = [];
  }

  set(labels: Labels, bucketCounts: readonly number[], sum: number, count: number): void {
    this.buckets.forEach((le, i) => {
      this.values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: bucketCounts[i] ?? count });
    });
    this.values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: count });
    this.values.push({ metricName: `${this.name}_sum`, labels: { ...labels }, value: sum });
    this.values.push({ metricName: `${this.name}_count`, labels: { ...labels }, value: count });
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

function asFormat(format: string): Format {
  return format === 'openmetrics' ? 'openmetrics' : 'prometheus';
}

class FormatSink {
  readonly registry: Registry<RegistryContentType>;
  private readonly metrics = new Map<MetricDesc, Gauge | Counter>();
  private readonly histograms = new Map<MetricDesc, SnapshotHistogram>();
  private rendered: { snapshot: unknown; text: Promise<string> } | undefined;

  constructor(format: Format, descs: readonly MetricDesc[]) {
    this.registry = new Registry();
    if (format === 'openmetrics') this.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    for (const d of descs) {
      if (d.kind === 'histogram') {
        const h = new SnapshotHistogram(d.prom, d.help, d.buckets ?? []);
        // The registry renders any object with name/help/type/get(); its type names only its own four classes.
        this.registry.registerMetric(h as unknown as Metric);
        this.histograms.set(d, h);
        continue;
      }
      const cfg = { name: d.prom, help: d.help, labelNames: d.labels.map((l) => l.name), registers: [this.registry] };
      this.metrics.set(d, d.kind === 'counter' ? new Counter(cfg) : new Gauge(cfg));
    }
    collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Renders a snapshot; the same snapshot asked for twice is rendered once. */
  render(snapshot: object, samples: readonly Sample[]): Promise<string> {
    if (this.rendered?.snapshot === snapshot) return this.rendered.text;
    for (const [desc, m] of this.metrics) {
      m.reset();
      // reset() gives a metric without labels the value 0; a value the kernel did not give must be absent.
      if (desc.labels.length === 0) m.remove({});
    }
    for (const h of this.histograms.values()) h.reset();
    for (const s of samples) {
      if (s.histogram !== undefined) {
        this.histograms.get(s.desc)?.set(withoutEmpty(s.labels), s.histogram.bucketCounts, s.histogram.sum, s.histogram.count);
        continue;
      }
      const m = this.metrics.get(s.desc);
      // NaN/Infinity never mean anything here ("unknown" is an absent sample), and prom-client
      // would print NaN as "Nan", which Prometheus rejects.
      if (m === undefined || !Number.isFinite(s.value)) continue;
      // prom-client counters have no set(): after reset(), inc(absolute) writes the kernel's cumulative value.
      const labels = withoutEmpty(s.labels);
      if (m instanceof Counter) m.inc(labels, s.value);
      else m.set(labels, s.value);
    }
    // prom-client prints NaN as "Nan" (its default nodejs_eventloop_lag_* before the first
    // sample): both formats spell it NaN.
    const text = this.registry.metrics().then((t) => t.replace(/ Nan$/gm, ' NaN'));
    this.rendered = { snapshot, text };
    return text;
  }
}

export class PrometheusSink implements ExpositionSink {
  private readonly sinks: Record<Format, FormatSink>;

  constructor(descs: readonly MetricDesc[]) {
    this.sinks = { prometheus: new FormatSink('prometheus', descs), openmetrics: new FormatSink('openmetrics', descs) };
  }

  /** The format a scraper asked for in its Accept header. */
  static negotiate(accept: string | undefined): Format {
    return accept !== undefined && accept.includes('application/openmetrics-text') ? 'openmetrics' : 'prometheus';
  }

  negotiate(accept: string | undefined): Format {
    return PrometheusSink.negotiate(accept);
  }

  contentType(format: string): string {
    return this.sinks[asFormat(format)].contentType;
  }

  render(format: string, snapshot: Snapshot, samples: readonly Sample[] = snapshot.samples): Promise<string> {
    return this.sinks[asFormat(format)].render(snapshot, samples);
  }
}
