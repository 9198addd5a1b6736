// RLIMIT_NOFILE: the soft limit raised to the hard one at start, as Go's runtime does since Go 1.19 (os package,
// "Raise open file limit"). Watching 500 cgroup v1 cgroups holds about 3000 fds (eventfds and the files behind them),
// and containers often start with a soft limit of 1024. Node itself raises the soft limit at start-up on most builds
// (src/node.cc, PlatformInit); this makes sure and says what the limit is.
import { describe } from '../errors.js';
import { errnoName, lastErrno, libc } from './sys.js';

/** RLIMIT_NOFILE in <asm-generic/resource.h>; the same on x86_64 and aarch64. */
const RLIMIT_NOFILE = 7;

const prlimit = libc.func('int prlimit(int pid, int resource, void *new_limit, void *old_limit)');

export interface NoFileLimit {
  soft: number;
  hard: number;
}

export type RaiseResult = { ok: true; before: NoFileLimit; after: NoFileLimit } | { ok: false; error: string };

function toNumber(b: bigint): number {
  // RLIM_INFINITY is ~0: report it as Infinity.
  return b >= 2n ** 53n ? Number.POSITIVE_INFINITY : Number(b);
}

/** The current RLIMIT_NOFILE of this process. */
export function openFileLimit(): NoFileLimit | { error: string } {
  const old = Buffer.alloc(16);
  if (Number(prlimit(0, RLIMIT_NOFILE, null, old)) !== 0) return { error: `prlimit: ${errnoName(lastErrno())}` };
  return { soft: toNumber(old.readBigUInt64LE(0)), hard: toNumber(old.readBigUInt64LE(8)) };
}

/** Sets the soft RLIMIT_NOFILE (tests lower it to provoke EMFILE); the hard limit is kept. */
export function setOpenFileSoftLimit(soft: number): void {
  const old = Buffer.alloc(16);
  if (Number(prlimit(0, RLIMIT_NOFILE, null, old)) !== 0) throw new Error(`prlimit: ${errnoName(lastErrno())}`);
  const next = Buffer.alloc(16);
  next.writeBigUInt64LE(BigInt(soft), 0);
  next.writeBigUInt64LE(old.readBigUInt64LE(8), 8);
  if (Number(prlimit(0, RLIMIT_NOFILE, next, null)) !== 0) throw new Error(`prlimit: ${errnoName(lastErrno())}`);
}

/** Soft RLIMIT_NOFILE up to the hard limit. Never throws. */
export function raiseOpenFileLimit(): RaiseResult {
  try {
    const old = Buffer.alloc(16);
    if (Number(prlimit(0, RLIMIT_NOFILE, null, old)) !== 0) return { ok: false, error: `prlimit: ${errnoName(lastErrno())}` };
    const before = { soft: toNumber(old.readBigUInt64LE(0)), hard: toNumber(old.readBigUInt64LE(8)) };
    if (old.readBigUInt64LE(0) !== old.readBigUInt64LE(8)) {
      const next = Buffer.alloc(16);
      old.copy(next, 0, 8, 16);
      old.copy(next, 8, 8, 16);
      if (Number(prlimit(0, RLIMIT_NOFILE, next, null)) !== 0) return { ok: false, error: `prlimit: ${errnoName(lastErrno())}` };
    }
    const now = openFileLimit();
    if ('error' in now) return { ok: false, error: now.error };
    return { ok: true, before, after: now };
  } catch (err) {
    return { ok: false, error: describe(err) };
  }
}
