// Snapshots when things go wrong: the snapshot dir read-only or full (the snapshot fails, is
// counted with result="error", and the next one works once the disk does), a process that exits
// mid-capture (it keeps what was read), a rule command that hangs (killed at its timeout, its
// process group with it) and one that prints 100 MB (cut at max-output, killed). The processes
// are real (/proc), the cgroup is a fake v1 directory under a temp --path.sysfs listing them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SnapshotCollector } from '../../../src/collectors/snapshot.js';
import { HostFs } from '../../../src/host/hostFs.js';
import type { MemoryHierarchy } from '../../../src/cgroupfs/discover.js';
import { CgroupTree } from '../../../src/cgroupfs/tree.js';
import { captureSnapshot } from '../../../src/forensics/capture.js';
import { SnapshotService } from '../../../src/forensics/snapshots.js';
import type { CommandResult } from '../../../src/forensics/hooks.js';
import { runCommand } from '../../../src/forensics/hooks.js';
import type { Config } from '../../../src/config/load.js';
import type { SnapshotRule } from '../../../src/config/snapshotRules.js';
import * as c from '../../../src/model/catalog.js';
import { createLogger } from '../../../src/log.js';
import { skipOrFail } from '../../helpers/capability.js';

const log = createLogger('silent');
const hierarchy: MemoryHierarchy = { mode: 'v1', mountPoint: '/sys/fs/cgroup/memory', root: '/' };
const CG = '/faults';
const root = process.getuid?.() === 0;
const skipMounts = skipOrFail(root && spawnSync('mount', ['--version']).status === 0 ? undefined : 'mounting a tmpfs needs root and mount(8)');

const tmp = mkdtempSync(join(tmpdir(), 'memlens-faults-'));
const sysRoot = join(tmp, 'sys');
const cgDir = join(sysRoot, 'fs/cgroup/memory/faults');
const children: ChildProcess[] = [];
const mounts: string[] = [];

function startSleeper(): ChildProcess {
  const ch = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(ch);
  return ch;
}

