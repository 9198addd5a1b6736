// The v2 part of bench/notify-latency (see README.md): memlens on a copy of test/fixtures/v2 (--path.sysfs,
// --path.procfs), its poller reading memory.current of /workloads/job-42c9/oomdemo (memory.max 64 MiB) every
// --watch.poll-interval (default 100 ms), bin/v2writer rewriting that file. latency = event timeMs - time of the
// first write >= the threshold.
//   node v2measure.mjs --memlens DIR --port P --out DIR [--label v2-idle] [--cycles 25] [--step-us 10000]
//        [--from 0.85] [--limit-mib 64]   (each ramp starts at this fraction; the cgroup's memory.max in the copy)
//        [--real-procs]   (procfs = the fixture's self/, meminfo, vmstat, pressure + a symlink to every real
//                          /proc/PID, with a curl loop on /metrics: the process collector then walks every
//                          process of the host, while the cgroup tree stays the fixture's)
//        [-- extra memlens flags]
import { spawn } from 'node:child_process';
import { closeSync, cpSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '../..');
const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const extra = dd >= 0 ? argv.slice(dd + 1) : [];
const own = dd >= 0 ? argv.slice(0, dd) : argv;
const opt = (n, d) => { const i = own.indexOf(`--${n}`); return i >= 0 ? own[i + 1] : d; };
const realProcs = own.includes('--real-procs');
const label = opt('label', realProcs ? 'v2-loaded' : 'v2-idle');
const memlensDir = opt('memlens');
const port = Number(opt('port', '19973'));
const outDir = opt('out', join(HERE, 'run'));
const cycles = Number(opt('cycles', '25'));
const stepUs = Number(opt('step-us', '10000'));
const CG = '/workloads/job-42c9/oomdemo';
const LIMIT = Number(opt('limit-mib', '64')) * 2 ** 20;
const FROM = opt('from', '0.85');
const FRACTIONS = [0.9, 0.95];
const thBytes = FRACTIONS.map((f) => Math.min(LIMIT, Math.floor(f * LIMIT)));

const root = join(outDir, `${label}.tree`);
rmSync(root, { recursive: true, force: true });
cpSync(join(REPO, 'test/fixtures/v2/sys'), join(root, 'sys'), { recursive: true });
if (realProcs) {
  mkdirSync(join(root, 'proc'), { recursive: true });
  for (const f of ['self', 'meminfo', 'vmstat', 'pressure']) cpSync(join(REPO, 'test/fixtures/v2/proc', f), join(root, 'proc', f), { recursive: true });
  for (const p of readdirSync('/proc')) if (/^\d+$/.test(p)) symlinkSync(`/proc/${p}`, join(root, 'proc', p));
} else cpSync(join(REPO, 'test/fixtures/v2/proc'), join(root, 'proc'), { recursive: true });
const curFile = join(root, 'sys/fs/cgroup', CG, 'memory.current');
writeFileSync(join(root, 'sys/fs/cgroup', CG, 'memory.max'), `${LIMIT}\n`);

