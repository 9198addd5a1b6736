// Issue 9: what may reach a rule command's argv, and the API's canonical cgroup paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandEnv, expandArgv, unsafeArgValue } from '../../../src/forensics/hooks.js';
import { canonicalCgroupPath } from '../../../src/forensics/snapshots.js';

test('{comm} that reads as an option or a path, or holds control characters, is refused; plain ones pass', () => {
  for (const comm of ['--help', '-rf', '../../etc/hosts', 'a/b', '..', 'x\ny', 'x\u001b[2J', '']) assert.ok(unsafeArgValue('comm', comm) !== undefined, JSON.stringify(comm));
  for (const comm of ['java', 'python3', 'kworker:1', 'a-b', 'café']) assert.equal(unsafeArgValue('comm', comm), undefined, comm);
  assert.equal(unsafeArgValue('cgroup', '/kubepods.slice/x.scope'), undefined);
  for (const cg of ['-x', 'relative', '/a/../b', '/a\nb']) assert.ok(unsafeArgValue('cgroup', cg) !== undefined, cg);
});

test('expandArgv: substitutes safe values, refuses the whole command on an unsafe one, naming the variable to use', () => {
  assert.deepEqual(expandArgv(['py-spy', 'dump', '--pid', '{pid}', '--name={comm}'], { pid: 42, comm: 'python3', cgroup: '/a' }).argv, ['py-spy', 'dump', '--pid', '42', '--name=python3']);
  const bad = expandArgv(['/bin/echo', '{comm}'], { pid: 42, comm: '--help', cgroup: '/a' });
  assert.equal(bad.argv, undefined);
  assert.match(bad.error ?? '', /not run: comm starts with "-".*\$MEMLENS_COMM/);
  assert.equal(expandArgv(['/bin/echo', '{pid}'], { pid: 42, comm: '--help', cgroup: '/a' }).argv?.[1], '42', 'an unused unsafe field does not matter');
});

test('commandEnv: the fields and a fixed PATH, nothing else', () => {
  const env = commandEnv({ pid: 7, comm: '--help', cgroup: '/a' }, 'r');
  assert.deepEqual(Object.keys(env).sort(), ['LC_ALL', 'MEMLENS_CGROUP', 'MEMLENS_COMM', 'MEMLENS_PID', 'MEMLENS_RULE', 'PATH']);
  assert.equal(env['MEMLENS_COMM'], '--help');
});

test('canonicalCgroupPath: one spelling per cgroup; ., .., control characters, relative and overlong paths refused', () => {
  assert.equal(canonicalCgroupPath('/a//b/'), '/a/b');
  assert.equal(canonicalCgroupPath('//a'), '/a');
  assert.equal(canonicalCgroupPath('/'), '/');
  assert.equal(canonicalCgroupPath('///'), '/');
  for (const p of ['a/b', '/a/../b', '/a/./b', '/a\nb', '/a\u0000', `/${'x'.repeat(5000)}`]) assert.equal(canonicalCgroupPath(p), undefined, p.slice(0, 20));
});
