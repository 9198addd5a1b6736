// Pod names from a kubelet stand-in served by the test (the kubelet's GET /pods JSON shape,
// test/fixtures/kubelet/pods.json): the parser on real and hostile answers, the cache and its
// refresh, and the real exporter with --kubernetes.kubelet pointed at the stand-in: names on
// memlens_cgroup_kubernetes_info, and the stand-in down or refusing means no names and a counted
// problem, never a failed scrape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { parsePodList, MAX_PODS } from '../../../src/kubernetes/pods.js';
import { KubeletNames } from '../../../src/kubernetes/kubelet.js';
import { CgroupTree } from '../../../src/cgroupfs/tree.js';
import { KubernetesCollector } from '../../../src/collectors/kubernetes.js';
import { loadConfig } from '../../../src/config/load.js';
import { startExporter, type Running } from '../../../src/main.js';
import { OomStore } from '../../../src/oom/store.js';
import { SnapshotService } from '../../../src/forensics/snapshots.js';
import type { OomKill } from '../../../src/kmsg/oomReport.js';
import { parseExposition, select, valueOf, scrape } from '../../helpers/exposition.js';
import { hostOf, memoryLogger, repoRoot, scratchTree, signal } from '../collectors/trees.js';
import { inCI, skipOrFail } from '../../helpers/capability.js';

const FIXTURE = `${repoRoot}test/fixtures/kubelet/pods.json`;
const podsJson = readFileSync(FIXTURE, 'utf8');
const UID = '05b3ee07-a2bd-47e7-9599-7961201f20dd';
const STATIC = '6e3ed4d9c2bfc6a54e5e2d8ee5bd5c3f';
const PENDING = '9d1c2b3a-4e5f-4a6b-8c7d-0e1f2a3b4c5d';
const UNKNOWN = '11111111-2222-4333-8444-555555555555';
const id = (c: string): string => c.repeat(64);
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.test-token.sig';

test('parsePodList: the kubelet fixture gives names per pod uid and per container id (running, restarted, init; containerd and CRI-O)', () => {
  const r = parsePodList(podsJson, FIXTURE);
  assert.deepEqual(r.problems, []);
  assert.deepEqual([...r.value.keys()].sort(), [UID, STATIC, PENDING].sort());
  const shop = r.value.get(UID)!;
  assert.equal(shop.namespace, 'shop');
  assert.equal(shop.pod, 'checkout-7d9c6b5f4-x2k8q');
  assert.deepEqual(Object.fromEntries(shop.containers), { [id('a')]: 'app', [id('b')]: 'app', [id('c')]: 'envoy', [id('d')]: 'migrate' });
  const api = r.value.get(STATIC)!;
  assert.deepEqual([api.namespace, api.pod, api.containers.get(id('e'))], ['kube-system', 'kube-apiserver-node-a', 'kube-apiserver']);
  assert.equal(r.value.get(PENDING)!.containers.size, 0);
});

test('parsePodList: hostile or broken answers lose only the bad part, never throw', () => {
  assert.equal(parsePodList('<html>', 'x').value.size, 0);
  assert.match(parsePodList('<html>', 'x').problems[0]!.message, /not JSON/);
  assert.match(parsePodList('{"kind":"Status","code":403}', 'x').problems[0]!.message, /not a PodList/);
  const good = JSON.parse(podsJson) as { items: unknown[] };
  const bad = [
    { metadata: { name: 'Evil"}\n', namespace: 'shop', uid: UNKNOWN } },          // not a DNS name: label injection
    { metadata: { name: 'x', namespace: 'a'.repeat(64), uid: UNKNOWN } },         // namespace too long
    { metadata: { name: 'x', namespace: 'shop', uid: '../../etc' } },               // not a uid
    { metadata: { name: 'x' } },                                                     // no namespace/uid
    42,
  ];
  const r = parsePodList(JSON.stringify({ items: [...bad, ...good.items] }), 'x');
  assert.equal(r.value.size, 3, 'the three good pods are kept');
  assert.equal(r.problems.length, bad.length);
  // Odd container ids and names are dropped, not passed on.
  const odd = { metadata: { name: 'p', namespace: 'n', uid: UNKNOWN }, status: { containerStatuses: [
    { name: 'ok', containerID: `containerd://${id('f')}` },
    { name: 'short', containerID: 'containerd://abc' },
    { name: 'BAD NAME', containerID: `containerd://${id('9')}` },
    { name: 'noscheme', containerID: id('8') },
  ] } };
  assert.deepEqual(Object.fromEntries(parsePodList(JSON.stringify({ items: [odd] }), 'x').value.get(UNKNOWN)!.containers), { [id('f')]: 'ok' });
  // Capped in pods.
  const many = Array.from({ length: MAX_PODS + 5 }, (_, i) => ({ metadata: { name: `p${i}`, namespace: 'n', uid: `${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000` } }));
  const capped = parsePodList(JSON.stringify({ items: many }), 'x');
  assert.equal(capped.value.size, MAX_PODS);
  assert.match(capped.problems[0]!.message, /only the first/);
});

