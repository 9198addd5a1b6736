// The OTLP metrics sink against the SDK's in-memory exporter: one failing collector loses only
// its own points; departed series are not exported again; counters are cumulative or delta; the histogram arrives as a histogram (per-bucket counts), cumulative
// or delta; memlens_otlp_exports_total counts results and the state changes are logged once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { ExportResultCode } from '@opentelemetry/core';
import { AggregationTemporality, DataPointType, InMemoryMetricExporter, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import * as c from '../../../src/model/catalog.js';
import type { Sample, SampleGroup, Snapshot } from '../../../src/model/types.js';
import { ExportStats, OtlpMetricsSink, otlpResource, pointAttributes } from '../../../src/sinks/otlp.js';
import type { SnapshotSource } from '../../../src/sinks/sink.js';
import type { OtlpMetricsConfig } from '../../../src/config/otlp.js';
import { createLogger } from '../../../src/log.js';

const config: OtlpMetricsConfig = { url: 'http://127.0.0.1:1/v1/metrics', protocol: 'http/json', headers: {}, timeoutMs: 1000, intervalMs: 3_600_000, exportTimeoutMs: 30_000, temporality: 'cumulative' };

function source(groups: () => SampleGroup[]): SnapshotSource {
  return {
    collect: () => {
      const g = groups();
      const snap: Snapshot = { atMs: Date.now(), groups: g, get samples() { return g.flatMap((x) => x.samples); }, collectors: [] };
      return Promise.resolve(snap);
    },
  };
}

function sink(src: SnapshotSource, exporter: PushMetricExporter, stats = new ExportStats(createLogger('silent'), ['metrics'])): OtlpMetricsSink {
  const s = new OtlpMetricsSink({ source: src, catalog: c.catalog, config, resource: otlpResource({ 'service.name': 'memlens' }, 'test'), version: 'test', stats, log: createLogger('silent'), exporter });
  s.start();
  return s;
}

function points(rms: ResourceMetrics[], name: string): { attributes: Record<string, unknown>; value: unknown }[] {
  const last = rms[rms.length - 1];
  const m = last?.scopeMetrics.flatMap((s) => s.metrics).find((x) => x.descriptor.name === name);
  return (m?.dataPoints ?? []) as { attributes: Record<string, unknown>; value: unknown }[];
}

const usage = (cgroup: string, value: number, extra: Record<string, string> = {}): Sample => ({ desc: c.cgroupUsage, labels: { cgroup, ...extra }, value });

test('a collector whose samples cannot be translated loses only its own points', async () => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const broken: SampleGroup = { collector: 'host', get samples(): Sample[] { throw new Error('host area exploded'); } };
  const s = sink(source(() => [
    { collector: 'cgroup', samples: [usage('/a', 10, { pod_uid: 'p-1', container_id: 'c-1' }), usage('/b', 20)] },
    broken,
    { collector: 'runner', samples: [{ desc: c.collectorSuccess, labels: { collector: 'host' }, value: 0 }] },
  ]), exporter);
  await s.flush();
  const got = points(exporter.getMetrics(), 'memlens.cgroup.memory.usage');
  assert.deepEqual(got.map((p) => [p.attributes, p.value]), [
    [{ cgroup: '/a', 'k8s.pod.uid': 'p-1', 'container.id': 'c-1' }, 10],
    [{ cgroup: '/b' }, 20],
  ]);
  assert.deepEqual(points(exporter.getMetrics(), 'memlens.collector.success').map((p) => p.value), [0]);
  assert.equal(points(exporter.getMetrics(), 'memlens.host.memory.total').length, 0);
  await s.close();
});

test('point attributes: empty label values left out, Kubernetes ids under semantic-convention names', () => {
  assert.deepEqual(pointAttributes({ cgroup: '/x', comm: '', pod_uid: 'u', container_id: 'c' }), { cgroup: '/x', 'k8s.pod.uid': 'u', 'container.id': 'c' });
});

function latency(bucketCounts: number[], sum: number, count: number): Sample {
  return { desc: c.watchLatency, labels: {}, value: count, histogram: { bucketCounts, sum, count } };
}

