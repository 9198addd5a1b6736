// The optional hold (cgroup v1 only, --snapshot.hold): while a snapshot taken on the top threshold
// runs, `oom_kill_disable` is set to 1 in the cgroup's memory.oom_control, so a task that hits the
// limit waits in the memcg OOM waitqueue instead of the killer firing (memory.rst §10). It is
// restored after the capture, after --snapshot.hold-max at the latest, on close, and on exit
// (process 'exit' also runs after an uncaught exception). For a SIGKILL or a power cut, what was
// changed is recorded in --snapshot.dir/.hold.json *before* the change, and a memlens starting up
// restores it. A dir where that record cannot be written means no hold: never change what we
// might not be able to undo. Writing 0 back wakes the waiters (memcg_oom_recover), which retry
// their charge and, if still over the limit, meet the killer then.
import { readFileSync, realpathSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { HostFs } from '../host/hostFs.js';
import type { Logger } from '../log.js';
import { describe, errnoCode } from '../errors.js';
import type { HoldRecord } from './capture.js';
import { readPrivateFile, writePrivateFileAtomic } from './privateDir.js';

interface HeldEntry {
  /** memory.oom_control path (under the sysfs root). */
  file: string;
  cgroup: string;
  setAtMs: number;
  pid: number;
}

export const HOLD_STATE_FILE = '.hold.json';

/** `pid` is a running process (in our pid namespace) whose command line names memlens. */
function isLiveMemlens(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    return /memlens/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
  } catch {
    return false; // gone (ENOENT, ESRCH; a zombie reads empty above) or not ours to read
  }
}

export class OomHold {
  private readonly active = new Map<string, { entry: HeldEntry; timer: NodeJS.Timeout; record: HoldRecord }>();
  private readonly onExit = (): void => this.releaseAll('exit');
  private exitHooked = false;

  constructor(
    private readonly host: HostFs,
    private readonly stateDir: string,
    private readonly log: Logger,
    /** The v1 memory controller's mount directory (under the sysfs root): a record naming anything else is not restored. */
    private readonly mountDir?: string,
  ) {}

  /**
   * The real path of a recorded oom_control file when it is one under the discovered cgroup
   * mount; undefined otherwise. The record is memlens's own, but it sits in a directory: a
   * record that names another file (through a symlink or a crafted path) must not make root
   * write '0' into it.
   */
  private trustedOomControl(file: string): string | undefined {
    if (this.mountDir === undefined || basename(file) !== 'memory.oom_control') return undefined;
    try {
      const real = realpathSync(file);
      const mount = realpathSync(this.mountDir);
      return basename(real) === 'memory.oom_control' && real.startsWith(`${mount}/`) ? real : undefined;
    } catch (err) {
      this.log.debug({ file, err: describe(err) }, 'recorded oom_control not resolvable');
      return undefined;
    }
  }

  private get statePath(): string {
    return join(this.stateDir, HOLD_STATE_FILE);
  }

  /** At start: undo holds a previous memlens left in place (killed before it could restore them). */
  restoreLeftovers(): number {
    let text: string;
    try {
      text = readPrivateFile(this.statePath, 1024 * 1024);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') this.log.error({ path: this.statePath, err: describe(err) }, 'cannot read the hold record');
      return 0;
    }
    let entries: HeldEntry[] = [];
    try {
      const parsed: unknown = JSON.parse(text);
      if (Array.isArray(parsed)) entries = parsed.filter((e): e is HeldEntry => typeof e === 'object' && e !== null && typeof (e as HeldEntry).file === 'string');
    } catch (err) {
      this.log.error({ path: this.statePath, err: describe(err) }, 'hold record is not JSON');
    }
    let restored = 0;
    const live: HeldEntry[] = [];
    for (const e of entries) {
      const real = this.trustedOomControl(e.file);
      if (real === undefined) {
        this.log.error({ file: String(e.file).slice(0, 300) }, 'hold record names a file that is not a memory.oom_control under the cgroup mount: ignored');
        continue;
      }
      if (e.pid !== process.pid && isLiveMemlens(e.pid)) {
        // A memlens still running on this dir holds it and will restore it itself.
        live.push(e);
        this.log.warn({ cgroup: e.cgroup, byPid: e.pid }, 'hold record of a memlens still running: left to it');
        continue;
      }
      try {
        this.host.write(real, '0');
        restored++;
        this.log.warn({ cgroup: e.cgroup, file: e.file, setAtMs: e.setAtMs, byPid: e.pid }, 'restored oom_kill_disable=0 left by an earlier memlens');
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') continue; // the cgroup is gone, and its setting with it
        this.log.error({ file: e.file, err: describe(err) }, 'cannot restore oom_kill_disable left by an earlier memlens');
      }
    }
    if (live.length > 0) {
      try {
        this.writeState(live);
      } catch (err) {
        this.log.error({ path: this.statePath, err: describe(err) }, 'cannot update the hold record');
      }
    } else this.removeState();
    return restored;
  }

