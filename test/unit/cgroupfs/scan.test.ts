// The byte fast paths (cgroupfs/scan.ts, MemoryReader) against the string parsers they stand in for: whenever a
// fast path answers, its answer is the string parser's; kernel-form text is always taken by the fast path; and the
// reader (fast path or fallback) gives the same model as the parsers on real files, on damaged ones, and on what
// a kernel prints. The files the reader reads, and how, are those memoryFiles() lists (the cgroup bench reads them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import fc from 'fast-check';
import { KeyedValues, scanInt, scanLimit } from '../../../src/cgroupfs/scan.js';
import { countLines, countLinesBytes, memoryFiles, MemoryReader, parseV1Stat, parseV2Stat, readMemoryCgroup, scanMemoryStat, V1_STAT_ITEMS, V2_STAT_BYTES } from '../../../src/cgroupfs/memory.js';
import { parseLimit, UNLIMITED } from '../../../src/cgroupfs/limit.js';
import { parseSingleInt } from '../../../src/procfs/common.js';
import { STAT_EVENT_ITEMS } from '../../../src/config/statItems.js';
import { HostFs, type DirHandle } from '../../../src/host/hostFs.js';
import type { Problem } from '../../../src/model/types.js';
import { fixture, fixturesDir, mutated } from '../procfs/fixtures.js';

const V1 = 'sys/fs/cgroup/memory/workloads/job-7f3a';
const V2 = 'sys/fs/cgroup/workloads/job-42c9';
const PATH = '/sys/fs/cgroup/x/file';
const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

test('scanInt: the kernel\'s "%llu\\n" / "%lld\\n" taken; whenever it answers, parseSingleInt agrees', () => {
  for (const [text, v] of [['0\n', 0], ['4096\n', 4096], ['-5\n', -5], ['999999999999999\n', 999999999999999]] as const) assert.equal(scanInt(bytes(text), bytes(text).length), v, text);
  for (const text of ['', '\n', '12', ' 12\n', '12 \n', '012\n', '1234567890123456\n', 'max\n', '-\n', '1\n2\n']) assert.ok(Number.isNaN(scanInt(bytes(text), bytes(text).length)), JSON.stringify(text));
  const check = (text: string): void => {
    const b = bytes(text);
    const v = scanInt(b, b.length);
    if (Number.isNaN(v)) return;
    const p = parseSingleInt(text, PATH);
    assert.deepEqual([v, p.problems.length], [p.value, 0], JSON.stringify(text));
  };
  fc.assert(fc.property(fc.oneof(fc.bigInt({ min: -(10n ** 17n), max: 10n ** 17n }).map((n) => `${n}\n`), fc.string({ maxLength: 30 })), check), { numRuns: 1000 });
});

test('scanLimit: "max", a number, and v1\'s "no limit" taken; whenever it answers, parseLimit agrees', () => {
  const taken = (text: string): unknown => scanLimit(bytes(text), bytes(text).length);
  assert.deepEqual(taken('max\n'), UNLIMITED);
  assert.deepEqual(taken('9223372036854771712\n'), UNLIMITED); // PAGE_COUNTER_MAX * 4 KiB
  assert.deepEqual(taken('4611686018427387904\n'), UNLIMITED); // 2^62: the floor of "unlimited"
  assert.deepEqual(taken('67108864\n'), { unlimited: false, bytes: 67108864 });
  assert.deepEqual(taken('0\n'), { unlimited: false, bytes: 0 });
  for (const text of ['4611686018427387903\n', '9007199254740993\n', 'max', ' 5\n', '05\n', '-1\n']) assert.equal(taken(text), undefined, text);
  const check = (text: string): void => {
    const v = taken(text);
    if (v === undefined) return;
    const p = parseLimit(text, PATH);
    assert.deepEqual([v, p.problems.length], [p.value, 0], JSON.stringify(text));
  };
  fc.assert(fc.property(fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 66n }).map((n) => `${n}\n`), fc.string({ maxLength: 30 }), fc.constantFrom('max\n', 'max', 'max\n\n')), check), { numRuns: 2000 });
});

test('countLinesBytes: cgroup.procs counted as countLines counts it, or handed to it (-1)', () => {
  fc.assert(fc.property(fc.oneof(fc.array(fc.nat(), { maxLength: 50 }).map((pids) => pids.map((p) => `${p}\n`).join('')), fc.string({ maxLength: 60 }), fc.string({ maxLength: 30, unit: 'binary' })), (text) => {
    const b = bytes(text);
    const n = countLinesBytes(b, b.length);
    if (n >= 0) assert.equal(n, countLines(text), JSON.stringify(text));
  }), { numRuns: 1000 });
  assert.equal(countLinesBytes(bytes('1\n22\n333\n'), 9), 3);
});

