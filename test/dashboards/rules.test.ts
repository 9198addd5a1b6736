// dashboards/alerts.yaml: `promtool check rules` and `promtool test rules` on dashboards/tests/*.yaml
// (the real promtool from Debian's prometheus package; skips on a laptop without it, fails under
// CI=true), and what promtool cannot check: every alert has its unit tests (firing and silent
// cases), a summary, a description, a severity and a runbook section in the README, and every
// metric it reads exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { skipOrFail } from '../helpers/capability.js';
import { knownNames, metricNamesIn } from './names.js';
import { RULES, loadRules } from './rules.js';

const TESTS_DIR = 'dashboards/tests';

function missingPromtool(): string | undefined {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return r.error === undefined && r.status === 0 ? undefined : 'promtool not installed (Debian package prometheus)';
}

const testFiles = readdirSync(TESTS_DIR).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(TESTS_DIR, f));

test('promtool check rules accepts dashboards/alerts.yaml', { skip: skipOrFail(missingPromtool()) }, () => {
  const r = spawnSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS: \d+ rules found/);
});

test('promtool test rules passes every unit test in dashboards/tests', { skip: skipOrFail(missingPromtool()) }, () => {
  assert.ok(testFiles.length >= 3, 'the unit test files');
  const r = spawnSync('promtool', ['test', 'rules', ...testFiles], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.equal((r.stdout.match(/SUCCESS/g) ?? []).length, testFiles.length, r.stdout);
});

test('promtool test rules fails on a wrong expectation (the tests can fail)', { skip: skipOrFail(missingPromtool()) }, () => {
  // The same near-limit test with the 94.9 % cgroup expected to fire: promtool must say FAILED.
  const file = join(TESTS_DIR, 'near-limit.test.yaml');
  const doc = parse(readFileSync(file, 'utf8')) as { tests: { alert_rule_test: { eval_time: string; exp_alerts: unknown[] }[] }[] };
  const check = doc.tests[0]!.alert_rule_test.find((c) => c.eval_time === '9m')!;
  check.exp_alerts.push({ exp_labels: { severity: 'warning', instance: 'n1:9966', job: 'memlens', cgroup: '/below', measure: 'usage' } });
  const r = spawnSync('promtool', ['test', 'rules', '/dev/stdin'], { encoding: 'utf8', input: JSON.stringify({ ...doc, rule_files: [join(process.cwd(), RULES)] }) });
  assert.notEqual(r.status, 0, r.stdout);
  assert.match(r.stdout + r.stderr, /FAILED/);
});

interface AlertTests { fired: Set<string>; silent: Set<string> }

function alertTests(): AlertTests {
  const fired = new Set<string>();
  const silent = new Set<string>();
  for (const f of testFiles) {
    const doc = parse(readFileSync(f, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
    for (const t of doc.tests) {
      for (const c of t.alert_rule_test ?? []) (c.exp_alerts.length > 0 ? fired : silent).add(c.alertname);
    }
  }
  return { fired, silent };
}

test('every alert has a unit test where it fires and one where it stays silent', () => {
  const { fired, silent } = alertTests();
  const alerts = loadRules().filter((r) => r.alert !== undefined).map((r) => r.alert!);
  assert.ok(alerts.length >= 9, `alerts: ${alerts.join(', ')}`);
  for (const a of alerts) {
    assert.ok(fired.has(a), `${a}: no test where it fires`);
    assert.ok(silent.has(a), `${a}: no test where it stays silent`);
  }
});

test('every alert has severity, summary, description and a runbook section in the README', () => {
  const readme = readFileSync('README.md', 'utf8');
  for (const r of loadRules().filter((x) => x.alert !== undefined)) {
    assert.match(r.labels?.['severity'] ?? '', /^(warning|critical)$/, `${r.alert}: severity`);
    assert.ok((r.annotations?.['summary'] ?? '').length > 10, `${r.alert}: summary`);
    assert.ok((r.annotations?.['description'] ?? '').includes('{{'), `${r.alert}: description with values`);
    const anchor = r.alert!.toLowerCase();
    assert.equal(r.annotations?.['runbook'], `README.md#${anchor}`, `${r.alert}: runbook annotation`);
    assert.ok(readme.includes(`\n### ${r.alert}\n`), `${r.alert}: README has no "### ${r.alert}" runbook section`);
  }
});

test('every metric the rules read exists (catalog, or the listed standard ones); recording rules are defined before use', () => {
  const known = knownNames();
  const recorded = new Set<string>();
  for (const r of loadRules()) {
    const text = [r.expr, ...Object.values(r.annotations ?? {})].join('\n');
    for (const name of metricNamesIn(text)) assert.ok(known.has(name), `${r.alert ?? r.record}: unknown metric ${name}`);
    for (const m of text.matchAll(/memlens:[a-z0-9_:]+/g)) assert.ok(recorded.has(m[0]), `${r.alert ?? r.record}: ${m[0]} used before it is recorded`);
    if (r.record !== undefined) {
      assert.match(r.record, /^memlens:[a-z0-9_]+:[a-z0-9_]+$/, 'level:metric:operations');
      recorded.add(r.record);
    }
  }
  assert.deepEqual(metricNamesIn('rate(memlens_cgroup_memory_pressure_seconds_total{kind="some"}[5m]) > up'), ['memlens_cgroup_memory_pressure_seconds_total', 'up']);
});
