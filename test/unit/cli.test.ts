// The command line as a user meets it: `node bin/memlens.js ...` as a child process (the compiled
// build, so `npx tsc -p .` runs first). Bad input exits 2 with one stderr line naming what is
// wrong, before anything starts; a port in use exits 1; nothing is left listening or running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPTIONS, envName } from '../../src/config/options.js';
import { freePort, portIsFree } from '../helpers/exposition.js';

// build/test/unit/cli.test.js -> the repository root.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'memlens.js');

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('MEMLENS_') || k.startsWith('NODE_TEST')) continue;
    env[k] = v;
  }
  return env;
}

function memlens(args: string[]): SpawnSyncReturns<string> {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env: cleanEnv(), encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
  if (r.error !== undefined) throw r.error;
  return r;
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

/** Pids whose command line carries `marker` (a unique listen address), other than ours. */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes(marker)) out.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Runs memlens with a unique listen address and checks it left nothing behind. */
async function runAndCheckNothingLeft(args: (listen: string) => string[], expectPortFree = true): Promise<{ r: SpawnSyncReturns<string>; port: number }> {
  const port = await freePort();
  const listen = `127.0.0.1:${port}`;
  const r = memlens(args(listen));
  assert.equal(r.signal, null, `memlens did not exit by itself (killed by ${r.signal ?? ''} after the timeout)`);
  assert.deepEqual(processesWith(listen), [], 'no process left running with our arguments');
  if (expectPortFree) assert.ok(await portIsFree(port), `something still listens on ${listen}`);
  return { r, port };
}

test('unknown flag: exit 2, one stderr line naming the flag', async () => {
  const { r } = await runAndCheckNothingLeft((listen) => ['--web.listen-address', listen, '--no-such-flag', 'x']);
  assert.equal(r.status, 2, r.stderr);
  const err = lines(r.stderr);
  assert.equal(err.length, 1, `one line, got: ${r.stderr}`);
  assert.match(err[0]!, /--no-such-flag/);
  assert.equal(r.stdout, '');
});

test('malformed YAML config file: exit 2, one stderr line naming the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-cli-'));
  try {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'process:\n  top: [1, 2\nweb:\n  listen-address: ":1"\n');
    const { r } = await runAndCheckNothingLeft((listen) => ['--web.listen-address', listen, '--config', file]);
    assert.equal(r.status, 2, r.stderr);
    const err = lines(r.stderr);
    assert.equal(err.length, 1, `one line, got: ${r.stderr}`);
    assert.ok(err[0]!.includes(file), `names ${file}: ${err[0]!}`);
    assert.match(err[0]!, /YAML/i);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a regex that does not compile: exit 2, one stderr line naming the flag', async () => {
  const { r } = await runAndCheckNothingLeft((listen) => ['--web.listen-address', listen, '--process.include', '(']);
  assert.equal(r.status, 2, r.stderr);
  const err = lines(r.stderr);
  assert.equal(err.length, 1, `one line, got: ${r.stderr}`);
  assert.match(err[0]!, /--process\.include/);
  assert.match(err[0]!, /regular expression/);
});

async function occupy(port: number): Promise<Server> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve());
  });
  return srv;
}

for (const logLevel of ['warn', undefined] as const) {
  const name = logLevel === undefined ? 'default log level: one line besides JSON log records' : `--log.level ${logLevel}: exactly one stderr line`;
  test(`port in use: exit 1, ${name}, nothing left listening`, async () => {
    const port = await freePort();
    const blocker = await occupy(port);
    const listen = `127.0.0.1:${port}`;
    let r: SpawnSyncReturns<string>;
    try {
      r = memlens(['--web.listen-address', listen, ...(logLevel === undefined ? [] : ['--log.level', logLevel])]);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
    assert.equal(r.signal, null, `memlens did not exit by itself (killed by ${r.signal ?? ''})`);
    assert.equal(r.status, 1, r.stderr);
    const isLogRecord = (l: string): boolean => {
      try {
        return typeof (JSON.parse(l) as { level?: unknown }).level === 'number';
      } catch {
        return false;
      }
    };
    const err = lines(r.stderr);
    const plain = logLevel === undefined ? err.filter((l) => !isLogRecord(l)) : err;
    assert.equal(plain.length, 1, `one line, got: ${r.stderr}`);
    assert.ok(plain[0]!.includes(listen), `names ${listen}: ${plain[0]!}`);
    assert.match(plain[0]!, /EADDRINUSE|in use/);
    assert.deepEqual(processesWith(listen), [], 'no process left running with our arguments');
    assert.ok(await portIsFree(port), `something still listens on ${listen}`);
  });
}

test('--help lists every flag of OPTIONS (and its environment variable) and exits 0', () => {
  const r = memlens(['--help']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  for (const o of OPTIONS) {
    const shown = o.kind === 'bool' ? `--[no-]${o.flag} ` : `--${o.flag} `;
    assert.ok(r.stdout.includes(shown), `--help lacks ${shown}`);
    assert.ok(r.stdout.includes(envName(o.flag)), `--help lacks ${envName(o.flag)}`);
  }
  for (const flag of ['config', 'help', 'version']) assert.ok(r.stdout.includes(`--${flag} `), `--help lacks --${flag}`);
});
