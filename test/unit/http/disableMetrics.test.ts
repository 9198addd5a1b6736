// --web.disable-metrics (push only): no route at the telemetry path, /healthz and the API stay;
// and the runner's snapshot keeps every collector's samples in its own group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { Router } from 'express';
import { Runner, RUNNER_GROUP } from '../../../src/collectors/runner.js';
import type { Collector } from '../../../src/collectors/collector.js';
import { HostFs } from '../../../src/host/hostFs.js';
import { createApp, listen } from '../../../src/http/server.js';
import { createLogger } from '../../../src/log.js';
import * as c from '../../../src/model/catalog.js';
import type { CollectResult } from '../../../src/model/types.js';

const log = createLogger('silent');

class Fixed implements Collector {
  readonly metrics = [c.hostMemTotal];
  constructor(readonly name: string, private readonly value: number | undefined) {}
  collect(): Promise<CollectResult> {
    if (this.value === undefined) return Promise.reject(new Error('boom'));
    return Promise.resolve({ samples: [{ desc: c.hostMemTotal, labels: {}, value: this.value }], problems: [] });
  }
}

test('without an exposition sink: /metrics is 404, /healthz and other routes answer', async () => {
  const runner = new Runner([new Fixed('host', 1)], new HostFs('/proc', '/sys'), { timeoutMs: 1000, minIntervalMs: 0, seriesBudget: 100 }, log);
  const api = Router().get('/api/v1/x', (_req, res) => void res.json({ ok: true }));
  const server = await listen(createApp({ runner, sink: undefined, telemetryPath: '/metrics', log, routers: [api] }), { host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    assert.equal((await fetch(`${base}/metrics`)).status, 404);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/api/v1/x`)).status, 200);
    assert.doesNotMatch(await (await fetch(`${base}/`)).text(), /href="\/metrics"/);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('a snapshot groups samples per collector, then the runner\'s own; samples is their concatenation', async () => {
  const runner = new Runner([new Fixed('a', 1), new Fixed('b', undefined), new Fixed('c', 3)], new HostFs('/proc', '/sys'), { timeoutMs: 1000, minIntervalMs: 0, seriesBudget: 100 }, log, () => [{ desc: c.buildInfo, labels: { version: 'x' }, value: 1 }]);
  const snap = await runner.collect();
  assert.deepEqual(snap.groups.map((g) => g.collector), ['a', 'b', 'c', RUNNER_GROUP]);
  assert.deepEqual(snap.groups.map((g) => g.samples.filter((s) => s.desc === c.hostMemTotal).map((s) => s.value)), [[1], [], [3], []]);
  const own = snap.groups[3]!.samples;
  assert.deepEqual(own.filter((s) => s.desc === c.collectorSuccess).map((s) => [s.labels['collector'], s.value]), [['a', 1], ['b', 0], ['c', 1]]);
  assert.ok(own.some((s) => s.desc === c.buildInfo), 'the extra samples are in the runner group');
  assert.deepEqual(snap.samples, snap.groups.flatMap((g) => g.samples));
});
