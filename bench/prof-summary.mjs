#!/usr/bin/env node
// prof-summary.mjs FILE.cpuprofile [--top=25] [--scrapes=N]
//
// Where the time of a `node --cpu-prof` profile goes: self time by function (top N), and
// inclusive time of a few named stages of memlens (collectors, parsers, file reads, prom-client
// rendering, express, GC). With --scrapes=N every figure is also divided by N (ms per scrape).
// Inclusive time counts a frame once per sample even when it recurses.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (!file) {
  console.error('usage: prof-summary.mjs FILE.cpuprofile [--top=25] [--scrapes=N]');
  process.exit(1);
}
const opt = (k, d) => Number(args.find((a) => a.startsWith(`--${k}=`))?.split('=')[1] ?? d);
const TOP = opt('top', 25);
const SCRAPES = opt('scrapes', 0);

const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const short = (cf) => {
  const url = cf.url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, 'nm:').replace(/.*\/build\/src\//, 'src:');
  return `${cf.functionName || '(anonymous)'} ${url ? `${url}:${cf.lineNumber + 1}` : ''}`.trim();
};

const self = new Map();
const cats = new Map();
let total = 0;
let started = false;
let skipped = 0;
const FSOPS = new Set(['open', 'openat', 'read', 'close', 'readdir', 'lstat', 'stat', 'fstat']);
const has = (stack, re, name) => stack.some((cf) => re.test(cf.url) && (name === undefined || name.test(cf.functionName)));
// One category per sample: the first rule that matches (leaf first, then the callers).
function category(stack) {
  const leaf = stack[0];
  if (leaf.functionName === '(garbage collector)') return 'GC';
  if (leaf.functionName === '(program)') return '(program): native V8/libuv outside JS frames';
  // node:fs's native calls (url ''), or HostFs's libc calls through koffi (kernel/sys.js open/openat/read/close)
  const leafSys = (leaf.url === '' || /kernel\/sys\.js$/.test(leaf.url)) && FSOPS.has(leaf.functionName);
  if (has(stack, /host\/hostFs\.js$/, /^(read|readInto|readIntoBuf|readAtInto|openDir|closeDir)$/)) {
    if (!leafSys) return 'HostFs.read JS: node:fs or koffi wrappers, Buffer -> string';
    if (has(stack, /collectors\/process\.js$/, /^(rollup|readRollup)$/)) return 'syscalls: smaps_rollup open/read/close (kernel page walk)';
    if (has(stack, /collectors\/process\.js$/, /^emitProcess$/)) return 'syscalls: cgroup/oom_score of selected pids';
    if (has(stack, /collectors\/process\.js$/, /^readStat$/)) return 'syscalls: stat open/read/close';
    if (has(stack, /collectors\/process\.js$/)) return 'syscalls: status open/read/close';
    if (has(stack, /collectors\/cgroup\.js$|cgroupfs\//)) return 'syscalls: cgroup files';
    return 'syscalls: other files';
  }
  if (has(stack, /host\/hostFs\.js$/, /^(list|subdirs)$/)) return 'readdir (/proc, cgroup dirs)';
  if (has(stack, /procfs\/|cgroupfs\//)) return 'parsing (procfs/cgroupfs parsers)';
  if (has(stack, /prom-client\/lib\/metrics\//)) return 'prom-client default metrics (collectDefaultMetrics)';
  if (has(stack, /prom-client/)) return 'prom-client: reset/set + registry.metrics() text';
  if (has(stack, /collectors\//)) return 'collectors JS (loops, grouping, samples, yield)';
  if (has(stack, /sinks\/|http\/server\.js$/)) return 'sink/http handler JS';
  if (has(stack, /node_modules\/(express|router|send|finalhandler|mime|mime-types|body-parser|content-type|etag|fresh|qs|on-finished|pino|pino-http|pino-std-serializers)\//) || has(stack, /^node:(_http|http|net|stream|internal\/(http|streams|stream_base))/)) return 'express/http/pino';
  if (has(stack, /node:internal\/modules/)) return 'module loading (lazy requires)';
  if (has(stack, /node:internal\/timers|node:timers/) || leaf.functionName === 'processImmediate') return 'timers/setImmediate';
  return 'other';
}

const times = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) {
  const dt = (times[i + 1] ?? times[i] ?? 0) / 1000; // ms; delta to the next sample is the time this one stood for
  const leaf = byId.get(prof.samples[i]);
  if (leaf.callFrame.functionName === '(idle)') continue;
  const stack = [];
  for (let id = leaf.id; id !== undefined; id = parent.get(id)) stack.push(byId.get(id).callFrame);
  // Start-up (module loading, config) is left out: count from the first collection on.
  if (!started) {
    if (stack.some((cf) => cf.functionName === 'collect' && /collectors\/(process|cgroup)\.js$/.test(cf.url))) started = true;
    else { skipped += dt; continue; }
  }
  const key = short(leaf.callFrame);
  self.set(key, (self.get(key) ?? 0) + dt);
  total += dt;
  const c = category(stack);
  cats.set(c, (cats.get(c) ?? 0) + dt);
}

const per = (ms) => (SCRAPES ? ` ${(ms / SCRAPES).toFixed(2).padStart(8)} ms/scrape` : '');
const pct = (ms) => `${((100 * ms) / total).toFixed(1).padStart(5)} %`;
console.log(`# ${file}: ${total.toFixed(0)} ms non-idle main-thread time from the first collection on${SCRAPES ? ` over ${SCRAPES} scrapes` : ''} (start-up before it: ${skipped.toFixed(0)} ms, left out)`);
console.log('\n## by category (each sample counted once: leaf first, then its callers)');
for (const [label, ms] of [...cats].sort((a, b) => b[1] - a[1])) console.log(`${label.padEnd(62)} ${ms.toFixed(0).padStart(7)} ms ${pct(ms)}${per(ms)}`);
console.log(`\n## self time, top ${TOP}`);
for (const [k, ms] of [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
  console.log(`${ms.toFixed(0).padStart(7)} ms ${pct(ms)}${per(ms)}  ${k}`);
}
