import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { emptyStatus, parseStatus, scanStatus, type ProcStatus } from '../../../src/procfs/status.js';
import type { ParseError } from '../../../src/errors.js';
import { fixture, kB, mutated, PID } from './fixtures.js';

test('status: real v1 file (Debian 12, 6.18, cat): every catalog field in bytes', () => {
  const { value, problems } = parseStatus(...fixture('v1', `proc/${PID.v1}/status`));
  assert.deepEqual(problems, []);
  assert.deepEqual(value, {
    name: 'cat',
    residentBytes: 1744896, // VmRSS: 1704 kB
    residentAnonBytes: kB(112), // RssAnon
    residentFileBytes: kB(1592), // RssFile
    residentShmemBytes: 0, // RssShmem: 0 kB
    residentPeakBytes: kB(1704), // VmHWM
    virtualBytes: kB(3060), // VmSize
    swapBytes: 0, // VmSwap
    pageTablesBytes: kB(44), // VmPTE
  });
});

test('status: real v2 file (Ubuntu 24.04, 6.18, cp): every catalog field in bytes', () => {
  const { value, problems } = parseStatus(...fixture('v2', `proc/${PID.v2}/status`));
  assert.deepEqual(problems, []);
  assert.deepEqual(value, {
    name: 'cp',
    residentBytes: 2564096, // VmRSS: 2504 kB
    residentAnonBytes: kB(152),
    residentFileBytes: kB(2352),
    residentShmemBytes: 0,
    residentPeakBytes: kB(2504),
    virtualBytes: 6983680, // VmSize: 6820 kB (= statm's 1705 pages)
    swapBytes: 0,
    pageTablesBytes: kB(56),
  });
});

test('status: unknown keys and non-numeric lines we do not want are ignored', () => {
  const text = 'Name:\tx\nState:\tS (sleeping)\nVmRSS:\t  10 kB\nVmFuture:\t 99 kB\nCpus_allowed:\tff\nSpeculation_Store_Bypass:\tthread vulnerable\n';
  const { value, problems } = parseStatus(text, '/proc/1/status');
  assert.deepEqual(problems, []);
  assert.equal(value.residentBytes, 10240);
  assert.equal(value.name, 'x');
});

test('status: missing optional fields are undefined, never 0 (RssAnon & co. before 4.5; kernel thread)', () => {
  // A 4.4 kernel: no RssAnon/RssFile/RssShmem lines.
  const old = 'Name:\tbash\nVmPeak:\t   22000 kB\nVmSize:\t   21900 kB\nVmHWM:\t    5000 kB\nVmRSS:\t    4900 kB\nVmPTE:\t      60 kB\nVmSwap:\t       0 kB\n';
  const a = parseStatus(old, '/proc/2/status').value;
  assert.equal(a.residentBytes, kB(4900));
  assert.equal(a.residentAnonBytes, undefined);
  assert.equal(a.residentFileBytes, undefined);
  assert.equal(a.residentShmemBytes, undefined);
  // A kernel thread: no Vm* lines at all.
  const kthread = parseStatus('Name:\tkworker/0:1\nState:\tI (idle)\nTgid:\t17\nPid:\t17\nKthread:\t1\n', '/proc/17/status');
  assert.deepEqual(kthread.problems, []);
  for (const [k, v] of Object.entries(kthread.value)) if (k !== 'name') assert.equal(v, undefined, k);
  assert.equal(kthread.value.name, 'kworker/0:1');
  assert.equal(parseStatus('', '/proc/3/status').value.name, undefined);
});

test('status: a malformed wanted line is a problem carrying the path and line, not a throw', () => {
  const { value, problems } = parseStatus('Name:\tx\nVmRSS:\tlots kB\nVmSize:\t 8 kB\n', '/proc/42/status');
  assert.equal(value.residentBytes, undefined);
  assert.equal(value.virtualBytes, 8192);
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.code, 'MEMLENS_ERR_PARSE');
  assert.equal(problems[0]?.path, '/proc/42/status');
  assert.equal(problems[0]?.line, 2);
  assert.match(problems[0]?.message ?? '', /VmRSS/);
});

test('status: a truncated last line (no newline) still parses', () => {
  assert.equal(parseStatus('Name:\tx\nVmRSS:\t 3 kB', 'p').value.residentBytes, 3072);
});

// scanStatus's knownName (the process collector's comm of a held /proc/PID handle) changes which string object comes
// back, never what it says.
function scanWith(text: string, known: string | undefined): { out: ProcStatus; problems: ParseError[] } {
  const b = Buffer.from(text, 'utf8');
  const out = emptyStatus();
  const problems: ParseError[] = [];
  scanStatus(b, b.length, 'p', out, problems, known);
  return { out, problems };
}

test('status: a known name that the Name line still says comes back as that very string', () => {
  const text = fixture('v1', `proc/${PID.v1}/status`)[0];
  const known = ['c', 'a', 't'].join(''); // a string of its own, not the literal 'cat'
  assert.equal(scanWith(text, known).out.name, 'cat');
  assert.ok(Object.is(scanWith(text, known).out.name, known));
  assert.equal(scanWith(text, 'dog').out.name, 'cat');
  assert.equal(scanWith(text, 'ca').out.name, 'cat');
  assert.equal(scanWith(text.replace('Name:\tcat', 'Name:\t cat \t'), known).out.name, 'cat');
  assert.equal(scanWith(text.replace('Name:\tcat', 'Name:\t\u00a0cat'), known).out.name, 'cat'); // trim() removes U+00A0 too
  assert.equal(scanWith(text.replace('Name:\tcat', 'Name:\tcät'), 'cat').out.name, 'cät');
  assert.equal(scanWith(text.replace('Name:\tcat', 'Name:\tcät'), 'cät').out.name, 'cät');
});

test('status: with any known name, random damage to the real files scans as without one', () => {
  for (const tree of ['v1', 'v2'] as const) {
    const text = fixture(tree, `proc/${PID[tree]}/status`)[0];
    const name = /^Name:\t(.*)$/m.exec(text)![1]!;
    const known = fc.oneof(fc.constant(name), fc.constant(` ${name}`), fc.string({ maxLength: 16 }), fc.constant(undefined));
    fc.assert(
      fc.property(mutated(text), known, (m, k) => {
        assert.deepEqual(scanWith(m, k), scanWith(m, undefined));
      }),
      { numRuns: 400 },
    );
  }
});
