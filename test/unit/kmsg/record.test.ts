import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parseDmesgLine, parseKmsgRecord, splitKmsgRecords, unescapeKmsg } from '../../../src/kmsg/record.js';

const fixtures = new URL('../../../../test/fixtures/kmsg/', import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, fixtures), 'utf8');

test('kmsg: real v1 record (Debian 12, 6.18), header fields and text', () => {
  // First record of cgroup-v1-debian12-k6.18.kmsg_oom_raw.txt.
  const r = parseKmsgRecord('4,344,66143449,-;python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0\n');
  assert.deepEqual(r, {
    facility: 0,
    level: 4,
    seq: 344,
    usecMonotonic: 66143449,
    flags: '-',
    text: 'python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0',
    rawText: 'python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0',
    dict: {},
  });
});

test('kmsg: every record of the real v1 report parses, seq is contiguous', () => {
  const recs = splitKmsgRecords(read('cgroup-v1-debian12-k6.18.kmsg_oom_raw.txt')).map(parseKmsgRecord);
  assert.equal(recs.length, 80);
  recs.forEach((r, i) => {
    assert.ok(r !== undefined);
    assert.equal(r.seq, 344 + i);
    assert.equal(r.facility, 0);
  });
  assert.equal(recs[3]?.text, ' <TASK>'); // text after ';' keeps its leading space
  const last = recs[79];
  assert.equal(last?.level, 3);
  assert.equal(last?.usecMonotonic, 66145947);
});

test('kmsg: dictionary continuation lines, caller field, extra fields', () => {
  const r = parseKmsgRecord('6,706,1000000055,-,caller=T42;usb 1-1: new device\n SUBSYSTEM=usb\n DEVICE=c189:1\n');
  assert.deepEqual(r, {
    facility: 0,
    level: 6,
    seq: 706,
    usecMonotonic: 1000000055,
    flags: '-',
    caller: 'T42',
    text: 'usb 1-1: new device',
    rawText: 'usb 1-1: new device',
    dict: { SUBSYSTEM: 'usb', DEVICE: 'c189:1' },
  });
  // user-space facility (LOG_USER = 1 -> prio 14 = 1*8 + 6)
  assert.equal(parseKmsgRecord('14,1,2,-;hello')?.facility, 1);
  assert.equal(parseKmsgRecord('14,1,2,-;hello')?.level, 6);
});

test('kmsg: \\xNN escapes are decoded (control bytes, backslash, UTF-8)', () => {
  assert.equal(parseKmsgRecord('6,1,2,-;a\\x09b\\x5cc')?.text, 'a\tb\\c');
  assert.equal(parseKmsgRecord('6,1,2,-;comm \\xe4\\xb8\\xad')?.text, 'comm 中');
  assert.equal(parseKmsgRecord('6,1,2,-;x\n K=v\\x0aw')?.dict['K'], 'v\nw');
  assert.equal(unescapeKmsg('no escapes'), 'no escapes');
});

test('kmsg: garbage gives undefined', () => {
  for (const bad of ['', 'hello', '4,344;x', 'a,b,c,-;x', '4,1,2,-', '4,1,2,-;x\nsecond record', '4,99999999999999999999,1,-;x']) {
    assert.equal(parseKmsgRecord(bad), undefined, JSON.stringify(bad));
  }
  // __proto__ as a dictionary key stays an own property
  const r = parseKmsgRecord('6,1,2,-;x\n __proto__=y');
  assert.equal(Object.getPrototypeOf(r?.dict), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(r?.dict, '__proto__')?.value, 'y');
});

test('dmesg: real v2 line (Ubuntu 24.04, 6.18), plain lines, prio and caller prefixes', () => {
  assert.deepEqual(parseDmesgLine('[   25.895361] python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0'), {
    text: 'python3 invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0',
    usecMonotonic: 25895361,
  });
  assert.deepEqual(parseDmesgLine('--'), { text: '--' });
  assert.deepEqual(parseDmesgLine('<3>[ 8123.457321] Killed process 1'), { text: 'Killed process 1', usecMonotonic: 8123457321, facility: 0, level: 3 });
  // CONFIG_PRINTK_CALLER form, as quoted in a real report: "[  244.945440][ T3106] oom-kill:..."
  assert.deepEqual(parseDmesgLine('[  244.945440][ T3106] oom-kill:x'), { text: 'oom-kill:x', usecMonotonic: 244945440, caller: 'T3106' });
  assert.equal(parseDmesgLine('[   25.895386]  <TASK>').text, ' <TASK>');
  const lines = read('cgroup-v2-ubuntu24.04-k6.18.dmesg_oom.txt').split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 46);
  assert.equal(lines.filter((l) => parseDmesgLine(l).usecMonotonic === undefined).length, 1); // the "--" line
});

test('property: parsers never throw on arbitrary input', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
      parseKmsgRecord(s);
      parseDmesgLine(s);
      splitKmsgRecords(s);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.nat(), fc.nat(), fc.nat(), fc.string({ maxLength: 50 }), (p, s, u, t) => {
      const r = parseKmsgRecord(`${p},${s},${u},-;${t.replace(/\n/g, '')}`);
      if (Number.isSafeInteger(p) && r !== undefined) assert.equal(r.facility * 8 + r.level, p);
    }),
  );
});
