// One epoll set, waited on by one libuv pool thread, for every kernel event source memlens uses: cgroup v1
// threshold and OOM eventfds (v1Events.ts), inotify (inotify.ts), PSI triggers (psi.ts), /dev/kmsg (kmsg/source.ts).
// This file is the loop itself and the ownership of its fds; each protocol builds on addOwned() and friends.
//
// Why one waiter: each koffi `.async` call holds a libuv pool thread while it blocks (4 by default, shared with fs and
// dns), so a blocking read per fd would starve the pool; one epoll_wait serves them all.
//
// Life cycle of the waiter: it is armed only while at least one watch is registered. A pending async call keeps the
// Node process alive, so a loop with no watches (or a closed loop) never holds the process. The control eventfd is in
// the set to wake the waiter when the last watch goes away and on close(). Adding a fd needs no wake-up: epoll_ctl
// ADD on a set that another thread is waiting on reports readiness to that waiter directly (and DEL takes the fd out
// of the ready list), so add/remove are immediate without one.
//
// Stale events: the waiter fills its buffer on another thread, so a batch can name a watch that a callback earlier in
// the same batch closed, and its fd number may already belong to a new watch. Each registration therefore carries a
// unique token in epoll_event.data (never the fd) and tokens of closed watches are dropped.
import { MemlensError, describe } from '../errors.js';
import {
  EAGAIN,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EINTR,
  EPOLLIN,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_EVENT_SIZE_BYTES,
  closeChecked,
  decodeEpollEvents,
  epollCreateChecked,
  epollCtlChecked,
  eventfdChecked,
  lastErrno,
  readEventfd,
  sys,
  syscallError,
  writeEventfd,
} from './sys.js';

/** A registration in the loop. close() is idempotent; it removes the fd from epoll and closes every fd it owns. */
export interface Watch {
  /** The fd in the epoll set (for inotify watches: the shared inotify fd). */
  readonly fd: number;
  readonly closed: boolean;
  close(): void;
}

export interface KernelEventLoopOptions {
  /** Most events taken per epoll_wait (default 64); more ready fds are simply reported by the next wait. */
  maxEventsPerWait?: number;
  /**
   * Receives exceptions thrown by readiness callbacks and failures of the waiter itself. Without it, the first
   * such error of a batch is rethrown on process.nextTick after the batch (an uncaught exception, as for any
   * throwing event listener). The remaining callbacks of the batch run either way.
   */
  onError?: (err: unknown) => void;
}

const CONTROL_TOKEN = 0n;
/** Flags of every eventfd the loop makes (its control fd, watchEventfd, v1 registrations). */
export const EVENTFD_FLAGS = EFD_CLOEXEC | EFD_NONBLOCK;
/** After this many consecutive failed waits (other than EINTR) the waiter stops, reports, and stays stopped. */
const MAX_CONSECUTIVE_WAIT_FAILURES = 3;

interface Registration {
  token: bigint;
  fd: number;
  /** Other fds this registration owns and closes with it (the cgroup file behind a v1 eventfd). */
  extraFds: number[];
  onReady: (events: number) => void;
  closed: boolean;
  onClosed: (() => void) | undefined;
}

type LoopState = 'open' | 'closing' | 'closed';

export class EpollLoop {
  private readonly epollFd: number;
  private readonly controlFd: number;
  private readonly maxEvents: number;
  private readonly eventsBuf: Buffer;
  private readonly onError: ((err: unknown) => void) | undefined;
  private readonly registrations = new Map<bigint, Registration>();
  private readonly ownedFds = new Set<number>();
  private nextToken = 1n;
  private waiterArmed = false;
  private waitReturnedNs = 0n;
  private waitFailures = 0;
  private waiterBroken: unknown = undefined;
  private state: LoopState = 'open';
  private closePromise: Promise<void> | undefined;
  private resolveClose: (() => void) | undefined;

  constructor(opts: KernelEventLoopOptions = {}) {
    this.maxEvents = Math.max(1, Math.floor(opts.maxEventsPerWait ?? 64));
    this.eventsBuf = Buffer.alloc(this.maxEvents * EPOLL_EVENT_SIZE_BYTES);
    this.onError = opts.onError;
    this.epollFd = this.adoptFd(epollCreateChecked());
    try {
      this.controlFd = this.adoptFd(eventfdChecked(0, EVENTFD_FLAGS));
      epollCtlChecked(this.epollFd, EPOLL_CTL_ADD, this.controlFd, EPOLLIN, CONTROL_TOKEN);
    } catch (err) {
      this.closeOwnedAll();
      throw err;
    }
  }

