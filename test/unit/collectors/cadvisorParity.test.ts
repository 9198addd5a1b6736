// Issue 16: what cAdvisor says about container memory, on the v1 and v2 fixture trees: the
// memory.stat event counters, the limits beside memory.max, v1 kernel memory, and per-process and
// per-group page faults. Every value is compared with the number in the file it comes from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { CgroupCollector, type CgroupFilter } from '../../../src/collectors/cgroup.js';
import { ProcessCollector, type ProcessOptions } from '../../../src/collectors/process.js';
import { discoverHierarchy } from '../../../src/cgroupfs/hierarchy.js';
import { CgroupTree } from '../../../src/cgroupfs/tree.js';
import { DEFAULT_STAT_ITEMS } from '../../../src/config/statItems.js';
import type { CollectResult } from '../../../src/model/types.js';
import { hostOf, scratchTree, series, signal, treeRoot, value } from './trees.js';

// As configured by default (--cgroup.stat-items's default list).
const ALL: CgroupFilter = { include: undefined, exclude: undefined, maxDepth: 16, statItems: DEFAULT_STAT_ITEMS };
const V1_CG = 'sys/fs/cgroup/memory';
const V2_CG = 'sys/fs/cgroup';
const V1_OOM = '/workloads/job-7f3a/oomdemo';
const V1_PARENT = '/workloads/job-7f3a';
const V2_OOM = '/workloads/job-42c9/oomdemo';
const V2_PARENT = '/workloads/job-42c9';

async function cgroups(root: string, filter: CgroupFilter = ALL): Promise<CollectResult> {
  const host = hostOf(root);
  const h = discoverHierarchy(host);
  return new CgroupCollector(h === undefined ? undefined : new CgroupTree({ host, hierarchy: h, maxDepth: filter.maxDepth }), filter).collect(host, signal());
}

/** key -> number of a `key value` file, straight from the text (the test's own reading). */
function kv(path: string): Map<string, number> {
  return new Map(readFileSync(path, 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]).map(([k, v]) => [k, Number(v)]));
}

const num = (path: string): number => Number(readFileSync(path, 'utf8').trim());

const events = (r: CollectResult, cgroup: string): Record<string, number> =>
  Object.fromEntries(series(r.samples, 'memlens_cgroup_memory_stat_events_total', { cgroup }).map((s) => [s.labels['item'], s.value]));

const LIMIT_METRICS = ['high', 'low', 'min', 'soft_limit', 'swap_limit'].map((w) => `memlens_cgroup_memory_${w}_bytes`);

test('v1 tree: stat events are the file\'s total_* counters, kernel is memory.kmem.usage_in_bytes, unset limits are absent', async () => {
  const root = treeRoot('v1');
  const r = await cgroups(root);
  assert.deepEqual(r.problems, []);
  for (const cg of [V1_PARENT, V1_OOM]) {
    const file = kv(`${root}/${V1_CG}${cg}/memory.stat`);
    const got = events(r, cg);
    assert.deepEqual(Object.keys(got).sort(), ['pgfault', 'pgmajfault', 'pgpgin', 'pgpgout', 'workingset_refault_anon', 'workingset_refault_file']);
    for (const [item, v] of Object.entries(got)) assert.equal(v, file.get(`total_${item}`), `${cg} ${item}`);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_stat_bytes', { cgroup: cg, item: 'kernel' }), num(`${root}/${V1_CG}${cg}/memory.kmem.usage_in_bytes`));
    // soft_limit_in_bytes and memsw.limit_in_bytes are both 9223372036854771712 (unset) in these captures.
    for (const m of LIMIT_METRICS) assert.equal(value(r.samples, m, { cgroup: cg }), undefined, `${cg} ${m}`);
  }
  assert.deepEqual(events(r, V1_OOM), { workingset_refault_anon: 0, workingset_refault_file: 3322, pgpgin: 40692, pgpgout: 39568, pgfault: 46138, pgmajfault: 17 });
  assert.equal(value(r.samples, 'memlens_cgroup_memory_stat_bytes', { cgroup: V1_OOM, item: 'kernel' }), 69632);
});

