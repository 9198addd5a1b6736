// inotify on the kernel loop: ONE inotify fd per loop shared by every watched path, with the kernel's watch
// descriptors multiplexed to callbacks here.
//
// Why one fd: the kernel limits inotify instances per user (fs.inotify.max_user_instances, 128 by default) far more
// tightly than watches (fs.inotify.max_user_watches, 8192 to about 1M depending on RAM, inotify(7)), and memlens
// watches a file or directory per cgroup.
import type { EpollLoop, Watch } from './loop.js';
import {
  EAGAIN,
  decodeInotifyEvents,
  EINVAL,
  EPOLLIN,
  IN_CLOEXEC,
  IN_IGNORED,
  IN_MASK_ADD,
  IN_NONBLOCK,
  IN_Q_OVERFLOW,
  IN_UNMOUNT,
  lastErrno,
  sys,
  syscallError,
} from './sys.js';
import type { InotifyEvent } from './sys.js';

export type { InotifyEvent } from './sys.js';

const INOTIFY_READ_BUFFER_BYTES = 64 * 1024;
const INOTIFY_MAX_READS_PER_WAKEUP = 16;

interface InotifySubscriber {
  wd: number;
  mask: number;
  onEvent: (ev: InotifyEvent) => void;
  closed: boolean;
}

export class InotifyMux {
  private ino: Watch | undefined;
  private readonly subs = new Map<number, Set<InotifySubscriber>>();
  private subCount = 0;
  private flushBuf: Buffer | undefined;

  constructor(private readonly loop: EpollLoop) {}

  /** Kernel watch descriptors held right now (several Watches on one inode share one). */
  kernelWatchCount(): number {
    return this.subs.size;
  }

  /**
   * inotify on `path` with `mask` (IN_* bits from sys.ts). Several watches on the same inode share the kernel's
   * watch descriptor: its mask becomes the union (IN_MASK_ADD) and each callback gets only the bits it asked for,
   * plus IN_IGNORED (the watch is gone: file deleted, cgroup removed; the Watch is then closed), IN_UNMOUNT and
   * IN_Q_OVERFLOW (events were lost; delivered to every watch). The kernel's mask is not narrowed when one of the
   * sharing watches closes; only the last close removes it.
   */
  watch(path: string, mask: number, onEvent: (ev: InotifyEvent) => void): Watch {
    this.loop.ensureOpen();
    const ino = this.ino ?? this.open();
    const wd = sys.inotify_add_watch(ino.fd, path, (mask | IN_MASK_ADD) >>> 0);
    if (wd < 0) {
      const err = syscallError(lastErrno(), 'inotify_add_watch', path);
      if (this.subCount === 0) ino.close();
      throw err;
    }
    const sub: InotifySubscriber = { wd, mask: mask >>> 0, onEvent, closed: false };
    let subs = this.subs.get(wd);
    if (subs === undefined) {
      subs = new Set();
      this.subs.set(wd, subs);
    }
    subs.add(sub);
    this.subCount++;
    const mux = this;
    return {
      fd: ino.fd,
      get closed() {
        return sub.closed;
      },
      close() {
        mux.drop(sub, true);
      },
    };
  }

  /**
   * Handles now, on the calling (JS) thread, the events the kernel has queued on the shared fd, instead of when the
   * epoll waiter's wake-up reaches the JS thread. The waiter runs on a pool thread and its result is queued behind
   * whatever the JS thread is doing, so a reader that must see every change made before it started (a scrape after
   * a mkdir) calls this first. A later wake-up for the same events finds the fd empty (EAGAIN). Errors of a
   * subscriber go to the loop's error report, as they would from a wake-up.
   */
  flush(): void {
    const ino = this.ino;
    if (ino === undefined || this.flushBuf === undefined) return;
    try {
      this.drain(ino.fd, this.flushBuf);
    } catch (err) {
      this.loop.reportError(err);
    }
  }

  private open(): Watch {
    const ifd = sys.inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ifd < 0) throw syscallError(lastErrno(), 'inotify_init1');
    const buf = Buffer.alloc(INOTIFY_READ_BUFFER_BYTES);
    this.flushBuf = buf; // used on the JS thread only, like the wake-up's drain
    let self: Watch | undefined;
    self = this.loop.addOwned(ifd, EPOLLIN, () => this.drain(ifd, buf), [], () => {
      // The shared fd closed (last watch gone, or the loop closed): every subscriber is closed with it.
      if (this.ino === self) this.ino = undefined;
      for (const set of this.subs.values()) for (const s of set) s.closed = true;
      this.subs.clear();
      this.subCount = 0;
    });
    this.ino = self;
    return self;
  }

  private drain(ifd: number, buf: Buffer): void {
    for (let i = 0; i < INOTIFY_MAX_READS_PER_WAKEUP; i++) {
      if (this.ino === undefined || this.ino.fd !== ifd) return;
      const n = sys.read(ifd, buf, buf.length);
      if (n < 0) {
        const e = lastErrno();
        if (e === EAGAIN) return;
        throw syscallError(e, 'read(inotify)');
      }
      if (n === 0) return;
      for (const ev of decodeInotifyEvents(buf, n)) this.deliver(ev);
    }
  }

  private deliver(ev: InotifyEvent): void {
    const always = IN_IGNORED | IN_UNMOUNT | IN_Q_OVERFLOW;
    const targets = ev.wd === -1 ? [...this.subs.values()].flatMap((s) => [...s]) : [...(this.subs.get(ev.wd) ?? [])];
    const firstErr: unknown[] = [];
    for (const sub of targets) {
      if (sub.closed) continue;
      if ((ev.mask & (sub.mask | always)) === 0) continue;
      try {
        sub.onEvent(ev);
      } catch (err) {
        firstErr.push(err);
      }
    }
    if ((ev.mask & IN_IGNORED) !== 0 && ev.wd !== -1) {
      // The kernel has dropped this wd (file deleted, cgroup removed, or our own rm_watch): nothing to remove.
      for (const sub of this.subs.get(ev.wd) ?? []) this.drop(sub, false);
    }
    if (firstErr.length > 0) throw firstErr[0];
  }

  private drop(sub: InotifySubscriber, removeKernelWatch: boolean): void {
    if (sub.closed) return;
    sub.closed = true;
    this.subCount--;
    const subs = this.subs.get(sub.wd);
    subs?.delete(sub);
    if (subs !== undefined && subs.size === 0) {
      this.subs.delete(sub.wd);
      const ino = this.ino;
      if (removeKernelWatch && ino !== undefined && sys.inotify_rm_watch(ino.fd, sub.wd) < 0) {
        const e = lastErrno();
        // EINVAL: the kernel already dropped the wd and its IN_IGNORED is still queued. Not an error.
        if (e !== EINVAL) this.loop.reportError(syscallError(e, 'inotify_rm_watch'));
      }
    }
    if (this.subCount === 0 && this.ino !== undefined) this.ino.close();
  }
}