  /** Fds the loop owns right now: the epoll fd, the control eventfd, the shared inotify fd and every watch's fds. */
  openFdCount(): number {
    return this.ownedFds.size;
  }

  /** Registrations in the epoll set besides the control fd (the shared inotify fd counts once). */
  watchCount(): number {
    return this.registrations.size;
  }

  get closed(): boolean {
    return this.state !== 'open';
  }

  /**
   * Adds `fd` to the epoll set (level-triggered unless `events` has EPOLLET). Ownership of `fd` passes to the loop at
   * this call, even when it throws: the fd is closed by Watch.close(), by loop.close(), or here on failure.
   * `onReady(events)` runs on the JS thread, synchronously after the wait returns, in the kernel's order. With level
   * triggering the callback must consume the readiness (read the fd until EAGAIN, or close the watch on
   * EPOLLHUP/EPOLLERR), otherwise the next wait returns at once.
   */
  addFd(fd: number, events: number, onReady: (events: number) => void): Watch {
    // A fd the loop already owns must not be taken (and, on the EEXIST, closed) a second time.
    if (this.ownedFds.has(fd)) throw new MemlensError('MEMLENS_ERR_CONFIG', `fd ${fd} already belongs to this loop`);
    return this.addOwned(fd, events, onReady, []);
  }

  /**
   * A new eventfd (EFD_CLOEXEC|EFD_NONBLOCK) in the set. `onSignal(count)` receives the counter, which the loop reads
   * (and so resets) before calling. Writers: `writeEventfd(fd, n)` from sys.ts, or the kernel when registered.
   */
  watchEventfd(onSignal: (count: bigint) => void): { fd: number; watch: Watch } {
    this.ensureOpen();
    const efd = this.adoptFd(eventfdChecked(0, EVENTFD_FLAGS));
    const watch = this.addOwned(efd, EPOLLIN, () => {
      const r = readEventfd(efd);
      if ('count' in r) onSignal(r.count);
      else if (r.errno !== EAGAIN) throw syscallError(r.errno, 'read(eventfd)');
    }, []);
    return { fd: efd, watch };
  }

  /**
   * Closes every watch and fd, wakes the waiter through the control eventfd, lets the pending epoll_wait return and
   * then closes the epoll and control fds. The promise resolves when nothing of the loop is left, and from then on
   * the loop does not keep the process alive. Idempotent.
   */
  close(): Promise<void> {
    if (this.closePromise !== undefined) return this.closePromise;
    this.state = 'closing';
    for (const reg of [...this.registrations.values()]) this.closeRegistration(reg);
    if (this.waiterArmed) {
      this.closePromise = new Promise<void>((resolve) => {
        this.resolveClose = resolve;
      });
      this.wake();
    } else {
      this.finishClose();
      this.closePromise = Promise.resolve();
    }
    return this.closePromise;
  }

  /**
   * process.hrtime.bigint() when the last epoll_wait result reached the JS thread (before any callback of its batch
   * ran): callbacks use it to time their handling from the notification's arrival. 0n before the first wait returns.
   */
  get lastWaitReturnedNs(): bigint {
    return this.waitReturnedNs;
  }

  // ---- for the protocol modules of src/kernel (inotify, v1 event_control, PSI) ----

  /** Throws when the loop is closed or its waiter has failed for good. */
  ensureOpen(): void {
    if (this.state !== 'open') throw new MemlensError('MEMLENS_ERR_IO', 'KernelEventLoop is closed');
    if (this.waiterBroken !== undefined) {
      throw new MemlensError('MEMLENS_ERR_IO', `KernelEventLoop waiter failed: ${describe(this.waiterBroken)}`, {
        cause: this.waiterBroken,
      });
    }
  }

  /** The loop owns `fd` from now on (closed by its watch, by close(), or by releaseFd). Returns fd. */
  adoptFd(fd: number): number {
    this.ownedFds.add(fd);
    return fd;
  }

  /** Closes a fd we own; a failing close(2) is reported, the fd is forgotten either way (Linux frees it regardless). */
  releaseFd(fd: number): void {
    if (!this.ownedFds.delete(fd)) return;
    try {
      closeChecked(fd);
    } catch (err) {
      this.reportError(err);
    }
  }

