// HostFs.closeFiles: the files read through a DirHandle are closed, the directory stays open for more reads
// (the process collector holds /proc/PID handles between collections).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync } from 'node:fs';
import { HostFs } from '../../../src/host/hostFs.js';

const fds = (): number => readdirSync('/proc/self/fd').length;

test('closeFiles closes what was read through the handle and keeps the directory', () => {
  const host = new HostFs('/proc', '/sys');
  const before = fds();
  const dir = host.openDir(`/proc/${process.pid}`);
  assert.ok(dir.fd >= 0);
  for (const name of ['status', 'stat', 'statm']) assert.ok(host.readAtInto(dir, name, true) > 0);
  assert.equal(fds(), before + 4, 'the directory and its three files (closes deferred)');
  host.closeFiles(dir);
  assert.equal(fds(), before + 1, 'the directory only');
  host.closeFiles(dir); // nothing left: no-op
  const len = host.readAtInto(dir, 'status', true);
  assert.match(host.bytes.toString('utf8', 0, len), new RegExp(`^Pid:\\t${process.pid}$`, 'm'));
  host.closeDir(dir);
  assert.equal(fds(), before);
});

test('releaseFiles leaves the files of many handles for one close, flushReleased closes them, the directories stay', () => {
  const host = new HostFs('/proc', '/sys');
  const before = fds();
  const dirs = [process.pid, process.ppid].map((pid) => host.openDir(`/proc/${pid}`));
  for (const dir of dirs) {
    assert.ok(dir.fd >= 0);
    for (const name of ['status', 'stat']) assert.ok(host.readAtInto(dir, name, true) > 0);
    host.releaseFiles(dir);
  }
  assert.equal(fds(), before + 6, 'two directories and their four files, waiting');
  host.flushReleased();
  assert.equal(fds(), before + 2, 'the directories only');
  host.flushReleased(); // nothing left: no-op
  // More than a batch waits: the oldest are closed as the list fills, never more than the batch stays open.
  let most = 0;
  for (let i = 0; i < 200; i++) {
    for (const name of ['status', 'stat', 'statm']) assert.ok(host.readAtInto(dirs[i % 2]!, name, true) > 0);
    host.releaseFiles(dirs[i % 2]!);
    most = Math.max(most, fds() - before - 2);
  }
  assert.ok(most >= 90 && most <= 96, `at most one batch (96) waits: ${most}`);
  host.flushReleased();
  for (const dir of dirs) host.closeDir(dir);
  assert.equal(fds(), before);
});

test('a directory opened while released files wait takes a number below them: the held ones stay in one run', () => {
  const host = new HostFs('/proc', '/sys');
  const before = fds();
  // Fill every free number below the highest open one, so that the numbers below come out in order.
  const fill: number[] = [];
  const top = Math.max(...readdirSync('/proc/self/fd').map(Number));
  for (let fd = -1; fd <= top; ) fill.push((fd = openSync('/dev/null', 'r')));
  // As the process collector's first scan: a new /proc/PID directory held, its status and stat read and released.
  const dirs = [];
  for (let i = 0; i < 20; i++) {
    const dir = host.openDir(`/proc/${process.pid}`);
    assert.ok(dir.fd >= 0);
    for (const name of ['status', 'stat']) assert.ok(host.readAtInto(dir, name, true) > 0);
    host.releaseFiles(dir);
    dirs.push(dir);
  }
  host.flushReleased();
  const held = dirs.map((d) => d.fd);
  assert.deepEqual(held, held.map((_, i) => held[0]! + i), `held directories in one run (no closed file between them): ${held.join(' ')}`);
  for (const dir of dirs) host.closeDir(dir);
  for (const fd of fill) closeSync(fd);
  assert.equal(fds(), before);
});
