// End to end: the real exporter on this host pushes to a real OTLP/HTTP receiver
// (@elastic/mockotlpserver), in HTTP/JSON and in HTTP/protobuf. For one collection (a scrape and
// an export within --collect.min-interval share it) every point the receiver decoded must
// translate (OTLP to Prometheus with suffixes, test/helpers/otlpTranslate.ts) to a series /metrics
// served, with the same labels and value, and every memlens_* series /metrics served must have
// arrived; names, units and types are the catalog's; the resource carries service.*, host.name,
// os.type, k8s.node.name and OTEL_RESOURCE_ATTRIBUTES.
// Then the receiver is down and comes back: /metrics keeps answering, failures are counted in
// memlens_otlp_exports_total and logged once, exports resume without a restart.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/load.js';
import { startExporter, type Running } from '../../src/main.js';
import { createLogger } from '../../src/log.js';
import { catalog } from '../../src/model/catalog.js';
import { VERSION } from '../../src/version.js';
import { freePort, parseExposition, select, type ExpoSample } from '../helpers/exposition.js';
import { startReceiver, type Attrs, type OtlpMetric, type Receiver } from '../helpers/otlp.js';
import { otlpToPrometheusName, type PromType } from '../helpers/otlpTranslate.js';
import { waitFor } from '../helpers/wait.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(flags: string[], env: Record<string, string>, logSink?: (line: string) => void): Promise<{ running: Running; base: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-i10-otlp-'));
  dirs.push(dir);
  const port = await freePort();
  const parsed = loadConfig([
    '--web.listen-address', `127.0.0.1:${port}`, '--snapshot.dir', dir, '--collect.timeout', '60s',
    // The process collector is slow on this shared 2-CPU host (thousands of pids) but its names
    // matter here: keep it, with few per-pid series. Cgroups two levels deep: other work on the host
    // may leave thousands of cgroups deeper down, and this test is about the translation, not scale.
    '--process.top', '3', '--cgroup.max-depth', '2', '--log.level', 'info', ...flags,
  ], env);
  assert.equal(parsed.kind, 'run');
  const log = logSink === undefined ? createLogger('silent') : createLogger('info', new Writable({ write(chunk: Buffer, _e, cb) { logSink(chunk.toString()); cb(); } }));
  const running = await startExporter(parsed.config, log);
  return { running, base: `http://127.0.0.1:${port}` };
}

const LABEL_OF: Readonly<Record<string, string>> = { 'k8s.pod.uid': 'pod_uid', 'container.id': 'container_id' };

function labelsOf(a: Attrs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(a)) out[LABEL_OF[k] ?? k] = String(v);
  return out;
}

function key(name: string, labels: Record<string, string>): string {
  return `${name}${JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)))}`;
}

function promType(m: OtlpMetric): PromType {
  if (m.type === 'histogram') return 'histogram';
  return m.type === 'sum' && m.monotonic ? 'counter' : 'gauge';
}

async function metricsOf(base: string): Promise<ExpoSample[]> {
  // A generous timeout: a collection of this whole host can take seconds on the loaded test machine.
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(120_000) });
  assert.equal(res.status, 200);
  return parseExposition(await res.text());
}

