// The live cgroup tree (src/cgroupfs/tree.ts) over scratch copies of the fixture trees. inotify works on any
// filesystem, so mkdir, rmdir and limit writes in /tmp drive it as cgroupfs would (needs koffi, not root).
// Also: the v2 watcher following the tree (a cgroup made above its threshold is a crossing at once; adaptive polling
// reads a cgroup near its threshold within a few ms), and inotify watches running out (the kernel's ENOSPC, given by a
// loop double since fs.inotify.max_user_watches is shared by everyone on the host) degrading to rescans, said once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { CgroupTree, type TreeChange } from '../../../src/cgroupfs/tree.js';
import { discoverHierarchy } from '../../../src/cgroupfs/hierarchy.js';
import { KernelEventLoop } from '../../../src/kernel/eventLoop.js';
import { MemlensError } from '../../../src/errors.js';
import { WatchBus, type WatchEvent } from '../../../src/watch/bus.js';
import { WatchStats } from '../../../src/watch/stats.js';
import { CgroupWatcher } from '../../../src/watch/watcher.js';
import { hostOf, memoryLogger, scratchTree, treeRoot } from '../collectors/trees.js';
import { waitFor } from '../../helpers/wait.js';

const MiB = 2 ** 20;


const bytes = (l: { unlimited: boolean; bytes?: number }): number | 'max' => (l.unlimited ? 'max' : l.bytes!);

test('static tree over the v1 fixture: paths, own and effective limits, parents first; deeper paths resolved', () => {
  const host = hostOf(treeRoot('v1'));
  const tree = new CgroupTree({ host, hierarchy: discoverHierarchy(host)!, maxDepth: 16 });
  assert.equal(tree.live, false);
  tree.ensureFresh();
  const paths = tree.nodes().map((n) => n.path);
  assert.equal(paths[0], '/');
  assert.ok(paths.indexOf('/workloads/job-7f3a') < paths.indexOf('/workloads/job-7f3a/oomdemo'));
  assert.equal(bytes(tree.get('/workloads/job-7f3a/oomdemo')!.ownLimit), 64 * MiB);
  assert.equal(bytes(tree.get('/workloads/job-7f3a/oomdemo')!.effectiveLimit), 64 * MiB);
  assert.equal(bytes(tree.get('/workloads/job-7f3a')!.effectiveLimit), 'max');
  // Not in the tree (too deep for it, or not there yet): resolved through the nearest ancestor it holds.
  const shallow = new CgroupTree({ host, hierarchy: discoverHierarchy(host)!, maxDepth: 1 });
  shallow.ensureFresh();
  assert.equal(shallow.get('/workloads/job-7f3a/oomdemo'), undefined);
  assert.equal(bytes(shallow.effectiveLimitOf('/workloads/job-7f3a/oomdemo')!), 64 * MiB);
  assert.match(shallow.dirOf('/workloads/job-7f3a/oomdemo'), /sys\/fs\/cgroup\/memory\/workloads\/job-7f3a\/oomdemo$/);
  assert.throws(() => shallow.dirOf('/a/../b'), MemlensError);
  assert.deepEqual([...tree.counts().rescans], [['start', 1]]);
  tree.ensureFresh();
  assert.deepEqual([...tree.counts().rescans], [['start', 1], ['unwatched', 1]]);
});

test('live tree (v2 fixture copy): mkdir, limit writes (own and an ancestor\'s), rmdir, each seen by inotify', async () => {
  const { root, dispose } = scratchTree('v2');
  const loop = new KernelEventLoop();
  const host = hostOf(root);
  const { log } = memoryLogger();
  const tree = new CgroupTree({ host, hierarchy: discoverHierarchy(host)!, loop, maxDepth: 16, log });
  const changes: TreeChange[] = [];
  tree.onChange((c) => changes.push(c));
  try {
    tree.start();
    assert.equal(tree.live, true);
    const base = tree.watchCount();
    assert.equal(base, tree.size, 'one inotify watch per cgroup directory');
    assert.equal(loop.inotifyWatchCount(), base);
    const parent = `${root}/sys/fs/cgroup/workloads/job-42c9`;
    const dir = `${parent}/young`;
    mkdirSync(dir);
    const added = await waitFor('added', () => changes.find((c) => c.kind === 'added' && c.node.path === '/workloads/job-42c9/young'), 2000, 2);
    assert.equal(added.kind, 'added');
    assert.equal(bytes(tree.get('/workloads/job-42c9/young')!.effectiveLimit), 'max');
    writeFileSync(`${dir}/memory.max`, String(100 * MiB));
    await waitFor('its limit', () => (bytes(tree.get('/workloads/job-42c9/young')!.effectiveLimit) === 100 * MiB ? true : undefined), 2000, 2);
    // A grandchild made before anything handles the child's IN_CREATE is found by the listing after the watch.
    mkdirSync(`${dir}/a`);
    mkdirSync(`${dir}/a/b`);
    await waitFor('the grandchild', () => tree.get('/workloads/job-42c9/young/a/b'), 2000, 2);
    assert.equal(bytes(tree.get('/workloads/job-42c9/young/a/b')!.effectiveLimit), 100 * MiB, 'inherited from young');
    // An ancestor's limit lowered: every descendant's effective limit moves, each one reported.
    changes.length = 0;
    writeFileSync(`${parent}/memory.max`, String(50 * MiB));
    await waitFor('the descendants re-limited', () => (bytes(tree.get('/workloads/job-42c9/young/a/b')!.effectiveLimit) === 50 * MiB ? true : undefined), 2000, 2);
    const limited = changes.filter((c) => c.kind === 'limit').map((c) => c.node.path).sort();
    assert.ok(limited.includes('/workloads/job-42c9/young') && limited.includes('/workloads/job-42c9/young/a/b'), limited.join());
    assert.equal(tree.watchCount(), base + 3);
    // Removal: the tree drops the subtree and its watches; the kernel's count follows.
    rmSync(dir, { recursive: true });
    await waitFor('removed', () => (tree.get('/workloads/job-42c9/young') === undefined ? true : undefined), 2000, 2);
    await waitFor('watches released', () => (loop.inotifyWatchCount() === base ? true : undefined), 2000, 2);
    assert.equal(tree.watchCount(), base);
    assert.deepEqual([...tree.counts().rescans], [['start', 1]]);
  } finally {
    tree.close();
    await loop.close();
    dispose();
  }
});

