// Issue 9, row "A request body sent one byte every 5 s stays open past 120 s (no requestTimeout, no
// maxConnections); a 15 KB cgroup path is logged twice per request and echoed in error bodies with
// internal paths", against a running memlens: a trickled body and trickled headers are cut off
// (requestTimeout 30 s, headersTimeout 20 s; Node's defaults were 300 s and 60 s), connections
// beyond --web.max-connections are closed, and a long or unknown cgroup path gets a short error
// body without internal paths and is not written to the log.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startMemlens, type Running } from '../../helpers/running.js';
import { HEADERS_TIMEOUT_MS, REQUEST_TIMEOUT_MS } from '../../../src/http/server.js';

const tmp = mkdtempSync(join(tmpdir(), 'memlens-limits-'));
let m: Running;
const MAX_CONNECTIONS = 4;

before(async () => {
  m = await startMemlens(['--web.enable-snapshot-api=true', `--web.max-connections=${MAX_CONNECTIONS}`, '--watch.enabled=false', `--snapshot.dir=${join(tmp, 'snaps')}`]);
});
after(async () => {
  await m.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(m.port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Writes `head` then one byte of `drip` every `everyMs` until the server closes; resolves with the ms it stayed open and what it answered. */
async function trickle(head: string, drip: string, everyMs: number, giveUpMs: number): Promise<{ openMs: number; answer: string }> {
  const s = await open();
  const t0 = Date.now();
  let answer = '';
  let closed = false;
  s.on('data', (d: Buffer) => (answer += d.toString()));
  s.on('close', () => (closed = true));
  s.on('error', () => (closed = true));
  s.write(head);
  for (let i = 0; !closed && Date.now() - t0 < giveUpMs; i++) {
    await sleep(everyMs);
    if (!closed) s.write(drip[i % drip.length] ?? 'x');
  }
  s.destroy();
  return { openMs: Date.now() - t0, answer };
}

test('a body or headers trickled one byte at a time are cut off at requestTimeout / headersTimeout', async () => {
  const giveUp = REQUEST_TIMEOUT_MS + 15_000;
  const [body, headers] = await Promise.all([
    trickle('POST /api/v1/snapshots HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"cgroup": "', 'aaaa', 2000, giveUp),
    trickle('GET /metrics HTTP/1.1\r\nHost: x\r\n', 'X-Slow: 1\r\n', 2000, giveUp),
  ]);
  assert.ok(body.openMs < REQUEST_TIMEOUT_MS + 10_000, `a trickled body kept the connection ${body.openMs} ms`);
  assert.ok(headers.openMs < HEADERS_TIMEOUT_MS + 10_000, `trickled headers kept the connection ${headers.openMs} ms`);
  assert.match(body.answer, /^HTTP\/1\.1 408|^$/, body.answer);
});

test('connections beyond --web.max-connections are closed at once; the server serves again once they go', async () => {
  const held: Socket[] = [];
  for (let i = 0; i < MAX_CONNECTIONS; i++) held.push(await open());
  await sleep(200);
  const extra = await fetch(`http://127.0.0.1:${m.port}/healthz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status, (err: unknown) => err);
  assert.ok(extra instanceof Error, `connection ${MAX_CONNECTIONS + 1} was served: ${String(extra)}`);
  for (const s of held) s.destroy();
  await sleep(300);
  assert.equal((await fetch(`http://127.0.0.1:${m.port}/healthz`)).status, 200);
});

test('a 15 KB cgroup path: a short 400; an unknown 3000-character one: a short 404 without internal paths, and neither is logged', async () => {
  const post = async (cgroup: string): Promise<{ status: number; text: string }> => {
    const r = await fetch(`http://127.0.0.1:${m.port}/api/v1/snapshots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ cgroup }) });
    return { status: r.status, text: await r.text() };
  };
  const huge = `/${'a'.repeat(15_000)}`;
  const r1 = await post(huge);
  assert.equal(r1.status, 400);
  assert.ok(r1.text.length < 400, `${r1.text.length} characters`);
  const long = `/memlens-i9-${'b'.repeat(3000)}`;
  const r2 = await post(long);
  assert.equal(r2.status, 404, r2.text);
  assert.ok(r2.text.length < 400, `${r2.text.length} characters`);
  assert.doesNotMatch(r2.text, /\/sys\/fs\/cgroup|ENOENT/);
  await sleep(200);
  assert.ok(!m.log().includes('a'.repeat(1000)), 'the 15 KB path was logged');
  assert.ok(!m.log().includes('b'.repeat(1000)), 'the 3000-character path was logged');
  const bad = await fetch(`http://127.0.0.1:${m.port}/api/v1/snapshots`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"cgroup": "${'c'.repeat(5000)}` });
  const badText = await bad.text();
  assert.equal(bad.status, 400);
  assert.ok(badText.length < 400, `a JSON error echoed ${badText.length} characters`);
});
