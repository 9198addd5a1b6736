// The /dev/kmsg follower. Each read() of /dev/kmsg returns one record
// (`prio,seq,usec,flags;text` + continuation lines, Documentation/ABI/testing/dev-kmsg); reads
// need a buffer of at least the record size (8 KiB is safe, smaller answers EINVAL); EPIPE means
// records were overwritten since the last read: the next read continues from the oldest one left,
// and the gap in seq says how many were lost. A new open starts at the oldest record in the ring,
// so the reports already there when memlens starts are read too (marked beforeStart).
//
// The fd is non-blocking and waits in the one epoll set of the KernelEventLoop (no libuv pool
// thread parked on it). A regular file at --path.kmsg (tests, a saved dump) is read once.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { describe, errnoCode } from '../errors.js';
import { parseKmsgRecord, splitKmsgRecords, type KmsgRecord } from './record.js';
import type { KernelEventLoop, Watch } from '../kernel/eventLoop.js';
import { EPOLLERR, EPOLLHUP, EPOLLIN } from '../kernel/eventLoop.js';

export interface KmsgState {
  up: boolean;
  /** Why the source is down (EACCES without CAP_SYSLOG, ENOENT when /dev/kmsg is not mounted). */
  reason: string | undefined;
  /** The errno name behind `reason`, when there is one (EACCES, ENOENT, EPERM, ...). */
  errno: string | undefined;
  recordsLost: number;
  recordsRead: number;
}

export interface KmsgFollowerOptions {
  path: string;
  loop: KernelEventLoop | undefined;
  onRecord: (rec: KmsgRecord, beforeStart: boolean) => void;
}

const RECORD_BUFFER_BYTES = 16 * 1024;

export class KmsgFollower {
  readonly state: KmsgState = { up: false, reason: 'not started', errno: undefined, recordsLost: 0, recordsRead: 0 };
  private fd: number | undefined;
  private watch: Watch | undefined;
  private lastSeq: number | undefined;
  private readonly buf = Buffer.allocUnsafe(RECORD_BUFFER_BYTES);

  constructor(private readonly opts: KmsgFollowerOptions) {}

  /** Opens the source and reads what is already there. Never throws: a source that cannot be read is down, with a reason. */
  start(): void {
    let fd: number;
    try {
      fd = openSync(this.opts.path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
      this.down(`cannot open ${this.opts.path}: ${describe(err)}`, errnoCode(err));
      return;
    }
    try {
      if (!fstatSync(fd).isCharacterDevice()) {
        this.readDump(fd);
        closeSync(fd);
        this.state.up = true;
        this.state.reason = undefined;
        return;
      }
    } catch (err) {
      closeSync(fd);
      this.down(`cannot read ${this.opts.path}: ${describe(err)}`, errnoCode(err));
      return;
    }
    this.fd = fd;
    this.state.up = true;
    this.state.reason = undefined;
    this.state.errno = undefined;
    this.drain(true);
    if (this.fd === undefined) return; // failed during the first drain
    if (this.opts.loop === undefined) {
      this.down('no kernel event loop', undefined);
      return;
    }
    // The loop owns the fd from here (even when addFd throws) and closes it with the watch.
    this.fd = undefined;
    try {
      this.watch = this.opts.loop.addFd(fd, EPOLLIN, (events) => {
        if ((events & (EPOLLERR | EPOLLHUP)) !== 0 && (events & EPOLLIN) === 0) this.down('kmsg fd reported an error', 'EIO');
        else this.drain(false);
      });
    } catch (err) {
      // EPERM: a device that epoll cannot wait on (not /dev/kmsg).
      this.down(`cannot wait on ${this.opts.path}: ${describe(err)}`, errnoCode(err));
    }
    this.fd = this.watch === undefined ? undefined : fd;
  }

  close(): void {
    if (this.watch !== undefined) this.watch.close();
    else if (this.fd !== undefined) closeSync(this.fd);
    this.watch = undefined;
    this.fd = undefined;
  }

  private down(reason: string, errno?: string): void {
    this.state.up = false;
    this.state.reason = reason;
    this.state.errno = errno;
    if (this.watch !== undefined || this.fd !== undefined) this.close();
  }

  /** Reads records until EAGAIN. */
  private drain(beforeStart: boolean): void {
    const fd = this.fd;
    if (fd === undefined) return;
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, this.buf, 0, this.buf.length, null);
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'EAGAIN') return;
        if (code === 'EPIPE') continue; // overwritten records: the seq gap of the next record counts them
        if (code === 'EINTR') continue;
        this.down(`read ${this.opts.path}: ${describe(err)}`, code);
        return;
      }
      if (n === 0) return;
      this.deliver(this.buf.toString('utf8', 0, n), beforeStart);
    }
  }

  private readDump(fd: number): void {
    const chunks: Buffer[] = [];
    for (;;) {
      const b = Buffer.allocUnsafe(64 * 1024);
      const n = readSync(fd, b, 0, b.length, null);
      if (n === 0) break;
      chunks.push(b.subarray(0, n));
    }
    for (const raw of splitKmsgRecords(Buffer.concat(chunks).toString('utf8'))) this.deliver(raw, true);
  }

  private deliver(raw: string, beforeStart: boolean): void {
    const rec = parseKmsgRecord(raw.replace(/\n$/, ''));
    if (rec === undefined) return;
    if (this.lastSeq !== undefined && rec.seq > this.lastSeq + 1) this.state.recordsLost += rec.seq - this.lastSeq - 1;
    this.lastSeq = rec.seq;
    this.state.recordsRead++;
    this.opts.onRecord(rec, beforeStart);
  }
}
