// Shared by the cgroup v2 guest tests (test/v2/*.test.ts): the guard, cgroup file helpers, workload
// processes moved into a cgroup before they allocate, /dev/kmsg reading, the exporter's config.
// Runs only inside the VM (test/vm/init.sh sets MEMLENS_IN_VM=1); on the host every test skips.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type Config } from '../../src/config/load.js';
import { OPTIONS } from '../../src/config/options.js';

export const inVm = process.env['MEMLENS_IN_VM'] === '1';
export const skip: string | false = inVm ? false : 'runs only inside the cgroup v2 VM (node test/vm/run-vm.mjs; MEMLENS_IN_VM=1)';
export const CG_ROOT = '/sys/fs/cgroup';
export const MiB = 1024 * 1024;

export function read(path: string): string {
  return readFileSync(path, 'utf8');
}

export function readInt(path: string): number {
  const t = read(path).trim();
  assert.match(t, /^\d+$/, `${path}: ${t}`);
  return Number(t);
}

/** `key value` lines (memory.events, memory.stat) as a map. */
export function keyed(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.split(' ');
    if (k !== undefined && k !== '' && v !== undefined) m.set(k, Number(v));
  }
  return m;
}

/** memory.pressure's `some`/`full` total= values (microseconds). */
export function pressureTotals(text: string): { some: number; full: number } {
  const total = (kind: string): number => {
    const m = new RegExp(`^${kind} .* total=(\\d+)$`, 'm').exec(text);
    assert.ok(m?.[1] !== undefined, `no ${kind} line in memory.pressure: ${text}`);
    return Number(m[1]);
  };
  return { some: total('some'), full: total('full') };
}

/** A `Key:   123 kB` field of /proc/PID/status or smaps_rollup, in bytes. */
export function kbField(text: string, key: string, where: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(text);
  if (m?.[1] === undefined) throw new Error(`${where}: no ${key} line`);
  return Number(m[1]) * 1024;
}

/** mkdir under /sys/fs/cgroup (`rel` like `mlp/app`); a leftover of an earlier run is removed first. */
export function makeCgroup(rel: string): string {
  const dir = `${CG_ROOT}/${rel}`;
  if (existsSync(dir)) removeTreeSync(dir);
  mkdirSync(dir);
  return dir;
}

export function writeCg(dir: string, file: string, value: string): void {
  writeFileSync(`${dir}/${file}`, value);
}

function removeTreeSync(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTreeSync(`${dir}/${e.name}`);
  rmdirSync(dir);
}

/** rmdir bottom-up; retried for a while (a killed process takes a moment to leave its cgroup). */
export async function removeTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) await removeTree(`${dir}/${e.name}`);
  for (let i = 0; ; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || i >= 100) throw new Error(`rmdir ${dir}: ${code ?? String(err)}; cgroup.procs: ${read(`${dir}/cgroup.procs`).trim()}`);
      await sleep(100);
    }
  }
}

/** The cgroup v2 path of a process (the `0::` line of /proc/PID/cgroup). */
export function cgroupOf(pid: number): string | undefined {
  return read(`/proc/${pid}/cgroup`)
    .split('\n')
    .find((l) => l.startsWith('0::'))
    ?.slice(3);
}

/**
 * A node workload, started paused: it names itself (comm), prints `ready`, and on a line on stdin does
 * its work (WORK below, with env MLW_*) and prints `done`. It then stays alive until killed.
 * Everything it allocates after `go` is charged to the cgroup it was moved into in between.
 */
export interface Workload {
  child: ChildProcessWithoutNullStreams;
  pid: number;
  exited: Promise<{ at: number; code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

const koffiPath = createRequire(import.meta.url).resolve('koffi');

/**
 * MLW_ANON_MIB: 1 MiB buffers, every byte written (Buffer.alloc with a fill), kept;
 * MLW_MAP: a file mapped MAP_SHARED|MAP_POPULATE through koffi (node has no mmap), kept;
 * MLW_FOREVER=1: keep allocating 1 MiB buffers until killed; after MLW_SLOW_AFTER_MIB of them, one every
 *   MLW_SLOW_MS (a synchronous sleep): the last stretch to the limit then spans several watcher polls.
 *   With MLW_RATE_MIB_S instead: paced to that rate by a deadline per MiB (MiB i is due at i / rate seconds after go;
 *   it sleeps only when ahead), so the time spent allocating does not add to the pace: the ramp is the asked rate
 *   whenever the guest can allocate faster than that, and as fast as it can otherwise.
 */
const WORK = String.raw`
const fs = require('node:fs');
fs.writeFileSync('/proc/self/comm', process.env.MLW_COMM);
const keep = [];
process.stdin.once('data', () => {
  const anon = Number(process.env.MLW_ANON_MIB || 0);
  for (let i = 0; i < anon; i++) keep.push(Buffer.alloc(1 << 20, 0x5a));
  if (process.env.MLW_MAP) {
    const koffi = require(process.env.MLW_KOFFI);
    const mmap = koffi.load('libc.so.6').func('intptr_t mmap(intptr_t addr, size_t len, int prot, int flags, int fd, intptr_t off)');
    const fd = fs.openSync(process.env.MLW_MAP, 'r');
    const size = fs.fstatSync(fd).size;
    const p = mmap(0, size, 1 /* PROT_READ */, 0x1 | 0x8000 /* MAP_SHARED | MAP_POPULATE */, fd, 0);
    if (p === -1 || p === -1n) throw new Error('mmap failed');
    keep.push(p);
  }
  process.stdout.write('done\n');
  if (process.env.MLW_FOREVER === '1') {
    const slowAfter = Number(process.env.MLW_SLOW_AFTER_MIB || Infinity);
    const slowMs = Number(process.env.MLW_SLOW_MS || 0);
    const rate = Number(process.env.MLW_RATE_MIB_S || 0);
    const nap = new Int32Array(new SharedArrayBuffer(4));
    const t0 = performance.now();
    for (let i = 0; ; i++) {
      if (rate > 0) {
        const ahead = t0 + (i * 1000) / rate - performance.now();
        if (ahead > 0) Atomics.wait(nap, 0, 0, ahead);
      }
      keep.push(Buffer.alloc(1 << 20, 0x5a));
      if (i >= slowAfter && slowMs > 0) Atomics.wait(nap, 0, 0, slowMs);
    }
  }
});
process.stdout.write('ready\n');
`;

function waitLine(w: Workload, line: string, ms: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`workload ${w.pid}: no "${line}" after ${ms} ms; stderr: ${w.stderr()}`)), ms);
    const onData = (d: string): void => {
      out += d;
      if (out.split('\n').includes(line)) {
        clearTimeout(timer);
        w.child.stdout.off('data', onData);
        resolve();
      }
    };
    w.child.stdout.on('data', onData);
    void w.exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`workload ${w.pid} exited (${e.code ?? e.signal}) before "${line}"; stderr: ${w.stderr()}`));
    });
  });
}

