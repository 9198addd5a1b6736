// cgbreakdown.mjs [ROUNDS]: where the cost of a cgroup scrape goes, in one Node process, variants
// interleaved over ROUNDS rounds (median CPU ms per pass): the bare reads of every file the cgroup
// collector reads (HostFs, same walk), readMemoryCgroup (reads + parsing), the whole collector,
// and collector + Prometheus rendering. Needs a build (npm run build) and the v1 hierarchy.
// ONLY=<variant name> runs just that one (and the walk), e.g. for --cpu-prof or --trace-gc.
import { cpuUsage } from 'node:process';
import { HostFs } from '../build/src/host/hostFs.js';
import { readMemoryCgroup } from '../build/src/cgroupfs/memory.js';
import { CgroupCollector } from '../build/src/collectors/cgroup.js';
import { PrometheusSink } from '../build/src/sinks/prometheus.js';
import { catalog } from '../build/src/model/catalog.js';
import { DEFAULT_STAT_ITEMS } from '../build/src/cgroupfs/statItems.js';

const ROUNDS = Number(process.argv[2] ?? 7);
const host = new HostFs('/proc', '/sys');
const base = '/sys/fs/cgroup/memory';
const FILES = ['cgroup.procs', 'memory.usage_in_bytes', 'memory.limit_in_bytes', 'memory.stat', 'memory.max_usage_in_bytes', 'memory.memsw.usage_in_bytes', 'memory.failcnt', 'memory.oom_control'];
const dirs = [];
const walk = (d) => { dirs.push(d); for (const c of host.subdirs(d).sort()) walk(`${d}/${c}`); };
const hierarchy = { mode: 'v1', mountPoint: '/sys/fs/cgroup/memory', root: '/' };
const collector = new CgroupCollector(hierarchy, { include: undefined, exclude: undefined, maxDepth: 16, statItems: DEFAULT_STAT_ITEMS });
const sink = new PrometheusSink(catalog);
const signal = new AbortController().signal;
const variants = {
  walk: () => { dirs.length = 0; walk(base); },
  'reads (HostFs)': () => { for (const d of dirs) for (const f of FILES) host.tryRead(`${d}/${f}`); },
  readMemoryCgroup: () => { const p = []; for (const d of dirs) readMemoryCgroup(host, d, 'v1', p); },
  collector: async () => { await collector.collect(host, signal); },
  'collector + render': async () => { const r = await collector.collect(host, signal); await sink.render('prometheus', {}, r.samples); },
};
const only = process.env.ONLY; if (only) for (const k of Object.keys(variants)) if (k !== only && k !== "walk") delete variants[k];
const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
variants.walk();
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
console.log(`${dirs.length} cgroups, ${ROUNDS} rounds, median CPU ms per pass`);
for (const [k, xs] of Object.entries(times)) console.log(`${k.padEnd(22)} ${med(xs).toFixed(1)}`);
const mu = process.memoryUsage();
const mib = (b) => (b / 1048576).toFixed(1);
console.log(`memory: rss ${mib(mu.rss)} MiB, heap total ${mib(mu.heapTotal)} used ${mib(mu.heapUsed)}, external ${mib(mu.external)}, array buffers ${mib(mu.arrayBuffers)}`);
