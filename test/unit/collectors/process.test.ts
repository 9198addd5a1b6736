import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { ProcessCollector, type ProcessOptions } from '../../../src/collectors/process.js';
import { HostFs } from '../../../src/host/hostFs.js';
import type { CollectResult } from '../../../src/model/types.js';
import { hostOf, scratchTree, series, signal, treeRoot, value } from './trees.js';

const kB = (n: number): number => n * 1024;

function options(over: Partial<ProcessOptions> = {}): ProcessOptions {
  return { top: 10, include: undefined, smapsIntervalMs: 60_000, smapsMaxRssBytes: 4 * 2 ** 30, smapsScope: 'selected', groups: [], cgroupMode: 'v1', ...over };
}

function collect(root: string, over: Partial<ProcessOptions> = {}): Promise<CollectResult> {
  return new ProcessCollector(options(over)).collect(hostOf(root), signal());
}

const V1 = { pid: '8467', comm: 'cat', cgroup: '/workloads/job-7f3a' };
const V2 = { pid: '483', comm: 'cp', cgroup: '/workloads/job-42c9' };

test('process v1 tree: status and smaps_rollup series of the one process, in bytes, with pid/comm/cgroup', async () => {
  const r = await collect(treeRoot('v1'));
  assert.deepEqual(r.problems, []);
  const v = (prom: string): number | undefined => value(r.samples, prom, V1);
  assert.equal(v('memlens_process_resident_bytes'), 1744896); // VmRSS 1704 kB
  assert.equal(v('memlens_process_resident_anon_bytes'), kB(112));
  assert.equal(v('memlens_process_resident_file_bytes'), kB(1592));
  assert.equal(v('memlens_process_resident_shmem_bytes'), 0);
  assert.equal(v('memlens_process_resident_peak_bytes'), kB(1704));
  assert.equal(v('memlens_process_virtual_bytes'), kB(3060));
  assert.equal(v('memlens_process_swap_bytes'), 0);
  assert.equal(v('memlens_process_page_tables_bytes'), kB(44));
  assert.equal(v('memlens_process_pss_bytes'), kB(279));
  assert.equal(v('memlens_process_pss_anon_bytes'), kB(108));
  assert.equal(v('memlens_process_pss_file_bytes'), kB(171));
  assert.equal(v('memlens_process_pss_shmem_bytes'), 0);
  assert.equal(v('memlens_process_uss_bytes'), kB(40 + 108));
  assert.equal(v('memlens_process_swap_pss_bytes'), 0);
  assert.equal(v('memlens_process_oom_score'), 666);
  assert.equal(v('memlens_process_oom_score_adj'), 0);
  // Every per-process sample carries exactly these labels.
  for (const s of r.samples.filter((x) => x.desc.labels.some((l) => l.name === 'pid'))) assert.deepEqual(s.labels, V1);
  assert.equal(value(r.samples, 'memlens_process_smaps_skipped_total'), 0);
  const read = value(r.samples, 'memlens_process_smaps_read_seconds_total');
  assert.ok(read !== undefined && read >= 0);
});

test('process v1 tree: group sums by comm over every process', async () => {
  const r = await collect(treeRoot('v1'));
  const g = { group: 'cat' };
  assert.equal(value(r.samples, 'memlens_process_group_processes', g), 1);
  assert.equal(value(r.samples, 'memlens_process_group_resident_bytes', g), 1744896);
  assert.equal(value(r.samples, 'memlens_process_group_resident_anon_bytes', g), kB(112));
  assert.equal(value(r.samples, 'memlens_process_group_resident_file_bytes', g), kB(1592));
  assert.equal(value(r.samples, 'memlens_process_group_resident_shmem_bytes', g), 0);
  assert.equal(value(r.samples, 'memlens_process_group_virtual_bytes', g), kB(3060));
  assert.equal(value(r.samples, 'memlens_process_group_swap_bytes', g), 0);
  assert.equal(value(r.samples, 'memlens_process_group_page_tables_bytes', g), kB(44));
  // PSS/USS group sums only with --process.smaps-scope=all.
  assert.equal(value(r.samples, 'memlens_process_group_pss_bytes', g), undefined);
  assert.equal(value(r.samples, 'memlens_process_group_uss_bytes', g), undefined);
});