function fakeCgroup(pids: number[]): void {
  mkdirSync(cgDir, { recursive: true });
  writeFileSync(join(cgDir, 'cgroup.procs'), pids.map((p) => `${p}\n`).join(''));
  writeFileSync(join(cgDir, 'memory.usage_in_bytes'), '1048576\n');
  writeFileSync(join(cgDir, 'memory.limit_in_bytes'), '268435456\n');
  writeFileSync(join(cgDir, 'memory.max_usage_in_bytes'), '2097152\n');
  writeFileSync(join(cgDir, 'memory.stat'), 'total_rss 1048576\ntotal_cache 0\nhierarchical_memory_limit 268435456\n');
  writeFileSync(join(cgDir, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n');
}

function snapshotConfig(dir: string, rules: SnapshotRule[] = []): Config['snapshot'] {
  return { dir, minIntervalMs: 30_000, cmdline: false, maxCount: 100, maxBytes: 1 << 30, maxAgeMs: 86_400_000, linkWindowMs: 600_000, hold: false, holdMaxMs: 2000, rules };
}

async function errorCount(svc: SnapshotService, reason: string): Promise<number> {
  const r = await new SnapshotCollector(svc).collect();
  return r.samples.find((s) => s.desc === c.snapshotsTotal && s.labels['reason'] === reason && s.labels['result'] === 'error')?.value ?? 0;
}

function mountTmpfs(dir: string, opts: string): void {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', opts, 'memlens-test', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, `mount ${dir}: ${r.stderr}`);
  mounts.push(dir);
}

before(() => {
  const a = startSleeper();
  fakeCgroup([a.pid!]);
});

after(async () => {
  for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGKILL');
  for (const m of mounts.reverse()) {
    const r = spawnSync('umount', [m], { encoding: 'utf8' });
    if (r.status !== 0) spawnSync('umount', ['-l', m]);
  }
  await sleep(10);
  rmSync(tmp, { recursive: true, force: true });
});

describe('snapshot dir failures: counted, logged, nothing else stops', () => {
  const host = (): HostFs => new HostFs('/proc', sysRoot);

  test('a dir under /proc (cannot be created): result="error", the next snapshot elsewhere works', async () => {
    const svc = new SnapshotService({ host: host(), hierarchy, config: snapshotConfig('/proc/self/memlens-snapshots'), log });
    svc.start();
    const r = await svc.snapshot(CG, 'api', 'test');
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.status === 'error', JSON.stringify(r));
    assert.equal(await errorCount(svc, 'api'), 1);
    await svc.close();
  });

  test('a read-only tmpfs: the write fails with EROFS, counted; the service keeps serving', { skip: skipMounts }, async () => {
    const dir = join(tmp, 'ro');
    mountTmpfs(dir, 'ro,size=64k,mode=0700');
    const svc = new SnapshotService({ host: host(), hierarchy, config: snapshotConfig(dir), log });
    svc.start();
    const r = await svc.snapshot(CG, 'threshold', 'test');
    assert.ok(!r.ok && /EROFS|read-only/i.test(r.error), JSON.stringify(r));
    assert.equal(await errorCount(svc, 'threshold'), 1);
    assert.deepEqual(svc.list({}), []);
    await svc.close();
  });

  test('a full tmpfs (64k): ENOSPC counted, no temp file left; after space is freed the next one is written', { skip: skipMounts }, async () => {
    const dir = join(tmp, 'full');
    mountTmpfs(dir, 'size=64k,mode=0700');
    const filler = join(dir, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(128 * 1024)); // more than fits: the tmpfs ends up full
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    const svc = new SnapshotService({ host: host(), hierarchy, config: snapshotConfig(dir), log });
    svc.start();
    const first = await svc.snapshot(CG, 'api', 'test');
    assert.ok(!first.ok && /ENOSPC|no space/i.test(first.error), JSON.stringify(first));
    assert.equal(await errorCount(svc, 'api'), 1);
    assert.deepEqual(readdirSync(dir), ['filler'], 'a partial temp file was left behind');
    rmSync(filler);
    const second = await svc.snapshot(CG, 'api', 'test');
    assert.ok(second.ok, JSON.stringify(second));
    assert.ok(existsSync(second.meta.file));
    assert.equal(svc.list({}).length, 1);
    await svc.close();
  });
});

describe('capture', () => {
  test('a process that exits mid-capture keeps what was read and says how far it got', async () => {
    const a = startSleeper();
    const b = startSleeper();
    fakeCgroup([a.pid!, b.pid!]);
    let turns = 0;
    const doc = await captureSnapshot(new HostFs('/proc', sysRoot), new CgroupTree({ host: new HostFs('/proc', sysRoot), hierarchy, maxDepth: 0 }), CG, 'test', {
      id: 'snap-1-abcdef',
      cmdline: false,
      rules: [],
      yieldTurn: async () => {
        turns++;
        if (turns === 1) {
          // a's status is read: it dies now, before its smaps_rollup.
          const gone = new Promise((r) => a.once('exit', r));
          a.kill('SIGKILL');
          await gone;
        }
      },
    });
    const pa = doc.processes.find((p) => p.pid === a.pid)!;
    const pb = doc.processes.find((p) => p.pid === b.pid)!;
    assert.equal(pa.stage, 'status');
    assert.equal(pa.goneAt, 'smaps_rollup');
    assert.equal(pa.comm, 'sleep');
    assert.ok(pa.status?.residentBytes !== undefined && pa.smapsRollup === undefined);
    assert.equal(pb.stage, 'smaps');
    assert.equal(pb.goneAt, undefined);
    assert.ok(pb.smapsRollup?.rssBytes !== undefined && (pb.topMappings?.length ?? 0) > 0);
    assert.equal(pb.argv0, 'sleep');
    assert.equal(pb.cmdline, undefined, 'full command line without --snapshot.cmdline');
    b.kill('SIGKILL');
  });

  const rule = (name: string, command: string[], timeoutMs: number, maxOutputBytes: number): SnapshotRule => ({
    name, comm: /^sleep$/, cgroup: undefined, action: { kind: 'command', argv: command, timeoutMs, maxOutputBytes }, allowGo: false, requireHandler: true,
  });

  test('a hook command that hangs is killed at its timeout (its process group too); the snapshot is kept', async () => {
    const a = startSleeper();
    fakeCgroup([a.pid!]);
    const marker = join(tmp, 'grandchild.pid');
    const t0 = performance.now();
    const doc = await captureSnapshot(new HostFs('/proc', sysRoot), new CgroupTree({ host: new HostFs('/proc', sysRoot), hierarchy, maxDepth: 0 }), CG, 'test', {
      id: 'snap-2-abcdef', cmdline: false,
      rules: [rule('hang', ['sh', '-c', `echo pid {pid}; sleep 600 & echo $! > ${marker}; wait`], 300, 1 << 20)],
    });
    const took = performance.now() - t0;
    const r = doc.processes[0]!.actions[0] as CommandResult;
    assert.equal(r.kind, 'command');
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, 'SIGKILL');
    assert.match(r.output, new RegExp(`^pid ${a.pid}\\n`));
    assert.ok(took < 3000, `took ${took} ms`);
    assert.ok(doc.processes[0]!.stage === 'smaps');
    const grandchild = Number((await import('node:fs')).readFileSync(marker, 'utf8').trim());
    await sleep(50);
    assert.ok(!existsSync(`/proc/${grandchild}`) || /^State:\s+Z/m.test((await import('node:fs')).readFileSync(`/proc/${grandchild}/status`, 'utf8')), 'the sleep the hook started is still running');
    a.kill('SIGKILL');
  });

  test('a hook printing 100 MB is cut at max-output and killed', async () => {
    const t0 = performance.now();
    const r = await runCommand('flood', ['sh', '-c', 'yes memlens | head -c 104857600'], 20_000, 1 << 20);
    const took = performance.now() - t0;
    assert.equal(r.truncated, true);
    assert.equal(r.outputBytes, 1 << 20);
    assert.equal(r.output.length, 1 << 20);
    assert.ok(r.output.startsWith('memlens\nmemlens\n'));
    assert.equal(r.timedOut, false);
    assert.ok(took < 5000, `took ${took} ms`);
  });

  test('a command that cannot be started is an error in the result, not a throw', async () => {
    const r = await runCommand('missing', ['/nonexistent/memlens-hook'], 1000, 1024);
    assert.match(r.error ?? '', /ENOENT/);
  });
});
