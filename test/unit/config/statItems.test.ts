import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_STAT_ITEMS, KNOWN_STAT_ITEMS, checkStatItems, statItemSelector } from '../../../src/config/statItems.js';
import { V1_STAT_ITEMS, V2_STAT_BYTES } from '../../../src/cgroupfs/memory.js';

test('stat items: every item the v1/v2 parsers produce can be named, and the default is known', () => {
  for (const i of [...V2_STAT_BYTES, ...V1_STAT_ITEMS.values()]) assert.ok(KNOWN_STAT_ITEMS.has(i), i);
  assert.equal(checkStatItems(DEFAULT_STAT_ITEMS), undefined);
});

test('stat items: the selector picks exactly the listed items, or every one with all', () => {
  const sel = statItemSelector(['anon', 'pgfault']);
  assert.deepEqual(['anon', 'file', 'pgfault', 'pgmajfault'].filter(sel), ['anon', 'pgfault']);
  const all = statItemSelector(['all']);
  assert.ok(all('anon') && all('zswapped') && all('pgfault'));
  assert.match(checkStatItems(['anon', 'nope']) ?? '', /unknown memory.stat item "nope"/);
});
