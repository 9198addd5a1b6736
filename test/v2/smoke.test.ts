// Smoke test of the cgroup v2 VM (test/vm/): proves the guest is a real cgroup v2 kernel with the
// memory controller, that a memory.max limit OOM-kills a process, that the kill is counted in
// memory.events and logged in /dev/kmsg, and records what this kernel does with memory.peak and PSI.
//
// Runs only inside the VM (its init sets MEMLENS_IN_VM=1); on the host every test skips, since the
// host's memory controller is cgroup v1. test/vm/vm.test.ts boots the VM from `npm test`.
// memlens.failtest=1 on the kernel command line (MEMLENS_FAILTEST=1) adds a test that fails on purpose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmdirSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { release } from 'node:os';
import koffi from 'koffi';
import { kmsgRecords } from '../helpers/kmsg.js';

const inVm = process.env['MEMLENS_IN_VM'] === '1';
const skip = inVm ? false : 'runs only inside the cgroup v2 VM (node test/vm/run-vm.mjs; MEMLENS_IN_VM=1)';
const ROOT = '/sys/fs/cgroup';
const CG = `${ROOT}/t1`;
const MiB = 1024 * 1024;

function read(path: string): string {
  return readFileSync(path, 'utf8');
}

/** `key value` lines (memory.events, memory.stat) as a map. */
function keyed(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.split(' ');
    if (k !== undefined && k !== '' && v !== undefined) m.set(k, Number(v));
  }
  return m;
}

/** Reads an open fd from offset 0 (kernfs files re-generate their contents on a read at 0). */
function preadAll(fd: number): string {
  const buf = Buffer.alloc(4096);
  const n = readSync(fd, buf, 0, buf.length, 0);
  return buf.subarray(0, n).toString('utf8');
}


function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}

test('the guest runs a cgroup v2 kernel with the memory controller', { skip }, (t) => {
  t.diagnostic(`kernel ${release()}`);
  const mount = read('/proc/mounts')
    .split('\n')
    .find((l) => l.split(' ')[1] === ROOT);
  assert.ok(mount !== undefined, `nothing mounted at ${ROOT}`);
  assert.equal(mount.split(' ')[2], 'cgroup2', `${ROOT} is ${mount}`);
  assert.ok(read(`${ROOT}/cgroup.controllers`).split(/\s+/).includes('memory'), 'memory not in cgroup.controllers');
  assert.ok(read(`${ROOT}/cgroup.subtree_control`).split(/\s+/).includes('memory'), 'memory not enabled for children');
  assert.ok(existsSync('/proc/pressure/memory'), 'no /proc/pressure/memory (psi=1 missing?)');
});

test('a 64 MiB memory.max OOM-kills a 128 MiB allocation; memory.events and /dev/kmsg show it', { skip, timeout: 120_000 }, async (t) => {
  if (existsSync(CG)) rmdirSync(CG);
  mkdirSync(CG);
  writeFileSync(`${CG}/memory.max`, String(64 * MiB));
  assert.equal(read(`${CG}/memory.max`).trim(), String(64 * MiB));
  for (const f of ['memory.current', 'memory.events', 'memory.peak', 'memory.pressure', 'memory.stat']) {
    assert.ok(existsSync(`${CG}/${f}`), `${CG}/${f} missing`);
  }
  assert.equal(keyed(read(`${CG}/memory.events`)).get('oom_kill'), 0);

  // The shell moves itself into t1, then becomes node: the pid we spawn is the pid that gets killed.
  const alloc = 'const a = []; for (let i = 0; i < 128; i++) a.push(Buffer.alloc(1 << 20, 1)); console.log("survived")';
  const child = spawn('/bin/sh', ['-c', `echo $$ > ${CG}/cgroup.procs && exec node -e '${alloc}'`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (c, s) => resolve({ code: c, signal: s })),
  );
  const pid = child.pid;
  assert.ok(pid !== undefined);
  t.diagnostic(`child ${pid} ended: code=${code} signal=${signal}`);
  assert.equal(signal, 'SIGKILL', `expected an OOM kill, got code=${code} signal=${signal}; output: ${output}`);

  const events = keyed(read(`${CG}/memory.events`));
  t.diagnostic(`memory.events: ${[...events].map(([k, v]) => `${k}=${v}`).join(' ')}`);
  assert.equal(events.get('oom_kill'), 1);
  assert.ok((events.get('oom') ?? 0) >= 1);
  assert.ok((events.get('max') ?? 0) >= 1);

  const killed = kmsgRecords().filter((r) => r.includes(`Killed process ${pid} `));
  assert.equal(killed.length, 1, `no single "Killed process ${pid}" record in /dev/kmsg`);
  t.diagnostic(`/dev/kmsg: ${killed[0]?.trim()}`);
  assert.match(killed[0] ?? '', /Memory cgroup out of memory: Killed process \d+ \(node\)/);
});

