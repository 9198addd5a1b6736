import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { CgroupTree } from '../../../src/cgroupfs/tree.js';
import { CgroupCollector, type CgroupFilter } from '../../../src/collectors/cgroup.js';
import { discoverHierarchy } from '../../../src/cgroupfs/hierarchy.js';
import { buildCollectors } from '../../../src/collectors/registry.js';
import { loadConfig } from '../../../src/config/load.js';
import type { CollectResult } from '../../../src/model/types.js';
import { MemlensError } from '../../../src/errors.js';
import { hostOf, scratchTree, series, signal, treeRoot, value } from './trees.js';

const ALL: CgroupFilter = { include: undefined, exclude: undefined, maxDepth: 16 };
const V1_OOM = '/workloads/job-7f3a/oomdemo';
const V1_PARENT = '/workloads/job-7f3a';
const V2_OOM = '/workloads/job-42c9/oomdemo';
const V2_PARENT = '/workloads/job-42c9';
const V1_RAM = 24684096 * 1024;
const V2_RAM = 131981020 * 1024;

async function collect(root: string, filter: CgroupFilter = ALL): Promise<CollectResult> {
  const host = hostOf(root);
  const h = discoverHierarchy(host);
  return new CgroupCollector(h === undefined ? undefined : new CgroupTree({ host, hierarchy: h, maxDepth: filter.maxDepth }), filter).collect(host, signal());
}

const cgroups = (r: CollectResult): string[] => [...new Set(r.samples.map((s) => s.labels['cgroup'] ?? ''))].sort();

test('cgroup v1: the OOM-killed cgroup', async () => {
  const r = await collect(treeRoot('v1'));
  assert.deepEqual(r.problems, []);
  const l = { cgroup: V1_OOM };
  const v = (prom: string, extra = {}): number | undefined => value(r.samples, prom, { ...l, ...extra });
  assert.equal(v('memlens_cgroup_memory_usage_bytes'), 4677632);
  assert.equal(v('memlens_cgroup_memory_limit_bytes'), 67108864);
  assert.equal(v('memlens_cgroup_memory_effective_limit_bytes'), 67108864); // hierarchical_memory_limit
  assert.equal(v('memlens_cgroup_memory_working_set_bytes'), 4677632 - 811008); // usage - total_inactive_file
  assert.equal(v('memlens_cgroup_memory_peak_bytes'), 67108864);
  assert.equal(v('memlens_cgroup_memory_swap_usage_bytes'), 0);
  assert.equal(v('memlens_cgroup_memory_events_total', { event: 'max' }), 2112); // failcnt
  assert.equal(v('memlens_cgroup_memory_events_total', { event: 'oom_kill' }), 1);
  assert.equal(series(r.samples, 'memlens_cgroup_memory_events_total', l).length, 2);
  assert.equal(v('memlens_cgroup_memory_oom_kills_total'), 1);
  assert.equal(v('memlens_cgroup_memory_under_oom'), 0);
  assert.equal(v('memlens_cgroup_processes'), 0);
  assert.equal(v('memlens_cgroup_memory_stat_bytes', { item: 'file' }), 4608000);
  assert.equal(v('memlens_cgroup_memory_stat_bytes', { item: 'inactive_file' }), 811008);
  // The 14 total_* byte items plus kernel (memory.kmem.usage_in_bytes).
  assert.equal(series(r.samples, 'memlens_cgroup_memory_stat_bytes', l).length, 15);
  assert.deepEqual(series(r.samples, 'memlens_cgroup_memory_pressure_seconds_total'), []); // v1: host PSI only
  // No Kubernetes ids in these paths: no pod_uid / container_id labels at all.
  for (const s of r.samples) assert.deepEqual(Object.keys(s.labels).filter((k) => k === 'pod_uid' || k === 'container_id'), []);
});

test('cgroup v1: the unlimited parent has no limit sample and the host\'s RAM as effective limit', async () => {
  const r = await collect(treeRoot('v1'));
  const l = { cgroup: V1_PARENT };
  assert.equal(value(r.samples, 'memlens_cgroup_memory_limit_bytes', l), undefined);
  assert.equal(value(r.samples, 'memlens_cgroup_memory_effective_limit_bytes', l), V1_RAM);
  assert.equal(value(r.samples, 'memlens_cgroup_memory_usage_bytes', l), 103997440);
  assert.equal(value(r.samples, 'memlens_cgroup_memory_working_set_bytes', l), 103997440 - 42778624);
  assert.equal(value(r.samples, 'memlens_cgroup_memory_swap_usage_bytes', l), 104230912 - 103997440);
  assert.equal(value(r.samples, 'memlens_cgroup_memory_oom_kills_total', l), 0);
  assert.equal(value(r.samples, 'memlens_cgroup_processes', l), 1);
});

