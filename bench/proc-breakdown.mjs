// proc-breakdown.mjs: what the process collector costs with PSS for every process
// (--process.smaps-scope all --process.smaps-interval 0s), against the bare C read of the same
// files (bin/rawread -f status-stat-rollup) and a bare Node read of them, in interleaved rounds on
// the live host, in one Node process (no HTTP, no other collector, no sink).
//
//   node --max-semi-space-size=1 bench/proc-breakdown.mjs [ROUNDS=9] [BASE_DIR]
//   CONFIG=default node ... : the default configuration instead (smaps-scope selected, 60 s),
//   against rawread -f status-stat
//
// BASE_DIR: another built checkout (e.g. a `git archive` of main built with `npm run build`): its
// ProcessCollector is measured in the same rounds as "base". CPU is process.cpuUsage() of this
// process (all its threads: V8's GC helpers included) per collection; rawread's is its own
// median CPU per pass (-i 3). Run with --max-semi-space-size=1 as bin/memlens.js does.
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH = fileURLToPath(new URL('.', import.meta.url));
const rounds = Number(process.argv[2] ?? 9);
const baseDir = process.argv[3];
const load = async (dir) => ({
  HostFs: (await import(resolve(dir, 'build/src/host/hostFs.js'))).HostFs,
  ProcessCollector: (await import(resolve(dir, 'build/src/collectors/process.js'))).ProcessCollector,
});
const pssAll = (process.env.CONFIG ?? 'pss-all') === 'pss-all';
const MODE = pssAll ? 'status-stat-rollup' : 'status-stat';
const opts = { top: 10, include: undefined, smapsIntervalMs: pssAll ? 0 : 60_000, smapsMaxRssBytes: 4 * 2 ** 30, smapsScope: pssAll ? 'all' : 'selected', groups: [], cgroupMode: 'v1' };
const signal = new AbortController().signal;
const builds = [['this', await load(resolve(BENCH, '..'))]];
if (baseDir !== undefined) builds.push(['base', await load(baseDir)]);
const cols = builds.map(([name, b]) => [name, new b.ProcessCollector(opts), new b.HostFs('/proc', '/sys')]);

// The floor in Node: the same files read into one reused buffer (status, then stat + smaps_rollup
// of every pid with a VmRSS line), nothing parsed beyond finding VmRSS.
const buf = Buffer.allocUnsafe(64 * 1024);
const slurp = (path) => {
  let fd;
  try { fd = openSync(path, 'r'); } catch { return -1; }
  try { return readSync(fd, buf, 0, buf.length, null); } catch { return -1; } finally { closeSync(fd); }
};
const VMRSS = Buffer.from('\nVmRSS:');
const nodeBare = () => {
  const withMm = [];
  for (const n of readdirSync('/proc')) {
    const c = n.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const len = slurp(`/proc/${n}/status`);
    if (len <= 0 || buf.subarray(0, len).indexOf(VMRSS) < 0) continue;
    slurp(`/proc/${n}/stat`);
    withMm.push(n);
  }
  if (pssAll) for (const n of withMm) slurp(`/proc/${n}/smaps_rollup`);
};

const RAW = `rawread -f ${MODE} (C)`;
const userMs = {};
// The same through this build's HostFs (tryReadInto), nothing parsed.
const hostFs = new builds[0][1].HostFs('/proc', '/sys');
const hostBare = () => {
  const withMm = [];
  for (const n of hostFs.list('/proc')) {
    const c = n.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const len = hostFs.tryReadInto(hostFs.proc(`${n}/status`), true);
    if (len < 0 || hostFs.bytes.subarray(0, len).indexOf(VMRSS) < 0) continue;
    hostFs.tryReadInto(hostFs.proc(`${n}/stat`), true);
    withMm.push(n);
  }
  for (const n of pssAll ? withMm : []) {
    try {
      hostFs.tryReadInto(hostFs.proc(`${n}/smaps_rollup`), true);
    } catch {
      // EACCES (pid 1 of another namespace): the collector counts it as a problem
    }
  }
};

const cpuMs = async (f, key) => {
  const t = process.cpuUsage();
  await f();
  const d = process.cpuUsage(t);
  (userMs[key] ??= []).push(d.user / 1000);
  return (d.user + d.system) / 1000;
};
const raw = () => {
  const out = execFileSync(resolve(BENCH, 'bin/rawread'), ['-i', '3', '-f', MODE], { encoding: 'utf8' });
  const m = /units=(\d+) rollups=(\d+) .*? cpu_ms ([\d.]+)/.exec(out);
  const share = Number(/sys_share ([\d.]+)/.exec(out)[1]);
  (userMs[RAW] ??= []).push(Number(m[3]) * (1 - share));
  return { pids: Number(m[1]), rollups: Number(m[2]), cpu: Number(m[3]) };
};

const res = { [RAW]: [], 'node bare read': [], 'HostFs bare read': [] };
for (const [name] of cols) res[`collector ${name}`] = [];
for (let w = 0; w < 2; w++) for (const [, col, host] of cols) await col.collect(host, signal); // warm-up (JIT)
let pids = 0;
let rollups = 0;
for (let r = 0; r < rounds; r++) {
  const rr = raw();
  res[RAW].push(rr.cpu);
  pids = rr.pids;
  rollups = rr.rollups;
  res['node bare read'].push(await cpuMs(nodeBare, 'node bare read'));
  if (hostFs.tryReadInto) res['HostFs bare read'].push(await cpuMs(hostBare, 'HostFs bare read'));
  // alternate the order of the builds from round to round
  const order = r % 2 === 0 ? cols : [...cols].reverse();
  for (const [name, col, host] of order) res[`collector ${name}`].push(await cpuMs(() => col.collect(host, signal), `collector ${name}`));
}
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const bare = median(res[RAW]);
console.log(`config ${pssAll ? 'pss-all' : 'default'}, pids ${pids} (with memory: ${pssAll ? rollups : '-'}), rounds ${rounds}, load average ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);
console.log('| pass | CPU ms (median) | min-max | x rawread | of which user ms (median) |');
console.log('|---|---:|---:|---:|---:|');
for (const [k, v] of Object.entries(res)) {
  console.log(`| ${k} | ${median(v).toFixed(1)} | ${Math.min(...v).toFixed(1)}-${Math.max(...v).toFixed(1)} | ${(median(v) / bare).toFixed(2)} | ${median(userMs[k] ?? [NaN]).toFixed(1)} |`);
}
