// The OTLP metrics sink: the same collectors and catalog as /metrics, pushed with the
// OpenTelemetry SDK (@opentelemetry/sdk-metrics: PeriodicExportingMetricReader, the OTLP/HTTP
// exporters for JSON or protobuf, their retries and temporality selection).
//
// Each export translates one runner snapshot into OTLP points: every catalog entry under its
// `otel` name and UCUM unit (so that the OTLP-to-Prometheus translation gives back the /metrics
// name), gauges as gauges, counters as monotonic sums of the kernel's cumulative value (or their
// deltas when the exporter asks for delta), the histogram as an explicit-bucket histogram.
// Collector by collector, each in its own try/catch: a failing area loses its own points only.
//
// Why a MetricProducer and not observable instruments with one addBatchObservableCallback per
// collector: sdk-metrics 2.12 keeps every attribute set an asynchronous instrument ever reported
// (state/TemporalMetricProcessor.js merges the last cumulative accumulations into each new one;
// open-telemetry/opentelemetry-js#4096), so a pid or cgroup that is gone would be exported with its
// last value forever, and the memory behind it would grow with every pid memlens ever saw. Here
// every export is exactly the snapshot: nothing is kept for an entity that no longer exists
// (test/unit/sinks/otlp.test.ts shows both).
//
// The runner shares one collection between an export and a scrape landing within
// --collect.min-interval. Failed exports are retried by the exporter (otlp-exporter-base), then
// counted in memlens_otlp_exports_total and logged once per change of state.
import { hostname } from 'node:os';
import { ValueType, type Attributes } from '@opentelemetry/api';
import { ExportResultCode, hrTime, type ExportResult } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import {
  AggregationTemporality, DataPointType, InstrumentType, MeterProvider, PeriodicExportingMetricReader,
  type CollectionResult, type DataPoint, type MetricData, type MetricProducer, type PushMetricExporter, type ResourceMetrics,
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

interface SeriesState {
  /** Start of the cumulative series: first seen, or the export after the kernel's counter went back (a new cgroup under the same path). */
  start: HrTime;
  /** Counters: the value; histograms: the per-bucket counts, sum and count. */
  value: number;
  counts?: number[];
  sum?: number;
}

interface Metric {
  desc: MetricDesc;
  points: DataPoint<unknown>[];
}

/** Snapshots as OTLP metric data, exactly: the points of this snapshot and nothing else. */
class SnapshotProducer implements MetricProducer {
  private lastTime: HrTime = hrTime();
  /** Per series key: only the series of the last export (rebuilt each time, so bounded by it). */
  private series = new Map<string, SeriesState>();

  constructor(
    private readonly source: SnapshotSource,
    private readonly descs: readonly MetricDesc[],
    private readonly temporality: (kind: 'counter' | 'histogram') => AggregationTemporality,
    private readonly scope: { name: string; version: string },
  ) {}

  async collect(): Promise<CollectionResult> {
    const snap = await this.source.collect();
    const now = hrTime();
    const known = new Set(this.descs);
    const metrics = new Map<MetricDesc, Metric>();
    const next = new Map<string, SeriesState>();
    const errors: unknown[] = [];
    for (const group of snap.groups) {
      // One collector at a time: whatever goes wrong in one group's samples loses that group only.
      const points: [MetricDesc, DataPoint<unknown>][] = [];
      const states: [string, SeriesState][] = [];
      try {
        for (const s of group.samples) {
          // NaN/Infinity never mean anything here ("unknown" is an absent sample), as on /metrics.
          if (!known.has(s.desc) || !Number.isFinite(s.value)) continue;
          const attributes = pointAttributes(s.labels);
          if (s.desc.kind === 'gauge') {
            points.push([s.desc, { startTime: now, endTime: now, attributes, value: s.value }]);
            continue;
          }
          const key = `${s.desc.otel}\0${JSON.stringify(attributes)}`;
          const p = s.desc.kind === 'counter' ? this.counterPoint(key, s.value, now, states) : this.histogramPoint(key, s, now, states);
          if (p !== undefined) points.push([s.desc, { ...p, attributes }]);
        }
      } catch (err) {
        errors.push(err);
        continue;
      }
      for (const [k, st] of states) next.set(k, st);
      for (const [desc, p] of points) {
        const m = metrics.get(desc) ?? { desc, points: [] };
        m.points.push(p);
        metrics.set(desc, m);
      }
    }
    this.series = next;
    this.lastTime = now;
    const data: MetricData[] = [];
    for (const desc of this.descs) {
      const m = metrics.get(desc);
      if (m !== undefined) data.push(this.metricData(m));
    }
    return { resourceMetrics: { resource: resourceFromAttributes({}), scopeMetrics: [{ scope: this.scope, metrics: data }] }, errors };
  }

  private counterPoint(key: string, value: number, now: HrTime, states: [string, SeriesState][]): Omit<DataPoint<number>, 'attributes'> {
    const prev = this.series.get(key);
    const reset = prev !== undefined && value < prev.value;
    const start = prev === undefined ? this.lastTime : reset ? this.lastTime : prev.start;
    states.push([key, { start, value }]);
    if (this.temporality('counter') === AggregationTemporality.DELTA) {
      return { startTime: this.lastTime, endTime: now, value: prev === undefined || reset ? value : value - prev.value };
    }
    return { startTime: start, endTime: now, value };
  }

  private histogramPoint(key: string, s: Sample, now: HrTime, states: [string, SeriesState][]): Omit<DataPoint<unknown>, 'attributes'> | undefined {
    const h = s.histogram;
    if (h === undefined) return undefined;
    const bounds = s.desc.buckets ?? [];
    // Cumulative "<= bound" counts -> per-bucket counts, plus the overflow bucket.
    const counts = bounds.map((_, i) => (h.bucketCounts[i] ?? 0) - (i === 0 ? 0 : h.bucketCounts[i - 1] ?? 0));
    counts.push(h.count - (h.bucketCounts[bounds.length - 1] ?? 0));
    const prev = this.series.get(key);
    const reset = prev !== undefined && h.count < prev.value;
    const start = prev === undefined || reset ? this.lastTime : prev.start;
    states.push([key, { start, value: h.count, counts, sum: h.sum }]);
    if (this.temporality('histogram') === AggregationTemporality.DELTA && prev !== undefined && !reset) {
      const d = counts.map((n, i) => n - (prev.counts?.[i] ?? 0));
      return { startTime: this.lastTime, endTime: now, value: { buckets: { boundaries: [...bounds], counts: d }, sum: h.sum - (prev.sum ?? 0), count: h.count - prev.value } };
    }
    const delta = this.temporality('histogram') === AggregationTemporality.DELTA;
    return { startTime: delta ? this.lastTime : start, endTime: now, value: { buckets: { boundaries: [...bounds], counts }, sum: h.sum, count: h.count } };
  }

  private metricData(m: Metric): MetricData {
    const descriptor = { name: m.desc.otel, description: m.desc.help, unit: m.desc.unit, valueType: ValueType.DOUBLE };
    if (m.desc.kind === 'gauge') {
      return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints: m.points as DataPoint<number>[] };
    }
    if (m.desc.kind === 'counter') {
      return { descriptor, aggregationTemporality: this.temporality('counter'), dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints: m.points as DataPoint<number>[] };
    }
    return { descriptor, aggregationTemporality: this.temporality('histogram'), dataPointType: DataPointType.HISTOGRAM, dataPoints: m.points as never };
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
    // The exporter decides (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE), as it does for the SDK's own instruments.
    const counter = exporter.selectAggregationTemporality(InstrumentType.OBSERVABLE_COUNTER);
    const histogram = exporter.selectAggregationTemporality(InstrumentType.HISTOGRAM);
    const reader = new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: config.intervalMs,
      exportTimeoutMillis: config.exportTimeoutMs,
      metricProducers: [new SnapshotProducer(source, this.opts.catalog, (kind) => (kind === 'counter' ? counter : histogram), scope)],
    });
    this.provider = new MeterProvider({ resource: this.opts.resource, readers: [reader] });
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