test('cgroup v1: the walk: root (cgroup.procs only) is exported, /workloads (no files) is not', async () => {
  const r = await collect(treeRoot('v1'));
  assert.deepEqual(cgroups(r), ['/', V1_PARENT, V1_OOM]);
  assert.deepEqual(series(r.samples, 'memlens_cgroup_processes', { cgroup: '/' }).map((s) => s.value), [1]);
  assert.equal(value(r.samples, 'memlens_cgroup_memory_effective_limit_bytes', { cgroup: '/' }), undefined); // no usage, no limit
});

test('cgroup v1: the effective limit is the kernel\'s hierarchical_memory_limit, even without an own limit', async () => {
  const t = scratchTree('v1');
  try {
    const dir = `${t.root}/sys/fs/cgroup/memory${V1_OOM}`;
    writeFileSync(`${dir}/memory.limit_in_bytes`, '9223372036854771712\n');
    const r = await collect(t.root);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_limit_bytes', { cgroup: V1_OOM }), undefined);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_effective_limit_bytes', { cgroup: V1_OOM }), 67108864);
  } finally {
    t.dispose();
  }
});

test('cgroup v2: the OOM-killed cgroup and its parent', async () => {
  const r = await collect(treeRoot('v2'));
  assert.deepEqual(r.problems, []);
  const o = { cgroup: V2_OOM };
  assert.equal(value(r.samples, 'memlens_cgroup_memory_usage_bytes', o), 327680);
  assert.equal(value(r.samples, 'memlens_cgroup_memory_limit_bytes', o), 67108864);
  assert.equal(value(r.samples, 'memlens_cgroup_memory_effective_limit_bytes', o), 67108864);
  assert.equal(value(r.samples, 'memlens_cgroup_memory_working_set_bytes', o), 327680);
  assert.equal(value(r.samples, 'memlens_cgroup_memory_peak_bytes', o), 67108864);
  assert.equal(value(r.samples, 'memlens_cgroup_memory_swap_usage_bytes', o), 0);
  const events = Object.fromEntries(series(r.samples, 'memlens_cgroup_memory_events_total', o).map((s) => [s.labels['event'], s.value]));
  assert.deepEqual(events, { low: 0, high: 0, max: 42, oom: 1, oom_kill: 1, oom_group_kill: 0 });
  assert.equal(value(r.samples, 'memlens_cgroup_memory_oom_kills_total', o), 1);
  assert.equal(value(r.samples, 'memlens_cgroup_memory_under_oom', o), undefined); // v1 only
  assert.equal(value(r.samples, 'memlens_cgroup_memory_pressure_seconds_total', { ...o, kind: 'some' }), 318e-6);
  assert.equal(value(r.samples, 'memlens_cgroup_memory_pressure_seconds_total', { ...o, kind: 'full' }), 318e-6);
  assert.equal(value(r.samples, 'memlens_cgroup_memory_stat_bytes', { ...o, item: 'slab_unreclaimable' }), 1832);
  assert.equal(series(r.samples, 'memlens_cgroup_memory_stat_bytes', o).length, 27);
  const p = { cgroup: V2_PARENT };
  assert.equal(value(r.samples, 'memlens_cgroup_memory_limit_bytes', p), undefined); // memory.max "max"
  assert.equal(value(r.samples, 'memlens_cgroup_memory_effective_limit_bytes', p), V2_RAM);
  assert.equal(value(r.samples, 'memlens_cgroup_memory_working_set_bytes', p), 6344704 - 462848);
  assert.equal(value(r.samples, 'memlens_cgroup_processes', p), 1);
  assert.deepEqual(cgroups(r), ['/', V2_PARENT, V2_OOM]);
});

test('cgroup v2: the effective limit comes through the parent when the parent is tighter', async () => {
  const t = scratchTree('v2');
  try {
    const parent = `${t.root}/sys/fs/cgroup${V2_PARENT}`;
    writeFileSync(`${parent}/memory.max`, '33554432\n');
    mkdirSync(`${parent}/oomdemo/inner`);
    writeFileSync(`${parent}/oomdemo/inner/memory.current`, '4096\n');
    writeFileSync(`${parent}/oomdemo/inner/memory.max`, 'max\n');
    const r = await collect(t.root);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_effective_limit_bytes', { cgroup: V2_PARENT }), 33554432);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_limit_bytes', { cgroup: V2_OOM }), 67108864);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_effective_limit_bytes', { cgroup: V2_OOM }), 33554432);
    const inner = { cgroup: `${V2_OOM}/inner` };
    assert.equal(value(r.samples, 'memlens_cgroup_memory_limit_bytes', inner), undefined);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_effective_limit_bytes', inner), 33554432);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_working_set_bytes', inner), undefined); // no memory.stat
  } finally {
    t.dispose();
  }
});

test('cgroup v2: a limit above the host\'s RAM is exported as set; the effective limit is the RAM', async () => {
  const t = scratchTree('v2');
  try {
    writeFileSync(`${t.root}/sys/fs/cgroup${V2_OOM}/memory.max`, '1099511627776\n');
    const r = await collect(t.root);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_limit_bytes', { cgroup: V2_OOM }), 1099511627776);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_effective_limit_bytes', { cgroup: V2_OOM }), V2_RAM);
  } finally {
    t.dispose();
  }
});

