// Golden exposition: the real wiring (loadConfig -> discoverHierarchy -> buildCollectors -> Runner ->
// PrometheusSink) over the fixture trees, compared with test/golden/<scenario>.prom.
// UPDATE_GOLDEN=1 rewrites the files; review the diff. Volatile content is normalised first:
// prom-client's default process_/nodejs_ families are dropped, and the values of time-dependent
// series (collector durations, time spent reading smaps_rollup) are written as 0.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as c from '../../src/model/catalog.js';
import { loadConfig } from '../../src/config/load.js';
import { HostFs } from '../../src/host/hostFs.js';
import { discoverHierarchy } from '../../src/cgroupfs/hierarchy.js';
import { buildCollectors } from '../../src/collectors/registry.js';
import { Runner } from '../../src/collectors/runner.js';
import { PrometheusSink } from '../../src/sinks/prometheus.js';
import { inCI } from '../helpers/capability.js';
import { memoryLogger, repoRoot, scratchTree, treeRoot } from './collectors/trees.js';

const UPDATE = process.env['UPDATE_GOLDEN'] === '1';
const VOLATILE_VALUES = new Set(['memlens_collector_duration_seconds', 'memlens_process_smaps_read_seconds_total']);
const goldenPath = (name: string): string => `${repoRoot}test/golden/${name}.prom`;

/** Drops prom-client's default metrics and zeroes the values of time-dependent series. */
export function normalise(exposition: string): string {
  const out: string[] = [];
  let family = '';
  for (const line of exposition.split('\n')) {
    const head = /^# (?:HELP|TYPE) (\S+)/.exec(line);
    if (head?.[1] !== undefined) family = head[1];
    else if (line !== '' && !line.startsWith('#')) family = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0] ?? family;
    if (family.startsWith('process_') || family.startsWith('nodejs_')) continue;
    if (line === '') {
      if (out.length > 0 && out[out.length - 1] !== '') out.push('');
      continue;
    }
    out.push(!line.startsWith('#') && VOLATILE_VALUES.has(family) ? line.replace(/ \S+$/, ' 0') : line);
  }
  while (out[out.length - 1] === '') out.pop();
  return `${out.join('\n')}\n`;
}

async function exposition(root: string, flags: readonly string[] = []): Promise<{ text: string; log: Record<string, unknown>[] }> {
  const parsed = loadConfig(['--path.procfs', `${root}/proc`, '--path.sysfs', `${root}/sys`, ...flags], {});
  if (parsed.kind !== 'run') throw new Error(`loadConfig gave ${parsed.kind}`);
  const cfg = parsed.config;
  const host = new HostFs(cfg.procRoot, cfg.sysRoot);
  const { log, lines } = memoryLogger();
  const runner = new Runner(buildCollectors({ cfg, hierarchy: discoverHierarchy(host), version: 'golden' }), host, { timeoutMs: cfg.collectTimeoutMs, minIntervalMs: 0, seriesBudget: 200_000 }, log);
  const snap = await runner.collect();
  const text = await new PrometheusSink(c.catalog).render('prometheus', snap, snap.samples);
  return { text: normalise(text), log: lines };
}

function compare(name: string, actual: string): void {
  const path = goldenPath(name);
  if (UPDATE) {
    writeFileSync(path, actual);
    return;
  }
  let expected: string;
  try {
    expected = readFileSync(path, 'utf8');
  } catch {
    assert.fail(`${path} is missing: run UPDATE_GOLDEN=1 node scripts/run-tests.mjs golden and review it`);
  }
  assert.equal(actual, expected, `exposition differs from ${path} (UPDATE_GOLDEN=1 rewrites it)`);
}

const value = (text: string, series: string): string | undefined =>
  text.split('\n').find((l) => l.startsWith(`${series} `))?.slice(series.length + 1);