  /**
   * Puts `fd` (and takes ownership of it and of `extraFds`, even on failure) into the epoll set. `onClosed` runs
   * once when the watch closes, by Watch.close() or loop.close().
   */
  addOwned(
    fd: number,
    events: number,
    onReady: (events: number) => void,
    extraFds: number[],
    onClosed?: () => void,
  ): Watch {
    this.adoptFd(fd);
    for (const x of extraFds) this.adoptFd(x);
    let reg: Registration;
    try {
      this.ensureOpen();
      const token = this.nextToken++;
      epollCtlChecked(this.epollFd, EPOLL_CTL_ADD, fd, events, token);
      reg = { token, fd, extraFds, onReady, closed: false, onClosed };
      this.registrations.set(token, reg);
      this.arm();
    } catch (err) {
      this.releaseFd(fd);
      for (const x of extraFds) this.releaseFd(x);
      throw err;
    }
    const loop = this;
    const r = reg;
    return {
      fd: r.fd,
      get closed() {
        return r.closed;
      },
      close() {
        loop.closeRegistration(r);
      },
    };
  }

  /** Hands an error to onError (or rethrows it on nextTick without one). */
  reportError(err: unknown): void {
    if (this.onError !== undefined) {
      try {
        this.onError(err);
      } catch (handlerErr) {
        process.nextTick(() => {
          throw handlerErr;
        });
      }
      return;
    }
    process.nextTick(() => {
      throw err;
    });
  }

  // ---- internals ----

  private closeOwnedAll(): void {
    for (const fd of [...this.ownedFds]) this.releaseFd(fd);
  }

  private closeRegistration(reg: Registration): void {
    if (reg.closed) return;
    reg.closed = true;
    this.registrations.delete(reg.token);
    if (this.ownedFds.has(reg.fd)) {
      // Closing alone would also drop the fd from the set, but only once no other fd shares the open file.
      if (sys.epoll_ctl(this.epollFd, EPOLL_CTL_DEL, reg.fd, null) < 0) {
        const e = lastErrno();
        // ENOENT/EBADF: already out of the set (the caller closed our fd behind our back). Worth a report.
        this.reportError(syscallError(e, 'epoll_ctl(EPOLL_CTL_DEL)'));
      }
    }
    this.releaseFd(reg.fd);
    for (const x of reg.extraFds) this.releaseFd(x);
    reg.onClosed?.();
    if (this.registrations.size === 0 && this.waiterArmed && this.state === 'open') this.wake();
  }

  private wake(): void {
    const e = writeEventfd(this.controlFd, 1n);
    if (e !== 0 && e !== EAGAIN) this.reportError(syscallError(e, 'write(control eventfd)'));
  }

  private arm(): void {
    if (this.waiterArmed || this.state !== 'open' || this.registrations.size === 0) return;
    if (this.waiterBroken !== undefined) return;
    this.waiterArmed = true;
    sys.epoll_wait_async(this.epollFd, this.eventsBuf, this.maxEvents, -1, (err, n) => this.onWaitDone(err, n));
  }

  private onWaitDone(err: unknown, n: number): void {
    const errno = lastErrno();
    this.waitReturnedNs = process.hrtime.bigint();
    this.waiterArmed = false;
    const errors: unknown[] = [];
    if (err !== null && err !== undefined) {
      errors.push(err);
      this.waitFailures++;
    } else if (n < 0) {
      if (errno !== EINTR) {
        errors.push(syscallError(errno, 'epoll_wait'));
        this.waitFailures++;
      }
    } else {
      this.waitFailures = 0;
      this.dispatch(n, errors);
    }
    if (this.waitFailures >= MAX_CONSECUTIVE_WAIT_FAILURES && this.waiterBroken === undefined) {
      this.waiterBroken = errors[errors.length - 1] ?? new MemlensError('MEMLENS_ERR_IO', 'epoll_wait failed');
    }
    if (this.state === 'closing') this.finishClose();
    else this.arm();
    for (const e of errors) this.reportError(e);
  }

  private dispatch(n: number, errors: unknown[]): void {
    for (const ev of decodeEpollEvents(this.eventsBuf, n)) {
      if (ev.data === CONTROL_TOKEN) {
        if (this.state === 'closed') continue;
        const r = readEventfd(this.controlFd);
        if ('errno' in r && r.errno !== EAGAIN) errors.push(syscallError(r.errno, 'read(control eventfd)'));
        continue;
      }
      const reg = this.registrations.get(ev.data);
      if (reg === undefined || reg.closed) continue;
      try {
        reg.onReady(ev.events);
      } catch (cbErr) {
        errors.push(cbErr);
      }
    }
  }

  private finishClose(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeOwnedAll();
    const resolve = this.resolveClose;
    this.resolveClose = undefined;
    resolve?.();
  }
}