test('live tree: ensureFresh() handles the queued inotify events at once, so a collection sees a cgroup made an instant before it', async () => {
  const { root, dispose } = scratchTree('v2');
  const loop = new KernelEventLoop();
  const host = hostOf(root);
  const tree = new CgroupTree({ host, hierarchy: discoverHierarchy(host)!, loop, maxDepth: 16 });
  try {
    tree.start();
    assert.equal(tree.live, true);
    const base = tree.size;
    // No turn of the JS event loop between the mkdir and the read: the waiter's wake-up cannot have been handled.
    mkdirSync(`${root}/sys/fs/cgroup/workloads/job-42c9/new/a`, { recursive: true });
    writeFileSync(`${root}/sys/fs/cgroup/workloads/job-42c9/new/memory.max`, String(64 * MiB));
    tree.ensureFresh();
    assert.ok(tree.get('/workloads/job-42c9/new/a') !== undefined, 'the grandchild made just now is in the tree');
    assert.equal(bytes(tree.get('/workloads/job-42c9/new/a')!.effectiveLimit), 64 * MiB, 'with the limit written just now');
    assert.equal(tree.size, base + 2);
    rmSync(`${root}/sys/fs/cgroup/workloads/job-42c9/new`, { recursive: true });
    tree.ensureFresh();
    assert.equal(tree.get('/workloads/job-42c9/new'), undefined, 'the removal too');
    assert.equal(tree.size, base);
    assert.deepEqual([...tree.counts().rescans], [['start', 1]], 'by inotify events, not by a rescan');
  } finally {
    tree.close();
    await loop.close();
    dispose();
  }
});

