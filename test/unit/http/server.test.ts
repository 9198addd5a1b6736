// The HTTP layer and the runner with collectors that are slow, failing or hanging on purpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Runner } from '../../../src/collectors/runner.js';
import type { Collector } from '../../../src/collectors/collector.js';
import { HostFs } from '../../../src/host/hostFs.js';
import { PrometheusSink } from '../../../src/sinks/prometheus.js';
import { createApp, listen } from '../../../src/http/server.js';
import { createLogger } from '../../../src/log.js';
import * as c from '../../../src/model/catalog.js';
import type { CollectResult, MetricDesc, Sample } from '../../../src/model/types.js';
import { until } from '../../helpers/wait.js';

const log = createLogger('silent');

class Counting implements Collector {
  readonly name = 'host';
  readonly metrics = [c.hostMemTotal];
  calls = 0;
  constructor(private readonly delayMs: number) {}
  async collect(): Promise<CollectResult> {
    this.calls++;
    await new Promise((r) => setTimeout(r, this.delayMs));
    return { samples: [{ desc: c.hostMemTotal, labels: {}, value: 1000 + this.calls }], problems: [{ reason: 'parse', message: 'x' }] };
  }
}
class Failing implements Collector {
  readonly name = 'cgroup';
  readonly metrics = [c.cgroupUsage];
  collect(): Promise<CollectResult> {
    return Promise.reject(new Error('boom'));
  }
}
class Hanging implements Collector {
  readonly name = 'process';
  readonly metrics = [c.processResident];
  collect(_h: HostFs, signal: AbortSignal): Promise<CollectResult> {
    return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
  }
}

/** A runner that counts its callers: how many scrapes have asked for a collection so far. */
/** A collector that returns the samples it was given, every time. */
class Fixed implements Collector {
  constructor(readonly name: string, readonly metrics: MetricDesc[], private readonly samples: Sample[]) {}
  collect(): Promise<CollectResult> {
    return Promise.resolve({ samples: this.samples, problems: [] });
  }
}

class CountingRunner extends Runner {
  callers = 0;
  override collect(): ReturnType<Runner['collect']> {
    this.callers++;
    return super.collect();
  }
}

/** A collector that returns only when the test opens its gate. */
class Gated implements Collector {
  readonly name = 'host';
  readonly metrics = [c.hostMemTotal];
  calls = 0;
  private release: () => void = () => {};
  private readonly gate = new Promise<void>((r) => (this.release = r));
  open(): void {
    this.release();
  }
  async collect(): Promise<CollectResult> {
    this.calls++;
    await this.gate;
    return { samples: [{ desc: c.hostMemTotal, labels: {}, value: 1000 + this.calls }], problems: [] };
  }
}

