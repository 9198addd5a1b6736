// snapshot.rules in the YAML file: compiled into signal and command actions; a bad rule is a
// ConfigError (memlens exits 2 before anything starts) whose message names the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';
import { DEFAULT_HOOK_MAX_OUTPUT_BYTES, DEFAULT_HOOK_TIMEOUT_MS, splitCommand } from '../../../src/config/snapshotRules.js';

const tmp = mkdtempSync(join(tmpdir(), 'memlens-rules-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

function yamlFile(rules: string): string {
  const f = join(tmp, `c${n++}.yaml`);
  writeFileSync(f, `snapshot:\n  rules:\n${rules}`);
  return f;
}

function load(rules: string): ReturnType<typeof loadConfig> {
  return loadConfig(['--config', yamlFile(rules)], {});
}

function configError(rules: string): string {
  try {
    load(rules);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

test('signal and command rules compile', () => {
  const parsed = load(
    [
      '    - name: jvm', '      comm: ^java$', '      signal: quit',
      '    - name: node', '      cgroup: ^/pod/web', '      comm: ^node$', '      signal: SIGUSR2',
      '    - name: py', '      comm: python', "      command: py-spy dump --pid {pid} --native 'a b'", '      timeout: 5s', '      max-output: 64KiB',
      '    - name: go', '      comm: ^server$', '      signal: SIGQUIT', '      allow-go: true', '      require-handler: false',
      '',
    ].join('\n'),
  );
  assert.equal(parsed.kind, 'run');
  const rules = parsed.config.snapshot.rules;
  assert.equal(rules.length, 4);
  assert.deepEqual(rules[0]?.action, { kind: 'signal', signal: 'SIGQUIT' });
  assert.equal(rules[0]?.comm?.source, '^java$');
  assert.equal(rules[0]?.cgroup, undefined);
  assert.equal(rules[0]?.allowGo, false);
  assert.equal(rules[0]?.requireHandler, true);
  assert.equal(rules[1]?.cgroup?.source, '^\\/pod\\/web');
  assert.deepEqual(rules[2]?.action, { kind: 'command', argv: ['py-spy', 'dump', '--pid', '{pid}', '--native', 'a b'], timeoutMs: 5000, maxOutputBytes: 64 * 1024 });
  assert.equal(rules[3]?.allowGo, true);
  assert.equal(rules[3]?.requireHandler, false);
});

test('command defaults: 10 s timeout, 1 MiB of output', () => {
  const parsed = load('    - name: x\n      comm: a\n      command: jcmd {pid} GC.class_histogram\n');
  assert.equal(parsed.kind, 'run');
  const a = parsed.config.snapshot.rules[0]?.action;
  assert.ok(a?.kind === 'command');
  assert.equal(a.timeoutMs, DEFAULT_HOOK_TIMEOUT_MS);
  assert.equal(a.maxOutputBytes, DEFAULT_HOOK_MAX_OUTPUT_BYTES);
});

test('no rules: an empty list', () => {
  const parsed = loadConfig([], {});
  assert.equal(parsed.kind, 'run');
  assert.deepEqual(parsed.config.snapshot.rules, []);
});

test('bad rules: a ConfigError naming the key', () => {
  const cases: [string, RegExp][] = [
    ['    - name: a\n      signal: SIGUSR1\n', /snapshot\.rules\.0: a snapshot rule needs comm or cgroup/],
    ['    - name: a\n      comm: x\n', /snapshot\.rules\.0: a snapshot rule needs exactly one of signal or command/],
    ['    - name: a\n      comm: x\n      signal: SIGUSR1\n      command: ls\n', /snapshot\.rules\.0: a snapshot rule needs exactly one of signal or command/],
    ['    - name: a\n      comm: x\n      signal: SIGUSR1\n      colour: red\n', /snapshot\.rules\.0.*colour/],
    ['    - comm: x\n      signal: SIGUSR1\n', /snapshot\.rules\.0\.name/],
    ['    - name: ok\n      comm: x\n      signal: SIGUSR1\n    - name: b\n      comm: "("\n      signal: SIGUSR1\n', /snapshot\.rules\.1\.comm: not a regular expression/],
    ['    - name: b\n      cgroup: "[a"\n      signal: SIGUSR1\n', /snapshot\.rules\.0\.cgroup: not a regular expression/],
    ['    - name: b\n      comm: x\n      signal: SIGNOPE\n', /snapshot\.rules\.0\.signal: not a signal name: "SIGNOPE"/],
    ['    - name: b\n      comm: x\n      signal: KILL\n', /snapshot\.rules\.0\.signal: SIGKILL would not dump anything/],
    ['    - name: b\n      comm: x\n      signal: SIGSTOP\n', /snapshot\.rules\.0\.signal: SIGSTOP/],
    ['    - name: b\n      comm: x\n      command: "py-spy \'dump"\n', /snapshot\.rules\.0\.command: empty or an unclosed quote/],
    ['    - name: b\n      comm: x\n      command: "   "\n', /snapshot\.rules\.0\.command: empty or an unclosed quote/],
    ['    - name: b\n      comm: x\n      command: ls\n      timeout: soon\n', /snapshot\.rules\.0\.timeout: not a duration/],
    ['    - name: b\n      comm: x\n      command: ls\n      max-output: lots\n', /snapshot\.rules\.0\.max-output/],
    ['    - name: b\n      comm: x\n      signal: SIGUSR1\n      allow-go: yes please\n', /snapshot\.rules\.0\.allow-go/],
  ];
  for (const [rules, re] of cases) assert.match(configError(rules), re, rules);
  assert.match(configError('    name: not-a-list\n'), /snapshot\.rules/);
});

test('memlens exits 2 on a bad rule, with one line naming the key, before anything starts', () => {
  const f = yamlFile('    - name: b\n      comm: x\n      signal: SIGNOPE\n');
  const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', '..', '..', '..', 'bin', 'memlens.js'), '--config', f, '--web.listen-address', '127.0.0.1:0'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^memlens: .*snapshot\.rules\.0\.signal: not a signal name/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});

test('splitCommand: quotes group words, no shell', () => {
  assert.deepEqual(splitCommand(`gdb -p {pid} -batch -ex 'thread apply all bt'`), ['gdb', '-p', '{pid}', '-batch', '-ex', 'thread apply all bt']);
  assert.deepEqual(splitCommand('a "" b'), ['a', '', 'b']);
  assert.deepEqual(splitCommand('echo $(id); rm'), ['echo', '$(id);', 'rm']);
  assert.equal(splitCommand(''), undefined);
  assert.equal(splitCommand('"open'), undefined);
});