test('v2 watcher on the live tree: a young cgroup above its threshold is a crossing at once; polling speeds up near a threshold', async () => {
  const { root, dispose } = scratchTree('v2');
  const loop = new KernelEventLoop();
  const host = hostOf(root);
  const { log } = memoryLogger();
  const tree = new CgroupTree({ host, hierarchy: discoverHierarchy(host)!, loop, maxDepth: 16, log });
  const bus = new WatchBus();
  const events: WatchEvent[] = [];
  bus.on((e) => events.push(e));
  // poll interval 10 s: any reading sooner than that comes from the adaptive schedule.
  const watcher = new CgroupWatcher({ mode: 'v2', loop, bus, stats: new WatchStats(), log, thresholds: [0.9, 0.95], pollIntervalMs: 10_000, maxCgroups: 10, include: undefined, exclude: undefined, psi: false });
  try {
    tree.start();
    watcher.attach(tree);
    const dir = `${root}/sys/fs/cgroup/workloads/job-42c9/young`;
    mkdirSync(dir);
    writeFileSync(`${dir}/memory.current`, String(92 * MiB));
    writeFileSync(`${dir}/memory.events`, 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n');
    writeFileSync(`${dir}/memory.max`, String(100 * MiB));
    const first = await waitFor('the 0.9 crossing', () => events.find((e) => e.cgroup === '/workloads/job-42c9/young' && e.threshold === 0.9), 2000, 2);
    assert.equal(first.source, 'v2-poll');
    assert.equal(first.usageBytes, 92 * MiB);
    // 93 MiB read at 1 GiB/s from 95 MiB: the next read comes within a few ms, not the 10 s poll interval.
    writeFileSync(`${dir}/memory.current`, String(96 * MiB));
    const t0 = Date.now();
    await waitFor('the 0.95 crossing by an adaptive read', () => events.find((e) => e.cgroup === '/workloads/job-42c9/young' && e.threshold === 0.95), 2000, 2);
    assert.ok(Date.now() - t0 < 1000, `${Date.now() - t0} ms`);
    const held = watcher.heldFdCount();
    assert.deepEqual(watcher.list().map((w) => w.path).sort(), ['/workloads/job-42c9/oomdemo', '/workloads/job-42c9/young']);
    rmSync(dir, { recursive: true });
    await waitFor('the watch dropped', () => (watcher.list().length === 1 ? true : undefined), 2000, 2);
    assert.equal(watcher.heldFdCount(), held - 1, 'its poll fd closed');
  } finally {
    watcher.close();
    tree.close();
    await loop.close();
    dispose();
  }
});

test('inotify watches exhausted (ENOSPC): said once, counted, the tree kept current by rescans', () => {
  const host = hostOf(treeRoot('v2'));
  const { log, lines } = memoryLogger();
  const enospc = Object.assign(new Error('ENOSPC: inotify_add_watch'), { code: 'ENOSPC' });
  // A loop double: the kernel's answer when fs.inotify.max_user_watches is used up.
  const loop = { closed: false, watchInotify: () => { throw new MemlensError('MEMLENS_ERR_IO', enospc.message, { cause: enospc }); } } as unknown as KernelEventLoop;
  const tree = new CgroupTree({ host, hierarchy: discoverHierarchy(host)!, loop, maxDepth: 16, log, degradedRescanMs: 0 });
  tree.start();
  assert.equal(tree.live, false);
  assert.ok(tree.size > 1, 'every cgroup still found by the scan');
  assert.ok((tree.counts().watchFailures.get('ENOSPC') ?? 0) >= 1);
  tree.ensureFresh();
  assert.equal(tree.counts().rescans.get('unwatched'), 1);
  assert.equal(lines.filter((l) => String(l['msg']).includes('inotify watches exhausted')).length, 1, 'said once');
  tree.close();
});

test('a tree whose hierarchy root is unreadable throws at start, and a removed directory is not an error', async () => {
  const { root, dispose } = scratchTree('v2');
  try {
    const host = hostOf(root);
    const h = discoverHierarchy(host)!;
    const tree = new CgroupTree({ host, hierarchy: h, maxDepth: 16 });
    rmSync(`${root}/sys/fs/cgroup/workloads/job-42c9/oomdemo`, { recursive: true });
    tree.ensureFresh();
    assert.equal(tree.get('/workloads/job-42c9/oomdemo'), undefined);
    rmSync(`${root}/sys/fs/cgroup`, { recursive: true });
    const fresh = new CgroupTree({ host, hierarchy: h, maxDepth: 16 });
    assert.throws(() => fresh.start());
  } finally {
    dispose();
  }
});

test('nodes(): made once per change of the tree, parents first and siblings in name order after every mkdir and rmdir', async () => {
  const { root, dispose } = scratchTree('v2');
  const loop = new KernelEventLoop();
  const host = hostOf(root);
  const tree = new CgroupTree({ host, hierarchy: discoverHierarchy(host)!, loop, maxDepth: 16 });
  /** The order nodes() promises, computed afresh from the children maps. */
  const expected = (): string[] => {
    const out: string[] = [];
    const visit = (path: string): void => {
      out.push(path);
      const n = tree.get(path)!;
      for (const name of [...n.children.keys()].sort()) visit(n.children.get(name)!.path);
    };
    visit('/');
    return out;
  };
  try {
    tree.start();
    const first = tree.nodes();
    assert.equal(tree.nodes(), first, 'the same array while nothing changes');
    const before = first.map((n) => n.path);
    const parent = `${root}/sys/fs/cgroup/workloads/job-42c9`;
    for (const name of ['m', 'b', 'z', 'a']) mkdirSync(`${parent}/${name}`);
    mkdirSync(`${parent}/b/c`);
    tree.ensureFresh();
    const grown = tree.nodes().map((n) => n.path);
    assert.deepEqual(grown, expected());
    assert.equal(grown.length, before.length + 5);
    const i = (p: string): number => grown.indexOf(`/workloads/job-42c9/${p}`);
    assert.ok(i('a') < i('b') && i('b') < i('b/c') && i('b/c') < i('m') && i('m') < i('z'), grown.join());
    assert.deepEqual(first.map((n) => n.path), before, 'an array handed out earlier is not changed under its holder');
    rmSync(`${parent}/b`, { recursive: true });
    tree.ensureFresh();
    assert.deepEqual(tree.nodes().map((n) => n.path), expected());
    assert.ok(!tree.nodes().some((n) => n.path.startsWith('/workloads/job-42c9/b')));
  } finally {
    tree.close();
    await loop.close();
    dispose();
  }
});
