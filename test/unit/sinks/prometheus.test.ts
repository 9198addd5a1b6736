// The hand-written encoder against prom-client 15.1.3's Registry: the same samples rendered both
// ways, in both formats, must be the same bytes. The reference hands prom-client collect-time
// metric objects (name, help, type, get(): the form its Registry documents for custom metrics).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, collectDefaultMetrics, type Metric, type RegistryContentType } from 'prom-client';
import { openFdsByListing } from '../../../src/host/selfFds.js';
import * as c from '../../../src/model/catalog.js';
import type { Labels, MetricDesc, Sample, Snapshot } from '../../../src/model/types.js';
import { extendLabels, labelsBase, type ExtraLabel } from '../../../src/model/labels.js';
import { loadConfig } from '../../../src/config/load.js';
import { HostFs } from '../../../src/host/hostFs.js';
import { discoverHierarchy } from '../../../src/cgroupfs/hierarchy.js';
import { buildCollectors } from '../../../src/collectors/registry.js';
import { Runner } from '../../../src/collectors/runner.js';
import { encodeFamilies, PrometheusSink, type Format } from '../../../src/sinks/prometheus.js';
import { memoryLogger, treeRoot } from '../collectors/trees.js';

interface Value {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}

/** What prom-client renders for these samples (empty label values left out, non-finite values skipped). */
async function reference(format: Format, descs: readonly MetricDesc[], samples: readonly Sample[]): Promise<string> {
  const reg: Registry<RegistryContentType> = new Registry();
  if (format === 'openmetrics') reg.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  for (const d of descs) {
    const values: Value[] = [];
    for (const s of samples) {
      if (s.desc !== d || !Number.isFinite(s.value)) continue;
      const labels = Object.fromEntries(Object.entries(s.labels).filter(([, v]) => v !== ''));
      if (s.histogram === undefined) {
        values.push({ labels, value: s.value });
        continue;
      }
      (d.buckets ?? []).forEach((le, i) => values.push({ metricName: `${d.prom}_bucket`, labels: { ...labels, le }, value: s.histogram!.bucketCounts[i] ?? s.histogram!.count }));
      values.push({ metricName: `${d.prom}_bucket`, labels: { ...labels, le: '+Inf' }, value: s.histogram.count });
      values.push({ metricName: `${d.prom}_sum`, labels, value: s.histogram.sum });
      values.push({ metricName: `${d.prom}_count`, labels, value: s.histogram.count });
    }
    const m = { name: d.prom, help: d.help, type: d.kind, aggregator: 'sum', get: () => Promise.resolve({ name: m.name, help: d.help, type: d.kind, values, aggregator: 'sum' }) };
    reg.registerMetric(m as unknown as Metric);
  }
  return reg.metrics();
}

function ours(format: Format, descs: readonly MetricDesc[], samples: readonly Sample[]): string {
  const f = encodeFamilies(format, descs, samples);
  return format === 'openmetrics' ? `${f}\n# EOF\n` : `${f}\n`;
}

async function snapshotOf(tree: 'v1' | 'v2'): Promise<readonly Sample[]> {
  const root = treeRoot(tree);
  const parsed = loadConfig(['--path.procfs', `${root}/proc`, '--path.sysfs', `${root}/sys`, '--cgroup.stat-items', 'all'], {});
  if (parsed.kind !== 'run') throw new Error(parsed.kind);
  const host = new HostFs(parsed.config.procRoot, parsed.config.sysRoot);
  const runner = new Runner(buildCollectors({ cfg: parsed.config, hierarchy: discoverHierarchy(host), version: 'test' }), host, { timeoutMs: 10_000, minIntervalMs: 0, seriesBudget: 200_000 }, memoryLogger().log);
  return (await runner.collect()).samples;
}

for (const tree of ['v1', 'v2'] as const) {
  for (const format of ['prometheus', 'openmetrics'] as const) {
    test(`encoder: the ${tree} golden tree in ${format} is byte for byte prom-client's`, async () => {
      const samples = await snapshotOf(tree);
      assert.ok(samples.length > 80, `${samples.length} samples`);
      assert.equal(ours(format, c.catalog, samples), await reference(format, c.catalog, samples));
    });
  }
}

