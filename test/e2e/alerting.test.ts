// End to end: memlens (the built code, started as users start it), Debian's Prometheus and
// Alertmanager, the project's own dashboards/alerts.yaml (every `for:` shortened in a temp copy),
// an Alertmanager webhook served here, and real v1 memory cgroups with real processes:
// - a cgroup filled by a process to 96 % of its limit: MemlensCgroupNearLimit at the webhook;
// - a cgroup filled to 90 %: no alert, pending or firing, while the first one fires;
// - a real OOM kill: MemlensOOMKill at the webhook, naming the victim's comm and cgroup;
// - a second memlens started after the kill (as a restarted memlens is) reads the kill back from
//   the kernel ring and serves it, and MemlensOOMKill stays silent for it;
// - then every query of every dashboard (panels, annotations, variables), run against that
//   Prometheus, parses and returns at least one series, except those listed in EXCEPTIONS.
// Needs root, a writable cgroup v1 memory controller, /dev/kmsg, prometheus and
// prometheus-alertmanager (skips on a laptop without them; fails under CI=true).
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { missingCgroupV1, missingKmsg, skipOrFail } from '../helpers/capability.js';
import { cleanupSteps } from '../helpers/cleanup.js';
import { freePort } from '../helpers/exposition.js';
import { waitFor } from '../helpers/wait.js';
import { makeCgroup, ownCgroup, removeStale, removeTree, writeCg, type TestCgroup } from '../kernel/helpers/cgroup.js';
import { DASHBOARDS } from '../../dashboards/src/index.js';
import { dashboardQueries, substitute } from '../dashboards/queries.js';

const MiB = 1024 * 1024;
const FILL_LIMIT = 128 * MiB;
const OOM_LIMIT = 64 * MiB;
/** Every `for:` of alerts.yaml becomes this in the test's copy. */
const SHORT_FOR = '3s';
const TIMEOUT_MS = 90_000;
const SCRAPE_S = 3;

function missingBinary(bin: string, pkg: string): string | undefined {
  const r = spawnSync(bin, ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0 ? undefined : `${bin} not installed (Debian package ${pkg})`;
}
const skip = skipOrFail(missingCgroupV1() ?? missingKmsg() ?? missingBinary('prometheus', 'prometheus') ?? missingBinary('prometheus-alertmanager', 'prometheus-alertmanager'));

/**
 * Dashboard queries that return no series on this machine, and why. Keyed by `dashboard / where`
 * (plus ` / expr prefix` where one panel has several queries).
 */
const EXCEPTIONS: ReadonlyMap<string, string> = new Map([
  ['memlens / Cgroups / Memory pressure (PSI) / rate(memlens_cgroup_memory_pressure_seconds_total', 'per-cgroup PSI (memory.pressure) is cgroup v2 only; this host\'s memory controller is v1'],
  ['memlens / Cgroups / variable: pod', 'no cgroup path here carries a Kubernetes pod UID'],
  ['memlens / Cgroups / Throttled at memory.high', 'memory.high and its `high` events are cgroup v2 only; this host\'s memory controller is v1 (test/v2/thrash.test.ts shows them in the v2 VM)'],
]);

/** Paused node processes that join a cgroup and fill it; see fill(). */
const FILLER = String.raw`
const fs = require('node:fs');
const [procs, usageFile, limit, target, comm] = process.argv.slice(1);
fs.writeFileSync('/proc/self/comm', comm);
fs.writeFileSync(procs, String(process.pid));
const usage = () => Number(fs.readFileSync(usageFile, 'utf8'));
const goal = Number(limit) * Number(target);
const keep = [];
// 256 KiB at a time, every page written, until the cgroup's usage reaches the goal (or the
// kernel kills us: target > 1).
while (usage() < goal) keep.push(Buffer.alloc(256 * 1024, 0x5a));
process.stdout.write('ready ' + usage() + '\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;

interface Proc {
  child: ChildProcess;
  out: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(cmd: string, args: string[], opts: { stdin?: boolean } = {}): Proc {
  const child = spawn(cmd, args, { stdio: [opts.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-20_000)));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-20_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, out: () => out, exited };
}

async function stop(p: Proc | undefined): Promise<void> {
  if (p === undefined || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), 5000);
  await p.exited;
  clearTimeout(t);
}

interface WebhookAlert {
  /** performance.now() when the webhook received it. */
  at?: number;
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new Error(`${url}: ${res.status} ${body.slice(0, 300)}`);
  }
}

interface PromResult { status: string; error?: string; data?: { resultType: string; result: { metric: Record<string, string>; value?: [number, string] }[] } }

async function promQuery(base: string, expr: string): Promise<PromResult> {
  return (await getJson(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`)) as PromResult;
}

