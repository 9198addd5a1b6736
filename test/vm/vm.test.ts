// Host side of the cgroup v2 VM: boots the VM (test/vm/run-vm.mjs) and requires the guest's test
// suite (build/test/v2, which needs a real cgroup v2 kernel) to pass inside it.
// On a laptop without qemu (and no root + apt-get to install it) this skips; under CI=true it fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { skipOrFail } from '../helpers/capability.js';

// build/test/vm/vm.test.js -> repository root
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const runVm = join(root, 'test/vm/run-vm.mjs');

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Undefined when the VM can be built and booted here, else why not. */
function missingVm(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `the VM needs linux/x64, this is ${process.platform}/${process.arch}`;
  if (!existsSync(runVm)) return `${runVm} missing`;
  const canInstall = process.getuid?.() === 0 && have('apt-get');
  if (!have('qemu-system-x86_64') && !canInstall) return 'qemu-system-x86_64 not installed (apt-get install qemu-system-x86), and not root with apt-get to install it';
  if (!existsSync('/bin/busybox') && !canInstall) return '/bin/busybox missing (apt-get install busybox-static), and not root with apt-get to install it';
  let cachedKernel = false;
  try {
    cachedKernel = readdirSync(join(root, '.vm-cache/kernel')).length > 0;
  } catch {
    // no cache yet
  }
  if (!cachedKernel && !have('apt-get')) return 'no cached kernel and no apt-get to download linux-image-6.1.0-*-amd64';
  return undefined;
}

test('the cgroup v2 test suite passes inside a real cgroup v2 kernel (qemu VM)', { skip: skipOrFail(missingVm()), timeout: 900_000 }, (t) => {
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT']; // run-vm.mjs refuses to run as a discovered test file
  // 600 s boot to power-off (run-vm's default is 240): the guest suite includes a thrashing test
  // (test/v2/thrash.test.ts) that alone takes 1-2 minutes under TCG on a shared host.
  const r = spawnSync(process.execPath, [runVm, '--timeout', '600'], {
    cwd: root,
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 850_000,
  });
  const out = r.stdout ?? '';
  const err = r.stderr ?? '';
  const tail = (s: string) => s.split('\n').slice(-40).join('\n');
  const why = `run-vm.mjs exited ${r.status ?? r.signal ?? String(r.error)}\n--- stdout (tail) ---\n${tail(out)}\n--- stderr (tail) ---\n${tail(err)}`;

  const resultLine = out.split('\n').find((l) => l.startsWith('run-vm: RESULT '));
  assert.ok(resultLine !== undefined, `no "run-vm: RESULT" line\n${why}`);
  const result = JSON.parse(resultLine.slice('run-vm: RESULT '.length)) as {
    outcome: string;
    pass?: number;
    fail?: number;
    kernel?: string;
    buildMs?: number;
    resultMs?: number;
  };
  t.diagnostic(`VM: ${resultLine.slice('run-vm: '.length)}`);
  // The guest's own diagnostics (kernel version, OOM kill record, memory.peak answer, ...).
  for (const line of out.split('\n')) if (/^# (?!Subtest|tests|suites|pass|fail|cancelled|skipped|todo|duration_ms)/.test(line)) t.diagnostic(`guest: ${line.slice(2)}`);

  assert.equal(r.status, 0, why);
  assert.equal(result.outcome, 'passed', why);
  assert.match(err, /^vm\| MEMLENS-VM-BEGIN$/m, `no frame start on the console\n${why}`);
  assert.match(err, /^vm\| MEMLENS-VM-END$/m, `no frame end on the console\n${why}`);
  assert.match(out, /^TAP version 13$/m, `no TAP output from the guest\n${why}`);
  assert.ok((result.pass ?? 0) > 0, `no guest test passed\n${why}`);
  assert.equal(result.fail, 0, why);
});