test('encoder: escapes, empty labels, histograms, counters, non-finite values and unknown descs as prom-client does', async () => {
  const hist = c.catalog.find((d) => d.kind === 'histogram');
  assert.ok(hist !== undefined, 'the catalogue has a histogram');
  const odd: MetricDesc = { ...c.cgroupUsage, help: 'a \\ backslash\nand a newline' };
  const stray: MetricDesc = { ...c.cgroupUsage, prom: 'memlens_not_in_the_list' };
  const shared = { cgroup: '/a"b\\c\nd' };
  const samples: Sample[] = [
    { desc: odd, labels: shared, value: 1 },
    { desc: odd, labels: { cgroup: 'plain', pod_uid: '' }, value: 2.5 },
    { desc: odd, labels: {}, value: -0 },
    { desc: odd, labels: { cgroup: 'x' }, value: Number.NaN },
    { desc: odd, labels: { cgroup: 'y' }, value: Number.POSITIVE_INFINITY },
    { desc: odd, labels: { cgroup: 'big' }, value: 2 ** 60 },
    { desc: odd, labels: { cgroup: 'small' }, value: 1e-7 },
    // values written digit by digit (safe non-negative integers) and through the string (the rest)
    ...[0, 9, 10, 99, 100, 101, 4096, 999_999_999_999_999, 1e15, 2 ** 53 - 1, 2 ** 53, -7, -0.5, 123.456, 1e21, Number.MIN_VALUE].map((value, i) => ({ desc: odd, labels: { cgroup: `n${i}` }, value })),
    { desc: c.cgroupEvents, labels: { ...shared, event: 'oom_kill' }, value: 3 },
    { desc: c.cgroupEvents, labels: shared, value: 4 },
    { desc: c.buildInfo, labels: { version: '1.0' }, value: 1 },
    { desc: hist, labels: { cgroup: 'h' }, value: 5, histogram: { bucketCounts: [1, 2], sum: 0.25, count: 5 } },
    { desc: hist, labels: {}, value: 0, histogram: { bucketCounts: [], sum: 0, count: 0 } },
    { desc: stray, labels: {}, value: 9 },
  ];
  const descs = [odd, c.cgroupEvents, c.buildInfo, hist, c.cgroupLimit];
  for (const format of ['prometheus', 'openmetrics'] as const) {
    const text = ours(format, descs, samples);
    assert.equal(text, await reference(format, descs, samples), format);
    assert.ok(!text.includes('memlens_not_in_the_list'));
    assert.ok(text.includes('cgroup="/a\\"b\\\\c\\nd"'), 'label value escaped');
  }
});

test('encoder: label sets made by extendLabels (a base and one more label) are written as the same sets made whole', async () => {
  const hist = c.catalog.find((d) => d.kind === 'histogram');
  assert.ok(hist !== undefined, 'the catalogue has a histogram');
  const odd = { cgroup: '/a"b\\c\nd' };
  const wide = { cgroup: '/k\u00e4se', pod_uid: '', container_id: 'c1' };
  const bases: Labels[] = [odd, wide, {}, { cgroup: '' }, { cgroup: '/plain' }];
  const extras: ExtraLabel[] = [{ key: 'item', value: 'cache' }, { key: 'event', value: 'x"y\\z\n' }, { key: 'item', value: '' }, { key: 'kind', value: 'gr\u00fcn' }, { key: 'cgroup', value: '/replaced' }];
  const samples: Sample[] = [];
  let v = 0;
  for (const base of bases) for (const extra of extras) samples.push({ desc: c.cgroupStat, labels: extendLabels(base, extra), value: v++ });
  samples.push({ desc: hist, labels: extendLabels(odd, extras[0]!), value: 5, histogram: { bucketCounts: [1, 2], sum: 0.25, count: 5 } });
  const whole = samples.map((s) => ({ ...s, labels: { ...s.labels } }));
  assert.ok(samples.some((s) => labelsBase(s.labels) !== undefined) && whole.every((s) => labelsBase(s.labels) === undefined));
  const descs = [c.cgroupStat, hist];
  for (const format of ['prometheus', 'openmetrics'] as const) {
    const text = ours(format, descs, samples);
    assert.equal(text, ours(format, descs, whole), format);
    assert.equal(text, await reference(format, descs, samples), format);
    assert.ok(text.includes('{cgroup="/a\\"b\\\\c\\nd",item="cache"} 0'), text);
    assert.ok(text.includes('{item="cache"} 10'), 'an empty base: no comma');
    assert.ok(text.includes('{cgroup="/a\\"b\\\\c\\nd"} 2'), 'an empty extra value is left out');
  }
});

