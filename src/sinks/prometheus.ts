// The Prometheus sink: renders a snapshot's samples as the Prometheus text format or OpenMetrics.
//
// memlens's own families are written here, in exactly the bytes prom-client 15.1.3's Registry writes
// for the same values (test/unit/sinks/prometheus.test.ts renders the golden trees and hand-made
// edge cases both ways, in both formats, and compares byte for byte; promtool checks the goldens).
// Why not prom-client's Gauge/Counter: measured at 1000 cgroups (bench/RESULTS.md, "cgroup
// scale"), Gauge.set per series (a label hash per call) after a reset() of every metric, then the
// Registry's per-line arrays and label formatting, cost more CPU and memory than reading the
// cgroup files. Here a label set shared by a cgroup's series is formatted once (cached per object).
// prom-client still renders its default process_/nodejs_ metrics, appended in the order its
// Registry would have put them (after ours).
import { Registry, collectDefaultMetrics, type RegistryContentType } from 'prom-client';
import type { Labels, MetricDesc, Sample, Snapshot } from '../model/types.js';
import type { ExpositionSink } from './sink.js';

export type Format = 'prometheus' | 'openmetrics';

function asFormat(format: string): Format {
  return format === 'openmetrics' ? 'openmetrics' : 'prometheus';
}

/** prom-client's escapeString (HELP text, and label values before quotes are escaped). */
function escapeString(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

const NEEDS_ESCAPE = /[\\\n"]/;

function escapeLabelValue(s: string): string {
  return NEEDS_ESCAPE.test(s) ? escapeString(s).replace(/"/g, '\\"') : s;
}

/** `a="x",b="y"` for a label set, leaving out empty values (an empty label value means "absent"). */
function formatLabels(labels: Labels): string {
  let out = '';
  for (const k in labels) {
    const v = labels[k]!;
    if (v === '') continue;
    out += out === '' ? `${k}="${escapeLabelValue(v)}"` : `,${k}="${escapeLabelValue(v)}"`;
  }
  return out;
}

/**
 * memlens's families as prom-client's Registry would render them, one string per family, in the
 * order of `descs` (a sample whose desc is not there is not rendered; NaN/Infinity never mean
 * anything here: "unknown" is an absent sample).
 */
export function encodeFamilies(format: Format, descs: readonly MetricDesc[], samples: readonly Sample[]): string[] {
  const openMetrics = format === 'openmetrics';
  const families = new Map<MetricDesc, Sample[]>();
  for (const d of descs) families.set(d, []);
  for (const s of samples) if (Number.isFinite(s.value)) families.get(s.desc)?.push(s);
  // Per label-set object, its formatted body: collectors share one object among a cgroup's or a pid's series.
  const cache = new Map<Labels, string>();
  const labels = (l: Labels): string => {
    let t = cache.get(l);
    if (t === undefined) {
      t = formatLabels(l);
      cache.set(l, t);
    }
    return t;
  };
  const out: string[] = [];
  for (const [desc, list] of families) {
    // OpenMetrics: a counter family is named without _total and its samples with it (prom-client's
    // standardizeCounterName); histograms' samples carry their own suffixes.
    const counterOM = openMetrics && desc.kind === 'counter';
    const name = counterOM ? desc.prom.replace(/_total$/, '') : desc.prom;
    const sampleName = counterOM ? `${name}_total` : name;
    let text = `# HELP ${name} ${escapeString(desc.help)}\n# TYPE ${name} ${desc.kind}`;
    for (const s of list) {
      const l = labels(s.labels);
      if (s.histogram === undefined) {
        text += l === '' ? `\n${sampleName} ${s.value}` : `\n${sampleName}{${l}} ${s.value}`;
        continue;
      }
      // A histogram whose state lives elsewhere (the watcher keeps it) arrives as one sample.
      const lb = l === '' ? '' : `${l},`;
      const { bucketCounts, sum, count } = s.histogram;
      (desc.buckets ?? []).forEach((le, i) => {
        text += `\n${name}_bucket{${lb}le="${le}"} ${bucketCounts[i] ?? count}`;
      });
      text += `\n${name}_bucket{${lb}le="+Inf"} ${count}`;
      text += l === '' ? `\n${name}_sum ${sum}\n${name}_count ${count}` : `\n${name}_sum{${l}} ${sum}\n${name}_count{${l}} ${count}`;
    }
    out.push(text);
  }
  return out;
}

class FormatSink {
  private readonly registry: Registry<RegistryContentType>;
  private readonly openMetrics: boolean;
  /**
   * The text of each snapshot still alive (weakly held: the runner keeps a snapshot for
   * --collect.min-interval only, so the text does not outlive it into the next collection).
   */
  private readonly rendered = new WeakMap<object, Promise<string>>();

  constructor(
    private readonly format: Format,
    private readonly descs: readonly MetricDesc[],
  ) {
    this.openMetrics = format === 'openmetrics';
    this.registry = new Registry();
    if (this.openMetrics) this.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Renders a snapshot; the same snapshot asked for twice is rendered once. */
  render(snapshot: object, samples: readonly Sample[]): Promise<string> {
    const cached = this.rendered.get(snapshot);
    if (cached !== undefined) return cached;
    // Every collection is a fresh set of series: departed pids and cgroups disappear.
    const ours = encodeFamilies(this.format, this.descs, samples);
    const text = this.registry.metrics().then((defaults) => {
      // prom-client prints NaN as "Nan" (its default nodejs_eventloop_lag_* before the first sample): spell it NaN.
      const d = defaults.includes(' Nan\n') ? defaults.replace(/ Nan$/gm, ' NaN') : defaults;
      if (ours.length === 0) return d;
      return this.openMetrics ? `${ours.join('\n')}\n${d}` : `${ours.join('\n\n')}\n\n${d}`;
    });
    this.rendered.set(snapshot, text);
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
