// Kernel test: a real OOM kill (v1 memory cgroup of 64 MiB under the test's own, a C allocator
// ramping at 50 MiB/s) reaches a real OTLP/HTTP receiver (@elastic/mockotlpserver) as a log
// record: severity ERROR, the victim's pid and comm, its cgroup, anon-rss equal to the kernel's
// own "Killed process" line, the snapshot id the exporter linked (a --watch.thresholds 0.5
// crossing took it before the kill), the kernel's time; the 50 % crossing arrives as a WARN record.
// Then memlens restarts on the same state directory: it reads the same kill back from the kernel
// ring and does not send it again (the boot id and kmsg seq in otlp-logs-state.json, 0600). A
// third start on an empty state directory does send it again: the state file is what stops it.
// Needs root, a writable cgroup v1 memory controller, /dev/kmsg and gcc (skip on a laptop, fail in CI).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { startExporter, type Running } from '../../src/main.js';
import { createLogger } from '../../src/log.js';
import type { OomKillRecord } from '../../src/oom/store.js';
import { STATE_FILE } from '../../src/sinks/otlpLogs.js';
import { missingCgroupV1, missingKmsg, skipOrFail } from '../helpers/capability.js';
import { freePort } from '../helpers/exposition.js';
import { findKilledLine } from '../helpers/kmsg.js';
import { startReceiver, type OtlpLogRecord, type Receiver } from '../helpers/otlp.js';
import { waitFor } from '../helpers/wait.js';
import { cleanupSteps } from '../helpers/cleanup.js';
import { makeCgroup, ownCgroup, removeStale, removeTree, TEST_PREFIX, writeCg, type TestCgroup } from './helpers/cgroup.js';
import { compileRampAllocator, haveGcc } from './helpers/workload.js';

const MiB = 1024 * 1024;
const skip = skipOrFail(missingCgroupV1() ?? missingKmsg() ?? (haveGcc() ? undefined : 'gcc not found'));

