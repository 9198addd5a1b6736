// One epoll set, waited on by one libuv pool thread, for every kernel event source memlens uses: cgroup v1
// threshold and OOM eventfds, inotify (v2 memory.events), PSI triggers, /dev/kmsg.
//
// Why one waiter: each koffi `.async` call holds a libuv pool thread while it blocks (4 by default, shared with fs and
// dns), so a blocking read per fd would starve the pool; one epoll_wait serves them all (KERNEL.md "Reaching these
// from Node.js", TOOLS.md "Kernel interfaces from Node").
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
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MemlensError, describe } from '../errors.js';
import {
  EAGAIN,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EINTR,
  EINVAL,
  ENODEV,
  ENOENT,
  EPOLLERR,
  EPOLLHUP,
  EPOLLIN,
  EPOLLPRI,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_EVENT_SIZE_BYTES,
  IN_CLOEXEC,
  IN_IGNORED,
  IN_MASK_ADD,
  IN_NONBLOCK,
  IN_Q_OVERFLOW,
  IN_UNMOUNT,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDONLY,
  O_RDWR,
  O_WRONLY,
  closeChecked,
  decodeEpollEvents,
  decodeInotifyEvents,
  epollCreateChecked,
  epollCtlChecked,
  errnoName,
  eventfdChecked,
  lastErrno,
  openChecked,
  readEventfd,
  sys,
  syscallError,
  syscallErrno,
  writeEventfd,
  writeString,
} from './sys.js';
import type { InotifyEvent } from './sys.js';

export type { InotifyEvent } from './sys.js';

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

/** What a cgroup v1 eventfd (threshold or oom_control) callback receives. */
export interface V1Signal {
  /**
   * eventfd counter read at this wake-up: how many times the kernel signalled since the last read. One signal is a
   * threshold crossing in either direction, an OOM in the cgroup, or the removal of the cgroup (rmdir signals each
   * registered eventfd once, after which it never fires again).
   */
  count: bigint;
  /**
   * True when the registered file, read again through the fd held since registration, answers ENODEV: the cgroup
   * this registration belongs to has been removed (a same-named cgroup created later is a different one). The caller
   * decides what that means and should close the watch.
   */
  cgroupRemoved: boolean;
  /**
   * The registered file's content read at this wake-up through the held fd (`memory.usage_in_bytes` as a decimal,
   * or the `memory.oom_control` key/value text); undefined when it could not be read (then see cgroupRemoved).
   */
  fileText: string | undefined;
}

export type V1UsageFile = 'memory.usage_in_bytes' | 'memory.memsw.usage_in_bytes';

export type PsiKind = 'some' | 'full';

export interface PsiFire {
  /** EPOLLERR: the trigger's source is gone (e.g. its cgroup was removed). The loop has already closed the watch. */
  gone: boolean;
  /** The raw epoll event bits. */
  events: number;
}

export interface PsiAttempt {
  /** The trigger text written, without the trailing NUL. */
  trigger: string;
  /** undefined when the kernel accepted it, else the errno name. */
  errno: string | undefined;
}

export type PsiTriggerResult =
  | {
      ok: true;
      watch: Watch;
      /** The values the kernel accepted (windowUs differs from the request when the 2 s fallback was used). */
      stallUs: number;
      windowUs: number;
      usedFallbackWindow: boolean;
      attempts: PsiAttempt[];
    }
  | {
      ok: false;
      /**
       * - `no-psi`: the file cannot be opened (ENOENT: no CONFIG_PSI or cgroup without pressure files; EOPNOTSUPP: psi=0)
       * - `open-failed`: any other open error (e.g. EACCES)
       * - `rejected`: every trigger written was refused (errno of the last in `errno`, all in `attempts`)
       * - `bad-arguments`: stall/window not positive integers (nothing was opened)
       */
      reason: 'no-psi' | 'open-failed' | 'rejected' | 'bad-arguments';
      errno: string | undefined;
      message: string;
      attempts: PsiAttempt[];
    };

/** Without CAP_SYS_RESOURCE the kernel accepts only windows that are a multiple of 2 s (kernel/sched/psi.c). */
export const PSI_UNPRIVILEGED_WINDOW_US = 2_000_000;

