// The kernel event loop as the rest of memlens uses it: the epoll loop of loop.ts with each protocol's entry point
// (inotify.ts, v1Events.ts, psi.ts) as a method, so kmsg/, oom/, watch/ and cgroupfs/ hold one object.
import { InotifyMux } from './inotify.js';
import type { InotifyEvent } from './inotify.js';
import { EpollLoop } from './loop.js';
import type { KernelEventLoopOptions, Watch } from './loop.js';
import { watchPsiTrigger } from './psi.js';
import type { PsiFire, PsiKind, PsiTriggerResult } from './psi.js';
import { registerV1EventAsync, registerV1Threshold } from './v1Events.js';
import type { V1Signal, V1UsageFile } from './v1Events.js';

export type { InotifyEvent } from './inotify.js';
export type { KernelEventLoopOptions, Watch } from './loop.js';
export type { PsiAttempt, PsiFire, PsiKind, PsiTriggerResult } from './psi.js';
export { PSI_UNPRIVILEGED_WINDOW_US } from './psi.js';
export type { V1Signal, V1UsageFile } from './v1Events.js';
export { EPOLLERR, EPOLLHUP, EPOLLIN, EPOLLPRI } from './sys.js';

export class KernelEventLoop extends EpollLoop {
  private readonly inotify: InotifyMux;

  constructor(opts: KernelEventLoopOptions = {}) {
    super(opts);
    this.inotify = new InotifyMux(this);
  }

  /** See InotifyMux.watch (inotify.ts). */
  watchInotify(path: string, mask: number, onEvent: (ev: InotifyEvent) => void): Watch {
    return this.inotify.watch(path, mask, onEvent);
  }

  /** See InotifyMux.flush (inotify.ts): queued inotify events handled now. */
  flushInotify(): void {
    this.inotify.flush();
  }

  /** Kernel inotify watch descriptors this loop holds right now. */
  inotifyWatchCount(): number {
    return this.inotify.kernelWatchCount();
  }

  /** See watchPsiTrigger (psi.ts). */
  watchPsiTrigger(path: string, kind: PsiKind, stallUs: number, windowUs: number, onFire: (ev: PsiFire) => void): PsiTriggerResult {
    return watchPsiTrigger(this, path, kind, stallUs, windowUs, onFire);
  }

  /** See registerV1Threshold (v1Events.ts). */
  registerV1Threshold(cgroupDir: string, file: V1UsageFile, thresholdBytes: bigint | number, onCross: (sig: V1Signal) => void): Watch {
    return registerV1Threshold(this, cgroupDir, file, thresholdBytes, onCross);
  }

  /**
   * registerV1Threshold (thresholdBytes given) or the OOM notification on memory.oom_control (undefined) with the write to
   * cgroup.event_control on a libuv pool thread: see registerV1EventAsync (v1Events.ts).
   */
  registerV1Async(cgroupDir: string, thresholdBytes: number | undefined, onSignal: (sig: V1Signal) => void): Promise<Watch> {
    return registerV1EventAsync(this, cgroupDir, thresholdBytes === undefined ? 'memory.oom_control' : 'memory.usage_in_bytes', thresholdBytes, onSignal);
  }
}