export async function startWorkload(comm: string, env: Record<string, string>): Promise<Workload> {
  const child = spawn(process.execPath, ['-e', WORK], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env, MLW_COMM: comm, MLW_KOFFI: koffiPath },
  });
  const exited = new Promise<{ at: number; code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ at: performance.now(), code, signal }));
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.setEncoding('utf8');
  if (child.pid === undefined) throw new Error('workload has no pid');
  const w: Workload = { child, pid: child.pid, exited, stderr: () => stderr };
  await waitLine(w, 'ready', 30_000);
  return w;
}

/** Moves the paused workload into `dir` (cgroup.procs), checks it is there, lets it go. */
export async function moveAndGo(w: Workload, dir: string, path: string, waitDone = true): Promise<void> {
  writeCg(dir, 'cgroup.procs', String(w.pid));
  assert.equal(cgroupOf(w.pid), path, `workload ${w.pid} is in ${path} before it allocates`);
  const done = waitDone ? waitLine(w, 'done', 60_000) : Promise.resolve();
  w.child.stdin.write('go\n');
  await done;
}

/** SIGKILL (if still running) and wait for the exit. */
export async function stopWorkload(w: Workload): Promise<void> {
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  await Promise.race([w.exited, sleep(10_000, undefined, { ref: false })]);
  w.child.stdin.destroy();
}


export { findKilledLine, type KernelKilled } from '../helpers/kmsg.js';

export function hasFlag(flag: string): boolean {
  return OPTIONS.some((o) => o.flag === flag);
}

/** The exporter's config: the given flags, plus --snapshot.dir under /tmp where that flag exists. */
export function exporterConfig(port: number, extra: readonly string[]): Config {
  const argv = ['--web.listen-address', `127.0.0.1:${port}`, '--collect.min-interval', '0s', ...extra];
  if (hasFlag('snapshot.dir')) argv.push('--snapshot.dir', `/tmp/memlens-snapshots-${port}`);
  const parsed = loadConfig(argv, {});
  assert.equal(parsed.kind, 'run');
  return parsed.config;
}

/** Debug: report what keeps this test file's process alive, if it lingers after its tests. */
export function reportLingering(file: string): void {
  const t0 = Date.now();
  const timer = setInterval(() => {
    console.log(`${file}: still alive ${Date.now() - t0} ms after cleanup: ${process.getActiveResourcesInfo().join(', ')}`);
  }, 5000);
  timer.unref();
}

function causeOf(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && parts.length < 4; e = (e as { cause?: unknown }).cause) {
    const x = e as { name?: string; code?: string; message?: string };
    parts.push(`${x.name ?? 'Error'}${x.code === undefined ? '' : ` ${x.code}`}: ${x.message ?? String(e)}`);
  }
  return parts.join(' <- ');
}

/**
 * GET on a fresh connection (agent: false, Connection: close); a failure names its cause chain.
 * Not fetch: its keep-alive reuse got ECONNRESET ('read ECONNRESET' on a reused socket) on 2 of about 6
 * guest runs, a scrape or two after a slow (2-4 s under TCG) one. Client and server share one event loop
 * here, and a request can be written to a socket whose keep-alive timeout the server handles in the same
 * loop turn; a fresh connection per request keeps that race out of these tests.
 */
export function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) => reject(new Error(`GET ${url}: response failed: ${causeOf(err)}`, { cause: err })));
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 30 s')));
    req.on('error', (err) => reject(new Error(`GET ${url} failed: ${causeOf(err)}`, { cause: err })));
  });
}
