// The byte scanners the process collector runs on every process (scanStatus, scanSmapsRollup,
// scanStat: no string per file or line) give exactly what the string parsers they replaced gave,
// on the real captured files and on random damage to them. The string parsers of before are kept
// here, verbatim, as the reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ParseError } from '../../../src/errors.js';
import { scanKbFields } from '../../../src/procfs/common.js';
import { emptyStatus, scanStatus, type ProcStatus } from '../../../src/procfs/status.js';
import { rollupOf, rollupPss, rollupUss, scanSmapsRollup, type SmapsRollup } from '../../../src/procfs/smapsRollup.js';
import { parseStat, scanStat, type StatFaults } from '../../../src/procfs/stat.js';
import { kbValue, KbKeys } from '../../../src/procfs/kbScan.js';
import { fixture, mutated, PID } from './fixtures.js';

// --- the reference: the string parsers as they were before the byte scanners -----------------

const FIELD_OF_KEY: ReadonlyMap<string, keyof Omit<ProcStatus, 'name'>> = new Map([
  ['VmRSS', 'residentBytes'], ['RssAnon', 'residentAnonBytes'], ['RssFile', 'residentFileBytes'], ['RssShmem', 'residentShmemBytes'],
  ['VmHWM', 'residentPeakBytes'], ['VmSize', 'virtualBytes'], ['VmSwap', 'swapBytes'], ['VmPTE', 'pageTablesBytes'],
]);

function textField(text: string, key: string): string | undefined {
  let at: number;
  if (text.startsWith(`${key}:`)) at = 0;
  else {
    const i = text.indexOf(`\n${key}:`);
    if (i < 0) return undefined;
    at = i + 1;
  }
  let end = text.indexOf('\n', at);
  if (end < 0) end = text.length;
  return text.slice(at + key.length + 1, end).trim();
}

function refStatus(text: string, path: string): { value: ProcStatus; problems: ParseError[] } {
  const problems: ParseError[] = [];
  const value = { ...emptyStatus(), name: textField(text, 'Name') };
  let line = 0;
  for (let start = 0; start < text.length; line++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const c0 = text.charCodeAt(start);
    if (c0 === 86 || c0 === 82) {
      const colon = text.indexOf(':', start);
      const field = colon > 0 && colon < end ? FIELD_OF_KEY.get(text.slice(start, colon)) : undefined;
      if (field !== undefined) {
        let i = colon + 1;
        while (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9) i++;
        const digits = i;
        let n = 0;
        for (let c = text.charCodeAt(i); c >= 48 && c <= 57; c = text.charCodeAt(++i)) n = n * 10 + (c - 48);
        if (i > digits && i + 3 === end && text.startsWith(' kB', i)) value[field] = n * 1024;
        else problems.push(new ParseError(`not "Key: N kB": ${JSON.stringify(text.slice(start, end).slice(0, 40))}`, path, line + 1));
      }
    }
    start = end + 1;
  }
  return { value, problems };
}

const ROLLUP_WANTED: ReadonlySet<string> = new Set([
  'Rss', 'Pss', 'Pss_Anon', 'Pss_File', 'Pss_Shmem', 'Private_Clean', 'Private_Dirty', 'Private_Hugetlb', 'Swap', 'SwapPss', 'Anonymous',
]);
function refRollup(text: string, path: string): { value: SmapsRollup; problems: ParseError[] } {
  const problems: ParseError[] = [];
  const f = scanKbFields(text, path, ROLLUP_WANTED, problems);
  const pc = f.get('Private_Clean');
  const pd = f.get('Private_Dirty');
  return {
    value: {
      rssBytes: f.get('Rss'), pssBytes: f.get('Pss'), pssAnonBytes: f.get('Pss_Anon'), pssFileBytes: f.get('Pss_File'),
      pssShmemBytes: f.get('Pss_Shmem'), ussBytes: pc === undefined || pd === undefined ? undefined : pc + pd + (f.get('Private_Hugetlb') ?? 0),
      swapBytes: f.get('Swap'), swapPssBytes: f.get('SwapPss'), anonymousBytes: f.get('Anonymous'),
    },
    problems,
  };
}

function refStat(text: string): StatFaults | undefined {
  const open = text.indexOf(' (');
  const close = text.lastIndexOf(')');
  if (open <= 0 || close < open + 1 || text.charCodeAt(close + 1) !== 32) return undefined;
  let pid = 0;
  for (let i = 0; i < open; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
    pid = pid * 10 + (c - 48);
  }
  const nums: number[] = [];
  let field = 0;
  let i = close + 2;
  while (field <= 19 && i < text.length) {
    const start = i;
    while (i < text.length && text.charCodeAt(i) !== 32 && text.charCodeAt(i) !== 10) i++;
    if (i === start) return undefined;
    if (field === 7 || field === 9 || field === 19) {
      let n = 0;
      for (let j = start; j < i; j++) {
        const c = text.charCodeAt(j);
        if (c < 48 || c > 57) return undefined;
        n = n * 10 + (c - 48);
      }
      nums[field] = n;
    }
    field++;
    i++;
  }
  if (field <= 19) return undefined;
  return { pid, minorFaults: nums[7]!, majorFaults: nums[9]!, startTimeTicks: nums[19]! };
}

// --- the byte scanners, called as the process collector calls them ---------------------------

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');
/** Strings that survive UTF-8 (no lone surrogates): the kernel's bytes always do. */
const wellFormed = (t: string): boolean => bytes(t).toString('utf8') === t;
const messages = (ps: readonly ParseError[]): string[] => ps.map((p) => `${p.line}: ${p.message}`);

