#!/usr/bin/env node
// Runs memlens's cgroup v2 tests inside a real cgroup v2 kernel: builds the VM (build-vm.sh), boots it
// with qemu (TCG), streams the serial console, and reports the guest's node:test results.
//
//   node test/vm/run-vm.mjs [options]
//     --test PATH[,PATH]   guest test files/directories relative to the project (default build/test/v2)
//     --failtest           boot with memlens.failtest=1: a guest test fails on purpose
//     --append "K=V ..."   more kernel command line (e.g. memlens.env.FOO=bar)
//     --timeout SECONDS    host timeout for the VM run, boot to power-off (default 240, or MEMLENS_VM_TIMEOUT)
//                          (MEMLENS_VM_FAILTEST=1 in the environment works like --failtest)
//     --compile            run `npx tsc -p .` first (its exit status is ignored: others' files may not compile)
//     --quiet              do not echo the boot console (the guest's TAP output is printed anyway)
//
// stdout: the guest's TAP output, then one line `run-vm: RESULT {...}` (JSON: outcome, pass, fail, ...).
// stderr: build progress, the console outside the frame (prefixed `vm| `), and what went wrong.
// Exit status: 0 guest tests passed (fail=0, pass>0, runner exit 0)
//              1 guest tests failed (or none passed)
//              2 the VM could not be built
//              3 the VM could not boot or start its tests (qemu missing, qemu error, panic, no frame)
//              4 timeout: no result within the time limit
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// `node --test` with no file arguments discovers every .mjs under test/ and would boot the VM from
// here; test/vm/vm.test.ts is the test (it starts this script without NODE_TEST_CONTEXT).
if (process.env.NODE_TEST_CONTEXT) {
  console.log('run-vm.mjs is not a test file; build/test/vm/vm.test.js runs it');
  process.exit(0);
}
const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

const opts = { test: 'build/test/v2', failtest: false, append: '', timeout: 240, compile: false, quiet: false };
if (process.env.MEMLENS_VM_TIMEOUT) opts.timeout = Number(process.env.MEMLENS_VM_TIMEOUT);
if (process.env.MEMLENS_VM_FAILTEST === '1') opts.failtest = true;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const value = () => {
    const v = argv[++i];
    if (v === undefined) usage(`${a} needs a value`);
    return v;
  };
  if (a === '--test') opts.test = value();
  else if (a === '--failtest') opts.failtest = true;
  else if (a === '--append') opts.append += ' ' + value();
  else if (a === '--timeout') opts.timeout = Number(value());
  else if (a === '--compile') opts.compile = true;
  else if (a === '--quiet') opts.quiet = true;
  else usage(`unknown argument ${a}`);
}
if (!(opts.timeout > 0)) usage('--timeout must be a positive number of seconds');
if (/\s/.test(opts.test)) usage('--test must not contain spaces');

function usage(msg) {
  console.error(`run-vm: ${msg}\nusage: node test/vm/run-vm.mjs [--test PATH[,PATH]] [--failtest] [--append "K=V"] [--timeout S] [--compile] [--quiet]`);
  process.exit(2);
}
const say = (msg) => console.error(`run-vm: ${msg}`);
function finish(code, outcome, msg, extra = {}) {
  console.log(`run-vm: RESULT ${JSON.stringify({ outcome, ...extra })}`);
  say(msg);
  process.exit(code);
}

