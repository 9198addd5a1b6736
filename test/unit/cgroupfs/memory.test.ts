import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { HostFs } from '../../../src/host/hostFs.js';
import type { Problem } from '../../../src/model/types.js';
import { countLines, parseV1Stat, parseV2Stat, readMemoryCgroup, swapLimitV1, V1_STAT_ITEMS, V2_STAT_BYTES } from '../../../src/cgroupfs/memory.js';
import { DEFAULT_STAT_EVENT_ITEMS, DEFAULT_STAT_ITEMS, STAT_EVENT_ITEMS, statItemSelector } from '../../../src/config/statItems.js';
import { UNLIMITED } from '../../../src/cgroupfs/limit.js';
import { fixture, fixturesDir } from '../procfs/fixtures.js';

const V1 = 'sys/fs/cgroup/memory/workloads/job-7f3a';
const V2 = 'sys/fs/cgroup/workloads/job-42c9';

/** key -> number of a `key value` file, straight from the text (the test's own reading). */
function kv(text: string): Map<string, number> {
  return new Map(text.trim().split('\n').map((l) => l.split(' ') as [string, string]).map(([k, v]) => [k, Number(v)]));
}

test('v1 memory.stat (oomdemo): total_* items under their v2 names, hierarchical_memory_limit', () => {
  const [text, path] = fixture('v1', `${V1}/oomdemo/memory.stat`);
  const r = parseV1Stat(text, path);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(Object.fromEntries(r.stat), {
    file: 4608000, anon: 0, anon_thp: 0, shmem: 0, file_mapped: 0, file_dirty: 0, file_writeback: 0, swap: 0, swapcached: 0,
    inactive_anon: 0, active_anon: 0, inactive_file: 811008, active_file: 3796992, unevictable: 0,
  });
  assert.deepEqual(r.hierarchicalLimit, { unlimited: false, bytes: 67108864 });
});

test('v1 memory.stat (parent): the hierarchical total_* values win over the local ones; unlimited hierarchy', () => {
  const [text, path] = fixture('v1', `${V1}/memory.stat`);
  const r = parseV1Stat(text, path);
  assert.deepEqual(r.problems, []);
  const raw = kv(text);
  for (const [v1, v2] of V1_STAT_ITEMS) assert.equal(r.stat.get(v2), raw.get(v1), `${v1} -> ${v2}`);
  assert.equal(r.stat.get('file'), 98168832); // total_cache, not cache 93560832
  assert.equal(r.stat.get('inactive_file'), 42778624); // total_inactive_file, not inactive_file 41967616
  assert.equal(r.stat.get('anon'), 2043904);
  assert.equal(r.stat.get('file_mapped'), 28078080);
  assert.equal(r.stat.size, V1_STAT_ITEMS.size);
  for (const k of ['cache', 'rss', 'pgfault', 'total_pgfault', 'hierarchical_memsw_limit', 'workingset_refault_file']) assert.ok(!r.stat.has(k), k);
  assert.deepEqual(r.hierarchicalLimit, UNLIMITED); // 9223372036854771712
});

test('v1 memory.stat: no hierarchical_memory_limit line: undefined; unknown keys ignored; bad line is a problem', () => {
  const r = parseV1Stat('total_cache 4096\ntotal_future 7\nweird line here\n', '/cg/memory.stat');
  assert.deepEqual(Object.fromEntries(r.stat), { file: 4096 });
  assert.equal(r.hierarchicalLimit, undefined);
  assert.equal(r.problems.length, 1);
  assert.deepEqual([r.problems[0]?.path, r.problems[0]?.line], ['/cg/memory.stat', 3]);
});

test('v2 memory.stat (self and oomed): every byte item as printed, event counts left out', () => {
  for (const rel of [`${V2}/memory.stat`, `${V2}/oomdemo/memory.stat`]) {
    const [text, path] = fixture('v2', rel);
    const r = parseV2Stat(text, path);
    assert.deepEqual(r.problems, []);
    const raw = kv(text);
    assert.equal(r.stat.size, V2_STAT_BYTES.size, rel);
    for (const k of V2_STAT_BYTES) assert.equal(r.stat.get(k), raw.get(k), `${rel} ${k}`);
    for (const k of ['pswpin', 'pswpout', 'zswpin', 'zswpwb']) assert.ok(!r.stat.has(k), k);
  }
  const self = parseV2Stat(...fixture('v2', `${V2}/memory.stat`)).stat;
  assert.equal(self.get('anon'), 1048576);
  assert.equal(self.get('inactive_file'), 462848);
  assert.equal(self.get('slab'), 426696);
});

