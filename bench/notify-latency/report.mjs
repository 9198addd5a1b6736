// Summarises run/<label>.json files into the markdown tables of bench/RESULTS.md's notification-latency section.
//   node report.mjs RUNDIR
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'run';
const q = (xs, p) => {
  const s = xs.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  if (!s.length) return null;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]; // nearest rank
};
const f = (x, d = 2) => (x === null || x === undefined ? 'n/a' : x.toFixed(d));
const stats = (xs, d) => `${f(q(xs, 0.5), d)} | ${f(q(xs, 0.9), d)} | ${f(q(xs, 0.99), d)} | ${f(q(xs, 1), d)}`;
const load = (l) => (existsSync(join(dir, `${l}.json`)) ? JSON.parse(readFileSync(join(dir, `${l}.json`), 'utf8')) : undefined);

const out = [];
out.push('| run | n | measure | p50 ms | p90 ms | p99 ms | max ms |', '|---|---|---|---|---|---|---|');
for (const l of ['idle', 'loaded']) {
  const r = load(l);
  if (!r) continue;
  const rows = r.rows;
  const n = rows.filter((x) => x.handledMs !== null).length;
  out.push(`| ${l} | ${n} | **end to end**: event handled (upper bound, timeMs + 1) - end of the crossing MiB | ${stats(rows.map((x) => x.e2eHiMs))} |`);
  out.push(`| ${l} | ${n} | end to end, conservative: event handled (timeMs + 1) - start of the crossing MiB | ${stats(rows.map((x) => x.handledMs === null ? null : x.handledMs + 1 - x.allocStartMs))} |`);
  out.push(`| ${l} | ${n} | kernel: kobs woken - end of the crossing MiB | ${stats(rows.map((x) => x.kernelMs))} |`);
  out.push(`| ${l} | ${n} | memlens after the kernel: handled (timeMs + 1) - kobs woken | ${stats(rows.map((x) => x.memlensAfterKobsHiMs))} |`);
  out.push(`| ${l} | ${n} | control: a SCHED_OTHER kobs woken - the SCHED_FIFO kobs woken | ${stats(rows.map((x) => x.otherObserverAfterKobsMs))} |`);
  out.push(`| ${l} | ${n} | memlens internal: epoll_wait returned -> published (event latencySeconds) | ${stats(rows.map((x) => x.memlensInternalMs), 3)} |`);
  out.push(`| ${l} | ${n} | time to touch the crossing MiB (alloc, SCHED_FIFO) | ${stats(rows.map((x) => x.touchMs), 3)} |`);
}
for (const l of ['v2-idle', 'v2-loaded']) {
  const r = load(l);
  if (!r) continue;
  out.push(`| ${l} (poll ${r.pollIntervalMs} ms) | ${r.rows.length} | event handled (timeMs + 1) - write of memory.current | ${stats(r.rows.map((x) => x.e2eHiMs), 1)} |`);
}
out.push('');
for (const l of ['idle', 'loaded', 'v2-idle', 'v2-loaded']) {
  const r = load(l);
  if (!r) continue;
  const sc = r.scrapes ? `; scrapes during the run: ${r.scrapes.n} (${r.scrapes.non200} not 200), median ${f(r.scrapes.medianS)} s, max ${f(r.scrapes.maxS)} s` : '';
  out.push(`- ${l}: ${r.rows.length} crossings of ${r.cycles} cycles; memlens flags: \`${(r.memlensArgs ?? []).join(' ') || '(defaults)'}\`; load1 ${f(r.load1AtStart)} -> ${f(r.load1AtEnd)}${r.procsAtStart ? `, runnable/total tasks ${r.procsAtStart} -> ${r.procsAtEnd}` : ''}${r.procLinks ? `; ${r.procLinks} real /proc/PID linked` : ''}${sc}; problems: ${r.problems.length ? r.problems.join('; ') : 'none'}`);
}
console.log(out.join('\n'));
