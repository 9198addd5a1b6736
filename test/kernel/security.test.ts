// Issue 9 on a real kernel: the findings of the security review, each replayed against a running
// memlens (`node bin/memlens.js`, real v1 memory cgroups holding real processes, real rule
// commands), or as `nobody` (setpriv) where the attack is local. Each of these failed before the
// fix (see the table):
// - rule commands inherited memlens's environment, and their output comes back over HTTP;
// - the API had no rate limit: /a, /a/ and /a// each ran a capture; "/" captured the whole host;
// - a rule printing a lot filled memory and disk: no total per snapshot;
// - {comm} went into argv raw: a process named `--help` or `../../etc/hosts` steered the command;
// - a hook command outlived a memlens killed with SIGKILL;
// - a snapshot dir writable by nobody (a planted .hold.json through a symlink, a FIFO) made root
//   overwrite a root-owned file or hang at start; a symlinked dir or a config file with command
//   rules writable by others was accepted; snapshot files were 0644.
// POST /api/v1/snapshots being refused without --web.enable-snapshot-api is in
// test/unit/http/webSecurity.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { missingCgroupV1, missingKmsg, skipOrFail } from '../helpers/capability.js';
import { runMemlens, startMemlens, type Running } from '../helpers/running.js';
import { makeCgroup, ownCgroup, removeStale, removeTree, uniqueName, type TestCgroup } from './helpers/cgroup.js';

const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : undefined;
const SETPRIV = existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : undefined;
const skip = skipOrFail(missingCgroupV1() ?? (PY === undefined ? 'python3 not found' : undefined) ?? (SETPRIV === undefined ? 'setpriv not found' : undefined));
const SECRET = `hunter2-i9-${process.pid}`;
const KiB = 1024;

async function waitUntilAsync<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function waitUntil<T>(what: string, fn: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Runs `argv` as nobody:nogroup (setpriv), synchronously; throws on failure. */
function asNobody(argv: string[]): void {
  const r = spawnSync(SETPRIV ?? 'setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', ...argv], { encoding: 'utf8' });
  assert.equal(r.status, 0, `as nobody: ${argv.join(' ')}: ${r.stderr}`);
}

interface Action {
  rule: string;
  kind: string;
  argv?: string[];
  output?: string;
  outputBytes?: number;
  truncated?: boolean;
  error?: string;
}
interface Doc {
  processes: { pid: number; comm?: string; actions: Action[] }[];
}

