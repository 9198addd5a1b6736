// cgscale-table.mjs FILE: the markdown table of a bench/cgscale.sh run (median over rounds of each column).
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: cgscale-table.mjs cgscale.txt');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const byN = new Map(); // N -> column -> values
const perRound = new Map(); // N -> round -> column -> value (for the paired ratios below the table)
let round = 0;
const put = (n, col, v) => {
  if (!perRound.has(n)) perRound.set(n, new Map());
  const rs = perRound.get(n);
  if (!rs.has(round)) rs.set(round, new Map());
  rs.get(round).set(col, v);
  if (!byN.has(n)) byN.set(n, new Map());
  const m = byN.get(n);
  if (!m.has(col)) m.set(col, []);
  m.get(col).push(v);
};
const busy = new Map();
const configs = new Set();
for (const line of readFileSync(file, 'utf8').split('\n')) {
  round = Number(/^RESULT N=\d+ round=(\d+)/.exec(line)?.[1] ?? round);
  // rawcg-oneshow (rawcg -1): one read() per single-show file, as memlens reads them: the floor the ratios use.
  // rawcg: every file read until read() returns 0 (runs before rawcg -1 existed: the only cgroup column).
  let m = /^RESULT N=(\d+) round=\d+ RESULT rawcg(-oneshow)? iters=\d+ dirs (\d+) files_read (\d+) cpu_ms ([\d.]+)/.exec(line);
  if (m) { put(m[1], m[2] ? 'rawcg-oneshow' : 'rawcg', +m[5]); put(m[1], 'dirs', +m[3]); put(m[1], 'files', +m[4]); continue; }
  m = /^RESULT N=(\d+) round=\d+ RESULT raw-(status-stat-rollup|status-stat|status|both) units=(\d+) .*? cpu_ms ([\d.]+)/.exec(line);
  // rawread -f status-stat(-rollup): what memlens reads (older runs: -f status / -f both, without /proc/PID/stat)
  if (m) { put(m[1], m[2] === 'status-stat' || m[2] === 'status' ? 'raw-status' : 'raw-both', +m[4]); put(m[1], 'pids', +m[3]); continue; }
  m = /^RESULT N=(\d+) round=\d+ memlens-(\S+) cpu_ms_per_scrape (\d+) rss_mb (\d+) hwm_mb (\d+)(?: cgroup_success (\S+))?/.exec(line);
  if (m) {
    configs.add(m[2]);
    put(m[1], `hwm:${m[2]}`, +m[5]);
    // a round whose last scrape had the cgroup collector time out is left out of the CPU median (none: no cgroup collector)
    if (m[6] === undefined || m[6] === '1' || m[6] === 'none') put(m[1], `cpu:${m[2]}`, +m[3]);
    else put(m[1], `timeouts:${m[2]}`, 1);
    continue;
  }
  m = /^# N=(\d+) round=\d+ machine busy % during the round: (\d+)/.exec(line);
  if (m) { if (!busy.has(m[1])) busy.set(m[1], []); busy.get(m[1]).push(+m[2]); }
}
const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const cfgs = [...configs];
const head = ['N (bench cgroups)', 'cgroups walked', 'pids', 'files per cgroup', 'rawcg -1 (bare cgroup read)', 'rawcg (to EOF)', 'raw-status-stat', 'raw-status-stat-rollup',
  ...cfgs.map((c) => `memlens ${c}`), ...cfgs.map((c) => `${c} / bare`), ...cfgs.map((c) => `${c} peak RSS MiB`), 'machine busy % (median, range)'];
console.log(`| ${head.join(' | ')} |`);
console.log(`|${head.map(() => '---:').join('|')}|`);
for (const [n, cols] of byN) {
  const g = (k) => median(cols.get(k) ?? []);
  const max = (k) => Math.max(...(cols.get(k) ?? [NaN]));
  // bare read of what each configuration reads: the cgroup tree plus the per-pid files of each configuration (rawread -f status-stat / status-stat-rollup)
  const cg = cols.has('rawcg-oneshow') ? g('rawcg-oneshow') : g('rawcg');
  const bare = (c) => {
    const base = c.replace(/^base-/, '').replace(/@semi\d+$/, '');
    if (base === 'cgroup-only') return cg;
    if (base === 'process-only') return g('raw-status');
    return cg + (base === 'pss-all' ? g('raw-both') : g('raw-status'));
  };
  const b = busy.get(n) ?? [];
  const row = [n, f(g('dirs'), 0), f(g('pids'), 0), f(g('files') / g('dirs'), 1), f(g('rawcg-oneshow')), f(g('rawcg')), f(g('raw-status')), f(g('raw-both')),
    ...cfgs.map((c) => f(g(`cpu:${c}`), 0)), ...cfgs.map((c) => `${f(g(`cpu:${c}`) / bare(c), 2)}`), ...cfgs.map((c) => f(max(`hwm:${c}`), 0)),
    `${f(median(b), 0)} (${Math.min(...b)}-${Math.max(...b)})`];
  console.log(`| ${row.join(' | ')} |`);
}

// Paired per round: each round measures every build within seconds of the others, so the ratio of two builds (and of
// a build to the bare read) round by round moves less with the host's load than the ratio of medians above.
for (const [n, rs] of perRound) {
  const lines = [];
  for (const c of cfgs) {
    if (c.startsWith('base-') || !cfgs.includes(`base-${c}`)) continue;
    const ab = [];
    const toBare = [];
    const baseToBare = [];
    for (const cols of rs.values()) {
      const a = cols.get(`cpu:${c}`);
      const b = cols.get(`cpu:base-${c}`);
      if (a !== undefined && b !== undefined) ab.push(a / b);
      const cg = cols.get('rawcg-oneshow') ?? cols.get('rawcg');
      const proc = cols.get(c.replace(/@semi\d+$/, '') === 'pss-all' ? 'raw-both' : 'raw-status');
      if (cg !== undefined && proc !== undefined) {
        if (a !== undefined) toBare.push(a / (cg + proc));
        if (b !== undefined) baseToBare.push(b / (cg + proc));
      }
    }
    const r = (xs) => `${f(median(xs), 2)} (${f(Math.min(...xs), 2)}-${f(Math.max(...xs), 2)}, ${xs.length} rounds)`;
    lines.push(`- N=${n} ${c}: ${c} / base-${c} per round ${r(ab)}; ${c} / bare per round ${r(toBare)}; base-${c} / bare per round ${r(baseToBare)}`);
  }
  if (lines.length > 0) console.log(`\nPaired per round (median, range):\n${lines.join('\n')}`);
}