/** memory.stat as a kernel prints it: `key value\n` lines, keys the parsers use and others, values of any size where unused. */
function kernelStat(mode: 'v1' | 'v2'): fc.Arbitrary<string> {
  const used = mode === 'v1' ? [...V1_STAT_ITEMS.keys(), ...[...STAT_EVENT_ITEMS].map((e) => `total_${e}`)] : [...V2_STAT_BYTES, ...STAT_EVENT_ITEMS];
  const unused = mode === 'v1' ? ['hierarchical_memsw_limit', 'cache', 'rss', 'pgfault', 'total_future'] : ['future_item', 'pgdemote_future'];
  const small = fc.oneof({ arbitrary: fc.nat({ max: 10 ** 12 }), weight: 9 }, { arbitrary: fc.nat({ max: 10 ** 15 - 1 }), weight: 1 }).map(String);
  const any = fc.oneof(small, fc.bigInt({ min: 0n, max: 2n ** 64n }).map(String), fc.constant('9223372036854771712'));
  const line = fc.oneof(
    { arbitrary: fc.tuple(fc.constantFrom(...used), small), weight: 8 },
    { arbitrary: fc.tuple(fc.constantFrom(...unused), any), weight: 2 },
    ...(mode === 'v1' ? [{ arbitrary: fc.tuple(fc.constant('hierarchical_memory_limit'), fc.oneof(small, fc.constantFrom('9223372036854771712', '4611686018427387904'))), weight: 1 }] : []),
  );
  return fc.uniqueArray(line, { selector: ([k]) => k, maxLength: 40 }).map((lines) => lines.map(([k, v]) => `${k} ${v}\n`).join(''));
}

function compareStat(mode: 'v1' | 'v2', text: string): boolean {
  const b = bytes(text);
  const stat = new KeyedValues();
  const events = new KeyedValues();
  const limit = new KeyedValues();
  if (!scanMemoryStat(mode, b, b.length, stat, events, limit)) return false;
  const p = mode === 'v1' ? parseV1Stat(text, PATH) : { ...parseV2Stat(text, PATH), hierarchicalLimit: undefined };
  assert.deepEqual(p.problems, [], JSON.stringify(text));
  // v2's computed slab is added by the reader after the scan, as parseV2Stat adds it: compare without it when it was summed.
  const expected = new Map(p.stat);
  if (mode === 'v2' && !stat.has('slab')) expected.delete('slab');
  assert.deepEqual([...stat], [...expected], JSON.stringify(text));
  assert.deepEqual([...events], [...p.events], JSON.stringify(text));
  const hl = limit.get('hierarchical_memory_limit');
  assert.deepEqual(hl === undefined ? undefined : hl === Number.POSITIVE_INFINITY ? UNLIMITED : { unlimited: false, bytes: hl }, p.hierarchicalLimit);
  return true;
}

for (const mode of ['v1', 'v2'] as const) {
  const files = mode === 'v1' ? [fixture('v1', `${V1}/memory.stat`), fixture('v1', `${V1}/oomdemo/memory.stat`)] : [fixture('v2', `${V2}/memory.stat`), fixture('v2', `${V2}/oomdemo/memory.stat`)];
  test(`scanMemoryStat ${mode}: the fixtures are taken and give what the string parser gives`, () => {
    for (const [text, path] of files) assert.ok(compareStat(mode, text), path);
  });
  test(`scanMemoryStat ${mode}: kernel-form text is mostly taken, and whenever it answers, the string parser agrees`, () => {
    let taken = 0;
    fc.assert(fc.property(kernelStat(mode), (text) => {
      if (compareStat(mode, text)) taken++;
    }), { numRuns: 500 });
    assert.ok(taken > 400, `${taken} of 500 taken by the fast path`);
  });
  test(`scanMemoryStat ${mode}: damaged files: whenever it answers, the string parser agrees (and reports nothing)`, () => {
    for (const [text] of files) fc.assert(fc.property(mutated(text), (t) => void compareStat(mode, t)), { numRuns: 300 });
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (t) => void compareStat(mode, t)), { numRuns: 300 });
  });
}

test('scanMemoryStat: text not in the kernel\'s form goes to the string parser', () => {
  for (const text of ['total_cache 1', 'total_cache  1\n', 'total_cache\t1\n', 'total_cache 1\ntotal_cache 2\n', 'total_cache 1\n\n', 'total_cache 1.5\n', 'total_cache 12345678901234567\n', 'hierarchical_memory_limit 18014398509481984\n', 'tötal 1\n']) {
    const b = bytes(text);
    assert.equal(scanMemoryStat('v1', b, b.length, new KeyedValues(), new KeyedValues(), new KeyedValues()), false, JSON.stringify(text));
  }
});

/** A HostFs that records what is read, and whether as one show. */
class RecordingHostFs extends HostFs {
  readonly reads: [string, boolean][] = [];
  override readAtInto(dir: DirHandle, name: string, oneShow = false): number {
    this.reads.push([name, oneShow]);
    return super.readAtInto(dir, name, oneShow);
  }
}

