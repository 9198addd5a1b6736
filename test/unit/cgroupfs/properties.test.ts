// cgroupfs parsers never throw on odd text: random strings and random damage to the real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseLimit } from '../../../src/cgroupfs/limit.js';
import { countLines, parseV1Stat, parseV2Stat } from '../../../src/cgroupfs/memory.js';
import { findMemoryHierarchy, kubeIds } from '../../../src/cgroupfs/discover.js';
import { parseMountinfo } from '../../../src/procfs/mountinfo.js';
import { fixture, neverThrows, type FuzzedParser } from '../procfs/fixtures.js';

type Parser = FuzzedParser;
const V1 = 'sys/fs/cgroup/memory/workloads/job-7f3a';
const V2 = 'sys/fs/cgroup/workloads/job-42c9';

const parsers: [string, Parser, [string, string][]][] = [
  ['limit', parseLimit, [fixture('v1', `${V1}/memory.limit_in_bytes`), fixture('v1', `${V1}/oomdemo/memory.limit_in_bytes`), fixture('v2', `${V2}/memory.max`)]],
  ['v1 memory.stat', parseV1Stat, [fixture('v1', `${V1}/memory.stat`), fixture('v1', `${V1}/oomdemo/memory.stat`)]],
  ['v2 memory.stat', parseV2Stat, [fixture('v2', `${V2}/memory.stat`), fixture('v2', `${V2}/oomdemo/memory.stat`)]],
  ['count lines', (t) => (countLines(t), { problems: [] }), [fixture('v2', `${V2}/cgroup.procs`)]],
  ['kube ids', (t) => (kubeIds(t), { problems: [] }), [['/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f9a8e3c_5d2b_4c1e_9a7f_3b6d8e2c1a40.slice/cri-containerd-' + 'ab'.repeat(32) + '.scope', '']]],
  ['find hierarchy', (t, p) => {
    const r = parseMountinfo(t, p);
    findMemoryHierarchy(r.value, (mp) => (mp.length % 2 === 0 ? 'cpu memory' : undefined));
    return r;
  }, [fixture('v1', 'proc/self/mountinfo'), fixture('v2', 'proc/self/mountinfo')]],
];

const PATH = '/sys/fs/cgroup/fuzz/file';


neverThrows(parsers, PATH);

test('limit: any decimal string parses to unlimited or to a finite byte count, never a huge number', () => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n }), (n) => {
    const v = parseLimit(n.toString(), PATH).value;
    assert.ok(v !== undefined);
    if (v.unlimited) assert.ok(n >= 2n ** 62n);
    else assert.ok(Number.isFinite(v.bytes) && n < 2n ** 62n);
  }));
});
