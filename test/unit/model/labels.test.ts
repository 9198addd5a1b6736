// model/labels.ts: a set made by extendLabels reads as the same set made whole, and carries its parts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { extendLabels, labelsBase, labelsExtra } from '../../../src/model/labels.js';

test('extendLabels: the base plus one label, last, to every reader; the parts found again', () => {
  const base = { cgroup: '/a', pod_uid: 'u' };
  const extra = { key: 'item', value: 'cache' };
  const l = extendLabels(base, extra);
  assert.deepEqual(Object.keys(l), ['cgroup', 'pod_uid', 'item']);
  assert.deepEqual(Object.entries(l), Object.entries({ ...base, item: 'cache' }));
  assert.equal(JSON.stringify(l), '{"cgroup":"/a","pod_uid":"u","item":"cache"}');
  assert.deepStrictEqual(l, { cgroup: '/a', pod_uid: 'u', item: 'cache' });
  const keys: string[] = [];
  for (const k in l) keys.push(k);
  assert.deepEqual(keys, ['cgroup', 'pod_uid', 'item']);
  assert.equal(labelsBase(l), base);
  assert.equal(labelsExtra(l), extra);
  assert.deepEqual(base, { cgroup: '/a', pod_uid: 'u' }, 'the base is not changed');
  // A copy is a plain set.
  assert.equal(labelsBase({ ...l }), undefined);
  assert.equal(labelsBase(base), undefined);
});

test('extendLabels: a key the base has already keeps its place and the set has no parts', () => {
  const l = extendLabels({ item: 'old', cgroup: '/a' }, { key: 'item', value: 'new' });
  assert.deepEqual(Object.entries(l), [['item', 'new'], ['cgroup', '/a']]);
  assert.equal(labelsBase(l), undefined);
  assert.equal(labelsExtra(l), undefined);
});
