// One run of bench/notify-latency on cgroup v1 (see README.md). Started by run.sh; usable alone:
//   node measure.mjs --label idle --memlens DIR --port 19971 --out OUTDIR [--scrape] [--cycles 25] [--pace-us 1000]
//                    [-- extra memlens flags]
// Creates a child memory cgroup (256 MiB) under this process's own v1 memory cgroup, starts memlens (JSON log to a
// file), the kernel observer (kobs) and the allocator (alloc) in the cgroup, optionally a curl loop on /metrics;
// alloc and kobs run SCHED_FIFO 50 (chrt) so that their timestamps are the reference clock even on a busy host
// (memlens runs as any process does, SCHED_OTHER); writes OUTDIR/<label>.json (every crossing) and prints a one-line summary. Removes all it made, also on failure.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const HERE = dirname(fileURLToPath(import.meta.url));
const MiB = 2 ** 20;
const argv = process.argv.slice(2);
const dd = argv.indexOf('--');
const extra = dd >= 0 ? argv.slice(dd + 1) : [];
const own = dd >= 0 ? argv.slice(0, dd) : argv;
const opt = (name, def) => {
  const i = own.indexOf(`--${name}`);
  return i >= 0 ? own[i + 1] : def;
};
const flag = (name) => own.includes(`--${name}`);
const label = opt('label', 'idle');
const memlensDir = opt('memlens');
const port = Number(opt('port', '19971'));
const outDir = opt('out', join(HERE, 'run'));
const cycles = Number(opt('cycles', '25'));
const paceUs = Number(opt('pace-us', '1000'));
const scrape = flag('scrape');
const LIMIT = 256 * MiB;
const FRACTIONS = [0.9, 0.95];
const thBytes = FRACTIONS.map((f) => Math.min(LIMIT, Math.floor(f * LIMIT))); // as memlens: thresholdBytes()
const LO = Math.floor(0.85 * LIMIT);
const HI = Math.floor(0.97 * LIMIT);
if (!memlensDir) throw new Error('--memlens DIR is required');
mkdirSync(outDir, { recursive: true });

const MEMROOT = '/sys/fs/cgroup/memory';
const ownCg = readFileSync('/proc/self/cgroup', 'utf8').split('\n').map((l) => l.split(':')).find((p) => p[1] === 'memory')[2];
const cgPath = `${ownCg.replace(/\/$/, '')}/notifylat_${label}_${process.pid}`;
const cgDir = MEMROOT + cgPath;

const started = []; // { name, child, group }
let cgMade = false;
async function cleanup() {
  for (const s of started.reverse()) {
    if (s.child.exitCode !== null || s.child.signalCode !== null) continue;
    try {
      if (s.group) process.kill(-s.child.pid, 'SIGTERM');
      else s.child.kill('SIGTERM');
    } catch {}
    for (let i = 0; i < 50 && s.child.exitCode === null && s.child.signalCode === null; i++) await sleep(100);
    if (s.child.exitCode === null && s.child.signalCode === null) {
      try { s.group ? process.kill(-s.child.pid, 'SIGKILL') : s.child.kill('SIGKILL'); } catch {}
    }
  }
  if (cgMade) {
    for (let i = 0; i < 50; i++) {
      try { rmdirSync(cgDir); cgMade = false; break; } catch { await sleep(100); }
    }
    if (cgMade) console.error(`could not remove ${cgDir}`);
  }
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
process.on('SIGTERM', () => void cleanup().then(() => process.exit(143)));

function start(name, cmd, args, { stdout = 'ignore', stderr = 'ignore', group = false } = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', stdout, stderr], detached: group });
  started.push({ name, child, group });
  return child;
}

async function waitFor(what, pred, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function readJsonLines(file) {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => { try { return JSON.parse(l); } catch { return undefined; } }).filter(Boolean);
}

/** Runs the allocator in the cgroup; resolves with its records when it prints END. */
function runAlloc(nCycles, seed) {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', 'echo $$ > "$1/cgroup.procs" && exec chrt -f 50 "$2" "$1/memory.usage_in_bytes" "$3" "$4" "$5" "$6" "$7"', '_',
      cgDir, join(HERE, 'bin/alloc'), String(LO), String(HI), String(nCycles), String(paceUs), String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] });
    started.push({ name: 'alloc', child, group: false });
    const recs = [];
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d.toString('latin1');
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const p = l.split(' ');
        if (p[0] === 'U') recs.push({ kind: 'U', cycle: +p[1], t0: BigInt(p[2]), t1: BigInt(p[3]), total: +p[4], usage: +p[5] });
        else if (p[0] === 'D') recs.push({ kind: 'D', cycle: +p[1], t: BigInt(p[2]), total: +p[3], usage: +p[4] });
      }
    });
    child.on('exit', (code, sig) => (code === 0 ? resolve(recs) : reject(new Error(`alloc exited ${code ?? sig}`))));
  });
}

