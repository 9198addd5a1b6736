// The OTLP metrics sink: the same collectors and catalog as /metrics, pushed with the
// OpenTelemetry SDK (@opentelemetry/sdk-metrics) over OTLP/HTTP (JSON or protobuf).
//
// - One observable instrument per catalog entry (gauge -> ObservableGauge, counter ->
//   ObservableCounter with the kernel's cumulative value), named `otel` with the catalog's UCUM
//   unit, so that the OTLP-to-Prometheus translation gives back the /metrics name.
// - One addBatchObservableCallback per collector (and one for the runner's own samples): the SDK
//   runs each callback in its own try/catch, so a failing area loses its own points only.
// - The histogram (watch notification latency) is kept by the watcher as cumulative bucket
//   counts, which no observable instrument can report: a MetricProducer hands it to the reader
//   as a real OTLP histogram (delta computed here when the exporter asks for delta).
// - Every callback asks the runner, which shares one collection between an export and a scrape
//   landing within --collect.min-interval.
// Failed exports are retried by the exporter (otlp-exporter-base: 429/502/503/504 with backoff),
// then counted in memlens_otlp_exports_total and logged once per change of state.
import { hostname } from 'node:os';
import type { Attributes, BatchObservableResult, Observable } from '@opentelemetry/api';
import { ExportResultCode, hrTime, type ExportResult } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import {
  AggregationTemporality, DataPointType, InstrumentType, MeterProvider, PeriodicExportingMetricReader,
  type CollectionResult, type HistogramMetricData, type MetricProducer, type PushMetricExporter, type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import * as c from '../model/catalog.js';
import type { Labels, MetricDesc, Sample } from '../model/types.js';
import type { OtlpMetricsConfig, Temporality } from '../config/otlp.js';
import type { Logger } from '../log.js';
import { describe } from '../errors.js';
import type { PushSink, SnapshotSource } from './sink.js';

/** Label name -> OTel attribute name where a semantic convention exists (resource/k8s, container). */
const ATTRIBUTE_NAMES: Readonly<Record<string, string>> = { pod_uid: 'k8s.pod.uid', container_id: 'container.id' };

/** Point attributes from a sample's labels: empty values left out (as on /metrics), Kubernetes ids under their semantic-convention names. */
export function pointAttributes(labels: Labels): Attributes {
  const out: Attributes = {};
  for (const k in labels) {
    const v = labels[k];
    if (v === undefined || v === '') continue;
    out[ATTRIBUTE_NAMES[k] ?? k] = v;
  }
  return out;
}

/** The resource: what the user configured (OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME) over memlens's defaults. */
export function otlpResource(configured: Readonly<Record<string, string>>, version: string): Resource {
  const host = hostname();
  const defaults: Record<string, string> = {
    'service.version': version,
    // One memlens per node: the node is the instance (stable across restarts, unlike a random id).
    'service.instance.id': configured['k8s.node.name'] ?? host,
    'host.name': host,
    'os.type': 'linux',
  };
  return defaultResource().merge(resourceFromAttributes({ ...defaults, ...configured }));
}

export type Signal = 'metrics' | 'logs';

/** memlens_otlp_exports_total, and one log line per change of an export's state (failing / recovered). */
export class ExportStats {
  private readonly counts = new Map<string, number>();
  private readonly failing = new Set<Signal>();

  constructor(
    private readonly log: Logger,
    signals: readonly Signal[],
  ) {
    for (const s of signals) for (const r of ['success', 'failure']) this.counts.set(`${s}\0${r}`, 0);
  }

  record(signal: Signal, result: ExportResult, url: string): void {
    const ok = result.code === ExportResultCode.SUCCESS;
    const key = `${signal}\0${ok ? 'success' : 'failure'}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (!ok && !this.failing.has(signal)) {
      this.failing.add(signal);
      this.log.error({ signal, url, err: result.error === undefined ? 'failed' : describe(result.error) }, 'OTLP export failing');
    } else if (ok && this.failing.delete(signal)) {
      this.log.info({ signal, url }, 'OTLP export recovered');
    }
  }

  samples(): Sample[] {
    const out: Sample[] = [];
    for (const [key, value] of this.counts) {
      const [signal, result] = key.split('\0') as [string, string];
      out.push({ desc: c.otlpExports, labels: { signal, result }, value });
    }
    return out;
  }
}

/** Counts each export's final result (after the exporter's own retries); everything else is the wrapped exporter's. */
class CountingMetricExporter implements PushMetricExporter {
  constructor(
    private readonly inner: PushMetricExporter,
    private readonly stats: ExportStats,
    private readonly url: string,
  ) {}

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.inner.export(metrics, (result) => {
      this.stats.record('metrics', result, this.url);
      resultCallback(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  selectAggregationTemporality(type: InstrumentType): AggregationTemporality {
    return this.inner.selectAggregationTemporality?.(type) ?? AggregationTemporality.CUMULATIVE;
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

const PREFERENCE: Record<Temporality, AggregationTemporalityPreference> = {
  cumulative: AggregationTemporalityPreference.CUMULATIVE,
  delta: AggregationTemporalityPreference.DELTA,
  lowmemory: AggregationTemporalityPreference.LOWMEMORY,
};

/** The OTLP/HTTP metric exporter for the configured protocol (JSON or protobuf). */
export function metricExporter(cfg: OtlpMetricsConfig): PushMetricExporter {
  const opts = { url: cfg.url, headers: cfg.headers, timeoutMillis: cfg.timeoutMs, temporalityPreference: PREFERENCE[cfg.temporality] };
  return cfg.protocol === 'http/protobuf' ? new ProtoMetricExporter(opts) : new JsonMetricExporter(opts);
}

type HrTime = [number, number];

/** Snapshot histograms as OTLP histograms (explicit buckets), cumulative or delta as the exporter asks. */
class HistogramProducer implements MetricProducer {
  private readonly startTime: HrTime = hrTime();
  private lastTime: HrTime = this.startTime;
  private readonly previous = new Map<string, { counts: number[]; sum: number; count: number }>();

  constructor(
    private readonly source: SnapshotSource,
    private readonly descs: readonly MetricDesc[],
    private readonly temporality: AggregationTemporality,
    private readonly scope: { name: string; version: string },
  ) {}

  async collect(): Promise<CollectionResult> {
    const snap = await this.source.collect();
    const now = hrTime();
    const delta = this.temporality === AggregationTemporality.DELTA;
    const metrics: HistogramMetricData[] = [];
    const errors: unknown[] = [];
    // Group by group, as the callbacks do: one failing group loses its own histograms only.
    const samples: Sample[] = [];
    for (const g of snap.groups) {
      try {
        for (const s of g.samples) if (s.histogram !== undefined) samples.push(s);
      } catch (err) {
        errors.push(err);
      }
    }
    for (const desc of this.descs) {
      const points: HistogramMetricData['dataPoints'] = [];
      for (const s of samples) {
        if (s.desc !== desc || s.histogram === undefined) continue;
        const bounds = desc.buckets ?? [];
        // Cumulative "<= bound" counts -> per-bucket counts, plus the overflow bucket.
        let counts = bounds.map((_, i) => (s.histogram!.bucketCounts[i] ?? 0) - (i === 0 ? 0 : s.histogram!.bucketCounts[i - 1] ?? 0));
        counts.push(s.histogram.count - (s.histogram.bucketCounts[bounds.length - 1] ?? 0));
        let { sum, count } = s.histogram;
        const attributes = pointAttributes(s.labels);
        const key = JSON.stringify(attributes);
        const prev = this.previous.get(key);
        this.previous.set(key, { counts, sum, count });
        if (delta && prev !== undefined && prev.count <= count) {
          counts = counts.map((n, i) => n - (prev.counts[i] ?? 0));
          sum -= prev.sum;
          count -= prev.count;
        }
        points.push({ startTime: delta ? this.lastTime : this.startTime, endTime: now, attributes, value: { buckets: { boundaries: [...bounds], counts }, sum, count } });
      }
      if (points.length === 0) continue;
      metrics.push({
        descriptor: { name: desc.otel, description: desc.help, unit: desc.unit, valueType: 1 /* ValueType.DOUBLE */ },
        aggregationTemporality: this.temporality,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: points,
      });
    }
    this.lastTime = now;
    return { resourceMetrics: { resource: resourceFromAttributes({}), scopeMetrics: [{ scope: this.scope, metrics }] }, errors };
  }
}

export interface OtlpMetricsSinkOptions {
  source: SnapshotSource;
  catalog: readonly MetricDesc[];
  config: OtlpMetricsConfig;
  resource: Resource;
  version: string;
  stats: ExportStats;
  log: Logger;
  /** Tests: an exporter instead of the OTLP/HTTP one built from config. */
  exporter?: PushMetricExporter;
}

export class OtlpMetricsSink implements PushSink {
  private provider: MeterProvider | undefined;

  constructor(private readonly opts: OtlpMetricsSinkOptions) {}

  start(): void {
    if (this.provider !== undefined) return;
    const { config, source, stats } = this.opts;
    const exporter = new CountingMetricExporter(this.opts.exporter ?? metricExporter(config), stats, config.url);
    const scope = { name: 'memlens', version: this.opts.version };
    const histograms = this.opts.catalog.filter((d) => d.kind === 'histogram');
    const reader = new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: config.intervalMs,
      exportTimeoutMillis: config.exportTimeoutMs,
      metricProducers: [new HistogramProducer(source, histograms, exporter.selectAggregationTemporality(InstrumentType.HISTOGRAM), scope)],
      // The SDK's default (2000 points per metric) would cut memory.stat at a hundred cgroups;
      // the runner's series budget already bounds every collector.
      cardinalityLimits: { default: 200_000 },
    });
    this.provider = new MeterProvider({ resource: this.opts.resource, readers: [reader] });
    const meter = this.provider.getMeter(scope.name, scope.version);
    const instruments = new Map<MetricDesc, Observable>();
    for (const d of this.opts.catalog) {
      const o = { description: d.help, unit: d.unit };
      if (d.kind === 'gauge') instruments.set(d, meter.createObservableGauge(d.otel, o));
      else if (d.kind === 'counter') instruments.set(d, meter.createObservableCounter(d.otel, o));
    }
    const observables = [...instruments.values()];
    for (const group of source.groupNames) {
      meter.addBatchObservableCallback(async (result: BatchObservableResult) => {
        const snap = await source.collect();
        const samples = snap.groups.find((g) => g.collector === group)?.samples ?? [];
        for (const s of samples) {
          const inst = instruments.get(s.desc);
          // NaN/Infinity never mean anything here ("unknown" is an absent sample), as on /metrics.
          if (inst === undefined || !Number.isFinite(s.value)) continue;
          result.observe(inst, s.value, pointAttributes(s.labels));
        }
      }, observables);
    }
    this.opts.log.info({ url: config.url, protocol: config.protocol, intervalMs: config.intervalMs, temporality: config.temporality }, 'OTLP metrics push on');
  }

  samples(): Sample[] {
    return this.opts.stats.samples();
  }

  /** Collects and exports now (tests, shutdown). */
  async flush(): Promise<void> {
    await this.provider?.forceFlush();
  }

  async close(): Promise<void> {
    const p = this.provider;
    this.provider = undefined;
    if (p === undefined) return;
    try {
      await p.shutdown(); // one last export
    } catch (err) {
      this.opts.log.warn({ err: describe(err) }, 'OTLP metrics: last export at shutdown failed');
    }
  }
}