const CONTROL_TOKEN = 0n;
const EVENTFD_READ_FLAGS = EFD_CLOEXEC | EFD_NONBLOCK;
const INOTIFY_READ_BUFFER_BYTES = 64 * 1024;
const INOTIFY_MAX_READS_PER_WAKEUP = 16;
const V1_FILE_READ_BUFFER_BYTES = 4096;
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

interface InotifySubscriber {
  wd: number;
  mask: number;
  onEvent: (ev: InotifyEvent) => void;
  closed: boolean;
}

type LoopState = 'open' | 'closing' | 'closed';

export class KernelEventLoop {
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

  private inotify: Registration | undefined;
  private readonly inotifySubs = new Map<number, Set<InotifySubscriber>>();
  private inotifySubCount = 0;

  constructor(opts: KernelEventLoopOptions = {}) {
    this.maxEvents = Math.max(1, Math.floor(opts.maxEventsPerWait ?? 64));
    this.eventsBuf = Buffer.alloc(this.maxEvents * EPOLL_EVENT_SIZE_BYTES);
    this.onError = opts.onError;
    this.epollFd = this.own(epollCreateChecked());
    try {
      this.controlFd = this.own(eventfdChecked(0, EVENTFD_READ_FLAGS));
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
    return this.register(fd, events, onReady, []);
  }

  /**
   * A new eventfd (EFD_CLOEXEC|EFD_NONBLOCK) in the set. `onSignal(count)` receives the counter, which the loop reads
   * (and so resets) before calling. Writers: `writeEventfd(fd, n)` from sys.ts, or the kernel when registered.
   */
  watchEventfd(onSignal: (count: bigint) => void): { fd: number; watch: Watch } {
    this.assertOpen();
    const efd = this.own(eventfdChecked(0, EVENTFD_READ_FLAGS));
    const watch = this.register(efd, EPOLLIN, () => {
      const r = readEventfd(efd);
      if ('count' in r) onSignal(r.count);
      else if (r.errno !== EAGAIN) throw syscallError(r.errno, 'read(eventfd)');
    }, []);
    return { fd: efd, watch };
  }

  /**
   * inotify on `path` with `mask` (IN_* bits from sys.ts). Every path shares ONE inotify fd per loop: the kernel
   * limits inotify instances per user (fs.inotify.max_user_instances, 128 by default and 128 here) far more
   * tightly than watches (max_user_watches, about 190k here), and memlens may watch a memory.events file per cgroup.
   * Several watches on the same inode share the kernel's watch descriptor: its mask becomes the union (IN_MASK_ADD)
   * and each callback gets only the bits it asked for, plus IN_IGNORED (the watch is gone: file deleted, cgroup
   * removed; the Watch is then closed), IN_UNMOUNT and IN_Q_OVERFLOW (events were lost; delivered to every watch).
   * The kernel's mask is not narrowed when one of the sharing watches closes; only the last close removes it.
   */
  watchInotify(path: string, mask: number, onEvent: (ev: InotifyEvent) => void): Watch {
    this.assertOpen();
    const ino = this.inotify ?? this.openInotify();
    const wd = sys.inotify_add_watch(ino.fd, path, (mask | IN_MASK_ADD) >>> 0);
    if (wd < 0) {
      const err = syscallError(lastErrno(), 'inotify_add_watch', path);
      if (this.inotifySubCount === 0) this.closeRegistration(ino);
      throw err;
    }
    const sub: InotifySubscriber = { wd, mask: mask >>> 0, onEvent, closed: false };
    let subs = this.inotifySubs.get(wd);
    if (subs === undefined) {
      subs = new Set();
      this.inotifySubs.set(wd, subs);
    }
    subs.add(sub);
    this.inotifySubCount++;
    const loop = this;
    return {
      fd: ino.fd,
      get closed() {
        return sub.closed;
      },
      close() {
        loop.dropInotifySub(sub, true);
      },
    };
  }

  /**
   * A PSI trigger on `path` (/proc/pressure/memory or a v2 cgroup's memory.pressure): opens O_RDWR|O_NONBLOCK,
   * writes `"<kind> <stallUs> <windowUs>\0"` and waits for EPOLLPRI. The trailing NUL matters: the kernel
   * overwrites the last byte of the write with one, so without it the window loses its last digit.
   * On EINVAL with a window that is not a multiple of 2 s it retries once with a 2 s window (the only windows the
   * kernel takes without CAP_SYS_RESOURCE), keeping stallUs if it fits. Never throws for kernel answers: the result
   * says what was accepted, or why nothing was. `onFire` runs at most once per window (kernel rate limit); with
   * `gone: true` (EPOLLERR) the source has disappeared and the watch is already closed.
   */
  watchPsiTrigger(
    path: string,
    kind: PsiKind,
    stallUs: number,
    windowUs: number,
    onFire: (ev: PsiFire) => void,
  ): PsiTriggerResult {
    this.assertOpen();
    const attempts: PsiAttempt[] = [];
    if (!Number.isSafeInteger(stallUs) || !Number.isSafeInteger(windowUs) || stallUs <= 0 || windowUs <= 0) {
      return {
        ok: false,
        reason: 'bad-arguments',
        errno: undefined,
        message: `stallUs and windowUs must be positive integers (got ${stallUs}, ${windowUs})`,
        attempts,
      };
    }
    const fd = sys.open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      const e = lastErrno();
      const name = errnoName(e);
      return {
        ok: false,
        reason: e === ENOENT || name === 'EOPNOTSUPP' ? 'no-psi' : 'open-failed',
        errno: name,
        message: `open ${path}: ${name}`,
        attempts,
      };
    }
    this.own(fd);
    const candidates: Array<[number, number]> = [[stallUs, windowUs]];
    if (windowUs % PSI_UNPRIVILEGED_WINDOW_US !== 0 && stallUs <= PSI_UNPRIVILEGED_WINDOW_US) {
      candidates.push([stallUs, PSI_UNPRIVILEGED_WINDOW_US]);
    }
    let lastErr: number | undefined;
    for (const [s, w] of candidates) {
      const trigger = `${kind} ${s} ${w}`;
      // A rejected write leaves no trigger on the fd, so the same fd takes the next attempt.
      const e = writeString(fd, `${trigger}\0`);
      attempts.push({ trigger, errno: e === 0 ? undefined : errnoName(e) });
      if (e === 0) {
        let watch: Watch | undefined;
        const w2 = this.register(fd, EPOLLPRI, (events) => {
          const gone = (events & EPOLLERR) !== 0;
          // EPOLLERR is level-triggered and permanent: close first so a throwing callback cannot make us spin.
          if (gone) watch?.close();
          onFire({ gone, events });
        }, []);
        watch = w2;
        return { ok: true, watch: w2, stallUs: s, windowUs: w, usedFallbackWindow: w !== windowUs, attempts };
      }
      lastErr = e;
      if (e !== EINVAL) break;
    }
    this.closeOwned(fd);
    const name = lastErr === undefined ? undefined : errnoName(lastErr);
    return {
      ok: false,
      reason: name === 'EOPNOTSUPP' ? 'no-psi' : 'rejected',
      errno: name,
      message: `${path} refused every trigger: ${attempts.map((a) => `"${a.trigger}" -> ${a.errno ?? 'ok'}`).join(', ')}`,
      attempts,
    };
  }

