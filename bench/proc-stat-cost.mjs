// What reading /proc/PID/stat beside /proc/PID/status costs per process (issue 16: page faults).
// Interleaved rounds over every live pid of this host, in one process, CPU time (user + system) per
// pass: (a) status read + parseStatus, (b) stat read + parseStat, (c) both, as the process collector
// now does, (d) the whole process collector (smaps-scope none). Run from the repository after
// `npx tsc -p .`:  node bench/proc-stat-cost.mjs [ROUNDS]
import { readdirSync } from 'node:fs';
import { HostFs } from '../build/src/host/hostFs.js';
import { parseStatus } from '../build/src/procfs/status.js';
import { parseStat } from '../build/src/procfs/stat.js';
import { ProcessCollector } from '../build/src/collectors/process.js';

const rounds = Number(process.argv[2] ?? 15);
const host = new HostFs('/proc', '/sys');
const pids = () => readdirSync('/proc').filter((n) => /^\d+$/.test(n));
const cpuMs = (f) => {
  const t = process.cpuUsage();
  f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
};
const readAll = (file, parse) => () => {
  for (const p of pids()) {
    const path = `/proc/${p}/${file}`;
    const text = host.tryRead(path, true);
    if (text !== undefined) parse(text, path);
  }
};
const status = readAll('status', parseStatus);
const stat = readAll('stat', parseStat);
const both = () => { status(); stat(); };
const col = new ProcessCollector({ top: 10, include: undefined, smapsIntervalMs: 60_000, smapsMaxRssBytes: 4 * 2 ** 30, smapsScope: 'none', groups: [], cgroupMode: 'v1' });
const signal = new AbortController().signal;

const res = { status: [], stat: [], both: [], collector: [] };
for (let w = 0; w < 3; w++) { both(); await col.collect(host, signal); } // warm-up
for (let r = 0; r < rounds; r++) {
  res.status.push(cpuMs(status));
  res.stat.push(cpuMs(stat));
  res.both.push(cpuMs(both));
  const t = process.cpuUsage();
  await col.collect(host, signal);
  const d = process.cpuUsage(t);
  res.collector.push((d.user + d.system) / 1000);
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const n = pids().length;
console.log(`pids ${n}, rounds ${rounds}, CPU ms per pass (median) and us per process`);
for (const [k, v] of Object.entries(res)) console.log(`${k.padEnd(10)} ${median(v).toFixed(2).padStart(8)} ms  ${((median(v) * 1000) / n).toFixed(2).padStart(6)} us/process`);
