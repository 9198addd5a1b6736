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