  /**
   * cgroup v1 usage threshold (memory.rst §9): a new eventfd, `file` opened in `cgroupDir`, and
   * `"<efd> <fd> <thresholdBytes>"` written to `cgroup.event_control`. `onCross` runs when usage crosses the
   * threshold in either direction (the kernel checks on its memcg event ratelimit, so approximately) and once more
   * when the cgroup is removed: V1Signal tells which. Closing the watch closes the eventfd (which unregisters the
   * threshold in the kernel) and the file fd.
   */
  registerV1Threshold(
    cgroupDir: string,
    file: V1UsageFile,
    thresholdBytes: bigint | number,
    onCross: (sig: V1Signal) => void,
  ): Watch {
    const t = typeof thresholdBytes === 'bigint' ? thresholdBytes : Number.isSafeInteger(thresholdBytes) ? BigInt(thresholdBytes) : -1n;
    if (t < 0n) {
      throw new MemlensError('MEMLENS_ERR_CONFIG', `threshold must be a non-negative integer of bytes, got ${String(thresholdBytes)}`, {
        path: join(cgroupDir, file),
      });
    }
    return this.registerV1Event(cgroupDir, file, t.toString(), onCross);
  }

  /**
   * cgroup v1 OOM notification (memory.rst §10) on `memory.oom_control`: `onOom` runs when the cgroup hits OOM
   * (and once when the cgroup is removed; see V1Signal). Does not work for the root cgroup (the kernel says EINVAL).
   * If the cgroup is already under OOM at registration, the kernel signals at once.
   */
  registerV1OomControl(cgroupDir: string, onOom: (sig: V1Signal) => void): Watch {
    return this.registerV1Event(cgroupDir, 'memory.oom_control', undefined, onOom);
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
    for (const subs of this.inotifySubs.values()) for (const s of subs) s.closed = true;
    this.inotifySubs.clear();
    this.inotifySubCount = 0;
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

  // ---- internals ----

  private assertOpen(): void {
    if (this.state !== 'open') throw new MemlensError('MEMLENS_ERR_IO', 'KernelEventLoop is closed');
    if (this.waiterBroken !== undefined) {
      throw new MemlensError('MEMLENS_ERR_IO', `KernelEventLoop waiter failed: ${describe(this.waiterBroken)}`, {
        cause: this.waiterBroken,
      });
    }
  }

  private own(fd: number): number {
    this.ownedFds.add(fd);
    return fd;
  }

  /** Closes a fd we own; a failing close(2) is reported, the fd is forgotten either way (Linux frees it regardless). */
  private closeOwned(fd: number): void {
    if (!this.ownedFds.delete(fd)) return;
    try {
      closeChecked(fd);
    } catch (err) {
      this.report(err);
    }
  }

  private closeOwnedAll(): void {
    for (const fd of [...this.ownedFds]) this.closeOwned(fd);
  }

  private register(fd: number, events: number, onReady: (events: number) => void, extraFds: number[]): Watch {
    return this.toWatch(this.registerInternal(fd, events, onReady, extraFds));
  }

  private registerInternal(
    fd: number,
    events: number,
    onReady: (events: number) => void,
    extraFds: number[],
  ): Registration {
    this.own(fd);
    for (const x of extraFds) this.own(x);
    try {
      this.assertOpen();
      const token = this.nextToken++;
      epollCtlChecked(this.epollFd, EPOLL_CTL_ADD, fd, events, token);
      const reg: Registration = { token, fd, extraFds, onReady, closed: false, onClosed: undefined };
      this.registrations.set(token, reg);
      this.arm();
      return reg;
    } catch (err) {
      this.closeOwned(fd);
      for (const x of extraFds) this.closeOwned(x);
      throw err;
    }
  }

  private toWatch(reg: Registration): Watch {
    const loop = this;
    return {
      fd: reg.fd,
      get closed() {
        return reg.closed;
      },
      close() {
        loop.closeRegistration(reg);
      },
    };
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
        this.report(syscallError(e, 'epoll_ctl(EPOLL_CTL_DEL)'));
      }
    }
    this.closeOwned(reg.fd);
    for (const x of reg.extraFds) this.closeOwned(x);
    reg.onClosed?.();
    if (this.registrations.size === 0 && this.waiterArmed && this.state === 'open') this.wake();
  }

  private wake(): void {
    const e = writeEventfd(this.controlFd, 1n);
    if (e !== 0 && e !== EAGAIN) this.report(syscallError(e, 'write(control eventfd)'));
  }

  private arm(): void {
    if (this.waiterArmed || this.state !== 'open' || this.registrations.size === 0) return;
    if (this.waiterBroken !== undefined) return;
    this.waiterArmed = true;
    sys.epoll_wait_async(this.epollFd, this.eventsBuf, this.maxEvents, -1, (err, n) => this.onWaitDone(err, n));
  }

  /**
   * process.hrtime.bigint() when the last epoll_wait result reached the JS thread (before any callback of its batch
   * ran): callbacks use it to time their handling from the notification's arrival. 0n before the first wait returns.
   */
  get lastWaitReturnedNs(): bigint {
    return this.waitReturnedNs;
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
    for (const e of errors) this.report(e);
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

  private report(err: unknown): void {
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

  private openInotify(): Registration {
    const ifd = sys.inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ifd < 0) throw syscallError(lastErrno(), 'inotify_init1');
    const buf = Buffer.alloc(INOTIFY_READ_BUFFER_BYTES);
    const reg = this.registerInternal(ifd, EPOLLIN, () => this.drainInotify(ifd, buf), []);
    reg.onClosed = () => {
      if (this.inotify === reg) this.inotify = undefined;
    };
    this.inotify = reg;
    return reg;
  }

  private drainInotify(ifd: number, buf: Buffer): void {
    for (let i = 0; i < INOTIFY_MAX_READS_PER_WAKEUP; i++) {
      if (this.inotify === undefined || this.inotify.fd !== ifd) return;
      const n = sys.read(ifd, buf, buf.length);
      if (n < 0) {
        const e = lastErrno();
        if (e === EAGAIN) return;
        throw syscallError(e, 'read(inotify)');
      }
      if (n === 0) return;
      for (const ev of decodeInotifyEvents(buf, n)) this.deliverInotify(ev);
    }
  }

  private deliverInotify(ev: InotifyEvent): void {
    const always = IN_IGNORED | IN_UNMOUNT | IN_Q_OVERFLOW;
    const targets =
      ev.wd === -1 ? [...this.inotifySubs.values()].flatMap((s) => [...s]) : [...(this.inotifySubs.get(ev.wd) ?? [])];
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
      for (const sub of this.inotifySubs.get(ev.wd) ?? []) this.dropInotifySub(sub, false);
    }
    if (firstErr.length > 0) throw firstErr[0];
  }

  private dropInotifySub(sub: InotifySubscriber, removeKernelWatch: boolean): void {
    if (sub.closed) return;
    sub.closed = true;
    this.inotifySubCount--;
    const subs = this.inotifySubs.get(sub.wd);
    subs?.delete(sub);
    if (subs !== undefined && subs.size === 0) {
      this.inotifySubs.delete(sub.wd);
      const ino = this.inotify;
      if (removeKernelWatch && ino !== undefined && sys.inotify_rm_watch(ino.fd, sub.wd) < 0) {
        const e = lastErrno();
        // EINVAL: the kernel already dropped the wd and its IN_IGNORED is still queued. Not an error.
        if (e !== EINVAL) this.report(syscallError(e, 'inotify_rm_watch'));
      }
    }
    if (this.inotifySubCount === 0 && this.inotify !== undefined) this.closeRegistration(this.inotify);
  }

  private registerV1Event(
    cgroupDir: string,
    file: string,
    argument: string | undefined,
    onSignal: (sig: V1Signal) => void,
  ): Watch {
    this.assertOpen();
    const filePath = join(cgroupDir, file);
    const controlPath = join(cgroupDir, 'cgroup.event_control');
    const efd = this.own(eventfdChecked(0, EVENTFD_READ_FLAGS));
    let fileFd: number | undefined;
    let ctlFd: number | undefined;
    try {
      fileFd = this.own(openChecked(filePath, O_RDONLY));
      ctlFd = this.own(openChecked(controlPath, O_WRONLY));
      const line = argument === undefined ? `${efd} ${fileFd}` : `${efd} ${fileFd} ${argument}`;
      const e = writeString(ctlFd, line);
      if (e !== 0) throw syscallError(e, `write "${line}"`, controlPath);
    } catch (err) {
      this.closeOwned(efd);
      if (fileFd !== undefined) this.closeOwned(fileFd);
      throw err;
    } finally {
      // The registration does not need the control file to stay open.
      if (ctlFd !== undefined) this.closeOwned(ctlFd);
    }
    const heldFd = fileFd;
    const readBuf = Buffer.alloc(V1_FILE_READ_BUFFER_BYTES);
    const onReady = (): void => {
      const r = readEventfd(efd);
      if ('errno' in r) {
        if (r.errno === EAGAIN) return;
        throw syscallError(r.errno, 'read(eventfd)', filePath);
      }
      // Read through the fd held since registration: it stays bound to this cgroup even if the name is reused.
      const n = sys.pread(heldFd, readBuf, readBuf.length, 0);
      const readErrno = n < 0 ? lastErrno() : 0;
      onSignal({
        count: r.count,
        cgroupRemoved: n < 0 && (readErrno === ENODEV || (readErrno === ENOENT && !existsSync(cgroupDir))),
        fileText: n >= 0 ? readBuf.toString('utf8', 0, n) : undefined,
      });
    };
    return this.toWatch(this.registerInternal(efd, EPOLLIN, onReady, [heldFd]));
  }
}
/** The errno name of an error thrown by this module (re-exported for callers that import only the loop). */
export { syscallErrno };
export { EPOLLIN, EPOLLPRI, EPOLLERR, EPOLLHUP };
