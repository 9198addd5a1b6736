// memlens's own state on disk (--snapshot.dir: snapshot documents, the hold record, and any
// other state another module keeps there): a directory nobody else can turn against root.
//
// - The directory is created 0700 and its files 0600. An existing directory that is a symbolic
//   link, is owned by another user, or is writable by group or others is refused (exit 2): anyone
//   who can write it could plant a symlink where root will write (a hold record, a temp file) or
//   a FIFO where root will read.
// - Files are written to a temp file opened with O_CREAT|O_EXCL|O_NOFOLLOW under a random name,
//   then renamed over the target: never through a link, never half written.
// - Files are read with O_NOFOLLOW|O_NONBLOCK (a FIFO opens without blocking and is then refused),
//   only when regular, and only up to a size cap.
import { closeSync, chmodSync, fstatSync, lstatSync, mkdirSync, openSync, constants as fsc, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, MemlensError, describe, errnoCode } from '../errors.js';
import { ownershipProblem } from '../config/ownership.js';

/** mkdir -p with bounded depth (Node 20's recursive mkdirSync never returns under /proc). */
function makeParents(dir: string, depth = 0): void {
  try {
    mkdirSync(dir, { mode: 0o755 });
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') return;
    const parent = dirname(dir);
    if (code !== 'ENOENT' || depth > 32 || parent === dir) throw err;
    makeParents(parent, depth + 1);
    mkdirSync(dir, { mode: 0o755 });
  }
}

/**
 * Makes sure `dir` exists and is ours alone. Throws ConfigError (memlens exits 2) when it exists
 * but cannot be trusted; rethrows the system error when it cannot be created (EROFS, EACCES,
 * a path under /proc): the caller decides whether that is fatal.
 */
export function ensurePrivateDir(dir: string): void {
  const abs = resolve(dir);
  try {
    mkdirSync(abs, { mode: 0o700 });
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT') {
      makeParents(dirname(abs));
      mkdirSync(abs, { mode: 0o700 });
    } else if (code !== 'EEXIST') throw err;
  }
  const st = lstatSync(abs);
  if (st.isSymbolicLink()) throw new ConfigError(`--snapshot.dir ${dir}: refused: it is a symbolic link (give the real directory)`, { path: dir });
  if (!st.isDirectory()) throw new ConfigError(`--snapshot.dir ${dir}: refused: not a directory`, { path: dir });
  const problem = ownershipProblem(st, `--snapshot.dir ${dir}`);
  if (problem !== undefined) throw new ConfigError(`${problem}: refused (anyone who can write it can make root write through links)`, { path: dir });
  // Ancestors: one writable by others without the sticky bit lets them rename our directory away.
  for (let p = dirname(abs), i = 0; i < 64; p = dirname(p), i++) {
    const a = lstatSync(p);
    if ((a.mode & 0o022) !== 0 && (a.mode & 0o1000) === 0) {
      throw new ConfigError(`--snapshot.dir ${dir}: refused: its parent ${p} is writable by group or others without the sticky bit`, { path: dir });
    }
    if (p === dirname(p)) break;
  }
  if ((st.mode & 0o077) !== 0) chmodSync(abs, 0o700); // an older memlens made it 0755: snapshots hold command lines
}

/**
 * Writes `name` in `dir` (made private first) atomically: a 0600 temp file created exclusively,
 * never through a link, under a random name, then renamed over `name`. Returns the path written.
 * Throws the system error (ENOSPC, EROFS, ...) after removing the temp file.
 */
export function writePrivateFileAtomic(dir: string, name: string, data: string | Buffer): string {
  if (name.includes('/') || name === '' || name === '.' || name === '..') throw new MemlensError('MEMLENS_ERR_IO', `not a file name: ${JSON.stringify(name)}`);
  ensurePrivateDir(dir);
  const file = join(dir, name);
  const tmp = join(dir, `.${name}.tmp-${randomBytes(8).toString('hex')}`);
  const fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
    closeSync(fd);
    renameSync(tmp, file);
  } catch (err) {
    try {
      closeSync(fd);
    } catch (closeErr) {
      if (errnoCode(closeErr) !== 'EBADF') throw new MemlensError('MEMLENS_ERR_IO', `${tmp}: ${describe(closeErr)}`, { cause: err });
    }
    try {
      unlinkSync(tmp);
    } catch (unlinkErr) {
      if (errnoCode(unlinkErr) !== 'ENOENT') throw new MemlensError('MEMLENS_ERR_IO', `${describe(err)}; and the temp file ${tmp} could not be removed: ${describe(unlinkErr)}`, { cause: err });
    }
    throw err;
  }
  return file;
}

/** A file in the state dir is not a regular file of ours, or is over the cap. */
export class UntrustedFileError extends MemlensError {
  constructor(path: string, why: string) {
    super('MEMLENS_ERR_IO', `${path}: ${why}: not read`, { path });
    this.name = 'UntrustedFileError';
  }
}

/**
 * The text of `path` if it is a regular file (not a link, FIFO, device) of at most `maxBytes`.
 * Throws the system error (ENOENT passes through; ELOOP for a symbolic link) or UntrustedFileError.
 */
export function readPrivateFile(path: string, maxBytes: number): string {
  const fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UntrustedFileError(path, 'not a regular file');
    if (st.size > maxBytes) throw new UntrustedFileError(path, `larger than ${maxBytes} bytes`);
    const buf = Buffer.allocUnsafe(st.size + 1);
    let len = 0;
    for (;;) {
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
      if (len > st.size) throw new UntrustedFileError(path, 'grew while being read');
    }
    return buf.toString('utf8', 0, len);
  } finally {
    closeSync(fd);
  }
}
