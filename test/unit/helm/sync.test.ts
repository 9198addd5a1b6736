// The chart's copies of the dashboards and alert rules (helm/memlens/files/) are made from
// dashboards/ by scripts/sync-chart.mjs: this fails whenever they differ, and shows the script
// copying, noticing a change, a removal, and an empty or absent dashboards/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { repoRoot } from '../../helpers/helm.js';

const SCRIPT = `${repoRoot}scripts/sync-chart.mjs`;
const run = (args: string[]): { status: number | null; stderr: string } => {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { cwd: repoRoot, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
};

test('the chart\'s files/ are exactly what dashboards/ holds (node scripts/sync-chart.mjs fixes it)', () => {
  const r = run(['--check']);
  assert.equal(r.status, 0, r.stderr);
});

test('sync-chart: copies, notices a changed, a new and a removed file, and says when there is nothing to copy', () => {
  const tmp = mkdtempSync(`${tmpdir()}/memlens-sync-`);
  try {
    const from = `${tmp}/dashboards`;
    const to = `${tmp}/files`;
    const check = (): ReturnType<typeof run> => run(['--check', '--from', from, '--to', to]);
    const sync = (): ReturnType<typeof run> => run(['--from', from, '--to', to]);
    // Absent, then empty: nothing to copy, and said so.
    assert.match(check().stderr, /holds no dashboards .* nothing to copy/);
    assert.equal(check().status, 0);
    mkdirSync(from);
    assert.match(sync().stderr, /nothing to copy/);
    // New files: stale until synced.
    writeFileSync(`${from}/memlens-oom.json`, '{"title":"OOM"}\n');
    writeFileSync(`${from}/alerts.yaml`, 'groups: []\n');
    writeFileSync(`${from}/README.md`, 'not copied\n');
    const stale = check();
    assert.equal(stale.status, 1);
    assert.match(stale.stderr, /missing in the chart: dashboards\/memlens-oom\.json/);
    assert.match(stale.stderr, /missing in the chart: alerts\.yaml/);
    assert.equal(sync().status, 0);
    assert.equal(check().status, 0);
    assert.equal(readFileSync(`${to}/dashboards/memlens-oom.json`, 'utf8'), '{"title":"OOM"}\n');
    assert.equal(existsSync(`${to}/dashboards/README.md`), false);
    // A change in dashboards/.
    writeFileSync(`${from}/alerts.yaml`, 'groups: [{name: x, rules: []}]\n');
    assert.match(check().stderr, /differs: alerts\.yaml/);
    // A hand edit in the chart is stale too.
    sync();
    writeFileSync(`${to}/dashboards/memlens-oom.json`, '{"title":"edited"}\n');
    assert.match(check().stderr, /differs: dashboards\/memlens-oom\.json/);
    // A removal: the chart's copy goes too.
    sync();
    rmSync(`${from}/memlens-oom.json`);
    assert.match(check().stderr, /in the chart but not in .*: dashboards\/memlens-oom\.json/);
    sync();
    assert.equal(existsSync(`${to}/dashboards/memlens-oom.json`), false);
    assert.equal(check().status, 0);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
