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
  assert.match(configError(['--collectors.disabled', 'process,gpu']), /unknown collector "gpu"/);
  assert.match(configError(['--config', '/nonexistent/memlens.yaml']), /\/nonexistent\/memlens\.yaml: cannot read/);
  withFile('process:\n  top: [1\n', (f) => assert.match(configError(['--config', f]), /not valid YAML/));
  withFile('process:\n  tpo: 3\n', (f) => assert.match(configError(['--config', f]), /process.*tpo/));
  withFile('process:\n  groups:\n    - name: x\n      comm: "["\n', (f) => assert.match(configError(['--config', f]), /process\.groups\.0\.comm/));
  withFile('process:\n  groups:\n    - name: x\n', (f) => assert.match(configError(['--config', f]), /comm or cmdline/));
});

test('--help lists every flag with its environment variable', () => {
  const h = helpText();
  for (const o of OPTIONS) {
    assert.ok(h.includes(`--${o.flag}`), o.flag);
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