for (const temporality of [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]) {
  test(`the latency histogram is an OTLP histogram (${temporality === AggregationTemporality.DELTA ? 'delta' : 'cumulative'})`, async () => {
    const exporter = new InMemoryMetricExporter(temporality);
    const n = c.watchLatency.buckets.length;
    // Cumulative "<= le" counts as the watcher keeps them: 1 at <= 0.0001, 3 at <= 0.001, one above every bound.
    const first = Array.from({ length: n }, (_, i) => (i === 0 ? 1 : i < 3 ? 1 : 3));
    const second = first.map((x) => x + 2); // two more observations in the first bucket
    let snap = latency(first, 0.5, 4);
    const s = sink(source(() => [{ collector: 'runner', samples: [snap] }]), exporter);
    await s.flush();
    snap = latency(second, 0.6, 6);
    await s.flush();
    const all = exporter.getMetrics();
    assert.equal(all.length, 2);
    const find = (rm: ResourceMetrics) => rm.scopeMetrics.flatMap((x) => x.metrics).find((m) => m.descriptor.name === 'memlens.watch.notification_latency');
    const m1 = find(all[0]!);
    const m2 = find(all[1]!);
    assert.ok(m1 !== undefined && m2 !== undefined);
    assert.equal(m1.dataPointType, DataPointType.HISTOGRAM);
    assert.equal(m1.aggregationTemporality, temporality);
    assert.equal(m1.descriptor.unit, 's');
    const v1 = m1.dataPoints[0]!.value as { buckets: { boundaries: number[]; counts: number[] }; sum: number; count: number };
    const v2 = m2.dataPoints[0]!.value as typeof v1;
    assert.deepEqual(v1.buckets.boundaries, [...c.watchLatency.buckets]);
    assert.deepEqual(v1.buckets.counts, [1, 0, 0, 2, ...Array<number>(n - 4).fill(0), 1]);
    assert.equal(v1.count, 4);
    if (temporality === AggregationTemporality.CUMULATIVE) {
      assert.deepEqual(v2.buckets.counts, [3, 0, 0, 2, ...Array<number>(n - 4).fill(0), 1]);
      assert.equal(v2.count, 6);
    } else {
      assert.deepEqual(v2.buckets.counts, [2, ...Array<number>(n).fill(0)]);
      assert.equal(v2.count, 2);
      assert.ok(Math.abs(v2.sum - 0.1) < 1e-9);
    }
    await s.close();
  });
}

test('export results are counted; a failure and the recovery are logged once each', async () => {
  const lines: string[] = [];
  const log = createLogger('info', new Writable({ write(chunk: Buffer, _e, cb) { lines.push(chunk.toString()); cb(); } }));
  const stats = new ExportStats(log, ['metrics']);
  let fail = true;
  const inner = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const exporter: PushMetricExporter = {
    export: (m, cb) => (fail ? cb({ code: ExportResultCode.FAILED, error: new Error('503 Service Unavailable') }) : inner.export(m, cb)),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const s = sink(source(() => [{ collector: 'cgroup', samples: [usage('/a', 1)] }]), exporter, stats);
  await s.flush().catch(() => undefined);
  await s.flush().catch(() => undefined);
  fail = false;
  await s.flush();
  await s.flush();
  const values = Object.fromEntries(stats.samples().map((x) => [`${x.labels['signal']}/${x.labels['result']}`, x.value]));
  assert.deepEqual(values, { 'metrics/success': 2, 'metrics/failure': 2 });
  assert.equal(lines.filter((l) => l.includes('OTLP export failing') && l.includes('503 Service Unavailable')).length, 1);
  assert.equal(lines.filter((l) => l.includes('OTLP export recovered')).length, 1);
  await s.close();
});

test('a cgroup that is gone is gone from the next export (no stale points kept)', async () => {
  for (const temporality of [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]) {
    const exporter = new InMemoryMetricExporter(temporality);
    let groups: SampleGroup[] = [{ collector: 'cgroup', samples: [usage('/a', 1), usage('/b', 2), { desc: c.cgroupOomKills, labels: { cgroup: '/b' }, value: 3 }] }];
    const s = sink(source(() => groups), exporter);
    await s.flush();
    groups = [{ collector: 'cgroup', samples: [usage('/a', 5)] }];
    await s.flush();
    const last = exporter.getMetrics();
    assert.deepEqual(points(last, 'memlens.cgroup.memory.usage').map((p) => [p.attributes['cgroup'], p.value]), [['/a', 5]], `temporality ${temporality}`);
    assert.deepEqual(points(last, 'memlens.cgroup.memory.oom_kills'), [], `temporality ${temporality}`);
    await s.close();
  }
});

test('counters: the kernel\'s cumulative value, or its deltas; a counter that went back starts a new series', async () => {
  const kills = (v: number): Sample => ({ desc: c.cgroupOomKills, labels: { cgroup: '/a' }, value: v });
  for (const [temporality, want] of [[AggregationTemporality.CUMULATIVE, [3, 5, 1]], [AggregationTemporality.DELTA, [3, 2, 1]]] as const) {
    const exporter = new InMemoryMetricExporter(temporality);
    let v = 3;
    const s = sink(source(() => [{ collector: 'cgroup', samples: [kills(v)] }]), exporter);
    const got: { value: number; start: number }[] = [];
    for (const next of [5, 1, 1]) {
      await s.flush();
      const m = exporter.getMetrics().at(-1)!.scopeMetrics.flatMap((x) => x.metrics).find((x) => x.descriptor.name === 'memlens.cgroup.memory.oom_kills')!;
      assert.equal(m.dataPointType, DataPointType.SUM);
      assert.equal(m.aggregationTemporality, temporality);
      assert.equal((m as { isMonotonic?: boolean }).isMonotonic, true);
      const p = m.dataPoints[0]!;
      got.push({ value: p.value as number, start: p.startTime[0] * 1e9 + p.startTime[1] });
      v = next;
    }
    assert.deepEqual(got.map((g) => g.value), want, `temporality ${temporality}`);
    if (temporality === AggregationTemporality.CUMULATIVE) {
      assert.equal(got[1]!.start, got[0]!.start, 'one cumulative series keeps its start time');
      assert.ok(got[2]!.start > got[1]!.start, 'a counter that went back (a new cgroup at the same path) starts again');
    }
    await s.close();
  }
});