test('process v2 tree: the v2 cgroup line labels the process; smaps-scope=all adds PSS/USS to the group', async () => {
  const r = await collect(treeRoot('v2'), { cgroupMode: 'v2', smapsScope: 'all' });
  assert.deepEqual(r.problems, []);
  assert.equal(value(r.samples, 'memlens_process_resident_bytes', V2), 2564096);
  assert.equal(value(r.samples, 'memlens_process_pss_bytes', V2), kB(907));
  assert.equal(value(r.samples, 'memlens_process_uss_bytes', V2), kB(356 + 152));
  assert.equal(value(r.samples, 'memlens_process_group_pss_bytes', { group: 'cp' }), kB(907));
  assert.equal(value(r.samples, 'memlens_process_group_uss_bytes', { group: 'cp' }), kB(508));
  assert.equal(value(r.samples, 'memlens_process_group_resident_bytes', { group: 'cp' }), 2564096);
});

test('process: smaps-scope=none and top=0', async () => {
  const none = await collect(treeRoot('v1'), { smapsScope: 'none' });
  assert.equal(value(none.samples, 'memlens_process_resident_bytes', V1), 1744896);
  assert.deepEqual(series(none.samples, 'memlens_process_pss_bytes'), []);
  const top0 = await collect(treeRoot('v1'), { top: 0 });
  assert.deepEqual(series(top0.samples, 'memlens_process_resident_bytes'), []);
  assert.deepEqual(series(top0.samples, 'memlens_process_pss_bytes'), []);
  assert.equal(value(top0.samples, 'memlens_process_group_processes', { group: 'cat' }), 1);
  const included = await collect(treeRoot('v1'), { top: 0, include: /^cat$/ });
  assert.equal(value(included.samples, 'memlens_process_pss_bytes', V1), kB(279));
});

test('process: above --process.smaps-max-rss smaps_rollup is skipped and counted, unless included by name', async () => {
  const skipped = await collect(treeRoot('v1'), { smapsMaxRssBytes: 1024 * 1024 });
  assert.equal(value(skipped.samples, 'memlens_process_resident_bytes', V1), 1744896);
  assert.equal(value(skipped.samples, 'memlens_process_pss_bytes', V1), undefined);
  assert.equal(value(skipped.samples, 'memlens_process_smaps_skipped_total'), 1);
  const included = await collect(treeRoot('v1'), { smapsMaxRssBytes: 1024 * 1024, include: /cat/ });
  assert.equal(value(included.samples, 'memlens_process_pss_bytes', V1), kB(279));
  assert.equal(value(included.samples, 'memlens_process_smaps_skipped_total'), 0);
});

test('process: a vanished pid (directory without status) and a missing smaps_rollup are silent', async () => {
  const t = scratchTree('v1');
  try {
    mkdirSync(`${t.root}/proc/9999`); // listed, then exited before its status was read
    writeFileSync(`${t.root}/proc/9999/cgroup`, '4:memory:/gone\n');
    rmSync(`${t.root}/proc/8467/smaps_rollup`); // exited between status and smaps_rollup
    const r = await collect(t.root);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(series(r.samples, 'memlens_process_resident_bytes').map((s) => s.labels['pid']), ['8467']);
    assert.equal(value(r.samples, 'memlens_process_pss_bytes', V1), undefined);
    assert.equal(value(r.samples, 'memlens_process_group_processes', { group: 'cat' }), 1);
    assert.ok(!r.samples.some((s) => s.labels['pid'] === '9999' || s.labels['cgroup'] === '/gone'));
  } finally {
    t.dispose();
  }
});

test('process: kernel threads (no VmRSS) are left out, top N by resident memory, groups sum several processes', async () => {
  const t = scratchTree('v1');
  try {
    const status = readFileSync(`${t.root}/proc/8467/status`, 'utf8');
    mkdirSync(`${t.root}/proc/2`);
    writeFileSync(`${t.root}/proc/2/status`, 'Name:\tkthreadd\nState:\tS (sleeping)\nTgid:\t2\nPid:\t2\nKthread:\t1\n');
    mkdirSync(`${t.root}/proc/8470`);
    writeFileSync(`${t.root}/proc/8470/status`, status.replace('VmRSS:\t    1704 kB', 'VmRSS:\t    9000 kB').replace(/\bPid:\t8467/, 'Pid:\t8470'));
    const r = await collect(t.root, { top: 1 });
    assert.deepEqual(r.problems, []);
    assert.deepEqual(series(r.samples, 'memlens_process_resident_bytes').map((s) => [s.labels['pid'], s.value]), [['8470', kB(9000)]]);
    assert.equal(value(r.samples, 'memlens_process_group_processes', { group: 'cat' }), 2);
    assert.equal(value(r.samples, 'memlens_process_group_resident_bytes', { group: 'cat' }), kB(1704 + 9000));
    assert.equal(value(r.samples, 'memlens_process_group_page_tables_bytes', { group: 'cat' }), kB(44 + 44));
    assert.equal(value(r.samples, 'memlens_process_group_processes', { group: 'kthreadd' }), undefined);
  } finally {
    t.dispose();
  }
});

