// memlens as PID 1 in a container gets no default signal handling: SIGTERM, SIGINT and SIGHUP
// must each stop it cleanly with exit 0 in under 5 s, a scrape in flight answered first. The
// scrape is held in flight by a kubelet stand-in that never answers (the kubernetes collector
// waits up to 2 s for it), so the signal provably lands mid-collection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort, parseExposition, select } from '../helpers/exposition.js';
import { waitFor } from '../helpers/wait.js';
import { repoRoot, scratchTree } from './collectors/trees.js';

const UID = '05b3ee07-a2bd-47e7-9599-7961201f20dd';

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  test(`${signal}: the scrape in flight is answered, then exit 0 in under 5 s`, async () => {
    const tree = scratchTree('v1');
    const mem = `${tree.root}/sys/fs/cgroup/memory/kubepods/burstable/pod${UID}`;
    mkdirSync(mem, { recursive: true });
    writeFileSync(`${mem}/memory.usage_in_bytes`, '4096\n');
    const asked: IncomingMessage[] = [];
    const kubelet = createServer((req) => asked.push(req)); // never answers
    await new Promise<void>((resolve) => kubelet.listen(0, '127.0.0.1', resolve));
    const port = await freePort();
    let child: ChildProcess | undefined;
    try {
      child = spawn(process.execPath, [`${repoRoot}bin/memlens.js`,
        '--path.procfs', `${tree.root}/proc`, '--path.sysfs', `${tree.root}/sys`, '--path.kmsg', '/dev/null',
        '--web.listen-address', `127.0.0.1:${port}`, '--snapshot.dir', `${tree.root}/snapshots`, '--watch.enabled', 'false',
        '--kubernetes.kubelet', `http://127.0.0.1:${(kubelet.address() as AddressInfo).port}`, '--kubernetes.token-file', `${tree.root}/none`,
      ], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<{ code: number | null; atMs: number }>((resolve) => child!.once('exit', (code) => resolve({ code, atMs: Date.now() })));
      await waitFor('memlens listening', async () => {
        try {
          return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok ? true : undefined;
        } catch {
          return undefined;
        }
      }, 20_000);
      const scrape = fetch(`http://127.0.0.1:${port}/metrics`).then(async (r) => ({ status: r.status, body: await r.text() }));
      await waitFor('the collection to be in flight (the kubelet asked)', () => (asked.length > 0 ? true : undefined), 10_000);
      const sentMs = Date.now();
      child.kill(signal);
      const answer = await scrape;
      assert.equal(answer.status, 200, 'the scrape in flight was answered');
      assert.ok(select(parseExposition(answer.body), 'memlens_cgroup_memory_usage_bytes').length > 0);
      const { code, atMs } = await exited;
      assert.equal(code, 0, `exit code; stderr: ${stderr}`);
      assert.ok(atMs - sentMs < 5000, `stopped ${atMs - sentMs} ms after ${signal}`);
    } finally {
      if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      kubelet.closeAllConnections();
      await new Promise<void>((resolve) => kubelet.close(() => resolve()));
      tree.dispose();
    }
  });
}