test('v1 tree with a soft limit and a memsw limit: both exported, swap limit = memsw - limit', async () => {
  const t = scratchTree('v1');
  try {
    const dir = `${t.root}/${V1_CG}${V1_OOM}`;
    writeFileSync(`${dir}/memory.soft_limit_in_bytes`, '33554432\n');
    writeFileSync(`${dir}/memory.memsw.limit_in_bytes`, '100663296\n'); // limit_in_bytes is 67108864
    const r = await cgroups(t.root);
    assert.deepEqual(r.problems, []);
    const l = { cgroup: V1_OOM };
    assert.equal(value(r.samples, 'memlens_cgroup_memory_soft_limit_bytes', l), 33554432);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_swap_limit_bytes', l), 100663296 - 67108864);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_limit_bytes', l), 67108864);
    // A soft limit of 0 is a limit (reclaim this cgroup first), not "unset".
    writeFileSync(`${dir}/memory.soft_limit_in_bytes`, '0\n');
    assert.equal(value((await cgroups(t.root)).samples, 'memlens_cgroup_memory_soft_limit_bytes', l), 0);
  } finally {
    t.dispose();
  }
});

test('v2 tree: stat events are the file\'s counters (default selection); swap.max 0 is exported, max/0 protections are not', async () => {
  const root = treeRoot('v2');
  const r = await cgroups(root);
  assert.deepEqual(r.problems, []);
  for (const cg of [V2_PARENT, V2_OOM]) {
    const file = kv(`${root}/${V2_CG}${cg}/memory.stat`);
    const got = events(r, cg);
    assert.deepEqual(Object.keys(got).sort(), [
      'pgfault', 'pgmajfault', 'pgscan', 'pgsteal', 'workingset_activate_anon', 'workingset_activate_file', 'workingset_refault_anon',
      'workingset_refault_file', 'workingset_restore_anon', 'workingset_restore_file',
    ]);
    for (const [item, v] of Object.entries(got)) assert.equal(v, file.get(item), `${cg} ${item}`);
    // high "max", low 0, min 0 in both captures: nothing to export.
    for (const m of ['memlens_cgroup_memory_high_bytes', 'memlens_cgroup_memory_low_bytes', 'memlens_cgroup_memory_min_bytes', 'memlens_cgroup_memory_soft_limit_bytes']) {
      assert.equal(value(r.samples, m, { cgroup: cg }), undefined, `${cg} ${m}`);
    }
  }
  assert.equal(events(r, V2_OOM)['pgfault'], 16567);
  assert.equal(readFileSync(`${root}/${V2_CG}${V2_OOM}/memory.swap.max`, 'utf8').trim(), '0');
  assert.equal(value(r.samples, 'memlens_cgroup_memory_swap_limit_bytes', { cgroup: V2_OOM }), 0);
  assert.equal(value(r.samples, 'memlens_cgroup_memory_swap_limit_bytes', { cgroup: V2_PARENT }), undefined); // "max"
  // v2's kernel item comes from memory.stat itself.
  assert.equal(value(r.samples, 'memlens_cgroup_memory_stat_bytes', { cgroup: V2_OOM, item: 'kernel' }), kv(`${root}/${V2_CG}${V2_OOM}/memory.stat`).get('kernel'));
});