test('sink: a body is written over only after done() and a newer snapshot; never while it is being sent', async () => {
  const snap = (v: number): Snapshot => {
    const samples: Sample[] = Array.from({ length: 300 }, (_, i) => ({ desc: c.cgroupUsage, labels: { cgroup: `/c${i}` }, value: v }));
    return { atMs: v, groups: [{ collector: 'cgroup', samples }], samples, collectors: [] };
  };
  const same = (x: Buffer, y: Buffer): boolean => x.buffer === y.buffer;
  const sink = new PrometheusSink([c.cgroupUsage]);
  const a = await sink.body('prometheus', snap(1));
  const aText = a.toString('utf8');
  assert.match(aText, /^memlens_cgroup_memory_usage_bytes\{cgroup="\/c299"\} 1$/m);
  // a not done: later bodies are elsewhere, and a's bytes stay as they were.
  const sb = snap(22);
  const b = await sink.body('prometheus', sb);
  assert.ok(!same(b, a));
  // The same snapshot asked again is the same body; both askers must say done.
  const b2 = await sink.body('prometheus', sb);
  assert.equal(b2, b);
  sink.done('prometheus', b);
  const c1 = await sink.body('prometheus', snap(333));
  assert.ok(!same(c1, a) && !same(c1, b), 'b is still sent by its second asker');
  assert.match(b.toString('utf8'), / 22$/m);
  sink.done('prometheus', b2);
  const d = await sink.body('prometheus', snap(4444));
  assert.ok(same(d, b), 'b, done by both and replaced, gives its memory to the next body');
  assert.ok(!same(d, c1), 'c1 is not done');
  assert.equal(a.toString('utf8'), aText, 'a, never done, is never written over');
  assert.match(c1.toString('utf8'), / 333$/m);
  const lines = d.toString('utf8').split('\n').filter((l) => l.startsWith('memlens_cgroup'));
  assert.equal(lines.length, 300);
  assert.ok(lines.every((l) => l.endsWith(' 4444')));
  // render() (text) says done itself.
  assert.match(await sink.render('prometheus', snap(5)), / 5$/m);
});

test('sink: stream() sends the bytes of body(), in pieces of the buffer size it is given, reusing one buffer', async () => {
  for (const tree of ['v1', 'v2'] as const) {
    const samples = await snapshotOf(tree);
    const snap: Snapshot = { atMs: 1, groups: [{ collector: 'all', samples }], samples, collectors: [] };
    for (const format of ['prometheus', 'openmetrics'] as const) {
      const sink = new PrometheusSink(c.catalog);
      const whole = (await sink.body(format, snap)).toString('utf8');
      for (const chunkBytes of [1, 200, 4096, 1 << 20]) {
        const pieces: string[] = [];
        const buffers = new Set<ArrayBufferLike>();
        let lasts = 0;
        await sink.stream(format, snap, async (piece, last) => {
          pieces.push(piece.toString('utf8'));
          buffers.add(piece.buffer);
          if (last) lasts++;
          await new Promise((r) => setImmediate(r));
        }, chunkBytes);
        // The defaults (process_cpu_seconds_total, ...) move between two renders: compare memlens's part whole.
        const streamed = pieces.join('');
        const ownPart = (t: string): string => t.slice(0, t.indexOf('# HELP process_'));
        assert.equal(ownPart(streamed), ownPart(whole), `${tree} ${format} in pieces of ${chunkBytes}`);
        assert.ok(ownPart(streamed).length > 5000);
        assert.equal(lasts, 1, 'one last piece');
        if (chunkBytes === 1 << 20) assert.equal(pieces.length, 1, 'a body that fits is one piece');
        else assert.ok(pieces.length > 1, `${pieces.length} pieces`);
        // Each piece but the last (which has the defaults, written whole) about the buffer size: a line goes on past it.
        if (chunkBytes >= 4096) for (const p of pieces.slice(0, -1)) assert.ok(Buffer.byteLength(p) < chunkBytes + 2048, `${Buffer.byteLength(p)} bytes`);
        if (chunkBytes >= 4096) assert.equal(buffers.size, 1, 'one buffer for every piece');
      }
    }
  }
});