interface PromAlert { labels: Record<string, string>; state: string }
async function promAlerts(base: string): Promise<PromAlert[]> {
  const r = (await getJson(`${base}/api/v1/alerts`)) as { data: { alerts: PromAlert[] } };
  return r.data.alerts;
}

const tmp = mkdtempSync(join(tmpdir(), 'memlens-e2e-'));
/** The test cgroups are named `${prefix}<kind>`, directly under the test's own cgroup. */
let prefix = '';
const cgroups: Record<'full' | 'ninety' | 'oom', TestCgroup | undefined> = { full: undefined, ninety: undefined, oom: undefined };
const procs: Proc[] = [];
let webhook: Server | undefined;
const received: WebhookAlert[] = [];
const marks: [string, number][] = [];
let t0 = 0;
function mark(what: string): void {
  marks.push([what, (performance.now() - t0) / 1000]);
}

before(async () => {
  if (skip !== false) return;
  const own = ownCgroup();
  await removeStale(own);
  prefix = `memlens-test-${process.pid}-i11-`;
  for (const k of ['full', 'ninety', 'oom'] as const) {
    cgroups[k] = makeCgroup(own, prefix + k);
    writeCg(cgroups[k], 'memory.limit_in_bytes', String(k === 'oom' ? OOM_LIMIT : FILL_LIMIT));
  }
});

after(async () => {
  const cleanupStart = performance.now();
  const { errors, attempt } = cleanupSteps();
  for (const p of procs.reverse()) await attempt(() => stop(p));
  await attempt(() => new Promise<void>((resolve) => (webhook === undefined ? resolve() : webhook.close(() => resolve()))));
  for (const cg of Object.values(cgroups)) if (cg !== undefined) await attempt(() => removeTree(cg.dir));
  await attempt(() => rmSync(tmp, { recursive: true, force: true }));
  process.stderr.write(`# e2e cleanup took ${((performance.now() - cleanupStart) / 1000).toFixed(1)} s\n`);
  if (errors.length > 0) throw new AggregateError(errors, 'e2e cleanup failed');
});

/** A node process in the cgroup that fills it to `target` of its limit; resolves on "ready". */
async function fill(cg: TestCgroup, limit: number, target: number, comm: string): Promise<Proc> {
  const p = start(process.execPath, ['-e', FILLER, join(cg.dir, 'cgroup.procs'), join(cg.dir, 'memory.usage_in_bytes'), String(limit), String(target), comm], { stdin: true });
  procs.push(p);
  await waitFor(`${comm} ready (${cg.path})`, () => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error(`${comm} exited: ${p.out()}`);
    return /ready \d+/.test(p.out()) ? true : undefined;
  }, TIMEOUT_MS);
  return p;
}

function regexEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('alerts reach Alertmanager from real cgroups and a real OOM kill; dashboards query a live Prometheus', { skip, timeout: 300_000 }, async (t: TestContext) => {
  try {
    await scenario();
  } finally {
    t.diagnostic(`timings (s since start): ${marks.map(([w, s]) => `${w} ${s.toFixed(1)}`).join('; ')}`);
  }
});

