// The collector registry: every collector is built from it, declares the metrics it emits (a test
// run of each one fails on an undeclared metric), and --collectors.* are checked against it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../../src/model/catalog.js';
import type { MetricDesc, Sample } from '../../../src/model/types.js';
import { loadConfig, type Config } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';
import { HostFs } from '../../../src/host/hostFs.js';
import { discoverHierarchy } from '../../../src/cgroupfs/hierarchy.js';
import { COLLECTORS, buildCollectors, enabledCollectors, type CollectorContext } from '../../../src/collectors/registry.js';
import type { Collector } from '../../../src/collectors/collector.js';
import { OomStore } from '../../../src/oom/store.js';
import { OomMonitor } from '../../../src/oom/monitor.js';
import { WatchStats } from '../../../src/watch/stats.js';
import { KubeletNames } from '../../../src/kubernetes/kubelet.js';
import { memoryLogger, signal, treeRoot } from './trees.js';

function config(root: string, flags: string[] = []): Config {
  const r = loadConfig(['--path.procfs', `${root}/proc`, '--path.sysfs', `${root}/sys`, '--cgroup.stat-items', 'all', ...flags], {});
  if (r.kind !== 'run') throw new Error(r.kind);
  return r.config;
}

/** Every collector wired, with state in each area so that every metric family has something to say. */
function fullContext(root: string): CollectorContext {
  const cfg = config(root);
  const store = new OomStore();
  store.addFromCounter('/a', 2, Date.now());
  const monitor = new OomMonitor({ kmsgPath: `${root}/kmsg-absent`, loop: undefined, store, log: memoryLogger().log });
  const stats = new WatchStats();
  stats.countCrossing('/a', 0.9);
  stats.latency.observe(0.004);
  return {
    cfg, hierarchy: discoverHierarchy(new HostFs(cfg.procRoot, cfg.sysRoot)), version: 'test', oom: { store, monitor },
    watchStats: stats,
    // Nothing listens there: the fixture trees have no pod cgroups anyway (test/unit/kubernetes covers its output).
    kubelet: new KubeletNames({ url: new URL('http://127.0.0.1:1'), tokenFile: `${root}/no-token`, caFile: undefined, insecureSkipVerify: false, refreshMinIntervalMs: 3_600_000, timeoutMs: 200 }, () => undefined, memoryLogger().log),
    snapshots: { metricValues: () => ({ counts: [{ reason: 'api', result: 'ok', n: 1 }], lastDurationSeconds: 0.2, killsWithSnapshot: 1, stored: { count: 1, bytes: 10 } }) },
  };
}

/** The metrics among `samples` that `declared` does not list. */
function undeclared(declared: readonly MetricDesc[], samples: readonly Sample[]): string[] {
  return [...new Set(samples.filter((s) => !declared.includes(s.desc)).map((s) => s.desc.prom))];
}

test('registry: unique names, every declared metric is in the catalogue, the collector built is the entry', () => {
  assert.equal(new Set(COLLECTORS.map((e) => e.name)).size, COLLECTORS.length);
  const ctx = fullContext(treeRoot('v1'));
  for (const e of COLLECTORS) {
    for (const m of e.metrics) assert.ok(c.catalog.includes(m), `${e.name}: ${m.prom} is not in catalog.ts (the sink would drop it)`);
    const col = e.create(ctx);
    assert.ok(col !== undefined, e.name);
    assert.equal(col.name, e.name);
    assert.equal(col.metrics, e.metrics);
  }
  assert.deepEqual(buildCollectors(ctx).map((col) => col.name), COLLECTORS.filter((e) => e.defaultEnabled).map((e) => e.name));
});

for (const tree of ['v1', 'v2'] as const) {
  test(`registry: every collector emits only the metrics it declares (${tree} tree)`, async () => {
    const ctx = fullContext(treeRoot(tree));
    const host = new HostFs(ctx.cfg.procRoot, ctx.cfg.sysRoot);
    const seen = new Set<MetricDesc>();
    for (const e of COLLECTORS) {
      const col = e.create(ctx)!;
      const r = await col.collect(host, signal());
      if (e.name !== 'kubernetes') assert.ok(r.samples.length > 0, `${e.name} emitted nothing: the check would prove nothing`);
      assert.deepEqual(undeclared(e.metrics, r.samples), [], `${e.name} emits metrics it does not declare`);
      for (const s of r.samples) seen.add(s.desc);
    }
    assert.ok(seen.has(c.watchLabelSetsDropped) && seen.has(c.buildInfo) && seen.has(c.snapshotsTotal));
  });
}

test('registry: the check fails on a collector that emits a metric it does not declare', async () => {
  const liar: Collector = {
    name: 'liar', metrics: [c.hostMemTotal],
    collect: () => Promise.resolve({ samples: [{ desc: c.hostMemTotal, labels: {}, value: 1 }, { desc: c.cgroupUsage, labels: { cgroup: '/' }, value: 2 }], problems: [] }),
  };
  const r = await liar.collect(new HostFs('/proc', '/sys'), signal());
  assert.deepEqual(undeclared(liar.metrics, r.samples), ['memlens_cgroup_memory_usage_bytes']);
});

test('registry: --collectors.disabled and --collectors.enabled name known collectors only', () => {
  const root = treeRoot('v1');
  assert.deepEqual(enabledCollectors(config(root, ['--collectors.disabled', 'process,build'])).map((e) => e.name), ['cgroup', 'host', 'oom', 'watch', 'snapshot', 'kubernetes']);
  assert.throws(() => enabledCollectors(config(root, ['--collectors.disabled', 'process,gpu'])), (e: unknown) => e instanceof ConfigError && /--collectors.disabled: unknown collector "gpu" \(known: process, cgroup/.test(e.message));
  assert.throws(() => enabledCollectors(config(root, ['--collectors.enabled', 'gpu'])), ConfigError);
  // Parts not wired (no OOM monitor, no watcher, no snapshot service) are simply not built.
  const cfg = config(root);
  assert.deepEqual(buildCollectors({ cfg, hierarchy: undefined, version: 'x' }).map((col) => col.name), ['process', 'cgroup', 'host', 'build']);
});
