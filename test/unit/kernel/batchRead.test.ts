// BatchReader (Linux AIO): many held fds read at offset 0 in two system calls, each into its own slot. Regular files
// in a temporary directory (what the fixture trees poll) and the kernel's own cgroup usage files (kernfs, what the
// watcher polls on a host); a file io_submit refuses is reported, not thrown; slots are reused and the native block
// grows. Needs koffi, no root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BATCH_SLOT_BYTES, BatchReader } from '../../../src/kernel/batchRead.js';

function text(r: BatchReader, slot: number): string {
  const n = r.result(slot);
  assert.ok(n >= 0, `slot ${slot}: errno ${-n}`);
  return r.data.toString('latin1', r.slotOffset(slot), r.slotOffset(slot) + n);
}

test('batch reads: 300 files read in one call, each into its slot; rewritten files re-read; slots released and reused', () => {
  const opened = BatchReader.open();
  assert.ok(opened.reader !== undefined, `no AIO here: ${opened.reader === undefined ? opened.reason : ''}`);
  const r = opened.reader;
  const dir = mkdtempSync(join(tmpdir(), 'memlens-batch-'));
  const fds: number[] = [];
  try {
    const slots: number[] = [];
    for (let i = 0; i < 300; i++) {
      writeFileSync(join(dir, `f${i}`), `${i * 4096 + 7}\n`);
      const fd = openSync(join(dir, `f${i}`), 'r');
      fds.push(fd);
      slots.push(r.add(fd)); // grows from 64 slots past 256 (more than one io_submit chunk)
    }
    assert.equal(r.size, 300);
    assert.equal(r.read(slots, slots.length), 300);
    for (let i = 0; i < 300; i++) assert.equal(text(r, slots[i]!), `${i * 4096 + 7}\n`);
    // A subset, after the files changed (longer than a slot: only BATCH_SLOT_BYTES come back).
    writeFileSync(join(dir, 'f3'), '123456789\n');
    writeFileSync(join(dir, 'f299'), 'x'.repeat(BATCH_SLOT_BYTES + 10));
    const some = Int32Array.from([slots[299]!, slots[3]!]);
    assert.equal(r.read(some, 2), 2);
    assert.equal(text(r, slots[3]!), '123456789\n');
    assert.equal(r.result(slots[299]!), BATCH_SLOT_BYTES);
    assert.equal(text(r, slots[4]!), `${4 * 4096 + 7}\n`, 'a slot not in the call keeps its last bytes');
    // Released slots are handed out again, and read the new fd.
    r.release(slots[10]!);
    r.release(slots[10]!); // twice: no effect
    assert.equal(r.size, 299);
    writeFileSync(join(dir, 'g'), '42\n');
    const g = openSync(join(dir, 'g'), 'r');
    fds.push(g);
    const sg = r.add(g);
    assert.equal(sg, slots[10]);
    assert.equal(r.read([sg, slots[0]!], 2), 2);
    assert.equal(text(r, sg), '42\n');
    assert.equal(text(r, slots[0]!), '7\n');
  } finally {
    r.close();
    for (const fd of fds) closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('batch reads: a file io_submit refuses (a directory) is marked and skipped, the others around it are read', () => {
  const opened = BatchReader.open();
  assert.ok(opened.reader !== undefined);
  const r = opened.reader;
  const dir = mkdtempSync(join(tmpdir(), 'memlens-batch-'));
  const fds: number[] = [];
  try {
    const slots: number[] = [];
    for (let i = 0; i < 5; i++) {
      if (i === 0 || i === 2) {
        const fd = openSync(dir, 'r');
        fds.push(fd);
        slots.push(r.add(fd));
        continue;
      }
      writeFileSync(join(dir, `f${i}`), `${i}\n`);
      const fd = openSync(join(dir, `f${i}`), 'r');
      fds.push(fd);
      slots.push(r.add(fd));
    }
    assert.equal(r.read(slots, 5), 3);
    for (const i of [0, 2]) {
      assert.ok(r.unsupported(slots[i]!));
      assert.ok(r.result(slots[i]!) < 0);
    }
    for (const i of [1, 3, 4]) {
      assert.equal(r.unsupported(slots[i]!), false);
      assert.equal(text(r, slots[i]!), `${i}\n`);
    }
    assert.equal(r.broken, false);
  } finally {
    r.close();
    for (const fd of fds) closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(r.read([0], 1), -1, 'a closed reader reads nothing');
});

test('batch reads: the kernel\'s cgroup usage files (kernfs) read the same as a plain read', () => {
  const files = ['/sys/fs/cgroup/memory/memory.usage_in_bytes', '/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory.stat']
    .filter((f) => existsSync(f));
  if (files.length === 0) {
    assert.notEqual(process.env.CI, 'true', 'CI: no cgroup memory files to read');
    return;
  }
  const opened = BatchReader.open();
  assert.ok(opened.reader !== undefined);
  const r = opened.reader;
  const fds = files.map((f) => openSync(f, 'r'));
  try {
    const slots = fds.map((fd) => r.add(fd));
    for (let round = 0; round < 3; round++) {
      assert.equal(r.read(slots, slots.length), slots.length);
      files.forEach((f, i) => {
        const got = text(r, slots[i]!);
        if (f.endsWith('limit_in_bytes')) assert.equal(got, readFileSync(f, 'latin1').slice(0, BATCH_SLOT_BYTES));
        else if (f.endsWith('usage_in_bytes')) assert.match(got, /^\d+\n$/);
        else assert.equal(got.length, BATCH_SLOT_BYTES);
      });
    }
  } finally {
    r.close();
    for (const fd of fds) closeSync(fd);
  }
});
