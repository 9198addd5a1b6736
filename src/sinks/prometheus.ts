// The Prometheus sink: writes a snapshot into prom-client metrics and renders the exposition.
// One Registry per format: prom-client renames counters in place while rendering OpenMetrics
// (registry.js standardizeCounterName), so the two formats cannot share metric objects.
import { Counter, Gauge, Registry, collectDefaultMetrics, type RegistryContentType } from 'prom-client';
import type { Labels, MetricDesc, Sample } from '../model/types.js';

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
  private readonly metrics = new Map<MetricDesc, Gauge | Counter>();
  private rendered: { snapshot: unknown; text: Promise<string> } | undefined;

  constructor(format: Format, descs: readonly MetricDesc[]) {
    this.registry = new Registry();
    if (format === 'openmetrics') this.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    for (const d of descs) {
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
    for (const m of this.metrics.values()) m.reset();
    for (const s of samples) {
      const m = this.metrics.get(s.desc);
      if (m === undefined) continue;
      // prom-client counters have no set(): after reset(), inc(absolute) writes the kernel's cumulative value.
      const labels = withoutEmpty(s.labels);
      if (m instanceof Counter) m.inc(labels, s.value);
      else m.set(labels, s.value);
    }
    const text = this.registry.metrics();
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
