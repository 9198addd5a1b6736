// Fault tests for the OOM path: KmsgFollower over dumps with seq gaps and over paths that cannot be
// read, OomMonitor (kmsg -> store, and the cgroup-counter fallback only while kmsg is down), OomStore
// (bounded records, counters that outlive their cgroups, list() filters), and the real exporter
// started with --path.kmsg /nonexistent: /metrics still served, the API's 400s.
// No kernel needed except two cases that need root (a device node that has no driver) or epoll.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { KmsgFollower } from '../../../src/kmsg/source.js';
import { parseKmsgRecord, splitKmsgRecords, type KmsgRecord } from '../../../src/kmsg/record.js';
import type { OomKill } from '../../../src/kmsg/oomReport.js';
import { OomMonitor } from '../../../src/oom/monitor.js';
import { OomStore, type CounterKey } from '../../../src/oom/store.js';
import { OomCollector } from '../../../src/collectors/oom.js';
import { KernelEventLoop } from '../../../src/kernel/eventLoop.js';
import { loadConfig } from '../../../src/config/load.js';
import { startExporter, type Running } from '../../../src/main.js';
import { createLogger } from '../../../src/log.js';
import { freePort, parseExposition, scrape, select, valueOf } from '../../helpers/exposition.js';

const FIXTURE = 'cgroup-v1-debian12-k6.18.kmsg_oom_raw.txt';
const fixtureUrl = new URL(`../../../../test/fixtures/kmsg/${FIXTURE}`, import.meta.url);
const fixturePath = fileURLToPath(fixtureUrl);
const fixtureText = readFileSync(fixturePath, 'utf8');
const fixtureRecords = splitKmsgRecords(fixtureText); // seq 344..423, the Killed line is 423

const silent = createLogger('silent');
const tmp = mkdtempSync(join(tmpdir(), `memlens-kmsg-source-${process.pid}-`));
after(() => rmSync(tmp, { recursive: true, force: true }));

function seqOf(raw: string): number {
  const r = parseKmsgRecord(raw);
  assert.ok(r !== undefined, raw);
  return r.seq;
}

function writeDump(name: string, records: readonly string[]): string {
  const p = join(tmp, name);
  writeFileSync(p, records.map((r) => `${r}\n`).join(''));
  return p;
}

function follow(path: string, loop?: KernelEventLoop): { f: KmsgFollower; got: { rec: KmsgRecord; beforeStart: boolean }[] } {
  const got: { rec: KmsgRecord; beforeStart: boolean }[] = [];
  const f = new KmsgFollower({ path, loop, onRecord: (rec, beforeStart) => got.push({ rec, beforeStart }) });
  return { f, got };
}

/** A monitor over `path` with a fixed boot time; its store and the JSON log lines it wrote. */
function monitorOver(path: string, store = new OomStore()): { m: OomMonitor; store: OomStore; logLines: () => Record<string, unknown>[] } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  const m = new OomMonitor({ kmsgPath: path, loop: undefined, store, log: createLogger('warn', sink), bootTimeMs: 1_700_000_000_000 });
  const logLines = (): Record<string, unknown>[] => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  return { m, store, logLines };
}

function counterOf(store: OomStore, key: Partial<CounterKey>): number[] {
  const out: number[] = [];
  for (const { key: k, count } of store.counterValues()) {
    if (Object.entries(key).every(([n, v]) => k[n as keyof CounterKey] === v)) out.push(count);
  }
  return out;
}

async function oomSamples(store: OomStore, m: OomMonitor): Promise<{ name: string; labels: Record<string, string>; value: number }[]> {
  const r = await new OomCollector(store, m).collect();
  return r.samples.map((s) => ({ name: s.desc.prom, labels: { ...s.labels } as Record<string, string>, value: s.value }));
}