test('v2 tree with memory.high/low/min set: each exported as the file says; "max" protection is absent', async () => {
  const t = scratchTree('v2');
  try {
    const dir = `${t.root}/${V2_CG}${V2_OOM}`;
    writeFileSync(`${dir}/memory.high`, '50331648\n');
    writeFileSync(`${dir}/memory.low`, '16777216\n');
    writeFileSync(`${dir}/memory.min`, '8388608\n');
    writeFileSync(`${dir}/memory.swap.max`, '134217728\n');
    const r = await cgroups(t.root);
    const l = { cgroup: V2_OOM };
    assert.equal(value(r.samples, 'memlens_cgroup_memory_high_bytes', l), 50331648);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_low_bytes', l), 16777216);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_min_bytes', l), 8388608);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_swap_limit_bytes', l), 134217728);
    writeFileSync(`${dir}/memory.low`, 'max\n');
    writeFileSync(`${dir}/memory.high`, '0\n'); // throttle everything: a limit, exported
    const r2 = await cgroups(t.root);
    assert.equal(value(r2.samples, 'memlens_cgroup_memory_low_bytes', l), undefined);
    assert.equal(value(r2.samples, 'memlens_cgroup_memory_high_bytes', l), 0);
    writeFileSync(`${dir}/memory.high`, 'lots\n');
    const r3 = await cgroups(t.root);
    assert.deepEqual(r3.problems.map((p) => [p.reason, p.path]), [['parse', `${dir}/memory.high`]]);
    assert.equal(value(r3.samples, 'memlens_cgroup_memory_high_bytes', l), undefined);
    assert.equal(value(r3.samples, 'memlens_cgroup_memory_usage_bytes', l), 327680);
  } finally {
    t.dispose();
  }
});

test('--cgroup.stat-items selects event items as it selects byte items', async () => {
  const r = await cgroups(treeRoot('v2'), { ...ALL, statItems: ['anon', 'pgmajfault', 'workingset_refault_file'] });
  assert.deepEqual(events(r, V2_OOM), { pgmajfault: 0, workingset_refault_file: 0 });
  assert.deepEqual(series(r.samples, 'memlens_cgroup_memory_stat_bytes', { cgroup: V2_OOM }).map((s) => s.labels['item']), ['anon']);
  const bytesOnly = await cgroups(treeRoot('v1'), { ...ALL, statItems: ['anon', 'file'] });
  assert.deepEqual(series(bytesOnly.samples, 'memlens_cgroup_memory_stat_events_total'), []);
  // all: every event counter the kernel printed (v2 6.18: 45 of them), each as the file says.
  const all = await cgroups(treeRoot('v2'), { ...ALL, statItems: ['all'] });
  const file = kv(`${treeRoot('v2')}/${V2_CG}${V2_OOM}/memory.stat`);
  const got = events(all, V2_OOM);
  assert.ok(Object.keys(got).length > 40, `${Object.keys(got).length} event items`);
  for (const [item, v] of Object.entries(got)) assert.equal(v, file.get(item), item);
});

test('v1 with cgroup.memory=nokmem on the command line: no kernel item (the file would say 0)', async () => {
  const t = scratchTree('v1');
  try {
    writeFileSync(`${t.root}/proc/cmdline`, 'BOOT_IMAGE=/vmlinuz root=/dev/vda1 cgroup.memory=nokmem\n');
    const r = await cgroups(t.root);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_stat_bytes', { cgroup: V1_OOM, item: 'kernel' }), undefined);
    assert.equal(value(r.samples, 'memlens_cgroup_memory_stat_bytes', { cgroup: V1_OOM, item: 'file' }), 4608000);
  } finally {
    t.dispose();
  }
});

// ---- page faults per process and per group

function procOptions(over: Partial<ProcessOptions> = {}): ProcessOptions {
  return { top: 10, include: undefined, smapsIntervalMs: 60_000, smapsMaxRssBytes: 4 * 2 ** 30, smapsScope: 'none', groups: [], cgroupMode: 'v1', ...over };
}

/** Fields 1-based as proc(5) counts them, of a stat line without spaces in comm. */
const statField = (path: string, n: number): number => Number(readFileSync(path, 'utf8').trim().split(' ')[n - 1]);

test('per process: minor and major faults are the stat file\'s minflt and majflt, on both trees', async () => {
  for (const [tree, pid, comm, cgroup] of [['v1', '8467', 'cat', V1_PARENT], ['v2', '483', 'cp', V2_PARENT]] as const) {
    const root = treeRoot(tree);
    const r = await new ProcessCollector(procOptions({ cgroupMode: tree })).collect(hostOf(root), signal());
    assert.deepEqual(r.problems, []);
    const l = { pid, comm, cgroup };
    const stat = `${root}/proc/${pid}/stat`;
    assert.equal(value(r.samples, 'memlens_process_minor_page_faults_total', l), statField(stat, 10), tree);
    assert.equal(value(r.samples, 'memlens_process_major_page_faults_total', l), statField(stat, 12), tree);
    assert.equal(value(r.samples, 'memlens_process_group_minor_page_faults_total', { group: comm }), statField(stat, 10), tree);
    assert.equal(value(r.samples, 'memlens_process_group_major_page_faults_total', { group: comm }), statField(stat, 12), tree);
  }
});