/** A kubelet stand-in: GET /pods with the right bearer token answers the fixture (or `body()`). */
async function standIn(opts: { body?: () => string; status?: () => number; hang?: boolean } = {}): Promise<{ server: Server; url: string; requests: IncomingMessage[]; close: () => Promise<void> }> {
  const requests: IncomingMessage[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    requests.push(req);
    if (opts.hang === true) return;
    if (req.url !== '/pods' || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('Unauthorized');
      return;
    }
    res.writeHead(opts.status?.() ?? 200, { 'content-type': 'application/json' }).end(opts.body?.() ?? podsJson);
  };
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server, url: `http://127.0.0.1:${port}`, requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** The v1 fixture tree plus a Kubernetes layout (cgroupfs driver) under the memory hierarchy. */
function kubeTree(): { root: string; token: string; addCgroup: (rel: string) => void; dispose: () => void } {
  const t = scratchTree('v1');
  const mem = `${t.root}/sys/fs/cgroup/memory`;
  const addCgroup = (rel: string): void => {
    mkdirSync(`${mem}/${rel}`, { recursive: true });
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const dir = `${mem}/${parts.slice(0, i).join('/')}`;
      writeFileSync(`${dir}/memory.usage_in_bytes`, '1048576\n');
      writeFileSync(`${dir}/cgroup.procs`, '');
    }
  };
  addCgroup(`kubepods/burstable/pod${UID}/${id('a')}`); // app
  addCgroup(`kubepods/burstable/pod${UID}/${id('0')}`); // the sandbox (pause): not in the kubelet's statuses
  addCgroup(`kubepods/burstable/pod${UNKNOWN}/${id('7')}`); // a pod the kubelet does not list
  addCgroup(`kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${STATIC}.slice/crio-${id('e')}.scope`);
  const token = `${t.root}/token`;
  writeFileSync(token, `${TOKEN}\n`);
  return { root: t.root, token, addCgroup, dispose: t.dispose };
}

async function startOn(root: string, flags: string[]): Promise<{ running: Running; metrics: () => Promise<ReturnType<typeof parseExposition>> }> {
  const parsed = loadConfig([
    '--path.procfs', `${root}/proc`, '--path.sysfs', `${root}/sys`, '--path.kmsg', '/dev/null',
    '--web.listen-address', '127.0.0.1:0', '--snapshot.dir', `${root}/snapshots`, '--watch.enabled', 'false',
    '--collect.min-interval', '0s', '--log.level', 'error', ...flags,
  ], {});
  if (parsed.kind !== 'run') throw new Error(parsed.kind);
  const { log } = memoryLogger('error');
  const running = await startExporter(parsed.config, log);
  const port = (running.server.address() as AddressInfo).port;
  return {
    running,
    metrics: async () => {
      const r = await scrape(`http://127.0.0.1:${port}/metrics`);
      assert.equal(r.status, 200, 'the scrape itself never fails');
      return parseExposition(r.body);
    },
  };
}