const started = [];
async function cleanup() {
  for (const s of started.reverse()) {
    if (s.child.exitCode !== null || s.child.signalCode !== null) continue;
    try { s.group ? process.kill(-s.child.pid, 'SIGTERM') : s.child.kill('SIGTERM'); } catch {}
    for (let i = 0; i < 50 && s.child.exitCode === null && s.child.signalCode === null; i++) await sleep(100);
  }
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
process.on('SIGTERM', () => void cleanup().then(() => process.exit(143)));
const start = (name, cmd, args, { stdout = 'ignore', stderr = 'ignore', group = false } = {}) => {
  const child = spawn(cmd, args, { stdio: ['ignore', stdout, stderr], detached: group });
  started.push({ name, child, group });
  return child;
};

async function main() {
  const logFile = join(outDir, `${label}.memlens.log`);
  const lfd = openSync(logFile, 'w');
  const memlens = start('memlens', process.execPath, [join(memlensDir, 'bin/memlens.js'), '--web.listen-address', `127.0.0.1:${port}`,
    '--path.procfs', join(root, 'proc'), '--path.sysfs', join(root, 'sys'), '--path.kmsg', '/dev/null',
    '--watch.refresh-interval', '1s', '--snapshot.dir', join(outDir, `${label}.snapshots`), ...extra], { stderr: lfd });
  closeSync(lfd);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (memlens.exitCode !== null) throw new Error(`memlens exited: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    try { if ((await fetch(`${base}/healthz`)).ok) break; } catch {}
    if (i > 600) throw new Error('memlens did not come up');
    await sleep(50);
  }
  await sleep(2500); // the watcher's first discovery (refresh 1s) has armed the poller
  let scraper;
  if (realProcs) {
    const sfd = openSync(join(outDir, `${label}.scrapes.txt`), 'w');
    scraper = start('scraper', 'bash', ['-c', `while :; do curl -s -o /dev/null -w '%{time_total} %{http_code}\\n' ${base}/metrics; done`], { stdout: sfd, group: true });
    closeSync(sfd);
    await sleep(3000);
  }
  const wfile = join(outDir, `${label}.writes.txt`);
  const wfd = openSync(wfile, 'w');
  const tStart = Date.now();
  const load0 = loadavg()[0];
  const writer = start('v2writer', join(HERE, 'bin/v2writer'), [curFile, String(LIMIT), String(cycles), String(stepUs), '42', FROM], { stdout: wfd });
  closeSync(wfd);
  await new Promise((res) => writer.on('exit', res));
  await sleep(1000);
  if (scraper) { try { process.kill(-scraper.pid, 'SIGTERM'); } catch {} }
  const api = await (await fetch(`${base}/api/v1/events?cgroup=${encodeURIComponent(CG)}`)).json();
  await cleanup();
  rmSync(root, { recursive: true, force: true });

  const writes = readFileSync(wfile, 'utf8').split('\n').filter((l) => l.startsWith('W ')).map((l) => { const p = l.split(' '); return { c: +p[1], t: Number(BigInt(p[2])) / 1e6, v: +p[3] }; });
  const events = api.events.filter((e) => e.threshold !== null && e.source === 'v2-poll');
  const rows = []; const problems = [];
  for (let c = 1; c <= cycles; c++) {
    const from = writes.find((w) => w.c === c)?.t;
    const to = writes.find((w) => w.c === c + 1)?.t ?? Infinity;
    for (let k = 0; k < FRACTIONS.length; k++) {
      const w = writes.find((x) => x.c === c && x.v >= thBytes[k]);
      const evs = events.filter((e) => e.threshold === FRACTIONS[k] && e.timeMs >= from - 1 && e.timeMs < to);
      if (!w || evs.length !== 1) { problems.push(`cycle ${c} ${FRACTIONS[k]}: write ${!!w}, ${evs.length} events`); if (!w || !evs.length) continue; }
      const ev = evs[0];
      rows.push({ cycle: c, threshold: FRACTIONS[k], writeMs: w.t, handledMs: ev.timeMs, e2eLoMs: ev.timeMs - w.t, e2eHiMs: ev.timeMs + 1 - w.t, memlensInternalMs: ev.latencySeconds * 1000, eventUsage: ev.usageBytes });
    }
  }
  const sf = join(outDir, `${label}.scrapes.txt`);
  const scrapes = realProcs && existsSync(sf) ? readFileSync(sf, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')) : [];
  const ss = scrapes.map((s) => +s[0]).sort((a, b) => a - b);
  const pollMs = Number((extra[extra.indexOf('--watch.poll-interval') + 1] ?? '100ms').replace('ms', '')) || 100;
  writeFileSync(join(outDir, `${label}.json`), JSON.stringify({
    label, v2: true, cgroup: CG, limitBytes: LIMIT, fromFraction: Number(FROM), thresholdsBytes: thBytes, cycles, stepUs, pollIntervalMs: extra.includes('--watch.poll-interval') ? pollMs : 100,
    memlensArgs: extra, scrape: realProcs, realProcs, procLinks: realProcs ? readdirSync('/proc').filter((p) => /^\d+$/.test(p)).length : 0,
    startedMs: tStart, load1AtStart: load0, load1AtEnd: loadavg()[0],
    scrapes: ss.length ? { n: ss.length, non200: scrapes.filter((s) => s[1] !== '200').length, medianS: ss[Math.floor(ss.length / 2)], maxS: ss.at(-1) } : null,
    problems, rows,
  }, null, 1));
  const hi = rows.map((r) => r.e2eHiMs).sort((a, b) => a - b);
  console.log(`${label}: ${hi.length} crossings, p50 ${hi[Math.floor(hi.length / 2)]?.toFixed(1)} max ${hi.at(-1)?.toFixed(1)} ms; problems ${problems.length}`);
}
main().catch(async (e) => { console.error(e); await cleanup(); rmSync(root, { recursive: true, force: true }); process.exit(1); });
