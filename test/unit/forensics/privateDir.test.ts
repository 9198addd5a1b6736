// Issue 9, rows "As an unprivileged user who can write the snapshot dir ..." and "Snapshot files
// 0644 in a 0755 dir; a pre-made 0777 dir ... or a symlinked dir accepted silently": the state
// directory's checks and the file helpers, in process (the attacks as `nobody` against a running
// memlens are in test/kernel/security.test.ts).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePrivateDir, readPrivateFile, writePrivateFileAtomic } from '../../../src/forensics/privateDir.js';
import { SnapshotStore } from '../../../src/forensics/store.js';
import { OomHold } from '../../../src/forensics/hold.js';
import { HostFs } from '../../../src/host/hostFs.js';
import { ConfigError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';

const log = createLogger('silent');
const tmp = mkdtempSync(join(tmpdir(), 'memlens-private-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const isRoot = process.geteuid?.() === 0;

test('a new dir is 0700 and a file written in it 0600; an existing 0755 dir of ours is narrowed to 0700', () => {
  const d = join(tmp, 'new', 'state');
  ensurePrivateDir(d);
  assert.equal(statSync(d).mode & 0o777, 0o700);
  const f = writePrivateFileAtomic(d, 'x.json', '{"a":1}');
  assert.equal(statSync(f).mode & 0o777, 0o600);
  assert.equal(readFileSync(f, 'utf8'), '{"a":1}');
  assert.deepEqual(readdirSync(d), ['x.json'], 'no temp file left');
  const old = join(tmp, 'old');
  mkdirSync(old, { mode: 0o755 });
  chmodSync(old, 0o755);
  ensurePrivateDir(old);
  assert.equal(statSync(old).mode & 0o777, 0o700);
});

test('refused with a ConfigError: a symlinked dir, a group/other-writable dir, a dir of another user, a writable non-sticky parent', { skip: isRoot ? false : 'needs root (chown)' }, () => {
  const real = join(tmp, 'real');
  mkdirSync(real, { mode: 0o700 });
  const link = join(tmp, 'link');
  symlinkSync(real, link);
  assert.throws(() => ensurePrivateDir(link), (e: unknown) => e instanceof ConfigError && /symbolic link/.test(e.message));
  const open = join(tmp, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  assert.throws(() => ensurePrivateDir(open), (e: unknown) => e instanceof ConfigError && /writable by group or others \(mode 0777\)/.test(e.message));
  const theirs = join(tmp, 'theirs');
  mkdirSync(theirs, { mode: 0o700 });
  chownSync(theirs, 65534, 65534);
  assert.throws(() => ensurePrivateDir(theirs), (e: unknown) => e instanceof ConfigError && /owned by uid 65534/.test(e.message));
  const parent = join(tmp, 'parent');
  mkdirSync(parent);
  chmodSync(parent, 0o777);
  assert.throws(() => ensurePrivateDir(join(parent, 'snaps')), (e: unknown) => e instanceof ConfigError && /without the sticky bit/.test(e.message));
});

test('a symlink at the final name is replaced, never written through', () => {
  const d = join(tmp, 'links');
  ensurePrivateDir(d);
  const victim = join(tmp, 'victim.txt');
  writeFileSync(victim, 'precious\n');
  symlinkSync(victim, join(d, '.hold.json'));
  writePrivateFileAtomic(d, '.hold.json', '[]');
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  assert.ok(lstatSync(join(d, '.hold.json')).isFile());
});

test('readPrivateFile: a FIFO is refused at once (no hang), a symlink is not followed, a big file is refused', () => {
  const d = join(tmp, 'reads');
  ensurePrivateDir(d);
  const fifo = join(d, 'snap-1-aaaaaa.json');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  assert.throws(() => readPrivateFile(fifo, 1024), /not a regular file/);
  const target = join(tmp, 'secret.txt');
  writeFileSync(target, 'secret');
  symlinkSync(target, join(d, 'link.json'));
  assert.throws(() => readPrivateFile(join(d, 'link.json'), 1024), /ELOOP/);
  writeFileSync(join(d, 'big.json'), Buffer.alloc(2048));
  assert.throws(() => readPrivateFile(join(d, 'big.json'), 1024), /larger than 1024 bytes/);
});

test('the store indexes a dir holding a FIFO named like a snapshot without hanging', () => {
  const d = join(tmp, 'store-fifo');
  ensurePrivateDir(d);
  assert.equal(spawnSync('mkfifo', [join(d, 'snap-1-aaaaaa.json')]).status, 0);
  const store = new SnapshotStore(d, { maxCount: 10, maxBytes: 1 << 20, maxAgeMs: 1e12 }, log);
  store.init(); // the old readFileSync blocked here forever on the FIFO
  assert.equal(store.totals().count, 0);
  assert.ok(existsSync(join(d, 'snap-1-aaaaaa.json')), 'left alone');
});

test('a hold record naming a file outside the cgroup mount (or through a symlink out of it) is not restored', () => {
  const sys = join(tmp, 'sys');
  const mount = join(sys, 'fs/cgroup/memory');
  mkdirSync(join(mount, 'ok'), { recursive: true });
  writeFileSync(join(mount, 'ok/memory.oom_control'), 'oom_kill_disable 1\n');
  const victimDir = join(tmp, 'victim');
  mkdirSync(victimDir);
  writeFileSync(join(victimDir, 'memory.oom_control'), 'root-owned data\n');
  symlinkSync(victimDir, join(mount, 'evil'));
  const state = join(tmp, 'hold-state');
  ensurePrivateDir(state);
  const entries = [
    { file: join(victimDir, 'memory.oom_control'), cgroup: '/x', setAtMs: 1, pid: 999_999_999 },
    { file: join(mount, 'evil/memory.oom_control'), cgroup: '/evil', setAtMs: 1, pid: 999_999_999 },
    { file: join(mount, 'ok/memory.oom_control'), cgroup: '/ok', setAtMs: 1, pid: 999_999_999 },
  ];
  writePrivateFileAtomic(state, '.hold.json', JSON.stringify(entries));
  const hold = new OomHold(new HostFs('/proc', sys), state, log, mount);
  assert.equal(hold.restoreLeftovers(), 1, 'only the real oom_control under the mount');
  assert.equal(readFileSync(join(victimDir, 'memory.oom_control'), 'utf8'), 'root-owned data\n');
  assert.equal(readFileSync(join(mount, 'ok/memory.oom_control'), 'utf8'), '0');
});