function checkStatus(text: string): void {
  const ref = refStatus(text, 'p');
  const out = emptyStatus();
  out.name = 'left over from the previous process';
  out.residentBytes = 1;
  const problems: ParseError[] = [];
  const b = bytes(text);
  scanStatus(b, b.length, 'p', out, problems);
  assert.deepEqual(out, ref.value, JSON.stringify(text.slice(0, 200)));
  // The scan stops after the last wanted line: a malformed line after it is not looked at (the
  // reference reports problems of wanted keys only, and every wanted key was seen by then).
  assert.deepEqual(messages(problems), messages(ref.problems).slice(0, problems.length));
  if (problems.length < ref.problems.length) {
    for (const v of Object.values(out)) assert.notEqual(v, undefined);
  }
}

function checkRollup(text: string): void {
  const ref = refRollup(text, 'p');
  const problems: ParseError[] = [];
  const b = bytes(text);
  const v = scanSmapsRollup(b, b.length, 'p', problems);
  assert.deepEqual(rollupOf(v), ref.value, JSON.stringify(text.slice(0, 200)));
  assert.equal(rollupPss(v), ref.value.pssBytes ?? NaN);
  assert.equal(rollupUss(v), ref.value.ussBytes ?? NaN);
  assert.deepEqual(messages(problems), messages(ref.problems));
}

function checkStat(text: string): void {
  const ref = refStat(text);
  const out: StatFaults = { pid: -1, minorFaults: -1, majorFaults: -1, startTimeTicks: -1 };
  const problems: ParseError[] = [];
  const b = bytes(text);
  const ok = scanStat(b, b.length, 'p', out, problems);
  assert.equal(ok, ref !== undefined, JSON.stringify(text.slice(0, 200)));
  assert.equal(problems.length, ok ? 0 : 1);
  if (ref !== undefined) assert.deepEqual(out, ref);
  const parsed = parseStat(text, 'p');
  assert.equal(parsed.value === undefined, ref === undefined);
}

const files = (name: string): string[] => [fixture('v1', `proc/${PID.v1}/${name}`)[0], fixture('v2', `proc/${PID.v2}/${name}`)[0]];

test('byte scanners = the string parsers on the captured status, smaps_rollup and stat files', () => {
  for (const t of files('status')) checkStatus(t);
  for (const t of files('smaps_rollup')) checkRollup(t);
  for (const t of files('stat')) checkStat(t);
  // found by the property below: a malformed duplicate of a key after a good line keeps the good value
  checkRollup(files('smaps_rollup')[1]!.replace('Pss_Anon:', 'Pss:_Anon:'));
  checkStatus(files('status')[0]!.replace(/^VmPTE:.*$/m, '$&\nVmRSS:\t lots kB'));
  // and the values are there (not undefined on both sides)
  const s = emptyStatus();
  const b = bytes(files('status')[0]!);
  scanStatus(b, b.length, 'p', s, []);
  assert.ok(s.residentBytes !== undefined && s.name !== undefined);
});

test('byte scanners = the string parsers on random damage to the captured files', () => {
  for (const [check, name] of [[checkStatus, 'status'], [checkRollup, 'smaps_rollup'], [checkStat, 'stat']] as const) {
    for (const t of files(name)) {
      fc.assert(fc.property(mutated(t).filter(wellFormed), (m) => check(m)), { numRuns: 400 });
    }
  }
});

test('byte scanners: a value of another process never leaks into the next (reused records)', () => {
  const out = emptyStatus();
  // one buffer for both, as HostFs reuses it: the second file is shorter than the first
  const buf = Buffer.alloc(256);
  const put = (t: string): number => buf.write(t);
  scanStatus(buf, put('Name:\tbig\nVmRSS:\t 100 kB\nRssAnon:\t 5 kB\n'), 'p', out, []);
  scanStatus(buf, put('Name:\tkworker/0:1\nState:\tI (idle)\n'), 'p', out, []);
  assert.deepEqual(out, { ...emptyStatus(), name: 'kworker/0:1' });
  scanSmapsRollup(buf, put('Rss: 4 kB\nPss: 3 kB\n'), 'p', []);
  const v = scanSmapsRollup(buf, put('Rss: 8 kB\n'), 'p', []);
  assert.equal(rollupOf(v).pssBytes, undefined);
  assert.equal(rollupOf(v).rssBytes, 8192);
});

test('kbValue: exactly blanks, digits, " kB", then the end of the line or file', () => {
  const at = (s: string): number => kbValue(bytes(s), 0, bytes(s).length);
  assert.equal(at(' \t 12 kB'), 12 * 1024);
  assert.equal(at('12 kB\nnext'), 12 * 1024);
  for (const bad of ['', ' kB', '12', '12 kb', '12 kB ', '12 kB\r\n', '-1 kB', '1 2 kB', '12kB']) assert.ok(Number.isNaN(at(bad)), bad);
});

test('KbKeys: a key is found by its bytes only, not by a prefix, suffix or hash collision', () => {
  const keys = new KbKeys(['Pss', 'Pss_Anon']);
  const find = (s: string): number => {
    const b = bytes(s);
    let h = 0;
    for (const c of b) h = (Math.imul(h, 31) + c) | 0;
    return keys.indexOf(b, 0, b.length, h);
  };
  assert.equal(find('Pss'), 0);
  assert.equal(find('Pss_Anon'), 1);
  for (const s of ['Ps', 'Pss_', 'Pss_Anonx', 'pss', '']) assert.equal(find(s), -1, s);
  // "Aa" and "BB" have the same 31-hash: the bytes decide
  const k2 = new KbKeys(['Aa']);
  const bb = bytes('BB');
  assert.equal(k2.indexOf(bb, 0, 2, (Math.imul(66, 31) + 66) | 0), -1);
  assert.throws(() => new KbKeys(['Aa', 'BB']), /collides/);
});
