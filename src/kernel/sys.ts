// koffi bindings to the few libc calls the kernel-event loop needs (eventfd, epoll, inotify, open/read/write/close,
// prlimit), and HostFs's file reads (open/openat/read/close: host/hostFs.ts says why),
// their constants for Linux, and decoders for the structs the kernel hands back.
//
// Why FFI and not node:fs: epoll and eventfd have no Node API, and the cgroup v1 registration protocol writes raw
// fd numbers into cgroup.event_control, so every fd involved must be a plain kernel fd we own (KERNEL.md "Reaching
// these from Node.js"). Every fd is opened with O_CLOEXEC: an eventfd inherited by a spawned child would keep a
// cgroup v1 registration alive after we close our copy.
import koffi from 'koffi';
import { getSystemErrorMap } from 'node:util';
import { MemlensError } from '../errors.js';

// ---- constants (Linux generic values; x86_64 and aarch64 agree on all of these) ----

export const O_RDONLY = 0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
/** A handle for *at() calls only (openat's dirfd): no read permission needed, no file opened. Same on every arch. */
export const O_PATH = 0o10000000;
/** Fails with ENOTDIR on anything but a directory. Not a generic value: arm and arm64 have their own. */
export const O_DIRECTORY = process.arch === 'arm64' || process.arch === 'arm' ? 0o40000 : 0o200000;

export const EFD_NONBLOCK = O_NONBLOCK;
export const EFD_CLOEXEC = O_CLOEXEC;

const EPOLL_CLOEXEC = O_CLOEXEC;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;

export const EPOLLIN = 0x001;
export const EPOLLPRI = 0x002;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;
export const EPOLLET = 0x80000000;

export const IN_NONBLOCK = O_NONBLOCK;
export const IN_CLOEXEC = O_CLOEXEC;
export const IN_MODIFY = 0x00000002;
export const IN_CREATE = 0x00000100;
export const IN_DELETE = 0x00000200;
export const IN_DELETE_SELF = 0x00000400;
export const IN_UNMOUNT = 0x00002000;
export const IN_Q_OVERFLOW = 0x00004000;
export const IN_IGNORED = 0x00008000;
export const IN_ONLYDIR = 0x01000000;
export const IN_MASK_ADD = 0x20000000;
export const IN_ISDIR = 0x40000000;

export const ENOENT = 2;
export const EINTR = 4;
export const EAGAIN = 11;
export const ENFILE = 23;
export const EMFILE = 24;
export const ENODEV = 19;
export const EINVAL = 22;
export const EOPNOTSUPP = 95;
export const ENOSYS = 38;

/** struct epoll_event is `__attribute__((packed))` on x86_64 only (12 bytes); elsewhere the u64 is aligned (16). */
export const EPOLL_EVENT_SIZE_BYTES = process.arch === 'x64' ? 12 : 16;
const EPOLL_EVENT_DATA_OFFSET_BYTES = process.arch === 'x64' ? 4 : 8;

/** struct inotify_event header: int wd; uint32 mask; uint32 cookie; uint32 len; then `len` bytes of NUL-padded name. */
const INOTIFY_EVENT_HEADER_BYTES = 16;

// ---- bindings ----

type KoffiFn = ReturnType<ReturnType<typeof koffi.load>['func']>;

