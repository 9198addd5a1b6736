// OOM kill log records without a kernel: the restart rule (same boot and seq at or below the saved
// one: skipped; another boot, or no state: sent), the state written 0600 only once the receiver
// took the record, and the state file refused when it is not a regular file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { ExportResultCode } from '@opentelemetry/core';
import { InMemoryLogRecordExporter, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ExportStats } from '../../../src/sinks/otlp.js';
import { OtlpLogSink, STATE_FILE } from '../../../src/sinks/otlpLogs.js';
import { readPrivateFile, writePrivateFileAtomic } from '../../../src/forensics/privateDir.js';
import type { OomKillRecord } from '../../../src/oom/store.js';
import { createLogger } from '../../../src/log.js';

function kill(seq: number, pid = 100 + seq): OomKillRecord {
  return {
    id: `oom-${seq}`, time: new Date(1_700_000_000_000 + seq).toISOString(), timeMs: 1_700_000_000_000 + seq, beforeStart: true, source: 'kmsg',
    victim: { pid, comm: 'java', uid: 0 }, cgroup: '/kubepods/pod0f6c9a52-8d7e-4c1a-9a43-1c2d3e4f5a6b/abc', oomCgroup: '/kubepods', constraint: 'CONSTRAINT_MEMCG',
    totalVmBytes: 1, anonRssBytes: 2048, fileRssBytes: undefined, shmemRssBytes: 0, pageTablesBytes: 4096, oomScoreAdj: 0,
    memcg: undefined, invoker: undefined, kernelSeq: seq, snapshotId: seq === 7 ? 'snap-7' : undefined,
  };
}

function sinkIn(dir: string, bootId: string | undefined, exporter: LogRecordExporter = new InMemoryLogRecordExporter()): OtlpLogSink {
  return new OtlpLogSink({
    config: { url: 'http://127.0.0.1:1/v1/logs', protocol: 'http/json', headers: {}, timeoutMs: 1000 },
    resource: resourceFromAttributes({ 'service.name': 'memlens' }), version: 't', stats: new ExportStats(createLogger('silent'), ['logs']),
    log: createLogger('silent'), stateDir: dir, bootId, exporter,
  });
}

test('a restart skips the kills it already exported, of this boot only', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'memlens-i10-logs-')), 'state');
  try {
    const first = new InMemoryLogRecordExporter();
    const a = sinkIn(dir, 'boot-1', first);
    for (const s of [5, 7]) a.kill(kill(s));
    await a.flush();
    assert.deepEqual(first.getFinishedLogRecords().map((r) => r.attributes['memlens.kmsg.seq']), [5, 7]);
    const rec = first.getFinishedLogRecords()[1]!;
    assert.equal(rec.severityText, 'ERROR');
    assert.equal(rec.attributes['process.pid'], 107);
    assert.equal(rec.attributes['memlens.snapshot.id'], 'snap-7');
    assert.equal(rec.attributes['k8s.pod.uid'], '0f6c9a52-8d7e-4c1a-9a43-1c2d3e4f5a6b');
    assert.equal(rec.attributes['memlens.oom.constraint'], 'memcg');
    assert.equal(rec.attributes['memlens.oom.file_rss_bytes'], undefined, 'a field the kernel did not print is absent');
    assert.equal(rec.attributes['memlens.oom.shmem_rss_bytes'], 0);
    assert.deepEqual(rec.hrTime, [1_700_000_000, 7_000_000]);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')), { bootId: 'boot-1', seq: 7 });
    assert.equal(statSync(join(dir, STATE_FILE)).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    await a.close();

    const second = new InMemoryLogRecordExporter();
    const b = sinkIn(dir, 'boot-1', second);
    for (const s of [5, 7, 9]) b.kill(kill(s));
    await b.flush();
    assert.deepEqual(second.getFinishedLogRecords().map((r) => r.attributes['memlens.kmsg.seq']), [9]);
    assert.equal(b.skipped, 2);
    await b.close();

    const third = new InMemoryLogRecordExporter();
    const c = sinkIn(dir, 'boot-2', third); // a reboot: sequence numbers start again
    c.kill(kill(3));
    await c.flush();
    assert.deepEqual(third.getFinishedLogRecords().map((r) => r.attributes['memlens.kmsg.seq']), [3]);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')), { bootId: 'boot-2', seq: 3 });
    await c.close();
  } finally {
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});

test('the state advances only when the receiver took the record', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-i10-logs-'));
  try {
    const failing: LogRecordExporter = { export: (_r, cb) => cb({ code: ExportResultCode.FAILED, error: new Error('503') }), forceFlush: () => Promise.resolve(), shutdown: () => Promise.resolve() };
    const a = sinkIn(dir, 'boot-1', failing);
    a.kill(kill(5));
    await a.flush();
    await a.close();
    assert.throws(() => readFileSync(join(dir, STATE_FILE)), /ENOENT/);
    const again = new InMemoryLogRecordExporter();
    const b = sinkIn(dir, 'boot-1', again);
    b.kill(kill(5));
    await b.flush();
    assert.equal(again.getFinishedLogRecords().length, 1, 'sent by the next start');
    await b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('state files: a symlink or a FIFO at the name is not read; a garbage state is ignored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-i10-logs-'));
  try {
    writeFileSync(join(dir, 'target'), '{"bootId":"boot-1","seq":99}');
    symlinkSync(join(dir, 'target'), join(dir, STATE_FILE));
    assert.throws(() => readPrivateFile(join(dir, STATE_FILE), 4096), /ELOOP/);
    const exp = new InMemoryLogRecordExporter();
    const a = sinkIn(dir, 'boot-1', exp);
    a.kill(kill(5));
    await a.flush();
    assert.equal(exp.getFinishedLogRecords().length, 1, 'a symlinked state does not suppress kills');
    await a.close();
    // The write replaced the link with a regular file and left the link's target alone.
    assert.equal(readFileSync(join(dir, 'target'), 'utf8'), '{"bootId":"boot-1","seq":99}');
    assert.ok(statSync(join(dir, STATE_FILE)).isFile());
    rmSync(join(dir, STATE_FILE));
    mkfifoSync(join(dir, STATE_FILE));
    assert.throws(() => readPrivateFile(join(dir, STATE_FILE), 4096), /not a regular file/);
    rmSync(join(dir, STATE_FILE));
    writeFileSync(join(dir, STATE_FILE), 'not json');
    const b = sinkIn(dir, 'boot-1', new InMemoryLogRecordExporter());
    b.kill(kill(5));
    assert.equal(b.skipped, 0);
    await b.close();
    assert.throws(() => writePrivateFileAtomic(dir, '../x', 'y'), /not a file name/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function mkfifoSync(path: string): void {
  execFileSync('mkfifo', [path]);
}