const nsToMs = (ns) => Number(ns) / 1e6;

async function main() {
  mkdirSync(cgDir);
  cgMade = true;
  writeFileSync(join(cgDir, 'memory.limit_in_bytes'), String(LIMIT));
  const logFile = join(outDir, `${label}.memlens.log`);
  const logFd = openSync(logFile, 'w');
  const memlens = start('memlens', process.execPath, [join(memlensDir, 'bin/memlens.js'), '--web.listen-address', `127.0.0.1:${port}`,
    '--watch.refresh-interval', '1s', '--snapshot.dir', join(outDir, `${label}.snapshots`), '--path.kmsg', '/dev/null', ...extra], { stderr: logFd });
  closeSync(logFd);
  const base = `http://127.0.0.1:${port}`;
  await waitFor('memlens /healthz', async () => {
    if (memlens.exitCode !== null) throw new Error(`memlens exited: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    try { return (await fetch(`${base}/healthz`)).ok; } catch { return false; }
  }, 30000);

  const kobsFile = join(outDir, `${label}.kobs.txt`);
  const kobsFd = openSync(kobsFile, 'w');
  start('kobs', 'chrt', ['-f', '50', join(HERE, 'bin/kobs'), cgDir, ...thBytes.map(String)], { stdout: kobsFd });
  closeSync(kobsFd);
  await waitFor('kobs READY', () => readFileSync(kobsFile, 'utf8').includes('READY'), 5000);
  // Control: the same observer as an ordinary (SCHED_OTHER) process, like memlens: how long any normal process
  // on this host waits for the CPU after the kernel's signal.
  const kobs2File = join(outDir, `${label}.kobs-other.txt`);
  const kobs2Fd = openSync(kobs2File, 'w');
  start('kobs-other', join(HERE, 'bin/kobs'), [cgDir, ...thBytes.map(String)], { stdout: kobs2Fd });
  closeSync(kobs2Fd);
  await waitFor('kobs-other READY', () => readFileSync(kobs2File, 'utf8').includes('READY'), 5000);

  // Warm-up: one cycle, until memlens reports its 0.9 crossing for our cgroup (proves the watch is armed).
  const crossings = () => readJsonLines(logFile).filter((l) => l.event === 'threshold_crossing' && l.cgroup === cgPath);
  let warm = 0;
  await waitFor('the watch on our cgroup (warm-up crossing)', async () => {
    if (crossings().some((l) => l.threshold === 0.9)) return true;
    await runAlloc(1, 1);
    warm++;
    await sleep(300);
    return crossings().some((l) => l.threshold === 0.9);
  }, 60000);
  const warmIds = new Set(crossings().map((l) => l.id));
  await sleep(500);

  let scraper;
  const scrapeFile = join(outDir, `${label}.scrapes.txt`);
  if (scrape) {
    const sfd = openSync(scrapeFile, 'w');
    scraper = start('scraper', 'bash', ['-c', `while :; do curl -s -o /dev/null -w '%{time_total} %{http_code}\\n' ${base}/metrics; done`], { stdout: sfd, group: true });
    closeSync(sfd);
    await sleep(3000); // let scrapes (and the first smaps pass) be under way
  }
  const load0 = loadavg()[0];
  const procs0 = readFileSync('/proc/loadavg', 'utf8').split(' ')[3];
  const tStart = Date.now();
  const recs = await runAlloc(cycles, 42);
  const tEnd = Date.now();
  await sleep(1500);
  if (scraper) { try { process.kill(-scraper.pid, 'SIGTERM'); } catch {} }
  const api = await (await fetch(`${base}/api/v1/events?cgroup=${encodeURIComponent(cgPath)}`)).json();
  const logLines = readJsonLines(logFile);
  await cleanup();

  // ---- analysis ----
  const events = api.events.filter((e) => e.threshold !== null && e.source === 'v1-threshold');
  const logById = new Map(logLines.filter((l) => l.event === 'threshold_crossing').map((l) => [l.id, l]));
  const parseK = (file) => readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('K ')).map((l) => {
    const p = l.split(' ');
    return { t: BigInt(p[1]), th: +p[2], count: +p[3], usage: +p[4] };
  });
  const kobs2 = parseK(join(outDir, `${label}.kobs-other.txt`));
  const kobs = readFileSync(kobsFile, 'utf8').split('\n').filter((l) => l.startsWith('K ')).map((l) => {
    const p = l.split(' ');
    return { t: BigInt(p[1]), th: +p[2], count: +p[3], usage: +p[4] };
  });
  const ups = recs.filter((r) => r.kind === 'U');
  const cycleStart = new Map();
  for (const r of ups) if (!cycleStart.has(r.cycle)) cycleStart.set(r.cycle, r.t0);
  const rows = [];
  const problems = [];
  for (let c = 1; c <= cycles; c++) {
    const from = cycleStart.get(c);
    const to = cycleStart.get(c + 1) ?? BigInt(tEnd + 1500) * 1000000n;
    for (let k = 0; k < FRACTIONS.length; k++) {
      const f = FRACTIONS[k];
      const rec = ups.find((r) => r.cycle === c && r.usage >= thBytes[k]);
      if (!rec) { problems.push(`cycle ${c} ${f}: no allocation record reached the threshold`); continue; }
      const prev = ups.filter((r) => r.cycle === c && r.t1 < rec.t1).at(-1);
      const evs = events.filter((e) => e.threshold === f && !warmIds.has(e.id) && e.timeMs >= nsToMs(from) - 1 && e.timeMs < nsToMs(to));
      if (evs.length !== 1) problems.push(`cycle ${c} ${f}: ${evs.length} memlens events in the cycle`);
      const ev = evs[0];
      const ko = kobs.find((x) => x.th === thBytes[k] && x.usage >= thBytes[k] && x.t >= from && x.t < to);
      const tAlloc = nsToMs(rec.t1);
      const ko2 = ko ? kobs2.find((x) => x.th === thBytes[k] && x.t >= from && x.t < to && x.t >= ko.t - 1000000n) : undefined;
      rows.push({
        cycle: c, threshold: f, thresholdBytes: thBytes[k],
        allocEndMs: tAlloc, allocStartMs: nsToMs(rec.t0), touchMs: nsToMs(rec.t1 - rec.t0),
        usageAtRecord: rec.usage, usageBeforeMiB: prev?.usage ?? null,
        kobsMs: ko ? nsToMs(ko.t) : null, kobsUsage: ko?.usage ?? null,
        handledMs: ev?.timeMs ?? null, eventUsage: ev?.usageBytes ?? null, eventId: ev?.id ?? null,
        memlensInternalMs: ev ? ev.latencySeconds * 1000 : null,
        logTime: ev ? logById.get(ev.id)?.time ?? null : null,
        // Date.now() is whole ms: the event was handled in [timeMs, timeMs + 1).
        e2eLoMs: ev ? ev.timeMs - tAlloc : null,
        e2eHiMs: ev ? ev.timeMs + 1 - tAlloc : null,
        kernelMs: ko ? nsToMs(ko.t) - tAlloc : null,
        otherObserverAfterKobsMs: ko && ko2 ? nsToMs(ko2.t - ko.t) : null,
        memlensAfterKobsHiMs: ev && ko ? ev.timeMs + 1 - nsToMs(ko.t) : null,
      });
    }
  }
  const scrapes = scrape && existsSync(scrapeFile)
    ? readFileSync(scrapeFile, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')).map(([t, code]) => ({ s: +t, code }))
    : [];
  const result = {
    label, cgroup: cgPath, limitBytes: LIMIT, thresholdsBytes: thBytes, cycles, paceUs, warmupCycles: warm,
    memlensArgs: extra, scrape, startedMs: tStart, endedMs: tEnd, load1AtStart: load0, procsAtStart: procs0,
    load1AtEnd: loadavg()[0], procsAtEnd: readFileSync('/proc/loadavg', 'utf8').split(' ')[3],
    scrapes: scrapes.length ? { n: scrapes.length, non200: scrapes.filter((s) => s.code !== '200').length, medianS: scrapes.map((s) => s.s).sort((a, b) => a - b)[Math.floor(scrapes.length / 2)], maxS: Math.max(...scrapes.map((s) => s.s)) } : null,
    problems, rows,
  };
  writeFileSync(join(outDir, `${label}.json`), JSON.stringify(result, null, 1));
  const hi = rows.map((r) => r.e2eHiMs).filter((x) => x !== null).sort((a, b) => a - b);
  const q = (p) => hi[Math.min(hi.length - 1, Math.ceil(p * hi.length) - 1)];
  console.log(`${label}: ${hi.length} crossings, e2e (upper bound) p50 ${q(0.5)?.toFixed(2)} p99 ${q(0.99)?.toFixed(2)} max ${hi.at(-1)?.toFixed(2)} ms; problems: ${problems.length}`);
}

main().catch(async (err) => {
  console.error(err);
  await cleanup();
  process.exit(1);
});