// ---------------------------------------------------------------------------------------------
describe('KmsgFollower over a dump file', () => {
  test('the real v1 report: every record delivered in order, beforeStart, nothing lost, source up', () => {
    const { f, got } = follow(fixturePath);
    f.start();
    assert.equal(f.state.up, true);
    assert.equal(f.state.reason, undefined);
    assert.equal(f.state.recordsRead, 80);
    assert.equal(f.state.recordsLost, 0);
    assert.deepEqual(got.map((g) => g.rec.seq), fixtureRecords.map(seqOf));
    assert.ok(got.every((g) => g.beforeStart));
    assert.match(got.at(-1)!.rec.text, /^Memory cgroup out of memory: Killed process 2028 \(python3\)/);
    f.close();
    f.close(); // idempotent
  });

  test('seq gaps outside the report: recordsLost = the gap sizes, the kill still parsed', () => {
    // 300, 301, [gap of 42: 302..343], 344..423 (the report), [gap of 6: 424..429], 430
    const dump = writeDump('gap-outside.kmsg', [
      '6,300,66000000,-;e1000: eth0 NIC Link is Up',
      '6,301,66000100,-;IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready',
      ...fixtureRecords,
      '6,430,66200000,-;systemd[1]: session-3.scope: A process of this unit has been killed by the OOM killer.',
    ]);
    const { f, got } = follow(dump);
    f.start();
    assert.equal(f.state.up, true);
    assert.equal(f.state.recordsRead, 83);
    assert.equal(f.state.recordsLost, 42 + 6);
    assert.equal(got.length, 83);

    const { m, store } = monitorOver(dump);
    m.start();
    assert.equal(m.state.recordsLost, 48);
    const kills = store.list();
    assert.equal(kills.length, 1);
    assert.equal(kills[0]!.victim.pid, 2028);
    assert.equal(kills[0]!.anonRssBytes, 65152 * 1024);
    assert.equal(kills[0]!.cgroup, '/workloads/job-7f3a/oomdemo');
  });

  test('a gap inside the stack trace of the report: counted; the kill still parsed, the header before the gap not attributed', () => {
    const dump = writeDump('gap-in-trace.kmsg', fixtureRecords.filter((r) => { const s = seqOf(r); return s < 350 || s > 360; }));
    const { m, store } = monitorOver(dump);
    m.start();
    assert.equal(m.state.recordsLost, 11);
    const [k, ...rest] = store.list();
    assert.equal(rest.length, 0);
    assert.equal(k?.victim.pid, 2028);
    assert.equal(k?.anonRssBytes, 65152 * 1024);
    assert.equal(k?.cgroup, '/workloads/job-7f3a/oomdemo'); // from the oom-kill: summary, after the gap
    // The parser drops open reports on a seq gap (oomReport.ts resetOnSeqGap): the invoker line before
    // the gap is not joined, and neither is the memory: line after it (its report was dropped).
    assert.equal(k?.invoker, undefined);
    assert.equal(k?.memcg, undefined);
  });

  test('a gap that swallowed the Killed line: counted, and no kill is invented', () => {
    const dump = writeDump('gap-killed-line.kmsg', [
      ...fixtureRecords.filter((r) => seqOf(r) !== 423),
      '6,424,66146000,-;systemd-journald[180]: Under memory pressure, flushing caches.',
    ]);
    const { m, store } = monitorOver(dump);
    m.start();
    assert.equal(m.state.recordsLost, 1);
    assert.equal(m.state.recordsRead, 80);
    assert.deepEqual(store.list(), []);
    assert.deepEqual([...store.counterValues()], []);
  });

  test('garbage lines in the dump are skipped without counting a gap', () => {
    const dump = writeDump('garbage.kmsg', ['not a record', ...fixtureRecords.slice(0, 3), '\u0000\u0001', ...fixtureRecords.slice(3)]);
    const { f } = follow(dump);
    f.start();
    assert.equal(f.state.up, true);
    assert.equal(f.state.recordsRead, 80);
    assert.equal(f.state.recordsLost, 0);
  });
});

