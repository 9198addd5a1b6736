// The snapshot store: retention by count, total bytes and age (oldest removed first, the newest
// kept even alone over a limit), and the index rebuilt from the directory at start, where a
// corrupt or partial document is skipped with a log line, never a crash, and a dead write's temp
// file is removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { SnapshotDoc } from '../../../src/forensics/capture.js';
import { SnapshotStore, type Retention } from '../../../src/forensics/store.js';
import { createLogger, type Logger } from '../../../src/log.js';

const NONE: Retention = { maxCount: 1000, maxBytes: 1 << 30, maxAgeMs: 365 * 86_400_000 };

function doc(id: string, timeMs: number, cgroup = '/a', pad = 0): SnapshotDoc {
  return {
    format: 1, id, time: new Date(timeMs).toISOString(), timeMs, reason: `test${'x'.repeat(pad)}`, cgroup, mode: 'v1', captureEndMs: timeMs + 5, captureDurationMs: 5,
    finishedMs: timeMs + 5, cgroups: [], processes: [], truncated: { cgroups: false, processes: false, smapsProcesses: 0 }, hold: undefined, oomKills: [],
  };
}

/** A logger whose lines are kept (JSON objects) for the assertions. */
function capturingLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger('debug', sink), lines };
}

function withDir(fn: (dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'memlens-store-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const ids = (s: SnapshotStore): string[] => s.list().map((m) => m.id).reverse();

test('retention by count: the oldest go first, files included', withDir((dir) => {
  const { log } = capturingLog();
  const s = new SnapshotStore(dir, { ...NONE, maxCount: 3 }, log, () => 10_000);
  for (let i = 1; i <= 5; i++) s.write(doc(`snap-${1000 + i}-aaaaa${i}`, 1000 + i));
  assert.deepEqual(ids(s), ['snap-1003-aaaaa3', 'snap-1004-aaaaa4', 'snap-1005-aaaaa5']);
  assert.deepEqual(readdirSync(dir).sort(), ['snap-1003-aaaaa3.json', 'snap-1004-aaaaa4.json', 'snap-1005-aaaaa5.json']);
  assert.deepEqual(s.totals().count, 3);
}));

test('retention by total bytes: oldest removed until under; the newest stays even alone over the limit', withDir((dir) => {
  const { log } = capturingLog();
  const one = Buffer.byteLength(JSON.stringify(doc('snap-1001-aaaaa1', 1001)));
  const s = new SnapshotStore(dir, { ...NONE, maxBytes: 2 * one + 10 }, log, () => 10_000);
  for (let i = 1; i <= 4; i++) s.write(doc(`snap-${1000 + i}-aaaaa${i}`, 1000 + i));
  assert.deepEqual(ids(s), ['snap-1003-aaaaa3', 'snap-1004-aaaaa4']);
  assert.ok(s.totals().bytes <= 2 * one + 10);
  s.write(doc('snap-1005-aaaaa5', 1005, '/a', 10 * one)); // alone bigger than the limit
  assert.deepEqual(ids(s), ['snap-1005-aaaaa5']);
  assert.equal(existsSync(join(dir, 'snap-1005-aaaaa5.json')), true);
}));

test('retention by age: older than max-age removed at a write and at start', withDir((dir) => {
  const { log } = capturingLog();
  let now = 100_000;
  const s = new SnapshotStore(dir, { ...NONE, maxAgeMs: 10_000 }, log, () => now);
  s.write(doc('snap-85000-aaaaa1', 85_000)); // already too old: kept only because it is the newest
  s.write(doc('snap-95000-aaaaa2', 95_000));
  assert.deepEqual(ids(s), ['snap-95000-aaaaa2']);
  now = 200_000;
  const again = new SnapshotStore(dir, { ...NONE, maxAgeMs: 10_000 }, log, () => now);
  again.init();
  assert.deepEqual(ids(again), []);
  assert.deepEqual(readdirSync(dir), []);
}));

test('index rebuilt from disk at start: documents, their kills, order; corrupt, partial and foreign files skipped with a log line', withDir((dir) => {
  const { log } = capturingLog();
  const first = new SnapshotStore(dir, NONE, log, () => 10_000);
  first.write(doc('snap-1002-bbbbb2', 1002, '/a/b'));
  first.write(doc('snap-1001-aaaaa1', 1001));
  first.addKill('snap-1002-bbbbb2', 'oom-1003-42-1');
  const full = JSON.stringify(doc('snap-1004-ccccc4', 1004));
  writeFileSync(join(dir, 'snap-1004-ccccc4.json'), full.slice(0, full.length / 2)); // partial (a copy cut short)
  writeFileSync(join(dir, 'snap-1005-ddddd5.json'), '\0\0\0garbage');
  writeFileSync(join(dir, 'snap-1006-eeeee6.json'), JSON.stringify({ id: 'snap-1006-eeeee6', note: 'not a snapshot' }));
  writeFileSync(join(dir, 'snap-1007-fffff7.json'), JSON.stringify(doc('snap-1999-zzzzz9', 1007))); // id does not match the name
  writeFileSync(join(dir, '.snap-1008-ggggg8.json.tmp-123'), '{"half'); // a write that died before its rename
  writeFileSync(join(dir, 'notes.txt'), 'mine');

  const cap = capturingLog();
  const s = new SnapshotStore(dir, NONE, cap.log, () => 10_000);
  s.init();
  assert.deepEqual(ids(s), ['snap-1001-aaaaa1', 'snap-1002-bbbbb2']);
  assert.deepEqual(s.meta('snap-1002-bbbbb2')?.oomKills, ['oom-1003-42-1']);
  assert.equal(s.get('snap-1002-bbbbb2')?.cgroup, '/a/b');
  assert.deepEqual(s.list({ cgroup: '/a/b' }).map((m) => m.id), ['snap-1002-bbbbb2']);
  assert.equal(s.newest((c) => c === '/a', 1003, 0)?.id, 'snap-1001-aaaaa1');
  const skipped = cap.lines.filter((l) => l['level'] === 40).map((l) => String(l['path']));
  for (const name of ['snap-1004-ccccc4.json', 'snap-1005-ddddd5.json', 'snap-1006-eeeee6.json', 'snap-1007-fffff7.json']) {
    assert.ok(skipped.some((p) => p.endsWith(name)), `no log line for ${name}: ${JSON.stringify(cap.lines)}`);
  }
  // Skipped files are left alone (not ours to delete), the temp file is gone.
  assert.equal(existsSync(join(dir, 'snap-1005-ddddd5.json')), true);
  assert.equal(existsSync(join(dir, 'notes.txt')), true);
  assert.equal(existsSync(join(dir, '.snap-1008-ggggg8.json.tmp-123')), false);
  // The store goes on working.
  s.write(doc('snap-1010-hhhhh0', 1010));
  assert.equal(s.list({ limit: 1 })[0]?.id, 'snap-1010-hhhhh0');
}));

test('a missing directory at start is an empty index, created at the first write', withDir((dir) => {
  const { log, lines } = capturingLog();
  const sub = join(dir, 'not', 'yet');
  const s = new SnapshotStore(sub, NONE, log);
  s.init();
  assert.equal(s.totals().count, 0);
  assert.equal(lines.filter((l) => Number(l['level']) >= 40).length, 0);
  s.write(doc('snap-1001-aaaaa1', 1001));
  assert.equal(existsSync(join(sub, 'snap-1001-aaaaa1.json')), true);
}));
