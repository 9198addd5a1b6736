// `memlens explain`: which memlens it asks (--url, else --web.listen-address; credentials moved
// from the URL into an Authorization header, since fetch refuses them in the URL), bad usage
// (exit 2), an unreachable memlens or an unknown kill (exit 1, one line), and the printed text
// against a real HTTP server answering with a constructed explanation.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { loadConfig, type Config } from '../../../src/config/load.js';
import { explainCommand, formatExplanation, target } from '../../../src/commands/explain.js';
import { explainKill } from '../../../src/forensics/explain.js';
import type { OomKillRecord } from '../../../src/oom/store.js';
import { freePort } from '../../helpers/exposition.js';

const MiB = 1 << 20;
const T = 1_800_000_000_000;

function config(argv: string[]): Config {
  const p = loadConfig(['explain', ...argv], {});
  assert.equal(p.kind, 'run');
  return p.config;
}

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  return { stream: new Writable({ write: (chunk: Buffer, _e, cb) => ((text += chunk.toString()), cb()) }), text: () => text };
}

const kill: OomKillRecord = {
  id: 'oom-1-2-3', time: new Date(T).toISOString(), timeMs: T, beforeStart: false, source: 'kmsg', victim: { pid: 2, comm: 'leaky', uid: 0 }, cgroup: '/pod/c', oomCgroup: '/pod',
  constraint: 'CONSTRAINT_MEMCG', totalVmBytes: undefined, anonRssBytes: 100 * MiB, fileRssBytes: 0, shmemRssBytes: 0, pageTablesBytes: undefined, oomScoreAdj: 0,
  memcg: { usageBytes: 128 * MiB, limitBytes: 128 * MiB, failcnt: 3 }, invoker: undefined, kernelSeq: 1, snapshotId: undefined,
};
const explanation = explainKill({ kill, snapshot: undefined, context: undefined, settings: { thresholds: [0.9], linkWindowMs: 1, snapshotMinIntervalMs: 1 } });

let server: Server | undefined;
let base = '';
const seen: { url: string; auth: string | undefined }[] = [];

before(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', auth: req.headers.authorization });
    res.setHeader('content-type', 'application/json');
    if (req.url === '/api/v1/oom-kills?limit=1') res.end(JSON.stringify({ kills: [kill] }));
    else if (req.url === '/api/v1/oom-kills?limit=1&cgroup=%2Fempty') res.end(JSON.stringify({ kills: [] }));
    else if (req.url === `/api/v1/oom-kills/${kill.id}/explain`) res.end(JSON.stringify(explanation));
    else {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: 'no such OOM kill' }));
    }
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((r) => (server === undefined ? r() : server.close(() => r()))));

test('target: --url wins, else the listen address (a wildcard host means this machine); credentials become a header', () => {
  assert.equal(target(config([])).base, 'http://127.0.0.1:9966');
  assert.equal(target(config(['--web.listen-address', '[::1]:9000'])).base, 'http://[::1]:9000');
  const t = target(config(['--url', 'https://ops:s%40cret@node-1:9966/']));
  assert.equal(t.base, 'https://node-1:9966');
  assert.equal(t.headers['authorization'], `Basic ${Buffer.from('ops:s@cret').toString('base64')}`);
  assert.throws(() => target(config(['--url', 'ftp://x'])), /expected http:\/\/ or https:\/\//);
});

test('--last asks for the newest kill, then its explanation, and prints it for a person', async () => {
  const out = sink();
  const err = sink();
  const code = await explainCommand(config(['--last', '--url', base.replace('http://', 'http://u:p@')]), undefined, out.stream, err.stream);
  assert.equal(code, 0, err.text());
  assert.deepEqual(seen.slice(-2).map((s) => s.url), ['/api/v1/oom-kills?limit=1', `/api/v1/oom-kills/${kill.id}/explain`]);
  assert.equal(seen[seen.length - 1]?.auth, `Basic ${Buffer.from('u:p').toString('base64')}`);
  const text = out.text();
  assert.match(text, /^OOM kill oom-1-2-3 at /);
  assert.match(text, /Victim +leaky \(pid 2\) in \/pod\/c: 100\.0 MiB resident/);
  assert.match(text, /Limit hit +an ancestor, \/pod, hit its limit of 128\.0 MiB/);
  assert.match(text, /Missing evidence\n {2}- snapshot: no record of the watch state/);
  assert.equal(text, formatExplanation(explanation, base));
});

test('bad usage exits 2; an unknown kill or an unreachable memlens exits 1 with one line', async () => {
  const err = sink();
  assert.equal(await explainCommand(config(['--url', base]), undefined, sink().stream, err.stream), 2);
  assert.match(err.text(), /needs a KILL-ID or --last/);
  assert.equal(await explainCommand(config(['--last', '--url', base]), 'oom-x', sink().stream, sink().stream), 2);
  const e404 = sink();
  assert.equal(await explainCommand(config(['--url', base]), 'oom-nope', sink().stream, e404.stream), 1);
  assert.match(e404.text(), /no OOM kill oom-nope/);
  const port = await freePort();
  const down = sink();
  assert.equal(await explainCommand(config(['--url', `http://127.0.0.1:${port}`]), 'oom-1', sink().stream, down.stream), 1);
  assert.match(down.text(), /cannot reach memlens at http:\/\/127\.0\.0\.1:\d+/);
  const none = sink();
  assert.equal(await explainCommand(config(['--last', '--cgroup', '/empty', '--url', base]), undefined, sink().stream, none.stream), 1);
  assert.match(none.text(), /no OOM kill in \/empty recorded/);
  const json = sink();
  assert.equal(await explainCommand(config(['--json', '--url', base]), kill.id, json.stream, sink().stream), 0);
  assert.equal((JSON.parse(json.text()) as { killId: string }).killId, kill.id);
});
