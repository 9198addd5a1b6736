// Golden OTLP output: the real wiring (loadConfig -> collectors -> Runner) over the fixture trees,
// through the OTLP metrics sink into the SDK's InMemoryMetricExporter, normalised (metrics in
// catalog order, points sorted by attributes, time-dependent values written as 0) and compared with
// test/golden/<scenario>.otlp.json. UPDATE_GOLDEN=1 rewrites the files; review the diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { AggregationTemporality, DataPointType, InMemoryMetricExporter } from '@opentelemetry/sdk-metrics';
import * as c from '../../../src/model/catalog.js';
import { loadConfig } from '../../../src/config/load.js';
import { HostFs } from '../../../src/host/hostFs.js';
import { discoverHierarchy } from '../../../src/cgroupfs/hierarchy.js';
import { buildCollectors } from '../../../src/collectors/registry.js';
import { Runner } from '../../../src/collectors/runner.js';
import { ExportStats, OtlpMetricsSink, otlpResource } from '../../../src/sinks/otlp.js';
import { createLogger } from '../../../src/log.js';
import { memoryLogger, repoRoot, treeRoot } from '../collectors/trees.js';

const VOLATILE = new Set(['memlens.collector.duration', 'memlens.process.smaps_read']);

interface GoldenMetric {
  name: string;
  unit: string;
  type: string;
  points: [Record<string, unknown>, unknown][];
}

async function otlp(root: string): Promise<GoldenMetric[]> {
  const parsed = loadConfig(['--path.procfs', `${root}/proc`, '--path.sysfs', `${root}/sys`, '--otlp.endpoint', 'http://127.0.0.1:1'], {});
  if (parsed.kind !== 'run') throw new Error(`loadConfig gave ${parsed.kind}`);
  const cfg = parsed.config;
  const config = cfg.otlp.metrics;
  if (config === undefined) throw new Error('no OTLP metrics config');
  const host = new HostFs(cfg.procRoot, cfg.sysRoot);
  const { log } = memoryLogger();
  const stats = new ExportStats(createLogger('silent'), ['metrics']);
  const runner = new Runner(buildCollectors({ cfg, hierarchy: discoverHierarchy(host), version: 'golden' }), host, { timeoutMs: cfg.collectTimeoutMs, minIntervalMs: 60_000, seriesBudget: 200_000 }, log, () => stats.samples());
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const sink = new OtlpMetricsSink({ source: runner, catalog: c.catalog, config, resource: otlpResource({}, 'golden'), version: 'golden', stats, log: createLogger('silent'), exporter });
  sink.start();
  await sink.flush();
  await sink.close();
  const metrics = exporter.getMetrics()[0]?.scopeMetrics.flatMap((s) => s.metrics) ?? [];
  return metrics.map((m) => {
    const type = m.dataPointType === DataPointType.SUM ? `sum${m.isMonotonic ? ' monotonic' : ''}` : m.dataPointType === DataPointType.GAUGE ? 'gauge' : 'histogram';
    const points = (m.dataPoints as { attributes: Record<string, unknown>; value: unknown }[])
      .map((p): [Record<string, unknown>, unknown] => [p.attributes, VOLATILE.has(m.descriptor.name) ? 0 : p.value])
      .sort(([a], [b]) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    return { name: m.descriptor.name, unit: m.descriptor.unit, type, points };
  });
}

function compare(name: string, metrics: GoldenMetric[]): void {
  const path = `${repoRoot}test/golden/${name}.otlp.json`;
  // Valid JSON, one point per line: diffs read point by point.
  const actual = `[\n${metrics.map((m) => ` {"name": ${JSON.stringify(m.name)}, "unit": ${JSON.stringify(m.unit)}, "type": ${JSON.stringify(m.type)}, "points": [\n${m.points.map((x) => `  ${JSON.stringify(x)}`).join(',\n')}\n ]}`).join(',\n')}\n]\n`;
  if (process.env['UPDATE_GOLDEN'] === '1') {
    writeFileSync(path, actual);
    return;
  }
  let expected: string;
  try {
    expected = readFileSync(path, 'utf8');
  } catch {
    assert.fail(`${path} is missing: run UPDATE_GOLDEN=1 node scripts/run-tests.mjs otlpGolden and review it`);
  }
  assert.equal(actual, expected, `OTLP output differs from ${path} (UPDATE_GOLDEN=1 rewrites it)`);
}

const point = (metrics: GoldenMetric[], name: string, attrs: Record<string, unknown>): unknown =>
  metrics.find((m) => m.name === name)?.points.find(([a]) => JSON.stringify(a) === JSON.stringify(attrs))?.[1];

for (const tree of ['v1', 'v2'] as const) {
  test(`golden OTLP: ${tree} tree`, async () => {
    const metrics = await otlp(treeRoot(tree));
    compare(tree, metrics);
    // Anchors equal to the Prometheus goldens, so that a bad UPDATE_GOLDEN run cannot bless wrong numbers.
    if (tree === 'v1') {
      assert.equal(point(metrics, 'memlens.cgroup.memory.usage', { cgroup: '/workloads/job-7f3a/oomdemo' }), 4677632);
      assert.equal(point(metrics, 'memlens.cgroup.memory.events', { cgroup: '/workloads/job-7f3a/oomdemo', event: 'max' }), 2112);
    } else {
      assert.equal(point(metrics, 'memlens.cgroup.memory.events', { cgroup: '/workloads/job-42c9/oomdemo', event: 'oom_kill' }), 1);
      assert.equal(point(metrics, 'memlens.process.pss', { pid: '483', comm: 'cp', cgroup: '/workloads/job-42c9' }), 907 * 1024);
    }
    assert.equal(metrics.find((m) => m.name === 'memlens.cgroup.memory.events')?.type, 'sum monotonic');
    assert.equal(point(metrics, 'memlens.otlp.exports', { signal: 'metrics', result: 'success' }), 0);
  });
}
