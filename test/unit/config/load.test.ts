import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, helpText } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';
import { OPTIONS, envName } from '../../../src/config/options.js';
import { parseDurationMs, parseListenAddress, parseSizeBytes } from '../../../src/config/units.js';

function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const r = loadConfig(argv, env);
  assert.equal(r.kind, 'run');
  if (r.kind !== 'run') throw new Error('unreachable');
  return r.config;
}

function withFile(text: string, fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'memlens-cfg-'));
  try {
    const p = join(dir, 'memlens.yaml');
    writeFileSync(p, text);
    fn(p);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('defaults', () => {
  const c = run([]);
  assert.deepEqual(c.listen, { host: undefined, port: 9966 });
  assert.equal(c.telemetryPath, '/metrics');
  assert.equal(c.procRoot, '/proc');
  assert.equal(c.process.top, 10);
  assert.equal(c.process.smapsIntervalMs, 60_000);
  assert.equal(c.process.smapsMaxRssBytes, 4 * 2 ** 30);
  assert.equal(c.process.include, undefined);
});

test('precedence: flags > environment > file > defaults', () => {
  withFile('process:\n  top: 3\n  smaps-interval: 5s\nweb:\n  telemetry-path: /file\n', (file) => {
    const env = { MEMLENS_PROCESS_TOP: '7', MEMLENS_WEB_TELEMETRY_PATH: '/env' };
    const c = run(['--config', file, '--web.telemetry-path', '/flag'], env);
    assert.equal(c.telemetryPath, '/flag'); // flag beats env and file
    assert.equal(c.process.top, 7); // env beats file
    assert.equal(c.process.smapsIntervalMs, 5000); // file beats default
    assert.equal(c.cgroup.maxDepth, 16); // default
  });
});

test('group rules come from the file', () => {
  withFile('process:\n  groups:\n    - name: jvm\n      comm: "^java$"\n    - name: py\n      cmdline: "python3? .*manage.py"\n', (file) => {
    const c = run(['--config', file]);
    assert.equal(c.process.groups.length, 2);
    assert.equal(c.process.groups[0]!.name, 'jvm');
    assert.ok(c.process.groups[0]!.comm!.test('java'));
    assert.ok(c.process.groups[1]!.cmdline!.test('python3 /app/manage.py runserver'));
  });
});

function configError(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    loadConfig(argv, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

test('bad input names what is wrong', () => {
  assert.match(configError(['--no-such-flag']), /no-such-flag/);
  assert.match(configError(['--process.include', '(']), /--process\.include: .*regular expression/);
  assert.match(configError(['--process.top', 'ten']), /--process\.top: must be a whole number/);
  assert.match(configError(['--process.smaps-interval', '5 minutes']), /--process\.smaps-interval: not a duration/);
  assert.match(configError([], { MEMLENS_PROCESS_SMAPS_MAX_RSS: 'lots' }), /MEMLENS_PROCESS_SMAPS_MAX_RSS: not a size/);
  assert.match(configError(['--web.listen-address', 'localhost']), /--web\.listen-address/);
  assert.match(configError(['--process.smaps-scope', 'some']), /--process\.smaps-scope/);
  assert.match(configError(['--config', '/nonexistent/memlens.yaml']), /\/nonexistent\/memlens\.yaml: cannot read/);
  withFile('process:\n  top: [1\n', (f) => assert.match(configError(['--config', f]), /not valid YAML/));
  withFile('process:\n  tpo: 3\n', (f) => assert.match(configError(['--config', f]), /process.*tpo/));
  withFile('process:\n  groups:\n    - name: x\n      comm: "["\n', (f) => assert.match(configError(['--config', f]), /process\.groups\.0\.comm/));
  withFile('process:\n  groups:\n    - name: x\n', (f) => assert.match(configError(['--config', f]), /comm or cmdline/));
});

test('--help lists every flag with its environment variable', () => {
  const h = helpText();
  for (const o of OPTIONS) {
    assert.ok(h.includes(o.kind === 'bool' ? `--[no-]${o.flag}` : `--${o.flag}`), o.flag);
    assert.ok(h.includes(envName(o.flag)), envName(o.flag));
  }
  assert.deepEqual(loadConfig(['--help'], {}), { kind: 'help' });
});

test('units', () => {
  assert.equal(parseDurationMs('100ms'), 100);
  assert.equal(parseDurationMs('1.5s'), 1500);
  assert.equal(parseDurationMs('2m'), 120_000);
  assert.equal(parseDurationMs('10'), undefined);
  assert.equal(parseSizeBytes('4GiB'), 4 * 2 ** 30);
  assert.equal(parseSizeBytes('512 MiB'), 512 * 2 ** 20);
  assert.equal(parseSizeBytes('1000'), 1000);
  assert.equal(parseSizeBytes('-1'), undefined);
  assert.deepEqual(parseListenAddress(':9966'), { host: undefined, port: 9966 });
  assert.deepEqual(parseListenAddress('127.0.0.1:80'), { host: '127.0.0.1', port: 80 });
  assert.deepEqual(parseListenAddress('[::1]:9966'), { host: '::1', port: 9966 });
  assert.equal(parseListenAddress('host:99999'), undefined);
});

test('boolean flags: --x alone is on, --no-x off, --x=true|false, env true|false, YAML booleans', () => {
  assert.equal(run([]).snapshot.hold, false);
  assert.equal(run(['--snapshot.hold']).snapshot.hold, true);
  assert.equal(run(['--snapshot.hold', '--no-watch.enabled']).watch.enabled, false);
  assert.equal(run(['--no-snapshot.hold']).snapshot.hold, false);
  assert.equal(run(['--snapshot.hold=true']).snapshot.hold, true);
  // The value as the next word, as before booleans were typed.
  assert.equal(run(['--snapshot.hold', 'true']).snapshot.hold, true);
  const r2 = loadConfig(['--snapshot.hold', 'false', 'watch'], {});
  assert.ok(r2.kind === 'run' && r2.command === 'watch' && !r2.config.snapshot.hold);
  assert.equal(run(['--snapshot.hold=false'], { MEMLENS_SNAPSHOT_HOLD: 'true' }).snapshot.hold, false);
  assert.equal(run([], { MEMLENS_SNAPSHOT_HOLD: 'true' }).snapshot.hold, true);
  assert.equal(run([], { MEMLENS_WATCH_ENABLED: 'false' }).watch.enabled, false);
  // A flag alone before the command still leaves the command where it was.
  const r = loadConfig(['--snapshot.cmdline', 'watch'], {});
  assert.ok(r.kind === 'run' && r.command === 'watch' && r.config.snapshot.cmdline);
  withFile('snapshot:\n  hold: true\nwatch:\n  enabled: false\n', (p) => {
    const c = run(['--config', p]);
    assert.equal(c.snapshot.hold, true);
    assert.equal(c.watch.enabled, false);
  });
  // Typed in the option table, not strings compared with 'true'.
  for (const o of OPTIONS.filter((x) => x.kind === 'bool')) assert.equal(typeof o.default, 'boolean', o.flag);
  assert.throws(() => run(['--snapshot.hold=yes']), (e: unknown) => e instanceof ConfigError && /--snapshot.hold: must be true or false, got "yes"/.test(e.message));
  assert.throws(() => run([], { MEMLENS_SNAPSHOT_HOLD: '1' }), (e: unknown) => e instanceof ConfigError && /MEMLENS_SNAPSHOT_HOLD: must be true or false/.test(e.message));
  assert.throws(() => run(['--no-snapshot.dir']), ConfigError, 'only booleans have a --no- form');
  assert.match(helpText(), /--\[no-\]snapshot\.hold/);
});

test('--cgroup.stat-items: the default list, all, and unknown names refused', () => {
  assert.deepEqual(run([]).cgroup.statItems, ['anon', 'file', 'shmem', 'file_mapped', 'kernel', 'inactive_file', 'active_file', 'slab', 'sock']);
  assert.deepEqual(run(['--cgroup.stat-items', 'all']).cgroup.statItems, ['all']);
  assert.deepEqual(run(['--cgroup.stat-items', 'anon, pgfault']).cgroup.statItems, ['anon', 'pgfault']);
  assert.throws(() => run(['--cgroup.stat-items', 'anno']), (e: unknown) => e instanceof ConfigError && /--cgroup.stat-items: unknown memory.stat item "anno"/.test(e.message));
  assert.throws(() => run(['--cgroup.stat-items', 'all,anon']), ConfigError);
  assert.throws(() => run(['--cgroup.stat-items', '']), ConfigError);
});