test('golden: v1 tree (hybrid hierarchy, Debian 12)', async () => {
  const { text } = await exposition(treeRoot('v1'));
  compare('v1', text);
  // A few anchors, so that a bad UPDATE_GOLDEN run cannot silently bless wrong numbers.
  assert.equal(value(text, 'memlens_cgroup_memory_usage_bytes{cgroup="/workloads/job-7f3a/oomdemo"}'), '4677632');
  assert.equal(value(text, 'memlens_cgroup_memory_effective_limit_bytes{cgroup="/workloads/job-7f3a"}'), '25276514304');
  assert.equal(value(text, 'memlens_cgroup_memory_events_total{cgroup="/workloads/job-7f3a/oomdemo",event="max"}'), '2112');
  assert.equal(value(text, 'memlens_process_resident_bytes{pid="8467",comm="cat",cgroup="/workloads/job-7f3a"}'), '1744896');
  for (const col of ['process', 'cgroup', 'host']) assert.equal(value(text, `memlens_collector_success{collector="${col}"}`), '1');
});

test('golden: v2 tree (Ubuntu 24.04)', async () => {
  const { text } = await exposition(treeRoot('v2'));
  compare('v2', text);
  assert.equal(value(text, 'memlens_cgroup_memory_events_total{cgroup="/workloads/job-42c9/oomdemo",event="oom_kill"}'), '1');
  assert.equal(value(text, 'memlens_cgroup_memory_pressure_seconds_total{cgroup="/workloads/job-42c9/oomdemo",kind="some"}'), '0.000318');
  assert.equal(value(text, 'memlens_process_pss_bytes{pid="483",comm="cp",cgroup="/workloads/job-42c9"}'), String(907 * 1024));
  for (const col of ['process', 'cgroup', 'host']) assert.equal(value(text, `memlens_collector_success{collector="${col}"}`), '1');
});

test('golden: v1 tree without /proc/meminfo: the host collector fails alone, everything else is there', async () => {
  const t = scratchTree('v1');
  try {
    rmSync(`${t.root}/proc/meminfo`);
    const { text, log } = await exposition(t.root);
    compare('v1-host-failing', text);
    assert.equal(value(text, 'memlens_collector_success{collector="host"}'), '0');
    assert.equal(value(text, 'memlens_collector_success{collector="cgroup"}'), '1');
    assert.equal(value(text, 'memlens_collector_success{collector="process"}'), '1');
    assert.equal(value(text, 'memlens_cgroup_memory_usage_bytes{cgroup="/workloads/job-7f3a/oomdemo"}'), '4677632');
    // Without MemTotal the unlimited parent has no effective limit at all (not a made-up one).
    assert.equal(value(text, 'memlens_cgroup_memory_effective_limit_bytes{cgroup="/workloads/job-7f3a"}'), undefined);
    const errors = log.filter((l) => l['level'] === 50);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.['collector'], 'host');
  } finally {
    t.dispose();
  }
});

test('golden: a failed collector\'s label-less series are absent, not 0', async () => {
  const t = scratchTree('v1');
  try {
    rmSync(`${t.root}/proc/meminfo`);
    const { text } = await exposition(t.root);
    for (const name of ['memlens_host_memory_total_bytes', 'memlens_host_memory_available_bytes', 'memlens_host_memory_swap_total_bytes', 'memlens_host_memory_swap_free_bytes', 'memlens_host_oom_kills_total']) {
      assert.equal(value(text, name), undefined, name);
    }
  } finally {
    t.dispose();
  }
});

function promtoolMissing(): string | undefined {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.error === undefined && r.status === 0 ? undefined : 'promtool not installed (apt-get install prometheus)';
}

for (const name of ['v1', 'v2', 'v1-host-failing']) {
  test(`golden: promtool check metrics accepts ${name}.prom`, (t: TestContext) => {
    const missing = promtoolMissing();
    if (missing !== undefined) {
      if (inCI) assert.fail(`CI=true but ${missing}`);
      t.skip(missing);
      return;
    }
    const r = spawnSync('promtool', ['check', 'metrics'], { input: readFileSync(goldenPath(name)), encoding: 'utf8' });
    assert.equal(r.status, 0, `promtool check metrics ${name}.prom:\n${r.stdout}${r.stderr}`);
  });
}