// ---------------------------------------------------------------------------------------------
describe('KmsgFollower over a path that cannot be read: down with a reason, never a throw', () => {
  const down = async (path: string, errno: RegExp, label: string, loop?: KernelEventLoop): Promise<void> => {
    const { f, got } = follow(path, loop);
    assert.doesNotThrow(() => f.start());
    assert.equal(f.state.up, false, `${path}: up`);
    assert.ok(f.state.reason !== undefined);
    assert.match(f.state.reason, errno);
    assert.equal(got.length, 0);
    assert.doesNotThrow(() => f.close());
    const store = new OomStore();
    const m = new OomMonitor({ kmsgPath: path, loop, store, log: silent });
    m.start();
    const s = await oomSamples(store, m);
    assert.deepEqual(s.filter((x) => x.name === 'memlens_oom_source_up'), [{ name: 'memlens_oom_source_up', labels: { source: 'kmsg', reason: label }, value: 0 }]);
    m.close();
  };

  test('nonexistent path: ENOENT, reason label enoent', async () => {
    await down(join(tmp, 'no-such-kmsg'), /ENOENT/, 'enoent');
  });

  test('a directory: EISDIR, reason label error', async () => {
    const d = join(tmp, 'a-directory');
    mkdirSync(d);
    await down(d, /EISDIR/, 'error');
  });

  test('a device node with no driver behind it (char 240:0, a local/experimental major): ENXIO, label enoent', async (t) => {
    const node = join(tmp, 'no-driver');
    const r = spawnSync('mknod', [node, 'c', '240', '0'], { encoding: 'utf8' });
    if (r.status !== 0) {
      t.skip(`mknod failed (needs root, a mount without nodev): ${r.stderr || String(r.error)}`);
      return;
    }
    await down(node, /ENXIO/, 'enoent');
  });

  test(
    'a character device that epoll refuses (/dev/null) with a real event loop: down, no throw',
    async () => {
      let loop: KernelEventLoop;
      try {
        loop = new KernelEventLoop();
      } catch (err) {
        assert.fail(`no kernel event loop here: ${String(err)}`);
      }
      try {
        const { f } = follow('/dev/null', loop);
        assert.doesNotThrow(() => f.start());
        assert.equal(f.state.up, false);
        assert.match(f.state.reason ?? '', /EPERM|poll/);
        f.close();
      } finally {
        await loop.close();
      }
    },
  );

  test(
    'the reason label comes from the errno, not from the path text (a nonexistent path under a directory named EACCES)',
    async () => {
      const d = join(tmp, 'EACCES');
      mkdirSync(d);
      await down(join(d, 'kmsg'), /ENOENT/, 'enoent');
    },
  );
});