test('exporter + kubelet stand-in: memlens_cgroup_kubernetes_info names the cgroups whose pod uid the kubelet knows', async () => {
  const tree = kubeTree();
  const kubelet = await standIn();
  const { running, metrics } = await startOn(tree.root, ['--kubernetes.kubelet', kubelet.url, '--kubernetes.token-file', tree.token, '--kubernetes.refresh-min-interval', '0s']);
  try {
    const s = await metrics();
    assert.equal(valueOf(s, 'memlens_collector_success', { collector: 'kubernetes' }), 1);
    const info = select(s, 'memlens_cgroup_kubernetes_info');
    const byCgroup = Object.fromEntries(info.map((x) => [x.labels['cgroup'], x.labels]));
    const app = `/kubepods/burstable/pod${UID}/${id('a')}`;
    assert.deepEqual(byCgroup[app], { cgroup: app, pod_uid: UID, container_id: id('a'), namespace: 'shop', pod: 'checkout-7d9c6b5f4-x2k8q', container: 'app' });
    const podLevel = `/kubepods/burstable/pod${UID}`;
    assert.deepEqual(byCgroup[podLevel], { cgroup: podLevel, pod_uid: UID, namespace: 'shop', pod: 'checkout-7d9c6b5f4-x2k8q' });
    const pause = `/kubepods/burstable/pod${UID}/${id('0')}`;
    assert.deepEqual(byCgroup[pause], { cgroup: pause, pod_uid: UID, container_id: id('0'), namespace: 'shop', pod: 'checkout-7d9c6b5f4-x2k8q' });
    const api = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${STATIC}.slice/crio-${id('e')}.scope`;
    assert.equal(byCgroup[api]?.['container'], 'kube-apiserver');
    assert.equal(byCgroup[api]?.['namespace'], 'kube-system');
    assert.ok(!info.some((x) => x.labels['pod_uid'] === UNKNOWN), 'no names for a pod uid the kubelet does not list');
    assert.ok(info.every((x) => x.value === 1));
    // Every info series has a usage series to join on.
    for (const x of info) assert.equal(select(s, 'memlens_cgroup_memory_usage_bytes', { cgroup: x.labels['cgroup']! }).length, 1, x.labels['cgroup']);

    // A new pod appears in the kubelet and on disk: the unknown uid triggers a refresh, the next scrape names it.
    const before = kubelet.requests.length;
    const NEW = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    const doc = JSON.parse(podsJson) as { items: unknown[] };
    doc.items.push({ metadata: { name: 'new-pod', namespace: 'fresh', uid: NEW }, status: { containerStatuses: [{ name: 'c', containerID: `containerd://${id('5')}` }] } });
    const grown = JSON.stringify(doc);
    kubelet.server.removeAllListeners('request');
    kubelet.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      kubelet.requests.push(req);
      res.writeHead(req.headers.authorization === `Bearer ${TOKEN}` ? 200 : 401).end(grown);
    });
    tree.addCgroup(`kubepods/besteffort/pod${NEW}/${id('5')}`);
    const s2 = await metrics();
    assert.ok(kubelet.requests.length > before, 'asked the kubelet again');
    assert.equal(select(s2, 'memlens_cgroup_kubernetes_info', { pod_uid: NEW, container: 'c', namespace: 'fresh', pod: 'new-pod' }).length, 1);
  } finally {
    await running.close();
    await kubelet.close();
    tree.dispose();
  }
});

test('exporter + kubelet stand-in down: no names, a counted problem, the scrape and the other series intact', async () => {
  const tree = kubeTree();
  const kubelet = await standIn();
  const url = kubelet.url;
  await kubelet.close(); // nothing listens there any more
  const { running, metrics } = await startOn(tree.root, ['--kubernetes.kubelet', url, '--kubernetes.token-file', tree.token, '--kubernetes.refresh-min-interval', '0s']);
  try {
    const s = await metrics();
    assert.equal(select(s, 'memlens_cgroup_kubernetes_info').length, 0);
    assert.equal(valueOf(s, 'memlens_collector_success', { collector: 'kubernetes' }), 1, 'the area still succeeded');
    assert.ok(valueOf(s, 'memlens_collect_problems_total', { collector: 'kubernetes', reason: 'kubelet' }) >= 1);
    assert.equal(valueOf(s, 'memlens_collector_success', { collector: 'cgroup' }), 1);
    assert.ok(select(s, 'memlens_cgroup_memory_usage_bytes', { pod_uid: UID }).length >= 1, 'the ids still label the main series');
    const s2 = await metrics();
    assert.ok(valueOf(s2, 'memlens_collect_problems_total', { collector: 'kubernetes', reason: 'kubelet' }) >= 2, 'counted again on the next try');
  } finally {
    await running.close();
    tree.dispose();
  }
});

