// Issue 9, row "A real OOM kill of a process whose comm holds a newline is dropped; raw escape
// bytes reach label values": the real v1 /dev/kmsg report (Debian 12, 6.18) with the victim's comm
// replaced as the kernel prints it when a process names itself with a newline or an ESC sequence
// (prctl PR_SET_NAME takes any byte but NUL; /dev/kmsg escapes bytes < 0x20 as \xNN). The kill
// must be found, and its comm must reach labels with the control characters escaped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseKmsgRecord, splitKmsgRecords } from '../../../src/kmsg/record.js';
import { OomReportParser, type OomKill } from '../../../src/kmsg/oomReport.js';

const fixture = readFileSync(new URL('../../../../test/fixtures/kmsg/cgroup-v1-debian12-k6.18.kmsg_oom_raw.txt', import.meta.url), 'utf8');

/** The report with every occurrence of the victim's comm (python3) replaced by `escapedComm` as /dev/kmsg prints it. */
function killsWithComm(escapedComm: string): OomKill[] {
  const p = new OomReportParser();
  const out: OomKill[] = [];
  for (const raw of splitKmsgRecords(fixture.replaceAll('python3', escapedComm))) {
    const rec = parseKmsgRecord(raw);
    if (rec !== undefined) out.push(...p.push(rec));
  }
  return out;
}

function noControlChars(k: OomKill): void {
  for (const v of [k.victim.comm, k.cgroup, k.oomCgroup, k.message, k.invoker?.comm]) {
    if (v !== undefined) assert.doesNotMatch(v, /[\u0000-\u001f\u007f]/, JSON.stringify(v));
  }
}

test('a victim whose comm holds a newline is still a kill; the label shows it escaped', () => {
  const kills = killsWithComm('py\\x0athon');
  assert.equal(kills.length, 1, 'the kill was dropped');
  const k = kills[0]!;
  assert.equal(k.victim.pid, 2028);
  assert.equal(k.victim.comm, 'py\\x0athon');
  assert.equal(k.cgroup, '/workloads/job-7f3a/oomdemo');
  assert.equal(k.anonRssBytes, 65152 * 1024);
  assert.equal(k.constraint, 'CONSTRAINT_MEMCG', 'the summary line (task=<comm>) still joins the kill');
  noControlChars(k);
});

test('an ESC sequence or a carriage return in a comm never reaches a label raw', () => {
  for (const comm of ['\\x1b[2Jx', 'a\\x0db', 'tab\\x09x', '\\x7f']) {
    const kills = killsWithComm(comm);
    assert.equal(kills.length, 1, comm);
    noControlChars(kills[0]!);
    assert.equal(kills[0]!.victim.comm, comm, 'the kernel\'s own escaped form');
  }
});

test('a UTF-8 comm is decoded (read as it is), a backslash stays one backslash', () => {
  const [k] = killsWithComm('caf\\xc3\\xa9');
  assert.equal(k?.victim.comm, 'café');
  const [b] = killsWithComm('a\\x5cb');
  assert.equal(b?.victim.comm, 'a\\b');
});