test('memory.peak: value after the OOM, and whether this kernel resets it per fd', { skip }, (t) => {
  assert.ok(existsSync(CG), 'needs the cgroup of the previous test');
  const peak = Number(read(`${CG}/memory.peak`).trim());
  const current = Number(read(`${CG}/memory.current`).trim());
  t.diagnostic(`memory.peak=${peak} memory.current=${current}`);
  assert.ok(peak > 48 * MiB && peak <= 64 * MiB, `memory.peak ${peak} not near the 64 MiB limit`);

  let answer: string;
  let fd: number | undefined;
  try {
    fd = openSync(`${CG}/memory.peak`, constants.O_RDWR);
    const before = Number(preadAll(fd).trim());
    writeSync(fd, 'reset\n');
    const after = Number(preadAll(fd).trim());
    const otherFd = Number(read(`${CG}/memory.peak`).trim());
    answer =
      after < before
        ? `yes: per-fd reset works (this fd ${before} -> ${after}; a fresh open still reads ${otherFd})`
        : `no: write accepted but the value did not drop (${before} -> ${after})`;
  } catch (err) {
    answer = `no: ${fd === undefined ? 'open O_RDWR' : 'write "reset"'} failed with ${errCode(err)}`;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  t.diagnostic(`kernel ${release()}: memory.peak per-fd reset? ${answer}`);
});

test('PSI: memory.pressure reads, and a trigger can be registered on it', { skip }, (t) => {
  const text = read(`${CG}/memory.pressure`);
  assert.match(text, /^some avg10=\d+\.\d+ avg60=\d+\.\d+ avg300=\d+\.\d+ total=\d+$/m);
  assert.match(text, /^full avg10=\d+\.\d+ avg60=\d+\.\d+ avg300=\d+\.\d+ total=\d+$/m);
  t.diagnostic(`t1 memory.pressure after the OOM: ${text.trim().replace(/\n/g, ' | ')}`);
  // 150 ms of stall in a 2 s window (a multiple of 2 s works without CAP_SYS_RESOURCE).
  const fd = openSync(`${CG}/memory.pressure`, constants.O_RDWR | constants.O_NONBLOCK);
  try {
    writeSync(fd, 'some 150000 2000000\0');
    t.diagnostic('PSI trigger "some 150000 2000000" registered on t1/memory.pressure');
  } finally {
    closeSync(fd);
  }
});

test('a PSI trigger on a cgroup fires when memory.high throttles it', { skip, timeout: 90_000 }, async (t) => {
  const CG2 = `${ROOT}/t2`;
  if (existsSync(CG2)) rmdirSync(CG2);
  mkdirSync(CG2);
  writeFileSync(`${CG2}/memory.high`, String(32 * MiB));
  const libc = koffi.load('libc.so.6');
  const poll = libc.func('int poll(void *fds, unsigned long nfds, int timeout)');
  const POLLPRI = 0x2;
  const POLLERR = 0x8;
  const fd = openSync(`${CG2}/memory.pressure`, constants.O_RDWR | constants.O_NONBLOCK);
  // struct pollfd { int fd; short events; short revents; }
  const pfd = Buffer.alloc(8);
  const pollOnce = (ms: number): number => {
    pfd.writeInt32LE(fd, 0);
    pfd.writeInt16LE(POLLPRI, 4);
    pfd.writeInt16LE(0, 6);
    const n = poll(pfd, 1, ms) as number;
    assert.ok(n >= 0, `poll failed: ${n}`);
    return pfd.readInt16LE(6);
  };
  let child: ReturnType<typeof spawn> | undefined;
  try {
    writeSync(fd, 'some 100000 2000000\0'); // 100 ms of stall within a 2 s window
    assert.equal(pollOnce(0), 0, 'trigger fired before any load');
    const alloc = 'const a = []; for (let i = 0; i < 96; i++) a.push(Buffer.alloc(1 << 20, 1)); setInterval(() => {}, 1000)';
    child = spawn('/bin/sh', ['-c', `echo $$ > ${CG2}/cgroup.procs && exec node -e '${alloc}'`], { stdio: 'ignore' });
    const start = Date.now();
    let revents = 0;
    while (Date.now() - start < 45_000 && revents === 0) revents = pollOnce(500);
    const ms = Date.now() - start;
    const events = keyed(read(`${CG2}/memory.events`));
    t.diagnostic(
      `PSI trigger "some 100000 2000000" on t2 (memory.high=32M, child allocating 96 MiB): ` +
        `${revents & POLLPRI ? `fired (POLLPRI) after ${ms} ms` : revents & POLLERR ? 'POLLERR' : `did not fire in ${ms} ms`}; ` +
        `memory.events high=${events.get('high')}; memory.pressure: ${read(`${CG2}/memory.pressure`).trim().replace(/\n/g, ' | ')}`,
    );
    assert.equal(revents & POLLPRI, POLLPRI, `PSI trigger did not fire (revents=${revents})`);
  } finally {
    closeSync(fd);
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const closed = new Promise((resolve) => child?.once('close', resolve));
      child.kill('SIGKILL');
      await closed;
    }
    for (let i = 0; i < 50 && existsSync(CG2); i++) {
      try {
        rmdirSync(CG2);
      } catch {
        await new Promise((r) => setTimeout(r, 100)); // the killed child may take a moment to leave
      }
    }
  }
});

test('clean up the test cgroup', { skip }, () => {
  if (existsSync(CG)) rmdirSync(CG);
  assert.equal(existsSync(CG), false);
});

if (process.env['MEMLENS_FAILTEST'] === '1') {
  test('deliberate failure (memlens.failtest=1): proves a failing guest assertion fails the host run', { skip }, () => {
    assert.fail('deliberate failure requested with memlens.failtest=1');
  });
}