async function serve(collectors: Collector[], minIntervalMs = 0, timeoutMs = 200, seriesBudget = 1000) {
  const runner = new CountingRunner(collectors, new HostFs('/proc', '/sys'), { timeoutMs, minIntervalMs, seriesBudget }, log);
  const app = createApp({ runner, sink: new PrometheusSink(c.catalog), telemetryPath: '/metrics', log });
  const server = await listen(app, { host: '127.0.0.1', port: 0 });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, runner, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('a failing and a hanging collector do not break the scrape', async () => {
  const s = await serve([new Counting(1), new Failing(), new Hanging()]);
  try {
    const res = await fetch(`${s.url}/metrics`);
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.match(body, /^memlens_collector_success\{collector="host"\} 1$/m);
    assert.match(body, /^memlens_collector_success\{collector="cgroup"\} 0$/m);
    assert.match(body, /^memlens_collector_success\{collector="process"\} 0$/m);
    assert.match(body, /^memlens_host_memory_total_bytes 1001$/m);
    assert.match(body, /^memlens_collect_problems_total\{collector="host",reason="parse"\} 1$/m);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  } finally {
    await s.close();
  }
});

test('concurrent scrapes share one collection in flight', async () => {
  // The collection is held open until all five scrapes have asked for it (a fixed delay made this
  // depend on how fast a loaded host delivers five requests).
  const col = new Gated();
  const s = await serve([col], 0, 60_000);
  try {
    const pending = Promise.all([1, 2, 3, 4, 5].map(() => fetch(`${s.url}/metrics`).then((r) => r.text())));
    await until('five scrapes asking for a collection', () => s.runner.callers === 5, 30_000);
    col.open();
    const bodies = await pending;
    assert.equal(col.calls, 1);
    for (const b of bodies) assert.match(b, /^memlens_host_memory_total_bytes 1001$/m);
    await fetch(`${s.url}/metrics`);
    assert.equal(col.calls, 2, 'a later scrape collects again (min interval 0)');
  } finally {
    await s.close();
  }
});

test('scrapes within --collect.min-interval reuse the last collection', async () => {
  const col = new Counting(1);
  const s = await serve([col], 60_000);
  try {
    await fetch(`${s.url}/metrics`);
    await fetch(`${s.url}/metrics`);
    assert.equal(col.calls, 1);
  } finally {
    await s.close();
  }
});

test('OpenMetrics when the scraper asks for it, counters keep _total in both formats', async () => {
  const s = await serve([new Counting(1)]);
  try {
    const om = await fetch(`${s.url}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5' } });
    assert.match(om.headers.get('content-type') ?? '', /^application\/openmetrics-text/);
    const omBody = await om.text();
    assert.match(omBody, /# EOF\n$/);
    assert.match(omBody, /^# TYPE memlens_collect_problems counter$/m);
    assert.match(omBody, /^memlens_collect_problems_total\{/m);
    // prom-client renames counters while rendering OpenMetrics: the text format must not be affected.
    const text = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(text, /^# TYPE memlens_collect_problems_total counter$/m);
  } finally {
    await s.close();
  }
});

test('healthz, 404, and a port in use', async () => {
  const s = await serve([new Counting(1)]);
  try {
    assert.equal(await (await fetch(`${s.url}/healthz`)).text(), 'ok\n');
    assert.equal((await fetch(`${s.url}/nope`)).status, 404);
    const port = Number(new URL(s.url).port);
    await assert.rejects(listen(createApp({ runner: new Runner([], new HostFs('/proc', '/sys'), { timeoutMs: 1, minIntervalMs: 0, seriesBudget: 1 }, log), sink: new PrometheusSink([]), telemetryPath: '/metrics', log }), { host: '127.0.0.1', port }), /EADDRINUSE/);
  } finally {
    await s.close();
  }
});

test('series budget: samples over it are dropped and counted', async () => {
  const s = await serve([new Fixed('process', [c.groupProcesses], Array.from({ length: 1500 }, (_, i) => ({ desc: c.groupProcesses, labels: { group: `g${i}` }, value: i })))]);
  try {
    const body = await (await fetch(`${s.url}/metrics`)).text();
    assert.equal(body.match(/^memlens_process_group_processes\{/gm)?.length, 1000);
    assert.match(body, /^memlens_samples_dropped_total\{collector="process"\} 500$/m);
  } finally {
    await s.close();
  }
});

test('a NaN or infinite value is left out of the exposition, never printed', async () => {
  const s = await serve([new Fixed('host', [c.hostMemTotal, c.hostMemAvailable], [{ desc: c.hostMemTotal, labels: {}, value: NaN }, { desc: c.hostMemAvailable, labels: {}, value: Infinity }])]);
  try {
    const body = await (await fetch(`${s.url}/metrics`)).text();
    assert.doesNotMatch(body, /^memlens_host_memory_(total|available)_bytes /m);
    assert.doesNotMatch(body, /^memlens_.* (Nan|NaN|[+-]?Inf)$/m);
    assert.doesNotMatch(body, / Nan$/m, 'NaN is spelled NaN');
  } finally {
    await s.close();
  }
});

test('/metrics: a body longer than one piece is sent chunked, the same bytes as rendered; HEAD has the headers only', async () => {
  const s = await serve([new Fixed('cgroup', [c.cgroupUsage], Array.from({ length: 20_000 }, (_, i) => ({ desc: c.cgroupUsage, labels: { cgroup: `/kubepods/pod-${i}` }, value: i })))], 0, 5000, 100_000);
  try {
    const r = await fetch(`${s.url}/metrics`);
    const body = Buffer.from(await r.arrayBuffer());
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-length'), null);
    assert.equal(r.headers.get('transfer-encoding'), 'chunked');
    assert.ok(body.length > 1_000_000, `${body.length} bytes`);
    const lines = body.toString('utf8').split('\n').filter((l) => l.startsWith('memlens_cgroup_memory_usage_bytes{'));
    assert.equal(lines.length, 20_000);
    assert.equal(lines[19_999], 'memlens_cgroup_memory_usage_bytes{cgroup="/kubepods/pod-19999"} 19999');
    assert.match(body.toString('utf8'), /\nprocess_cpu_user_seconds_total \S+\n/);
    const head = await fetch(`${s.url}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    // Still served after both.
    assert.equal((await fetch(`${s.url}/metrics`)).status, 200);
  } finally {
    await s.close();
  }
});

test('/metrics: the body as rendered, its length, no ETag (no hash of megabytes per scrape); HEAD has the headers only', async () => {
  const s = await serve([new Counting(1)]);
  try {
    const r = await fetch(`${s.url}/metrics`);
    const body = Buffer.from(await r.arrayBuffer());
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('etag'), null);
    assert.equal(r.headers.get('content-length'), String(body.length));
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(body.toString('utf8'), /^memlens_host_memory_total_bytes 1001$/m);
    const head = await fetch(`${s.url}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('etag'), null);
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    // Other routes keep express's ETag.
    assert.notEqual((await fetch(`${s.url}/healthz`)).headers.get('etag'), null);
  } finally {
    await s.close();
  }
});
