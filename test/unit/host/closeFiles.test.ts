// HostFs.closeFiles: the files read through a DirHandle are closed, the directory stays open for more reads
// (the process collector holds /proc/PID handles between collections).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
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

test('closeFilesLater keeps the files open until flushCloses, across directories, and never more than 64 of them', () => {
  const host = new HostFs('/proc', '/sys');
  const before = fds();
  const dirs = [host.openDir(`/proc/${process.pid}`), host.openDir('/proc/self'), host.openDir('/proc/thread-self')];
  for (const d of dirs) assert.ok(d.fd >= 0);
  for (const d of dirs) {
    assert.ok(host.readAtInto(d, 'status', true) > 0);
    assert.ok(host.readAtInto(d, 'stat', true) > 0);
    host.closeFilesLater(d);
  }
  assert.equal(fds(), before + 3 + 6, 'the directories and their files, handed over but not closed yet');
  host.closeFiles(dirs[0]!); // nothing of its own left to close
  assert.equal(fds(), before + 9);
  host.flushCloses();
  assert.equal(fds(), before + 3, 'the directories only');
  host.flushCloses(); // nothing pending: no-op
  // 40 rounds of two files: pending never holds more than 64 of them
  for (let i = 0; i < 40; i++) {
    assert.ok(host.readAtInto(dirs[i % 3]!, 'status', true) > 0);
    assert.ok(host.readAtInto(dirs[i % 3]!, 'stat', true) > 0);
    host.closeFilesLater(dirs[i % 3]!);
    assert.ok(fds() <= before + 3 + 64, `${fds() - before - 3} files open`);
  }
  host.flushCloses();
  assert.equal(fds(), before + 3);
  // the directories still read: the closes took files, not them
  const len = host.readAtInto(dirs[0]!, 'status', true);
  assert.match(host.bytes.toString('utf8', 0, len), new RegExp(`^Pid:\\t${process.pid}$`, 'm'));
  for (const d of dirs) host.closeDir(d);
  assert.equal(fds(), before);
});
