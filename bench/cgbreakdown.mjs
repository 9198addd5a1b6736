// cgbreakdown.mjs [ROUNDS]: where the cost of a cgroup scrape goes, in one Node process, variants
// interleaved over ROUNDS rounds (median CPU ms per pass, all threads: GC helpers included): the bare
// reads of every file the cgroup collector reads (node:fs; HostFs by name in each cgroup's opened directory, as
// the collector reads them; the tree's cgroups), the same reads made into
// strings, readMemoryCgroup (reads + parsing), the whole collector, and collector + Prometheus rendering.
// Needs a build (npm run build) and the v1 hierarchy. Run it as memlens runs
// (node --max-semi-space-size=1 bench/cgbreakdown.mjs) or the GC figures mean nothing.
// ONLY=<variant name> runs just that one, e.g. for --cpu-prof or --trace-gc.
import { cpuUsage } from 'node:process';
import { closeSync, openSync, readSync } from 'node:fs';
import { HostFs } from '../build/src/host/hostFs.js';
import { readMemoryCgroup, memoryFiles } from '../build/src/cgroupfs/memory.js';
import { CgroupTree } from '../build/src/cgroupfs/tree.js';
import { KernelEventLoop } from '../build/src/kernel/eventLoop.js';
import { CgroupCollector } from '../build/src/collectors/cgroup.js';
import { PrometheusSink } from '../build/src/sinks/prometheus.js';
import { catalog } from '../build/src/model/catalog.js';
import { DEFAULT_STAT_ITEMS } from '../build/src/config/statItems.js';
import { kernelMemoryAccounted } from '../build/src/procfs/cmdline.js';

const ROUNDS = Number(process.argv[2] ?? 7);
const host = new HostFs('/proc', '/sys');
const hierarchy = { mode: 'v1', mountPoint: '/sys/fs/cgroup/memory', root: '/' };
// A live tree (inotify on the kernel loop), as memlens runs it: no rescan per collection.
const loop = new KernelEventLoop();
const tree = new CgroupTree({ host, hierarchy, loop, maxDepth: 16, rescanIntervalMs: 0 });
tree.start();
tree.ensureFresh();
const kmem = kernelMemoryAccounted(host.tryRead('/proc/cmdline') ?? '');
// Exactly what readMemoryCgroup reads per v1 cgroup on this host (cgroupfs/memory.ts memoryFiles).
const FILES = memoryFiles('v1', kmem, true);
const dirs = tree.nodes().map((n) => n.dir);
const collector = new CgroupCollector(tree, { include: undefined, exclude: undefined, maxDepth: 16, statItems: DEFAULT_STAT_ITEMS });
const sink = new PrometheusSink(catalog);
const signal = new AbortController().signal;
const buf = Buffer.allocUnsafe(65536);
const rawRead = (p, oneShow) => {
  let fd;
  try { fd = openSync(p, 'r'); } catch { return 0; }
  let len = 0;
  for (;;) { const n = readSync(fd, buf, len, buf.length - len, null); len += n; if (n === 0 || (oneShow && n < buf.length - len + n)) break; }
  closeSync(fd);
  return len;
};
const variants = {
  'open/read/close to EOF, no string': () => { for (const d of dirs) for (const f of FILES) rawRead(`${d}/${f}`, false); },
  'open/read/close one show, no string': () => { for (const d of dirs) for (const f of FILES) rawRead(`${d}/${f}`, f !== 'cgroup.procs'); },
  'HostFs.tryReadAtInto, no string': () => {
    for (const d of dirs) {
      const h = host.openDir(d);
      for (const f of FILES) host.tryReadAtInto(h, f, f !== 'cgroup.procs');
      host.closeDir(h);
    }
  },
  'HostFs.tryRead to strings': () => { for (const d of dirs) for (const f of FILES) host.tryRead(`${d}/${f}`, f !== 'cgroup.procs'); },
  readMemoryCgroup: () => { const p = []; for (const d of dirs) readMemoryCgroup(host, d, 'v1', p, kmem); },
  collector: async () => { await collector.collect(host, signal); },
  'collector + render': async () => {
    const r = await collector.collect(host, signal);
    // body(), as /metrics renders: bytes, their buffer reused by the next render once done()
    const body = await sink.body('prometheus', { atMs: 0, groups: [], samples: r.samples, collectors: [] });
    sink.done('prometheus', body);
  },
};
const only = process.env.ONLY;
if (only) for (const k of Object.keys(variants)) if (k !== only) delete variants[k];
const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (const v of Object.values(variants)) await v(); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const [k, v] of Object.entries(variants)) {
    const c0 = cpuUsage();
    await v();
    const c = cpuUsage(c0);
    times[k].push((c.user + c.system) / 1000);
  }
}
const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
console.log(`${dirs.length} cgroups, ${FILES.length} files each (${FILES.join(' ')}), ${ROUNDS} rounds, CPU ms per pass: median (min)`);
for (const [k, xs] of Object.entries(times)) console.log(`${k.padEnd(36)} ${med(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)})`);
const mu = process.memoryUsage();
const mib = (b) => (b / 1048576).toFixed(1);
console.log(`memory: rss ${mib(mu.rss)} MiB, heap total ${mib(mu.heapTotal)} used ${mib(mu.heapUsed)}, external ${mib(mu.external)}, array buffers ${mib(mu.arrayBuffers)}`);
tree.close();
await loop.close();