test('MemoryReader reads exactly memoryFiles(), every file but cgroup.procs as one show', () => {
  for (const [tree, dir, mode] of [['v1', `/${V1}/oomdemo`, 'v1'], ['v2', `/${V2}/oomdemo`, 'v2']] as const) {
    for (const kmem of mode === 'v1' ? [true, false] : [false]) {
      const h = new RecordingHostFs(`${fixturesDir}${tree}/proc`, `${fixturesDir}${tree}/sys`);
      const problems: Problem[] = [];
      new MemoryReader(h, mode, kmem).read(h.hostPath(dir), problems);
      assert.deepEqual(problems, []);
      assert.deepEqual(h.reads.map(([f]) => f), memoryFiles(mode, kmem, true), `${tree} kmem=${kmem}`);
      for (const [f, one] of h.reads) assert.equal(one, f !== 'cgroup.procs', f);
    }
  }
});

test('MemoryReader: one reader over many cgroups gives each its own model, as readMemoryCgroup does', () => {
  const h = new HostFs(`${fixturesDir}v1/proc`, `${fixturesDir}v1/sys`);
  const reader = new MemoryReader(h, 'v1', true);
  for (const dir of [`/${V1}`, `/${V1}/oomdemo`, `/${V1}`]) {
    const p1: Problem[] = [];
    const p2: Problem[] = [];
    assert.deepEqual(reader.read(h.hostPath(dir), p1).toModel(), readMemoryCgroup(h, h.hostPath(dir), 'v1', p2, true), dir);
  }
});

test('MemoryReader: odd files go through the string parsers with the same values and problems', () => {
  const dir = mkdtempSync(`${tmpdir()}/memlens-scan-`);
  try {
    const h = new HostFs('/nonexistent', '/nonexistent');
    const cases: [string, string][] = [
      ['memory.usage_in_bytes', ' 4096 \n'], ['memory.limit_in_bytes', 'lots\n'], ['memory.failcnt', '12345678901234567890\n'],
      ['memory.stat', 'total_cache 4096\ntotal_rss\t8192\nweird line\nhierarchical_memory_limit 9223372036854771712\n'],
      ['memory.oom_control', 'oom_kill_disable 0\r\nunder_oom 0\r\noom_kill 3\r\n'], ['cgroup.procs', '1\n\n2\n'],
    ];
    for (const [f, text] of cases) writeFileSync(`${dir}/${f}`, text);
    const problems: Problem[] = [];
    const cg = readMemoryCgroup(h, dir, 'v1', problems);
    assert.equal(cg.usageBytes, 4096);
    assert.equal(cg.limit, undefined);
    assert.deepEqual(Object.fromEntries(cg.stat), { file: 4096, anon: 8192 }); // a tab is a separator to the string parser
    assert.deepEqual(cg.hierarchicalLimit, UNLIMITED);
    assert.equal(cg.oomKills, 3);
    assert.equal(cg.processes, 2);
    assert.deepEqual(problems.map((p) => p.path?.slice(dir.length + 1)).sort(), ['memory.limit_in_bytes', 'memory.stat']);
    assert.equal(cg.events.get('max'), 12345678901234567890);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('MemoryReader: libc reads by name in the opened cgroup directory give node:fs\'s model and problems, failures included', () => {
  const dir = mkdtempSync(`${tmpdir()}/memlens-scan-`);
  try {
    writeFileSync(`${dir}/memory.usage_in_bytes`, '4096\n');
    writeFileSync(`${dir}/memory.limit_in_bytes`, 'lots\n');
    mkdirSync(`${dir}/memory.stat`); // unreadable as a file: EISDIR, a 'read' problem naming the whole path
    writeFileSync(`${dir}/cgroup.procs`, '1\n2\n');
    const read = (io: 'libc' | 'node', tree: string, d: string, mode: 'v1' | 'v2'): [unknown, Problem[]] => {
      const h = new HostFs(`${fixturesDir}${tree}/proc`, `${fixturesDir}${tree}/sys`, io);
      const problems: Problem[] = [];
      const model = new MemoryReader(h, mode, true).read(d.startsWith('/') ? d : h.hostPath(`/${d}`), problems).toModel();
      return [model, problems];
    };
    for (const [tree, d, mode] of [['v1', `${V1}/oomdemo`, 'v1'], ['v2', `${V2}/oomdemo`, 'v2'], ['v1', dir, 'v1'], ['v1', `${dir}/gone`, 'v1']] as const) {
      assert.deepEqual(read('libc', tree, d, mode), read('node', tree, d, mode), d);
    }
    const [, problems] = read('libc', 'v1', dir, 'v1');
    assert.deepEqual(problems.map((p) => [p.reason, p.path]), [['parse', `${dir}/memory.limit_in_bytes`], ['read', `${dir}/memory.stat`]]);
    assert.match(problems[1]!.message, /^EISDIR: illegal operation on a directory, read$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
