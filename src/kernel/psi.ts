// PSI triggers on the kernel loop (Documentation/accounting/psi.rst "Monitoring for pressure thresholds"): the
// pressure file opened O_RDWR, "<some|full> <stall us> <window us>" written, EPOLLPRI waited for.
import type { EpollLoop, Watch } from './loop.js';
import {
  EINVAL,
  ENOENT,
  EPOLLERR,
  EPOLLPRI,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  errnoName,
  lastErrno,
  sys,
  writeString,
} from './sys.js';

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

/**
 * A PSI trigger on `path` (/proc/pressure/memory or a v2 cgroup's memory.pressure): opens O_RDWR|O_NONBLOCK,
 * writes `"<kind> <stallUs> <windowUs>\0"` and waits for EPOLLPRI. The trailing NUL matters: the kernel
 * overwrites the last byte of the write with one, so without it the window loses its last digit.
 * On EINVAL with a window that is not a multiple of 2 s it retries once with a 2 s window (the only windows the
 * kernel takes without CAP_SYS_RESOURCE), keeping stallUs if it fits. Never throws for kernel answers: the result
 * says what was accepted, or why nothing was. `onFire` runs at most once per window (kernel rate limit); with
 * `gone: true` (EPOLLERR) the source has disappeared and the watch is already closed.
 */
export function watchPsiTrigger(
  loop: EpollLoop,
  path: string,
  kind: PsiKind,
  stallUs: number,
  windowUs: number,
  onFire: (ev: PsiFire) => void,
): PsiTriggerResult {
  loop.ensureOpen();
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
  loop.adoptFd(fd);
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
      const w2 = loop.addOwned(fd, EPOLLPRI, (events) => {
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
  loop.releaseFd(fd);
  const name = lastErr === undefined ? undefined : errnoName(lastErr);
  return {
    ok: false,
    reason: name === 'EOPNOTSUPP' ? 'no-psi' : 'rejected',
    errno: name,
    message: `${path} refused every trigger: ${attempts.map((a) => `"${a.trigger}" -> ${a.errno ?? 'ok'}`).join(', ')}`,
    attempts,
  };
}
