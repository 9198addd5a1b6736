// Every query a dashboard runs, with where it comes from: panel targets, annotations, variables.
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';

export interface DashboardQuery {
  dashboard: string;
  /** Panel title, `annotation: NAME` or `variable: NAME`. */
  where: string;
  expr: string;
  /** label_values(expr, label): the label the variable lists. */
  label?: string;
}

interface Target { expr?: unknown; datasource?: { uid?: unknown } }
interface AnyPanel { title?: string; type?: string; targets?: Target[]; panels?: AnyPanel[] }

export function panelsOf(d: Dashboard): AnyPanel[] {
  const out: AnyPanel[] = [];
  for (const p of (d.panels ?? []) as AnyPanel[]) {
    out.push(p);
    for (const inner of p.panels ?? []) out.push(inner);
  }
  return out;
}

export function dashboardQueries(d: Dashboard): DashboardQuery[] {
  const title = d.title ?? '?';
  const out: DashboardQuery[] = [];
  for (const p of panelsOf(d)) {
    for (const t of p.targets ?? []) {
      if (typeof t.expr === 'string') out.push({ dashboard: title, where: p.title ?? '?', expr: t.expr });
    }
  }
  for (const a of d.annotations?.list ?? []) {
    const expr = (a as { expr?: unknown }).expr;
    if (typeof expr === 'string') out.push({ dashboard: title, where: `annotation: ${a.name}`, expr });
  }
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query' || typeof v.query !== 'string') continue;
    const m = /^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(v.query);
    if (m === null) throw new Error(`${title}: variable ${v.name}: not label_values(expr, label): ${v.query}`);
    out.push({ dashboard: title, where: `variable: ${v.name}`, expr: m[1]!, label: m[2]! });
  }
  return out;
}

/** The expression with the dashboard's variables replaced the way Grafana does for "All" and a range. */
export function substitute(expr: string, vars: { rateInterval: string; instance: string }): string {
  return expr
    .replaceAll('$__rate_interval', vars.rateInterval)
    .replaceAll('$instance', vars.instance)
    .replaceAll('$cgroup', '.*')
    .replaceAll('$pod', '.*');
}