describe('kernel: OOM kills as OTLP log records, not re-sent after a restart', { skip }, () => {
  let own: TestCgroup;
  let cg: TestCgroup | undefined;
  let tmp = '';
  let receiver: Receiver | undefined;
  let alloc: ChildProcessWithoutNullStreams | undefined;
  const running: Running[] = [];

  before(async () => {
    own = ownCgroup();
    await removeStale(own);
    tmp = mkdtempSync(join(tmpdir(), 'memlens-i10-otlplogs-'));
  });

  after(async () => {
    const { errors, attempt } = cleanupSteps();
    for (const r of running) await attempt(() => r.close());
    await attempt(() => receiver?.close());
    await attempt(async () => {
      if (alloc !== undefined && alloc.exitCode === null && alloc.signalCode === null) alloc.kill('SIGKILL');
    });
    if (cg !== undefined) await attempt(() => removeTree(cg!.dir));
    await attempt(() => rmSync(tmp, { recursive: true, force: true }));
    if (errors.length > 0) throw new AggregateError(errors, 'OTLP logs kernel test cleanup failed');
  });

  const start = async (stateDir: string): Promise<Running> => {
    const port = await freePort();
    const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const parsed = loadConfig([
      '--web.listen-address', `127.0.0.1:${port}`, '--snapshot.dir', stateDir, '--collectors.disabled', 'process', '--log.level', 'error',
      '--watch.thresholds', '0.5', '--cgroup.include', `^${esc(cg!.path)}$`, '--otlp.endpoint', receiver!.url,
    ], { OTEL_METRICS_EXPORTER: 'none' });
    assert.equal(parsed.kind, 'run');
    const r = await startExporter(parsed.config, createLogger('error'));
    running.push(r);
    assert.equal(r.monitor.state.up, true, `kmsg source down: ${r.monitor.state.reason ?? ''}`);
    return r;
  };

  const stop = async (r: Running): Promise<void> => {
    await r.close(); // flushes the queued log records
    running.splice(running.indexOf(r), 1);
  };

  test('the kill arrives once, with pid, comm, snapshot id and kernel time; a restart does not send it again', async (t) => {
    const child = makeCgroup(own, `${TEST_PREFIX}${process.pid}-i10-${Math.random().toString(36).slice(2, 6)}`);
    cg = child;
    writeCg(cg, 'memory.limit_in_bytes', String(64 * MiB));
    writeCg(cg, 'memory.swappiness', '0');
    receiver = await startReceiver();
    const r1Dir = join(tmp, 'state');
    const r1 = await start(r1Dir);
    await waitFor('the watcher arming the test cgroup', () => r1.watch.watcher?.list().find((w) => w.path === cg!.path), 30_000);

    const comm = `mli10-${process.pid % 10_000}`;
    const bin = compileRampAllocator(tmp, comm);
    const a = spawn(bin, [join(cg.dir, 'cgroup.procs'), '50'], { stdio: ['pipe', 'pipe', 'pipe'] });
    alloc = a;
    const exited = new Promise<void>((resolve) => a.once('exit', () => resolve()));
    await waitFor('the allocator ready', () => (a.stdout.read() as Buffer | null)?.toString().includes('ready') === true ? true : undefined, 20_000);
    a.stdin.write('g');
    await exited;
    assert.equal(a.signalCode, 'SIGKILL', `allocator exit: ${a.exitCode ?? a.signalCode}`);
    const pid = a.pid!;

    const rec = await waitFor<OomKillRecord>('the kill in the store', () => r1.store.list({ cgroup: cg!.path }).find((x) => x.victim.pid === pid), 30_000);
    const isKill = (l: OtlpLogRecord): boolean => l.eventName === 'memlens.oom_kill' && l.attrs['process.pid'] === pid;
    const log = await waitFor('the kill as an OTLP log record', () => receiver!.logs.find(isKill), 30_000);
    const killed = findKilledLine(pid);
    assert.ok(killed !== undefined, `no "Killed process ${pid}" line in /dev/kmsg`);
    t.diagnostic(`record: ${log.body}`);

    assert.equal(log.severityNumber, 17); // SeverityNumber.ERROR
    assert.equal(log.severityText, 'ERROR');
    assert.equal(log.attrs['memlens.oom.comm'], comm);
    assert.equal(log.attrs['memlens.cgroup'], cg.path);
    assert.equal(log.attrs['memlens.oom.anon_rss_bytes'], killed.anonRssKiB * 1024);
    assert.equal(log.attrs['memlens.kmsg.seq'], killed.seq);
    assert.ok(rec.snapshotId !== undefined, 'the kill is linked to the snapshot of the 50 % crossing');
    assert.equal(log.attrs['memlens.snapshot.id'], rec.snapshotId);
    assert.match(log.body, new RegExp(`^OOM kill: pid ${pid} \\(${comm}\\) in `));
    // The kernel's time (boot time + the record's monotonic usec), not the time memlens sent it.
    assert.ok(Math.abs(Number(log.timeNs / 1000n) / 1000 - rec.timeMs) < 1, `record time ${log.timeNs} ns, kill ${rec.timeMs} ms`);
    assert.ok(log.observedNs >= log.timeNs);
    assert.equal(log.resource['service.name'], 'memlens');
    const crossing = receiver.logs.find((l) => l.eventName === 'memlens.threshold_crossing' && l.attrs['memlens.cgroup'] === cg!.path);
    assert.ok(crossing !== undefined, 'the 50 % crossing as a log record');
    assert.equal(crossing.severityNumber, 13); // WARN
    assert.equal(crossing.attrs['memlens.watch.threshold'], 0.5);

    const state = join(r1Dir, STATE_FILE);
    // Written when the receiver has answered the export (the receiver sees the record a moment earlier).
    const saved = await waitFor('the state file at the kill\'s seq', () => {
      try {
        const v = JSON.parse(readFileSync(state, 'utf8')) as { bootId: string; seq: number };
        return v.seq >= killed.seq ? v : undefined;
      } catch {
        return undefined;
      }
    }, 10_000);
    assert.equal(statSync(state).mode & 0o777, 0o600);
    assert.equal(saved.bootId, readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    await stop(r1);

    // Restart on the same state directory: the ring still holds the kill, the store reads it back, nothing is sent.
    const before = receiver.logs.filter(isKill).length;
    assert.equal(before, 1);
    const r2 = await start(r1Dir);
    await waitFor('the restarted exporter reading the kill back from the ring', () => r2.store.list({ cgroup: child.path }).find((x) => x.victim.pid === pid && x.beforeStart), 30_000);
    assert.ok(r2.otlp.logs !== undefined && r2.otlp.logs.skipped >= 1, 'the kill read back was skipped');
    await stop(r2); // flushes anything queued
    assert.equal(receiver.logs.filter(isKill).length, 1, 'the kill was sent again after the restart');

    // Control: without the state file the same replay is sent (what the state prevents is real).
    const r3 = await start(join(tmp, 'fresh'));
    await waitFor('the kill read back without state', () => r3.store.list({ cgroup: child.path }).find((x) => x.victim.pid === pid), 30_000);
    await stop(r3);
    await waitFor('the replayed kill at the receiver', () => (receiver!.logs.filter(isKill).length === 2 ? true : undefined), 10_000);
  });
});