// ---------------------------------------------------------------------------------------------
describe('OomMonitor', () => {
  test('kmsg dump -> one record in the store, one counter, one JSON log line', async () => {
    const { m, store, logLines } = monitorOver(fixturePath);
    m.start();
    assert.equal(m.state.up, true);
    const kills = store.list();
    assert.equal(kills.length, 1);
    const k = kills[0]!;
    assert.equal(k.source, 'kmsg');
    assert.equal(k.beforeStart, true);
    assert.equal(k.kernelSeq, 423);
    assert.equal(k.timeMs, 1_700_000_000_000 + 66145947 / 1000);
    assert.equal(k.time, new Date(k.timeMs).toISOString());
    assert.deepEqual(k.victim, { pid: 2028, comm: 'python3', uid: 0 });
    assert.equal(store.get(k.id), k);
    assert.deepEqual([...store.counterValues()], [
      { key: { cgroup: '/workloads/job-7f3a/oomdemo', oom_cgroup: '/workloads/job-7f3a/oomdemo', comm: 'python3', constraint: 'memcg' }, count: 1 },
    ]);
    const kl = logLines().filter((l) => l['event'] === 'oom_kill');
    assert.equal(kl.length, 1);
    assert.equal((kl[0]!['oom'] as { id: string }).id, k.id);
    const s = await oomSamples(store, m);
    assert.equal(s.find((x) => x.name === 'memlens_oom_source_up')?.value, 1);
    assert.equal(s.find((x) => x.name === 'memlens_oom_source_up')?.labels['reason'], '');
  });

  test('observeCgroupCounts while kmsg is down: increases counted, labels cgroup only, no records; kept after the cgroup is gone', async () => {
    const { m, store, logLines } = monitorOver(join(tmp, 'absent-kmsg'));
    m.start();
    assert.equal(m.state.up, false);
    m.observeCgroupCounts(new Map([['/a', 2], ['/b', 0]]), 1000); // first sight: kills it already had count
    assert.deepEqual(counterOf(store, { cgroup: '/a' }), [2]);
    assert.deepEqual(counterOf(store, { cgroup: '/b' }), []);
    m.observeCgroupCounts(new Map([['/a', 2], ['/b', 1]]), 2000);
    m.observeCgroupCounts(new Map([['/a', 5], ['/b', 1]]), 3000);
    assert.deepEqual([...store.counterValues()].sort((x, y) => x.key.cgroup.localeCompare(y.key.cgroup)), [
      { key: { cgroup: '/a', oom_cgroup: '', comm: '', constraint: '' }, count: 5 },
      { key: { cgroup: '/b', oom_cgroup: '', comm: '', constraint: '' }, count: 1 },
    ]);
    assert.deepEqual(new Map(store.lastKills()), new Map([['/a', 3000], ['/b', 2000]]));
    assert.deepEqual(store.list(), []); // no victim details: no records
    // Both cgroups removed: the counters stay.
    m.observeCgroupCounts(new Map(), 4000);
    m.observeCgroupCounts(new Map(), 5000);
    assert.deepEqual(counterOf(store, { cgroup: '/a' }), [5]);
    assert.deepEqual(counterOf(store, { cgroup: '/b' }), [1]);
    const s = await oomSamples(store, m);
    assert.equal(select(s, 'memlens_oom_kills_total', { cgroup: '/a' })[0]?.value, 5);
    // /a seen again at the count it had: a cgroup that could not be read for a while, not new kills.
    m.observeCgroupCounts(new Map([['/a', 5]]), 6000);
    assert.deepEqual(counterOf(store, { cgroup: '/a' }), [5]);
    // A decrease (same path, a new cgroup whose counter restarted) never subtracts: its kills count.
    m.observeCgroupCounts(new Map([['/a', 1]]), 7000);
    assert.deepEqual(counterOf(store, { cgroup: '/a' }), [6]);
    m.observeCgroupCounts(new Map([['/a', 3]]), 8000);
    assert.deepEqual(counterOf(store, { cgroup: '/a' }), [8]);
    const downLines = logLines().filter((l) => l['source'] === 'kmsg');
    assert.equal(downLines.length, 1, 'the down warning is logged once');
  });

  test('observeCgroupCounts while kmsg is up: nothing counted (the kmsg report counts the kill)', () => {
    const { m, store } = monitorOver(fixturePath);
    m.start();
    assert.equal(m.state.up, true);
    m.observeCgroupCounts(new Map([['/workloads/job-7f3a/oomdemo', 1], ['/x', 3]]));
    m.observeCgroupCounts(new Map([['/workloads/job-7f3a/oomdemo', 2], ['/x', 4]]));
    assert.deepEqual(counterOf(store, { cgroup: '/x' }), []);
    assert.deepEqual(counterOf(store, { cgroup: '/workloads/job-7f3a/oomdemo' }), [1]);
  });
});

// ---------------------------------------------------------------------------------------------
function kill(pid: number, cgroup: string | undefined, opts: { comm?: string; oomCgroup?: string; constraint?: string } = {}): OomKill {
  return {
    usecMonotonic: undefined,
    seq: undefined,
    victim: { pid, comm: opts.comm ?? 'w', uid: 0 },
    cgroup,
    oomCgroup: opts.oomCgroup ?? cgroup,
    constraint: opts.constraint ?? 'CONSTRAINT_MEMCG',
    message: 'Memory cgroup out of memory',
    totalVmBytes: undefined,
    anonRssBytes: 4096,
    fileRssBytes: undefined,
    shmemRssBytes: undefined,
    pageTablesBytes: undefined,
    oomScoreAdj: 0,
    form: '5.x+',
  };
}