for (const protocol of ['http/json', 'http/protobuf'] as const) {
  describe(`OTLP metrics over ${protocol}: the same collection as /metrics`, () => {
    let receiver: Receiver;
    let running: Running | undefined;

    after(async () => {
      await running?.close();
      await receiver?.close();
    });

    test('names, units, types, resource attributes and values', async () => {
      receiver = await startReceiver();
      const s = await start(['--collect.min-interval', '10m', '--otlp.endpoint', receiver.url], {
        OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
        OTEL_METRIC_EXPORT_INTERVAL: '3600000', // exports only when the test flushes
        OTEL_LOGS_EXPORTER: 'none',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=e2e,service.namespace=mem%2Clens',
        K8S_NODE_NAME: 'node-e2e',
      });
      running = s.running;
      const served = await metricsOf(s.base); // the collection, shared with the export below
      await running.otlp.metrics!.flush();
      const req = await waitFor('a metrics request at the receiver', () => receiver.metrics[0], 30_000);

      // Resource.
      assert.equal(req.resource['service.name'], 'memlens');
      assert.equal(req.resource['service.version'], VERSION);
      assert.equal(req.resource['service.instance.id'], 'node-e2e');
      assert.equal(req.resource['k8s.node.name'], 'node-e2e');
      assert.equal(req.resource['host.name'], hostname());
      assert.equal(req.resource['os.type'], 'linux');
      assert.equal(req.resource['deployment.environment.name'], 'e2e');
      assert.equal(req.resource['service.namespace'], 'mem,lens', 'percent-decoded');

      // Names, units, types: the catalog's, and the translation gives the /metrics name.
      const byOtel = new Map(catalog.map((d) => [d.otel, d]));
      const servedNames = new Set(served.map((x) => x.name));
      const otlpSeries = new Map<string, number>();
      for (const m of req.metrics) {
        const d = byOtel.get(m.name);
        assert.ok(d !== undefined, `${m.name} is not in the catalog`);
        assert.equal(m.unit, d.unit, `${m.name}: unit`);
        assert.equal(promType(m), d.kind, `${m.name}: type`);
        assert.equal(m.description, d.help, `${m.name}: description`);
        const prom = otlpToPrometheusName(m.name, m.unit, promType(m));
        assert.equal(prom, d.prom, `${m.name} translates to ${prom}`);
        if (m.type === 'sum') assert.equal(m.temporality, 2, `${m.name}: cumulative`);
        for (const p of m.points) {
          const labels = labelsOf(p.attrs);
          if (p.histogram !== undefined) {
            // Per-bucket counts back to Prometheus's cumulative _bucket series.
            let cum = 0;
            p.histogram.bounds.forEach((le, i) => {
              cum += p.histogram!.counts[i] ?? 0;
              otlpSeries.set(key(`${prom}_bucket`, { ...labels, le: String(le) }), cum);
            });
            otlpSeries.set(key(`${prom}_bucket`, { ...labels, le: '+Inf' }), p.histogram.count);
            otlpSeries.set(key(`${prom}_sum`, labels), p.histogram.sum);
            otlpSeries.set(key(`${prom}_count`, labels), p.histogram.count);
            continue;
          }
          assert.ok(servedNames.has(prom), `${prom} (from ${m.name}) not served at /metrics`);
          assert.ok(p.value !== undefined, `${m.name}: a value`);
          otlpSeries.set(key(prom, labels), p.value);
        }
      }
      // Values: every memlens_* series of /metrics arrived over OTLP with the same value, and nothing else did.
      const promSeries = new Map<string, number>();
      for (const x of served) if (x.name.startsWith('memlens_')) promSeries.set(key(x.name, x.labels), x.value);
      assert.ok(promSeries.size > 50, `a real host gives many series (${promSeries.size})`);
      assert.ok(select(served, 'memlens_cgroup_memory_usage_bytes').length > 0, 'cgroup series present');
      assert.ok(select(served, 'memlens_process_group_resident_bytes').length > 0, 'process group series present');
      const missing = [...promSeries.keys()].filter((k) => !otlpSeries.has(k));
      const extra = [...otlpSeries.keys()].filter((k) => !promSeries.has(k));
      assert.deepEqual(missing.slice(0, 5), [], `${missing.length} series of /metrics not pushed`);
      assert.deepEqual(extra.slice(0, 5), [], `${extra.length} pushed series not on /metrics`);
      for (const [k, v] of promSeries) assert.equal(otlpSeries.get(k), v, k);
    });
  });
}

