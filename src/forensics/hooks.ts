// Rule actions on a process being snapshotted: a signal (the process writes its own dump: a JVM
// thread dump on SIGQUIT, a Node report on SIGUSR2, a Python faulthandler traceback on SIGUSR1),
// or a command whose output is kept in the snapshot (py-spy, jcmd, gdb). A command runs without
// a shell, in its own process group, and is SIGKILLed (the whole group) at its timeout or as soon
// as its output passes the cap: a hung gdb or a command printing 100 MB cannot hold a snapshot.
//
// The process's fields reach a command as environment variables (MEMLENS_PID, MEMLENS_COMM,
// MEMLENS_CGROUP) in an otherwise minimal environment (memlens's own is never inherited). The
// `{comm}` and `{cgroup}` placeholders are still expanded in argv, but only with values that
// cannot turn into an option or a path: comm is chosen by the process itself (prctl PR_SET_NAME,
// /proc/self/comm), so a comm starting with '-' or holding '/' (`--help`, `../../etc/hosts`)
// does not run the command. The command is started through util-linux's `setpriv --pdeathsig
// KILL`: the kernel kills it if memlens dies without cleaning up (kill -9, OOM), since Node's
// spawn offers no hook to call prctl(PR_SET_PDEATHSIG) in the child itself.
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
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

const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why `value` may not be put into a command's argv for `{name}`; undefined when it may. */
export function unsafeArgValue(name: 'pid' | 'comm' | 'cgroup', value: string): string | undefined {
  if (name === 'pid') return /^\d+$/.test(value) ? undefined : 'not a pid';
  if (value === '') return `${name} is empty`;
  if (CONTROL.test(value)) return `${name} holds control characters`;
  if (name === 'comm') {
    if (value.startsWith('-')) return 'comm starts with "-" (it would read as an option)';
    if (value.includes('/')) return 'comm holds "/" (it would read as a path)';
    if (value === '.' || value === '..') return 'comm is a path component';
    return undefined;
  }
  if (!value.startsWith('/') || value.split('/').some((p) => p === '.' || p === '..')) return 'not a canonical cgroup path';
  return undefined;
}

/**
 * `{pid}`, `{comm}` and `{cgroup}` in each argument; `error` (and no argv) when a value used is
 * unsafe as an argument (see unsafeArgValue): the command is then not run.
 */
export function expandArgv(argv: readonly string[], vars: { pid: number; comm: string; cgroup: string }): { argv: string[]; error: undefined } | { argv: undefined; error: string } {
  let error: string | undefined;
  const out = argv.map((a) =>
    a.replace(/\{(pid|comm|cgroup)\}/g, (_m, k: 'pid' | 'comm' | 'cgroup') => {
      const v = String(vars[k]);
      const why = unsafeArgValue(k, v);
      if (why !== undefined) error ??= `not run: ${why}; the command can read $MEMLENS_${k.toUpperCase()} instead`;
      return v;
    }),
  );
  return error === undefined ? { argv: out, error: undefined } : { argv: undefined, error };
}

/** The whole environment of a rule command: a fixed PATH and the process's fields. */
export function commandEnv(vars: { pid: number; comm: string; cgroup: string }, rule: string): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LC_ALL: 'C',
    MEMLENS_PID: String(vars.pid),
    MEMLENS_COMM: vars.comm,
    MEMLENS_CGROUP: vars.cgroup,
    MEMLENS_RULE: rule,
  };
}

/** util-linux setpriv (Debian: essential), which sets PR_SET_PDEATHSIG before it execs the command. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** The executable `file` names (absolute, or looked up in PATH as execvp does); undefined when there is none. */
export function resolveExecutable(file: string, path: string): string | undefined {
  const candidates = file.includes('/') ? [file] : path.split(':').filter((d) => d !== '').map((d) => `${d}/${file}`);
  for (const c of candidates) {
    try {
      accessSync(c, fsConstants.X_OK);
      return c;
    } catch {
      // not there or not executable: the next PATH entry
    }
  }
  return undefined;
}

/** A result for a command that was not started (unsafe argument, output budget used up). */
export function notRun(rule: string, argv: readonly string[], error: string): CommandResult {
  return { rule, kind: 'command', argv: [...argv], startedMs: Date.now(), durationMs: 0, exitCode: null, signal: null, timedOut: false, truncated: false, outputBytes: 0, output: '', error };
}

/** Output bytes still allowed to all commands of one snapshot together (--snapshot.max-hook-output). */
export interface OutputBudget {
  remaining: number;
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

export function runCommand(
  rule: string,
  argv: readonly string[],
  timeoutMs: number,
  maxOutputBytes: number,
  o: { env?: Record<string, string>; budget?: OutputBudget } = {},
): Promise<CommandResult> {
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
    if (o.budget !== undefined && o.budget.remaining <= 0) {
      resolve(notRun(rule, argv, 'not run: this snapshot\'s command output budget (--snapshot.max-hook-output) is used up'));
      return;
    }
    const env = o.env ?? { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
    // Resolved here, not by setpriv: a missing command is an ENOENT error in the result, as without the wrapper.
    const exe = resolveExecutable(file, env['PATH'] ?? '');
    if (exe === undefined) {
      resolve(notRun(rule, argv, `spawn ${file} ENOENT`));
      return;
    }
    const [cmd, cmdArgs] = SETPRIV === undefined ? [exe, args] : [SETPRIV, ['--pdeathsig', 'KILL', '--', exe, ...args]];
    const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env });
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
      const room = Math.min(maxOutputBytes - kept, o.budget?.remaining ?? Infinity);
      if (d.length >= room) {
        if (room > 0) chunks.push(d.subarray(0, room));
        kept += room;
        if (o.budget !== undefined) o.budget.remaining -= room;
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
      if (o.budget !== undefined) o.budget.remaining -= d.length;
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