// ---- compile (optional) and build ----
if (opts.compile) {
  const t = Date.now();
  const r = spawnSync('npx', ['tsc', '-p', '.'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  say(`tsc exited ${r.status} in ${Date.now() - t} ms${r.status === 0 ? '' : ' (ignored: JS is emitted anyway)'}`);
}
const out = mkdtempSync(join(tmpdir(), 'memlens-vm-'));
const cleanup = () => rmSync(out, { recursive: true, force: true });
process.on('exit', cleanup);
const tBuild = Date.now();
const build = spawnSync('sh', [join(here, 'build-vm.sh'), out], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
  encoding: 'utf8',
  timeout: 15 * 60_000,
});
const buildMs = Date.now() - tBuild;
const built = Object.fromEntries(
  (build.stdout ?? '')
    .split('\n')
    .map((l) => /^(MEMLENS_VM_\w+)=(.*)$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => [m[1], m[2]]),
);
if (build.status !== 0 || !built.MEMLENS_VM_KERNEL || !built.MEMLENS_VM_INITRD) {
  finish(2, 'build-failed', `BUILD FAILED: build-vm.sh exited ${build.status ?? build.signal ?? build.error} after ${buildMs} ms; no VM was booted`);
}
say(`built in ${buildMs} ms: kernel ${built.MEMLENS_VM_KVER}`);

// ---- boot ----
const guestTimeout = Math.max(20, Math.floor(opts.timeout - 40));
const append = [
  'console=ttyS0',
  'quiet',
  'psi=1',
  'panic=-1',
  `memlens.test=${opts.test}`,
  `memlens.timeout=${guestTimeout}`,
  ...(opts.failtest ? ['memlens.failtest=1'] : []),
  opts.append.trim(),
]
  .filter(Boolean)
  .join(' ');
const qemuArgs = [
  '-accel', 'tcg', '-cpu', 'max', '-m', '1024', '-smp', '2',
  '-nographic', '-no-reboot', '-nic', 'none',
  '-kernel', built.MEMLENS_VM_KERNEL,
  '-initrd', built.MEMLENS_VM_INITRD,
  '-append', append,
];
const tBoot = Date.now();
const qemu = spawn('qemu-system-x86_64', qemuArgs, { stdio: ['ignore', 'pipe', 'pipe'] });

const consoleLog = [];
const tap = [];
let info;
let result;
let state = 'booting'; // booting -> running -> ended
let infoMs;
let resultMs;
const errors = [];
let pending = '';
let qemuStderr = '';

function onLine(raw) {
  // The serial console gives \r\n, and firmware may emit escape sequences.
  const line = raw.replace(/\r/g, '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\x1bc/g, '');
  consoleLog.push(line);
  // Firmware output without a newline ("Booting from ROM..") can precede the guest's first line.
  const at = line.indexOf('MEMLENS-VM-INFO ');
  if (at >= 0 && state === 'booting') {
    try {
      info = JSON.parse(line.slice(at + 'MEMLENS-VM-INFO '.length));
    } catch {
      info = { raw: line };
    }
    infoMs = Date.now() - tBoot;
  }
  if (state === 'booting' && line.endsWith('MEMLENS-VM-BEGIN')) {
    state = 'running';
    if (!opts.quiet) console.error('vm| MEMLENS-VM-BEGIN');
    return;
  }
  if (state === 'running') {
    if (line.startsWith('MEMLENS-VM-RESULT ')) {
      try {
        result = JSON.parse(line.slice('MEMLENS-VM-RESULT '.length));
      } catch {
        errors.push(`unparsable result line: ${line}`);
      }
      resultMs = Date.now() - tBoot;
      return;
    }
    if (line === 'MEMLENS-VM-END') {
      state = 'ended';
      if (!opts.quiet) console.error('vm| MEMLENS-VM-END');
      return;
    }
    if (line.startsWith('MEMLENS-VM-ERROR ')) errors.push(line.slice('MEMLENS-VM-ERROR '.length));
    tap.push(line);
    console.log(line); // the guest's TAP output, streamed
    return;
  }
  if (!opts.quiet && line.trim() !== '') console.error(`vm| ${line}`);
}
qemu.stdout.setEncoding('utf8');
qemu.stdout.on('data', (chunk) => {
  pending += chunk;
  let i;
  while ((i = pending.indexOf('\n')) >= 0) {
    onLine(pending.slice(0, i));
    pending = pending.slice(i + 1);
  }
});
qemu.stderr.setEncoding('utf8');
qemu.stderr.on('data', (chunk) => {
  qemuStderr += chunk;
  process.stderr.write(chunk.replace(/^/gm, 'qemu| '));
});

let timedOut = false;
const timer = setTimeout(() => {
  timedOut = true;
  say(`timeout after ${opts.timeout} s (${state}); killing qemu (pid ${qemu.pid})`);
  qemu.kill('SIGKILL');
}, opts.timeout * 1000);

const exit = await new Promise((resolveExit) => {
  qemu.on('error', (err) => resolveExit({ error: err }));
  qemu.on('close', (code, signal) => resolveExit({ code, signal }));
});
clearTimeout(timer);
if (pending !== '') onLine(pending);
const vmMs = Date.now() - tBoot;

// Keep the whole console of the last run for diagnosis.
let logPath = join(out, 'console.log');
try {
  mkdirSync(join(root, '.vm-cache'), { recursive: true });
  writeFileSync(logPath, consoleLog.join('\n') + '\n');
  copyFileSync(logPath, join(root, '.vm-cache', 'last-console.log'));
  logPath = join(root, '.vm-cache', 'last-console.log');
} catch {
  logPath = '(console log not saved)';
}

const timings = { buildMs, infoMs, resultMs, vmMs };
const common = { kernel: info?.kernel ?? built.MEMLENS_VM_KVER, ...timings, errors };
if (exit.error) {
  const why = exit.error.code === 'ENOENT' ? 'qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)' : String(exit.error);
  finish(3, 'no-boot', `VM COULD NOT BOOT: ${why}`, common);
}
if (timedOut) {
  const where =
    state === 'booting'
      ? info
        ? 'the guest booted but never started its tests'
        : 'the guest never reached its init (no MEMLENS-VM-INFO line): kernel hang or very slow boot'
      : 'the guest tests started but did not finish';
  finish(4, 'timeout', `TIMEOUT after ${opts.timeout} s: ${where}. Console: ${logPath}`, { ...common, pass: result?.pass, fail: result?.fail });
}
if (result === undefined) {
  const tail = consoleLog.filter((l) => l.trim() !== '').slice(-15).join('\n  ');
  const where =
    state === 'booting'
      ? info
        ? 'the guest init ran but printed no test frame'
        : 'the guest never reached its init (no MEMLENS-VM-INFO line)'
      : 'the guest started its tests but stopped before reporting a result (panic or power-off?)';
  const panic = consoleLog.find((l) => l.includes('Kernel panic'));
  finish(
    3,
    'no-boot',
    `VM COULD NOT BOOT OR RUN: qemu exited (code ${exit.code}, signal ${exit.signal}) after ${vmMs} ms; ${where}.` +
      `${panic ? ` ${panic.slice(panic.indexOf('Kernel panic')).trim()}.` : ''}` +
      `${qemuStderr ? ` qemu stderr: ${qemuStderr.trim()}` : ''}\n  last console lines:\n  ${tail}\n  full console: ${logPath}`,
    common,
  );
}

const summary = { ...result, ...common };
const counts = `pass=${result.pass} fail=${result.fail} cancelled=${result.cancelled ?? 0} skipped=${result.skipped ?? 0} runner-exit=${result.exit}`;
const times = `build ${buildMs} ms, boot to init ${infoMs} ms, boot to result ${resultMs} ms, qemu total ${vmMs} ms`;
if (result.fail > 0 || result.pass <= 0 || result.exit !== 0 || (result.cancelled ?? 0) > 0) {
  const why =
    result.fail > 0
      ? `${result.fail} guest test(s) failed`
      : result.pass <= 0
        ? 'no guest test passed'
        : `the guest test runner exited ${result.exit}`;
  finish(1, 'tests-failed', `GUEST TESTS FAILED in kernel ${common.kernel}: ${why} (${counts}${errors.length ? `; guest errors: ${errors.join('; ')}` : ''}). ${times}`, summary);
}
finish(0, 'passed', `GUEST TESTS PASSED in kernel ${common.kernel}: ${counts}. ${times}`, summary);
