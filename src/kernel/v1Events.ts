// cgroup v1 notifications through cgroup.event_control (Documentation/admin-guide/cgroup-v1/memory.rst §9 "Memory
// thresholds" and §10 "OOM Control"): a new eventfd, the watched file opened, and "<efd> <fd> [<argument>]" written to
// the cgroup's cgroup.event_control. The eventfd then sits in the loop's epoll set.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { MemlensError } from '../errors.js';
import { EVENTFD_FLAGS } from './loop.js';
import type { EpollLoop, Watch } from './loop.js';
import {
  EAGAIN,
  EINVAL,
  ENODEV,
  ENOENT,
  EPOLLIN,
  O_RDONLY,
  O_WRONLY,
  eventfdChecked,
  lastErrno,
  openChecked,
  readEventfd,
  sys,
  syscallError,
  writeString,
} from './sys.js';

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

const V1_FILE_READ_BUFFER_BYTES = 4096;
/**
 * One read buffer for every registration: a wake-up reads into it and turns it into a string before
 * onSignal runs, all synchronously on the loop's thread, so no two reads overlap. (A zero-filled 4 KiB
 * buffer per registration was 6 MiB resident with 500 cgroups watched, 3 registrations each.)
 */
const sharedReadBuf = Buffer.alloc(V1_FILE_READ_BUFFER_BYTES);

/**
 * cgroup v1 usage threshold (memory.rst §9): `onCross` runs when usage crosses the threshold in either direction
 * (the kernel checks on its memcg event ratelimit, so approximately) and once more when the cgroup is removed:
 * V1Signal tells which. Closing the watch closes the eventfd (which unregisters the threshold in the kernel) and the
 * file fd.
 */
export function registerV1Threshold(
  loop: EpollLoop,
  cgroupDir: string,
  file: V1UsageFile,
  thresholdBytes: bigint | number,
  onCross: (sig: V1Signal) => void,
): Watch {
  return registerV1Event(loop, cgroupDir, file, thresholdArgument(cgroupDir, file, thresholdBytes), onCross);
}

/** A threshold as cgroup.event_control's argument; throws on anything but a non-negative integer of bytes. */
function thresholdArgument(cgroupDir: string, file: string, thresholdBytes: bigint | number): string {
  const t = typeof thresholdBytes === 'bigint' ? thresholdBytes : Number.isSafeInteger(thresholdBytes) ? BigInt(thresholdBytes) : -1n;
  if (t < 0n) {
    throw new MemlensError('MEMLENS_ERR_CONFIG', `threshold must be a non-negative integer of bytes, got ${String(thresholdBytes)}`, {
      path: join(cgroupDir, file),
    });
  }
  return t.toString();
}

/** The fds of one registration being made: the new eventfd, the watched file, cgroup.event_control; the line to write. */
interface PendingV1Event {
  efd: number;
  fileFd: number;
  ctlFd: number;
  filePath: string;
  controlPath: string;
  line: string;
}

/** Opens what a registration needs (not yet owned by the loop); throws with every fd it opened closed. */
function openV1Event(cgroupDir: string, file: string, argument: string | undefined): PendingV1Event {
  const filePath = join(cgroupDir, file);
  const controlPath = join(cgroupDir, 'cgroup.event_control');
  const efd = eventfdChecked(0, EVENTFD_FLAGS);
  let fileFd: number | undefined;
  try {
    fileFd = openChecked(filePath, O_RDONLY);
    const ctlFd = openChecked(controlPath, O_WRONLY);
    const line = argument === undefined ? `${efd} ${fileFd}` : `${efd} ${fileFd} ${argument}`;
    return { efd, fileFd, ctlFd, filePath, controlPath, line };
  } catch (err) {
    sys.close(efd);
    if (fileFd !== undefined) sys.close(fileFd);
    throw err;
  }
}

/** After the write: the eventfd (and the held file fd) handed to the loop, or every fd closed and the error thrown. */
function finishV1Event(loop: EpollLoop, p: PendingV1Event, writeErrno: number, onSignal: (sig: V1Signal) => void): Watch {
  // The registration does not need the control file to stay open.
  sys.close(p.ctlFd);
  if (writeErrno !== 0) {
    sys.close(p.efd);
    sys.close(p.fileFd);
    throw syscallError(writeErrno, `write "${p.line}"`, p.controlPath);
  }
  const { efd, fileFd: heldFd, filePath } = p;
  const cgroupDir = dirname(filePath);
  const readBuf = sharedReadBuf;
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
  // addOwned takes both fds, and closes them if it throws (a closed loop).
  return loop.addOwned(efd, EPOLLIN, onReady, [heldFd]);
}

function registerV1Event(
  loop: EpollLoop,
  cgroupDir: string,
  file: string,
  argument: string | undefined,
  onSignal: (sig: V1Signal) => void,
): Watch {
  loop.ensureOpen();
  const p = openV1Event(cgroupDir, file, argument);
  return finishV1Event(loop, p, writeString(p.ctlFd, p.line), onSignal);
}

/**
 * registerV1Threshold (thresholdBytes given), or the OOM notification on `memory.oom_control` (undefined; memory.rst
 * §10: signalled when the cgroup hits OOM, and once when it is removed, see V1Signal; EINVAL for the root cgroup; a
 * cgroup already under OOM at registration signals at once), with the write to cgroup.event_control on a libuv pool
 * thread. A usage threshold's write sleeps in the kernel for an RCU grace period (`synchronize_rcu()` in
 * `__mem_cgroup_usage_register_event`, mm/memcontrol-v1.c): made one after another on the JS thread, a burst of new
 * cgroups waits for one grace period after the other and blocks everything else meanwhile; on the pool, the JS thread
 * stays free (registrations of different cgroups may wait at the same time, though on the bench host that did not make
 * a burst's total shorter: bench/RESULTS.md "Arming a burst"). The fds are the
 * caller's until the write returns (the loop takes them only then), so a loop closed meanwhile cannot close a fd that
 * a queued write still names. Resolves to the watch; rejects as the synchronous call throws.
 */
export function registerV1EventAsync(
  loop: EpollLoop,
  cgroupDir: string,
  file: V1UsageFile | 'memory.oom_control',
  thresholdBytes: number | undefined,
  onSignal: (sig: V1Signal) => void,
): Promise<Watch> {
  return new Promise<Watch>((resolve, reject) => {
    // A throw here rejects the promise, as the synchronous call throws.
    const argument = thresholdBytes === undefined ? undefined : thresholdArgument(cgroupDir, file, thresholdBytes);
    loop.ensureOpen();
    const p = openV1Event(cgroupDir, file, argument);
    const b = Buffer.from(p.line, 'utf8');
    sys.write_async(p.ctlFd, b, b.length, (n, errno) => {
      try {
        resolve(finishV1Event(loop, p, n < 0 ? errno : n === b.length ? 0 : EINVAL, onSignal));
      } catch (err) {
        reject(err);
      }
    });
  });
}