describe('OTLP receiver down, then up', () => {
  let receiver: Receiver | undefined;
  let running: Running | undefined;

  after(async () => {
    await running?.close();
    await receiver?.close();
  });

  test('/metrics answers during the outage, failures are counted and logged once, exports resume', async () => {
    const port = await freePort(); // nothing listens here until the receiver starts below
    const lines: string[] = [];
    // A small collection (no processes, top-level cgroups only): this test is about the outage, and
    // exports every second on a loaded shared host must not turn into a load test.
    const s = await start(['--collect.min-interval', '0s', '--collectors.disabled', 'process', '--cgroup.max-depth', '1', '--otlp.endpoint', `http://127.0.0.1:${port}`], {
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
      OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      OTEL_LOGS_EXPORTER: 'none',
    }, (l) => lines.push(l));
    running = s.running;
    const exportsOf = (x: ExpoSample[], result: string): number => select(x, 'memlens_otlp_exports_total', { signal: 'metrics', result })[0]?.value ?? -1;

    const down = await waitFor('two failed exports counted on /metrics', async () => {
      const x = await metricsOf(s.base);
      return exportsOf(x, 'failure') >= 2 ? x : undefined;
    }, 60_000);
    assert.equal(exportsOf(down, 'success'), 0);
    assert.ok(select(down, 'memlens_cgroup_memory_usage_bytes').length > 0, '/metrics still serves the collection');

    receiver = await startReceiver(port);
    const r = receiver;
    await waitFor('an export at the receiver after it came up', () => r.metrics[0], 60_000);
    const up = await waitFor('a successful export counted on /metrics', async () => {
      const x = await metricsOf(s.base);
      return exportsOf(x, 'success') >= 1 ? x : undefined;
    }, 60_000);
    assert.ok(exportsOf(up, 'failure') >= 2);
    const failing = lines.filter((l) => l.includes('"OTLP export failing"'));
    const recovered = lines.filter((l) => l.includes('"OTLP export recovered"'));
    assert.equal(failing.length, 1, `one line for the outage, not one per export: ${failing.length}`);
    assert.equal(recovered.length, 1);
  });
});

describe('OTLP log records over http/protobuf', () => {
  let receiver: Receiver | undefined;
  let running: Running | undefined;

  after(async () => {
    await running?.close();
    await receiver?.close();
  });

  test('a threshold crossing published on the watch bus arrives as a WARN record with its fields', async () => {
    receiver = await startReceiver();
    const s = await start(['--collectors.disabled', 'process', '--cgroup.max-depth', '1', '--otlp.endpoint', receiver.url], {
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/protobuf',
      OTEL_SERVICE_NAME: 'memlens-e2e',
    });
    running = s.running;
    assert.equal(running.otlp.metrics, undefined, 'OTEL_METRICS_EXPORTER=none');
    const cgroup = '/kubepods/burstable/pod0f6c9a52-8d7e-4c1a-9a43-1c2d3e4f5a6b/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
    const timeMs = Date.now() - 1234;
    running.watch.bus.emit({ timeMs, cgroup, source: 'v1-threshold', threshold: 0.9, usageBytes: 58_000_000, limitBytes: 64 * 1024 * 1024, latencySeconds: 0.001 });
    await running.otlp.logs!.flush();
    const r = receiver;
    const rec = await waitFor('the crossing record', () => r.logs.find((l) => l.attrs['memlens.cgroup'] === cgroup), 30_000);
    // eventName is sent (the JSON run of the kernel test sees it), but mockotlpserver 0.10's bundled
    // logs.proto predates the LogRecord event_name field (OTLP 1.5), so protobufjs cannot decode it here.
    assert.ok(rec.eventName === '' || rec.eventName === 'memlens.threshold_crossing', rec.eventName);
    assert.equal(rec.severityNumber, 13);
    assert.equal(rec.severityText, 'WARN');
    assert.equal(rec.resource['service.name'], 'memlens-e2e');
    assert.equal(rec.attrs['memlens.cgroup'], cgroup);
    assert.equal(rec.attrs['memlens.watch.threshold'], 0.9);
    assert.equal(rec.attrs['memlens.watch.usage_bytes'], 58_000_000);
    assert.equal(rec.attrs['memlens.watch.limit_bytes'], 64 * 1024 * 1024);
    assert.equal(rec.attrs['memlens.watch.source'], 'v1-threshold');
    assert.equal(rec.attrs['k8s.pod.uid'], '0f6c9a52-8d7e-4c1a-9a43-1c2d3e4f5a6b');
    assert.match(String(rec.attrs['container.id'] ?? ''), /^0123456789abcdef/);
    assert.equal(rec.timeNs / 1_000_000n, BigInt(timeMs));
    assert.match(rec.body, /crossed 90% of its limit/);
  });
});