test('KubeletNames: a wrong token (401) is a problem and no names; the rate limit holds requests to one per interval', async () => {
  const tree = kubeTree();
  const kubelet = await standIn();
  writeFileSync(tree.token, 'not-the-token');
  const { log, lines } = memoryLogger();
  const names = new KubeletNames({ url: new URL(kubelet.url), tokenFile: tree.token, caFile: undefined, insecureSkipVerify: false, refreshMinIntervalMs: 3_600_000, timeoutMs: 2000 }, (p) => hostOf(tree.root).tryRead(p), log);
  const col = new KubernetesCollector(new CgroupTree({ host: hostOf(tree.root), hierarchy: { mode: 'v1', mountPoint: '/sys/fs/cgroup/memory', root: '/' }, maxDepth: 16 }), { include: undefined, exclude: undefined, maxDepth: 16 }, names);
  try {
    const host = hostOf(tree.root);
    const r1 = await col.collect(host, signal());
    assert.equal(r1.samples.length, 0);
    assert.deepEqual(r1.problems.map((p) => p.reason), ['kubelet']);
    assert.match(r1.problems[0]!.message, /HTTP 401/);
    assert.equal(lines.filter((l) => l['msg'] === 'kubelet unreachable: cgroups keep their ids but get no pod names').length, 1);
    // The token is fixed, but the interval (1 h) has not passed: no new request, no new problem.
    writeFileSync(tree.token, TOKEN);
    const r2 = await col.collect(host, signal());
    assert.equal(names.requests, 1);
    assert.deepEqual(r2.problems, []);
    assert.equal(r2.samples.length, 0);
  } finally {
    await kubelet.close();
    tree.dispose();
  }
});

test('KubeletNames: a kubelet that never answers holds the collection at most waitMs, then the request times out as a problem', async () => {
  const tree = kubeTree();
  const kubelet = await standIn({ hang: true });
  const names = new KubeletNames({ url: new URL(kubelet.url), tokenFile: tree.token, caFile: undefined, insecureSkipVerify: false, refreshMinIntervalMs: 0, timeoutMs: 300 }, () => TOKEN, memoryLogger().log);
  const col = new KubernetesCollector(new CgroupTree({ host: hostOf(tree.root), hierarchy: { mode: 'v1', mountPoint: '/sys/fs/cgroup/memory', root: '/' }, maxDepth: 16 }), { include: undefined, exclude: undefined, maxDepth: 16 }, names, 50);
  try {
    const t0 = performance.now();
    const r1 = await col.collect(hostOf(tree.root), signal());
    assert.ok(performance.now() - t0 < 250, 'did not wait for the kubelet past waitMs');
    assert.equal(r1.samples.length, 0);
    const r2 = await col.collect(hostOf(tree.root), signal()); // joins the request in flight until it times out
    const all = [...r1.problems, ...r2.problems, ...(await (async () => { await new Promise((r) => setTimeout(r, 400)); return names.drainProblems(); })())];
    assert.ok(all.some((p) => p.reason === 'kubelet' && /within 300 ms/.test(p.message)), JSON.stringify(all));
  } finally {
    await kubelet.close();
    tree.dispose();
  }
});

