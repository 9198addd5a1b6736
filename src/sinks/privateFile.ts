// A small private state file, replaced atomically: written to a temp file created with
// O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600 (an attacker's pre-made file or symlink at the temp
// name makes the write fail instead of being followed), fsynced, then renamed over the target
// (rename(2) replaces the name, never follows a symlink at it).
import { closeSync, constants, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';

export function writePrivateFileAtomic(dir: string, name: string, text: string): void {
  const file = join(dir, name);
  const tmp = join(dir, `.${name}.tmp-${process.pid}`);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  let fd: number;
  try {
    fd = openSync(tmp, flags, 0o600);
  } catch (err) {
    // A temp file left by a crash of this same pid number: remove it (unlink does not follow) and try once more.
    if (errnoCode(err) !== 'EEXIST') throw err;
    unlinkSync(tmp);
    fd = openSync(tmp, flags, 0o600);
  }
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, file);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
}

/** The file's text, or undefined when it does not exist. Refuses to follow a symlink at the name. */
export function readPrivateFile(dir: string, name: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