test('v2 memory.stat: slab is the sum of its parts on kernels that do not print it; missing items stay absent', () => {
  const r = parseV2Stat('anon 4096\nslab_reclaimable 10\nslab_unreclaimable 5\nfuture_bytes 9\n', 'p');
  assert.deepEqual(Object.fromEntries(r.stat), { anon: 4096, slab_reclaimable: 10, slab_unreclaimable: 5, slab: 15 });
  assert.equal(parseV2Stat('anon 1\n', 'p').stat.get('file'), undefined);
});

test('countLines: cgroup.procs', () => {
  assert.equal(countLines(''), 0);
  assert.equal(countLines('\n'), 0);
  assert.equal(countLines('1\n2\n3\n'), 3);
  assert.equal(countLines('1\n\n2'), 2);
});

function host(tree: 'v1' | 'v2'): HostFs {
  return new HostFs(`${fixturesDir}${tree}/proc`, `${fixturesDir}${tree}/sys`);
}

test('readMemoryCgroup v1 oomdemo: the model of the OOM-killed cgroup', () => {
  const h = host('v1');
  const problems: Problem[] = [];
  const cg = readMemoryCgroup(h, h.hostPath(`/${V1}/oomdemo`), 'v1', problems);
  assert.deepEqual(problems, []);
  assert.equal(cg.usageBytes, 4677632);
  assert.deepEqual(cg.limit, { unlimited: false, bytes: 67108864 });
  assert.deepEqual(cg.hierarchicalLimit, { unlimited: false, bytes: 67108864 });
  assert.equal(cg.inactiveFileBytes, 811008);
  assert.equal(cg.peakBytes, 67108864);
  assert.equal(cg.swapBytes, 0); // memsw.usage 4677632 - usage 4677632
  assert.deepEqual(Object.fromEntries(cg.events), { max: 2112, oom_kill: 1 });
  assert.equal(cg.oomKills, 1);
  assert.equal(cg.underOom, 0);
  assert.equal(cg.pressure, undefined);
  assert.equal(cg.processes, 0);
  assert.equal(cg.stat.get('file'), 4608000);
});

test('readMemoryCgroup v1 parent: unlimited, swap = memsw - usage', () => {
  const h = host('v1');
  const problems: Problem[] = [];
  const cg = readMemoryCgroup(h, h.hostPath(`/${V1}`), 'v1', problems);
  assert.deepEqual(problems, []);
  assert.equal(cg.usageBytes, 103997440);
  assert.deepEqual(cg.limit, UNLIMITED);
  assert.deepEqual(cg.hierarchicalLimit, UNLIMITED);
  assert.equal(cg.peakBytes, 191565824);
  assert.equal(cg.swapBytes, 104230912 - 103997440);
  assert.deepEqual(Object.fromEntries(cg.events), { max: 0, oom_kill: 0 });
  assert.equal(cg.processes, 1);
});

test('readMemoryCgroup v2 oomdemo and its parent', () => {
  const h = host('v2');
  const problems: Problem[] = [];
  const cg = readMemoryCgroup(h, h.hostPath(`/${V2}/oomdemo`), 'v2', problems);
  assert.equal(cg.usageBytes, 327680);
  assert.deepEqual(cg.limit, { unlimited: false, bytes: 67108864 });
  assert.equal(cg.hierarchicalLimit, undefined); // v2: the walker computes it
  assert.equal(cg.inactiveFileBytes, 0);
  assert.equal(cg.peakBytes, 67108864);
  assert.equal(cg.swapBytes, 0);
  assert.deepEqual(Object.fromEntries(cg.events), { low: 0, high: 0, max: 42, oom: 1, oom_kill: 1, oom_group_kill: 0 });
  assert.equal(cg.oomKills, 1);
  assert.equal(cg.underOom, undefined); // v1 only
  assert.equal(cg.pressure?.some?.totalSeconds, 318e-6);
  assert.equal(cg.pressure?.full?.totalSeconds, 318e-6);
  assert.equal(cg.processes, 0);
  const parent = readMemoryCgroup(h, h.hostPath(`/${V2}`), 'v2', problems);
  assert.equal(parent.usageBytes, 6344704);
  assert.deepEqual(parent.limit, UNLIMITED);
  assert.equal(parent.peakBytes, 7802880);
  assert.equal(parent.inactiveFileBytes, 462848);
  assert.equal(parent.pressure?.some?.totalSeconds, 0);
  assert.equal(parent.processes, 1);
  assert.deepEqual(problems, []);
});

