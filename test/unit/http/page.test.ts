// The page's JSON API over a real runner and a real HTTP server: it answers from the last
// collection (a viewer costs no collection while it is fresh), sorts cgroups by headroom with
// one sparkline grid for all, answers bad parameters with a 400 naming the parameter, unknown
// cgroups and kills with a 404, and serves the bundle at / with a strict CSP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostFs } from '../../../src/host/hostFs.js';
import type { Config } from '../../../src/config/load.js';
import { SnapshotService } from '../../../src/forensics/snapshots.js';
import { RecentSamples } from '../../../src/forensics/recent.js';
import { Explainer } from '../../../src/forensics/explain.js';
import { OomStore } from '../../../src/oom/store.js';
import { WatchBus } from '../../../src/watch/bus.js';
import { pageRouter } from '../../../src/http/page.js';
import { oomRouter } from '../../../src/http/api.js';
import { createApp, listen } from '../../../src/http/server.js';
import { Runner } from '../../../src/collectors/runner.js';
import { PrometheusSink } from '../../../src/sinks/prometheus.js';
import type { Collector } from '../../../src/collectors/collector.js';
import type { SnapshotDoc } from '../../../src/forensics/capture.js';
import * as c from '../../../src/model/catalog.js';
import { createLogger } from '../../../src/log.js';

const MiB = 1 << 20;
const log = createLogger('silent');
const tmp = mkdtempSync(join(tmpdir(), 'memlens-page-'));
let server: Server | undefined;
let svc: SnapshotService | undefined;
let base = '';
let collections = 0;

const fake: Collector = {
  name: 'cgroup',
  metrics: [c.cgroupUsage, c.cgroupEffectiveLimit],
  collect() {
    collections++;
    const samples = [
      { desc: c.cgroupUsage, labels: { cgroup: '/roomy' }, value: 10 * MiB },
      { desc: c.cgroupEffectiveLimit, labels: { cgroup: '/roomy' }, value: 100 * MiB },
      { desc: c.cgroupUsage, labels: { cgroup: '/tight' }, value: 90 * MiB },
      { desc: c.cgroupEffectiveLimit, labels: { cgroup: '/tight' }, value: 100 * MiB },
      { desc: c.cgroupLimit, labels: { cgroup: '/tight' }, value: 100 * MiB },
      { desc: c.cgroupStat, labels: { cgroup: '/tight', item: 'anon' }, value: 80 * MiB },
      { desc: c.processResident, labels: { pid: '42', comm: 'hog', cgroup: '/tight/x' }, value: 70 * MiB },
    ];
    return Promise.resolve({ samples, problems: [] });
  },
};