test('KubeletNames over HTTPS: verified with --kubernetes.ca-file, refused without it, accepted with insecure-skip-tls-verify', { skip: skipOrFail(spawnSync('openssl', ['version']).status === 0 ? undefined : 'no openssl') }, async () => {
  const dir = mkdtempSync(`${tmpdir()}/memlens-i12-tls-`);
  try {
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const server = createHttpsServer({ key: readFileSync(`${dir}/key.pem`), cert: readFileSync(`${dir}/cert.pem`) }, (req, res) => {
      res.writeHead(req.headers.authorization === `Bearer ${TOKEN}` ? 200 : 401).end(podsJson);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
    writeFileSync(`${dir}/token`, TOKEN);
    const read = (p: string): string | undefined => hostOf(dir).tryRead(p);
    const tryWith = async (caFile: string | undefined, insecure: boolean): Promise<string[]> => {
      const n = new KubeletNames({ url, tokenFile: `${dir}/token`, caFile, insecureSkipVerify: insecure, refreshMinIntervalMs: 0, timeoutMs: 2000 }, read, memoryLogger().log);
      await n.refreshFor([{ podUid: UID }]);
      assert.equal(n.lookup(UID)?.pod ?? 'none', n.drainProblems().length === 0 ? 'checkout-7d9c6b5f4-x2k8q' : 'none');
      return [n.lookup(UID)?.pod ?? 'none'];
    };
    try {
      assert.deepEqual(await tryWith(`${dir}/cert.pem`, false), ['checkout-7d9c6b5f4-x2k8q']);
      assert.deepEqual(await tryWith(undefined, false), ['none'], 'a self-signed certificate is refused by default');
      assert.deepEqual(await tryWith(undefined, true), ['checkout-7d9c6b5f4-x2k8q']);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kill records carry the victim\'s pod and container (ids from the path, names from the cache)', async () => {
  const kubelet = await standIn();
  const names = new KubeletNames({ url: new URL(kubelet.url), tokenFile: 'token', caFile: undefined, insecureSkipVerify: false, refreshMinIntervalMs: 0, timeoutMs: 2000 }, () => TOKEN, memoryLogger().log);
  try {
    await names.refreshFor([{ podUid: UID }]);
    const store = new OomStore();
    store.nameWith((cg) => names.ref(cg));
    const cg = `/kubepods/burstable/pod${UID}/${id('a')}`;
    const kill: OomKill = {
      usecMonotonic: undefined, seq: undefined, victim: { pid: 4242, comm: 'app', uid: 0 }, cgroup: cg, oomCgroup: cg,
      constraint: 'CONSTRAINT_MEMCG', message: 'Memory cgroup out of memory', totalVmBytes: undefined, anonRssBytes: 4096,
      fileRssBytes: undefined, shmemRssBytes: undefined, pageTablesBytes: undefined, oomScoreAdj: 0, form: '5.x+',
    };
    const rec = store.addFromKmsg({ ...kill, cgroup: cg }, Date.now(), false);
    assert.deepEqual(rec.kubernetes, { podUid: UID, containerId: id('a'), namespace: 'shop', pod: 'checkout-7d9c6b5f4-x2k8q', container: 'app' });
    const plain = store.addFromKmsg({ ...kill, cgroup: '/system.slice/cron.service' }, Date.now(), false);
    assert.equal(plain.kubernetes, undefined);
  } finally {
    await kubelet.close();
  }
});

test('--kubernetes.kubelet: a bad URL is a config error naming the flag', () => {
  for (const bad of ['not a url', 'ftp://x:1', 'https://user:pw@10.0.0.1:10250', 'https://10.0.0.1:10250/?a=b']) {
    assert.throws(() => loadConfig(['--kubernetes.kubelet', bad], {}), /--kubernetes\.kubelet/);
  }
  const ok = loadConfig(['--kubernetes.kubelet', 'https://10.0.0.1:10250'], {});
  assert.ok(ok.kind === 'run' && ok.config.kubernetes?.kubelet.port === '10250');
  const off = loadConfig([], {});
  assert.ok(off.kind === 'run' && off.config.kubernetes === undefined);
  void inCI;
});

test('snapshots carry the cgroup\'s pod and container, as written to disk', async () => {
  const tree = kubeTree();
  const kubelet = await standIn();
  const names = new KubeletNames({ url: new URL(kubelet.url), tokenFile: 'token', caFile: undefined, insecureSkipVerify: false, refreshMinIntervalMs: 0, timeoutMs: 2000 }, () => TOKEN, memoryLogger().log);
  const dir = `${tree.root}/snapshots`;
  const svc = new SnapshotService({
    host: hostOf(tree.root), hierarchy: { mode: 'v1', mountPoint: '/sys/fs/cgroup/memory', root: '/' },
    config: { dir, minIntervalMs: 0, cmdline: false, maxCount: 10, maxBytes: 1 << 24, maxAgeMs: 86_400_000, linkWindowMs: 600_000, hold: false, holdMaxMs: 2000, rules: [] },
    log: memoryLogger().log, kubeNames: (cg) => names.ref(cg),
  });
  try {
    await names.refreshFor([{ podUid: UID }]);
    svc.start();
    const cg = `/kubepods/burstable/pod${UID}/${id('a')}`;
    const r = await svc.snapshot(cg, 'api', 'test');
    assert.ok(r.ok, JSON.stringify(r));
    const want = { podUid: UID, containerId: id('a'), namespace: 'shop', pod: 'checkout-7d9c6b5f4-x2k8q', container: 'app' };
    assert.deepEqual(r.doc.kubernetes, want);
    assert.deepEqual(svc.get(r.meta.id)?.kubernetes, want, 'in the stored document');
  } finally {
    await svc.close();
    await kubelet.close();
    tree.dispose();
  }
});
