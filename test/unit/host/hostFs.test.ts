// HostFs's libc reads (koffi open/openat/read/close) against its node:fs reads: the same bytes, and on failure the
// same error, field for field (code, errno, syscall, path, message), so that every caller's isGone / errnoCode /
// describe sees what it saw with node:fs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isGone } from '../../../src/errors.js';
import { HostFs, withoutCloseRange } from '../../../src/host/hostFs.js';
import { openFileLimit, setOpenFileSoftLimit } from '../../../src/kernel/rlimit.js';

const libc = new HostFs('/proc', '/sys', 'libc');
const node = new HostFs('/proc', '/sys', 'node');

/** What a caller can see of an error. */
function shape(err: unknown): Record<string, unknown> {
  assert.ok(err instanceof Error, String(err));
  const e = err as NodeJS.ErrnoException;
  return { name: e.name, message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path, gone: isGone(e) };
}

function thrown(fn: () => unknown): Record<string, unknown> {
  try {
    fn();
  } catch (err) {
    return shape(err);
  }
  assert.fail('did not throw');
}

function withTmp(fn: (dir: string) => void): void {
  const dir = mkdtempSync(`${tmpdir()}/memlens-hostfs-`);
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const bytesOf = (h: HostFs, len: number): Buffer => Buffer.from(h.bytes.subarray(0, len));

test('readInto: the same bytes through libc and node:fs, one show or to EOF, small, empty and larger than the buffer', () => {
  withTmp((dir) => {
    const big = Buffer.alloc(200_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    writeFileSync(`${dir}/big`, big);
    writeFileSync(`${dir}/empty`, '');
    writeFileSync(`${dir}/small`, '4096\n');
    for (const path of [`${dir}/big`, `${dir}/empty`, `${dir}/small`, '/proc/self/stat', '/proc/version', '/proc/cmdline']) {
      for (const oneShow of [false, true]) {
        const a = libc.readInto(path, oneShow);
        const got = bytesOf(libc, a);
        const b = node.readInto(path, oneShow);
        if (!path.startsWith('/proc/self')) assert.deepEqual(got, bytesOf(node, b), `${path} oneShow=${oneShow}`);
        else assert.equal(got.length > 0, b > 0, path); // /proc/self differs between reads (times, counters)
      }
    }
    assert.deepEqual(bytesOf(libc, libc.readInto(`${dir}/big`)), big);
    assert.equal(libc.read(`${dir}/small`, true), '4096\n');
  });
});

test('readInto: failures throw what node:fs throws, field for field', () => {
  withTmp((dir) => {
    writeFileSync(`${dir}/file`, 'x');
    mkdirSync(`${dir}/sub`);
    const cases = [
      `${dir}/absent`, // ENOENT at open: gone
      `${dir}/file/child`, // ENOTDIR at open
      `${dir}/sub`, // EISDIR at read (a directory opens read-only, and read() refuses it)
      `${dir}/bad\0name`, // a NUL byte: node:fs's ERR_INVALID_ARG_VALUE, not a shorter C string
    ];
    for (const path of cases) {
      const n = thrown(() => node.readInto(path, true));
      assert.deepEqual(thrown(() => libc.readInto(path, true)), n, path);
      assert.deepEqual(thrown(() => libc.readInto(path, false)), n, path);
    }
    assert.equal(thrown(() => libc.readInto(`${dir}/absent`)).code, 'ENOENT');
    assert.equal(thrown(() => libc.readInto(`${dir}/sub`)).code, 'EISDIR');
    assert.equal(libc.tryReadInto(`${dir}/absent`), -1);
    assert.throws(() => libc.tryReadInto(`${dir}/sub`), /EISDIR/);
  });
});

test('readAtInto: a file by its name in an opened directory reads and fails as readInto of its whole path', () => {
  withTmp((dir) => {
    writeFileSync(`${dir}/memory.stat`, 'cache 4096\nrss 8192\n');
    writeFileSync(`${dir}/notadir`, 'x');
    mkdirSync(`${dir}/sub`);
    for (const h of [libc, node]) {
      const d = h.openDir(dir);
      assert.equal(d.fd >= 0, h === libc, 'libc opens the directory, node:fs does not');
      try {
        assert.deepEqual(bytesOf(h, h.readAtInto(d, 'memory.stat', true)), Buffer.from('cache 4096\nrss 8192\n'));
        for (const name of ['absent', 'sub', 'bad\0name']) {
          assert.deepEqual(thrown(() => h.readAtInto(d, name, true)), thrown(() => node.readInto(`${dir}/${name}`, true)), name);
        }
        assert.equal(h.tryReadAtInto(d, 'absent', true), -1);
      } finally {
        h.closeDir(d);
      }
    }
    // A directory that cannot be opened as one (absent, a file): every read by its whole path, failing as that does.
    for (const path of [`${dir}/gone`, `${dir}/notadir`]) {
      const d = libc.openDir(path);
      assert.equal(d.fd, -1, path);
      assert.deepEqual(thrown(() => libc.readAtInto(d, 'memory.stat', true)), thrown(() => node.readInto(`${path}/memory.stat`, true)), path);
      libc.closeDir(d);
    }
    assert.equal(libc.tryReadAtInto(libc.openDir(`${dir}/gone`), 'memory.stat', true), -1);
  });
});

test('closeDir closes the directory and every file read through it (one close_range per run of fds), however many', () => {
  withTmp((dir) => {
    for (let i = 0; i < 40; i++) writeFileSync(`${dir}/f${i}`, `file ${i}\n`);
    const before = openFds();
    const d = libc.openDir(dir);
    assert.equal(fdTarget(d.fd), dir);
    for (let i = 0; i < 40; i++) assert.equal(libc.read(`${dir}/f${i}`), `file ${i}\n`); // by whole path: closed at once
    for (let i = 0; i < 40; i++) {
      const n = libc.readAtInto(d, `f${i}`, true); // more than the handle defers: the rest closed at once
      assert.equal(libc.bytes.toString('utf8', 0, n), `file ${i}\n`);
    }
    assert.equal(libc.tryReadAtInto(d, 'absent'), -1);
    assert.throws(() => libc.readAtInto(d, '.'), /EISDIR/);
    assert.ok(openFds().size > before.size, 'files read through the handle stay open until closeDir');
    libc.closeDir(d);
    assert.deepEqual(openFds(), before);
    // Interleaved with another handle (fd numbers not in one run): each closes its own only.
    const a = libc.openDir(dir);
    const b = libc.openDir(dir);
    for (let i = 0; i < 5; i++) {
      libc.readAtInto(a, `f${i}`);
      libc.readAtInto(b, `f${i}`);
    }
    libc.closeDir(a);
    assert.equal(fdTarget(b.fd), dir, "closing one handle left the other's fds alone");
    assert.equal(libc.read(`${dir}/f1`), 'file 1\n');
    for (let i = 5; i < 10; i++) libc.readAtInto(b, `f${i}`);
    libc.closeDir(b);
    assert.deepEqual(openFds(), before);
  });
});

test('closeDir without close_range (glibc < 2.34, Linux < 5.9): each fd closed alone, none left open', () => {
  withTmp((dir) => {
    for (let i = 0; i < 20; i++) writeFileSync(`${dir}/f${i}`, `file ${i}\n`);
    const before = openFds();
    withoutCloseRange(true);
    try {
      const a = libc.openDir(dir);
      const b = libc.openDir(dir);
      for (let i = 0; i < 20; i++) {
        libc.readAtInto(a, `f${i}`);
        libc.readAtInto(b, `f${i}`);
      }
      libc.closeDir(a);
      assert.equal(fdTarget(b.fd), dir);
      libc.closeDir(b);
    } finally {
      withoutCloseRange(false);
    }
    assert.deepEqual(openFds(), before);
  });
});

test('readAtInto out of fds (EMFILE) while files of the handle are still open: those are closed and the open tried again', () => {
  withTmp((dir) => {
    for (let i = 0; i < 12; i++) writeFileSync(`${dir}/f${i}`, `file ${i}\n`);
    const limit = openFileLimit();
    assert.ok(!('error' in limit), JSON.stringify(limit));
    const before = openFds();
    const d = libc.openDir(dir);
    const fillers: number[] = [];
    try {
      // Every fd number below the limit taken but 2: without the retry the third file would fail with EMFILE.
      setOpenFileSoftLimit(Math.max(...[...before.keys()].map(Number), d.fd) + 16);
      for (;;) {
        try {
          fillers.push(openSync(dir, 'r'));
        } catch (err) {
          assert.equal((err as NodeJS.ErrnoException).code, 'EMFILE');
          break;
        }
      }
      closeSync(fillers.pop()!);
      closeSync(fillers.pop()!);
      for (let i = 0; i < 12; i++) {
        const n = libc.readAtInto(d, `f${i}`, true);
        assert.equal(libc.bytes.toString('utf8', 0, n), `file ${i}\n`);
      }
    } finally {
      libc.closeDir(d);
      for (const fd of fillers) closeSync(fd);
      setOpenFileSoftLimit(limit.soft);
    }
    assert.deepEqual(openFds(), before);
  });
});

/** What an fd of this process points to; undefined when it is not open. */
function fdTarget(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

function openFds(): Map<string, string | undefined> {
  return new Map(readdirSync('/proc/self/fd').map((fd) => [fd, fdTarget(Number(fd))]));
}
