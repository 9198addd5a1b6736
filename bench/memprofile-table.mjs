// memprofile-table.mjs FILE: the markdown table of a bench/memprofile.sh run (per variant: idle
// RSS, peak and median RSS after each round, V8 heap figures, smaps at the end), in MiB.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: memprofile-table.mjs memprofile.txt');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const max = (xs) => (xs.length === 0 ? NaN : Math.max(...xs));
const variants = new Map(); // label -> { idle, rounds: [], smaps }
const get = (l) => {
  if (!variants.has(l)) variants.set(l, { idle: {}, rounds: [], smaps: {} });
  return variants.get(l);
};
const pairs = (text) => {
  const o = {};
  const t = text.trim().split(/\s+/);
  for (let i = 0; i + 1 < t.length; i += 2) o[t[i]] = Number(t[i + 1]);
  return o;
};
let scrapes = 1;
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const sp = /scrapes_per_round=(\d+)/.exec(line);
  if (sp) scrapes = Number(sp[1]);
  let m = /^RESULT variant=(\S+) idle (.*)$/.exec(line);
  if (m) { get(m[1]).idle = pairs(m[2]); continue; }
  m = /^RESULT variant=(\S+) round=\d+ (.*)$/.exec(line);
  if (m) { get(m[1]).rounds.push(pairs(m[2])); continue; }
  m = /^RESULT variant=(\S+) smaps (.*)$/.exec(line);
  if (m) get(m[1]).smaps = pairs(m[2]);
}
const f = (x) => (Number.isFinite(x) ? x.toFixed(0) : '-');
console.log('| variant | idle RSS (anon + file) | peak RSS (VmHWM) | RSS after a round, median | heap used after, median | heap used, highest during scrapes | old space / large objects, highest | external (ArrayBuffers), highest | end: node binary / brk heap / other anon | CPU ms per scrape, median | GC pause ms per scrape (major + minor), median | exposition bytes |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const [label, v] of variants) {
  const col = (k) => v.rounds.map((r) => r[k]).filter((x) => x !== undefined);
  const s = v.smaps;
  console.log(`| ${label} | ${f(v.idle.VmRSS)} (${f(v.idle.RssAnon)} + ${f(v.idle.RssFile)}) | ${f(max(col('VmHWM')))} | ${f(median(col('VmRSS')))} | ${f(median(col('heapUsed')))} | ${f(max(col('peak_heapUsed')))} | ${f(max(col('peak_old_space')))} / ${f(max(col('peak_large_object_space')))} | ${f(max(col('peak_external')))} (${f(max(col('peak_arrayBuffers')))}) | ${f(s.node_binary)} / ${f(s.brk_heap)} / ${f(s.anon)} | ${f(median(col('cpu_ms_per_scrape')))} | ${f(median(v.rounds.map((r) => (r.gc_major_ms + r.gc_minor_ms) / scrapes)))} (${f(median(v.rounds.map((r) => r.gc_major_ms / scrapes)))} + ${f(median(v.rounds.map((r) => r.gc_minor_ms / scrapes)))}) | ${f(median(col('exposition_bytes')))} |`);
}