test('process: a malformed status value is a parse problem with its path; the process keeps its other series', async () => {
  const t = scratchTree('v1');
  try {
    const path = `${t.root}/proc/8467/status`;
    writeFileSync(path, readFileSync(path, 'utf8').replace('VmPTE:\t      44 kB', 'VmPTE:\t      ?? kB'));
    const r = await collect(t.root);
    assert.deepEqual(r.problems.map((p) => [p.reason, p.path]), [['parse', path]]);
    assert.equal(value(r.samples, 'memlens_process_page_tables_bytes', V1), undefined);
    assert.equal(value(r.samples, 'memlens_process_resident_bytes', V1), 1744896);
  } finally {
    t.dispose();
  }
});

test('process: config group rules name the group', async () => {
  const r = await collect(treeRoot('v1'), { groups: [{ name: 'coreutils', comm: /^(cat|cp)$/, cmdline: undefined }] });
  assert.equal(value(r.samples, 'memlens_process_group_processes', { group: 'coreutils' }), 1);
  assert.equal(value(r.samples, 'memlens_process_group_processes', { group: 'cat' }), undefined);
});

test('process: a field no process of a group has gives no group sample, not 0', async () => {
  const t = scratchTree('v1');
  try {
    const path = `${t.root}/proc/8467/status`;
    writeFileSync(path, readFileSync(path, 'utf8').replace(/^Rss(Anon|File|Shmem):.*\n/gm, ''));
    const r = await collect(t.root);
    assert.equal(value(r.samples, 'memlens_process_resident_anon_bytes', V1), undefined); // per process: right
    assert.equal(value(r.samples, 'memlens_process_group_resident_bytes', { group: 'cat' }), 1744896);
    assert.equal(value(r.samples, 'memlens_process_group_resident_anon_bytes', { group: 'cat' }), undefined);
    assert.equal(value(r.samples, 'memlens_process_group_resident_file_bytes', { group: 'cat' }), undefined);
  } finally {
    t.dispose();
  }
});

test('process: a malformed oom_score is a parse problem with its full path', async () => {
  const t = scratchTree('v1');
  try {
    const path = `${t.root}/proc/8467/oom_score`;
    writeFileSync(path, 'lots\n');
    const r = await collect(t.root);
    assert.equal(value(r.samples, 'memlens_process_oom_score', V1), undefined);
    assert.deepEqual(r.problems.map((p) => [p.reason, p.path]), [['parse', path]]);
  } finally {
    t.dispose();
  }
});

/** A copy of the v1 process as pid `pid` with `rssKb` resident and `pssKb` in its smaps_rollup. */
function addProcess(root: string, pid: number, rssKb: number, pssKb: number): void {
  const src = `${root}/proc/8467`;
  mkdirSync(`${root}/proc/${pid}`);
  const status = readFileSync(`${src}/status`, 'utf8');
  writeFileSync(`${root}/proc/${pid}/status`, status.replace('VmRSS:\t    1704 kB', `VmRSS:\t    ${rssKb} kB`).replace(/\bPid:\t8467/, `Pid:\t${pid}`));
  writeFileSync(`${root}/proc/${pid}/smaps_rollup`, readFileSync(`${src}/smaps_rollup`, 'utf8').replace(/^Pss:\s+\d+ kB$/m, `Pss:            ${pssKb} kB`));
  writeFileSync(`${root}/proc/${pid}/stat`, readFileSync(`${src}/stat`, 'utf8').replace(/^8467 /, `${pid} `));
  writeFileSync(`${root}/proc/${pid}/cgroup`, readFileSync(`${src}/cgroup`, 'utf8'));
}