test('readMemoryCgroup: absent files give undefined (never 0); an unreadable file is a problem, not a lost cgroup', () => {
  const dir = mkdtempSync(`${tmpdir()}/memlens-cg-`);
  try {
    writeFileSync(`${dir}/memory.current`, '8192\n');
    mkdirSync(`${dir}/memory.stat`); // read() fails with EISDIR
    writeFileSync(`${dir}/memory.max`, 'lots\n');
    const problems: Problem[] = [];
    const cg = readMemoryCgroup(new HostFs('/nonexistent', '/nonexistent'), dir, 'v2', problems);
    assert.equal(cg.usageBytes, 8192);
    assert.equal(cg.limit, undefined);
    assert.equal(cg.peakBytes, undefined);
    assert.equal(cg.swapBytes, undefined);
    assert.equal(cg.oomKills, undefined);
    assert.equal(cg.pressure, undefined);
    assert.equal(cg.processes, undefined);
    assert.equal(cg.inactiveFileBytes, undefined);
    assert.equal(cg.events.size, 0);
    assert.deepEqual(problems.map((p) => [p.reason, p.path]).sort(), [['parse', `${dir}/memory.max`], ['read', `${dir}/memory.stat`]]);
    // v1 without swap accounting: no memsw files, so no swap sample.
    const v1: Problem[] = [];
    writeFileSync(`${dir}/memory.usage_in_bytes`, '4096\n');
    const cg1 = readMemoryCgroup(new HostFs('/nonexistent', '/nonexistent'), dir, 'v1', v1);
    assert.equal(cg1.swapBytes, undefined);
    assert.equal(cg1.underOom, undefined);
    assert.equal(cg1.events.size, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- issue 16: memory.stat event counters, the other limits, v1 kernel memory

test('v1 memory.stat: the hierarchical total_* event counters under v2 names, each equal to the file\'s number', () => {
  for (const rel of [`${V1}/memory.stat`, `${V1}/oomdemo/memory.stat`]) {
    const [text, path] = fixture('v1', rel);
    const r = parseV1Stat(text, path);
    const raw = kv(text);
    assert.deepEqual([...r.events.keys()].sort(),
      ['pgfault', 'pgmajfault', 'pgpgin', 'pgpgout', 'workingset_refault_anon', 'workingset_refault_file'], rel);
    for (const [item, v] of r.events) assert.equal(v, raw.get(`total_${item}`), `${rel} ${item}`);
  }
  // The parent: the hierarchical counter, not the local one.
  const parent = parseV1Stat(...fixture('v1', `${V1}/memory.stat`)).events;
  const raw = kv(fixture('v1', `${V1}/memory.stat`)[0]);
  assert.notEqual(raw.get('pgfault'), raw.get('total_pgfault'), 'fixture: the parent has local and hierarchical counts that differ');
  assert.equal(parent.get('pgfault'), raw.get('total_pgfault'));
  const oom = parseV1Stat(...fixture('v1', `${V1}/oomdemo/memory.stat`)).events;
  assert.deepEqual(Object.fromEntries(oom), {
    workingset_refault_anon: 0, workingset_refault_file: 3322, pgpgin: 40692, pgpgout: 39568, pgfault: 46138, pgmajfault: 17,
  });
});

test('v2 memory.stat: every listed event counter as printed, byte items never among them', () => {
  for (const rel of [`${V2}/memory.stat`, `${V2}/oomdemo/memory.stat`]) {
    const [text, path] = fixture('v2', rel);
    const r = parseV2Stat(text, path);
    const raw = kv(text);
    for (const [item, v] of r.events) {
      assert.ok(STAT_EVENT_ITEMS.has(item), item);
      assert.equal(v, raw.get(item), `${rel} ${item}`);
    }
    for (const k of raw.keys()) assert.ok(r.stat.has(k) || r.events.has(k), `${rel}: ${k} is neither bytes nor events`);
    for (const k of r.events.keys()) assert.ok(!V2_STAT_BYTES.has(k));
  }
  const self = parseV2Stat(...fixture('v2', `${V2}/memory.stat`)).events;
  assert.equal(self.get('pgfault'), kv(fixture('v2', `${V2}/memory.stat`)[0]).get('pgfault'));
  assert.equal(parseV2Stat(...fixture('v2', `${V2}/oomdemo/memory.stat`)).events.get('pgfault'), 16567);
  // An unknown key is neither (a new kernel's byte item must not become a counter).
  const r = parseV2Stat('anon 4096\npgfault 10\nhugetlb 2097152\n', 'p');
  assert.deepEqual(Object.fromEntries(r.events), { pgfault: 10 });
  assert.equal(r.stat.has('hugetlb'), false);
});

test('the default event selection: bounded, within the known items, part of --cgroup.stat-items\'s default', () => {
  for (const item of DEFAULT_STAT_EVENT_ITEMS) {
    assert.ok(STAT_EVENT_ITEMS.has(item), item);
    assert.ok(DEFAULT_STAT_ITEMS.includes(item), item);
  }
  const v2 = parseV2Stat(...fixture('v2', `${V2}/oomdemo/memory.stat`)).events;
  const picked = [...v2.keys()].filter(statItemSelector(DEFAULT_STAT_ITEMS));
  assert.deepEqual(picked, [
    'workingset_refault_anon', 'workingset_refault_file', 'workingset_activate_anon', 'workingset_activate_file',
    'workingset_restore_anon', 'workingset_restore_file', 'pgscan', 'pgsteal', 'pgfault', 'pgmajfault',
  ]);
  const v1 = parseV1Stat(...fixture('v1', `${V1}/oomdemo/memory.stat`)).events;
  assert.equal([...v1.keys()].filter(statItemSelector(DEFAULT_STAT_ITEMS)).length, 6);
});

test('swapLimitV1: memsw - limit, unlimited when either is, absent without memsw files', () => {
  const lim = (bytes: number): { unlimited: false; bytes: number } => ({ unlimited: false, bytes });
  assert.deepEqual(swapLimitV1(lim(300), lim(200)), lim(100));
  assert.deepEqual(swapLimitV1(lim(200), lim(200)), lim(0));
  assert.deepEqual(swapLimitV1(UNLIMITED, lim(200)), UNLIMITED);
  assert.deepEqual(swapLimitV1(lim(300), UNLIMITED), UNLIMITED);
  assert.equal(swapLimitV1(undefined, lim(200)), undefined);
});

test('readMemoryCgroup v1: kernel = memory.kmem.usage_in_bytes, soft limit and memsw as the files say', () => {
  const h = host('v1');
  for (const rel of [V1, `${V1}/oomdemo`]) {
    const problems: Problem[] = [];
    const cg = readMemoryCgroup(h, h.hostPath(`/${rel}`), 'v1', problems, true);
    assert.deepEqual(problems, []);
    assert.equal(cg.stat.get('kernel'), Number(fixture('v1', `${rel}/memory.kmem.usage_in_bytes`)[0].trim()), rel);
    // Both captures are unset: 9223372036854771712.
    assert.equal(fixture('v1', `${rel}/memory.soft_limit_in_bytes`)[0].trim(), '9223372036854771712');
    assert.deepEqual(cg.softLimit, UNLIMITED);
    assert.deepEqual(cg.swapLimit, UNLIMITED); // memsw unlimited
    assert.equal(cg.high, undefined); // v2 only
    assert.equal(cg.low, undefined);
    assert.equal(cg.min, undefined);
    assert.equal(cg.statEvents.get('pgmajfault'), kv(fixture('v1', `${rel}/memory.stat`)[0]).get('total_pgmajfault'));
  }
  assert.equal(readMemoryCgroup(h, h.hostPath(`/${V1}/oomdemo`), 'v1', [], true).stat.get('kernel'), 69632);
  assert.equal(readMemoryCgroup(h, h.hostPath(`/${V1}`), 'v1', [], true).stat.get('kernel'), 4239360);
  // Not known to be accounted (cgroup.memory=nokmem reads 0 whatever is used): not read.
  assert.equal(readMemoryCgroup(h, h.hostPath(`/${V1}/oomdemo`), 'v1', [], false).stat.has('kernel'), false);
  assert.equal(readMemoryCgroup(h, h.hostPath(`/${V1}/oomdemo`), 'v1', []).stat.has('kernel'), false);
});

test('readMemoryCgroup v2: memory.high/low/min/swap.max as the files say', () => {
  const h = host('v2');
  const oom = readMemoryCgroup(h, h.hostPath(`/${V2}/oomdemo`), 'v2', []);
  assert.deepEqual(oom.high, UNLIMITED); // "max"
  assert.deepEqual(oom.low, { unlimited: false, bytes: 0 });
  assert.deepEqual(oom.min, { unlimited: false, bytes: 0 });
  assert.deepEqual(oom.swapLimit, { unlimited: false, bytes: 0 }); // memory.swap.max 0: no swap allowed
  assert.equal(oom.softLimit, undefined); // v1 only
  assert.equal(oom.statEvents.get('pgfault'), 16567);
  const parent = readMemoryCgroup(h, h.hostPath(`/${V2}`), 'v2', []);
  assert.deepEqual(parent.swapLimit, UNLIMITED);
  assert.deepEqual(parent.high, UNLIMITED);
});
