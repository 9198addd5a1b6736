// A small private state file, replaced atomically: written to a temp file under a random name
// created with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600 (a file or symlink planted at that name
// makes the write fail instead of being followed), then renamed over the target (rename(2)
// replaces the name, never follows a symlink at it). Read back only when it is a regular file.
//
// Same signatures as the private-state-dir helpers being added to forensics/ (issue 9): when they
// land, this file goes and otlpLogs.ts imports theirs (which also refuses an untrusted directory).
import { closeSync, constants, fstatSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { MemlensError, errnoCode } from '../errors.js';
import { makeDir } from '../forensics/store.js';

export function writePrivateFileAtomic(dir: string, name: string, data: string): string {
  if (name.includes('/') || name === '' || name === '.' || name === '..') throw new MemlensError('MEMLENS_ERR_IO', `not a file name: ${JSON.stringify(name)}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') makeDir(dir); // parents missing: the snapshot store's bounded mkdir -p
  }
  const file = join(dir, name);
  const tmp = join(dir, `.${name}.tmp-${randomBytes(8).toString('hex')}`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    const buf = Buffer.from(data);
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
    closeSync(fd);
    renameSync(tmp, file);
  } catch (err) {
    try {
      closeSync(fd);
    } catch (closeErr) {
      if (errnoCode(closeErr) !== 'EBADF') throw closeErr;
    }
    try {
      unlinkSync(tmp);
    } catch (unlinkErr) {
      if (errnoCode(unlinkErr) !== 'ENOENT') throw unlinkErr;
    }
    throw err;
  }
  return file;
}

/** The text of `path` if it is a regular file of at most maxBytes (not a link, FIFO or device). Throws the system error (ENOENT passes through). */
export function readPrivateFile(path: string, maxBytes: number): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new MemlensError('MEMLENS_ERR_IO', `${path}: not a regular file: not read`, { path });
    if (st.size > maxBytes) throw new MemlensError('MEMLENS_ERR_IO', `${path}: larger than ${maxBytes} bytes: not read`, { path });
    const buf = Buffer.allocUnsafe(st.size);
    let len = 0;
    while (len < buf.length) {
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
    }
    return buf.toString('utf8', 0, len);
  } finally {
    closeSync(fd);
  }
}