test('process: smaps-scope=all over several processes: PSS per pid for the final top N only, equal RSS in listing order, group PSS over all', async () => {
  const t = scratchTree('v1');
  try {
    addProcess(t.root, 8470, 9000, 100);
    addProcess(t.root, 8480, 9000, 200);
    addProcess(t.root, 8490, 500, 300);
    const listing = readdirSync(`${t.root}/proc`).filter((n) => /^\d+$/.test(n));
    const firstOfTies = listing.find((n) => n === '8470' || n === '8480');
    const r = await collect(t.root, { top: 1, smapsScope: 'all', smapsIntervalMs: 0 });
    assert.deepEqual(r.problems, []);
    assert.deepEqual(series(r.samples, 'memlens_process_resident_bytes').map((s) => s.labels['pid']), [firstOfTies]);
    assert.deepEqual(series(r.samples, 'memlens_process_pss_bytes').map((s) => [s.labels['pid'], s.value]), [[firstOfTies, kB(firstOfTies === '8470' ? 100 : 200)]]);
    assert.equal(value(r.samples, 'memlens_process_group_pss_bytes', { group: 'cat' }), kB(279 + 100 + 200 + 300));
    assert.equal(value(r.samples, 'memlens_process_group_processes', { group: 'cat' }), 4);
    // top 3: per-pid series in listing order, whatever order they entered the top in
    const r3 = await collect(t.root, { top: 3, smapsScope: 'all', smapsIntervalMs: 0 });
    const top3 = listing.filter((n) => n !== '8490');
    assert.deepEqual(series(r3.samples, 'memlens_process_pss_bytes').map((s) => s.labels['pid']), top3);
  } finally {
    t.dispose();
  }
});

test('process: a cached smaps_rollup outlives a collection in which its process was not selected, while the process lives', async () => {
  const t = scratchTree('v1');
  try {
    addProcess(t.root, 8470, 500, 100);
    let nowMs = 1_000_000;
    const col = new ProcessCollector(options({ top: 1, smapsIntervalMs: 60_000 }), () => nowMs);
    const host = hostOf(t.root);
    const pss = async (): Promise<number | undefined> => value((await col.collect(host, signal())).samples, 'memlens_process_pss_bytes', V1);
    assert.equal(await pss(), kB(279)); // 8467 is the top one: read
    const rollup = `${t.root}/proc/8467/smaps_rollup`;
    writeFileSync(rollup, readFileSync(rollup, 'utf8').replace(/^Pss:\s+\d+ kB$/m, 'Pss:            999 kB'));
    const status = `${t.root}/proc/8470/status`;
    writeFileSync(status, readFileSync(status, 'utf8').replace('VmRSS:\t    500 kB', 'VmRSS:\t    9000 kB'));
    nowMs += 10_000;
    assert.equal(await pss(), undefined); // 8470 is the top one now; 8467 lives on unselected
    writeFileSync(status, readFileSync(status, 'utf8').replace('VmRSS:\t    9000 kB', 'VmRSS:\t    500 kB'));
    nowMs += 10_000;
    assert.equal(await pss(), kB(279)); // back within the interval: the cached value
    nowMs += 60_000;
    assert.equal(await pss(), kB(999)); // the interval is over: read again
  } finally {
    t.dispose();
  }
});

/** Every sample as a comparable line (name, labels, value), in order; the time spent reading smaps_rollup left out. */
const lines = (r: CollectResult): string[] => r.samples.filter((s) => s.desc.prom !== 'memlens_process_smaps_read_seconds_total').map((s) => `${s.desc.prom}${JSON.stringify(s.labels)} ${s.value}`);