before(async () => {
  const web = join(tmp, 'web');
  mkdirSync(web);
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>memlens</title>');
  const config: Config['snapshot'] = { dir: join(tmp, 'snapshots'), minIntervalMs: 30_000, cmdline: false, maxCount: 100, maxBytes: 1 << 30, maxAgeMs: 1e12, linkWindowMs: 60_000, hold: false, holdMaxMs: 2000, rules: [] };
  const host = new HostFs('/proc', '/sys');
  svc = new SnapshotService({ host, hierarchy: undefined, config, log });
  svc.start();
  const runner = new Runner([fake], host, { timeoutMs: 1000, minIntervalMs: 0, seriesBudget: 100 }, log);
  const recent = new RecentSamples();
  runner.onCollected((s) => recent.ingest(s.samples, s.atMs));
  const store = new OomStore();
  const bus = new WatchBus();
  const snapshots = svc;
  const explainer = new Explainer({
    recent, events: (q) => bus.recent(q), watched: () => [], watchEnabled: true, snapshotFailures: () => [], getSnapshot: (id) => snapshots.get(id), getKill: (id) => store.get(id),
    settings: { thresholds: [0.9], linkWindowMs: 60_000, snapshotMinIntervalMs: 30_000 },
  });
  const app = createApp({
    runner, sink: new PrometheusSink(c.catalog), telemetryPath: '/metrics', log,
    routers: [oomRouter(store, (id) => explainer.explain(id)), pageRouter({ runner, recent, explainer, store, bus, snapshots, webDir: web })],
  });
  server = await listen(app, { host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  await svc?.close();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  rmSync(tmp, { recursive: true, force: true });
});

async function get(path: string): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${base}${path}`);
  const text = await res.text();
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') === true ? (JSON.parse(text) as Record<string, unknown>) : { text }, headers: res.headers };
}

test('cgroups: tightest first, headroom and ratio, one sparkline grid; viewers within PAGE_MAX_AGE share one collection', async () => {
  const r = await get('/api/v1/cgroups');
  assert.equal(r.status, 200);
  const rows = r.body['cgroups'] as { cgroup: string; headroomBytes: number; usageRatio: number; limitBytes: number | null; spark: (number | null)[] }[];
  assert.deepEqual(rows.map((x) => x.cgroup), ['/tight', '/roomy']);
  assert.equal(rows[0]?.headroomBytes, 10 * MiB);
  assert.equal(rows[0]?.usageRatio, 0.9);
  assert.equal(rows[0]?.limitBytes, 100 * MiB);
  assert.equal(rows[1]?.limitBytes, null);
  assert.equal(rows[0]?.spark.length, 30);
  assert.equal(rows[0]?.spark[29], 900, 'permille of the effective limit');
  const before = collections;
  for (let i = 0; i < 5; i++) assert.equal((await get('/api/v1/cgroups')).status, 200);
  assert.equal(collections, before, 'five more viewers, no collection');
  const one = await get('/api/v1/cgroups?limit=1');
  assert.equal((one.body['cgroups'] as unknown[]).length, 1);
  assert.equal(one.body['total'], 2);
});

test('one cgroup: its stat, its sampled processes (below it too); 400 and 404 say what is wrong', async () => {
  const r = await get('/api/v1/cgroup?cgroup=/tight');
  assert.equal(r.status, 200);
  assert.deepEqual((r.body['cgroup'] as { stat: Record<string, number> }).stat, { anon: 80 * MiB });
  assert.deepEqual((r.body['processes'] as { pid: number; comm: string }[]).map((p) => p.comm), ['hog']);
  const none = await get('/api/v1/cgroup');
  assert.equal(none.status, 400);
  assert.match(String(none.body['error']), /cgroup: required/);
  assert.equal((await get('/api/v1/cgroup?cgroup=relative')).status, 400);
  assert.equal(r.body['atLatestSnapshot'], null, 'no snapshot of /tight yet');
  // With a snapshot of the cgroup: every process it saw below the cgroup, biggest first.
  const proc = (pid: number, cgroup: string, rss: number): SnapshotDoc['processes'][number] => ({
    pid, cgroup, comm: `p${pid}`, argv0: undefined, cmdline: undefined, stage: 'status', goneAt: undefined,
    status: { name: `p${pid}`, residentBytes: rss, residentAnonBytes: rss, residentFileBytes: 0, residentShmemBytes: 0, residentPeakBytes: rss, virtualBytes: rss, swapBytes: 0, pageTablesBytes: 0, state: 'S', threads: 1 },
    oomScore: 1, oomScoreAdj: 0, smapsRollup: undefined, topMappings: undefined, vmaCount: undefined, readAtMs: {}, actions: [], errors: [],
  });
  const t = Date.now();
  svc!.store.write({
    format: 1, id: `snap-${t}-abcdef`, time: new Date(t).toISOString(), timeMs: t, reason: 'api', cgroup: '/tight', mode: 'v1', captureEndMs: t, captureDurationMs: 1, finishedMs: t,
    cgroups: [], processes: [proc(1, '/tight', MiB), proc(2, '/tight/x', 5 * MiB), proc(3, '/tightrope', 9 * MiB)], truncated: { cgroups: false, processes: false, smapsProcesses: 0 }, hold: undefined, oomKills: [],
  });
  const withSnap = (await get('/api/v1/cgroup?cgroup=/tight')).body['atLatestSnapshot'] as { id: string; processes: { pid: number }[] };
  assert.equal(withSnap.id, `snap-${t}-abcdef`);
  assert.deepEqual(withSnap.processes.map((p) => p.pid), [2, 1]);
  const gone = await get('/api/v1/cgroup?cgroup=/nope');
  assert.equal(gone.status, 404);
  assert.match(String(gone.body['error']), /not seen in the recent collections/);
  assert.equal((await get('/api/v1/cgroups?limit=0')).status, 400);
});

test('explain: 404 for an unknown kill; ?explain must be true or false', async () => {
  assert.equal((await get('/api/v1/oom-kills/oom-1-2-3/explain')).status, 404);
  const bad = await get('/api/v1/oom-kills?explain=yes');
  assert.equal(bad.status, 400);
  assert.match(String(bad.body['error']), /explain: expected true or false/);
  assert.deepEqual((await get('/api/v1/oom-kills?explain=true')).body, { kills: [] });
});

test('the page at / is the bundle, served with a CSP that allows nothing but memlens itself', async () => {
  const r = await get('/');
  assert.equal(r.status, 200);
  assert.match(String(r.body['text']), /<title>memlens<\/title>/);
  assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  assert.equal((await get('/no-such-file.js')).status, 404);
});