  /**
   * Holds the OOM killer of `cgroupDir` off now, for at most `maxMs` or until `release()`.
   * undefined: nothing attempted (a hold of this cgroup is already in place). A record with an
   * `error`: attempted, not set. `release()` restores only this hold, never another's.
   */
  acquire(cgroup: string, cgroupDir: string, maxMs: number): { record: HoldRecord; release: () => void } | undefined {
    const record = this.set(cgroup, cgroupDir, maxMs);
    if (record === undefined) return undefined;
    const file = `${cgroupDir}/memory.oom_control`;
    return { record, release: () => this.release(file, 'done', record) };
  }

  private set(cgroup: string, cgroupDir: string, maxMs: number): HoldRecord | undefined {
    const file = `${cgroupDir}/memory.oom_control`;
    if (this.active.has(file)) return undefined; // held by a capture in flight
    const record: HoldRecord = { cgroup, file, setAtMs: Date.now(), restoredAtMs: undefined, error: undefined };
    let current: string;
    try {
      current = this.host.read(file);
    } catch (err) {
      record.error = `cannot read oom_control: ${describe(err)}`;
      return record;
    }
    if (/^oom_kill_disable 1$/m.test(current)) {
      record.error = 'oom_kill_disable is already 1 (set by someone else): left alone';
      return record;
    }
    const entry: HeldEntry = { file, cgroup, setAtMs: record.setAtMs, pid: process.pid };
    try {
      this.writeState([...[...this.active.values()].map((a) => a.entry), entry]);
    } catch (err) {
      record.error = `no hold: cannot record it in ${this.stateDir} first (${describe(err)})`;
      return record;
    }
    try {
      this.host.write(file, '1');
    } catch (err) {
      record.error = `cannot set oom_kill_disable: ${describe(err)}`;
      this.writeStateQuietly();
      return record;
    }
    if (!this.exitHooked) {
      process.on('exit', this.onExit);
      this.exitHooked = true;
    }
    const timer = setTimeout(() => this.release(file, 'hold-max'), maxMs);
    this.active.set(file, { entry, timer, record });
    this.log.info({ cgroup, maxMs }, 'OOM killer held off while the snapshot is taken');
    return record;
  }

  private release(file: string, why: string, only?: HoldRecord): void {
    const a = this.active.get(file);
    if (a === undefined || (only !== undefined && a.record !== only)) return;
    clearTimeout(a.timer);
    this.active.delete(file);
    try {
      this.host.write(file, '0');
      a.record.restoredAtMs = Date.now();
    } catch (err) {
      // ENOENT: the cgroup is gone. Anything else: the record file stays, the next start retries.
      if (errnoCode(err) !== 'ENOENT') {
        a.record.error = `cannot restore oom_kill_disable: ${describe(err)}`;
        this.log.error({ file, err: describe(err) }, 'cannot restore oom_kill_disable');
        return;
      }
    }
    if (why !== 'exit') this.log.info({ cgroup: a.entry.cgroup, why, heldMs: Date.now() - a.entry.setAtMs }, 'OOM killer hold released');
    this.writeStateQuietly();
  }

  /** Restores every hold in place (close, exit). Synchronous. */
  releaseAll(why: string): void {
    for (const file of [...this.active.keys()]) this.release(file, why);
    if (this.exitHooked && why !== 'exit') {
      process.off('exit', this.onExit);
      this.exitHooked = false;
    }
  }

  heldCount(): number {
    return this.active.size;
  }

  private writeState(entries: HeldEntry[]): void {
    if (entries.length === 0) {
      this.removeState();
      return;
    }
    writePrivateFileAtomic(this.stateDir, HOLD_STATE_FILE, JSON.stringify(entries));
  }

  private writeStateQuietly(): void {
    try {
      this.writeState([...this.active.values()].map((a) => a.entry));
    } catch (err) {
      this.log.error({ path: this.statePath, err: describe(err) }, 'cannot update the hold record');
    }
  }

  private removeState(): void {
    try {
      unlinkSync(this.statePath);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') this.log.error({ path: this.statePath, err: describe(err) }, 'cannot remove the hold record');
    }
  }
}