test('process: /proc/PID directories held between collections give what reading by path gives; a pid made again is read afresh, a pid gone is closed', async () => {
  const t = scratchTree('v1');
  const opts = options({ smapsScope: 'all', smapsIntervalMs: 0 });
  const held = new ProcessCollector(opts);
  const byPath = new ProcessCollector(opts, Date.now, 0); // holds none: every file by its whole path, as before
  try {
    addProcess(t.root, 8470, 9000, 100);
    addProcess(t.root, 8480, 500, 200);
    const host = hostOf(t.root);
    const both = async (): Promise<CollectResult> => {
      const a = await held.collect(host, signal());
      const b = await byPath.collect(host, signal());
      assert.deepEqual(a.problems, b.problems);
      assert.deepEqual(lines(a), lines(b));
      return a;
    };
    await both();
    assert.equal(held.heldDirs, 3);
    assert.equal(byPath.heldDirs, 0);
    // 8470 exits and its pid goes to another program: its held directory finds nothing, the new one is read.
    rmSync(`${t.root}/proc/8470`, { recursive: true });
    addProcess(t.root, 8470, 7000, 50);
    const status = `${t.root}/proc/8470/status`;
    writeFileSync(status, readFileSync(status, 'utf8').replace(/^Name:\tcat$/m, 'Name:\tjava'));
    let r = await both();
    assert.equal(value(r.samples, 'memlens_process_resident_bytes', { pid: '8470', comm: 'java' }), kB(7000));
    assert.equal(value(r.samples, 'memlens_process_pss_bytes', { pid: '8470', comm: 'java' }), kB(50));
    assert.equal(held.heldDirs, 3);
    // 8480 exits: its directory is closed at the end of the collection.
    rmSync(`${t.root}/proc/8480`, { recursive: true });
    r = await both();
    assert.ok(!r.samples.some((s) => s.labels['pid'] === '8480'));
    assert.equal(held.heldDirs, 2);
    // A directory left without status (exited between the listing and the read) is not held.
    mkdirSync(`${t.root}/proc/9999`);
    await both();
    assert.equal(held.heldDirs, 2);
    held.close();
    assert.equal(held.heldDirs, 0);
    await both(); // opened again
    assert.equal(held.heldDirs, 2);
  } finally {
    held.close();
    t.dispose();
  }
});

test('process: at most the budget of /proc/PID directories is held; the others are read by path', async () => {
  const t = scratchTree('v1');
  const opts = options({ smapsScope: 'all', smapsIntervalMs: 0 });
  const held = new ProcessCollector(opts, Date.now, 2);
  try {
    for (const pid of [8470, 8480, 8490]) addProcess(t.root, pid, 1000 + pid, 100);
    const host = hostOf(t.root);
    const a = await held.collect(host, signal());
    assert.equal(held.heldDirs, 2);
    const b = await new ProcessCollector(opts, Date.now, 0).collect(host, signal());
    assert.deepEqual(lines(a), lines(b));
    assert.equal(series(a.samples, 'memlens_process_pss_bytes').length, 4);
  } finally {
    held.close();
    t.dispose();
  }
});

test('process (kernel): a held /proc/PID directory of a process that exited finds nothing; its descriptor is closed and none is left open', async () => {
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const before = fds();
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const pid = String(child.pid);
  const col = new ProcessCollector(options({ smapsScope: 'all', smapsIntervalMs: 0, include: /^sleep$/ }));
  const host = new HostFs('/proc', '/sys');
  try {
    await new Promise((resolve) => child.once('spawn', resolve));
    // The child may still be node until it execs sleep: wait for its comm.
    for (let i = 0; i < 200 && !readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('sleep'); i++) await new Promise((r) => setTimeout(r, 10));
    let r = await col.collect(host, signal());
    assert.ok(value(r.samples, 'memlens_process_resident_bytes', { pid, comm: 'sleep' })! > 0);
    assert.ok(value(r.samples, 'memlens_process_pss_bytes', { pid, comm: 'sleep' })! > 0);
    assert.ok(col.heldDirs > 0);
    assert.equal(fds(), before + col.heldDirs);
    // Collection after collection only the directories stay open: no file read through them (kernel threads'
    // status included) is left open, though HostFs defers a DirHandle's closes.
    for (let i = 0; i < 3; i++) {
      await col.collect(host, signal());
      assert.equal(fds(), before + col.heldDirs);
    }
    const dir = host.openDir(`/proc/${pid}`);
    assert.ok(host.tryReadAtInto(dir, 'status', true) > 0);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited; // reaped: the held directory's pid has no task any more
    // What the collector relies on: a name opened in the directory of a reaped process is not found (never
    // another process's file, whoever has the pid now).
    assert.equal(host.tryReadAtInto(dir, 'status', true), -1);
    assert.equal(host.tryReadAtInto(dir, 'stat', true), -1);
    host.closeDir(dir);
    r = await col.collect(host, signal());
    assert.ok(!r.samples.some((s) => s.labels['pid'] === pid));
    assert.equal(fds(), before + col.heldDirs);
  } finally {
    child.kill('SIGKILL');
    col.close();
  }
  assert.equal(fds(), before);
});
