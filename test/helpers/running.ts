// A real memlens (`node bin/memlens.js serve ...`) as a child process, for tests that attack it
// from outside: waits for its "memlens listening" log line and gives the port it got.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// build/test/helpers/running.js -> the repository root.
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(ROOT, 'bin', 'memlens.js');

export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('MEMLENS_') || k.startsWith('NODE_TEST')) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export interface Running {
  child: ChildProcess;
  port: number;
  /** Everything memlens wrote on stderr so far (its JSON log). */
  log(): string;
  stop(): Promise<void>;
}

/** Starts memlens on 127.0.0.1 with a free port; rejects with its stderr if it exits or does not listen in time. */
export function startMemlens(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Running> {
  const child = spawn(process.execPath, [BIN, '--web.listen-address=127.0.0.1:0', '--log.level=info', ...args], { cwd: ROOT, env: cleanEnv(opts.env), stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop().then(() => reject(new Error(`memlens did not listen in time:\n${err}`)));
    }, opts.timeoutMs ?? 30_000);
    const onData = (): void => {
      const m = /"address":"127\.0\.0\.1:(\d+)"[^\n]*"msg":"memlens listening"/.exec(err);
      if (m?.[1] === undefined) return;
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      resolve({ child, port: Number(m[1]), log: () => err, stop });
    };
    child.stderr?.on('data', onData);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`memlens exited (${code ?? sig ?? '?'}) before listening:\n${err}`));
    });
  });
}

/** memlens run to completion (bad flags/config exit at once): exit status and stderr. */
export function runMemlens(args: string[], env: Record<string, string> = {}): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, '--web.listen-address=127.0.0.1:0', ...args], { cwd: ROOT, env: cleanEnv(env), encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
  if (r.error !== undefined) throw r.error;
  return { status: r.status, stderr: r.stderr };
}