describe('OomStore', () => {
  test('records are bounded by maxRecords (oldest dropped), counters are not', () => {
    const store = new OomStore(3);
    for (let i = 1; i <= 5; i++) store.addFromKmsg(kill(i, '/a'), i * 1000, false);
    assert.deepEqual(store.list().map((r) => r.victim.pid), [5, 4, 3]);
    assert.equal(store.list().filter((r) => r.victim.pid <= 2).length, 0);
    assert.deepEqual(counterOf(store, { cgroup: '/a' }), [5]);
  });

  test('ids are unique and get() finds only kept records', () => {
    const store = new OomStore(2);
    const ids = [1, 2, 3].map((i) => store.addFromKmsg(kill(7, '/a'), 1000, false).id);
    assert.equal(new Set(ids).size, 3);
    assert.equal(store.get(ids[0]!), undefined);
    assert.equal(store.get(ids[2]!)?.id, ids[2]);
  });

  test('maxSeries: label sets past the bound are dropped and counted, existing ones still count', () => {
    const store = new OomStore(10, 2);
    store.addFromKmsg(kill(1, '/a'), 1, false);
    store.addFromKmsg(kill(2, '/b'), 2, false);
    store.addFromKmsg(kill(3, '/c'), 3, false);
    store.addFromKmsg(kill(4, '/a'), 4, false);
    assert.equal(store.seriesDropped, 1);
    assert.deepEqual(counterOf(store, { cgroup: '/a' }), [2]);
    assert.deepEqual(counterOf(store, { cgroup: '/c' }), []);
  });

  test('counters per {cgroup, oom_cgroup, comm, constraint}; constraint label lower-cased without CONSTRAINT_', () => {
    const store = new OomStore();
    store.addFromKmsg(kill(1, '/p/c', { oomCgroup: '/p' }), 1, false);
    store.addFromKmsg(kill(2, '/p/c', { oomCgroup: '/p/c' }), 2, false);
    store.addFromKmsg(kill(3, '/p/c', { oomCgroup: '/p/c', comm: 'other' }), 3, false);
    store.addFromKmsg(kill(4, '/', { constraint: 'CONSTRAINT_NONE' }), 4, false);
    assert.deepEqual(counterOf(store, { cgroup: '/p/c' }), [1, 1, 1]);
    assert.deepEqual(counterOf(store, { cgroup: '/', constraint: 'none' }), [1]);
  });

  test('list({cgroup}) matches that cgroup and its descendants (victim\'s or limited one), not name prefixes', () => {
    const store = new OomStore();
    store.addFromKmsg(kill(1, '/a'), 1000, false);
    store.addFromKmsg(kill(2, '/a/b'), 2000, false);
    store.addFromKmsg(kill(3, '/ab'), 3000, false);
    store.addFromKmsg(kill(4, '/x/y', { oomCgroup: '/a' }), 4000, false); // limited by /a
    store.addFromKmsg(kill(5, undefined, { constraint: 'CONSTRAINT_NONE' }), 5000, false);
    const pids = (q: Parameters<OomStore['list']>[0]): number[] => store.list(q).map((r) => r.victim.pid);
    assert.deepEqual(pids({ cgroup: '/a' }), [4, 2, 1]);
    assert.deepEqual(pids({ cgroup: '/a/b' }), [2]);
    assert.deepEqual(pids({ cgroup: '/ab' }), [3]);
    assert.deepEqual(pids({ cgroup: '/' }), [4, 3, 2, 1]);
    assert.deepEqual(pids({ cgroup: '/nope' }), []);
    assert.deepEqual(pids({}), [5, 4, 3, 2, 1]);
  });

  test(
    'list({cgroup}) with a trailing slash is the same cgroup (its own kills included)',
    () => {
      const store = new OomStore();
      store.addFromKmsg(kill(1, '/a'), 1000, false);
      store.addFromKmsg(kill(2, '/a/b'), 2000, false);
      assert.deepEqual(store.list({ cgroup: '/a/' }).map((r) => r.victim.pid), [2, 1]);
    },
  );

  test('since (inclusive) and limit (newest first), alone and together', () => {
    const store = new OomStore();
    for (let i = 1; i <= 5; i++) store.addFromKmsg(kill(i, '/a'), i * 1000, false);
    const pids = (q: Parameters<OomStore['list']>[0]): number[] => store.list(q).map((r) => r.victim.pid);
    assert.deepEqual(pids({ sinceMs: 3000 }), [5, 4, 3]);
    assert.deepEqual(pids({ sinceMs: 3001 }), [5, 4]);
    assert.deepEqual(pids({ sinceMs: 6000 }), []);
    assert.deepEqual(pids({ limit: 2 }), [5, 4]);
    assert.deepEqual(pids({ sinceMs: 2000, limit: 10 }), [5, 4, 3, 2]);
    assert.deepEqual(pids({ sinceMs: 2000, limit: 1, cgroup: '/a' }), [5]);
  });

  test('onKill listeners see each kmsg record; counter-only kills make no record', () => {
    const store = new OomStore();
    const seen: number[] = [];
    store.onKill((r) => seen.push(r.victim.pid));
    store.addFromKmsg(kill(9, '/a'), 1, false);
    store.addFromCounter('/a', 3, 2);
    assert.deepEqual(seen, [9]);
    assert.equal(store.list().length, 1);
  });
});