function loadLibc(): ReturnType<typeof koffi.load> {
  // glibc first (Debian hosts and images); musl for an Alpine-based image.
  const names = ['libc.so.6', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1'];
  const failures: string[] = [];
  for (const name of names) {
    try {
      return koffi.load(name);
    } catch (err) {
      failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  throw new MemlensError('MEMLENS_ERR_UNSUPPORTED', `cannot load libc through koffi (${failures.join('; ')})`);
}

export const libc = loadLibc();

const raw = {
  eventfd: libc.func('int eventfd(unsigned int initval, int flags)'),
  epoll_create1: libc.func('int epoll_create1(int flags)'),
  epoll_ctl: libc.func('int epoll_ctl(int epfd, int op, int fd, void *event)'),
  epoll_wait: libc.func('int epoll_wait(int epfd, void *events, int maxevents, int timeout)'),
  inotify_init1: libc.func('int inotify_init1(int flags)'),
  inotify_add_watch: libc.func('int inotify_add_watch(int fd, const char *pathname, uint32_t mask)'),
  inotify_rm_watch: libc.func('int inotify_rm_watch(int fd, int wd)'),
  read: libc.func('intptr_t read(int fd, void *buf, size_t count)'),
  pread: libc.func('intptr_t pread(int fd, void *buf, size_t count, int64_t offset)'),
  write: libc.func('intptr_t write(int fd, const void *buf, size_t count)'),
  // open(2) is variadic in libc; the third (mode) argument is read only with O_CREAT/O_TMPFILE, which we never pass,
  // and on the Linux ABIs we run on a variadic int-only call is passed exactly like this fixed two-argument one.
  open: libc.func('int open(const char *pathname, int flags)'),
  openat: libc.func('int openat(int dirfd, const char *pathname, int flags)'),
  close: libc.func('int close(int fd)'),
} satisfies Record<string, KoffiFn>;

/** close_range(2) (Linux 5.9, glibc 2.34); undefined when this libc lacks it (the kernel may still say ENOSYS). */
const closeRangeFn: KoffiFn | undefined = (() => {
  try {
    return libc.func('int close_range(unsigned int first, unsigned int last, int flags)');
  } catch {
    return undefined;
  }
})();

function toInt(v: unknown, fn: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new MemlensError('MEMLENS_ERR_IO', `${fn}: koffi returned ${typeof v}, expected a number`);
}

/** errno of the last libc call on this thread; koffi also carries it over from a `.async` call into its callback. */
export function lastErrno(): number {
  return koffi.errno();
}

/** errno number to its name (`EINVAL`), or `errno <n>` when Node does not know it. */
export function errnoName(errno: number): string {
  return getSystemErrorMap().get(-errno)?.[0] ?? `errno ${errno}`;
}

function errnoMessage(errno: number): string {
  return getSystemErrorMap().get(-errno)?.[1] ?? 'unknown error';
}

/** A Node-style errno exception (`code`, `errno`, `syscall`, `path`), used as the `cause` of the MemlensError we throw. */
export interface ErrnoException extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

export function errnoException(errno: number, syscall: string, path?: string): ErrnoException {
  const code = errnoName(errno);
  const where = path === undefined ? '' : ` '${path}'`;
  const e = new Error(`${code}: ${errnoMessage(errno)}, ${syscall}${where}`) as ErrnoException;
  e.code = code;
  e.errno = errno;
  e.syscall = syscall;
  if (path !== undefined) e.path = path;
  return e;
}

/**
 * The error thrown by the checked wrappers below: MEMLENS_ERR_IO with the path, and as `cause` an ErrnoException.
 * errors.ts' `errnoCode(err)` digs the errno name out of the cause chain.
 */
export function syscallError(errno: number, syscall: string, path?: string): MemlensError {
  const cause = errnoException(errno, syscall, path);
  return new MemlensError('MEMLENS_ERR_IO', cause.message, path === undefined ? { cause } : { path, cause });
}

function check(result: number, syscall: string, path?: string): number {
  if (result < 0) throw syscallError(koffi.errno(), syscall, path);
  return result;
}

// ---- raw calls: return what libc returns (-1 on failure; read errno with lastErrno() right after) ----

export const sys = {
  eventfd: (initval: number, flags: number): number => toInt(raw.eventfd(initval, flags), 'eventfd'),
  epoll_create1: (flags: number): number => toInt(raw.epoll_create1(flags), 'epoll_create1'),
  epoll_ctl: (epfd: number, op: number, fd: number, event: Buffer | null): number =>
    toInt(raw.epoll_ctl(epfd, op, fd, event), 'epoll_ctl'),
  epoll_wait: (epfd: number, events: Buffer, maxEvents: number, timeoutMs: number): number =>
    toInt(raw.epoll_wait(epfd, events, maxEvents, timeoutMs), 'epoll_wait'),
  /**
   * epoll_wait on a libuv pool thread; `done` runs on the JS thread with the count (or -1, errno then readable with
   * lastErrno()). `events` is written from the other thread: do not touch it until `done` runs.
   * A pending call keeps the Node process alive.
   */
  epoll_wait_async: (
    epfd: number,
    events: Buffer,
    maxEvents: number,
    timeoutMs: number,
    done: (err: unknown, result: number) => void,
  ): void => {
    raw.epoll_wait.async(epfd, events, maxEvents, timeoutMs, (err: unknown, res: unknown) => {
      done(err, err === null || err === undefined ? toInt(res, 'epoll_wait') : -1);
    });
  },
  inotify_init1: (flags: number): number => toInt(raw.inotify_init1(flags), 'inotify_init1'),
  inotify_add_watch: (fd: number, path: string, mask: number): number =>
    toInt(raw.inotify_add_watch(fd, path, mask >>> 0), 'inotify_add_watch'),
  inotify_rm_watch: (fd: number, wd: number): number => toInt(raw.inotify_rm_watch(fd, wd), 'inotify_rm_watch'),
  read: (fd: number, buf: Buffer, countBytes: number): number => toInt(raw.read(fd, buf, countBytes), 'read'),
  pread: (fd: number, buf: Buffer, countBytes: number, offsetBytes: number): number =>
    toInt(raw.pread(fd, buf, countBytes, offsetBytes), 'pread'),
  write: (fd: number, buf: Buffer, countBytes: number): number => toInt(raw.write(fd, buf, countBytes), 'write'),
  /**
   * write(2) on a libuv pool thread (a write that may sleep in the kernel, e.g. cgroup.event_control's RCU wait);
   * `done` runs on the JS thread with the count, or -1 and the errno. `buf` and `fd` must stay valid until then.
   */
  write_async: (fd: number, buf: Buffer, countBytes: number, done: (result: number, errno: number) => void): void => {
    raw.write.async(fd, buf, countBytes, (err: unknown, res: unknown) => {
      const n = err === null || err === undefined ? toInt(res, 'write') : -1;
      done(n, n < 0 ? koffi.errno() : 0);
    });
  },
  open: (path: string, flags: number): number => toInt(raw.open(path, flags), 'open'),
  /** `path` relative to the directory open as `dirfd` (an O_PATH fd will do). */
  openat: (dirfd: number, path: string, flags: number): number => toInt(raw.openat(dirfd, path, flags), 'openat'),
  close: (fd: number): number => toInt(raw.close(fd), 'close'),
  /** Closes every open fd in first..last; -1 with ENOSYS when neither libc nor the kernel has close_range. */
  close_range: (first: number, last: number): number => {
    if (closeRangeFn === undefined) {
      koffi.errno(ENOSYS);
      return -1;
    }
    return toInt(closeRangeFn(first, last, 0), 'close_range');
  },
} as const;

// ---- checked helpers: throw syscallError(...) on failure ----

export function openChecked(path: string, flags: number): number {
  return check(sys.open(path, flags | O_CLOEXEC), 'open', path);
}

export function closeChecked(fd: number): void {
  check(sys.close(fd), 'close');
}

export function eventfdChecked(initval: number, flags: number): number {
  return check(sys.eventfd(initval, flags), 'eventfd');
}

export function epollCreateChecked(): number {
  return check(sys.epoll_create1(EPOLL_CLOEXEC), 'epoll_create1');
}

function encodeEpollEvent(events: number, data: bigint): Buffer {
  const b = Buffer.alloc(EPOLL_EVENT_SIZE_BYTES);
  b.writeUInt32LE(events >>> 0, 0);
  b.writeBigUInt64LE(data, EPOLL_EVENT_DATA_OFFSET_BYTES);
  return b;
}

export interface EpollEvent {
  events: number;
  data: bigint;
}

/** The first `count` entries of an epoll_event array filled by epoll_wait, in the kernel's order. */
export function decodeEpollEvents(buf: Buffer, count: number): EpollEvent[] {
  const out: EpollEvent[] = [];
  for (let i = 0; i < count; i++) {
    const off = i * EPOLL_EVENT_SIZE_BYTES;
    if (off + EPOLL_EVENT_SIZE_BYTES > buf.length) break;
    out.push({ events: buf.readUInt32LE(off), data: buf.readBigUInt64LE(off + EPOLL_EVENT_DATA_OFFSET_BYTES) });
  }
  return out;
}

export function epollCtlChecked(epfd: number, op: number, fd: number, events: number, data: bigint): void {
  // EPOLL_CTL_DEL ignores the event since 2.6.9; pass one anyway, as the man page advises for portability.
  check(sys.epoll_ctl(epfd, op, fd, encodeEpollEvent(events, data)), 'epoll_ctl');
}

/** Reads an eventfd counter (8 bytes, host order, which is little-endian on every arch we run on). */
export function readEventfd(fd: number): { count: bigint } | { errno: number } {
  const b = Buffer.alloc(8);
  const n = sys.read(fd, b, 8);
  if (n !== 8) return { errno: n < 0 ? koffi.errno() : EINVAL };
  return { count: b.readBigUInt64LE(0) };
}

export function writeEventfd(fd: number, add: bigint): number {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(add, 0);
  const n = sys.write(fd, b, 8);
  return n === 8 ? 0 : n < 0 ? koffi.errno() : EINVAL;
}

/** write(2) of a whole string; returns 0 or the errno. Kernel control files take one write per command. */
export function writeString(fd: number, text: string): number {
  const b = Buffer.from(text, 'utf8');
  const n = sys.write(fd, b, b.length);
  if (n < 0) return koffi.errno();
  return n === b.length ? 0 : EINVAL;
}

export interface InotifyEvent {
  wd: number;
  mask: number;
  cookie: number;
  /** Name inside a watched directory; undefined for events about the watched path itself. */
  name: string | undefined;
}

/**
 * Decodes the inotify_event records in buf[0, lengthBytes). The kernel never splits a record across reads; a
 * truncated tail (which would mean a bug on our side) is dropped rather than misread.
 */
export function decodeInotifyEvents(buf: Buffer, lengthBytes: number): InotifyEvent[] {
  const out: InotifyEvent[] = [];
  const end = Math.min(lengthBytes, buf.length);
  let off = 0;
  while (off + INOTIFY_EVENT_HEADER_BYTES <= end) {
    const wd = buf.readInt32LE(off);
    const mask = buf.readUInt32LE(off + 4);
    const cookie = buf.readUInt32LE(off + 8);
    const nameLenBytes = buf.readUInt32LE(off + 12);
    const nameStart = off + INOTIFY_EVENT_HEADER_BYTES;
    if (nameStart + nameLenBytes > end) break;
    let name: string | undefined;
    if (nameLenBytes > 0) {
      const nul = buf.indexOf(0, nameStart);
      const nameEnd = nul === -1 || nul > nameStart + nameLenBytes ? nameStart + nameLenBytes : nul;
      name = buf.toString('utf8', nameStart, nameEnd);
    }
    out.push({ wd, mask, cookie, name });
    off = nameStart + nameLenBytes;
  }
  return out;
}