describe('kernel: security findings replayed against a running memlens', { skip }, () => {
  let tmp = '';
  const cgs = new Map<string, TestCgroup>();
  const children: ChildProcess[] = [];
  let m: Running | undefined;
  let base = '';

  const cg = (name: string): TestCgroup => {
    const c = cgs.get(name);
    if (c === undefined) throw new Error(`no cgroup ${name}`);
    return c;
  };

  /** A process in cgroup `name`: `sleep 600` unless argv is given; resolves once its comm is `comm` (when given). */
  async function procIn(name: string, argv: string[] = ['/bin/sleep', '600'], comm?: string): Promise<number> {
    const [file, ...args] = argv;
    const child = spawn(file ?? '/bin/sleep', args, { stdio: 'ignore' });
    children.push(child);
    const pid = await waitUntil('the child to start', () => child.pid, 5000);
    writeFileSync(join(cg(name).dir, 'cgroup.procs'), String(pid));
    if (comm !== undefined) await waitUntil(`comm ${comm}`, () => (readFileSync(`/proc/${pid}/comm`, 'utf8').trimEnd() === comm ? true : undefined), 10_000);
    return pid;
  }

  async function post(cgroup: string): Promise<{ status: number; body: Record<string, unknown>; retryAfter: string | null }> {
    const r = await fetch(`${base}/api/v1/snapshots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cgroup }) });
    return { status: r.status, body: (await r.json()) as Record<string, unknown>, retryAfter: r.headers.get('retry-after') };
  }

  async function doc(id: unknown): Promise<Doc> {
    const r = await fetch(`${base}/api/v1/snapshots/${String(id)}`);
    assert.equal(r.status, 200);
    return (await r.json()) as Doc;
  }

  before(async () => {
    const own = ownCgroup();
    await removeStale(own);
    tmp = mkdtempSync(join(tmpdir(), `memlens-i9-${process.pid}-`));
    const stem = `${uniqueName()}-i9`;
    for (const n of ['env', 'rate', 'big', 'slow1', 'slow2', 'slow3', 'flood', 'comm']) cgs.set(n, makeCgroup(own, `${stem}-${n}`));
    // `--help` as a comm: the kernel names a process after the file it executes.
    symlinkSync('/bin/sleep', join(tmp, '--help'));
    const cfg = join(tmp, 'memlens.yml');
    writeFileSync(
      cfg,
      [
        'snapshot:',
        '  rules:',
        "    - { name: env, cgroup: '-i9-(env|comm)$', command: /usr/bin/env }",
        "    - { name: arg, cgroup: '-i9-comm$', command: '/bin/echo {comm}' }",
        "    - { name: slow, cgroup: '-i9-slow\\d$', command: 'sleep 3' }",
        "    - { name: rate, cgroup: '-i9-rate$', command: /bin/true }",
        "    - { name: flood, cgroup: '-i9-flood$', command: \"sh -c 'yes | head -c 3000000'\", max-output: 1MiB }",
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    m = await startMemlens(
      [`--config=${cfg}`, '--web.enable-snapshot-api=true', `--snapshot.dir=${join(tmp, 'snaps')}`, '--snapshot.min-interval=60s', '--snapshot.max-concurrent=2',
        '--snapshot.api-max-processes=3', '--snapshot.max-hook-output=1536KiB', '--watch.enabled=false', '--collectors.disabled=process'],
      { env: { SECRET_TOKEN: SECRET } },
    );
    base = `http://127.0.0.1:${m.port}`;
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await m?.stop();
    for (const c of cgs.values()) {
      await waitUntil(`${c.dir} empty`, () => (readFileSync(join(c.dir, 'cgroup.procs'), 'utf8').trim() === '' ? true : undefined), 10_000).catch(() => undefined);
      await removeTree(c.dir);
    }
    rmSync(tmp, { recursive: true, force: true });
  });

  test('a rule command gets the process in MEMLENS_* and a minimal environment, never memlens\'s own', async () => {
    const pid = await procIn('env');
    const r = await post(cg('env').path);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const p = (await doc(r.body['id'])).processes.find((x) => x.pid === pid);
    const env = p?.actions.find((a) => a.rule === 'env');
    assert.ok(env?.output !== undefined, JSON.stringify(p));
    assert.doesNotMatch(env.output, new RegExp(SECRET), 'memlens\'s environment reached the command (and the HTTP response)');
    assert.match(env.output, new RegExp(`^MEMLENS_PID=${pid}$`, 'm'));
    assert.match(env.output, /^MEMLENS_COMM=sleep$/m);
    assert.match(env.output, new RegExp(`^MEMLENS_CGROUP=${cg('env').path}$`, 'm'));
    assert.ok(env.output.split('\n').filter((l) => l !== '').length <= 8, env.output);
  });

  test('snapshot files are 0600 in a 0700 dir', () => {
    const dir = join(tmp, 'snaps');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const files = readdirSync(dir);
    assert.ok(files.length > 0);
    for (const f of files) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
  });

  test('one cgroup, many spellings, many requests: one capture; the next within --snapshot.min-interval is a 429 with Retry-After', async () => {
    await procIn('rate');
    const p = cg('rate').path;
    const spellings = [p, `${p}/`, `${p}//`, `/${p}`, p.replace(/\//g, '//'), p, `${p}/`, `${p}//`];
    const answers = await Promise.all(spellings.map((s) => post(s)));
    const ids = new Set(answers.filter((a) => a.status === 201).map((a) => a.body['id']));
    assert.equal(ids.size, 1, JSON.stringify(answers.map((a) => [a.status, a.body])));
    for (const a of answers) assert.ok(a.status === 201 || a.status === 429, JSON.stringify(a));
    const list = (await (await fetch(`${base}/api/v1/snapshots?cgroup=${encodeURIComponent(p)}`)).json()) as { snapshots: unknown[] };
    assert.equal(list.snapshots.length, 1, 'one snapshot (one set of rule commands) for all of them');
    const again = await post(`${p}/`);
    assert.equal(again.status, 429);
    assert.ok(Number(again.retryAfter) > 0 && Number(again.retryAfter) <= 60, String(again.retryAfter));
    assert.equal((await post(`${p}/../x`)).status, 400);
  });

  test('the root cgroup and a cgroup over --snapshot.api-max-processes are refused', async () => {
    const root = await post('/');
    assert.equal(root.status, 403);
    assert.match(String(root.body['error']), /--snapshot\.api-allow-root/);
    for (let i = 0; i < 4; i++) await procIn('big');
    const big = await post(cg('big').path);
    assert.equal(big.status, 403);
    assert.match(String(big.body['error']), /more than 3 processes/);
  });

  test('--snapshot.max-concurrent: a third capture while two run is a 429', async () => {
    for (const n of ['slow1', 'slow2', 'slow3']) await procIn(n);
    const first = [post(cg('slow1').path), post(cg('slow2').path)];
    await sleep(300);
    const third = await post(cg('slow3').path);
    assert.equal(third.status, 429, JSON.stringify(third.body));
    assert.match(String(third.body['error']), /max-concurrent/);
    for (const a of await Promise.all(first)) assert.equal(a.status, 201, JSON.stringify(a.body));
  });

  test('rules printing a lot: the output of all commands of one snapshot stays under --snapshot.max-hook-output', async () => {
    for (let i = 0; i < 3; i++) await procIn('flood');
    const r = await post(cg('flood').path);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const actions = (await doc(r.body['id'])).processes.flatMap((p) => p.actions).filter((a) => a.rule === 'flood');
    assert.equal(actions.length, 3);
    const total = actions.reduce((s, a) => s + (a.outputBytes ?? 0), 0);
    assert.ok(total <= 1536 * KiB, `${total} bytes kept (3 x 1 MiB before the fix)`);
    assert.ok(total >= 1024 * KiB, `${total} bytes: the budget was used`);
    assert.ok(actions.some((a) => a.truncated === true || /budget/.test(a.error ?? '')));
  });

  test('a comm that reads as an option or a path never reaches argv; the command reads it from MEMLENS_COMM', async () => {
    const dash = await procIn('comm', [join(tmp, '--help'), '600'], '--help');
    const slash = await procIn('comm', [PY ?? 'python3', '-c', "open('/proc/self/comm', 'w').write('../../etc/hosts'); import time; time.sleep(600)"], '../../etc/hosts');
    const r = await post(cg('comm').path);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const d = await doc(r.body['id']);
    for (const [pid, why, comm] of [[dash, /starts with "-"/, '--help'], [slash, /holds "\/"/, '../../etc/hosts']] as const) {
      const p = d.processes.find((x) => x.pid === pid);
      const arg = p?.actions.find((a) => a.rule === 'arg');
      assert.ok(arg !== undefined, JSON.stringify(p));
      assert.match(arg.error ?? '', why);
      assert.equal(arg.output, '', 'the command ran');
      const env = p?.actions.find((a) => a.rule === 'env');
      assert.match(env?.output ?? '', new RegExp(`^MEMLENS_COMM=${comm.replace(/[.]/g, '\\.')}$`, 'm'));
    }
  });
});

describe('kernel: a real OOM kill of a process whose comm holds a newline', { skip: skip === false ? skipOrFail(missingKmsg()) : skip }, () => {
  test('is counted and recorded from the kernel log, its comm escaped', async () => {
    const own = ownCgroup();
    const tmp = mkdtempSync(join(tmpdir(), `memlens-i9-oom-${process.pid}-`));
    const c = makeCgroup(own, `${uniqueName()}-i9-oom`);
    let m: Running | undefined;
    let victim: ChildProcess | undefined;
    try {
      writeFileSync(join(c.dir, 'memory.limit_in_bytes'), String(64 * 1024 * KiB));
      m = await startMemlens([`--snapshot.dir=${join(tmp, 'snaps')}`, '--watch.enabled=false', '--collectors.disabled=process']);
      // prctl(PR_SET_NAME) takes any byte but NUL; then wait for "go", then allocate until killed.
      victim = spawn(PY ?? 'python3', ['-c', "import ctypes, sys\nctypes.CDLL(None).prctl(15, b'oom\\nvictim', 0, 0, 0)\nsys.stdin.readline()\nl = []\nwhile True: l.append(b'x' * 1048576)\n"], { stdio: ['pipe', 'ignore', 'ignore'] });
      const pid = await waitUntil('python to start', () => victim?.pid, 5000);
      await waitUntil('comm set', () => (readFileSync(`/proc/${pid}/comm`, 'utf8') === 'oom\nvictim\n' ? true : undefined), 10_000);
      writeFileSync(join(c.dir, 'cgroup.procs'), String(pid));
      victim.stdin?.write('go\n');
      const base = `http://127.0.0.1:${m.port}`;
      const rec = await waitUntilAsync('the kill in /api/v1/oom-kills', async () => {
        const r = (await (await fetch(`${base}/api/v1/oom-kills`)).json()) as { kills: { source: string; victim: { pid: number; comm: string } }[] };
        return r.kills.find((k) => k.victim.pid === pid && k.source === 'kmsg');
      }, 30_000);
      assert.equal(rec.victim.comm, 'oom\\x0avictim');
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.ok(metrics.includes(`comm="oom\\\\x0avictim"`), 'memlens_oom_kills_total carries the escaped comm');
      assert.doesNotMatch(metrics, /oom\nvictim/);
    } finally {
      victim?.kill('SIGKILL');
      await m?.stop();
      await waitUntil('cgroup empty', () => (readFileSync(join(c.dir, 'cgroup.procs'), 'utf8').trim() === '' ? true : undefined), 10_000).catch(() => undefined);
      await removeTree(c.dir);
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('kernel: a hook command dies with a memlens killed by SIGKILL', { skip }, () => {
  test('kill -9 memlens while its rule command runs: the command is gone within seconds', async () => {
    const own = ownCgroup();
    const tmp = mkdtempSync(join(tmpdir(), `memlens-i9-orphan-${process.pid}-`));
    const c = makeCgroup(own, `${uniqueName()}-i9-orphan`);
    const sleeper = spawn('/bin/sleep', ['600'], { stdio: 'ignore' });
    let m: Running | undefined;
    let orphan: number | undefined;
    try {
      writeFileSync(join(c.dir, 'cgroup.procs'), String(sleeper.pid));
      const cfg = join(tmp, 'memlens.yml');
      writeFileSync(cfg, "snapshot:\n  rules:\n    - { name: long, cgroup: '-i9-orphan$', command: 'sleep 3333', timeout: 10m }\n", { mode: 0o600 });
      m = await startMemlens([`--config=${cfg}`, '--web.enable-snapshot-api=true', `--snapshot.dir=${join(tmp, 'snaps')}`, '--watch.enabled=false']);
      const memlensPid = m.child.pid;
      void fetch(`http://127.0.0.1:${m.port}/api/v1/snapshots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cgroup: c.path }) }).catch(() => undefined);
      orphan = await waitUntil('the rule command to run', () => {
        for (const name of readdirSync('/proc')) {
          if (!/^\d+$/.test(name)) continue;
          try {
            const argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
            const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${name}/status`, 'utf8'))?.[1]);
            if (basename(argv[0] ?? '') === 'sleep' && argv[1] === '3333' && ppid === memlensPid) return Number(name);
          } catch {
            // exited meanwhile
          }
        }
        return undefined;
      }, 20_000);
      m.child.kill('SIGKILL');
      await m.stop();
      const gone = await waitUntil('the command to die', () => (!existsSync(`/proc/${orphan}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${orphan}/status`, 'utf8')) ? true : undefined), 5000).catch(() => false);
      assert.equal(gone, true, `sleep 3333 (pid ${orphan}) outlived memlens`);
    } finally {
      if (orphan !== undefined && existsSync(`/proc/${orphan}`)) process.kill(orphan, 'SIGKILL');
      sleeper.kill('SIGKILL');
      await m?.stop();
      await waitUntil('cgroup empty', () => (readFileSync(join(c.dir, 'cgroup.procs'), 'utf8').trim() === '' ? true : undefined), 10_000).catch(() => undefined);
      await removeTree(c.dir);
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('local attacks as nobody: the snapshot dir and the config file', { skip }, () => {
  let tmp = '';
  let victim = '';
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), `memlens-i9-local-${process.pid}-`));
    chmodSync(tmp, 0o1777); // like /tmp: nobody can make entries in it, not take root's away
    mkdirSync(join(tmp, 'victim'), { mode: 0o700 });
    victim = join(tmp, 'victim', 'memory.oom_control');
    writeFileSync(victim, 'root-owned data\n', { mode: 0o600 });
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('a dir nobody prepared with a .hold.json pointing through a symlink: exit 2, the root-owned file untouched', () => {
    const d = join(tmp, 'hold-dir');
    asNobody(['mkdir', '-m', '0777', d]);
    asNobody(['ln', '-s', join(tmp, 'victim'), join(d, 'x')]);
    asNobody(['sh', '-c', `printf '%s' '${JSON.stringify([{ file: join(d, 'x', 'memory.oom_control'), cgroup: '/x', setAtMs: 1, pid: 999999999 }])}' > ${d}/.hold.json`]);
    const r = runMemlens([`--snapshot.dir=${d}`, '--watch.enabled=false']);
    assert.equal(readFileSync(victim, 'utf8'), 'root-owned data\n', 'root wrote through the planted record');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /owned by uid 65534/);
    assert.ok(r.stderr.includes(d));
  });

  test('a FIFO named like a snapshot in a dir nobody can write: exit 2 at once, no hang', () => {
    const d = join(tmp, 'fifo-dir');
    asNobody(['mkdir', '-m', '0777', d]);
    asNobody(['mkfifo', join(d, 'snap-1-aaaaaa.json')]);
    const t0 = Date.now();
    const r = runMemlens([`--snapshot.dir=${d}`, '--watch.enabled=false']);
    assert.notEqual(r.status, null, 'memlens hung on the FIFO (killed after 30 s)');
    assert.equal(r.status, 2, r.stderr);
    assert.ok(Date.now() - t0 < 20_000);
  });

  test('a root-owned dir made 0777, and a symlinked dir: exit 2', () => {
    const open = join(tmp, 'open-dir');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const r1 = runMemlens([`--snapshot.dir=${open}`, '--watch.enabled=false']);
    assert.equal(r1.status, 2, r1.stderr);
    assert.match(r1.stderr, /writable by group or others/);
    const real = join(tmp, 'real-dir');
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, join(tmp, 'linked-dir'));
    const r2 = runMemlens([`--snapshot.dir=${join(tmp, 'linked-dir')}`, '--watch.enabled=false']);
    assert.equal(r2.status, 2, r2.stderr);
    assert.match(r2.stderr, /symbolic link/);
  });

  test('a config file with command rules writable by others, or owned by nobody: exit 2 naming it', () => {
    const rules = "snapshot:\n  rules:\n    - { name: x, comm: '^sleep$', command: /usr/bin/id }\n";
    const shared = join(tmp, 'shared.yml');
    writeFileSync(shared, rules);
    chmodSync(shared, 0o666);
    const r1 = runMemlens([`--config=${shared}`, `--snapshot.dir=${join(tmp, 'snaps1')}`]);
    assert.equal(r1.status, 2, r1.stderr);
    assert.match(r1.stderr, /shared\.yml: snapshot\.rules: refused: .*writable by group or others/);
    const theirs = join(tmp, 'theirs.yml');
    const src = join(tmp, 'src.yml');
    writeFileSync(src, rules, { mode: 0o644 });
    asNobody(['sh', '-c', `umask 022; cp ${src} ${theirs}`]);
    const r2 = runMemlens([`--config=${theirs}`, `--snapshot.dir=${join(tmp, 'snaps2')}`]);
    assert.equal(r2.status, 2, r2.stderr);
    assert.match(r2.stderr, /theirs\.yml: snapshot\.rules: refused: .*owned by uid 65534/);
  });
});
