// Copies the bundled dashboards and alert rules into the Helm chart, which cannot read files
// outside its own directory: dashboards/*.json -> helm/memlens/files/dashboards/, and
// dashboards/alerts.yaml -> helm/memlens/files/alerts.yaml. The chart's copies are never edited
// by hand; a test (test/unit/helm/sync.test.ts) fails when they differ from dashboards/.
//
//   node scripts/sync-chart.mjs           copy (and remove chart copies whose source is gone)
//   node scripts/sync-chart.mjs --check   exit 1, listing the differences, when a copy is stale
//   --from DIR --to DIR                   other directories (tests)
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { check: { type: 'boolean', default: false }, from: { type: 'string', default: 'dashboards' }, to: { type: 'string', default: 'helm/memlens/files' } },
});

/** name in the chart -> content, from the source directory (empty when it is absent). */
function wanted(from) {
  const out = new Map();
  if (!existsSync(from)) return out;
  for (const f of readdirSync(from).sort()) {
    if (f.endsWith('.json')) out.set(`dashboards/${f}`, readFileSync(join(from, f)));
  }
  if (existsSync(join(from, 'alerts.yaml'))) out.set('alerts.yaml', readFileSync(join(from, 'alerts.yaml')));
  return out;
}

/** What the chart holds now. */
function present(to) {
  const out = new Map();
  const dir = join(to, 'dashboards');
  if (existsSync(dir)) for (const f of readdirSync(dir).sort()) if (f.endsWith('.json')) out.set(`dashboards/${f}`, readFileSync(join(dir, f)));
  if (existsSync(join(to, 'alerts.yaml'))) out.set('alerts.yaml', readFileSync(join(to, 'alerts.yaml')));
  return out;
}

const want = wanted(values.from);
const have = present(values.to);
const diffs = [];
for (const [name, buf] of want) {
  const cur = have.get(name);
  if (cur === undefined) diffs.push(`missing in the chart: ${name}`);
  else if (!cur.equals(buf)) diffs.push(`differs: ${name}`);
}
for (const name of have.keys()) if (!want.has(name)) diffs.push(`in the chart but not in ${values.from}/: ${name}`);

if (want.size === 0) console.error(`sync-chart: ${values.from}/ holds no dashboards (*.json) and no alerts.yaml: nothing to copy`);
if (values.check) {
  if (diffs.length > 0) {
    console.error(`sync-chart: the chart's copies are stale (run node scripts/sync-chart.mjs):\n  ${diffs.join('\n  ')}`);
    process.exit(1);
  }
  console.error(`sync-chart: the chart's ${want.size} file(s) match ${values.from}/`);
  process.exit(0);
}
mkdirSync(join(values.to, 'dashboards'), { recursive: true });
for (const [name, buf] of want) writeFileSync(join(values.to, name), buf);
for (const name of have.keys()) if (!want.has(name)) rmSync(join(values.to, name));
console.error(`sync-chart: ${want.size} file(s) copied into ${values.to}/${diffs.length === 0 ? ' (already in sync)' : `: ${diffs.join('; ')}`}`);
