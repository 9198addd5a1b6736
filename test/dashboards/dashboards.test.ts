// The Grafana dashboards: generated from TypeScript (dashboards/src) into committed JSON. Asserted:
// the committed JSON is what the generator makes today; it validates against a JSON schema of
// Grafana's dashboard model generated from @grafana/schema's types (and a broken dashboard does
// not); variables datasource/instance/cgroup; every query uses the datasource variable, takes
// rates over $__rate_interval, and reads only catalog metrics and recording rules that
// dashboards/alerts.yaml defines. The queries are run against a live Prometheus in e2e.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { DASHBOARDS, dashboardText } from '../../dashboards/src/index.js';
import { parser } from '@prometheus-io/lezer-promql';
import { dashboardQueries, panelsOf, substitute } from './queries.js';
import { knownNames, metricNamesIn } from './names.js';
import { loadRules } from './rules.js';

const require = createRequire(import.meta.url);
// ajv is CommonJS with a default export class.
const Ajv = (require('ajv') as { default: new (o: object) => { compile(s: object): ((d: unknown) => boolean) & { errors?: unknown } } }).default;

const SCHEMA_FILE = 'dashboards/schema/dashboard.schema.json';
const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as { $comment: string };
const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);

test('the committed dashboards are what dashboards/src generates (npm run dashboards)', () => {
  for (const { file, build } of DASHBOARDS) {
    assert.equal(readFileSync(join('dashboards', file), 'utf8'), dashboardText(build()), `dashboards/${file} differs from the generator: run npm run dashboards`);
  }
  const committed = readdirSync('dashboards').filter((f) => f.endsWith('.json')).sort();
  assert.deepEqual(committed, DASHBOARDS.map((d) => d.file).sort(), 'a JSON file in dashboards/ that no generator makes');
});

test('the schema was generated from the installed @grafana/schema', () => {
  const version = (JSON.parse(readFileSync('node_modules/@grafana/schema/package.json', 'utf8')) as { version: string }).version;
  assert.ok(schema.$comment.includes(`@grafana/schema ${version} `), `${SCHEMA_FILE} is from another version than ${version}: run npm run dashboard-schema`);
});

test('every dashboard validates against the schema from @grafana/schema; broken ones do not', () => {
  for (const { file } of DASHBOARDS) {
    const d = JSON.parse(readFileSync(join('dashboards', file), 'utf8')) as Record<string, unknown>;
    assert.ok(validate(d), `${file}: ${JSON.stringify(validate.errors, null, 1)}`);
    // The schema has teeth: a wrong type, a missing required field.
    const wrongType = structuredClone(d);
    (wrongType['panels'] as { gridPos: { h: unknown } }[])[1]!.gridPos.h = 'nine';
    assert.equal(validate(wrongType), false, `${file}: gridPos.h as a string passed`);
    const noVersion = structuredClone(d);
    delete noVersion['schemaVersion'];
    assert.equal(validate(noVersion), false, `${file}: a dashboard without schemaVersion passed`);
    const badVar = structuredClone(d);
    ((badVar['templating'] as { list: { type: string }[] }).list[0]!).type = 'nonsense';
    assert.equal(validate(badVar), false, `${file}: a variable of type "nonsense" passed`);
  }
});

test('the dashboards the issue names, with their variables and unique uids', () => {
  const built = DASHBOARDS.map((d) => d.build());
  assert.deepEqual(built.map((d) => d.title), ['memlens / Cgroups', 'memlens / Processes', 'memlens / OOM kills and early warnings']);
  assert.equal(new Set(built.map((d) => d.uid)).size, built.length);
  for (const d of built) {
    const vars = (d.templating?.list ?? []).map((v) => v.name);
    for (const v of ['datasource', 'instance', 'cgroup']) assert.ok(vars.includes(v), `${d.title}: variable ${v}`);
    assert.ok(panelsOf(d).filter((p) => p.type !== 'row').length >= 6, `${d.title}: panels`);
    assert.ok((d.annotations?.list ?? []).some((a) => a.name === 'OOM kills'), `${d.title}: OOM kill annotations`);
  }
  const cg = built[0]!;
  assert.ok((cg.templating?.list ?? []).some((v) => v.name === 'pod'), 'Cgroups: pod variable');
});

test('every query: the datasource variable, rates over $__rate_interval, known metrics and recording rules', () => {
  const known = knownNames();
  const recorded = new Set(loadRules().flatMap((r) => (r.record === undefined ? [] : [r.record])));
  for (const d of DASHBOARDS.map((x) => x.build())) {
    for (const p of panelsOf(d)) {
      for (const t of (p.targets ?? []) as { datasource?: { uid?: string } }[]) assert.equal(t.datasource?.uid, '${datasource}', `${d.title} / ${p.title}: datasource`);
    }
    const queries = dashboardQueries(d);
    assert.ok(queries.length >= 10, `${d.title}: queries`);
    for (const { where, expr } of queries) {
      const ctx = `${d.title} / ${where}: ${expr}`;
      for (const m of expr.matchAll(/\b(rate|irate|increase|delta|deriv|changes|resets|[a-z]+_over_time)\([^()]*\[([^\]]+)\]/g)) {
        assert.equal(m[2], '$__rate_interval', `${ctx}: ${m[1]} over ${m[2]}`);
      }
      const names = metricNamesIn(expr);
      for (const n of names) assert.ok(known.has(n), `${ctx}: unknown metric ${n}`);
      const rules = [...expr.matchAll(/memlens:[a-z0-9_:]+/g)].map((m) => m[0]);
      for (const r of rules) assert.ok(recorded.has(r), `${ctx}: recording rule ${r} is not in dashboards/alerts.yaml`);
      assert.ok(names.length + rules.length > 0, `${ctx}: reads no metric`);
    }
  }
});

/** Syntax errors lezer-promql (Prometheus's own PromQL grammar for its UI) finds in expr. */
function promqlErrors(expr: string): string[] {
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter: (n) => {
      if (n.type.isError) errors.push(`syntax error at ${n.from}: ${JSON.stringify(expr.slice(Math.max(0, n.from - 20), n.to + 20))}`);
    },
  });
  return errors;
}

test('every dashboard query and rule expression is valid PromQL (lezer-promql); broken PromQL is caught', () => {
  assert.notDeepEqual(promqlErrors('rate(memlens_cgroup_memory_usage_bytes[5m]'), []);
  assert.notDeepEqual(promqlErrors('sum by (cgroup (memlens_cgroup_memory_usage_bytes)'), []);
  for (const d of DASHBOARDS.map((x) => x.build())) {
    for (const { where, expr } of dashboardQueries(d)) {
      const concrete = substitute(expr, { rateInterval: '1m', instance: '.*' });
      assert.deepEqual(promqlErrors(concrete), [], `${d.title} / ${where}: ${concrete}`);
    }
  }
  for (const r of loadRules()) assert.deepEqual(promqlErrors(r.expr), [], `${r.alert ?? r.record}: ${r.expr}`);
});