// ---------------------------------------------------------------------------------------------
describe('the exporter with --path.kmsg /nonexistent', () => {
  let running: Running | undefined;
  let base = '';

  before(async () => {
    const port = await freePort();
    const parsed = loadConfig(['--path.kmsg', '/nonexistent', '--web.listen-address', `127.0.0.1:${port}`, '--collect.min-interval', '0s'], {});
    assert.equal(parsed.kind, 'run');
    running = await startExporter(parsed.config, silent);
    base = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    await running?.close();
  });

  test('/metrics is served: source up 0 with reason enoent, every collector succeeds', async () => {
    const res = await scrape(`${base}/metrics`);
    assert.equal(res.status, 200);
    const samples = parseExposition(res.body);
    assert.equal(valueOf(samples, 'memlens_oom_source_up', { source: 'kmsg', reason: 'enoent' }), 0);
    assert.equal(select(samples, 'memlens_oom_source_up').length, 1);
    for (const collector of ['process', 'cgroup', 'host', 'oom']) {
      assert.equal(valueOf(samples, 'memlens_collector_success', { collector }), 1, collector);
    }
    assert.equal(valueOf(samples, 'memlens_kmsg_records_lost_total'), 0);
    assert.equal(running?.monitor.state.up, false);
    assert.match(running?.monitor.state.reason ?? '', /ENOENT/);
  });

  test('the API answers with no kills', async () => {
    const res = await fetch(`${base}/api/v1/oom-kills`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { kills: [] });
    const one = await fetch(`${base}/api/v1/oom-kills/oom-1-2-3`);
    assert.equal(one.status, 404);
  });

  const bad: [string, RegExp][] = [
    ['since=yesterday', /^since:/],
    ['since=', /^since:/],
    ['since=2024-13-45T00:00:00Z', /^since:/],
    ['since=1e9', /^since:/],
    ['since=1&since=2', /^since:/],
    ['limit=0', /^limit:/],
    ['limit=-1', /^limit:/],
    ['limit=1.5', /^limit:/],
    ['limit=ten', /^limit:/],
    ['limit=', /^limit:/],
    ['limit=1&limit=2', /^limit:/],
    ['cgroup=kubepods', /^cgroup:/],
    ['cgroup=', /^cgroup:/],
    ['cgroup=/a&cgroup=/b', /^cgroup:/],
  ];
  for (const [q, msg] of bad) {
    test(`400 for ?${q}`, async () => {
      const res = await fetch(`${base}/api/v1/oom-kills?${q}`);
      assert.equal(res.status, 400);
      const body = (await res.json()) as { error?: unknown };
      assert.equal(typeof body.error, 'string');
      assert.match(String(body.error), msg);
    });
  }

  for (const q of ['since=hello%201', 'since=March%207', 'since=-1', 'since=x%202024']) {
    test(
      `400 for ?${q} (not RFC 3339, not Unix seconds)`,
      async () => {
        const res = await fetch(`${base}/api/v1/oom-kills?${q}`);
        assert.equal(res.status, 400);
      },
    );
  }

  for (const q of ['since=2026-11-26T10:00:00Z', 'since=2026-11-26T10:00:00.5%2B01:00', 'since=1795709077', 'since=1795709077.25', 'limit=1', 'limit=100000', 'cgroup=/', 'cgroup=/kubepods.slice/x']) {
    test(`200 for ?${q}`, async () => {
      const res = await fetch(`${base}/api/v1/oom-kills?${q}`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { kills: [] });
    });
  }
});
