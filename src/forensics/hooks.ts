// Rule actions on a process being snapshotted: a signal (the process writes its own dump: a JVM
// thread dump on SIGQUIT, a Node report on SIGUSR2, a Python faulthandler traceback on SIGUSR1),
// or a command whose output is kept in the snapshot (py-spy, jcmd, gdb). A command runs without
// a shell, in its own process group, and is SIGKILLed (the whole group) at its timeout or as soon
// as its output passes the cap: a hung gdb or a command printing 100 MB cannot hold a snapshot.
import { spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { describe, errnoCode } from '../errors.js';
import type { SnapshotRule } from '../config/snapshotRules.js';

export interface CommandResult {
  rule: string;
  kind: 'command';
  argv: string[];
  startedMs: number;
  durationMs: number;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** The output went over max-output: it was cut there and the command killed. */
  truncated: boolean;
  /** Bytes kept (stdout and stderr interleaved as they arrived). */
  outputBytes: number;
  output: string;
  error: string | undefined;
}

export interface SignalResult {
  rule: string;
  kind: 'signal';
  signal: string;
  sent: boolean;
  atMs: number;
  /** Why it was not sent: no handler installed, a Go program, the process gone. */
  skipped: string | undefined;
}

export type ActionResult = CommandResult | SignalResult;

/** The rules that match a process, in config order. */
export function matchingRules(rules: readonly SnapshotRule[], comm: string | undefined, cgroup: string): SnapshotRule[] {
  return rules.filter((r) => (r.comm === undefined || (comm !== undefined && r.comm.test(comm))) && (r.cgroup === undefined || r.cgroup.test(cgroup)));
}

/** `{pid}`, `{comm}` and `{cgroup}` in each argument. */
export function expandArgv(argv: readonly string[], vars: { pid: number; comm: string; cgroup: string }): string[] {
  return argv.map((a) => a.replace(/\{(pid|comm|cgroup)\}/g, (_m, k: 'pid' | 'comm' | 'cgroup') => String(vars[k])));
}

/** Whether the process catches `signal`: bit signum-1 of SigCgt in /proc/PID/status (hex). */
export function catchesSignal(statusText: string, signal: NodeJS.Signals): boolean | undefined {
  const m = /^SigCgt:\s*([0-9a-fA-F]+)$/m.exec(statusText);
  const num = osConstants.signals[signal];
  if (m?.[1] === undefined || num === undefined) return undefined;
  return ((BigInt(`0x${m[1]}`) >> BigInt(num - 1)) & 1n) === 1n;
}

export function sendSignal(rule: string, pid: number, signal: NodeJS.Signals, skipped: string | undefined): SignalResult {
  const atMs = Date.now();
  if (skipped !== undefined) return { rule, kind: 'signal', signal, sent: false, atMs, skipped };
  try {
    process.kill(pid, signal);
    return { rule, kind: 'signal', signal, sent: true, atMs, skipped: undefined };
  } catch (err) {
    return { rule, kind: 'signal', signal, sent: false, atMs, skipped: errnoCode(err) === 'ESRCH' ? 'process gone' : describe(err) };
  }
}

/** Stops of the commands running now (each kills its process group). */
const running = new Set<() => void>();

/** memlens is stopping: kill every rule command still running (their results say so). */
export function stopRunningCommands(): void {
  for (const stop of [...running]) stop();
}

export function runCommand(rule: string, argv: readonly string[], timeoutMs: number, maxOutputBytes: number): Promise<CommandResult> {
  const startedMs = Date.now();
  const t0 = performance.now();
  const chunks: Buffer[] = [];
  let kept = 0;
  let truncated = false;
  let timedOut = false;
  let error: string | undefined;
  return new Promise((resolve) => {
    const [file, ...args] = argv;
    if (file === undefined) {
      resolve({ rule, kind: 'command', argv: [...argv], startedMs, durationMs: 0, exitCode: null, signal: null, timedOut, truncated, outputBytes: 0, output: '', error: 'empty command' });
      return;
    }
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch (err) {
        if (errnoCode(err) !== 'ESRCH') error = `kill: ${describe(err)}`;
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    const stop = (): void => {
      error ??= 'killed: memlens was stopping';
      killGroup();
    };
    running.add(stop);
    const onData = (d: Buffer): void => {
      if (truncated) return;
      const room = maxOutputBytes - kept;
      if (d.length >= room) {
        if (room > 0) chunks.push(d.subarray(0, room));
        kept = maxOutputBytes;
        truncated = d.length > room;
        if (truncated) {
          killGroup();
          child.stdout?.destroy();
          child.stderr?.destroy();
        }
        return;
      }
      chunks.push(d);
      kept += d.length;
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (err) => {
      error = describe(err);
    });
    // 'close' waits for the streams, 'exit' for the process: after a kill the streams may hang on
    // a grandchild that holds the pipe, so the answer is given at exit (plus any data already in).
    let done = false;
    const finish = (code: number | null, sig: string | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      running.delete(stop);
      killGroup(); // what the command left behind in its group
      const output = Buffer.concat(chunks).toString('utf8');
      resolve({
        rule, kind: 'command', argv: [...argv], startedMs, durationMs: performance.now() - t0, exitCode: code, signal: sig,
        timedOut, truncated, outputBytes: kept, output, error,
      });
    };
    child.once('exit', (code, sig) => {
      // Let already-buffered pipe data arrive, but do not wait on a grandchild holding the pipe.
      setTimeout(() => finish(code, sig), 50).unref();
      child.once('close', () => finish(code, sig));
    });
    child.once('error', () => finish(null, null));
  });
}