/** Rewrites minflt (field 10), majflt (12) and starttime (22) of a stat file. */
function setStat(path: string, minflt: number, majflt: number, start?: number): void {
  const f = readFileSync(path, 'utf8').trim().split(' ');
  f[9] = String(minflt);
  f[11] = String(majflt);
  if (start !== undefined) f[21] = String(start);
  writeFileSync(path, `${f.join(' ')}\n`);
}

test('group faults never go down: a process exiting keeps its faults in the group; a reused pid adds its own', async () => {
  const t = scratchTree('v1');
  try {
    const proc = `${t.root}/proc`;
    cpSync(`${proc}/8467`, `${proc}/9001`, { recursive: true }); // a second "cat"
    setStat(`${proc}/8467/stat`, 1000, 10);
    setStat(`${proc}/9001/stat`, 500, 5, 50000);
    const col = new ProcessCollector(procOptions());
    const host = hostOf(t.root);
    const g = { group: 'cat' };
    const groupMajor = async (): Promise<[number | undefined, number | undefined]> => {
      const r = await col.collect(host, signal());
      assert.deepEqual(r.problems, []);
      return [value(r.samples, 'memlens_process_group_minor_page_faults_total', g), value(r.samples, 'memlens_process_group_major_page_faults_total', g)];
    };
    assert.deepEqual(await groupMajor(), [1500, 15]); // first sight: everything both have done
    setStat(`${proc}/8467/stat`, 1100, 30);
    setStat(`${proc}/9001/stat`, 600, 6, 50000);
    assert.deepEqual(await groupMajor(), [1700, 36]); // + the differences
    rmSync(`${proc}/9001`, { recursive: true }); // exits
    assert.deepEqual(await groupMajor(), [1700, 36]); // does not go down
    setStat(`${proc}/8467/stat`, 1150, 31);
    assert.deepEqual(await groupMajor(), [1750, 37]);
    cpSync(`${proc}/8467`, `${proc}/9001`, { recursive: true });
    setStat(`${proc}/9001/stat`, 7, 1, 90000); // pid 9001 again, another process (another starttime)
    assert.deepEqual(await groupMajor(), [1757, 38]);
    // A counter read lower for the same process (cannot happen for a process; a damaged read) adds nothing.
    setStat(`${proc}/8467/stat`, 100, 0);
    assert.deepEqual(await groupMajor(), [1757, 38]);
  } finally {
    t.dispose();
  }
});

test('an unreadable or damaged stat costs only that process\'s fault series', async () => {
  const t = scratchTree('v1');
  try {
    const path = `${t.root}/proc/8467/stat`;
    writeFileSync(path, '8467 (cat) R 1\n');
    const r = await new ProcessCollector(procOptions()).collect(hostOf(t.root), signal());
    assert.deepEqual(r.problems.map((p) => [p.reason, p.path]), [['parse', path]]);
    assert.equal(value(r.samples, 'memlens_process_minor_page_faults_total', { pid: '8467' }), undefined);
    assert.equal(value(r.samples, 'memlens_process_group_major_page_faults_total', { group: 'cat' }), undefined);
    assert.equal(value(r.samples, 'memlens_process_resident_bytes', { pid: '8467' }), 1744896);
    rmSync(path);
    const gone = await new ProcessCollector(procOptions()).collect(hostOf(t.root), signal());
    assert.deepEqual(gone.problems, []); // exited between status and stat: normal
    assert.equal(value(gone.samples, 'memlens_process_group_processes', { group: 'cat' }), 1);
  } finally {
    t.dispose();
  }
});
