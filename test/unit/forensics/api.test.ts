// /api/v1/snapshots: a POST body that is not JSON, not an object, without a cgroup, with a bad
// cgroup or with extra keys is a 400 with one line saying what is wrong (no snapshot taken); an
// unknown cgroup is a 404; ids that are not snapshot ids are 404s; the list filters by cgroup.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostFs } from '../../../src/host/hostFs.js';
import type { Config } from '../../../src/config/load.js';
import { SnapshotService } from '../../../src/forensics/snapshots.js';
import { snapshotsRouter } from '../../../src/http/snapshots.js';
import { createApp, listen } from '../../../src/http/server.js';
import { Runner } from '../../../src/collectors/runner.js';
import { PrometheusSink } from '../../../src/sinks/prometheus.js';
import * as c from '../../../src/model/catalog.js';
import { createLogger } from '../../../src/log.js';

const log = createLogger('silent');
const tmp = mkdtempSync(join(tmpdir(), 'memlens-api-'));
const sysRoot = join(tmp, 'sys');
let server: Server | undefined;
let svc: SnapshotService | undefined;
let base = '';

before(async () => {
  // A fake v1 cgroup /api with no process in it: a POST for it works without touching the host.
  const dir = join(sysRoot, 'fs/cgroup/memory/api');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cgroup.procs'), '');
  writeFileSync(join(dir, 'memory.usage_in_bytes'), '4096\n');
  writeFileSync(join(dir, 'memory.limit_in_bytes'), '268435456\n');
  writeFileSync(join(dir, 'memory.stat'), 'total_rss 4096\nhierarchical_memory_limit 268435456\n');
  const config: Config['snapshot'] = { dir: join(tmp, 'snapshots'), minIntervalMs: 30_000, cmdline: false, maxCount: 100, maxBytes: 1 << 30, maxAgeMs: 1e12, linkWindowMs: 60_000, hold: false, holdMaxMs: 2000, rules: [] };
  const host = new HostFs('/proc', sysRoot);
  svc = new SnapshotService({ host, hierarchy: { mode: 'v1', mountPoint: '/sys/fs/cgroup/memory', root: '/' }, config, log });
  svc.start();
  const runner = new Runner([], host, { timeoutMs: 1000, minIntervalMs: 0, seriesBudget: 100 }, log);
  server = await listen(createApp({ runner, sink: new PrometheusSink(c.catalog), telemetryPath: '/metrics', log, routers: [snapshotsRouter(svc, { enabled: true })] }), { host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await svc?.close();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  rmSync(tmp, { recursive: true, force: true });
});

async function post(body: string, type = 'application/json'): Promise<{ status: number; text: string }> {
  const r = await fetch(`${base}/api/v1/snapshots`, { method: 'POST', headers: { 'content-type': type }, body });
  return { status: r.status, text: await r.text() };
}

test('POST: bad bodies are 400s naming what is wrong, and take no snapshot', async () => {
  const cases: [string, RegExp][] = [
    ['{"cgroup": "/api"', /JSON|Unexpected|Expected/i], // not JSON
    ['not json at all', /JSON|Unexpected/i],
    ['["/api"]', /expected a JSON object/],
    ['{}', /cgroup: required/],
    ['{"cgroup": "/api", "hold": true}', /unknown key \\?"hold\\?"/],
    ['{"cgroup": "/api", "pid": 1}', /unknown key \\?"pid\\?"/],
    ['{"cgroup": 42}', /cgroup/],
    ['{"cgroup": "relative/path"}', /cgroup/],
  ];
  for (const [body, re] of cases) {
    const r = await post(body);
    assert.equal(r.status, 400, `${body} -> ${r.status} ${r.text}`);
    assert.match(r.text, re, body);
    assert.doesNotMatch(r.text, /\n\s+at /, 'no stack trace');
  }
  const list = (await (await fetch(`${base}/api/v1/snapshots`)).json()) as { snapshots: unknown[] };
  assert.equal(list.snapshots.length, 0);
});

test('POST: an unknown cgroup is a 404; a good one a 201, then listed and served', async () => {
  const missing = await post('{"cgroup": "/nope"}');
  assert.equal(missing.status, 404, missing.text);
  const ok = await post('{"cgroup": "/api"}');
  assert.equal(ok.status, 201, ok.text);
  const made = JSON.parse(ok.text) as { id: string; cgroup: string; processes: number };
  assert.equal(made.cgroup, '/api');
  assert.equal(made.processes, 0);
  const list = (await (await fetch(`${base}/api/v1/snapshots?cgroup=/api`)).json()) as { snapshots: { id: string }[] };
  assert.deepEqual(list.snapshots.map((s) => s.id), [made.id]);
  const other = (await (await fetch(`${base}/api/v1/snapshots?cgroup=/other`)).json()) as { snapshots: unknown[] };
  assert.equal(other.snapshots.length, 0);
  const one = await fetch(`${base}/api/v1/snapshots/${made.id}`);
  assert.equal(one.status, 200);
  assert.equal(((await one.json()) as { id: string }).id, made.id);
});

test('GET: ids that are not snapshot ids, or unknown, are 404s; a bad ?cgroup= is a 400', async () => {
  for (const id of ['..%2F..%2Fetc%2Fpasswd', 'snap-1-zzzzzz', 'nope']) {
    const r = await fetch(`${base}/api/v1/snapshots/${id}`);
    assert.equal(r.status, 404, id);
  }
  const bad = await fetch(`${base}/api/v1/snapshots?cgroup=relative`);
  assert.equal(bad.status, 400);
});