async function scenario(): Promise<void> {
  const full = cgroups.full!;
  const ninety = cgroups.ninety!;
  const oomCg = cgroups.oom!;
  t0 = performance.now();

  // The webhook Alertmanager posts to.
  webhook = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      for (const a of (JSON.parse(body) as { alerts: WebhookAlert[] }).alerts) received.push({ ...a, at: performance.now() });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => webhook!.listen(0, '127.0.0.1', resolve));
  const hookPort = (webhook.address() as { port: number }).port;

  const [mlPort, ml2Port, promPort, amPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const ml1 = `127.0.0.1:${mlPort}`;
  const ml2 = `127.0.0.1:${ml2Port}`;
  const prom = `http://127.0.0.1:${promPort}`;

  // The project's rules with every `for:` shortened.
  const rules = readFileSync('dashboards/alerts.yaml', 'utf8');
  const shortened = rules.replace(/^(\s+for:\s*)\S+$/gm, `$1${SHORT_FOR}`);
  assert.ok((shortened.match(new RegExp(`for: ${SHORT_FOR}$`, 'gm')) ?? []).length >= 7, 'for: fields rewritten');
  writeFileSync(join(tmp, 'alerts.yaml'), shortened);
  writeFileSync(join(tmp, 'prometheus.yml'), [
    // A memlens scrape takes 0.3-0.7 s here once the cgroup walk stops at our cgroups' depth (with
    // other tests' thousand cgroups below, it took 2.5-10 s on this shared 2-core host): a
    // failed scrape makes every series stale for a moment (pending alerts restart their `for`).
    `global: { scrape_interval: ${SCRAPE_S}s, scrape_timeout: ${SCRAPE_S}s, evaluation_interval: 1s }`,
    `rule_files: ['${join(tmp, 'alerts.yaml')}']`,
    `alerting: { alertmanagers: [ { static_configs: [ { targets: ['127.0.0.1:${amPort}'] } ] } ] }`,
    `scrape_configs: [ { job_name: memlens, static_configs: [ { targets: ['${ml1}', '${ml2}'] } ] } ]`,
  ].join('\n'));
  writeFileSync(join(tmp, 'alertmanager.yml'), [
    "route: { receiver: test, group_by: ['alertname', 'instance', 'cgroup', 'measure', 'comm'], group_wait: 1s, group_interval: 1s, repeat_interval: 1h }",
    `receivers: [ { name: test, webhook_configs: [ { url: 'http://127.0.0.1:${hookPort}/', send_resolved: false } ] } ]`,
  ].join('\n'));

  const memlensArgs = (listen: string, dir: string): string[] => [
    '--max-semi-space-size=1', '--heap-growing-percent=20', '--no-memory-reducer', 'bin/memlens.js', '--web.listen-address', listen, '--snapshot.dir', join(tmp, dir),
    // Only our cgroups exported; the walk stops at their depth (it reads every cgroup down to
    // --cgroup.max-depth, and other tests on this machine make a thousand below theirs).
    '--cgroup.include', `^${regexEscape(full.path.slice(0, full.path.lastIndexOf('/') + 1) + prefix)}`,
    '--cgroup.max-depth', String(full.path.split('/').filter((x) => x !== '').length),
    '--process.smaps-scope', 'all', '--log.level', 'warn',
  ];
  const memlens1 = start(process.execPath, memlensArgs(ml1, 'snapshots1'));
  procs.push(memlens1);
  const am = start('prometheus-alertmanager', [`--config.file=${join(tmp, 'alertmanager.yml')}`, `--storage.path=${join(tmp, 'am')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address=']);
  procs.push(am);
  const prometheus = start('prometheus', [`--config.file=${join(tmp, 'prometheus.yml')}`, `--storage.tsdb.path=${join(tmp, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--rules.alert.resend-delay=1s']);
  procs.push(prometheus);

  const ready = async (url: string, p: Proc): Promise<true | undefined> => {
    if (p.child.exitCode !== null) throw new Error(`${url}: process exited: ${p.out()}`);
    try {
      return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok ? true : undefined;
    } catch {
      return undefined;
    }
  };
  await waitFor('memlens /healthz', () => ready(`http://${ml1}/healthz`, memlens1), TIMEOUT_MS);
  await waitFor('alertmanager ready', () => ready(`http://127.0.0.1:${amPort}/-/ready`, am), TIMEOUT_MS);
  await waitFor('prometheus ready', () => ready(`${prom}/-/ready`, prometheus), TIMEOUT_MS);
  mark('memlens, Prometheus and Alertmanager ready');
  await waitFor('first scrape of memlens', async () => {
    const r = await promQuery(prom, `up{instance="${ml1}"} == 1`);
    return (r.data?.result.length ?? 0) > 0 ? true : undefined;
  }, TIMEOUT_MS);
  mark('first scrape of memlens');

  // Fill two cgroups: 96 % and 90 % of 128 MiB.
  await Promise.all([fill(full, FILL_LIMIT, 0.96, 'mlfill-96'), fill(ninety, FILL_LIMIT, 0.90, 'mlfill-90')]);
  const filledAt = performance.now();
  mark('cgroups filled to 96 % and 90 %');
  const ratio = async (cg: TestCgroup): Promise<number | undefined> => {
    const r = await promQuery(prom, `memlens:cgroup_memory_usage:ratio{instance="${ml1}", cgroup="${cg.path}"}`);
    const v = r.data?.result[0]?.value?.[1];
    return v === undefined ? undefined : Number(v);
  };
  const fullRatio = await waitFor('recorded ratio of the 96 % cgroup', async () => {
    const v = await ratio(full);
    return v !== undefined && v >= 0.95 ? v : undefined;
  }, TIMEOUT_MS);
  assert.ok(fullRatio < 0.97, `96 % cgroup at ${fullRatio}`);

  // A real OOM kill.
  const oomComm = `mloom-${process.pid % 100_000}`;
  const killer = start(process.execPath, ['-e', FILLER, join(oomCg.dir, 'cgroup.procs'), join(oomCg.dir, 'memory.usage_in_bytes'), String(OOM_LIMIT), '2', oomComm], { stdin: true });
  procs.push(killer);
  let deathTimer: NodeJS.Timeout | undefined;
  const death = await Promise.race([killer.exited, new Promise<undefined>((resolve) => (deathTimer = setTimeout(() => resolve(undefined), TIMEOUT_MS)))]);
  clearTimeout(deathTimer);
  assert.equal(death?.signal, 'SIGKILL', `the allocator was not OOM-killed: ${killer.out()}`);
  const killedAt = performance.now();
  mark('allocator OOM-killed');

  const webhookAlert = (alertname: string, labels: Record<string, string>): Promise<WebhookAlert> => waitFor(`${alertname} ${JSON.stringify(labels)} at the webhook`, () =>
    received.find((a) => a.status === 'firing' && a.labels['alertname'] === alertname && Object.entries(labels).every(([k, v]) => a.labels[k] === v)), TIMEOUT_MS);

  const oomAlert = await webhookAlert('MemlensOOMKill', { instance: ml1, cgroup: oomCg.path, comm: oomComm });
  mark('MemlensOOMKill at the webhook');
  const oomLatencyS = (performance.now() - killedAt) / 1000;
  assert.equal(oomAlert.labels['severity'], 'critical');
  assert.equal(oomAlert.labels['constraint'], 'memcg');
  assert.equal(oomAlert.annotations['summary'], `OOM kill: ${oomComm} in cgroup ${oomCg.path}`);
  assert.match(oomAlert.annotations['description'] ?? '', new RegExp(`killed ${oomComm} in cgroup ${regexEscape(oomCg.path)} on ${regexEscape(ml1)} .*Kills of ${oomComm} there so far: 1\\.`));
  assert.equal(oomAlert.annotations['kills_api'], `http://${ml1}/api/v1/oom-kills?cgroup=${encodeURIComponent(oomCg.path)}`);
  // The kills API link works and holds the kill.
  const kills = (await getJson(oomAlert.annotations['kills_api']!)) as { kills?: { victim: { comm: string } }[] } | { victim: { comm: string } }[];
  const list = Array.isArray(kills) ? kills : kills.kills ?? [];
  assert.ok(list.some((k) => k.victim.comm === oomComm), `kills API: ${JSON.stringify(kills).slice(0, 300)}`);

  const nearLimit = await webhookAlert('MemlensCgroupNearLimit', { instance: ml1, cgroup: full.path, measure: 'usage' });
  mark('MemlensCgroupNearLimit at the webhook');
  marks.push([`96 % reached to MemlensCgroupNearLimit at the webhook (for: ${SHORT_FOR})`, ((nearLimit.at ?? 0) - filledAt) / 1000]);
  assert.equal(nearLimit.labels['severity'], 'warning');
  assert.match(nearLimit.annotations['summary'] ?? '', new RegExp(`^cgroup ${regexEscape(full.path)}: usage at 9[5-7](\\.\\d+)?% of its memory limit$`));
  assert.match(nearLimit.annotations['description'] ?? '', /effective limit 128MiB\)\.$/);

  // The 90 % cgroup: no near-limit alert at the webhook, none pending or firing in Prometheus, and
  // its ratio is where it should be. (MemlensCgroupLimitIn30m may well fire for it: it went from 0
  // to 90 % in seconds, which predict_linear rightly extrapolates past the limit.)
  const ninetyRatio = await ratio(ninety);
  assert.ok(ninetyRatio !== undefined && ninetyRatio >= 0.89 && ninetyRatio < 0.95, `90 % cgroup at ${ninetyRatio}`);
  const quietUntil = Date.now() + 5000;
  while (Date.now() < quietUntil) {
    const active = (await promAlerts(prom)).filter((a) => a.labels['cgroup'] === ninety.path && a.labels['alertname'] !== 'MemlensCgroupLimitIn30m');
    assert.deepEqual(active, [], 'an alert for the 90 % cgroup');
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.deepEqual(received.filter((a) => a.labels['cgroup'] === ninety.path && a.labels['alertname'] !== 'MemlensCgroupLimitIn30m'), [], 'a webhook alert for the 90 % cgroup');
  mark('90 % cgroup checked silent for 5 s');

  // A restarted memlens: a new process reads the kill back from the kernel ring and serves it.
  const memlens2 = start(process.execPath, memlensArgs(ml2, 'snapshots2'));
  procs.push(memlens2);
  await waitFor('the second memlens serves the old kill to Prometheus', async () => {
    const r = await promQuery(prom, `memlens_oom_kills_total{instance="${ml2}", cgroup="${oomCg.path}", comm="${oomComm}"} == 1`);
    return (r.data?.result.length ?? 0) > 0 ? true : undefined;
  }, TIMEOUT_MS);
  mark('restarted memlens serves the old kill');
  // Several evaluations (1 s apart) with the read-back kill in Prometheus: never active.
  const restartQuietUntil = Date.now() + 5000;
  while (Date.now() < restartQuietUntil) {
    // (Other tests on this machine kill processes too: the second memlens sees those live and
    // rightly alerts on them. Only the kill it read back must stay silent.)
    const active = (await promAlerts(prom)).filter((a) => a.labels['alertname'] === 'MemlensOOMKill' && a.labels['instance'] === ml2 && a.labels['cgroup'] === oomCg.path);
    assert.deepEqual(active, [], 'MemlensOOMKill for the restarted memlens');
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.deepEqual(received.filter((a) => a.labels['alertname'] === 'MemlensOOMKill' && a.labels['instance'] === ml2 && a.labels['cgroup'] === oomCg.path), []);
  // The first memlens's alert is still active: the expression did not go silent for everyone.
  assert.ok((await promAlerts(prom)).some((a) => a.labels['alertname'] === 'MemlensOOMKill' && a.labels['instance'] === ml1 && a.state === 'firing'));
  mark('restart checked silent for 5 s');

  // Every dashboard query against this Prometheus.
  const failures: string[] = [];
  let ran = 0;
  const usedExceptions = new Set<string>();
  for (const { build } of DASHBOARDS) {
    for (const dq of dashboardQueries(build())) {
      // $instance as Grafana writes a selected value into a regex matcher: regex-escaped, and the
      // backslashes doubled for the PromQL string.
      const expr = substitute(dq.expr, { rateInterval: `${4 * SCRAPE_S}s`, instance: regexEscape(ml1).replaceAll('\\', '\\\\') });
      const key = `${dq.dashboard} / ${dq.where}`;
      const exception = [...EXCEPTIONS.keys()].find((k) => k === key || (k.startsWith(`${key} / `) && dq.expr.startsWith(k.slice(key.length + 3))));
      // A scrape that times out on this busy host leaves every series stale for a moment: a
      // query with no series is retried for up to 10 s before it counts as empty.
      const retryUntil = Date.now() + 10_000;
      let r = await promQuery(prom, expr);
      while (exception === undefined && r.status === 'success' && r.data!.result.length === 0 && Date.now() < retryUntil) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        r = await promQuery(prom, expr);
      }
      ran++;
      if (r.status !== 'success') {
        failures.push(`${key}: ${r.error ?? r.status}: ${expr}`);
        continue;
      }
      const series = r.data!.result.filter((s) => dq.label === undefined || s.metric[dq.label] !== undefined);
      if (exception !== undefined) {
        usedExceptions.add(exception);
        if (series.length > 0) failures.push(`${key}: listed as an exception (${EXCEPTIONS.get(exception)}) but returns ${series.length} series: remove it from EXCEPTIONS`);
      } else if (series.length === 0) {
        failures.push(`${key}: no series (${r.data!.result.length} before the label filter): ${expr}`);
      }
    }
  }
  if (failures.length > 0) {
    for (const e of ['up', 'scrape_duration_seconds', 'memlens_collector_success', 'memlens_collector_duration_seconds', 'count by (instance) (memlens_cgroup_memory_usage_bytes)']) {
      const r = await promQuery(prom, e);
      failures.push(`(state) ${e}: ${JSON.stringify(r.data?.result.map((x) => [x.metric['instance'], x.metric['collector'], x.value?.[1]]))}`);
    }
    failures.push(`(memlens 1 output) ${memlens1.out().slice(-2000)}`);
  }
  assert.deepEqual(failures, []);
  assert.deepEqual([...EXCEPTIONS.keys()].filter((k) => !usedExceptions.has(k)), [], 'exceptions that match no query');
  mark(`${ran} dashboard queries run`);
  marks.push(['OOM kill to webhook', oomLatencyS]);
}