test('sink: a stream whose write rejects rejects, and the next stream starts afresh', async () => {
  const samples: Sample[] = Array.from({ length: 3000 }, (_, i) => ({ desc: c.cgroupUsage, labels: { cgroup: `/c${i}` }, value: i }));
  const snap: Snapshot = { atMs: 1, groups: [], samples, collectors: [] };
  const sink = new PrometheusSink([c.cgroupUsage]);
  let n = 0;
  await assert.rejects(sink.stream('prometheus', snap, () => (++n === 2 ? Promise.reject(new Error('gone')) : Promise.resolve()), 4096), /gone/);
  assert.equal(n, 2, 'no piece after the failed one');
  const pieces: Buffer[] = [];
  await sink.stream('prometheus', snap, (p) => {
    pieces.push(Buffer.from(p));
    return Promise.resolve();
  }, 4096);
  const text = Buffer.concat(pieces).toString('utf8');
  assert.match(text, /^memlens_cgroup_memory_usage_bytes\{cgroup="\/c2999"\} 2999$/m);
  assert.equal(text.split('\n').filter((l) => l.startsWith('memlens_cgroup')).length, 3000);
  // Fewer samples, then more than any stream before (the reused arrays too small): each body is its own.
  for (const n of [7, 5000, 3]) {
    const few: Sample[] = samples.slice(0, Math.min(n, samples.length)).concat(Array.from({ length: Math.max(0, n - samples.length) }, (_, i) => ({ desc: c.cgroupUsage, labels: { cgroup: `/d${i}` }, value: 1 })));
    const got: Buffer[] = [];
    await sink.stream('prometheus', { atMs: n, groups: [], samples: few, collectors: [] }, (p) => {
      got.push(Buffer.from(p));
      return Promise.resolve();
    }, 4096);
    const lines = Buffer.concat(got).toString('utf8').split('\n').filter((l) => l.startsWith('memlens_cgroup'));
    assert.equal(lines.length, n, `${n} samples`);
    assert.equal(lines[n - 1], n <= 3000 ? `memlens_cgroup_memory_usage_bytes{cgroup="/c${n - 1}"} ${n - 1}` : `memlens_cgroup_memory_usage_bytes{cgroup="/d${n - 3001}"} 1`);
  }
});

test('sink: the default process_/nodejs_ families are as prom-client renders them, in its order, with process_open_fds counted without a listing', async () => {
  const sink = new PrometheusSink([c.cgroupUsage]);
  const snap: Snapshot = { atMs: 1, groups: [], samples: [], collectors: [] };
  for (const format of ['prometheus', 'openmetrics'] as const) {
    const reg: Registry<RegistryContentType> = new Registry();
    if (format === 'openmetrics') reg.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    collectDefaultMetrics({ register: reg });
    const families = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!);
    const text = await sink.render(format, snap);
    assert.deepEqual(families(text).filter((n) => !n.startsWith('memlens_')), families(await reg.metrics()));
    // Both count this process's fds now; nothing opens or closes one between the two reads.
    const expected = openFdsByListing();
    const line = text.split('\n').find((l) => l.startsWith('process_open_fds '));
    assert.equal(line, `process_open_fds ${(await reg.getSingleMetricAsString('process_open_fds')).split('\n').at(-1)!.split(' ')[1]}`);
    assert.equal(line, `process_open_fds ${expected}`);
  }
});