test('cgroup: a damaged file is a parse problem with its path; the cgroup keeps its other series', async () => {
  const t = scratchTree('v2');
  try {
    const path = `${t.root}/sys/fs/cgroup${V2_OOM}/memory.current`;
    writeFileSync(path, 'garbage\n');
    const r = await collect(t.root);
    assert.deepEqual(r.problems.map((p) => [p.reason, p.path]), [['parse', path]]);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_usage_bytes', { cgroup: V2_OOM }), undefined);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_oom_kills_total', { cgroup: V2_OOM }), 1);
  } finally {
    t.dispose();
  }
});

test('cgroup: Kubernetes paths get pod_uid and container_id labels', async () => {
  const t = scratchTree('v2');
  try {
    const uid = '0f9a8e3c_5d2b_4c1e_9a7f_3b6d8e2c1a40';
    const cid = '4c01db0b339c5ad6cab3f6e3c2b0d8e9f1a2b3c4d5e6f708192a3b4c5d6e7f80';
    const rel = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid}.slice/cri-containerd-${cid}.scope`;
    mkdirSync(`${t.root}/sys/fs/cgroup${rel}`, { recursive: true });
    writeFileSync(`${t.root}/sys/fs/cgroup${rel}/memory.current`, '8192\n');
    const r = await collect(t.root);
    assert.deepEqual(series(r.samples, 'memlens_cgroup_memory_usage_bytes', { cgroup: rel }).map((s) => s.labels), [
      { cgroup: rel, pod_uid: uid.replace(/_/g, '-'), container_id: cid },
    ]);
  } finally {
    t.dispose();
  }
});

async function viaConfig(root: string, flags: string[]): Promise<CollectResult> {
  const parsed = loadConfig(['--path.procfs', `${root}/proc`, '--path.sysfs', `${root}/sys`, ...flags], {});
  assert.equal(parsed.kind, 'run');
  if (parsed.kind !== 'run') throw new Error('unreachable');
  const host = hostOf(root);
  const col = buildCollectors({ cfg: parsed.config, hierarchy: discoverHierarchy(host), version: 'test' }).find((c) => c.name === 'cgroup');
  assert.ok(col !== undefined);
  return col.collect(host, signal());
}

test('cgroup: --cgroup.exclude removes the matching cgroups\' series, the walk still goes below them', async () => {
  const r = await viaConfig(treeRoot('v1'), ['--cgroup.exclude', 'oomdemo$']);
  assert.deepEqual(cgroups(r), ['/', V1_PARENT]);
  const below = await viaConfig(treeRoot('v2'), ['--cgroup.exclude', '^/workloads/job-42c9$']);
  assert.deepEqual(cgroups(below), ['/', V2_OOM]);
});

test('cgroup: --cgroup.include and --cgroup.max-depth', async () => {
  assert.deepEqual(cgroups(await viaConfig(treeRoot('v2'), ['--cgroup.include', '^/workloads/'])), [V2_PARENT, V2_OOM]);
  assert.deepEqual(cgroups(await viaConfig(treeRoot('v2'), ['--cgroup.max-depth', '2'])), ['/', V2_PARENT]);
  assert.deepEqual(cgroups(await viaConfig(treeRoot('v2'), ['--cgroup.max-depth', '0'])), ['/']);
});

test('cgroup: no memory hierarchy fails the area with MEMLENS_ERR_UNSUPPORTED', async () => {
  await assert.rejects(new CgroupCollector(undefined, ALL).collect(hostOf(treeRoot('v2')), signal()), (err: unknown) => {
    assert.ok(err instanceof MemlensError);
    assert.equal(err.code, 'MEMLENS_ERR_UNSUPPORTED');
    return true;
  });
});

test('cgroup: a cgroup\'s label sets are made once and reused by every collection after (sinks format each once)', async () => {
  for (const tree of ['v1', 'v2'] as const) {
    const host = hostOf(treeRoot(tree));
    const h = discoverHierarchy(host)!;
    const col = new CgroupCollector(new CgroupTree({ host, hierarchy: h, maxDepth: 16 }), ALL);
    const first = await col.collect(host, signal());
    const second = await col.collect(host, signal());
    assert.equal(second.samples.length, first.samples.length, tree);
    assert.ok(first.samples.length > 40, tree);
    second.samples.forEach((s, i) => {
      assert.equal(s.desc, first.samples[i]!.desc);
      assert.equal(s.labels, first.samples[i]!.labels, `${tree} ${s.desc.prom} ${JSON.stringify(s.labels)}: the same object`);
    });
    // Different series of one cgroup never share an object they should not: an item label set is its own.
    const items = first.samples.filter((s) => s.labels['item'] !== undefined);
    assert.equal(new Set(items.map((s) => `${s.labels['cgroup']}\0${s.labels['item']}`)).size, new Set(items.map((s) => s.labels)).size, tree);
  }
});
